"""Constant values for the ONNX importer: normalising, converting, and folding at import time.

`normalise_constant` stores float tensors as f32 and integer / bool tensors as i64;
`tensor_array` reads an ONNX tensor (float32 weights without a copy; `compiler.constant_pool`
makes IR attributes of them); `constant_node_value` reads an ONNX
`Constant` node; `convert_attribute` turns an ONNX node attribute into an xDSL attribute.
`fold_node` evaluates one node on constant inputs with ONNX's reference evaluator and `shape_of`
evaluates a `Shape` node on a static shape; `NEVER_FOLDED` lists the compute layers that stay
ops even when all their inputs are constant.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import numpy_helper
from xdsl.dialects.builtin import (
    DenseArrayBase,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    f32,
    i64,
)
from xdsl.ir import Attribute

from compiler import constant_pool
from compiler.import_model import ModelImportError
from compiler.import_shapes import one_node_model

__all__ = [
    "NEVER_FOLDED",
    "constant_node_value",
    "convert_attribute",
    "tensor_array",
    "fold_node",
    "normalise_constant",
    "shape_of",
]

# Compute layers stay ops even when all their inputs are constants: the accelerator runs them.
NEVER_FOLDED: frozenset[str] = frozenset({"Conv", "Gemm", "MatMul", "BatchNormalization"})


# --------------------------------------------------------------------------------------------
# Constants and attributes
# --------------------------------------------------------------------------------------------


def normalise_constant(array: np.ndarray, what: str) -> np.ndarray:
    """Floats as f32, integers and bools as i64, C-contiguous."""
    if np.issubdtype(array.dtype, np.floating):
        return np.asarray(array, dtype=np.float32, order="C")
    if np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_:
        return np.asarray(array, dtype=np.int64, order="C")  # (ascontiguousarray makes 0-d 1-d)
    raise ModelImportError(f"{what} has element type {array.dtype}, which is not supported")


def tensor_array(tensor: onnx.TensorProto) -> np.ndarray:
    """The value of an ONNX tensor: a read-only view of its raw bytes when they hold float32
    (the weights of nearly every model: no copy), else `numpy_helper.to_array`."""
    if tensor.data_type == onnx.TensorProto.FLOAT and tensor.HasField("raw_data"):
        raw = tensor.raw_data  # (each read of the field is a copy)
        if tensor.data_location != onnx.TensorProto.EXTERNAL and len(raw) == 4 * int(
            np.prod(tensor.dims, dtype=np.int64)
        ):
            return np.frombuffer(raw, dtype="<f4").reshape(tuple(tensor.dims))
    return numpy_helper.to_array(tensor)


def constant_node_value(node: onnx.NodeProto, where: str) -> np.ndarray:
    """The value of an ONNX `Constant` node."""
    for attr in node.attribute:
        if attr.name == "value":
            return tensor_array(attr.t)
        if attr.name == "value_float":
            return np.array(attr.f, dtype=np.float32)
        if attr.name == "value_floats":
            return np.array(list(attr.floats), dtype=np.float32)
        if attr.name == "value_int":
            return np.array(attr.i, dtype=np.int64)
        if attr.name == "value_ints":
            return np.array(list(attr.ints), dtype=np.int64)
    names = ", ".join(a.name for a in node.attribute) or "none"
    raise ModelImportError(f"{where}: unsupported Constant attribute ({names})")


def convert_attribute(attr: onnx.AttributeProto, where: str) -> Attribute:
    """An ONNX node attribute as an xDSL attribute (ints, floats, strings, their lists, tensors)."""
    kind = attr.type
    A = onnx.AttributeProto
    if attr.ref_attr_name:
        raise ModelImportError(f"{where}: attribute '{attr.name}' refers to a function attribute")
    if kind == A.INT:
        return IntegerAttr(attr.i, i64)
    if kind == A.FLOAT:
        return FloatAttr(attr.f, f32)
    if kind == A.STRING:
        return StringAttr(attr.s.decode("utf-8", errors="replace"))
    if kind == A.INTS:
        return DenseArrayBase.from_list(i64, list(attr.ints))
    if kind == A.FLOATS:
        return DenseArrayBase.from_list(f32, list(attr.floats))
    if kind == A.TENSOR:
        return constant_pool.attribute(normalise_constant(tensor_array(attr.t), where), attr.name)
    raise ModelImportError(
        f"{where}: attribute '{attr.name}' has type {A.AttributeType.Name(kind)}, "
        "which is not supported"
    )


# --------------------------------------------------------------------------------------------
# Folding
# --------------------------------------------------------------------------------------------


def fold_node(
    node: onnx.NodeProto,
    inputs: list[np.ndarray | None],
    opsets: Sequence[onnx.OperatorSetIdProto],
) -> list[np.ndarray]:
    """Evaluate one node on constant inputs (None = absent optional input)."""
    if node.op_type == "Identity":
        return [inputs[0]]  # type: ignore[list-item]
    from onnx.reference import ReferenceEvaluator

    model = one_node_model(node, inputs, opsets, constants_as_inputs=True)
    feeds = {f"in{i}": v for i, v in enumerate(inputs) if v is not None}
    results = ReferenceEvaluator(model).run(None, feeds)
    return [np.asarray(r) for r in results]


def shape_of(node: onnx.NodeProto, shape: Sequence[int]) -> np.ndarray:
    """The value of a `Shape` node (with its `start` / `end` attributes) on a static shape."""
    start, end = 0, None
    for attr in node.attribute:
        if attr.name == "start":
            start = attr.i
        elif attr.name == "end":
            end = attr.i
    return np.array(list(shape)[start:end], dtype=np.int64)
