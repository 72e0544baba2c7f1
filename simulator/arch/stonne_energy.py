"""STONNE's energy accounting (`energy_model=stonne`): its event counters, closed form per COMPUTE,
priced with its energy table, for MAERI (`tile_events`) and SIGMA (`sigma_tile_events`, from
the COMPUTE row's sparse fields), in the simulator and the cost model alike.

The specification is docs/stonne-energy.md (written from STONNE's source: the counters each
unit prints, `energy_tables/energy_model.txt` and `calculate_energy.py`; checked on 60 recorded
runs, bench/validation/stonne_energy.csv). STONNE has no DRAM; its energy is dynamic (events x
the table's price) plus static (every hardware instance leaks `STATIC` per cycle, used or not).
The table's unit is not stated by STONNE: accelflow reports these numbers in it, as "u".

Per COMPUTE of a MAERI layer (`maeri_events`; extents z and spatial tile t by role, F folds,
O outputs, VN multipliers per virtual neuron, NV of them, `aux` without accumulation buffer):

- MULTIPLICATION: every product (the MACs); FORWARD_PSUM: the partial sums sent back (O (F-1)
  without accumulation buffer), priced as a multiplication;
- adder events: the binary additions of every reduction (its inputs - 1 per VN) less one per
  3:1 addition (`maeri_art.configure_vns`: the receiving adder of a merged linked pair adds
  three values at once); accumulator adds O (F-1) with the accumulation buffer;
- the distribution: packages the read ports send (`maeri.port_sends` per step, summed over the
  trees, plus the psums sent back), each routed by the log2(ms/dn) switches of its tree and
  written on 1 + log2(ms/dn) wires (no package here reaches two multipliers of one tree);
  activations the multipliers forward to their neighbour (the sliding window);
- the reduction: per reduction every input to its leaf adder and every adder output that stays
  in the tree (the nodes on the VN's paths, `maeri_art.psum_path`, but the one that writes),
  plus one link into the accumulator per fold with the accumulation buffer; the collection bus:
  two wires per partial sum or output written;
- the buffer: element reads (weights, inputs re-sent per K-tile and fold, psums) and writes
  (`maeri.sram_traffic`), array side only.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import numpy as np

from simulator.arch import maeri, maeri_art

# STONNE's energy table (energy_tables/energy_model.txt, docs/stonne-energy.md section 1): per
# component its static energy per cycle and per instance, and the price of each event, in u.
STATIC = {
    "multiplier": 0.001614,
    "adder": 0.001505,
    "accumulator": 0.001505,
    "switch": 0.000157,
    "buffer": 0.0101,
}
PRICE = {
    "multiplication": 0.00741,  # also FORWARD_PSUM
    "addition": 0.111,  # ADD_2_1, ADD_3_1, ACCUMULATOR ADD
    "route": 0.0360,  # ROUTE_UNICAST, ROUTE_BROADCAST
    "dn_wire": 0.00223226,
    "wire": 0.001839831,  # MN, RN and CB wires
    "buffer": 0.044,  # READ, WRITE
}
# The groups energy is reported in (issue 12), static folded into its group; STONNE has no DRAM.
GROUPS = ("multiplier", "adder", "distribution", "reduction", "buffer", "dram")
EVENTS = (
    "multiplications", "forward_psums", "additions", "accumulator_adds", "port_sends", "routes",
    "mn_wires", "rn_wires", "cb_wires", "buffer_reads", "buffer_writes",
)  # fmt: skip


def switch_levels(ms: int, dn: int) -> int:
    """The distribution switches a package crosses: log2(ms/dn), the depth of a read port's
    tree (every package is routed by each)."""
    return max(ms // dn, 1).bit_length() - 1


def _reduction(ms: int, span: int, nv: int) -> tuple[int, int]:
    """(3:1 additions, RN wire writes) of one reduction of `nv` VNs of `span` multipliers (the
    aux one included) laid out side by side: the ADD_3_1 adders CompilerART configures, and per
    VN its inputs plus the adders on its values' paths but the one that writes its sum."""
    return maeri_art.vn_reduction(ms, (span,) * nv)


