"""The CNN set of host operators (simulator/host_ops/__init__.py): activations, elementwise
arithmetic, pooling, the first shape ops, Gemm / MatMul, BatchNormalization. Opset: the current
ONNX semantics (Softmax over one `axis`, default -1, as from opset 13; Clip bounds as inputs from
opset 11, or as the opset-6 attributes `min`/`max`; Reshape with `allowzero`).

Pooling follows ONNX/onnxruntime (and PyTorch): `pads` are [x1_begin, x2_begin, ..., x1_end, ...];
with `ceil_mode` the output size is rounded up but the last window must start inside the input
or its begin padding; the overhang beyond the end padding never counts (not even for
`count_include_pad`). MaxPool returns only its first output (no Indices).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from simulator.shapes import same_pads, window_extent

Array = Any
HostOp = Callable[[list[Any], dict[str, Any]], list[Any]]


def x64(fn: HostOp) -> HostOp:
    """`fn` run with JAX's 64-bit types enabled for the call (JAX's global flag untouched), so
    that int64 tensors (token ids, positions, shape arithmetic) stay int64 and float32 float32.
    Every host op is wrapped in it (`OPS` of each module)."""

    @functools.wraps(fn)
    def run(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
        with jax.enable_x64(True):
            return fn(inputs, attrs)

    return run


def unary(fn: Callable[[Array], Array]) -> HostOp:
    """A host op applying `fn` to its one input."""
    return lambda inputs, attrs: [fn(jnp.asarray(inputs[0]))]


def binary(fn: Callable[[Array, Array], Array]) -> HostOp:
    """A host op applying `fn` to its two inputs (ONNX multidirectional broadcasting)."""
    return lambda inputs, attrs: [fn(jnp.asarray(inputs[0]), jnp.asarray(inputs[1]))]


def _div(a: Array, b: Array) -> Array:
    if jnp.issubdtype(a.dtype, jnp.integer) and jnp.issubdtype(b.dtype, jnp.integer):
        # ONNX integer Div truncates toward zero (C semantics).
        return (jnp.sign(a) * jnp.sign(b) * (jnp.abs(a) // jnp.abs(b))).astype(a.dtype)
    return a / b


def _clip(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    lo = inputs[1] if len(inputs) > 1 and inputs[1] is not None else attrs.get("min")
    hi = inputs[2] if len(inputs) > 2 and inputs[2] is not None else attrs.get("max")
    if lo is not None:
        x = jnp.maximum(x, jnp.asarray(lo, x.dtype))
    if hi is not None:
        x = jnp.minimum(x, jnp.asarray(hi, x.dtype))
    return [x]


def _softmax(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    axis = int(attrs.get("axis", -1))
    shifted = x - jnp.max(x, axis=axis, keepdims=True)
    e = jnp.exp(shifted)
    return [e / jnp.sum(e, axis=axis, keepdims=True)]


# -- pooling --------------------------------------------------------------------------------------


def _pool_geometry(
    spatial: Sequence[int], attrs: dict[str, Any], with_dilations: bool
) -> tuple[list[int], list[int], list[int], list[tuple[int, int]], list[int]]:
    """kernel, strides, dilations, (begin, end) pads incl. ceil overhang, and the end pads alone."""
    nd = len(spatial)
    kernel = [int(v) for v in attrs["kernel_shape"]]
    strides = [int(v) for v in attrs.get("strides", [1] * nd)]
    dilations = [int(v) for v in attrs.get("dilations", [1] * nd)] if with_dilations else [1] * nd
    pads = [int(v) for v in attrs.get("pads", [0] * 2 * nd)]
    ceil_mode = int(attrs.get("ceil_mode", 0))
    auto_pad = attrs.get("auto_pad", "NOTSET")
    if isinstance(auto_pad, bytes):
        auto_pad = auto_pad.decode()
    begin, end = pads[:nd], pads[nd:]
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = same_pads(spatial, kernel, strides, dilations, auto_pad == "SAME_UPPER")
    elif auto_pad == "VALID":
        begin, end = [0] * nd, [0] * nd
    full: list[tuple[int, int]] = []
    for i in range(nd):
        window = window_extent(kernel[i], dilations[i])
        span = spatial[i] + begin[i] + end[i] - window
        out = (-(-span // strides[i]) if ceil_mode else span // strides[i]) + 1
        if ceil_mode and (out - 1) * strides[i] >= spatial[i] + begin[i]:
            out -= 1
        overhang = max(0, (out - 1) * strides[i] + window - (spatial[i] + begin[i] + end[i]))
        full.append((begin[i], end[i] + overhang))
    return kernel, strides, dilations, full, end


def _max_pool(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    kernel, strides, dilations, full, _ = _pool_geometry(x.shape[2:], attrs, with_dilations=True)
    init = -jnp.inf if jnp.issubdtype(x.dtype, jnp.floating) else jnp.iinfo(x.dtype).min
    y = lax.reduce_window(
        x,
        jnp.asarray(init, x.dtype),
        lax.max,
        window_dimensions=(1, 1, *kernel),
        window_strides=(1, 1, *strides),
        padding=((0, 0), (0, 0), *full),
        window_dilation=(1, 1, *dilations),
    )
    return [y]


def _average_pool(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    spatial = x.shape[2:]
    kernel, strides, dilations, full, end = _pool_geometry(spatial, attrs, with_dilations=True)
    window = dict(
        window_dimensions=(1, 1, *kernel),
        window_strides=(1, 1, *strides),
        padding=((0, 0), (0, 0), *full),
        window_dilation=(1, 1, *dilations),
    )
    total = lax.reduce_window(x, jnp.asarray(0, x.dtype), lax.add, **window)
    if int(attrs.get("count_include_pad", 0)):
        # Count positions inside input + explicit pads, not the ceil-mode overhang.
        ones = jnp.pad(
            jnp.ones((1, 1, *spatial), x.dtype),
            ((0, 0), (0, 0), *[(b, e) for (b, _), e in zip(full, end, strict=True)]),
            constant_values=1,
        )
        padding = (
            (0, 0),
            (0, 0),
            *[(0, f_end - e) for (_, f_end), e in zip(full, end, strict=True)],
        )
        count = lax.reduce_window(
            ones,
            jnp.asarray(0, x.dtype),
            lax.add,
            window["window_dimensions"],
            window["window_strides"],
            padding,
            window_dilation=window["window_dilation"],
        )
    else:
        ones = jnp.ones((1, 1, *spatial), x.dtype)
        count = lax.reduce_window(ones, jnp.asarray(0, x.dtype), lax.add, **window)
    return [total / count]


def _global_average_pool(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    return [jnp.mean(x, axis=tuple(range(2, x.ndim)), keepdims=True)]


def _global_max_pool(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    return [jnp.max(x, axis=tuple(range(2, x.ndim)), keepdims=True)]


# -- shape ops ------------------------------------------------------------------------------------


def _flatten(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    axis = int(attrs.get("axis", 1))
    axis = axis + x.ndim if axis < 0 else axis
    outer = int(np.prod(x.shape[:axis], dtype=np.int64))
    return [x.reshape(outer, -1)]


def _reshape(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    shape = [int(v) for v in np.asarray(inputs[1]).reshape(-1)]
    if not int(attrs.get("allowzero", 0)):
        shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
    return [x.reshape(shape)]


def _concat(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    arrays = [jnp.asarray(v) for v in inputs if v is not None]
    return [jnp.concatenate(arrays, axis=int(attrs["axis"]))]


def _transpose(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    perm = attrs.get("perm")
    return [jnp.transpose(x, None if perm is None else [int(p) for p in perm])]


def _squeeze(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    axes = inputs[1] if len(inputs) > 1 and inputs[1] is not None else attrs.get("axes")
    if axes is None:
        return [jnp.squeeze(x)]
    return [jnp.squeeze(x, axis=tuple(int(a) for a in np.asarray(axes).reshape(-1)))]


def _unsqueeze(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    axes = inputs[1] if len(inputs) > 1 and inputs[1] is not None else attrs["axes"]
    axes = [int(a) for a in np.asarray(axes).reshape(-1)]
    rank = x.ndim + len(axes)
    return [jnp.expand_dims(x, tuple(sorted(a + rank if a < 0 else a for a in axes)))]


# -- linear algebra / normalisation ---------------------------------------------------------------


def _batch_normalization(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x, scale, bias, mean, var = (jnp.asarray(v) for v in inputs[:5])
    eps = float(attrs.get("epsilon", 1e-5))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    y = (x - mean.reshape(shape)) / jnp.sqrt(var.reshape(shape) + eps)
    return [y * scale.reshape(shape) + bias.reshape(shape)]


def _gemm(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    a, b = jnp.asarray(inputs[0]), jnp.asarray(inputs[1])
    c = inputs[2] if len(inputs) > 2 else None
    if int(attrs.get("transA", 0)):
        a = a.T
    if int(attrs.get("transB", 0)):
        b = b.T
    y = float(attrs.get("alpha", 1.0)) * jnp.matmul(a, b, precision=lax.Precision.HIGHEST)
    if c is not None:
        y = y + float(attrs.get("beta", 1.0)) * jnp.asarray(c)
    return [y]


def _matmul(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    a, b = jnp.asarray(inputs[0]), jnp.asarray(inputs[1])
    return [jnp.matmul(a, b, precision=lax.Precision.HIGHEST)]


_OPS: dict[str, HostOp] = {
    "Relu": unary(lambda x: jnp.maximum(x, jnp.zeros((), x.dtype))),
    "Sigmoid": unary(lambda x: 1 / (1 + jnp.exp(-x))),
    "Tanh": unary(jnp.tanh),
    "Identity": unary(lambda x: x),
    "Clip": _clip,
    "Softmax": _softmax,
    "Add": binary(jnp.add),
    "Sub": binary(jnp.subtract),
    "Mul": binary(jnp.multiply),
    "Div": binary(_div),
    "MaxPool": _max_pool,
    "AveragePool": _average_pool,
    "GlobalAveragePool": _global_average_pool,
    "GlobalMaxPool": _global_max_pool,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Concat": _concat,
    "Transpose": _transpose,
    "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze,
    "BatchNormalization": _batch_normalization,
    "Gemm": _gemm,
    "MatMul": _matmul,
}
OPS: dict[str, HostOp] = {op: x64(fn) for op, fn in _OPS.items()}
