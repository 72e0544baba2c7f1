"""The instruction-stream verifier (IR-free): is one layer's stream a program that computes the layer?

`check_stream(rows, shape)` takes one layer's instruction rows (`simulator.program` format, read
by field name through `ROW.view`; CONFIG first) and raises `StreamError` naming the first instruction (its position in the layer) that
breaks one of these rules, which follow docs/program.md's semantics:

- residency: a COMPUTE reads the input and weight tiles held by its slots; the latest LOAD into
  that buffer and slot must have loaded exactly the compute's tile of that operand (its
  offsets and sizes on the dims the operand depends on);
- partial sums: a COMPUTE with `acc` adds to the output tile its slot holds, so the slot's latest
  event (a COMPUTE, a LOAD of partial sums or a STORE) must be on the same output tile; a COMPUTE
  without `acc` (which starts from the bias) is the first compute of its output tile; a COMPUTE
  without `acc` or a LOAD of partial sums overwrites the slot, which must not hold results no
  STORE has saved; a LOAD of partial sums reads a tile an earlier STORE wrote;
- stores: a STORE writes the tile its slot holds; every output slot's results are stored by
  the end of the layer;
- coverage: every tile lies within the layer's extents, each COMPUTE's `gemm` is its tile's
  GEMM view, and the computes add up to the layer's MACs.

Everything is vectorised over the rows (numpy), so a stream of 10^5 instructions checks in
milliseconds. The `accel-isa-verify` pass runs it on every `accel_isa.layer` and the assembler
runs it before packing a layer (it refuses an unverified stream).
"""

from __future__ import annotations

import numpy as np

from compiler import tiling
from simulator.errors import AccelflowError
from simulator.program import BUF_INPUT, BUF_OUTPUT, BUF_WEIGHT, OP_COMPUTE, OP_LOAD, OP_STORE, ROW

# The buffer of each operand a COMPUTE reads and the row field naming its slot.
OPERAND_SLOT = {"input": (BUF_INPUT, "s_in"), "weight": (BUF_WEIGHT, "s_w")}


class StreamError(AccelflowError):
    """An instruction stream that is not a valid program; `position` is the instruction's index
    within its layer."""

    def __init__(self, position: int, message: str):
        super().__init__(message)
        self.position = position
        self.detail = message


def _tile(rows: np.ndarray, cols: list[int], ndim: int) -> np.ndarray:
    """Offsets and sizes of `rows` on the dims `cols` (one row per instruction)."""
    r = ROW.view(rows)
    return np.concatenate([r.off[:, :ndim][:, cols], r.size[:, :ndim][:, cols]], axis=1)


def _describe(tile: np.ndarray, dims: list[str]) -> str:
    n = len(dims)
    return " ".join(f"{d}={int(tile[i])}+{int(tile[n + i])}" for i, d in enumerate(dims))


def check_stream(rows: np.ndarray, shape: tiling.LayerShape) -> None:
    """Raise StreamError at the first instruction of `rows` (one layer) that breaks a rule."""
    dims = list(shape.dim_names)
    ndim = len(dims)
    opcode = ROW.view(rows).opcode
    tiled = np.flatnonzero(opcode != opcode[0]) if len(rows) else np.zeros(0, np.int64)
    _check_bounds(rows, tiled, shape)
    computes = np.flatnonzero(opcode == OP_COMPUTE)
    if not len(computes):
        raise StreamError(max(len(rows) - 1, 0), "the layer has no COMPUTE")
    _check_gemm(rows, computes, shape)
    deps = tiling.operand_dims(shape)
    for operand, (buf, slot_field) in OPERAND_SLOT.items():
        cols = [dims.index(d) for d in deps[operand]]
        _check_residency(rows, computes, operand, buf, slot_field, cols, deps[operand], ndim)
    _check_output(rows, [dims.index(d) for d in deps["output"]], list(deps["output"]), ndim)


def _check_bounds(rows: np.ndarray, tiled: np.ndarray, shape: tiling.LayerShape) -> None:
    ndim = len(shape.dim_names)
    extent = np.array([shape.dims[d] for d in shape.dim_names], dtype=np.int64)
    r = ROW.view(rows)
    off = r.off[tiled, :ndim]
    size = r.size[tiled, :ndim]
    bad = ((off < 0) | (size < 1) | (off + size > extent)).any(axis=1)
    if bad.any():
        i = int(tiled[np.argmax(bad)])
        raise StreamError(
            i,
            f"its tile {_describe(np.concatenate([r.off[i, :ndim], r.size[i, :ndim]]), list(shape.dim_names))} "
            f"is not within the layer's extents {dict(shape.dims)}",
        )


def _check_gemm(rows: np.ndarray, computes: np.ndarray, shape: tiling.LayerShape) -> None:
    ndim = len(shape.dim_names)
    r = ROW.view(rows)
    sizes = {d: r.size[computes, i] for i, d in enumerate(shape.dim_names)}
    view = np.stack(
        [np.broadcast_to(v, (len(computes),)) for v in tiling.gemm_view(shape, sizes)], axis=1
    )
    bad = (r.gemm[computes] != view).any(axis=1)
    if bad.any():
        j = int(np.argmax(bad))
        raise StreamError(
            int(computes[j]),
            f"gemm {r.gemm[computes[j]].tolist()} is not its tile's GEMM view "
            f"[reps, m, n, k] = {view[j].tolist()}",
        )
    macs = int(np.prod(r.size[computes, :ndim], axis=1).sum())
    if macs != shape.macs:
        raise StreamError(
            int(computes[-1]),
            f"the computes cover {macs:,} multiply-accumulates, the layer has {shape.macs:,} "
            "(a tile is missing or computed twice)",
        )


