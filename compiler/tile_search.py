"""Buffer tiles and the default mapping (IR-free): `choose_tiles`, `default_mapping`.

- The spatial unroll is the target's family's (`Family.default_spatial`, simulator/arch/): on a
  systolic array descriptive, MAERI's spatial tile by its heuristic, none on SIGMA; so are the
  GEMM-axis floors the tiler keeps (`Family.tile_floors`).
- `choose_tiles` starts from the full extents and repeatedly halves (ceil) one dimension until
  every footprint (x2 when double-buffered) fits its global buffer. The dimension halved must
  shrink the most over-full buffer; among those it prefers (1) dims whose halving keeps the
  family's floors (systolic: the array-mapped GEMM axes and the reduction at least
  rows/cols-sized, the streamed axis at least a fold's fill and drain long; MAERI/SIGMA: a
  virtual neuron's worth of reduction) and that are not r/s, then
  (2) any dim but r/s, then (3) r/s; within a tier, the least estimated DRAM traffic for the
  mapping's loop order, then the largest drop of the over-full buffer, then the largest tile.
  The greedy runs once per best-tier first move; each result is then improved by a local search
  (double one tile, halve at most one other, while it fits) and the cheapest is kept: cost =
  (floors broken, estimated DRAM traffic `dram_traffic`, number of tile iterations).
  `double_buffer=None`: double-buffer when the target allows it (`target.double_buffer`) and the
  minimal tiles (all 1 except the fixed ones) fit twice; otherwise single-buffer.
- SIGMA tiles must fit even when their weights are dense (dense footprints). A family may offer
  other tiles for the default (`Family.default_tile_options`: SIGMA with fewer ports than
  multipliers, shorter reduction tiles); `default_mapping` keeps the one with the fewest cycles
  by the cost model (`tuner.cost_model.evaluate`) among those of at most `MAX_TILES` tile
  iterations (or `choose_tiles`' count, if more), `choose_tiles`' on a tie.
- Whether tiles fit the buffers (`buffer_ratios`, `capacity_error`) is compiler/legality.py's.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from compiler.legality import buffer_ratios, capacity_error
from simulator.program import DATAFLOWS
from simulator.target import Target
from simulator.workload import (
    DEFAULT_ORDERS,
    OPERANDS,
    LayerShape,
    Mapping,
    MappingError,
    footprint_ints,
    operand_dims,
    visit_counts,
)

# The most buffer-tile iterations a layer's default takes from a family's other tiles (more than
# `choose_tiles`' own, when it has more) and a tuned mapping may have to be simulated: a tile is
# an instruction through the IR, and compile time follows the instruction count.
MAX_TILES = 4096

# Dims the greedy tiler shrinks last (filter window: tiling it costs halo and partial sums).
_LAST_RESORT = ("r", "s")


def default_mapping(
    shape: LayerShape,
    target: Target,
    dataflow: str | None = None,
    order: tuple[str, ...] | None = None,
) -> Mapping:
    """The heuristic mapping for `target`: its dataflow (or `dataflow`), the spatial unroll
    that dataflow implies, a reuse-friendly loop order (or `order`), and tiles from
    `choose_tiles`."""
    dataflow = dataflow or target.dataflow
    if dataflow not in DATAFLOWS:
        raise MappingError(
            f"unknown dataflow '{dataflow}' (expected one of {', '.join(DATAFLOWS)})"
        )
    order = tuple(order) if order is not None else DEFAULT_ORDERS[shape.kind][dataflow]
    if sorted(order) != sorted(shape.dim_names):
        raise MappingError(
            f"loop order {' '.join(order)} is not a permutation of {' '.join(shape.dim_names)}"
        )
    start = Mapping(dataflow=dataflow, tiles=dict(shape.dims), order=order)
    mapping = choose_tiles(shape, start, target)
    options = target.family.default_tile_options(shape, mapping, target)
    if options:  # the family's other tiles, weighed by the cost model (ties: choose_tiles')
        from tuner.cost_model import CandidateBatch, evaluate

        candidates = [mapping] + [replace(mapping, tiles=tiles) for tiles in options]
        stats = evaluate(shape, target, CandidateBatch.from_mappings(shape, candidates))
        kept = np.flatnonzero(stats["num_tiles"] <= max(stats["num_tiles"][0], MAX_TILES))
        mapping = candidates[int(kept[stats["latency_cycles"][kept].argmin()])]
    return target.family.default_spatial(shape, mapping, target)


def choose_tiles(
    shape: LayerShape,
    mapping: Mapping,
    target: Target,
    fixed: dict[str, int] | None = None,
    double_buffer: bool | None = None,
) -> Mapping:
    """`mapping` with the largest tiles that fit the target's global buffers (twice, when double
    buffered; `double_buffer=None` means "where they fit twice"). Dims in `fixed` keep the given
    tile (clamped to the extent). Raises MappingError if even the fixed tiles cannot fit.

    Greedy halving; see the module docstring for the preference order."""
    fixed = {d: max(1, min(int(t), shape.dims[d])) for d, t in (fixed or {}).items()}
    unknown = sorted(set(fixed) - set(shape.dim_names))
    if unknown:
        raise MappingError(
            f"fixed tile for unknown dim '{unknown[0]}' (dims: {' '.join(shape.dim_names)})"
        )
    eb = target.element_bytes
    minimal = {d: fixed.get(d, 1) for d in shape.dim_names}
    min_fp = footprint_ints(shape, minimal)

    def scaled(fp: tuple[int, int, int], mult: int) -> tuple[int, ...]:
        return tuple(e * eb * mult for e in fp)

    if double_buffer is None:
        double_buffer = (
            target.double_buffer and capacity_error(scaled(min_fp, 2), target, 2) is None
        )
    mult = 2 if double_buffer else 1
    error = capacity_error(scaled(min_fp, mult), target, mult)
    if error is not None:
        raise MappingError(error + " even with the smallest tiles")

    order = tuple(mapping.order) if mapping.order else shape.dim_names
    free = [d for d in order if d not in fixed]
    floors = target.family.tile_floors(shape, mapping.dataflow, target)
    search = _TileSearch(shape, order, free, floors, target, eb * mult)
    full = {d: fixed.get(d, shape.dims[d]) for d in shape.dim_names}
    # The greedy halving is myopic about which dim to shrink first: start it from each of the
    # best-tier first moves and keep the cheapest refined result.
    first_moves = search.halvings(full)
    starts = [full]
    if first_moves:
        best_tier = first_moves[0][0]
        starts = [tiles for tier, tiles in first_moves if tier == best_tier]
    best: tuple[tuple[int, int, int], dict[str, int]] | None = None
    for tiles in starts:
        search.greedy(tiles)
        search.refine(tiles)
        cost = search.cost(tiles)
        if best is None or cost < best[0]:
            best = (cost, tiles)
    assert best is not None
    tiles = best[1]
    return replace(mapping, tiles=tiles, order=order, double_buffer=bool(double_buffer))


class _TileSearch:
    """The greedy halving and local search of `choose_tiles` (see the module docstring)."""

    def __init__(
        self,
        shape: LayerShape,
        order: tuple[str, ...],
        free: list[str],
        floors: list[tuple[tuple[str, ...], int]],
        target: Target,
        bytes_per_elem: int,
    ) -> None:
        self.shape, self.order, self.free, self.floors = shape, order, free, floors
        self.target, self.bytes_per_elem = target, bytes_per_elem
        self.rel = operand_dims(shape)

    def ratios(self, fp: tuple[int, int, int]) -> list[float]:
        return buffer_ratios(tuple(e * self.bytes_per_elem for e in fp), self.target)

    def fits(self, fp: tuple[int, int, int]) -> bool:
        return max(self.ratios(fp)) <= 1

    def traffic(self, tiles: dict[str, int], fp: tuple[int, int, int]) -> int:
        v_in, v_w, v_out, distinct = visit_counts(self.shape, tiles, self.order)
        return v_in * fp[0] + v_w * fp[1] + (2 * v_out - distinct) * fp[2]

    def floors_broken(self, tiles: dict[str, int]) -> int:
        return sum(math.prod(tiles[x] for x in dims) < lo for dims, lo in self.floors)

    def cost(self, tiles: dict[str, int]) -> tuple[int, int, int]:
        """(floors broken, estimated DRAM traffic, number of tile iterations): lower is better."""
        fp = footprint_ints(self.shape, tiles)
        steps = math.prod(-(-self.shape.dims[d] // tiles[d]) for d in self.order)
        return self.floors_broken(tiles), self.traffic(tiles, fp), steps

    def halvings(self, tiles: dict[str, int]) -> list[tuple[int, dict[str, int]]]:
        """(tier, tiles) for each halving that shrinks the most over-full buffer, best first;
        empty when everything fits."""
        fp = footprint_ints(self.shape, tiles)
        ratios = self.ratios(fp)
        worst = max(range(3), key=ratios.__getitem__)
        if ratios[worst] <= 1:
            return []
        ranked = []
        for pos, d in enumerate(self.free):
            t = tiles[d]
            if t == 1 or d not in self.rel[OPERANDS[worst]]:
                continue
            new = {**tiles, d: -(-t // 2)}
            new_fp = footprint_ints(self.shape, new)
            if new_fp[worst] >= fp[worst]:
                continue
            tier = 2 if d in _LAST_RESORT else 1 if self.floors_broken(new) else 0
            key = (tier, self.traffic(new, new_fp), new_fp[worst] - fp[worst], -t, pos)
            ranked.append((key, new))
        ranked.sort(key=lambda item: item[0])
        return [(key[0], new) for key, new in ranked]

    def greedy(self, tiles: dict[str, int]) -> None:
        """Halve the best candidate until everything fits (the minimal tiles are known to)."""
        while True:
            options = self.halvings(tiles)
            if not options:
                return
            tiles.update(options[0][1])

    def refine(self, tiles: dict[str, int], max_rounds: int = 16) -> None:
        """Local search after the greedy halving: moves that double one tile and halve at most
        one other (never shrinking r/s) are taken while the tiles still fit and the cost drops."""
        dims = self.shape.dims
        current = self.cost(tiles)
        for _ in range(max_rounds):
            best, best_move = current, None
            for grow in self.free:
                t_grow = tiles[grow]
                if t_grow == dims[grow]:
                    continue
                for shrink in (None, *self.free):
                    if shrink is not None and (
                        shrink == grow or tiles[shrink] == 1 or shrink in _LAST_RESORT
                    ):
                        continue
                    move = {grow: min(2 * t_grow, dims[grow])}
                    if shrink is not None:
                        move[shrink] = -(-tiles[shrink] // 2)
                    new = {**tiles, **move}
                    if self.fits(footprint_ints(self.shape, new)):
                        cost = self.cost(new)
                        if cost < best:
                            best, best_move = cost, move
            if best_move is None:
                return
            tiles.update(best_move)
            current = best
