"""The timing engine: each instruction's costs for all rows at once, then a `jax.jit`-compiled
`lax.scan` of the machine's schedule over the rows (docs/program.md).

`row_costs` (numpy or JAX, vectorised over rows) gives what an instruction costs on the target:
DMA cycles, busy cycles, bytes, MACs, hops. The scan runs the schedule's rules
(simulator/schedule.py: the machine state, one rule per opcode, dispatched with `lax.switch`) and
`records_of` joins both into one record per instruction (`RECORD_FIELDS`): start, end, compute
and stall cycles, DRAM bytes read/written, global-buffer bytes read/written per buffer, MACs.
The same costs and rules drive the fast-forward (simulator/fastforward.py), which
`simulate_timing` uses; the full scan here is its reference, and the batched runs.

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
in `simulator.arch.names()`), so programs for every kind of target run in one `vmap`. A COMPUTE
row is costed with its layer's CONFIG row (the latest before it: the layer kind, MAERI's
spatial tile and step costs, ...). Before a run each
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
from simulator import jax_cache, schedule
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


# -- costs and the scan ----------------------------------------------------------------------------


def _dram_cycles(nbytes: Any, params: TargetParams, xp: Any) -> Any:
    return xp.ceil(nbytes.astype(xp.float64) / params.dram_bw_bytes_per_cycle).astype(xp.int64)


def _governing_configs(rows: Any, xp: Any) -> Any:
    """Each row's layer CONFIG row (the latest CONFIG at or before it; zeros before any)."""
    op = ROW.view(rows).opcode
    index = xp.where(op == OP_CONFIG, xp.arange(rows.shape[0]), -1)
    if xp is np:
        index = np.maximum.accumulate(index) if len(index) else index
    else:
        index = lax.cummax(index)
    return xp.where((index >= 0)[:, None], rows[xp.maximum(index, 0)], 0)


def _tile_costs(configs: Any, computes: Any, params: TargetParams, xp: Any) -> families.TileCost:
    """The COMPUTE rows' costs by their target's family (`Family.tile_cost` on columns). numpy:
    the target's family; JAX: every family's, the traced arch code's selected (what `vmap`
    makes of a switch anyway)."""
    config_view, row_view = ROW.columns(configs), ROW.columns(computes)

    def cost(fam: families.Family) -> list[Any]:
        own = {**params.families[fam.name], "element_bytes": params.element_bytes}
        values = fam.tile_cost(config_view, row_view, own, xp)
        return [xp.broadcast_to(xp.asarray(v), computes.shape[:1]).astype(xp.int64) for v in values]

    if xp is np:
        return families.TileCost(*cost(families.families()[int(params.arch)]))
    costs = [cost(fam) for fam in families.families()]
    picked = [
        xp.select([params.arch == i for i in range(1, len(costs))], values[1:], values[0])
        for values in zip(*costs, strict=True)
    ]
    return families.TileCost(*picked)


def row_costs(rows: Any, params: TargetParams, xp: Any) -> tuple[Any, Any]:
    """What each instruction costs on the target, for all rows at once (numpy or JAX; the rows
    prepared by `prepare`): its schedule inputs [N, len(SCHED_INPUTS)] (simulator/schedule.py)
    and the record fields that do not depend on the schedule [N, NUM_RECORD_FIELDS] (bytes,
    MACs, hops, busy cycles, the SRAM-bandwidth stall; start, end and waits 0)."""
    v = ROW.view(rows)
    op = v.opcode
    is_load, is_compute = op == OP_LOAD, op == OP_COMPUTE
    is_store, is_vector = op == OP_STORE, op == OP_VECTOR
    zero = xp.zeros_like(op)
    nbytes = v.bytes

    if xp is np:
        which = np.flatnonzero(is_compute)
        picked = _tile_costs(_governing_configs(rows, np)[which], rows[which], params, np)
        tile = []
        for values in picked:
            full = np.zeros(len(rows), np.int64)
            full[which] = values
            tile.append(full)
        cost = families.TileCost(*tile)
    else:
        cost = _tile_costs(_governing_configs(rows, xp), rows, params, xp)
    in_b, w_b = cost.read_input, cost.read_weight
    out_wr_b, out_rd_b = cost.write_output, cost.read_output
    sram = sram_cycles(
        in_b, w_b, out_wr_b + out_rd_b, params.sram_bytes_per_cycle, params.shared_buffer, xp
    )
    sram_stall = xp.where(is_compute, xp.maximum(0, sram - cost.busy), 0)

    vec_moved = v.vec_read + v.vec_write
    vec_busy = vector_cycles(v.vec_ops, params.vector_lanes, xp)
    fused = v.vec_fused != 0
    inputs = {
        "opcode": xp.where((op >= 0) & (op < len(schedule.RULES)), op, 0),
        "slot": xp.where(is_store, schedule.OUTPUT_SLOT0 + v.slot, 2 * v.buffer + v.slot),
        "s_in": v.s_in,
        "s_w": 2 + v.s_w,
        "s_out": schedule.OUTPUT_SLOT0 + v.s_out,
        "acc": v.acc,
        "fused": v.vec_fused,
        "dma": xp.where(
            is_load | is_store,
            _dram_cycles(nbytes, params, xp),
            xp.where(is_vector, _dram_cycles(vec_moved, params, xp), 0),
        ),
        "busy": xp.where(is_compute, cost.busy + sram_stall, xp.where(is_vector, vec_busy, 0)),
        "latency": xp.where(is_load | (is_vector & (vec_moved > 0)), params.dram_latency_cycles, 0),
    }
    buffer = v.buffer
    consts = {
        "compute": xp.where(is_compute, cost.busy, xp.where(is_vector & ~fused, vec_busy, 0)),
        "stall": sram_stall,
        "stall_sram_bandwidth": sram_stall,
        "dram_read": xp.where(is_load, nbytes, xp.where(is_vector, v.vec_read, 0)),
        "dram_write": xp.where(is_store, nbytes, xp.where(is_vector, v.vec_write, 0)),
        "sram_read_input": xp.where(is_compute, in_b, 0),
        "sram_read_weight": xp.where(is_compute, w_b, 0),
        "sram_read_output": xp.where(is_compute, out_rd_b, xp.where(is_store, nbytes, 0)),
        "sram_write_input": xp.where(is_load & (buffer == 0), nbytes, 0),
        "sram_write_weight": xp.where(is_load & (buffer == 1), nbytes, 0),
        "sram_write_output": xp.where(
            is_compute, out_wr_b, xp.where(is_load & (buffer == 2), nbytes, 0)
        ),
        "macs": xp.where(is_compute, cost.macs, 0),
        "noc_hops": xp.where(is_compute, cost.hops, 0),
        "vector_ops": xp.where(is_vector, v.vec_ops, 0),
    }
    sched = xp.stack([xp.asarray(inputs[f], xp.int64) for f in schedule.SCHED_INPUTS], axis=1)
    record = xp.stack([xp.asarray(consts.get(f, zero), xp.int64) for f in RECORD_FIELDS], axis=1)
    return sched, record


