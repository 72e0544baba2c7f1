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
dataclass (simulator/timing.py) that this module registers as a pytree, whose fields are all
data (traced): DRAM bytes per cycle and
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
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from simulator import arch as families
from simulator import jax_cache, schedule
from simulator.program import ROW

# The timing's JAX-free half (simulator/timing.py), used here and re-exported for callers.
from simulator.timing import (  # noqa: F401
    NUM_RECORD_FIELDS,
    RECORD_FIELDS,
    R,
    TargetParams,
    aggregate,
    layer_index_of_rows,
    prepare,
    records_of,
    row_costs,
    simulate_timing,
    stats_from_totals,
    target_params,
)

MIN_BUCKET = 256

jax.tree_util.register_dataclass(
    TargetParams,
    data_fields=[f.name for f in dataclasses.fields(TargetParams)],
    meta_fields=[],
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
