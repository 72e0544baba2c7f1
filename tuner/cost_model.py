"""Analytical cost model (MAESTRO-style reuse analysis) for systolic targets, vectorised.

`evaluate(shape, target, candidates)` scores a whole batch of candidate mappings of one layer on
one target in one numpy call: every statistic is an array [B]. Nothing here re-derives what the
compiler or the simulator already computes: footprints and the GEMM view come from
`compiler.tiling`, per-tile cycles, global-buffer traffic and network hops from
`simulator.systolic` (its `xp=numpy` path).

How the per-tile formulas are summed over the tile loop nest exactly, without visiting it:
along every loop dim a tile is either full (`trips - 1` of them) or the edge tile (one, of size
`extent - (trips - 1) * tile`, equal to the tile when it divides). A sum over all tiles of any
per-tile quantity is therefore a weighted sum over the 2^D full/edge combinations of the dims it
depends on (`_tile_sum`), D <= 8. This makes these statistics equal to the simulator's:

- compute_cycles, macs, folds, noc_hops, sram reads/writes (sum over every tile, 2^8 combos);
- DRAM bytes per operand. Along the loop order, an operand tile is (re)loaded each time its
  coordinates change (`schedule`, `compiler.tiling._visit_counts`): with p the innermost loop
  position of a dependent dim of more than one trip, every distinct tile of the operand is
  visited R = prod(trips of the independent dims outside p) times, so its bytes are
  R x (sum over the operand's distinct tiles of the clipped footprint). Output: R stores per
  tile, R - 1 partial-sum reloads.

Latency is a model (the simulator's DMA/array interplay is not closed-form):
- single-buffered: every step is serial (store, loads, then compute; the next loads wait for the
  compute to free the slot): latency = DMA cycles + array cycles + DRAM latency per iteration;
- double-buffered: the first iteration's loads (+ DRAM latency) are exposed, then the prefetches
  overlap the array: latency = first loads + max(array cycles, remaining DMA - last store)
  + last store, plus the DRAM latency per iteration the prefetch cannot hide
  (max(0, latency - array cycles per iteration), the two slots hide one tile's compute).
`bench/cost_model_accuracy.py` measures its error against the simulator.

Systolic targets only (`target.arch == "systolic"`); MAERI/SIGMA raise ValueError.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from compiler.tiling import (
    MAERI_AXES,
    OPERANDS,
    LayerShape,
    Mapping,
    footprint_elements,
    gemm_view,
    maeri_factors,
    operand_dims,
    spatial_unroll,
    with_maeri_spatial,
)
from simulator import systolic
from simulator.program import DATAFLOWS
from simulator.target import Target

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
    spatial [B, D] int64 MAERI spatial factor per dim (STONNE's spatial tile, clamped to the
      tiles by `evaluate` as `tiling.with_maeri_spatial` does; 1: not unrolled). None: all ones.
      Ignored on systolic and SIGMA targets.
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
                [[maeri_factors(shape, m)[d] for d in dims] for m in mappings], np.int64
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
        tiles = {
            d: int(min(max(self.tiles[i][j], 1), shape.dims[d])) for j, d in enumerate(dims)
        }
        df = DATAFLOWS[int(self.dataflow[i])]
        mapping = Mapping(
            dataflow=df,
            tiles=tiles,
            order=tuple(dims[int(j)] for j in self.order[i]),
            double_buffer=bool(self.double_buffer[i]),
        )
        if target.arch == "maeri":
            factors = {d: int(f) for d, f in zip(dims, self.spatial_factors()[i], strict=True)}
            return with_maeri_spatial(shape, mapping, target, factors)
        if target.arch == "systolic":
            return replace(mapping, spatial=spatial_unroll(shape, df, target))
        return mapping

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


def _tile_sum(
    dims: tuple[str, ...],
    subset: tuple[str, ...],
    full: np.ndarray,
    edge: np.ndarray,
    count_full: np.ndarray,
    fn: Any,
) -> tuple[np.ndarray, ...]:
    """Sum of `fn(sizes)` (a tuple of arrays [B]) over every tile of the dims in `subset`: the
    2^len(subset) full/edge combinations, each weighted by how many tiles have it. Dims outside
    `subset` are passed at their full tile size (fn must not depend on them)."""
    index = [dims.index(d) for d in subset]
    # A dim whose edge tile equals the full tile for every candidate needs one option
    # (count = trips); one of a single trip everywhere needs only its edge tile.
    options = []
    for i in index:
        if np.array_equal(edge[:, i], full[:, i]):
            options.append(((full[:, i], count_full[:, i] + 1),))
        elif not count_full[:, i].any():
            options.append(((edge[:, i], None),))
        else:
            options.append(((full[:, i], count_full[:, i]), (edge[:, i], None)))
    total: list[np.ndarray] | None = None
    for choice in itertools.product(*options):
        sizes = {d: full[:, i] for i, d in enumerate(dims)}
        weight: Any = 1
        for i, (size, count) in zip(index, choice, strict=True):
            sizes[dims[i]] = size
            if count is not None:
                weight = weight * count
        terms = [weight * v for v in fn(sizes)]
        total = terms if total is None else [x + y for x, y in zip(total, terms, strict=True)]
    assert total is not None
    return tuple(np.broadcast_to(t, full.shape[:1]) for t in total)


def _visits(order: np.ndarray, trips: np.ndarray, deps: np.ndarray) -> np.ndarray:
    """Vectorised `_visit_counts` for one operand: tile changes along the loop nest [B]."""
    rows = np.arange(order.shape[0])
    prefix = np.ones(order.shape[0], np.int64)
    visits = np.ones(order.shape[0], np.int64)
    for j in range(order.shape[1]):
        d = order[:, j]
        tr = trips[rows, d]
        prefix = prefix * tr
        visits = np.where(deps[d] & (tr > 1), prefix, visits)
    return visits


CHUNK = 4096  # candidates per vectorised pass (bounds the [chunk, 2^D] temporaries)


def evaluate(
    shape: LayerShape, target: Target, candidates: CandidateBatch
) -> dict[str, np.ndarray]:
    """Every statistic of `STATISTICS` for each candidate (arrays [B])."""
    if len(candidates) <= CHUNK:
        return _evaluate(shape, target, candidates)
    parts = [
        _evaluate(shape, target, candidates.take(slice(lo, lo + CHUNK)))
        for lo in range(0, len(candidates), CHUNK)
    ]
    return {name: np.concatenate([p[name] for p in parts]) for name in STATISTICS}


def _evaluate(
    shape: LayerShape, target: Target, candidates: CandidateBatch
) -> dict[str, np.ndarray]:
    if target.arch != "systolic":
        raise ValueError(f"the cost model covers systolic targets, not '{target.arch}'")
    dims = shape.dim_names
    nd = len(dims)
    eb = target.element_bytes
    rows_, cols_ = target.rows, target.cols
    bw = float(target.dram_bw_bytes_per_cycle)
    lat = int(target.dram_latency_cycles)
    df = np.asarray(candidates.dataflow, np.int64)
    extent = np.array([shape.dims[d] for d in dims], np.int64)
    tile = np.clip(np.asarray(candidates.tiles, np.int64).reshape(-1, nd), 1, extent)
    order = np.asarray(candidates.order, np.int64).reshape(-1, nd)
    double = np.asarray(candidates.double_buffer, bool)
    b = tile.shape[0]
    trips = -(-extent // tile)
    count_full = trips - 1
    edge = extent - count_full * tile
    num_tiles = np.prod(trips, axis=1)

    # -- the array: sum of per-tile formulas over every tile ------------------------------------

    def per_tile(sizes: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
        reps, m, n, k = gemm_view(shape, sizes)
        busy = systolic.compute_cycles(reps, m, n, k, df, rows_, cols_, xp=np)
        folds = reps * systolic.fold_count(m, n, k, df, rows_, cols_, xp=np)
        traffic = [
            systolic.sram_traffic(reps, m, n, k, acc, df, rows_, cols_, xp=np) for acc in (0, 1)
        ]
        hops = systolic.network_hops(reps, m, n, k, 1, df, rows_, cols_, xp=np)
        # Global-buffer stall of the tile (engine._sram_cycles), for acc = 0 and acc = 1.
        stalls = []
        for in_rd, w_rd, out_wr, out_rd in traffic:
            parts = (in_rd * eb, w_rd * eb, (out_wr + out_rd) * eb)
            if target.global_buffer == "shared":
                need = parts[0] + parts[1] + parts[2]
            else:
                need = np.maximum(np.maximum(parts[0], parts[1]), parts[2])
            sram = -(-need // target.sram_bytes_per_cycle)
            stalls.append(np.maximum(0, sram - busy))
        in_rd, w_rd, out_wr, out_rd = traffic[1]
        return busy, folds, hops, in_rd, w_rd, out_wr, out_rd, stalls[0], stalls[1]

    busy, folds, hops, in_rd, w_rd, out_wr, out_rd1, stall0, stall1 = _tile_sum(
        dims, dims, tile, edge, count_full, per_tile
    )
    out_elems = np.prod(extent[[dims.index(d) for d in operand_dims(shape)["output"]]])
    # acc = 0 on the first visit of each output tile: one m*n fewer partial-sum read per tile.
    out_rd = out_rd1 - out_elems
    rel = operand_dims(shape)
    distinct_out = np.prod(trips[:, [dims.index(d) for d in rel["output"]]], axis=1)
    first_frac = distinct_out / num_tiles
    sram_stall = np.rint(first_frac * stall0 + (1 - first_frac) * stall1).astype(np.int64)
    macs = np.full(b, shape.macs, np.int64)

    # -- DRAM: reuse analysis per operand -------------------------------------------------------
    fp_full = footprint_elements(shape, {d: tile[:, i] for i, d in enumerate(dims)})
    traffic_bytes: dict[str, np.ndarray] = {}
    dma: dict[str, np.ndarray] = {}
    repeat: dict[str, np.ndarray] = {}
    for pos, op in enumerate(OPERANDS):
        deps = np.array([d in rel[op] for d in dims])
        visits = _visits(order, trips, deps)
        repeat[op] = visits // np.prod(np.where(deps, trips, 1), axis=1)

        def fp_and_dma(sizes: dict[str, np.ndarray], pos: int = pos) -> tuple[np.ndarray, ...]:
            nbytes = np.asarray(footprint_elements(shape, sizes)[pos], np.int64) * eb
            return nbytes, np.ceil(nbytes / bw).astype(np.int64)

        subset = tuple(d for d in dims if d in rel[op])
        traffic_bytes[op], dma[op] = _tile_sum(dims, subset, tile, edge, count_full, fp_and_dma)
    read_in = repeat["input"] * traffic_bytes["input"]
    read_w = repeat["weight"] * traffic_bytes["weight"]
    write_out = repeat["output"] * traffic_bytes["output"]
    read_psum = (repeat["output"] - 1) * traffic_bytes["output"]
    dma_cycles = (
        repeat["input"] * dma["input"]
        + repeat["weight"] * dma["weight"]
        + (2 * repeat["output"] - 1) * dma["output"]
    )
    dram_read = read_in + read_w + read_psum
    dram_bytes = dram_read + write_out

    # -- buffers --------------------------------------------------------------------------------
    mult = np.where(double, 2, 1)
    need = [np.asarray(fp, np.int64) * eb * mult for fp in fp_full]
    if target.global_buffer == "shared":
        fits = need[0] + need[1] + need[2] <= target.shared_buffer_bytes
    else:
        fits = np.ones(b, bool)
        for op, nb in zip(OPERANDS, need, strict=True):
            fits &= nb <= target.buffer_bytes(op)

    # -- latency --------------------------------------------------------------------------------
    array_cycles = busy + sram_stall
    first_load = np.ceil(fp_full[0] * eb / bw).astype(np.int64) + np.ceil(
        fp_full[1] * eb / bw
    ).astype(np.int64)
    last_store = np.ceil(np.asarray(fp_full[2]) * eb / bw).astype(np.int64)
    last_store = np.minimum(last_store, dma["output"])  # the last tile may be an edge tile
    overlap = np.maximum(array_cycles, dma_cycles - first_load - last_store)
    hidden_lat = np.maximum(0, lat - array_cycles // num_tiles) * (num_tiles - 1)
    latency_double = first_load + lat + overlap + last_store + hidden_lat
    latency_single = dma_cycles + array_cycles + num_tiles * lat
    latency = np.where(double, latency_double, latency_single)
    exposed_lat = np.where(double, lat + hidden_lat, num_tiles * lat)

    # -- derived --------------------------------------------------------------------------------
    sram_read = {
        "input": in_rd * eb,
        "weight": w_rd * eb,
        "output": out_rd * eb + write_out,
    }
    sram_write = {"input": read_in, "weight": read_w, "output": out_wr * eb + read_psum}
    sram_rd_total = sram_read["input"] + sram_read["weight"] + sram_read["output"]
    sram_wr_total = sram_write["input"] + sram_write["weight"] + sram_write["output"]
    roofline = np.maximum(-(-macs // target.num_pes), np.ceil(dram_bytes / bw).astype(np.int64))
    energy = {
        "mac": macs * target.mac_energy_pj,
        "noc": hops * target.noc_energy_pj_per_hop,
        "sram": (sram_rd_total + sram_wr_total) * target.sram_energy_pj_per_byte,
        "dram": dram_bytes * target.dram_energy_pj_per_byte,
    }
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
        "utilisation": macs / (latency * target.num_pes),
        "dram_read_input": read_in,
        "dram_read_weight": read_w,
        "dram_read_psum": read_psum,
        "dram_write_output": write_out,
        "dram_read_bytes": dram_read,
        "dram_write_bytes": write_out,
        "dram_bytes": dram_bytes,
        "buffer_bytes_input": need[0],
        "buffer_bytes_weight": need[1],
        "buffer_bytes_output": need[2],
        "fits": fits,
        **{f"sram_read_{op}": sram_read[op] for op in OPERANDS},
        **{f"sram_write_{op}": sram_write[op] for op in OPERANDS},
        "sram_read_bytes": sram_rd_total,
        "sram_write_bytes": sram_wr_total,
        "noc_hops": hops,
        "reuse_input": macs / np.maximum(read_in, 1),
        "reuse_weight": macs / np.maximum(read_w, 1),
        "reuse_output": macs / np.maximum(write_out + read_psum, 1),
        "energy_mac_pj": energy["mac"],
        "energy_noc_pj": energy["noc"],
        "energy_sram_pj": energy["sram"],
        "energy_dram_pj": energy["dram"],
        "energy_pj": energy["mac"] + energy["noc"] + energy["sram"] + energy["dram"],
        "roofline_cycles": roofline,
        "roofline_fraction": roofline / latency,
    }
    assert set(out) == set(STATISTICS)
    return {name: np.broadcast_to(np.asarray(out[name]), (b,)) for name in STATISTICS}
