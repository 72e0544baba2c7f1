"""`accel-isa-verify`: check every `accel_isa.layer`'s instruction stream (compiler/stream_check.py).

    accelflow-opt out/5-accel-emit.mlir -p 'accel-isa-verify'

The module is unchanged when every stream is a valid program: each compute's input and weight
tiles resident in the slots it reads, no output slot overwritten before its results are stored,
partial sums reloaded only from a store, every output stored, the computes covering the layer.
Otherwise one error names the layer, the instruction (its position in the layer and its text)
and the broken rule. It ends the default pipeline; the assembler runs the same check before it
packs a layer.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.printer import Printer

from compiler.passes.common import PassError, layer_shape
from compiler.stream_check import StreamError, check_stream
from dialects import accel_isa


def verify_layer(op: accel_isa.LayerOp) -> None:
    """Raise PassError naming the layer and the instruction if its stream is not valid."""
    from compiler.assembler import instruction_rows

    try:
        check_stream(instruction_rows(op, 0), layer_shape(op))
    except StreamError as err:
        instruction = list(op.body.block.ops)[err.position]
        text = io.StringIO()
        Printer(stream=text).print_op(instruction)
        raise PassError(
            f"accel-isa-verify: layer '{op.layer_name.data}': instruction {err.position} "
            f"`{text.getvalue().strip()}`: {err.detail}"
        ) from None


@dataclass(frozen=True)
class AccelISAVerifyPass(ModulePass):
    """Verify the instruction stream of every accelerator layer (no change to the IR)."""

    name = "accel-isa-verify"
    # It only checks: the module it leaves is the one verified after the pass before it
    # (compiler.pipeline skips verifying it again; one op per instruction makes that costly).
    changes_ir = False

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for layer in op.walk():
            if isinstance(layer, accel_isa.LayerOp):
                verify_layer(layer)