def _check_residency(
    rows: np.ndarray,
    computes: np.ndarray,
    operand: str,
    buf: int,
    slot_field: str,
    cols: list[int],
    dep_names: tuple[str, ...],
    ndim: int,
) -> None:
    r = ROW.view(rows)
    opcode = r.opcode
    tile = _tile(rows, cols, ndim)
    for slot in (0, 1):
        loads = np.flatnonzero((opcode == OP_LOAD) & (r.buffer == buf) & (r.slot == slot))
        readers = computes[r[slot_field][computes] == slot]
        if not len(readers):
            continue
        latest = np.searchsorted(loads, readers) - 1
        if (latest < 0).any():
            i = int(readers[np.argmax(latest < 0)])
            raise StreamError(i, f"reads {operand} slot {slot}, which no LOAD filled")
        source = loads[latest]
        bad = (tile[source] != tile[readers]).any(axis=1)
        if bad.any():
            j = int(np.argmax(bad))
            raise StreamError(
                int(readers[j]),
                f"reads the {operand} tile {_describe(tile[readers[j]], list(dep_names))} from "
                f"slot {slot}, which holds {_describe(tile[source[j]], list(dep_names))} "
                f"(loaded by instruction {int(source[j])})",
            )


def _check_output(rows: np.ndarray, cols: list[int], dep_names: list[str], ndim: int) -> None:
    r = ROW.view(rows)
    opcode = r.opcode
    is_load = (opcode == OP_LOAD) & (r.buffer == BUF_OUTPUT)
    events = np.flatnonzero((opcode == OP_COMPUTE) | is_load | (opcode == OP_STORE))
    slot = np.where(opcode[events] == OP_COMPUTE, r.s_out[events], r.slot[events])
    tile = _tile(rows, cols, ndim)
    kind = np.where(is_load[events], OP_LOAD, opcode[events])
    for s in (0, 1):
        mine = events[slot == s]
        if not len(mine):
            continue
        k = kind[slot == s]
        prev = np.concatenate(([-1], mine[:-1]))
        prev_kind = np.concatenate(([-1], k[:-1]))
        same = np.zeros(len(mine), dtype=bool)
        same[1:] = (tile[mine[1:]] == tile[mine[:-1]]).all(axis=1)
        acc = (k == OP_COMPUTE) & (r.acc[mine] == 1)
        fresh = ((k == OP_COMPUTE) & ~acc) | (k == OP_LOAD)
        rules = (
            (
                acc & ~same,
                "adds to output slot {s}, which does not hold partial sums of its tile "
                "{tile} (no compute on it and no LOAD of them since)",
            ),
            (
                fresh & (prev_kind == OP_COMPUTE),
                "overwrites output slot {s} before the results of instruction {prev} were stored",
            ),
            (
                (k == OP_STORE) & ~same,
                "stores output slot {s}, which does not hold the tile {tile}",
            ),
        )
        for bad, message in rules:
            if bad.any():
                j = int(np.argmax(bad))
                raise StreamError(
                    int(mine[j]),
                    message.format(
                        s=s, tile=_describe(tile[mine[j]], dep_names), prev=int(prev[j])
                    ),
                )
        if k[-1] == OP_COMPUTE:
            raise StreamError(int(mine[-1]), f"its results in output slot {s} are never stored")
    # A compute without `acc` starts its output tile from the bias: only the tile's first one.
    computes = np.flatnonzero(opcode == OP_COMPUTE)
    ids = np.unique(tile[computes], axis=0, return_inverse=True)[1].reshape(-1)
    first = np.zeros(len(computes), dtype=bool)
    first[np.unique(ids, return_index=True)[1]] = True
    restart = (r.acc[computes] == 0) & ~first
    if restart.any():
        i = int(computes[np.argmax(restart)])
        raise StreamError(
            i,
            f"starts the output tile {_describe(tile[i], dep_names)} from the bias again "
            "(acc false), discarding the partial sums an earlier compute made",
        )
    # A LOAD of partial sums reads what an earlier STORE wrote.
    loads = np.flatnonzero(is_load)
    if not len(loads):
        return
    stores = np.flatnonzero(opcode == OP_STORE)
    both = np.concatenate([stores, loads])
    ids = np.unique(tile[both], axis=0, return_inverse=True)[1].reshape(-1)
    first_store = np.full(int(ids.max()) + 1, len(rows), dtype=np.int64)
    np.minimum.at(first_store, ids[: len(stores)], stores)
    bad = first_store[ids[len(stores) :]] > loads
    if bad.any():
        i = int(loads[np.argmax(bad)])
        raise StreamError(
            i,
            f"loads partial sums of the output tile {_describe(tile[i], dep_names)}, which no "
            "earlier STORE wrote",
        )
