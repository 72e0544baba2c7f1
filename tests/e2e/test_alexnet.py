"""accelflow.models.alexnet: torchvision's AlexNet as exported, its layers once compiled, and the
CLI that writes it. The functional check against onnx.reference (~1 min) is opt-in:
`ACCELFLOW_ALEXNET_FUNCTIONAL=1`."""

from __future__ import annotations

import os
from collections import Counter

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import accelflow
from accelflow import models
from accelflow.api import random_inputs

# Accelerator layers (name, kind, dims) as torchvision defines them, at a 224x224 input.
LAYERS = [
    ("/features/features.0/Conv", dict(n=1, g=1, k=64, c=3, y=55, x=55, r=11, s=11)),
    ("/features/features.3/Conv", dict(n=1, g=1, k=192, c=64, y=27, x=27, r=5, s=5)),
    ("/features/features.6/Conv", dict(n=1, g=1, k=384, c=192, y=13, x=13, r=3, s=3)),
    ("/features/features.8/Conv", dict(n=1, g=1, k=256, c=384, y=13, x=13, r=3, s=3)),
    ("/features/features.10/Conv", dict(n=1, g=1, k=256, c=256, y=13, x=13, r=3, s=3)),
    ("/classifier/classifier.1/Gemm", dict(g=1, m=1, n=4096, k=9216)),
    ("/classifier/classifier.4/Gemm", dict(g=1, m=1, n=4096, k=4096)),
    ("/classifier/classifier.6/Gemm", dict(g=1, m=1, n=1000, k=4096)),
]
TORCHVISION_PARAMETERS = (
    61_100_840  # sum(p.numel() for p in torchvision.models.alexnet().parameters())
)
MACS = 714_188_480


@pytest.fixture(scope="module")
def alexnet() -> onnx.ModelProto:
    return models.alexnet()


def test_graph_is_the_exported_alexnet(alexnet: onnx.ModelProto):
    onnx.checker.check_model(alexnet)
    ops = Counter(node.op_type for node in alexnet.graph.node)
    assert ops == {
        "Conv": 5, "Relu": 7, "MaxPool": 3, "AveragePool": 1, "Flatten": 1, "Gemm": 3
    }  # fmt: skip
    params = sum(numpy_helper.to_array(t).size for t in alexnet.graph.initializer)
    assert params == TORCHVISION_PARAMETERS
    pool = next(n for n in alexnet.graph.node if n.op_type == "AveragePool")
    kernel = next(a for a in pool.attribute if a.name == "kernel_shape")
    assert list(kernel.ints) == [1, 1]  # the 224 input's features are already 6x6
    assert [d.dim_value for d in alexnet.graph.output[0].type.tensor_type.shape.dim] == [1, 1000]


def test_batch_seed_and_a_larger_input():
    big = models.alexnet(batch=2, size=416, seed=1)
    pool = next(n for n in big.graph.node if n.op_type == "AveragePool")
    assert [list(a.ints) for a in pool.attribute if a.name == "kernel_shape"] == [[2, 2]]
    dims = [d.dim_value for d in big.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [2, 3, 416, 416]
    a = numpy_helper.to_array(big.graph.initializer[0])
    b = numpy_helper.to_array(models.alexnet().graph.initializer[0])
    assert a.shape == b.shape and not np.array_equal(a, b)


@pytest.mark.parametrize("size", [64, 100, 300])
def test_sizes_the_exporter_cannot_write_are_refused(size: int):
    with pytest.raises(ValueError, match="AdaptiveAvgPool2d"):
        models.alexnet(size=size)


@pytest.mark.parametrize("target", ["maeri-128", "tpu-like"])
def test_compiles_to_torchvision_layers_and_simulates(alexnet: onnx.ModelProto, target: str):
    result = accelflow.compile(alexnet, target=target)
    layers = result.program.accel_layers()
    assert [(layer.name, layer.dims) for layer in layers] == LAYERS
    assert sum(layer.macs for layer in layers) == MACS
    stats = accelflow.simulate(result.program, result.target).stats
    assert stats.total.macs == MACS
    assert all(stats.layer(layer.name).cycles > 0 for layer in layers)


def test_cli_writes_it(tmp_path, capsys):
    path = tmp_path / "alexnet.onnx"
    assert models.main(["alexnet", "-o", str(path)]) == 0
    assert "wrote" in capsys.readouterr().out
    onnx.checker.check_model(str(path))


@pytest.mark.skipif(
    os.environ.get("ACCELFLOW_ALEXNET_FUNCTIONAL") != "1",
    reason="set ACCELFLOW_ALEXNET_FUNCTIONAL=1 for the functional check (~1 min)",
)
def test_outputs_match_onnx_reference(alexnet: onnx.ModelProto):
    result = accelflow.compile(alexnet, target="tpu-like")
    inputs = random_inputs(result.program, seed=1)
    sim = accelflow.simulate(result.program, result.target, functional=True, inputs=inputs)
    outputs = {name: sim.outputs[name] for name in result.program.outputs}
    report = accelflow.check(alexnet, inputs, outputs, rtol=1e-4)
    assert report.ok, report.worst()
