"""Tuned MAERI spatial tiles checked in STONNE (issue 12, part 3), on a scaled plan.

    python -m bench.validation.tuned_vs_stonne --stonne /path/to/stonne [--layers conv3,fc7]
        [--top 20] [--jobs 2] [--out bench/validation/tuned_vs_stonne.csv]
    python -m bench.validation.tuned_vs_stonne --summary      # the CSV's figures, no STONNE

For each layer and accumulation buffer off and on, the tuner's spatial-only space (every factor
among `Maeri.spatial_options`, the tuner's own values: divisors, powers of two and the least
factor of each step count; conv: T_R, T_S, T_C, T_K, T_X', T_Y' with T_G = T_N = 1; FC: T_K
inputs per VN, T_N outputs, T_M = 1; VN x NV multipliers, plus one aux multiplier per VN when
the tile folds without the accumulation buffer, at most num_ms) is ranked by accelflow's MAERI
timing (`simulator.arch.maeri.layer_cycles`: the simulator's COMPUTE cost of the whole layer in
one buffer tile, which is also what the tuner's cost model scores for it). The `--top` best are
run in STONNE with their exact command, and for each layer this reports the Spearman correlation
of the two rankings, the tile accelflow picks and its STONNE cycles against STONNE's best of the
top and against mRNA's tile (`-generate_tile=performance`, STONNE's own mapper; run with the
accumulation buffer on only: without it mRNA's tile leaves no room for the aux multipliers and
STONNE aborts).

The scaled plan: AlexNet's and ResNet-18's conv and FC layers with fewer channels (AlexNet's
conv layers are those of bench/validation/stonne.csv), so that each STONNE run takes seconds,
not the 25-760 s of full layers, on num_ms = 64, dn = rn = 8. Every run is one CSV row (`layer,
accumulation_buffer, tile, ours, stonne, stonne_wall_s, command`); `--summary` recomputes the
figures from it. A run whose exact command the CSV already holds is not run again.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import os
import subprocess
import sys
import threading
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
# STONNE's dims of the scaled layers: conv (X, Y padded as STONNE takes them) and FC (M batch,
# N outputs, K inputs). AlexNet's conv layers are those of bench/validation/stonne.csv; its FC
# layers have 1/8 of the inputs and outputs; ResNet-18's layers 1/8 of the channels and about
# 1/4 of the rows and columns.
LAYERS = {
    "conv1": ("alexnet_conv1_k16_out27", dict(R=11, S=11, C=3, K=16, X=115, Y=115, stride=4)),
    "conv2": ("alexnet_conv2_c16k16", dict(R=5, S=5, C=16, K=16, X=31, Y=31, stride=1)),
    "conv3": ("alexnet_conv3_c32k32", dict(R=3, S=3, C=32, K=32, X=15, Y=15, stride=1)),
    "conv5": ("alexnet_conv5_c48k32", dict(R=3, S=3, C=48, K=32, X=15, Y=15, stride=1)),
    "fc6": ("alexnet_fc6_1152x512", dict(M=1, N=512, K=1152)),
    "fc7": ("alexnet_fc7_512x512", dict(M=1, N=512, K=512)),
    "fc8": ("alexnet_fc8_512x125", dict(M=1, N=125, K=512)),
    "r18_conv1": ("resnet18_conv1_k8_out28", dict(R=7, S=7, C=3, K=8, X=61, Y=61, stride=2)),
    "r18_layer1": ("resnet18_layer1_c8k8_out14", dict(R=3, S=3, C=8, K=8, X=16, Y=16, stride=1)),
    "r18_layer2": ("resnet18_layer2_c8k16_s2", dict(R=3, S=3, C=8, K=16, X=15, Y=15, stride=2)),
    "r18_down2": ("resnet18_down2_c8k16_1x1_s2", dict(R=1, S=1, C=8, K=16, X=13, Y=13, stride=2)),
    "r18_layer3": ("resnet18_layer3_c32k32_out7", dict(R=3, S=3, C=32, K=32, X=9, Y=9, stride=1)),
    "r18_layer4": ("resnet18_layer4_c64k64_out4", dict(R=3, S=3, C=64, K=64, X=6, Y=6, stride=1)),
    "r18_fc": ("resnet18_fc_64x125", dict(M=1, N=125, K=64)),
}
ROLES = ("T_R", "T_S", "T_C", "T_K", "T_G", "T_N", "T_X_", "T_Y_")
# An FC tile by role (layer_cycles' order), in STONNE's -FC names: T_K inputs per VN (the
# reduction, role 1), T_N outputs (role 3), T_M batch rows (role 6).
FC_ROLES = {1: "T_K", 3: "T_N", 6: "T_M"}
FIELDS = ("layer", "accumulation_buffer", "tile", "rank_ours", "ours", "stonne", "stonne_wall_s",
          "note", "command")  # fmt: skip


def is_fc(dims: dict[str, int]) -> bool:
    return "M" in dims


def extents(dims: dict[str, int]) -> tuple[int, ...]:
    """The layer's extents by role (`maeri.layer_cycles`' order)."""
    if is_fc(dims):
        return (1, dims["K"], 1, dims["N"], 1, 1, dims["M"], 1)
    xo = (dims["X"] - dims["R"]) // dims["stride"] + 1
    yo = (dims["Y"] - dims["S"]) // dims["stride"] + 1
    return (dims["R"], dims["S"], dims["C"], dims["K"], 1, 1, xo, yo)


def _options(dims: dict[str, int], acc: bool) -> list[list[int]]:
    """The tuner's spatial factors of each role (`Maeri.spatial_options` of the layer)."""
    from simulator.arch.maeri_mapping import Maeri
    from simulator.target import load_target
    from simulator.workload import LayerShape

    z = extents(dims)
    target = load_target(f"maeri-{HARDWARE['num_ms']}", [f"accumulation_buffer={acc}"])
    if is_fc(dims):
        shape = LayerShape("matmul", {"g": 1, "m": z[6], "n": z[3], "k": z[1]})
        opt = Maeri().spatial_options(shape, target)
        return [[1], opt["k"], [1], opt["n"], [1], [1], opt["m"], [1]]
    r, s, c, k = z[:4]
    shape = LayerShape(
        "conv2d", {"n": 1, "g": 1, "k": k, "c": c, "y": z[7], "x": z[6], "r": r, "s": s},
        stride=(dims["stride"],) * 2, in_hw=(dims["X"], dims["Y"]),
    )  # fmt: skip
    opt = Maeri().spatial_options(shape, target)
    return [opt["r"], opt["s"], opt["c"], opt["k"], [1], [1], opt["x"], opt["y"]]


