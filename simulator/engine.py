"""The timing engine: a `jax.jit`-compiled `lax.scan` over instruction rows (docs/program.md).

Machine state (`MachineState`, a frozen dataclass registered as a pytree):

    dma_free      cycle at which the single DMA channel is free (loads and stores share it)
    array_free    cycle at which the PE array is free
    ready[b][s]   cycle at which buffer b (input, weight, output), slot s holds its data
    xfer[b][s]    cycle at which the DMA transfer into buffer b, slot s finished (ready - latency)
    free[b][s]    cycle at which its last reader/writer is done, so it may be overwritten
    layer_start   end of the previous layer's last instruction (set by CONFIG)
    last_end      latest end of any instruction so far

`step` dispatches on the opcode with `lax.switch` (no Python branching) and emits one record per
instruction (`RECORD_FIELDS`): start, end, compute and stall cycles, DRAM bytes read/written,
global-buffer bytes read/written per buffer, MACs.

Stalls are attributed to their cause (the four `stall_*` records add up to `stall`):
- dram_bandwidth: the array waited for an operand (input, weight, reloaded partial sums) whose
  DMA transfer was still under way (queued behind other transfers, or slow to stream);
- dram_latency: the transfer was done, the data was still in flight (the DRAM latency);
- output_drain: the output slot was still being stored (its STORE had not finished);
- sram_bandwidth: the tile needed more global-buffer bytes per cycle than the buffer's banks
  and ports deliver (`Target.sram_bytes_per_cycle`; one budget for all operands when the buffer
  is shared), so the array ran slower than its fold schedule. A LOAD's end is when its data is ready
(transfer + DRAM latency), a STORE's when its transfer is done. NOP rows emit zeros.

Choices where docs/program.md is silent:
- a row belongs to the layer whose `[instr_begin, instr_end)` holds it (the rows' `layer` field
  is not used for aggregation); rows outside every accelerator layer count for no layer;
- a COMPUTE's dataflow is its own `dataflow` field (CONFIG's is informational);
- stall of the first COMPUTE of a layer counts from the layer's start (the end of the previous
  layer's last instruction), so the initial loads of a layer show up as stall;
- a layer's cycles are `max(previous end, own end) - previous end` (never negative);
- opcodes outside 0..5 act as NOP;
- a VECTOR row (an operator on the vector unit, simulator/vector.py) starts when everything
  before it has finished and holds the DMA channel until it ends: its compute overlaps its DRAM
  traffic, `max(ceil(ops / vector_lanes), DMA cycles) + DRAM latency`. A fused one
  (`vec_fused`) runs in the output stage of the layer before it: it ends at `max(everything
  before, layer start + ceil(ops / vector_lanes), DMA end of its reads + latency)`, its reads
  queued on the DMA channel (held until it ends); its `compute` record is the cycles it adds
  to the layer.

64-bit: every cycle counter is int64. The module does NOT flip JAX's global x64 flag: each call
(trace and run) happens inside the scoped `jax.enable_x64(True)` context, so the rest of the
process (functional mode in float32, other users of JAX) is unaffected.

Rows are read by field name through the row schema (`simulator.program.ROW.view`), never by
column number.

Accelerator families: a COMPUTE's busy time, MACs, global-buffer bytes and network hops are
its family's `tile_cost` (`simulator.arch`: the built-in systolic, maeri and sigma, and any a
plugin registers), selected by the traced arch code (`TargetParams.arch`, the family's position
in `simulator.arch.names()`), so programs for every kind of target run in one `vmap`. A CONFIG row becomes the machine's `config` (the row itself: the layer kind, MAERI's
spatial tile and step costs, ...); the layer's COMPUTE rows are costed with it. Before a run each
stream goes through its family's `prepare_rows` (numpy): the fields the simulator derives from
the program, MAERI's step costs. SIGMA's bitmap statistics of the weights travel in the COMPUTE
row itself (its `sparse` field). Stalls, DMA and buffers are shared.

Target parameters: `target_params(target)` turns a `Target` into `TargetParams`, a frozen
dataclass registered as a pytree whose fields are all data (traced): DRAM bytes per cycle and
latency, element bytes, SRAM bandwidth, shared buffer, arch code, and per family (`families`,
name -> that family's `params`: the target's own for its family, neutral values for the
others) the array's parameters. Every field has a fixed dtype and no field is static, so one
compilation serves every target of the registered families. For `vmap`,
`stack_target_params([p1, p2, ...])` stacks B of them into one whose fields are [B] arrays, the
second argument of `simulate_timing_batch`.

Retracing: the stream is padded with NOP rows to a bucket length: powers of two from 256 (256,
512, 1024, ...). A new program recompiles only when it crosses into a bigger bucket. The jitted
single and batched (`vmap`) functions are built once at module level.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from simulator import arch as families
from simulator import jax_cache
from simulator.memory import sram_cycles
from simulator.program import OP_COMPUTE, OP_CONFIG, OP_LOAD, OP_STORE, OP_VECTOR, ROW, Program
from simulator.stats import STALL_CAUSES, LayerStats, ModelStats
from simulator.target import Target
from simulator.vector import vector_cycles

MIN_BUCKET = 256

RECORD_FIELDS = (
    "start", "end", "compute", "stall",
    "stall_dram_bandwidth", "stall_dram_latency", "stall_output_drain", "stall_sram_bandwidth",
    "dram_read", "dram_write",
    "sram_read_input", "sram_read_weight", "sram_read_output",
    "sram_write_input", "sram_write_weight", "sram_write_output",
    "macs", "noc_hops", "vector_ops",
)  # fmt: skip
R = {name: i for i, name in enumerate(RECORD_FIELDS)}
NUM_RECORD_FIELDS = len(RECORD_FIELDS)


@dataclass(frozen=True)
class MachineState:
    dma_free: jax.Array
    array_free: jax.Array
    ready: jax.Array  # [3, 2] int64
    xfer: jax.Array  # [3, 2] int64
    free: jax.Array  # [3, 2] int64
    layer_start: jax.Array
    last_end: jax.Array
    config: jax.Array  # [ROW.num_columns] int64: the latest CONFIG row

    @staticmethod
    def init() -> MachineState:
        zero = jnp.zeros((), jnp.int64)
        slots = jnp.zeros((3, 2), jnp.int64)
        config = jnp.zeros(ROW.num_columns, jnp.int64)
        return MachineState(zero, zero, slots, slots, slots, zero, zero, config)

    def replace(self, **changes: Any) -> MachineState:
        return dataclasses.replace(self, **changes)


jax.tree_util.register_dataclass(
    MachineState,
    data_fields=[
        "dma_free",
        "array_free",
        "ready",
        "xfer",
        "free",
        "layer_start",
        "last_end",
        "config",
    ],  # fmt: skip
    meta_fields=[],
)


@dataclass(frozen=True)
class TargetParams:
    """The hardware as the jitted scan sees it (see the module docstring).

    Every field is traced data: a scalar of its fixed dtype for one target (`target_params`), a
    [B] array for B targets (`stack_target_params`).
    """

    dram_bw_bytes_per_cycle: jax.Array  # float64
    dram_latency_cycles: jax.Array  # int64
    element_bytes: jax.Array  # int64
    sram_bytes_per_cycle: jax.Array  # float64: of one global buffer (of the shared one)
    shared_buffer: jax.Array  # bool: one global buffer for every operand
    arch: jax.Array  # int64: the family's index in simulator.arch.names()
    vector_lanes: jax.Array  # int64: the vector unit's lanes (simulator/vector.py)
    families: dict[str, dict[str, jax.Array]]  # family name -> its params (`Family.params`)


jax.tree_util.register_dataclass(
    TargetParams,
    data_fields=[f.name for f in dataclasses.fields(TargetParams)],
    meta_fields=[],
)


def target_params(target: Target) -> TargetParams:
    """The traced parameters of one Target (numpy scalars of each field's dtype)."""
    return TargetParams(
        dram_bw_bytes_per_cycle=np.float64(target.dram_bw_bytes_per_cycle),
        dram_latency_cycles=np.int64(target.dram_latency_cycles),
        element_bytes=np.int64(target.element_bytes),
        sram_bytes_per_cycle=np.float64(target.sram_bytes_per_cycle),
        shared_buffer=np.bool_(target.global_buffer == "shared"),
        arch=np.int64(families.names().index(target.arch)),
        vector_lanes=np.int64(target.vector_lanes),
        families={f.name: f.params(target) for f in families.families()},
    )


def stack_target_params(params: Sequence[TargetParams]) -> TargetParams:
    """B targets' parameters as one `TargetParams` of [B] arrays, for `simulate_timing_batch`
    (vmap maps every field's leading axis): `stack_target_params([target_params(t) for t in
    targets])`, or `[target_params(t)] * B` for one target under B programs."""
    if not params:
        raise ValueError("stack_target_params needs at least one TargetParams")
    return jax.tree.map(lambda *leaves: np.stack(leaves), *params)


# Instruction rows simulated together in one vmap call by `run_records_many` (memory: rows x
# ROW.num_columns x 8 bytes in, rows x NUM_RECORD_FIELDS x 8 out: about 150 MB).
MAX_BATCH_ROWS = 1 << 18


def bucket_length(n: int) -> int:
    """The padded stream length: the smallest power of two >= n, at least MIN_BUCKET."""
    length = MIN_BUCKET
    while length < n:
        length *= 2
    return length


def pad_instrs(instrs: np.ndarray, length: int | None = None) -> np.ndarray:
    """Pad an instruction array [L, F] (or [B, L, F]) with NOP rows to `length` (default bucket)."""
    instrs = np.asarray(instrs, np.int64)
    n = instrs.shape[-2]
    length = bucket_length(n) if length is None else length
    if length < n:
        raise ValueError(f"cannot pad {n} instructions to {length}")
    pad = [(0, 0)] * instrs.ndim
    pad[-2] = (0, length - n)
    return np.pad(instrs, pad)


def stack_streams(streams: list[np.ndarray]) -> np.ndarray:
    """Stack instruction streams of different lengths into [B, L, F], NOP-padded to one bucket."""
    length = bucket_length(max((len(s) for s in streams), default=0))
    return np.stack(
        [pad_instrs(np.asarray(s, np.int64).reshape(-1, ROW.num_columns), length) for s in streams]
    )


# -- the step -------------------------------------------------------------------------------------


def _dram_cycles(nbytes: jax.Array, params: TargetParams) -> jax.Array:
    return jnp.ceil(nbytes.astype(jnp.float64) / params.dram_bw_bytes_per_cycle).astype(jnp.int64)


def _record(**values: jax.Array) -> jax.Array:
    zero = jnp.zeros((), jnp.int64)
    return jnp.stack([jnp.asarray(values.get(name, zero), jnp.int64) for name in RECORD_FIELDS])


def _nop(
    state: MachineState, row: jax.Array, params: TargetParams
) -> tuple[MachineState, jax.Array]:
    return state, _record()


def _config(
    state: MachineState, row: jax.Array, params: TargetParams
) -> tuple[MachineState, jax.Array]:
    state = state.replace(layer_start=state.last_end, config=row)
    return state, _record(start=state.last_end, end=state.last_end)


def _load(
    state: MachineState, row: jax.Array, params: TargetParams
) -> tuple[MachineState, jax.Array]:
    r = ROW.view(row)
    buf, slot, nbytes = r.buffer, r.slot, r.bytes
    start = jnp.maximum(state.dma_free, state.free[buf, slot])
    dma_free = start + _dram_cycles(nbytes, params)
    ready_at = dma_free + params.dram_latency_cycles
    state = state.replace(
        dma_free=dma_free,
        ready=state.ready.at[buf, slot].set(ready_at),
        xfer=state.xfer.at[buf, slot].set(dma_free),
        last_end=jnp.maximum(state.last_end, ready_at),
    )
    rec = _record(
        start=start,
        end=ready_at,
        dram_read=nbytes,
        sram_write_input=jnp.where(buf == 0, nbytes, 0),
        sram_write_weight=jnp.where(buf == 1, nbytes, 0),
        sram_write_output=jnp.where(buf == 2, nbytes, 0),
    )
    return state, rec


def _tile_cost(config: jax.Array, row: jax.Array, params: TargetParams) -> families.TileCost:
    """The COMPUTE row's cost by its target's family: every family's `tile_cost`, the arch
    code's selected (a few integer operations each: cheaper inside the scan than a nested
    `lax.switch`, and what `vmap` would make of one anyway)."""
    config_view, row_view = ROW.view(config), ROW.view(row)
    costs = []
    for fam in families.families():
        own = {**params.families[fam.name], "element_bytes": params.element_bytes}
        cost = fam.tile_cost(config_view, row_view, own, jnp)
        costs.append([jnp.asarray(v).astype(jnp.int64) for v in cost])
    picked = [
        jnp.select([params.arch == i for i in range(1, len(costs))], values[1:], values[0])
        for values in zip(*costs, strict=True)
    ]
    return families.TileCost(*picked)


def _compute(
    state: MachineState, row: jax.Array, params: TargetParams
) -> tuple[MachineState, jax.Array]:
    r = ROW.view(row)
    s_in, s_w, s_out, acc = r.s_in, r.s_w, r.s_out, r.acc
    # Dependencies: input, weight, and the output slot (free of its last store, or holding the
    # reloaded partial sums); `xfer` is when each one's DMA transfer finished.
    deps = jnp.stack(
        [
            state.ready[0, s_in],
            state.ready[1, s_w],
            jnp.where(acc == 0, state.free[2, s_out], state.ready[2, s_out]),
        ]
    )
    xfers = jnp.stack(
        [state.xfer[0, s_in], state.xfer[1, s_w], jnp.where(acc == 0, 0, state.xfer[2, s_out])]
    )
    binding = jnp.argmax(deps)
    earliest = jnp.maximum(state.array_free, state.layer_start)
    start = jnp.maximum(state.array_free, deps[binding])
    wait = jnp.maximum(0, start - earliest)
    drain = jnp.where((binding == 2) & (acc == 0), wait, 0)
    bandwidth_part = jnp.clip(xfers[binding] - earliest, 0, wait - drain)
    latency_part = wait - drain - bandwidth_part

    cost = _tile_cost(state.config, row, params)
    in_b, w_b = cost.read_input, cost.read_weight
    out_wr_b, out_rd_b = cost.write_output, cost.read_output
    busy, macs, hops = cost.busy, cost.macs, cost.hops
    sram = sram_cycles(
        in_b, w_b, out_wr_b + out_rd_b, params.sram_bytes_per_cycle, params.shared_buffer, jnp
    )
    sram_stall = jnp.maximum(0, sram - busy)
    end = start + busy + sram_stall
    state = state.replace(
        array_free=end,
        free=state.free.at[0, s_in].set(end).at[1, s_w].set(end),
        ready=state.ready.at[2, s_out].set(end),
        last_end=jnp.maximum(state.last_end, end),
    )
    rec = _record(
        start=start,
        end=end,
        compute=busy,
        stall=wait + sram_stall,
        stall_dram_bandwidth=bandwidth_part,
        stall_dram_latency=latency_part,
        stall_output_drain=drain,
        stall_sram_bandwidth=sram_stall,
        sram_read_input=in_b,
        sram_read_weight=w_b,
        sram_read_output=out_rd_b,
        sram_write_output=out_wr_b,
        macs=macs,
        noc_hops=hops,
    )
    return state, rec


def _store(
    state: MachineState, row: jax.Array, params: TargetParams
) -> tuple[MachineState, jax.Array]:
    r = ROW.view(row)
    slot, nbytes = r.slot, r.bytes
    start = jnp.maximum(state.dma_free, state.ready[2, slot])
    dma_free = start + _dram_cycles(nbytes, params)
    state = state.replace(
        dma_free=dma_free,
        free=state.free.at[2, slot].set(dma_free),
        last_end=jnp.maximum(state.last_end, dma_free),
    )
    return state, _record(start=start, end=dma_free, dram_write=nbytes, sram_read_output=nbytes)


def _vector(
    state: MachineState, row: jax.Array, params: TargetParams
) -> tuple[MachineState, jax.Array]:
    """An operator on the vector unit (simulator/vector.py): after everything before it, its
    compute overlapped with its DRAM traffic (which holds the DMA channel), plus the latency.
    Fused (`vec_fused`, the output stage of the layer before it): its lanes work from that
    layer's start beside the array, its reads queue on the DMA channel after the layer's."""
    r = ROW.view(row)
    ops, read, write, fused = r.vec_ops, r.vec_read, r.vec_write, r.vec_fused != 0
    busy = vector_cycles(ops, params.vector_lanes, jnp)
    dma = _dram_cycles(read + write, params)
    latency = jnp.where(read + write > 0, params.dram_latency_cycles, 0)
    alone = jnp.maximum(state.last_end, state.dma_free)
    alone_end = alone + jnp.maximum(busy, dma) + latency
    dma_end = state.dma_free + dma
    fused_end = jnp.maximum(
        state.last_end, jnp.maximum(state.layer_start + busy, dma_end + latency)
    )
    start = jnp.where(fused, state.layer_start, alone)
    end = jnp.where(fused, fused_end, alone_end)
    # A fused operator's compute is what it adds to its layer (its lanes overlap the array).
    compute = jnp.where(fused, end - state.last_end, busy)
    # Fused or not, it holds the DMA channel until it ends (fused: end >= its reads' DMA end),
    # so the next layer starts on a quiet channel, as when it runs alone.
    state = state.replace(dma_free=end, last_end=jnp.maximum(state.last_end, end))
    rec = _record(
        start=start, end=end, compute=compute, dram_read=read, dram_write=write, vector_ops=ops
    )
    return state, rec


_BRANCHES = [_nop, _config, _load, _compute, _store, _vector]
assert [OP_CONFIG, OP_LOAD, OP_COMPUTE, OP_STORE, OP_VECTOR] == [1, 2, 3, 4, 5]


def step(
    params: TargetParams, state: MachineState, row: jax.Array
) -> tuple[MachineState, jax.Array]:
    """One instruction: dispatch on the opcode (unknown opcodes act as NOP)."""
    op = jnp.clip(ROW.view(row).opcode, 0, len(_BRANCHES) - 1)
    return lax.switch(op, _BRANCHES, state, row, params)


def _run(instrs: jax.Array, params: TargetParams) -> jax.Array:
    """[L, F] int64 rows, one target's params -> [L, NUM_RECORD_FIELDS] int64 records."""
    _, records = lax.scan(lambda s, r: step(params, s, r), MachineState.init(), instrs)
    return records


@functools.cache
def _jitted(names: tuple[str, ...]) -> tuple[Any, Any]:
    """The jitted single and batched runs for the families `names` (the switch's branches):
    built once per set of registered families. The persistent compilation cache is set up
    first (simulator/jax_cache.py), so another process reuses the compiled runs."""
    jax_cache.enable()
    return jax.jit(_run), jax.jit(jax.vmap(_run))


def prepare(instrs: np.ndarray, params: TargetParams) -> np.ndarray:
    """One stream's rows with the fields the simulator derives filled in by its target's family
    (`Family.prepare_rows`: MAERI's step costs), before the jitted run."""
    fam = families.families()[int(params.arch)]
    return fam.prepare_rows(instrs, params.families[fam.name])


def run_records(instrs: np.ndarray, params: TargetParams) -> np.ndarray:
    """Per-instruction records [L, NUM_RECORD_FIELDS] of one stream on one target
    (`target_params`); padding is stripped."""
    instrs = prepare(np.asarray(instrs, np.int64).reshape(-1, ROW.num_columns), params)
    n = instrs.shape[0]
    padded = pad_instrs(instrs)
    run, _ = _jitted(families.names())
    with jax.enable_x64(True):
        records = run(jnp.asarray(padded), params)
        records = np.asarray(records)
    return records[:n]


def simulate_timing_batch(instrs: np.ndarray, params: TargetParams) -> dict[str, np.ndarray]:
    """Run B streams on B targets at once (vmap). instrs [B, L, F], params: B targets'
    parameters stacked (`stack_target_params`: every field [B]).

    Streams of different lengths are padded by the caller with NOP rows (zeros) to a common L
    (`stack_streams`); L is then padded to the bucket length here. Returns per-instruction arrays
    [B, L] per record field (`RECORD_FIELDS`), int64, padding rows stripped back to L.
    """
    instrs = np.asarray(instrs, np.int64)
    width = ROW.num_columns
    if instrs.ndim != 3 or instrs.shape[2] != width:
        raise ValueError(f"instrs must be [B, L, {width}], got {instrs.shape}")
    batch = instrs.shape[0]
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        shape = np.shape(leaf)
        if shape != (batch,):
            name = jax.tree_util.keystr(path)
            raise ValueError(
                f"params{name} must be [{batch}] (stack_target_params of {batch} targets), "
                f"got {list(shape)}"
            )
    n = instrs.shape[1]
    instrs = np.stack(
        [prepare(instrs[b], jax.tree.map(lambda v, b=b: v[b], params)) for b in range(batch)]
    )
    padded = pad_instrs(instrs)
    _, run_batch = _jitted(families.names())
    with jax.enable_x64(True):
        records = np.asarray(run_batch(jnp.asarray(padded), params))
    records = records[:, :n]
    return {name: records[..., i] for i, name in enumerate(RECORD_FIELDS)}


def run_records_many(
    streams: Sequence[np.ndarray], params: Sequence[TargetParams]
) -> list[np.ndarray]:
    """Per-instruction records [n_i, NUM_RECORD_FIELDS] of each stream on its target, in as few
    compiled calls as possible: streams of one bucket length (`bucket_length`) run together in
    `vmap` batches of at most `MAX_BATCH_ROWS` rows in all, so one long stream does not pad the
    others to its length. Equal to `run_records` stream by stream."""
    if len(streams) != len(params):
        raise ValueError(f"{len(streams)} streams but {len(params)} targets")
    streams = [np.asarray(s, np.int64).reshape(-1, ROW.num_columns) for s in streams]
    out: list[np.ndarray] = [np.zeros((0, NUM_RECORD_FIELDS), np.int64)] * len(streams)
    groups: dict[int, list[int]] = {}
    for i, rows in enumerate(streams):
        groups.setdefault(bucket_length(len(rows)), []).append(i)
    for length, members in sorted(groups.items()):
        size = max(1, MAX_BATCH_ROWS // length)
        for lo in range(0, len(members), size):
            chunk = members[lo : lo + size]
            stacked = stack_streams([streams[i] for i in chunk])
            records = simulate_timing_batch(
                stacked, stack_target_params([params[i] for i in chunk])
            )
            for j, i in enumerate(chunk):
                n = len(streams[i])
                out[i] = np.stack([records[f][j, :n] for f in RECORD_FIELDS], axis=1)
    return out


# -- aggregation ----------------------------------------------------------------------------------


def layer_index_of_rows(program: Program) -> np.ndarray:
    """For each instruction row, the index in `program.layers` of the layer owning it (-1: none).

    Uses the layers' instr_begin/instr_end ranges (not the `layer` field of the rows).
    """
    index = np.full(program.num_instructions, -1, np.int64)
    for i, layer in enumerate(program.layers):
        if layer.instr_end > layer.instr_begin:  # accelerator layers, vector-unit operators
            index[layer.instr_begin : layer.instr_end] = i
    return index


def aggregate(program: Program, target: Target, records: np.ndarray) -> ModelStats:
    """Per-layer stats from per-instruction records (numpy: bincount on the layer index)."""
    num_layers = len(program.layers)
    owner = layer_index_of_rows(program)
    valid = owner >= 0
    idx = owner[valid]
    rec = records[valid]

    def per_layer(field: str) -> np.ndarray:
        out = np.zeros(num_layers, np.int64)
        np.add.at(out, idx, rec[:, R[field]])
        return out

    ends = np.zeros(num_layers, np.int64)
    np.maximum.at(ends, idx, rec[:, R["end"]])
    counts = np.bincount(idx, minlength=num_layers)
    sums = {f: per_layer(f) for f in RECORD_FIELDS if f not in ("start", "end")}

    layers: list[LayerStats] = []
    prev_end = 0
    for i, layer in enumerate(program.layers):
        if layer.instr_end <= layer.instr_begin:  # run outside the accelerator
            layers.append(LayerStats.host(layer.name, layer.kind))
            continue
        end = max(prev_end, int(ends[i]))
        cycles = end - prev_end
        prev_end = end
        layers.append(
            LayerStats.from_counts(
                name=layer.name,
                kind=layer.kind,
                target=target,
                cycles=cycles,
                compute_cycles=int(sums["compute"][i]),
                stall_cycles=int(sums["stall"][i]),
                stall_by_cause={c: int(sums[f"stall_{c}"][i]) for c in STALL_CAUSES},
                macs=int(sums["macs"][i]),
                noc_hops=int(sums["noc_hops"][i]),
                dram_read_bytes=int(sums["dram_read"][i]),
                dram_write_bytes=int(sums["dram_write"][i]),
                sram_read_bytes={
                    b: int(sums[f"sram_read_{b}"][i]) for b in ("input", "weight", "output")
                },
                sram_write_bytes={
                    b: int(sums[f"sram_write_{b}"][i]) for b in ("input", "weight", "output")
                },
                instructions=int(counts[i]),
                vector_ops=int(sums["vector_ops"][i]),
                unit="accel" if layer.on_accel else "fused" if layer.fused_into else "vector",
                fused_into=layer.fused_into,
            )
        )
    return ModelStats.from_layers(layers, target)


def simulate_timing(program: Program, target: Target) -> ModelStats:
    """Timing of a whole program on a target: per-layer and total stats."""
    records = run_records(program.instrs, target_params(target))
    return aggregate(program, target, records)
