"""The STONNE export (accelflow/export/stonne.py) run in STONNE, row by row of stonne.csv.

    python -m bench.validation.stonne_export_check --stonne /path/to/stonne [--rows 1-10,57]
        [--out bench/validation/stonne_export_runs.csv]

For every recorded STONNE run of bench/validation/stonne.csv (MAERI and SIGMA rows) this

1. builds the row's model, target and mapping exactly as bench/validation/stonne_compare.py does:
   it calls `stonne_compare.run_row` (MAERI) / `run_sigma_row` (SIGMA), which compile the row
   (MAERI: `accel-map{spatial="<STONNE's tile>"}`, SIGMA: the default mapping) and give
   accelflow's cycles, and keeps the model, the `Target` and the compiled program that call
   used (by watching `accelflow.compile` while it runs);
2. exports that model with `accelflow.export.export(model, target, "stonne", folder,
   mappings={layer: the mapping the compile chose})`, which writes `run_stonne.sh`;
3. runs `run_stonne.sh` as written (`sh run_stonne.sh` in a scratch folder holding `./stonne`, a
   link to the binary, and `parameters/`, a link to the binary's; `OUTPUT_DIR` is that scratch
   folder, so the stats files STONNE writes go away with it) and reads "Number of cycles
   running: N".

The CSV it writes (`stonne_export_runs.csv`) has one line per row: `row` (the row's line number
among stonne.csv's data lines, from 1), `layer`, `arch`, the exported command line exactly,
STONNE's cycles from it, the recorded STONNE cycles, accelflow's cycles, and the error of
accelflow against the exported run. `same_run` is 1 when the exported command has the recorded
command's parameters (all but `-layer_name` and `-print_stats`, which do not change the timing);
`differs` lists the parameters that differ otherwise (the export says why in its notes:
it writes `-MK_sparsity=0` and the weights-stationary dataflow for SIGMA, see
bench/validation/stonne_export.md). `error_pct` is left empty where the exported run is not the
row's workload (`same_run` 0): accelflow's cycles are for the row's matrices, STONNE's for others.

tests/export/test_stonne_export_recorded.py re-exports every row of the CSV without STONNE
(`export_row`) and checks the command line and the recorded cycles.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.validation import stonne_compare as sc

RUNS_CSV = Path(__file__).with_name("stonne_export_runs.csv")
COLUMNS = (
    "row",
    "layer",
    "arch",
    "exported_command",
    "stonne_cycles_exported",
    "stonne_cycles_recorded",
    "accelflow_cycles",
    "error_pct",
    "same_run",
    "differs",
    "stonne_wall_s",
)
# Parameters of a STONNE line that do not change its timing (names, stats files).
UNTIMED = ("layer_name", "print_stats")
CYCLES = re.compile(r"Number of cycles running:\s*(\d+)")


@dataclass
class Recorded:
    """One recorded STONNE run (a data line of stonne.csv) as stonne_compare reads it."""

    row: int  # the line's number among stonne.csv's data lines, from 1
    arch: str  # "maeri" | "sigma"
    command: str  # the recorded command line
    run: Any  # stonne_compare.MaeriRow | stonne_compare.SigmaRow

    @property
    def layer(self) -> str:
        return self.run.layer

    @property
    def cycles(self) -> int:
        return int(self.run.stonne_cycles)


@dataclass
class Exported:
    """A row re-exported: the command line(s) `run_stonne.sh` holds, the export's notes, and
    accelflow's cycles for the row (stonne_compare's `ours`)."""

    commands: list[str]
    notes: list[str]
    accelflow_cycles: int
    script: Path
    text: str = field(repr=False, default="")

    @property
    def command(self) -> str:
        (line,) = self.commands  # one layer per row
        return line


def recorded_rows(path: Path = sc.CSV_PATH) -> list[Recorded]:
    """Every MAERI and SIGMA row of stonne.csv with cycles, in file order, read by
    stonne_compare's `read_rows` / `read_sigma_rows`."""
    return [Recorded(i, rec["arch"], rec["command"], run) for i, rec, run in sc.numbered_rows(path)]


def export_row(rec: Recorded, folder: Path) -> Exported:
    """Compile the row as stonne_compare does (its run_row / run_sigma_row: accelflow's cycles)
    and export the model with the mapping that compile chose into `folder`."""
    from accelflow.export import export

    calls: list[Any] = []
    with sc.watching("compile", calls):
        run = sc.run_row(rec.run) if rec.arch == "maeri" else sc.run_sigma_row(rec.run)
    ((args, _, result),) = calls
    mappings = {layer.name: layer.mapping for layer in result.program.accel_layers()}
    exported = export(args[0], result.target, "stonne", folder, mappings=mappings)
    (script,) = exported.files
    text = Path(script).read_text()
    commands = [ln for ln in text.splitlines() if ln.startswith("./stonne ")]
    return Exported(commands, list(exported.notes), int(run.ours), Path(script), text)


