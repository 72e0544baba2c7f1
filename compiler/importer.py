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

This module holds the node-by-node walk (`import_onnx`); its parts live beside it:
`compiler.import_model` (`ModelImportError`, `load_model`, the `--input-shape` parser),
`compiler.import_shapes` (graph input shapes, ONNX shape inference, dims -> tensor types) and
`compiler.import_constants` (constant arrays and attributes, folding, `NEVER_FOLDED`). The public
names of `import_model` and `NEVER_FOLDED` are re-exported here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, ModuleOp, NoneType, StringAttr, TensorType, f32, i64
from xdsl.ir import Attribute, Block, Region, SSAValue

from compiler import constant_pool
from compiler.import_constants import (
    NEVER_FOLDED,
    constant_node_value,
    convert_attribute,
    fold_node,
    normalise_constant,
    shape_of,
    tensor_array,
)
from compiler.import_model import (
    LoadedModel,
    ModelImportError,
    load_lean,
    load_model,
    parse_input_shape,
    parse_input_shapes,
)
from compiler.import_shapes import (
    ELEMENT_TYPES,
    check_tensor_size,
    dims_text,
    infer_node_types,
    infer_types,
    resolve_input_shapes,
    static_dims,
    xdsl_tensor_type,
)
from dialects.onnx import NODE_OPS, SUPPORTED_OPS, NoValueOp

__all__ = [
    "NEVER_FOLDED",
    "ModelImportError",
    "import_onnx",
    "load_model",
    "parse_input_shape",
    "parse_input_shapes",
]


