"""The tile-level program of one layer and its lowering to instructions (IR-free).

`accel-tile` writes a layer's loop nest over buffer-level tiles as `accel.tiled` (dialects/accel.py);
`accel-emit` reads that body back into a `LoopNest` and lowers it here, op by op. Nothing in the
lowering looks at the mapping's tiles or loop order: the nest is the program. The tuner builds the
same `LoopNest` with `build_nest` and lowers it with `lower`, so its streams are the compiler's.

A `LoopNest` is a perfect nest: `loops` (outermost first, one per dim at most), and at every depth
(0 = outside every loop, len(loops) = the innermost body, around the compute) the transfers before
the nested loop (or the compute) and those after it. Their meaning, which `lower` implements:

- `load X` (before) fires at the start of every iteration of its enclosing loop, i.e. whenever the
  loops inside it are all at their first tile; it loads the current tile of operand X (input with
  its halo, weight, or - for `output` - the partial sums of an output tile computed before; on an
  output tile's first visit there are none and nothing is loaded). The tile's coordinates must be
  fixed while the loads' data is used: a loop inside the load over a dim X's tile depends on is an
  error naming the load (the compute would read a tile no load filled).
- `store output` (after) fires at the end of every iteration of its enclosing loop, i.e. when the
  loops inside it are all at their last tile; it stores the output slot. An output tile replaced
  before a store saved it, an output tile revisited (a reduction loop outside an output loop)
  without a `load output` to bring its partial sums back, and a layer without any store are errors.
- the compute runs the current tile: `acc` is off on the first compute of each output tile (it
  starts from the bias), on after. Edge tiles are clipped to the extent.
- double buffering: a transfer's `double_buffer` alternates its operand's slot (0, 1) with every
  new tile; all transfers of a layer must agree (the footprint check doubles every tile).

Instruction order: between two computes the emitter issues the loads that fire there in operand
order (input, weight, partial sums), and the stores of the previous output tile after the loads
when double-buffered (so the prefetch is not queued behind the store on the DMA channel) or before
them when single-buffered (the slot is reused), and before them too when a reload of partial sums
in the same window targets the slot the store reads. Transfers between two computes touch different
buffers or slots, so this order does not change what the program computes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from compiler import tiling
from simulator.errors import AccelflowError
from simulator.program import (
    BUF_INPUT,
    BUF_OUTPUT,
    BUF_WEIGHT,
    DATAFLOWS,
    KIND_CODES,
    OP_COMPUTE,
    OP_CONFIG,
    OP_LOAD,
    OP_STORE,
    ROW,
)
from simulator.target import Target

OPERANDS = tiling.OPERANDS
LOAD, STORE = "load", "store"
BUFFER_OF = {"input": BUF_INPUT, "weight": BUF_WEIGHT, "output": BUF_OUTPUT}
# Issue order of the loads between two computes (the stores go first or last: see above).
LOAD_RANK = {"input": 1, "weight": 2, "output": 3}


class NestError(AccelflowError):
    """A loop nest that is not a valid program for its layer; the message names the op."""


@dataclass(frozen=True)
class Transfer:
    """A tile load or store in the nest. `label` names it in errors (its IR op)."""

    kind: str  # "load" | "store"
    operand: str  # "input" | "weight" | "output"
    double_buffer: bool
    label: str = ""

    def name(self) -> str:
        return self.label or f'accel.tile_{self.kind} "{self.operand}"'


@dataclass(frozen=True)
class Loop:
    dim: str
    tile: int
    label: str = ""

    def name(self) -> str:
        return self.label or f'accel.tile_for "{self.dim}"'


@dataclass(frozen=True)
class LoopNest:
    """One layer's loop nest over buffer tiles (see the module docstring)."""

    loops: tuple[Loop, ...]
    before: tuple[tuple[Transfer, ...], ...]  # per depth 0..len(loops)
    after: tuple[tuple[Transfer, ...], ...]  # per depth 0..len(loops)
    compute_label: str = field(default="accel.tile_compute")

    def transfers(self) -> list[tuple[int, bool, Transfer]]:
        """(depth, before?, transfer) of every transfer, in program order of one iteration."""
        out = [(d, True, t) for d, ts in enumerate(self.before) for t in ts]
        out += [(d, False, t) for d in reversed(range(len(self.after))) for t in self.after[d]]
        return out


