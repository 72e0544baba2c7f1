"""Functional execution of a Program: the numbers the instruction stream actually computes.

`run_functional(program, inputs)` walks `program.layers` in order. A host layer runs
`HOST_OPS[kind]` on whole tensors. An accelerator layer (conv2d, matmul) is computed BY ITS
INSTRUCTIONS (docs/program.md, "Functional semantics"): a jitted `lax.scan` over the layer's LOAD,
COMPUTE and STORE rows runs a machine with two slots per global buffer (input, weight, output) and
the layer's output tensor in DRAM:

- LOAD input / weight copies the row's tile of that operand (input with its halo) from the
  (zero-padded) tensor into the slot; LOAD output copies the tile's partial sums back from DRAM;
- COMPUTE reads the input and weight tiles of its slots, computes the tile (`lax.conv_general_dilated`
  / `einsum`, masked down to the row's sizes) and writes its output slot (`acc`=0: bias + partial)
  or adds to it (`acc`=1);
- STORE writes the output slot, cut to the row's sizes, into the output tensor.

Slots start as NaN and the output tensor too, so a stream that computes from a slot no LOAD filled,
adds to partial sums it never reloaded, or never stores a tile gives visibly wrong numbers (NaN)
and fails `--check`. Windows are fixed-size (the layer's largest tile, static) and sliced with
`lax.dynamic_slice` at the row's offsets. Tiles must lie inside the layer's extents (checked,
ValueError naming the layer).

Float tensors are float32; integer and bool tensors (token ids, masks, shape arithmetic) keep
their dtypes: every host op runs in JAX's 64-bit mode, scoped to the call (`host_ops.core.x64`). Compiled per-layer functions are cached by their static configuration
(shapes, window, conv geometry); the number of rows is padded to a power of two (from 16) with
no-op rows, so identical layers and similar schedules do not recompile.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from simulator import jax_cache
from simulator.errors import AccelflowError
from simulator.host_ops import HOST_OPS
from simulator.program import (
    BUF_INPUT,
    BUF_OUTPUT,
    BUF_WEIGHT,
    CONV_DIMS,
    MATMUL_DIMS,
    MAX_DIMS,
    OP_COMPUTE,
    OP_LOAD,
    OP_STORE,
    ROW,
    Layer,
    Program,
)

MIN_ROW_BUCKET = 16
# What a row does in the functional machine (the branch index of its lax.switch).
NOP, LOAD_IN, LOAD_W, LOAD_OUT, COMPUTE, STORE = range(6)


class UnsupportedHostOp(AccelflowError):
    """A host layer whose ONNX op has no host implementation."""


def _row_bucket(n: int) -> int:
    length = MIN_ROW_BUCKET
    while length < n:
        length *= 2
    return length


def _machine_rows(program: Program, layer: Layer, dims: tuple[str, ...]) -> tuple[Any, ...]:
    """The layer's LOAD / COMPUTE / STORE rows as (action, slots [in, w, out], acc, offsets,
    sizes), padded to a bucket with no-op rows, and the window (the largest tile per dim)."""
    rows = program.instrs[layer.instr_begin : layer.instr_end]
    opcode = ROW.view(rows).opcode
    r = ROW.view(rows[(opcode == OP_LOAD) | (opcode == OP_COMPUTE) | (opcode == OP_STORE)])
    opcode = r.opcode
    buffer = r.buffer
    action = np.select(
        [
            (opcode == OP_LOAD) & (buffer == BUF_INPUT),
            (opcode == OP_LOAD) & (buffer == BUF_WEIGHT),
            (opcode == OP_LOAD) & (buffer == BUF_OUTPUT),
            opcode == OP_COMPUTE,
            opcode == OP_STORE,
        ],
        [LOAD_IN, LOAD_W, LOAD_OUT, COMPUTE, STORE],
        NOP,
    ).astype(np.int32)
    # The slot each row reads or writes, per buffer: a LOAD / STORE its `slot`, a COMPUTE its three.
    slot = r.slot
    is_compute = opcode == OP_COMPUTE
    slots = np.stack(
        [
            np.where(is_compute, r.s_in, slot),
            np.where(is_compute, r.s_w, slot),
            np.where(is_compute, r.s_out, slot),
        ],
        axis=1,
    ).astype(np.int32)
    nd = len(dims)
    offs = r.off[:, :nd].astype(np.int32)
    sizes = r.size[:, :nd].astype(np.int32)
    extents = np.array([layer.dims[d] for d in dims], np.int64)
    bad = (offs < 0) | (sizes < 0) | (offs.astype(np.int64) + sizes > extents)
    if bad.any():
        i = int(np.argwhere(bad.any(axis=1))[0, 0])
        raise ValueError(
            f"layer {layer.name}: tile {i} offsets {offs[i].tolist()} sizes "
            f"{sizes[i].tolist()} exceed the extents {extents.tolist()} ({' '.join(dims)})"
        )
    count = len(opcode)
    window = tuple(int(v) for v in sizes.max(axis=0)) if count else (0,) * nd
    window = tuple(max(1, v) for v in window)
    pad = _row_bucket(count) - count
    return (
        np.pad(action, (0, pad)),  # NOP
        np.pad(slots, ((0, pad), (0, 0))),
        np.pad(r.acc.astype(np.int32), (0, pad)),
        np.pad(offs, ((0, pad), (0, 0))),
        np.pad(sizes, ((0, pad), (0, 0))),
        window,
    )


def _mask(sizes: jax.Array, window: tuple[int, ...]) -> jax.Array:
    """Boolean [window] true where every index is below the row's size in its dimension."""
    mask = jnp.ones(window, bool)
    for axis, extent in enumerate(window):
        shape = [1] * len(window)
        shape[axis] = extent
        mask = mask & (jnp.arange(extent).reshape(shape) < sizes[axis])
    return mask


