"""SIGMA with fewer ports than multipliers (dn = rn < num_ms, where the multicast packages and the
collection bus cost several cycles per streamed column) against STONNE: the 25 recorded runs of
bench/validation/sigma_ports.csv (dense GEMMs from one VN of 100 to 128 VNs of 4, 64-512
multipliers, 8-32 ports; none fitted on), each compiled and simulated through the whole flow, are
within 1 % of STONNE's cycles (0.56 % at most when recorded). STONNE never runs here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.validation.sigma_ports import CASES, OUT  # noqa: E402
from bench.validation.stonne_compare import read_sigma_rows, run_sigma_row  # noqa: E402

ROWS = read_sigma_rows(OUT)


def test_every_case_was_run():
    recorded = {(r.params["M"], r.params["N"], r.params["K"], r.num_ms, r.dn_bw) for r in ROWS}
    assert recorded == set(CASES)
    assert all(r.dn_bw == r.rn_bw < r.num_ms for r in ROWS)


@pytest.mark.parametrize(
    "row",
    ROWS,
    ids=lambda r: f"M{r.params['M']}-N{r.params['N']}-K{r.params['K']}-ms{r.num_ms}-p{r.dn_bw}",
)
def test_ours_within_one_percent_of_stonne(row):
    row = run_sigma_row(row)
    assert abs(row.error) <= 0.01, (row.ours, row.stonne_cycles)
