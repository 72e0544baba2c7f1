"""The exact fast-forward (simulator/fastforward.py) gives the full scan's numbers field by field:
random layers, mappings and targets of every family (double buffering on and off, DRAM-bound
and compute-bound), whole models, and the rows' non-timing fields proven unread."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import accelflow
from accelflow import models, transformer_models
from compiler import tiling
from compiler.loop_nest import program_rows
from compiler.tiling import ShapeError
from simulator import engine, fastforward
from simulator.program import ROW, Layer, Program
from simulator.target import load_target
from tuner.space import MappingSpace

EXAMPLES = settings(
    max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

TIGHT = ["ifmap_sram_kib=1", "filter_sram_kib=1", "ofmap_sram_kib=1"]
# The random layers' programs compared (the full scan's buckets up to this length are shared by
# the whole test session; `test_a_long_tile_loop_is_jumped` takes a longer one).
MAX_ROWS = 4096
TARGETS = {
    "systolic-tight": ("tpu-like-small", TIGHT),
    "systolic-dram-bound": ("tpu-like-small", [*TIGHT, "dram_bw_bytes_per_cycle=1"]),
    "systolic-compute-bound": (
        "tpu-like-small",
        [*TIGHT, "dram_bw_bytes_per_cycle=1024", "dram_latency_cycles=0"],
    ),
    "systolic-shared-slow-sram": (
        "tpu-like-small",
        [*TIGHT, "global_buffer=shared", "sram_bank_width_bytes=1"],
    ),
    "maeri-64-no-acc": ("maeri-64", [*TIGHT, "accumulation_buffer=false"]),
    "maeri-64": ("maeri-64", [*TIGHT, "dram_bw_bytes_per_cycle=8"]),
    "sigma-64": ("sigma-64", [*TIGHT, "dram_bw_bytes_per_cycle=16"]),
}


def _same(program: Program, target) -> fastforward.Result:
    """Assert the fast-forward's stats are the full scan's; return the fast-forward's."""
    fast = engine.simulate_timing(program, target)
    full = engine.simulate_timing(program, target, fast_forward=False)
    assert fast.to_dict()["layers"] == full.to_dict()["layers"]
    assert fast.total == full.total
    assert full.simulated == program.num_instructions
    assert 0 < fast.simulated <= program.num_instructions
    return fast


