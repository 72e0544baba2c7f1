"""`onnx-to-accel`: the `onnx` dialect -> accelerator layers (`accel.conv2d`, `accel.matmul`),
constants (`accel.constant`) and host operations (`accel.host`).

    accelflow-opt model.mlir -p 'onnx-to-accel{target=maeri-128}'

- `onnx.Constant` -> `accel.constant` (tensor_name = its onnx_name); unused constants are dropped.
- `onnx.Conv` (2-D) -> `accel.conv2d` with the ONNX defaults for pads/strides/dilations/group and
  the bias operand when present; `auto_pad` SAME_UPPER/SAME_LOWER/VALID become explicit pads.
  A 1-D conv (x [N, C, W]) is a conv2d of height 1: `accel.host "Unsqueeze"` (axes [2], a view)
  of x (and of a non-constant weight; a constant one becomes `<name>/weight` [K, C/g, 1, S]),
  the conv2d (pads [0, begin, 0, end], strides and dilations [1, s]), then `accel.host
  "Squeeze"` back to [N, K, W'], which produces the node's tensor. 3-D convs run on the host.
  A `BatchNormalization` (inference mode) whose input is a conv result used only by it is folded
  into that conv: w' = w * s, b' = (b - mean) * s + beta with s = scale / sqrt(var + eps), as new
  constants `<bn name>/folded_weight` and `<bn name>/folded_bias`; the conv then produces the
  BN's output tensor (its `onnx_outputs`).
- `onnx.Gemm` -> `accel.matmul`: transB and alpha fold into a new constant B `<name>/B` when B is
  constant (else a host Transpose / Mul), transA likewise (`<name>/A`); beta * C folds into the bias
  `<name>/bias` when C is constant and broadcasts along rows; any other C is added after the
  matmul by a host `Add` (scaled by a host `Mul` when beta != 1).
- `onnx.MatMul` -> `accel.matmul` when a and b have rank >= 2 with equal batch dims or one
  operand without (`workload.matmul_batch`: batch x heads GEMMs, e.g. attention's QK^T and AV
  with both operands activations), else host.
- Everything else (and BN not folded, a 3-D Conv) -> `accel.host "<OpType>"` with the ONNX
  attributes, `layer_name` = the node name. `onnx.NoValue` stays.

Every produced op that yields an ONNX tensor keeps that node's `onnx_outputs` attribute; ops
introduced by the lowering (a host Transpose for transA, ...) have none (the assembler names them).
The pass sets the module's `accel.target` from `target` (a preset name or a YAML path); given
while the module has another target, it replaces it with a warning. Without `target` the
module's stays (tpu-like when it has none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    FloatAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    TensorType,
)
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint

from compiler import constant_pool
from compiler.passes.common import (
    ONNX_OUTPUTS,
    PassError,
    retarget,
    shape_of,
)
from dialects import accel
from dialects.onnx import NODE_OPS, NoValueOp, OnnxNodeOp
from simulator.shapes import same_pads
from simulator.workload import ShapeError, matmul_shape

OnnxConstantOp = NODE_OPS["Constant"]
OnnxConvOp = NODE_OPS["Conv"]
OnnxGemmOp = NODE_OPS["Gemm"]
OnnxMatMulOp = NODE_OPS["MatMul"]
OnnxBatchNormOp = NODE_OPS["BatchNormalization"]


class UnsupportedNodeError(PassError):
    """An ONNX node with attributes the lowering does not handle."""


# --- reading ONNX attributes and constants ------------------------------------------------------


def _attr_ints(op: Operation, name: str, default: Sequence[int]) -> list[int]:
    attr = op.attributes.get(name)
    if isinstance(attr, DenseArrayBase):
        return [int(v) for v in attr.get_values()]
    if isinstance(attr, ArrayAttr):
        return [int(v.value.data) for v in attr.data if isinstance(v, IntegerAttr)]
    return list(default)


def _attr_int(op: Operation, name: str, default: int) -> int:
    attr = op.attributes.get(name)
    return int(attr.value.data) if isinstance(attr, IntegerAttr) else default


def _attr_float(op: Operation, name: str, default: float) -> float:
    attr = op.attributes.get(name)
    if isinstance(attr, FloatAttr | IntegerAttr):
        return float(attr.value.data)
    return default


def _attr_str(op: Operation, name: str, default: str) -> str:
    attr = op.attributes.get(name)
    return attr.data if isinstance(attr, StringAttr) else default


def _node_name(op: Operation) -> str:
    return _attr_str(op, "onnx_name", op.name)


def _present(op: Operation, index: int) -> SSAValue | None:
    """Operand `index` unless absent (missing or onnx.NoValue)."""
    if index >= len(op.operands):
        return None
    value = op.operands[index]
    return None if isinstance(value.owner, NoValueOp) else value


def constant_value(value: SSAValue) -> np.ndarray | None:
    """The array behind `value` if an onnx.Constant or accel.constant defines it."""
    owner = value.owner
    if isinstance(owner, accel.ConstantOp):
        return constant_pool.array_of(owner.value)
    if isinstance(owner, OnnxConstantOp):
        attr = owner.attributes.get("value")
        return None if attr is None else constant_pool.array_of(attr)
    return None


def _is_rank(value: SSAValue, ranks: Sequence[int]) -> bool:
    return isinstance(value.type, TensorType) and len(value.type.get_shape()) in ranks


def _first_output(op: Operation) -> dict[str, Attribute]:
    """onnx_outputs of `op` limited to its first tensor (for the layer now producing it)."""
    attr = op.attributes.get(ONNX_OUTPUTS)
    if not isinstance(attr, ArrayAttr) or not attr.data:
        return {}
    return {ONNX_OUTPUTS: ArrayAttr([attr.data[0]])}


def _erase_if_dead(rewriter: PatternRewriter, value: SSAValue | None) -> None:
    if value is None or value.uses:
        return
    owner = value.owner
    if isinstance(owner, accel.ConstantOp | OnnxConstantOp) and not owner.results[0].uses:
        rewriter.erase(owner)


# --- patterns -------------------------------------------------------------------------------------


class ConstantToAccel(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: OnnxConstantOp, rewriter: PatternRewriter, /) -> None:
        if not any(result.uses for result in op.results):
            rewriter.erase(op)
            return
        value = op.attributes.get("value")
        if not isinstance(value, DenseIntOrFPElementsAttr | DenseResourceAttr):
            raise UnsupportedNodeError(f"Constant '{_node_name(op)}': no dense `value` attribute")
        rewriter.replace(op, accel.ConstantOp(value, _node_name(op)))


def _conv_pads(op: Operation, x: SSAValue, w: SSAValue) -> list[int]:
    """(begins..., ends...) per spatial axis, from `pads` or `auto_pad`."""
    name = _node_name(op)
    nd = len(shape_of(x)) - 2
    auto_pad = _attr_str(op, "auto_pad", "NOTSET")
    if auto_pad == "NOTSET":
        return _attr_ints(op, "pads", (0,) * 2 * nd)
    if auto_pad == "VALID":
        return [0] * 2 * nd
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        raise UnsupportedNodeError(
            f"Conv '{name}': auto_pad '{auto_pad}' is not supported "
            "(NOTSET, VALID, SAME_UPPER, SAME_LOWER)"
        )
    strides = _attr_ints(op, "strides", (1,) * nd)
    dilations = _attr_ints(op, "dilations", (1,) * nd)
    begin, end = same_pads(
        shape_of(x)[2:], shape_of(w)[2:], strides, dilations, auto_pad == "SAME_UPPER"
    )
    return [*begin, *end]


def _foldable_bn(conv: Operation) -> tuple[Operation, list[np.ndarray]] | None:
    """The BatchNormalization reading only `conv`'s result, with its constant params."""
    uses = list(conv.results[0].uses)
    if len(uses) != 1 or uses[0].index != 0:
        return None
    bn = uses[0].operation
    if not isinstance(bn, OnnxBatchNormOp) or len(bn.operands) != 5:
        return None
    if _attr_int(bn, "training_mode", 0) or any(r.uses for r in bn.results[1:]):
        return None
    params = [constant_value(v) for v in bn.operands[1:5]]
    if any(p is None for p in params):
        return None
    return bn, [np.asarray(p, np.float64).reshape(-1) for p in params]  # type: ignore[arg-type]


