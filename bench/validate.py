"""Our cycle counts against independent simulators, per layer of AlexNet (conv1-5, fc6-8).

    python bench/validate.py                       # recorded SCALE-Sim numbers, STONNE runs
    python bench/validate.py --live-scalesim [--dataflow ws ...] [--rows 32 --cols 32]
                             [--csv bench/validation/scalesim.csv]   # rerun SCALE-Sim (~28 min)

Sections:
- SCALE-Sim 3.0.0 (systolic array, ws/os/is): compute cycles, ours vs SCALE-Sim's (its 0-based
  "Total Cycles" - "Stall Cycles" + 1, see bench/validation/scalesim.py), the relative error, and
  the wall time per layer of each simulator: ours = one warm `accelflow.simulate`, SCALE-Sim = its
  run time / number of layers (it runs all layers in one invocation). Needs
  `pip install -e '.[dev,peers]'` (or ACCELFLOW_SCALESIM_PYTHON naming an interpreter that has it).
  On a 2-core machine SCALE-Sim takes ~10 min (ws), ~7.5 min (os) and ~10 min (is) on AlexNet
  at 32x32, and up to ~17 GB of memory in one invocation.
- STONNE (MAERI / SIGMA): the rows of bench/validation/stonne.csv, as measured elsewhere.

Not run in CI; `--csv` writes the measured SCALE-Sim numbers (the committed
bench/validation/scalesim.csv).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.validation.scalesim import (  # noqa: E402
    ALEXNET,
    SCALESIM_VERSION,
    default_python,
    ours,
    run_scalesim,
)

STONNE_CSV = ROOT / "bench" / "validation" / "stonne.csv"
SCALESIM_CSV_FIELDS = (
    "layer",
    "dataflow",
    "array",
    "scalesim_compute_cycles",
    "scalesim_total_cycles",
    "scalesim_stall_cycles",
    "ours_compute_cycles",
    "scalesim_seconds_per_layer",
    "ours_simulate_seconds",
    "command",
    "config",
)


def _error(ours_cycles: int, theirs: int) -> str:
    return f"{(ours_cycles - theirs) / theirs:+.2%}" if theirs else "n/a"


SCALESIM_CSV = ROOT / "bench" / "validation" / "scalesim.csv"


def recorded_scalesim_section(dataflows: list[str]) -> None:
    """Ours (computed now) vs the SCALE-Sim numbers recorded in bench/validation/scalesim.csv."""
    with SCALESIM_CSV.open(newline="") as f:
        recorded = [r for r in csv.DictReader(f) if r["dataflow"] in dataflows]
    print(
        f"== SCALE-Sim {SCALESIM_VERSION} (recorded in {SCALESIM_CSV.relative_to(ROOT)}): "
        "AlexNet, batch 1 =="
    )
    print(
        f"{'layer':6} {'df':3} {'array':6} {'ours':>10} {'SCALE-Sim':>10} {'error':>8} "
        f"{'ours s':>8} {'SCALE-Sim s':>12}"
    )
    by_name = {layer.name: layer for layer in ALEXNET}
    errors = []
    for r in recorded:
        rows, cols = (int(v) for v in r["array"].split("x"))
        mine = ours(by_name[r["layer"]], r["dataflow"], rows, cols)
        theirs = int(r["scalesim_compute_cycles"])
        errors.append(abs(mine.compute_cycles - theirs) / theirs)
        print(
            f"{r['layer']:6} {r['dataflow']:3} {r['array']:6} {mine.compute_cycles:>10} {theirs:>10} "
            f"{_error(mine.compute_cycles, theirs):>8} {mine.simulate_seconds:>8.4f} "
            f"{float(r['scalesim_seconds_per_layer']):>12.2f}"
        )
    if errors:
        print(
            f"systolic vs SCALE-Sim: n={len(errors)} mean |err| {100 * sum(errors) / len(errors):.2f} % "
            f"max {100 * max(errors):.2f} %\n"
        )


def scalesim_section(dataflows: list[str], rows: int, cols: int) -> list[dict[str, object]]:
    """Print ours vs SCALE-Sim per layer and dataflow; return the rows for the CSV."""
    print(f"== SCALE-Sim {SCALESIM_VERSION}: systolic array {rows}x{cols}, AlexNet, batch 1 ==")
    python = default_python()
    if python is None:
        print("SCALE-Sim not installed: pip install -e '.[dev,peers]'")
        return []
    header = f"{'layer':6} {'df':3} {'ours':>10} {'SCALE-Sim':>10} {'error':>8} {'ours s':>8} {'SCALE-Sim s':>12}"
    records: list[dict[str, object]] = []
    for dataflow in dataflows:
        run = run_scalesim(ALEXNET, dataflow, rows, cols, python=python)
        per_layer_s = run.run_seconds / len(ALEXNET)
        print(header)
        for layer, theirs in zip(ALEXNET, run.layers, strict=True):
            mine = ours(layer, dataflow, rows, cols)
            print(
                f"{layer.name:6} {dataflow:3} {mine.compute_cycles:>10} {theirs.compute_cycles:>10} "
                f"{_error(mine.compute_cycles, theirs.compute_cycles):>8} "
                f"{mine.simulate_seconds:>8.4f} {per_layer_s:>12.2f}"
            )
            records.append(
                {
                    "layer": layer.name,
                    "dataflow": dataflow,
                    "array": f"{rows}x{cols}",
                    "scalesim_compute_cycles": theirs.compute_cycles,
                    "scalesim_total_cycles": theirs.total_cycles,
                    "scalesim_stall_cycles": theirs.stall_cycles,
                    "ours_compute_cycles": mine.compute_cycles,
                    "scalesim_seconds_per_layer": f"{per_layer_s:.2f}",
                    "ours_simulate_seconds": f"{mine.simulate_seconds:.4f}",
                    "command": run.command,
                    "config": f"{run.config_summary}; topology: {layer.csv_row()}",
                }
            )
        print(f"SCALE-Sim run: {run.run_seconds:.1f} s for {len(ALEXNET)} layers\n")
    return records


def stonne_section(path: Path = STONNE_CSV) -> None:
    """Ours vs STONNE on every MAERI and SIGMA run recorded in `path` (bench/validation/
    stonne_compare.py rebuilds each layer, tiles and target, and runs accelflow on it)."""
    print("== STONNE (MAERI / SIGMA): ours vs STONNE per recorded run ==")
    if not path.exists():
        print(f"no STONNE data yet ({path.relative_to(ROOT)} is absent)")
        return
    from bench.validation import stonne_compare

    stonne_compare.main()


def write_csv(path: Path, records: list[dict[str, object]]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=SCALESIM_CSV_FIELDS)
        writer.writeheader()
        writer.writerows(records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataflow", action="append", choices=["ws", "os", "is"])
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--cols", type=int, default=32)
    parser.add_argument("--csv", type=Path, help="write the SCALE-Sim rows to this CSV")
    parser.add_argument("--no-scalesim", action="store_true", help="skip the SCALE-Sim section")
    parser.add_argument(
        "--live-scalesim",
        action="store_true",
        help="rerun SCALE-Sim (needs .[peers]; ~28 min and up to 17 GB on 2 cores) instead of "
        "comparing with its recorded numbers",
    )
    args = parser.parse_args(argv)
    dataflows = args.dataflow or ["ws", "os", "is"]
    if args.live_scalesim:
        records = scalesim_section(dataflows, args.rows, args.cols)
        if args.csv and records:
            write_csv(args.csv, records)
            print(f"wrote {args.csv}")
    elif not args.no_scalesim:
        recorded_scalesim_section(dataflows)
    stonne_section()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
