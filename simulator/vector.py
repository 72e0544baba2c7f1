"""The vector unit: every operator that is not a convolution or a matrix product, timed.

Every target has one (`Target.host_ops = "vector"`, the default): `vector_lanes` lanes, each
doing one operation on one element per cycle, fed from DRAM by the target's DMA channel. With
`host_ops = "host"` those operators run on a host outside the accelerator and take no
accelerator cycles (accelflow's accounting before the vector unit).

The model is NVDLA's post-processing engines (nvdla.org, hw/v1/hwarch.html: the Single Data
Point processor (SDP) applies bias, batch norm, element-wise operations and, through a lookup
table, non-linear activations such as sigmoid and tanh at its throughput; the Planar Data
Processor (PDP) pools; hw/v2/scalability.html: `NVDLA_SDP_*_THROUGHPUT` elements per cycle, 16
in nv_large): a non-linear function costs what an addition costs, one lookup per element. An
operator NVDLA has no engine for is counted in passes of that kind: per output element unless
said otherwise, `VECTOR_COSTS`:

    view      0     Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout, Shape, Size (metadata:
                    no data moves, no cycles)
    copy      1     layout and indexing: Transpose, Concat, Slice, Split, Gather*, Expand, Tile,
                    Pad, Resize, Scatter*, DepthToSpace, SpaceToDepth, Where, Cast, ...
    pointwise 1     arithmetic, comparisons, logic, activations (LUT): Add, Mul, Relu, Exp,
                    Erf, Gelu, HardSwish, Sigmoid, ...; BatchNormalization not folded into a conv
    window    k     pooling: every output element reads its window (k = the window's elements)
    reduce    1/in  reductions and global pooling: one operation per INPUT element
    softmax   3/in  Softmax, LogSoftmax: max, exp and sum, normalise (three passes over the input)
    norm      3/in  LayerNormalization, GroupNormalization, InstanceNormalization: mean, variance,
                    normalise and scale (three passes)
    mac       MACs  a matrix product or convolution the accelerator does not take (MatMul with a
                    partial batch broadcast, Einsum, ConvTranspose, ...): one per multiply-add

Cycles of one operator: `ceil(operations / vector_lanes)` of compute, overlapped with its DRAM
traffic (its non-view inputs read, its outputs written, `element_bytes` per element; the DMA
channel at `dram_bw_bytes_per_cycle`), plus the DRAM latency once: `max(compute, dma) +
latency`. It starts when the previous instruction of the program has finished (operators run in
program order, after the accelerator layer before them). Energy: `vector_energy_pj_per_op` per
operation (the default 0.2 pJ is the MAC's, an 8-bit operation of the same class; Horowitz,
ISSCC 2014), plus the DRAM bytes at the target's DRAM energy.

Fusion (NVDLA's SDP sits in the convolution pipeline's output stage, so bias, batch norm,
element-wise operations and activations are applied to the results on their way to memory):
a `pointwise` operator (`fusable`) whose input is the output of the accelerator layer just
before it, or of an operator already fused into that layer, and used by nothing else, may run
in that layer's output stage, when the target's `vector_fusion` is on; so may a view that keeps
every element (`RESHAPES`: a 1-D conv's Squeeze, a Flatten), which costs nothing there and lets
the pointwise operators after it fuse too. The `accel-fuse` pass
marks it `fused_into = "<layer>"` in the IR. Its VECTOR row is flagged (`vec_fused`): it reads
only its other operands from DRAM (a residual, a per-channel scale) and writes nothing (the
layer's stores write its result in place of the layer's own), and its lanes work beside the
array, from the layer's start: the layer ends no sooner than `layer start + ceil(operations /
vector_lanes)`, and its other operands' reads queue on the DMA channel behind the layer's
transfers (`max(everything before, layer start + compute, DMA end + latency)`; it holds the
channel until then, as an operator on its own does, so the next layer starts on a quiet channel,
as when the tuner times it alone). Each fused
operator is a stage of the pipeline of its own (as NVDLA's BS, BN and EW units are), so two
fused operators do not add up. What it leaves out: the output stage's buffering (an operator
that outlasts the array holds the array's last stores back only through the total).

`vector_work(kind, inputs, outputs, attrs)` gives (operations, bytes read, bytes written) of one
operator from its tensors' shapes; the assembler puts them in the operator's VECTOR row
(simulator.program), the engine times it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

VIEW = ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Shape", "Size")
COPY = (
    "Transpose", "Concat", "Slice", "Split", "Gather", "GatherND", "GatherElements", "Expand",
    "Tile", "Pad", "Resize", "ScatterND", "ScatterElements", "DepthToSpace", "SpaceToDepth",
    "Where", "Cast", "CastLike", "Trilu", "OneHot", "ConstantOfShape", "Range",
)  # fmt: skip
WINDOW = ("MaxPool", "AveragePool")
REDUCE = (
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2",
    "ReduceSumSquare", "ArgMax", "ArgMin", "GlobalAveragePool", "GlobalMaxPool", "CumSum",
)  # fmt: skip
SOFTMAX = ("Softmax", "LogSoftmax")
NORM = ("LayerNormalization", "GroupNormalization", "InstanceNormalization")
MAC = ("MatMul", "Gemm", "Einsum", "ConvTranspose", "Conv")

# Operations per element, by class (module docstring); anything else is pointwise.
VECTOR_COSTS: dict[str, tuple[str, float]] = {
    **{op: ("view", 0.0) for op in VIEW},
    **{op: ("copy", 1.0) for op in COPY},
    **{op: ("window", 1.0) for op in WINDOW},
    **{op: ("reduce", 1.0) for op in REDUCE},
    **{op: ("softmax", 3.0) for op in SOFTMAX},
    **{op: ("norm", 3.0) for op in NORM},
    **{op: ("mac", 1.0) for op in MAC},
}


def op_class(kind: str) -> str:
    """The cost class of an operator (`VECTOR_COSTS`; pointwise when not listed)."""
    return VECTOR_COSTS.get(kind, ("pointwise", 1.0))[0]


# Views that keep every element (a new shape for the same data): they may sit in an output stage
# between a layer and a pointwise operator (a 1-D conv's Squeeze before its activation).
RESHAPES = ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity")


def fusable(kind: str) -> bool:
    """Whether an operator may run in an accelerator layer's output stage (`pointwise`: one
    operation per element of its output, which has its input's shape; or one of `RESHAPES`,
    no operation at all; module docstring)."""
    return op_class(kind) == "pointwise" or kind in RESHAPES


def _count(shape: Sequence[int] | None) -> int:
    return int(math.prod(shape)) if shape is not None else 0


def _macs(kind: str, inputs: list[Sequence[int] | None], outputs: list[Sequence[int]],
          attrs: dict[str, Any]) -> int:  # fmt: skip
    """Multiply-adds of a matrix product or convolution run on the vector unit."""
    out = _count(outputs[0]) if outputs else 0
    if kind in ("MatMul", "Gemm") and inputs and inputs[0]:
        a = inputs[0]
        k = a[0] if kind == "Gemm" and int(attrs.get("transA", 0)) else a[-1]
        return out * int(k)
    if kind == "Conv" and len(inputs) > 1 and inputs[1]:
        w = inputs[1]
        return out * int(math.prod(w[1:]))
    if kind == "ConvTranspose" and len(inputs) > 1 and inputs[0] and inputs[1]:
        w = inputs[1]  # [C, K/group, kH, kW]: every input element meets K/group * kernel weights
        return _count(inputs[0]) * int(math.prod(w[1:]))
    if kind == "Einsum":
        # Every index of the equation once: the product of the distinct index extents.
        equation = str(attrs.get("equation", "")).replace(" ", "")
        lhs = equation.split("->")[0].split(",")
        extents: dict[str, int] = {}
        for term, shape in zip(lhs, inputs, strict=False):
            letters = [c for c in term if c.isalpha()]
            if shape is None or "..." in term:
                return out * max((int(s[-1]) for s in inputs if s), default=1)
            for letter, extent in zip(letters, shape, strict=False):
                extents[letter] = max(extents.get(letter, 1), int(extent))
        return int(math.prod(extents.values())) if extents else out
    return out


def vector_work(
    kind: str,
    inputs: list[Sequence[int] | None],
    outputs: list[Sequence[int]],
    attrs: dict[str, Any],
    constant: list[bool] | None = None,
) -> tuple[int, int, int]:
    """(operations, elements read, elements written) of one operator on the vector unit, from
    its input shapes (None: an absent optional input), output shapes and attributes; `constant`
    marks inputs that are constants (read like the others: they live in DRAM)."""
    cls, per = VECTOR_COSTS.get(kind, ("pointwise", 1.0))
    if cls == "view":
        return 0, 0, 0
    read = sum(_count(s) for s in inputs if s is not None)
    written = sum(_count(s) for s in outputs)
    out = _count(outputs[0]) if outputs else 0
    if kind in ("Shape", "Size", "ConstantOfShape", "Range"):
        read = 0
    if cls in ("reduce", "softmax", "norm"):
        main = _count(inputs[0]) if inputs and inputs[0] is not None else out
        ops = int(math.ceil(per * main))
    elif cls == "window":
        kernel = attrs.get("kernel_shape") or []
        ops = out * int(math.prod(int(k) for k in kernel))
    elif cls == "mac":
        ops = _macs(kind, inputs, outputs, attrs)
    else:
        ops = int(math.ceil(per * out))
    return ops, read, written


def vector_cycles(ops: Any, lanes: Any, xp: Any) -> Any:
    """Compute cycles of `ops` operations on `lanes` lanes (arrays or scalars)."""
    return (ops + lanes - 1) // xp.maximum(lanes, 1)
