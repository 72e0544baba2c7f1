"""The loop nest and its lowering (compiler/loop_nest.py), with the stream verifier
(compiler/stream_check.py) as the referee.

The property at the heart of "the IR is the program": any edit of a loop nest (loops swapped or
re-tiled, transfers moved, duplicated or deleted, double buffering flipped) is either refused
with a NestError naming the op, or lowers to a stream that passes the verifier AND computes the
layer - checked by a small numpy machine that executes the stream's loads, computes and stores
through two slots per buffer (docs/program.md, functional semantics).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler import loop_nest, tiling
from compiler.loop_nest import LOAD, STORE, Loop, LoopNest, NestError, Transfer
from compiler.stream_check import StreamError, check_stream
from simulator.program import BUF_INPUT, BUF_OUTPUT, BUF_WEIGHT, OP_COMPUTE, OP_LOAD, OP_STORE, ROW
from simulator.target import load_target

TARGET = load_target("tpu-like", ["rows=4", "cols=4"])


def run_matmul_stream(rows: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Execute a matmul layer's stream (g m n k) on a numpy machine with two slots per buffer."""
    g, m, k = a.shape
    n = b.shape[2]
    out = np.full((g, m, n), np.nan)
    slots = {(buf, s): None for buf in (BUF_INPUT, BUF_WEIGHT, BUF_OUTPUT) for s in (0, 1)}
    for row in rows:
        r = ROW.view(row)
        o, z = r.off[:4], r.size[:4]
        gs, ms, ns, ks = (slice(o[i], o[i] + z[i]) for i in range(4))
        if r.opcode == OP_LOAD:
            buf = int(r.buffer)
            source = {
                BUF_INPUT: a[gs, ms, ks],
                BUF_WEIGHT: b[gs, ks, ns],
                BUF_OUTPUT: out[gs, ms, ns],
            }
            slots[(buf, int(r.slot))] = (tuple(o), tuple(z), source[buf].copy())
        elif r.opcode == OP_COMPUTE:
            x = slots[(BUF_INPUT, int(r.s_in))]
            w = slots[(BUF_WEIGHT, int(r.s_w))]
            if x is None or w is None:
                return np.full_like(out, np.nan)
            partial = np.einsum("gmk,gkn->gmn", x[2], w[2])
            held = slots[(BUF_OUTPUT, int(r.s_out))]
            if r.acc:
                if held is None or held[2].shape != partial.shape:
                    return np.full_like(out, np.nan)
                partial = held[2] + partial
            slots[(BUF_OUTPUT, int(r.s_out))] = (tuple(o), tuple(z), partial)
        elif r.opcode == OP_STORE:
            held = slots[(BUF_OUTPUT, int(r.slot))]
            if held is None or held[2].shape != (z[0], z[1], z[2]):
                return np.full_like(out, np.nan)
            out[gs, ms, ns] = held[2]
    return out


@st.composite
def matmul_cases(draw: st.DrawFn) -> tuple[tiling.LayerShape, tiling.Mapping]:
    g, m, n, k = (draw(st.integers(1, hi)) for hi in (2, 9, 9, 9))
    shape = tiling.matmul_shape((g, m, k), (g, k, n))
    tiles = {d: draw(st.integers(1, shape.dims[d])) for d in shape.dim_names}
    order = tuple(draw(st.permutations(shape.dim_names)))
    mapping = tiling.Mapping("ws", tiles, order, double_buffer=draw(st.booleans()))
    return shape, mapping


EDITS = ("swap-loops", "retile", "move", "delete", "duplicate", "flip-double-buffer")


def edit(nest: LoopNest, shape: tiling.LayerShape, data: st.DataObject) -> LoopNest:
    """One random edit of the nest (kept structurally valid: loads before, stores after)."""
    kind = data.draw(st.sampled_from(EDITS))
    loops, before, after = (
        list(nest.loops),
        [list(t) for t in nest.before],
        [list(t) for t in nest.after],
    )
    transfers = [(d, True, i) for d, ts in enumerate(before) for i in range(len(ts))]
    transfers += [(d, False, i) for d, ts in enumerate(after) for i in range(len(ts))]
    if kind == "swap-loops" and len(loops) >= 2:
        i = data.draw(st.integers(0, len(loops) - 2))
        loops[i], loops[i + 1] = loops[i + 1], loops[i]
    elif kind == "retile" and loops:
        i = data.draw(st.integers(0, len(loops) - 1))
        loops[i] = Loop(loops[i].dim, data.draw(st.integers(1, shape.dims[loops[i].dim])))
    elif kind in ("move", "delete", "duplicate") and transfers:
        depth, is_before, i = data.draw(st.sampled_from(transfers))
        level = before if is_before else after
        t = level[depth][i] if kind == "duplicate" else level[depth].pop(i)
        if kind != "delete":
            to = data.draw(st.integers(0, len(loops)))
            (before if is_before else after)[to].append(t)
    elif kind == "flip-double-buffer" and transfers:
        depth, is_before, i = data.draw(st.sampled_from(transfers))
        level = before if is_before else after
        t = level[depth][i]
        level[depth][i] = dataclasses.replace(t, double_buffer=not t.double_buffer)
    return LoopNest(tuple(loops), tuple(map(tuple, before)), tuple(map(tuple, after)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=matmul_cases(), data=st.data())
def test_every_edit_is_refused_or_lowers_to_a_correct_stream(case, data):
    shape, mapping = case
    nest = loop_nest.build_nest(shape, mapping)
    for _ in range(data.draw(st.integers(0, 3))):
        nest = edit(nest, shape, data)
    try:
        lowered = loop_nest.nest_mapping(shape, nest, "ws")
        rows = loop_nest.lower(shape, nest, lowered, TARGET, 0)
    except NestError:
        return
    check_stream(rows, shape)  # the verifier accepts what the lowering emits
    rng = np.random.default_rng(0)
    a = rng.integers(-3, 4, (shape.dims["g"], shape.dims["m"], shape.dims["k"])).astype(float)
    b = rng.integers(-3, 4, (shape.dims["g"], shape.dims["k"], shape.dims["n"])).astype(float)
    np.testing.assert_array_equal(run_matmul_stream(rows, a, b), a @ b)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=matmul_cases(), data=st.data())
