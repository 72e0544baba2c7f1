"""Math, comparison and logic host operators (simulator/host_ops/__init__.py): Abs, Neg, Exp,
Log, Sqrt, Reciprocal, Pow, Mod, Erf, Floor, Ceil, Round, Sign, Sin, Cos, the activations Gelu,
HardSwish, HardSigmoid, LeakyRelu, PRelu, Elu, Selu, Softplus, the variadic Min, Max, Sum, Mean,
the comparisons Equal, Less, LessOrEqual, Greater, GreaterOrEqual, the logic Not, And, Or, Xor,
and Where, Cast, CastLike, Dropout, IsNaN.

Semantics are ONNX's for opsets 13 to 21, with multidirectional (numpy) broadcasting for the
binary and variadic ops and unidirectional broadcasting of PRelu's slope to X. Every op runs under
`jax.enablex64(True)` (scoped, as simulator/engine.py does): integer and bool tensors keep their
dtypes, float32 stays float32 (Python-float attributes are weakly typed and never promote it),
comparisons and IsNaN give bool; an op's output has the dtype of its (first) data input unless
ONNX says otherwise (Cast, CastLike, the comparisons, IsNaN, Dropout's mask).

Choices where the standard leaves room:

- Pow keeps the base's dtype. Integer base and integer exponent: exact integer power (wrapping on
  overflow, as numpy); a negative exponent gives the truncated real result: 0 for |base| > 1,
  +-1 for base +-1, and 0 for base 0 (ONNX and numpy leave that undefined; numpy refuses
  integers to negative powers). Integer base and float exponent: computed in float64 and
  truncated toward zero (as onnx.reference). Float base: computed in the base's dtype (float16 /
  bfloat16 in float32), the exponent cast to it.
- Mod: `fmod` 0 (the default) is Python's %, the result taking the divisor's sign; `fmod` 1 is
  C's fmod, the dividend's sign. Both are implemented for integers and floats (ONNX requires
  fmod=1 for floats; fmod=0 on floats is numpy's floor-mod, as onnx.reference). An integer
  modulo by zero gives 0 (as numpy).
- Cast: `to` is an onnx.TensorProto data type code (FLOAT, UINT8, INT8, UINT16, INT16, INT32,
  INT64, BOOL, FLOAT16, DOUBLE, UINT32, UINT64, BFLOAT16) or its name; anything else (STRING,
  the float8 / int4 types) is refused with a ValueError naming it, so `saturate` (float8 only) is
  ignored. Float to integer truncates toward zero (C); float to bool is `x != 0` (NaN is True).
  Out-of-range float to integer conversions are undefined in ONNX (C) and may differ from
  numpy's (XLA saturates where numpy wraps).
- Dropout is the inference op: output = input, and a second output, an all-True bool mask of the
  same shape, is always returned (a caller wanting one output ignores it). The ratio (input 1,
  or the pre-opset-12 attribute) matters only in training mode, which draws random numbers:
  a concrete True `training_mode` (input 2) with a non-zero ratio is refused (ValueError) rather
  than simulated wrongly.
- PRelu broadcasts the slope to X as the standard says (unidirectionally) and refuses anything
  else; onnx.reference also accepts a 1-D slope whose length matches exactly one axis of X.
- Softplus is log(1 + exp(x)) computed stably (logaddexp), as onnx.reference.
- Gelu (opset 20): `approximate` "none" is 0.5 x (1 + erf(x / sqrt 2)), "tanh" is
  0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))); another value is a ValueError.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import erf

from simulator.host_ops.core import HostOp, x64

Array = Any

# onnx.TensorProto data type codes -> (name, dtype) (the simulator does not import onnx).
_CAST_TYPES: dict[int, tuple[str, Any]] = {
    1: ("FLOAT", jnp.float32), 2: ("UINT8", jnp.uint8), 3: ("INT8", jnp.int8),
    4: ("UINT16", jnp.uint16), 5: ("INT16", jnp.int16), 6: ("INT32", jnp.int32),
    7: ("INT64", jnp.int64), 9: ("BOOL", jnp.bool_), 10: ("FLOAT16", jnp.float16),
    11: ("DOUBLE", jnp.float64), 12: ("UINT32", jnp.uint32), 13: ("UINT64", jnp.uint64),
    16: ("BFLOAT16", jnp.bfloat16),
}  # fmt: skip
CAST_DTYPES: dict[int, Any] = {code: dtype for code, (_, dtype) in _CAST_TYPES.items()}
_CAST_NAMES = {name: code for code, (name, _) in _CAST_TYPES.items()}


# -- helpers --------------------------------------------------------------------------------------


def _unary(fn: Callable[[Array], Array]) -> HostOp:
    """A one-input op under x64."""
    return x64(lambda inputs, attrs: [fn(jnp.asarray(inputs[0]))])


def _binary(fn: Callable[[Array, Array], Array]) -> HostOp:
    """A two-input op (multidirectional broadcasting) under x64."""
    return x64(lambda inputs, attrs: [fn(jnp.asarray(inputs[0]), jnp.asarray(inputs[1]))])


def _float_unary(fn: Callable[[Array], Array]) -> HostOp:
    """A one-input float op whose result keeps the input's dtype."""
    return _unary(lambda x: fn(x).astype(x.dtype))


