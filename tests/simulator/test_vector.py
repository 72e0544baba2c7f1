"""The vector unit: every non-GEMM operator timed (simulator/vector.py, docs/vector.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import accelflow
from accelflow import models
from simulator import engine
from simulator.program import OP_VECTOR, ROW, Layer, Program
from simulator.target import load_target
from simulator.vector import op_class, vector_work


@pytest.mark.parametrize(
    "kind, inputs, outputs, attrs, expected",
    [
        ("Relu", [(1, 4, 8, 8)], [(1, 4, 8, 8)], {}, (256, 256, 256)),
        ("Add", [(1, 4, 8, 8), (4, 1, 1)], [(1, 4, 8, 8)], {}, (256, 260, 256)),
        ("MaxPool", [(1, 4, 8, 8)], [(1, 4, 4, 4)], {"kernel_shape": [2, 2]}, (256, 256, 64)),
        ("Softmax", [(2, 3, 10)], [(2, 3, 10)], {}, (180, 60, 60)),
        ("LayerNormalization", [(2, 5, 8), (8,), (8,)], [(2, 5, 8)], {}, (240, 96, 80)),
        ("ReduceMean", [(2, 5, 8)], [(2, 5, 1)], {}, (80, 80, 10)),
        ("Reshape", [(2, 5, 8), (2,)], [(10, 8)], {}, (0, 0, 0)),
        ("Transpose", [(2, 5, 8)], [(8, 5, 2)], {}, (80, 80, 80)),
        ("MatMul", [(2, 1, 5, 4), (1, 3, 4, 6)], [(2, 3, 5, 6)], {}, (720, 112, 180)),
        ("Gather", [(50, 8), (1, 6)], [(1, 6, 8)], {"axis": 0}, (48, 406, 48)),
    ],
)
def test_operations_and_traffic_per_class(kind, inputs, outputs, attrs, expected):
    assert vector_work(kind, inputs, outputs, attrs) == expected


def test_classes():
    assert op_class("Exp") == op_class("Gelu") == op_class("Relu") == "pointwise"  # LUT
    assert op_class("Flatten") == "view" and op_class("Softmax") == "softmax"


def _vector_program(ops: int, read: int, write: int) -> Program:
    rows = ROW.encode(1, opcode=OP_VECTOR, layer=0, vector=[ops, read, write])
    layer = Layer("/op", "Exp", False, ["x"], ["y"], instr_begin=0, instr_end=1)
    return Program(rows, [layer], {}, {"x": (ops,), "y": (ops,)}, ["x"], ["y"])


@pytest.mark.parametrize("ops, read, write", [(1000, 1000, 1000), (100000, 50, 50), (0, 0, 0)])
def test_timing_is_compute_overlapped_with_dram_plus_latency(ops, read, write):
    target = load_target("tpu-like", ["vector_lanes=8", "dram_bw_bytes_per_cycle=16"])
    stats = engine.simulate_timing(_vector_program(ops, read, write), target)
    compute = math.ceil(ops / 8)
    dma = math.ceil((read + write) / 16)
    latency = target.dram_latency_cycles if read + write else 0
    (layer,) = stats.layers
    assert layer.unit == "vector" and not layer.on_accel
    assert layer.cycles == max(compute, dma) + latency and layer.compute_cycles == compute
    assert layer.dram_read_bytes == read and layer.dram_write_bytes == write
    assert layer.energy_pj["vector"] == pytest.approx(ops * target.vector_energy_pj_per_op)
    assert stats.total.cycles == layer.cycles


def test_host_ops_host_keeps_the_accelerator_alone():
    """`host_ops=host`: no VECTOR rows, the operators take nothing; the accelerator layers'
    numbers are the same either way, and the totals differ by the vector unit's cycles."""
    model = models.lenet()
    vec = accelflow.compile(model, target="tpu-like")
    host = accelflow.compile(model, target="tpu-like", overrides=["host_ops=host"])
    assert (ROW.view(vec.program.instrs).opcode == OP_VECTOR).sum() == 7
    assert not (ROW.view(host.program.instrs).opcode == OP_VECTOR).any()
    a = accelflow.simulate(vec.program).stats
    b = accelflow.simulate(host.program).stats
    for la, lb in zip(a.layers, b.layers, strict=True):
        assert la.unit == ("accel" if la.on_accel else "fused" if la.fused_into else "vector")
        assert lb.unit in ("accel", "host")
        if la.on_accel:
            assert (la.cycles, la.dram_read_bytes, la.energy_pj) == (
                lb.cycles, lb.dram_read_bytes, lb.energy_pj
            )  # fmt: skip
    vector_cycles = sum(layer.cycles for layer in a.layers if layer.unit in ("vector", "fused"))
    assert vector_cycles > 0 and a.total.cycles == b.total.cycles + vector_cycles
    assert a.total.energy_pj["vector"] > 0 and b.total.energy_pj["vector"] == 0


def test_more_lanes_fewer_cycles():
    model = models.resnet_block()
    narrow = accelflow.compile(model, target="tpu-like", overrides=["vector_lanes=4"])
    wide = accelflow.compile(model, target="tpu-like", overrides=["vector_lanes=256"])
    a = accelflow.simulate(narrow.program).stats
    b = accelflow.simulate(wide.program).stats
    assert a.total.cycles > b.total.cycles
    assert narrow.target.fingerprint() == wide.target.fingerprint()  # databases stay valid
    np.testing.assert_array_equal(
        [la.cycles for la in a.layers if la.on_accel], [lb.cycles for lb in b.layers if lb.on_accel]
    )