# Ops that change a tensor's shape, never its number of elements.
_RESHAPES = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze"})


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
    """One import: the ONNX graph walked in order into the block of `func.func @main`."""

    def __init__(
        self,
        model: onnx.ModelProto,
        input_shapes: dict[str, tuple[int, ...]] | None,
        weights: dict[str, np.ndarray] | None = None,
    ):
        """`weights`: initializers whose values are not in `model` (`load_lean`)."""
        self.model = model
        self.graph = model.graph
        self.opsets = [o for o in model.opset_import if o.domain in ("", "ai.onnx")]
        initializer_names = {init.name for init in self.graph.initializer}
        self.graph_inputs = [vi for vi in self.graph.input if vi.name not in initializer_names]
        self.input_shapes = resolve_input_shapes(self.graph, self.graph_inputs, input_shapes)
        # Known values: SSA values emitted so far, constant arrays, and materialised constants.
        self.values: dict[str, SSAValue] = {}
        self.constants: dict[str, np.ndarray] = {}
        self.constant_ops: dict[str, SSAValue] = {}
        self.block = Block(
            arg_types=[
                xdsl_tensor_type(vi.type.tensor_type.elem_type, self.input_shapes[vi.name])
                for vi in self.graph_inputs
            ]
        )
        for vi, arg in zip(self.graph_inputs, self.block.args, strict=True):
            self.values[vi.name] = arg
        for init in self.graph.initializer:
            value = weights.get(init.name) if weights else None
            self.constants[init.name] = normalise_constant(
                tensor_array(init) if value is None else value, f"initializer '{init.name}'"
            )
        self.types = infer_types(model, self.input_shapes, self.constants)

    # -- values --------------------------------------------------------------------------

    def _constant(self, name: str) -> SSAValue:
        if name not in self.constant_ops:
            array = self.constants[name]
            op = NODE_OPS["Constant"](
                [],
                [TensorType(f32 if array.dtype == np.float32 else i64, array.shape)],
                {
                    "value": constant_pool.attribute(array, name),
                    "onnx_outputs": ArrayAttr([StringAttr(name)]),
                },
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
        return static_dims(self.types.get(name, (0, None))[1])

    def _element_type(self, name: str) -> int:
        """The ONNX element type of a computed value (from its xDSL type)."""
        value = self.values.get(name)
        element = (
            value.type.element_type
            if value is not None and isinstance(value.type, TensorType)
            else None
        )
        for onnx_type, xdsl_type in ELEMENT_TYPES.items():
            if element == xdsl_type:
                return onnx_type
        return onnx.TensorProto.FLOAT

    def _output_type(self, name: str, where: str, node: onnx.NodeProto) -> TensorType[Any]:
        elem, dims = self.types.get(name, (0, None))
        if static_dims(dims) is None:
            # Folding may have made shapes static that ONNX data propagation could not see:
            # infer this node alone, from its inputs' static types and constant values.
            inputs: list[Any] = []
            for n in node.input:
                if not n:
                    inputs.append(None)
                elif n in self.constants:
                    inputs.append(self.constants[n])
                else:
                    shape = self._static_shape(n)
                    kind = self.types.get(n, (0, None))[0] or self._element_type(n)
                    inputs.append(None if shape is None else (kind, shape))
            local = infer_node_types(node, inputs, self.model.opset_import).get(name)
            if local is not None and static_dims(local[1]) is not None:
                self.types[name] = local
                elem, dims = local
        static = static_dims(dims)
        if static is None:
            shown = dims_text(dims) if dims is not None else "unknown"
            raise ModelImportError(
                f"{where}: cannot infer a static shape for output '{name}' (shape {shown})"
            )
        check_tensor_size(static, elem or onnx.TensorProto.FLOAT, f"{where}: output '{name}'")
        return xdsl_tensor_type(elem or onnx.TensorProto.FLOAT, static)

    def _check_element_count(self, node: onnx.NodeProto, where: str, result: Any) -> None:
        """A node that only reshapes keeps its element count (ONNX shape inference does not
        check a Reshape whose target shape is a constant it reads: a wrong count would run)."""
        if node.op_type not in _RESHAPES or not node.input:
            return
        before = self._static_shape(node.input[0])
        after = list(result.get_shape()) if isinstance(result, TensorType) else None
        if before is None or after is None or int(np.prod(before)) == int(np.prod(after)):
            return
        raise ModelImportError(
            f"{where}: output '{node.output[0]}' has shape {after} "
            f"({int(np.prod(after))} elements) but input '{node.input[0]}' has shape "
            f"{before} ({int(np.prod(before))} elements)"
        )

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
            self.constants[node.output[0]] = normalise_constant(
                constant_node_value(node, where), where
            )
            return
        folded_inputs = self._foldable_inputs(node)
        if folded_inputs is not None:
            if node.op_type == "Shape":
                results = [shape_of(node, folded_inputs[0].tolist())]
            else:
                try:
                    results = fold_node(node, folded_inputs, self.opsets)
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
                    self.constants[out] = normalise_constant(value, where)
                return
        op_type = node.op_type
        if op_type not in SUPPORTED_OPS or node.domain not in ("", "ai.onnx"):
            shown = op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{op_type}"
            raise ModelImportError(
                f"node '{name}' (op {shown}) is not supported; the {len(SUPPORTED_OPS)} "
                "supported operators are listed in docs/ops.md (`python -m compiler.ops_doc`)"
            )
        operands = [self._operand(n) for n in node.input]
        outputs = list(node.output)
        while outputs and not outputs[-1]:
            outputs.pop()  # absent trailing optional outputs
        result_types: list[Attribute] = [
            self._output_type(out, where, node) if out else NoneType() for out in outputs
        ]
        if result_types:
            self._check_element_count(node, where, result_types[0])
        attributes = {a.name: convert_attribute(a, where) for a in node.attribute}
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
    model: str | Path | onnx.ModelProto | LoadedModel,
    input_shapes: dict[str, tuple[int, ...]] | None = None,
) -> ModuleOp:
    """Import an ONNX model (a path, a `ModelProto` or a `LoadedModel`) as a module holding
    `func.func @main`.

    `input_shapes` maps graph input names to static shapes; it overrides the model's (for a
    dynamic dimension, or to change the batch size). The key `""` means the only input.
    Raises `ModelImportError` with a one-line message for anything the importer cannot handle.
    """
    loaded = load_lean(model)
    return _Importer(loaded.proto, input_shapes, loaded.weights).run()
