"""The timing proof: a single GEMM compiled from ONNX and run by the jitted simulator has exactly
the compute cycles of the cycle-stepped systolic-array model (simulator/arch/systolic_reference.py), for each
dataflow, on small arrays — one tile and several buffer tiles."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import numpy_helper

import accelflow
from accelflow import models
from simulator.arch.systolic_reference import simulate_gemm


def gemm_model(m: int, k: int, n: int, seed: int = 0):
    model = models.gemm(m, k, n, seed)
    return model, numpy_helper.to_array(model.graph.initializer[0])


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
@pytest.mark.parametrize("rows, cols", [(4, 4), (3, 5)])
@pytest.mark.parametrize("m, k, n", [(6, 7, 5), (9, 4, 11), (1, 12, 3)])
def test_one_tile_gemm_compute_cycles_equal_reference(dataflow, rows, cols, m, k, n):
    model, w = gemm_model(m, k, n)
    result = accelflow.compile(
        model, "tpu-like", [f"rows={rows}", f"cols={cols}", f"dataflow={dataflow}"]
    )
    x = np.random.default_rng(1).standard_normal((m, k)).astype(np.float32)
    sim = accelflow.simulate(result.program, result.target, functional=True, inputs={"input": x})
    layer = sim.stats.layers[0]
    ref_cycles, ref_c = simulate_gemm(x, w, dataflow, rows, cols)
    assert layer.compute_cycles == ref_cycles
    np.testing.assert_allclose(sim.outputs["output"], ref_c, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_tiled_gemm_compute_cycles_equal_sum_of_reference_tiles(dataflow):
    m, k, n, rows, cols = 10, 9, 7, 4, 4
    model, w = gemm_model(m, k, n)
    passes = "onnx-to-accel,accel-map,accel-tile{tile-m=4 tile-k=5 tile-n=3},accel-emit"
    result = accelflow.compile(
        model, "tpu-like", [f"rows={rows}", f"cols={cols}", f"dataflow={dataflow}"], passes=passes
    )
    x = np.random.default_rng(2).standard_normal((m, k)).astype(np.float32)
    sim = accelflow.simulate(result.program, result.target, functional=True, inputs={"input": x})
    expected = 0
    for m0 in range(0, m, 4):
        for k0 in range(0, k, 5):
            for n0 in range(0, n, 3):
                a = x[m0 : m0 + 4, k0 : k0 + 5]
                b = w[k0 : k0 + 5, n0 : n0 + 3]
                expected += simulate_gemm(a, b, dataflow, rows, cols)[0]
    assert sim.stats.layers[0].compute_cycles == expected
    np.testing.assert_allclose(sim.outputs["output"], x @ w, rtol=1e-4, atol=1e-4)
