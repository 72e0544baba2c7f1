"""`accel-emit`: each `accel.tiled` -> `accel_isa.layer` holding the layer's instruction stream.

    accelflow-opt in.mlir -p 'accel-emit'

The pass lowers the `accel.tiled` body op by op: it reads the loop nest the body spells
(`common.nest_of`: loops, loads, stores, compute, double buffering) and `loop_nest.lower` turns it
into instruction rows (semantics and issue order in compiler/loop_nest.py); nothing is re-derived
from the mapping. The mapping the body implements (`common.tiled_mapping`: the tile-level
`#accel.mapping`'s dataflow and spatial unroll, the body's tiles, order and double buffering) is
checked against the target (`tiling.check_mapping`: footprints within the buffers, the spatial
unroll within the PEs) and becomes the `accel_isa.layer`'s `#accel.mapping`. A body that is not a
valid program (a compute reading a tile no load filled, an output tile replaced before it is
stored, ...) or a mapping the target cannot run is an error naming the layer and the op.
The rows become ops (CONFIG -> `accel_isa.config`, with `spatial` on a MAERI target (the
simulator derives its step costs),
LOAD -> `accel_isa.load`, COMPUTE -> `accel_isa.compute`, STORE -> `accel_isa.store`; fields per
`simulator.program.ROW`, read by name). On a SIGMA target the pass reads the layer's
weight constant (`accel.constant` feeding operand 1) and every compute carries `sparse [...]`, the
bitmap statistics of its tile's actual weights (simulator/arch/sigma.py), and every weight load the
compressed size; elided or non-constant weights count as dense; `layer_index` is the position of the layer
among the accelerator layers of its function (tiled or already emitted), in order. Properties,
operands, the result and `onnx_outputs` carry over from the tiled op.

Ops are created with `Operation.create` and shared attribute objects (attributes are immutable),
so a layer of 10^4 instructions is emitted in well under a second.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import (
    BoolAttr,
    BytesAttr,
    DenseArrayBase,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    i64,
)
from xdsl.ir import Attribute, Block, Operation, Region
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from compiler import constant_pool, loop_nest, tiling
from compiler.passes.common import (
    PassError,
    layer_shape,
    mapping_attr,
    module_target,
    nest_of,
    onnx_outputs_attrs,
    tiled_mapping,
)
from dialects import accel, accel_isa
from simulator.program import BUFFER_NAMES, DATAFLOWS, OP_COMPUTE, OP_CONFIG, OP_LOAD, OP_STORE, ROW
from simulator.target import Target


class _Attrs:
    """Interned attributes for one emission (rows repeat the same few values)."""

    def __init__(self) -> None:
        self._ints: dict[int, IntegerAttr] = {}
        self._arrays: dict[tuple[int, ...], DenseArrayBase] = {}
        self.true, self.false = BoolAttr.from_bool(True), BoolAttr.from_bool(False)
        self.buffers = [StringAttr(b) for b in BUFFER_NAMES]

    def int(self, value: int) -> IntegerAttr:
        attr = self._ints.get(value)
        if attr is None:
            attr = self._ints[value] = IntegerAttr(value, i64)
        return attr

    def array(self, values: tuple[int, ...]) -> DenseArrayBase:
        attr = self._arrays.get(values)
        if attr is None:
            # Values are the lowering's (small, non-negative): pack them directly.
            packed = BytesAttr(struct.pack(f"<{len(values)}q", *values))
            attr = self._arrays[values] = DenseArrayBase(i64, packed)
        return attr


def instruction_ops(rows: np.ndarray, ndims: int, sparse_rows: bool = False) -> list[Operation]:
    """accel_isa instruction ops for `loop_nest.lower` rows (one layer); `sparse_rows`: the
    computes carry SIGMA's sparse fields."""
    attrs = _Attrs()
    r = ROW.view(rows)
    # Each field as plain Python values per row (the rows repeat a few values: cheap attributes).
    scalars = ("opcode", "dataflow", "buffer", "slot", "bytes", "s_in", "s_w", "s_out", "acc")
    col = {name: r[name].tolist() for name in scalars}
    tuples = {"off": r.off[:, :ndims], "size": r.size[:, :ndims], "gemm": r.gemm}
    if sparse_rows:
        tuples["sparse"] = r.sparse
    tup = {name: [tuple(v) for v in values.tolist()] for name, values in tuples.items()}

    def tile(i: int) -> dict[str, Any]:
        return {"offsets": attrs.array(tup["off"][i]), "sizes": attrs.array(tup["size"][i])}

    def config(i: int) -> Operation:
        properties: dict[str, Attribute] = {"dataflow": StringAttr(DATAFLOWS[col["dataflow"][i]])}
        if any(tup["size"][i]):  # MAERI: the virtual neurons
            properties["spatial"] = attrs.array(tup["size"][i])
        return accel_isa.ConfigOp.create(properties=properties)

    def load(i: int) -> Operation:
        return accel_isa.LoadOp.create(
            properties={
                "buffer": attrs.buffers[col["buffer"][i]],
                "slot": attrs.int(col["slot"][i]),
                "bytes": attrs.int(col["bytes"][i]),
                **tile(i),
            }
        )

    def compute(i: int) -> Operation:
        properties: dict[str, Attribute] = {
            "s_in": attrs.int(col["s_in"][i]),
            "s_w": attrs.int(col["s_w"][i]),
            "s_out": attrs.int(col["s_out"][i]),
            "acc": attrs.true if col["acc"][i] else attrs.false,
            "gemm": attrs.array(tup["gemm"][i]),
            **tile(i),
        }
        if sparse_rows:  # SIGMA: the bitmap statistics of the tile's weights
            properties["sparse"] = attrs.array(tup["sparse"][i])
        return accel_isa.ComputeOp.create(properties=properties)

    def store(i: int) -> Operation:
        return accel_isa.StoreOp.create(
            properties={
                "slot": attrs.int(col["slot"][i]),
                "bytes": attrs.int(col["bytes"][i]),
                **tile(i),
            }
        )

    build: dict[int, Callable[[int], Operation]] = {
        OP_CONFIG: config,
        OP_LOAD: load,
        OP_COMPUTE: compute,
        OP_STORE: store,
    }
    return [build[op](i) for i, op in enumerate(col["opcode"])]