def _slots(window: tuple[int, ...]) -> jax.Array:
    """Two slots of a global buffer, empty (NaN) until a LOAD or COMPUTE fills them."""
    return jnp.full((2, *window), jnp.nan, jnp.float32)


def _scan(
    state: tuple[jax.Array, ...], branches: list[Callable[..., Any]], rows: tuple[jax.Array, ...]
) -> tuple[jax.Array, ...]:
    """Run the machine over the rows: each row takes its action's branch (lax.switch)."""

    def step(carry: tuple[jax.Array, ...], row: tuple[jax.Array, ...]) -> tuple[Any, None]:
        action, slots, acc, o, z = row
        return lax.switch(action, branches, carry, slots, acc, o, z), None

    state, _ = lax.scan(step, state, rows)
    return state


def _keep_nothing(carry: tuple[jax.Array, ...], *_: Any) -> tuple[jax.Array, ...]:
    return carry


# -- conv2d ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _conv_fn(
    extents: tuple[int, ...],  # n g k c y x r s
    in_hw: tuple[int, int],
    pads: tuple[int, int, int, int],
    strides: tuple[int, int],
    dilations: tuple[int, int],
    window: tuple[int, ...],
    has_bias: bool,
) -> Callable[..., jax.Array]:
    n_, g_, k_, c_, y_, x_, r_, s_ = extents
    zn, zg, zk, zc, zy, zx, zr, zs = window
    sy, sx = strides
    dy, dx = dilations
    top, left, bottom, right = pads
    win_h = (zy - 1) * sy + (zr - 1) * dy + 1
    win_w = (zx - 1) * sx + (zs - 1) * dx + 1
    need_h = (y_ - 1) * sy + (r_ - 1) * dy + win_h
    need_w = (x_ - 1) * sx + (s_ - 1) * dx + win_w
    h_pad = in_hw[0] + top + bottom
    w_pad = in_hw[1] + left + right
    in_win, w_win, out_win = (zn, zg, zc, win_h, win_w), (zg, zk, zc, zr, zs), (zn, zg, zk, zy, zx)

    def run(x: jax.Array, w: jax.Array, b: jax.Array, *rows: jax.Array) -> jax.Array:
        x = x.reshape(n_, g_, c_, *in_hw)
        x = jnp.pad(
            x,
            ((0, zn), (0, zg), (0, zc),
             (top, bottom + max(0, need_h - h_pad)), (left, right + max(0, need_w - w_pad))),
        )  # fmt: skip
        w = jnp.pad(w.reshape(g_, k_, c_, r_, s_), ((0, zg), (0, zk), (0, zc), (0, zr), (0, zs)))
        b = jnp.pad(b.reshape(g_, k_), ((0, zg), (0, zk)))
        dram = jnp.full((n_ + zn, g_ + zg, k_ + zk, y_ + zy, x_ + zx), jnp.nan, jnp.float32)

        def out_corner(o: jax.Array) -> tuple[jax.Array, ...]:
            return (o[0], o[1], o[2], o[4], o[5])

        def load_in(carry, slots, acc, o, z):
            xs, ws, outs, dram = carry
            on, og, ok, oc, oy, ox, or_, os_ = (o[i] for i in range(8))
            tile = lax.dynamic_slice(
                x, (on, og, oc, oy * sy + or_ * dy, ox * sx + os_ * dx), in_win
            )
            return xs.at[slots[0]].set(tile), ws, outs, dram

        def load_w(carry, slots, acc, o, z):
            xs, ws, outs, dram = carry
            tile = lax.dynamic_slice(w, (o[1], o[2], o[3], o[6], o[7]), w_win)
            return xs, ws.at[slots[1]].set(tile), outs, dram

        def load_out(carry, slots, acc, o, z):
            xs, ws, outs, dram = carry
            tile = lax.dynamic_slice(dram, out_corner(o), out_win)
            return xs, ws, outs.at[slots[2]].set(tile), dram

        def compute(carry, slots, acc, o, z):
            xs, ws, outs, dram = carry
            xin, wwin = xs[slots[0]], ws[slots[1]]
            # Only the row's (g, k, c, r, s) extent contributes to the partial sum.
            wwin = jnp.where(_mask(jnp.stack([z[1], z[2], z[3], z[6], z[7]]), w_win), wwin, 0)
            partial = lax.conv_general_dilated(
                xin.reshape(zn, zg * zc, win_h, win_w),
                wwin.reshape(zg * zk, zc, zr, zs),
                window_strides=(sy, sx),
                padding="VALID",
                rhs_dilation=(dy, dx),
                feature_group_count=zg,
                precision=lax.Precision.HIGHEST,
            ).reshape(out_win)
            bias = lax.dynamic_slice(b, (o[1], o[2]), (zg, zk))[None, :, :, None, None]
            new = jnp.where(acc == 0, bias + partial, outs[slots[2]] + partial)
            return xs, ws, outs.at[slots[2]].set(new), dram

        def store(carry, slots, acc, o, z):
            xs, ws, outs, dram = carry
            old = lax.dynamic_slice(dram, out_corner(o), out_win)
            keep = _mask(jnp.stack([z[0], z[1], z[2], z[4], z[5]]), out_win)
            tile = jnp.where(keep, outs[slots[2]], old)
            return xs, ws, outs, lax.dynamic_update_slice(dram, tile, out_corner(o))

        state = (_slots(in_win), _slots(w_win), _slots(out_win), dram)
        branches = [_keep_nothing, load_in, load_w, load_out, compute, store]
        dram = _scan(state, branches, rows)[3]
        return dram[:n_, :g_, :k_, :y_, :x_].reshape(n_, g_ * k_, y_, x_)

    return jax.jit(run)