def _optional(inputs: list[Any], i: int) -> Any:
    """Input `i`, or None when absent (beyond the list, or given as None)."""
    return inputs[i] if len(inputs) > i and inputs[i] is not None else None


def _text(attrs: dict[str, Any], name: str, default: str) -> str:
    """A string attribute (str or bytes), or `default`."""
    value = attrs.get(name, default)
    return value.decode() if isinstance(value, bytes) else str(value)


def _is_int(x: Array) -> bool:
    return bool(jnp.issubdtype(x.dtype, jnp.integer))


def _present(inputs: list[Any]) -> list[Array]:
    return [jnp.asarray(v) for v in inputs if v is not None]


# -- arithmetic -----------------------------------------------------------------------------------


def _pow(a: Array, b: Array) -> Array:
    """ONNX Pow: the base's dtype (see the module docstring for the integer cases)."""
    if _is_int(a):
        if _is_int(b):
            b = b.astype(jnp.int64)
            positive = jnp.power(a.astype(jnp.int64), jnp.maximum(b, 0))
            # trunc(a ** b) for b < 0: only bases +-1 give a non-zero integer.
            negative = jnp.where(a == 1, 1, jnp.where(a == -1, 1 - 2 * (b % 2), 0))
            return jnp.where(b < 0, negative, positive).astype(a.dtype)
        result = jnp.power(a.astype(jnp.float64), b.astype(jnp.float64))
        return jnp.trunc(result).astype(a.dtype)
    compute = jnp.promote_types(a.dtype, jnp.float32)
    return jnp.power(a.astype(compute), b.astype(compute)).astype(a.dtype)


