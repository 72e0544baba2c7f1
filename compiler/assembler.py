"""The assembler: a fully lowered module (after `accel-emit`) -> `simulator.program.Program`.

    program = assemble(module)
    print(program.to_asm(max_lines=40))

It walks `func.func @main` in order:
- tensor names: `onnx.input_names` for the arguments, each op's `onnx_outputs` for its results,
  `accel.constant`'s `tensor_name`; a tensor without a name gets `%t<N>` (N counts up); an
  `onnx.NoValue` is the absent input "";
- `accel.constant` -> `Program.constants[tensor_name]` (f32 or i64 numpy array);
- `accel.host` -> a host `Layer` (kind = the ONNX op type, attrs = its ONNX attributes as plain
  Python values);
- `accel_isa.layer` -> an accelerator `Layer` (kind, dims, attrs = conv geometry, mapping) whose
  instructions, once `accel-isa-verify`'s check passes (a stream that fails it is refused with
  the pass's error), are appended to `Program.instrs` (`instr_begin/instr_end`); the `layer` field of
  every row is the layer's position among the accelerator layers;
- `func.return` -> `Program.outputs` = `onnx.output_names` (a host `Identity` is added where a
  returned tensor carries another name).
Anything else left in the function (accel.conv2d/matmul/tiled, onnx ops) is an `AssemblyError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    IntegerType,
    ModuleOp,
    StringAttr,
    TensorType,
)
from xdsl.ir import Attribute, Operation, SSAValue

from compiler import constant_pool
from compiler.passes.accel_fuse import fusion_problem
from compiler.passes.accel_isa_verify import verify_layer
from compiler.passes.common import TARGET_ATTR, layer_shape
from dialects import accel, accel_isa
from dialects.onnx import NoValueOp
from simulator.errors import AccelflowError
from simulator.program import (
    BUFFER_NAMES,
    DATAFLOWS,
    KIND_CODES,
    OP_COMPUTE,
    OP_CONFIG,
    OP_LOAD,
    OP_STORE,
    OP_VECTOR,
    ROW,
    Layer,
    Program,
)
from simulator.target import Target, make_target
from simulator.vector import op_class, vector_work

__all__ = ["AssemblyError", "assemble", "instruction_rows"]

_ATTRS_NOT_ONNX = ("onnx_outputs", "onnx_name", "layer_name", "op_type")


class AssemblyError(AccelflowError):
    """The module is not (fully) lowered to accel_isa / host ops."""


def _plain(attr: Attribute) -> Any:
    """An attribute as a plain Python value (ints, floats, strings, lists, dicts)."""
    if isinstance(attr, DenseIntOrFPElementsAttr):
        return constant_pool.array_of(attr).tolist()
    if isinstance(attr, ArrayAttr):
        return [_plain(v) for v in attr.data]
    if isinstance(attr, DenseArrayBase):
        return [v for v in attr.get_values()]
    return accel.from_attr(attr)


def _main(module: ModuleOp) -> func.FuncOp:
    funcs = [op for op in module.ops if isinstance(op, func.FuncOp)]
    for f in funcs:
        if f.sym_name.data == "main":
            return f
    if len(funcs) == 1:
        return funcs[0]
    raise AssemblyError("the module has no func.func @main")


def _names(attr: Attribute | None) -> list[str]:
    if isinstance(attr, ArrayAttr):
        return [a.data if isinstance(a, StringAttr) else "" for a in attr.data]
    return []


def _tile(op: accel_isa.LoadOp | accel_isa.ComputeOp | accel_isa.StoreOp) -> dict[str, Any]:
    return {"off": op.offsets.get_values(), "size": op.sizes.get_values()}


def _load_fields(op: accel_isa.LoadOp, dataflow: int) -> dict[str, Any]:
    return {
        "buffer": BUFFER_NAMES.index(op.buffer.data),
        "slot": op.slot.value.data,
        "bytes": op.bytes.value.data,
        **_tile(op),
    }


def _compute_fields(op: accel_isa.ComputeOp, dataflow: int) -> dict[str, Any]:
    return {
        "dataflow": dataflow,
        "s_in": op.s_in.value.data,
        "s_w": op.s_w.value.data,
        "s_out": op.s_out.value.data,
        "acc": 1 if op.acc.value.data else 0,  # i1 true reads as -1
        "gemm": op.gemm.get_values(),
        # SIGMA: the tile's bitmap statistics
        "sparse": op.sparse.get_values() if op.sparse is not None else (),
        **_tile(op),
    }


def _store_fields(op: accel_isa.StoreOp, dataflow: int) -> dict[str, Any]:
    return {"slot": op.slot.value.data, "bytes": op.bytes.value.data, **_tile(op)}


# The opcode of each tiled instruction op and its row fields by name.
_TILED: dict[type[Operation], tuple[int, Callable[[Any, int], dict[str, Any]]]] = {
    accel_isa.LoadOp: (OP_LOAD, _load_fields),
    accel_isa.ComputeOp: (OP_COMPUTE, _compute_fields),
    accel_isa.StoreOp: (OP_STORE, _store_fields),
}


def _column(values: list[Any]) -> Any:
    """One field's values over ops: a list of numbers, or [ops, longest] for tuples (shorter
    ones padded with 0; all empty: [ops, 0], which encodes as nothing)."""
    if not values or not isinstance(values[0], tuple | list):
        return values
    width = max(len(v) for v in values)
    padded = [(*v, *(0,) * (width - len(v))) for v in values]
    return np.array(padded, np.int64).reshape(len(values), width)


def instruction_rows(layer: accel_isa.LayerOp, index: int) -> np.ndarray:
    """The Program rows of one layer's instruction ops (`index`: its position among the
    accelerator layers), built with the row schema's encode (`simulator.program.ROW`; the
    stride is the layer's): each config, then the loads, computes and
    stores each at once, put back in program order. A compute's dataflow is its latest config's."""
    ops = list(layer.body.block.ops)
    kind = KIND_CODES[layer.kind.data]
    shape = layer_shape(layer)
    stride = shape.stride if shape.kind == "conv2d" else None
    blocks: list[np.ndarray] = []
    order: list[int] = []
    dataflows: list[int] = []  # the latest config's, per op
    dataflow = 0
    for i, op in enumerate(ops):
        if isinstance(op, accel_isa.ConfigOp):
            dataflow = DATAFLOWS.index(op.dataflow.data)
            spatial = op.spatial.get_values() if op.spatial is not None else None
            blocks.append(
                ROW.encode(
                    1,
                    opcode=OP_CONFIG,
                    layer=index,
                    dataflow=dataflow,
                    kind=kind,
                    stride=stride,
                    size=spatial,  # MAERI: the virtual neurons
                )
            )
            order.append(i)
        dataflows.append(dataflow)
    for cls, (opcode, fields) in _TILED.items():
        idx = [i for i, op in enumerate(ops) if isinstance(op, cls)]
        per_op = [fields(ops[i], dataflows[i]) for i in idx]
        names = per_op[0] if per_op else {}
        columns = {name: _column([values[name] for values in per_op]) for name in names}
        blocks.append(ROW.encode(len(idx), opcode=opcode, layer=index, **columns))
        order.extend(idx)
    rows = np.zeros((len(ops), ROW.num_columns), np.int64)
    rows[np.asarray(order, np.int64)] = np.concatenate(blocks)
    return rows


def _dtype_name(value_type: Attribute) -> str:
    """The numpy dtype name of a tensor type's elements (float32 for floats and unknowns)."""
    element = value_type.element_type if isinstance(value_type, TensorType) else None
    if isinstance(element, IntegerType):
        width = element.width.data
        return "bool" if width == 1 else f"int{width}"
    return "float32"


