"""The indexing and shape host ops (simulator/host_ops/shape.py) against ONNX's reference
evaluator on one-node models: values and dtypes, edge cases, attribute and input forms."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from onnx import numpy_helper
from onnx_reference import assert_same, run_onnx

from simulator.host_ops import HOST_OPS, shape

RNG = np.random.default_rng(7)
I64_MAX = np.iinfo(np.int64).max
I64_MIN = np.iinfo(np.int64).min


def _f(*dims: int) -> np.ndarray:
    return RNG.standard_normal(dims).astype(np.float32)


def _i(*dims: int) -> np.ndarray:
    return RNG.integers(-50, 50, dims).astype(np.int64)


def _b(*dims: int) -> np.ndarray:
    return RNG.random(dims) < 0.5


def _a(values: Any, dtype: Any = np.int64) -> np.ndarray:
    return np.asarray(values, dtype)


def _case(
    op: str,
    inputs: list[Any],
    attrs: dict[str, Any] | None = None,
    *,
    opset: int = 17,
    outputs: int = 1,
    host_attrs: dict[str, Any] | None = None,
    id: str,
    skip: str | None = None,
) -> Any:
    """One comparison; `host_attrs` replaces `attrs` for the host op (a TENSOR attribute is a
    TensorProto for the reference, an array for the host op)."""
    marks = [pytest.mark.skip(reason=skip)] if skip else []
    return pytest.param(op, inputs, attrs or {}, opset, outputs, host_attrs, id=id, marks=marks)


X = _f(2, 3, 4, 5)
XI = _i(2, 3, 4, 5)
XB = _b(2, 3, 4, 5)
M = _f(3, 4)
IMG = _f(1, 2, 4, 6)
IMGI = RNG.integers(0, 255, (1, 2, 4, 6)).astype(np.int64)
IMGU8 = RNG.integers(0, 255, (1, 2, 4, 6)).astype(np.uint8)


def _scales(*values: float) -> np.ndarray:
    return np.asarray(values, np.float32)


# fmt: off
GATHER = [
    _case("Gather", [X, _a([[0, -1], [2, 1]])], {"axis": 1}, id="gather-axis1-neg"),
    _case("Gather", [X, _a(-2)], {"axis": -1}, id="gather-scalar-neg-axis"),
    _case("Gather", [X, _a([1, 0, 1])], {}, id="gather-default-axis"),
    _case("Gather", [XI, _a([3, -4], np.int32)], {"axis": 2}, id="gather-int64-int32idx"),
    _case("Gather", [XB, _a([[-1]])], {"axis": 0}, id="gather-bool"),
    _case("Gather", [X, np.zeros((0,), np.int64)], {"axis": 1}, id="gather-empty"),
    _case("GatherElements", [M, _a([[0, -1, 2, 1], [3, 3, -4, 0], [1, 1, 1, 1]])], {"axis": 1},
          id="gather-elements-axis1"),
    _case("GatherElements", [M, _a([[0, -1, 2, 1], [2, 1, -3, 0]])], {}, id="gather-elements-axis0"),
    _case("GatherElements", [XI, RNG.integers(-4, 4, (2, 3, 4, 5))], {"axis": -2},
          id="gather-elements-int64-neg-axis"),
    _case("GatherElements", [XB, RNG.integers(-3, 3, (2, 3, 4, 5))], {"axis": 1},
          id="gather-elements-bool"),
    _case("GatherND", [X, _a([[0, 1], [1, -1]])], {}, id="gather-nd-k2"),
    _case("GatherND", [X, _a([[[1]], [[0]]])], {}, id="gather-nd-k1"),
    _case("GatherND", [X, _a([[0, 2, 3, -1], [1, -3, 0, 4]])], {}, id="gather-nd-full"),
    _case("GatherND", [X, _a([[2], [0]])], {"batch_dims": 1}, id="gather-nd-batch1"),
    _case("GatherND", [X, _a([[[2, 1], [0, -1]], [[1, 1], [2, 0]]])], {"batch_dims": 1},
          id="gather-nd-batch1-k2"),
    _case("GatherND", [XI, RNG.integers(-4, 4, (2, 3, 2, 1))], {"batch_dims": 2},
          id="gather-nd-batch2-int64"),
    _case("GatherND", [XB, _a([[0, 1, 2]])], {}, id="gather-nd-bool"),
]

SLICE = [
    _case("Slice", [X, _a([1, 0]), _a([3, 4]), _a([1, 3]), _a([1, 2])], id="slice-axes-steps"),
    _case("Slice", [X, _a([-3]), _a([-1]), _a([-2])], id="slice-negative"),
    _case("Slice", [X, _a([3]), _a([1]), _a([2])], id="slice-empty"),
    _case("Slice", [X, _a([2]), _a([2]), _a([3])], id="slice-empty-equal"),
    _case("Slice", [X, _a([-1]), _a([I64_MIN]), _a([3]), _a([-1])], id="slice-reverse"),
    _case("Slice", [X, _a([10]), _a([-100]), _a([-1]), _a([-2])], id="slice-neg-step-clamp"),
    _case("Slice", [X, _a([1, -20]), _a([I64_MAX, 20]), _a([1, 2])], id="slice-int64-max-clamp"),
    _case("Slice", [X, _a([0, 1]), _a([1, 3])], id="slice-no-axes"),
    _case("Slice", [X, _a([1]), _a([3]), None, _a([2])], id="slice-steps-no-axes"),
    _case("Slice", [X, _a([0]), _a([-1]), _a([-1], np.int32), _a([3], np.int32)], id="slice-int32"),
    _case("Slice", [XI, _a([3, 0]), _a([0, 5]), _a([2, 3]), _a([-1, 2])], id="slice-int64-data"),
    _case("Slice", [XB, _a([1]), _a([-1]), _a([1])], id="slice-bool"),
    _case("Slice", [X, _a([2]), _a([1]), _a([1]), _a([1])], id="slice-empty-forward"),
    _case("Slice", [X], {"starts": [1, 0], "ends": [3, -1], "axes": [2, -1]}, opset=9,
          id="slice-attrs-opset9"),
]

SPLIT = [
    _case("Split", [X, _a([2, 1, 2])], {"axis": 3}, opset=13, outputs=3, id="split-input"),
    _case("Split", [X, _a([1, 3])], {"axis": -2}, opset=18, outputs=2, id="split-input-neg-axis"),
    _case("Split", [X], {"axis": 2, "split": [3, 1]}, opset=11, outputs=2, id="split-attr"),
    _case("Split", [X], {"axis": -1, "num_outputs": 3}, opset=18, outputs=3,
          id="split-num-outputs-uneven"),
    _case("Split", [XI], {"axis": 2, "num_outputs": 2}, opset=18, outputs=2,
          id="split-num-outputs-int64"),
    _case("Split", [X], {"axis": 2}, opset=13, outputs=2, host_attrs={"axis": 2, "_num_outputs": 2},
          id="split-equal-hinted"),
    _case("Split", [XB], {}, opset=13, outputs=2, host_attrs={"_num_outputs": 2},
          id="split-equal-hinted-bool"),
    _case("Split", [X], {"axis": 1}, opset=13, outputs=1, id="split-unhinted-one"),
    _case("Split", [XI, _a([0, 4, 0])], {"axis": 2}, opset=13, outputs=3, id="split-zero-size"),
]

SHAPES = [
    _case("Expand", [_f(3, 1), _a([2, 1, 4])], id="expand-bidirectional"),
    _case("Expand", [X, _a([4, 1])], id="expand-shorter-shape"),
    _case("Expand", [_f(1, 3, 1, 5), _a([2, 1, 4, 1])], id="expand-ones"),
    _case("Expand", [_i(4, 1), _a([2, 1, 3])], id="expand-int64"),
    _case("Expand", [_b(1), _a([2, 3])], id="expand-bool"),
    _case("Expand", [np.float32(1.5), _a([2, 2])], id="expand-scalar"),
    _case("Tile", [M, _a([2, 3])], id="tile"),
    _case("Tile", [XI, _a([1, 2, 1, 2])], id="tile-int64"),
    _case("Tile", [_b(2, 3), _a([3, 1])], id="tile-bool"),
    _case("Tile", [M, _a([0, 1])], id="tile-zero"),
    _case("Range", [_a(0), _a(10), _a(3)], id="range-int64"),
    _case("Range", [_a(10), _a(-3), _a(-4)], id="range-negative-delta"),
    _case("Range", [_a(5), _a(1), _a(1)], id="range-empty"),
    _case("Range", [_a(2, np.int32), _a(9, np.int32), _a(2, np.int32)], id="range-int32"),
    _case("Range", [np.float32(0.5), np.float32(3.1), np.float32(0.7)], id="range-float"),
    _case("Range", [np.float32(1), np.float32(-1), np.float32(-0.25)], id="range-float-negative"),
    _case("ConstantOfShape", [_a([2, 3])], id="constant-of-shape-default"),
    _case("ConstantOfShape", [_a([2, 0, 3])], id="constant-of-shape-empty"),
    _case("ConstantOfShape", [_a([3])], {"value": numpy_helper.from_array(_a([7]))},
          host_attrs={"value": _a([7])}, id="constant-of-shape-int64"),
    _case("ConstantOfShape", [_a([2, 2])], {"value": numpy_helper.from_array(_a([1.5], np.float32))},
          host_attrs={"value": [1.5]}, id="constant-of-shape-float-list"),
    _case("ConstantOfShape", [_a([4])], {"value": numpy_helper.from_array(_a([True], bool))},
          host_attrs={"value": _a([True], bool)}, id="constant-of-shape-bool"),
    _case("ConstantOfShape", [np.zeros(0, np.int64)], id="constant-of-shape-scalar"),
    _case("Shape", [X], opset=13, id="shape"),
    _case("Shape", [X], {"start": 1}, opset=15, id="shape-start"),
    _case("Shape", [X], {"end": -1}, opset=15, id="shape-end-neg"),
    _case("Shape", [X], {"start": -3, "end": 3}, opset=15, id="shape-start-neg"),
    _case("Shape", [X], {"start": 1, "end": 10}, opset=21, id="shape-end-clamp"),
    _case("Shape", [np.float32(2)], opset=15, id="shape-scalar"),
    _case("Size", [X], id="size"),
    _case("Size", [XB], id="size-bool"),
    _case("Size", [np.zeros((3, 0), np.int64)], id="size-empty"),
    _case("Trilu", [M], id="trilu-upper-default"),
    _case("Trilu", [M], {"upper": 0}, id="trilu-lower"),
    _case("Trilu", [M, _a(1)], id="trilu-k1"),
    _case("Trilu", [M, _a(-2)], {"upper": 0}, id="trilu-lower-k-neg"),
    _case("Trilu", [X, _a(-1)], id="trilu-batched"),
    _case("Trilu", [XI, _a(2)], {"upper": 0}, id="trilu-int64"),
    _case("Trilu", [XB], {"upper": 1}, id="trilu-bool"),
    _case("Trilu", [_f(5, 3), _a(10)], id="trilu-k-beyond"),
]

PAD = [
    _case("Pad", [M, _a([1, 2, 0, 3]), np.float32(1.5)], id="pad-constant-value"),
    _case("Pad", [X, _a([0, 0, 1, 2, 1, 0, 2, 1])], id="pad-constant-default"),
    _case("Pad", [X, _a([0, 1, 2, 1, 0, 0, 3, 1])], {"mode": "reflect"}, id="pad-reflect"),
    _case("Pad", [M, _a([2, 3, 1, 2])], {"mode": "edge"}, id="pad-edge"),
    _case("Pad", [M, _a([4, 5, 6, 3])], {"mode": "reflect"}, id="pad-reflect-wide"),
    _case("Pad", [M, _a([2, 1, 1, 1])], {"mode": "wrap"}, opset=19, id="pad-wrap"),
    _case("Pad", [M, _a([5, 6, 4, 9])], {"mode": "wrap"}, opset=19, id="pad-wrap-wide"),
    _case("Pad", [X, _a([1, 2, 3, 0]), None, _a([-1, 1])], opset=18, id="pad-axes"),
    _case("Pad", [X, _a([1, 1, 2, 2]), np.float32(-1), _a([2, 3])], {"mode": "edge"},
          opset=18, id="pad-axes-edge"),
    _case("Pad", [X, _a([2, 2]), None, _a([-2])], {"mode": "reflect"}, opset=21,
          id="pad-axes-reflect"),
    _case("Pad", [XI, _a([0, 1, 0, 0, 0, 0, 1, 1]), _a(9)], id="pad-int64"),
    _case("Pad", [XB, _a([1, 0, 0, 0, 0, 0, 2, 0]), np.bool_(True)], id="pad-bool"),
    _case("Pad", [XI, _a([0, 0, 1, 1, 0, 0, 1, 1])], {"mode": "reflect"}, id="pad-reflect-int64"),
    _case("Pad", [M], {"pads": [1, 0, 0, 2], "value": 2.0}, opset=2, id="pad-attrs-opset2"),
    _case("Pad", [M], {"pads": [1, 2, 1, 0], "mode": "edge"}, opset=2, id="pad-attrs-edge-opset2"),
    _case("Pad", [M, _a([-1, 1, 0, -2])], id="pad-negative",
          skip="onnx.reference Pad passes negative pads to numpy.pad, which rejects them "
               "(test_pad_negative_crops checks the crop)"),
]

RESIZE = [
    # nearest: each nearest_mode, on ties (asymmetric x2 up, half_pixel x0.5 down) and not
    _case("Resize", [IMG, None, _scales(1, 1, 2, 3)], opset=13, id="resize-nearest-up"),
    _case("Resize", [IMG, None, _scales(1, 1, 2, 2)],
          {"coordinate_transformation_mode": "asymmetric", "nearest_mode": "round_prefer_ceil"},
          opset=13, id="resize-nearest-asym-prefer-ceil"),
    _case("Resize", [IMG, None, _scales(1, 1, 0.5, 0.5)], opset=13, id="resize-nearest-down"),
    _case("Resize", [IMG, None, _scales(1, 1, 0.5, 0.5)], {"nearest_mode": "round_prefer_ceil"},
          opset=13, id="resize-nearest-down-prefer-ceil"),
    _case("Resize", [IMG, None, _scales(1, 1, 1.5, 0.7)], {"nearest_mode": "floor"}, opset=13,
          id="resize-nearest-floor"),
    _case("Resize", [IMG, None, _scales(1, 1, 1.5, 0.7)], {"nearest_mode": "ceil"}, opset=13,
          id="resize-nearest-ceil"),
    _case("Resize", [IMG, None, None, _a([1, 2, 7, 4])],
          {"coordinate_transformation_mode": "align_corners"}, opset=13,
          id="resize-nearest-sizes-align-corners"),
    _case("Resize", [IMG, None, None, _a([1, 2, 3, 9])],
          {"coordinate_transformation_mode": "pytorch_half_pixel"}, opset=13,
          id="resize-nearest-sizes-pytorch"),
    _case("Resize", [IMGI, None, _scales(1, 1, 2, 0.5)], opset=13, id="resize-nearest-int64"),
    _case("Resize", [IMG, None, _scales(1, 1, 3, 3)], {"exclude_outside": 1}, opset=13,
          id="resize-nearest-exclude-outside"),
    # linear: up / down, scales / sizes, every coordinate transform
    _case("Resize", [IMG, None, _scales(1, 1, 2, 1.5)], {"mode": "linear"}, opset=13,
          id="resize-linear-up"),
    _case("Resize", [IMG, np.zeros(0, np.float32), _scales(1, 1, 0.5, 0.5)], {"mode": "linear"},
          opset=13, id="resize-linear-down-empty-roi"),
    _case("Resize", [IMG, _a([0, 0, 0.5, 0.5, 1, 1, 0.6, 0.7], np.float32), _scales(1, 1, 2, 3)],
          {"mode": "linear"}, opset=13, id="resize-linear-roi-ignored"),
    _case("Resize", [IMG, None, _scales(1, 1, 1.7, 0.6)], {"mode": "linear"}, opset=13,
          id="resize-linear-fractional"),
    _case("Resize", [IMG, None, np.zeros(0, np.float32), _a([1, 2, 9, 4])], {"mode": "linear"},
          opset=13, id="resize-linear-sizes"),
    _case("Resize", [IMG, None, _scales(1, 1, 2, 2)],
          {"mode": "linear", "coordinate_transformation_mode": "asymmetric"}, opset=13,
          id="resize-linear-asymmetric"),
    _case("Resize", [IMG, None, None, _a([1, 2, 7, 3])],
          {"mode": "linear", "coordinate_transformation_mode": "align_corners"}, opset=13,
          id="resize-linear-align-corners"),
    _case("Resize", [IMG, None, _scales(1, 1, 2, 0.5)],
          {"mode": "linear", "coordinate_transformation_mode": "align_corners"}, opset=13,
          id="resize-linear-align-corners-scales"),
    _case("Resize", [IMG, None, None, _a([1, 2, 8, 2])],
          {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"}, opset=13,
          id="resize-linear-pytorch"),
    _case("Resize", [IMG, None, _scales(1, 1, 1.7, 0.6)],
          {"mode": "linear", "coordinate_transformation_mode": "half_pixel_symmetric"}, opset=19,
          id="resize-linear-half-pixel-symmetric"),
    _case("Resize", [IMG, _a([0, 0, 0.2, 0.1, 1, 1, 0.8, 1.2], np.float32), None,
                     _a([1, 2, 5, 7])],
          {"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize",
           "extrapolation_value": -2.0}, opset=13, id="resize-linear-tf-crop-and-resize"),
    _case("Resize", [IMG, _a([0.1, -0.3, 0.9, 0.7], np.float32), _scales(1.5, 2)],
          {"mode": "nearest", "coordinate_transformation_mode": "tf_crop_and_resize",
           "axes": [2, 3]}, opset=18, id="resize-nearest-tf-crop-and-resize-axes"),
    _case("Resize", [IMGU8, None, _scales(1, 1, 1.5, 0.5)], {"mode": "linear"}, opset=13,
          id="resize-linear-uint8"),
    _case("Resize", [_f(3, 7), None, _scales(2.5, 0.5)], {"mode": "linear"}, opset=13,
          id="resize-linear-2d"),
    # cubic
    _case("Resize", [IMG, None, _scales(1, 1, 2, 1.5)], {"mode": "cubic"}, opset=13,
          id="resize-cubic-up"),
    _case("Resize", [IMG, None, None, _a([1, 2, 3, 4])], {"mode": "cubic"}, opset=13,
          id="resize-cubic-down-sizes"),
    _case("Resize", [IMG, None, _scales(1, 1, 2, 2)],
          {"mode": "cubic", "cubic_coeff_a": -0.5, "exclude_outside": 1}, opset=13,
          id="resize-cubic-exclude-outside"),
    _case("Resize", [IMG, None, _scales(1, 1, 1.5, 0.5)],
          {"mode": "cubic", "coordinate_transformation_mode": "asymmetric"}, opset=13,
          id="resize-cubic-asymmetric"),
    _case("Resize", [IMG, None, None, _a([1, 2, 6, 9])],
          {"mode": "cubic", "coordinate_transformation_mode": "align_corners"}, opset=13,
          id="resize-cubic-align-corners"),
    _case("Resize", [IMG, None, None, _a([1, 2, 5, 5])],
          {"mode": "cubic", "coordinate_transformation_mode": "pytorch_half_pixel"}, opset=13,
          id="resize-cubic-pytorch"),
    # opset 18+: antialias, axes, keep_aspect_ratio_policy
    _case("Resize", [_f(1, 2, 9, 12), None, _scales(1, 1, 0.4, 0.5)],
          {"mode": "linear", "antialias": 1}, opset=18, id="resize-linear-antialias"),
    _case("Resize", [_f(1, 2, 9, 12), None, None, _a([1, 2, 4, 5])],
          {"mode": "cubic", "antialias": 1}, opset=18, id="resize-cubic-antialias"),
    _case("Resize", [_f(1, 2, 9, 12), None, _scales(1, 1, 2, 1.5)],
          {"mode": "cubic", "antialias": 1}, opset=18, id="resize-cubic-antialias-up"),
    _case("Resize", [IMG, None, _scales(2, 0.5)], {"mode": "linear", "axes": [3, 2]}, opset=18,
          id="resize-axes-scales"),
    _case("Resize", [IMG, None, None, _a([9])], {"mode": "nearest", "axes": [3]}, opset=18,
          id="resize-axes-sizes"),
    _case("Resize", [IMG, None, None, _a([9])], {"mode": "nearest", "axes": [-1]}, opset=18,
          id="resize-axes-negative",
          skip="onnx.reference Resize does not normalise negative axes (numpy.transpose fails "
               "on the permutation)"),
    _case("Resize", [IMG, None, None, _a([8, 9])],
          {"mode": "linear", "axes": [2, 3], "keep_aspect_ratio_policy": "not_larger"},
          opset=18, id="resize-not-larger"),
    _case("Resize", [IMG, None, None, _a([8, 9])],
          {"mode": "nearest", "axes": [2, 3], "keep_aspect_ratio_policy": "not_smaller"},
          opset=18, id="resize-not-smaller"),
    _case("Resize", [IMG, None, None, _a([1, 2, 2, 3])],
          {"mode": "cubic", "keep_aspect_ratio_policy": "not_larger"}, opset=19,
          id="resize-cubic-not-larger-all-axes"),
    _case("Resize", [IMG, None, _scales(1, 1, 1, 1)], {"mode": "cubic"}, opset=13,
          id="resize-identity"),
    # where onnx.reference departs from the standard (length_resized is an integer there)
    _case("Resize", [IMG, None, None, _a([1, 2, 1, 1])],
          {"mode": "cubic", "coordinate_transformation_mode": "pytorch_half_pixel"}, opset=13,
          id="resize-cubic-pytorch-to-1",
          skip="onnx.reference Resize maps pytorch_half_pixel to x_original = -0.5 for an output "
               "length of 1, the standard (and onnxruntime) to 0"),
    _case("Resize", [IMG, None, _scales(1, 1, 0.6, 0.9)],
          {"mode": "linear", "coordinate_transformation_mode": "align_corners"}, opset=13,
          id="resize-align-corners-fractional-width",
          skip="onnx.reference Resize divides by the fractional scale * length - 1 in "
               "align_corners, the standard by the integer output length - 1"),
]

SCATTER = [
    _case("ScatterND", [X, _a([[0, 1], [1, -1]]), _f(2, 4, 5)], id="scatter-nd-slices"),
    _case("ScatterND", [M, _a([[2, -1], [0, 0]]), _f(2)], id="scatter-nd-elements"),
    _case("ScatterND", [M, _a([[1], [1], [0]]), _f(3, 4)], {"reduction": "add"}, opset=16,
          id="scatter-nd-add-duplicates"),
    _case("ScatterND", [M, _a([[1], [1], [0]]), _f(3, 4)], {"reduction": "mul"}, opset=16,
          id="scatter-nd-mul"),
    _case("ScatterND", [M, _a([[1], [1], [0]]), _f(3, 4)], {"reduction": "max"}, opset=18,
          id="scatter-nd-max"),
    _case("ScatterND", [XI, _a([[1, 2], [1, 2]]), _i(2, 4, 5)], {"reduction": "min"}, opset=18,
          id="scatter-nd-min-int64"),
    _case("ScatterND", [XB, _a([[0, -1, 2]]), _b(1, 5)], id="scatter-nd-bool"),
    _case("ScatterElements", [M, _a([[1, 0, -1, 2]]), _f(1, 4)], id="scatter-elements-axis0"),
    _case("ScatterElements", [M, _a([[1, -1], [0, 3], [2, 2]]), _f(3, 2)], {"axis": 1},
          id="scatter-elements-axis1"),
    _case("ScatterElements", [M, _a([[1, 1, 0], [2, 2, 2]]), _f(2, 3)],
          {"axis": -1, "reduction": "add"}, opset=16, id="scatter-elements-add"),
    _case("ScatterElements", [M, _a([[1, 1, 0], [2, 2, 2]]), _f(2, 3)],
          {"axis": 1, "reduction": "mul"}, opset=16, id="scatter-elements-mul"),
    _case("ScatterElements", [XI, RNG.integers(-4, 4, (2, 3, 4, 2)), _i(2, 3, 4, 2)],
          {"axis": 3, "reduction": "max"}, opset=18, id="scatter-elements-max-int64"),
    _case("ScatterElements", [M, _a([[1, 1, 0], [0, 0, 0]]), _f(2, 3)],
          {"axis": 0, "reduction": "min"}, opset=18, id="scatter-elements-min"),
    _case("ScatterElements", [XB, RNG.integers(0, 3, (1, 3, 4, 5)), _b(1, 3, 4, 5)], {"axis": 1},
          id="scatter-elements-bool"),
]

LAYOUT = [
    _case("DepthToSpace", [_f(2, 8, 3, 4)], {"blocksize": 2}, id="depth-to-space-dcr"),
    _case("DepthToSpace", [_f(2, 8, 3, 4)], {"blocksize": 2, "mode": "CRD"},
          id="depth-to-space-crd"),
    _case("DepthToSpace", [_i(1, 18, 2, 2)], {"blocksize": 3, "mode": "DCR"},
          id="depth-to-space-int64"),
    _case("SpaceToDepth", [_f(2, 3, 4, 6)], {"blocksize": 2}, id="space-to-depth"),
    _case("SpaceToDepth", [_i(1, 2, 6, 3)], {"blocksize": 3}, id="space-to-depth-int64"),
    _case("OneHot", [_a([[0, 2, -1], [5, -4, 3]]), _a(4), _a([0, 1], np.float32)],
          id="one-hot-default-axis"),
    _case("OneHot", [_a([1, -2, 0]), _a(3), _a([-1, 7])], {"axis": 0}, id="one-hot-axis0"),
    _case("OneHot", [_a([1, -2, 0]), _a([3]), _a([-1, 7])], {"axis": 0}, id="one-hot-depth-rank1",
          skip="onnx.reference OneHot passes a rank-1 depth to numpy.arange (a NumPy "
               "DeprecationWarning, an error under this suite's warning filter)"),
    _case("OneHot", [_a([[1, 2], [0, 9]], np.int32), np.float32(3), _a([2, 5], np.float32)],
          {"axis": 1}, id="one-hot-axis1-float-depth"),
    _case("OneHot", [_a([[1, 2], [-3, 0]], np.float32), _a(3), _a([0.5, -0.25], np.float32)],
          {"axis": -2}, id="one-hot-float-indices"),
    _case("OneHot", [_a([1.7, -0.5], np.float32), _a(3), _a([0, 1], np.float32)],
          id="one-hot-fractional-indices",
          skip="onnx.reference OneHot compares fractional indices unconverted; the standard "
               "casts them to int64 first"),
]
# fmt: on


_check = assert_same  # tolerance rtol 1e-5, atol 1e-6


@pytest.mark.parametrize(
    "op, inputs, attrs, opset, outputs, host_attrs",
    GATHER + SLICE + SPLIT + SHAPES + PAD + RESIZE + SCATTER + LAYOUT,
)
def test_against_reference(
    op: str,
    inputs: list[Any],
    attrs: dict[str, Any],
    opset: int,
    outputs: int,
    host_attrs: dict[str, Any] | None,
) -> None:
    want = run_onnx(op, inputs, attrs, opset=opset, outputs=outputs)
    got = shape.OPS[op](list(inputs), dict(attrs if host_attrs is None else host_attrs))
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        _check(g, w)


def test_ops_table() -> None:
    assert set(shape.OPS) == {
        "Gather", "GatherND", "GatherElements", "Slice", "Split", "Expand", "Tile", "Range",
        "ConstantOfShape", "Shape", "Size", "Trilu", "Pad", "Resize", "ScatterND",
        "ScatterElements", "DepthToSpace", "SpaceToDepth", "OneHot",
    }  # fmt: skip
    for op, fn in shape.OPS.items():
        assert HOST_OPS[op] is fn


def test_split_without_count_is_one_output() -> None:
    """No split, num_outputs nor _num_outputs: the whole tensor, one output."""
    (only,) = shape.OPS["Split"]([X], {"axis": 2})
    np.testing.assert_array_equal(np.asarray(only), X)


def test_split_hinted_equal_parts() -> None:
    parts = shape.OPS["Split"]([XI], {"axis": -1, "_num_outputs": 5})
    assert [np.asarray(p).shape for p in parts] == [(2, 3, 4, 1)] * 5
    assert all(np.asarray(p).dtype == np.int64 for p in parts)
    np.testing.assert_array_equal(np.concatenate(parts, axis=-1), XI)


def test_pad_negative_crops() -> None:
    (got,) = shape.OPS["Pad"]([M, _a([-1, 1, 0, -2])], {})
    want = np.pad(M[1:, :2], ((0, 0), (1, 0)))
    np.testing.assert_array_equal(np.asarray(got), want)


def test_refused_modes() -> None:
    with pytest.raises(ValueError, match="bicubic"):
        shape.OPS["Resize"]([IMG, None, _scales(1, 1, 2, 2)], {"mode": "bicubic"})
    with pytest.raises(ValueError, match="tf_half_pixel_for_nn"):
        shape.OPS["Resize"](
            [IMG, None, _scales(1, 1, 2, 2)],
            {"coordinate_transformation_mode": "tf_half_pixel_for_nn"},
        )
    with pytest.raises(ValueError, match="symmetric"):
        shape.OPS["Pad"]([M, _a([1, 1, 1, 1])], {"mode": "symmetric"})
