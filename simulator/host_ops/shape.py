"""Indexing and shape host operators (simulator/host_ops/__init__.py): Gather, GatherND,
GatherElements, Slice, Split, Expand, Tile, Range, ConstantOfShape, Shape, Size, Trilu, Pad,
Resize, ScatterND, ScatterElements, DepthToSpace, SpaceToDepth, OneHot.

Semantics are ONNX's for opsets 13 to 21. Where an attribute became an input across opsets both
forms are accepted, the input winning: Split's `split`, Pad's `pads` / `value`, Slice's
`starts` / `ends` / `axes`. Shape-like inputs (starts, pads, repeats, sizes, ...) and index
tensors are concrete arrays, read with numpy: the ops run eagerly, so data-dependent output shapes
are fine, and the index arithmetic adds no device kernels.

Every op runs under `jax.enablex64(True)` (scoped, as simulator/engine.py does), so int64
tensors stay int64 and bool stays bool; float32 stays float32 (Resize interpolates a float
tensor in its own dtype; an integer one in float64, then rounds and saturates to its dtype, as
the ONNX reference does).

Choices where the standard leaves room or the op cannot know:

- Split with neither a `split` input / attribute nor `num_outputs`: ONNX splits into as many
  equal parts as the node has outputs, which a host op is not told. The caller may pass the
  count as the extra attribute `_num_outputs`; without it the op returns ONE output, the whole
  tensor (the only count it can be sure of). `run_layer` (simulator/functional.py) pairs a host
  op's outputs with the layer's outputs with a non-strict zip, so a multi-output Split run
  without `_num_outputs` leaves its later outputs unset: a later read of them fails on the
  missing tensor instead of computing with wrongly sized pieces. Uneven `num_outputs` splits
  give every part ceil(dim / n) but the last (opset 18).
- Pad with negative pads crops (as the standard says); the crop is applied to the input before
  any padding.
- OneHot casts non-integer indices and depth to int64 (truncation), as the standard says.
- Resize: modes nearest, linear and cubic (with `antialias`, opset 18+); every
  coordinate_transformation_mode (half_pixel, half_pixel_symmetric, pytorch_half_pixel,
  align_corners, asymmetric, tf_crop_and_resize with `roi` and `extrapolation_value`); `axes`
  and `keep_aspect_ratio_policy`. With `scales`, the output length is floor(scale * length) and
  the coordinate transform uses the scale as given. `length_resized` in the pytorch_half_pixel,
  align_corners and tf_crop_and_resize formulas is the integer output length (the standard's,
  onnxruntime's). `antialias` is ignored in nearest mode. Nothing is refused but an unknown
  mode name (ValueError naming it).
"""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp
import numpy as np

from simulator.host_ops.core import HostOp, x64

Array = Any


# -- helpers --------------------------------------------------------------------------------------


def _optional(inputs: list[Any], i: int) -> Any:
    """Input `i`, or None when absent (beyond the list, or given as None)."""
    return inputs[i] if len(inputs) > i and inputs[i] is not None else None


def _ints(value: Any) -> list[int]:
    """A shape-like tensor, list or scalar as Python ints."""
    return [int(v) for v in np.asarray(value).reshape(-1)]


def _text(attrs: dict[str, Any], name: str, default: str) -> str:
    """A string attribute (str or bytes), or `default`."""
    value = attrs.get(name, default)
    return value.decode() if isinstance(value, bytes) else str(value)


def _input_or_attr(inputs: list[Any], i: int, attrs: dict[str, Any], name: str) -> Any:
    """Input `i` (the newer opsets' form) or else attribute `name` (the older form), or None."""
    value = _optional(inputs, i)
    return attrs.get(name) if value is None else value


def _normalize_axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def _indices(value: Any) -> np.ndarray:
    """An index tensor as int64 numpy (concrete in eager execution: the index arithmetic stays
    off the device); non-integer values are truncated."""
    return np.asarray(value).astype(np.int64)


def _wrap(idx: np.ndarray, dims: Any) -> np.ndarray:
    """Negative indices counted from the end of `dims` (an axis length, or one per last axis)."""
    return np.where(idx < 0, idx + np.asarray(dims, np.int64), idx)


# -- gathers --------------------------------------------------------------------------------------