class ConvToAccel(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: OnnxConvOp, rewriter: PatternRewriter, /) -> None:
        if len(op.operands) < 2 or len(op.results) != 1:
            return
        x, w, b = op.operands[0], op.operands[1], _present(op, 2)
        one_d = _is_rank(x, (3,)) and _is_rank(w, (3,))
        if not (one_d or (_is_rank(x, (4,)) and _is_rank(w, (4,)))):
            return  # 3-D convolutions run on the vector unit (simulator/host_ops/nn.py)
        name = _node_name(op)
        nd = 1 if one_d else 2
        geometry = dict(
            strides=_attr_ints(op, "strides", (1,) * nd),
            pads=_conv_pads(op, x, w),
            dilations=_attr_ints(op, "dilations", (1,) * nd),
            group=_attr_int(op, "group", 1),
        )
        # A BatchNormalization after the conv, folded into constant weights and bias.
        folded = _foldable_bn(op)
        w_value = constant_value(w)
        b_value = constant_value(b) if b is not None else None
        if folded is None or w_value is None or (b is not None and b_value is None):
            last: Operation = op
        else:
            bn, (scale, beta, mean, var) = folded
            factor = scale / np.sqrt(var + _attr_float(bn, "epsilon", 1e-5))
            bias = np.zeros(w_value.shape[0]) if b_value is None else b_value.astype(np.float64)
            w_value = w_value.astype(np.float64) * factor.reshape((-1,) + (1,) * (w_value.ndim - 1))
            b_value = (bias - mean) * factor + beta
            last = bn
        emit = _Emitter(name)
        weight, bias_in = w, b
        if last is not op:  # the folded weights, named after the BN
            folds = _Emitter(_node_name(last))
            weight = folds.constant(w_value[:, :, None] if one_d else w_value, "folded_weight")
            bias_in = folds.constant(b_value, "folded_bias")
            emit.ops += folds.ops
        elif one_d:  # a conv2d of height 1: its weight [K, C/g, 1, S]
            if w_value is not None:
                weight = emit.constant(w_value[:, :, None], "weight")
            else:
                k, cg, s = shape_of(w)
                weight = emit.host("Unsqueeze", [w], (k, cg, 1, s), w, "weight", {"axes": [2]})
        out = last.results[0].type
        assert isinstance(out, TensorType)
        if one_d:
            _conv1d(emit, x, weight, bias_in, out, geometry)
        else:
            operands = [x, weight] if bias_in is None else [x, weight, bias_in]
            emit.ops.append(accel.Conv2DOp(operands, out, name, **geometry))
        result = emit.ops[-1].results[0]
        assert isinstance(result.owner, Operation)
        result.owner.attributes.update(_first_output(last))
        _replace(op, last, emit.ops, result, rewriter, (w, b))


