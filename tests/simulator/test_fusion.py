"""Element-wise operators in the output stage of the layer before them (`accel-fuse`,
simulator/vector.py "Fusion"): where they run, what they cost, and what the IR may claim."""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.dialects.builtin import StringAttr

import accelflow
from accelflow.models import GraphBuilder
from compiler.assembler import AssemblyError, assemble
from compiler.importer import import_onnx
from compiler.pipeline import compile_module
from dialects import accel
from simulator.target import load_target

CH, SIZE = 8, 12


def _conv_add_relu(residual: bool = True):
    """conv -> (Add residual) -> Relu, the residual a second graph input."""
    g = GraphBuilder("fuse", 0)
    y = g.conv("x", "/conv", "conv", CH, CH, 3, pads=1)
    more = [("r", (1, CH, SIZE, SIZE))] if residual else []
    if residual:
        y = g.node("Add", [y, "r"], "/add/Add")
    y = g.relu(y, "/relu")
    return g.model("x", (1, CH, SIZE, SIZE), y, (1, CH, SIZE, SIZE), more_inputs=more)


def _run(model, *overrides: str):
    compiled = accelflow.compile(model, target="tpu-like", overrides=list(overrides))
    return compiled, accelflow.simulate(compiled.program).stats


def test_fused_operators_are_marked_and_shown():
    compiled, stats = _run(_conv_add_relu())
    where = {layer.name: layer.unit for layer in stats.layers}
    assert where == {"/conv/Conv": "accel", "/add/Add": "fused", "/relu/Relu": "fused"}
    fused = {layer.name: layer.fused_into for layer in compiled.program.layers}
    assert fused["/add/Add"] == fused["/relu/Relu"] == "/conv/Conv"
    assert stats.layers[1].to_dict()["fused_into"] == "/conv/Conv"


def test_fusion_saves_the_round_trip_and_reads_the_residual():
    """Fused: the Add reads only the residual and the Relu nothing; apart, each reads its input
    and writes its output. The conv's own traffic is the same either way."""
    eb = 1
    n = CH * SIZE * SIZE * eb
    _, on = _run(_conv_add_relu())
    _, off = _run(_conv_add_relu(), "vector_fusion=false")
    assert [la.unit for la in off.layers] == ["accel", "vector", "vector"]
    conv_on, add_on, relu_on = on.layers
    conv_off, add_off, relu_off = off.layers
    assert (conv_on.dram_read_bytes, conv_on.dram_write_bytes) == (
        conv_off.dram_read_bytes, conv_off.dram_write_bytes
    )  # fmt: skip
    assert (add_on.dram_read_bytes, add_on.dram_write_bytes) == (n, 0)
    assert (relu_on.dram_read_bytes, relu_on.dram_write_bytes) == (0, 0)
    assert (add_off.dram_read_bytes, add_off.dram_write_bytes) == (2 * n, n)
    assert (relu_off.dram_read_bytes, relu_off.dram_write_bytes) == (n, n)
    assert add_on.vector_ops == add_off.vector_ops == relu_on.vector_ops == CH * SIZE * SIZE
    assert on.total.cycles < off.total.cycles


def test_a_fused_operator_hides_behind_the_array_until_it_outlasts_it():
    """The Relu's lanes work beside the array from the conv's start: with many lanes the model
    takes the conv's cycles; with one lane, the Relu's element count (the first layer starts at
    cycle 0)."""
    model = _conv_add_relu(residual=False)
    _, wide = _run(model, "vector_lanes=1024")
    _, alone = _run(model, "host_ops=host")
    conv_cycles = alone.layers[0].cycles
    assert wide.total.cycles == conv_cycles and wide.layers[1].cycles == 0
    _, narrow = _run(model, "vector_lanes=1")
    elements = CH * SIZE * SIZE
    assert elements > conv_cycles
    assert narrow.total.cycles == elements and narrow.layers[1].cycles == elements - conv_cycles
    assert narrow.layers[1].compute_cycles == narrow.layers[1].cycles


def test_values_are_the_same_fused_or_not():
    model = _conv_add_relu()
    rng = np.random.default_rng(0)
    inputs = {
        "x": rng.standard_normal((1, CH, SIZE, SIZE)).astype(np.float32),
        "r": rng.standard_normal((1, CH, SIZE, SIZE)).astype(np.float32),
    }
    outs = []
    for overrides in ([], ["vector_fusion=false"]):
        compiled = accelflow.compile(model, target="tpu-like", overrides=overrides)
        outs.append(accelflow.simulate(compiled.program, inputs=inputs).outputs)
    (name,) = outs[0]
    np.testing.assert_array_equal(outs[0][name], outs[1][name])
    expected = np.maximum(outs[0][name], 0)
    np.testing.assert_array_equal(outs[0][name], expected)


def _module(model, *overrides: str):
    """The fully lowered module the assembler takes."""
    target = load_target("tpu-like", list(overrides))
    return compile_module(import_onnx(model), target)


def _host(module, name):
    return next(
        op for op in module.walk() if isinstance(op, accel.HostOp) and op.layer_name.data == name
    )


def test_the_ir_says_where_an_operator_runs():
    """Removing `fused_into` by hand puts the Relu back on the vector unit on its own."""
    module = _module(_conv_add_relu(residual=False))
    del _host(module, "/relu/Relu").properties["fused_into"]
    program = assemble(module)
    assert [layer.fused_into for layer in program.layers] == ["", ""]
    stats = accelflow.simulate(program).stats
    assert stats.layers[1].unit == "vector" and stats.layers[1].dram_write_bytes > 0


@pytest.mark.parametrize(
    "layer, claim, message",
    [
        ("/relu/Relu", "/nowhere", "its input comes from '/conv/Conv'"),
        ("/add/Add", "/conv/Conv", "not an element-wise operator"),
    ],
)
def test_a_hand_written_fusion_that_breaks_a_rule_is_refused(layer, claim, message):
    g = GraphBuilder("bad", 0)
    y = g.conv("x", "/conv", "conv", CH, CH, 3, pads=1)
    y = g.relu(y, "/relu")
    y = g.max_pool(y, "/pool", 2, 2)
    model = g.model("x", (1, CH, SIZE, SIZE), y, (1, CH, SIZE // 2, SIZE // 2))
    module = _module(model)
    name = "/pool/MaxPool" if layer == "/add/Add" else layer
    _host(module, name).properties["fused_into"] = StringAttr(claim)
    with pytest.raises(AssemblyError, match=message.replace("(", r"\(")):
        assemble(module)


def test_no_fusion_target_refuses_a_fused_op():
    module = _module(_conv_add_relu(residual=False), "vector_fusion=false")
    _host(module, "/relu/Relu").properties["fused_into"] = StringAttr("/conv/Conv")
    with pytest.raises(AssemblyError, match="does not fuse"):
        assemble(module)