def _run_conv(program: Program, layer: Layer, values: list[Any]) -> np.ndarray:
    x, w, b = values
    extents = tuple(int(layer.dims[d]) for d in CONV_DIMS)
    attrs = layer.attrs
    pads = tuple(int(v) for v in attrs.get("pads", (0, 0, 0, 0)))
    strides = tuple(int(v) for v in attrs.get("strides", (1, 1)))
    dilations = tuple(int(v) for v in attrs.get("dilations", (1, 1)))
    *rows, window = _machine_rows(program, layer, CONV_DIMS)
    x = np.asarray(x, np.float32)
    channels = extents[1] * extents[3]
    if x.ndim != 4 or x.shape[:2] != (extents[0], channels):
        raise ValueError(
            f"layer {layer.name}: input {layer.inputs[0]} of shape {x.shape} is not "
            f"[{extents[0]}, {channels}, H, W]"
        )
    fn = _conv_fn(extents, tuple(x.shape[2:]), pads, strides, dilations, window, b is not None)
    bias = np.zeros(extents[1] * extents[2], np.float32) if b is None else np.asarray(b, np.float32)
    return np.asarray(fn(x, np.asarray(w, np.float32), bias, *rows))


# -- matmul ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _matmul_fn(
    extents: tuple[int, int, int, int],  # g m n k
    shared_a: bool,
    shared_b: bool,
    window: tuple[int, int, int, int],
) -> Callable[..., jax.Array]:
    g_, m_, n_, k_ = extents
    zg, zm, zn, zk = window
    a_win, b_win, out_win = (zg, zm, zk), (zg, zk, zn), (zg, zm, zn)

    def run(a: jax.Array, b: jax.Array, bias: jax.Array, *rows: jax.Array) -> jax.Array:
        a = jnp.pad(a, ((0, 0 if shared_a else zg), (0, zm), (0, zk)))
        b = jnp.pad(b, ((0, 0 if shared_b else zg), (0, zk), (0, zn)))
        bias = jnp.pad(bias, (0, zn))
        dram = jnp.full((g_ + zg, m_ + zm, n_ + zn), jnp.nan, jnp.float32)

        def operand_tile(t: jax.Array, shared: bool, corner: tuple, win: tuple) -> jax.Array:
            if shared:  # one copy serves every batch
                return jnp.broadcast_to(lax.dynamic_slice(t, (0, *corner[1:]), (1, *win[1:])), win)
            return lax.dynamic_slice(t, corner, win)

        def load_in(carry, slots, acc, o, z):
            xs, ws, outs, dram = carry
            tile = operand_tile(a, shared_a, (o[0], o[1], o[3]), a_win)
            return xs.at[slots[0]].set(tile), ws, outs, dram

        def load_w(carry, slots, acc, o, z):
            xs, ws, outs, dram = carry
            tile = operand_tile(b, shared_b, (o[0], o[3], o[2]), b_win)
            return xs, ws.at[slots[1]].set(tile), outs, dram

        def load_out(carry, slots, acc, o, z):
            xs, ws, outs, dram = carry
            tile = lax.dynamic_slice(dram, (o[0], o[1], o[2]), out_win)
            return xs, ws, outs.at[slots[2]].set(tile), dram

        def compute(carry, slots, acc, o, z):
            xs, ws, outs, dram = carry
            awin = jnp.where(jnp.arange(zk)[None, None, :] < z[3], xs[slots[0]], 0)
            bwin = jnp.where(jnp.arange(zk)[None, :, None] < z[3], ws[slots[1]], 0)
            partial = jnp.einsum("gmk,gkn->gmn", awin, bwin, precision=lax.Precision.HIGHEST)
            bias_win = lax.dynamic_slice(bias, (o[2],), (zn,))[None, None, :]
            new = jnp.where(acc == 0, bias_win + partial, outs[slots[2]] + partial)
            return xs, ws, outs.at[slots[2]].set(new), dram

        def store(carry, slots, acc, o, z):
            xs, ws, outs, dram = carry
            corner = (o[0], o[1], o[2])
            old = lax.dynamic_slice(dram, corner, out_win)
            keep = _mask(jnp.stack([z[0], z[1], z[2]]), out_win)
            tile = jnp.where(keep, outs[slots[2]], old)
            return xs, ws, outs, lax.dynamic_update_slice(dram, tile, corner)

        state = (_slots(a_win), _slots(b_win), _slots(out_win), dram)
        branches = [_keep_nothing, load_in, load_w, load_out, compute, store]
        dram = _scan(state, branches, rows)[3]
        return dram[:g_, :m_, :n_]

    return jax.jit(run)