def _conv1d(
    emit: _Emitter,
    x: SSAValue,
    weight: SSAValue,
    bias: SSAValue | None,
    out: TensorType,
    geometry: dict[str, Any],
) -> None:
    """A 1-D conv as an `accel.conv2d` of height 1 (its weight `weight` already [K, C/g, 1, S]):
    the input gets a unit axis 2 (host Unsqueeze, a view) and the result loses it (host
    Squeeze, the last op `emit` holds)."""
    n, c, width = shape_of(x)
    x4 = emit.host("Unsqueeze", [x], (n, c, 1, width), x, "unsqueeze", {"axes": [2]})
    n, k, width_out = (int(v) for v in out.get_shape())
    begin, end = geometry["pads"]
    conv = accel.Conv2DOp(
        [x4, weight] if bias is None else [x4, weight, bias],
        TensorType(out.get_element_type(), [n, k, 1, width_out]),
        emit.name,
        strides=[1, *geometry["strides"]],
        pads=[0, begin, 0, end],
        dilations=[1, *geometry["dilations"]],
        group=geometry["group"],
    )
    emit.ops.append(conv)
    emit.host("Squeeze", [conv.output], (n, k, width_out), conv.output, "squeeze", {"axes": [2]})


def _replace(
    op: Operation,
    last: Operation,
    ops: list[Operation],
    result: SSAValue,
    rewriter: PatternRewriter,
    originals: tuple[SSAValue | None, ...],
) -> None:
    """`op` (and the BN `last` folded into it, when not `op`) replaced by `ops`, `result` the
    tensor it produced; constants left unused erased."""
    if last is op:
        rewriter.replace(op, ops, [result])
    else:
        rewriter.insert(ops, InsertPoint.before(op))
        rewriter.replace(last, [], [result, *([None] * (len(last.results) - 1))])
        rewriter.erase(op)
    for value in originals:
        _erase_if_dead(rewriter, value)


class _Emitter:
    """Collects the ops that replace one node."""

    def __init__(self, name: str):
        self.name = name
        self.ops: list[Operation] = []

    def constant(self, array: np.ndarray, suffix: str) -> SSAValue:
        op = accel.ConstantOp(
            constant_pool.attribute(np.asarray(array, np.float32), f"{self.name}/{suffix}"),
            f"{self.name}/{suffix}",
        )
        self.ops.append(op)
        return op.result

    def host(
        self,
        op_type: str,
        inputs: list[SSAValue],
        shape: Sequence[int],
        like: SSAValue,
        suffix: str,
        attrs: dict[str, Any] | None = None,
    ) -> SSAValue:
        assert isinstance(like.type, TensorType)
        typ = TensorType(like.type.get_element_type(), list(shape))
        attributes = {k: _onnx_attr(v) for k, v in (attrs or {}).items()}
        op = accel.HostOp(op_type, inputs, [typ], f"{self.name}/{suffix}", attributes)
        self.ops.append(op)
        return op.outputs[0]


