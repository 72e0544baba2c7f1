"""The memory hierarchy: stalls attributed to their cause, global-buffer bandwidth (banks x
width x ports), split vs shared global buffer, and traffic totals consistent with the layers."""

from __future__ import annotations

import math

import numpy as np
import pytest

import accelflow
from accelflow import models
from compiler.tiling import MappingError, check_mapping, choose_tiles, conv2d_shape, default_mapping
from simulator.arch import systolic
from simulator.stats import STALL_CAUSES
from simulator.target import load_target


def run(model, overrides, passes=None):
    result = accelflow.compile(model, "tpu-like", overrides, passes=passes)
    return result, accelflow.simulate(result.program, result.target).stats


@pytest.mark.parametrize(
    "overrides",
    [
        ["dram_bw_bytes_per_cycle=1"],
        ["dram_latency_cycles=5000"],
        ["double_buffer=false", "dram_bw_bytes_per_cycle=2"],
        ["sram_banks=1", "sram_bank_width_bytes=1", "sram_ports=1"],
        ["global_buffer=shared", "ifmap_sram_kib=2", "filter_sram_kib=2", "ofmap_sram_kib=2"],
    ],
)
@pytest.mark.parametrize("name", ["lenet", "resnet_block"])
def test_stall_causes_add_up(name, overrides):
    _, stats = run(models.MODELS[name](), ["rows=8", "cols=8", *overrides])
    for layer in [*stats.layers, stats.total]:
        assert sum(layer.stall_by_cause.values()) == layer.stall_cycles
        assert set(layer.stall_by_cause) == set(STALL_CAUSES)
        assert layer.cycles == layer.compute_cycles + layer.stall_cycles + layer.idle_cycles


def test_slow_dram_stalls_on_bandwidth_and_far_dram_on_latency():
    model = models.gemm(64, 256, 64)
    _, slow = run(model, ["dram_bw_bytes_per_cycle=0.5", "dram_latency_cycles=1"])
    _, far = run(model, ["dram_bw_bytes_per_cycle=1024", "dram_latency_cycles=20000"])
    assert (
        slow.total.stall_by_cause["dram_bandwidth"] > 10 * slow.total.stall_by_cause["dram_latency"]
    )
    assert far.total.stall_by_cause["dram_latency"] >= 20000
    assert (
        far.total.stall_by_cause["dram_bandwidth"] < far.total.stall_by_cause["dram_latency"] / 10
    )


def test_a_compute_that_reuses_its_operands_waits_for_the_output_store():
    """Hand-built stream: the second tile reuses the loaded operands, but its output slot is
    still being stored: the wait is output drain (the engine's only DMA is busy storing)."""
    from sim_programs import row

    from simulator import engine
    from simulator.program import OP_COMPUTE, OP_CONFIG, OP_LOAD, OP_STORE

    target = load_target(
        "tpu-like", ["rows=4", "cols=4", "dram_bw_bytes_per_cycle=1", "dram_latency_cycles=0"]
    )
    gemm = dict(reps=1, m=4, n=4, k=4, dataflow=1)
    instrs = np.stack(
        [
            row(OP_CONFIG, dataflow=1),
            row(OP_LOAD, buffer=0, slot=0, bytes=16),
            row(OP_LOAD, buffer=1, slot=0, bytes=16),
            row(OP_COMPUTE, s_in=0, s_w=0, s_out=0, acc=0, **gemm),
            row(OP_STORE, slot=0, bytes=1000),
            row(OP_COMPUTE, s_in=0, s_w=0, s_out=0, acc=0, **gemm),
        ]
    )
    records = engine.run_records(instrs, engine.target_params(target))
    fold = 4 + 4 + 4 - 2
    second = records[5]
    assert second[engine.R["start"]] == 32 + fold + 1000
    assert second[engine.R["stall_output_drain"]] == 1000
    assert second[engine.R["stall"]] == 1000


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_sram_bandwidth_limits_the_array(dataflow):
    m, k, n = 40, 24, 20
    model = models.gemm(m, k, n)
    base = ["rows=8", "cols=8", f"dataflow={dataflow}"]
    _, fast = run(model, base)
    _, narrow = run(model, [*base, "sram_banks=1", "sram_bank_width_bytes=1", "sram_ports=1"])
    assert narrow.total.compute_cycles == fast.total.compute_cycles
    assert fast.total.stall_by_cause["sram_bandwidth"] == 0
    # One tile: the array needs max(per-buffer traffic) bytes at 1 byte per cycle.
    df = ["ws", "os", "is"].index(dataflow)
    in_rd, w_rd, out_wr, out_rd = systolic.sram_traffic(1, m, n, k, 0, df, 8, 8, xp=np)
    fold = int(systolic.compute_cycles(1, m, n, k, df, 8, 8, xp=np))
    expected = max(int(in_rd), int(w_rd), int(out_wr + out_rd)) - fold
    assert narrow.total.stall_by_cause["sram_bandwidth"] == max(0, expected) > 0
    assert narrow.total.cycles == fast.total.cycles + expected