def differing(exported: str, recorded: str) -> list[str]:
    """The timed parameters in which two STONNE lines differ ('name a -> b', the operation as
    'op')."""
    from accelflow.export.stonne import parse_command

    op_e, p_e = parse_command(exported)
    op_r, p_r = parse_command(recorded)
    out = [f"op {op_r} -> {op_e}"] if op_e != op_r else []
    for name in sorted(set(p_e) | set(p_r)):
        if name in UNTIMED:
            continue
        if p_e.get(name) != p_r.get(name):
            out.append(f"{name} {p_r.get(name, '-')} -> {p_e.get(name, '-')}")
    return out


def run_script(script: Path, stonne: Path, timeout: float = 600) -> tuple[list[int], float]:
    """Run an exported `run_stonne.sh` as written (`sh run_stonne.sh` in a folder holding
    ./stonne and parameters/); STONNE's cycles per command line and the wall time."""
    with sc.stonne_folder(stonne, "stonne-run-") as work:
        env = dict(os.environ, OUTPUT_DIR=str(work))
        start = time.perf_counter()
        proc = subprocess.run(
            ["sh", str(Path(script).resolve())],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        wall = time.perf_counter() - start
    cycles = [int(n) for n in CYCLES.findall(proc.stdout)]
    if proc.returncode != 0 or not cycles:
        tail = (proc.stdout + proc.stderr)[-2000:]
        raise RuntimeError(f"{script}: STONNE exited {proc.returncode}\n{tail}")
    return cycles, wall


def check_row(rec: Recorded, stonne: Path, folder: Path) -> dict[str, Any]:
    """Export the row, run the export in STONNE; the CSV line (COLUMNS) as a dict."""
    exp = export_row(rec, folder)
    (cycles,), wall = run_script(exp.script, stonne)
    diff = differing(exp.command, rec.command)
    same = not diff
    error = 100 * (exp.accelflow_cycles - cycles) / cycles if same else None
    return {
        "row": rec.row,
        "layer": rec.layer,
        "arch": rec.arch,
        "exported_command": exp.command,
        "stonne_cycles_exported": cycles,
        "stonne_cycles_recorded": rec.cycles,
        "accelflow_cycles": exp.accelflow_cycles,
        "error_pct": "" if error is None else f"{error:+.3f}",
        "same_run": int(same),
        "differs": "; ".join(diff),
        "stonne_wall_s": f"{wall:.2f}",
    }


def read_runs(path: Path = RUNS_CSV) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def summary(runs: list[dict[str, Any]]) -> list[str]:
    """Reproduction counts and accelflow's error against the exported runs, per architecture."""
    lines = []
    same = [r for r in runs if int(r["same_run"])]
    exact = [
        r for r in runs if int(r["stonne_cycles_exported"]) == int(r["stonne_cycles_recorded"])
    ]
    exact_same = [r for r in exact if int(r["same_run"])]
    lines.append(
        f"rows {len(runs)}; exported line = recorded run {len(same)}; exported cycles = recorded "
        f"{len(exact)} ({len(exact_same)} of the {len(same)} same runs)"
    )
    for arch in ("maeri", "sigma"):
        errs = [abs(float(r["error_pct"])) for r in runs if r["arch"] == arch and r["error_pct"]]
        if errs:
            lines.append(
                f"{arch}: n={len(errs)} mean |err| {sum(errs) / len(errs):.2f} % "
                f"max {max(errs):.2f} %"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stonne", required=True, type=Path, help="STONNE's standalone binary")
    ap.add_argument("--rows", help="stonne.csv data lines to run, e.g. 1-10,57 (default: all)")
    ap.add_argument("--out", type=Path, default=RUNS_CSV)
    args = ap.parse_args(argv)
    if not args.stonne.is_file():
        ap.error(f"--stonne {args.stonne}: no such file")
    wanted = sc.parse_rows(args.rows) if args.rows else None
    runs = []
    with tempfile.TemporaryDirectory(prefix="stonne-export-") as tmp:
        for rec in recorded_rows():
            if wanted is not None and rec.row not in wanted:
                continue
            line = check_row(rec, args.stonne, Path(tmp) / f"row{rec.row:03d}")
            runs.append(line)
            print(
                f"{line['row']:3d} {line['layer'][:24]:24s} {line['arch']:5s} "
                f"exported {line['stonne_cycles_exported']:>8d} recorded "
                f"{line['stonne_cycles_recorded']:>8d} accelflow {line['accelflow_cycles']:>8d} "
                f"err {line['error_pct'] or '-':>8s} {line['stonne_wall_s']:>6s} s "
                f"{line['differs']}",
                flush=True,
            )
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(runs)
    print("\n".join(summary(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
