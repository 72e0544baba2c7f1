"""accelflow's SIGMA compute cycles against STONNE's, for every SIGMA (`-SparseGEMM`) row of the
committed bench/validation/stonne.csv (STONNE itself never runs in the tests).

Each row's stationary matrix is reproduced from glibc `rand()` in STONNE's order and goes, as the
weight initializer of an ONNX MatMul, through the whole flow (onnx-to-accel -> accel-map ->
accel-tile -> accel-emit, which reads the non-zeros -> JAX engine) by
`bench.validation.stonne_compare`. Rows the closed form covers (MK_STA_KN_STR, at most
`SIGMA_MAX_VNS_PER_ITERATION` rows per stationary iteration) must be within `SIGMA_ERROR_BOUND`;
the others (many short rows per iteration: STONNE's unmodelled bus-line conflicts; the
MK_STR_KN_STA dataflow) are reported by the summary test, not asserted.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.validation.stonne_compare import (  # noqa: E402
    SIGMA_ERROR_BOUND,
    read_sigma_rows,
    run_sigma_row,
    sigma_summary,
)

ROWS = read_sigma_rows()


def _id(row) -> str:
    p = row.params
    return (
        f"{row.layer}-MK{p['MK_sparsity']}-KN{p['KN_sparsity']}-{row.dataflow}"
        f"-ms{row.num_ms}-dn{row.dn_bw}-rn{row.rn_bw}"
    )


def test_csv_has_covered_and_reported_rows():
    assert len(ROWS) >= 20
    assert sum(r.covered for r in ROWS) >= 12
    assert {r.dataflow for r in ROWS} == {"MK_STA_KN_STR", "MK_STR_KN_STA"}


@pytest.mark.parametrize("row", [r for r in ROWS if r.covered], ids=_id)
def test_covered_rows_within_bound(row):
    result = run_sigma_row(row)
    assert abs(result.error) <= SIGMA_ERROR_BOUND, (
        f"{_id(row)}: STONNE {row.stonne_cycles}, ours {result.ours} ({100 * result.error:+.2f} %)"
    )


def test_uncovered_rows_reported(capsys):
    rows = [run_sigma_row(r).as_dict() for r in ROWS if not r.covered]
    with capsys.disabled():
        print("\nSTONNE SIGMA rows the closed form does not cover (not asserted):")
        print("\n".join(sigma_summary(rows)))
    assert all(r["ours"] > 0 for r in rows)
    # What is not modelled only ever makes STONNE slower than the closed form (beyond its bound).
    assert all(r["ours"] <= r["stonne_cycles"] * (1 + SIGMA_ERROR_BOUND) for r in rows)
