"""The search space of one layer on one target: what the passes declare tunable, as genomes.

    space = MappingSpace(shape, target)                  # every axis the passes declare
    space = MappingSpace(shape, target, tune=("spatial",))   # the rest fixed at the default
    genomes = space.sample(rng, 1000)                    # legal points only, [n, A] int64
    batch = space.decode(genomes)                        # a tuner.cost_model.CandidateBatch
    mapping = space.mapping(genome)                      # a tiling.Mapping
    space.options(genome)                                # the pass options that reproduce it

Axes come from the passes' `tunable_options` (`AccelMapPass`: dataflow, loop order, MAERI
spatial tile; `AccelTilePass`: a tile per loop dim, double buffering), in this order:

    dataflow | tile-<d> for each dim | order | double-buffer | spatial-<d> for each dim (MAERI)

A genome holds one index per axis into that axis's values. Axes not in `tune` have one value,
the default mapping's (`tiling.default_mapping`), so the default is always a point of the space
(`space.default_genome`). A point is legal when `tiling.check_mapping` accepts it: its tiles (x2
when double-buffered) fit the global buffers and, on MAERI, every spatial factor is within its
buffer tile and the virtual neurons (plus an aux multiplier each when a tile folds without the
accumulation buffer) fit the multipliers. `legal` computes that for a whole batch at once;
`sample`, `enumerate` and the strategies only ever return legal points.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from compiler import tiling
from compiler.passes.accel_map import AccelMapPass
from compiler.passes.accel_tile import AccelTilePass
from compiler.tile_search import MAX_TILES
from compiler.tiling import LayerShape, Mapping
from simulator.memory import buffer_need, fits_buffers
from simulator.program import DATAFLOWS
from simulator.target import Target
from tuner.cost_model import CandidateBatch

AXIS_GROUPS = ("dataflow", "tiles", "order", "double_buffer", "spatial")


@dataclass(frozen=True)
class Axis:
    name: str  # "dataflow", "tile-k", "order", "double-buffer", "spatial-k"
    values: tuple[Any, ...]


class MappingSpace:
    """Legal mappings of `shape` on `target` as integer genomes (see the module docstring)."""

    def __init__(
        self,
        shape: LayerShape,
        target: Target,
        tune: tuple[str, ...] = AXIS_GROUPS,
        base: Mapping | None = None,
        max_tiles: int = MAX_TILES,
    ):
        unknown = [g for g in tune if g not in AXIS_GROUPS]
        if unknown:
            raise ValueError(f"unknown axis group '{unknown[0]}' (one of {', '.join(AXIS_GROUPS)})")
        self.shape = shape
        self.target = target
        self.dims = shape.dim_names
        self.base = base if base is not None else tiling.default_mapping(shape, target)
        base = self.base
        mapped = AccelMapPass.tunable_options(shape, target)
        tiled = AccelTilePass.tunable_options(shape, target)
        self.family = fam = target.family
        base_factors = fam.spatial_factors(shape, base)

        def axis(name: str, group: str, values: list, default: Any) -> Axis:
            if group not in tune:
                return Axis(name, (default,))
            return Axis(name, tuple(sorted(set(values) | {default}, key=values_key)))

        axes = [axis("dataflow", "dataflow", mapped["dataflow"], base.dataflow)]
        axes += [axis(f"tile-{d}", "tiles", tiled[f"tile-{d}"], base.tiles[d]) for d in self.dims]
        base_order = "".join(base.order)
        if "order" in tune:
            orders = [base_order] + [o for o in mapped["order"] if o != base_order]
            axes.append(Axis("order", tuple(orders)))
        else:
            axes.append(Axis("order", (base_order,)))
        db_values = [v == "on" for v in tiled["double-buffer"]]
        axes.append(axis("double-buffer", "double_buffer", db_values, base.double_buffer))
        # A family with a real spatial unroll (MAERI) has one spatial axis per dim.
        self.spatial = "spatial" in mapped
        if self.spatial:
            axes += [
                axis(f"spatial-{d}", "spatial", mapped["spatial"][d], base_factors[d])
                for d in self.dims
            ]
        self.axes: tuple[Axis, ...] = tuple(axes)
        self.sizes = np.array([len(a.values) for a in self.axes], np.int64)
        nd = len(self.dims)
        self._tile_axis = 1
        self._order_axis = 1 + nd
        self._db_axis = 2 + nd
        self._spatial_axis = 3 + nd
        # Lookup tables (value of option i of each axis), padded to the widest axis.
        self._dataflow = np.array([DATAFLOWS.index(v) for v in self.axes[0].values], np.int64)
        self._tiles = _table([self.axes[1 + j].values for j in range(nd)])
        self._orders = _order_table(self.dims, self.axes[self._order_axis].values)
        self._double = np.array(self.axes[self._db_axis].values, bool)
        if self.spatial:
            self._spatial = _table([self.axes[self._spatial_axis + j].values for j in range(nd)])
        self.default_genome = self.genome_of(base)
        # Buffer-tile iterations a point may have (the default's at least): each is a few
        # instructions to compile and simulate, so a million-tile point would cost minutes.
        base_tiles = math.prod(-(-shape.dims[d] // base.tiles[d]) for d in self.dims)
        self.max_tiles = max(int(max_tiles), base_tiles)

    # -- size and encoding ----------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Points of the space, legal or not (the product of the axis sizes)."""
        return math.prod(int(s) for s in self.sizes)

    def genome_of(self, mapping: Mapping) -> np.ndarray:
        """The genome of `mapping` (its values must be options of the space)."""
        factors = self.family.spatial_factors(self.shape, mapping)
        values: list[Any] = [mapping.dataflow]
        values += [min(mapping.tiles[d], self.shape.dims[d]) for d in self.dims]
        values += ["".join(mapping.order), mapping.double_buffer]
        if self.spatial:
            values += [factors[d] for d in self.dims]
        try:
            return np.array([a.values.index(v) for a, v in zip(self.axes, values, strict=True)])
        except ValueError:
            raise ValueError(f"mapping {mapping.to_dict()} is not a point of this space") from None

    def decode(self, genomes: np.ndarray) -> CandidateBatch:
        g = np.asarray(genomes, np.int64).reshape(-1, len(self.axes))
        nd = len(self.dims)
        cols = np.arange(nd)
        tiles = self._tiles[cols, g[:, self._tile_axis : self._tile_axis + nd]]
        spatial = None
        if self.spatial:
            spatial = self._spatial[cols, g[:, self._spatial_axis : self._spatial_axis + nd]]
        return CandidateBatch(
            dataflow=self._dataflow[g[:, 0]],
            tiles=tiles,
            order=self._orders[g[:, self._order_axis]],
            double_buffer=self._double[g[:, self._db_axis]],
            spatial=spatial,
        )

    def mapping(self, genome: np.ndarray) -> Mapping:
        return self.decode(np.asarray(genome)[None]).mapping(self.shape, 0, self.target)

    def options(self, genome: np.ndarray) -> str:
        """The pass options that compile this point for the layer, e.g.
        `accel-map{dataflow=os order=gknyxcrs},accel-tile{tile-k=8 ... double-buffer=on}`."""
        m = self.mapping(genome)
        map_opts = [f"dataflow={m.dataflow}", f"order={''.join(m.order)}"]
        if self.spatial:
            factors = self.family.spatial_factors(self.shape, m)
            map_opts.append('spatial="{}"'.format(" ".join(f"{d}={f}" for d, f in factors.items())))
        tile_opts = [f"tile-{d}={m.tiles[d]}" for d in self.dims]
        tile_opts.append(f"double-buffer={'on' if m.double_buffer else 'off'}")
        return f"accel-map{{{' '.join(map_opts)}}},accel-tile{{{' '.join(tile_opts)}}}"

    # -- legality -------------------------------------------------------------------------------

    def tile_count(self, genome: np.ndarray) -> int:
        """Iterations of the point's buffer-tile loop nest (the tuner simulates only points of
        at most `max_tiles`: each iteration is a few instructions to compile and simulate)."""
        tiles = self.decode(np.asarray(genome)[None]).tiles[0]
        return math.prod(
            -(-self.shape.dims[d] // int(t)) for d, t in zip(self.dims, tiles, strict=True)
        )

    def legal(self, genomes: np.ndarray) -> np.ndarray:
        """[n] bool: the points `tiling.check_mapping` accepts (see the module docstring)."""
        batch = self.decode(genomes)
        return self.legal_batch(batch)

    def legal_batch(self, batch: CandidateBatch) -> np.ndarray:
        shape, target = self.shape, self.target
        tiles = {d: batch.tiles[:, j] for j, d in enumerate(self.dims)}
        need = buffer_need(shape, tiles, target, batch.double_buffer)
        ok = np.broadcast_to(fits_buffers(need, target), (len(batch),)).copy()
        if self.spatial:  # factors within their tiles, and the family's limits (MAERI: the
            # multipliers the virtual neurons take)
            ok &= np.all(batch.spatial_factors() <= batch.tiles, axis=1)
            part = self.family.spatial_batch(
                shape,
                target,
                batch.tiles,
                batch.spatial_factors(),
                batch.dataflow,
                with_config=False,
            )
            ok &= part.legal
        return ok

    # -- generating points ----------------------------------------------------------------------

    def sample(self, rng: np.random.Generator, n: int, max_rounds: int = 64) -> np.ndarray:
        """Up to n legal points drawn at random (fewer only when legal points are very rare).
        MAERI spatial factors are drawn dim by dim within the multipliers left, so that large
        layers do not need millions of draws to find a spatial tile that fits."""
        found: list[np.ndarray] = []
        count = 0
        for _ in range(max_rounds):
            want = max(2 * (n - count), 64)
            g = rng.integers(0, self.sizes, size=(want, len(self.axes)))
            if self.spatial:
                g = self._draw_spatial(rng, g)
            g = g[self.legal(g)]
            found.append(g)
            count += len(g)
            if count >= n:
                break
        out = np.concatenate(found) if found else np.zeros((0, len(self.axes)), np.int64)
        return out[:n]

    def _draw_spatial(self, rng: np.random.Generator, g: np.ndarray) -> np.ndarray:
        """Redraw the spatial axes of `g`: in a random dim order, each factor uniformly among its
        options within the dim's tile and the multipliers not yet used."""
        nd = len(self.dims)
        n = g.shape[0]
        tiles = self.decode(g).tiles
        budget = np.full(n, self.target.num_pes, np.int64)
        rows = np.arange(n)
        for j in np.argsort(rng.random((n, nd)), axis=1).T:
            a = self._spatial_axis + j
            table = self._spatial[j]  # [n, W] the options of each row's dim
            limit = np.minimum(tiles[rows, j], budget)
            allowed = (table <= limit[:, None]) & (
                np.arange(table.shape[1]) < self.sizes[a][:, None]
            )
            count = allowed.sum(axis=1)
            pick = (rng.random(n) * count).astype(np.int64)
            g[rows, a] = np.minimum(pick, self.sizes[a] - 1)
            budget = budget // np.maximum(table[rows, g[rows, a]], 1)
        return g

    def enumerate(self, start: int = 0, count: int | None = None) -> np.ndarray:
        """The points with mixed-radix index in [start, start + count) (legal or not): the
        exhaustive strategy walks the space with it and keeps the legal ones."""
        return mixed_radix(self.sizes, start, count)

    def neighbours(
        self, genomes: np.ndarray, rng: np.random.Generator, steps: int = 1
    ) -> np.ndarray:
        """Each genome with `steps` random axes moved: to an adjacent option (tiles, factors:
        the next larger or smaller value), or to any option (dataflow, order, double buffering)."""
        g = np.array(genomes, np.int64, copy=True).reshape(-1, len(self.axes))
        n = g.shape[0]
        movable = np.flatnonzero(self.sizes > 1)
        if len(movable) == 0:
            return g
        rows = np.arange(n)
        for _ in range(steps):
            a = movable[rng.integers(0, len(movable), n)]
            size = self.sizes[a]
            ordinal = (a >= self._tile_axis) & (a < self._order_axis) | (a >= self._spatial_axis)
            step = np.where(rng.random(n) < 0.5, -1, 1) * rng.integers(1, 3, n)
            moved = np.clip(g[rows, a] + step, 0, size - 1)
            jump = rng.integers(0, size)
            g[rows, a] = np.where(ordinal, moved, jump)
        return g


@functools.lru_cache(maxsize=64)
def _order_table(dims: tuple[str, ...], orders: tuple[str, ...]) -> np.ndarray:
    """[len(orders), D] dim indices of each order string."""
    lookup = {c: i for i, c in enumerate(dims)}
    return np.array([[lookup[c] for c in o] for o in orders], np.int64).reshape(-1, len(dims))


def mixed_radix(sizes: np.ndarray, start: int = 0, count: int | None = None) -> np.ndarray:
    """Genomes [n, A] with mixed-radix index in [start, start + count) over axes of `sizes`
    (the last axis varies fastest), clipped to the space."""
    size = math.prod(int(s) for s in sizes)
    end = size if count is None else min(size, start + count)
    index = np.arange(start, end, dtype=np.int64)
    g = np.empty((len(index), len(sizes)), np.int64)
    for a in range(len(sizes) - 1, -1, -1):
        g[:, a] = index % sizes[a]
        index = index // sizes[a]
    return g


def values_key(v: Any) -> Any:
    """Sort key keeping an axis's values in their natural order (numbers, then strings)."""
    return (0, v, "") if isinstance(v, int | float | bool) else (1, 0, str(v))


def _table(columns: list[tuple[Any, ...]]) -> np.ndarray:
    """[D, W] int64: column j's values, padded with its last value."""
    width = max(len(c) for c in columns)
    return np.array([list(c) + [c[-1]] * (width - len(c)) for c in columns], np.int64)
