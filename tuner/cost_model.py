"""Analytical cost model (MAESTRO-style reuse analysis) for every target family, vectorised.

`evaluate(shape, target, candidates)` scores a whole batch of candidate mappings of one layer on
one target in numpy: every statistic of `STATISTICS` is an array [B]. Nothing here re-derives
what the compiler or the simulator computes: footprints and the GEMM view come from
`simulator.workload`; everything that depends on the accelerator from its family
(`target.family`, simulator/arch/), the very functions the engine calls:

- `Family.spatial_batch`: the candidates' spatial part (MAERI: the spatial tile clamped to the
  buffer tiles, its multipliers and the step costs the simulator would derive for it, each
  distinct tile laid out once), the PEs a full tile occupies and whether they fit;
- `Family.tile_cost` with `xp=numpy`: per tile shape the busy cycles, MACs, global-buffer bytes,
  network hops and folds, from the tile's GEMM view and sizes, its CONFIG fields and the COMPUTE
  fields `Family.tile_fields` gives dense weights. The cost model scores mappings WITHOUT the
  layer's weights: on SIGMA dense weights, as `loop_nest.lower(..., weights=None)` emits them
  (every weight a non-zero, weight tiles loaded as non-zeros + one bitmap bit per element,
  `sigma.dense_tile_stats`); a pruned layer runs faster than scored;
- `Family.load_bytes`: what each LOAD moves;
- `simulator.memory`: the SRAM bandwidth stall and the energy table.

How the per-tile formulas are summed over the tile loop nest exactly, without visiting it: the
tiles of a candidate come in at most 2^a distinct shapes (a: its "ragged" dims), each with a
count (`tuner.tile_shapes.TileShapes`: each ragged dim is an axis of length 2, so numpy's
broadcasting evaluates a formula on the combinations of the dims it reads, and a sum weights
the shapes by their counts; candidates are scored in one numpy pass per set of ragged dims,
small sets merged into larger ones, `_groups`). The first visit of an output tile (acc = 0: no
partial-sum read) is the iteration whose non-output coordinates are all 0, one per distinct
output tile (`TileShapes.first`). These statistics therefore equal the simulator's (the tests
check it for every family):

- compute_cycles, macs, folds, noc_hops, global-buffer reads/writes per buffer, and
  sram_stall_cycles (per tile, `memory.sram_cycles` beyond the busy time), summed over every tile;
- DRAM bytes per operand. Along the loop order, an operand tile is (re)loaded each time its
  coordinates change (compiler/loop_nest.py, `workload.visits`): with p the innermost loop
  position of a dependent dim of more than one trip, every distinct tile of the operand is
  visited R = prod(trips of the independent dims outside p) times, so its bytes are
  R x (sum over the operand's distinct tiles of its LOAD bytes). Output: R stores per tile,
  R - 1 partial-sum reloads. SIGMA weight loads carry the bitmap (and input loads are
  compressed with the declared density when the target has sparse activations), as in the lowering (compiler/loop_nest.py);
- the energies (the target's energy table times the above), dma_cycles (the DMA transfers).

Latency is exact when single-buffered and a model when double-buffered:
- single-buffered: every step is serial (store, loads, then compute; the next loads wait for the
  compute to free the slot): latency = DMA cycles + array cycles + DRAM latency per iteration,
  the same sum as the simulator's;
- double-buffered: the first iteration's loads (+ DRAM latency) are exposed, then the prefetches
  overlap the array: latency = first loads + latency + max(array cycles, remaining DMA - last
  store, slot chain) + last store. The slot chain (`_slot_chain`): iteration i's loads wait for
  iteration i-2's compute (and its output store) to free their slot, so each parity of
  iterations is a chain of compute + DMA + DRAM latency; the longer of the two chains, which is
  uneven when the innermost loop has an even number of trips and an edge tile.
`bench/cost_model_accuracy.py` measures its error against the simulator (docs/cost-model.md).

Per family, `folds` counts systolic array folds (`systolic.fold_count` x reps), MAERI reduction
folds of every K-tile (F x K-tiles), SIGMA stationary iterations (`sg_iters`).
`multipliers_used` is what a full tile occupies (`SpatialBatch.multipliers`); `spatial_fits`
says the family accepts the spatial part and it is within `target.num_pes` (False only for a
MAERI spatial tile that `tiling.check_mapping` refuses, whose step costs are placeholders). A
candidate is legal iff `fits & spatial_fits`; `fits` means the tile footprints (x2
double-buffered; dense, also on SIGMA) fit the global buffers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from simulator.arch import Fields
from simulator.memory import buffered, energy_pj, fits_buffers, sram_cycles, transfer_cycles
from simulator.program import DATAFLOWS, KIND_CODES, MAX_DIMS
from simulator.target import Target
from simulator.workload import (
    MAERI_AXES,
    OPERANDS,
    LayerShape,
    Mapping,
    footprint_elements,
    gemm_view,
    last_true,
    operand_dims,
    operand_indices,
    visits,
)
from tuner.tile_shapes import TileShapes

# The statistics `evaluate` returns (every one an array [B]).
STATISTICS = (
    "latency_cycles",
    "compute_cycles",
    "array_cycles",
    "sram_stall_cycles",
    "dma_cycles",
    "dram_latency_cycles",
    "macs",
    "folds",
    "num_tiles",
    "utilisation",
    "multipliers_used",
    "spatial_fits",
    "dram_read_input",
    "dram_read_weight",
    "dram_read_psum",
    "dram_write_output",
    "dram_read_bytes",
    "dram_write_bytes",
    "dram_bytes",
    "buffer_bytes_input",
    "buffer_bytes_weight",
    "buffer_bytes_output",
    "fits",
    "sram_read_input",
    "sram_read_weight",
    "sram_read_output",
    "sram_write_input",
    "sram_write_weight",
    "sram_write_output",
    "sram_read_bytes",
    "sram_write_bytes",
    "noc_hops",
    "reuse_input",
    "reuse_weight",
    "reuse_output",
    "energy_mac_pj",
    "energy_noc_pj",
    "energy_sram_pj",
    "energy_dram_pj",
    "energy_pj",
    "roofline_cycles",
    "roofline_fraction",
)


@dataclass(frozen=True)
class CandidateBatch:
    """B candidate mappings of one layer, as arrays (dims in `shape.dim_names` order).

    dataflow [B] int (index in `simulator.program.DATAFLOWS`: 0 ws, 1 os, 2 is);
    tiles [B, D] int64 buffer tiles (clipped to the extents by `evaluate`);
    order [B, D] int64 the loop order as dim indices, outermost first (a permutation);
    double_buffer [B] bool;
    spatial [B, D] int64 spatial factor per dim where the family's unroll is real (MAERI:
      STONNE's spatial tile, clamped to the tiles by `evaluate`; 1: not unrolled). None: all
      ones. Ignored on systolic and SIGMA targets.
    """

    dataflow: np.ndarray
    tiles: np.ndarray
    order: np.ndarray
    double_buffer: np.ndarray
    spatial: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.dataflow.shape[0])

    def spatial_factors(self) -> np.ndarray:
        """spatial as an array [B, D] (ones when None)."""
        if self.spatial is None:
            return np.ones_like(np.asarray(self.tiles, np.int64))
        return np.asarray(self.spatial, np.int64)

    @staticmethod
    def from_mappings(shape: LayerShape, mappings: list[Mapping]) -> CandidateBatch:
        dims = shape.dim_names
        n = len(mappings)
        spatial = None
        if any(a in MAERI_AXES for m in mappings for a, _ in m.spatial.values()):
            spatial = np.array(
                [[m.spatial[d][1] if d in m.spatial else 1 for d in dims] for m in mappings],
                np.int64,
            ).reshape(n, len(dims))
        return CandidateBatch(
            dataflow=np.array([DATAFLOWS.index(m.dataflow) for m in mappings], np.int64),
            tiles=np.array([[m.tiles[d] for d in dims] for m in mappings], np.int64).reshape(
                n, len(dims)
            ),
            order=np.array([[dims.index(d) for d in m.order] for m in mappings], np.int64).reshape(
                n, len(dims)
            ),
            double_buffer=np.array([m.double_buffer for m in mappings], bool),
            spatial=spatial,
        )

    def mapping(self, shape: LayerShape, i: int, target: Target) -> Mapping:
        """Candidate i as a `tiling.Mapping` (tiles clipped to the extents; on a MAERI target
        the spatial factors clamped to the tiles; on a systolic one the descriptive unroll)."""
        dims = shape.dim_names
        tiles = {d: int(min(max(self.tiles[i][j], 1), shape.dims[d])) for j, d in enumerate(dims)}
        df = DATAFLOWS[int(self.dataflow[i])]
        mapping = Mapping(
            dataflow=df,
            tiles=tiles,
            order=tuple(dims[int(j)] for j in self.order[i]),
            double_buffer=bool(self.double_buffer[i]),
        )
        fam = target.family
        if fam.spatial_is_unroll:
            factors = {d: int(f) for d, f in zip(dims, self.spatial_factors()[i], strict=True)}
            return fam.with_spatial(shape, mapping, target, factors)
        return fam.default_spatial(shape, mapping, target)

    def take(self, index: Any) -> CandidateBatch:
        """The sub-batch at `index` (a slice, mask or index array)."""
        return CandidateBatch(
            self.dataflow[index],
            self.tiles[index],
            self.order[index],
            self.double_buffer[index],
            None if self.spatial is None else self.spatial[index],
        )

    @staticmethod
    def concat(batches: list[CandidateBatch]) -> CandidateBatch:
        spatial = None
        if any(b.spatial is not None for b in batches):
            spatial = np.concatenate([b.spatial_factors() for b in batches])
        return CandidateBatch(
            np.concatenate([b.dataflow for b in batches]),
            np.concatenate([b.tiles for b in batches]),
            np.concatenate([b.order for b in batches]),
            np.concatenate([b.double_buffer for b in batches]),
            spatial,
        )


# -- per-tile costs, per arch: arrays [2^a, B] (the tile shapes) ---------------------------


def _sram_stall(target: Target, busy: Any, in_b: Any, w_b: Any, out_b: Any) -> Any:
    """Cycles a tile waits on the global buffer(s) beyond its busy time (as the engine)."""
    shared = target.global_buffer == "shared"
    need = sram_cycles(in_b, w_b, out_b, target.sram_bytes_per_cycle, shared, np)
    return np.maximum(0, need - busy)


# The partial-sum flag of a COMPUTE as a leading axis: per-tile traffic for acc = 0 and acc = 1.
_ACC = np.arange(2)


def _per_tile(
    shape: LayerShape, target: Target, tiles: TileShapes, config: dict, dataflow: Any
) -> dict[str, Any]:
    """The family's `tile_cost` of every tile shape, as the engine's COMPUTE costs it: the
    COMPUTE fields from the tile sizes (dense weights), the CONFIG fields per candidate."""
    fam = target.family
    dims = shape.dim_names
    reps, m, n, k = gemm_view(shape, tiles.sizes)
    if fam.one_dataflow_cheaper and len(dataflow) and np.all(dataflow == dataflow[0]):
        dataflow = int(dataflow[0])  # the candidates' one dataflow
    sizes = [tiles.sizes[d] for d in dims] + [1] * (MAX_DIMS - len(dims))
    acc = _ACC.reshape((2,) + (1,) * (tiles.ragged + 1))
    compute = Fields(
        reps=reps, m=m, n=n, k=k, dataflow=dataflow, acc=acc,
        size=sizes, **vars(fam.tile_fields(shape, target, tiles.sizes)),
    )  # fmt: skip
    cfg = Fields(**config)  # [B] arrays broadcast against the tile shapes [..., B]
    params = {**fam.params(target), "element_bytes": np.int64(target.element_bytes)}
    return fam.tile_cost(cfg, compute, params, np)._asdict()


def _load_bytes(
    shape: LayerShape, target: Target, tiles: TileShapes
) -> tuple[list[Any], list[Any]]:
    """The dense bytes (footprints x element bytes) of the input, weight and output tiles of
    each tile shape, and the bytes their LOADs move as the lowering (compiler/loop_nest.py) emits
    them with dense weights: the family's `load_bytes` (SIGMA: bitmap-compressed weights and, if
    declared, activations); per-shape arrays (`TileShapes`) each."""
    eb = target.element_bytes
    dense = [v * eb for v in footprint_elements(shape, tiles.sizes)]
    return dense, list(target.family.load_bytes(shape, target, dense, tiles.sizes))


# What `_tile_sum` adds up per candidate: over every tile (output reads and stall as if acc = 1),
_SUMS = (
    "busy", "folds", "hops", "macs", "in_rd", "w_rd", "out_wr", "out_rd", "stall",
    "load_input", "load_weight", "load_output", "dma_input", "dma_weight", "dma_output",
)  # fmt: skip
# ... over first visits, the acc = 0 corrections of the output reads and stall, and over the
# edge tiles of the innermost loop, array and DMA cycles (the latency model).
_FIRST = ("out_rd_first", "stall_first")
_INNER_EDGE = ("array_edge", "dma_input_edge", "dma_weight_edge", "dma_output_edge")


def _tile_sum(
    shape: LayerShape, target: Target, tiles: TileShapes, config: dict, dataflow: Any
) -> tuple[dict[str, Any], list[Any], list[Any]]:
    """Per candidate, the sums named by `_SUMS`, `_FIRST` and `_INNER_EDGE` ([B] each); and
    per tile shape the dense bytes of each operand (`_load_bytes`) and its LOAD's DMA cycles."""
    per_tile = _per_tile(shape, target, tiles, config, dataflow)

    def by_acc(v: Any) -> tuple[Any, Any]:  # a cost for acc = 0 and 1 (a leading axis, if any)
        return (v[0], v[1]) if np.ndim(v) == tiles.ragged + 2 else (v, v)

    busy, folds, hops, macs, in_rd, w_rd, out_wr = (
        by_acc(per_tile[f])[1]  # (these do not depend on the partial-sum flag)
        for f in ("busy", "folds", "hops", "macs", "read_input", "read_weight", "write_output")
    )
    out_rd0, out_rd1 = by_acc(per_tile["read_output"])
    stall0 = _sram_stall(target, busy, in_rd, w_rd, out_wr + out_rd0)
    stall1 = _sram_stall(target, busy, in_rd, w_rd, out_wr + out_rd1)
    dense, loads = _load_bytes(shape, target, tiles)
    transfers = [transfer_cycles(v, target.dram_bw_bytes_per_cycle, np) for v in loads]
    every = (busy, folds, hops, macs, in_rd, w_rd, out_wr, out_rd1, stall1, *loads, *transfers)
    sums = {name: tiles.sum(v) for name, v in zip(_SUMS, every, strict=True)}
    sums["out_rd_first"] = tiles.sum(out_rd0 - out_rd1, tiles.first)
    sums["stall_first"] = tiles.sum(stall0 - stall1, tiles.first)
    if tiles.ragged == 0:  # no edge tiles
        sums.update(dict.fromkeys(_INNER_EDGE, np.zeros_like(tiles.count.plain)))
    else:
        for name, v in zip(_INNER_EDGE, (busy + stall1, *transfers), strict=True):
            sums[name] = tiles.sum(v, tiles.inner_edge)
    return sums, dense, transfers


