"""The scan timing engine on hand-built programs, against docs/program.md's timing semantics."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sim_programs import DF_CODE, matmul_program, row

from simulator import arch as families
from simulator import engine
from simulator.arch import systolic
from simulator.program import OP_COMPUTE, OP_CONFIG, OP_LOAD, OP_STORE, ROW, Layer, Program
from simulator.target import load_target, make_target


def _target(**kw):
    fields = dict(rows=4, cols=4, dram_bw_bytes_per_cycle=8, dram_latency_cycles=10)
    fields.update(kw)
    return make_target(fields)


def _fold(m, n, k, dataflow, target, reps=1):
    return int(
        systolic.compute_cycles(reps, m, n, k, DF_CODE[dataflow], target.rows, target.cols, xp=np)
    )


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
@pytest.mark.parametrize("m,n,k", [(8, 8, 8), (5, 7, 3), (16, 3, 9)])
def test_one_tile_layer_is_loads_plus_fold_plus_store(dataflow, m, n, k):
    target = _target()
    program = matmul_program(1, m, n, k, dataflow=dataflow)
    stats = engine.simulate_timing(program, target)
    bw = target.dram_bw_bytes_per_cycle
    loads = math.ceil(m * k / bw) + math.ceil(k * n / bw)
    fold = _fold(m, n, k, dataflow, target)
    store = math.ceil(m * n / bw)
    layer = stats.layers[0]
    assert layer.cycles == loads + target.dram_latency_cycles + fold + store
    assert layer.compute_cycles == fold
    assert layer.stall_cycles == loads + target.dram_latency_cycles
    assert layer.idle_cycles == store
    assert layer.macs == m * n * k
    assert layer.dram_read_bytes == m * k + k * n
    assert layer.dram_write_bytes == m * n
    in_rd, w_rd, out_wr, out_rd = (
        int(v) for v in systolic.sram_traffic(1, m, n, k, 0, DF_CODE[dataflow], 4, 4, xp=np)
    )
    assert layer.sram_read_bytes == {"input": in_rd, "weight": w_rd, "output": out_rd + m * n}
    assert layer.sram_write_bytes == {"input": m * k, "weight": k * n, "output": out_wr}
    assert layer.energy_pj["mac"] == pytest.approx(m * n * k * target.mac_energy_pj)
    assert layer.utilisation == pytest.approx(m * n * k / (layer.cycles * 16))


def test_dma_bound_layer_stalls():
    target = _target(dram_bw_bytes_per_cycle=0.25, dram_latency_cycles=0)
    program = matmul_program(1, 16, 16, 64, tiles={"m": 8, "n": 8, "k": 8})
    layer = engine.simulate_timing(program, target).layers[0]
    dram_bytes = layer.dram_read_bytes + layer.dram_write_bytes
    assert layer.stall_cycles > layer.compute_cycles
    assert layer.cycles >= dram_bytes / 0.25  # the DMA channel is the bottleneck
    assert layer.cycles == layer.compute_cycles + layer.stall_cycles + layer.idle_cycles
    # A fast DRAM removes most of the stalls.
    fast = engine.simulate_timing(
        program, _target(dram_bw_bytes_per_cycle=1024, dram_latency_cycles=0)
    )
    assert fast.layers[0].stall_cycles < layer.stall_cycles
    assert fast.layers[0].compute_cycles == layer.compute_cycles


def test_double_buffering_overlaps_loads_with_compute():
    target = _target(dram_bw_bytes_per_cycle=4)
    tiles = {"m": 8, "n": 8, "k": 8}
    double = engine.simulate_timing(matmul_program(2, 32, 32, 32, tiles=tiles), target)
    single = engine.simulate_timing(
        matmul_program(2, 32, 32, 32, tiles=tiles, double_buffer=False), target
    )
    assert double.layers[0].compute_cycles == single.layers[0].compute_cycles
    assert double.cycles < single.cycles
    assert double.layers[0].stall_cycles < single.layers[0].stall_cycles


def test_cycles_beyond_2_pow_31_are_exact():
    target = _target()
    reps, m, n, k = 2**20, 64, 64, 64
    rows = [
        row(OP_CONFIG),
        row(OP_LOAD, buffer=0, bytes=100),
        row(OP_LOAD, buffer=1, bytes=100),
        row(OP_COMPUTE, reps=reps, m=m, n=n, k=k),
        row(OP_STORE, bytes=2**33),
    ]
    layer = Layer("big", "matmul", True, ["a", "b", ""], ["y"], dims={"g": reps, "m": m, "n": n, "k": k},
                  instr_end=len(rows))  # fmt: skip
    program = Program(np.stack(rows), [layer], {}, {}, ["a"], ["y"])
    stats = engine.simulate_timing(program, target)
    fold = (64 // 4) * (64 // 4) * (2 * 4 + 4 + 64 - 2) * reps
    store = 2**33 // 8
    expected = 2 * math.ceil(100 / 8) + 10 + fold + store
    assert fold > 2**31
    assert stats.cycles == expected
    assert stats.layers[0].compute_cycles == fold
    assert stats.layers[0].macs == reps * m * n * k
    assert stats.to_dict()["total"]["cycles"] == expected


def test_multi_layer_program_with_host_layer():
    target = _target()
    p1 = matmul_program(1, 8, 8, 8)
    p2 = matmul_program(1, 8, 8, 8, tiles={"k": 4}, dataflow="os")
    n1 = p1.num_instructions
    layers = [
        Layer("mm1", "matmul", True, ["a", "b", ""], ["t"], dims=p1.layers[0].dims, instr_end=n1),
        Layer("relu", "Relu", False, ["t"], ["u"]),
        Layer("mm2", "matmul", True, ["u", "b", ""], ["y"], dims=p2.layers[0].dims,
              instr_begin=n1, instr_end=n1 + p2.num_instructions),
    ]  # fmt: skip
    program = Program(
        np.concatenate([p1.instrs, p2.instrs]), layers, p1.constants, {}, ["a"], ["y"]
    )
    stats = engine.simulate_timing(program, target)
    alone = [engine.simulate_timing(p, target).layers[0] for p in (p1, p2)]
    assert stats.layers[1].on_accel is False and stats.layers[1].cycles == 0
    assert stats.layers[0].cycles == alone[0].cycles
    # The second layer's loads may start while the first layer drains: never slower than alone.
    assert stats.layers[2].cycles <= alone[1].cycles
    assert stats.cycles == stats.layers[0].cycles + stats.layers[2].cycles
    assert stats.total.macs == 2 * 512
    as_json = json.loads(json.dumps(stats.to_dict()))
    assert as_json["total"]["cycles"] == stats.cycles
    assert [layer["kind"] for layer in as_json["layers"]] == ["matmul", "Relu", "matmul"]
    assert stats.time_us == pytest.approx(stats.cycles / target.clock_mhz)
    table = stats.format_table()
    assert "relu" in table and "host" in table and "total" in table
    assert f"{stats.cycles:,}" in table


def test_vmap_batch_matches_single_runs():
    programs = [
        matmul_program(1, 16, 16, 16, tiles={"k": 8}),
        matmul_program(2, 12, 20, 9, tiles={"m": 5, "n": 7, "k": 4}, dataflow="is"),
        matmul_program(1, 9, 9, 30, tiles={"k": 7}, dataflow="os", double_buffer=False),
    ]
    targets = [
        _target(),
        _target(rows=3, cols=5, dram_bw_bytes_per_cycle=2.5),
        _target(rows=8, cols=2),
    ]
    instrs = engine.stack_streams([p.instrs for p in programs])
    params = engine.stack_target_params([engine.target_params(t) for t in targets])
    batch = engine.simulate_timing_batch(instrs, params)
    for i, (program, target) in enumerate(zip(programs, targets, strict=True)):
        single = engine.run_records(program.instrs, engine.target_params(target))
        for f, name in enumerate(engine.RECORD_FIELDS):
            np.testing.assert_array_equal(batch[name][i, : program.num_instructions], single[:, f])


def test_bucket_lengths_and_no_retrace():
    assert engine.bucket_length(1) == 256
    assert engine.bucket_length(256) == 256
    assert engine.bucket_length(257) == 512
    target = _target()
    engine.simulate_timing(matmul_program(1, 8, 8, 8), target)
    run, _ = engine._jitted(families.names())
    before = run._cache_size()
    engine.simulate_timing(matmul_program(1, 8, 8, 16, tiles={"k": 4}), _target(rows=7, cols=3))
    engine.simulate_timing(matmul_program(1, 8, 8, 8), load_target("maeri-64"))
    assert run._cache_size() == before


# -- against a plain-Python transcription of docs/program.md --------------------------------------


def _python_timing(instrs, target):
    dma = array = layer_start = last_end = 0
    ready = [[0, 0] for _ in range(3)]
    free = [[0, 0] for _ in range(3)]
    out = []
    names = ("opcode", "buffer", "slot", "bytes", "s_in", "s_w", "s_out", "acc", "dataflow")
    names += ("reps", "m", "n", "k")
    view = ROW.view(instrs)
    for values in zip(*(view[name].tolist() for name in names), strict=True):
        r = dict(zip(names, values, strict=True))
        op = r["opcode"]
        if op == OP_CONFIG:
            layer_start = last_end
            out.append((last_end, last_end, 0))
        elif op == OP_LOAD:
            b, s, nbytes = r["buffer"], r["slot"], r["bytes"]
            start = max(dma, free[b][s])
            dma = start + math.ceil(nbytes / target.dram_bw_bytes_per_cycle)
            ready[b][s] = dma + target.dram_latency_cycles
            last_end = max(last_end, ready[b][s])
            out.append((start, ready[b][s], 0))
        elif op == OP_COMPUTE:
            s_in, s_w, s_out, acc = r["s_in"], r["s_w"], r["s_out"], r["acc"]
            reps, m, n, k, df = r["reps"], r["m"], r["n"], r["k"], r["dataflow"]
            dep = free[2][s_out] if acc == 0 else ready[2][s_out]
            start = max(array, ready[0][s_in], ready[1][s_w], dep)
            end = start + _fold(m, n, k, ("ws", "os", "is")[df], target, reps)
            stall = max(0, start - max(array, layer_start))
            array = end
            free[0][s_in] = free[1][s_w] = ready[2][s_out] = end
            last_end = max(last_end, end)
            out.append((start, end, stall))
        elif op == OP_STORE:
            s, nbytes = r["slot"], r["bytes"]
            start = max(dma, ready[2][s])
            dma = start + math.ceil(nbytes / target.dram_bw_bytes_per_cycle)
            free[2][s] = dma
            last_end = max(last_end, dma)
            out.append((start, dma, 0))
        else:
            out.append((0, 0, 0))
    return np.array(out, np.int64).reshape(-1, 3)


_instr = st.one_of(
    st.builds(lambda: row(OP_CONFIG)),
    st.builds(
        lambda b, s, nbytes: row(OP_LOAD, buffer=b, slot=s, bytes=nbytes),
        st.integers(0, 2), st.integers(0, 1), st.integers(0, 5000),
    ),
    st.builds(
        lambda si, sw, so, acc, df, reps, m, n, k: row(
            OP_COMPUTE, s_in=si, s_w=sw, s_out=so, acc=acc, dataflow=df, reps=reps, m=m, n=n, k=k
        ),
        st.integers(0, 1), st.integers(0, 1), st.integers(0, 1), st.integers(0, 1),
        st.integers(0, 2), st.integers(1, 3), st.integers(1, 40), st.integers(1, 40), st.integers(1, 40),
    ),
    st.builds(lambda s, nbytes: row(OP_STORE, slot=s, bytes=nbytes), st.integers(0, 1), st.integers(0, 5000)),
)  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(_instr, min_size=1, max_size=60),
    shape=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    bw=st.sampled_from([1.0, 3.0, 8.0, 34.0, 2.5]),
    latency=st.integers(0, 50),
)
def test_engine_matches_python_transcription(rows, shape, bw, latency):
    target = _target(
        rows=shape[0], cols=shape[1], dram_bw_bytes_per_cycle=bw, dram_latency_cycles=latency
    )
    instrs = np.stack([row(OP_CONFIG), *rows])
    records = engine.run_records(instrs, engine.target_params(target))
    expected = _python_timing(instrs, target)
    got = records[:, [engine.R["start"], engine.R["end"], engine.R["stall"]]]
    np.testing.assert_array_equal(got, expected)


def test_target_params_are_one_traced_pytree_for_every_target():
    """Every field is data with one dtype whatever the target, so one compilation serves all;
    stacking gives [B] fields for vmap, and the batch API refuses unstacked ones."""
    import jax

    targets = [_target(), load_target("maeri-64"), load_target("sigma-64")]
    params = [engine.target_params(t) for t in targets]
    leaves = [jax.tree_util.tree_leaves(p) for p in params]
    # 7 common fields (the vector unit's lanes too), systolic's 2, MAERI's 5, SIGMA's 5
    assert len(leaves[0]) == 7 + 2 + 5 + 5
    assert [[np.asarray(v).dtype for v in ls] for ls in leaves[1:]] == [
        [np.asarray(v).dtype for v in leaves[0]]
    ] * 2
    stacked = engine.stack_target_params(params)
    assert stacked.arch.tolist() == [0, 1, 2]
    assert stacked.families["systolic"]["rows"].shape == (3,)
    instrs = engine.stack_streams([matmul_program(1, 8, 8, 8).instrs] * 3)
    with pytest.raises(ValueError, match=r"params.dram_bw_bytes_per_cycle must be \[3\]"):
        engine.simulate_timing_batch(instrs, params[0])
    engine.simulate_timing_batch(instrs, stacked)
