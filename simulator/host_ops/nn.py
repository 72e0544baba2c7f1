"""Normalisation, reductions and other layers among the host operators
(simulator/host_ops/__init__.py): the Reduce* family, ArgMax / ArgMin, LayerNormalization,
GroupNormalization, InstanceNormalization, LogSoftmax, Einsum, Conv (3-D; the 1-D and 2-D ones
run on the accelerator, and this one computes them too), ConvTranspose and CumSum.

Semantics are those of ONNX opsets 13 to 21:

- Reductions take `axes` as an input (ReduceSum from opset 13, the others from 18) or as the
  older attribute; absent or empty axes reduce every axis unless `noop_with_empty_axes` is 1
  (then nothing is reduced, but the elementwise part still applies: ReduceSumSquare squares,
  ReduceL2 gives |x|). `keepdims` defaults to 1. The result keeps the input's dtype: integer
  ReduceMean truncates toward zero and integer ReduceL2 truncates the square root, as the ONNX
  reference does (numpy's `mean(dtype=...)` / `sqrt(...).astype(...)`).
- ArgMax / ArgMin return int64 (`axis` 0, `keepdims` 1, `select_last_index` 0 by default).
- The normalisations compute in float32 (`stash_type` 1, the only stash type the ONNX reference
  runs) and return the input's dtype. LayerNormalization also returns Mean and InvStdDev (float32,
  shaped X.shape[:axis] + [1] * (rank - axis)).
- GroupNormalization follows opset 21: `scale` and `bias` hold one value per channel (C). Opset
  18 gave one per group; such a scale/bias (size num_groups != C) is accepted and each group's
  value is repeated over its channels, which is what opset 18 means. (With num_groups == C the two
  readings coincide.)
- ConvTranspose: when `output_shape` is given (or auto_pad is SAME_*, which means output_shape =
  input * stride) the pads are derived from it as in the ONNX spec: SAME_UPPER puts the odd pad
  at the end, NOTSET / SAME_LOWER at the begin. A negative total pad (an output_shape larger than
  the unpadded result) widens the output with zeros (+ bias).

Integer tensors keep their dtype: every op runs inside `jax.enablex64(True)` (JAX's global flag
is left alone), so int64 inputs are not narrowed to int32. Float32 stays float32 (no float64 is
returned for float32 inputs); matrix products use `lax.Precision.HIGHEST`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import lax

from simulator.host_ops.core import HostOp, x64
from simulator.shapes import same_pads

Array = Any
HIGHEST = lax.Precision.HIGHEST


def _input(inputs: list[Any], i: int) -> Any:
    """The i-th input, or None when absent (past the end or an empty name)."""
    return inputs[i] if len(inputs) > i else None


def _ints(value: Any) -> list[int]:
    """A concrete axes-like value (array, list, scalar) as Python ints."""
    return [int(v) for v in np.asarray(value).reshape(-1)]


def _compute_dtype(x: Array) -> Any:
    """float32 for float32 and narrower floats, the input's type for wider ones."""
    return jnp.promote_types(x.dtype, jnp.float32)


# -- reductions -----------------------------------------------------------------------------------


def _reduce_sum(x: Array, axes: tuple[int, ...], keepdims: bool) -> Array:
    return jnp.sum(x, axis=axes, keepdims=keepdims, dtype=x.dtype)


