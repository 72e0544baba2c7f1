"""The tile shapes of candidate mappings, for summing per-tile costs without visiting tiles.

Along every loop dim a tile is either full (`trips - 1` of them) or the edge tile (one, of size
`extent - (trips - 1) * tile`); where the tile divides the extent every tile is full. The tiles
of a candidate therefore come in at most 2^a distinct shapes (a: its "ragged" dims, whose tile
does not divide the extent), each with a count.

`TileShapes` holds them for candidates that have the same NUMBER of ragged dims, whichever dims
those are, as arrays [2^a, B]: shape s of a candidate takes the edge tile along its r-th ragged
dim iff bit r of s is set (`ragged_rank` says which dim is the r-th, per candidate, as data). One
layout per a, so the cost model (tuner/cost_model.py) runs one vectorised numpy pass per a.
`TileShapes.sum` adds any per-shape quantity times the counts; `first` counts the first visits
of output tiles (full tiles on the non-output dims) and `inner_edge` the edge tiles of the
innermost loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


def ragged_rank(ragged: np.ndarray) -> np.ndarray:
    """Per candidate and dim, the dim's rank among the candidate's ragged dims (-1: not ragged):
    `ragged` [B, D] bool."""
    return np.where(ragged, np.cumsum(ragged, axis=1) - 1, -1)


@dataclass(frozen=True)
class TileShapes:
    """The 2^ragged tile shapes of B candidates with `ragged` ragged dims each (module
    docstring), arrays [2^ragged, B]. sizes: per dim the tile size; count: how many tiles have
    each shape; first: how many of those are the first visit of their output tile (acc = 0);
    inner_edge: how many are the edge tile of the innermost loop (0 where it is not ragged)."""

    ragged: int
    sizes: dict[str, Any]
    count: Any
    first: Any
    inner_edge: Any

    @staticmethod
    def build(
        dims: tuple[str, ...],
        out_dims: tuple[str, ...],
        ragged: int,
        tile: Any,
        edge: Any,
        trips: Any,
        rank: Any,
        inner: Any,
    ) -> TileShapes:
        """tile, edge, trips, rank [D, B], dim-major (rank: `ragged_rank`); inner [B] the
        innermost loop dim of more than one trip (-1: none), whose edge tiles `inner_edge`
        counts."""
        b = tile.shape[1]
        out = np.array([d in out_dims for d in dims])
        if ragged == 0:  # one shape: every tile full
            count = np.prod(trips, axis=0, keepdims=True)
            return TileShapes(
                0,
                {d: tile[i][None] for i, d in enumerate(dims)},
                count,
                np.prod(trips[out], axis=0)[None],
                np.zeros((1, b), np.int64),
            )
        s = np.arange(1 << ragged, dtype=np.int64)[:, None]

        def takes_edge(r: Any) -> Any:  # r [B]: a ragged rank or -1
            return (r >= 0) & (((s >> np.maximum(r, 0)) & 1) == 1)

        sizes: dict[str, Any] = {}
        count: Any = 1
        first: Any = 1
        for i, d in enumerate(dims):
            if not (rank[i] >= 0).any():  # plain for every candidate: all its trips, full
                sizes[d] = tile[i][None]
                count = count * trips[i]
                if out[i]:
                    first = first * trips[i]
                continue
            at_edge = takes_edge(rank[i])
            sizes[d] = np.where(at_edge, edge[i], tile[i])
            # Plain dim: all its trips; ragged: trips - 1 full tiles, one edge tile.
            dim_count = np.where(rank[i] < 0, trips[i], np.where(at_edge, 1, trips[i] - 1))
            count = count * dim_count
            # First visits: every output tile, the other dims at their first (full) tile.
            first = first * (dim_count if out[i] else ~at_edge)
        inner_rank = np.where(inner >= 0, rank[np.maximum(inner, 0), np.arange(b)], -1)
        inner_edge = count * takes_edge(inner_rank)
        return TileShapes(ragged, sizes, count, first, inner_edge)

    def sum(self, values: Any, weight: Any = None) -> Any:
        """Per candidate, the sum over its tiles of a per-shape quantity ([..., 2^a, B] or
        broadcastable); `weight` defaults to the tile counts (pass `first` for first visits)."""
        x = values * (self.count if weight is None else weight)
        return x[..., 0, :] if x.shape[-2] == 1 else np.sum(x, axis=-2)
