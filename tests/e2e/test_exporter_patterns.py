"""Patterns torch's exporters write that the importer must see through, rebuilt with
onnx.helper (no torch): nn.MultiheadAttention's legacy in-projection split, whose Reshape target
is shape arithmetic (Shape, Mod, Reshape, Slice, Concat) that ONNX's whole-model inference does
not resolve from the second layer on; the importer folds it and infers the node alone."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import accelflow
from accelflow.api import random_inputs

B, S, D = 2, 10, 16


def _const(nodes: list, name: str, value: list[int]) -> str:
    tensor = numpy_helper.from_array(np.array(value, np.int64), f"{name}_t")
    nodes.append(helper.make_node("Constant", [], [name], name=name, value=tensor))
    return name


def _split_layer(nodes: list, inits: list, x: str, i: int) -> str:
    """x [B, S, D] -> in-projection to 3D -> reshaped to [B, S, 3, D] with the exporter's
    shape arithmetic -> the second of the three slices back to [B, S, D]."""
    p = f"/l{i}"
    w = numpy_helper.from_array(
        (np.random.default_rng(i).standard_normal((D, 3 * D)) / 4).astype(np.float32), f"w{i}"
    )
    b = numpy_helper.from_array(np.full(3 * D, 0.1, np.float32), f"b{i}")
    inits += [w, b]
    nodes.append(helper.make_node("MatMul", [x, f"w{i}"], [f"{p}/mm"], name=f"{p}/MatMul"))
    nodes.append(helper.make_node("Add", [f"{p}/mm", f"b{i}"], [f"{p}/add"], name=f"{p}/Add"))
    nodes.append(helper.make_node("Shape", [f"{p}/add"], [f"{p}/shape"], name=f"{p}/Shape"))
    zero = _const(nodes, f"{p}/c3", [0])
    mod = helper.make_node(
        "Mod", [_const(nodes, f"{p}/c1", [2]), _const(nodes, f"{p}/c2", [3])], [f"{p}/mod"],
        name=f"{p}/Mod",
    )  # fmt: skip
    nodes.append(mod)
    nodes.append(helper.make_node("Reshape", [f"{p}/mod", _const(nodes, f"{p}/c4", [1])],
                                  [f"{p}/r0"], name=f"{p}/Reshape"))  # fmt: skip
    nodes.append(helper.make_node("Slice", [f"{p}/shape", zero, f"{p}/r0"], [f"{p}/head"],
                                  name=f"{p}/Slice"))  # fmt: skip
    nodes.append(helper.make_node("Add", [f"{p}/mod", _const(nodes, f"{p}/c5", [1])],
                                  [f"{p}/a1"], name=f"{p}/Add_1"))  # fmt: skip
    nodes.append(helper.make_node("Reshape", [f"{p}/a1", _const(nodes, f"{p}/c6", [1])],
                                  [f"{p}/r1"], name=f"{p}/Reshape_1"))  # fmt: skip
    big = _const(nodes, f"{p}/c7", [np.iinfo(np.int64).max])
    nodes.append(helper.make_node("Slice", [f"{p}/shape", f"{p}/r1", big], [f"{p}/tail"],
                                  name=f"{p}/Slice_1"))  # fmt: skip
    nodes.append(helper.make_node(
        "Concat", [f"{p}/head", _const(nodes, f"{p}/c0", [3, D]), f"{p}/tail"], [f"{p}/target"],
        name=f"{p}/Concat", axis=0,
    ))  # fmt: skip
    nodes.append(helper.make_node("Reshape", [f"{p}/add", f"{p}/target"], [f"{p}/split"],
                                  name=f"{p}/Reshape_2"))  # fmt: skip
    # [B, S, 3, D, 1] ... the exporter then unsqueezes / transposes; take slice 1 of the 3
    nodes.append(helper.make_node(
        "Gather", [f"{p}/split", _const(nodes, f"{p}/one", 1)], [f"{p}/k"], name=f"{p}/Gather",
        axis=2,
    ))  # fmt: skip
    return f"{p}/k"


def _model() -> onnx.ModelProto:
    nodes: list = []
    inits: list = []
    x = "x"
    for i in range(3):
        x = _split_layer(nodes, inits, x, i)
    graph = helper.make_graph(
        nodes, "split", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [B, S, D])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)], inits,
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_legacy_attention_split_imports_and_matches():
    model = _model()
    result = accelflow.compile(model, target="tpu-like")
    program = result.program
    assert sum(layer.on_accel for layer in program.layers) == 3  # the three in-projections
    inputs = random_inputs(program, seed=0)
    sim = accelflow.simulate(program, result.target, functional=True, inputs=inputs)
    out = program.outputs[0]
    assert sim.outputs[out].shape == (B, S, D)
    assert accelflow.check(model, inputs, {out: sim.outputs[out]}).ok
