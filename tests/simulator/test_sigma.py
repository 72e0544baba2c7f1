"""SIGMA timing: the jitted engine against the cycle-stepped reference model
(`simulator/arch/sigma_reference.py`) on >= 200 random small sparse GEMMs and convs with random buffer
tiles, the per-tile bitmap statistics on hand-checked cases (and of dense tiles, vectorised,
against those of all-true masks), the target's validation, and the bitmap-compressed traffic."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.loop_nest import program_rows
from compiler.tiling import (
    Mapping,
    check_mapping,
    conv2d_shape,
    default_mapping,
    matmul_shape,
    weight_tile,
)
from simulator import engine
from simulator.arch import sigma, sigma_reference
from simulator.program import OP_COMPUTE, ROW, Layer, Program
from simulator.target import TargetError, load_target


def _program(shape, rows) -> Program:
    layer = Layer(
        "layer", shape.kind, True, [], [], dims=dict(shape.dims), instr_begin=0, instr_end=len(rows)
    )
    return Program(instrs=rows, layers=[layer], constants={}, tensors={}, inputs=[], outputs=[])


def _sparse(rng: np.random.Generator, shape: tuple[int, ...], density: float) -> np.ndarray:
    values = rng.normal(size=shape).astype(np.float32)
    return np.where(rng.uniform(size=shape) < density, values, 0).astype(np.float32)


@st.composite
def sigma_cases(draw):
    """A conv or matmul with sparse constant weights, a sigma target, a random buffer tiling."""
    ms = draw(st.sampled_from([4, 8, 16, 32]))
    dn = draw(st.sampled_from([d for d in (1, 2, 4, 8, 16, 32) if d <= ms]))
    rn = draw(st.sampled_from([1, 2, 4, 32]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    density = draw(st.sampled_from([0.0, 0.1, 0.3, 0.6, 1.0]))
    if draw(st.booleans()):
        r, s = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        c, k, group = draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 2))
        stride = draw(st.integers(1, 2))
        h = (draw(st.integers(1, 3)) - 1) * stride + r
        w = (draw(st.integers(1, 3)) - 1) * stride + s
        shape = conv2d_shape(
            (1, c * group, h, w), (k * group, c, r, s), (stride, stride), group=group
        )
        weights = _sparse(rng, (k * group, c, r, s), density)
    else:
        m, k, n = draw(st.integers(1, 4)), draw(st.integers(1, 40)), draw(st.integers(1, 8))
        shape = matmul_shape((m, k), (k, n))
        weights = _sparse(rng, (k, n), density)
    target = load_target(
        f"sigma-{ms}", [f"dn_bw_elems_per_cycle={dn}", f"rn_bw_elems_per_cycle={rn}"]
    )
    tiles = {d: draw(st.integers(1, e)) for d, e in shape.dims.items()}
    order = tuple(draw(st.permutations(shape.dim_names)))
    mapping = Mapping("os", tiles, order, {}, double_buffer=draw(st.booleans()))
    return shape, mapping, target, weights, rng


@settings(max_examples=220, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=sigma_cases())
def test_jitted_compute_cycles_equal_the_reference_model(case):
    shape, mapping, target, weights, rng = case
    check_mapping(shape, mapping, target, "layer")
    rows = program_rows(shape, mapping, target, 0, weights=weights)
    stats = engine.simulate_timing(_program(shape, rows), target)
    expected_cycles = expected_macs = 0
    dims = shape.dim_names
    for row in rows[ROW.view(rows).opcode == OP_COMPUTE]:
        r = ROW.view(row)
        off = {d: int(r.off[i]) for i, d in enumerate(dims)}
        size = {d: int(r.size[i]) for i, d in enumerate(dims)}
        masks = weight_tile(shape, weights, off, size)
        for rep, mask in enumerate(masks):
            # The reference runs the tile's actual weight values (rows x reduction) against
            # random streamed columns and checks its outputs against a dense matmul.
            stationary = np.where(mask, rng.normal(size=mask.shape), 0.0)
            streamed = rng.normal(size=(mask.shape[1], int(r.m)))
            run = sigma_reference.run(
                stationary,
                streamed,
                target.num_multipliers,
                target.dn_bw_elems_per_cycle,
                target.rn_bw_elems_per_cycle,
            )
            np.testing.assert_allclose(run.outputs, stationary @ streamed, atol=1e-9)
            expected_cycles += run.cycles
            expected_macs += int(mask.sum()) * int(r.m)
            del rep
    assert stats.layers[0].compute_cycles == expected_cycles
    assert stats.layers[0].macs == expected_macs  # effectual MACs
    assert expected_macs <= shape.macs


def test_tile_stats_of_a_split_row_and_packing():
    # Rows (non-zeros at k): {0, 1}, {}, {0, 2, 4}, {1, 2, 3, 5, 7} on 4 multipliers, 1 per port:
    # iterations [r0] (r1 skipped), [r2], [r3: 1 2 3 5], [psum, 7]; W = s = b = 1 each.
    mask = np.zeros((4, 8), bool)
    for row, ks in enumerate([(0, 1), (), (0, 2, 4), (1, 2, 3, 5, 7)]):
        mask[row, list(ks)] = True
    assert sigma.tile_stats(mask, 4, 4, 4)[:6] == (4, 12, 4, 10, 10, 32)
    # Energy events per streamed column: one psum forwarded in (the split row's later chunk),
    # four results written (r0, r2, and each chunk of r3).
    assert sigma.tile_stats(mask, 4, 4, 4)[6:8] == (1, 4)
    # One port for all 4 multipliers: W = mapped non-zeros, s = distinct k per iteration.
    assert sigma.tile_stats(mask, 4, 1, 4)[:6] == (
        4,
        2 + 2 + 1 + 3 + 3 + 1 + 4 + 4 + 1 + 1 + 1 + 1,
        2 + 3 + 4 + 1,
        10,
        10,
        32,
    )
    # A dense 4 x 4 on 16 multipliers: one iteration of 4 VNs of 4 multipliers, whose sums leave
    # from the 4 level-2 adders; adders 1 and 2 are a forwarding-linked pair sharing one bus line,
    # so b = 2 even with 16 lines, and b = 3 with 2 lines (STONNE: 135 and 199 cycles, the
    # gemm_4x64x4 rows of bench/validation/stonne.csv).
    assert sigma.tile_stats(np.ones((4, 4), bool), 16, 16, 16)[:6] == (1, 1 + 1 + 2, 2, 4, 16, 16)
    assert sigma.tile_stats(np.ones((4, 4), bool), 16, 16, 2)[:6] == (1, 1 + 1 + 3, 3, 4, 16, 16)
    assert sigma.tile_stats(np.zeros((3, 5), bool), 16, 16, 16) == (0, 0, 0, 0, 0, 15, 0, 0, 0, 0)


@pytest.mark.parametrize("ms, dn, rn", [(8, 8, 8), (16, 4, 2), (64, 8, 16), (128, 128, 128)])
@pytest.mark.parametrize("rows_fit", ["some", "all", "none"])
def test_dense_tile_stats_equal_those_of_dense_masks(ms, dn, rn, rows_fit):
    rng = np.random.default_rng(5)
    reps, rows = rng.integers(1, 3, 40), rng.integers(1, 30, 40)
    low, high = {"some": (1, 3 * ms), "all": (1, ms + 1), "none": (ms + 1, 3 * ms)}[rows_fit]
    k = rng.integers(low, high, 40)
    got = np.stack(sigma.dense_tile_stats(reps, rows, k, ms, dn, rn), axis=1)
    first = sigma.dense_iteration_multipliers(rows, k, ms)
    for i in range(len(k)):
        mask = np.ones((reps[i], rows[i], k[i]), bool)
        spec = reps[i] * packing_every_row(mask[0], ms, dn, rn)
        assert tuple(got[i]) == tuple(spec), (reps[i], rows[i], k[i])
        assert sigma.tile_stats(mask, ms, dn, rn) == tuple(spec)
        layout, _ = sigma.pack_rows(mask[0], ms)[0]
        assert first[i] == len(layout), (rows[i], k[i])


def test_vn_exit_adders_and_bus_lines():
    # 16 multipliers: levels 0..3 (1, 2, 4, 8 adders); forwarding-linked pairs (1,2) at level 2
    # and (1,2), (3,4), (5,6) at level 3: pairs 0..3 on lines 0..3, then the 7 single adders.
    assert [sigma.exit_adder(lo, lo + 4, 16) for lo in (0, 4, 8, 12)] == [
        (2, 0),
        (2, 1),
        (2, 2),
        (2, 3),
    ]
    assert sigma.exit_adder(0, 16, 16) == (0, 0)  # a whole-array VN ends at the root
    assert sigma.exit_adder(2, 4, 16) == (3, 1)  # two multipliers under one leaf adder
    # A VN over adjacent non-sibling adders merges over their forwarding link (larger span).
    assert sigma.exit_adder(3, 6, 16) == (3, 2)
    assert sigma.vn_bus_lines([4, 4, 4, 4], 16, 16) == [11, 0, 0, 12]
    assert sigma.bus_cycles([4, 4, 4, 4], 16, 16) == 2
    assert sigma.bus_cycles([8, 8], 16, 16) == 1
    assert sigma.bus_cycles([4, 4, 4, 4], 16, 2) == 3
    assert sigma.bus_cycles([], 16, 16) == 1


@pytest.mark.parametrize("ms, dn, rn", [(8, 8, 8), (8, 2, 8), (16, 16, 2), (4, 1, 1)])
def test_reference_matches_the_closed_form_and_dense_matmul(ms, dn, rn):
    rng = np.random.default_rng(ms * 100 + dn * 10 + rn)
    for _ in range(20):
        stationary = _sparse(rng, (6, 20), 0.4).astype(np.float64)
        streamed = rng.normal(size=(20, 3))
        run = sigma_reference.run(stationary, streamed, ms, dn, rn)
        np.testing.assert_allclose(run.outputs, stationary @ streamed, atol=1e-9)
        assert run.cycles == sigma.gemm_cycles(stationary != 0, 3, ms, dn, rn)


def test_sparser_weights_take_fewer_cycles_and_bytes():
    shape = matmul_shape((4, 64), (64, 32))
    target = load_target("sigma-64")
    rng = np.random.default_rng(0)
    dense = rng.normal(size=(64, 32)).astype(np.float32) + 10.0
    pruned = dense * (rng.uniform(size=dense.shape) < 0.25)
    mapping = default_mapping(shape, target)
    results = []
    for weights in (dense, pruned):
        rows = program_rows(shape, mapping, target, 0, weights=weights)
        results.append(engine.simulate_timing(_program(shape, rows), target).layers[0])
    full, sparse = results
    assert sparse.compute_cycles < full.compute_cycles
    nnz = int((pruned != 0).sum())
    # Bitmap-compressed weights: non-zeros x 1 byte + one bit per element.
    assert sparse.dram_read_bytes - full.dram_read_bytes == nnz - 64 * 32
    assert full.sram_read_bytes["weight"] == 64 * 32 + 64 * 32 // 8
    assert sparse.sram_read_bytes["weight"] == nnz + 64 * 32 // 8
    # No weights (e.g. an elided module): dense.
    rows = program_rows(shape, mapping, target, 0, weights=None)
    assert engine.simulate_timing(_program(shape, rows), target).layers[0].compute_cycles == (
        full.compute_cycles
    )


def test_sparse_activations_change_input_traffic_only():
    shape = matmul_shape((4, 64), (64, 32))
    weights = np.ones((64, 32), np.float32)
    stats = {}
    for density in (None, 0.5):
        extra = ["sparse_activations=true", f"activation_density={density}"] if density else []
        target = load_target("sigma-64", extra)
        rows = program_rows(shape, default_mapping(shape, target), target, 0, weights=weights)
        stats[density] = engine.simulate_timing(_program(shape, rows), target).layers[0]
    assert stats[0.5].compute_cycles == stats[None].compute_cycles
    # 32 iterations (one dense row of 64 each) stream 64 k x 4 columns each.
    assert stats[None].sram_read_bytes["input"] == 32 * 4 * 64
    assert stats[0.5].sram_read_bytes["input"] == 32 * (4 * 64 // 2 + 4 * 64 // 8)
    assert stats[0.5].dram_read_bytes < stats[None].dram_read_bytes


def test_sparse_fields_in_the_compute_rows():
    shape = conv2d_shape((1, 2, 4, 4), (3, 2, 3, 3))
    target = load_target("sigma-16")
    weights = np.zeros((3, 2, 3, 3), np.float32)
    weights[0, 0] = 1.0  # 9 non-zeros in output channel 0, none elsewhere
    rows = program_rows(shape, default_mapping(shape, target), target, 0, weights=weights)
    compute = ROW.view(rows[ROW.view(rows).opcode == OP_COMPUTE])
    assert compute.w_nnz.sum() == 9 and compute.w_bitmap_bits.sum() == 3 * 18


@pytest.mark.parametrize("count", [16, 64, 128, 256])
def test_sigma_presets_by_name(count):
    target = load_target(f"sigma-{count}")
    assert (target.arch, target.num_pes, target.global_buffer) == ("sigma", count, "shared")
    assert target.dn_bw_elems_per_cycle == target.rn_bw_elems_per_cycle == count
    assert target.sparse_weights and not target.sparse_activations


@pytest.mark.parametrize(
    "spec, overrides, message",
    [
        ("sigma-48", [], "sigma-N needs N a power of two"),
        (
            "sigma-64",
            ["num_multipliers=48"],
            "num_multipliers=48 must be a power of two for a sigma",
        ),
        ("sigma-64", ["dn_bw_elems_per_cycle=128"], "exceeds num_multipliers=64"),
        ("sigma-64", ["sparse_weights=false"], "sparse_weights=False"),
        ("sigma-64", ["activation_density=0.5"], "activation_density=0.5 needs sparse_activations"),
        ("sigma-64", ["activation_density=0"], "invalid target field 'activation_density'"),
    ],
)
def test_sigma_validation(spec, overrides, message):
    with pytest.raises(TargetError, match=message):
        load_target(spec, overrides)


def test_sigma_rejects_a_spatial_unroll():
    from compiler.tiling import MappingError

    shape = matmul_shape((1, 8), (8, 4))
    mapping = Mapping("os", dict(shape.dims), shape.dim_names, {"n": ("vns", 2)})
    with pytest.raises(MappingError, match="a sigma target takes no spatial unroll"):
        check_mapping(shape, mapping, load_target("sigma-16"), "fc")


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 12),
    k=st.integers(1, 40),
    density=st.floats(0.0, 1.0),
    ms=st.sampled_from([4, 8, 16, 32]),
    dn=st.sampled_from([1, 2, 4, 8, 32]),
    rn=st.sampled_from([1, 2, 4, 16]),
    seed=st.integers(0, 2**16),
)
def test_vectorised_iteration_costs_equal_the_specification(rows, k, density, ms, dn, rn, seed):
    """`iterations_costs` (all iterations at once) = `iteration_costs` one by one, split rows
    (PSUM multipliers) and empty rows included."""
    mask = np.random.default_rng(seed).random((rows, k)) < density
    iterations = sigma.pack_vns(mask, ms)
    expected = [sigma.iteration_costs(layout, sizes, ms, dn, rn) for layout, sizes in iterations]
    got = sigma.iterations_costs(iterations, ms, dn, rn)
    assert [tuple(int(v) for v in row) for row in got] == expected


@pytest.mark.parametrize("density", [1.0, 0.6])
def test_tile_stats_shortcuts_are_exact(density):
    """A dense tile (closed form) and a tile broadcast over reps (one rep, scaled) give what
    packing every rep gives."""
    rng = np.random.default_rng(3)
    one = rng.random((7, 19)) < density
    broadcast = np.broadcast_to(one, (5, 7, 19))
    packed = np.zeros((10,), np.int64)
    for rep in np.array(broadcast):  # a copy: no stride-0 view, every rep packed
        packed += packing_every_row(rep, 8, 2, 4)
    assert sigma.tile_stats(broadcast, 8, 2, 4) == tuple(int(v) for v in packed)


def packing_every_row(mask: np.ndarray, ms: int, dn: int, rn: int) -> np.ndarray:
    """The sparse fields of one rep's weights [rows, K] by the specification: every row packed
    (`pack_vns`), every iteration costed (`iteration_costs`, `iteration_events`)."""
    iterations = sigma.pack_vns(mask, ms)
    fields = np.zeros((10,), np.int64)
    fields[4:6] = mask.sum(), mask.size
    if iterations:
        costs = np.array([sigma.iteration_costs(a, b, ms, dn, rn) for a, b in iterations])
        w, s, b, kr = costs.T
        fields[:4] = len(iterations), (w + s + b).sum(), np.maximum(s, b).sum(), kr.sum()
        fields[6:] = np.sum([sigma.iteration_events(a, b, ms) for a, b in iterations], axis=0)
    return fields


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    rows=st.integers(1, 9),
    k=st.integers(1, 40),
    ms=st.sampled_from([2, 4, 8, 16]),
    dn=st.sampled_from([1, 2, 4]),
    rn=st.sampled_from([1, 2, 8]),
    density=st.sampled_from([0.3, 0.7, 0.95]),
    seed=st.integers(0, 1000),
)
def test_split_rows_by_their_lengths_equal_packing(rows, k, ms, dn, rn, density, seed):
    """Rows with more non-zeros than multipliers mixed with rows that fit: `tile_stats` costs the
    split rows by their lengths (the dense table) and packs the runs between them; the same as
    packing every row and costing every iteration (`iteration_costs`, the specification)."""
    mask = np.random.default_rng(seed).random((2, rows, k)) < density
    packed = sum(packing_every_row(rep, ms, dn, rn) for rep in mask)
    assert sigma.tile_stats(mask, ms, dn, rn) == tuple(int(v) for v in packed)
