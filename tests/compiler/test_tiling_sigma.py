"""SIGMA's default buffer tiles: with fewer ports than multipliers, `default_mapping` weighs
shorter reduction tiles (`Sigma.default_tile_options`) against `choose_tiles`' by the cost model
and keeps the fastest; with a port per multiplier it keeps `choose_tiles`'. The choice is checked
in the simulator (the cost model's double-buffered latency is a model)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.tiling import Mapping, choose_tiles, conv2d_shape, default_mapping, matmul_shape
from simulator.target import load_target
from simulator.workload import DEFAULT_ORDERS
from tuner.tune import LayerTask, simulate_layer_mappings


def _base(shape, target):
    """`choose_tiles`' mapping: what the default was before it weighed other tiles."""
    order = DEFAULT_ORDERS[shape.kind][target.dataflow]
    start = Mapping(dataflow=target.dataflow, tiles=dict(shape.dims), order=order)
    return choose_tiles(shape, start, target)


def _simulated(shape, target, mappings):
    task = LayerTask(0, "L", shape, ["L"], mappings[0])
    return [r["cycles"] for r in simulate_layer_mappings(task, target, mappings)]


def _target(ms, ports, **more):
    fields = [f"num_multipliers={ms}", f"dn_bw_elems_per_cycle={ports}"]
    fields += [f"rn_bw_elems_per_cycle={ports}", *(f"{k}={v}" for k, v in more.items())]
    return load_target("sigma-64", fields)


def test_fewer_ports_take_shorter_reduction_tiles():
    shape = conv2d_shape((1, 32, 10, 10), (16, 32, 3, 3))  # tests/filecheck/.../accel-map-sigma
    target = _target(64, 8)
    mapping, base = default_mapping(shape, target), _base(shape, target)
    assert {d: mapping.tiles[d] for d in "crs"} == {"c": 1, "r": 1, "s": 3}
    assert {d: base.tiles[d] for d in "crs"} == {"c": 32, "r": 3, "s": 3}
    fast, slow = _simulated(shape, target, [mapping, base])
    assert fast * 2 < slow  # 20,355 against 42,411 (STONNE: 20,160 and 42,384)
    # With a port per multiplier and per VN, the tiler's tiles stay.
    full = _target(64, 64)
    assert default_mapping(shape, full) == _base(shape, full)


@settings(max_examples=25, deadline=None)
@given(
    kind=st.sampled_from(["conv", "matmul"]),
    c=st.integers(1, 48),
    k=st.integers(1, 40),
    r=st.sampled_from([1, 3, 5]),
    out=st.integers(1, 6),
    ms=st.sampled_from([16, 64, 256]),
    ports=st.sampled_from([2, 4, 8]),
    kib=st.sampled_from([1, 512]),
)
def test_the_default_is_no_slower_than_the_tilers_tiles(kind, c, k, r, out, ms, ports, kib):
    if kind == "conv":
        shape = conv2d_shape((1, c, out + r - 1, out + r - 1), (k, c, r, r))
    else:
        shape = matmul_shape((out, c * r), (c * r, k))
    target = _target(ms, ports, ifmap_sram_kib=kib, filter_sram_kib=kib, ofmap_sram_kib=kib)
    mapping, base = default_mapping(shape, target), _base(shape, target)
    if mapping == base:
        return
    assert replace(mapping, tiles=base.tiles) == base  # only the tiles differ
    chosen, tiler = _simulated(shape, target, [mapping, base])
    assert chosen <= tiler * 1.02, (mapping.tiles, base.tiles, chosen, tiler)
