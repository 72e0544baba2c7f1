"""STONNE's MAERI with several VNs folding without accumulation buffer (regime B): measured
per-fold latencies of every VN, and the rule that explains them (docs/stonne-several-vn.md).

    python -m bench.validation.stonne_several_vn --stonne /path/to/stonne [--jobs 2]
        [--out bench/validation/stonne_several_vn.csv]      # run the grid, write the CSV
    python -m bench.validation.stonne_several_vn --check    # the rule against the CSV
    python -m bench.validation.stonne_several_vn --recorded # the rule on stonne.csv's B rows

`--stonne` must be a STONNE standalone binary built with `-DDEBUG_MEM_OUTPUT` (docs/
stonne-timing.md section 9; add `DEBUGFLAGS=-DDEBUG_MEM_OUTPUT -DDEBUG_MEM_INPUT` to its Makefile):
that flag makes SDMemory print one `[MEM_OUTPUT] Cycle t, ... and VN v` line per partial sum
written, from which the per-fold periods are read. The debug prints do not change the cycle
count (checked against a plain build on every row). Each command runs in the binary's folder,
as in stonne.csv.

The grid (`grid`, CSV `set = grid`): FC layers (`-FC -M=1`, one window, F = 12 folds) with VNs
of T_K = 2, 4, 8, 9, 16, 18, 32, 50 multipliers (VN + 1 aux = 3, 5, 9, 10, 17, 19, 33, 51),
T_N = NV = 2 .. as many as fit (NV*(VN+1) <= ms), and 3x3 convolutions (T_C = 1, 2: VN + 1 = 10,
19; C = 8*T_C so F = 8; 4x4 input, 2x2 = 4 output windows; T_K = NV), on 128 and 64 multipliers,
dn = rn = ms and ms/2, accumulation buffer off. Every run is a single K-tile. `extra_grid`
(`set = extra`) bounds the rule: fewer bus lines, wider distribution trees, one VN.

CSV columns: `periods` lists, per VN (VNs separated by ` | `), the cycles between the writes of
successive folds of one window (windows separated by `/`), `first_writes` the cycle of each VN's
first partial sum, `cycles` STONNE's "Number of cycles running".

The rule (`predict`), written from STONNE's source (no code of it here):
* each VN's psum path: the partial sum enters at the VN's aux multiplier (its first) and crosses
  `h_v` adders, tree levels and forwarding-link hops, to the adder that sends the VN's sum to
  the collection bus (`aux_hops`, closed form; `configure_vns` / `psum_path` restate what
  CompilerART::generate_art_signals configures and how the adders route, to check it); the
  collection-bus line of every adder (`bus_lines`, ASNetwork::setMemoryConnections);
* a per-cycle recurrence over the round trips of every VN (`simulate`): write in memory
  (cycle W) -> psum FIFO of the aux's read port (one psum per port per cycle) -> aux multiplier
  (W + d, d = 1 when ms/dn >= 2) -> bus (+h_v) -> bus line (one value per line per cycle, round
  robin over its inputs) -> memory, which writes ceil(q/2) of the q values waiting per cycle
  (SDMemory::cycle pops its write FIFO while the index is below its shrinking size), in
  bus-line order; alone a VN's fold takes L_v = h_v + 2 + d;
* the first fold of the first window starts from the port schedule of the weights and of fold
  0's inputs (`first_completions`); the first fold of a later window from the zero the aux
  injects in the cycle after it forwarded the previous window's last psum.
Inputs are assumed to be at the multipliers before the psum (chain-bound folds); where the
ports are slower (ms/dn = 8 in the extra set) the fold waits for its inputs instead.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.arch.maeri_art import Art, art_configuration, aux_hops, psum_path, psum_writes

CSV_PATH = Path(__file__).with_name("stonne_several_vn.csv")
RECORDED_CSV = Path(__file__).with_name("stonne.csv")
SPANS = (3, 5, 9, 10, 17, 19, 33, 51)  # VN + 1 (the aux multiplier)
FC_FOLDS = 12
CONV_FOLDS = 8
FIELDS = (
    "set",
    "layer",
    "kind",
    "params",
    "num_ms",
    "dn_bw",
    "rn_bw",
    "span",
    "vn_size",
    "nv",
    "folds",
    "windows",
    "cycles",
    "first_writes",
    "periods",
    "test_passed",
    "wall_s",
    "command",
)
WRITE_LINE = re.compile(r"\[MEM_OUTPUT\] Cycle (\d+), .* and VN (\d+)\.")


@dataclass(frozen=True)
class Spec:
    """One regime-B run: a FC (R=1, S=K_in, one window) or a 3x3 conv, one K-tile."""

    kind: str  # "fc" | "conv"
    ms: int
    dn: int
    rn: int
    span: int  # VN + 1
    nv: int
    n_folds: int = 0  # 0: the grid's (FC_FOLDS, CONV_FOLDS)
    n_windows: int = 0  # 0: the grid's (1 for the FC, 4 for the conv)

    @property
    def vn(self) -> int:
        return self.span - 1

    @property
    def folds(self) -> int:
        return self.n_folds or (FC_FOLDS if self.kind == "fc" else CONV_FOLDS)

    @property
    def windows(self) -> int:
        return self.n_windows or (1 if self.kind == "fc" else 4)

    @property
    def t_c(self) -> int:
        return self.vn // 9

    @property
    def layer(self) -> str:
        return f"svn_{self.kind}_vn{self.vn}_nv{self.nv}"

    @property
    def params(self) -> dict[str, int]:
        if self.kind == "fc":
            return {"M": 1, "N": self.nv, "K": self.vn * self.folds, "T_N": self.nv, "T_K": self.vn}
        c = self.t_c * self.folds
        return {
            **dict(R=3, S=3, C=c, K=self.nv, G=1, N=1, X=4, Y=4, stride=1),
            **dict(T_R=3, T_S=3, T_C=self.t_c, T_K=self.nv, T_G=1, T_N=1, T_X_=1, T_Y_=1),
        }

    def command(self) -> list[str]:
        p = self.params
        if self.kind == "fc":
            layer = f"-FC -layer_name={self.layer} -M=1 -N={p['N']} -K={p['K']} -T_M=1"
            layer += f" -T_N={p['T_N']} -T_K={p['T_K']}"
        else:
            dims = " ".join(f"-{k}={p[k]}" for k in ("R", "S", "C", "K", "G", "N", "X", "Y"))
            tile = " ".join(f"-{k}={p[k]}" for k in p if k.startswith("T_"))
            layer = f"-CONV -layer_name={self.layer} {dims} -strides=1 {tile}"
        hw = f"-num_ms={self.ms} -dn_bw={self.dn} -rn_bw={self.rn}"
        return f"{layer} {hw} -accumulation_buffer=0 -print_stats=0".split()


def grid() -> list[Spec]:
    """The measurement grid of the module docstring (dn = rn = ms and ms/2)."""
    specs = []
    for ms in (128, 64):
        for dn in (ms, ms // 2):
            for span in SPANS:
                for nv in range(2, ms // span + 1):
                    specs.append(Spec("fc", ms, dn, dn, span, nv))
                    if span in (10, 19):
                        specs.append(Spec("conv", ms, dn, dn, span, nv))
    return specs


def extra_grid() -> list[Spec]:
    """Beyond the grid, to bound the rule: fewer bus lines than ports (rn = 8, 2 at dn = ms),
    and wider distribution trees (ms/dn = 4, 8: several aux multipliers and many inputs per
    read port), VNs of 3, 5, 10, 19, 33 with NV = 2, 3 and as many as fit; and one VN of
    VN + 1 = 2^k - 2 .. 2^k on 128 multipliers."""
    specs: list[Spec] = []
    for ms in (128, 64):
        for span in (3, 5, 10, 19, 33):
            for nv in sorted({2, 3, ms // span}):
                if nv < 2 or nv * span > ms:
                    continue
                ports = [(ms, 8), (ms, 2), (ms // 4, ms // 4), (ms // 8, ms // 8), (ms // 8, 8)]
                for dn, rn in dict.fromkeys(ports):
                    specs.append(Spec("fc", ms, dn, rn, span, nv))
                if span in (10, 19):
                    specs.append(Spec("conv", ms, ms // 8, ms // 8, span, nv))
                    specs.append(Spec("conv", ms, ms, 8, span, nv))
    # One VN at multiplier 0 around powers of two (the one-VN latency, h = floor(log2(VN+2))).
    for span in (6, 7, 8, 14, 15, 16, 30, 31, 32, 62, 63, 64, 126, 127, 128):
        specs.append(Spec("fc", 128, 128, 128, span, 1))
    return specs


# --------------------------------------------------------------------------- measurement


def measure(stonne: Path, spec: Spec, label: str = "grid") -> dict[str, object]:
    """Run one spec in STONNE (debug build), read every VN's partial-sum writes."""
    start = time.monotonic()
    out = subprocess.run(
        [str(stonne.resolve()), *spec.command()],
        cwd=stonne.parent,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    wall = time.monotonic() - start
    writes: dict[int, list[int]] = defaultdict(list)
    cycles = None
    for line in out.splitlines():
        m = WRITE_LINE.match(line)
        if m:
            writes[int(m.group(2))].append(int(m.group(1)))
        elif line.startswith("Number of cycles running:"):
            cycles = int(line.split(":")[1])
    if cycles is None or not writes:
        raise RuntimeError(f"{spec}: no cycle count or no [MEM_OUTPUT] lines (debug build?)")
    expected = spec.folds * spec.windows
    if sorted(writes) != list(range(spec.nv)) or any(len(w) != expected for w in writes.values()):
        raise RuntimeError(f"{spec}: unexpected writes {[len(w) for w in writes.values()]}")
    return {
        "set": label,
        "layer": spec.layer,
        "kind": spec.kind,
        "params": ";".join(f"{k}={v}" for k, v in spec.params.items()),
        "num_ms": spec.ms,
        "dn_bw": spec.dn,
        "rn_bw": spec.rn,
        "span": spec.span,
        "vn_size": spec.vn,
        "nv": spec.nv,
        "folds": spec.folds,
        "windows": spec.windows,
        "cycles": cycles,
        "first_writes": " ".join(str(writes[v][0]) for v in range(spec.nv)),
        "periods": format_periods([writes[v] for v in range(spec.nv)], spec.folds),
        "test_passed": int("Test passed correctly" in out),
        "wall_s": f"{wall:.2f}",
        "command": "./stonne " + " ".join(spec.command()),
    }


def format_periods(writes: list[list[int]], folds: int) -> str:
    blocks = []
    for w in writes:
        windows = [w[i : i + folds] for i in range(0, len(w), folds)]
        blocks.append("/".join(" ".join(map(str, intervals(x))) for x in windows))
    return " | ".join(blocks)


def intervals(writes: list[int]) -> list[int]:
    return [b - a for a, b in zip(writes, writes[1:], strict=False)]


def parse_periods(text: str) -> list[list[list[int]]]:
    """[VN][window][fold interval]."""
    return [
        [[int(x) for x in win.split()] for win in block.split("/")] for block in text.split(" | ")
    ]


def spec_of(rec: dict[str, str]) -> Spec:
    return Spec(
        rec["kind"],
        int(rec["num_ms"]),
        int(rec["dn_bw"]),
        int(rec["rn_bw"]),
        int(rec["span"]),
        int(rec["nv"]),
    )


# --------------------------------------------------------------------------- the rule
# Modes of an adder (CompilerART's names): "ADD_2_1" adds its two children (or passes the only
# enabled one), "ADD_3_1" adds both children and the forwarding link, "ADD_1_1_PLUS_FW_1_1"
# passes one child up and the other over its forwarding link (even index: left -> link,
# odd: right -> link), "FW_2_2" passes everything from both children up. An adder's output goes
# to memory (its collection-bus line) instead of its parent when it is marked `to_memory`.


def first_completions(spec: Spec, art: Art) -> list[int]:
    """Cycle in which each VN's fold 0 of window 0 leaves its last adder: the port schedule
    (weights of the F folds first, one package per port per cycle, then fold 0's inputs in the
    order SDMemory generates them, no earlier than cycle F+1), +d to the multiplier, then the
    longest product path of the VN (products wait for each other in the adders)."""
    w = max(1, spec.ms // spec.dn)
    d = 1 if w >= 2 else 0
    f = spec.folds
    # element of every multiplier (None for aux), in generation order: (x, y, c) for the conv
    # (T_X' = T_Y' = 1), y for the FC.
    elem: dict[int, int] = {}
    for v in range(spec.nv):
        for e in range(spec.vn):
            q = v * spec.span + 1 + e
            if spec.kind == "fc":
                elem[q] = e
            else:  # e = (c*3 + r)*3 + s; generated x (=r) outer, y (=s), c inner
                c, rest = divmod(e, 9)
                r, s = divmod(rest, 3)
                elem[q] = (r * 3 + s) * spec.t_c + c
    ready = []
    for v in range(spec.nv):
        done = 0
        for e in range(spec.vn):
            q = v * spec.span + 1 + e
            port = q // w
            lo, hi = port * w, port * w + w
            weights = sum(1 for x in range(lo, hi) if x in elem)
            order = sorted({elem[x] for x in range(lo, hi) if x in elem})
            rank = order.index(elem[q]) + 1
            sent = max(f * weights + rank, f + 1)
            done = max(done, sent + d + len(psum_path(art, q)))
        ready.append(done)
    return ready


def simulate(spec: Spec) -> list[list[int]]:
    """Write cycles of every VN's partial sums (window-major), from the rule: the recurrence of
    `simulator.arch.maeri_art.psum_writes`, started from the port schedule of fold 0."""
    art = art_configuration(spec.ms, spec.span, spec.nv)
    return psum_writes(
        spec.ms, spec.dn, spec.rn, spec.span, spec.nv, spec.folds, spec.windows,
        first_done=first_completions(spec, art),
    )  # fmt: skip


def predict(spec: Spec) -> dict[str, object]:
    writes = simulate(spec)
    art = art_configuration(spec.ms, spec.span, spec.nv)
    return {
        "first_writes": [w[0] for w in writes],
        "periods": parse_periods(format_periods(writes, spec.folds)),
        "hops": [len(psum_path(art, v * spec.span)) for v in range(spec.nv)],
        "last": max(w[-1] for w in writes),
    }


# --------------------------------------------------------------------------- entry points


def run_grid(stonne: Path, out: Path, jobs: int) -> None:
    specs = [("grid", s) for s in grid()] + [("extra", s) for s in extra_grid()]
    with ThreadPoolExecutor(jobs) as pool:
        rows = list(pool.map(lambda ls: measure(stonne, ls[1], ls[0]), specs))
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} rows -> {out}")


def compare_row(rec: dict[str, str]) -> dict[str, object]:
    """The rule against one measured row: per-fold intervals, first writes, total cycles."""
    spec = spec_of(rec)
    pred = predict(spec)
    flat = [x for vn in parse_periods(rec["periods"]) for win in vn for x in win]
    flat_pred = [x for vn in pred["periods"] for win in vn for x in win]
    diffs = [abs(a - b) for a, b in zip(flat, flat_pred, strict=True)]
    first = [int(x) for x in rec["first_writes"].split()]
    return {
        "spec": spec,
        "max_diff": max(diffs),
        "off": sum(x > 0 for x in diffs),
        "close": sum(x <= 1 for x in diffs),
        "n": len(diffs),
        "first_ok": first == pred["first_writes"],
        "cycles": int(rec["cycles"]),
        "cycles_pred": pred["last"],
    }


def check(path: Path) -> int:
    """The rule against every measured row (per set): the per-fold intervals of every VN
    exact / within 1 cycle, the first writes and the total cycles exact; and the closed-form
    psum path (`aux_hops`) against the configured tree (`configure_vns`) for every VN."""
    by_set: dict[str, list[dict[str, object]]] = defaultdict(list)
    hop_mismatch = 0
    with open(path, newline="") as f:
        records = list(csv.DictReader(f))
    for rec in records:
        res = compare_row(rec)
        by_set[rec["set"]].append(res)
        spec = res["spec"]
        art = art_configuration(spec.ms, spec.span, spec.nv)
        for v in range(spec.nv):
            path_v = psum_path(art, v * spec.span)
            hop_mismatch += (len(path_v), path_v[-1]) != aux_hops(spec.ms, v * spec.span, spec.span)
    for label, results in by_set.items():
        exact = [r for r in results if r["max_diff"] == 0 and r["first_ok"]]
        exact = [r for r in exact if r["cycles"] == r["cycles_pred"]]
        close = [r for r in results if r["max_diff"] <= 1]
        n_int = sum(r["n"] for r in results)
        print(
            f"{label}: {len(exact)}/{len(results)} rows exact (every fold interval, first writes, "
            f"cycles), {len(close)}/{len(results)} within 1 cycle per fold; intervals "
            f"{n_int - sum(r['off'] for r in results)}/{n_int} exact, "
            f"{sum(r['close'] for r in results)}/{n_int} within 1"
        )
        for r in results:
            if r not in exact:
                s = r["spec"]
                print(
                    f"  {s.kind:4s} ms={s.ms:3d} dn={s.dn:3d} rn={s.rn:3d} VN+1={s.span:2d} "
                    f"NV={s.nv:2d}: {r['off']}/{r['n']} intervals off (max {r['max_diff']}), "
                    f"cycles {r['cycles']} vs {r['cycles_pred']}"
                )
    print(f"closed-form psum paths differing from the configured tree: {hop_mismatch}")
    return 0


def effective_latency(spec: Spec) -> float:
    """L_eff: the mean psum round trip of the slowest VN (the rule's recurrence)."""
    worst = 0.0
    for w in simulate(spec):
        f = spec.folds
        gaps = [g for k in range(0, len(w), f) for g in intervals(w[k : k + f])]
        worst = max(worst, sum(gaps) / len(gaps))
    return worst


def recorded() -> int:
    """The regime-B rows of stonne.csv with several VNs: the per-fold latency accelflow uses
    (`rt_cycles / rt_count` of the CONFIG row's steps, `maeri_art.round_trips`: the recurrence
    from a neutral start), the intrinsic `max L_v`, `L_eff` of the recurrence started from the
    port schedule (`effective_latency`, 3 windows), and accelflow's closed form
    (`simulator.arch.maeri.layer_cycles`) against STONNE."""
    import simulator.arch.maeri as maeri
    from bench.validation.stonne_compare import read_rows
    from simulator.arch.maeri_art import round_trips, switch_delay

    def roles(row: Any) -> tuple[tuple[int, ...], tuple[int, ...], int]:
        p = row.params
        if row.kind == "fc":
            return (1, p["K"], 1, p["N"], 1, 1, 1, 1), (1, p["T_K"], 1, p["T_N"], 1, 1, 1, 1), 1
        xo = (p["X"] - p["R"]) // p["stride"] + 1
        yo = (p["Y"] - p["S"]) // p["stride"] + 1
        tile = tuple(p[k] for k in ("T_R", "T_S", "T_C", "T_K", "T_G", "T_N", "T_X_", "T_Y_"))
        return (p["R"], p["S"], p["C"], p["K"], p["G"], p["N"], xo, yo), tile, p["stride"]

    print(
        "| layer | tile | ms | dn | rn | VN+1 | NV | F | h_v | max L_v | L (steps) | L_eff "
        "| STONNE | accelflow | error |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in read_rows(RECORDED_CSV):
        extents, tile, stride = roles(row)
        vn, nv = tile[0] * tile[1] * tile[2], math.prod(tile[3:])
        if row.regime != "B" or nv < 2:
            continue
        span, ms, dn, rn = vn + 1, row.num_ms, row.dn_bw, row.rn_bw
        hops = [aux_hops(ms, v * span, span)[0] for v in range(nv)]
        cycles, count = round_trips(ms, dn, rn, span, nv, row.folds)
        spec = Spec("fc", ms, dn, rn, span, nv, n_folds=row.folds, n_windows=3)
        ours = maeri.layer_cycles(extents, tile, stride, ms, dn, rn, False)
        st = row.stonne_cycles
        tile_text = " ".join(
            f"{k}={v}" for k, v in row.params.items() if k.startswith("T_") and v > 1
        )
        print(
            f"| {row.layer} | {tile_text} | {ms} | {dn} | {rn} | {span} | {nv} | {row.folds} "
            f"| {' '.join(map(str, hops))} | {max(hops) + 2 + switch_delay(ms, dn)} "
            f"| {cycles / count:.2f} | {effective_latency(spec):.2f} | {st} | {ours} "
            f"| {100 * (ours - st) / st:+.1f} % |"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stonne", type=Path, help="STONNE binary built with -DDEBUG_MEM_OUTPUT")
    ap.add_argument("--out", type=Path, default=CSV_PATH)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--check", action="store_true", help="evaluate the rule against the CSV")
    ap.add_argument("--recorded", action="store_true", help="the rule on stonne.csv's B rows")
    args = ap.parse_args(argv)
    if args.check:
        return check(args.out)
    if args.recorded:
        return recorded()
    if not args.stonne:
        ap.error("--stonne PATH (or --check)")
    run_grid(args.stonne, args.out, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
