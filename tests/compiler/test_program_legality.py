"""`legality.check_program`: a compiled program runs on a target other than its own only where
its instructions and mappings are legal there (the same family, tiles within the buffers, a
MAERI spatial tile within the multipliers); `accelflow.simulate` and `simulate_many` check it."""

from __future__ import annotations

import pytest

import accelflow
from accelflow import models
from accelflow.transformer_models import gpt
from compiler.legality import check_program, program_layer_shape
from simulator.errors import AccelflowError
from simulator.target import load_target
from simulator.workload import MappingError


@pytest.fixture(scope="module")
def programs():
    return {
        name: accelflow.compile(models.lenet(), target=name).program
        for name in ("tpu-like", "maeri-128")
    }


@pytest.mark.parametrize(
    ("compiled_for", "target", "overrides", "needle"),
    [
        ("tpu-like", "maeri-64", [], "compiled for tpu-like (systolic); maeri-64 is a maeri"),
        ("maeri-128", "sigma-128", [], "sigma-128 is a sigma target"),
        ("tpu-like", "tpu-like-small", [], "weight buffer holds 16384 B"),
        ("tpu-like", "tpu-like", ["filter_sram_kib=32"], "run on tpu-like with filter_sram_kib"),
        ("tpu-like", "tpu-like", ["filter_sram_kib=128"], None),
        ("tpu-like", "tpu-like", ["double_buffer=false"], "the target has double_buffer=false"),
        ("tpu-like", "tpu-like", ["rows=8", "cols=8"], None),  # a systolic unroll is descriptive
        ("tpu-like", "tpu-like", ["dram_bw_bytes_per_cycle=4"], None),
        ("maeri-128", "maeri-64", [], "needs 75 multipliers (3 VNs of 25) but the target has 64"),
        ("maeri-128", "maeri-256", [], None),
    ],
)
def test_check_program(programs, compiled_for, target, overrides, needle):
    program, tgt = programs[compiled_for], load_target(target, overrides)
    if needle is None:
        check_program(program, tgt)
        assert accelflow.simulate(program, tgt).stats.total.cycles > 0
        return
    with pytest.raises(MappingError, match="compile the model for that target") as err:
        check_program(program, tgt)
    assert needle in str(err.value)
    with pytest.raises(MappingError):
        accelflow.simulate(program, tgt)
    with pytest.raises(MappingError):
        accelflow.simulate_many(program, [compiled_for, tgt])


def test_simulate_many_takes_programs():
    with pytest.raises(AccelflowError, match="takes compiled programs .* not str"):
        accelflow.simulate_many("model.onnx")


def test_layer_shapes_come_back_from_the_program():
    """Every accelerator layer's shape rebuilt from the program is the compiler's (convs,
    grouped convs, GEMMs, attention's batched matmuls)."""
    for model in (models.resnet_block(), models.depthwise_pointwise(), gpt(layers=1)):
        program = accelflow.compile(model, target="tpu-like").program
        layers = [layer for layer in program.layers if layer.on_accel]
        assert {layer.kind for layer in layers} <= {"conv2d", "matmul"} and layers
        for layer in layers:
            assert program_layer_shape(program, layer).dims == layer.dims
