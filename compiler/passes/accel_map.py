"""`accel-map`: attach a `#accel.mapping` to every accelerator layer (accel.conv2d / accel.matmul).

    accelflow-opt in.mlir -p 'accel-map{dataflow=os order=gknyxcrs layer=/conv1/Conv force=true}'

The mapping comes from, in this order: the module's mapping database (`accel.mappings`, set by
`compile_module(mappings=...)`; a layer's entry is the one under its layer name, else the one
under its signature `tiling.LayerShape.signature`, as `tuner.db.MappingDB` keys them) unless
`dataflow`, `order` or `spatial` is given; else `tiling.default_mapping` for the module's
`accel.target`, with the `dataflow` option (empty: the target's) and the `order` option (loop
order as letters, outermost first, e.g. `gknyxcrs` for a conv2d or `gnmk` for a matmul: it
applies only to the layers whose dims it names). A database entry is used exactly as stored
(dataflow, tiles, order, spatial unroll, double buffering), checked by `tiling.check_mapping`;
an illegal one is a MappingError naming the layer. Layers that already have a mapping keep it
unless `force`; `layer` restricts the pass to one layer by name. The attribute also carries the
MAESTRO-style `directives` the mapping reads as.

On a MAERI target (`arch: maeri`) the mapping's spatial unroll is STONNE's spatial tile (axes
`vn` and `vns`, see `compiler/tiling.py`): `tiling.maeri_spatial` by default, or the `spatial`
option, STONNE's names or our dims, e.g.

    accelflow-opt in.mlir -p 'accel-map{spatial="T_R=3 T_S=3 T_C=2 T_K=2" force=true}'
    accelflow-opt in.mlir -p 'accel-map{spatial="T_N=8 T_K=8"}'      # a GEMM / FC layer

(dims not named get 1; names of the other layer kind's dims are ignored, so one option serves
conv and matmul layers). A factor beyond the default buffer tile fixes that tile at the factor
(the other tiles are chosen again to fit); the factors are clamped to the buffer tiles; `tiling.check_mapping`
rejects a tile needing more multipliers than the target has.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from compiler import tiling
from compiler.passes.common import (
    PassError,
    applicable_passes,
    database_mapping,
    layer_shape,
    mapping_attr,
    module_mappings,
    module_target,
)
from dialects import accel
from simulator.program import CONV_DIMS, DATAFLOWS, MATMUL_DIMS
from simulator.target import Target


@functools.cache
def _permutations(dims: tuple[str, ...]) -> tuple[str, ...]:
    return tuple("".join(p) for p in itertools.permutations(dims))


def parse_order(order: str) -> tuple[str, ...] | None:
    """The loop order option as a tuple of dims (None when empty); rejects unknown orders."""
    if not order:
        return None
    dims = tuple(order.replace(",", "").replace(" ", ""))
    if sorted(dims) not in (sorted(CONV_DIMS), sorted(MATMUL_DIMS)):
        raise PassError(
            f"loop order '{order}' is not a permutation of the conv2d dims "
            f"({''.join(CONV_DIMS)}) nor of the matmul dims ({''.join(MATMUL_DIMS)})"
        )
    return dims


def with_layer(err: tiling.MappingError, name: str) -> tiling.MappingError:
    """`err` with the layer named (tiling's messages do not always know it)."""
    message = str(err)
    if f"'{name}'" in message:
        return err
    return tiling.MappingError(f"layer '{name}': {message}")


def map_layer(
    op: accel.Conv2DOp | accel.MatmulOp,
    target: Target,
    dataflow: str | None = None,
    order: tuple[str, ...] | None = None,
    database: dict[str, dict] | None = None,
    spatial: str = "",
) -> accel.MappingAttr:
    """The mapping attribute for one layer (its database entry, by layer name or signature, else
    the default heuristic; on a MAERI target `spatial` sets the spatial tile, see the module
    docstring)."""
    name = op.layer_name.data
    shape = layer_shape(op)
    try:
        fam = target.family
        if spatial and not fam.spatial_is_unroll:
            raise tiling.MappingError(
                f"the spatial option sets MAERI's spatial tile; target '{target.name}' is "
                f"{target.arch}"
            )
        entry = database_mapping(database, name, shape)
        if entry is not None and dataflow is None and order is None and not spatial:
            mapping = tiling.Mapping.from_dict(entry[1])
            if all(d in mapping.tiles for d in shape.dim_names):
                tiling.check_mapping(shape, mapping, target, layer=name)
        else:
            if order is not None and sorted(order) != sorted(shape.dim_names):
                order = None  # the order names the other kind's dims
            mapping = tiling.default_mapping(shape, target, dataflow=dataflow, order=order)
            if spatial:
                factors = fam.parse_spatial(spatial, shape.kind)
                # A factor beyond the default tile asks for a tile at least that large.
                grow = {
                    d: min(f, shape.dims[d])
                    for d, f in factors.items()
                    if d in shape.dims and f > mapping.tiles[d]
                }
                if grow:
                    mapping = tiling.choose_tiles(shape, mapping, target, fixed=grow)
                mapping = fam.with_spatial(shape, mapping, target, factors)
                tiling.check_mapping(shape, mapping, target, layer=name)
    except tiling.MappingError as err:
        raise with_layer(err, name) from None
    return mapping_attr(mapping, shape)


@dataclass
class MapLayer(RewritePattern):
    target: Target
    dataflow: str | None
    order: tuple[str, ...] | None
    layer: str
    force: bool
    database: dict[str, dict] = field(default_factory=dict)
    spatial: str = ""

    @op_type_rewrite_pattern
    def match_and_rewrite(
        self, op: accel.Conv2DOp | accel.MatmulOp, rewriter: PatternRewriter, /
    ) -> None:
        if self.layer and op.layer_name.data != self.layer:
            return
        if op.mapping is not None and not self.force:
            return
        attr = map_layer(op, self.target, self.dataflow, self.order, self.database, self.spatial)
        if op.mapping == attr:
            return
        mapped = op.clone()
        mapped.mapping = attr
        rewriter.replace(op, mapped)


@dataclass(frozen=True)
class AccelMapPass(ModulePass):
    """Give every accelerator layer a mapping (dataflow, spatial unroll, tiles, loop order)."""

    name = "accel-map"

    dataflow: str = ""
    """ws | os | is; empty: the target's dataflow."""
    order: str = ""
    """Buffer-tile loop order as letters, outermost first (conv2d: nkgcyxrs dims, matmul: gmnk)."""
    layer: str = ""
    """Map only the layer with this name."""
    force: bool = False
    """Replace existing mappings too."""
    spatial: str = ""
    """MAERI spatial tile, e.g. "T_R=3 T_S=3 T_C=2 T_K=2" or "r=3 s=3 c=2 k=2" (empty: heuristic)."""

    @classmethod
    def schedule_space(cls, ctx: Context, module_op: ModuleOp) -> tuple[AccelMapPass, ...]:
        """Every dataflow, re-mapping all layers (those that apply without error)."""
        return applicable_passes(ctx, module_op, [cls(dataflow=d, force=True) for d in DATAFLOWS])

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.dataflow and self.dataflow not in DATAFLOWS:
            raise PassError(
                f"accel-map: unknown dataflow '{self.dataflow}' (expected one of {', '.join(DATAFLOWS)})"
            )
        pattern = MapLayer(
            target=module_target(op),
            dataflow=self.dataflow or None,
            order=parse_order(self.order),
            layer=self.layer,
            force=self.force,
            database=module_mappings(op),
            spatial=self.spatial,
        )
        PatternRewriteWalker(
            GreedyRewritePatternApplier([pattern]), apply_recursively=False
        ).rewrite_module(op)

    @staticmethod
    def tunable_options(shape: tiling.LayerShape, target: Target) -> dict[str, list]:
        """The options a tuner may set for one layer (with `layer=`): `dataflow` (the family's
        `dataflows`: every one on a systolic array; MAERI and SIGMA time a tile the same
        whatever the dataflow, so only the target's), `order` (every permutation of the layer's
        dims, as the option spells it) and, where the family has a real spatial unroll, `spatial`
        as {dim: factors} (`Family.spatial_options`; MAERI: the divisors of the dim's extent and
        the powers of two below it, up to the multipliers)."""
        fam = target.family
        options: dict[str, list] = {
            "dataflow": list(fam.dataflows(target)),
            "order": list(_permutations(shape.dim_names)),
        }
        spatial = fam.spatial_options(shape, target)
        if spatial:
            options["spatial"] = spatial
        return options
