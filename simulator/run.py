"""The simulator's public entries: `simulate(program, target, functional, inputs) -> SimResult`
and `simulate_many(programs, targets) -> [ModelStats]`.

Timing always runs (`simulator.engine`); with `functional=True` the program is also executed
on `inputs` (`simulator.functional`) and the graph outputs are returned. Operators off the
array run on the target's vector unit (simulator/vector.py), or take nothing with
`host_ops = "host"`. `simulate_many` times many (program, target) pairs: a design-space sweep's
way in. Timing fast-forwards repeating tile loops exactly (simulator/fastforward.py) unless
asked for the full scan (`fast_forward=False`; `simulate_many` then runs pairs in a few
compiled `vmap` calls, `engine.run_records_many`).
"""

from __future__ import annotations

from collections.abc import Sequence
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
    fast_forward: bool = True,
) -> SimResult:
    """Simulate `program` on `target` (default: the target it was compiled for).
    `fast_forward` False: time every instruction in the full scan (the same numbers, slower;
    `simulator.engine.simulate_timing`)."""
    from simulator.timing import simulate_timing

    if target is None:
        target = make_target(dict(program.target))
    stats = simulate_timing(program, target, fast_forward=fast_forward)
    if not functional:
        return SimResult(stats=stats)
    if inputs is None:
        raise AccelflowError("functional simulation needs input values (inputs=...)")
    from simulator.functional import run_functional

    values = run_functional(program, inputs)
    return SimResult(stats=stats, outputs={name: values[name] for name in program.outputs})


def pairs(
    programs: Program | Sequence[Program], targets: Target | Sequence[Target | None] | None
) -> tuple[list[Program], list[Target | None]]:
    """`simulate_many`'s (program, target) pairs as two lists of one length: one program with
    every target, every program with one target, or two lists of one length."""
    progs = [programs] if isinstance(programs, Program) else list(programs)
    tgts = [targets] if targets is None or isinstance(targets, Target) else list(targets)
    if len(progs) == 1 and len(tgts) > 1:
        progs = progs * len(tgts)
    elif len(tgts) == 1:
        tgts = tgts * len(progs)
    if len(progs) != len(tgts):
        raise AccelflowError(
            f"simulate_many: {len(progs)} programs and {len(tgts)} targets (give one of either, "
            "or as many of both)"
        )
    return progs, tgts


def simulate_many(
    programs: Program | Sequence[Program],
    targets: Target | Sequence[Target | None] | None = None,
    fast_forward: bool = True,
) -> list[ModelStats]:
    """Timing of many (program, target) pairs at once; the same numbers as `simulate(program,
    target).stats` pair by pair, in order. One program and several targets (the targets must
    leave its mapping legal, e.g. DRAM or SRAM bandwidth), several programs and one target (or
    None: each program's own), or two lists of one length. Pair by pair with the fast-forward
    (`fast_forward`, the default: a program's repeat structure is found once for all its
    targets); False: pairs of one padded length share one compiled `vmap` call of the full
    scan (`engine.run_records_many`; what a GPU runs best)."""
    from simulator.timing import aggregate, simulate_timing, target_params

    progs, tgts = pairs(programs, targets)
    resolved = [
        t if t is not None else make_target(dict(p.target))
        for p, t in zip(progs, tgts, strict=True)
    ]
    if fast_forward:
        return [simulate_timing(p, t) for p, t in zip(progs, resolved, strict=True)]
    from simulator.engine import run_records_many

    records = run_records_many([p.instrs for p in progs], [target_params(t) for t in resolved])
    return [aggregate(p, t, r) for p, t, r in zip(progs, resolved, records, strict=True)]
