"""MAERI timing: the jitted engine against the cycle-stepped reference model
(`simulator/arch/maeri_reference.py`) on >= 200 random small layers and spatial/buffer mappings, and
on >= 200 random regime-B ones (folding without the accumulation buffer, one VN per step); the
closed form of docs/stonne-timing.md on hand-checked cases, vmap over mixed architectures, and
the traffic / energy counts."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from compiler.loop_nest import program_rows
from compiler.tiling import (
    Mapping,
    check_mapping,
    conv2d_shape,
    maeri_mapping_spatial,
    matmul_shape,
)
from simulator import engine
from simulator.arch import maeri, maeri_art
from simulator.arch.maeri_reference import ReferenceScopeError, simulate_layer
from simulator.program import OP_COMPUTE, ROW, Layer, Program
from simulator.target import load_target


def _program(shape, rows) -> Program:
    layer = Layer(
        "layer", shape.kind, True, [], [], dims=dict(shape.dims), instr_begin=0, instr_end=len(rows)
    )
    return Program(instrs=rows, layers=[layer], constants={}, tensors={}, inputs=[], outputs=[])


@functools.cache
def reference(extents, tile, stride, ms, dn, rn, acc=True) -> int:
    cycles, outputs, expected = simulate_layer(extents, tile, stride, ms, dn, rn, acc)
    np.testing.assert_allclose(outputs, expected)
    return cycles


def _divisor(draw, n: int) -> int:
    return draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))


@st.composite
def maeri_cases(draw):
    """A layer, a maeri target, spatial factors dividing buffer tiles that divide the layer."""
    ms = draw(st.sampled_from([8, 16, 32, 64]))
    dn = draw(st.sampled_from([d for d in (1, 2, 4, 8, 16, 32, 64) if d <= ms]))
    rn = draw(st.sampled_from([1, 2, 4, 16]))
    if draw(st.booleans()):
        r, s = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        c, k = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        stride = draw(st.integers(1, 2))
        h = (draw(st.integers(1, 4)) - 1) * stride + r
        w = (draw(st.integers(1, 4)) - 1) * stride + s
        shape = conv2d_shape((1, c, h, w), (k, c, r, s), (stride, stride))
        multiples = ("k", "y", "x")  # buffer tiles over these dims (multiples of the spatial)
    else:
        m, k, n = draw(st.integers(1, 4)), draw(st.integers(1, 12)), draw(st.integers(1, 6))
        shape = matmul_shape((m, k), (k, n))
        stride = 1
        multiples = ("n", "m")
    dims = shape.dims
    factors = {
        d: _divisor(draw, e)
        for d, e in dims.items()
        if d not in ("n", "g") or shape.kind == "matmul"
    }
    factors = {d: f for d, f in factors.items() if not (shape.kind == "matmul" and d == "g")}
    reduction = ("r", "s", "c") if shape.kind == "conv2d" else ("k",)
    # Shrink the VNs across, then the VN, until they fit the multipliers.
    for d in [*(d for d in factors if d not in reduction), *reduction]:
        if math.prod(factors.values()) <= ms:
            break
        factors[d] = 1
    tiles = dict(dims)
    for d in multiples:
        if draw(st.booleans()):
            tiles[d] = factors.get(d, 1) * _divisor(draw, dims[d] // factors.get(d, 1))
    # Without accumulation buffer only where no buffer tile folds (the reference's scope).
    reduction_tile = {d: tiles[d] for d in reduction}
    folds = math.prod(-(-reduction_tile[d] // factors.get(d, 1)) for d in reduction)
    acc = folds > 1 or draw(st.booleans())
    target = load_target(
        f"maeri-{ms}",
        [
            f"dn_bw_elems_per_cycle={dn}",
            f"rn_bw_elems_per_cycle={rn}",
            f"accumulation_buffer={str(acc).lower()}",
        ],
    )
    spatial = maeri_mapping_spatial(shape, factors)
    order = tuple(draw(st.permutations(shape.dim_names)))
    mapping = Mapping("os", tiles, order, spatial, double_buffer=draw(st.booleans()))
    return shape, mapping, target, stride


@settings(max_examples=220, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=maeri_cases())
def test_jitted_compute_cycles_equal_the_reference_model(case):
    _assert_jitted_equals_reference(*case)


def _assert_jitted_equals_reference(shape, mapping, target, stride) -> None:
    check_mapping(shape, mapping, target, "layer")
    rows = program_rows(shape, mapping, target, 0)
    stats = engine.simulate_timing(_program(shape, rows), target)
    factors = {d: mapping.spatial[d][1] if d in mapping.spatial else 1 for d in shape.dim_names}
    tile = maeri.roles_of(shape.kind, factors, shape.dim_names)
    expected = 0
    for row in rows[ROW.view(rows).opcode == OP_COMPUTE]:
        sizes = dict(zip(shape.dim_names, (int(v) for v in ROW.view(row).size), strict=False))
        extents = maeri.roles_of(shape.kind, sizes, shape.dim_names)
        expected += reference(
            extents,
            tile,
            stride,
            target.num_multipliers,
            target.dn_bw_elems_per_cycle,
            target.rn_bw_elems_per_cycle,
            target.accumulation_buffer,
        )
    assert stats.layers[0].compute_cycles == expected
    assert stats.layers[0].macs == shape.macs


def _one_bound(
    t: tuple[int, ...], stride: int, extent_s: int, folds: int, ms: int, dn: int
) -> bool:
    """Each kind of window (full, newest column) is bound one way: by its chain of psum round
    trips (c0 + (F-1)*c <= (F-1)*L + 1, fold 0 sending no psum), or by its ports with each
    fold's psum sent while the next fold's inputs are still going out: c >= D + 1 (the fold's
    sum is written D = `drain_cycles` after its last input, its longest product path; its psum
    takes its slot then; later, the fold waits for it). Windows bound differently may follow
    each other (the closed form lets the ports run ahead of the chains); in between, the
    reference is a cycle faster per K-tile
    (`test_regime_b_reference_where_the_closed_form_approximates`)."""
    ports = maeri.step_costs(t, stride, extent_s, ms, dn, True)
    c_full, c_col, c_full0, c_col0 = (ports[maeri.PORT_FIELDS.index(f)] for f in FIELDS_B)
    span = t[0] * t[1] * t[2] + 1
    lat = maeri_art.round_trips(ms, dn, 1, span, 1, folds)[0]
    drain = maeri_art.drain_cycles(ms, dn, span, 1)
    chain = (folds - 1) * lat + 1
    steps = [(c_full0, c_full), (c_col0, c_col)]
    return all(c0 + (folds - 1) * c <= chain or c >= drain + 1 for c0, c in steps)


FIELDS_B = ("c_full", "c_col", "c_full0", "c_col0")


@st.composite
def regime_b_cases(draw):
    """Folding without the accumulation buffer, one VN per step (spatial factors only on the
    reduction dims), buffer tiles over the non-reduction dims (every COMPUTE folds)."""
    ms = draw(st.sampled_from([8, 16, 32, 64]))
    rn = draw(st.sampled_from([1, 2, 4, 16]))
    if draw(st.booleans()):
        r, s = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        c, k = draw(st.integers(1, 4)), draw(st.integers(1, 3))
        stride = draw(st.integers(1, 2))
        h = (draw(st.integers(1, 3)) - 1) * stride + r
        w = (draw(st.integers(1, 3)) - 1) * stride + s
        shape = conv2d_shape((1, c, h, w), (k, c, r, s), (stride, stride))
        reduction, multiples = ("r", "s", "c"), ("k", "y", "x")
    else:
        k = draw(st.sampled_from([2, 3, 4, 6, 8, 9, 12, 15, 16, 20, 24]))
        m, n = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        shape = matmul_shape((m, k), (k, n))
        stride = 1
        reduction, multiples = ("k",), ("n", "m")
    dims = shape.dims
    # One reduction dim folds (a proper divisor); the others are whole half of the time, so
    # that VNs are large enough for port-bound windows (c >= L + 2, `_one_bound`).
    foldable = [d for d in reduction if dims[d] > 1]
    assume(foldable)
    fold_dim = draw(st.sampled_from(foldable))
    factors = {}
    for d in reduction:
        divisors = [f for f in range(1, dims[d] + 1) if dims[d] % f == 0]
        if d == fold_dim:
            proper = divisors[:-1]
            factors[d] = proper[-1] if draw(st.booleans()) else draw(st.sampled_from(proper))
        else:
            factors[d] = dims[d] if draw(st.booleans()) else draw(st.sampled_from(divisors))
    folds = math.prod(dims[d] // factors[d] for d in reduction)
    assume(folds >= 2 and math.prod(factors.values()) + 1 <= ms)
    t = maeri.roles_of(shape.kind, factors, shape.dim_names)
    ports = [
        d
        for d in (1, 2, 4, 8, 16, 32, 64)
        if d <= ms
        and _one_bound(t, stride, dims["s" if shape.kind == "conv2d" else "k"], folds, ms, d)
    ]
    assume(ports)
    # Trees with switches (dn < ms) half of the time.
    trees = [d for d in ports if d < ms]
    dn = draw(st.sampled_from(trees if trees and draw(st.booleans()) else ports))
    tiles = dict(dims)
    for d in multiples:
        if draw(st.booleans()):
            tiles[d] = _divisor(draw, dims[d])
    target = load_target(
        f"maeri-{ms}",
        [
            f"dn_bw_elems_per_cycle={dn}",
            f"rn_bw_elems_per_cycle={rn}",
            "accumulation_buffer=false",
        ],
    )
    spatial = maeri_mapping_spatial(shape, factors)
    order = tuple(draw(st.permutations(shape.dim_names)))
    mapping = Mapping("os", tiles, order, spatial, double_buffer=draw(st.booleans()))
    return shape, mapping, target, stride


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(case=regime_b_cases())
def test_regime_b_jitted_compute_cycles_equal_the_reference_model(case):
    # Regime B with one VN per step: the reference steps the aux multiplier, the psum written
    # and sent back with priority on its port, the climb of the VN's tree and ports running
    # ahead; the closed form (windows bound by their ports or their chains, the ports running
    # ahead of the chains from window to window) must come out of it exactly.
    _assert_jitted_equals_reference(*case)


@pytest.mark.parametrize(
    "extents, tile, ms, dn, reference_cycles, closed_form",
    [
        # Fold 0 sends no psum (c_full0, c_col0): exact where its port is the busiest, with
        # latency-bound windows or port-bound ones (the closed form once gave 15 and 34).
        ((1, 2, 1, 1, 1, 1, 1, 1), (1, 1, 1, 1, 1, 1, 1, 1), 64, 1, 11, 11),
        ((1, 8, 1, 1, 1, 1, 2, 1), (1, 4, 1, 1, 1, 1, 1, 1), 8, 1, 32, 32),
        # A port-bound first window leaves a backlog that delays the chain-bound next one (its
        # fold 0's inputs are not in ahead): exact since the closed form lets the ports run
        # ahead of the chains (it gave 101).
        ((3, 3, 4, 1, 1, 1, 1, 2), (3, 3, 1, 1, 1, 1, 1, 1), 32, 2, 103, 103),
        # Outside `_one_bound`: port-bound folds of c = L + 1 (5 inputs + the psum, L = 5): the
        # psum goes out after the next fold's inputs, one cycle less per K-tile in the reference.
        ((1, 20, 1, 1, 1, 1, 2, 1), (1, 5, 1, 1, 1, 1, 1, 1), 64, 2, 71, 72),
    ],
)
def test_regime_b_reference_where_the_closed_form_approximates(
    extents, tile, ms, dn, reference_cycles, closed_form
):
    assert reference(extents, tile, 1, ms, dn, 4, False) == reference_cycles
    assert maeri.layer_cycles(extents, tile, 1, ms, dn, 4, False) == closed_form


@pytest.mark.parametrize(
    "extents, tile, ms, dn, stonne",
    [
        # STONNE's regime-B micro rows with one VN (bench/validation/stonne.csv): the reference
        # reproduces them exactly (the closed form gives 159 for the last one).
        ((3, 3, 8, 1, 1, 1, 1, 1), (3, 3, 1, 1, 1, 1, 1, 1), 128, 128, 50),
        ((3, 3, 8, 1, 1, 1, 1, 1), (3, 3, 1, 1, 1, 1, 1, 1), 128, 64, 67),
        ((1, 64, 1, 1, 1, 1, 1, 1), (1, 8, 1, 1, 1, 1, 1, 1), 64, 64, 50),
        ((3, 3, 4, 1, 1, 1, 4, 4), (3, 3, 1, 1, 1, 1, 1, 1), 16, 16, 266),
        ((3, 3, 16, 1, 1, 1, 4, 4), (3, 3, 2, 1, 1, 1, 1, 1), 128, 128, 703),
        ((3, 3, 8, 1, 1, 1, 1, 1), (3, 3, 1, 1, 1, 1, 1, 1), 128, 8, 158),
    ],
)
def test_regime_b_reference_on_stonne_micro_rows(extents, tile, ms, dn, stonne):
    assert reference(extents, tile, 1, ms, dn, 8, False) == stonne


def test_reference_model_scope():
    with pytest.raises(ReferenceScopeError, match="one VN per step only"):
        simulate_layer((3, 3, 2, 2, 1, 1, 2, 2), (3, 3, 1, 2, 1, 1, 1, 1), 1, 32, 4, 4, False)
    with pytest.raises(ReferenceScopeError, match="must divide"):
        simulate_layer((3, 3, 2, 1, 1, 1, 3, 3), (3, 3, 1, 1, 1, 1, 2, 1), 1, 16, 4, 4)


@pytest.mark.parametrize(
    "extents, tile, ms, dn, rn, acc, stonne",
    [
        # Micro rows of bench/validation/stonne.csv (STONNE's cycles; the closed form's in
        # docs/stonne-timing.md section 6 where it differs by one).
        ((3, 3, 1, 1, 1, 1, 4, 4), (3, 3, 1, 1, 1, 1, 1, 1), 16, 16, 16, 1, None),
        ((3, 3, 1, 1, 1, 1, 6, 6), (3, 3, 1, 1, 1, 1, 1, 1), 16, 2, 16, 1, 123),
        ((3, 3, 1, 1, 1, 1, 6, 6), (3, 3, 1, 1, 1, 1, 1, 1), 16, 16, 16, 1, 44),
        ((3, 3, 1, 4, 1, 1, 6, 6), (3, 3, 1, 1, 1, 1, 1, 1), 16, 16, 16, 1, 176),
        ((3, 3, 4, 1, 1, 1, 4, 4), (3, 3, 1, 1, 1, 1, 1, 1), 16, 16, 16, 0, 266),
        ((3, 3, 16, 1, 1, 1, 4, 4), (3, 3, 2, 1, 1, 1, 1, 1), 128, 128, 16, 0, 703),
        # Regime B, one VN per step (docs/stonne-timing.md section 3): the round trip is one
        # cycle longer when the distribution trees have switches (dn < ms) ...
        ((3, 3, 8, 1, 1, 1, 1, 1), (3, 3, 1, 1, 1, 1, 1, 1), 128, 128, 8, 0, 50),
        ((3, 3, 8, 1, 1, 1, 1, 1), (3, 3, 1, 1, 1, 1, 1, 1), 128, 64, 8, 0, 67),
        ((1, 64, 1, 1, 1, 1, 1, 1), (1, 8, 1, 1, 1, 1, 1, 1), 64, 64, 8, 0, 50),
        # ... and fc8 with four VNs (one window per K-tile): the four VNs' round trips wait for
        # each other at SDMemory's write loop, so the window's chain (not its ports, 7 per fold)
        # sets the K-tile (docs/stonne-several-vn.md); one cycle per K-tile under STONNE's
        # 1921750.
        ((1, 4096, 1, 1000, 1, 1, 1, 1), (1, 8, 1, 4, 1, 1, 1, 1), 64, 8, 8, 0, 1921500),
    ],
)
def test_closed_form_on_stonne_micro_rows(extents, tile, ms, dn, rn, acc, stonne):
    cycles = maeri.layer_cycles(extents, tile, 1, ms, dn, rn, bool(acc))
    if stonne is not None:
        assert cycles == stonne
    if acc:
        assert cycles == reference(extents, tile, 1, ms, dn, rn)


def test_step_costs_of_the_conv3_mapping():
    # 2 VNs of 18 on trees of 8: 8 weights / 8 window elements per port per step; the
    # sliding window sends 3 rows x 2 channels = 6 elements over 3 ports' worth of cycles.
    assert maeri.step_costs((3, 3, 2, 2, 1, 1, 1, 1), 1, 3, 64, 8, False) == (
        8, 8, 3, 18, 6, 0, 8, 3, 16, 16
    )  # fmt: skip
    # With aux multipliers (folding, no accumulation buffer) the layout shifts by one.
    assert maeri.step_costs((3, 3, 2, 2, 1, 1, 1, 1), 1, 3, 64, 8, True)[5] == 1
    # ... and the input steps count each VN's partial sum sent back on its aux multiplier's port:
    # FC, 4 VNs of 8 (+ aux) on trees of 8: 7 distinct inputs + 1 psum on the busiest port,
    # and fold 0, which sends no psum, 7 (c_full0) and 1 (c_col0). One fold of the single window
    # on its busiest port (c_wi): 7 weights, 7 inputs and 1 psum on each of the first four ports,
    # 15; 14 without the psum (c_wi0).
    assert maeri.step_costs((1, 8, 1, 4, 1, 1, 1, 1), 1, 4096, 64, 8, True) == (
        7, 8, 2, 8, 1, 1, 7, 1, 15, 14
    )  # fmt: skip
    # 9 VNs of 6 (+ aux): port 0 holds 6 weights, 6 inputs and 2 aux multipliers, port 1 7
    # weights, 6 inputs and 1 aux: 14 per fold on either, where the busiest weights (7) and the
    # busiest inputs and psums (8) add up to 15 (STONNE: 14.08 cycles per fold, fc7 scaled in
    # bench/validation/tuned_vs_stonne.csv).
    ports = maeri.step_costs((1, 6, 1, 9, 1, 1, 1, 1), 1, 512, 64, 8, True)
    assert (ports[0], ports[1], ports[8], ports[9]) == (7, 8, 14, 13)
    assert maeri.step_costs((1, 8, 1, 4, 1, 1, 1, 1), 1, 4096, 64, 8, False)[:2] == (8, 8)
    # dn = ms: every tree is one multiplier, every step one cycle.
    assert maeri.step_costs((3, 3, 2, 2, 1, 1, 1, 1), 1, 3, 64, 64, False)[:3] == (1, 1, 1)


def test_laid_out_tiles_are_kept(monkeypatch):
    # A tile laid out once is looked up the next time; a full cache starts again.
    monkeypatch.setattr(maeri, "_LAYOUTS", {})
    t = np.array([[3, 3, 2, 2, 1, 1, 1, 1], [1, 8, 1, 4, 1, 1, 1, 1]], np.int64)
    aux, extent_s = np.array([False, True]), np.array([3, 4096])
    first = maeri.step_costs_batch(t, aux, extent_s, 1, 64, 8)
    assert len(maeri._LAYOUTS[((1, 1), 64, 8)]) == 2
    monkeypatch.setattr(maeri, "_laid_out", None)  # nothing is laid out again
    np.testing.assert_array_equal(maeri.step_costs_batch(t, aux, extent_s, 1, 64, 8), first)
    monkeypatch.undo()
    monkeypatch.setattr(maeri, "_LAYOUTS", {})
    monkeypatch.setattr(maeri, "LAYOUT_CACHE", 1)
    maeri.step_costs_batch(t, aux, extent_s, 1, 64, 8)
    again = maeri.step_costs_batch(t[:1], aux[:1], extent_s[:1], 1, 64, 8)
    np.testing.assert_array_equal(again, first[:1])
    assert len(maeri._LAYOUTS[((1, 1), 64, 8)]) <= 2


def test_step_costs_of_a_batch_equal_one_tile_at_a_time(monkeypatch):
    # Grids of several sizes, split into passes of a few tiles (GRID_CELLS made small), with
    # and without aux multipliers, strides, forwarding; tiles beyond `max_multipliers` get
    # placeholders (a full port per step, every element once).
    monkeypatch.setattr(maeri, "GRID_CELLS", 512)
    rng = np.random.default_rng(4)
    for ms, dn in ((16, 4), (64, 8), (128, 128), (32, 1)):
        t = rng.integers(1, 4, (120, 8))
        t[::3, 3:] = 1  # one VN of the reduction (STONNE's usual folding tiles)
        t[1::3, 7] = 1  # T_Y' = 1: the forwarding links may slide the window
        aux = rng.random(120) < 0.4
        extent_s = np.where(rng.random(120) < 0.5, t[:, 1] * 2, rng.integers(1, 9, 120))
        need = maeri.multipliers_needed(t, aux)
        for stride in ((1, 1), (2, 1), (1, 2), 3):
            got = maeri.step_costs_batch(t, aux, extent_s, stride, ms, dn)
            capped = maeri.step_costs_batch(t, aux, extent_s, stride, ms, dn, max_multipliers=ms)
            for i in range(len(t)):
                one = (tuple(int(v) for v in t[i]), stride, int(extent_s[i]), ms, dn, bool(aux[i]))
                assert tuple(got[i]) == maeri.step_costs(*one), one
                if need[i] <= ms:
                    assert tuple(capped[i]) == tuple(got[i]), one
                else:
                    w = ms // dn
                    placeholder = (w, w, w, need[i], need[i], aux[i], w, w, 2 * w, 2 * w)
                    assert tuple(capped[i]) == placeholder, one


def test_vmap_mixes_systolic_and_maeri_programs():
    shape = conv2d_shape((1, 4, 6, 6), (8, 4, 3, 3))
    programs, targets = [], []
    for name in ("tpu-like-small", "maeri-16", "maeri-64"):
        target = load_target(name)
        from compiler.tiling import default_mapping

        mapping = default_mapping(shape, target)
        programs.append(_program(shape, program_rows(shape, mapping, target, 0)))
        targets.append(target)
    instrs = engine.stack_streams([p.instrs for p in programs])
    params = engine.stack_target_params([engine.target_params(t) for t in targets])
    batch = engine.simulate_timing_batch(instrs, params)
    for i, (program, target) in enumerate(zip(programs, targets, strict=True)):
        single = engine.run_records(program.instrs, engine.target_params(target))
        for f, name in enumerate(engine.RECORD_FIELDS):
            np.testing.assert_array_equal(batch[name][i, : program.num_instructions], single[:, f])
    assert batch["compute"][1].sum() != batch["compute"][2].sum()


@pytest.mark.parametrize("acc", [True, False])
def test_maeri_traffic_and_energy_counts(acc):
    # FC 1 x 32 -> 8, VN of 8 (4 folds), 4 VNs: weights read once, outputs written once with
    # the accumulation buffer and once per fold without (read back F-1 times).
    shape = matmul_shape((1, 32), (32, 8))
    target = load_target("maeri-64", [f"accumulation_buffer={str(acc).lower()}"])
    tiles = dict(shape.dims)
    mapping = Mapping("os", tiles, shape.dim_names, maeri_mapping_spatial(shape, {"k": 8, "n": 4}))
    check_mapping(shape, mapping, target, "fc")
    rows = program_rows(shape, mapping, target, 0)
    stats = engine.simulate_timing(_program(shape, rows), target).layers[0]
    folds = 4
    assert stats.sram_read_bytes["weight"] == 32 * 8
    assert stats.sram_write_bytes["output"] == 8 * (1 if acc else folds)
    assert stats.sram_read_bytes["output"] == (8 if acc else 8 * folds)  # + the final store
    assert stats.noc_hops > 2 * shape.macs
    assert stats.utilisation == pytest.approx(shape.macs / (stats.cycles * 64))


@pytest.mark.parametrize(
    "highs",
    [[1], [2, 2, 2], [3, 5, 129, 129, 2, 2], [60000, 60000], [1 << 20, 1 << 20, 4], [1 << 40] * 2],
    ids=["one-value", "one-pass", "two-passes", "two-passes-wide", "three-passes", "no-number"],
)
@pytest.mark.parametrize("rows", [1, 7, 5000])
def test_distinct_rows_are_numpy_unique(highs, rows):
    """Each row maps to a distinct row equal to it, given by its first occurrence; as many
    distinct rows as np.unique finds, in sorted order (by the mixed-radix number, first column
    lowest, where it fits 62 bits: lexicographic on the reversed columns)."""
    keys = np.random.default_rng(rows).integers(0, highs, (rows, len(highs))).astype(np.int64)
    first, inverse = maeri.distinct_rows(keys)
    assert np.array_equal(keys[first][inverse], keys)
    assert len(first) == len(np.unique(keys, axis=0))
    for u, f in enumerate(first):  # the first occurrence of its row
        assert np.flatnonzero(inverse == u)[0] == f
    fits = np.sum(np.log2(keys.max(axis=0) + 1.0)) < 62
    distinct = keys[first][:, ::-1] if fits else keys[first]
    assert np.array_equal(distinct, np.unique(distinct, axis=0))
