"""Analytical cost model (MAESTRO-style reuse analysis) for every target family, vectorised.

`evaluate(shape, target, candidates)` scores a whole batch of candidate mappings of one layer on
one target (`target.arch` systolic, maeri or sigma) in numpy: every statistic of `STATISTICS` is
an array [B]. Nothing here re-derives what the compiler or the simulator computes: footprints and
the GEMM view come from `compiler.tiling`; per-tile cycles, global-buffer traffic and network hops
from the simulator's arch modules (their `xp=numpy` paths), the functions the engine's COMPUTE
calls, per arch:

- systolic: `simulator.systolic` on each tile's GEMM view (reps, m, n, k) and the dataflow;
- maeri: `simulator.maeri` on each tile's extents by STONNE role, the candidate's spatial tile
  (`CandidateBatch.spatial`, clamped to the buffer tiles as `tiling.with_maeri_spatial` does) and
  the step costs of its CONFIG row (`tiling.maeri_config`, i.e. `maeri.step_costs`, computed for
  the distinct spatial tiles of a batch at once by `maeri.step_costs_batch`);
- sigma: `simulator.sigma` on each tile's bitmap statistics. The cost model scores mappings
  WITHOUT the layer's weights: dense weights, as `loop_nest.lower(..., weights=None)` emits them
  (every weight a non-zero, weight tiles loaded as non-zeros + one bitmap bit per element; the
  statistics are `sigma.tile_stats` of all-true masks, `sigma.dense_tile_stats`). A
  pruned layer runs faster than scored (fewer stationary iterations, smaller weight loads).

How the per-tile formulas are summed over the tile loop nest exactly, without visiting it:
along every loop dim a tile is either full (`trips - 1` of them) or the edge tile (one, of size
`extent - (trips - 1) * tile`); where the tile divides the extent every tile is full. The tiles
of a candidate therefore come in at most 2^a distinct shapes (a: its "ragged" dims, whose tile
does not divide the extent), each with a count. `_TileShapes` holds them for the candidates that
share their ragged dims (small groups merged: a plain dim can be handled as ragged, its "edge"
tile then being one more full tile), as broadcastable arrays (one axis of two per ragged dim, so
a quantity of one dim is computed once per option, not per shape), and `_TileShapes.sum` adds any
per-tile quantity times the counts. The first visit of an output tile (acc = 0: no partial-sum read) is
the iteration whose non-output coordinates are all 0, i.e. full tiles on those dims, one per
distinct output tile: their count is kept apart (`_TileShapes.first`). These statistics therefore
equal the simulator's (the tests check it for every family):

- compute_cycles, macs, folds, noc_hops, global-buffer reads/writes per buffer, and
  sram_stall_cycles (per tile, `engine._sram_cycles` beyond the busy time), summed over every tile;
- DRAM bytes per operand. Along the loop order, an operand tile is (re)loaded each time its
  coordinates change (compiler/loop_nest.py, `compiler.tiling._visit_counts`): with p the innermost loop
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

Per arch, `folds` counts systolic array folds (`systolic.fold_count` x reps), MAERI reduction
folds of every K-tile (F x K-tiles, `simulator.maeri`), SIGMA stationary iterations (`sg_iters`).
`multipliers_used` is what a full tile occupies: systolic the PEs of the two array-mapped GEMM
axes, MAERI the VNs x (VN size + aux multiplier), SIGMA the multipliers of a full stationary
iteration; `spatial_fits` says it is within `target.num_pes` (False only for a MAERI spatial tile
that `tiling.check_mapping` refuses). A candidate is legal iff `fits & spatial_fits`; `fits`
means the tile footprints (x2 double-buffered; dense, also on SIGMA) fit the global buffers. A
MAERI spatial tile that does not fit the multipliers gets placeholder step costs (one full port
per step, `maeri.step_costs_batch`), so its cycles are not meaningful.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
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
    reduction_dims,
    spatial_unroll,
    with_maeri_spatial,
)
from simulator import maeri, sigma, systolic
from simulator.program import DATAFLOWS
from simulator.target import Target

ARCHS = ("systolic", "maeri", "sigma")

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
        tiles = {d: int(min(max(self.tiles[i][j], 1), shape.dims[d])) for j, d in enumerate(dims)}
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


# Tile shapes (candidates x 2^ragged) per vectorised piece: bounds the per-tile temporaries.
PIECE_SHAPES = 1 << 15


# A group of candidates costs a few hundred numpy calls, about as much as this many tile shapes:
# smaller groups are merged into a group whose ragged dims include theirs.
MERGE_SHAPES = 1024


def _merged_groups(code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Groups of candidates by their ragged dims (`code`, one bit per dim): (the ragged dims of
    each group, the group of each candidate). A plain dim may be handled as ragged (its edge tile
    is then a full tile, counted once, and trips - 1 more), so a small group is merged into the
    group that costs the fewest extra tile shapes, while that is below `MERGE_SHAPES`."""
    codes, inverse, size = np.unique(code, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    popcount = np.array([bin(v).count("1") for v in range(1 << 8)])
    label = np.arange(len(codes))
    alive = np.ones(len(codes), bool)
    while alive.sum() > 1:
        live = np.flatnonzero(alive)
        small = live[np.argmin(size[live])]
        others = live[live != small]
        union = codes[others] | codes[small]
        extra = (size[small] + size[others]) << popcount[union]
        extra = (
            extra
            - (size[small] << popcount[codes[small]])
            - (size[others] << popcount[codes[others]])
        )
        best = int(np.argmin(extra))
        if extra[best] > MERGE_SHAPES:
            break
        into = others[best]
        codes[into], size[into], alive[small] = union[best], size[into] + size[small], False
        label[label == small] = into
    live = np.flatnonzero(alive)
    renumber = np.zeros(len(codes), np.int64)
    renumber[live] = np.arange(len(live))
    return codes[live], renumber[label[inverse]]


@dataclass(frozen=True)
class _TileShapes:
    """The tile shapes of candidates whose loop nests have the same ragged dims (module
    docstring), as broadcastable arrays: axis 0 the candidate, then one axis of two (full tile,
    edge tile) per ragged dim. sizes: per dim the tile size; count: how many tiles have each
    shape; first: how many of those are the first visit of their output tile (acc = 0);
    inner_edge: how many are the edge tile of the innermost loop (0 where it is not ragged)."""

    index: np.ndarray  # [Bg] the candidates
    ragged: int  # number of ragged dims (option axes)
    sizes: dict[str, np.ndarray]
    count: np.ndarray
    first: np.ndarray
    inner_edge: np.ndarray

    @staticmethod
    def pieces(
        dims: tuple[str, ...],
        out_dims: tuple[str, ...],
        tile: np.ndarray,
        extent: np.ndarray,
        inner: np.ndarray,
    ) -> Iterator[_TileShapes]:
        """The candidates' tile shapes, grouped by ragged dims; `inner` [B]: the innermost loop
        dim of more than one trip (-1: none), whose edge tiles `inner_edge` counts."""
        trips = -(-extent // tile)
        edge = extent - (trips - 1) * tile
        ragged = edge != tile  # [B, D]: the dims with an edge tile (trips >= 2)
        codes, group = _merged_groups(ragged @ (1 << np.arange(len(dims))))
        by_group = np.argsort(group, kind="stable")
        starts = np.searchsorted(group[by_group], np.arange(len(codes)))
        ends = [*starts[1:], len(group)]
        for c, lo, hi in zip(codes, starts, ends, strict=True):
            axes = [i for i in range(len(dims)) if (int(c) >> i) & 1]
            step = max(1, PIECE_SHAPES >> len(axes))
            for at in range(lo, hi, step):
                index = by_group[at : min(at + step, hi)]
                yield _TileShapes.build(dims, out_dims, axes, index, tile, edge, trips, inner)

    @staticmethod
    def build(
        dims: tuple[str, ...],
        out_dims: tuple[str, ...],
        axes: list[int],
        index: np.ndarray,
        tile: np.ndarray,
        edge: np.ndarray,
        trips: np.ndarray,
        inner: np.ndarray,
    ) -> _TileShapes:
        lead = (len(index),) + (1,) * len(axes)
        tile, edge, trips = (np.ascontiguousarray(a[index].T) for a in (tile, edge, trips))
        sizes: dict[str, np.ndarray] = {}
        # Counts per dim: the whole dim's trips on a plain dim, (trips - 1, 1) along its axis on
        # a ragged one. Multiplied plain dims first, so that only the last products are full-size.
        count: Any = np.ones(lead, np.int64)
        first: Any = np.ones(lead, np.int64)
        for i, d in enumerate(dims):
            if i not in axes:
                sizes[d] = tile[i].reshape(lead)
                count = count * trips[i].reshape(lead)
                if d in out_dims:
                    first = first * trips[i].reshape(lead)
        for a, i in enumerate(axes):
            along = list(lead)
            along[1 + a] = 2
            sizes[dims[i]] = np.stack([tile[i], edge[i]], axis=1).reshape(along)
            dim_count = np.stack([trips[i] - 1, np.ones_like(trips[i])], axis=1).reshape(along)
            count = count * dim_count
            # First visits: the output dims' tiles, the others at their first (full) tile.
            first = first * (
                dim_count if dims[i] in out_dims else np.array([1, 0]).reshape(along[1:])
            )
        # The edge tiles of the innermost loop: bit a of a shape's index says whether it takes
        # the edge tile along ragged axis a.
        shape_index = np.arange(1 << len(axes)).reshape((1,) + (2,) * len(axes))
        at = np.array([axes.index(v) if v in axes else -1 for v in range(len(dims))] + [-1])
        axis = at[inner[index]].reshape(lead)
        bit = np.maximum(len(axes) - 1 - np.maximum(axis, 0), 0)  # C order: axis 0 is the high bit
        inner_edge = count * ((shape_index >> bit) & 1) * (axis >= 0)
        return _TileShapes(index, len(axes), sizes, count, first, inner_edge)

    def gather(self, per_candidate: np.ndarray) -> np.ndarray:
        """A per-candidate array [B] as [Bg, 1, ...] (broadcasts against the tile shapes)."""
        return per_candidate[self.index].reshape((len(self.index),) + (1,) * self.ragged)

    def sum(self, values: Any, weight: np.ndarray | None = None) -> np.ndarray:
        """Per candidate, the sum over its tiles of a per-shape quantity ([..., Bg]); `weight`
        defaults to the tile counts (pass `first` for first visits only)."""
        x = np.asarray(values) * (self.count if weight is None else weight)
        return x.sum(axis=tuple(range(x.ndim - self.ragged, x.ndim))) if self.ragged else x


# -- per-tile costs, per arch: arrays that broadcast against the tile shapes -----------------


def _sram_stall(target: Target, busy: Any, in_b: Any, w_b: Any, out_b: Any) -> Any:
    """Cycles a tile waits on the global buffer(s) beyond its busy time (`engine._sram_cycles`)."""
    if target.global_buffer == "shared":
        need = in_b + w_b + out_b
    else:
        need = np.maximum(np.maximum(in_b, w_b), out_b)
    return np.maximum(0, -(-need // target.sram_bytes_per_cycle) - busy)


# The partial-sum flag of a COMPUTE as a leading axis: per-tile traffic for acc = 0 and acc = 1.
_ACC = np.arange(2)


def _acc_axis(ragged: int) -> np.ndarray:
    return _ACC.reshape((2,) + (1,) * (1 + ragged))


def _systolic_tiles(
    shape: LayerShape, target: Target, tiles: _TileShapes, dataflow: np.ndarray
) -> dict[str, Any]:
    reps, m, n, k = gemm_view(shape, tiles.sizes)
    df = tiles.gather(dataflow)
    rows, cols = target.rows, target.cols
    acc = _acc_axis(tiles.ragged)
    return {
        "busy": systolic.compute_cycles(reps, m, n, k, df, rows, cols, xp=np),
        "folds": reps * systolic.fold_count(m, n, k, df, rows, cols, xp=np),
        "hops": systolic.network_hops(reps, m, n, k, 1, df, rows, cols, xp=np),
        "macs": reps * m * n * k,
        "traffic": systolic.sram_traffic(reps, m, n, k, acc, df, rows, cols, xp=np),
        "scale": target.element_bytes,
    }


def _maeri_tiles(
    shape: LayerShape, target: Target, tiles: _TileShapes, config: tuple[np.ndarray, np.ndarray]
) -> dict[str, Any]:
    spatial, steps = config
    dims = shape.dim_names
    z = [tiles.sizes[dims[i]] if i < len(dims) else 1 for i in maeri.ROLE_INDEX[shape.kind]]
    t = [tiles.gather(spatial[:, i]) for i in range(spatial.shape[1])]
    st = [tiles.gather(steps[:, i]) for i in range(steps.shape[1])]
    acc_buffer = int(target.accumulation_buffer)
    ms, dn = target.num_multipliers, target.dn_bw_elems_per_cycle
    reps, m, n, k = gemm_view(shape, tiles.sizes)
    macs = reps * m * n * k
    parts = maeri.tile_counts(z, t, np)  # the folds and K-tiles the compute formula counts
    busy = maeri.compute_cycles(
        z, t, st, target.rn_bw_elems_per_cycle, acc_buffer, xp=np, ms_per_port=ms // dn
    )
    return {
        "busy": busy,
        "folds": parts["folds"] * parts["ktiles"],
        "hops": maeri.network_hops(z, t, st, acc_buffer, 1, macs, maeri.ceil_log2(ms), xp=np),
        "macs": macs,
        "traffic": maeri.sram_traffic(z, t, st, acc_buffer, _acc_axis(tiles.ragged), xp=np),
        "scale": target.element_bytes,
    }


def _sigma_tiles(shape: LayerShape, target: Target, tiles: _TileShapes, _: Any) -> dict[str, Any]:
    reps, m, n, k = gemm_view(shape, tiles.sizes)
    ms = target.num_multipliers
    sparse = sigma.dense_tile_stats(
        reps, n, k, ms, target.dn_bw_elems_per_cycle, target.rn_bw_elems_per_cycle
    )
    eb = target.element_bytes
    density = target.activation_density if target.sparse_activations else 0.0
    acc = _acc_axis(tiles.ragged)
    return {
        "busy": sigma.compute_cycles(m, sparse, ms, xp=np),
        "folds": sparse[0],
        "hops": sigma.network_hops(m, sparse, ms, xp=np),
        "macs": sigma.effectual_macs(m, sparse),
        "traffic": sigma.sram_traffic(reps, m, n, acc, sparse, eb, density, xp=np),
        "scale": 1,  # sigma.sram_traffic counts bytes
    }


_PER_TILE = {"systolic": _systolic_tiles, "maeri": _maeri_tiles, "sigma": _sigma_tiles}


def _load_bytes(shape: LayerShape, target: Target, sizes: dict[str, Any]) -> list[Any]:
    """Bytes of the LOADs of input, weight and output tiles of `sizes`, as the lowering (compiler/loop_nest.py) emits
    them: footprints, on SIGMA weights with their bitmap (dense: every element a non-zero) and
    inputs compressed with the declared density when the target has sparse activations."""
    eb = target.element_bytes
    nbytes = [np.asarray(v, np.int64) * eb for v in footprint_elements(shape, sizes)]
    if target.arch != "sigma":
        return nbytes
    dense_w = math.prod(sizes[d] for d in operand_dims(shape)["weight"])
    nbytes[1] = nbytes[1] + (dense_w + 7) // 8
    if target.sparse_activations:
        elems = nbytes[0] // eb
        kept = np.ceil(elems * target.activation_density).astype(np.int64)
        nbytes[0] = kept * eb + (elems + 7) // 8
    return nbytes


# -- per-candidate setup, per arch ------------------------------------------------------------


def _distinct_rows(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a row index of each distinct row of `keys` [U], the distinct row of every row [B])."""
    radix = keys.max(axis=0) + 1
    if np.sum(np.log2(radix.astype(np.float64))) < 62:  # one int64 key per row: a 1-D unique
        key = keys @ np.concatenate([[1], np.cumprod(radix[:-1])])
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    else:
        _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


def _maeri_config(
    shape: LayerShape, target: Target, spatial: np.ndarray, tile: np.ndarray
) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """((spatial tile by role [B, 8], CONFIG step costs [B, 8]), multipliers used [B]), as
    `tiling.with_maeri_spatial` + `tiling.maeri_config` give them for each candidate."""
    dims = shape.dim_names
    factors = np.clip(spatial, 1, tile)
    pad = np.ones((len(factors), maeri.NO_DIM + 1 - len(dims)), np.int64)  # NO_DIM reads 1
    by_role = np.concatenate([factors, pad], axis=1)
    t = by_role[:, list(maeri.ROLE_INDEX[shape.kind])]
    red = [dims.index(d) for d in reduction_dims(shape)]
    folds = np.prod(-(-tile[:, red] // factors[:, red]), axis=1)
    extent = np.array([shape.dims[d] for d in dims], np.int64)
    split = np.any(tile[:, red] < extent[red], axis=1)
    aux = ((folds > 1) | split) & (not target.accumulation_buffer)  # tiling.maeri_uses_aux
    stride = shape.stride if shape.kind == "conv2d" else (1, 1)
    extent_s = tile[:, maeri.ROLE_INDEX[shape.kind][1]]
    fwd = maeri.forwarding_usable(t.T, extent_s, stride[1])
    # The step costs depend on the spatial tile, aux and forwarding only: lay out each distinct one.
    first, inverse = _distinct_rows(np.concatenate([t, aux[:, None], fwd[:, None]], axis=1))
    steps = maeri.step_costs_batch(
        t[first],
        aux[first],
        extent_s[first],
        stride,
        target.num_multipliers,
        target.dn_bw_elems_per_cycle,
        max_multipliers=target.num_multipliers,  # a larger spatial tile is illegal: placeholders
    )[inverse]
    return (t, steps), maeri.multipliers_needed(t, aux)


def _systolic_pes(shape: LayerShape, target: Target, dataflow: np.ndarray, tile: np.ndarray) -> Any:
    """PEs of the two array-mapped GEMM axes of a full tile (`systolic` module docstring)."""
    _, m, n, k = gemm_view(shape, {d: tile[:, i] for i, d in enumerate(shape.dim_names)})
    across_rows = np.where(dataflow == systolic.DF_OS, m, k)
    across_cols = np.where(dataflow == systolic.DF_IS, m, n)
    return np.minimum(across_rows, target.rows) * np.minimum(across_cols, target.cols)


def _sigma_multipliers(shape: LayerShape, target: Target, tile: np.ndarray) -> Any:
    """Multipliers of the first stationary iteration of a full tile, with dense weights."""
    _, _, rows, k = gemm_view(shape, {d: tile[:, i] for i, d in enumerate(shape.dim_names)})
    return sigma.dense_iteration_multipliers(rows, k, target.num_multipliers)


# Rows of `_tile_sum`: sums over every tile (output reads and stall as if acc = 1), ...
_SUMS = (
    "busy", "folds", "hops", "macs", "in_rd", "w_rd", "out_wr", "out_rd", "stall",
    "load_in", "load_w", "load_out", "dma_in", "dma_w", "dma_out",
)  # fmt: skip
# ... then over first visits, the acc = 0 corrections of the output reads and stall, ...
_FIRST = ("out_rd_first", "stall_first")
# ... then over the edge tiles of the innermost loop, array and DMA cycles (the latency model).
_INNER_EDGE = ("array_edge", "dma_in_edge", "dma_w_edge", "dma_out_edge")
_ROWS = {name: i for i, name in enumerate(_SUMS + _FIRST + _INNER_EDGE)}


def _tile_sum(shape: LayerShape, target: Target, tiles: _TileShapes, config: Any) -> np.ndarray:
    """Per candidate of `tiles`, the sums named by `_ROWS` ([len(_ROWS), Bg])."""
    per_tile = _PER_TILE[target.arch](shape, target, tiles, config)
    in_rd, w_rd, out_wr, out_rd = (np.asarray(v) * per_tile["scale"] for v in per_tile["traffic"])
    busy = per_tile["busy"]
    out_rd0, out_rd1 = np.broadcast_to(out_rd, (2, *np.shape(out_rd)[-tiles.ragged - 1 :]))
    stall0 = _sram_stall(target, busy, in_rd, w_rd, out_wr + out_rd0)
    stall1 = _sram_stall(target, busy, in_rd, w_rd, out_wr + out_rd1)
    loads = _load_bytes(shape, target, tiles.sizes)
    bw = float(target.dram_bw_bytes_per_cycle)
    transfers = [np.ceil(v / bw).astype(np.int64) for v in loads]
    every = (busy, per_tile["folds"], per_tile["hops"], per_tile["macs"])
    every += (in_rd, w_rd, out_wr, out_rd1, stall1, *loads, *transfers)
    sums = [tiles.sum(v) for v in every]
    sums += [tiles.sum(out_rd0 - out_rd1, tiles.first), tiles.sum(stall0 - stall1, tiles.first)]
    sums += [tiles.sum(v, tiles.inner_edge) for v in (busy + stall1, *transfers)]
    return np.stack([np.broadcast_to(v, tiles.index.shape) for v in sums])


def _visits(trips: np.ndarray, deps: np.ndarray) -> np.ndarray:
    """Vectorised `_visit_counts` for one operand: tile changes along the loop nest [B]; `trips`
    in loop order (outermost first), `deps` [B, D] whether each loop is a dim of the operand."""
    changes = deps & (trips > 1)
    innermost = trips.shape[1] - 1 - np.argmax(changes[:, ::-1], axis=1)
    prefix = np.cumprod(trips, axis=1)
    return np.where(changes.any(axis=1), prefix[np.arange(len(trips)), innermost], 1)


def _slot_chain(
    shape: LayerShape,
    sums: np.ndarray,
    inner: np.ndarray,
    trips: np.ndarray,
    tile: np.ndarray,
    extent: np.ndarray,
    repeat_out: np.ndarray,
    array_cycles: np.ndarray,
    middle_dma: np.ndarray,
    lat: int,
) -> np.ndarray:
    """Double buffering's slot chain: iteration i's loads wait for iteration i-2's compute to
    free their slot (and for its output store, queued before them on the DMA channel), so the
    iterations of one parity form a chain of compute + DMA + DRAM latency each; the latency is
    at least the longer of the two chains. Along the innermost loop (t trips) the tiles are full
    but the last; with t even every edge tile falls in one parity, so that chain holds
    (t/2 - 1) / (t - 1) of the full tiles' steps and all the edge steps, the other t/2 / (t - 1);
    otherwise the two chains are even, half of everything each."""
    rows = np.arange(len(inner))
    at = np.maximum(inner, 0)
    t = trips[rows, at]
    ragged = (inner >= 0) & (extent[at] % tile[rows, at] != 0)
    num_tiles = np.prod(trips, axis=1)
    steps = array_cycles + middle_dma + (num_tiles - 1) * lat
    # Per edge tile of the innermost loop: its compute, the loads of the operands that change
    # with the innermost dim (the output: its store and, when revisited, its partial sums).
    dims = shape.dim_names
    rel = operand_dims(shape)
    edge_steps = sums[_ROWS["array_edge"]] + (num_tiles // t) * lat
    for op, name in zip(OPERANDS, ("dma_in_edge", "dma_w_edge", "dma_out_edge"), strict=True):
        changes = np.isin(inner, [dims.index(d) for d in rel[op]])
        per_visit = 1 + (repeat_out - 1) / repeat_out if op == "output" else 1
        edge_steps = edge_steps + changes * per_visit * sums[_ROWS[name]]
    full_steps = steps - edge_steps
    with np.errstate(divide="ignore", invalid="ignore"):
        chain_a = full_steps * (t // 2) / (t - 1)
        chain_b = full_steps * (t // 2 - 1) / (t - 1) + edge_steps
    uneven = ragged & (t % 2 == 0)
    chain = np.where(uneven, np.maximum(chain_a, chain_b), steps / 2)
    return np.ceil(chain).astype(np.int64)


CHUNK = 1 << 17  # candidates per vectorised pass (bounds the temporaries)


def evaluate(
    shape: LayerShape, target: Target, candidates: CandidateBatch
) -> dict[str, np.ndarray]:
    """Every statistic of `STATISTICS` for each candidate (arrays [B])."""
    if target.arch not in ARCHS:
        raise ValueError(f"the cost model covers {', '.join(ARCHS)} targets, not '{target.arch}'")
    if len(candidates) == 0:  # the statistics' dtypes, from one whole-layer candidate
        nd = len(shape.dim_names)
        whole = CandidateBatch(
            np.zeros(1, np.int64),
            np.array([[shape.dims[d] for d in shape.dim_names]], np.int64),
            np.arange(nd)[None],
            np.zeros(1, bool),
        )
        return {name: v[:0] for name, v in _evaluate(shape, target, whole).items()}
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
    dims = shape.dim_names
    nd = len(dims)
    bw = float(target.dram_bw_bytes_per_cycle)
    lat = int(target.dram_latency_cycles)
    df = np.asarray(candidates.dataflow, np.int64)
    extent = np.array([shape.dims[d] for d in dims], np.int64)
    tile = np.clip(np.asarray(candidates.tiles, np.int64).reshape(-1, nd), 1, extent)
    order = np.asarray(candidates.order, np.int64).reshape(-1, nd)
    double = np.asarray(candidates.double_buffer, bool)
    b = tile.shape[0]
    trips = -(-extent // tile)
    num_tiles = np.prod(trips, axis=1)
    rel = operand_dims(shape)

    if target.arch == "maeri":
        spatial = candidates.spatial_factors().reshape(-1, nd)
        config, multipliers = _maeri_config(shape, target, spatial, tile)
    elif target.arch == "sigma":
        config, multipliers = None, _sigma_multipliers(shape, target, tile)
    else:
        config, multipliers = df, _systolic_pes(shape, target, df, tile)

    # -- the array and the loads: per-tile formulas summed over every tile ----------------------
    # The innermost loop dim of more than one trip (-1: a single tile).
    looping = np.take_along_axis(trips, order, axis=1) > 1
    innermost = nd - 1 - np.argmax(looping[:, ::-1], axis=1)
    inner = np.where(looping.any(axis=1), order[np.arange(b), innermost], -1)
    pieces = list(_TileShapes.pieces(dims, rel["output"], tile, extent, inner))
    sums = np.empty((len(_ROWS), b), np.int64)
    sums[:, np.concatenate([p.index for p in pieces])] = np.concatenate(
        [_tile_sum(shape, target, p, config) for p in pieces], axis=1
    )
    busy, folds, hops, macs, in_rd, w_rd, out_wr, out_rd, sram_stall = sums[:9]
    load_sum, dma_sum = sums[9:12], sums[12:15]
    # First visits of output tiles: no partial sums read (acc = 0).
    out_rd = out_rd + sums[_ROWS["out_rd_first"]]
    sram_stall = sram_stall + sums[_ROWS["stall_first"]]

    # -- DRAM: reuse analysis per operand -------------------------------------------------------
    traffic_bytes: dict[str, np.ndarray] = {}
    dma: dict[str, np.ndarray] = {}
    repeat: dict[str, np.ndarray] = {}
    trips_in_order = np.take_along_axis(trips, order, axis=1)
    for pos, op in enumerate(OPERANDS):
        deps = np.array([d in rel[op] for d in dims])
        # Sums over all tiles hold every distinct tile of the operand once per combination of
        # the independent dims' tiles.
        distinct = np.prod(trips[:, deps], axis=1)
        copies = num_tiles // distinct
        traffic_bytes[op] = load_sum[pos] // copies
        dma[op] = dma_sum[pos] // copies
        repeat[op] = _visits(trips_in_order, deps[order]) // distinct
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

    # -- buffers (dense footprints: a SIGMA tile must fit with dense weights) -------------------
    full = {d: tile[:, i] for i, d in enumerate(dims)}
    mult = np.where(double, 2, 1)
    eb = target.element_bytes
    need = [np.asarray(fp, np.int64) * eb * mult for fp in footprint_elements(shape, full)]
    if target.global_buffer == "shared":
        fits = need[0] + need[1] + need[2] <= target.shared_buffer_bytes
    else:
        fits = np.ones(b, bool)
        for op, nb in zip(OPERANDS, need, strict=True):
            fits &= nb <= target.buffer_bytes(op)

    # -- latency --------------------------------------------------------------------------------
    array_cycles = busy + sram_stall
    first_loads = _load_bytes(shape, target, full)  # the first iteration's tiles are all full
    first_load = np.ceil(first_loads[0] / bw).astype(np.int64)
    first_load = first_load + np.ceil(first_loads[1] / bw).astype(np.int64)
    last = {d: extent[i] - (trips[:, i] - 1) * tile[:, i] for i, d in enumerate(dims)}
    last_store = np.ceil(_load_bytes(shape, target, last)[2] / bw).astype(np.int64)
    middle_dma = dma_cycles - first_load - last_store
    overlap = np.maximum(array_cycles, middle_dma)
    chain = _slot_chain(
        shape, sums, inner, trips, tile, extent, repeat["output"], array_cycles, middle_dma, lat
    )
    hidden_lat = np.maximum(0, chain - overlap)
    latency_double = first_load + lat + overlap + last_store + hidden_lat
    latency_single = dma_cycles + array_cycles + num_tiles * lat
    latency = np.where(double, latency_double, latency_single)
    exposed_lat = np.where(double, lat + hidden_lat, num_tiles * lat)

    # -- derived --------------------------------------------------------------------------------
    sram_read = {"input": in_rd, "weight": w_rd, "output": out_rd + write_out}
    sram_write = {"input": read_in, "weight": read_w, "output": out_wr + read_psum}
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
        "multipliers_used": multipliers,
        "spatial_fits": multipliers <= target.num_pes,
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
