"""The simulator's public entry: `simulate(program, target, functional, inputs) -> SimResult`.

Timing always runs (`simulator.engine`); with `functional=True` the program is also executed
on `inputs` (`simulator.functional`) and the graph outputs are returned. Host layers take
0 accelerator cycles in v1 (see `simulator.stats`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.errors import AccelflowError
from simulator.program import Program
from simulator.stats import ModelStats
from simulator.target import Target, make_target


@dataclass
class SimResult:
    stats: ModelStats
    outputs: dict[str, np.ndarray] | None = None


def simulate(
    program: Program,
    target: Target | None = None,
    functional: bool = False,
    inputs: dict[str, np.ndarray] | None = None,
) -> SimResult:
    """Simulate `program` on `target` (default: the target it was compiled for)."""
    from simulator.engine import simulate_timing

    if target is None:
        target = make_target(dict(program.target))
    stats = simulate_timing(program, target)
    if not functional:
        return SimResult(stats=stats)
    if inputs is None:
        raise AccelflowError("functional simulation needs input values (inputs=...)")
    from simulator.functional import run_functional

    values = run_functional(program, inputs)
    return SimResult(stats=stats, outputs={name: values[name] for name in program.outputs})
