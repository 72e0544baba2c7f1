"""Exact fast-forward: a layer's tile loop is simulated until it repeats, the rest is jumped.

A layer's instruction stream is its tile loop nest unrolled: a few distinct instructions
repeated in patterns. `structure(program)` finds them once per program (it does not depend on
the target):
- rows that differ only in fields the timing never reads (`off`, `layer`: `Field.timing`) are
  one *distinct row*; ids are per segment (a layer's rows, or a run of rows outside layers),
  so a row's id also fixes its layer's CONFIG;
- each segment's id sequence is compressed into nested repeats (`Repeat(body, count)`): runs
  where the sequence repeats with a period of up to `MAX_PERIOD` symbols become one symbol,
  over and over, so a loop nest becomes a tree of repeats (a body identical in two places is
  one symbol).

`simulate(program, params)` then costs the distinct rows only (`timing.row_costs`, numpy) and
runs the schedule (simulator/schedule.py, on Python integers) over the tree. In a repeat whose
body holds only LOAD, COMPUTE, STORE and NOP rows, it compares the machine state at the start of
each iteration with the states j = 1..`MAX_CYCLICITY` iterations before. Once they differ by
one shift `lam` in every value, the remaining iterations are jumped: j iterations at a time,
each adding `lam` to every value the body writes and the same waits as the last j iterations;
what is left over is simulated.

Why the jump is exact (not an estimate):
1. Every rule is max-plus (simulator/schedule.py): the values it writes and its start and end
   are maxima of sums of state values and costs, and the waits are differences of them. So
   running a body from `state + c` (every value shifted by c) writes every value shifted by c,
   shifts every start and end by c, and leaves the waits as they were.
2. A state value at or below `floor = min(dma_free, array_free)` can be raised to `floor`
   without changing anything a LOAD, COMPUTE or STORE computes from then on: each rule
   compares it, through a max, with `dma_free` or `array_free`, which never decrease (a stall
   cause compares it with the array's earliest start, which is at least `array_free`). The
   comparison is made on states normalised this way (stale slots, the layer's start), so a
   state that repeats up to a shift is recognised although those values stand still.
3. Hence, if the normalised state at iteration k equals the one at iteration k - j plus `lam`,
   iterations k..k+j-1 repeat iterations k-j..k-1 shifted by `lam`, and so on by induction.
   A value the body writes in every iteration is then exactly its value j iterations before
   plus `lam`; a value it never writes keeps its value.
Tests hold the fast-forward equal to the full scan (simulator/engine.py) field by field on
random layers, mappings and targets of every family.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simulator import schedule
from simulator.program import OP_COMPUTE, OP_LOAD, OP_NOP, OP_STORE, ROW, Program

if TYPE_CHECKING:
    from simulator.timing import TargetParams

# The longest body period (in symbols) the compression looks for at each level.
MAX_PERIOD = 64
# How many iterations back a repeat's state is compared with (a steady state that comes back
# every j iterations, e.g. when two resources take turns).
MAX_CYCLICITY = 4
_JUMPABLE_OPS = frozenset({OP_NOP, OP_LOAD, OP_COMPUTE, OP_STORE})
# Indices of the schedule's outputs the fast-forward sums (waits, a fused operator's compute).
_SUMMED = tuple(
    schedule.SCHED_OUTPUTS.index(name)
    for name in (
        "wait",
        "stall_dram_bandwidth",
        "stall_dram_latency",
        "stall_output_drain",
        "compute",
    )
)
_END = schedule.SCHED_OUTPUTS.index("end")


@dataclass(frozen=True)
class Segment:
    """A run of rows `[begin, end)`: one layer's (`layer` its index in `program.layers`) or
    rows outside every layer (`layer` -1). `symbols`: its compressed sequence (ids >= 0 are
    distinct rows, -1 - i the repeat `Structure.repeats[i]`)."""

    begin: int
    end: int
    layer: int
    symbols: tuple[int, ...]


@dataclass(frozen=True)
class Structure:
    """A program's distinct rows and its segments' repeat trees (module docstring)."""

    rows: np.ndarray  # [K, F] the distinct rows, segment by segment, in first-occurrence order
    counts: np.ndarray  # [K] how many rows of the program each distinct row stands for
    row_segment: np.ndarray  # [K] the segment of each distinct row
    segments: tuple[Segment, ...]
    repeats: tuple[tuple[tuple[int, ...], int], ...]  # (body, count)

    @property
    def num_instructions(self) -> int:
        return int(self.counts.sum())


def _segments(program: Program) -> list[tuple[int, int, int]]:
    """(begin, end, layer) runs covering every row: each layer's, and the gaps between."""
    n = program.num_instructions
    owned = sorted(
        (layer.instr_begin, layer.instr_end, i)
        for i, layer in enumerate(program.layers)
        if layer.instr_end > layer.instr_begin
    )
    out: list[tuple[int, int, int]] = []
    at = 0
    for begin, end, i in owned:
        if begin > at:
            out.append((at, begin, -1))
        out.append((begin, end, i))
        at = max(at, end)
    if at < n:
        out.append((at, n, -1))
    return out


