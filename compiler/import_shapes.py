"""Tensor shapes and types for the ONNX importer.

`resolve_input_shapes` gives every graph input a static shape (the model's, or the one the user
gave) and checks its element type (`INPUT_TYPES`: float32, int64, int32, bool); `infer_types`
runs ONNX shape inference
(`strict_mode=False, data_prop=True`) on a weight-free copy of the model, with the constants known
so far; `proto_dims`, `static_dims`, `dims_text` and `xdsl_tensor_type` read, check, show and
convert the dims it returns (`ELEMENT_TYPES`: ONNX element type -> xDSL element type).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper
from xdsl.dialects.builtin import TensorType, f16, f32, f64, i1, i8, i32, i64
from xdsl.ir import Attribute

from compiler.import_model import ModelImportError

__all__ = [
    "ELEMENT_TYPES",
    "INPUT_TYPES",
    "MAX_TENSOR_BYTES",
    "check_tensor_size",
    "SHAPE_INFERENCE_MAX_CONST_ELEMENTS",
    "dims_text",
    "infer_node_types",
    "one_node_model",
    "infer_types",
    "proto_dims",
    "resolve_input_shapes",
    "static_dims",
    "xdsl_tensor_type",
]

# Initializers above this many elements are hidden from shape inference (given as typed graph
# inputs instead), so it does not serialise the weights; shape arithmetic uses small tensors.
SHAPE_INFERENCE_MAX_CONST_ELEMENTS = 4096

_TP = onnx.TensorProto
ELEMENT_TYPES: dict[int, Attribute] = {
    _TP.FLOAT: f32,
    _TP.DOUBLE: f64,
    _TP.FLOAT16: f16,
    _TP.INT64: i64,
    _TP.INT32: i32,
    _TP.INT8: i8,
    _TP.BOOL: i1,
}

# The most bytes one tensor of the model may take (a graph input as declared or given with
# --input-shape, a computed tensor as inferred): the simulator allocates every tensor, so a
# larger one is refused by name before anything is allocated.
MAX_TENSOR_BYTES = 4 << 30


def check_tensor_size(dims: Sequence[int], elem_type: int, what: str) -> None:
    """`what` (a tensor, named) holds at most MAX_TENSOR_BYTES, its dims positive; else a
    ModelImportError (Python integers: a product past int64 is reported, not wrapped)."""
    if any(int(d) < 0 for d in dims):
        raise ModelImportError(f"{what} has a negative dimension {dims_text(dims)}")
    count = math.prod(int(d) for d in dims)
    try:
        itemsize = onnx.helper.tensor_dtype_to_np_dtype(elem_type).itemsize
    except Exception:
        itemsize = 4
    if count * itemsize > MAX_TENSOR_BYTES:
        raise ModelImportError(
            f"{what} has shape {dims_text(dims)}: {count * itemsize / 2**30:,.1f} GiB, more "
            f"than the {MAX_TENSOR_BYTES >> 30} GiB a tensor may take"
        )


# The element types a graph input may have: float32 activations, integer token ids and
# positions, bool masks.
INPUT_TYPES = (_TP.FLOAT, _TP.INT64, _TP.INT32, _TP.BOOL)


# --------------------------------------------------------------------------------------------
# Dims
# --------------------------------------------------------------------------------------------


def dims_text(dims: Sequence[int | str]) -> str:
    """`[1, batch, 224]`: dims as error messages show them."""
    return "[" + ", ".join(str(d) for d in dims) + "]"


def proto_dims(value_info: onnx.ValueInfoProto) -> list[int | str] | None:
    """The dims of a tensor value info: ints, or the symbolic name / '?' when dynamic."""
    tensor_type = value_info.type.tensor_type
    if not tensor_type.HasField("shape"):
        return None
    dims: list[int | str] = []
    for dim in tensor_type.shape.dim:
        if dim.HasField("dim_value") and dim.dim_value > 0:
            dims.append(dim.dim_value)
        else:
            dims.append(dim.dim_param or "?")
    return dims


def static_dims(dims: list[int | str] | None) -> list[int] | None:
    """`dims` as ints, or None when unknown or any dim is dynamic."""
    if dims is None or any(isinstance(d, str) for d in dims):
        return None
    return [int(d) for d in dims]


def xdsl_tensor_type(elem_type: int, dims: Sequence[int]) -> TensorType[Any]:
    """The xDSL tensor type of an ONNX element type and static dims (f32 for unknown types)."""
    return TensorType(ELEMENT_TYPES.get(elem_type, f32), list(dims))


# --------------------------------------------------------------------------------------------
# Graph inputs
# --------------------------------------------------------------------------------------------


def resolve_input_shapes(
    graph: onnx.GraphProto,
    graph_inputs: list[onnx.ValueInfoProto],
    input_shapes: dict[str, tuple[int, ...]] | None,
) -> dict[str, tuple[int, ...]]:
    """The static shape of every (non-initializer) graph input; checks element types."""
    given = dict(input_shapes or {})
    names = [vi.name for vi in graph_inputs]
    if "" in given:
        if len(names) != 1:
            raise ModelImportError(
                f"an input shape without a name needs a graph with one input; this one has "
                f"{len(names)} ({', '.join(names)}): give NAME=1x3x224x224"
            )
        if names[0] in given:
            raise ModelImportError(f"input shape for '{names[0]}' is given twice")
        given[names[0]] = given.pop("")
    for name in given:
        if name not in names:
            raise ModelImportError(
                f"input shape given for '{name}', which is not a graph input "
                f"(graph inputs: {', '.join(names) or 'none'})"
            )
    shapes: dict[str, tuple[int, ...]] = {}
    for vi in graph_inputs:
        elem = vi.type.tensor_type.elem_type
        if not vi.type.HasField("tensor_type") or elem not in INPUT_TYPES:
            kind = _TP.DataType.Name(elem) if vi.type.HasField("tensor_type") else "a non-tensor"
            allowed = ", ".join(_TP.DataType.Name(t) for t in INPUT_TYPES)
            raise ModelImportError(
                f"graph input '{vi.name}' has element type {kind}; graph inputs may be {allowed}"
            )
        dims = proto_dims(vi)
        if vi.name in given:
            shape = tuple(int(d) for d in given[vi.name])
            if dims is not None and len(dims) != len(shape):
                raise ModelImportError(
                    f"input shape {'x'.join(map(str, shape))} for '{vi.name}' has rank "
                    f"{len(shape)}, but the graph input has shape {dims_text(dims)}"
                )
            check_tensor_size(shape, elem, f"graph input '{vi.name}' (--input-shape)")
            shapes[vi.name] = shape
            continue
        if dims is None:
            raise ModelImportError(
                f"graph input '{vi.name}' has no shape; give --input-shape {vi.name}=1x3x224x224"
            )
        dynamic = [d for d in dims if isinstance(d, str)]
        if dynamic:
            hint = "x".join(str(d) if isinstance(d, int) else "1" for d in dims)
            raise ModelImportError(
                f"graph input '{vi.name}' has a dynamic dimension '{dynamic[0]}' "
                f"(shape {dims_text(dims)}); give --input-shape {vi.name}={hint}"
            )
        check_tensor_size(dims, elem, f"graph input '{vi.name}'")  # type: ignore[arg-type]
        shapes[vi.name] = tuple(int(d) for d in dims)
    return shapes


# --------------------------------------------------------------------------------------------
# Shape inference
# --------------------------------------------------------------------------------------------


def _set_shape(value_info: onnx.ValueInfoProto, elem_type: int, shape: Sequence[int]) -> None:
    tensor_type = value_info.type.tensor_type
    tensor_type.elem_type = elem_type
    tensor_type.ClearField("shape")
    tensor_type.shape.SetInParent()
    for d in shape:
        tensor_type.shape.dim.add().dim_value = int(d)


def infer_types(
    model: onnx.ModelProto,
    input_shapes: dict[str, tuple[int, ...]],
    constants: dict[str, np.ndarray],
) -> dict[str, tuple[int, list[int | str] | None]]:
    """Run ONNX shape inference on a weight-free copy of the model.

    `constants` (initializers and values folded so far) are passed as small initializers, or as
    typed graph inputs when large, so that inference never serialises the weights.
    Returns tensor name -> (ONNX element type, dims).
    """
    graph = model.graph
    light = onnx.ModelProto()
    light.ir_version = max(model.ir_version, 4)
    light.opset_import.extend(model.opset_import)
    lg = light.graph
    lg.name = graph.name
    # Nodes already folded are given by their values; keeping them would define names twice.
    lg.node.extend(
        node for node in graph.node if not all(out in constants for out in node.output if out)
    )
    for out in graph.output:
        # The declared output shapes are not trusted: `input_shapes` may change the batch size.
        vi = lg.output.add()
        vi.name = out.name
        if out.type.tensor_type.elem_type:
            vi.type.tensor_type.elem_type = out.type.tensor_type.elem_type
    declared = {vi.name: vi.type.tensor_type.elem_type for vi in graph.input}
    for name, shape in input_shapes.items():
        _set_shape(lg.input.add(), declared.get(name) or _TP.FLOAT, shape)
        lg.input[-1].name = name
    for name, array in constants.items():
        if array.size <= SHAPE_INFERENCE_MAX_CONST_ELEMENTS:
            lg.initializer.append(numpy_helper.from_array(array, name))
        else:
            vi = lg.input.add()
            vi.name = name
            _set_shape(vi, onnx.helper.np_dtype_to_tensor_dtype(array.dtype), array.shape)
    try:
        inferred = onnx.shape_inference.infer_shapes(light, strict_mode=False, data_prop=True)
    except Exception as exc:
        raise ModelImportError(f"shape inference failed: {str(exc).splitlines()[0]}") from None
    types: dict[str, tuple[int, list[int | str] | None]] = {}
    for vi in [*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input]:
        if vi.type.HasField("tensor_type"):
            types[vi.name] = (vi.type.tensor_type.elem_type, proto_dims(vi))
    return types


def one_node_model(
    node: onnx.NodeProto,
    inputs: Sequence[tuple[int, Sequence[int]] | np.ndarray | None],
    opsets: Sequence[onnx.OperatorSetIdProto],
    constants_as_inputs: bool = False,
) -> onnx.ModelProto:
    """A model of `node` alone: its inputs renamed in0, in1, ... (None: absent), each either a
    typed graph input ((ONNX element type, dims)) or a constant array, given as an initializer,
    or, with `constants_as_inputs`, as a typed graph input to feed (an evaluator's); its outputs
    out0, out1, ... The importer infers types (`infer_node_types`) and folds (`fold_node`) on it."""
    one = onnx.NodeProto()
    one.CopyFrom(node)
    graph = onnx.GraphProto()
    graph.name = "node"
    names = []
    for i, value in enumerate(inputs):
        if value is None:
            names.append("")
            continue
        name = f"in{i}"
        names.append(name)
        if isinstance(value, np.ndarray) and not constants_as_inputs:
            graph.initializer.append(numpy_helper.from_array(value, name))
            continue
        if isinstance(value, np.ndarray):
            value = (onnx.helper.np_dtype_to_tensor_dtype(value.dtype), value.shape)
        elem, dims = value
        vi = graph.input.add()
        vi.name = name
        _set_shape(vi, elem or _TP.FLOAT, dims)
    del one.input[:]
    one.input.extend(names)
    outputs = [f"out{i}" if out else "" for i, out in enumerate(node.output)]
    del one.output[:]
    one.output.extend(outputs)
    graph.node.append(one)
    for out in outputs:
        if out:
            graph.output.add().name = out
    return onnx.helper.make_model(graph, opset_imports=list(opsets))


def infer_node_types(
    node: onnx.NodeProto,
    inputs: Sequence[tuple[int, Sequence[int]] | np.ndarray | None],
    opsets: Sequence[onnx.OperatorSetIdProto],
) -> dict[str, tuple[int, list[int | str] | None]]:
    """ONNX shape inference of one node whose input types are known: (element type, static
    dims) for a computed tensor, the array for a constant (its values reach data propagation),
    None for an absent one. For the nodes the whole-model inference left without a static shape
    (a Reshape whose target shape was only folded at import, layers deep). Returns output name
    -> (ONNX element type, dims), empty when inference fails."""
    model = one_node_model(node, inputs, opsets)
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception:
        return {}
    renamed = {f"out{i}": out for i, out in enumerate(node.output) if out}
    types: dict[str, tuple[int, list[int | str] | None]] = {}
    for vi in list(inferred.graph.output) + list(inferred.graph.value_info):
        tensor_type = vi.type.tensor_type
        if tensor_type.elem_type and vi.name in renamed:
            types[renamed[vi.name]] = (tensor_type.elem_type, proto_dims(vi))
    return types
