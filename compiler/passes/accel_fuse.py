"""`accel-fuse`: run element-wise operators in the output stage of the accelerator layer that
produces their input (simulator/vector.py, "Fusion").

    accelflow-opt in.mlir -p 'onnx-to-accel,accel-fuse'

An `accel.host` op is fused into layer L (it gets `fused_into = "L"`) when
- the module's target runs operators on its vector unit (`host_ops = "vector"`) with
  `vector_fusion` on;
- the operator is `pointwise` (`simulator.vector.fusable`: activations, arithmetic, a batch
  norm that was not folded, ...), or a view that keeps every element (`RESHAPES`: Reshape,
  Flatten, Squeeze, Unsqueeze, Identity; no operation), and has one result;
- the op just before it in the function (constants and absent inputs aside) is L, or an
  operator already fused into L, and one of its operands is that op's result, used by nothing
  else (neither another op nor the function's return);
- its result has that operand's shape and element type (no broadcast grows it); a view's has
  its element type and element count.

The other operands (a residual, a per-channel scale) stay ordinary inputs, read from DRAM. A
fused op keeps its place and its values; only where it runs changes: no DRAM round trip for
the layer's output, and its lanes work beside the array (the assembler flags its VECTOR row,
the engine times it in the layer's output stage). `fused_into` may be written or removed by hand;
the assembler checks a hand-written one with `fusion_problem` and refuses one that breaks a rule.
The pass is idempotent and leaves fused ops alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr, TensorType
from xdsl.ir import Operation
from xdsl.passes import ModulePass

from compiler.passes.common import LayerLike, module_target
from dialects import accel
from dialects.onnx import NoValueOp
from simulator.target import Target
from simulator.vector import RESHAPES, fusable

__all__ = ["AccelFusePass", "Fusion", "fusion_problem", "producer_layer"]


def _previous(op: Operation) -> Operation | None:
    """The op before `op` in its block that runs something (constants and NoValue skipped)."""
    prev = op.prev_op
    while isinstance(prev, accel.ConstantOp | NoValueOp):
        prev = prev.prev_op
    return prev


def producer_layer(op: Operation | None) -> str | None:
    """The accelerator layer whose output stage `op` is: the layer itself, or the layer an
    operator is fused into (None: neither)."""
    if isinstance(op, LayerLike):
        return op.layer_name.data
    if isinstance(op, accel.HostOp) and op.fused_into is not None:
        return op.fused_into.data
    return None


@dataclass(frozen=True)
class Fusion:
    """Where an operator may run: in `layer`'s output stage, reading that stage's result as its
    operand `operand` (`layer` None: it may not, `why` says why)."""

    layer: str | None
    operand: int = -1
    why: str = ""


def fusion_problem(op: accel.HostOp, target: Target) -> Fusion:
    """Whether `op` may be fused (module docstring), and into which layer."""
    kind = op.op_type.data
    if target.host_ops != "vector" or not target.vector_fusion:
        return Fusion(
            None,
            why=f"target '{target.name}' does not fuse (host_ops={target.host_ops}, "
            f"vector_fusion={target.vector_fusion})",
        )
    if not fusable(kind):
        return Fusion(None, why=f"{kind} is not an element-wise operator")
    if len(op.results) != 1:
        return Fusion(None, why=f"{kind} has {len(op.results)} results")
    prev = _previous(op)
    layer = producer_layer(prev)
    if prev is None or layer is None:
        return Fusion(
            None, why="the op before it is not an accelerator layer or an operator fused into one"
        )
    fed = [i for i, v in enumerate(op.operands) if v.owner is prev]
    if len(prev.results) != 1 or not fed:
        return Fusion(None, why=f"it does not read the output of '{layer}' (the op before it)")
    value = op.operands[fed[0]]
    if not value.has_one_use() or len(fed) != 1:
        return Fusion(None, why=f"the output of the op before it has other uses than {kind}")
    result = op.results[0].type
    if kind in RESHAPES:  # the same elements in another shape
        same = (
            isinstance(value.type, TensorType)
            and isinstance(result, TensorType)
            and result.get_element_type() == value.type.get_element_type()
            and result.element_count() == value.type.element_count()
        )
        if not same:
            return Fusion(None, why=f"its result does not hold its input's {value.type} elements")
    elif not (isinstance(value.type, TensorType) and result == value.type):
        return Fusion(None, why=f"its result is not of its input's type {value.type}")
    return Fusion(layer, fed[0])


@dataclass(frozen=True)
class AccelFusePass(ModulePass):
    """Mark every element-wise operator that may run in its producer's output stage."""

    name = "accel-fuse"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        target = module_target(op)
        for host in op.walk():  # program order: a chain fuses op by op
            if isinstance(host, accel.HostOp) and host.fused_into is None:
                fusion = fusion_problem(host, target)
                if fusion.layer is not None:
                    host.properties["fused_into"] = StringAttr(fusion.layer)
