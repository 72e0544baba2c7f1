"""SIGMA with fewer read and write ports than multipliers, checked in STONNE.

    python -m bench.validation.sigma_ports --stonne /path/to/stonne   # run STONNE, write the CSV
    python -m bench.validation.sigma_ports                            # ours against the CSV

Every SIGMA row of bench/validation/stonne.csv has dn_bw = rn_bw = num_ms, where a stationary
iteration's multicast packages (s) and collection-bus cycles (b) are 1 and the closed form is
docs/stonne-timing.md's. A sweep of `num_multipliers` with a fixed bandwidth (`accelflow sweep
--target sigma-128 --set dn_bw_elems_per_cycle=32 ...`: the sweep refuses dn > num_multipliers)
puts every point but the smallest in the other regime, where each port feeds several
multipliers and s, b > 1 (simulator/arch/sigma.py). `CASES`: dense GEMMs (STONNE's
`-SparseGEMM` at 0 % sparsity, MK stationary: M VNs, K the reduction, N streamed columns) from one
VN of 100 to 128 VNs of 4, on 64-512 multipliers with 8-32 ports, none of them fitted on. Each run
is a row in stonne.csv's format (`sigma_ports.csv`; `stonne_compare.read_sigma_rows` reads it);
the comparison compiles and simulates each through the whole flow (`stonne_compare.run_sigma_row`),
as tests/validation/test_sigma_ports.py does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.validation import stonne_compare as sc  # noqa: E402
from bench.validation import tuned_vs_stonne as tv  # noqa: E402

OUT = Path(__file__).with_name("sigma_ports.csv")
# (M stationary rows = VNs, N streamed columns, K reduction) x (num_ms, dn = rn).
SHAPES = ((64, 64, 64), (64, 128, 4), (32, 64, 36), (49, 128, 9), (64, 32, 100))
HARDWARE = ((128, 16), (128, 32), (256, 32), (512, 32), (64, 8))
CASES = [(m, n, k, ms, ports) for m, n, k in SHAPES for ms, ports in HARDWARE]
FIELDS = ("layer", "arch", "kind", "params", "num_ms", "dn_bw", "rn_bw", "accumulation_buffer",
          "sparsity", "cycles", "wall_s", "command")  # fmt: skip


def command(m: int, n: int, k: int, ms: int, ports: int) -> tuple[str, str, str]:
    """The run's layer name, params (stonne.csv's format) and STONNE command line."""
    layer = f"gemm_{m}x{n}x{k}"
    params = f"M={m};N={n};K={k};MK_sparsity=0;KN_sparsity=0;dataflow=MK_STA_KN_STR"
    line = (
        f"./stonne -SparseGEMM -layer_name={layer} -M={m} -N={n} -K={k} -MK_sparsity=0 "
        f"-KN_sparsity=0 -dataflow=MK_STA_KN_STR -num_ms={ms} -dn_bw={ports} -rn_bw={ports} "
        "-print_stats=0"
    )
    return layer, params, line


def measure(stonne: Path, out: Path) -> None:
    rows = []
    for m, n, k, ms, ports in CASES:
        layer, params, line = command(m, n, k, ms, ports)
        cycles, wall, said = tv.run_stonne(stonne, line)
        if cycles is None:
            raise SystemExit(f"{line}: {said}")
        print(f"{layer} on {ms} multipliers, {ports} ports: {cycles} cycles", flush=True)
        rows.append({"layer": layer, "arch": "sigma", "kind": "sparse_gemm", "params": params,
                     "num_ms": ms, "dn_bw": ports, "rn_bw": ports, "accumulation_buffer": "",
                     "sparsity": "MK=0;KN=0", "cycles": cycles, "wall_s": f"{wall:.2f}",
                     "command": line})  # fmt: skip
    sc.write_rows(out, FIELDS, rows)


def compare(path: Path) -> list[str]:
    """Ours against STONNE per row of `path`, and the largest error."""
    lines = ["| GEMM (M VNs x K, N streamed) | multipliers | ports | STONNE | ours | error |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    worst = 0.0
    for row in sc.read_sigma_rows(path):
        row = sc.run_sigma_row(row)
        worst = max(worst, abs(row.error))
        p = row.params
        lines.append(
            f"| {p['M']} x {p['K']}, N = {p['N']} | {row.num_ms} | {row.dn_bw} | "
            f"{row.stonne_cycles:,} | {row.ours:,} | {100 * row.error:+.2f} % |"
        )
    lines.append(f"\nlargest |error|: {100 * worst:.2f} %")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stonne", type=Path, help="STONNE's standalone binary (runs it)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if args.stonne is not None:
        if not args.stonne.is_file():
            ap.error(f"--stonne {args.stonne}: no such file")
        measure(args.stonne, args.out)
    elif not args.out.is_file():
        ap.error(f"{args.out}: no such file (run with --stonne first)")
    print("\n".join(compare(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
