"""Timing without JAX: what each instruction costs, the per-layer totals, and `simulate_timing`.

The timing of a program is its instructions' costs (`row_costs`: numpy or JAX, all rows at once)
and the machine's schedule over them (simulator/schedule.py). `simulate_timing` runs the
schedule with the exact fast-forward (simulator/fastforward.py: numpy and Python integers, so a
timing run never imports JAX), or, with `fast_forward=False`, the full `lax.scan` of
simulator/engine.py, whose per-instruction records (`RECORD_FIELDS`) `aggregate` sums per layer.
Both end in `stats_from_totals`. The module docstring of simulator/engine.py words the timing's
rules and choices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator import arch as families
from simulator import schedule
from simulator.memory import sram_cycles, transfer_cycles
from simulator.program import OP_COMPUTE, OP_CONFIG, OP_LOAD, OP_STORE, OP_VECTOR, ROW, Program
from simulator.stats import STALL_CAUSES, LayerStats, ModelStats
from simulator.target import Target
from simulator.vector import vector_cycles

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

    dram_bw_bytes_per_cycle: Any  # float64
    dram_latency_cycles: Any  # int64
    element_bytes: Any  # int64
    sram_bytes_per_cycle: Any  # float64: of one global buffer (of the shared one)
    shared_buffer: Any  # bool: one global buffer for every operand
    arch: Any  # int64: the family's index in simulator.arch.names()
    vector_lanes: Any  # int64: the vector unit's lanes (simulator/vector.py)
    families: dict[str, dict[str, Any]]  # family name -> its params (`Family.params`)


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


def _dram_cycles(nbytes: Any, params: TargetParams, xp: Any) -> Any:
    return transfer_cycles(nbytes, params.dram_bw_bytes_per_cycle, xp)


def _governing_configs(rows: Any, xp: Any) -> Any:
    """Each row's layer CONFIG row (the latest CONFIG at or before it; zeros before any)."""
    op = ROW.view(rows).opcode
    index = xp.where(op == OP_CONFIG, xp.arange(rows.shape[0]), -1)
    if xp is np:
        index = np.maximum.accumulate(index) if len(index) else index
    else:
        from jax import lax

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
                energy=_model_energy(program, layer, target, cycles),
            )
        )
    return ModelStats.from_layers(layers, target)


def _model_energy(
    program: Program, layer: Any, target: Target, cycles: int
) -> dict[str, float] | None:
    """A layer's energy by the target's energy model when it is not the table (None: the table,
    from the counts): `energy_model=stonne`, STONNE's counters of the layer's own rows."""
    if target.energy_model == "table":
        return None
    from simulator.arch import stonne_energy

    if not layer.on_accel:  # a vector-unit operator: STONNE has none
        return dict.fromkeys((*stonne_energy.GROUPS, "vector"), 0.0)
    rows = program.instrs[layer.instr_begin : layer.instr_end]
    return stonne_energy.layer_energy(rows, target, cycles)


def prepare(instrs: np.ndarray, params: TargetParams) -> np.ndarray:
    """Rows with the fields the simulator derives filled in by the target's family
    (`Family.prepare_rows`: MAERI's step costs), before they are costed."""
    fam = families.families()[int(params.arch)]
    return fam.prepare_rows(instrs, params.families[fam.name])


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
    from simulator.engine import run_records

    records = run_records(program.instrs, params)
    stats = aggregate(program, target, records)
    stats.simulated = program.num_instructions
    return stats
