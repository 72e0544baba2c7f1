"""accelflow's SIGMA compute cycles against STONNE's, for every SIGMA (`-SparseGEMM`) row of the
committed bench/validation/stonne.csv (STONNE itself never runs in the tests).

Each row's stationary matrix is reproduced from glibc `rand()` in STONNE's order and goes, as the
weight initializer of an ONNX MatMul, through the whole flow (onnx-to-accel -> accel-map ->
accel-tile -> accel-emit, which reads the non-zeros -> JAX engine) by
`bench.validation.stonne_compare`. Every row (the closed form: packing, read ports, and the
collection-bus lines the VNs' sums leave on, which serialise the sums of VNs ending at the two
adders of a forwarding-linked pair; MK_STR_KN_STA rows with KN as our stationary weight) must be
within `SIGMA_ERROR_BOUND`.
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


def test_csv_rows_are_all_covered():
    assert len(ROWS) >= 28
    assert all(r.covered for r in ROWS)
    # Many short rows packed per iteration (collection-bus line conflicts) and both dataflows.
    assert sum(r.vns_per_iteration > 3 for r in ROWS) >= 11
    assert {r.dataflow for r in ROWS} == {"MK_STA_KN_STR", "MK_STR_KN_STA"}
    assert sum(r.dataflow == "MK_STR_KN_STA" for r in ROWS) >= 3


@pytest.mark.parametrize("row", [r for r in ROWS if r.covered], ids=_id)
def test_covered_rows_within_bound(row):
    result = run_sigma_row(row)
    assert abs(result.error) <= SIGMA_ERROR_BOUND, (
        f"{_id(row)}: STONNE {row.stonne_cycles}, ours {result.ours} ({100 * result.error:+.2f} %)"
    )


def test_summary_reported(capsys):
    rows = [run_sigma_row(r).as_dict() for r in ROWS]
    with capsys.disabled():
        print("\nSTONNE SIGMA rows, accelflow vs STONNE:")
        print("\n".join(sigma_summary(rows)))
    assert all(r["ours"] > 0 for r in rows)
