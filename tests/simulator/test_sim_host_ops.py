"""Every host op against `onnx.reference.ReferenceEvaluator` on a one-node model."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from simulator.host_ops import HOST_OPS, core

RNG = np.random.default_rng(0)


def _f(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _run_onnx(op, inputs, attrs, opset=17):
    """inputs: list of arrays or None (absent); returns the node's first output."""
    names = ["" if v is None else f"in{i}" for i, v in enumerate(inputs)]
    while names and names[-1] == "":
        names.pop()
    node = helper.make_node(op, names, ["out"], **attrs)
    graph_inputs = [
        helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
        for n, v in zip(names, inputs, strict=False) if n
    ]  # fmt: skip
    out = helper.make_tensor_value_info("out", TensorProto.UNDEFINED, None)
    model = helper.make_model(
        helper.make_graph([node], "g", graph_inputs, [out]),
        opset_imports=[helper.make_opsetid("", opset)],
    )
    feeds = {n: v for n, v in zip(names, inputs, strict=False) if n}
    return ReferenceEvaluator(model).run(None, feeds)[0]


X = _f(2, 3, 7, 6)

# fmt: off
CASES = [
    ("Relu", [X], {}),
    ("Sigmoid", [X], {}),
    ("Tanh", [X], {}),
    ("Identity", [X], {}),
    ("Clip", [X, np.float32(-0.5), np.float32(0.7)], {}),
    ("Clip", [X, None, np.float32(0.2)], {}),
    ("Clip", [X, np.float32(0.1)], {}),
    ("Clip", [X], {}),
    ("Softmax", [X], {}),
    ("Softmax", [X], {"axis": 1}),
    ("Add", [X, _f(7, 1)], {}),
    ("Sub", [_f(3, 1, 1), X], {}),
    ("Mul", [X, _f(6)], {}),
    ("Div", [X, _f(1, 3, 1, 1) + 3], {}),
    ("MaxPool", [X], {"kernel_shape": [2, 2]}),
    ("MaxPool", [X], {"kernel_shape": [3, 2], "strides": [2, 2], "pads": [1, 0, 1, 1]}),
    ("MaxPool", [X], {"kernel_shape": [2, 2], "strides": [2, 2], "dilations": [2, 1]}),
    ("MaxPool", [X], {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1}),
    ("MaxPool", [X], {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    ("AveragePool", [X], {"kernel_shape": [2, 2]}),
    ("AveragePool", [X], {"kernel_shape": [3, 3], "strides": [2, 1], "pads": [1, 1, 1, 0]}),
    ("AveragePool", [X], {"kernel_shape": [3, 3], "strides": [2, 1], "pads": [1, 1, 1, 0], "count_include_pad": 1}),
    ("AveragePool", [X], {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1}),
    ("AveragePool", [X], {"kernel_shape": [3, 3], "auto_pad": "SAME_LOWER", "strides": [2, 2]}),
    ("GlobalAveragePool", [X], {}),
    ("GlobalMaxPool", [X], {}),
    ("Flatten", [X], {}),
    ("Flatten", [X], {"axis": 3}),
    ("Flatten", [X], {"axis": 0}),
    ("Reshape", [X, np.array([0, -1, 6], np.int64)], {}),
    ("Reshape", [X, np.array([3, 2, 0, 6], np.int64)], {}),
    ("Reshape", [X, np.array([-1], np.int64)], {}),
    ("Concat", [X, _f(2, 1, 7, 6), _f(2, 2, 7, 6)], {"axis": 1}),
    ("Concat", [X, X], {"axis": -1}),
    ("Transpose", [X], {}),
    ("Transpose", [X], {"perm": [0, 2, 3, 1]}),
    ("BatchNormalization", [X, _f(3), _f(3), _f(3), np.abs(_f(3)) + 0.1], {}),
    ("BatchNormalization", [X, _f(3), _f(3), _f(3), np.abs(_f(3)) + 0.1], {"epsilon": 1e-2}),
    ("Gemm", [_f(4, 5), _f(5, 3)], {}),
    ("Gemm", [_f(5, 4), _f(3, 5), _f(3)], {"transA": 1, "transB": 1, "alpha": 0.5, "beta": 2.0}),
    ("Gemm", [_f(4, 5), _f(5, 3), _f(4, 1)], {"beta": -1.0}),
    ("MatMul", [_f(4, 5), _f(5, 3)], {}),
    ("MatMul", [_f(2, 3, 4, 5), _f(5, 6)], {}),
    ("MatMul", [_f(5), _f(2, 5, 3)], {}),
]
# fmt: on


@pytest.mark.parametrize(
    ("op", "inputs", "attrs"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_host_op_matches_onnx_reference(op, inputs, attrs):
    expected = _run_onnx(op, inputs, attrs)
    got = np.asarray(HOST_OPS[op](list(inputs), dict(attrs))[0])
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_clip_bounds_as_opset6_attributes():
    expected = _run_onnx("Clip", [X], {"min": -0.3, "max": 0.4}, opset=6)
    got = HOST_OPS["Clip"]([X], {"min": -0.3, "max": 0.4})[0]
    np.testing.assert_allclose(got, expected)


def test_reshape_allowzero():
    x = np.zeros((0, 3), np.float32)
    shape = np.array([3, 0], np.int64)
    expected = _run_onnx("Reshape", [x, shape], {"allowzero": 1})
    got = HOST_OPS["Reshape"]([x, shape], {"allowzero": 1})[0]
    assert got.shape == expected.shape


def test_every_listed_op_is_tested():
    tested = {c[0] for c in CASES}
    assert tested >= set(core.OPS) - {"Squeeze", "Unsqueeze"}


def test_squeeze_unsqueeze():
    x = _f(1, 3, 1, 2)
    axes = np.array([0, 2], np.int64)
    np.testing.assert_array_equal(
        HOST_OPS["Squeeze"]([x, axes], {})[0], _run_onnx("Squeeze", [x, axes], {})
    )
    y = _f(3, 2)
    axes = np.array([0, -1], np.int64)
    np.testing.assert_array_equal(
        HOST_OPS["Unsqueeze"]([y, axes], {})[0], _run_onnx("Unsqueeze", [y, axes], {})
    )
