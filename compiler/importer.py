"""ONNX model -> `onnx` dialect: one op per ONNX node, shapes inferred, weights as constants.

    module = import_onnx("model.onnx", input_shapes={"input": (1, 3, 224, 224)})

gives

    builtin.module {
      func.func @main(%0 : tensor<1x3x224x224xf32>) -> tensor<1x1000xf32>
          attributes {onnx.input_names = ["input"], onnx.output_names = ["output"]} {
        %1 = onnx.Constant {value = dense<...> : tensor<64x3x7x7xf32>, onnx_name = "conv1.weight",
                            onnx_outputs = ["conv1.weight"]} : () -> tensor<64x3x7x7xf32>
        %2 = onnx.Conv %0, %1 {..., onnx_name = "/conv1/Conv", onnx_outputs = ["/conv1/Conv_output_0"]}
            : (tensor<1x3x224x224xf32>, tensor<64x3x7x7xf32>) -> tensor<1x64x112x112xf32>
        ...

Choices made here:
- Graph inputs that are also initializers are constants, not function arguments.
- Initializers, `Constant` nodes and folded values become `onnx.Constant` ops, created once, just
  before their first use; float tensors are stored as f32, integer and bool tensors as i64.
- A node whose inputs are all constants (or that is the `Shape` of a tensor with a static shape)
  is evaluated at import time, unless it is a compute layer (Conv, Gemm, MatMul,
  BatchNormalization), which the accelerator should see. This folds the exporters' shape
  arithmetic (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) into one constant.
- Every node op carries `onnx_name` (node name, or `<OpType>_<index>` when the node has none)
  and `onnx_outputs` (its ONNX output tensor names).
- Shapes come from `onnx.shape_inference.infer_shapes(strict_mode=False, data_prop=True)`, run
  after `input_shapes` replaced the graph input shapes; every imported tensor must be static.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    BytesAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    FloatAttr,
    IntegerAttr,
    ModuleOp,
    NoneType,
    StringAttr,
    TensorType,
    f16,
    f32,
    f64,
    i1,
    i8,
    i32,
    i64,
)
from xdsl.ir import Attribute, Block, Region, SSAValue

from dialects.onnx import NODE_OPS, SUPPORTED_OPS, NoValueOp
from simulator.errors import AccelflowError

__all__ = ["ModelImportError", "import_onnx", "parse_input_shape", "parse_input_shapes"]

# Compute layers stay ops even when all their inputs are constants: the accelerator runs them.
NEVER_FOLDED: frozenset[str] = frozenset({"Conv", "Gemm", "MatMul", "BatchNormalization"})

# Initializers above this many elements are hidden from shape inference (given as typed graph
# inputs instead), so it does not serialise the weights; shape arithmetic uses small tensors.
_SHAPE_INFERENCE_MAX_CONST_ELEMENTS = 4096

_TP = onnx.TensorProto
_ELEMENT_TYPES: dict[int, Attribute] = {
    _TP.FLOAT: f32,
    _TP.DOUBLE: f64,
    _TP.FLOAT16: f16,
    _TP.INT64: i64,
    _TP.INT32: i32,
    _TP.INT8: i8,
    _TP.BOOL: i1,
}


class ModelImportError(AccelflowError):
    """The ONNX model cannot be imported (unreadable, unsupported op, dynamic shape, ...)."""


# --------------------------------------------------------------------------------------------
# Input shapes from the command line
# --------------------------------------------------------------------------------------------

_DIMS_RE = re.compile(r"^\d+(x\d+)*$")


def parse_input_shape(text: str) -> dict[str, tuple[int, ...]]:
    """Parse `--input-shape` text: `input=1x3x224x224`, several joined by commas, or `1x3x32x32`.

    A shape with no `NAME=` is returned under the key `""`, which `import_onnx` gives to the
    graph's only input.
    """
    shapes: dict[str, tuple[int, ...]] = {}
    parts = [part.strip() for part in text.split(",")]
    for part in parts:
        name, sep, dims = part.rpartition("=")
        name = name.strip()
        dims = dims.strip().lower()
        if (sep and not name) or not _DIMS_RE.match(dims):
            raise ModelImportError(
                f"bad input shape '{text}': expected NAME=1x3x224x224 "
                "(several separated by commas) or just 1x3x224x224"
            )
        shape = tuple(int(d) for d in dims.split("x"))
        if any(d <= 0 for d in shape):
            raise ModelImportError(f"bad input shape '{text}': dimensions must be positive")
        if not sep and len(parts) > 1:
            raise ModelImportError(
                f"bad input shape '{text}': name every input when giving several (NAME=1x3x224x224)"
            )
        if name in shapes:
            raise ModelImportError(f"bad input shape '{text}': input '{name}' is given twice")
        shapes[name] = shape
    return shapes


def parse_input_shapes(texts: Iterable[str]) -> dict[str, tuple[int, ...]]:
    """Merge several `--input-shape` options (the CLI's repeatable flag)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for text in texts:
        for name, shape in parse_input_shape(text).items():
            if name in shapes:
                raise ModelImportError(f"input shape for '{name or '<the input>'}' is given twice")
            shapes[name] = shape
    return shapes


# --------------------------------------------------------------------------------------------
# Loading and shapes
# --------------------------------------------------------------------------------------------


def load_model(model: str | Path | onnx.ModelProto) -> onnx.ModelProto:
    """The ModelProto of `model` (a path or a proto), or ModelImportError naming the file."""
    if isinstance(model, onnx.ModelProto):
        return model
    path = Path(model)
    if not path.is_file():
        raise ModelImportError(f"{path}: no such file")
    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # protobuf raises several unrelated types
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelImportError(f"{path.name}: not an ONNX model ({reason})") from None
    if proto.ir_version == 0 or not proto.HasField("graph"):
        raise ModelImportError(f"{path.name}: not an ONNX model (no ir_version or graph)")
    return proto


def _dims_text(dims: Sequence[int | str]) -> str:
    return "[" + ", ".join(str(d) for d in dims) + "]"


def _proto_dims(value_info: onnx.ValueInfoProto) -> list[int | str] | None:
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


def _resolve_input_shapes(
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
        if not vi.type.HasField("tensor_type") or elem != _TP.FLOAT:
            kind = _TP.DataType.Name(elem) if vi.type.HasField("tensor_type") else "a non-tensor"
            raise ModelImportError(
                f"graph input '{vi.name}' has element type {kind}; only float32 inputs are supported"
            )
        dims = _proto_dims(vi)
        if vi.name in given:
            shape = tuple(int(d) for d in given[vi.name])
            if dims is not None and len(dims) != len(shape):
                raise ModelImportError(
                    f"input shape {'x'.join(map(str, shape))} for '{vi.name}' has rank "
                    f"{len(shape)}, but the graph input has shape {_dims_text(dims)}"
                )
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
                f"(shape {_dims_text(dims)}); give --input-shape {vi.name}={hint}"
            )
        shapes[vi.name] = tuple(int(d) for d in dims)
    return shapes


def _set_shape(value_info: onnx.ValueInfoProto, elem_type: int, shape: Sequence[int]) -> None:
    tensor_type = value_info.type.tensor_type
    tensor_type.elem_type = elem_type
    tensor_type.ClearField("shape")
    tensor_type.shape.SetInParent()
    for d in shape:
        tensor_type.shape.dim.add().dim_value = int(d)


def _infer_types(
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
    for name, shape in input_shapes.items():
        _set_shape(lg.input.add(), _TP.FLOAT, shape)
        lg.input[-1].name = name
    for name, array in constants.items():
        if array.size <= _SHAPE_INFERENCE_MAX_CONST_ELEMENTS:
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
            types[vi.name] = (vi.type.tensor_type.elem_type, _proto_dims(vi))
    return types


# --------------------------------------------------------------------------------------------
# Constants and attributes
# --------------------------------------------------------------------------------------------


def _normalise_constant(array: np.ndarray, what: str) -> np.ndarray:
    """Floats as f32, integers and bools as i64, C-contiguous."""
    if np.issubdtype(array.dtype, np.floating):
        return np.asarray(array, dtype=np.float32, order="C")
    if np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_:
        return np.asarray(array, dtype=np.int64, order="C")  # (ascontiguousarray makes 0-d 1-d)
    raise ModelImportError(f"{what} has element type {array.dtype}, which is not supported")


def _dense_attr(array: np.ndarray) -> DenseIntOrFPElementsAttr:
    if array.dtype == np.float32:
        elem, little_endian = f32, array.astype("<f4", copy=False)
    else:
        elem, little_endian = i64, array.astype("<i8", copy=False)
    return DenseIntOrFPElementsAttr(
        TensorType(elem, array.shape), BytesAttr(little_endian.tobytes())
    )


def _constant_node_value(node: onnx.NodeProto, where: str) -> np.ndarray:
    """The value of an ONNX `Constant` node."""
    for attr in node.attribute:
        if attr.name == "value":
            return numpy_helper.to_array(attr.t)
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


def _convert_attribute(attr: onnx.AttributeProto, where: str) -> Attribute:
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
        return _dense_attr(_normalise_constant(numpy_helper.to_array(attr.t), where))
    raise ModelImportError(
        f"{where}: attribute '{attr.name}' has type {A.AttributeType.Name(kind)}, "
        "which is not supported"
    )


# --------------------------------------------------------------------------------------------
# Folding
# --------------------------------------------------------------------------------------------


def _fold(
    node: onnx.NodeProto,
    inputs: list[np.ndarray | None],
    opsets: Sequence[onnx.OperatorSetIdProto],
) -> list[np.ndarray]:
    """Evaluate one node on constant inputs (None = absent optional input)."""
    if node.op_type == "Identity":
        return [inputs[0]]  # type: ignore[list-item]
    from onnx.reference import ReferenceEvaluator

    feeds: dict[str, np.ndarray] = {}
    graph_inputs = []
    names = []
    for i, value in enumerate(inputs):
        if value is None:
            names.append("")
            continue
        name = f"in{i}"
        names.append(name)
        feeds[name] = value
        graph_inputs.append(
            onnx.helper.make_tensor_value_info(
                name, onnx.helper.np_dtype_to_tensor_dtype(value.dtype), value.shape
            )
        )
    outputs = [f"out{i}" if out else "" for i, out in enumerate(node.output)]
    one = onnx.NodeProto()
    one.CopyFrom(node)
    del one.input[:]
    one.input.extend(names)
    del one.output[:]
    one.output.extend(outputs)
    graph = onnx.helper.make_graph(
        [one],
        "fold",
        graph_inputs,
        [onnx.helper.make_empty_tensor_value_info(o) for o in outputs if o],
    )
    model = onnx.helper.make_model(graph, opset_imports=list(opsets))
    results = ReferenceEvaluator(model).run(None, feeds)
    return [np.asarray(r) for r in results]


def _shape_of(node: onnx.NodeProto, shape: Sequence[int]) -> np.ndarray:
    start, end = 0, None
    for attr in node.attribute:
        if attr.name == "start":
            start = attr.i
        elif attr.name == "end":
            end = attr.i
    return np.array(list(shape)[start:end], dtype=np.int64)


# --------------------------------------------------------------------------------------------
# The importer
# --------------------------------------------------------------------------------------------


def _tensor_type(elem_type: int, dims: Sequence[int]) -> TensorType[Any]:
    return TensorType(_ELEMENT_TYPES.get(elem_type, f32), list(dims))


def _static(dims: list[int | str] | None) -> list[int] | None:
    if dims is None or any(isinstance(d, str) for d in dims):
        return None
    return [int(d) for d in dims]


def _node_names(graph: onnx.GraphProto) -> list[str]:
    """The node names, with `<OpType>_<index>` for nodes that have none (unique)."""
    taken = {node.name for node in graph.node if node.name}
    names = []
    for index, node in enumerate(graph.node):
        name = node.name
        if not name:
            name = f"{node.op_type}_{index}"
            while name in taken:
                name += "_"
            taken.add(name)
        names.append(name)
    return names


class _Importer:
    def __init__(self, model: onnx.ModelProto, input_shapes: dict[str, tuple[int, ...]] | None):
        self.model = model
        self.graph = model.graph
        self.opsets = [o for o in model.opset_import if o.domain in ("", "ai.onnx")]
        initializer_names = {init.name for init in self.graph.initializer}
        self.graph_inputs = [vi for vi in self.graph.input if vi.name not in initializer_names]
        self.input_shapes = _resolve_input_shapes(self.graph, self.graph_inputs, input_shapes)
        # Known values: SSA values emitted so far, constant arrays, and materialised constants.
        self.values: dict[str, SSAValue] = {}
        self.constants: dict[str, np.ndarray] = {}
        self.constant_ops: dict[str, SSAValue] = {}
        self.block = Block(
            arg_types=[TensorType(f32, self.input_shapes[vi.name]) for vi in self.graph_inputs]
        )
        for vi, arg in zip(self.graph_inputs, self.block.args, strict=True):
            self.values[vi.name] = arg
        for init in self.graph.initializer:
            self.constants[init.name] = _normalise_constant(
                numpy_helper.to_array(init), f"initializer '{init.name}'"
            )
        self.types = _infer_types(model, self.input_shapes, self.constants)
        self.reinferred = False

    # -- values --------------------------------------------------------------------------

    def _constant(self, name: str) -> SSAValue:
        if name not in self.constant_ops:
            array = self.constants[name]
            op = NODE_OPS["Constant"](
                [],
                [TensorType(f32 if array.dtype == np.float32 else i64, array.shape)],
                {"value": _dense_attr(array), "onnx_outputs": ArrayAttr([StringAttr(name)])},
                onnx_name=name,
            )
            self.block.add_op(op)
            self.constant_ops[name] = op.results[0]
        return self.constant_ops[name]

    def _operand(self, name: str) -> SSAValue:
        if name == "":
            op = NoValueOp()
            self.block.add_op(op)
            return op.result
        if name in self.values:
            return self.values[name]
        return self._constant(name)

    def _static_shape(self, name: str) -> list[int] | None:
        if name in self.values:
            value_type = self.values[name].type
            return list(value_type.get_shape()) if isinstance(value_type, TensorType) else None
        if name in self.constants:
            return list(self.constants[name].shape)
        return _static(self.types.get(name, (0, None))[1])

    def _output_type(self, name: str, where: str) -> TensorType[Any]:
        elem, dims = self.types.get(name, (0, None))
        if _static(dims) is None and not self.reinferred:
            # Folding may have made shapes static that ONNX data propagation could not see.
            self.types = _infer_types(self.model, self.input_shapes, self.constants)
            self.reinferred = True
            elem, dims = self.types.get(name, (0, None))
        static = _static(dims)
        if static is None:
            shown = _dims_text(dims) if dims is not None else "unknown"
            raise ModelImportError(
                f"{where}: cannot infer a static shape for output '{name}' (shape {shown})"
            )
        return _tensor_type(elem or _TP.FLOAT, static)

    # -- nodes ---------------------------------------------------------------------------

    def _foldable_inputs(self, node: onnx.NodeProto) -> list[np.ndarray | None] | None:
        """The constant inputs of `node` if it can be folded, else None."""
        if node.op_type in NEVER_FOLDED or not node.input or node.domain not in ("", "ai.onnx"):
            return None
        if node.op_type == "Shape":
            shape = self._static_shape(node.input[0])
            return None if shape is None else [np.array(shape, dtype=np.int64)]
        if not all(name == "" or name in self.constants for name in node.input):
            return None
        return [self.constants[name] if name else None for name in node.input]

    def import_node(self, node: onnx.NodeProto, name: str) -> None:
        where = f"node '{name}' (op {node.op_type})"
        for input_name in node.input:
            if input_name and input_name not in self.values and input_name not in self.constants:
                raise ModelImportError(
                    f"{where}: input '{input_name}' is not produced by any node, "
                    "initializer or graph input"
                )
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            self.constants[node.output[0]] = _normalise_constant(
                _constant_node_value(node, where), where
            )
            return
        folded_inputs = self._foldable_inputs(node)
        if folded_inputs is not None:
            if node.op_type == "Shape":
                results = [_shape_of(node, folded_inputs[0].tolist())]
            else:
                try:
                    results = _fold(node, folded_inputs, self.opsets)
                except Exception as exc:
                    if node.op_type not in SUPPORTED_OPS:
                        raise ModelImportError(
                            f"{where}: could not evaluate it on constant inputs "
                            f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                        ) from None
                    results = None
            if results is not None:
                present = [out for out in node.output if out]
                for out, value in zip(present, results, strict=True):
                    self.constants[out] = _normalise_constant(value, where)
                return
        op_type = node.op_type
        if op_type not in SUPPORTED_OPS or node.domain not in ("", "ai.onnx"):
            shown = op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{op_type}"
            raise ModelImportError(
                f"node '{name}' (op {shown}) is not supported; supported ops: "
                + ", ".join(SUPPORTED_OPS)
            )
        operands = [self._operand(n) for n in node.input]
        outputs = list(node.output)
        while outputs and not outputs[-1]:
            outputs.pop()  # absent trailing optional outputs
        result_types: list[Attribute] = [
            self._output_type(out, where) if out else NoneType() for out in outputs
        ]
        attributes = {a.name: _convert_attribute(a, where) for a in node.attribute}
        attributes["onnx_outputs"] = ArrayAttr([StringAttr(out) for out in outputs])
        op = NODE_OPS[op_type](operands, result_types, attributes, onnx_name=name)
        self.block.add_op(op)
        for out, result in zip(outputs, op.results, strict=True):
            if out:
                self.values[out] = result

    def run(self) -> ModuleOp:
        for node, name in zip(self.graph.node, _node_names(self.graph), strict=True):
            self.import_node(node, name)
        returned = []
        for out in self.graph.output:
            if out.name not in self.values and out.name not in self.constants:
                raise ModelImportError(
                    f"graph output '{out.name}' is not produced by any node, initializer or graph input"
                )
            returned.append(self._operand(out.name))
        self.block.add_op(func.ReturnOp(*returned))
        function = func.FuncOp(
            "main",
            ([arg.type for arg in self.block.args], [value.type for value in returned]),
            Region(self.block),
        )
        function.attributes["onnx.input_names"] = ArrayAttr(
            [StringAttr(vi.name) for vi in self.graph_inputs]
        )
        function.attributes["onnx.output_names"] = ArrayAttr(
            [StringAttr(out.name) for out in self.graph.output]
        )
        return ModuleOp([function])


def import_onnx(
    model: str | Path | onnx.ModelProto,
    input_shapes: dict[str, tuple[int, ...]] | None = None,
) -> ModuleOp:
    """Import an ONNX model (a path or a `ModelProto`) as a module holding `func.func @main`.

    `input_shapes` maps graph input names to static shapes; it overrides the model's (for a
    dynamic dimension, or to change the batch size). The key `""` means the only input.
    Raises `ModelImportError` with a one-line message for anything the importer cannot handle.
    """
    return _Importer(load_model(model), input_shapes).run()
