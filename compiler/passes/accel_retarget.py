"""accel-retarget: set the module's target (`accelflow-opt --target T` runs it first).

    accelflow-opt model.mlir --target maeri-64 -p 'accel-map,accel-tile,accel-emit'
    accelflow-opt model.mlir -p 'accel-retarget{target=maeri-64},accel-map,...'

`target` is a preset name or a YAML path; a module that has another target gets the new one with
a warning naming both. Mappings chosen for the old target stay on their layers: re-target before
`accel-map` (on an `onnx` or freshly lowered `accel` module) for mappings of the new target.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from compiler.passes.common import PassError, retarget


@dataclass(frozen=True)
class AccelRetargetPass(ModulePass):
    """Set `accel.target` (see the module docstring)."""

    name = "accel-retarget"

    target: str = ""
    """Preset name or YAML path (required)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if not self.target:
            raise PassError("accel-retarget: give target=NAME (a preset or a YAML path)")
        retarget(op, self.target, self.name)
