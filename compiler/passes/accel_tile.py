"""`accel-tile`: each mapped layer -> `accel.tiled`, its loop nest over buffer-level tiles.

    accelflow-opt in.mlir -p 'accel-tile{tile-k=3 tile-y=5 double-buffer=off}'

Tiles: when no `tile-*` option is set and `double-buffer=auto`, the layer's mapping is kept as it
is (accel-map's, or a database's); otherwise `tiling.choose_tiles` picks the tiles again for the
mapping's dataflow and loop order, with the given tiles fixed (clamped to the extent; a dim the
layer lacks is ignored) and double buffering forced `on`/`off` or chosen (`auto`). A layer without
a mapping gets the default one first. The result is validated with `tiling.check_mapping`
(a `MappingError` names the layer and the limit).

The body is `loop_nest.build_nest(shape, mapping)` written as ops: an `accel.tile_for` per dim
with more than one tile, in the mapping's loop order. A `tile_load` of an operand sits at the top
of the innermost loop over a dim that operand depends on (outside all loops if none), so its reuse
across the inner loops is visible; `tile_compute` is innermost; `tile_store "output"` closes the
innermost loop over an output dim (after the loops nested in it). When a reduction loop encloses
that loop, the partial sums are reloaded there: a `tile_load "output"` opens it. Every transfer
says whether it is double-buffered. From here on the body is the program (`accel-emit` lowers
it; compiler/loop_nest.py gives its semantics), so the layer's `#accel.mapping` keeps only the
dataflow and the spatial unroll: tiles, loop order and double buffering are read off the body.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import DictionaryAttr, IntegerAttr, ModuleOp, StringAttr, i64
from xdsl.ir import Block, Operation, Region
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from compiler import loop_nest, tiling
from compiler.passes.accel_map import map_layer, with_layer
from compiler.passes.common import (
    PassError,
    applicable_passes,
    geometry_of,
    layer_shape,
    module_mappings,
    module_target,
    onnx_outputs_attrs,
    tile_level_mapping,
)
from dialects import accel
from simulator.target import Target

DOUBLE_BUFFER = {"auto": None, "on": True, "off": False}


def nest_ops(nest: loop_nest.LoopNest, shape: tiling.LayerShape) -> list[Operation]:
    """The `accel.tiled` body of a loop nest: tile_for / tile_load / tile_compute / tile_store."""

    def transfer(t: loop_nest.Transfer) -> Operation:
        if t.kind == loop_nest.LOAD:
            return accel.TileLoadOp(t.operand, t.double_buffer)
        return accel.TileStoreOp(t.operand, t.double_buffer)

    def body(depth: int) -> list[Operation]:
        ops = [transfer(t) for t in nest.before[depth]]
        if depth < len(nest.loops):
            loop = nest.loops[depth]
            ops.append(accel.TileForOp(loop.dim, loop.tile, shape.dims[loop.dim], body(depth + 1)))
        else:
            ops.append(accel.TileComputeOp())
        ops += [transfer(t) for t in nest.after[depth]]
        return ops

    return body(0)


def tile_mapping(
    op: accel.Conv2DOp | accel.MatmulOp,
    target: Target,
    fixed: dict[str, int],
    double_buffer: bool | None,
    database: dict[str, dict] | None = None,
) -> tuple[tiling.LayerShape, tiling.Mapping]:
    """The complete, checked mapping of `op` after the tiling options."""
    name = op.layer_name.data
    shape = layer_shape(op)
    attr = op.mapping if op.mapping is not None else map_layer(op, target, database=database)
    try:
        mapping = tiling.Mapping.from_dict(attr.as_dict())
        fixed = {d: t for d, t in fixed.items() if d in shape.dims}
        complete = all(d in mapping.tiles for d in shape.dim_names)
        if not complete and not fixed:
            fixed = {d: t for d, t in mapping.tiles.items() if d in shape.dims}
        if fixed or double_buffer is not None or not complete:
            mapping = tiling.choose_tiles(
                shape, mapping, target, fixed=fixed, double_buffer=double_buffer
            )
        if target.family.spatial_is_unroll:  # keep the spatial tile within the (new) tiles
            mapping = target.family.default_spatial(shape, mapping, target)
        tiling.check_mapping(shape, mapping, target, layer=name)
    except tiling.MappingError as err:
        raise with_layer(err, name) from None
    return shape, mapping


@dataclass
class TileLayer(RewritePattern):
    target: Target
    fixed: dict[str, int]
    double_buffer: bool | None
    layer: str
    database: dict[str, dict]

    @op_type_rewrite_pattern
    def match_and_rewrite(
        self, op: accel.Conv2DOp | accel.MatmulOp, rewriter: PatternRewriter, /
    ) -> None:
        if self.layer and op.layer_name.data != self.layer:
            return
        shape, mapping = tile_mapping(
            op, self.target, self.fixed, self.double_buffer, self.database
        )
        tiled = accel.TiledOp(
            operands=[list(op.operands)],
            result_types=[op.output.type],
            properties={
                "kind": StringAttr(shape.kind),
                "layer_name": op.layer_name,
                "dims": DictionaryAttr(
                    {d: IntegerAttr(shape.dims[d], i64) for d in shape.dim_names}
                ),
                "geometry": accel.to_attr(geometry_of(op)),
                "mapping": tile_level_mapping(mapping),
            },
            attributes=onnx_outputs_attrs(op),
            regions=[Region(Block(nest_ops(loop_nest.build_nest(shape, mapping), shape)))],
        )
        rewriter.replace(op, tiled)


@dataclass(frozen=True)
class AccelTilePass(ModulePass):
    """Tile every accelerator layer into a loop nest over buffer-level tiles."""

    name = "accel-tile"

    tile_n: int = 0
    tile_g: int = 0
    tile_k: int = 0
    tile_c: int = 0
    tile_y: int = 0
    tile_x: int = 0
    tile_r: int = 0
    tile_s: int = 0
    tile_m: int = 0
    """Fixed buffer tile of a loop dim (0: chosen to fit the buffers)."""
    double_buffer: str = "auto"
    """auto | on | off."""
    layer: str = ""
    """Tile only the layer with this name."""

    def fixed_tiles(self) -> dict[str, int]:
        fixed = {d: getattr(self, f"tile_{d}") for d in "ngkcyxrsm"}
        bad = [f"tile-{d}={t}" for d, t in fixed.items() if t < 0]
        if bad:
            raise PassError(f"accel-tile: {bad[0]} must be >= 0 (0: choose)")
        return {d: t for d, t in fixed.items() if t}

    @staticmethod
    def tunable_options(shape: tiling.LayerShape, target: Target) -> dict[str, list]:
        """The options a tuner may set for one layer (with `layer=`): `tile-<d>` for each loop
        dim (the divisors of its extent and the ceil-halving chain from it, as `choose_tiles`
        halves) and `double-buffer` (`on` only where the target double-buffers)."""
        options: dict[str, list] = {}
        for d in shape.dim_names:
            extent = shape.dims[d]
            values = {t for t in range(1, extent + 1) if extent % t == 0}
            t = extent
            while t > 1:
                values.add(t)
                t = -(-t // 2)
            options[f"tile-{d}"] = sorted(values | {1})
        options["double-buffer"] = ["off", "on"] if target.double_buffer else ["off"]
        return options

    @classmethod
    def schedule_space(cls, ctx: Context, module_op: ModuleOp) -> tuple[AccelTilePass, ...]:
        """The double-buffering choices that apply. Tile sizes are per layer: a tuner derives
        them from the layer's dims (`tile-*` with `layer=`), checked by `tiling.check_mapping`."""
        return applicable_passes(ctx, module_op, [cls(double_buffer=d) for d in DOUBLE_BUFFER])

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.double_buffer not in DOUBLE_BUFFER:
            raise PassError(
                f"accel-tile: double-buffer='{self.double_buffer}' (expected auto, on or off)"
            )
        pattern = TileLayer(
            target=module_target(op),
            fixed=self.fixed_tiles(),
            double_buffer=DOUBLE_BUFFER[self.double_buffer],
            layer=self.layer,
            database=module_mappings(op),
        )
        PatternRewriteWalker(
            GreedyRewritePatternApplier([pattern]), apply_recursively=False
        ).rewrite_module(op)
