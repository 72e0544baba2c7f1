"""simulator/host_ops/elementwise.py against ONNX's reference evaluator (`onnx.reference`), op by
op: values, shapes and dtypes, with broadcasting, rank-0 and empty tensors, int64 and bool inputs,
both forms of an attribute that became an input, and the opsets where an op changed. Cases the
reference cannot run (integer Pow with a negative exponent: numpy refuses it) are checked against
hand-computed values. Last, a small model using these ops compiled and simulated end to end.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx_reference import assert_same, run_onnx

import accelflow
from accelflow.api import random_inputs
from simulator.host_ops import HOST_OPS, elementwise

RNG = np.random.default_rng(0)


def _f(*shape: int, dtype: Any = np.float32) -> np.ndarray:
    return RNG.standard_normal(shape).astype(dtype)


def _pos(*shape: int) -> np.ndarray:
    return RNG.uniform(0.1, 3.0, shape).astype(np.float32)


def _i(low: int, high: int, *shape: int, dtype: Any = np.int64) -> np.ndarray:
    return RNG.integers(low, high, shape).astype(dtype)


def _b(*shape: int) -> np.ndarray:
    return RNG.integers(0, 2, shape).astype(bool)


def _a(values: Any, dtype: Any = np.int64) -> np.ndarray:
    return np.array(values, dtype)


def _case(op: str, inputs: list[Any], attrs: dict[str, Any] | None = None, opset: int = 17,
          outputs: int = 1, id: str = "") -> Any:  # fmt: skip
    return pytest.param(op, inputs, attrs or {}, opset, outputs, id=f"{op}-{id}" if id else op)


_check = assert_same  # tolerance rtol 1e-5, atol 1e-6


X = _f(2, 3, 4)
EMPTY = np.zeros((0, 3), np.float32)
SCALAR = np.array(-1.25, np.float32)
INTS = _i(-9, 10, 2, 3, 4)
TIES = _a([-2.5, -1.5, -0.5, 0.0, 0.5, 1.5, 2.5, 3.5, 0.49999997, -0.49999997], np.float32)
SPECIAL = _a([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.5], np.float32)

# -- unary math -----------------------------------------------------------------------------------

UNARY_FLOAT = ["Abs", "Neg", "Exp", "Erf", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos",
               "Softplus", "HardSwish", "IsNaN"]  # fmt: skip
POSITIVE_ONLY = ["Log", "Sqrt", "Reciprocal"]

# fmt: off
UNARY = [
    *[_case(op, [X], id="f32") for op in UNARY_FLOAT],
    *[_case(op, [SCALAR], id="rank0") for op in UNARY_FLOAT],
    *[_case(op, [EMPTY], id="empty") for op in UNARY_FLOAT + POSITIVE_ONLY],
    *[_case(op, [_f(3, 5, dtype=np.float64)], id="f64") for op in UNARY_FLOAT],
    *[_case(op, [_pos(2, 3, 4)], id="f32") for op in POSITIVE_ONLY],
    *[_case(op, [np.array(2.5, np.float32)], id="rank0") for op in POSITIVE_ONLY],
    *[_case(op, [_pos(4).astype(np.float64)], id="f64") for op in POSITIVE_ONLY],
    *[_case(op, [INTS], id="i64") for op in ("Abs", "Neg", "Sign")],
    *[_case(op, [_i(-9, 10, 7, dtype=np.int32)], id="i32") for op in ("Abs", "Neg", "Sign")],
    _case("Abs", [_a([0, 3, 250], np.uint8)], id="u8"),
    _case("Round", [TIES], id="half-to-even"),
    _case("Round", [TIES * 3], id="ties-scaled"),
    *[_case(op, [SPECIAL], id="special") for op in ("Abs", "Neg", "Floor", "Ceil", "Round",
                                                     "Sign", "IsNaN", "Exp")],
    _case("IsNaN", [_a([np.nan, 1.0, np.inf], np.float64)], id="f64-special"),
    _case("Exp", [_a([-100.0, 80.0, 100.0], np.float32)], id="overflow"),
    _case("Log", [_a([0.0, 1.0, 1e-30], np.float32)], id="zero"),
    _case("Erf", [_a([-5.0, -0.5, 0.0, 0.5, 5.0], np.float32)], id="tails"),
    _case("Softplus", [_a([-100.0, -20.0, 0.0, 20.0, 100.0], np.float32)], id="large"),
    _case("Abs", [X], opset=13, id="opset13"),
    _case("Neg", [INTS], opset=21, id="opset21"),
]

# -- activations ----------------------------------------------------------------------------------

X4 = _f(2, 3, 4, 5)
ACTIVATIONS = [
    _case("Gelu", [X], opset=20, id="default"),
    _case("Gelu", [X4 * 3], {"approximate": "none"}, opset=20, id="none"),
    _case("Gelu", [X4 * 3], {"approximate": "tanh"}, opset=20, id="tanh"),
    _case("Gelu", [SCALAR], {"approximate": "tanh"}, opset=20, id="rank0"),
    _case("Gelu", [EMPTY], opset=20, id="empty"),
    _case("Gelu", [_f(3, 4, dtype=np.float64)], {"approximate": "tanh"}, opset=20, id="f64"),
    _case("Gelu", [X], opset=21, id="opset21"),
    _case("HardSwish", [X4 * 5], id="wide"),
    _case("HardSwish", [_a([-3.0, -2.9, 0.0, 2.9, 3.0, 6.0], np.float32)], opset=14, id="knees"),
    _case("HardSigmoid", [X4 * 4], id="default"),
    _case("HardSigmoid", [X4 * 4], {"alpha": 0.5, "beta": 0.1}, id="attrs"),
    _case("HardSigmoid", [EMPTY], id="empty"),
    _case("LeakyRelu", [X4], id="default"),
    _case("LeakyRelu", [X4], {"alpha": 0.3}, id="alpha"),
    _case("LeakyRelu", [SCALAR], {"alpha": 2.0}, id="rank0"),
    _case("PRelu", [X4, _f(3, 1, 1)], id="channel"),
    _case("PRelu", [X4, _f(5)], id="last-axis"),
    _case("PRelu", [X4, _f(1)], id="one"),
    _case("PRelu", [X4, np.array(0.25, np.float32)], id="rank0-slope"),
    _case("PRelu", [X4, _f(2, 3, 4, 5)], id="full"),
    _case("PRelu", [X4, _f(1, 4, 1)], id="middle"),
    _case("PRelu", [_i(-9, 10, 3, 4), _i(1, 4, 4)], opset=16, id="i64"),
    _case("PRelu", [np.zeros((0, 4), np.float32), _f(4)], id="empty"),
    _case("Elu", [X4 * 3], id="default"),
    _case("Elu", [X4 * 3], {"alpha": 0.5}, id="alpha"),
    _case("Selu", [X4 * 3], id="default"),
    _case("Selu", [X4 * 3], {"alpha": 1.5, "gamma": 2.0}, id="attrs"),
    _case("Selu", [_f(6, dtype=np.float64)], id="f64"),
    _case("Softplus", [X4 * 10], id="wide"),
]

# -- binary arithmetic ----------------------------------------------------------------------------

ARITHMETIC = [
    _case("Pow", [X, np.array(2.0, np.float32)], id="square"),
    _case("Pow", [_pos(2, 3, 4), _f(3, 1)], id="broadcast"),
    _case("Pow", [_a([-2.0, -1.5, 0.0, 3.0], np.float32), np.float32(3.0)], id="negative-base"),
    _case("Pow", [_a([-2.0, 2.0, 0.5], np.float32), _a([-1.0, 0.5, -2.0], np.float32)],
          id="nan-and-negative-exponents"),
    _case("Pow", [X, _a([2, 3, 0, 1], np.int64)], id="float-int-exponent"),
    _case("Pow", [X, _a(3, np.int32)], id="float-i32-exponent"),
    _case("Pow", [_pos(5).astype(np.float64), _f(5)], id="f64-base"),
    _case("Pow", [_i(-5, 6, 3, 4), _i(0, 4, 4)], id="i64"),
    _case("Pow", [_i(-5, 6, 3, 4, dtype=np.int32), _i(0, 4, 4)], id="i32-i64"),
    _case("Pow", [_a([2, 3, 4, 7]), _a([0.5, 1.5, 2.0, 0.0], np.float32)], id="int-float-exponent"),
    _case("Pow", [_a([3, -3]), _a(40)], id="i64-overflow-wraps"),
    _case("Pow", [np.array(3, np.int64), np.array(4, np.int64)], id="rank0"),
    _case("Pow", [EMPTY, np.float32(2.0)], id="empty"),
    _case("Pow", [X, np.float32(0.5)], opset=13, id="opset13"),
    _case("Pow", [X, np.float32(-1.0)], opset=15, id="opset15"),
    _case("Mod", [_i(-20, 21, 3, 4), _a([3, -3, 7, -7])], id="i64-default"),
    _case("Mod", [_i(-20, 21, 3, 4), _a([3, -3, 7, -7])], {"fmod": 0}, id="i64-python"),
    _case("Mod", [_i(-20, 21, 3, 4), _a([3, -3, 7, -7])], {"fmod": 1}, id="i64-c"),
    _case("Mod", [_i(-20, 21, 12, dtype=np.int32), _a(-5, np.int32)], id="i32-rank0"),
    _case("Mod", [_i(-20, 21, 12, dtype=np.int32), _a(-5, np.int32)], {"fmod": 1}, id="i32-c"),
    _case("Mod", [_a([5, -5, 0]), _a([0, 3, 4])], id="by-zero"),
    _case("Mod", [X * 10, _a([3.0, -3.0, 0.7, -2.5], np.float32)], {"fmod": 1}, id="f32-c"),
    _case("Mod", [X * 10, _a([3.0, -3.0, 0.7, -2.5], np.float32)], {"fmod": 0}, id="f32-python"),
    _case("Mod", [_f(4, dtype=np.float64) * 10, np.float64(2.5)], {"fmod": 1}, id="f64"),
    _case("Mod", [np.zeros((0, 4), np.int64), _a([3, -3, 7, -7])], id="empty"),
    _case("Mod", [_a([7, -7]), _a([2, 2])], opset=13, id="opset13"),
]

# -- variadic -------------------------------------------------------------------------------------

VARIADIC = [
    *[_case(op, [X], id="one") for op in ("Min", "Max", "Sum", "Mean")],
    *[_case(op, [X, _f(3, 1)], id="two") for op in ("Min", "Max", "Sum", "Mean")],
    *[_case(op, [_f(4), X, _f(3, 1), np.float32(0.5)], id="four-broadcast")
      for op in ("Min", "Max", "Sum")],
    _case("Mean", [X, _f(4), _f(3, 1), np.float32(0.5)], id="four-broadcast"),
    *[_case(op, [INTS, _i(-9, 10, 4), np.int64(2)], id="i64") for op in ("Min", "Max", "Sum")],
    *[_case(op, [np.float32(1.5), np.float32(-2.0)], id="rank0")
      for op in ("Min", "Max", "Sum", "Mean")],
    *[_case(op, [EMPTY, _f(3)], id="empty") for op in ("Min", "Max", "Sum", "Mean")],
    *[_case(op, [_a([np.nan, 1.0], np.float32), _a([0.0, np.nan], np.float32)], id="nan")
      for op in ("Min", "Max")],
    _case("Mean", [_f(2, 4, dtype=np.float64), _f(4, dtype=np.float64)], id="f64"),
    _case("Sum", [_i(-9, 10, 5, dtype=np.int32), _i(-9, 10, 5, dtype=np.int32)], id="i32"),
    _case("Max", [X, _f(4)], opset=12, id="opset12"),
    _case("Min", [INTS, _a(0)], opset=13, id="opset13"),
    _case("Sum", [X, X], opset=21, id="opset21"),
]

# -- comparison and logic -------------------------------------------------------------------------

COMPARE_OPS = ["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"]
XR = np.round(X)
LOGIC_OPS = ["And", "Or", "Xor"]
LOGIC = [
    *[_case(op, [XR, np.round(_f(3, 1))], id="f32-broadcast") for op in COMPARE_OPS],
    *[_case(op, [INTS, _a([0, 1, -1, 5])], id="i64") for op in COMPARE_OPS],
    *[_case(op, [XR, np.float32(0.0)], id="rank0") for op in COMPARE_OPS],
    *[_case(op, [EMPTY, _f(3)], id="empty") for op in COMPARE_OPS],
    *[_case(op, [SPECIAL, _a([np.nan, np.inf, 0.0, -0.0, 0.0, 1.5], np.float32)], id="special")
      for op in COMPARE_OPS],
    *[_case(op, [INTS, np.int64(3)], opset=13, id="opset13") for op in COMPARE_OPS],
    _case("Equal", [_b(2, 3), _b(3)], id="bool"),
    _case("Equal", [XR, XR], opset=19, id="opset19"),
    _case("Less", [_i(0, 3, 4, dtype=np.int32), _i(0, 3, 4, dtype=np.int32)], id="i32"),
    _case("Not", [_b(2, 3, 4)]),
    _case("Not", [np.array(True)], id="rank0"),
    _case("Not", [np.zeros((0, 2), bool)], id="empty"),
    *[_case(op, [_b(2, 3, 4), _b(3, 1)], id="broadcast") for op in LOGIC_OPS],
    *[_case(op, [_b(5), np.array(True)], id="rank0") for op in LOGIC_OPS],
    *[_case(op, [np.zeros((2, 0), bool), _b(1, 1)], id="empty") for op in LOGIC_OPS],
]

# -- selection, casts, dropout --------------------------------------------------------------------

CAST_TARGETS = {
    "FLOAT": TensorProto.FLOAT, "FLOAT16": TensorProto.FLOAT16, "DOUBLE": TensorProto.DOUBLE,
    "INT8": TensorProto.INT8, "INT16": TensorProto.INT16, "INT32": TensorProto.INT32,
    "INT64": TensorProto.INT64, "UINT8": TensorProto.UINT8, "BOOL": TensorProto.BOOL,
    "UINT16": TensorProto.UINT16, "UINT32": TensorProto.UINT32, "UINT64": TensorProto.UINT64,
}
UNSIGNED = {"UINT8", "UINT16", "UINT32", "UINT64"}
TO_CAST = _a([-2.7, -1.5, -0.5, -0.0, 0.0, 0.4, 0.5, 1.5, 2.7, 100.9], np.float32)
SELECTION = [
    _case("Where", [X > 0, X, -X], id="same-shape"),
    _case("Where", [_b(3, 1), X, np.float32(0.0)], id="broadcast-rank0"),
    _case("Where", [np.array(True), _f(4), _f(3, 1)], id="rank0-cond"),
    _case("Where", [_b(4), INTS, _a(-1)], id="i64"),
    _case("Where", [_b(3), _b(2, 3), _b(1)], id="bool"),
    _case("Where", [np.zeros((0, 1), bool), _f(3), _f(1, 3)], id="empty"),
    _case("Where", [_b(4), _f(4, dtype=np.float64), _f(4, dtype=np.float64)], opset=16, id="f64"),
    *[_case("Cast", [np.abs(TO_CAST) if name in UNSIGNED else TO_CAST], {"to": to},
            id=f"f32-to-{name}") for name, to in CAST_TARGETS.items()],
    *[_case("Cast", [_a([-3, 0, 7, 300, -129])], {"to": to}, id=f"i64-to-{name}")
      for name, to in CAST_TARGETS.items() if name not in UNSIGNED],
    *[_case("Cast", [_b(2, 3)], {"to": to}, id=f"bool-to-{name}")
      for name, to in CAST_TARGETS.items()],
    _case("Cast", [_f(3, dtype=np.float64) * 1e3], {"to": TensorProto.FLOAT}, id="f64-to-f32"),
    _case("Cast", [_a([70000.0, -70000.0, 1e-9], np.float32)], {"to": TensorProto.FLOAT16},
          id="f16-overflow"),
    _case("Cast", [SPECIAL], {"to": TensorProto.BOOL}, id="special-to-bool"),
    _case("Cast", [np.float32(2.9)], {"to": TensorProto.INT64}, id="rank0"),
    _case("Cast", [EMPTY], {"to": TensorProto.INT64}, id="empty"),
    _case("Cast", [TO_CAST], {"to": TensorProto.INT32}, opset=13, id="opset13"),
    _case("Cast", [TO_CAST], {"to": TensorProto.INT32, "saturate": 1}, opset=19,
          id="opset19-saturate"),
    _case("Cast", [INTS], {"to": TensorProto.FLOAT}, opset=21, id="opset21"),
    _case("CastLike", [TO_CAST, _a([1])], id="f32-like-i64"),
    _case("CastLike", [INTS, np.float32(0.0)], id="i64-like-f32"),
    _case("CastLike", [SPECIAL, _b(1)], id="f32-like-bool"),
    _case("CastLike", [X, _f(2, dtype=np.float64)], id="f32-like-f64"),
    _case("CastLike", [_b(2, 2), _a([1], np.uint8)], id="bool-like-u8"),
    _case("CastLike", [EMPTY, _a([1], np.int32)], id="empty"),
    _case("CastLike", [TO_CAST, _a([1], np.int8)], opset=15, id="opset15"),
    _case("CastLike", [TO_CAST, _a([1], np.int16)], opset=21, id="opset21"),
    _case("Dropout", [X], opset=13, id="one-output"),
    _case("Dropout", [X], opset=13, outputs=2, id="mask"),
    _case("Dropout", [X, np.float32(0.3)], opset=13, outputs=2, id="ratio-input"),
    _case("Dropout", [X, np.float32(0.3), np.array(False)], opset=13, outputs=2,
          id="inference-mode"),
    _case("Dropout", [X, None, np.array(False)], opset=13, outputs=2, id="no-ratio"),
    _case("Dropout", [X, np.float32(0.0), np.array(True)], opset=13, outputs=2,
          id="training-ratio0"),
    _case("Dropout", [INTS.astype(np.float64)], opset=21, outputs=2, id="f64-opset21"),
    _case("Dropout", [EMPTY], opset=13, outputs=2, id="empty"),
    _case("Dropout", [X], {"ratio": 0.3}, opset=10, outputs=2, id="ratio-attribute"),
]
# fmt: on

ALL_CASES = UNARY + ACTIVATIONS + ARITHMETIC + VARIADIC + LOGIC + SELECTION


@pytest.mark.parametrize(("op", "inputs", "attrs", "opset", "outputs"), ALL_CASES)
def test_matches_onnx_reference(
    op: str, inputs: list[Any], attrs: dict[str, Any], opset: int, outputs: int
) -> None:
    with np.errstate(all="ignore"):
        want = run_onnx(op, inputs, attrs, opset=opset, outputs=outputs)
    got = elementwise.OPS[op](list(inputs), dict(attrs))
    assert len(got) >= len(want)
    for g, w in zip(got, want, strict=False):
        _check(g, w)


EXPECTED_OPS = {
    "Abs", "Neg", "Exp", "Log", "Sqrt", "Reciprocal", "Pow", "Mod", "Erf", "Floor", "Ceil",
    "Round", "Sign", "Sin", "Cos", "Gelu", "HardSwish", "HardSigmoid", "LeakyRelu", "PRelu",
    "Elu", "Selu", "Softplus", "Min", "Max", "Sum", "Mean", "Equal", "Less", "LessOrEqual",
    "Greater", "GreaterOrEqual", "Not", "And", "Or", "Xor", "Where", "Cast", "CastLike",
    "Dropout", "IsNaN",
}  # fmt: skip


def test_ops_table() -> None:
    assert set(elementwise.OPS) == EXPECTED_OPS
    for op, fn in elementwise.OPS.items():
        assert HOST_OPS[op] is fn


def test_every_op_is_checked_against_the_reference() -> None:
    assert {case.values[0] for case in ALL_CASES} == EXPECTED_OPS


def test_mean_first_input_smaller_than_the_result() -> None:
    """onnx.reference's Mean adds in place into a copy of the first input, which fails when that
    one is not the broadcast shape: compared with the reference on the inputs reordered."""
    inputs = [_f(4), X, _f(3, 1)]
    want = run_onnx("Mean", [inputs[1], inputs[0], inputs[2]], {})[0]
    _check(elementwise.OPS["Mean"](inputs, {})[0], want)


def test_integer_pow_negative_exponent() -> None:
    """numpy (so onnx.reference) refuses it: the truncated real result, 0 for base 0."""
    base = _a([2, -2, 1, -1, -1, 0, 5, 3])
    exponent = _a([-1, -3, -4, -3, -2, -1, 0, 2])
    (got,) = elementwise.OPS["Pow"]([base, exponent], {})
    _check(got, _a([0, 0, 1, -1, 1, 0, 1, 9]))
    (got32,) = elementwise.OPS["Pow"]([base.astype(np.int32), exponent], {})
    _check(got32, _a([0, 0, 1, -1, 1, 0, 1, 9], np.int32))


def test_float_to_int_cast_truncates_toward_zero() -> None:
    (got,) = elementwise.OPS["Cast"]([TO_CAST], {"to": TensorProto.INT32})
    _check(got, _a([-2, -1, 0, 0, 0, 0, 0, 1, 2, 100], np.int32))


def test_cast_by_name_and_bfloat16() -> None:
    (got,) = elementwise.OPS["Cast"]([INTS], {"to": "DOUBLE"})
    _check(got, INTS.astype(np.float64))
    (bf16,) = elementwise.OPS["Cast"]([X], {"to": TensorProto.BFLOAT16})
    want = run_onnx("Cast", [X], {"to": TensorProto.BFLOAT16})[0]
    assert np.asarray(bf16).dtype == want.dtype
    np.testing.assert_array_equal(np.asarray(bf16).astype(np.float32), want.astype(np.float32))


def test_cast_refuses_unsupported_types() -> None:
    with pytest.raises(ValueError, match="unsupported data type"):
        elementwise.OPS["Cast"]([X], {"to": TensorProto.STRING})
    with pytest.raises(ValueError, match="unsupported data type"):
        elementwise.OPS["Cast"]([X], {"to": TensorProto.FLOAT8E4M3FN})


def test_dropout_always_returns_the_mask_and_refuses_training() -> None:
    out, mask = elementwise.OPS["Dropout"]([X], {})
    _check(out, X)
    _check(mask, np.ones(X.shape, bool))
    with pytest.raises(ValueError, match="training mode"):
        elementwise.OPS["Dropout"]([X, np.float32(0.5), np.array(True)], {})
    with pytest.raises(ValueError, match="training mode"):
        elementwise.OPS["Dropout"]([X, None, np.array(True)], {})


def test_gelu_unknown_approximation() -> None:
    with pytest.raises(ValueError, match="approximate"):
        elementwise.OPS["Gelu"]([X], {"approximate": "erf"})


def test_gelu_approximate_as_bytes() -> None:
    want = run_onnx("Gelu", [X], {"approximate": "tanh"}, opset=20)[0]
    _check(elementwise.OPS["Gelu"]([X], {"approximate": b"tanh"})[0], want)


# -- end to end -----------------------------------------------------------------------------------


def _elementwise_model() -> onnx.ModelProto:
    """x [1, 4, 8] -> MatMul W -> Gelu -> HardSwish -> h; Where(h > 0, h, -h) ** 2 (opset 20)."""
    rng = np.random.default_rng(1)
    w = (rng.standard_normal((8, 8)) / np.sqrt(8)).astype(np.float32)
    inits = [
        numpy_helper.from_array(w, "W"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        numpy_helper.from_array(np.array(2.0, np.float32), "two"),
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["mm"], name="/mm"),
        helper.make_node("Gelu", ["mm"], ["gelu"], name="/gelu"),
        helper.make_node("HardSwish", ["gelu"], ["h"], name="/hswish"),
        helper.make_node("Greater", ["h", "zero"], ["positive"], name="/gt"),
        helper.make_node("Neg", ["h"], ["neg"], name="/neg"),
        helper.make_node("Where", ["positive", "h", "neg"], ["abs"], name="/where"),
        helper.make_node("Pow", ["abs", "two"], ["y"], name="/pow"),
    ]
    graph = helper.make_graph(
        nodes,
        "elementwise",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    onnx.checker.check_model(model)
    return model


def test_model_end_to_end() -> None:
    model = _elementwise_model()
    result = accelflow.compile(model, target="tpu-like")
    inputs = random_inputs(result.program, seed=2)
    inputs = {name: value * 3 for name, value in inputs.items()}  # reach both HardSwish knees
    sim = accelflow.simulate(result.program, result.target, functional=True, inputs=inputs)
    y = np.asarray(sim.outputs["y"])
    assert y.shape == (1, 4, 8) and y.dtype == np.float32
    report = accelflow.check(model, inputs, {"y": y}, rtol=1e-5, reference="onnx")
    assert report.ok, report.worst()
    want = accelflow.api.reference_outputs(model, inputs, ["y"])["y"]
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
