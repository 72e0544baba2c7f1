"""simulator/host_ops/nn.py against ONNX's reference evaluator (`onnx.reference`), op by op.

Where the reference itself is wrong or crashes (ConvTranspose with groups of several output
channels or with a grouped bias; ConvTranspose with `output_shape` and auto_pad NOTSET), the case
is skipped with the reason, and the op is checked against the reference on an equivalent
formulation instead (one ungrouped reference run per group; the pads the ONNX spec derives).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from onnx_reference import assert_same, run_onnx

from simulator.host_ops import nn

RNG = np.random.default_rng(0)


def _f(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _i(low: int, high: int, *shape: int) -> np.ndarray:
    return RNG.integers(low, high, shape).astype(np.int64)


def _axes(*values: int) -> np.ndarray:
    return np.array(values, np.int64)


def _check(got: list[Any], expected: list[np.ndarray]) -> None:
    assert len(got) >= len(expected)
    for g, e in zip(got, expected, strict=False):
        assert_same(g, e, rtol=1e-4, atol=1e-5)


def _case(op: str, inputs: list[Any], attrs: dict[str, Any], opset: int = 17, outputs: int = 1,
          skip: str | None = None, name: str = "") -> Any:  # fmt: skip
    marks = [pytest.mark.skip(reason=skip)] if skip else []
    ident = f"{op}-{name}" if name else op
    return pytest.param(op, inputs, attrs, opset, outputs, marks=marks, id=ident)


# -- reductions -----------------------------------------------------------------------------------

REDUCE_OPS = [
    "ReduceMean",
    "ReduceSum",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceL2",
    "ReduceSumSquare",
]
X4 = _f(2, 3, 4, 5)
POSITIVE = RNG.uniform(0.5, 1.5, (2, 3, 4)).astype(np.float32)  # products stay O(1)
INTS = _i(-9, 10, 2, 3, 4)
SMALL_INTS = _i(-2, 4, 2, 3, 4)  # products fit int64
EMPTY = _axes()
SUM_SQUARE_BUG = (
    "onnx.reference ReduceSumSquare bug: np.sum promotes int32 to int64, the spec keeps T "
    "(checked by test_reduce_sum_square_int32_keeps_int32)"
)


def _reduce_cases(op: str) -> list[Any]:
    x = POSITIVE if op == "ReduceProd" else X4
    ints = SMALL_INTS if op == "ReduceProd" else INTS
    attr_opset = 11 if op == "ReduceSum" else 17  # the last opset with the `axes` attribute
    return [
        _case(op, [x, _axes(1)], {}, 18, name="axes-input"),
        _case(op, [x, _axes(-1, 1)], {"keepdims": 0}, 18, name="neg-axes-keepdims0"),
        _case(op, [x], {}, 18, name="all-keepdims1"),
        _case(op, [x], {"keepdims": 0}, 18, name="all-keepdims0"),
        _case(op, [x, EMPTY], {}, 18, name="empty-axes"),
        _case(op, [x, EMPTY], {"noop_with_empty_axes": 1}, 18, name="empty-axes-noop"),
        _case(op, [x], {"noop_with_empty_axes": 1, "keepdims": 0}, 18, name="no-axes-noop"),
        _case(op, [x], {"axes": [-2], "keepdims": 0}, attr_opset, name="axes-attr"),
        _case(op, [x], {"axes": [0, 2]}, attr_opset, name="axes-attr-keepdims1"),
        _case(op, [x], {}, attr_opset, name="attr-opset-all"),
        _case(op, [ints, _axes(0, -1)], {}, 18, name="int64"),
        _case(op, [ints], {"keepdims": 0}, 18, name="int64-all"),
        _case(op, [ints.astype(np.int32), _axes(1)], {"keepdims": 0}, 18, name="int32",
              skip=SUM_SQUARE_BUG if op == "ReduceSumSquare" else None),
    ]  # fmt: skip


REDUCE_CASES = [c for op in REDUCE_OPS for c in _reduce_cases(op)]
REDUCE_CASES.append(_case("ReduceSum", [X4, _axes(2)], {}, 13, name="opset13-axes-input"))

# -- ArgMax / ArgMin ------------------------------------------------------------------------------

TIES = _i(0, 3, 3, 4, 5)  # many equal values: select_last_index matters
ARG_CASES = [
    _case(op, [x], attrs, 13, name=f"{kind}-{i}")
    for op in ("ArgMax", "ArgMin")
    for kind, x in (("float", X4), ("int64", TIES))
    for i, attrs in enumerate(
        [
            {},
            {"axis": -1, "keepdims": 0},
            {"axis": 1, "select_last_index": 1},
            {"axis": 2, "keepdims": 0, "select_last_index": 1},
            {"axis": -3, "select_last_index": 0},
        ]
    )
]

# -- normalisation --------------------------------------------------------------------------------

X3 = _f(2, 5, 8)
LOG_SOFTMAX_BUG = (
    "onnx.reference LogSoftmax bug: it computes log(Softmax(x)), -inf where the softmax "
    "underflows; the host op is log-sum-exp stable (checked by test_log_softmax_is_stable)"
)
NORM_CASES = [
    _case("LayerNormalization", [X3, _f(8), _f(8)], {}, outputs=3, name="last1-bias"),
    _case("LayerNormalization", [X3, _f(8)], {}, outputs=3, name="last1-nobias"),
    _case("LayerNormalization", [X3, _f(5, 8), _f(5, 8)], {"axis": -2}, outputs=3, name="last2-bias"),
    _case("LayerNormalization", [X3, _f(5, 8)], {"axis": 1}, outputs=3, name="last2-nobias"),
    _case("LayerNormalization", [X4, _f(3, 4, 5), _f(5)], {"axis": 1, "epsilon": 1e-2}, name="last3-eps"),
    _case("LayerNormalization", [X3 * 50 + 3, _f(8)], {"axis": 2}, opset=21, name="offset-opset21"),
    _case("GroupNormalization", [_f(2, 6, 3, 3), _f(6), _f(6)], {"num_groups": 3}, 21, name="g3"),
    _case("GroupNormalization", [_f(2, 6, 3, 3), _f(6), _f(6)], {"num_groups": 2, "epsilon": 1e-3}, 21, name="g2-eps"),
    _case("GroupNormalization", [_f(2, 6, 7), _f(6), _f(6)], {"num_groups": 1}, 21, name="g1-1d"),
    _case("GroupNormalization", [_f(2, 6, 3, 3), _f(6), _f(6)], {"num_groups": 6}, 21, name="g6"),
    _case("GroupNormalization", [_f(2, 6, 3, 3), _f(3), _f(3)], {"num_groups": 3}, 18, name="opset18-per-group"),
    _case("GroupNormalization", [_f(1, 8, 2, 5), _f(2), _f(2)], {"num_groups": 2}, 18, name="opset18-g2"),
    _case("InstanceNormalization", [X4, _f(3), _f(3)], {}, name="4d"),
    _case("InstanceNormalization", [X3, _f(5), _f(5)], {"epsilon": 1e-2}, name="3d-eps"),
    _case("LogSoftmax", [X4], {}, name="default"),
    _case("LogSoftmax", [X4], {"axis": 1}, name="axis1"),
    _case("LogSoftmax", [X4 * 10], {"axis": -2}, name="large-neg-axis"),
    _case("LogSoftmax", [X4 * 100], {"axis": -2}, name="underflow", skip=LOG_SOFTMAX_BUG),
]  # fmt: skip

# -- Einsum ---------------------------------------------------------------------------------------

EINSUM_CASES = [
    _case("Einsum", [_f(2, 3, 4, 5), _f(2, 3, 6, 5)], {"equation": "bhid,bhjd->bhij"}, 12, name="attention-scores"),
    _case("Einsum", [_f(2, 3, 4, 6), _f(2, 3, 6, 5)], {"equation": "bhij,bhjd->bhid"}, 12, name="attention-values"),
    _case("Einsum", [_f(3, 4, 5), _f(3, 5, 6)], {"equation": "bij,bjk->bik"}, 12, name="batched-matmul"),
    _case("Einsum", [_f(2, 3, 4, 5), _f(2, 3, 5, 6)], {"equation": "...ij,...jk->...ik"}, 12, name="ellipsis"),
    _case("Einsum", [_f(2, 1, 4, 5), _f(3, 5, 6)], {"equation": "...ij,...jk->...ik"}, 12, name="ellipsis-broadcast"),
    _case("Einsum", [_f(4, 5), _f(5, 6)], {"equation": "ij,jk"}, 12, name="implicit"),
    _case("Einsum", [_f(4, 5), _f(3, 5)], {"equation": "kj,ij"}, 12, name="implicit-sorted"),
    _case("Einsum", [_f(3, 4, 5)], {"equation": "bij->bji"}, 12, name="transpose"),
    _case("Einsum", [_f(3, 4, 4)], {"equation": "...ii->...i"}, 12, name="diagonal"),
    _case("Einsum", [_i(-5, 5, 3, 4), _i(-5, 5, 4, 2)], {"equation": "ij,jk->ik"}, 12, name="int64"),
]  # fmt: skip

# -- ConvTranspose --------------------------------------------------------------------------------

XC = _f(2, 4, 5, 5)
W43 = _f(4, 3, 3, 3)
GROUP_BUG = (
    "onnx.reference ConvTranspose bug: with group > 1 it slices W by output channels and "
    "reshapes wrongly (crash), and writes one output channel per group"
)
BIAS_BUG = (
    "onnx.reference ConvTranspose bug: with group > 1 every group gets the first group's bias"
)
SHAPE_BUG = (
    "onnx.reference ConvTranspose bug: output_shape with auto_pad NOTSET and no pads keeps "
    "zero pads and col2im rejects the shape (crash)"
)
CONV_T_CASES = [
    _case("ConvTranspose", [XC, W43], {}, name="plain"),
    _case("ConvTranspose", [XC, W43, _f(3)], {"strides": [2, 2]}, name="stride2-bias"),
    _case("ConvTranspose", [XC, W43], {"strides": [2, 2], "pads": [1, 1, 1, 1]}, name="stride2-pads"),
    _case("ConvTranspose", [XC, W43, _f(3)], {"strides": [2, 2], "pads": [1, 0, 1, 2], "output_padding": [1, 0]}, name="stride2-outpad"),
    _case("ConvTranspose", [XC, W43], {"strides": [3, 2], "output_padding": [2, 1]}, name="stride32-outpad"),
    _case("ConvTranspose", [XC, W43], {"dilations": [2, 2]}, name="dilation"),
    _case("ConvTranspose", [XC, _f(4, 3, 2, 3)], {"strides": [2, 1], "dilations": [2, 3], "pads": [1, 2, 0, 1]}, name="dilation-stride-rect"),
    _case("ConvTranspose", [XC, W43], {"kernel_shape": [3, 3], "strides": [2, 2]}, name="kernel-shape-attr"),
    _case("ConvTranspose", [XC, _f(4, 1, 3, 3)], {"group": 4, "strides": [2, 2]}, name="depthwise"),
    _case("ConvTranspose", [XC, _f(4, 1, 3, 3), _f(4)], {"group": 4}, skip=BIAS_BUG, name="depthwise-bias"),
    _case("ConvTranspose", [XC, W43], {"group": 2}, skip=GROUP_BUG, name="group2"),
    _case("ConvTranspose", [XC, W43], {"strides": [2, 2], "auto_pad": "SAME_UPPER"}, name="same-upper"),
    _case("ConvTranspose", [XC, _f(4, 3, 4, 4)], {"strides": [2, 2], "auto_pad": "SAME_UPPER"}, name="same-upper-even-k"),
    _case("ConvTranspose", [XC, _f(4, 3, 4, 4)], {"strides": [2, 2], "auto_pad": "SAME_LOWER"}, name="same-lower-even-k"),
    _case("ConvTranspose", [XC, W43], {"strides": [2, 2], "auto_pad": "VALID"}, name="valid"),
    _case("ConvTranspose", [XC, W43], {"strides": [2, 2], "output_shape": [10, 11], "auto_pad": "SAME_UPPER"}, name="output-shape-upper"),
    _case("ConvTranspose", [XC, W43], {"strides": [2, 2], "output_shape": [10, 11], "auto_pad": "SAME_LOWER"}, name="output-shape-lower"),
    _case("ConvTranspose", [XC, W43], {"strides": [2, 2], "output_shape": [10, 11]}, skip=SHAPE_BUG, name="output-shape-notset"),
    _case("ConvTranspose", [_f(2, 3, 7), _f(3, 2, 3), _f(2)], {"strides": [3], "pads": [1, 2], "output_padding": [1]}, name="1d"),
    _case("ConvTranspose", [_f(1, 3, 7), _f(3, 2, 4)], {"strides": [2], "dilations": [2], "auto_pad": "SAME_LOWER"}, name="1d-same-lower"),
    _case("ConvTranspose", [_f(1, 2, 3, 4, 3), _f(2, 2, 2, 3, 2)], {"strides": [2, 1, 2], "pads": [0, 1, 0, 1, 0, 1]}, name="3d"),
]  # fmt: skip

# -- CumSum ---------------------------------------------------------------------------------------

# Conv of 1 and 3 spatial axes (the 2-D ones run on the accelerator).
XD1, XD3 = _f(2, 4, 11), _f(1, 4, 5, 6, 7)
CONV_CASES = [
    _case("Conv", [XD1, _f(6, 4, 3)], {}, name="1d"),
    _case("Conv", [XD1, _f(6, 4, 3), _f(6)], {"strides": [2], "pads": [1, 2]}, name="1d-bias-pads"),
    _case("Conv", [XD1, _f(4, 1, 5)], {"group": 4, "dilations": [2]}, name="1d-depthwise-dil"),
    _case(
        "Conv",
        [XD1, _f(6, 2, 4)],
        {"group": 2, "auto_pad": "SAME_UPPER", "strides": [3]},
        name="1d-same-upper",
    ),
    _case("Conv", [XD1, _f(6, 4, 4)], {"auto_pad": "SAME_LOWER"}, name="1d-same-lower"),
    _case("Conv", [XD1, _f(6, 4, 3)], {"auto_pad": "VALID", "strides": [2]}, name="1d-valid"),
    _case("Conv", [XD3, _f(3, 4, 2, 3, 3), _f(3)], {"pads": [1, 0, 1, 0, 1, 1]}, name="3d"),
]

XS = _f(3, 4, 5)
CUMSUM_CASES = [
    _case("CumSum", [XS, np.array(1, np.int64)], attrs, name=f"{i}")
    for i, attrs in enumerate(
        [{}, {"exclusive": 1}, {"reverse": 1}, {"exclusive": 1, "reverse": 1}]
    )
] + [
    _case("CumSum", [XS, np.array(-1, np.int32)], {"reverse": 1}, name="neg-axis-int32"),
    _case("CumSum", [XS, np.array(0, np.int64)], {"exclusive": 1}, name="axis0"),
    _case("CumSum", [_i(-9, 10, 3, 4), np.array(1, np.int64)], {"exclusive": 1}, name="int64"),
    _case("CumSum", [_i(-9, 10, 6).astype(np.int32), np.array(0, np.int64)], {}, name="int32"),
]

CASES = (
    REDUCE_CASES + ARG_CASES + NORM_CASES + EINSUM_CASES + CONV_CASES + CONV_T_CASES + CUMSUM_CASES
)


@pytest.mark.parametrize(("op", "inputs", "attrs", "opset", "outputs"), CASES)
def test_matches_onnx_reference(op, inputs, attrs, opset, outputs):
    expected = run_onnx(op, inputs, attrs, opset=opset, outputs=outputs)
    _check(nn.OPS[op](list(inputs), dict(attrs)), expected)


def test_ops_table():
    assert set(nn.OPS) == {
        *REDUCE_OPS,
        "ArgMax",
        "ArgMin",
        "LayerNormalization",
        "GroupNormalization",
        "InstanceNormalization",
        "LogSoftmax",
        "Einsum",
        "Conv",
        "ConvTranspose",
        "CumSum",
    }


def test_every_op_has_a_case():
    assert {p.values[0] for p in CASES} == set(nn.OPS)


# -- checks on a formulation the reference gets right --------------------------------------------


def _grouped_reference(x, w, bias, group, attrs):
    """ConvTranspose with `group` groups as one ungrouped reference run per group."""
    c, m = w.shape[0] // group, w.shape[1]
    outs = []
    for g in range(group):
        inputs = [x[:, g * c : (g + 1) * c], w[g * c : (g + 1) * c]]
        if bias is not None:
            inputs.append(bias[g * m : (g + 1) * m])
        outs.append(run_onnx("ConvTranspose", inputs, attrs)[0])
    return np.concatenate(outs, axis=1)


@pytest.mark.parametrize(
    ("x", "w", "bias", "group", "attrs"),
    [
        (XC, W43, None, 2, {}),
        (XC, _f(4, 3, 3, 3), _f(6), 2, {"strides": [2, 2], "pads": [1, 0, 0, 1]}),
        (XC, _f(4, 2, 3, 2), _f(8), 4, {"strides": [2, 1], "output_padding": [1, 0]}),
        (XC, _f(4, 1, 3, 3), _f(4), 4, {"dilations": [2, 1]}),
        (_f(1, 6, 9), _f(6, 2, 3), _f(6), 3, {"strides": [2], "pads": [1, 1]}),
    ],
    ids=["g2", "g2-bias-stride-pads", "g4-outpad", "depthwise-bias-dilation", "1d-g3"],
)
def test_conv_transpose_groups_match_per_group_reference(x, w, bias, group, attrs):
    expected = _grouped_reference(x, w, bias, group, attrs)
    inputs = [x, w] if bias is None else [x, w, bias]
    _check(nn.OPS["ConvTranspose"](inputs, {**attrs, "group": group}), [expected])


@pytest.mark.parametrize(
    ("output_shape", "pads"),
    [([10, 11], [1, 1, 0, 0]), ([9, 11], [1, 1, 1, 0]), ([11, 12], [0, 0, 0, 0])],
)
def test_conv_transpose_output_shape_notset_matches_spec_pads(output_shape, pads):
    """ONNX spec: with output_shape (auto_pad NOTSET) the odd total pad goes at the begin."""
    attrs = {"strides": [2, 2], "output_padding": [0, 1]}
    expected = run_onnx("ConvTranspose", [XC, W43], {**attrs, "pads": pads})
    got = nn.OPS["ConvTranspose"]([XC, W43], {**attrs, "output_shape": output_shape})
    assert np.asarray(got[0]).shape[2:] == tuple(output_shape)
    _check(got, expected)


def test_conv_transpose_full_rank_output_shape():
    attrs = {"strides": [2, 2], "auto_pad": "SAME_UPPER"}
    expected = run_onnx("ConvTranspose", [XC, W43], {**attrs, "output_shape": [10, 11]})
    _check(nn.OPS["ConvTranspose"]([XC, W43], {**attrs, "output_shape": [2, 3, 10, 11]}), expected)


def test_cum_sum_one_element_axis():
    """The axis as a 1-element 1-D tensor (exporters emit it; the reference takes only 0-D)."""
    expected = run_onnx("CumSum", [XS, np.array(2, np.int64)], {"reverse": 1})
    _check(nn.OPS["CumSum"]([XS, np.array([2], np.int64)], {"reverse": 1}), expected)


def test_einsum_equation_with_spaces():
    a, b = _f(4, 5), _f(5, 6)
    expected = run_onnx("Einsum", [a, b], {"equation": "ij,jk->ik"}, opset=12)
    _check(nn.OPS["Einsum"]([a, b], {"equation": " ij, jk -> ik "}), expected)


def test_layer_normalization_side_outputs_are_float32():
    y, mean, inv_std = nn.OPS["LayerNormalization"]([X3, _f(5, 8)], {"axis": -2})
    assert np.asarray(mean).shape == (2, 1, 1) == np.asarray(inv_std).shape
    assert np.asarray(y).dtype == np.asarray(mean).dtype == np.float32


def test_reduce_sum_square_int32_keeps_int32():
    """The reference returns int64 here (numpy promotion); the values agree."""
    x = INTS.astype(np.int32)
    expected = run_onnx("ReduceSumSquare", [x, _axes(1)], {"keepdims": 0}, opset=18)[0]
    _check(nn.OPS["ReduceSumSquare"]([x, _axes(1)], {"keepdims": 0}), [expected.astype(np.int32)])


def test_log_softmax_is_stable():
    """Where softmax underflows in float32, LogSoftmax stays finite (float64 log-sum-exp)."""
    x = X4 * 100
    x64 = x.astype(np.float64)
    shifted = x64 - x64.max(axis=-2, keepdims=True)
    expected = shifted - np.log(np.exp(shifted).sum(axis=-2, keepdims=True))
    _check(nn.OPS["LogSoftmax"]([x], {"axis": -2}), [expected.astype(np.float32)])