def test_the_verifier_accepts_only_streams_that_compute_the_layer(case, data):
    """Delete, duplicate, swap or retarget one instruction: a stream the verifier accepts
    computes the layer (the verifier is sound for the numpy machine)."""
    shape, mapping = case
    rows = loop_nest.program_rows(shape, mapping, TARGET, 0)
    i = data.draw(st.integers(1, len(rows) - 1))
    what = data.draw(st.sampled_from(("delete", "duplicate", "slot", "acc", "swap")))
    if what == "delete":
        rows = np.delete(rows, i, axis=0)
    elif what == "duplicate":
        rows = np.insert(rows, data.draw(st.integers(1, len(rows))), rows[i], axis=0)
    elif what == "swap":
        j = data.draw(st.integers(1, len(rows) - 1))
        rows = rows.copy()
        rows[[i, j]] = rows[[j, i]]
    elif what == "slot":
        rows = rows.copy()
        slot = ("slot", "s_in", "s_w", "s_out")[data.draw(st.integers(0, 3))]
        rows[i, ROW.column(slot)] ^= 1
    else:
        rows = rows.copy()
        rows[i, ROW.column("acc")] ^= int(ROW.view(rows).opcode[i] == OP_COMPUTE)
    try:
        check_stream(rows, shape)
    except StreamError:
        return
    rng = np.random.default_rng(1)
    a = rng.integers(-3, 4, (shape.dims["g"], shape.dims["m"], shape.dims["k"])).astype(float)
    b = rng.integers(-3, 4, (shape.dims["g"], shape.dims["k"], shape.dims["n"])).astype(float)
    np.testing.assert_array_equal(run_matmul_stream(rows[1:], a, b), a @ b)


SHAPE = tiling.matmul_shape((1, 8, 6), (1, 6, 4))


def nest_of(loops, before, after) -> LoopNest:
    return LoopNest(tuple(loops), tuple(map(tuple, before)), tuple(map(tuple, after)))


def load(op: str, db: bool = False) -> Transfer:
    return Transfer(LOAD, op, db)


STORE_OUT = Transfer(STORE, "output", False)


@pytest.mark.parametrize(
    ("nest", "message"),
    [
        (
            nest_of([Loop("m", 4)], [[load("weight")], []], [[], [STORE_OUT]]),
            'accel.tile_compute reads the input tile, but no accel.tile_load "input" fills its buffer',
        ),
        (
            nest_of([Loop("m", 4)], [[load("input"), load("weight")], []], [[], [STORE_OUT]]),
            "accel.tile_load \"input\" loads one input tile for every 'm' tile of the loop inside it",
        ),
        (
            nest_of([Loop("m", 4)], [[load("weight")], [load("input")]], [[STORE_OUT], []]),
            "the output tile changes with the 'm' tiles before this store saves it",
        ),
        (
            nest_of(
                [Loop("k", 2), Loop("m", 4)],
                [[], [load("weight")], [load("input")]],
                [[], [], [STORE_OUT]],
            ),
            "an output tile is revisited (a reduction loop encloses an output loop) but no "
            'accel.tile_load "output" reloads its partial sums there',
        ),
        (
            nest_of([Loop("m", 4)], [[load("weight")], [load("input", True)]], [[], [STORE_OUT]]),
            "the tile transfers disagree on double buffering",
        ),
        (
            nest_of([Loop("m", 4)], [[load("weight")], [load("input")]], [[], []]),
            'no accel.tile_store "output" stores its results',
        ),
        (
            nest_of([Loop("m", 4), Loop("m", 2)], [[], [], []], [[], [], []]),
            "dim 'm' is already tiled by an enclosing loop",
        ),
        (
            nest_of([Loop("q", 4)], [[], []], [[], []]),
            "the layer has no dim 'q'",
        ),
    ],
    ids=[
        "no-load",
        "hoisted",
        "store-outside",
        "no-psum-reload",
        "mixed-db",
        "no-store",
        "twice",
        "unknown-dim",
    ],
)
def test_invalid_nests_name_the_op(nest, message):
    with pytest.raises(NestError) as err:
        loop_nest.lower(
            SHAPE, nest, tiling.Mapping("ws", dict(SHAPE.dims), SHAPE.dim_names), TARGET, 0
        )
    assert message in str(err.value)


def test_a_deeper_load_is_issued_more_often():
    """The weight load moved from outside the m loop into it: reloaded with every m tile."""
    outside = nest_of([Loop("m", 4)], [[load("weight")], [load("input")]], [[], [STORE_OUT]])
    inside = nest_of([Loop("m", 4)], [[], [load("weight"), load("input")]], [[], [STORE_OUT]])
    counts = []
    for nest in (outside, inside):
        mapping = loop_nest.nest_mapping(SHAPE, nest, "ws")
        rows = loop_nest.lower(SHAPE, nest, mapping, TARGET, 0)
        check_stream(rows, SHAPE)
        counts.append(
            int(((ROW.view(rows).opcode == OP_LOAD) & (ROW.view(rows).buffer == BUF_WEIGHT)).sum())
        )
    assert counts == [1, 2]
