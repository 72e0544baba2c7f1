"""The `onnx` dialect: one op per ONNX node, 1:1 with the model file (xDSL 0.74 ships none).

    func.func @main(%input: tensor<1x3x32x32xf32>) -> tensor<1x10xf32>
        attributes {onnx.input_names = ["input"], onnx.output_names = ["logits"]} {
      %w = onnx.Constant {onnx_name = "conv1.weight", value = dense<...> : tensor<8x3x3x3xf32>} : () -> tensor<8x3x3x3xf32>
      %y = onnx.Conv %input, %w {onnx_name = "/conv1/Conv", pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<1x3x32x32xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x32x32xf32>
      ...
    }

Every node op has variadic operands and results; the node's ONNX attributes are kept as the op's
attributes under their ONNX names (ints -> i64 `IntegerAttr`, floats -> f32 `FloatAttr`,
strings -> `StringAttr`, int lists -> `DenseArrayBase` of i64, float lists -> of f32), plus
`onnx_name` (the node name, or the initializer name for weights). An absent optional input
(ONNX's empty name) is the result of `onnx.NoValue`. Weights and `Constant` nodes are
`onnx.Constant` ops whose `value` is a dense elements attribute; results are ranked tensors
whose shapes come from ONNX shape inference.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import NoneType, StringAttr
from xdsl.ir import Attribute, Dialect, Operation, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    result_def,
    var_operand_def,
    var_result_def,
)

# The ONNX operator types the importer accepts; each becomes `onnx.<OpType>`.
SUPPORTED_OPS: tuple[str, ...] = (
    "Abs",
    "Add",
    "And",
    "ArgMax",
    "ArgMin",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "CastLike",
    "Ceil",
    "Clip",
    "Concat",
    "Constant",
    "ConstantOfShape",
    "Conv",
    "ConvTranspose",
    "Cos",
    "CumSum",
    "DepthToSpace",
    "Div",
    "Dropout",
    "Einsum",
    "Elu",
    "Equal",
    "Erf",
    "Exp",
    "Expand",
    "Flatten",
    "Floor",
    "Gather",
    "GatherElements",
    "GatherND",
    "Gelu",
    "Gemm",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "Greater",
    "GreaterOrEqual",
    "GroupNormalization",
    "HardSigmoid",
    "HardSwish",
    "Identity",
    "InstanceNormalization",
    "IsNaN",
    "LayerNormalization",
    "LeakyRelu",
    "Less",
    "LessOrEqual",
    "Log",
    "LogSoftmax",
    "MatMul",
    "Max",
    "MaxPool",
    "Mean",
    "Min",
    "Mod",
    "Mul",
    "Neg",
    "Not",
    "OneHot",
    "Or",
    "PRelu",
    "Pad",
    "Pow",
    "Range",
    "Reciprocal",
    "ReduceL2",
    "ReduceMax",
    "ReduceMean",
    "ReduceMin",
    "ReduceProd",
    "ReduceSum",
    "ReduceSumSquare",
    "Relu",
    "Reshape",
    "Resize",
    "Round",
    "ScatterElements",
    "ScatterND",
    "Selu",
    "Shape",
    "Sigmoid",
    "Sign",
    "Sin",
    "Size",
    "Slice",
    "Softmax",
    "Softplus",
    "SpaceToDepth",
    "Split",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Sum",
    "Tanh",
    "Tile",
    "Transpose",
    "Trilu",
    "Unsqueeze",
    "Where",
    "Xor",
)


class OnnxNodeOp(IRDLOperation):
    """Base of the per-op-type classes: inputs, outputs, ONNX attributes in the attr-dict."""

    inputs = var_operand_def()
    outputs = var_result_def()

    assembly_format = "$inputs attr-dict `:` functional-type($inputs, $outputs)"

    def __init__(
        self,
        inputs: Sequence[SSAValue | Operation],
        result_types: Sequence[Attribute],
        attributes: dict[str, Attribute] | None = None,
        onnx_name: str | StringAttr | None = None,
    ):
        attributes = dict(attributes or {})
        if onnx_name is not None:
            attributes["onnx_name"] = (
                StringAttr(onnx_name) if isinstance(onnx_name, str) else onnx_name
            )
        super().__init__(
            operands=[list(inputs)], result_types=[list(result_types)], attributes=attributes
        )

    @property
    def op_type(self) -> str:
        return self.name.split(".", 1)[1]

    @property
    def onnx_name(self) -> str:
        attr = self.attributes.get("onnx_name")
        return attr.data if isinstance(attr, StringAttr) else ""


def _node_op(op_type: str) -> type[OnnxNodeOp]:
    cls = type(
        f"{op_type}Op",
        (OnnxNodeOp,),
        {
            "name": f"onnx.{op_type}",
            "__doc__": f"The ONNX `{op_type}` operator.",
            "__module__": __name__,
        },
    )
    return irdl_op_definition(cls)


NODE_OPS: dict[str, type[OnnxNodeOp]] = {op: _node_op(op) for op in SUPPORTED_OPS}
globals().update({cls.__name__: cls for cls in NODE_OPS.values()})


@irdl_op_definition
class NoValueOp(IRDLOperation):
    """An absent optional input (ONNX's empty input name)."""

    name = "onnx.NoValue"

    result = result_def(NoneType)

    assembly_format = "attr-dict"

    def __init__(self):
        super().__init__(result_types=[NoneType()])


ONNX = Dialect("onnx", [*NODE_OPS.values(), NoValueOp], [])