def _numbered(first: np.ndarray, inverse: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique`'s first indices and inverse, renumbered in first-occurrence order."""
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[inverse.reshape(-1)], first[order]


def _distinct_ids(instrs: np.ndarray, segment_of_row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the id of its distinct row (equal timing fields, same segment), ids numbered in
    first-occurrence order; and each id's first row."""
    key = segment_of_row.astype(np.uint64)
    with np.errstate(over="ignore"):
        for column in ROW.timing_columns:
            key = key * np.uint64(0x9E3779B97F4A7C15) + instrs[:, column].astype(np.uint64)
            key ^= key >> np.uint64(29)
    ids, first = _numbered(*np.unique(key, return_index=True, return_inverse=True)[1:])
    # A hash is not an identity: rows sharing an id must agree in every timing field.
    rep = first[ids]
    same = segment_of_row[rep] == segment_of_row
    for column in ROW.timing_columns:
        same &= instrs[rep, column] == instrs[:, column]
    if not same.all():  # a collision (never seen): fall back to exact keys
        timing = np.concatenate([segment_of_row[:, None], instrs[:, ROW.timing_columns]], axis=1)
        unique = np.unique(timing, axis=0, return_index=True, return_inverse=True)
        ids, first = _numbered(*unique[1:])
    return ids, first


class _Compressor:
    """Turns id sequences into nested repeats; equal (body, count) pairs share one symbol."""

    def __init__(self) -> None:
        self.repeats: list[tuple[tuple[int, ...], int]] = []
        self._index: dict[tuple[tuple[int, ...], int], int] = {}

    def symbol(self, body: tuple[int, ...], count: int) -> int:
        key = (body, count)
        index = self._index.get(key)
        if index is None:
            index = self._index[key] = len(self.repeats)
            self.repeats.append(key)
        return -1 - index

    def _pass(self, seq: np.ndarray, period: int) -> np.ndarray | None:
        """Replace every run of `seq` that repeats with `period` at least twice by one symbol."""
        if len(seq) < 2 * period:
            return None
        same = np.concatenate([[False], seq[period:] == seq[:-period], [False]])
        edges = np.diff(same.astype(np.int8))
        starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        keep = stops - starts >= period
        if not keep.any():
            return None
        out: list[int] = []
        at = 0
        for start, stop in zip(starts[keep].tolist(), stops[keep].tolist(), strict=True):
            if start < at:  # overlaps the run before (its tail)
                start = at
                if stop - start < period:
                    continue
            count = (stop - start + period) // period
            out.extend(seq[at:start].tolist())
            out.append(self.symbol(tuple(seq[start : start + period].tolist()), count))
            at = start + count * period
        out.extend(seq[at:].tolist())
        return np.asarray(out, np.int64)

    def compress(self, seq: np.ndarray) -> tuple[int, ...]:
        changed = True
        while changed:
            changed = False
            for period in range(1, MAX_PERIOD + 1):
                if len(seq) < 2 * period:
                    break
                shorter = self._pass(seq, period)
                if shorter is not None:
                    seq, changed = shorter, True
        return tuple(seq.tolist())


def structure(program: Program) -> Structure:
    """The program's distinct rows and repeat trees (cached on the program: a program's rows
    do not change once assembled)."""
    cached = getattr(program, "_ff_structure", None)
    if cached is not None and cached[0] is program.instrs:
        return cached[1]
    instrs = np.asarray(program.instrs, np.int64).reshape(-1, ROW.num_columns)
    spans = _segments(program)
    segment_of_row = np.empty(len(instrs), np.int64)
    for s, (begin, end, _) in enumerate(spans):
        segment_of_row[begin:end] = s
    ids, first = _distinct_ids(instrs, segment_of_row)
    compressor = _Compressor()
    segments = tuple(
        Segment(begin, end, layer, compressor.compress(ids[begin:end]))
        for begin, end, layer in spans
    )
    found = Structure(
        rows=instrs[first],
        counts=np.bincount(ids, minlength=len(first)).astype(np.int64),
        row_segment=segment_of_row[first],
        segments=segments,
        repeats=tuple(compressor.repeats),
    )
    object.__setattr__(program, "_ff_structure", (program.instrs, found))
    return found


@dataclass
class Result:
    """What the fast-forward gives per layer (`timing.stats_from_totals` makes stats of it)."""

    sums: np.ndarray  # [num_layers, NUM_RECORD_FIELDS] per-layer sums of the records
    ends: np.ndarray  # [num_layers] the latest end of a layer's rows (0: none)
    counts: np.ndarray  # [num_layers] the layer's instructions
    simulated: int  # rows the schedule ran one by one (the rest were jumped)


class _Runner:
    """The schedule over one program's repeat trees on one target (Python integers)."""

    def __init__(self, found: Structure, sched: np.ndarray) -> None:
        self.found = found
        self.sched = [tuple(row) for row in sched.tolist()]
        self.rules = [schedule.RULES[row[0]] for row in self.sched]
        self.state = schedule.initial_state()
        # Per segment: the summed outputs (`_SUMMED`) and the latest end.
        self.acc = [0] * (len(_SUMMED) + 1)
        self.simulated = 0
        self._writes: dict[int, tuple[int, ...] | None] = {}

    def writes(self, symbol: int) -> tuple[int, ...] | None:
        """The state values a symbol writes; None when it holds a row that is not jumpable."""
        if symbol >= 0:
            x = self.sched[symbol]
            return schedule.writes(x) if x[0] in _JUMPABLE_OPS else None
        if symbol in self._writes:
            return self._writes[symbol]
        body, _ = self.found.repeats[-1 - symbol]
        union: set[int] = set()
        for s in body:
            w = self.writes(s)
            if w is None:
                self._writes[symbol] = None
                return None
            union.update(w)
        result = tuple(sorted(union))
        self._writes[symbol] = result
        return result

    def row(self, i: int) -> None:
        self.state, out = self.rules[i](self.state, self.sched[i], schedule.PY_OPS)
        acc = self.acc
        for k, index in enumerate(_SUMMED):
            acc[k] += out[index]
        if out[_END] > acc[-1]:
            acc[-1] = out[_END]
        self.simulated += 1

    def run(self, symbols: Sequence[int]) -> None:
        for s in symbols:
            if s >= 0:
                self.row(s)
            else:
                self.repeat(s)

    def _normalised(self) -> tuple[int, ...]:
        state = self.state
        floor = min(state[schedule.DMA_FREE], state[schedule.ARRAY_FREE])
        return tuple(v if v > floor else floor for v in state)

    def repeat(self, symbol: int) -> None:
        body, count = self.found.repeats[-1 - symbol]
        written = self.writes(symbol)
        if written is None or count < 3:
            for _ in range(count):
                self.run(body)
            return
        acc = self.acc
        # Per iteration started: normalised state, summed outputs, latest end in the iteration.
        history: list[tuple[tuple[int, ...], list[int], int]] = []
        it = 0
        while it < count:
            snapshot = self._normalised()
            sums = acc[:-1]
            for j in range(1, min(MAX_CYCLICITY, len(history)) + 1):
                before, before_sums, _ = history[-j]
                lam = snapshot[0] - before[0]
                if any(a - b != lam for a, b in zip(snapshot, before, strict=True)):
                    continue
                periods = (count - it) // j
                if periods:
                    self._jump(written, lam, periods, j, history, sums, before_sums)
                    it += periods * j
                for _ in range(count - it):  # fewer than j left: simulate them
                    self.run(body)
                return
            outer_end = acc[-1]
            acc[-1] = 0
            self.run(body)
            history.append((snapshot, sums, acc[-1]))
            acc[-1] = max(outer_end, acc[-1])
            it += 1

    def _jump(
        self,
        written: tuple[int, ...],
        lam: int,
        periods: int,
        j: int,
        history: list[tuple[tuple[int, ...], list[int], int]],
        sums: list[int],
        before_sums: list[int],
    ) -> None:
        state, acc = self.state, self.acc
        for k in written:
            state[k] += periods * lam
        for k in range(len(_SUMMED)):
            acc[k] += periods * (sums[k] - before_sums[k])
        last_period_end = max(entry[2] for entry in history[-j:])
        acc[-1] = max(acc[-1], last_period_end + periods * lam)


def simulate(program: Program, params: TargetParams) -> Result:
    """Per-layer totals of the program's timing on a target (`timing.target_params`), equal to
    the full scan's (module docstring)."""
    from simulator import timing

    found = structure(program)
    sched, consts = timing.row_costs(timing.prepare(found.rows, params), params, np)
    runner = _Runner(found, sched)

    num_layers = len(program.layers)
    sums = np.zeros((num_layers, timing.NUM_RECORD_FIELDS), np.int64)
    ends = np.zeros(num_layers, np.int64)
    counts = np.zeros(num_layers, np.int64)
    layer_of_segment = np.array([seg.layer for seg in found.segments], np.int64)
    row_layer = layer_of_segment[found.row_segment]
    owned = row_layer >= 0
    np.add.at(sums, row_layer[owned], consts[owned] * found.counts[owned, None])
    np.add.at(counts, row_layer[owned], found.counts[owned])
    fields = ("stall", "stall_dram_bandwidth", "stall_dram_latency", "stall_output_drain")
    columns = [timing.R[f] for f in (*fields, "compute")]
    for seg in found.segments:
        runner.acc = [0] * (len(_SUMMED) + 1)
        runner.run(seg.symbols)
        if seg.layer >= 0:
            for column, value in zip(columns, runner.acc[:-1], strict=True):
                sums[seg.layer, column] += value
            ends[seg.layer] = max(ends[seg.layer], runner.acc[-1])
    return Result(sums=sums, ends=ends, counts=counts, simulated=runner.simulated)
