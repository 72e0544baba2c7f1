"""Property test: for random small layers (conv and matmul), random legal mappings (dataflow,
tiles, loop order) and random array shapes, the jitted simulator's compute cycles equal the
cycle-stepped register model of `simulator/arch/systolic_reference.py` run tile by tile (>= 200 cases)."""

from __future__ import annotations

import functools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.loop_nest import program_rows
from compiler.tiling import Mapping, check_mapping, conv2d_shape, gemm_view, matmul_shape
from simulator.arch.systolic_reference import simulate_gemm
from simulator.engine import simulate_timing
from simulator.program import DATAFLOWS, OP_COMPUTE, ROW, Layer, Program
from simulator.target import load_target


@functools.cache
def reference_cycles(m: int, n: int, k: int, dataflow: str, rows: int, cols: int) -> int:
    rng = np.random.default_rng(0)
    cycles, c = simulate_gemm(
        rng.standard_normal((m, k)), rng.standard_normal((k, n)), dataflow, rows, cols
    )
    return cycles


@st.composite
def layers(draw):
    if draw(st.booleans()):
        group = draw(st.sampled_from([1, 2]))
        c, k = group * draw(st.integers(1, 3)), group * draw(st.integers(1, 3))
        r, s = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        h, w = draw(st.integers(r, r + 4)), draw(st.integers(s, s + 4))
        stride = draw(st.integers(1, 2))
        return conv2d_shape(
            (draw(st.integers(1, 2)), c, h, w), (k, c // group, r, s), (stride, stride), group=group
        )
    batch = draw(st.sampled_from([(), (2,)]))
    m, k, n = draw(st.integers(1, 9)), draw(st.integers(1, 9)), draw(st.integers(1, 9))
    return matmul_shape((*batch, m, k), (k, n))


@settings(max_examples=220, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_jitted_compute_cycles_equal_the_register_model(data):
    shape = data.draw(layers())
    dataflow = data.draw(st.sampled_from(DATAFLOWS))
    rows, cols = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    target = load_target("tpu-like", [f"rows={rows}", f"cols={cols}", f"dataflow={dataflow}"])
    tiles = {d: data.draw(st.integers(1, e)) for d, e in shape.dims.items()}
    order = tuple(data.draw(st.permutations(shape.dim_names)))
    mapping = Mapping(dataflow, tiles, order, double_buffer=data.draw(st.booleans()))
    check_mapping(shape, mapping, target, "layer")
    rows_ = program_rows(shape, mapping, target, 0)
    program = Program(
        instrs=rows_,
        layers=[
            Layer(
                "layer",
                shape.kind,
                True,
                [],
                [],
                dims=dict(shape.dims),
                instr_begin=0,
                instr_end=len(rows_),
            )
        ],
        constants={},
        tensors={},
        inputs=[],
        outputs=[],
    )
    stats = simulate_timing(program, target)
    expected = 0
    for row in rows_[ROW.view(rows_).opcode == OP_COMPUTE]:
        sizes = dict(
            zip(
                shape.dim_names,
                (int(v) for v in ROW.view(row).size[: len(shape.dim_names)]),
                strict=True,
            )
        )
        reps, m, n, k = gemm_view(shape, sizes)
        expected += reps * reference_cycles(m, n, k, dataflow, rows, cols)
    assert stats.layers[0].compute_cycles == expected
    assert stats.layers[0].macs == shape.macs
