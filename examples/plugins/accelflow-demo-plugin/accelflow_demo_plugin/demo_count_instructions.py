"""`demo-count-instructions`: annotate every `accel_isa.layer` with its instruction counts.

    accelflow-opt in.mlir -p 'accel-emit,demo-count-instructions'

Runs on the instruction level (after `accel-emit`). Each layer program gets the discardable
attribute `demo.instructions = {load = L : i64, compute = C : i64, store = S : i64}`; the
instructions themselves do not change, so the module still verifies and assembles as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import DictionaryAttr, IntegerAttr, ModuleOp, i64
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from dialects import accel_isa

COUNTS_ATTR = "demo.instructions"
COUNTED = {"load": accel_isa.LoadOp, "compute": accel_isa.ComputeOp, "store": accel_isa.StoreOp}


def instruction_counts(layer: accel_isa.LayerOp) -> dict[str, int]:
    """How many of each counted instruction the layer's program holds."""
    ops = list(layer.body.block.ops)
    return {kind: sum(isinstance(o, op_type) for o in ops) for kind, op_type in COUNTED.items()}


class CountInstructions(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: accel_isa.LayerOp, rewriter: PatternRewriter, /) -> None:
        counts = DictionaryAttr(
            {kind: IntegerAttr(n, i64) for kind, n in instruction_counts(op).items()}
        )
        if op.attributes.get(COUNTS_ATTR) == counts:
            return
        op.attributes[COUNTS_ATTR] = counts
        rewriter.notify_op_modified(op)


@dataclass(frozen=True)
class DemoCountInstructionsPass(ModulePass):
    """Annotate every accel_isa.layer with the number of its loads, computes and stores."""

    name = "demo-count-instructions"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(
            GreedyRewritePatternApplier([CountInstructions()]), apply_recursively=False
        ).rewrite_module(op)