def _onnx_attr(value: Any) -> Attribute:
    if isinstance(value, list | tuple):
        return accel.i64_array(value)
    return accel.to_attr(value)


class GemmToAccel(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: OnnxGemmOp, rewriter: PatternRewriter, /) -> None:
        if len(op.operands) < 2 or len(op.results) != 1:
            return
        a, b, c = op.operands[0], op.operands[1], _present(op, 2)
        if not (_is_rank(a, (2,)) and _is_rank(b, (2,))):
            return
        originals = (a, b, c)
        out_type = op.results[0].type
        assert isinstance(out_type, TensorType)
        m, n = (int(v) for v in out_type.get_shape())
        alpha, beta = _attr_float(op, "alpha", 1.0), _attr_float(op, "beta", 1.0)
        emit = _Emitter(_node_name(op))

        a_value = constant_value(a)
        if _attr_int(op, "transA", 0):
            if a_value is not None:
                a_value = a_value.T
                a = emit.constant(a_value, "A")
            else:
                a = emit.host("Transpose", [a], shape_of(a)[::-1], a, "transA", {"perm": [1, 0]})
        b_value = constant_value(b)
        trans_b = bool(_attr_int(op, "transB", 0))
        if b_value is not None:
            if trans_b or alpha != 1.0:
                transposed = b_value.T if trans_b else b_value  # a view: no copy
                b = emit.constant(transposed if alpha == 1.0 else transposed * alpha, "B")
        else:
            if trans_b:
                b = emit.host("Transpose", [b], shape_of(b)[::-1], b, "transB", {"perm": [1, 0]})
            if alpha != 1.0:
                if a_value is not None:
                    a = emit.constant(a_value * alpha, "A")
                else:
                    scalar = emit.constant(np.array(alpha), "alpha")
                    a = emit.host("Mul", [a, scalar], shape_of(a), a, "alpha")

        bias: SSAValue | None = None
        addend: SSAValue | None = None
        if c is not None and beta != 0.0:
            c_value = constant_value(c)
            if beta == 1.0 and shape_of(c) == (n,):
                bias = c
            elif c_value is not None and (c_value.ndim <= 1 or c_value.shape[0] == 1):
                row = np.broadcast_to(c_value.astype(np.float64) * beta, (m, n))[0]
                bias = emit.constant(row, "bias")
            elif c_value is not None:
                addend = c if beta == 1.0 else emit.constant(c_value * beta, "C")
            elif beta != 1.0:
                scalar = emit.constant(np.array(beta), "beta")
                addend = emit.host("Mul", [c, scalar], shape_of(c), c, "beta")
            else:
                addend = c

        operands = [a, b] if bias is None else [a, b, bias]
        matmul = accel.MatmulOp(operands, out_type, emit.name)
        emit.ops.append(matmul)
        result = matmul.output
        if addend is not None:
            result = emit.host("Add", [matmul.output, addend], (m, n), matmul.output, "add")
        assert isinstance(result.owner, Operation)
        result.owner.attributes.update(_first_output(op))
        rewriter.replace(op, emit.ops, [result])
        for value in originals:
            _erase_if_dead(rewriter, value)


class MatMulToAccel(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: OnnxMatMulOp, rewriter: PatternRewriter, /) -> None:
        if len(op.operands) != 2 or len(op.results) != 1:
            return
        a, b = op.operands
        try:
            matmul_shape(shape_of(a), shape_of(b))
        except ShapeError:
            return  # a partial broadcast of the batch dims (or a vector operand): the host's
        matmul = accel.MatmulOp([a, b], op.results[0].type, _node_name(op))
        matmul.attributes.update(_first_output(op))
        rewriter.replace(op, matmul)


class NodeToHost(RewritePattern):
    """Any other ONNX node: a host op with its ONNX attributes."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: OnnxNodeOp, rewriter: PatternRewriter, /) -> None:
        attributes = {k: v for k, v in op.attributes.items() if k != "onnx_name"}
        host = accel.HostOp(
            op.op_type, list(op.operands), [r.type for r in op.results], _node_name(op), attributes
        )
        rewriter.replace(op, host)


@dataclass(frozen=True)
class OnnxToAccelPass(ModulePass):
    """Lower the onnx dialect to accel layers, constants and host ops."""

    name = "onnx-to-accel"

    target: str = ""
    """Preset name or YAML path: the module's `accel.target` (replacing another with a
    warning); empty: the module's own, tpu-like when it has none."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        retarget(op, self.target, self.name)
        PatternRewriteWalker(
            GreedyRewritePatternApplier(
                [ConstantToAccel(), ConvToAccel(), GemmToAccel(), MatMulToAccel(), NodeToHost()]
            ),
            apply_recursively=False,
        ).rewrite_module(op)