def _as_batched(x: np.ndarray, g: int, rows: int, cols: int, name: str) -> tuple[np.ndarray, bool]:
    """View an operand as [G, rows, cols], or [1, rows, cols] when shared across the batch."""
    x = np.asarray(x, np.float32)
    batch = int(np.prod(x.shape[:-2], dtype=np.int64)) if x.ndim > 2 else 1
    if x.ndim < 2 or x.shape[-2:] != (rows, cols):
        raise ValueError(f"matmul operand {name} of shape {x.shape} is not [.., {rows}, {cols}]")
    if batch == 1 and g != 1:
        return x.reshape(1, rows, cols), True
    if batch != g:
        raise ValueError(f"matmul operand {name} of shape {x.shape} does not match batch {g}")
    return x.reshape(g, rows, cols), False


def _run_matmul(program: Program, layer: Layer, values: list[Any]) -> np.ndarray:
    a, b, bias = values
    extents = tuple(int(layer.dims[d]) for d in MATMUL_DIMS)
    g_, m_, n_, k_ = extents
    *rows, window = _machine_rows(program, layer, MATMUL_DIMS)
    a3, shared_a = _as_batched(a, g_, m_, k_, f"{layer.name}: {layer.inputs[0]}")
    b3, shared_b = _as_batched(b, g_, k_, n_, f"{layer.name}: {layer.inputs[1]}")
    fn = _matmul_fn(extents, shared_a, shared_b, window)
    bias = np.zeros(n_, np.float32) if bias is None else np.asarray(bias, np.float32).reshape(n_)
    return np.asarray(fn(a3, b3, bias, *rows))