def test_shared_buffer_holds_what_split_buffers_cannot():
    shape = conv2d_shape((1, 16, 16, 16), (32, 16, 3, 3), pads=(1, 1, 1, 1))
    # 8 KiB weights; split buffers of 4 KiB each cannot hold the whole weight tile, a shared
    # 12 KiB buffer can.
    split = load_target("tpu-like", ["ifmap_sram_kib=4", "filter_sram_kib=4", "ofmap_sram_kib=4"])
    shared = split.replace(global_buffer="shared")
    m_split = choose_tiles(shape, default_mapping(shape, split, "ws"), split, double_buffer=False)
    m_shared = choose_tiles(
        shape, default_mapping(shape, shared, "ws"), shared, double_buffer=False
    )
    weight_tile = lambda m: m.tiles["k"] * m.tiles["c"] * m.tiles["r"] * m.tiles["s"]  # noqa: E731
    assert weight_tile(m_split) * split.element_bytes <= 4096
    assert weight_tile(m_shared) > weight_tile(m_split)
    check_mapping(shape, m_shared, shared, "conv")
    with pytest.raises(
        MappingError, match="weight tile needs .* but the weight buffer holds 4096 B"
    ):
        check_mapping(shape, m_shared, split, "conv")
    tiny = shared.replace(ifmap_sram_kib=0.25, filter_sram_kib=0.25, ofmap_sram_kib=0.25)
    with pytest.raises(
        MappingError,
        match=r"layer 'conv': input\+weight\+output tiles need \d+ B but the shared global buffer holds 768 B",
    ):
        check_mapping(shape, m_shared, tiny, "conv")


@pytest.mark.parametrize("name", ["lenet", "mlp", "resnet_block", "depthwise_pointwise"])
@pytest.mark.parametrize("kib", [1, 8, 256])
def test_traffic_is_consistent(name, kib):
    result, stats = run(
        models.MODELS[name](),
        ["rows=8", "cols=8", *(f"{b}_sram_kib={kib}" for b in ("ifmap", "filter", "ofmap"))],
    )
    program = result.program
    eb = result.target.element_bytes
    for layer, st in zip(program.layers, stats.layers, strict=True):
        if not layer.on_accel:
            continue
        unique_in = math.prod(program.tensors[layer.inputs[0]]) * eb
        unique_w = sum(math.prod(program.tensors[t]) for t in layer.inputs[1:] if t) * eb
        unique_out = math.prod(program.tensors[layer.outputs[0]]) * eb
        assert st.dram_read_bytes >= unique_in + unique_w
        assert st.dram_write_bytes >= unique_out
        # every byte loaded from DRAM is written into a global buffer
        psum_loads = _psum_loads(program, layer)
        assert (
            st.dram_read_bytes
            == st.sram_write_bytes["input"] + st.sram_write_bytes["weight"] + psum_loads
        )
        assert st.macs == layer.macs


def _psum_loads(program, layer):
    from simulator.program import BUF_OUTPUT, OP_LOAD, ROW

    rows = program.instrs[layer.instr_begin : layer.instr_end]
    r = ROW.view(rows)
    return int(r.bytes[(r.opcode == OP_LOAD) & (r.buffer == BUF_OUTPUT)].sum())


def test_smaller_buffers_cost_dram_traffic_and_energy():
    totals = {}
    for kib in (1, 4, 64):
        _, stats = run(
            models.resnet_block(channels=32),
            ["rows=8", "cols=8", *(f"{b}_sram_kib={kib}" for b in ("ifmap", "filter", "ofmap"))],
        )
        totals[kib] = stats.total
    assert totals[1].dram_read_bytes > totals[4].dram_read_bytes > totals[64].dram_read_bytes
    assert totals[1].energy_pj["dram"] > totals[64].energy_pj["dram"]


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_energy_by_component_follows_the_table(dataflow):
    m, k, n = 12, 20, 9
    overrides = ["rows=4", "cols=4", f"dataflow={dataflow}", "mac_energy_pj=1", "noc_energy_pj_per_hop=10",
                 "sram_energy_pj_per_byte=100", "dram_energy_pj_per_byte=1000"]  # fmt: skip
    _, stats = run(models.gemm(m, k, n), overrides)
    layer = stats.layers[0]
    df = ["ws", "os", "is"].index(dataflow)
    hops = int(systolic.network_hops(1, m, n, k, 0, df, 4, 4, xp=np))
    # one tile: its PE-to-PE hops, e.g. os: every input element crosses 4 cols, weights 4 rows
    in_rd, w_rd, out_wr, _ = systolic.sram_traffic(1, m, n, k, 0, df, 4, 4, xp=np)
    if dataflow == "os":
        assert hops == in_rd * 4 + w_rd * 4
    assert layer.noc_hops == hops
    sram = sum(layer.sram_read_bytes.values()) + sum(layer.sram_write_bytes.values())
    assert layer.energy_pj == {
        "mac": float(m * k * n),
        "noc": 10.0 * hops,
        "sram": 100.0 * sram,
        "dram": 1000.0 * (layer.dram_read_bytes + layer.dram_write_bytes),
        "vector": 0.0,  # an accelerator layer: no vector-unit operations
    }
    assert stats.total.total_energy_pj == pytest.approx(
        sum(sum(la.energy_pj.values()) for la in stats.layers)
    )
