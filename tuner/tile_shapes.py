"""The tile shapes of candidate mappings, for summing per-tile costs without visiting tiles.

Along every loop dim a tile is either full (`trips - 1` of them) or the edge tile (one, of size
`extent - (trips - 1) * tile`); where the tile divides the extent every tile is full. The tiles
of a candidate therefore come in at most 2^a distinct shapes (a: its "ragged" dims, whose tile
does not divide the extent), each with a count. `TileShapes` holds them for the candidates that
share their ragged dims (small groups merged: a plain dim can be handled as ragged, its "edge"
tile then being one more full tile), as broadcastable arrays (one axis of two per ragged dim, so
a quantity of one dim is computed once per option, not per shape), and `TileShapes.sum` adds any
per-tile quantity times the counts; `first` counts the first visits of output tiles (full tiles
on the non-output dims) and `inner_edge` the edge tiles of the innermost loop. The cost model
(tuner/cost_model.py) sums its per-tile costs with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

# Tile shapes (candidates x 2^ragged) per vectorised piece: bounds the per-tile temporaries.
PIECE_SHAPES = 1 << 15


# A group of candidates costs a few hundred numpy calls, about as much as this many tile shapes:
# smaller groups are merged into a group whose ragged dims include theirs.
MERGE_SHAPES = 1024


def merged_groups(code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
class TileShapes:
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
    ) -> Iterator[TileShapes]:
        """The candidates' tile shapes, grouped by ragged dims; `inner` [B]: the innermost loop
        dim of more than one trip (-1: none), whose edge tiles `inner_edge` counts."""
        trips = -(-extent // tile)
        edge = extent - (trips - 1) * tile
        ragged = edge != tile  # [B, D]: the dims with an edge tile (trips >= 2)
        codes, group = merged_groups(ragged @ (1 << np.arange(len(dims))))
        by_group = np.argsort(group, kind="stable")
        starts = np.searchsorted(group[by_group], np.arange(len(codes)))
        ends = [*starts[1:], len(group)]
        for c, lo, hi in zip(codes, starts, ends, strict=True):
            axes = [i for i in range(len(dims)) if (int(c) >> i) & 1]
            step = max(1, PIECE_SHAPES >> len(axes))
            for at in range(lo, hi, step):
                index = by_group[at : min(at + step, hi)]
                yield TileShapes.build(dims, out_dims, axes, index, tile, edge, trips, inner)

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
    ) -> TileShapes:
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
        return TileShapes(index, len(axes), sizes, count, first, inner_edge)

    def gather(self, per_candidate: np.ndarray) -> np.ndarray:
        """A per-candidate array [B] as [Bg, 1, ...] (broadcasts against the tile shapes)."""
        return per_candidate[self.index].reshape((len(self.index),) + (1,) * self.ragged)

    def sum(self, values: Any, weight: np.ndarray | None = None) -> np.ndarray:
        """Per candidate, the sum over its tiles of a per-shape quantity ([..., Bg]); `weight`
        defaults to the tile counts (pass `first` for first visits only)."""
        x = np.asarray(values) * (self.count if weight is None else weight)
        return x.sum(axis=tuple(range(x.ndim - self.ragged, x.ndim))) if self.ragged else x
