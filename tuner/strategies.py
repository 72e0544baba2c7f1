"""Search strategies over a `MappingSpace`, behind one small interface.

    strategy = make_strategy("evolutionary", space, seed=0)
    while (genomes := strategy.ask(256)) is not None:
        strategy.tell(genomes, costs_of(genomes))       # lower is better

`ask(n)` returns up to n legal genomes to evaluate next ([k, A] int64; None when the strategy
has nothing left to propose); `tell` gives their costs back in the same order. A strategy is a
pure function of its seed and the costs it was told: asked and told the same things, it asks
the same things. The tuner relies on this to resume a killed run from its log (the logged
costs are told again, nothing is evaluated twice). A strategy may propose a point it proposed
before; the tuner answers it from its cache.

- exhaustive: every legal point, in mixed-radix order (small spaces).
- random: uniform legal points.
- evolutionary: GAMMA-style (Kao & Krishna, ICCAD 2020): a population, elitism, tournament
  parents, uniform crossover of the axes, mutation of one or two axes.
- annealing: parallel simulated annealing: one chain per point asked, neighbour moves,
  Metropolis acceptance on relative cost, geometric cooling.

Register another with `@register("name")` on a class taking (space, seed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from tuner.space import MappingSpace


class Strategy(Protocol):
    name: str

    def ask(self, n: int) -> np.ndarray | None: ...

    def tell(self, genomes: np.ndarray, costs: np.ndarray) -> None: ...


STRATEGIES: dict[str, Callable[[MappingSpace, int], Strategy]] = {}


def register(name: str) -> Callable[[type], type]:
    def wrap(cls: type) -> type:
        cls.name = name
        STRATEGIES[name] = cls
        return cls

    return wrap


def make_strategy(name: str, space: MappingSpace, seed: int = 0) -> Strategy:
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy '{name}' (one of {', '.join(STRATEGIES)})")
    return STRATEGIES[name](space, seed)


@register("exhaustive")
class Exhaustive:
    """Every legal point, in order; None once the space is walked."""

    CHUNK = 1 << 16

    def __init__(self, space: MappingSpace, seed: int = 0):
        self.space = space
        self.cursor = 0
        self.pending = np.zeros((0, len(space.axes)), np.int64)

    def ask(self, n: int) -> np.ndarray | None:
        while len(self.pending) < n and self.cursor < self.space.size:
            g = self.space.enumerate(self.cursor, self.CHUNK)
            self.cursor += len(g)
            self.pending = np.concatenate([self.pending, g[self.space.legal(g)]])
        if len(self.pending) == 0:
            return None
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def tell(self, genomes: np.ndarray, costs: np.ndarray) -> None:
        pass


@register("random")
class Random:
    """Uniform legal points (the default mapping first)."""

    def __init__(self, space: MappingSpace, seed: int = 0):
        self.space = space
        self.rng = np.random.default_rng(seed)
        self.started = False

    def ask(self, n: int) -> np.ndarray | None:
        g = self.space.sample(self.rng, n)
        if not self.started:
            self.started = True
            g = np.concatenate([self.space.default_genome[None], g])[:n]
        return g if len(g) else None

    def tell(self, genomes: np.ndarray, costs: np.ndarray) -> None:
        pass


@register("evolutionary")
class Evolutionary:
    """GAMMA-style genetic search: (mu + lambda) with elitism, tournament selection, uniform
    crossover and mutation; the first generation is random plus the default mapping."""

    def __init__(self, space: MappingSpace, seed: int = 0, population: int = 64):
        self.space = space
        self.rng = np.random.default_rng(seed)
        self.population_size = population
        self.population = np.zeros((0, len(space.axes)), np.int64)
        self.fitness = np.zeros(0)

    def ask(self, n: int) -> np.ndarray | None:
        if len(self.population) < 2:
            g = self.space.sample(self.rng, n)
            g = np.concatenate([self.space.default_genome[None], g])[:n]
            return g if len(g) else None
        children = []
        have = 0
        for _ in range(8):
            k = max(n - have, 1) * 2
            a = self._tournament(k)
            b = self._tournament(k)
            mask = self.rng.random(a.shape) < 0.5
            child = np.where(mask, a, b)
            mutate = self.rng.random(k) < 0.7
            child[mutate] = self.space.neighbours(
                child[mutate], self.rng, steps=1 + int(self.rng.random() < 0.3)
            )
            child = child[self.space.legal(child)]
            children.append(child)
            have += len(child)
            if have >= n:
                break
        out = np.concatenate(children)[:n]
        if len(out) < n:  # crossover rarely legal: top up with random points
            out = np.concatenate([out, self.space.sample(self.rng, n - len(out))])
        return out if len(out) else None

    def _tournament(self, k: int, size: int = 3) -> np.ndarray:
        pick = self.rng.integers(0, len(self.population), (k, size))
        best = pick[np.arange(k), np.argmin(self.fitness[pick], axis=1)]
        return self.population[best]

    def tell(self, genomes: np.ndarray, costs: np.ndarray) -> None:
        pool = np.concatenate([self.population, genomes])
        fit = np.concatenate([self.fitness, np.asarray(costs, np.float64)])
        _, first = np.unique(pool, axis=0, return_index=True)
        first = np.sort(first)
        pool, fit = pool[first], fit[first]
        keep = np.argsort(fit, kind="stable")[: self.population_size]
        self.population, self.fitness = pool[keep], fit[keep]


@register("annealing")
class Annealing:
    """Parallel simulated annealing: `chains` walkers from random starts (one from the default
    mapping), each step a neighbour per walker, accepted with probability
    exp(-(new/old - 1) / T), T cooled geometrically from 0.3 by 0.97 per step."""

    def __init__(self, space: MappingSpace, seed: int = 0, t0: float = 0.3, cooling: float = 0.97):
        self.space = space
        self.rng = np.random.default_rng(seed)
        self.temperature = t0
        self.cooling = cooling
        self.current: np.ndarray | None = None
        self.cost: np.ndarray | None = None
        self.proposed_from: np.ndarray | None = None
        self.cursor = 0

    def ask(self, n: int) -> np.ndarray | None:
        if self.current is None:
            g = self.space.sample(self.rng, n)
            g = np.concatenate([self.space.default_genome[None], g])[:n]
            self.proposed_from = None
            return g if len(g) else None
        # At most n chains move per step, taken in turn.
        k = len(self.current)
        chains = (self.cursor + np.arange(min(n, k))) % k
        self.cursor = int((self.cursor + len(chains)) % k)
        current = self.current[chains]
        g = self.space.neighbours(current, self.rng, steps=1 + int(self.rng.random() < 0.2))
        ok = self.space.legal(g)
        for _ in range(8):  # retry the illegal moves
            if ok.all():
                break
            bad = ~ok
            g[bad] = self.space.neighbours(current[bad], self.rng)
            ok[bad] = self.space.legal(g[bad])
        g[~ok] = current[~ok]
        self.proposed_from = chains
        return g

    def tell(self, genomes: np.ndarray, costs: np.ndarray) -> None:
        costs = np.asarray(costs, np.float64)
        if self.proposed_from is None:
            self.current, self.cost = genomes.copy(), costs.copy()
            return
        assert self.current is not None and self.cost is not None
        chains = self.proposed_from
        rel = costs / np.maximum(self.cost[chains], 1e-12) - 1.0
        uphill = np.exp(-np.maximum(rel, 0.0) / max(self.temperature, 1e-9))
        accept = (rel <= 0) | (self.rng.random(len(costs)) < uphill)
        self.current[chains[accept]] = genomes[accept]
        self.cost[chains[accept]] = costs[accept]
        self.temperature *= self.cooling
