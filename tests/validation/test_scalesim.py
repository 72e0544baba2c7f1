"""The systolic array's compute cycles equal SCALE-Sim 3.0.0's, layer by layer, for ws, os and is.

SCALE-Sim reports the 0-based index of a layer's last cycle ("Total Cycles", stalls included);
ours is the number of cycles, so ours == Total - Stall + 1 (bench/validation/scalesim.py shows where
in its source that comes from). Equality, never a tolerance.

- AlexNet (conv1-5, fc6-8) on a 32x32 array: ours against SCALE-Sim's numbers recorded in
  bench/validation/scalesim.csv by `python bench/validate.py --csv ...` (SCALE-Sim needs ~28 min and
  up to ~17 GB for these 24 runs on a 2-core machine, too much for every test run).
  `ACCELFLOW_SCALESIM_ALEXNET=1` reruns SCALE-Sim live on them too.
- Small layers with the same features (stride 4, padding folded into the ifmap, folds that do not
  fill the array, fully connected) run live through SCALE-Sim on every test run: one SCALE-Sim
  invocation per dataflow, a few seconds each.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.validation.scalesim import (  # noqa: E402
    ALEXNET,
    SCALESIM_ZERO_BASED_OFFSET,
    ConvLayer,
    default_python,
    fc,
    ours,
    run_scalesim,
)

DATAFLOWS = ("ws", "os", "is")
RECORDED = ROOT / "bench" / "validation" / "scalesim.csv"
NOT_INSTALLED = "SCALE-Sim not installed: pip install -e '.[dev,peers]'"

SMALL_LAYERS: tuple[ConvLayer, ...] = (
    ConvLayer("conv_11x11_s4", 35, 35, 11, 11, 3, 40, 4),  # 7x7 out, k = 363
    ConvLayer("conv_5x5_pad2", 11, 11, 5, 5, 20, 36, 1),  # 7x7 ifmap padded by 2
    ConvLayer("conv_3x3", 9, 9, 3, 3, 40, 48, 1),  # k = 360, n = 48: partial folds
    fc("fc_300x70", 300, 70),
)


def _recorded() -> dict[tuple[str, str], dict[str, str]]:
    with RECORDED.open(newline="") as f:
        return {(row["dataflow"], row["layer"]): row for row in csv.DictReader(f)}


@pytest.mark.parametrize("layer", ALEXNET, ids=lambda layer: layer.name)
@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_alexnet_compute_cycles_equal_recorded_scalesim(dataflow: str, layer: ConvLayer) -> None:
    row = _recorded()[(dataflow, layer.name)]
    assert row["array"] == "32x32"
    total, stalls = int(row["scalesim_total_cycles"]), int(row["scalesim_stall_cycles"])
    assert stalls == 0
    assert int(row["scalesim_compute_cycles"]) == total - stalls + SCALESIM_ZERO_BASED_OFFSET
    mine = ours(layer, dataflow)
    assert mine.compute_count == 1  # one buffer tile, as in SCALE-Sim
    assert mine.compute_cycles == int(row["scalesim_compute_cycles"])


@pytest.fixture(scope="module")
def scalesim_python() -> str:
    python = default_python()
    if python is None:
        pytest.skip(NOT_INSTALLED)
    return python


@pytest.fixture(scope="module", params=DATAFLOWS)
def small_run(request: pytest.FixtureRequest, scalesim_python: str):
    return request.param, run_scalesim(SMALL_LAYERS, request.param, python=scalesim_python)


def test_small_layers_compute_cycles_equal_live_scalesim(small_run) -> None:
    dataflow, run = small_run
    for layer, theirs in zip(SMALL_LAYERS, run.layers, strict=True):
        assert theirs.stall_cycles == 0, layer.name
        assert ours(layer, dataflow).compute_cycles == theirs.compute_cycles, layer.name


@pytest.fixture(scope="module", params=DATAFLOWS)
def alexnet_run(request: pytest.FixtureRequest, scalesim_python: str):
    if os.environ.get("ACCELFLOW_SCALESIM_ALEXNET") != "1":
        pytest.skip("set ACCELFLOW_SCALESIM_ALEXNET=1 to rerun SCALE-Sim on AlexNet (~28 min)")
    return request.param, run_scalesim(ALEXNET, request.param, python=scalesim_python)


def test_alexnet_compute_cycles_equal_live_scalesim(alexnet_run) -> None:
    dataflow, run = alexnet_run
    recorded = _recorded()
    for layer, theirs in zip(ALEXNET, run.layers, strict=True):
        assert theirs.stall_cycles == 0, layer.name
        assert ours(layer, dataflow).compute_cycles == theirs.compute_cycles, layer.name
        assert theirs.total_cycles == int(recorded[(dataflow, layer.name)]["scalesim_total_cycles"])