def _reduce_mean(x: Array, axes: tuple[int, ...], keepdims: bool) -> Array:
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    total = jnp.sum(x, axis=axes, keepdims=keepdims, dtype=x.dtype)
    if jnp.issubdtype(x.dtype, jnp.integer):
        # numpy's mean(dtype=int): the true quotient cast back, i.e. truncated toward zero.
        return (jnp.sign(total) * (jnp.abs(total) // count)).astype(x.dtype)
    return total / jnp.asarray(count, x.dtype)


def _reduce_max(x: Array, axes: tuple[int, ...], keepdims: bool) -> Array:
    return jnp.max(x, axis=axes, keepdims=keepdims)


def _reduce_min(x: Array, axes: tuple[int, ...], keepdims: bool) -> Array:
    return jnp.min(x, axis=axes, keepdims=keepdims)


def _reduce_prod(x: Array, axes: tuple[int, ...], keepdims: bool) -> Array:
    return jnp.prod(x, axis=axes, keepdims=keepdims, dtype=x.dtype)


def _reduce_sum_square(x: Array, axes: tuple[int, ...], keepdims: bool) -> Array:
    return jnp.sum(x * x, axis=axes, keepdims=keepdims, dtype=x.dtype)


def _reduce_l2(x: Array, axes: tuple[int, ...], keepdims: bool) -> Array:
    """sqrt of the sum of squares; integers take the square root in float64 and truncate (as the
    ONNX reference does)."""
    squares = _reduce_sum_square(x, axes, keepdims)
    if jnp.issubdtype(x.dtype, jnp.integer):
        return jnp.sqrt(squares.astype(jnp.float64)).astype(x.dtype)
    return jnp.sqrt(squares)


def _reduction(fn: Callable[[Array, tuple[int, ...], bool], Array]) -> HostOp:
    """A Reduce* host op: `axes` from input 1 (opset 13/18 on) or the attribute (earlier). With
    `noop_with_empty_axes` and no axes nothing is reduced but the elementwise part still applies
    (ReduceSumSquare squares, ReduceL2 gives |x|), as the spec says."""

    def run(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
        x = jnp.asarray(inputs[0])
        axes_in = _input(inputs, 1)
        axes = _ints(axes_in if axes_in is not None else attrs.get("axes", []))
        if not axes and not int(attrs.get("noop_with_empty_axes", 0)):
            axes = list(range(x.ndim))
        normalized = tuple(sorted({a + x.ndim if a < 0 else a for a in axes}))
        return [fn(x, normalized, bool(int(attrs.get("keepdims", 1))))]

    return x64(run)


def _arg_reduction(fn: Callable[..., Array]) -> HostOp:
    """ArgMax / ArgMin: int64 indices along `axis`; ties go to the first index, or to the last
    with `select_last_index`."""

    def run(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
        x = jnp.asarray(inputs[0])
        axis = int(attrs.get("axis", 0))
        axis = axis + x.ndim if axis < 0 else axis
        keepdims = bool(int(attrs.get("keepdims", 1)))
        if int(attrs.get("select_last_index", 0)):
            index = x.shape[axis] - 1 - fn(jnp.flip(x, axis), axis=axis, keepdims=keepdims)
        else:
            index = fn(x, axis=axis, keepdims=keepdims)
        return [index.astype(jnp.int64)]

    return x64(run)


# -- normalisation --------------------------------------------------------------------------------


def _normalize(x: Array, axes: tuple[int, ...], eps: float) -> tuple[Array, Array, Array]:
    """(x - mean) * inv_std over `axes` (population variance), mean and inv_std (kept dims)."""
    mean = jnp.mean(x, axis=axes, keepdims=True)
    diff = x - mean
    var = jnp.mean(diff * diff, axis=axes, keepdims=True)
    inv_std = 1 / jnp.sqrt(var + jnp.asarray(eps, x.dtype))
    return diff * inv_std, mean, inv_std


@x64
def _layer_normalization(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    """Y, Mean and InvStdDev (the caller may take only Y); normalised over axes [axis, rank)."""
    x = jnp.asarray(inputs[0])
    scale = jnp.asarray(inputs[1])
    bias = _input(inputs, 2)
    axis = int(attrs.get("axis", -1))
    axis = axis + x.ndim if axis < 0 else axis
    eps = float(attrs.get("epsilon", 1e-5))
    ct = _compute_dtype(x)
    y, mean, inv_std = _normalize(x.astype(ct), tuple(range(axis, x.ndim)), eps)
    y = y * scale.astype(ct)
    if bias is not None:
        y = y + jnp.asarray(bias).astype(ct)
    return [y.astype(x.dtype), mean, inv_std]


def _per_channel(x: Array) -> tuple[int, ...]:
    """The broadcast shape of a per-channel vector against an (N, C, ...) tensor."""
    return (1, -1) + (1,) * (x.ndim - 2)


@x64
def _group_normalization(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    """Opset 21 (scale / bias per channel); an opset-18 per-group scale / bias (size num_groups)
    is repeated over each group's channels."""
    x = jnp.asarray(inputs[0])
    scale, bias = jnp.asarray(inputs[1]), jnp.asarray(inputs[2])
    groups = int(attrs["num_groups"])
    eps = float(attrs.get("epsilon", 1e-5))
    n, c = x.shape[0], x.shape[1]
    if c % groups:
        raise ValueError(f"GroupNormalization: {c} channels do not split into {groups} groups")
    ct = _compute_dtype(x)
    grouped = x.astype(ct).reshape(n, groups, -1)
    y, _, _ = _normalize(grouped, (2,), eps)
    y = y.reshape(x.shape)
    if scale.size == groups and groups != c:
        scale = jnp.repeat(scale.reshape(-1), c // groups)
    if bias.size == groups and groups != c:
        bias = jnp.repeat(bias.reshape(-1), c // groups)
    y = y * scale.astype(ct).reshape(_per_channel(x)) + bias.astype(ct).reshape(_per_channel(x))
    return [y.astype(x.dtype)]


@x64
def _instance_normalization(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    scale, bias = jnp.asarray(inputs[1]), jnp.asarray(inputs[2])
    eps = float(attrs.get("epsilon", 1e-5))
    ct = _compute_dtype(x)
    y, _, _ = _normalize(x.astype(ct), tuple(range(2, x.ndim)), eps)
    y = y * scale.astype(ct).reshape(_per_channel(x)) + bias.astype(ct).reshape(_per_channel(x))
    return [y.astype(x.dtype)]


@x64
def _log_softmax(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    """Over the one `axis` (default -1), as from opset 13."""
    x = jnp.asarray(inputs[0])
    axis = int(attrs.get("axis", -1))
    shifted = x - jnp.max(x, axis=axis, keepdims=True)
    return [shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))]


# -- other layers ---------------------------------------------------------------------------------


@x64
def _einsum(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    """jnp.einsum (explicit or implicit output, broadcasting ellipsis); whitespace is dropped."""
    equation = attrs["equation"]
    if isinstance(equation, bytes):
        equation = equation.decode()
    equation = "".join(equation.split())
    operands = [jnp.asarray(v) for v in inputs if v is not None]
    return [jnp.einsum(equation, *operands, precision=HIGHEST)]


def _conv_transpose_pads(
    in_sizes: list[int],
    kernel: list[int],
    strides: list[int],
    dilations: list[int],
    output_padding: list[int],
    attrs: dict[str, Any],
) -> tuple[list[int], list[int]]:
    """(begin, end) pads per spatial axis: explicit, or derived from output_shape / auto_pad."""
    nd = len(in_sizes)
    auto_pad = attrs.get("auto_pad", "NOTSET")
    if isinstance(auto_pad, bytes):
        auto_pad = auto_pad.decode()
    output_shape = attrs.get("output_shape")
    if output_shape is None and auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        output_shape = [size * s for size, s in zip(in_sizes, strides, strict=True)]
    if output_shape is not None:
        output_shape = [int(v) for v in output_shape][-nd:]
        begin, end = [], []
        for i in range(nd):
            full = strides[i] * (in_sizes[i] - 1) + output_padding[i]
            total = full + (kernel[i] - 1) * dilations[i] + 1 - output_shape[i]
            small, big = total // 2, total - total // 2
            begin.append(small if auto_pad == "SAME_UPPER" else big)
            end.append(big if auto_pad == "SAME_UPPER" else small)
        return begin, end
    if auto_pad == "VALID":
        return [0] * nd, [0] * nd
    pads = [int(v) for v in attrs.get("pads", [0] * 2 * nd)]
    return pads[:nd], pads[nd:]


class _ConvOperands:
    """A (transposed) convolution's input x, its compute dtype, weight W (in that dtype), the
    spatial axes and W's kernel, strides and dilations (ONNX defaults: 1)."""

    def __init__(self, inputs: list[Any], attrs: dict[str, Any]):
        self.x = jnp.asarray(inputs[0])
        self.ct = _compute_dtype(self.x)
        self.w = jnp.asarray(inputs[1]).astype(self.ct)
        self.bias = _input(inputs, 2)
        nd = self.nd = self.x.ndim - 2
        self.kernel = [int(k) for k in self.w.shape[2:]]
        self.strides = [int(v) for v in attrs.get("strides", [1] * nd)]
        self.dilations = [int(v) for v in attrs.get("dilations", [1] * nd)]

    def output(self, y: Any) -> list[Any]:
        """`y` plus the bias (per output channel), in x's dtype."""
        if self.bias is not None:
            y = y + jnp.asarray(self.bias).astype(self.ct).reshape(_per_channel(y))
        return [y.astype(self.x.dtype)]


@x64
def _conv_transpose(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    """Any number of spatial axes, in float32 (or wider) with HIGHEST precision: a convolution of
    the stride-dilated input with the spatially flipped kernel, in / out channels swapped per
    group. kernel_shape is W's."""
    op = _ConvOperands(inputs, attrs)
    x, ct, w, nd = op.x, op.ct, op.w, op.nd
    kernel, strides, dilations = op.kernel, op.strides, op.dilations
    output_padding = [int(v) for v in attrs.get("output_padding", [0] * nd)]
    group = int(attrs.get("group", 1))
    begin, end = _conv_transpose_pads(
        [int(v) for v in x.shape[2:]], kernel, strides, dilations, output_padding, attrs
    )
    c_in, m_per_group = w.shape[0], w.shape[1]
    # (C, M/g, k...) -> (g, C/g, M/g, k...) -> (g, M/g, C/g, k...) -> (M, C/g, k...), flipped.
    rhs = w.reshape(group, c_in // group, m_per_group, *kernel)
    rhs = jnp.swapaxes(rhs, 1, 2).reshape(group * m_per_group, c_in // group, *kernel)
    rhs = jnp.flip(rhs, axis=tuple(range(2, 2 + nd)))
    padding = []
    for i in range(nd):
        reach = (kernel[i] - 1) * dilations[i]
        padding.append((reach - begin[i], reach - end[i] + output_padding[i]))
    y = lax.conv_general_dilated(
        x.astype(ct),
        rhs,
        window_strides=(1,) * nd,
        padding=padding,
        lhs_dilation=strides,
        rhs_dilation=dilations,
        feature_group_count=group,
        precision=HIGHEST,
    )
    return op.output(y)


@x64
def _conv(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    """A convolution of any number of spatial axes (3-D ones run here; 1-D and 2-D ones on the
    accelerator), as ONNX Conv:
    pads (or auto_pad: `shapes.same_pads`), strides, dilations, group, an optional bias; float32
    (or wider) with HIGHEST precision. kernel_shape is W's."""
    op = _ConvOperands(inputs, attrs)
    nd, kernel, strides, dilations = op.nd, op.kernel, op.strides, op.dilations
    auto_pad = attrs.get("auto_pad", "NOTSET")
    if isinstance(auto_pad, bytes):
        auto_pad = auto_pad.decode()
    pads = [int(v) for v in attrs.get("pads", [0] * 2 * nd)]
    begin, end = pads[:nd], pads[nd:]
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        sizes = [int(v) for v in op.x.shape[2:]]
        begin, end = same_pads(sizes, kernel, strides, dilations, auto_pad == "SAME_UPPER")
    elif auto_pad == "VALID":
        begin, end = [0] * nd, [0] * nd
    y = lax.conv_general_dilated(
        op.x.astype(op.ct),
        op.w,
        window_strides=strides,
        padding=list(zip(begin, end, strict=True)),
        rhs_dilation=dilations,
        feature_group_count=int(attrs.get("group", 1)),
        precision=HIGHEST,
    )
    return op.output(y)


@x64
def _cum_sum(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    """Along the axis input (0-D or one element), `exclusive` and `reverse` as in ONNX."""
    x = jnp.asarray(inputs[0])
    (axis,) = _ints(inputs[1])
    axis = axis + x.ndim if axis < 0 else axis
    reverse = int(attrs.get("reverse", 0))
    if reverse:
        x = jnp.flip(x, axis)
    y = jnp.cumsum(x, axis=axis, dtype=x.dtype)
    if int(attrs.get("exclusive", 0)):
        shifted = lax.slice_in_dim(y, 0, x.shape[axis] - 1, axis=axis)
        pad = [(0, 0)] * x.ndim
        pad[axis] = (1, 0)
        y = jnp.pad(shifted, pad)
    if reverse:
        y = jnp.flip(y, axis)
    return [y]


OPS: dict[str, HostOp] = {
    "ReduceMean": _reduction(_reduce_mean),
    "ReduceSum": _reduction(_reduce_sum),
    "ReduceMax": _reduction(_reduce_max),
    "ReduceMin": _reduction(_reduce_min),
    "ReduceProd": _reduction(_reduce_prod),
    "ReduceL2": _reduction(_reduce_l2),
    "ReduceSumSquare": _reduction(_reduce_sum_square),
    "ArgMax": _arg_reduction(jnp.argmax),
    "ArgMin": _arg_reduction(jnp.argmin),
    "LayerNormalization": _layer_normalization,
    "GroupNormalization": _group_normalization,
    "InstanceNormalization": _instance_normalization,
    "LogSoftmax": _log_softmax,
    "Einsum": _einsum,
    "Conv": _conv,
    "ConvTranspose": _conv_transpose,
    "CumSum": _cum_sum,
}
