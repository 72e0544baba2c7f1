"""`demo-force-dataflow`: give every mapped layer another dataflow, keeping its tiles and order.

    accelflow-opt in.mlir -p 'accel-map,demo-force-dataflow{dataflow=os},accel-tile,accel-emit'

Runs at the mapping level, after `accel-map` and before `accel-tile`: each `accel.conv2d` /
`accel.matmul` that carries a `#accel.mapping` gets `dataflow` and, on a systolic target, the
spatial unroll that dataflow implies on the array (`tiling.spatial_unroll`); its buffer tiles,
loop order and double buffering stay. The new mapping is checked against the module's target
(`tiling.check_mapping`): an illegal one is an error naming the layer. Layers without a mapping
are left alone (`layer` restricts the pass to one layer by name).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

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
    layer_shape,
    mapping_attr,
    mapping_of,
    module_target,
)
from dialects import accel
from simulator.program import DATAFLOWS
from simulator.target import Target


def forced_mapping(
    mapping: tiling.Mapping, shape: tiling.LayerShape, target: Target, dataflow: str, name: str
) -> tiling.Mapping:
    """`mapping` with `dataflow` (and the spatial unroll it implies where the family's unroll is
    descriptive, on a systolic array: `Family.default_spatial`), checked on `target`."""
    forced = dataclasses.replace(mapping, dataflow=dataflow)
    if not target.family.spatial_is_unroll:
        forced = target.family.default_spatial(shape, forced, target)
    tiling.check_mapping(shape, forced, target, layer=name)
    return forced


@dataclass
class ForceDataflow(RewritePattern):
    target: Target
    dataflow: str
    layer: str

    @op_type_rewrite_pattern
    def match_and_rewrite(
        self, op: accel.Conv2DOp | accel.MatmulOp, rewriter: PatternRewriter, /
    ) -> None:
        if op.mapping is None:
            return
        name = op.layer_name.data
        if self.layer and name != self.layer:
            return
        mapping = mapping_of(op.mapping)
        if mapping.dataflow == self.dataflow:
            return
        shape = layer_shape(op)
        forced = forced_mapping(mapping, shape, self.target, self.dataflow, name)
        mapped = op.clone()
        mapped.mapping = mapping_attr(forced, shape)
        rewriter.replace(op, mapped)


@dataclass(frozen=True)
class DemoForceDataflowPass(ModulePass):
    """Set the dataflow of every mapped layer, keeping its tiles and loop order."""

    name = "demo-force-dataflow"

    dataflow: str = "os"
    """ws | os | is."""
    layer: str = ""
    """Only the layer with this name (empty: every layer)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.dataflow not in DATAFLOWS:
            raise PassError(
                f"demo-force-dataflow: unknown dataflow '{self.dataflow}' "
                f"(expected one of {', '.join(DATAFLOWS)})"
            )
        pattern = ForceDataflow(module_target(op), self.dataflow, self.layer)
        PatternRewriteWalker(
            GreedyRewritePatternApplier([pattern]), apply_recursively=False
        ).rewrite_module(op)