def records_of(consts: Any, outputs: Any, xp: Any) -> Any:
    """Per-instruction records [N, NUM_RECORD_FIELDS]: the costs' fields (`row_costs`) with the
    schedule's outputs [N, NUM_OUTPUTS] in: start, end, the waits (added to the stall), a fused
    vector operator's compute."""
    out = {name: outputs[:, i] for i, name in enumerate(schedule.SCHED_OUTPUTS)}
    columns = [consts[:, i] for i in range(NUM_RECORD_FIELDS)]
    for name in (
        "start",
        "end",
        "stall_dram_bandwidth",
        "stall_dram_latency",
        "stall_output_drain",
    ):
        columns[R[name]] = out[name]
    columns[R["stall"]] = columns[R["stall"]] + out["wait"]
    columns[R["compute"]] = columns[R["compute"]] + out["compute"]
    return xp.stack(columns, axis=1)


def _run(instrs: jax.Array, params: TargetParams) -> jax.Array:
    """[L, F] int64 rows, one target's params -> [L, NUM_RECORD_FIELDS] int64 records: the
    costs for all rows at once, then a `lax.scan` of the schedule's rules (`lax.switch` on the
    opcode)."""
    sched, consts = row_costs(instrs, params, jnp)
    ops = schedule.jax_ops()
    branches = [functools.partial(rule, ops=ops) for rule in schedule.RULES]

    def body(state: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        state, out = lax.switch(x[schedule.INPUT["opcode"]], branches, state, x)
        return state, jnp.stack(out)

    init = jnp.zeros(schedule.NUM_STATE, jnp.int64)
    _, outputs = lax.scan(body, init, sched)
    return records_of(consts, outputs, jnp)


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
    sums = np.zeros((num_layers, NUM_RECORD_FIELDS), np.int64)
    np.add.at(sums, idx, rec)
    ends = np.zeros(num_layers, np.int64)
    np.maximum.at(ends, idx, rec[:, R["end"]])
    counts = np.bincount(idx, minlength=num_layers)
    return stats_from_totals(program, target, sums, ends, counts)


def stats_from_totals(
    program: Program, target: Target, totals: np.ndarray, ends: np.ndarray, counts: np.ndarray
) -> ModelStats:
    """Per-layer stats from per-layer record sums [num_layers, NUM_RECORD_FIELDS], the latest
    end of each layer's rows and its instruction counts (the full scan's `aggregate` and the
    fast-forward both end here)."""
    sums = {f: totals[:, R[f]] for f in RECORD_FIELDS if f not in ("start", "end")}

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


def simulate_timing(program: Program, target: Target, fast_forward: bool = True) -> ModelStats:
    """Timing of a whole program on a target: per-layer and total stats.

    `fast_forward` (the default): simulator/fastforward.py, equal to the full scan field by
    field, its cost following the program's distinct work (`ModelStats.simulated` says how
    many instructions it ran one by one); False: the full `lax.scan` over every row."""
    params = target_params(target)
    fam = families.families()[int(params.arch)]
    if fast_forward and fam.prepare_rows_on_distinct:
        from simulator import fastforward

        found = fastforward.simulate(program, params)
        stats = stats_from_totals(program, target, found.sums, found.ends, found.counts)
        stats.simulated = found.simulated
        return stats
    records = run_records(program.instrs, params)
    stats = aggregate(program, target, records)
    stats.simulated = program.num_instructions
    return stats