@x64
def _gather(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x, idx = jnp.asarray(inputs[0]), _indices(inputs[1])
    axis = _normalize_axis(int(attrs.get("axis", 0)), x.ndim)
    return [jnp.take(x, _wrap(idx, x.shape[axis]), axis=axis)]


@x64
def _gather_elements(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x, idx = jnp.asarray(inputs[0]), _indices(inputs[1])
    axis = _normalize_axis(int(attrs.get("axis", 0)), x.ndim)
    idx = _wrap(idx, x.shape[axis])
    # Indices may be shorter than the data on the other axes: gather from that corner.
    corner = tuple(slice(None) if d == axis else slice(0, n) for d, n in enumerate(idx.shape))
    return [jnp.take_along_axis(x[corner], idx, axis=axis)]


@x64
def _gather_nd(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    idx = _indices(inputs[1])
    b = int(attrs.get("batch_dims", 0))
    k = idx.shape[-1]
    n_batch = math.prod(x.shape[:b])
    n_tuples = math.prod(idx.shape[b:-1])
    idx = _wrap(idx, x.shape[b : b + k]).reshape(n_batch, n_tuples, k)
    batch = np.broadcast_to(np.arange(n_batch)[:, None], (n_batch, n_tuples))
    picked = x.reshape((n_batch, *x.shape[b:]))[(batch, *(idx[..., j] for j in range(k)))]
    return [picked.reshape(np.shape(inputs[1])[:-1] + x.shape[b + k :])]


# -- slicing and splitting ------------------------------------------------------------------------


def _slice_bounds(dim: int, start: int, end: int, step: int) -> slice:
    """The Python slice of ONNX Slice's (start, end, step) on an axis of length `dim`: negative
    values count from the end, then clamp (the end to -1, i.e. "before 0", when stepping back)."""
    if step == 0:
        raise ValueError("Slice: a step is 0")
    start = start + dim if start < 0 else start
    end = end + dim if end < 0 else end
    if step > 0:
        return slice(min(max(start, 0), dim), min(max(end, 0), dim), step)
    start = min(max(start, 0), dim - 1)
    end = min(max(end, -1), dim - 1)
    return slice(start, None if end < 0 else end, step)


@x64
def _slice(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    starts = _ints(_input_or_attr(inputs, 1, attrs, "starts"))
    ends = _ints(_input_or_attr(inputs, 2, attrs, "ends"))
    axes_v = _input_or_attr(inputs, 3, attrs, "axes")
    steps_v = _optional(inputs, 4)
    axes = list(range(len(starts))) if axes_v is None else _ints(axes_v)
    steps = [1] * len(starts) if steps_v is None else _ints(steps_v)
    index = [slice(None)] * x.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        axis = _normalize_axis(axis, x.ndim)
        index[axis] = _slice_bounds(x.shape[axis], start, end, step)
    return [x[tuple(index)]]


def _axis_range(x: Array, axis: int, lo: int, hi: int) -> Array:
    """x[..., lo:hi, ...] on `axis`."""
    index = [slice(None)] * x.ndim
    index[axis] = slice(lo, hi)
    return x[tuple(index)]


def _equal_parts(dim: int, n: int) -> list[int]:
    """`n` parts of ceil(dim / n), the last one what is left (Split's `num_outputs`)."""
    size = -(-dim // n)
    return [size] * (n - 1) + [dim - size * (n - 1)]


@x64
def _split(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    """Sizes from the `split` input (13+) or attribute (< 13), else `num_outputs` (18+) equal
    parts, else `_num_outputs` (the node's output count, passed by the caller), else the whole
    tensor as one output (see the module docstring)."""
    x = jnp.asarray(inputs[0])
    axis = _normalize_axis(int(attrs.get("axis", 0)), x.ndim)
    dim = x.shape[axis]
    split = _input_or_attr(inputs, 1, attrs, "split")
    if split is not None and np.asarray(split).size:
        sizes = _ints(split)
    elif "num_outputs" in attrs:
        sizes = _equal_parts(dim, int(attrs["num_outputs"]))
    elif "_num_outputs" in attrs:
        sizes = _equal_parts(dim, int(attrs["_num_outputs"]))
    else:
        sizes = [dim]
    if sum(sizes) != dim or min(sizes) < 0:
        raise ValueError(f"Split: sizes {sizes} do not split an axis of length {dim}")
    bounds = np.cumsum([0, *sizes])
    return [
        _axis_range(x, axis, int(lo), int(hi))
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
    ]


# -- shapes and constants -------------------------------------------------------------------------


@x64
def _expand(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    shape = np.broadcast_shapes(x.shape, tuple(_ints(inputs[1])))
    return [jnp.broadcast_to(x, shape)]


@x64
def _tile(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    return [jnp.tile(x, _ints(inputs[1]))]


@x64
def _range(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    """start + i * delta for i < max(ceil((limit - start) / delta), 0), in start's dtype; float
    ranges are computed in float64 and rounded once (as numpy.arange)."""
    start = np.asarray(inputs[0])
    dtype = start.dtype
    lo, hi, delta = (np.asarray(v).reshape(-1)[0].item() for v in inputs[:3])
    if np.issubdtype(dtype, np.integer):
        n = max(-(-(hi - lo) // delta), 0)
        values = lo + jnp.arange(n, dtype=jnp.int64) * delta
    else:
        n = max(math.ceil((hi - lo) / delta), 0)
        values = lo + jnp.arange(n, dtype=jnp.float64) * delta
    return [values.astype(dtype)]


@x64
def _constant_of_shape(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    """`value`: a one-element array (its dtype kept) or list (_ints: int64, floats: float32,
    bools: bool); default float32 0."""
    value = attrs.get("value")
    if value is None:
        value = np.zeros(1, np.float32)
    elif not isinstance(value, np.ndarray):
        value = np.asarray(value)
        if value.dtype == np.float64:
            value = value.astype(np.float32)
    value = value.reshape(-1)
    return [jnp.full(tuple(_ints(inputs[0])), value[0], dtype=value.dtype)]


@x64
def _shape(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    shape = np.shape(inputs[0])
    rank = len(shape)
    start = min(max(_normalize_axis(int(attrs.get("start", 0)), rank), 0), rank)
    end = min(max(_normalize_axis(int(attrs.get("end", rank)), rank), 0), rank)
    return [jnp.asarray(np.asarray(shape[start:end], np.int64))]


@x64
def _size(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    return [jnp.asarray(np.int64(np.size(inputs[0])))]


@x64
def _trilu(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    k_v = _optional(inputs, 1)
    k = 0 if k_v is None else _ints(k_v)[0]
    return [jnp.triu(x, k) if int(attrs.get("upper", 1)) else jnp.tril(x, k)]


# -- padding --------------------------------------------------------------------------------------


_PAD_MODES = ("constant", "reflect", "edge", "wrap")


@x64
def _pad(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    """pads [x1_begin, x2_begin, ..., x1_end, ...] over `axes` (all by default); negative pads
    crop the input first."""
    x = jnp.asarray(inputs[0])
    mode = _text(attrs, "mode", "constant")
    if mode not in _PAD_MODES:
        raise ValueError(f"Pad: mode '{mode}' is not one of {', '.join(_PAD_MODES)}")
    pads = _ints(_input_or_attr(inputs, 1, attrs, "pads"))
    value = _input_or_attr(inputs, 2, attrs, "value")
    axes_v = _optional(inputs, 3)
    axes = list(range(x.ndim)) if axes_v is None else _ints(axes_v)
    if len(pads) != 2 * len(axes):
        raise ValueError(f"Pad: {len(pads)} pads for {len(axes)} axes")
    widths = [(0, 0)] * x.ndim
    crop = [slice(None)] * x.ndim
    for i, axis in enumerate(axes):
        axis = _normalize_axis(axis, x.ndim)
        begin, end = pads[i], pads[len(axes) + i]
        crop[axis] = slice(max(-begin, 0), x.shape[axis] - max(-end, 0))
        widths[axis] = (max(begin, 0), max(end, 0))
    x = x[tuple(crop)]
    if mode == "constant":
        fill = 0 if value is None or np.size(value) == 0 else np.asarray(value).reshape(-1)[0]
        return [jnp.pad(x, widths, mode="constant", constant_values=jnp.asarray(fill, x.dtype))]
    return [jnp.pad(x, widths, mode=mode)]


# -- Resize ---------------------------------------------------------------------------------------


def _nearest_pick(ratio: np.ndarray, mode: str) -> np.ndarray:
    """Whether the nearest sample is the right neighbour (floor + 1), for ratio in (0, 1]."""
    if mode == "round_prefer_floor":
        return ratio > 0.5
    if mode == "round_prefer_ceil":
        return ratio >= 0.5
    if mode == "floor":
        return np.zeros_like(ratio, bool)
    if mode == "ceil":
        return np.ones_like(ratio, bool)
    raise ValueError(f"Resize: nearest_mode '{mode}' is not supported")


def _linear_coeffs(ratio: np.ndarray, scale: float, antialias: bool) -> np.ndarray:
    """[out, n] weights of the neighbours of each sample (ratio in (0, 1] past the left one)."""
    if not antialias:
        return np.stack([1 - ratio, ratio], axis=1)
    scale = min(scale, 1.0)
    start = int(np.floor(-1 / scale) + 1)
    taps = np.arange(start, 2 - start)
    coeffs = np.clip(1 - np.abs((taps[None, :] - ratio[:, None]) * scale), 0, 1)
    return coeffs / coeffs.sum(axis=1, keepdims=True)


def _cubic_coeffs(ratio: np.ndarray, scale: float, a: float, antialias: bool) -> np.ndarray:
    """[out, n] Keys cubic weights (coefficient `a`), stretched by 1 / scale with antialias."""
    if not antialias:
        r, s = ratio, 1 - ratio
        return np.stack(
            [
                ((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
                ((a + 2) * r - (a + 3)) * r * r + 1,
                ((a + 2) * s - (a + 3)) * s * s + 1,
                ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a,
            ],
            axis=1,
        )
    scale = min(scale, 1.0)
    start = int(np.floor(-2 / scale) + 1)
    d = np.abs(scale * (np.arange(start, 2 - start)[None, :] - ratio[:, None]))
    coeffs = np.where(
        d <= 1,
        (a + 2) * d**3 - (a + 3) * d**2 + 1,
        np.where(d < 2, a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a, 0.0),
    )
    return coeffs / coeffs.sum(axis=1, keepdims=True)


def _source_coords(
    ctm: str, n_in: int, n_out: int, scale: float, roi: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray | None]:
    """x_original of each output position (float64), and for tf_crop_and_resize the mask of the
    positions outside the input (None otherwise)."""
    y = np.arange(n_out, dtype=np.float64)
    if ctm == "half_pixel":
        return (y + 0.5) / scale - 0.5, None
    if ctm == "half_pixel_symmetric":
        width = scale * n_in
        offset = n_in / 2 * (1 - n_out / width)
        return offset + (y + 0.5) / scale - 0.5, None
    if ctm == "pytorch_half_pixel":
        return ((y + 0.5) / scale - 0.5 if n_out > 1 else np.zeros(n_out)), None
    if ctm == "align_corners":
        return (y * (n_in - 1) / (n_out - 1) if n_out > 1 else np.zeros(n_out)), None
    if ctm == "asymmetric":
        return y / scale, None
    if ctm == "tf_crop_and_resize":
        lo, hi = roi
        if n_out > 1:
            x = lo * (n_in - 1) + y * (hi - lo) * (n_in - 1) / (n_out - 1)
        else:
            x = np.full(n_out, 0.5 * (lo + hi) * (n_in - 1))
        return x, (x < 0) | (x > n_in - 1)
    raise ValueError(f"Resize: coordinate_transformation_mode '{ctm}' is not supported")


def _resize_axis(
    x: Array, axis: int, n_out: int, scale: float, roi: tuple[float, float], opts: dict[str, Any]
) -> Array:
    """`x` resized along one axis (Resize is separable)."""
    n_in = x.shape[axis]
    if n_out == 0:
        return _axis_range(x, axis, 0, 0)
    coords, outside_roi = _source_coords(opts["ctm"], n_in, n_out, scale, roi)
    left = np.floor(coords)
    # ratio in (0, 1]: an integer coordinate is the right neighbour of the one before it.
    ratio = np.where(coords == left, 1.0, coords - left)
    rest = (1,) * (x.ndim - axis - 1)
    if opts["mode"] == "nearest":
        idx = np.where(coords == left, coords, left + _nearest_pick(ratio, opts["nearest_mode"]))
        idx = idx.astype(np.int64)
        outside = (idx < 0) | (idx >= n_in)
        y = jnp.take(x, np.clip(idx, 0, n_in - 1), axis=axis)
        if opts["exclude_outside"] and outside.any():
            y = jnp.where(outside.reshape(-1, *rest), jnp.zeros((), x.dtype), y)
    else:
        if opts["mode"] == "linear":
            coeffs = _linear_coeffs(ratio, scale, opts["antialias"])
        else:
            coeffs = _cubic_coeffs(ratio, scale, opts["cubic_coeff_a"], opts["antialias"])
        n = coeffs.shape[1]
        # The n neighbours nearest to the coordinate, ties to the left (the reference's window).
        pad = -(-n // 2)
        shifted = coords + pad
        base = np.floor(shifted)
        frac = shifted - base
        if n % 2 == 0:
            offset = np.where(frac == 0, -(n // 2), -(n // 2) + 1)
        else:
            offset = np.where(frac <= 0.5, -((n - 1) // 2), -((n - 1) // 2) + 1)
        taps = (base + offset).astype(np.int64)[:, None] + np.arange(n)[None, :] - pad
        if opts["exclude_outside"]:
            coeffs = np.where((taps < 0) | (taps >= n_in), 0.0, coeffs)
            total = coeffs.sum(axis=1, keepdims=True)
            coeffs = coeffs / np.where(total == 0, 1.0, total)
        work = x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else jnp.float64
        gathered = jnp.take(x.astype(work), np.clip(taps, 0, n_in - 1), axis=axis)
        weights = jnp.asarray(coeffs, work).reshape((1,) * axis + coeffs.shape + rest)
        y = jnp.sum(gathered * weights, axis=axis + 1)
    if outside_roi is not None and outside_roi.any():
        fill = jnp.asarray(opts["extrapolation_value"], y.dtype)
        y = jnp.where(outside_roi.reshape(-1, *rest), fill, y)
    return y


def _given(value: Any) -> np.ndarray | None:
    """An optional input as a flat numpy array; None when absent or empty (ONNX's "no value")."""
    if value is None or np.size(value) == 0:
        return None
    return np.asarray(value).reshape(-1)


@x64
def _resize(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    """Resize (opsets 13-21: X, roi, scales, sizes); see the module docstring."""
    x = jnp.asarray(inputs[0])
    roi, scales, sizes = (_given(_optional(inputs, i)) for i in (1, 2, 3))
    rank = x.ndim
    mode = _text(attrs, "mode", "nearest")
    if mode not in ("nearest", "linear", "cubic"):
        raise ValueError(f"Resize: mode '{mode}' is not supported")
    opts = {
        "mode": mode,
        "ctm": _text(attrs, "coordinate_transformation_mode", "half_pixel"),
        "nearest_mode": _text(attrs, "nearest_mode", "round_prefer_floor"),
        "cubic_coeff_a": float(attrs.get("cubic_coeff_a", -0.75)),
        "exclude_outside": bool(int(attrs.get("exclude_outside", 0))),
        "extrapolation_value": float(attrs.get("extrapolation_value", 0.0)),
        "antialias": bool(int(attrs.get("antialias", 0))),
    }
    axes_v = attrs.get("axes")
    axes = (
        list(range(rank)) if axes_v is None else [_normalize_axis(a, rank) for a in _ints(axes_v)]
    )
    n_in = [x.shape[a] for a in axes]
    if sizes is not None:
        out = [int(v) for v in sizes]
        factors = [o / i for o, i in zip(out, n_in, strict=True)]
        policy = _text(attrs, "keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            if policy not in ("not_larger", "not_smaller"):
                raise ValueError(f"Resize: keep_aspect_ratio_policy '{policy}' is not supported")
            common = min(factors) if policy == "not_larger" else max(factors)
            factors = [common] * len(axes)
            out = [int(common * i + 0.5) for i in n_in]
    elif scales is not None:
        factors = [float(v) for v in scales]
        out = [int(s * i) for s, i in zip(factors, n_in, strict=True)]
    else:
        raise ValueError("Resize: neither scales nor sizes is given")
    if len(out) != len(axes):
        raise ValueError(f"Resize: {len(out)} scales or sizes for {len(axes)} axes")
    if opts["ctm"] != "tf_crop_and_resize":
        roi = None  # only tf_crop_and_resize reads the roi
    elif roi is not None and len(roi) != 2 * len(axes):
        raise ValueError(f"Resize: roi has {len(roi)} values for {len(axes)} axes")
    y = x
    for i, axis in enumerate(axes):
        box = (0.0, 1.0) if roi is None else (float(roi[i]), float(roi[len(axes) + i]))
        if math.isclose(factors[i], 1.0) and out[i] == x.shape[axis] and box == (0.0, 1.0):
            continue  # identity along this axis
        y = _resize_axis(y, axis, out[i], factors[i], box, opts)
    if jnp.issubdtype(x.dtype, jnp.integer) and y.dtype != x.dtype:
        info = jnp.iinfo(x.dtype)
        y = jnp.clip(jnp.round(y), info.min, info.max)
    return [y.astype(x.dtype)]


# -- scatters -------------------------------------------------------------------------------------


_REDUCTIONS = ("none", "add", "mul", "max", "min")


def _scatter(x: Array, index: tuple[Any, ...], updates: Array, reduction: str) -> Array:
    """`x` with `updates` written (or reduced) at `index` (a tuple of integer index arrays)."""
    ref = x.at[index]
    updates = jnp.asarray(updates, x.dtype)
    if reduction == "none":
        return ref.set(updates)
    if reduction == "add":
        return ref.add(updates)
    if reduction == "mul":
        return ref.multiply(updates)
    if reduction == "max":
        return ref.max(updates)
    if reduction == "min":
        return ref.min(updates)
    raise ValueError(f"scatter: reduction '{reduction}' is not one of {', '.join(_REDUCTIONS)}")


@x64
def _scatter_nd(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x, idx = jnp.asarray(inputs[0]), _indices(inputs[1])
    k = idx.shape[-1]
    idx = _wrap(idx, x.shape[:k])
    index = tuple(idx[..., j] for j in range(k))
    return [_scatter(x, index, inputs[2], _text(attrs, "reduction", "none"))]


@x64
def _scatter_elements(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x, idx = jnp.asarray(inputs[0]), _indices(inputs[1])
    axis = _normalize_axis(int(attrs.get("axis", 0)), x.ndim)
    index = list(np.indices(idx.shape, sparse=True))
    index[axis] = _wrap(idx, x.shape[axis])
    return [_scatter(x, tuple(index), inputs[2], _text(attrs, "reduction", "none"))]


# -- depth / space --------------------------------------------------------------------------------


@x64
def _depth_to_space(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    bs = int(attrs["blocksize"])
    n, c, h, w = x.shape
    mode = _text(attrs, "mode", "DCR")
    if mode == "DCR":
        y = x.reshape(n, bs, bs, c // bs**2, h, w).transpose(0, 3, 4, 1, 5, 2)
    elif mode == "CRD":
        y = x.reshape(n, c // bs**2, bs, bs, h, w).transpose(0, 1, 4, 2, 5, 3)
    else:
        raise ValueError(f"DepthToSpace: mode '{mode}' is not DCR or CRD")
    return [y.reshape(n, c // bs**2, h * bs, w * bs)]


@x64
def _space_to_depth(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    bs = int(attrs["blocksize"])
    n, c, h, w = x.shape
    y = x.reshape(n, c, h // bs, bs, w // bs, bs).transpose(0, 3, 5, 1, 2, 4)
    return [y.reshape(n, c * bs * bs, h // bs, w // bs)]


@x64
def _one_hot(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    """Indices outside [-depth, depth - 1] give all off_value; non-integer indices and depth are
    cast to int64 (truncation) first."""
    idx = _indices(inputs[0])
    depth = int(np.asarray(inputs[1]).reshape(-1)[0])
    values = jnp.asarray(inputs[2]).reshape(-1)
    axis = _normalize_axis(int(attrs.get("axis", -1)), idx.ndim + 1)
    idx = np.where(idx < 0, idx + depth, idx)
    classes = np.arange(depth).reshape((depth,) + (1,) * (idx.ndim - axis))
    hit = np.expand_dims(idx, axis) == classes
    return [jnp.where(hit, values[1], values[0])]


OPS: dict[str, HostOp] = {
    "Gather": _gather,
    "GatherND": _gather_nd,
    "GatherElements": _gather_elements,
    "Slice": _slice,
    "Split": _split,
    "Expand": _expand,
    "Tile": _tile,
    "Range": _range,
    "ConstantOfShape": _constant_of_shape,
    "Shape": _shape,
    "Size": _size,
    "Trilu": _trilu,
    "Pad": _pad,
    "Resize": _resize,
    "ScatterND": _scatter_nd,
    "ScatterElements": _scatter_elements,
    "DepthToSpace": _depth_to_space,
    "SpaceToDepth": _space_to_depth,
    "OneHot": _one_hot,
}