def constant_weights(op: accel.TiledOp) -> np.ndarray | None:
    """The layer's weight operand as numpy if it is an `accel.constant` with its values (not
    elided), else None (SIGMA then counts the weights as dense)."""
    owner = op.operands[1].owner
    return constant_pool.array_of(owner.value) if isinstance(owner, accel.ConstantOp) else None


def emit_layer(op: accel.TiledOp, target: Target, layer_index: int) -> accel_isa.LayerOp:
    """Lower one `accel.tiled` body (its loop nest) to the layer's instruction stream."""
    name = op.layer_name.data
    shape = layer_shape(op)
    try:
        nest = nest_of(op)
        mapping = tiled_mapping(op)
        tiling.check_mapping(shape, mapping, target, layer=name)
        sparse = target.family.uses_weights
        weights = constant_weights(op) if sparse else None
        rows = loop_nest.lower(shape, nest, mapping, target, layer_index, weights=weights)
    except loop_nest.NestError as err:
        raise PassError(f"accel-emit: layer '{name}': {err}") from None
    except tiling.MappingError as err:
        raise PassError(f"accel-emit: {err}") from None
    body = instruction_ops(rows, len(shape.dim_names), sparse_rows=sparse)
    properties = dict(op.properties)
    properties["mapping"] = mapping_attr(mapping, shape)
    return accel_isa.LayerOp.create(
        operands=list(op.operands),
        result_types=[op.output.type],
        properties=properties,
        attributes=onnx_outputs_attrs(op),
        regions=[Region(Block(body))],
    )


def accel_layer_indices(module: ModuleOp) -> dict[Operation, int]:
    """Position of each accelerator layer among those of its function (walk order)."""
    indices: dict[Operation, int] = {}
    counters: dict[Operation | None, int] = {}
    for op in module.walk():
        if isinstance(op, accel.TiledOp | accel_isa.LayerOp | accel.Conv2DOp | accel.MatmulOp):
            func = op.parent_op()
            indices[op] = counters.get(func, 0)
            counters[func] = indices[op] + 1
    return indices


@dataclass
class EmitLayer(RewritePattern):
    target: Target
    indices: dict[Operation, int]

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: accel.TiledOp, rewriter: PatternRewriter, /) -> None:
        rewriter.replace(op, emit_layer(op, self.target, self.indices[op]))


@dataclass(frozen=True)
class AccelEmitPass(ModulePass):
    """Turn tiled layers into accel_isa programs (one `accel_isa.layer` per layer)."""

    name = "accel-emit"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(
            GreedyRewritePatternApplier([EmitLayer(module_target(op), accel_layer_indices(op))]),
            apply_recursively=False,
        ).rewrite_module(op)
