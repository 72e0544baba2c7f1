"""accelflow's MAERI compute cycles against STONNE's, for every MAERI row of the committed
bench/validation/stonne.csv (STONNE itself never runs in the tests).

Each row's layer, spatial tile and hardware (num_ms, dn_bw, rn_bw, accumulation buffer) go
through the whole flow (ONNX -> accel-map{spatial=...} -> accel-tile -> accel-emit -> JAX
engine) by `bench.validation.stonne_compare`, with a global buffer holding the whole layer.
Every row must be within `A_ERROR_BOUND` (5 %) but the `B_KNOWN_MISSES`, two one-window micro
rows whose first fold fills a 122-multiplier VN slower than its partial sum climbs the tree
(docs/stonne-several-vn.md section 5), held to `B_MISS_BOUND` so that a regression still shows.
Regime B with several VNs per step takes the slowest VN's psum round trips from
`simulator.arch.maeri_art` (no fitted term).
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
B_MISS_BOUND = 0.10
# Regime-B rows over 5 % (error today): a one-window 11x11 layer whose first fold fills the
# 122-leaf tree slower than the psum climbs it (a fixed 3 cycles per K-tile: fold 0's products
# climb up to 10 adders, the psum 6).
B_KNOWN_MISSES = {
    "micro_11x11_c3k1_out1-R11-S11-ms128-dn128-rn8-noab",  # -9.4 %
    "micro_11x11_c3k1_out1-R11-S11-ms128-dn64-rn8-noab",  # -7.7 %
}


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


@pytest.mark.parametrize("row", [r for r in ROWS if r.regime == "B"], ids=_id)
def test_regime_b_within_bound(row):
    result = run_row(row)
    bound = B_MISS_BOUND if _id(row) in B_KNOWN_MISSES else A_ERROR_BOUND
    assert abs(result.error) <= bound, (
        f"{row.layer}: STONNE {row.stonne_cycles}, ours {result.ours} ({100 * result.error:+.2f} %)"
    )


def test_known_misses_are_regime_b_rows():
    assert {_id(r) for r in ROWS if r.regime == "B"} >= B_KNOWN_MISSES


def test_regime_b_reported(capsys):
    rows = [run_row(r).as_dict() for r in ROWS if r.regime == "B"]
    lines = summary(rows)
    with capsys.disabled():
        print("\nSTONNE MAERI, folding without accumulation buffer:")
        print("\n".join(lines))
    assert all(r["ours"] > 0 for r in rows)


# One VN per step, folding through memory: 15 STONNE runs recorded for the several-VN study
# (bench/validation/stonne_several_vn.csv, rows with nv = 1: FC, 12 folds, VN of 5 to 127 on
# 128 multipliers), not used to derive the round trip's formula (docs/stonne-several-vn.md
# derives it from CompilerART's configuration). Before that formula the VNs of 6-7, 14-15,
# 30-31, 62-63 and 126-127 multipliers were 9-15 % fast.
def _one_vn_runs() -> list:
    import csv

    from bench.validation.stonne_compare import MaeriRow

    runs = []
    with open(ROOT / "bench" / "validation" / "stonne_several_vn.csv", newline="") as f:
        for r in csv.DictReader(f):
            if r["nv"] != "1":
                continue
            params = {k: int(v) for k, v in (kv.split("=") for kv in r["params"].split(";"))}
            params.setdefault("T_M", 1)
            runs.append(
                MaeriRow(r["layer"], r["kind"], params, int(r["num_ms"]), int(r["dn_bw"]),
                         int(r["rn_bw"]), False, int(r["cycles"]), 0.0)
            )  # fmt: skip
    return runs


def test_one_vn_round_trips_match_stonne():
    runs = _one_vn_runs()
    assert len(runs) == 15
    for row in runs:
        got = run_row(row)
        error = (got.ours - row.stonne_cycles) / row.stonne_cycles
        assert abs(error) <= 0.04, (row.layer, got.ours, row.stonne_cycles)