# -- the walk -------------------------------------------------------------------------------------


def _output_shape(program: Program, layer: Layer, result: np.ndarray) -> tuple[int, ...]:
    shape = program.tensors.get(layer.outputs[0])
    if shape is not None and int(np.prod(shape, dtype=np.int64)) == result.size:
        return tuple(int(v) for v in shape)
    if layer.kind == "matmul" and layer.dims.get("g", 1) == 1:
        return result.shape[1:]
    return result.shape


def run_layer(program: Program, layer: Layer, env: dict[str, Any]) -> list[np.ndarray]:
    """Compute one layer's outputs from the tensors in `env` (name -> array)."""
    values = [None if name == "" else env[name] for name in layer.inputs]
    if not layer.on_accel:
        op = HOST_OPS.get(layer.kind)
        if op is None:
            raise UnsupportedHostOp(f"layer {layer.name}: no host implementation of '{layer.kind}'")
        # The op may need to know how many outputs the node has (Split without sizes).
        attrs = {**layer.attrs, "_num_outputs": len(layer.outputs)}
        results = [np.asarray(v) for v in op(values, attrs)]  # 64-bit types: `host_ops.x64`
        # Float tensors are float32 (the importer stores them so): a Python scalar met in
        # 64-bit mode must not widen them.
        return [v.astype(np.float32) if v.dtype == np.float64 else v for v in results]
    values = values + [None] * (3 - len(values))
    if layer.kind == "conv2d":
        result = _run_conv(program, layer, values)
    elif layer.kind == "matmul":
        result = _run_matmul(program, layer, values)
    else:
        raise ValueError(f"layer {layer.name}: unknown accelerator layer kind '{layer.kind}'")
    return [result.reshape(_output_shape(program, layer, result))]


def run_functional(program: Program, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run the program on `inputs`; returns every tensor computed or given (name -> array)."""
    jax_cache.enable()  # before the first compilation (simulator/jax_cache.py)
    if program.elided_constants:
        raise AccelflowError(
            f"constant '{program.elided_constants[0]}' has no value (it was elided from the IR "
            "this program was assembled from): compile from the ONNX model to compute outputs"
        )
    missing = [name for name in program.inputs if name not in inputs]
    if missing:
        raise AccelflowError(f"missing value for graph input '{missing[0]}'")
    env: dict[str, Any] = {name: np.asarray(v) for name, v in program.constants.items()}
    env.update({name: np.asarray(v) for name, v in inputs.items()})
    for layer in program.layers:
        for name, value in zip(layer.outputs, run_layer(program, layer, env), strict=False):
            if name:
                env[name] = value
    return env


assert len(CONV_DIMS) <= MAX_DIMS