def legal_tiles(dims: dict[str, int], ms: int, acc: bool) -> list[tuple[int, ...]]:
    """Every spatial tile of the module docstring that fits `ms` multipliers."""
    z = extents(dims)
    out = []
    for t in itertools.product(*_options(dims, acc)):
        folds = math.prod(-(-z[i] // t[i]) for i in range(3))
        aux = folds > 1 and not acc
        if math.prod(t[3:]) * (math.prod(t[:3]) + aux) <= ms:
            out.append(t)
    return out


def tile_of(dims: dict[str, int], line: str) -> tuple[int, ...]:
    """The spatial tile by role of a STONNE command line of the layer (`command`'s inverse)."""
    import re

    values = {k: int(v) for k, v in re.findall(r"-(T_\w+?)=(\d+)", line)}
    if is_fc(dims):
        tile = [1] * 8
        for i, name in FC_ROLES.items():
            tile[i] = values.get(name, 1)
        return tuple(tile)
    return tuple(values[r] for r in ROLES)


def label(dims: dict[str, int], tile: tuple[int, ...]) -> str:
    """The tile in STONNE's names, factors of 1 left out."""
    if is_fc(dims):
        named = [(FC_ROLES[i], tile[i]) for i in (6, 3, 1)]
    else:
        named = list(zip(ROLES, tile, strict=True))
    return " ".join(f"{r}={v}" for r, v in named if v > 1) or "all ones"


def ours(dims: dict[str, int], tile: tuple[int, ...], acc: bool) -> int:
    return maeri.layer_cycles(
        extents(dims), tile, dims.get("stride", 1), HARDWARE["num_ms"], HARDWARE["dn_bw"],
        HARDWARE["rn_bw"], acc,
    )  # fmt: skip


def command(name: str, dims: dict[str, int], tile: tuple[int, ...] | None, acc: bool) -> str:
    """STONNE's command line for the layer with spatial tile `tile` (None: mRNA's)."""
    params: dict[str, int | str] = {"layer_name": name}
    if is_fc(dims):
        params.update({k: dims[k] for k in ("M", "N", "K")})
        if tile:
            params.update({FC_ROLES[i]: tile[i] for i in (6, 3, 1)})
    else:
        params.update({k: dims[k] for k in ("R", "S", "C", "K")}, G=1, N=1)
        params.update(X=dims["X"], Y=dims["Y"], strides=dims["stride"])
        if tile:
            params.update(zip(ROLES, tile, strict=True))
    if not tile:
        params["generate_tile"] = "performance"
    params.update(HARDWARE, accumulation_buffer=int(acc), print_stats=0)
    return stonne_command("FC" if is_fc(dims) else "CONV", params)


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


def read_runs(path: Path, header: bool = True) -> list[dict[str, str]]:
    """The rows of a CSV of runs this script wrote (`header`: its first line names the columns,
    else they are `FIELDS`); ValueError when it is not one."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f) if header else csv.DictReader(f, FIELDS))
    if header and rows and not set(FIELDS) <= set(rows[0]):
        raise ValueError(f"{path}: not a CSV of tuned_vs_stonne runs (columns {', '.join(FIELDS)})")
    return rows


def measure(stonne: Path, layers: list[str], top: int, jobs: int, out: Path) -> None:
    """Run the top tiles of `layers` (and mRNA's) in STONNE; `out` keeps its rows of other
    layers, and a command it holds already is not run again."""
    # The runs of an interrupted measurement are in `<out>.runs` (one row each as it ended).
    partial = out.with_name(out.name + ".runs")
    lock = threading.Lock()
    recorded: dict[str, dict[str, Any]] = {}
    if out.exists():
        recorded = {r["command"]: r for r in read_runs(out)}
    if partial.exists():
        recorded.update({r["command"]: r for r in read_runs(partial, header=False)})
    names = {LAYERS[k][0] for k in layers}
    kept = [r for r in recorded.values() if r["layer"] not in names]
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
        if line in recorded:  # run before: its STONNE figures, today's rank and cycles
            row = dict(recorded[line], rank_ours=rank)
            if tile:
                row["ours"] = ours(dims, tile, acc)
            return row
        cycles, wall, said = run_stonne(stonne, line)
        row = {"layer": name, "accumulation_buffer": int(acc),
               "tile": label(dims, tile) if tile else f"mRNA: {said}",
               "rank_ours": rank, "ours": ours(dims, tile, acc) if tile else "",
               "stonne": "" if cycles is None else cycles, "stonne_wall_s": f"{wall:.2f}",
               "note": said if cycles is None else "", "command": line}  # fmt: skip
        print(f"{name} acc={int(acc)} #{rank} {row['tile']}: ours {row['ours']} STONNE {cycles} "
              f"({wall:.1f} s)", flush=True)  # fmt: skip
        return row

    def keep(item: tuple) -> dict[str, Any]:  # each run saved as it ends
        row = one(item)
        with lock, open(partial, "a", newline="") as f:
            csv.DictWriter(f, FIELDS).writerow(row)
        return row

    with ThreadPoolExecutor(jobs) as pool:
        rows = kept + list(pool.map(keep, work))
    sc.write_rows(out, FIELDS, rows)
    partial.unlink(missing_ok=True)


def summary(path: Path) -> list[str]:
    """Per layer and accumulation buffer: Spearman of the top, our pick in STONNE against the
    top's best and against mRNA's tile."""
    records = read_runs(path)
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
    try:
        if not args.summary:
            if args.stonne is None:
                ap.error("--stonne is required (or --summary)")
            if not args.stonne.is_file():
                ap.error(f"--stonne {args.stonne}: no such file")
            layers = [k.strip() for k in args.layers.split(",") if k.strip()]
            unknown = [k for k in layers if k not in LAYERS]
            if unknown or args.top < 2 or args.jobs < 1:
                ap.error(f"--layers among {', '.join(LAYERS)}; --top >= 2; --jobs >= 1")
            measure(args.stonne, layers, args.top, args.jobs, args.out)
        print("\n".join(summary(args.out)))
    except (OSError, ValueError) as err:
        ap.error(str(err))
    return 0


if __name__ == "__main__":
    sys.exit(main())