@st.composite
def layers(draw) -> tiling.LayerShape:
    """A conv (grouped, strided) or matmul layer big enough for its tile loops to repeat."""
    if draw(st.booleans()):
        m, k, n = (draw(st.integers(1, 96)) for _ in range(3))
        batch = draw(st.sampled_from([(), (2,)]))
        return tiling.matmul_shape((*batch, m, k), (k, n), has_bias=draw(st.booleans()))
    group = draw(st.sampled_from([1, 1, 2]))
    c, k = group * draw(st.integers(1, 12)), group * draw(st.integers(1, 12))
    r = draw(st.integers(1, 3))
    h, w = draw(st.integers(r, 24)), draw(st.integers(r, 24))
    try:
        return tiling.conv2d_shape(
            (1, c, h, w),
            (k, c // group, r, r),
            strides=(draw(st.integers(1, 2)),) * 2,
            pads=(draw(st.integers(0, 1)),) * 4,
            group=group,
            has_bias=draw(st.booleans()),
        )
    except ShapeError:
        assume(False)
        raise


def _layer_program(shape: tiling.LayerShape, rows: np.ndarray) -> Program:
    layer = Layer(
        "layer", shape.kind, True, [], [], dims=dict(shape.dims), instr_begin=0,
        instr_end=len(rows),
    )  # fmt: skip
    return Program(instrs=rows, layers=[layer], constants={}, tensors={}, inputs=[], outputs=[])


@pytest.mark.parametrize("target_name", list(TARGETS))
@EXAMPLES
@given(shape=layers(), seed=st.integers(0, 2**32 - 1))
def test_fast_forward_equals_the_full_scan_on_random_layers_and_mappings(target_name, shape, seed):
    preset, overrides = TARGETS[target_name]
    target = load_target(preset, overrides)
    rng = np.random.default_rng(seed)
    space = MappingSpace(shape, target)
    genomes = space.sample(rng, 3)
    weights = None
    if target.arch == "sigma":  # weights with zeros, so the bitmap statistics vary by tile
        d = shape.dims
        if shape.kind == "conv2d":
            weights = rng.standard_normal((d["g"] * d["k"], d["c"], d["r"], d["s"]))
        else:
            weights = rng.standard_normal((d["k"], d["n"]))
        weights = np.where(rng.random(weights.shape) < 0.6, 0.0, weights).astype(np.float32)
    compared = 0
    for genome in genomes:
        mapping = space.mapping(genome)
        rows = program_rows(shape, mapping, target, 0, weights=weights)
        if len(rows) > MAX_ROWS:  # a longer full scan compiles for a longer bucket: seconds
            continue
        _same(_layer_program(shape, rows), target)
        compared += 1
    assume(compared > 0)


def test_a_long_tile_loop_is_jumped():
    """A layer of hundreds of tiles: a few iterations are simulated, the rest jumped."""
    target = load_target("tpu-like-small", TIGHT)
    shape = tiling.conv2d_shape((1, 16, 56, 56), (32, 16, 3, 3), pads=(1, 1, 1, 1))
    for double in (True, False):
        mapping = tiling.Mapping(
            "ws",
            {"n": 1, "g": 1, "k": 8, "c": 8, "y": 4, "x": 4, "r": 3, "s": 3},
            ("n", "g", "k", "c", "y", "x", "r", "s"),
            double_buffer=double,
        )
        program = _layer_program(shape, program_rows(shape, mapping, target))
        assert program.num_instructions > 2000
        fast = _same(program, target)
        assert fast.simulated * 10 < program.num_instructions


MODELS = [
    ("lenet", models.lenet, "tpu-like-small", TIGHT),
    ("lenet", models.lenet, "maeri-64", ["accumulation_buffer=false", *TIGHT]),
    ("lenet", models.lenet, "sigma-64", TIGHT),
    ("resnet-block", models.resnet_block, "tpu-like-small", ["dram_bw_bytes_per_cycle=2"]),
    ("depthwise", models.depthwise_pointwise, "tpu-like-small", TIGHT),
    ("encoder", transformer_models.encoder, "tpu-like-small", []),
]


@pytest.mark.parametrize(("name", "build", "preset", "overrides"), MODELS, ids=lambda v: str(v))
def test_fast_forward_equals_the_full_scan_on_models(name, build, preset, overrides):
    """Several layers: CONFIG rows, vector-unit operators (fused and alone), host layers."""
    target = load_target(preset, overrides)
    program = accelflow.compile(build(), target=target).program
    _same(program, target)


@EXAMPLES
@given(seed=st.integers(0, 2**32 - 1))
def test_the_rows_non_timing_fields_are_never_read(seed):
    """`off` and `layer` (`Field.timing` False) scrambled: the full scan's records are the
    same (the fast-forward takes rows equal but for them as one)."""
    rng = np.random.default_rng(seed)
    target = load_target("maeri-64", [*TIGHT, "accumulation_buffer=false"])
    program = accelflow.compile(models.lenet(), target=target).program
    rows = program.instrs.copy()
    loose = [c for c in range(ROW.num_columns) if c not in ROW.timing_columns]
    assert set(ROW.column_names[c] for c in loose) == {"layer", *(f"off{i}" for i in range(8))}
    rows[:, loose] = rng.integers(0, 1000, (len(rows), len(loose)))
    params = engine.target_params(target)
    assert np.array_equal(
        engine.run_records(program.instrs, params), engine.run_records(rows, params)
    )


def test_compression_nests_repeats_and_shares_equal_bodies():
    compressor = fastforward._Compressor()
    inner = [1, 2] * 4
    symbols = compressor.compress(np.array([0, *inner, 3, *inner, 3, *inner, 3, 9]))
    assert len(symbols) == 3 and symbols[0] == 0 and symbols[-1] == 9
    body, count = compressor.repeats[-1 - symbols[1]]
    assert count == 3 and len(body) == 2 and body[1] == 3
    assert compressor.repeats[-1 - body[0]] == ((1, 2), 4)


def test_structure_is_found_once_per_program():
    target = load_target("tpu-like-small", TIGHT)
    program = accelflow.compile(models.lenet(), target=target).program
    found = fastforward.structure(program)
    assert fastforward.structure(program) is found
    assert found.num_instructions == program.num_instructions
    assert len(found.rows) < program.num_instructions
