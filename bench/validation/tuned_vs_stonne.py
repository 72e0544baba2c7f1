"""Tuned MAERI spatial tiles checked in STONNE (issue 12, part 3), on a scaled plan.

    python -m bench.validation.tuned_vs_stonne --stonne /path/to/stonne [--layers conv3,conv5]
        [--top 20] [--jobs 2] [--out bench/validation/tuned_vs_stonne.csv]
    python -m bench.validation.tuned_vs_stonne --summary      # the CSV's figures, no STONNE

For each layer and accumulation buffer off and on, every spatial tile STONNE accepts (T_R, T_S,
T_C, T_K among the divisors of R, S, C, K; T_G = T_N = T_X' = T_Y' = 1; VN x NV multipliers,
plus one aux multiplier per VN when the tile folds without the accumulation buffer, at most
num_ms) is ranked by accelflow's MAERI timing (`simulator.arch.maeri.layer_cycles`: the
simulator's COMPUTE cost of the whole layer in one buffer tile, which is also what the tuner's
cost model scores for it: the tuner's spatial-only search space). The `--top` best are run in
STONNE with their exact command, and for each layer this reports the Spearman correlation of the
two rankings, the tile accelflow picks and its STONNE cycles against STONNE's best of the top
and against mRNA's tile (`-generate_tile=performance`, STONNE's own mapper; run with the
accumulation buffer on only: without it mRNA's tile leaves no room for the aux multipliers and
STONNE aborts).

The scaled plan: the AlexNet-shaped layers of bench/validation/stonne.csv (fewer channels, so
each STONNE run takes seconds, not the 25-760 s of full layers) on num_ms = 64, dn = rn = 8.
Every run is one CSV row (`layer, accumulation_buffer, tile, ours, stonne, stonne_wall_s,
command`); `--summary` recomputes the figures from it.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from accelflow.export.stonne import command as stonne_command  # noqa: E402
from bench.validation import stonne_compare as sc  # noqa: E402
from simulator.arch import maeri  # noqa: E402

OUT = Path(__file__).with_name("tuned_vs_stonne.csv")
HARDWARE = {"num_ms": 64, "dn_bw": 8, "rn_bw": 8}
# STONNE's dims of the scaled AlexNet layers (bench/validation/stonne.csv).
LAYERS = {
    "conv1": ("alexnet_conv1_k16_out27", dict(R=11, S=11, C=3, K=16, X=115, Y=115, stride=4)),
    "conv2": ("alexnet_conv2_c16k16", dict(R=5, S=5, C=16, K=16, X=31, Y=31, stride=1)),
    "conv3": ("alexnet_conv3_c32k32", dict(R=3, S=3, C=32, K=32, X=15, Y=15, stride=1)),
    "conv5": ("alexnet_conv5_c48k32", dict(R=3, S=3, C=48, K=32, X=15, Y=15, stride=1)),
}
ROLES = ("T_R", "T_S", "T_C", "T_K", "T_G", "T_N", "T_X_", "T_Y_")
FIELDS = ("layer", "accumulation_buffer", "tile", "rank_ours", "ours", "stonne", "stonne_wall_s",
          "note", "command")  # fmt: skip


def extents(dims: dict[str, int]) -> tuple[int, ...]:
    xo = (dims["X"] - dims["R"]) // dims["stride"] + 1
    yo = (dims["Y"] - dims["S"]) // dims["stride"] + 1
    return (dims["R"], dims["S"], dims["C"], dims["K"], 1, 1, xo, yo)


def legal_tiles(dims: dict[str, int], ms: int, acc: bool) -> list[tuple[int, ...]]:
    """Every spatial tile of the module docstring that fits `ms` multipliers."""

    def divisors(n: int) -> list[int]:
        return [d for d in range(1, n + 1) if n % d == 0]

    out = []
    for t_r, t_s, t_c, t_k in itertools.product(
        divisors(dims["R"]), divisors(dims["S"]), divisors(dims["C"]), divisors(dims["K"])
    ):
        folds = (dims["R"] // t_r) * (dims["S"] // t_s) * (dims["C"] // t_c)
        aux = folds > 1 and not acc
        if t_k * (t_r * t_s * t_c + aux) <= ms:
            out.append((t_r, t_s, t_c, t_k, 1, 1, 1, 1))
    return out


def ours(dims: dict[str, int], tile: tuple[int, ...], acc: bool) -> int:
    return maeri.layer_cycles(
        extents(dims), tile, dims["stride"], HARDWARE["num_ms"], HARDWARE["dn_bw"],
        HARDWARE["rn_bw"], acc,
    )  # fmt: skip


def command(name: str, dims: dict[str, int], tile: tuple[int, ...] | None, acc: bool) -> str:
    """STONNE's command line for the layer with spatial tile `tile` (None: mRNA's)."""
    params: dict[str, int | str] = {"layer_name": name}
    params.update({k: dims[k] for k in ("R", "S", "C", "K")}, G=1, N=1)
    params.update(X=dims["X"], Y=dims["Y"], strides=dims["stride"])
    if tile:
        params.update(zip(ROLES, tile, strict=True))
    else:
        params["generate_tile"] = "performance"
    params.update(HARDWARE, accumulation_buffer=int(acc), print_stats=0)
    return stonne_command("CONV", params)


def run_stonne(stonne: Path, line: str) -> tuple[int | None, float, str]:
    """STONNE's cycles for one command (None when STONNE aborts on an assertion), its wall time,
    and mRNA's tile when generated (or the failed assertion)."""
    import re
    import time

    with sc.stonne_folder(stonne, "stonne-tuned-") as work:
        start = time.perf_counter()
        proc = subprocess.run(
            line.split(), cwd=work, env=dict(os.environ, OUTPUT_DIR=str(work)),
            capture_output=True, text=True, timeout=3600,
        )  # fmt: skip
        wall = time.perf_counter() - start
    cycles = re.findall(r"Number of cycles running:\s*(\d+)", proc.stdout)
    tile = re.findall(r"Generated tile: <([^>]*)>", proc.stdout)
    if proc.returncode != 0 or not cycles:  # an assertion of STONNE's: the run is refused
        failed = re.findall(r"Assertion `([^']*)' failed", proc.stderr)
        reason = failed[0] if failed else f"exit {proc.returncode}"
        return None, wall, f"STONNE aborts: {reason}"
    return int(cycles[-1]), wall, tile[0] if tile else ""


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rank correlation (average ranks for ties)."""

    def ranks(x: list[float]) -> np.ndarray:
        x = np.asarray(x, float)
        order = np.argsort(x, kind="stable")
        r = np.empty(len(x))
        r[order] = np.arange(len(x))
        for value in np.unique(x):  # ties share their mean rank
            r[x == value] = r[x == value].mean()
        return r

    ra, rb = ranks(a), ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def measure(stonne: Path, layers: list[str], top: int, jobs: int, out: Path) -> None:
    rows: list[dict[str, Any]] = []
    work = []
    for key in layers:
        name, dims = LAYERS[key]
        for acc in (False, True):
            ranked = sorted(legal_tiles(dims, HARDWARE["num_ms"], acc),
                            key=lambda t, d=dims, a=acc: (ours(d, t, a), t))  # fmt: skip
            for rank, tile in enumerate(ranked[:top], 1):
                work.append((name, dims, acc, tile, rank))
            if acc:
                work.append((name, dims, acc, None, 0))  # mRNA's tile
    print(f"{len(work)} STONNE runs", flush=True)

    def one(item: tuple) -> dict[str, Any]:
        name, dims, acc, tile, rank = item
        line = command(name, dims, tile, acc)
        cycles, wall, said = run_stonne(stonne, line)
        label = (
            " ".join(f"{r}={v}" for r, v in zip(ROLES, tile, strict=True) if v > 1) or "all ones"
            if tile
            else f"mRNA: {said}"
        )
        row = {"layer": name, "accumulation_buffer": int(acc), "tile": label,
               "rank_ours": rank, "ours": ours(dims, tile, acc) if tile else "",
               "stonne": "" if cycles is None else cycles, "stonne_wall_s": f"{wall:.2f}",
               "note": said if cycles is None else "", "command": line}  # fmt: skip
        print(f"{name} acc={int(acc)} #{rank} {label}: ours {row['ours']} STONNE {cycles} "
              f"({wall:.1f} s)", flush=True)  # fmt: skip
        return row

    with ThreadPoolExecutor(jobs) as pool:
        rows = list(pool.map(one, work))
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {out}")


def summary(path: Path) -> list[str]:
    """Per layer and accumulation buffer: Spearman of the top, our pick in STONNE against the
    top's best and against mRNA's tile."""
    with open(path, newline="") as f:
        records = list(csv.DictReader(f))
    lines = ["| layer | acc. buffer | tiles | Spearman | our pick | its STONNE cycles | best of the top in STONNE | mRNA's tile | mRNA's STONNE cycles | ours / mRNA |",
             "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    key = lambda r: (r["layer"], r["accumulation_buffer"])  # noqa: E731
    for (layer, acc), group in itertools.groupby(sorted(records, key=key), key=key):
        group = list(group)
        refused = [r for r in group if not r["stonne"] and r["rank_ours"] != "0"]
        tiles = [r for r in group if r["rank_ours"] != "0" and r["stonne"]]
        mrna = [r for r in group if r["rank_ours"] == "0" and r["stonne"]]
        mrna_failed = [r for r in group if r["rank_ours"] == "0" and not r["stonne"]]
        rho = spearman([int(r["ours"]) for r in tiles], [int(r["stonne"]) for r in tiles])
        pick = min(tiles, key=lambda r: int(r["rank_ours"]))
        best = min(tiles, key=lambda r: int(r["stonne"]))
        if mrna:
            m_tile = mrna[0]["tile"].removeprefix("mRNA: ")
        elif mrna_failed:  # STONNE's mapper itself failed
            m_tile = f"(mRNA fails: {mrna_failed[0]['note'].removeprefix('STONNE aborts: ')})"
        else:  # not run: its tile would leave no room for the aux multipliers
            m_tile = "(not run: no aux room)"
        m_cyc = int(mrna[0]["stonne"]) if mrna else math.nan
        ratio = f"{int(pick['stonne']) / m_cyc:.3f}" if mrna else "-"
        lines.append(
            f"| {layer} | {'on' if acc == '1' else 'off'} | {len(tiles)} "
            f"({len(refused)} refused by STONNE) | {rho:.3f} | "
            f"{pick['tile']} | {int(pick['stonne']):,} | {int(best['stonne']):,} ({best['tile']}) | "
            f"{m_tile} | {m_cyc if mrna else '-'} | {ratio} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stonne", type=Path, help="STONNE's standalone binary")
    ap.add_argument("--layers", default="conv3,conv5", help=f"of {', '.join(LAYERS)}")
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--summary", action="store_true", help="the CSV's figures (no STONNE)")
    args = ap.parse_args(argv)
    if not args.summary:
        if args.stonne is None:
            ap.error("--stonne is required (or --summary)")
        layers = [k.strip() for k in args.layers.split(",") if k.strip()]
        unknown = [k for k in layers if k not in LAYERS]
        if unknown or args.top < 2:
            ap.error(f"--layers among {', '.join(LAYERS)}; --top >= 2")
        measure(args.stonne, layers, args.top, args.jobs, args.out)
    print("\n".join(summary(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
