"""When each instruction starts and ends: the machine's schedule, written once.

The timing of a program splits in two. What an instruction costs (DMA cycles, the array's busy
cycles, bytes, MACs) depends on the instruction and the target only: the engine computes it for
all rows at once (`simulator.timing.row_costs`). When it starts depends on everything before
it: that recurrence is this module, one function per opcode over the machine's state and the
instruction's `SCHED_INPUTS`. It is written against a small namespace of operations (`Ops`), so
the same code runs traced inside the JAX engine's `lax.scan` (`jax_ops()`) and on Python
integers in the fast-forward (`PY_OPS`, simulator/fastforward.py): one home for the rules.

The state (`STATE_FIELDS`, int64 values: a vector in JAX, a list of Python integers):

    dma_free      cycle at which the single DMA channel is free (loads and stores share it)
    array_free    cycle at which the PE array is free
    ready_<b><s>  cycle at which buffer b (input, weight, output), slot s holds its data
    xfer_<b><s>   cycle at which the DMA transfer into buffer b, slot s finished (ready - latency)
    free_<b><s>   cycle at which its last reader/writer is done, so it may be overwritten
    layer_start   end of the previous layer's last instruction (set by CONFIG)
    last_end      latest end of any instruction so far

An instruction's inputs (`SCHED_INPUTS`): its opcode; the slots it touches as indices into a
buffer group (`buffer * 2 + slot`: `slot` for LOAD and STORE, `s_in`, `s_w`, `s_out` for
COMPUTE); `acc`; `fused` (VECTOR); and its costs: `dma` (DMA cycles of its transfer), `busy`
(cycles the array or the vector unit is occupied, a COMPUTE's SRAM-bandwidth stall included),
`latency` (DRAM latency added to a transfer).

Its outputs (`SCHED_OUTPUTS`): start, end, the cycles the array waited (`wait`) and their cause
(`stall_dram_bandwidth`, `stall_dram_latency`, `stall_output_drain`; the SRAM-bandwidth part is
a cost, not a wait), and `compute`, the cycles a fused vector operator adds to its layer.

The rules (simulator/engine.py's docstring words what they model):
- LOAD: starts when the DMA channel is free and its slot's last reader is done; ends when its
  data is ready, `dma + latency` later.
- COMPUTE: starts when the array is free and its input, weight and output slot are ready (the
  output slot free of its last store, or holding the reloaded partial sums when `acc`); the
  dependency that binds (the first of the latest) names the stall's cause.
- STORE: starts when the DMA channel is free and its output slot is computed.
- VECTOR: after everything before it, or, fused, from its layer's start beside the array, its
  reads queued on the DMA channel; it holds the channel until it ends.
- CONFIG: the layer starts when everything before it has ended. NOP (and an unknown opcode):
  nothing.

Every rule is a max of sums of state values and costs (max-plus), so shifting every state value
by c shifts every start and end by c and leaves the waits alone: the fast-forward's proof of
exactness rests on this (simulator/fastforward.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.program import OP_COMPUTE, OP_CONFIG, OP_LOAD, OP_NOP, OP_STORE, OP_VECTOR

BUFFERS = ("input", "weight", "output")
SLOT_NAMES = tuple(f"{b}{s}" for b in BUFFERS for s in (0, 1))
STATE_FIELDS = (
    "dma_free", "array_free",
    *(f"ready_{n}" for n in SLOT_NAMES),
    *(f"xfer_{n}" for n in SLOT_NAMES),
    *(f"free_{n}" for n in SLOT_NAMES),
    "layer_start", "last_end",
)  # fmt: skip
DMA_FREE, ARRAY_FREE = 0, 1
READY, XFER, FREE = 2, 2 + len(SLOT_NAMES), 2 + 2 * len(SLOT_NAMES)
LAYER_START, LAST_END = FREE + len(SLOT_NAMES), FREE + len(SLOT_NAMES) + 1
NUM_STATE = len(STATE_FIELDS)
OUTPUT_SLOT0 = 2 * BUFFERS.index("output")  # the slot index of the output buffer's slot 0

SCHED_INPUTS = ("opcode", "slot", "s_in", "s_w", "s_out", "acc", "fused", "dma", "busy", "latency")
INPUT = {name: i for i, name in enumerate(SCHED_INPUTS)}
SCHED_OUTPUTS = (
    "start", "end", "wait",
    "stall_dram_bandwidth", "stall_dram_latency", "stall_output_drain", "compute",
)  # fmt: skip
NUM_OUTPUTS = len(SCHED_OUTPUTS)


@dataclass(frozen=True)
class Ops:
    """The operations the rules use: traced JAX (`jax_ops`) or Python integers (`PY_OPS`).

    `get(state, group, i)` reads slot i of a group (READY, XFER, FREE); `put(state, group, i,
    v)` and `set(state, field, v)` return the state with one value replaced (Python: in place).
    """

    maximum: Callable[[Any, Any], Any]
    where: Callable[[Any, Any, Any], Any]
    get: Callable[[Any, int, Any], Any]
    put: Callable[[Any, int, Any, Any], Any]
    set: Callable[[Any, int, Any], Any]
    zero: Any


def _py_put(state: list, group: int, i: int, v: int) -> list:
    state[group + i] = v
    return state


def _py_set(state: list, field: int, v: int) -> list:
    state[field] = v
    return state


PY_OPS = Ops(
    maximum=max,
    where=lambda c, a, b: a if c else b,
    get=lambda state, group, i: state[group + i],
    put=_py_put,
    set=_py_set,
    zero=0,
)


def jax_ops() -> Ops:
    """The operations on traced int64 scalars, the state one int64 vector [NUM_STATE]."""
    import jax.numpy as jnp

    return Ops(
        maximum=jnp.maximum,
        where=jnp.where,
        get=lambda state, group, i: state[group + i],
        put=lambda state, group, i, v: state.at[group + i].set(v),
        set=lambda state, field, v: state.at[field].set(v),
        zero=jnp.zeros((), jnp.int64),
    )


def _out(ops: Ops, **values: Any) -> tuple:
    return tuple(values.get(name, ops.zero) for name in SCHED_OUTPUTS)


def nop(state: Any, x: Any, ops: Ops) -> tuple[Any, tuple]:
    return state, _out(ops)


def config(state: Any, x: Any, ops: Ops) -> tuple[Any, tuple]:
    last = state[LAST_END]
    return ops.set(state, LAYER_START, last), _out(ops, start=last, end=last)


def load(state: Any, x: Any, ops: Ops) -> tuple[Any, tuple]:
    i = x[INPUT["slot"]]
    start = ops.maximum(state[DMA_FREE], ops.get(state, FREE, i))
    dma_free = start + x[INPUT["dma"]]
    ready_at = dma_free + x[INPUT["latency"]]
    last_end = ops.maximum(state[LAST_END], ready_at)
    state = ops.set(state, DMA_FREE, dma_free)
    state = ops.put(state, READY, i, ready_at)
    state = ops.put(state, XFER, i, dma_free)
    state = ops.set(state, LAST_END, last_end)
    return state, _out(ops, start=start, end=ready_at)


def compute(state: Any, x: Any, ops: Ops) -> tuple[Any, tuple]:
    s_in, s_w, s_out, acc = x[INPUT["s_in"]], x[INPUT["s_w"]], x[INPUT["s_out"]], x[INPUT["acc"]]
    fresh = acc == 0
    # Dependencies: input, weight, and the output slot (free of its last store, or holding the
    # reloaded partial sums); `xfer` is when each one's DMA transfer finished.
    d0, d1 = ops.get(state, READY, s_in), ops.get(state, READY, s_w)
    d2 = ops.where(fresh, ops.get(state, FREE, s_out), ops.get(state, READY, s_out))
    x0, x1 = ops.get(state, XFER, s_in), ops.get(state, XFER, s_w)
    x2 = ops.where(fresh, ops.zero, ops.get(state, XFER, s_out))
    # The binding dependency: the first of the latest.
    first = (d0 >= d1) & (d0 >= d2)
    second = (d1 > d0) & (d1 >= d2)
    third = (d2 > d0) & (d2 > d1)
    latest = ops.maximum(ops.maximum(d0, d1), d2)
    binding_xfer = ops.where(first, x0, ops.where(second, x1, x2))
    array_free = state[ARRAY_FREE]
    earliest = ops.maximum(array_free, state[LAYER_START])
    start = ops.maximum(array_free, latest)
    wait = ops.maximum(ops.zero, start - earliest)
    drain = ops.where(third & fresh, wait, ops.zero)
    bandwidth = ops.maximum(ops.zero, binding_xfer - earliest)
    bandwidth = ops.where(bandwidth < wait - drain, bandwidth, wait - drain)
    latency = wait - drain - bandwidth
    end = start + x[INPUT["busy"]]
    last_end = ops.maximum(state[LAST_END], end)
    state = ops.set(state, ARRAY_FREE, end)
    state = ops.put(state, FREE, s_in, end)
    state = ops.put(state, FREE, s_w, end)
    state = ops.put(state, READY, s_out, end)
    state = ops.set(state, LAST_END, last_end)
    return state, _out(
        ops,
        start=start,
        end=end,
        wait=wait,
        stall_dram_bandwidth=bandwidth,
        stall_dram_latency=latency,
        stall_output_drain=drain,
    )


def store(state: Any, x: Any, ops: Ops) -> tuple[Any, tuple]:
    i = x[INPUT["slot"]]
    start = ops.maximum(state[DMA_FREE], ops.get(state, READY, i))
    dma_free = start + x[INPUT["dma"]]
    last_end = ops.maximum(state[LAST_END], dma_free)
    state = ops.set(state, DMA_FREE, dma_free)
    state = ops.put(state, FREE, i, dma_free)
    state = ops.set(state, LAST_END, last_end)
    return state, _out(ops, start=start, end=dma_free)


def vector(state: Any, x: Any, ops: Ops) -> tuple[Any, tuple]:
    busy, dma, latency, fused = (
        x[INPUT["busy"]],
        x[INPUT["dma"]],
        x[INPUT["latency"]],
        x[INPUT["fused"]] != 0,
    )
    last, dma_free, layer_start = state[LAST_END], state[DMA_FREE], state[LAYER_START]
    alone = ops.maximum(last, dma_free)
    alone_end = alone + ops.maximum(busy, dma) + latency
    fused_end = ops.maximum(last, ops.maximum(layer_start + busy, dma_free + dma + latency))
    start = ops.where(fused, layer_start, alone)
    end = ops.where(fused, fused_end, alone_end)
    # A fused operator's compute is what it adds to its layer (its lanes overlap the array);
    # alone, its busy cycles (a cost, `row_costs`).
    added = ops.where(fused, end - last, ops.zero)
    # Fused or not, it holds the DMA channel until it ends (fused: end >= its reads' DMA end),
    # so the next layer starts on a quiet channel, as when it runs alone.
    state = ops.set(state, DMA_FREE, end)
    state = ops.set(state, LAST_END, ops.maximum(last, end))
    return state, _out(ops, start=start, end=end, compute=added)


# The rule of each opcode, by opcode (an unknown opcode acts as NOP).
RULES = (nop, config, load, compute, store, vector)
assert (OP_NOP, OP_CONFIG, OP_LOAD, OP_COMPUTE, OP_STORE, OP_VECTOR) == (0, 1, 2, 3, 4, 5)


class _Recorder(list):
    """A state whose writes are recorded (`writes`)."""

    def __init__(self) -> None:
        super().__init__([0] * NUM_STATE)
        self.written: set[int] = set()


def _record_put(state: _Recorder, group: int, i: int, v: int) -> _Recorder:
    state.written.add(group + i)
    return _py_put(state, group, i, v)


def _record_set(state: _Recorder, field: int, v: int) -> _Recorder:
    state.written.add(field)
    return _py_set(state, field, v)


_RECORDING_OPS = Ops(
    maximum=max,
    where=PY_OPS.where,
    get=PY_OPS.get,
    put=_record_put,
    set=_record_set,
    zero=0,
)


def writes(x: Any) -> tuple[int, ...]:
    """The state fields an instruction with inputs `x` (a sequence of ints) changes: what its
    rule writes, read off the rule itself (the fast-forward advances exactly these)."""
    op = int(x[INPUT["opcode"]])
    state = _Recorder()
    RULES[op if 0 <= op < len(RULES) else 0](state, tuple(int(v) for v in x), _RECORDING_OPS)
    return tuple(sorted(state.written))


def initial_state() -> list[int]:
    return [0] * NUM_STATE