# Per spatial tile, what the events of its COMPUTEs scale: the packages its read ports send for
# one weight step, one full-window and one newest-column input step (`maeri.port_sends`), its
# 3:1 additions and its RN wire writes per reduction (`_reduction`).
CONSTANTS = ("s_w", "s_full", "s_col", "three", "rn_per_reduction")


@cache
def spatial_constants(
    t: tuple[int, ...], stride: int | tuple[int, int], extent_s: int, ms: int, dn: int, aux: bool
) -> tuple[int, int, int, int, int]:
    """`CONSTANTS` of spatial tile `t` (8 roles) on ms / dn, with aux multipliers or not."""
    s_w, s_full, s_col = maeri.port_sends(tuple(t), stride, extent_s, ms, dn, aux)
    vn, nv = math.prod(t[:3]), math.prod(t[3:])
    three, rn_per_reduction = _reduction(ms, vn + int(aux), nv)
    return s_w, s_full, s_col, three, rn_per_reduction


def tile_events(
    z: Any,
    t: Any,
    steps: Any,
    constants: Any,
    stride_y: Any,
    ms: int,
    dn: int,
    accumulation_buffer: Any,
    acc: Any,
    xp: Any,
) -> dict[str, Any]:
    """STONNE's event counts (`EVENTS`) of MAERI COMPUTEs (module docstring), array code like
    `maeri.compute_cycles`: z, t by role (8 each), `steps` the CONFIG row's (`maeri.STEP_FIELDS`),
    `constants` the tile's `CONSTANTS`, `acc` the COMPUTE's partial-sum reload between buffer
    tiles. Scalars or arrays (xp = numpy)."""
    counts = maeri.tile_counts(z, t, xp)
    folds, ktiles, wx, wy = (counts[k] for k in ("folds", "ktiles", "windows_x", "windows_y"))
    vn, nv = counts["vn"], counts["nv"]
    s_w, s_full, s_col, three, rn_per_reduction = constants
    aux = steps[maeri.STEP["aux_ms"]]  # the VNs carry an aux multiplier
    outputs = z[3] * z[4] * z[5] * z[6] * z[7]
    reductions = ktiles * wx * wy * folds
    regime_b = xp.where(accumulation_buffer, 0, 1) * xp.where(folds > 1, 1, 0)
    forward = regime_b * outputs * (folds - 1)
    acc_adds = xp.where(accumulation_buffer, 1, 0) * outputs * (folds - 1)
    sends = ktiles * (folds * s_w + wx * folds * (s_full + (wy - 1) * s_col)) + forward
    depth = switch_levels(ms, dn)
    forwarding = xp.where(maeri.forwarding_usable(t, z[1], stride_y), 1, 0)
    mn = forwarding * ktiles * wx * (wy - 1) * folds * nv * t[0] * t[2] * (t[1] - 1)
    inputs, weights, writes, reads = maeri.sram_traffic(z, t, steps, accumulation_buffer, acc, xp)
    return {
        "multiplications": z[0] * z[1] * z[2] * outputs,
        "forward_psums": forward,
        "additions": reductions * (nv * (vn + aux - 1) - three),
        "accumulator_adds": acc_adds,
        "port_sends": sends,
        "routes": sends * depth,
        "mn_wires": mn,
        "rn_wires": reductions * rn_per_reduction
        + xp.where(accumulation_buffer, 1, 0) * outputs * folds,
        "cb_wires": 2 * writes,
        "buffer_reads": inputs + weights + reads,
        "buffer_writes": writes,
    }


