"""The IR-free tiling math: layer shapes, mappings, tile choice, legality, and the streams
`loop_nest.program_rows` lowers from them (each checked by the stream verifier)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.loop_nest import program_rows
from compiler.stream_check import check_stream
from compiler.tiling import (
    DEFAULT_ORDERS,
    LayerShape,
    Mapping,
    MappingError,
    ShapeError,
    check_mapping,
    choose_tiles,
    conv2d_shape,
    default_mapping,
    dram_traffic,
    footprint_bytes,
    gemm_view,
    matmul_shape,
    operand_dims,
    spatial_unroll,
)
from simulator.program import (
    BUF_INPUT,
    BUF_OUTPUT,
    BUF_WEIGHT,
    DATAFLOWS,
    OP_COMPUTE,
    OP_CONFIG,
    OP_LOAD,
    OP_STORE,
    ROW,
)
from simulator.target import Target, load_target

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def small_target(**changes: object) -> Target:
    fields: dict[str, object] = dict(
        rows=4, cols=4, ifmap_sram_kib=1, filter_sram_kib=1, ofmap_sram_kib=1
    )
    fields.update(changes)
    return load_target("tpu-like").replace(**fields)


# --- shapes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "input_shape, weight_shape, strides, pads, dilations, group, dims",
    [
        (
            (1, 3, 224, 224),
            (64, 3, 7, 7),
            (2, 2),
            (3, 3, 3, 3),
            (1, 1),
            1,
            dict(n=1, g=1, k=64, c=3, y=112, x=112, r=7, s=7),
        ),
        (
            (2, 16, 10, 12),
            (8, 16, 3, 3),
            (1, 1),
            (0, 0, 0, 0),
            (1, 1),
            1,
            dict(n=2, g=1, k=8, c=16, y=8, x=10, r=3, s=3),
        ),
        # dilation 2: effective kernel 5
        (
            (1, 4, 9, 9),
            (4, 4, 3, 3),
            (1, 1),
            (0, 0, 0, 0),
            (2, 2),
            1,
            dict(n=1, g=1, k=4, c=4, y=5, x=5, r=3, s=3),
        ),
        # asymmetric pads (top, left, bottom, right) and strides
        (
            (1, 2, 7, 8),
            (6, 2, 3, 2),
            (2, 3),
            (1, 0, 0, 2),
            (1, 1),
            1,
            dict(n=1, g=1, k=6, c=2, y=3, x=3, r=3, s=2),
        ),
        # depthwise
        (
            (1, 32, 14, 14),
            (32, 1, 3, 3),
            (1, 1),
            (1, 1, 1, 1),
            (1, 1),
            32,
            dict(n=1, g=32, k=1, c=1, y=14, x=14, r=3, s=3),
        ),
        # grouped
        (
            (1, 8, 5, 5),
            (12, 2, 1, 1),
            (1, 1),
            (0, 0, 0, 0),
            (1, 1),
            4,
            dict(n=1, g=4, k=3, c=2, y=5, x=5, r=1, s=1),
        ),
    ],
)
def test_conv2d_shape(input_shape, weight_shape, strides, pads, dilations, group, dims):
    shape = conv2d_shape(input_shape, weight_shape, strides, pads, dilations, group, has_bias=True)
    assert shape.kind == "conv2d"
    assert shape.dims == dims
    assert list(shape.dims) == list(shape.dim_names)
    assert shape.in_hw == input_shape[2:]
    assert shape.pads == pads and shape.stride == strides and shape.dilation == dilations
    assert shape.has_bias
    assert shape.macs == math.prod(dims.values())


@pytest.mark.parametrize(
    "input_shape, weight_shape, group, pads, message",
    [
        ((1, 3, 8, 8), (4, 2, 3, 3), 1, (0, 0, 0, 0), "input channels per group"),
        ((1, 6, 8, 8), (4, 3, 3, 3), 4, (0, 0, 0, 0), "group=4"),
        ((1, 3, 2, 2), (4, 3, 3, 3), 1, (0, 0, 0, 0), "empty output"),
        ((3, 8, 8), (4, 3, 3, 3), 1, (0, 0, 0, 0), "4-D"),
    ],
)
def test_conv2d_shape_rejects(input_shape, weight_shape, group, pads, message):
    with pytest.raises(ShapeError, match=message):
        conv2d_shape(input_shape, weight_shape, pads=pads, group=group)


@pytest.mark.parametrize(
    "a, b, dims, b_batched",
    [
        ((5, 7), (7, 3), dict(g=1, m=5, n=3, k=7), False),
        ((4, 5, 7), (4, 7, 3), dict(g=4, m=5, n=3, k=7), True),
        ((4, 5, 7), (7, 3), dict(g=4, m=5, n=3, k=7), False),
        ((5, 7), (4, 7, 3), dict(g=4, m=5, n=3, k=7), True),  # a broadcast over b's batch
        ((4, 5, 7), (1, 7, 3), dict(g=4, m=5, n=3, k=7), False),  # a batch-1 b is shared
    ],
)
def test_matmul_shape(a, b, dims, b_batched):
    shape = matmul_shape(a, b, has_bias=True)
    assert shape.kind == "matmul"
    assert shape.dims == dims and list(shape.dims) == list(shape.dim_names)
    assert shape.b_batched == b_batched


@pytest.mark.parametrize("a, b", [((5, 7), (6, 3)), ((2, 5, 7), (3, 7, 3)), ((7,), (7, 3))])
def test_matmul_shape_rejects(a, b):
    with pytest.raises(ShapeError):
        matmul_shape(a, b)


def test_gemm_view_and_footprint():
    shape = conv2d_shape(
        (2, 8, 10, 10), (6, 4, 3, 3), strides=(2, 1), pads=(1, 1, 1, 1), group=2, has_bias=True
    )
    tiles = dict(n=1, g=2, k=3, c=4, y=3, x=4, r=3, s=2)
    assert gemm_view(shape, tiles) == (2, 1 * 3 * 4, 3, 4 * 3 * 2)
    fp = footprint_bytes(shape, tiles, element_bytes=2)
    rows, cols = (3 - 1) * 2 + (3 - 1) + 1, (4 - 1) + (2 - 1) + 1
    assert fp == {
        "input": 2 * (1 * 2 * 4 * rows * cols),
        "weight": 2 * (2 * 3 * 4 * 3 * 2 + 2 * 3),
        "output": 2 * (1 * 2 * 3 * 3 * 4),
    }
    # The whole layer reads rows (5-1)*2 + 2 + 1 = 11 of the 12 padded rows (stride 2), all 12 cols.
    full = footprint_bytes(shape, shape.dims, 1)
    assert full["input"] == 2 * 8 * 11 * 12
    mm = matmul_shape((5, 7), (7, 3), has_bias=True)
    assert gemm_view(mm, dict(g=1, m=5, n=3, k=7)) == (1, 5, 3, 7)
    assert footprint_bytes(mm, dict(g=1, m=2, n=3, k=4), 1) == {
        "input": 8,
        "weight": 12 + 3,
        "output": 6,
    }
    mmb = matmul_shape((4, 5, 7), (4, 7, 3))
    assert footprint_bytes(mmb, dict(g=2, m=2, n=3, k=4), 1)["weight"] == 2 * 12


# --- mappings ---------------------------------------------------------------------------------


def test_spatial_unroll_follows_dataflow():
    target = load_target("tpu-like")  # 32 x 32
    shape = conv2d_shape((1, 64, 56, 56), (128, 64, 3, 3), pads=(1, 1, 1, 1))
    assert spatial_unroll(shape, "ws", target) == {"c": ("rows", 32), "k": ("cols", 32)}
    assert spatial_unroll(shape, "os", target) == {"y": ("rows", 32), "k": ("cols", 32)}
    assert spatial_unroll(shape, "is", target) == {"c": ("rows", 32), "y": ("cols", 32)}
    mm = matmul_shape((8, 300), (300, 20))
    assert spatial_unroll(mm, "os", target) == {"m": ("rows", 8), "n": ("cols", 20)}
    assert spatial_unroll(mm, "ws", target) == {"k": ("rows", 32), "n": ("cols", 20)}
    assert spatial_unroll(mm, "is", target) == {"k": ("rows", 32), "m": ("cols", 8)}


def test_directives():
    target = load_target("tpu-like").replace(rows=16, cols=16)
    shape = matmul_shape((64, 64), (64, 64))
    mapping = Mapping(
        dataflow="ws",
        tiles=dict(g=1, m=16, n=32, k=64),
        order=("m", "n", "k", "g"),
        spatial=spatial_unroll(shape, "ws", target),
    )
    assert mapping.directives(shape) == (
        "TemporalMap(16,16) M; SpatialMap(1,1) N; SpatialMap(1,1) K; TemporalMap(1,1) G"
    )


@FAST
@given(
    dataflow=st.sampled_from(DATAFLOWS),
    tiles=st.dictionaries(st.sampled_from("ngkcyxrs"), st.integers(1, 512), min_size=8),
    order=st.permutations("ngkcyxrs"),
    spatial=st.dictionaries(
        st.sampled_from("ngkcyxrs"),
        st.tuples(st.sampled_from(["rows", "cols"]), st.integers(1, 64)),
    ),
    double_buffer=st.booleans(),
)
def test_mapping_dict_round_trip(dataflow, tiles, order, spatial, double_buffer):
    mapping = Mapping(dataflow, tiles, tuple(order), spatial, double_buffer)
    data = mapping.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert Mapping.from_dict(json.loads(json.dumps(data))) == mapping


def test_mapping_from_dict_rejects_missing_field():
    with pytest.raises(MappingError, match="'order'"):
        Mapping.from_dict({"dataflow": "ws", "tiles": {}})


# --- random layers ----------------------------------------------------------------------------


@st.composite
def conv_layers(draw: st.DrawFn) -> LayerShape:
    group = draw(st.integers(1, 2))
    c = draw(st.integers(1, 3))
    k = draw(st.integers(1, 3))
    r, s = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dy, dx = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    sy, sx = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pads = tuple(draw(st.integers(0, 2)) for _ in range(4))
    h = draw(st.integers(max(1, (r - 1) * dy + 1 - pads[0] - pads[2]), 7))
    w = draw(st.integers(max(1, (s - 1) * dx + 1 - pads[1] - pads[3]), 7))
    n = draw(st.integers(1, 2))
    return conv2d_shape(
        (n, group * c, h, w),
        (group * k, c, r, s),
        (sy, sx),
        pads,
        (dy, dx),
        group,
        has_bias=draw(st.booleans()),
    )


@st.composite
def matmul_layers(draw: st.DrawFn) -> LayerShape:
    g, m, n, k = (draw(st.integers(1, hi)) for hi in (3, 9, 9, 9))
    a = (g, m, k) if draw(st.booleans()) or g > 1 else (m, k)
    b = (g, k, n) if draw(st.booleans()) else (k, n)
    return matmul_shape(a, b, has_bias=draw(st.booleans()))


layers = st.one_of(conv_layers(), matmul_layers())


@st.composite
def layer_and_mapping(draw: st.DrawFn, divisible: bool = False) -> tuple[LayerShape, Mapping]:
    shape = draw(layers)
    tiles = {}
    for d in shape.dim_names:
        extent = shape.dims[d]
        if divisible:
            tiles[d] = draw(st.sampled_from([t for t in range(1, extent + 1) if extent % t == 0]))
        else:
            tiles[d] = draw(st.integers(1, extent))
    order = tuple(draw(st.permutations(shape.dim_names)))
    mapping = Mapping(
        dataflow=draw(st.sampled_from(DATAFLOWS)),
        tiles=tiles,
        order=order,
        double_buffer=draw(st.booleans()),
    )
    return shape, mapping


def tile_of(row: np.ndarray, ndim: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    r = ROW.view(row)
    return tuple(r.off[:ndim].tolist()), tuple(r.size[:ndim].tolist())


def operand_key(shape: LayerShape, op: str, off: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(off[shape.dim_names.index(d)] for d in operand_dims(shape)[op])


def unique_bytes(shape: LayerShape, element_bytes: int) -> dict[str, int]:
    """Bytes of the operand elements the layer actually touches (input: the padded positions
    some output reads)."""
    d = shape.dims
    if shape.kind == "matmul":
        weight = (d["g"] if shape.b_batched else 1) * d["k"] * d["n"] + (
            d["n"] if shape.has_bias else 0
        )
        elems = (d["g"] * d["m"] * d["k"], weight, d["g"] * d["m"] * d["n"])
    else:
        (sy, sx), (dy, dx) = shape.stride, shape.dilation
        rows = {y * sy + r * dy for y in range(d["y"]) for r in range(d["r"])}
        cols = {x * sx + s * dx for x in range(d["x"]) for s in range(d["s"])}
        gk = d["g"] * d["k"]
        weight = gk * d["c"] * d["r"] * d["s"] + (gk if shape.has_bias else 0)
        elems = (
            d["n"] * d["g"] * d["c"] * len(rows) * len(cols),
            weight,
            d["n"] * gk * d["y"] * d["x"],
        )
    return {
        op: e * element_bytes for op, e in zip(("input", "weight", "output"), elems, strict=True)
    }


def check_schedule(shape: LayerShape, mapping: Mapping, target: Target, rows: np.ndarray) -> None:
    """Every invariant of the contract, checked by walking the rows in order."""
    check_stream(rows, shape)  # the lowering's streams pass the instruction-stream verifier
    dims = shape.dim_names
    ndim = len(dims)
    extents = [shape.dims[d] for d in dims]
    eb = target.element_bytes
    assert rows.dtype == np.int64 and rows.shape[1] == ROW.num_columns
    every = ROW.view(rows)
    assert every.opcode[0] == OP_CONFIG
    assert every.dataflow[0] == DATAFLOWS.index(mapping.dataflow)
    assert (every.layer == 7).all()
    assert (every.opcode[1:] != OP_CONFIG).all()

    covered = np.zeros(extents, dtype=np.int64)
    seen_out: set[tuple[int, ...]] = set()
    last_compute: dict[tuple[int, ...], int] = {}
    last_store: dict[tuple[int, ...], int] = {}
    prev = {"input": None, "weight": None, "output": None}
    pending: dict[int, list[np.ndarray]] = {BUF_INPUT: [], BUF_WEIGHT: [], BUF_OUTPUT: []}
    slot_seq = {"input": [], "weight": [], "output": []}
    dram = {"input": 0, "weight": 0, "output": 0, "psum": 0}
    prev_tile: tuple | None = None
    current_out_slot = -1
    for index, row in enumerate(rows[1:], start=1):
        r = ROW.view(row)
        op = r.opcode
        off, size = tile_of(row, ndim)
        sizes = dict(zip(dims, size, strict=True))
        assert all(
            o >= 0 and z >= 1 and o + z <= e for o, z, e in zip(off, size, extents, strict=True)
        )
        if op == OP_LOAD:
            pending[int(r.buffer)].append(row)
            fp = footprint_bytes(shape, sizes, eb)
            name = ("input", "weight", "output")[int(r.buffer)]
            assert r.bytes == fp[name]
            dram["psum" if name == "output" else name] += int(r.bytes)
            if not mapping.double_buffer:
                assert r.slot == 0
        elif op == OP_STORE:
            out = operand_key(shape, "output", off)
            assert prev_tile is not None and operand_key(shape, "output", prev_tile[0]) == out
            assert out in last_compute
            assert r.slot == current_out_slot
            assert r.bytes == footprint_bytes(shape, sizes, eb)["output"]
            last_store[out] = index
            dram["output"] += int(r.bytes)
        else:
            assert op == OP_COMPUTE
            assert r.dataflow == DATAFLOWS.index(mapping.dataflow)
            assert tuple(r.gemm) == gemm_view(shape, sizes)
            covered[tuple(slice(o, o + z) for o, z in zip(off, size, strict=True))] += 1
            keys = {name: operand_key(shape, name, off) for name in prev}
            out = keys["output"]
            # Loads happen exactly when an operand's tile coordinates change.
            for name, buf, field in (("input", BUF_INPUT, "s_in"), ("weight", BUF_WEIGHT, "s_w")):
                loads = pending[buf]
                assert len(loads) == (keys[name] != prev[name]), (name, index)
                if loads:
                    assert tile_of(loads[0], ndim) == (off, size)
                    slot_seq[name].append(int(ROW.view(loads[0]).slot))
                    assert r[field] == ROW.view(loads[0]).slot
                else:
                    assert r[field] == slot_seq[name][-1]
            if keys["output"] != prev["output"]:
                slot_seq["output"].append(int(r.s_out))
            else:
                assert r.s_out == slot_seq["output"][-1]
            current_out_slot = int(r.s_out)
            revisit = keys["output"] != prev["output"] and out in seen_out
            assert len(pending[BUF_OUTPUT]) == revisit
            if revisit:
                assert ROW.view(pending[BUF_OUTPUT][0]).slot == r.s_out
                assert out in last_store  # partial sums were written before being reloaded
            # acc = 0 exactly on the first compute of each output tile.
            assert r.acc == (0 if out not in seen_out else 1)
            seen_out.add(out)
            last_compute[out] = index
            prev = keys
            prev_tile = (off, size)
            pending = {BUF_INPUT: [], BUF_WEIGHT: [], BUF_OUTPUT: []}
    assert not any(pending.values())
    # Every (output element, reduction index) is computed exactly once.
    assert (covered == 1).all()
    # Every output tile is stored, last after its last compute.
    assert set(last_store) == set(last_compute)
    assert all(last_store[t] > last_compute[t] for t in last_compute)
    # Double-buffered slots alternate per new operand tile; single-buffered stay 0.
    for name, seq in slot_seq.items():
        expected = [i % 2 for i in range(len(seq))] if mapping.double_buffer else [0] * len(seq)
        assert seq == expected, name
    unique = unique_bytes(shape, eb)
    assert dram["input"] >= unique["input"]
    assert dram["weight"] >= unique["weight"]
    assert dram["output"] >= unique["output"]
    estimate = dram_traffic(shape, mapping, eb)
    assert all(dram[key] <= estimate[key] for key in dram)
    if all(shape.dims[d] % mapping.tiles[d] == 0 for d in dims):
        assert dram == estimate


@FAST
@given(layer_and_mapping(), st.integers(1, 2))
def test_schedule_invariants(case, element_bytes):
    shape, mapping = case
    target = small_target(element_bytes=element_bytes)
    rows = program_rows(shape, mapping, target, layer_index=7)
    check_schedule(shape, mapping, target, rows)


@FAST
@given(layer_and_mapping(divisible=True))
def test_schedule_traffic_matches_estimate_when_tiles_divide(case):
    shape, mapping = case
    target = small_target()
    check_schedule(shape, mapping, target, program_rows(shape, mapping, target, layer_index=7))


def test_schedule_psums_and_double_buffer_order():
    """A reduction loop outside an output loop: partial sums are stored and reloaded."""
    shape = matmul_shape((5, 7), (7, 3))
    mapping = Mapping("ws", dict(g=1, m=2, n=3, k=4), ("g", "k", "n", "m"), double_buffer=True)
    target = small_target()
    rows = program_rows(shape, mapping, target, layer_index=7)
    check_schedule(shape, mapping, target, rows)
    every = ROW.view(rows)
    psum_loads = rows[(every.opcode == OP_LOAD) & (every.buffer == BUF_OUTPUT)]
    assert len(psum_loads) == 3  # m tiles 0+2, 2+2, 4+1 revisited for k tile 4+3
    assert ROW.view(psum_loads).bytes.tolist() == [6, 6, 3]
    # The second iteration prefetches its input before storing the first output tile.
    kinds = list(zip(every.opcode[:8].tolist(), every.buffer[:8].tolist(), strict=True))
    assert kinds[:6] == [
        (OP_CONFIG, 0),
        (OP_LOAD, BUF_INPUT),
        (OP_LOAD, BUF_WEIGHT),
        (OP_COMPUTE, 0),
        (OP_LOAD, BUF_INPUT),
        (OP_STORE, 0),
    ]
    single = program_rows(
        shape, Mapping("ws", mapping.tiles, mapping.order, double_buffer=False), target, 7
    )
    assert ROW.view(single).opcode[3:6].tolist() == [OP_COMPUTE, OP_STORE, OP_LOAD]


def test_schedule_clips_edge_tiles():
    shape = conv2d_shape((1, 1, 7, 7), (5, 1, 3, 3))  # y = x = 5
    mapping = Mapping(
        "os", dict(n=1, g=1, k=2, c=1, y=2, x=5, r=3, s=3), ("n", "g", "k", "y", "x", "c", "r", "s")
    )
    rows = program_rows(shape, mapping, small_target(), 0)
    computes = rows[ROW.view(rows).opcode == OP_COMPUTE]
    tiles = ROW.view(computes)
    k_tiles = sorted(set(zip(tiles.off2.tolist(), tiles.size2.tolist(), strict=True)))
    y_tiles = sorted(set(zip(tiles.off4.tolist(), tiles.size4.tolist(), strict=True)))
    assert k_tiles == [(0, 2), (2, 2), (4, 1)]
    assert y_tiles == [(0, 2), (2, 2), (4, 1)]
    last = computes[-1]
    assert ROW.view(last).gemm[1:].tolist() == [1 * 5, 1, 9]
    # the clipped input tile: rows (1-1)*1 + 2 + 1 = 3, cols 7
    every = ROW.view(rows)
    last_input = rows[(every.opcode == OP_LOAD) & (every.buffer == BUF_INPUT)][-1]
    assert ROW.view(last_input).bytes == 3 * 7


# --- tile choice and legality -----------------------------------------------------------------


@FAST
@given(
    shape=layers,
    dataflow=st.sampled_from(DATAFLOWS),
    kib=st.tuples(*(st.sampled_from([0.0625, 0.125, 0.25, 1.0]) for _ in range(3))),
    element_bytes=st.integers(1, 2),
)
def test_choose_tiles_fits_and_passes_check(shape, dataflow, kib, element_bytes):
    target = small_target(
        ifmap_sram_kib=kib[0],
        filter_sram_kib=kib[1],
        ofmap_sram_kib=kib[2],
        element_bytes=element_bytes,
    )
    try:
        mapping = default_mapping(shape, target, dataflow)
    except MappingError as err:
        # Only when even the smallest tiles cannot fit once.
        ones = {d: 1 for d in shape.dim_names}
        fp = footprint_bytes(shape, ones, element_bytes)
        assert any(fp[op] > target.buffer_bytes(op) for op in fp), err
        assert "even with the smallest tiles" in str(err)
        return
    check_mapping(shape, mapping, target, "layer")
    assert mapping.order == DEFAULT_ORDERS[shape.kind][dataflow]
    assert mapping.spatial == spatial_unroll(shape, dataflow, target)
    fp = footprint_bytes(shape, mapping.tiles, element_bytes)
    mult = 2 if mapping.double_buffer else 1
    assert all(fp[op] * mult <= target.buffer_bytes(op) for op in fp)
    # Double-buffering is dropped only when the smallest tiles do not fit twice.
    if not mapping.double_buffer:
        ones = footprint_bytes(shape, {d: 1 for d in shape.dim_names}, element_bytes)
        assert any(ones[op] * 2 > target.buffer_bytes(op) for op in ones)
    rows = program_rows(shape, mapping, target, 7)
    check_schedule(shape, mapping, target, rows)


def test_choose_tiles_keeps_full_extents_when_everything_fits():
    shape = conv2d_shape((1, 8, 8, 8), (16, 8, 3, 3), pads=(1, 1, 1, 1))
    mapping = default_mapping(shape, load_target("tpu-like"))
    assert mapping.tiles == shape.dims
    assert mapping.double_buffer
    rows = program_rows(shape, mapping, load_target("tpu-like"), 0)
    assert ROW.view(rows).opcode.tolist() == [OP_CONFIG, OP_LOAD, OP_LOAD, OP_COMPUTE, OP_STORE]


def test_choose_tiles_prefers_not_to_tile_the_filter_window():
    target = load_target("tpu-like-small")
    shape = conv2d_shape((1, 64, 56, 56), (64, 64, 3, 3), pads=(1, 1, 1, 1))
    for dataflow in DATAFLOWS:
        mapping = default_mapping(shape, target, dataflow)
        assert mapping.tiles["r"] == 3 and mapping.tiles["s"] == 3
        assert mapping.tiles["k"] >= target.cols  # the array's columns stay busy
        check_mapping(shape, mapping, target, "conv")


def test_choose_tiles_fixed_and_double_buffer_choice():
    target = small_target()  # 1 KiB buffers
    shape = matmul_shape((64, 64), (64, 64))
    start = Mapping("ws", dict(shape.dims), DEFAULT_ORDERS["matmul"]["ws"])
    mapping = choose_tiles(shape, start, target, fixed={"k": 16, "g": 5})
    assert mapping.tiles["k"] == 16 and mapping.tiles["g"] == 1
    check_mapping(shape, mapping, target)
    single = choose_tiles(shape, start, target, double_buffer=False)
    assert not single.double_buffer
    fp = footprint_bytes(shape, single.tiles, 1)
    assert max(fp.values()) > 512  # uses the whole buffer once
    # the smallest tiles fit once but not twice: fall back to single buffering
    tight = small_target(ifmap_sram_kib=600 / 1024)
    auto = choose_tiles(shape, start, tight, fixed={"k": 64, "m": 8})
    assert not auto.double_buffer
    check_mapping(shape, auto, tight)
    with pytest.raises(
        MappingError,
        match=r"input tile needs 1024 B \(x2 double-buffered\) but the input buffer holds 600 B",
    ):
        choose_tiles(shape, start, tight, fixed={"k": 64, "m": 8}, double_buffer=True)
    with pytest.raises(
        MappingError, match="input tile needs 4096 B but the input buffer holds 600 B"
    ):
        choose_tiles(shape, start, tight, fixed={"k": 64, "m": 64})
    # a target that forbids double buffering
    assert not choose_tiles(shape, start, target.replace(double_buffer=False)).double_buffer


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(dataflow="rs"), "layer 'fc': unknown dataflow 'rs'"),
        (dict(tiles=dict(g=1, m=8, n=8, k=0)), r"layer 'fc': tile k=0 is outside \[1, 64\]"),
        (dict(tiles=dict(g=1, m=8, n=8, k=65)), r"layer 'fc': tile k=65 is outside \[1, 64\]"),
        (dict(tiles=dict(g=1, m=8, n=8)), "layer 'fc': no tile for dim 'k'"),
        (dict(tiles=dict(g=1, m=8, n=8, k=8, c=1)), "layer 'fc': tile for unknown dim 'c'"),
        (
            dict(order=("g", "m", "n")),
            "layer 'fc': loop order g m n is not a permutation of g m n k",
        ),
        (dict(order=("g", "m", "n", "n")), "is not a permutation"),
        (
            dict(spatial={"n": ("cols", 64)}),
            "layer 'fc': spatial unroll of n = 64 exceeds the array's 32 cols",
        ),
        (
            dict(spatial={"k": ("rows", 8), "m": ("rows", 8)}),
            r"layer 'fc': spatial unroll of k\*m = 8\*8 = 64 exceeds the array's 32 rows",
        ),
        (dict(spatial={"k": ("diag", 8)}), "unknown array axis 'diag'"),
        (
            dict(tiles=dict(g=1, m=64, n=64, k=64)),
            r"layer 'fc': input tile needs 8192 B \(x2 double-buffered\) but the input buffer holds 4096 B",
        ),
        (
            dict(tiles=dict(g=1, m=64, n=64, k=64), double_buffer=False),
            "layer 'fc': input tile needs 4096 B but the input buffer holds 2048 B",
        ),
    ],
)
def test_check_mapping_rejects(change, message):
    target = load_target("tpu-like").replace(
        ifmap_sram_kib=4 if change.get("double_buffer", True) else 2,
        filter_sram_kib=64,
        ofmap_sram_kib=64,
    )
    shape = matmul_shape((64, 64), (64, 64))
    fields = dict(
        dataflow="ws",
        tiles=dict(g=1, m=8, n=8, k=8),
        order=("g", "m", "n", "k"),
        spatial={"k": ("rows", 8), "n": ("cols", 8)},
        double_buffer=True,
    )
    fields.update(change)
    good = Mapping(
        **{**fields, **{key: value for key, value in fields.items() if key not in change}}
    )
    with pytest.raises(MappingError, match=message):
        check_mapping(shape, good, target, layer="fc")


def test_check_mapping_accepts_and_conv_message():
    target = load_target("tpu-like").replace(ifmap_sram_kib=64)
    shape = conv2d_shape((1, 64, 56, 56), (64, 64, 3, 3), pads=(1, 1, 1, 1))
    mapping = default_mapping(shape, target)
    check_mapping(shape, mapping, target, "/conv1/Conv")
    too_big = Mapping(mapping.dataflow, {**mapping.tiles, "c": 64, "y": 30, "x": 30}, mapping.order)
    need = 2 * 64 * 32 * 32
    with pytest.raises(
        MappingError,
        match=rf"layer '/conv1/Conv': input tile needs {need} B \(x2 double-buffered\) but the input buffer holds 65536 B",
    ):
        check_mapping(shape, too_big, target, "/conv1/Conv")


# --- ResNet-18 layers (speed is measured in bench/, not asserted here) ------------------------


def resnet18_convs() -> list[LayerShape]:
    shapes = [conv2d_shape((1, 3, 224, 224), (64, 3, 7, 7), (2, 2), (3, 3, 3, 3))]
    for cin, cout, hw, stride in [
        (64, 64, 56, 1),
        (64, 128, 56, 2),
        (128, 256, 28, 2),
        (256, 512, 14, 2),
        (512, 512, 7, 1),
    ]:
        shapes.append(
            conv2d_shape((1, cin, hw, hw), (cout, cin, 3, 3), (stride, stride), (1, 1, 1, 1))
        )
    return shapes


def test_default_mapping_is_legal_on_resnet18():
    for name in ("tpu-like", "tpu-like-small"):
        target = load_target(name)
        for shape in resnet18_convs():
            for dataflow in DATAFLOWS:
                mapping = default_mapping(shape, target, dataflow)
                check_mapping(shape, mapping, target, "conv")


def test_schedule_of_a_large_layer():
    shape = conv2d_shape((1, 64, 56, 56), (64, 64, 3, 3), pads=(1, 1, 1, 1))
    mapping = Mapping(
        "os", dict(n=1, g=1, k=8, c=8, y=4, x=4, r=3, s=3), DEFAULT_ORDERS["conv2d"]["os"]
    )
    rows = program_rows(shape, mapping, load_target("tpu-like"), 0)
    assert (ROW.view(rows).opcode == OP_COMPUTE).sum() == 8 * 8 * 14 * 14
