"""`TileShapes` against the tile loop nest enumerated tile by tile."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tuner.tile_shapes import TileShapes

DIMS = ("a", "b", "c", "d")
OUT_DIMS = ("a", "c")


def _per_tile(size: dict[str, int]) -> int:
    """A quantity that is not a product of per-dim terms."""
    return (size["a"] * size["b"] + 3) * -(-size["c"] // 2) + max(size["d"], size["a"]) ** 2


def _quantity(sizes: dict[str, np.ndarray]) -> np.ndarray:
    return (sizes["a"] * sizes["b"] + 3) * -(-sizes["c"] // 2) + np.maximum(
        sizes["d"], sizes["a"]
    ) ** 2


@st.composite
def _candidates(draw):
    extents = draw(st.lists(st.integers(1, 9), min_size=4, max_size=4))
    b = draw(st.integers(1, 5))
    tiles = [[draw(st.integers(1, e)) for e in extents] for _ in range(b)]
    inner = [draw(st.integers(-1, 3)) for _ in range(b)]
    # Ragged dims of the group: at least every candidate's own, maybe more.
    extra = draw(st.lists(st.booleans(), min_size=4, max_size=4))
    return extents, tiles, inner, extra


@settings(max_examples=150, deadline=None)
@given(_candidates())
def test_sums_equal_the_enumerated_tiles(case):
    extents, tiles, inner, extra = case
    extent = np.array(extents)[:, None]
    tile = np.array(tiles).T
    trips = -(-extent // tile)
    edge = extent - (trips - 1) * tile
    own = (extent % tile != 0).any(axis=1)
    ragged = tuple(i for i in range(4) if own[i] or extra[i])
    shapes = TileShapes.build(DIMS, OUT_DIMS, ragged, tile, edge, trips, np.array(inner))
    got = {
        "count": shapes.sum(_quantity(shapes.sizes)),
        "first": shapes.sum(_quantity(shapes.sizes), shapes.first),
        "inner_edge": shapes.sum(_quantity(shapes.sizes), shapes.inner_edge),
        "ones": shapes.sum(1),
    }
    for j, t in enumerate(tiles):
        want = dict.fromkeys(got, 0)
        starts = [range(0, e, size) for e, size in zip(extents, t, strict=True)]
        for start in itertools.product(*starts):
            size = {d: min(t[i], extents[i] - start[i]) for i, d in enumerate(DIMS)}
            value = _per_tile(size)
            want["count"] += value
            want["ones"] += 1
            # First visit of an output tile: the non-output dims at their first tile.
            if all(start[i] == 0 for i, d in enumerate(DIMS) if d not in OUT_DIMS):
                want["first"] += value
            # The last tile of the innermost loop, where its dim is one of the group's ragged
            # dims (a candidate's own, or one it takes as ragged: an edge tile as big as full).
            k = inner[j]
            if k in ragged and start[k] + t[k] >= extents[k]:
                want["inner_edge"] += value
        for name, values in got.items():
            assert int(values[j]) == want[name], name
        full = {d: t[i] for i, d in enumerate(DIMS)}
        last = {d: extents[i] - (-(-extents[i] // t[i]) - 1) * t[i] for i, d in enumerate(DIMS)}
        assert int(shapes.full(_quantity(shapes.sizes))[j]) == _per_tile(full)
        assert int(shapes.last(_quantity(shapes.sizes))[j]) == _per_tile(last)