@x64
def _mod(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    a, b = jnp.asarray(inputs[0]), jnp.asarray(inputs[1])
    if int(attrs.get("fmod", 0)):
        return [jnp.fmod(a, b)]
    return [jnp.mod(a, b)]


def _round(x: Array) -> Array:
    """Round half to even (ONNX Round), integers unchanged."""
    return x if _is_int(x) else jnp.round(x)


def _variadic(fn: Callable[[Array, Array], Array]) -> HostOp:
    """Min / Max / Sum: `fn` folded over the inputs (multidirectional broadcasting)."""

    @x64
    def run(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
        arrays = _present(inputs)
        return [functools.reduce(fn, arrays).astype(arrays[0].dtype)]

    return run


@x64
def _mean(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    arrays = _present(inputs)
    total = functools.reduce(jnp.add, arrays)
    return [(total / len(arrays)).astype(arrays[0].dtype)]


# -- activations ----------------------------------------------------------------------------------


@x64
def _gelu(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    approximate = _text(attrs, "approximate", "none")
    if approximate == "none":
        y = 0.5 * x * (1 + erf(x / math.sqrt(2.0)))
    elif approximate == "tanh":
        y = 0.5 * x * (1 + jnp.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    else:
        raise ValueError(f"Gelu: unknown approximate '{approximate}' (none, tanh)")
    return [y.astype(x.dtype)]


def _hard_sigmoid_of(x: Array, alpha: float, beta: float) -> Array:
    return jnp.clip(alpha * x + beta, 0, 1).astype(x.dtype)


@x64
def _hard_sigmoid(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    alpha, beta = float(attrs.get("alpha", 0.2)), float(attrs.get("beta", 0.5))
    return [_hard_sigmoid_of(x, alpha, beta)]


@x64
def _leaky_relu(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    alpha = float(attrs.get("alpha", 0.01))
    return [jnp.where(x > 0, x, alpha * x).astype(x.dtype)]


@x64
def _prelu(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    """Slope broadcast unidirectionally to X: the output has X's shape and dtype."""
    x, slope = jnp.asarray(inputs[0]), jnp.asarray(inputs[1])
    slope = jnp.broadcast_to(slope, x.shape)
    return [jnp.where(x > 0, x, x * slope).astype(x.dtype)]


@x64
def _elu(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    alpha = float(attrs.get("alpha", 1.0))
    return [jnp.where(x > 0, x, alpha * jnp.expm1(x)).astype(x.dtype)]


@x64
def _selu(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    x = jnp.asarray(inputs[0])
    alpha = float(attrs.get("alpha", 1.67326319217681884765625))
    gamma = float(attrs.get("gamma", 1.05070102214813232421875))
    return [(gamma * jnp.where(x > 0, x, alpha * jnp.expm1(x))).astype(x.dtype)]


# -- selection, casts -----------------------------------------------------------------------------


@x64
def _where(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    cond, x, y = (jnp.asarray(v) for v in inputs[:3])
    return [jnp.where(cond.astype(bool), x, y).astype(x.dtype)]


def cast_dtype(to: Any) -> Any:
    """The dtype of an onnx.TensorProto data type code (or its name); ValueError if unsupported."""
    code = _CAST_NAMES.get(to.upper(), to) if isinstance(to, str) else to
    try:
        return CAST_DTYPES[int(code)]
    except (KeyError, TypeError, ValueError):
        names = ", ".join(_CAST_NAMES)
        raise ValueError(f"Cast: unsupported data type {to!r} (supported: {names})") from None


@x64
def _cast(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    return [jnp.asarray(inputs[0]).astype(cast_dtype(attrs["to"]))]


@x64
def _cast_like(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    return [jnp.asarray(inputs[0]).astype(jnp.asarray(inputs[1]).dtype)]


@x64
def _dropout(inputs: list[Any], attrs: dict[str, Any]) -> list[Any]:
    """Inference Dropout: [input, all-True mask]; training mode with a non-zero ratio refused."""
    x = jnp.asarray(inputs[0])
    training = _optional(inputs, 2)
    if training is not None and bool(np.asarray(training)):
        ratio = _optional(inputs, 1)
        ratio = float(np.asarray(attrs.get("ratio", 0.5) if ratio is None else ratio))
        if ratio != 0.0:
            raise ValueError(
                f"Dropout in training mode (ratio {ratio}) is random; only inference is simulated"
            )
    return [x, jnp.ones(x.shape, dtype=bool)]


# -- the table ------------------------------------------------------------------------------------


def _compare(fn: Callable[[Array, Array], Array]) -> HostOp:
    return _binary(lambda a, b: fn(a, b).astype(bool))


OPS: dict[str, HostOp] = {
    "Abs": _unary(jnp.abs),
    "Neg": _unary(jnp.negative),
    "Exp": _float_unary(jnp.exp),
    "Log": _float_unary(jnp.log),
    "Sqrt": _float_unary(jnp.sqrt),
    "Reciprocal": _float_unary(jnp.reciprocal),
    "Pow": _binary(_pow),
    "Mod": _mod,
    "Erf": _float_unary(erf),
    "Floor": _unary(lambda x: x if _is_int(x) else jnp.floor(x)),
    "Ceil": _unary(lambda x: x if _is_int(x) else jnp.ceil(x)),
    "Round": _unary(_round),
    "Sign": _unary(jnp.sign),
    "Sin": _float_unary(jnp.sin),
    "Cos": _float_unary(jnp.cos),
    "Gelu": _gelu,
    "HardSwish": _unary(lambda x: x * _hard_sigmoid_of(x, 1 / 6, 0.5)),
    "HardSigmoid": _hard_sigmoid,
    "LeakyRelu": _leaky_relu,
    "PRelu": _prelu,
    "Elu": _elu,
    "Selu": _selu,
    "Softplus": _float_unary(lambda x: jnp.logaddexp(x, 0)),
    "Min": _variadic(jnp.minimum),
    "Max": _variadic(jnp.maximum),
    "Sum": _variadic(jnp.add),
    "Mean": _mean,
    "Equal": _compare(jnp.equal),
    "Less": _compare(jnp.less),
    "LessOrEqual": _compare(jnp.less_equal),
    "Greater": _compare(jnp.greater),
    "GreaterOrEqual": _compare(jnp.greater_equal),
    "Not": _unary(jnp.logical_not),
    "And": _binary(jnp.logical_and),
    "Or": _binary(jnp.logical_or),
    "Xor": _binary(jnp.logical_xor),
    "Where": _where,
    "Cast": _cast,
    "CastLike": _cast_like,
    "Dropout": _dropout,
    "IsNaN": _unary(jnp.isnan),
}
