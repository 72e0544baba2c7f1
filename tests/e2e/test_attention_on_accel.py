"""Attention's batched MatMuls (batch x heads, both operands activations) on the accelerator:
mapped, tiled and simulated on every family like a GEMM, outputs equal to the ONNX reference."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import accelflow
from accelflow.api import random_inputs
from simulator.workload import ShapeError, matmul_batch, matmul_shape

BATCH, HEADS, SEQ, HEAD_DIM = 2, 3, 5, 4


def attention_model() -> onnx.ModelProto:
    """softmax(Q K^T) V on [batch, seq, heads*head_dim] projections (as an exporter writes it)."""
    width = HEADS * HEAD_DIM
    rng = np.random.default_rng(0)
    inits, nodes = [], []
    for name, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
        w = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
        inits += [
            numpy_helper.from_array(w, f"W{name}"),
            numpy_helper.from_array(np.array([BATCH, SEQ, HEADS, HEAD_DIM], np.int64), f"s{name}"),
        ]
        nodes += [
            helper.make_node("MatMul", ["x", f"W{name}"], [f"{name}0"], name=f"/{name}/MatMul"),
            helper.make_node("Reshape", [f"{name}0", f"s{name}"], [f"{name}1"], name=f"/{name}/R"),
            helper.make_node("Transpose", [f"{name}1"], [name], name=f"/{name}/T", perm=perm),
        ]
    nodes += [
        helper.make_node("MatMul", ["q", "k"], ["scores"], name="/attn/QK"),
        helper.make_node("Softmax", ["scores"], ["probs"], name="/attn/Softmax", axis=-1),
        helper.make_node("MatMul", ["probs", "v"], ["y"], name="/attn/AV"),
    ]
    graph = helper.make_graph(
        nodes,
        "attention",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [BATCH, SEQ, width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [BATCH, HEADS, SEQ, HEAD_DIM])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("target", ["tpu-like-small", "maeri-16", "sigma-16"])
def test_attention_matmuls_run_on_the_accelerator(target):
    model = attention_model()
    result = accelflow.compile(model, target=target)
    layers = {layer.name: layer for layer in result.program.layers}
    for name, (m, n, k) in {
        "/attn/QK": (SEQ, SEQ, HEAD_DIM),
        "/attn/AV": (SEQ, HEAD_DIM, SEQ),
    }.items():
        layer = layers[name]
        assert layer.on_accel and layer.kind == "matmul"
        assert layer.dims == {"g": BATCH * HEADS, "m": m, "n": n, "k": k}
    inputs = random_inputs(result.program, seed=3)
    sim = accelflow.simulate(result.program, result.target, functional=True, inputs=inputs)
    by_name = {layer.name: layer for layer in sim.stats.layers}
    assert (
        by_name["/attn/QK"].cycles > 0
        and by_name["/attn/AV"].macs == BATCH * HEADS * SEQ**2 * HEAD_DIM
    )
    report = accelflow.check(model, inputs, {"y": sim.outputs["y"]}, rtol=1e-4)
    assert report.ok, report.worst()


def test_batch_rules():
    assert matmul_batch((2, 3, 5, 4), (2, 3, 4, 5)) == (2, 3)
    assert matmul_batch((5, 4), (2, 3, 4, 5)) == (2, 3)  # a shared over the batch
    assert matmul_batch((2, 3, 5, 4), (1, 1, 4, 5)) == (2, 3)  # b shared
    assert matmul_batch((1, 3, 5, 4), (3, 4, 5)) == (1, 3)  # left-padded: equal batches
    shape = matmul_shape((2, 3, 5, 4), (2, 3, 4, 6))
    assert shape.dims == {"g": 6, "m": 5, "n": 6, "k": 4} and shape.b_batched
    for a, b in (((2, 1, 5, 4), (1, 3, 4, 5)), ((3, 5, 4), (2, 3, 4, 5))):
        with pytest.raises(ShapeError, match="broadcast partly"):
            matmul_batch(a, b)


def test_partial_broadcast_stays_on_the_host():
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 1, 5, 4])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 3, 4, 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 5, 5])
    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["y"], name="/mm")], "g",
                              [a, b], [y])  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    result = accelflow.compile(model, target="tpu-like")
    (layer,) = result.program.layers
    assert not layer.on_accel and layer.kind == "MatMul"
    inputs = random_inputs(result.program, seed=0)
    sim = accelflow.simulate(result.program, result.target, functional=True, inputs=inputs)
    assert accelflow.check(model, inputs, {"y": sim.outputs["y"]}).ok
