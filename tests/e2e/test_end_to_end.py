"""ONNX model -> compile -> simulate (functional) -> outputs == onnx.reference, for every dataflow,
two array sizes, small buffers that force non-dividing edge tiles, and batch > 1."""

from __future__ import annotations

import numpy as np
import pytest

import accelflow
from accelflow import models
from accelflow.api import random_inputs

MODELS = ["lenet", "mlp", "resnet_block", "depthwise_pointwise", "concat_branches"]
# (preset, overrides): a 4x4 array with tiny buffers (many edge tiles) and an 8x8 one.
TARGETS = {
    "4x4-tiny": (
        "tpu-like-small",
        ["rows=4", "cols=4", "ifmap_sram_kib=1", "filter_sram_kib=1", "ofmap_sram_kib=1"],
    ),
    "8x8-small": ("tpu-like-small", []),
}


# MAERI (dataflow only orders the buffer tiles there): the default maeri-64, and 16 multipliers
# without accumulation buffer (aux multipliers, folds) in a 3 KiB shared buffer (edge tiles).
MAERI_TARGETS = {
    "maeri-64": ("maeri-64", []),
    "maeri-16-tiny-noacc": (
        "maeri-16",
        [
            "accumulation_buffer=false",
            "ifmap_sram_kib=1",
            "filter_sram_kib=1",
            "ofmap_sram_kib=1",
        ],
    ),
}


# SIGMA: sigma-64, and 16 multipliers with 4 read / 4 write ports in a 3 KiB shared buffer (edge
# tiles, split rows, several rows per stationary iteration).
SIGMA_TARGETS = {
    "sigma-64": ("sigma-64", []),
    "sigma-16-tiny": (
        "sigma-16",
        [
            "dn_bw_elems_per_cycle=4",
            "rn_bw_elems_per_cycle=4",
            "ifmap_sram_kib=1",
            "filter_sram_kib=1",
            "ofmap_sram_kib=1",
        ],
    ),
}


def _run(model, preset, overrides, passes=None):
    result = accelflow.compile(model, target=preset, overrides=overrides, passes=passes)
    inputs = random_inputs(result.program, seed=1)
    sim = accelflow.simulate(result.program, result.target, functional=True, inputs=inputs)
    outputs = {name: sim.outputs[name] for name in result.program.outputs}
    report = accelflow.check(model, inputs, outputs, rtol=1e-4)
    return result, sim, report


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("name", MODELS)
def test_outputs_match_onnx_reference(name, target, dataflow):
    preset, overrides = TARGETS[target]
    model = models.MODELS[name]()
    result, sim, report = _run(model, preset, [*overrides, f"dataflow={dataflow}"])
    assert report.ok, f"{name} on {target}/{dataflow}: worst {report.worst()}"
    assert sim.stats.total.cycles > 0
    assert sim.stats.total.macs == sum(layer.macs for layer in result.program.accel_layers())


@pytest.mark.parametrize("target", list(MAERI_TARGETS))
@pytest.mark.parametrize("name", MODELS)
def test_maeri_outputs_match_onnx_reference(name, target):
    preset, overrides = MAERI_TARGETS[target]
    model = models.MODELS[name]()
    result, sim, report = _run(model, preset, overrides)
    assert report.ok, f"{name} on {target}: worst {report.worst()}"
    assert sim.stats.total.cycles > 0 and sim.stats.num_pes == result.target.num_multipliers
    assert sim.stats.total.macs == sum(layer.macs for layer in result.program.accel_layers())
    for layer in result.program.accel_layers():
        assert layer.mapping["spatial"], f"{layer.name}: no spatial tile on MAERI"


@pytest.mark.parametrize("target", list(SIGMA_TARGETS))
@pytest.mark.parametrize("name", MODELS)
def test_sigma_outputs_match_onnx_reference(name, target):
    preset, overrides = SIGMA_TARGETS[target]
    model = models.MODELS[name]()
    result, sim, report = _run(model, preset, overrides)
    assert report.ok, f"{name} on {target}: worst {report.worst()}"
    assert sim.stats.total.cycles > 0 and sim.stats.num_pes == result.target.num_multipliers
    # Effectual MACs: the example models' weights are dense (random), so nearly all of them.
    dense_macs = sum(layer.macs for layer in result.program.accel_layers())
    assert 0.9 * dense_macs <= sim.stats.total.macs <= dense_macs


def test_pruning_a_conv_cuts_its_sigma_cycles_and_weight_traffic():
    from onnx import numpy_helper

    model = models.lenet()
    dense_result, dense_sim, _ = _run(model, "sigma-64", [])
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    init = next(i for i in model.graph.initializer if i.name == conv.input[1])
    weights = numpy_helper.to_array(init).copy()
    rng = np.random.default_rng(0)
    weights[rng.uniform(size=weights.shape) < 0.75] = 0.0  # prune 75 %
    init.CopyFrom(numpy_helper.from_array(weights, init.name))
    result, sim, report = _run(model, "sigma-64", [])
    assert report.ok, report.worst()
    name = result.program.accel_layers()[0].name
    dense, pruned = dense_sim.stats.layer(name), sim.stats.layer(name)
    assert pruned.compute_cycles < 0.6 * dense.compute_cycles
    assert pruned.sram_read_bytes["weight"] < 0.4 * dense.sram_read_bytes["weight"]
    assert pruned.dram_read_bytes < dense.dram_read_bytes
    assert pruned.macs < 0.35 * dense.macs
    # The other layers are unchanged.
    for layer in result.program.accel_layers()[1:]:
        assert sim.stats.layer(layer.name).cycles == dense_sim.stats.layer(layer.name).cycles


