"""accelflow's MAERI compute cycles against STONNE's, for every MAERI row of the committed
bench/validation/stonne.csv (STONNE itself never runs in the tests).

Each row's layer, spatial tile and hardware (num_ms, dn_bw, rn_bw, accumulation buffer) go
through the whole flow (ONNX -> accel-map{spatial=...} -> accel-tile -> accel-emit -> JAX
engine) by `bench.validation.stonne_compare`, with a global buffer holding the whole layer.
Rows the closed form of docs/stonne-timing.md covers (regime A: no folding, or accumulation
buffer on) must be within `A_ERROR_BOUND` (5 %); regime B rows (folding without accumulation
buffer: the psum round trip's latency depends on where a VN falls in the adder tree, documented
up to 25 % off) are reported in the summary test's output, not asserted.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.validation.stonne_compare import (  # noqa: E402
    A_ERROR_BOUND,
    read_rows,
    run_row,
    summary,
)

ROWS = read_rows()


def _id(row) -> str:
    tile = "-".join(f"{k[2:]}{v}" for k, v in row.params.items() if k.startswith("T_") and v > 1)
    ab = "ab" if row.accumulation_buffer else "noab"
    return f"{row.layer}-{tile}-ms{row.num_ms}-dn{row.dn_bw}-rn{row.rn_bw}-{ab}"


def test_csv_has_both_regimes_and_kinds():
    assert {r.regime for r in ROWS} == {"A", "B"}
    assert {r.kind for r in ROWS} == {"conv", "fc"}
    assert len(ROWS) >= 50


@pytest.mark.parametrize("row", [r for r in ROWS if r.regime == "A"], ids=_id)
def test_regime_a_within_bound(row):
    result = run_row(row)
    assert abs(result.error) <= A_ERROR_BOUND, (
        f"{row.layer}: STONNE {row.stonne_cycles}, ours {result.ours} ({100 * result.error:+.2f} %)"
    )


def test_regime_b_reported(capsys):
    rows = [run_row(r).as_dict() for r in ROWS if r.regime == "B"]
    lines = summary(rows)
    with capsys.disabled():
        print("\nSTONNE MAERI, folding without accumulation buffer (not asserted):")
        print("\n".join(lines))
    assert all(r["ours"] > 0 for r in rows)