def build_nest(shape: tiling.LayerShape, mapping: tiling.Mapping) -> LoopNest:
    """The loop nest of `mapping`: a loop per dim with more than one tile, in the mapping's order;
    a load of input / weight at the top of the innermost loop over a dim it depends on (outside
    every loop if none), so its reuse across the inner loops is visible; the store of the output
    at the end of the innermost loop over an output dim, and - when a reduction loop encloses that
    loop - the reload of its partial sums at its top."""
    tiles = {d: min(mapping.tiles[d], shape.dims[d]) for d in shape.dim_names}
    loops = [d for d in mapping.order if -(-shape.dims[d] // tiles[d]) > 1]
    deps = tiling.operand_dims(shape)

    def level(dims: tuple[str, ...]) -> int:
        """Depth of the innermost loop over one of `dims` (0: outside every loop)."""
        return max((i + 1 for i, d in enumerate(loops) if d in dims), default=0)

    db = mapping.double_buffer
    before: list[list[Transfer]] = [[] for _ in range(len(loops) + 1)]
    after: list[list[Transfer]] = [[] for _ in range(len(loops) + 1)]
    for op in ("input", "weight"):
        before[level(deps[op])].append(Transfer(LOAD, op, db))
    store_at = level(deps["output"])
    reductions = tiling.reduction_dims(shape)
    if any(d in reductions for d in loops[: max(store_at - 1, 0)]):
        before[store_at].append(Transfer(LOAD, "output", db))
    after[store_at].append(Transfer(STORE, "output", db))
    return LoopNest(
        loops=tuple(Loop(d, tiles[d]) for d in loops),
        before=tuple(tuple(ts) for ts in before),
        after=tuple(tuple(ts) for ts in after),
    )


def check_nest(shape: tiling.LayerShape, nest: LoopNest) -> bool:
    """Check the nest's structure against the layer; returns its double buffering."""
    dims = shape.dim_names
    seen: dict[str, Loop] = {}
    for loop in nest.loops:
        if loop.dim not in dims:
            raise NestError(f"{loop.name()}: the layer has no dim '{loop.dim}' ({' '.join(dims)})")
        if loop.dim in seen:
            raise NestError(
                f"{loop.name()}: dim '{loop.dim}' is already tiled by an enclosing loop "
                "(one loop per dim: tiles must cover the layer exactly once)"
            )
        if not 1 <= loop.tile <= shape.dims[loop.dim]:
            raise NestError(
                f"{loop.name()}: tile {loop.tile} is outside [1, {shape.dims[loop.dim]}]"
            )
        seen[loop.dim] = loop
    depth = len(nest.loops) + 1
    if len(nest.before) != depth or len(nest.after) != depth:
        raise NestError(f"loop nest of {len(nest.loops)} loops needs {depth} levels of transfers")
    flags = set()
    for _, is_before, t in nest.transfers():
        if t.operand not in OPERANDS:
            raise NestError(f"{t.name()}: unknown operand '{t.operand}'")
        if t.kind == LOAD and not is_before:
            raise NestError(
                f"{t.name()}: a load must come before the loop (or compute) that reads it"
            )
        if t.kind == STORE and (is_before or t.operand != "output"):
            raise NestError(
                f"{t.name()}: only the output is stored, after the loop (or compute) that writes it"
            )
        flags.add(t.double_buffer)
    if len(flags) > 1:
        raise NestError(
            "the tile transfers disagree on double buffering "
            f"({', '.join(t.name() + ' ' + str(t.double_buffer).lower() for _, _, t in nest.transfers())}): "
            "a layer is double-buffered throughout or not at all"
        )
    return flags.pop() if flags else False


def nest_mapping(
    shape: tiling.LayerShape,
    nest: LoopNest,
    dataflow: str,
    spatial: dict[str, tuple[str, int]] | None = None,
) -> tiling.Mapping:
    """The mapping the nest implements: its tiles (the full extent for a dim without a loop), its
    loop order (the loops, then the untiled dims), its double buffering."""
    double = check_nest(shape, nest)
    tiles = dict(shape.dims)
    tiles.update({loop.dim: loop.tile for loop in nest.loops})
    looped = [loop.dim for loop in nest.loops]
    order = (*looped, *(d for d in shape.dim_names if d not in looped))
    return tiling.Mapping(
        dataflow=dataflow,
        tiles=tiles,
        order=order,
        spatial=dict(spatial or {}),
        double_buffer=double,
    )


# --- lowering ------------------------------------------------------------------------------------


@dataclass
class _Iterations:
    """Every iteration of the nest: loop indices, per-dim tile offsets and sizes."""

    idx: np.ndarray  # [total, len(loops)]
    trips: np.ndarray  # [len(loops)]
    off: np.ndarray  # [total, ndim]
    size: np.ndarray  # [total, ndim]

    @property
    def total(self) -> int:
        return int(self.idx.shape[0])

    def first_at(self, depth: int) -> np.ndarray:
        """True where every loop at `depth` or deeper is at its first tile."""
        return (self.idx[:, depth:] == 0).all(axis=1)

    def last_at(self, depth: int) -> np.ndarray:
        """True where every loop at `depth` or deeper is at its last tile."""
        return (self.idx[:, depth:] == self.trips[depth:] - 1).all(axis=1)


def _iterations(shape: tiling.LayerShape, nest: LoopNest) -> _Iterations:
    dims = shape.dim_names
    extent = np.array([shape.dims[d] for d in dims], dtype=np.int64)
    tile = extent.copy()
    for loop in nest.loops:
        tile[dims.index(loop.dim)] = loop.tile
    trips = np.array([-(-shape.dims[lp.dim] // lp.tile) for lp in nest.loops], dtype=np.int64)
    total = int(np.prod(trips)) if len(trips) else 1
    iteration = np.arange(total, dtype=np.int64)
    idx = np.empty((total, len(trips)), dtype=np.int64)
    coords = np.zeros((total, len(dims)), dtype=np.int64)
    stride = 1
    for depth in reversed(range(len(trips))):
        idx[:, depth] = (iteration // stride) % trips[depth]
        coords[:, dims.index(nest.loops[depth].dim)] = idx[:, depth]
        stride *= int(trips[depth])
    off = coords * tile
    size = np.minimum(tile, extent - off)
    return _Iterations(idx=idx, trips=trips, off=off, size=size)


def _check_operand_loads(
    shape: tiling.LayerShape, nest: LoopNest, its: _Iterations, operand: str
) -> list[tuple[int, Transfer]]:
    """The (depth, load) of `operand`, checked: one at least, and the deepest (the one each
    compute reads) inside every loop over a dim the operand's tile depends on."""
    loads = [(d, t) for d, ts in enumerate(nest.before) for t in ts if t.operand == operand]
    loads = [(d, t) for d, t in loads if t.kind == LOAD]
    if not loads:
        raise NestError(
            f"{nest.compute_label} reads the {operand} tile, but no accel.tile_load "
            f'"{operand}" fills its buffer'
        )
    depth, load = max(loads, key=lambda item: item[0])
    deps = tiling.operand_dims(shape)[operand]
    for inner in nest.loops[depth:]:
        if inner.dim in deps and its.trips[nest.loops.index(inner)] > 1:
            raise NestError(
                f"{load.name()} loads one {operand} tile for every '{inner.dim}' tile of the "
                f"loop inside it: the compute would read {operand} tiles no load filled (move it "
                f'inside accel.tile_for "{inner.dim}")'
            )
    return loads


def lower(
    shape: tiling.LayerShape,
    nest: LoopNest,
    mapping: tiling.Mapping,
    target: Target,
    layer_index: int,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Instruction rows (int64 [n, simulator.program.ROW.num_columns]) of the nest: a CONFIG (the
    mapping's dataflow and, on MAERI, its virtual neurons), then the nest's transfers and
    computes in program order (see the module docstring). `mapping` must be `nest_mapping`'s
    (dataflow, spatial tile and the tiles the config needs). `weights` (the layer's weight
    constant or None): on a SIGMA target, each COMPUTE's bitmap statistics and each weight
    LOAD's compressed size come from it."""
    double = check_nest(shape, nest)
    its = _iterations(shape, nest)
    total = its.total
    dims = shape.dim_names
    eb = target.element_bytes
    for operand in ("input", "weight"):
        _check_operand_loads(shape, nest, its, operand)

    # Output tiles: a new visit where the output coordinates change.
    rel = {op: [dims.index(d) for d in ds] for op, ds in tiling.operand_dims(shape).items()}
    out_idx = its.off[:, rel["output"]]
    new_out = np.ones(total, dtype=bool)
    new_out[1:] = (np.diff(out_idx, axis=0) != 0).any(axis=1)
    out_id = np.unique(out_idx, axis=0, return_inverse=True)[1].reshape(-1)
    first = np.zeros(total, dtype=bool)
    first[np.unique(out_id, return_index=True)[1]] = True
    acc = (~first).astype(np.int64)

    # Where each transfer fires: (iteration, window, rank, buffer, transfer).
    events: list[tuple[np.ndarray, np.ndarray, Transfer, int]] = []
    stores_after = np.zeros(total, dtype=bool)
    psum_at = np.zeros(total, dtype=bool)
    for order_key, (depth, is_before, t) in enumerate(nest.transfers()):
        fires = its.first_at(depth) if is_before else its.last_at(depth)
        at = np.flatnonzero(fires)
        if t.kind == LOAD and t.operand == "output":
            psum_at |= fires
            at = at[acc[at] == 1]  # a first visit has no partial sums to reload
        if t.kind == STORE:
            stores_after |= fires
        events.append((at, np.full(len(at), order_key), t, depth))
    if not stores_after.any():
        raise NestError(f'{nest.compute_label}: no accel.tile_store "output" stores its results')
    lost = np.flatnonzero(new_out[1:] & ~stores_after[:-1])
    if len(lost):
        it = int(lost[0]) + 1
        stores = [t for _, _, t, _ in events if t.kind == STORE]
        changed = [dims[i] for i in rel["output"] if its.off[it, i] != its.off[it - 1, i]]
        raise NestError(
            f"{stores[0].name()}: the output tile changes with the '{changed[0]}' tiles before "
            "this store saves it (results lost): put the store inside the loop over "
            f"'{changed[0]}'"
        )
    missing = np.flatnonzero(new_out & (acc == 1) & ~psum_at)
    if len(missing):
        raise NestError(
            f"{nest.compute_label}: an output tile is revisited (a reduction loop encloses an "
            'output loop) but no accel.tile_load "output" reloads its partial sums there'
        )
    clobbered = np.flatnonzero(psum_at[1:] & ~new_out[1:] & ~stores_after[:-1] & (acc[1:] == 1))
    if len(clobbered):
        loads = [t for _, _, t, _ in events if t.kind == LOAD and t.operand == "output"]
        raise NestError(
            f"{loads[0].name()}: reloads an output tile's partial sums while newer ones in its "
            "slot are not stored (results lost)"
        )

    # Slots: each new tile of an operand alternates its slot when double-buffered; a compute
    # reads the slot of its operand's latest load.
    load_slots: dict[int, np.ndarray] = {}  # event index -> slot of each of its loads
    computes_slot = {}
    for operand in ("input", "weight"):
        mine = [
            i for i, (_, _, t, _) in enumerate(events) if t.kind == LOAD and t.operand == operand
        ]
        at = np.concatenate([events[i][0] for i in mine])
        owner = np.concatenate([np.full(len(events[i][0]), i) for i in mine])
        order = np.lexsort((np.concatenate([events[i][1] for i in mine]), at))
        slot = np.empty(len(at), dtype=np.int64)
        slot[order] = np.arange(len(at)) % 2 if double else 0
        for i in mine:
            load_slots[i] = slot[owner == i]
        count = np.bincount(at, minlength=total)
        computes_slot[operand] = (np.cumsum(count) - 1) % 2 if double else np.zeros(total, np.int64)
    s_in, s_w = computes_slot["input"], computes_slot["weight"]
    s_out = (np.cumsum(new_out) - 1) % 2 if double else np.zeros(total, dtype=np.int64)

    # Bytes moved per iteration's tiles.
    sizes = {d: its.size[:, i] for i, d in enumerate(dims)}
    fp_in, fp_w, fp_out = (
        np.broadcast_to(v, (total,)) * eb for v in tiling.footprint_elements(shape, sizes)
    )
    # The family's COMPUTE fields from the weights (SIGMA: bitmap statistics) and what its
    # LOADs move (SIGMA: bitmap-compressed weights, and activations if declared).
    fam = target.family
    compute_fields, w_nnz = fam.compute_values(shape, target, weights, its.off, its.size)
    fp_in, fp_w, fp_out = fam.load_bytes(shape, target, [fp_in, fp_w, fp_out], sizes, w_nnz)

    # Program order: window w holds what comes between compute w-1 and compute w (the stores
    # after w-1, the loads before w); the last window follows the last compute.
    # A reload of partial sums into the slot a store in the same window reads (an output tile
    # reloaded without moving to the other slot) must wait for that store: stores go first there.
    reloads = np.zeros(total + 1, dtype=bool)
    for at, _, t, _ in events:
        if t.kind == LOAD and t.operand == "output":
            reloads[at] = True
    same_slot = np.zeros(total + 1, dtype=bool)
    same_slot[1:total] = s_out[1:] == s_out[:-1]
    stores_first = reloads & same_slot
    store_rank = 4 if double else 0
    blocks = []
    keys = []
    for i, (at, order_key, t, _) in enumerate(events):
        if not len(at):
            continue
        tile = {"layer": layer_index, "off": its.off[at], "size": its.size[at]}
        if t.kind == LOAD:
            block = ROW.encode(
                len(at),
                opcode=OP_LOAD,
                buffer=BUFFER_OF[t.operand],
                slot=load_slots[i] if t.operand != "output" else s_out[at],
                bytes={"input": fp_in, "weight": fp_w, "output": fp_out}[t.operand][at],
                **tile,
            )
            window, rank = at, LOAD_RANK[t.operand]
        else:
            block = ROW.encode(len(at), opcode=OP_STORE, slot=s_out[at], bytes=fp_out[at], **tile)
            window = at + 1
            rank = np.where(stores_first[window], 0, store_rank)
        blocks.append(block)
        keys.append(np.stack([window, np.broadcast_to(rank, len(at)), order_key], axis=1))
    reps, m, n, k = tiling.gemm_view(shape, sizes)
    compute = ROW.encode(
        total,
        opcode=OP_COMPUTE,
        layer=layer_index,
        dataflow=DATAFLOWS.index(mapping.dataflow),
        s_in=s_in,
        s_w=s_w,
        s_out=s_out,
        acc=acc,
        reps=reps,
        m=m,
        n=n,
        k=k,
        off=its.off,
        size=its.size,
        **compute_fields,
    )
    blocks.append(compute)
    keys.append(np.stack([np.arange(total), np.full(total, 5), np.zeros(total, np.int64)], axis=1))
    body = np.concatenate(blocks)
    key = np.concatenate(keys)
    body = body[np.lexsort((key[:, 2], key[:, 1], key[:, 0]))]
    return np.concatenate([config_row(shape, mapping, target, layer_index), body])


def config_row(
    shape: tiling.LayerShape, mapping: tiling.Mapping, target: Target, layer_index: int
) -> np.ndarray:
    """The layer's CONFIG row: dataflow, kind, stride and the family's fields (MAERI: the
    spatial tile, `Family.config_values`)."""
    return ROW.encode(
        1,
        opcode=OP_CONFIG,
        dataflow=DATAFLOWS.index(mapping.dataflow),
        layer=layer_index,
        kind=KIND_CODES[shape.kind],
        stride=shape.stride if shape.kind == "conv2d" else None,
        **target.family.config_values(shape, mapping, target),
    )


def program_rows(
    shape: tiling.LayerShape,
    mapping: tiling.Mapping,
    target: Target,
    layer_index: int = 0,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """The instruction rows the default pipeline gives `mapping`: `build_nest`, then `lower`
    (what `accel-tile` + `accel-emit` do, without the IR). For the tuner and the tests."""
    nest = build_nest(shape, mapping)
    lowered = nest_mapping(shape, nest, mapping.dataflow, mapping.spatial)
    return lower(shape, nest, lowered, target, layer_index, weights=weights)


__all__ = [
    "Loop",
    "LoopNest",
    "NestError",
    "Transfer",
    "build_nest",
    "check_nest",
    "config_row",
    "lower",
    "nest_mapping",
    "program_rows",
]
