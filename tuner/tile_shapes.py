"""The tile shapes of candidate mappings, for summing per-tile costs without visiting tiles.

Along every loop dim a tile is either full (`trips - 1` of them) or the edge tile (one, of size
`extent - (trips - 1) * tile`); where the tile divides the extent every tile is full. The tiles
of a candidate therefore come in at most 2^a distinct shapes (a: its "ragged" dims, whose tile
does not divide the extent), each with a count.

`TileShapes` holds them for candidates that have the same ragged dims (a candidate whose own
ragged dims are fewer takes the others' edge tile equal to its full tile: trips - 1 full tiles
and one more of the same size). Shapes are not listed one by one: ragged dim r (r-th in dim
order) is its own axis of length 2 (0: full tile, 1: edge tile), so arrays are [2, ..., 2, B]
with a shape axes, and a per-dim size varies along its own axis only (length 1 on the others).
numpy's broadcasting then computes a per-tile formula on just the combinations of the dims it
reads: a GEMM view axis of two ragged dims has 4 values, not 2^a.

The weights of a sum are products of one factor per ragged dim (the counts: trips - 1 full
tiles, one edge tile) and one for the plain dims, so `TileShapes.sum` multiplies a quantity by
the weight already summed over the axes the quantity does not vary along (`Weight.along`, built
once per pattern of axes) and sums the rest.
Weights: `count` (every tile), `first` (first visits of output tiles: full tiles on the
non-output dims) and `inner_edge` (the last tile of the innermost loop, where its dim is one of
the ragged dims: the edge tile, as big as a full one for a candidate that does not have it
ragged; none where it is plain).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Weight:
    """Per candidate, a weight over the tile shapes that is a product: `plain` [B] times, per
    ragged dim r, `factor[r]` [2, B] (full tile, edge tile)."""

    plain: Any
    factor: list[Any]
    _along: dict[tuple[int, ...], Any] = field(default_factory=dict, compare=False)

    def along(self, axes: tuple[int, ...]) -> Any:
        """The weight summed over the shape axes of length 1 in `axes` (one length per ragged
        dim: 2, or 1 for a quantity that does not vary along it), [*axes, B]. Built from the
        weight along `axes`' prefix (cached too: patterns share their prefixes)."""
        if axes not in self._along:
            if not axes:
                w = self.plain
            else:
                r = len(axes) - 1
                f = self.factor[r]
                if axes[r] == 1:
                    f = f[0:1] + f[1:2]
                w = self.along(axes[:-1])[..., None, :] * f
            self._along[axes] = w
        return self._along[axes]


@dataclass(frozen=True)
class TileShapes:
    """The tile shapes of B candidates with the same ragged dims (module docstring).
    sizes: per dim its tile sizes, [2 or 1, ..., 2 or 1, B]; count, first, inner_edge: the
    weights (`Weight`) of every tile, of first visits of output tiles (acc = 0), of the last
    tiles of the innermost loop (module docstring)."""

    ragged: int
    sizes: dict[str, Any]
    count: Weight
    first: Weight
    inner_edge: Weight

    @staticmethod
    def build(
        dims: tuple[str, ...],
        out_dims: tuple[str, ...],
        ragged_dims: tuple[int, ...],
        tile: Any,
        edge: Any,
        trips: Any,
        inner: Any,
    ) -> TileShapes:
        """tile, edge, trips [D, B], dim-major; ragged_dims the indices of the ragged dims (the
        shape axes, in order); inner [B] the innermost loop dim of more than one trip (-1:
        none), whose last tiles `inner_edge` counts."""
        a, b = len(ragged_dims), tile.shape[1]
        nd = len(dims)
        out = np.array([d in out_dims for d in dims])
        plain = [i for i in range(nd) if i not in ragged_dims]
        plain_out = [i for i in plain if out[i]]
        ones = np.ones(b, np.int64)
        # Plain dims: all their trips, full.
        plain_count = np.prod(trips[plain], axis=0) if plain else ones
        plain_first = np.prod(trips[plain_out], axis=0) if plain_out else ones
        sizes = {dims[i]: tile[i].reshape((1,) * a + (b,)) for i in plain}
        if a == 0:
            zero = np.zeros(b, np.int64)
            return TileShapes(0, sizes, Weight(plain_count, []), Weight(plain_first, []),
                              Weight(zero, []))  # fmt: skip
        # Ragged dim r: axis r, [full tile, edge tile]; trips - 1 full tiles and one edge tile.
        at = list(ragged_dims)
        both = np.stack([tile[at], edge[at]], axis=1)  # [a, 2, B]
        for r, i in enumerate(at):
            sizes[dims[i]] = both[r].reshape((1,) * r + (2,) + (1,) * (a - r - 1) + (b,))
        full = trips[at] - 1
        count = np.stack([full, np.broadcast_to(ones, full.shape)], axis=1)
        # First visits: every output tile, the other dims' first (full) tile only.
        is_out = out[at][:, None]
        first = np.stack([np.where(is_out, full, 1), np.broadcast_to(is_out, full.shape)], axis=1)
        # The innermost loop's last tiles: along its dim the edge tile only.
        inner_count = count.copy()
        inner_count[:, 0] *= inner != np.array(at)[:, None]
        ragged_lookup = np.zeros(nd + 1, bool)  # [-1]: no innermost loop
        ragged_lookup[at] = True
        return TileShapes(
            a,
            {d: sizes[d] for d in dims},
            Weight(plain_count, list(count)),
            Weight(plain_first, list(first)),
            Weight(plain_count * ragged_lookup[inner], list(inner_count)),
        )

    def full(self, values: Any) -> Any:
        """Per candidate, a per-shape quantity at the full tile (no dim at its edge)."""
        return _at(values, self.ragged, 0)

    def last(self, values: Any) -> Any:
        """... at the last tile (every ragged dim at its edge)."""
        return _at(values, self.ragged, -1)

    def sum(self, values: Any, weight: Weight | None = None) -> Any:
        """Per candidate ([..., B]), the sum over its tiles of a per-shape quantity ([..., 2 or
        1 per ragged dim, B], or broadcastable); `weight` defaults to the tile counts (pass
        `first` or `inner_edge`)."""
        w = self.count if weight is None else weight
        v = _shaped(values, self.ragged)
        x = v * w.along(v.shape[len(v.shape) - self.ragged - 1 : -1])
        if self.ragged == 0:
            return x
        return x.reshape(x.shape[: -self.ragged - 1] + (-1, x.shape[-1])).sum(axis=-2)


def _shaped(values: Any, a: int) -> Any:
    """`values` with at least the a shape axes and the candidates' axis."""
    v = np.asarray(values)
    return v.reshape((1,) * (a + 1 - v.ndim) + v.shape) if v.ndim < a + 1 else v


def _at(values: Any, a: int, index: int) -> Any:
    return _shaped(values, a)[(..., *(index,) * a, slice(None))]