def _slot_chain(
    shape: LayerShape,
    sums: dict[str, Any],
    inner: Any,
    trips: Any,
    tile: Any,
    num_tiles: Any,
    repeat_out: Any,
    array_cycles: Any,
    middle_dma: Any,
    lat: int,
) -> Any:
    """Double buffering's slot chain: iteration i's loads wait for iteration i-2's compute to
    free their slot (and for its output store, queued before them on the DMA channel), so the
    iterations of one parity form a chain of compute + DMA + DRAM latency each; the latency is
    at least the longer of the two chains. Along the innermost loop (t trips) the tiles are full
    but the last; with t even every edge tile falls in one parity, so that chain holds
    (t/2 - 1) / (t - 1) of the full tiles' steps and all the edge steps, the other t/2 / (t - 1);
    otherwise the two chains are even, half of everything each. trips, tile [D, B]."""
    dims = shape.dim_names
    extent = np.array([shape.dims[d] for d in dims] + [1], np.int64)
    at, cols = np.maximum(inner, 0), np.arange(len(inner))
    t = trips[at, cols]
    ragged = (inner >= 0) & (extent[inner] % tile[at, cols] != 0)
    steps = array_cycles + middle_dma + (num_tiles - 1) * lat
    # Per edge tile of the innermost loop: its compute, the loads of the operands that change
    # with the innermost dim (the output: its store and, when revisited, its partial sums).
    rel = operand_dims(shape)
    edge_steps = sums["array_edge"] + (num_tiles // t) * lat
    for op in OPERANDS:
        # Whether the innermost dim is one of the operand's (index -1, no loop: the last, False).
        changes = np.asarray(np.array([d in rel[op] for d in dims] + [False]))[inner]
        per_visit = 1 + (repeat_out - 1) / repeat_out if op == "output" else 1
        edge_steps = edge_steps + changes * per_visit * sums[f"dma_{op}_edge"]
    full_steps = steps - edge_steps
    with np.errstate(divide="ignore", invalid="ignore"):
        chain_a = full_steps * (t // 2) / (t - 1)
        chain_b = full_steps * (t // 2 - 1) / (t - 1) + edge_steps
    uneven = ragged & (t % 2 == 0)
    chain = np.where(uneven, np.maximum(chain_a, chain_b), steps / 2)
    return np.ceil(chain).astype(np.int64)


def _stonne_energy(
    shape: LayerShape,
    target: Target,
    tiles: TileShapes,
    config: dict[str, Any],
    sums: dict[str, Any],
    cycles: Any,
) -> dict[str, Any]:
    """`energy_model=stonne` (a maeri or sigma target): STONNE's events of every tile shape
    (`stonne_energy.tile_events`, MAERI's buffer accesses from the tile sums the statistics
    use; `stonne_energy.sigma_tile_events` of the dense sparse fields), summed over the tiles
    and priced over `cycles`; the groups as the statistics' components: mac = multiplier +
    adder, noc = distribution + reduction, sram = buffer, dram = 0."""
    from simulator.arch import maeri, stonne_energy

    ms, dn = target.num_multipliers, target.dn_bw_elems_per_cycle
    eb = target.element_bytes
    # The partial sums read back, as the statistics count them: none on first visits.
    psum_reads = (sums["out_rd"] + sums["out_rd_first"]) // eb
    if target.arch == "sigma":
        _, m, _, k = gemm_view(shape, tiles.sizes)
        sparse = target.family.tile_fields(shape, target, tiles.sizes).sparse
        density = target.activation_density if target.sparse_activations else 1.0
        per_pass = np.ceil(m * k * density).astype(np.int64)
        events = stonne_energy.sigma_tile_events(m, sparse, per_pass, 0, ms, dn, np)
        totals = {name: tiles.sum(v) for name, v in events.items()}
        totals["buffer_reads"] = totals["buffer_reads"] + psum_reads
    else:
        kind = KIND_CODES[shape.kind]
        dims = shape.dim_names
        sizes = [tiles.sizes[d] for d in dims] + [1] * (MAX_DIMS - len(dims))
        acc_buffer = np.int64(target.accumulation_buffer)
        events = stonne_energy.tile_events(
            maeri.by_role(sizes, kind, np), maeri.by_role(config["size"], kind, np),
            config["steps"], config["energy"], config["stride_y"], ms, dn, acc_buffer, 1, np,
        )  # fmt: skip
        totals = {name: tiles.sum(v) for name, v in events.items()}
        totals["buffer_reads"] = (sums["in_rd"] + sums["w_rd"]) // eb + psum_reads
        totals["buffer_writes"] = sums["out_wr"] // eb
        totals["cb_wires"] = 2 * totals["buffer_writes"]
    accumulation_buffer = target.arch == "maeri" and bool(target.accumulation_buffer)
    e = stonne_energy.energy(totals, cycles, ms, dn, accumulation_buffer)
    return {
        "mac": e["multiplier"] + e["adder"],
        "noc": e["distribution"] + e["reduction"],
        "sram": e["buffer"],
        "dram": e["dram"],
    }


def _group(
    shape: LayerShape, target: Target, ragged: tuple[int, ...], c: dict[str, Any]
) -> dict[str, Any]:
    """Every statistic of `STATISTICS` for candidates whose ragged dims are among the dims
    `ragged` (indices; `c`: the per-candidate arrays `_columns` prepares)."""
    dims = shape.dim_names
    lat = int(target.dram_latency_cycles)
    tile, trips, order, df, double, num_tiles = (
        c[k] for k in ("tile", "trips", "order", "dataflow", "double", "num_tiles")
    )
    b = tile.shape[1]
    rel = operand_dims(shape)

    # -- the array and the loads: per-tile formulas summed over every tile ----------------------
    tiles = TileShapes.build(dims, rel["output"], ragged, tile, c["edge"], trips, c["inner"])
    sums, dense, transfers = _tile_sum(shape, target, tiles, c["config"], df)
    busy, folds, hops, macs = sums["busy"], sums["folds"], sums["hops"], sums["macs"]
    in_rd, w_rd, out_wr = sums["in_rd"], sums["w_rd"], sums["out_wr"]
    # First visits of output tiles: no partial sums read (acc = 0).
    out_rd = sums["out_rd"] + sums["out_rd_first"]
    sram_stall = sums["stall"] + sums["stall_first"]

    # -- DRAM: reuse analysis per operand -------------------------------------------------------
    traffic_bytes: dict[str, Any] = {}
    dma: dict[str, Any] = {}
    repeat: dict[str, Any] = {}
    deps = operand_indices(shape)
    for op, dep, changes in zip(OPERANDS, deps, visits(c["loop_trips"], order, deps), strict=True):
        # Sums over all tiles hold every distinct tile of the operand once per combination of
        # the independent dims' tiles.
        distinct = functools.reduce(np.multiply, (trips[i] for i in dep))
        copies = num_tiles // distinct
        traffic_bytes[op] = sums[f"load_{op}"] // copies
        dma[op] = sums[f"dma_{op}"] // copies
        repeat[op] = changes // distinct
    read_in = repeat["input"] * traffic_bytes["input"]
    read_w = repeat["weight"] * traffic_bytes["weight"]
    write_out = repeat["output"] * traffic_bytes["output"]
    read_psum = (repeat["output"] - 1) * traffic_bytes["output"]
    dma_cycles = (
        repeat["input"] * dma["input"]
        + repeat["weight"] * dma["weight"]
        + (2 * repeat["output"] - 1) * dma["output"]
    )

    # -- buffers (dense footprints: a SIGMA tile must fit with dense weights) -------------------
    # What the buffers hold is the full tile's (`tiles.full`: no dim at its edge).
    need = buffered([tiles.full(v) for v in dense], double)

    # -- latency --------------------------------------------------------------------------------
    array_cycles = busy + sram_stall
    # The first iteration's tiles are all full; the last one is at the edge of every ragged dim
    # (`tiles.last`; a plain dim's edge is its full tile).
    first_load = tiles.full(transfers[0]) + tiles.full(transfers[1])
    last_store = tiles.last(transfers[2])
    middle_dma = dma_cycles - first_load - last_store
    overlap = np.maximum(array_cycles, middle_dma)
    chain = _slot_chain(
        shape, sums, c["inner"], trips, tile, num_tiles, repeat["output"], array_cycles,
        middle_dma, lat,
    )  # fmt: skip
    hidden_lat = np.maximum(0, chain - overlap)
    latency_double = first_load + lat + overlap + last_store + hidden_lat
    latency_single = dma_cycles + array_cycles + num_tiles * lat
    latency = np.where(double, latency_double, latency_single)
    exposed_lat = np.where(double, lat + hidden_lat, num_tiles * lat)

    # -- the rest follows from these per candidate (`_derived`) -------------------------------
    out = {
        "latency_cycles": latency,
        "compute_cycles": busy,
        "array_cycles": array_cycles,
        "sram_stall_cycles": sram_stall,
        "dma_cycles": dma_cycles,
        "dram_latency_cycles": exposed_lat,
        "macs": macs,
        "folds": folds,
        "num_tiles": num_tiles,
        "multipliers_used": c["multipliers"],
        "spatial_legal": c["legal"],
        "dram_read_input": read_in,
        "dram_read_weight": read_w,
        "dram_read_psum": read_psum,
        "dram_write_output": write_out,
        "buffer_bytes_input": need[0],
        "buffer_bytes_weight": need[1],
        "buffer_bytes_output": need[2],
        "sram_read_input": in_rd,
        "sram_read_weight": w_rd,
        "sram_read_output": out_rd + write_out,
        "sram_write_input": read_in,
        "sram_write_weight": read_w,
        "sram_write_output": out_wr + read_psum,
        "noc_hops": hops,
    }
    if target.energy_model == "stonne":
        energy = _stonne_energy(shape, target, tiles, c["config"], sums, latency)
        out.update({f"energy_{k}_pj": energy[k] for k in ("mac", "noc", "sram", "dram")})
    return {name: _per_candidate(v, b) for name, v in out.items()}


def _derived(target: Target, s: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The statistics that follow from `_group`'s per candidate, in `STATISTICS` order."""
    macs, latency = s["macs"], s["latency_cycles"]
    dram_read = s["dram_read_input"] + s["dram_read_weight"] + s["dram_read_psum"]
    write_out = s["dram_write_output"]
    dram_bytes = dram_read + write_out
    sram_rd = s["sram_read_input"] + s["sram_read_weight"] + s["sram_read_output"]
    sram_wr = s["sram_write_input"] + s["sram_write_weight"] + s["sram_write_output"]
    dram_cycles = transfer_cycles(dram_bytes, target.dram_bw_bytes_per_cycle, np)
    roofline = np.maximum(-(-macs // target.num_pes), dram_cycles)
    if target.energy_model == "stonne":
        energy = {k: s[f"energy_{k}_pj"] for k in ("mac", "noc", "sram", "dram")}
    else:
        energy = energy_pj(target, macs, s["noc_hops"], sram_rd + sram_wr, dram_bytes)
    need = [s[f"buffer_bytes_{op}"] for op in OPERANDS]
    derived = {
        "utilisation": macs / (latency * target.num_pes),
        "spatial_fits": s["spatial_legal"] & (s["multipliers_used"] <= target.num_pes),
        "dram_read_bytes": dram_read,
        "dram_write_bytes": write_out,
        "dram_bytes": dram_bytes,
        "fits": fits_buffers(need, target),
        "sram_read_bytes": sram_rd,
        "sram_write_bytes": sram_wr,
        "reuse_input": macs / np.maximum(s["dram_read_input"], 1),
        "reuse_weight": macs / np.maximum(s["dram_read_weight"], 1),
        "reuse_output": macs / np.maximum(write_out + s["dram_read_psum"], 1),
        **{f"energy_{k}_pj": energy[k] for k in ("mac", "noc", "sram", "dram")},
        "energy_pj": energy["mac"] + energy["noc"] + energy["sram"] + energy["dram"],
        "roofline_cycles": roofline,
        "roofline_fraction": roofline / latency,
    }
    every = {**s, **derived}
    assert set(every) - {"spatial_legal"} == set(STATISTICS)
    b = len(latency)
    return {name: _per_candidate(every[name], b) for name in STATISTICS}


def _per_candidate(value: Any, b: int) -> np.ndarray:
    """`value` as an array [b] (a scalar or a smaller broadcast repeated)."""
    if isinstance(value, np.ndarray) and value.shape == (b,):
        return value
    return np.broadcast_to(np.asarray(value), (b,))


# -- the batch: candidates grouped by their ragged dims ----------------------------------------

# Tile shapes (candidates x 2^ragged) per numpy pass: bounds the per-tile temporaries.
PIECE_SHAPES = 1 << 18
# Candidates scored at once (bounds the memory of a large batch).
BLOCK = 1 << 18
# A numpy pass costs a few hundred numpy calls, about as much as this many tile shapes: a small
# group joins another (ragged along both's dims) when that adds fewer shapes (`_groups`).
MERGE_SHAPES = 8192
# ... and a group of this many shapes is split by dataflow where the family is cheaper so.
SPLIT_SHAPES = 32768


def _groups(masks: np.ndarray, nd: int) -> tuple[np.ndarray, list[int]]:
    """Candidates grouped by their ragged dims (`masks`, `nd` bits): per candidate its group's
    number, and per group its ragged dims' mask. Groups are merged, the least work first, each
    into the group where it adds the fewest tile shapes, as long as that is at most
    `MERGE_SHAPES`; a merged group is ragged along the union of the dims (a candidate takes an
    edge tile equal to its full tile along a dim it does not have ragged)."""
    counts = np.bincount(masks)
    values = np.flatnonzero(counts)
    n, mask = counts[values], values.copy()
    popcount = _popcounts(nd)
    union = int(np.bitwise_or.reduce(values))
    if len(masks) << popcount[union] <= MERGE_SHAPES + int(np.sum(n << popcount[mask])):
        return np.zeros(len(masks), np.int16), [union]  # (a small batch) all in one
    owner = np.arange(len(values))
    alive = np.ones(len(values), bool)
    for v in np.argsort(n << popcount[mask], kind="stable").tolist():
        alive[v] = False
        hosts = np.flatnonzero(alive)
        if not len(hosts):
            alive[v] = True
            continue
        union = mask[hosts] | mask[v]
        added = (n[hosts] + n[v]) << popcount[union]
        added -= (n[hosts] << popcount[mask[hosts]]) + (n[v] << popcount[mask[v]])
        best = int(np.argmin(added))
        if added[best] > MERGE_SHAPES:
            alive[v] = True
            continue
        host = hosts[best]
        mask[host], n[host] = union[best], n[host] + n[v]
        owner[v] = host
    while True:  # a group merged into one that merged on: the last host
        last = owner[owner]
        if np.array_equal(last, owner):
            break
        owner = last
    final = np.flatnonzero(alive)
    number = np.zeros(len(values), np.int16)
    number[final] = np.arange(len(final))
    table = np.zeros(len(counts), np.int16)
    table[values] = number[owner]
    return table[masks], [int(mask[g]) for g in final]


@cache
def _popcounts(nd: int) -> np.ndarray:
    """The number of set bits of every `nd`-bit mask."""
    return np.array([m.bit_count() for m in range(1 << nd)], np.int64)


def _take(tree: Any, index: Any) -> Any:
    """The candidates at `index` (along the last axis) of a tree of per-candidate arrays ([B],
    or dim-major [D, B]; other leaves unchanged)."""
    if isinstance(tree, dict):
        return {k: _take(v, index) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return [_take(v, index) for v in tree]
    return tree[..., index] if isinstance(tree, np.ndarray) and tree.ndim >= 1 else tree


def _sorted_inputs(
    shape: LayerShape,
    target: Target,
    candidates: CandidateBatch,
    index: np.ndarray,
    tile: np.ndarray,
) -> dict[str, Any]:
    """The candidates at `index`, as `_columns` reads them: `tile` their clipped tiles [D, B],
    their loop orders [D, B], dataflows, buffering and spatial part (`Family.spatial_batch`:
    MAERI lays out each distinct spatial tile once)."""
    nd, b = tile.shape
    n = len(candidates)
    df = np.broadcast_to(np.asarray(candidates.dataflow, np.int64), (n,))[index]
    if candidates.spatial is None:
        factors: np.ndarray = np.broadcast_to(np.int64(1), (b, nd))
    else:
        factors = np.asarray(candidates.spatial, np.int64).reshape(-1, nd)[index]
    spatial = target.family.spatial_batch(shape, target, tile.T, factors, df)
    return {
        "tile": tile,
        "order": _gather_order(candidates.order, nd, index),
        "dataflow": df,
        "double": np.broadcast_to(np.asarray(candidates.double_buffer, bool), (n,))[index],
        "multipliers": np.broadcast_to(np.asarray(spatial.multipliers, np.int64), (b,)),
        "legal": np.broadcast_to(np.asarray(spatial.legal, bool), (b,)),
        "config": dict(vars(spatial.config)),
    }


def _gather_order(order: Any, nd: int, index: np.ndarray) -> np.ndarray:
    """The loop orders [B, nd] of the candidates at `index`, dim-major [nd, B] int8 (each
    row moved as one nd-byte item: a tenth of the time of gathering int64 rows)."""
    rows = np.ascontiguousarray(np.asarray(order).reshape(-1, nd), np.int8)
    picked = rows.view(f"V{nd}").reshape(-1)[index]
    return np.ascontiguousarray(picked.view(np.int8).reshape(-1, nd).T)


def _columns(shape: LayerShape, inputs: dict[str, Any]) -> dict[str, Any]:
    """The per-candidate arrays `_group` reads (numpy; per dim ones dim-major, [D, B]), from
    `_sorted_inputs` (of a piece)."""
    tile, order = inputs["tile"], inputs["order"]
    nd, b = tile.shape
    extent = np.array([shape.dims[d] for d in shape.dim_names], np.int64)[:, None]
    trips = -(-extent // tile)
    # The innermost loop dim of more than one trip (-1: a single tile).
    cols = np.arange(b)
    loop_trips = trips[order, cols]
    innermost = last_true(loop_trips > 1)
    return {
        **inputs,
        "trips": trips,
        "edge": extent - (trips - 1) * tile,
        "inner": np.where(innermost >= 0, order[np.maximum(innermost, 0), cols], -1),
        "loop_trips": loop_trips,
        "num_tiles": np.prod(trips, axis=0),
    }


def evaluate(
    shape: LayerShape, target: Target, candidates: CandidateBatch
) -> dict[str, np.ndarray]:
    """Every statistic of `STATISTICS` for each candidate (arrays [B])."""
    if len(candidates) == 0:  # the statistics' dtypes, from one whole-layer candidate
        nd = len(shape.dim_names)
        whole = CandidateBatch(
            np.zeros(1, np.int64),
            np.array([[shape.dims[d] for d in shape.dim_names]], np.int64),
            np.arange(nd)[None],
            np.zeros(1, bool),
        )
        return {name: v[:0] for name, v in evaluate(shape, target, whole).items()}
    if len(candidates) <= BLOCK:
        return _evaluate_block(shape, target, candidates)
    out: dict[str, np.ndarray] = {}
    for lo in range(0, len(candidates), BLOCK):
        part = _evaluate_block(shape, target, candidates.take(slice(lo, lo + BLOCK)))
        for name, value in part.items():
            if name not in out:
                out[name] = np.empty(len(candidates), value.dtype)
            elif value.dtype != out[name].dtype:  # as concatenating the blocks would
                out[name] = out[name].astype(np.result_type(out[name], value))
            out[name][lo : lo + len(value)] = value
    return out


def _evaluate_block(
    shape: LayerShape, target: Target, candidates: CandidateBatch
) -> dict[str, np.ndarray]:
    """`evaluate` of a block of candidates (at least one)."""
    # Candidates grouped by their ragged dims (tiles not dividing the extent, as a mask bit i for
    # dim i): sorted by group, each group a slice.
    nd = len(shape.dim_names)
    extent = np.array([shape.dims[d] for d in shape.dim_names], np.int64)[:, None]
    tile = np.ascontiguousarray(np.asarray(candidates.tiles, np.int64).reshape(-1, nd).T)
    tile = np.clip(tile, 1, extent, out=tile)
    ragged_mask = np.zeros(tile.shape[1], np.int64)
    for i in range(nd):
        ragged_mask |= (extent[i] % tile[i] != 0).astype(np.int64) << i
    group, masks = _groups(ragged_mask, nd)
    # A family whose tile costs are cheaper for one dataflow scores each dataflow's candidates
    # apart, in groups with the work to pay for the extra passes.
    if target.family.one_dataflow_cheaper:
        apart = np.bincount(group, minlength=len(masks)) << _popcounts(nd)[masks] >= SPLIT_SHAPES
        df = np.broadcast_to(np.asarray(candidates.dataflow, np.int16), group.shape)
        group = group * 4 + np.where(apart[group], df + 1, 0).astype(np.int16)
        masks = [m for m in masks for _ in range(4)]  # group 4g + s: group g, dataflow s - 1
    by_group = np.argsort(group, kind="stable")
    inputs = _sorted_inputs(shape, target, candidates, by_group, tile[:, by_group])
    # Piece by piece (small arrays), in the sorted order; then back to the candidates' order.
    ordered: dict[str, np.ndarray] = {}
    start = 0
    for mask, size in zip(masks, np.bincount(group, minlength=len(masks)).tolist(), strict=True):
        ragged = tuple(i for i in range(nd) if mask >> i & 1)
        stop = start + size
        step = max(1, PIECE_SHAPES >> len(ragged))
        for lo in range(start, stop, step):
            hi = min(lo + step, stop)
            c = _columns(shape, _take(inputs, slice(lo, hi)))
            part = _derived(target, _group(shape, target, ragged, c))
            if not ordered:
                ordered = _allocate(part, len(by_group))
            for name, value in part.items():
                if value.dtype != ordered[name].dtype:  # as concatenating the parts would
                    ordered[name] = ordered[name].astype(np.result_type(ordered[name], value))
                ordered[name][lo:hi] = value
        start = stop
    if len(masks) == 1:  # one group: already in the candidates' order
        return ordered
    # Each statistic is gathered into a spare row, and its own row becomes the next one's spare:
    # one extra row per dtype, and no copying back (fresh rows would cost page faults).
    back = np.empty_like(by_group)
    back[by_group] = np.arange(len(by_group))
    spares: dict[np.dtype, np.ndarray] = {}
    for name, value in ordered.items():
        spare = spares.get(value.dtype)
        spare = np.empty_like(value) if spare is None else spare
        ordered[name] = np.take(value, back, out=spare, mode="clip")  # (clip: `out` unbuffered)
        spares[value.dtype] = value
    return ordered


def _allocate(like: dict[str, np.ndarray], b: int) -> dict[str, np.ndarray]:
    """Arrays [b] of the statistics' dtypes in `like`: the rows of one matrix per dtype (one
    large allocation costs the system a fraction of 42 separate ones)."""
    out: dict[str, np.ndarray] = {}
    for dtype in {v.dtype for v in like.values()}:
        names = [n for n, v in like.items() if v.dtype == dtype]
        out.update(zip(names, np.empty((len(names), b), dtype), strict=True))
    return {name: out[name] for name in like}
