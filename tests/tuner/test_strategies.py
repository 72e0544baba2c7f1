"""The search strategies (tuner/strategies.py) on small spaces whose optimum is known: every
legal point of each is scored by the cost model first, then each strategy, with a fixed seed and
a budget of distinct points (the whole space for exhaustive, a half to an eighth of it for the
others), must reach the optimal latency. A strategy is a function of its seed and the costs it
is told: the same seed asks the same points, another seed other points; `ask(n)` keeps to n."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pytest

from compiler import tiling
from compiler.tiling import LayerShape
from simulator.target import Target, load_target
from tuner.cost_model import evaluate
from tuner.space import MappingSpace
from tuner.strategies import STRATEGIES, make_strategy

TINY = ["ifmap_sram_kib=0.25", "filter_sram_kib=0.25", "ofmap_sram_kib=0.25"]


@dataclass(frozen=True)
class Case:
    shape: LayerShape
    target: Target
    tune: tuple[str, ...]


# Legal points: about 4000 each (the buffers of the systolic cases are shrunk so they bind).
CASES = {
    # tiles x loop order of a matmul: 12 optimal points
    "matmul-systolic": Case(
        tiling.matmul_shape((16, 24), (24, 16)),
        load_target("tpu-like-small", TINY),
        ("tiles", "order"),
    ),
    # dataflow x tiles of a padded 3x3 conv: 2 optimal points
    "conv-systolic": Case(
        tiling.conv2d_shape((1, 4, 8, 8), (8, 4, 3, 3), pads=(1, 1, 1, 1)),
        load_target(
            "tpu-like-small", ["ifmap_sram_kib=0.5", "filter_sram_kib=0.25", "ofmap_sram_kib=0.25"]
        ),
        ("dataflow", "tiles"),
    ),
    # tiles x MAERI spatial tile of a matmul: 2 optimal points
    "matmul-maeri": Case(
        tiling.matmul_shape((8, 24), (24, 16)), load_target("maeri-64"), ("tiles", "spatial")
    ),
}

# (strategy, case) -> budget as a fraction of the legal points; each reached the optimum for
# 30 seeds out of 30 when this was written (half the budget misses it for some seeds).
BUDGETS = {
    ("exhaustive", "matmul-systolic"): 1,
    ("exhaustive", "conv-systolic"): 1,
    ("exhaustive", "matmul-maeri"): 1,
    ("random", "matmul-systolic"): 1 / 2,
    ("evolutionary", "matmul-systolic"): 1 / 8,
    ("evolutionary", "conv-systolic"): 1 / 8,
    ("evolutionary", "matmul-maeri"): 1 / 8,
    ("annealing", "matmul-systolic"): 1 / 4,
    ("annealing", "conv-systolic"): 1 / 4,
    ("annealing", "matmul-maeri"): 1 / 2,
}
BATCH = 64


def space_of(case: str) -> MappingSpace:
    c = CASES[case]
    return MappingSpace(c.shape, c.target, tune=c.tune)


def latency(space: MappingSpace, genomes: np.ndarray) -> np.ndarray:
    stats = evaluate(space.shape, space.target, space.decode(genomes))
    return np.asarray(stats["latency_cycles"], np.float64)


@pytest.fixture(scope="module")
def optimum() -> dict[str, tuple[int, float]]:
    """case -> (legal points, the least latency among them), by scoring every point."""
    out = {}
    for case in CASES:
        space = space_of(case)
        genomes = space.enumerate()
        legal = genomes[space.legal(genomes)]
        out[case] = (len(legal), float(latency(space, legal).min()))
    return out


def search(space: MappingSpace, name: str, seed: int, budget: int) -> dict[bytes, float]:
    """Ask and tell as the tuner does, until `budget` distinct points are scored, the strategy
    has nothing left, or 8 rounds in a row bring no new point: genome bytes -> latency."""
    strategy = make_strategy(name, space, seed)
    scored: dict[bytes, float] = {}
    idle = 0
    while len(scored) < budget and idle < 8:
        genomes = strategy.ask(min(BATCH, budget - len(scored)))
        if genomes is None:
            break
        costs = latency(space, genomes)
        before = len(scored)
        scored.update(zip((g.tobytes() for g in genomes), costs.tolist(), strict=True))
        idle = 0 if len(scored) > before else idle + 1
        strategy.tell(genomes, costs)
    return scored


@pytest.mark.parametrize(("name", "case"), list(BUDGETS))
def test_strategy_reaches_the_optimum(name, case, optimum):
    legal, best = optimum[case]
    budget = max(1, int(legal * BUDGETS[name, case]))
    space = space_of(case)
    for seed in (0, 1):
        scored = search(space, name, seed, budget)
        assert min(scored.values()) == best, (
            f"{name} (seed {seed}) got {min(scored.values())} after {len(scored)} points, "
            f"the optimum is {best}"
        )


@pytest.mark.parametrize("case", list(CASES))
def test_exhaustive_asks_every_legal_point_once(case, optimum):
    space = space_of(case)
    strategy = make_strategy("exhaustive", space)
    asked = []
    while (genomes := strategy.ask(1000)) is not None:
        asked.append(genomes)
        strategy.tell(genomes, np.zeros(len(genomes)))
    asked = np.concatenate(asked)
    assert len(asked) == optimum[case][0]
    assert len(np.unique(asked, axis=0)) == len(asked)
    assert space.legal(asked).all()
    assert strategy.ask(1) is None


def asks(name: str, space: MappingSpace, seed: int, rounds: int = 6) -> list[np.ndarray]:
    strategy = make_strategy(name, space, seed)
    out = []
    for _ in range(rounds):
        genomes = strategy.ask(48)
        if genomes is None:
            break
        out.append(genomes.copy())
        strategy.tell(genomes, latency(space, genomes))
    return out


@pytest.mark.parametrize("name", list(STRATEGIES))
@pytest.mark.parametrize("case", ["conv-systolic", "matmul-maeri"])
def test_same_seed_same_asks_other_seed_other_asks(name, case):
    space = space_of(case)
    first = asks(name, space, seed=3)
    again = asks(name, space, seed=3)
    assert len(first) == len(again) == 6
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    if name == "exhaustive":  # walks the space in order, whatever the seed
        return
    other = asks(name, space, seed=4)
    assert any(
        a.shape != b.shape or not np.array_equal(a, b) for a, b in zip(first, other, strict=True)
    )


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_first_ask_holds_the_default_or_walks_from_the_start(name):
    space = space_of("matmul-maeri")
    genomes = make_strategy(name, space, seed=0).ask(32)
    assert genomes is not None and genomes.dtype == np.int64
    assert genomes.shape == (32, len(space.axes))
    if name != "exhaustive":
        np.testing.assert_array_equal(genomes[0], space.default_genome)


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_ask_returns_at_most_n_points(name):
    space = space_of("matmul-systolic")
    strategy = make_strategy(name, space, seed=0)
    for n in (64, 5, 1, 17):
        genomes = strategy.ask(n)
        assert genomes is not None
        assert 0 < len(genomes) <= n, f"ask({n}) returned {len(genomes)} points"
        strategy.tell(genomes, latency(space, genomes))


def test_annealing_tells_long_runs_of_improvements_without_warnings():
    space = space_of("matmul-systolic")
    strategy = make_strategy("annealing", space, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for step in range(400):  # every point better than the last: each move is accepted
            genomes = strategy.ask(4)
            strategy.tell(genomes, np.full(len(genomes), 1e300 * 0.5**step))


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="unknown strategy 'genetic'"):
        make_strategy("genetic", space_of("matmul-systolic"))