def test_tiles_that_do_not_divide_the_layer():
    model = models.resnet_block()
    passes = "onnx-to-accel,accel-map,accel-tile{tile-k=3 tile-y=5 tile-x=7 tile-c=5},accel-emit"
    result, _, report = _run(model, "tpu-like-small", ["rows=4", "cols=4"], passes=passes)
    assert report.ok, report.worst()
    convs = [layer for layer in result.program.accel_layers() if layer.kind == "conv2d"]
    tiles = convs[0].mapping["tiles"]
    assert convs[0].dims["k"] % tiles["k"] and convs[0].dims["y"] % tiles["y"]


@pytest.mark.parametrize("name", ["lenet", "resnet_block"])
def test_batch_larger_than_one(name):
    model = models.MODELS[name](batch=3)
    result, sim, report = _run(model, "tpu-like-small", ["dataflow=os"])
    assert report.ok, report.worst()
    first = result.program.accel_layers()[0]
    assert first.dims["n"] == 3


def test_batch_changes_cycles_and_macs():
    one = accelflow.compile(models.lenet(batch=1), target="tpu-like-small")
    four = accelflow.compile(models.lenet(batch=4), target="tpu-like-small")
    s1 = accelflow.simulate(one.program, one.target).stats.total
    s4 = accelflow.simulate(four.program, four.target).stats.total
    assert s4.macs == 4 * s1.macs
    assert s4.cycles > s1.cycles


def test_buffer_size_changes_dram_traffic():
    model = models.resnet_block(channels=32, size=16)
    small = accelflow.compile(
        model,
        target="tpu-like-small",
        overrides=["ifmap_sram_kib=1", "filter_sram_kib=1", "ofmap_sram_kib=1"],
    )
    large = accelflow.compile(
        model,
        target="tpu-like-small",
        overrides=["ifmap_sram_kib=512", "filter_sram_kib=512", "ofmap_sram_kib=512"],
    )
    t_small = accelflow.simulate(small.program, small.target).stats.total
    t_large = accelflow.simulate(large.program, large.target).stats.total
    assert t_small.dram_read_bytes > t_large.dram_read_bytes
    assert np.isfinite(t_small.utilisation) and 0 < t_large.utilisation <= 1


def _conv1d_model():
    """Conv1d (SAME padding) -> BatchNormalization -> Relu -> MaxPool 1-D -> a grouped,
    dilated Conv1d without bias -> Conv3d."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = [
        numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n)
        for n, s in (
            ("w1", (8, 4, 5)), ("b1", (8,)), ("scale", (8,)), ("beta", (8,)), ("mean", (8,)),
            ("w2", (8, 2, 3)), ("w3", (2, 1, 2, 2, 2)),
        )
    ]  # fmt: skip
    var = numpy_helper.from_array(rng.uniform(0.5, 2, 8).astype(np.float32), "var")
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c"], auto_pad="SAME_UPPER", strides=[2]),
        helper.make_node("BatchNormalization", ["c", "scale", "beta", "mean", "var"], ["n"]),
        helper.make_node("Relu", ["n"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2], strides=[2]),
        helper.make_node("Conv", ["p", "w2"], ["q"], group=4, dilations=[2], pads=[2, 1]),
        helper.make_node("Reshape", ["q", "shape"], ["v"]),
        helper.make_node("Conv", ["v", "w3"], ["y"], pads=[1, 0, 0, 0, 1, 1]),
    ]
    shape = numpy_helper.from_array(np.array([1, 1, 8, 3, 5], np.int64), "shape")
    graph = helper.make_graph(
        nodes, "conv1d", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [*weights, var, shape],
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("target", ["tpu-like-small", "maeri-64", "sigma-64"])
def test_1d_convolutions_run_on_the_array_and_3d_on_the_vector_unit(target):
    """A 1-D conv is a conv2d of height 1 on the array (its BN folded), between two views;
    a 3-D one runs on the vector unit."""
    result, sim, report = _run(_conv1d_model(), target, [])
    assert report.ok, report
    by_kind = {}
    for s in sim.stats.layers:
        by_kind.setdefault(s.kind, []).append(s)
    assert [s.unit for s in by_kind["conv2d"]] == ["accel", "accel"]
    assert [s.macs for s in by_kind["conv2d"]] == [8 * 4 * 5 * 32, 8 * 2 * 3 * 15]
    assert "BatchNormalization" not in by_kind
    assert [s.unit for s in by_kind["Conv"]] == ["vector"]  # the 3-D one
    assert all(s.cycles == 0 for kind in ("Unsqueeze", "Squeeze") for s in by_kind[kind])