def maeri_events(
    z: tuple[int, ...],
    t: tuple[int, ...],
    stride: int | tuple[int, int],
    ms: int,
    dn: int,
    accumulation_buffer: bool,
    acc: int = 0,
) -> dict[str, int]:
    """`tile_events` of one MAERI COMPUTE given by its extents z and spatial tile t (by role,
    8 each, Python ints), the steps and constants derived here."""
    folds = math.prod(-(-z[i] // t[i]) for i in range(3))
    aux = bool(maeri.needs_aux(folds, False, accumulation_buffer))
    steps = maeri.step_costs(tuple(t), stride, z[1], ms, dn, aux)
    constants = spatial_constants(tuple(t), stride, z[1], ms, dn, aux)
    stride_y = stride if isinstance(stride, int) else stride[1]
    events = tile_events(
        z, t, steps, constants, stride_y, ms, dn, int(accumulation_buffer), acc, np
    )
    return {name: int(v) for name, v in events.items()}


def sigma_tile_events(
    m: Any, sparse: Any, per_pass: Any, psum_reads: Any, ms: int, dn: int, xp: Any
) -> dict[str, Any]:
    """STONNE's event counts (`EVENTS`) of SIGMA COMPUTEs, array code: `m` streamed columns,
    `sparse` the row's fields (`sigma.SPARSE_FIELDS`), `per_pass` the streamed non-zeros of
    one pass over the streamed matrix, `psum_reads` the partial sums read back (a tile that
    accumulates onto an earlier K-tile's; STONNE's single GEMM has none).

    Per stationary iteration and streamed column: a product per weight non-zero mapped, a psum
    forwarded in by a split row's later chunk (and read back from the buffer), a result written
    per VN, the VNs' binary additions less CompilerART's 3:1 ones, their RN links (`sg_fwd`,
    `sg_vns`, `sg_three`, `sg_rn`, summed over the tile's iterations). The buffer reads the
    weights once and, per iteration, the streamed non-zeros of its K range: all of K, but a
    split row's chunks from the previous chunk's last column + 1 to their own last column, so
    that every iteration but a later chunk reads the streamed matrix once (`sg_iters -
    sg_fwd` passes). Port sends: every weight, product input and psum."""
    iters, nnz = sparse[0], sparse[4]
    fwd, writes, three, links = (m * sparse[6 + i] for i in range(4))
    mult = m * nnz
    sends = nnz + mult + fwd
    depth = switch_levels(ms, dn)
    return {
        "multiplications": mult,
        "forward_psums": fwd,
        "additions": mult + fwd - writes - three,
        "accumulator_adds": xp.zeros_like(mult),
        "port_sends": sends,
        "routes": sends * depth,
        "mn_wires": xp.zeros_like(mult),
        "rn_wires": links,
        "cb_wires": 2 * writes,
        "buffer_reads": nnz + (iters - sparse[6]) * per_pass + fwd + psum_reads,
        "buffer_writes": writes,
    }


def sigma_events(stationary: Any, streamed: Any, ms: int, dn: int) -> dict[str, int]:
    """`sigma_tile_events` of one SIGMA GEMM given by its non-zero masks: `stationary` [rows, K]
    (its rows packed into VNs, `sigma.tile_stats`), `streamed` [vectors, K] (every pass reads
    its non-zeros)."""
    from simulator.arch import sigma

    stationary, streamed = np.asarray(stationary, bool), np.asarray(streamed, bool)
    sparse = [np.int64(v) for v in sigma.tile_stats(stationary, ms, dn, 1)]
    events = sigma_tile_events(
        np.int64(streamed.shape[0]), sparse, np.int64(streamed.sum()), 0, ms, dn, np
    )
    return {name: int(v) for name, v in events.items()}


def energy(
    events: dict[str, int], cycles: int, ms: int, dn: int, accumulation_buffer: bool
) -> dict[str, float]:
    """Energy by group (`GROUPS`, in STONNE's unit u) of `events` over a run of `cycles`: the
    events priced, plus every instance's static energy (ms multipliers, ms - 1 adders, as many
    accumulators with the accumulation buffer, ms - dn distribution switches, one buffer)."""
    e, p = events, PRICE
    acc = int(bool(accumulation_buffer))
    return {
        "multiplier": p["multiplication"] * (e["multiplications"] + e["forward_psums"])
        + cycles * ms * STATIC["multiplier"],
        "adder": p["addition"] * (e["additions"] + e["accumulator_adds"])
        + cycles * (ms - 1) * (STATIC["adder"] + acc * STATIC["accumulator"]),
        "distribution": p["route"] * e["routes"]
        + p["dn_wire"] * (e["port_sends"] + e["routes"])
        + p["wire"] * e["mn_wires"]
        + cycles * (ms - dn) * STATIC["switch"],
        "reduction": p["wire"] * (e["rn_wires"] + e["cb_wires"]),
        "buffer": p["buffer"] * (e["buffer_reads"] + e["buffer_writes"])
        + cycles * STATIC["buffer"],
        "dram": 0.0,
    }


def layer_energy(rows: Any, target: Any, cycles: int) -> dict[str, float]:
    """Energy by group (`GROUPS` and `vector`, u) of one MAERI or SIGMA layer: `rows` its
    instruction rows (a CONFIG, its COMPUTEs), `cycles` the layer's cycles (every instance leaks
    for all of them). STONNE has no vector unit: `vector` is 0."""
    from simulator.program import OP_COMPUTE, ROW

    ms, dn = int(target.num_multipliers), int(target.dn_bw_elems_per_cycle)
    if target.arch == "sigma":
        r = ROW.view(np.asarray(rows))
        at = r.opcode == OP_COMPUTE
        m, k = r.m[at], r.k[at]
        density = target.activation_density if target.sparse_activations else 1.0
        per_pass = np.ceil(m * k * density).astype(np.int64)
        psum_reads = r.reps[at] * m * r.n[at] * r.acc[at]
        events = sigma_tile_events(m, r.sparse[at].T, per_pass, psum_reads, ms, dn, np)
        totals = {name: int(np.sum(v)) for name, v in events.items()}
        return {**energy(totals, cycles, ms, dn, False), "vector": 0.0}
    return _maeri_layer_energy(rows, target, cycles)


def _maeri_layer_energy(rows: Any, target: Any, cycles: int) -> dict[str, float]:
    """`layer_energy` of a MAERI layer. The CONFIG's steps and the spatial tile's constants
    are derived as for the timing (`maeri.derive_steps`: from the layer's first COMPUTE)."""
    from simulator.program import OP_COMPUTE, OP_CONFIG, ROW

    ms, dn = int(target.num_multipliers), int(target.dn_bw_elems_per_cycle)
    acc_buffer = int(bool(target.accumulation_buffer))
    rows = maeri.derive_steps(
        np.asarray(rows), ms, dn, int(target.rn_bw_elems_per_cycle), bool(acc_buffer)
    )
    r = ROW.view(rows)
    totals: dict[str, Any] = dict.fromkeys(EVENTS, 0)
    config, computes = np.flatnonzero(r.opcode == OP_CONFIG), np.flatnonzero(r.opcode == OP_COMPUTE)
    if len(config) and len(computes):
        at = int(config[0])
        kind = int(r.kind[at])
        t = [int(v) for v in maeri.by_role(r.size[at], kind, np)]
        steps = [int(v) for v in r.steps[at]]
        stride = (1, 1) if kind else tuple(max(int(v), 1) for v in r.stride[at])
        first = [int(v) for v in maeri.by_role(r.size[computes[0]], kind, np)]
        constants = spatial_constants(
            tuple(t), stride, first[1], ms, dn, bool(steps[maeri.STEP["aux_ms"]])
        )
        z = maeri.by_role(r.size[computes].T, kind, np)
        events = tile_events(
            z, t, steps, constants, stride[1], ms, dn, acc_buffer, r.acc[computes], np
        )
        totals = {name: int(np.sum(v)) for name, v in events.items()}
    return {**energy(totals, cycles, ms, dn, bool(acc_buffer)), "vector": 0.0}
