"""Graph inputs: random ones a model can take (token ids within the embedding), given ones
checked against the program (names, shapes, dtypes)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import accelflow
from simulator.inputs import InputError, coerce_inputs, random_inputs

VOCAB, SEQ = 11, 64


def _program():
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, [2, SEQ])
    mask = helper.make_tensor_value_info("mask", TensorProto.BOOL, [2, SEQ])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, SEQ, 4])
    emb = numpy_helper.from_array(np.ones((VOCAB, 4), np.float32), "emb")
    nodes = [
        helper.make_node("Gather", ["emb", "ids"], ["e"], name="/Gather", axis=0),
        helper.make_node("Add", ["e", "x"], ["s"], name="/Add"),
        helper.make_node("Cast", ["mask"], ["m"], name="/Cast", to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["m", "axes"], ["m2"], name="/Unsqueeze"),
        helper.make_node("Mul", ["s", "m2"], ["y"], name="/Mul"),
    ]
    axes = numpy_helper.from_array(np.array([-1], np.int64), "axes")
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, SEQ, 4])
    graph = helper.make_graph(nodes, "g", [ids, mask, x], [y], [emb, axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return accelflow.compile(model, target="tpu-like").program


def test_random_inputs_fit_the_model():
    program = _program()
    inputs = random_inputs(program, seed=0)
    assert inputs["ids"].dtype == np.int64 and inputs["ids"].shape == (2, SEQ)
    assert inputs["ids"].min() >= 0 and inputs["ids"].max() < VOCAB
    assert inputs["ids"].max() > 1  # the whole table, not just 0 and 1
    assert inputs["mask"].dtype == np.bool_ and inputs["mask"].all()
    assert inputs["x"].dtype == np.float32


def test_given_inputs_are_checked_and_converted():
    program = _program()
    given = random_inputs(program, seed=1)
    given["ids"] = given["ids"].astype(np.float64)  # whole numbers: converted
    out = coerce_inputs(program, given)
    assert out["ids"].dtype == np.int64
    with pytest.raises(InputError, match="input 'ids' takes int64 values .* not whole numbers"):
        coerce_inputs(program, {**given, "ids": given["ids"] + 0.5})
    with pytest.raises(InputError, match="input 'x' has shape 2x64, the model takes 2x64x4"):
        coerce_inputs(program, {**given, "x": np.zeros((2, SEQ), np.float32)})
    with pytest.raises(InputError, match="no value for graph input 'mask'"):
        coerce_inputs(program, {k: v for k, v in given.items() if k != "mask"})
    with pytest.raises(InputError, match="'nope' is not a graph input"):
        coerce_inputs(program, {**given, "nope": 1})
