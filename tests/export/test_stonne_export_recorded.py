"""The STONNE export against the STONNE runs it was verified with (bench/validation/
stonne_export_runs.csv, written by bench/validation/stonne_export_check.py with STONNE's binary).

Without STONNE: every row of that CSV is re-exported (the row's model, target and mapping as
bench/validation/stonne_compare.py builds them, `accelflow.export.export(..., "stonne", ...)`)
and the command line must be the one that was run, so the export cannot drift from what was
verified; where the exported line is the recorded run (`same_run`), the cycles STONNE gave for it
must be the cycles stonne.csv records; the rows whose line is not the recorded run are exactly
the SIGMA rows the export cannot state (weights' sparsity, KN-stationary dataflow, sparse
streamed operand), and where such a line is another recorded run's, its cycles are that run's.

With STONNE (ACCELFLOW_STONNE=/path/to/stonne): the exported lines of the fast rows are run in it
and must give the recorded cycles.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from accelflow.export.stonne import parse_command  # noqa: E402
from bench.validation.stonne_compare import CSV_PATH  # noqa: E402
from bench.validation.stonne_export_check import (  # noqa: E402
    RUNS_CSV,
    UNTIMED,
    differing,
    export_row,
    read_runs,
    recorded_rows,
    run_script,
)

RUNS = read_runs(RUNS_CSV)
RECORDED = {rec.row: rec for rec in recorded_rows()}
# The live test runs the rows STONNE ran this fast when the CSV was written.
LIVE_MAX_WALL_S = 0.5


def _id(run: dict[str, str]) -> str:
    return f"row{int(run['row']):03d}-{run['layer']}"


def _timed(command: str) -> tuple[str, frozenset[tuple[str, str]]]:
    op, params = parse_command(command)
    return op, frozenset((k, v) for k, v in params.items() if k not in UNTIMED)


def _expected_same(run: dict[str, str]) -> bool | None:
    """Whether the export must write the recorded run: yes for every MAERI row and for the SIGMA
    rows with dense weights (-MK_sparsity=0), weights stationary (MK_STA_KN_STR) and a dense
    streamed operand (the target declares no activation sparsity); no where the recorded run
    streams the weights or sparse activations (not expressible). Sparse weights: the export
    writes the share of zeros of the row's matrix (drawn as STONNE draws it), which equals the
    recorded parameter when the draw's share rounds to it: no expectation (None)."""
    rec = RECORDED[int(run["row"])]
    if rec.arch == "maeri":
        return True
    p = rec.run.params
    if p["KN_sparsity"] != 0 or p["dataflow"] != "MK_STA_KN_STR":
        return False
    return True if p["MK_sparsity"] == 0 else None


def test_runs_cover_the_recorded_rows() -> None:
    assert len(RUNS) >= 20
    rows = [int(r["row"]) for r in RUNS]
    assert len(set(rows)) == len(rows)
    assert set(rows) <= set(RECORDED)
    arches = {r["arch"] for r in RUNS}
    assert arches == {"maeri", "sigma"}


@pytest.mark.parametrize("run", RUNS, ids=_id)
def test_export_is_the_verified_line(run: dict[str, str], tmp_path: Path) -> None:
    rec = RECORDED[int(run["row"])]
    assert (rec.layer, rec.arch) == (run["layer"], run["arch"])
    exported = export_row(rec, tmp_path)
    assert exported.command == run["exported_command"]
    diff = differing(exported.command, rec.command)
    assert "; ".join(diff) == run["differs"]
    assert int(run["same_run"]) == (not diff)
    if _expected_same(run) is not None:
        assert (not diff) == _expected_same(run)


@pytest.mark.parametrize("run", RUNS, ids=_id)
def test_verified_cycles_are_the_recorded_ones(run: dict[str, str]) -> None:
    rec = RECORDED[int(run["row"])]
    assert int(run["stonne_cycles_recorded"]) == rec.cycles
    if int(run["same_run"]):
        assert int(run["stonne_cycles_exported"]) == rec.cycles
        accelflow, stonne = int(run["accelflow_cycles"]), int(run["stonne_cycles_exported"])
        assert float(run["error_pct"]) == pytest.approx(
            100 * (accelflow - stonne) / stonne, abs=1e-3
        )
    else:
        assert run["error_pct"] == ""
    # An exported line that is some recorded run (another row's) gave that run's cycles.
    others = {_timed(r.command): r.cycles for r in RECORDED.values()}
    line = _timed(run["exported_command"])
    if line in others:
        assert int(run["stonne_cycles_exported"]) == others[line]


def test_recorded_csv_is_stonne_csv() -> None:
    with open(CSV_PATH, newline="") as f:
        records = list(csv.DictReader(f))
    for run in RUNS:
        rec = records[int(run["row"]) - 1]
        assert (rec["layer"], rec["arch"], int(rec["cycles"])) == (
            run["layer"],
            run["arch"],
            int(run["stonne_cycles_recorded"]),
        )


STONNE = os.environ.get("ACCELFLOW_STONNE")
LIVE = [r for r in RUNS if int(r["same_run"]) and float(r["stonne_wall_s"] or 0) <= LIVE_MAX_WALL_S]


@pytest.mark.skipif(not STONNE, reason="set ACCELFLOW_STONNE=/path/to/stonne to run STONNE")
@pytest.mark.parametrize("run", LIVE, ids=_id)
def test_exported_line_runs_in_stonne(run: dict[str, str], tmp_path: Path) -> None:
    exported = export_row(RECORDED[int(run["row"])], tmp_path)
    (cycles,), _ = run_script(exported.script, Path(str(STONNE)), timeout=120)
    assert cycles == int(run["stonne_cycles_exported"]) == int(run["stonne_cycles_recorded"])
