"""The `accel` dialect: accelerator layers, their mappings, and buffer-level tiling.

Layer level (after `onnx-to-accel`), mapping level (after `accel-map`):

    builtin.module attributes {accel.target = #accel.target<"tpu-like", {arch = "systolic", rows = 32, ...}>} {
      func.func @main(%x: tensor<1x3x32x32xf32>) -> tensor<1x8x32x32xf32> {
        %w = accel.constant {tensor_name = "conv1.weight", value = dense<...> : tensor<8x3x3x3xf32>} : tensor<8x3x3x3xf32>
        %y = accel.conv2d %x, %w {layer_name = "/conv1/Conv", strides = array<i64: 1, 1>,
               pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64,
               mapping = #accel.mapping<ws, tiles {n = 1, g = 1, k = 8, ...}, order [g, k, c, ...], spatial {c = rows 3, k = cols 8}, double_buffer, directives "...">}
               : (tensor<1x3x32x32xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x32x32xf32>
        %z = accel.host "Relu" %y {layer_name = "/relu/Relu"} : (tensor<1x8x32x32xf32>) -> tensor<1x8x32x32xf32>
        func.return %z : tensor<1x8x32x32xf32>
      }
    }

Tile level (after `accel-tile`): each layer becomes an `accel.tiled` op whose body is the loop nest
over buffer-level tiles with the loads, the compute and the stores placed where the mapping's loop
order puts them (a load sits in the innermost loop its operand depends on, so reuse is visible):

    %y = accel.tiled "conv2d" %x, %w {layer_name = ..., dims = {...}, mapping = #accel.mapping<ws, spatial {c = rows 3, k = cols 8}>, ...} {
      accel.tile_for "k" tile 16 extent 64 {
        accel.tile_load "weight" double_buffer = true
        accel.tile_for "y" tile 8 extent 32 {
          accel.tile_load "input" double_buffer = true
          accel.tile_compute
          accel.tile_store "output" double_buffer = true
        }
      }
    } : (...) -> tensor<...>

The body IS the layer's program (compiler/loop_nest.py gives the semantics): `accel-emit` lowers
it op by op. A dim without a loop is not tiled (its tile is the whole extent); the loop order is
the nesting; the `#accel.mapping` of an `accel.tiled` keeps only what the body does not say (the
dataflow and the spatial unroll), and that of the `accel_isa.layer` it lowers to is the complete
mapping the body implements.

Values that travel with the ops: `layer_name` (the ONNX node name) and, on every op that
produces tensors, `onnx_outputs` (the ONNX tensor names of its results) when known.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from xdsl.dialects.builtin import (
    I64,
    BoolAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    DictionaryAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    i64,
)
from xdsl.ir import Attribute, Dialect, Operation, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_op_definition,
    opt_prop_def,
    prop_def,
    region_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import NoTerminator
from xdsl.utils.exceptions import VerifyException

from dialects.accel_attrs import DATAFLOWS as DATAFLOWS  # the attributes and value helpers,
from dialects.accel_attrs import MappingAttr as MappingAttr  # re-exported as accel.X
from dialects.accel_attrs import TargetAttr as TargetAttr
from dialects.accel_attrs import from_attr as from_attr
from dialects.accel_attrs import i64_array as i64_array
from dialects.accel_attrs import to_attr as to_attr
from simulator.program import LAYER_KINDS as LAYER_KINDS  # re-exported as accel.X
from simulator.workload import OPERANDS as OPERANDS
from simulator.workload import ShapeError, matmul_batch

# The keys of a tile-level #accel.mapping (besides the dataflow): tiles, loop order and double
# buffering are the accel.tiled body's.
TILE_LEVEL_MAPPING_KEYS = ("spatial",)


# --- layer-level ops -------------------------------------------------------------------------


@irdl_op_definition
class ConstantOp(IRDLOperation):
    """A constant tensor (weights, biases, shapes), named after its ONNX tensor.

    Its value is a dense elements attribute, or `dense_resource<__elided__>` in IR written with
    large constants elided: such a module still compiles and simulates for timing, but cannot
    fold values (BatchNormalization) nor compute outputs."""

    name = "accel.constant"

    value = prop_def(DenseIntOrFPElementsAttr | DenseResourceAttr)
    tensor_name = prop_def(StringAttr)
    result = result_def(TensorType)

    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "attr-dict `:` type($result)"

    def __init__(
        self, value: DenseIntOrFPElementsAttr | DenseResourceAttr, tensor_name: str | StringAttr
    ):
        if isinstance(tensor_name, str):
            tensor_name = StringAttr(tensor_name)
        super().__init__(
            properties={"value": value, "tensor_name": tensor_name}, result_types=[value.type]
        )

    def verify_(self) -> None:
        if self.value.type != self.result.type:
            raise VerifyException(
                f"constant '{self.tensor_name.data}': value type {self.value.type} differs "
                f"from result type {self.result.type}"
            )


def _shape(value: SSAValue) -> tuple[int, ...]:
    assert isinstance(value.type, TensorType)
    return tuple(value.type.get_shape())


def _ints(attr: DenseArrayBase) -> tuple[int, ...]:
    return tuple(int(v) for v in attr.get_values())


class LayerOp(IRDLOperation):
    """Common accessors of the accelerator layers."""

    layer_name = prop_def(StringAttr)
    mapping = opt_prop_def(MappingAttr)

    @property
    def kind(self) -> str:
        return self.name.split(".", 1)[1]


@irdl_op_definition
class Conv2DOp(LayerOp):
    """A 2-D convolution (NCHW, weights [G*K, C, R, S]) with groups, stride, dilation, pads."""

    name = "accel.conv2d"

    input = var_operand_def(TensorType)  # [input, weight] or [input, weight, bias]
    output = result_def(TensorType)

    strides = prop_def(DenseArrayBase[I64])
    pads = prop_def(DenseArrayBase[I64])
    dilations = prop_def(DenseArrayBase[I64])
    group = prop_def(IntegerAttr[I64])

    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$input attr-dict `:` functional-type($input, $output)"

    def __init__(
        self,
        operands: Sequence[SSAValue | Operation],
        result_type: Attribute,
        layer_name: str,
        strides: Sequence[int] = (1, 1),
        pads: Sequence[int] = (0, 0, 0, 0),
        dilations: Sequence[int] = (1, 1),
        group: int = 1,
        mapping: MappingAttr | None = None,
    ):
        super().__init__(
            operands=[list(operands)],
            result_types=[result_type],
            properties={
                "layer_name": StringAttr(layer_name),
                "strides": i64_array(strides),
                "pads": i64_array(pads),
                "dilations": i64_array(dilations),
                "group": IntegerAttr(group, i64),
                "mapping": mapping,
            },
        )

    def verify_(self) -> None:
        name = self.layer_name.data
        if len(self.input) not in (2, 3):
            raise VerifyException(f"conv2d '{name}': expected input, weight[, bias] operands")
        x, w = _shape(self.input[0]), _shape(self.input[1])
        if len(x) != 4 or len(w) != 4:
            raise VerifyException(f"conv2d '{name}': input and weight must be rank 4 (NCHW, KCRS)")
        strides, pads, dil = _ints(self.strides), _ints(self.pads), _ints(self.dilations)
        if len(strides) != 2 or len(dil) != 2 or len(pads) != 4:
            raise VerifyException(f"conv2d '{name}': strides/dilations need 2 values, pads 4")
        if min(strides) < 1 or min(dil) < 1 or min(pads) < 0:
            raise VerifyException(f"conv2d '{name}': strides and dilations >= 1, pads >= 0")
        group = self.group.value.data
        if group < 1 or x[1] != w[1] * group or w[0] % group:
            raise VerifyException(
                f"conv2d '{name}': {x[1]} input channels and weight {list(w)} do not match "
                f"group {group}"
            )
        out = _shape(self.output)
        expect = [x[0], w[0]]
        for i in range(2):
            span = x[2 + i] + pads[i] + pads[2 + i] - (dil[i] * (w[2 + i] - 1) + 1)
            expect.append(span // strides[i] + 1)
        if list(out) != expect:
            raise VerifyException(f"conv2d '{name}': result shape {list(out)}, expected {expect}")
        if len(self.input) == 3 and _shape(self.input[2]) != (w[0],):
            raise VerifyException(f"conv2d '{name}': bias must have shape [{w[0]}]")


@irdl_op_definition
class MatmulOp(LayerOp):
    """out = a @ b (+ bias): a [G, M, K] or [M, K]; b [G, K, N] or [K, N]; bias [N]."""

    name = "accel.matmul"

    input = var_operand_def(TensorType)  # [a, b] or [a, b, bias]
    output = result_def(TensorType)

    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$input attr-dict `:` functional-type($input, $output)"

    def __init__(
        self,
        operands: Sequence[SSAValue | Operation],
        result_type: Attribute,
        layer_name: str,
        mapping: MappingAttr | None = None,
    ):
        super().__init__(
            operands=[list(operands)],
            result_types=[result_type],
            properties={"layer_name": StringAttr(layer_name), "mapping": mapping},
        )

    def verify_(self) -> None:
        name = self.layer_name.data
        if len(self.input) not in (2, 3):
            raise VerifyException(f"matmul '{name}': expected a, b[, bias] operands")
        a, b = _shape(self.input[0]), _shape(self.input[1])
        try:
            batch = matmul_batch(a, b)
        except ShapeError as err:
            raise VerifyException(f"matmul '{name}': {err}") from None
        if a[-1] != b[-2]:
            raise VerifyException(f"matmul '{name}': a {list(a)} and b {list(b)} disagree on K")
        expect = [*batch, a[-2], b[-1]]
        if list(_shape(self.output)) != expect:
            raise VerifyException(
                f"matmul '{name}': result shape {list(_shape(self.output))}, expected {expect}"
            )
        if len(self.input) == 3 and _shape(self.input[2]) != (b[-1],):
            raise VerifyException(f"matmul '{name}': bias must have shape [{b[-1]}]")


@irdl_op_definition
class HostOp(IRDLOperation):
    """An ONNX operation the accelerator does not run: the target's vector unit (or a host,
    `host_ops = "host"`) executes it with ONNX semantics. Its ONNX attributes are kept as the
    op's attributes. `fused_into` (set by `accel-fuse`, simulator/vector.py "Fusion") names the
    accelerator layer in whose output stage it runs."""

    name = "accel.host"

    op_type = prop_def(StringAttr)
    layer_name = prop_def(StringAttr)
    fused_into = opt_prop_def(StringAttr)
    inputs = var_operand_def()
    outputs = var_result_def()

    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$op_type $inputs attr-dict `:` functional-type($inputs, $outputs)"

    def __init__(
        self,
        op_type: str,
        inputs: Sequence[SSAValue | Operation],
        result_types: Sequence[Attribute],
        layer_name: str,
        attributes: Mapping[str, Attribute] | None = None,
    ):
        super().__init__(
            operands=[list(inputs)],
            result_types=[list(result_types)],
            properties={"op_type": StringAttr(op_type), "layer_name": StringAttr(layer_name)},
            attributes=dict(attributes or {}),
        )


# --- tile-level ops -----------------------------------------------------------------------------


class LayerRegionOp(IRDLOperation):
    """Base of the ops holding one layer's body (`accel.tiled`, `accel_isa.layer`).

    Properties: `kind` (conv2d | matmul), `layer_name`, `dims` (loop dim -> extent), `geometry`
    (conv: strides, pads, dilations, group), `mapping` (complete: every tile chosen); the layer's
    tensors as operands and result, the body in a single-block region."""

    kind = prop_def(StringAttr)
    layer_name = prop_def(StringAttr)
    dims = prop_def(DictionaryAttr)
    geometry = prop_def(DictionaryAttr)
    mapping = prop_def(MappingAttr)
    input = var_operand_def(TensorType)
    output = result_def(TensorType)
    body = region_def("single_block")

    traits = traits_def(NoTerminator())
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = (
        "$kind $input attr-dict-with-keyword `:` functional-type($input, $output) $body"
    )


@irdl_op_definition
class TiledOp(LayerRegionOp):
    """A layer after `accel-tile`: its loop nest over buffer-level tiles."""

    name = "accel.tiled"

    def verify_(self) -> None:
        name = self.layer_name.data
        if self.kind.data not in LAYER_KINDS:
            raise VerifyException(f"accel.tiled: unknown layer kind '{self.kind.data}'")
        for op in self.body.walk():
            if not isinstance(op, TILE_BODY_OPS):
                raise VerifyException(f"accel.tiled '{name}': {op.name} in its body")
        said = [
            section
            for section, there in (
                ("tiles", self.mapping.tiles.data),
                ("order", self.mapping.order.data),
                ("double_buffer", self.mapping.buffering.data),
            )
            if there
        ]
        if said:
            raise VerifyException(
                f"accel.tiled '{name}': its #accel.mapping keeps only the dataflow and "
                f"{', '.join(TILE_LEVEL_MAPPING_KEYS)}; '{said[0]}' is spelled by the body "
                "(edit its accel.tile_for / tile_load / tile_store ops)"
            )
        extents = {k: from_attr(v) for k, v in self.dims.data.items()}
        looped: set[str] = set()
        block = self.body.block
        while True:
            inner = [op for op in block.ops if isinstance(op, TileForOp | TileComputeOp)]
            if len(inner) != 1:
                what = "no loop or compute" if not inner else f"{len(inner)} loops/computes"
                raise VerifyException(
                    f"accel.tiled '{name}': a loop body holds {what}; the nest is perfect: "
                    "one accel.tile_for or accel.tile_compute per body, loads before it, "
                    "stores after it"
                )
            pos = list(block.ops).index(inner[0])
            for i, op in enumerate(block.ops):
                if isinstance(op, TileLoadOp) and i > pos:
                    raise VerifyException(
                        f"accel.tiled '{name}': accel.tile_load \"{op.operand.data}\" after the "
                        "loop or compute that reads it"
                    )
                if isinstance(op, TileStoreOp) and i < pos:
                    raise VerifyException(
                        f"accel.tiled '{name}': accel.tile_store before the loop or compute "
                        "that writes it"
                    )
            if isinstance(inner[0], TileComputeOp):
                return
            loop = inner[0]
            dim = loop.dim.data
            if dim not in extents:
                raise VerifyException(
                    f"accel.tiled '{name}': accel.tile_for \"{dim}\": the layer has no dim "
                    f"'{dim}' ({' '.join(extents)})"
                )
            if dim in looped:
                raise VerifyException(
                    f"accel.tiled '{name}': accel.tile_for \"{dim}\" inside another loop over "
                    f"'{dim}' (tiles must cover the layer exactly once)"
                )
            if loop.extent.value.data != extents[dim]:
                raise VerifyException(
                    f"accel.tiled '{name}': accel.tile_for \"{dim}\" has extent "
                    f"{loop.extent.value.data}, the layer's {dim} is {extents[dim]}"
                )
            looped.add(dim)
            block = loop.body.block


@irdl_op_definition
class TileForOp(IRDLOperation):
    """A loop over the buffer-level tiles of one loop dimension (edge tile clipped)."""

    name = "accel.tile_for"

    dim = prop_def(StringAttr)
    tile = prop_def(IntegerAttr[I64])
    extent = prop_def(IntegerAttr[I64])
    body = region_def("single_block")

    traits = traits_def(NoTerminator())
    assembly_format = "$dim `tile` $tile `extent` $extent attr-dict-with-keyword $body"

    def __init__(self, dim: str, tile: int, extent: int, body: Sequence[Operation] = ()):
        from xdsl.ir import Block, Region

        super().__init__(
            properties={
                "dim": StringAttr(dim),
                "tile": IntegerAttr(tile, i64),
                "extent": IntegerAttr(extent, i64),
            },
            regions=[Region(Block(list(body)))],
        )

    def verify_(self) -> None:
        tile, extent = self.tile.value.data, self.extent.value.data
        if not 1 <= tile <= extent:
            raise VerifyException(
                f"tile {tile} of dimension '{self.dim.data}' is outside [1, {extent}]"
            )


def _check_operand(operand: StringAttr) -> None:
    if operand.data not in OPERANDS:
        raise VerifyException(
            f"unknown operand '{operand.data}' (expected one of {', '.join(OPERANDS)})"
        )


@irdl_op_definition
class TileLoadOp(IRDLOperation):
    """Load the current tile of an operand into its global buffer (`double_buffer`: 2 slots)."""

    name = "accel.tile_load"

    operand = prop_def(StringAttr)
    double_buffer = prop_def(BoolAttr)

    assembly_format = "$operand `double_buffer` `=` $double_buffer attr-dict"

    def __init__(self, operand: str, double_buffer: bool):
        super().__init__(
            properties={
                "operand": StringAttr(operand),
                "double_buffer": BoolAttr.from_bool(double_buffer),
            }
        )

    def verify_(self) -> None:
        _check_operand(self.operand)


@irdl_op_definition
class TileComputeOp(IRDLOperation):
    """Run the current tile on the PE array, accumulating over the reduction tiles."""

    name = "accel.tile_compute"

    assembly_format = "attr-dict"


@irdl_op_definition
class TileStoreOp(IRDLOperation):
    """Store the current output tile (partial sums if the reduction is not finished) from its
    slot (`double_buffer`: output tiles alternate between 2 slots)."""

    name = "accel.tile_store"

    operand = prop_def(StringAttr)
    double_buffer = prop_def(BoolAttr)

    assembly_format = "$operand `double_buffer` `=` $double_buffer attr-dict"

    def __init__(self, operand: str = "output", double_buffer: bool = False):
        super().__init__(
            properties={
                "operand": StringAttr(operand),
                "double_buffer": BoolAttr.from_bool(double_buffer),
            }
        )

    def verify_(self) -> None:
        _check_operand(self.operand)
        if self.operand.data != "output":
            raise VerifyException(
                f"accel.tile_store: only the output is stored, not '{self.operand.data}'"
            )


TILE_BODY_OPS = (TileForOp, TileLoadOp, TileComputeOp, TileStoreOp)


Accel = Dialect(
    "accel",
    [
        ConstantOp,
        Conv2DOp,
        MatmulOp,
        HostOp,
        TiledOp,
        TileForOp,
        TileLoadOp,
        TileComputeOp,
        TileStoreOp,
    ],
    [TargetAttr, MappingAttr],
)
