"""A bounded fuzz run in CI: random valid ONNX graphs (1-6 operators) on random targets compile,
simulate and equal onnx.reference, never crash (bench/fuzz.py holds the generator; its long
run, `python bench/fuzz.py --cases 10000`, is reported in docs/validation.md)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.fuzz import random_model, random_target, run_case  # noqa: E402


@dataclass
class HypothesisDraw:
    """bench.fuzz's `Draw` from hypothesis (shrinks towards the first option, the smallest)."""

    data: Any

    def integer(self, lo: int, hi: int) -> int:
        return self.data.draw(st.integers(lo, hi))

    def choice(self, options: list[Any]) -> Any:
        return self.data.draw(st.sampled_from(options))


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_random_graphs_on_random_targets(data):
    d = HypothesisDraw(data)
    model, ops = random_model(d)
    preset, overrides = random_target(d)
    outcome = run_case(model, preset, overrides)
    assert outcome.kind == "pass", f"{preset} {overrides} {ops}: {outcome.kind}: {outcome.detail}"


def test_generator_covers_every_operator_and_family():
    import numpy as np

    from bench.fuzz import NumpyDraw

    ops, families = set(), set()
    for seed in range(200):
        d = NumpyDraw(np.random.default_rng(seed))
        ops |= set(random_model(d, seed)[1])
        families.add(random_target(d)[0].split("-")[0])
    assert ops >= {"Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "Gemm", "MatMul",
                   "Add", "Relu", "Flatten"}  # fmt: skip
    assert families == {"tpu", "maeri", "sigma"}