class _Assembler:
    def __init__(self, module: ModuleOp):
        self.module = module
        self.function = _main(module)
        attr = module.attributes.get(TARGET_ATTR)
        self.target = (
            make_target(attr.as_dict()) if isinstance(attr, accel.TargetAttr) else Target()
        )
        self.names: dict[SSAValue, str] = {}
        self.tensors: dict[str, tuple[int, ...]] = {}
        self.layers: list[Layer] = []
        self.constants: dict[str, np.ndarray] = {}
        self.elided: list[str] = []
        self.chunks: list[np.ndarray] = []
        self.num_rows = 0
        self.num_generated = 0

    def name(self, value: SSAValue, given: str = "") -> str:
        if isinstance(value.type, TensorType):
            if not given:
                given = f"%t{self.num_generated}"
                self.num_generated += 1
            self.tensors[given] = tuple(int(v) for v in value.type.get_shape())
        self.names[value] = given
        return given

    def name_results(self, op: Operation) -> list[str]:
        given = _names(op.attributes.get("onnx_outputs"))
        return [self.name(r, given[i] if i < len(given) else "") for i, r in enumerate(op.results)]

    def inputs(self, op: Operation) -> list[str]:
        return [self.names[v] for v in op.operands]

    def host(self, op: accel.HostOp) -> None:
        """A non-GEMM operator: on the vector unit (one VECTOR row, simulator/vector.py) unless
        the target runs such operators on a host (`host_ops = "host"`: no row, no cycles). One
        `fused_into` a layer (accel-fuse) runs in that layer's output stage: its row is flagged,
        reads only its other operands and writes nothing (`fusion_problem` must allow it)."""
        attrs = {k: _plain(v) for k, v in op.attributes.items() if k not in _ATTRS_NOT_ONNX}
        inputs = self.inputs(op)
        outputs = self.name_results(op)
        kind = op.op_type.data
        begin = self.num_rows
        fused_into = ""
        if self.target.host_ops == "vector":
            shapes = [self.tensors.get(name) if name else None for name in inputs]
            out_shapes = [self.tensors[name] for name in outputs if name]
            if op.fused_into is not None:
                fused_into = op.fused_into.data
                fusion = fusion_problem(op, self.target)
                if fusion.layer != fused_into:
                    raise AssemblyError(
                        f"'{op.layer_name.data}' ({kind}) is fused into '{fused_into}', but "
                        + (fusion.why or f"its input comes from '{fusion.layer}'")
                    )
            ops, read, written = vector_work(kind, shapes, out_shapes, attrs)
            if fused_into:  # reads the output stage's result, the layer's stores write its own
                if op_class(kind) != "view":  # (a view reads nothing)
                    read -= math.prod(shapes[fusion.operand] or ())
                written = 0
            eb = self.target.element_bytes
            row = ROW.encode(
                1,
                opcode=OP_VECTOR,
                layer=len(self.layers),
                vector=[ops, read * eb, written * eb, 1 if fused_into else 0],
            )
            self.chunks.append(row)
            self.num_rows += 1
        self.layers.append(
            Layer(
                name=op.layer_name.data,
                kind=kind,
                on_accel=False,
                inputs=inputs,
                outputs=outputs,
                attrs=attrs,
                instr_begin=begin,
                instr_end=self.num_rows,
                fused_into=fused_into,
            )
        )

    def accel_layer(self, op: accel_isa.LayerOp) -> None:
        index = sum(1 for layer in self.layers if layer.on_accel)
        rows = instruction_rows(op, index)
        verify_layer(op)  # the assembler refuses an unverified stream
        begin = self.num_rows
        self.chunks.append(rows)
        self.num_rows += rows.shape[0]
        inputs = self.inputs(op)
        self.layers.append(
            Layer(
                name=op.layer_name.data,
                kind=op.kind.data,
                on_accel=True,
                inputs=inputs,
                outputs=self.name_results(op),
                attrs=accel.from_attr(op.geometry),
                dims={k: int(v) for k, v in accel.from_attr(op.dims).items()},
                mapping=op.mapping.as_dict(),
                instr_begin=begin,
                instr_end=self.num_rows,
            )
        )

    def returned(self, op: func.ReturnOp) -> list[str]:
        wanted = _names(self.function.attributes.get("onnx.output_names"))
        outputs = []
        for i, value in enumerate(op.arguments):
            have = self.names[value]
            name = wanted[i] if i < len(wanted) and wanted[i] else have
            if name != have:
                self.layers.append(
                    Layer(
                        name=f"{name}/Identity",
                        kind="Identity",
                        on_accel=False,
                        inputs=[have],
                        outputs=[name],
                    )
                )
                self.tensors[name] = self.tensors[have]
            outputs.append(name)
        return outputs

    def run(self) -> Program:
        given = _names(self.function.attributes.get("onnx.input_names"))
        args = self.function.body.block.args
        inputs = [self.name(a, given[i] if i < len(given) else "") for i, a in enumerate(args)]
        input_dtypes = {name: _dtype_name(arg.type) for name, arg in zip(inputs, args, strict=True)}
        outputs: list[str] = []
        for op in self.function.body.block.ops:
            if isinstance(op, accel.ConstantOp):
                name = op.tensor_name.data
                value = constant_pool.array_of(op.value)
                if value is not None:
                    self.constants[name] = value
                else:  # elided from the IR text: timing needs no values
                    self.elided.append(name)
                self.name(op.result, name)
            elif isinstance(op, NoValueOp):
                self.names[op.result] = ""
            elif isinstance(op, accel.HostOp):
                self.host(op)
            elif isinstance(op, accel_isa.LayerOp):
                self.accel_layer(op)
            elif isinstance(op, func.ReturnOp):
                outputs = self.returned(op)
            elif isinstance(op, accel.Conv2DOp | accel.MatmulOp | accel.TiledOp):
                raise AssemblyError(
                    f"layer '{op.layer_name.data}' is still an {op.name}: run the pipeline to the "
                    "end (onnx-to-accel,accel-map,accel-tile,accel-emit) before assembling"
                )
            else:
                raise AssemblyError(
                    f"cannot assemble {op.name}: the module is not lowered to accel_isa and host "
                    "ops (run onnx-to-accel,accel-map,accel-tile,accel-emit)"
                )
        target = self.module.attributes.get(TARGET_ATTR)
        instrs = (
            np.concatenate(self.chunks) if self.chunks else np.zeros((0, ROW.num_columns), np.int64)
        )
        return Program(
            instrs=instrs,
            layers=self.layers,
            constants=self.constants,
            tensors=self.tensors,
            inputs=inputs,
            outputs=outputs,
            target=target.as_dict() if isinstance(target, accel.TargetAttr) else {},
            elided_constants=self.elided,
            input_dtypes={n: d for n, d in input_dtypes.items() if d != "float32"},
        )


def assemble(module: ModuleOp) -> Program:
    """The Program of a module lowered by the full pipeline (see the module docstring)."""
    return _Assembler(module).run()
