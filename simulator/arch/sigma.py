"""Per-tile cost of SIGMA as STONNE models it (`-SparseGEMM`, `SparseSDMemory`, MK_STA_KN_STR).

The specification is docs/stonne-timing.md section 4 (written from STONNE's source, fitted to the
SIGMA rows of bench/validation/stonne.csv). The weights are the stationary, bitmap-compressed
operand (STONNE's MK): a COMPUTE tile's GEMM view is `reps` products (m x k) @ (k x n); per rep
the tile's weight matrix, read as `n` rows of `k` (conv: output channels x c*r*s, the im2col view;
matmul: the columns of b), is packed into the multipliers and the `m` columns of the streamed
operand (STONNE's KN: im2col windows, or the rows of a) flow past it. Two halves, as in
simulator/arch/maeri.py:

* compile time, plain Python (`tile_stats`): the *bitmap statistics* of one weight tile, which
  `accel-emit` computes from the model's actual weights and puts in the COMPUTE row
  (docs/program.md, `simulator.program.F_SPARSE`):

      packing (STONNE's CONFIGURING state): whole rows, in order, while their non-zeros fit in
      `ms` multipliers; a row with no non-zero is skipped; a row with more than `ms` non-zeros is
      split into chunks of `ms` (first) and `ms - 1` (later; one multiplier takes the partial sum
      read back), one chunk per iteration. Each packing is one *stationary iteration* it, with
        W_it = max over read ports p of the non-zeros mapped on p's multipliers (unicast weights)
        s_it = max(1, max_p |{k : a multiplier of p holds a non-zero of column k}|)
               (one multicast package per port per streamed element; every mapped k is sent,
               zero or not)
        b_it = the most VNs (rows mapped: one result each per streamed column) whose sums leave
               on one collection-bus line (`bus_cycles`): a VN's sum leaves the adder tree from
               the adder STONNE's ART configuration assigns to its multiplier range
               (`exit_adder`), and the two adders of a forwarding-linked pair share one of the
               `rn` lines (`bus_line`), so b_it >= 2 as soon as two VNs end at such a pair,
               whatever rn; a line moves one value per cycle
        kr_it = |{k mapped}|         (streamed elements read from the global buffer per column)

      sg_iters = number of iterations, sg_fill = sum (W + s + b), sg_col = sum max(s, b),
      sg_kreads = sum kr, w_nnz = non-zeros, w_bitmap_bits = elements of the tile (1 bit each),
      and STONNE's energy events per streamed column (`iteration_events`, priced by
      simulator/arch/stonne_energy.py): sg_fwd = later chunks (a psum forwarded in), sg_vns =
      VN results written, sg_three / sg_rn = the VNs' 3:1 additions and reduction links, all
      summed over the reps (groups) of the tile.

  `dense_tile_stats` gives the same of all-non-zero tiles (the weights `loop_nest.lower(...,
  weights=None)` emits, and what the cost model scores) for arrays of tile shapes at once: a
  dense tile packs into a few kinds of iteration (whole rows; the first and later chunks of
  split rows), whose costs it tabulates once per ms / dn / rn from `pack_vns` and
  `iteration_costs`;

* run time, array code (`compute_cycles`, `sram_traffic`, `network_hops`) taking `xp` (jax.numpy
  or numpy), every branch a `where`.

Cycles of one COMPUTE, with L = ceil(log2 ms) (the forwarding adder network's depth):

    busy = sum_it [ W + s + b + L + 3 + (m - 1) * max(s, b) ]
         = sg_fill + sg_iters * (L + 3) + (m - 1) * sg_col

Per iteration: 1 configuration cycle, W cycles of stationary distribution, then the m streamed
columns issued every max(s, b) cycles (ports, or the collection bus's credit), the last column's
packages leave the ports over s cycles, reach the multipliers 1 cycle later, the adder tree L
cycles later, take b cycles on the bus and 1 to be written, and the next iteration starts the
cycle after (simulator/arch/sigma_reference.py steps exactly this). With b = 1 or s = 1 (dn = ms:
most rows of bench/validation/stonne.csv) it is docs/stonne-timing.md's `2 + (W-1) + N*max(s, b) +
log2(ms) + 3`; the two differ by min(s, b) - 1 otherwise (bench/validation/sigma_ports.csv: 25
STONNE runs with 8-32 ports on 64-512 multipliers, all within 0.6 %).

Global-buffer traffic of a COMPUTE, in bytes: weights `w_nnz * element_bytes +
ceil(w_bitmap_bits / 8)` (non-zeros + bitmap); streamed inputs `m * sg_kreads` elements (each
mapped k of each column, once per stationary iteration), bitmap-compressed with the declared
density when the target has `sparse_activations`; outputs `reps*m*n` written (+ read when `acc`).
MACs are the effectual ones, `m * w_nnz` (utilisation = effectual MACs / (cycles * ms)). Network
hops (energy): every element sent crosses the Benes network's 2*log2(ms)+1 switch stages, and each
product takes 2 adder-network links.
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import Any

import numpy as np

from simulator.arch import maeri_art
from simulator.arch.base import ceil_log2, default_xp

# Values of the sparse fields of a SIGMA COMPUTE row, in order (simulator.program.F_SPARSE ...).
SPARSE_FIELDS = (
    "sg_iters", "sg_fill", "sg_col", "sg_kreads", "w_nnz", "w_bitmap_bits",
    "sg_fwd", "sg_vns", "sg_three", "sg_rn",
)  # fmt: skip
# The first six time the tile and size its traffic; the last four count STONNE's energy events
# per streamed column (`energy_model=stonne`, simulator/arch/stonne_energy.py).
ENERGY_FIELDS = SPARSE_FIELDS[6:]
# Cycles of an iteration besides W, the streamed columns, the adder tree and the bus: the
# configuration cycle, port -> multiplier, bus -> memory write (docs/stonne-timing.md's fitted +3).
ITERATION_OVERHEAD = 3
PSUM = -1  # a multiplier holding the partial sum of a split row (not a weight)


def pack_rows(mask: np.ndarray, ms: int) -> list[tuple[list[int], int]]:
    """Stationary iterations of a weight matrix `mask` [rows, K] (non-zero where True) on `ms`
    multipliers: per iteration, the k index held by each used multiplier in order (PSUM for the
    partial-sum multiplier of a split row's later chunks) and the number of rows (VNs) mapped."""
    return [(layout, len(sizes)) for layout, sizes in pack_vns(mask, ms)]


def pack_vns(mask: np.ndarray, ms: int) -> list[tuple[list[int], list[int]]]:
    """`pack_rows` with, per iteration, the size (multipliers) of each VN in order: VN i of an
    iteration holds multipliers [sum(sizes[:i]), sum(sizes[:i+1]))."""
    nonzeros = [np.flatnonzero(row).tolist() for row in np.asarray(mask, bool)]
    iterations: list[tuple[list[int], list[int]]] = []
    i = 0
    while i < len(nonzeros):
        if len(nonzeros[i]) > ms:  # split row: one chunk per iteration
            row, pos, first = nonzeros[i], 0, True
            while pos < len(row):
                cap = ms if first else ms - 1
                chunk = row[pos : pos + cap]
                layout = chunk if first else [PSUM, *chunk]
                iterations.append((layout, [len(layout)]))
                pos, first = pos + cap, False
            i += 1
            continue
        layout: list[int] = []
        sizes: list[int] = []
        while i < len(nonzeros) and len(layout) + len(nonzeros[i]) <= ms:
            layout += nonzeros[i]
            if nonzeros[i]:
                sizes.append(len(nonzeros[i]))
            i += 1
        if layout:
            iterations.append((layout, sizes))
    return iterations


def dense_iteration_multipliers(rows: Any, k: Any, ms: int) -> Any:
    """Multipliers of the first stationary iteration of a dense weight matrix of `rows` x `k`
    (`pack_vns`): k * (the whole rows that fit) when a row fits, else all ms (a split row)."""
    return np.where(k <= ms, k * np.minimum(rows, ms // np.maximum(k, 1)), ms)


def iteration_events(layout: list[int], sizes: list[int], ms: int) -> tuple[int, int, int, int]:
    """(sg_fwd, sg_vns, sg_three, sg_rn) of one stationary iteration, per streamed column: a
    partial sum forwarded in (a split row's later chunk), the VNs' results written, and the 3:1
    additions and reduction links of its VNs (`maeri_art.vn_reduction`: SIGMA's adder tree is
    configured as MAERI's, from multiplier 0)."""
    three, links = maeri_art.vn_reduction(ms, tuple(sizes))
    return int(PSUM in layout), len(sizes), three, links


# Per-iteration values `_dense_iteration_costs` tabulates: W + s + b, max(s, b), kr, then the
# `ENERGY_FIELDS`.
_ITERATION_VALUES = 7


@functools.cache
def _dense_iteration_costs(ms: int, dn: int, rn: int) -> tuple[np.ndarray, np.ndarray]:
    """(W + s + b, max(s, b), kr, sg_fwd, sg_vns, sg_three, sg_rn) of the stationary
    iterations of dense weight matrices, from `pack_vns`: packed [ms + 1, ms + 1, 7], index
    [k, count] the iteration of `count` rows of k (zeros where count = 0); split [ms + 1, 7],
    index 0 the first chunk of a split row, index r (1 <= r < ms) a later chunk of r
    non-zeros."""

    def costs(iteration: tuple[list[int], list[int]]) -> tuple[int, ...]:
        w, s, b, kreads = iteration_costs(*iteration, ms, dn, rn)
        return w + s + b, max(s, b), kreads, *iteration_events(*iteration, ms)

    packed = np.zeros((ms + 1, ms + 1, _ITERATION_VALUES), np.int64)
    for k in range(1, ms + 1):
        for count in range(1, ms // k + 1):
            (iteration,) = pack_vns(np.ones((count, k), bool), ms)
            packed[k, count] = costs(iteration)
    split = np.zeros((ms + 1, _ITERATION_VALUES), np.int64)
    for r in range(1, ms):  # a row of ms + r non-zeros: the first chunk, then a later one of r
        first, later = pack_vns(np.ones((1, ms + r), bool), ms)
        split[0], split[r] = costs(first), costs(later)
    return packed, split


@functools.cache
def _dense_tables(ms: int, dn: int, rn: int) -> tuple[np.ndarray, ...]:
    """`_dense_iteration_costs` laid out for `dense_tile_stats`'s lookups (7 values a row):
    packed [(ms + 1)^2, 7] (row k * (ms + 1) + count), full [ms + 1, 7] (row k: the iteration
    of ms // k rows of k), the first and the later full chunk of a split row [7], tail [ms + 1,
    7] (a last later chunk of r non-zeros; zeros for r = 0)."""
    packed, split = _dense_iteration_costs(ms, dn, rn)
    k = np.arange(ms + 1)
    tail = split.copy()
    tail[0] = 0
    full = packed[k, ms // np.maximum(k, 1)]
    return packed.reshape(-1, _ITERATION_VALUES), full, split[0], split[max(ms - 1, 1)], tail


def dense_tile_stats(
    reps: Any, rows: Any, k: Any, ms: int, dn: int, rn: int
) -> tuple[np.ndarray, ...]:
    """`tile_stats` of all-non-zero weight tiles [reps, rows, k] on ms / dn / rn, for arrays of
    tile shapes (broadcast together): the sparse fields (`SPARSE_FIELDS`), arrays like k.

    `pack_vns` on dense rows: when a row fits (k <= ms) every iteration but the last packs
    `ms // k` whole rows; else every row is split into a first chunk of ms non-zeros and later
    chunks of ms - 1 (behind the partial-sum multiplier), the last of `(k - ms) % (ms - 1)`.
    (Where every row fits, or none does, only that case is computed.)"""
    packed, one, first, later_chunk, tail_table = _dense_tables(ms, dn, rn)
    fits = k <= ms
    every, none = bool(np.all(fits)), not np.any(fits)
    shape = np.broadcast_shapes(np.shape(rows), np.shape(k))
    if not none:
        kk = np.minimum(k, ms)
        per = ms // kk
        full, rest = rows // per, rows % per
        one_row = np.take(one, kk, axis=0)
        last = np.take(packed, kk * (ms + 1) + rest, axis=0)
        packed_iters = full + (rest > 0)
        packed_sums = [full * one_row[..., f] + last[..., f] for f in range(_ITERATION_VALUES)]
    if not every:
        # Split rows: the first chunk, `middle` full later chunks, one later chunk of `tail`.
        later = np.maximum(k - ms, 0)
        chunk = max(ms - 1, 1)
        middle, tail = later // chunk, later % chunk
        tail_costs = np.take(tail_table, tail, axis=0)
        split_iters = rows * (1 + middle + (tail > 0))
        split_sums = [
            rows * (first[f] + middle * later_chunk[f] + tail_costs[..., f])
            for f in range(_ITERATION_VALUES)
        ]
    if every:
        iters, sums = packed_iters, packed_sums
    elif none:
        iters, sums = split_iters, split_sums
    else:
        iters = np.where(fits, packed_iters, split_iters)
        sums = [np.where(fits, a, b) for a, b in zip(packed_sums, split_sums, strict=True)]
    iters, sums = np.broadcast_to(iters, shape), [np.broadcast_to(v, shape) for v in sums]
    elements = rows * k
    timing, events = sums[:3], sums[3:]
    return (
        reps * iters, *(reps * s for s in timing), reps * elements, reps * elements,
        *(reps * e for e in events),
    )  # fmt: skip


@functools.lru_cache(maxsize=1 << 16)
def exit_adder(lo: int, hi: int, ms: int) -> tuple[int, int]:
    """(level, index) of the adder of the `ms`-multiplier reduction tree (level 0 = the root,
    level l has 2**l adders) that sends the sum of the VN on multipliers [lo, hi) to the collection
    bus. STONNE (CompilerART, sparse signals) walks the VN's bit vector up the tree: a level's
    adder is on if one of its children is, except that an adder pair joined by a forwarding link
    (adders 2m-1 and 2m of a level, which have different parents) merges the VN into the side with
    the longer contiguous span when the neighbouring pair does not hold the VN too; the VN's sum
    leaves, marked "forward to memory", from the first level where a single adder is on."""
    levels = max(0, ms.bit_length() - 1)
    bits = [lo <= p < hi for p in range(ms)] + [False] * 8
    for level in range(levels - 1, -1, -1):
        count = 1 << level
        parent = [False] * (ms + 8)
        for a in range(count):
            c = 2 * a
            if a == 0 or a == count - 1:
                parent[a] = bits[c] or bits[c + 1]
            elif a % 2:  # the pair (a, a + 1) joined by a forwarding link
                left = 0
                for q in range(c + 1 if bits[c + 1] else c, -1, -1):
                    if not bits[q]:
                        break
                    left += 1
                right = 0
                for q in range(c + 2 if bits[c + 2] else c + 3, ms):
                    if not bits[q]:
                        break
                    right += 1
                if left == 0 or right == 0:
                    parent[a], parent[a + 1] = left > 0, right > 0
                elif left >= right:  # merge to the left unless the next pair holds the VN too
                    if bits[c + 4] or bits[c + 5]:
                        parent[a] = parent[a + 1] = True
                    else:
                        bits[c + 2 : ms] = [False] * (ms - c - 2)
                        parent[a] = True
                elif bits[c - 1] or bits[c - 2]:
                    parent[a] = parent[a + 1] = True
                else:
                    bits[0 : c + 2] = [False] * (c + 2)
                    parent[a + 1] = True
        bits = parent
        on = [a for a in range(count) if bits[a]]
        if len(on) == 1:
            return level, on[0]
    return 0, 0


def bus_line(level: int, index: int, ms: int, rn: int) -> int:
    """Collection-bus line of adder (level, index) (STONNE's ASNetwork::setMemoryConnections):
    the adders of a forwarding-linked pair (2m-1, 2m) of a level >= 1 share one line, pair P
    (numbered level by level, left to right) on line P % rn; the single adders (the root, the
    first and last of each level) follow, single S on line (S + 2 * pairs) % rn."""
    levels = max(0, ms.bit_length() - 1)
    pairs = (1 << (levels - 1)) - levels if levels else 0  # sum_{l=1}^{levels-1} 2**(l-1) - 1
    if level >= 1 and 0 < index < (1 << level) - 1:
        pair = (1 << (level - 1)) - level + (index + 1) // 2 - 1
        return pair % rn
    single = 0 if level == 0 else (2 * level - 1 if index == 0 else 2 * level)
    return (single + 2 * pairs) % rn


def vn_bus_lines(sizes: list[int], ms: int, rn: int) -> list[int]:
    """Collection-bus line of each VN of an iteration (VN sizes in multiplier order)."""
    lines, lo = [], 0
    for size in sizes:
        lines.append(bus_line(*exit_adder(lo, lo + size, ms), ms, rn))
        lo += size
    return lines


def bus_cycles(sizes: list[int], ms: int, rn: int) -> int:
    """b: cycles the collection bus needs per streamed column, the most VN results that share
    one line (a line moves one value per cycle)."""
    return _bus_cycles(tuple(sizes), ms, rn)


@functools.lru_cache(maxsize=1 << 16)
def _bus_cycles(sizes: tuple[int, ...], ms: int, rn: int) -> int:
    lines = vn_bus_lines(list(sizes), ms, rn)
    return max((lines.count(line) for line in set(lines)), default=1)


def iteration_costs(
    layout: list[int], sizes: list[int], ms: int, dn: int, rn: int
) -> tuple[int, ...]:
    """(W, s, b, kr) of one stationary iteration (`sizes`: its VN sizes; module docstring): the
    specification `iterations_costs` vectorises (a test holds them equal)."""
    width = max(1, ms // dn)
    ks = np.asarray(layout, np.int64)
    ports = np.arange(len(ks)) // width
    keep = ks != PSUM
    ks, ports = ks[keep], ports[keep]
    b = bus_cycles(sizes, ms, rn)
    if ks.size == 0:
        return 1, 1, b, 0
    w = int(np.bincount(ports).max())
    # distinct k per port: unique (port, k) pairs, counted per port
    pairs = np.unique(ports * (int(ks.max()) + 1) + ks)
    s = max(1, int(np.bincount(pairs // (int(ks.max()) + 1)).max()))
    kreads = int(np.unique(ks).size)
    return w, s, b, kreads


def iterations_costs(
    iterations: list[tuple[list[int], list[int]]], ms: int, dn: int, rn: int
) -> np.ndarray:
    """[len(iterations), 4] int64: (W, s, b, kr) of every stationary iteration at once, the
    numbers `iteration_costs` gives one by one (its vectorised form: one pass of bincount and
    unique over all the iterations' multipliers, not one per iteration)."""
    n = len(iterations)
    out = np.zeros((n, 4), np.int64)
    if n == 0:
        return out
    width = max(1, ms // dn)
    lengths = np.fromiter((len(layout) for layout, _ in iterations), np.int64, n)
    ks = np.fromiter((k for layout, _ in iterations for k in layout), np.int64, int(lengths.sum()))
    it = np.repeat(np.arange(n, dtype=np.int64), lengths)
    starts = np.cumsum(lengths) - lengths
    ports = (np.arange(ks.size, dtype=np.int64) - np.repeat(starts, lengths)) // width
    keep = ks != PSUM
    ks, it, ports = ks[keep], it[keep], ports[keep]
    out[:, 2] = [bus_cycles(sizes, ms, rn) for _, sizes in iterations]
    empty = np.bincount(it, minlength=n) == 0
    out[empty, 0], out[empty, 1] = 1, 1
    if ks.size == 0:
        return out
    nports, nk = int(ports.max()) + 1, int(ks.max()) + 1
    cell = it * nports + ports  # (iteration, port)
    per_port = np.bincount(cell, minlength=n * nports).reshape(n, nports)
    distinct = np.unique(cell * nk + ks) // nk  # one entry per distinct (iteration, port, k)
    per_port_k = np.bincount(distinct, minlength=n * nports).reshape(n, nports)
    kreads = np.bincount(np.unique(it * nk + ks) // nk, minlength=n)
    full = ~empty
    out[full, 0] = per_port.max(axis=1)[full]
    out[full, 1] = np.maximum(1, per_port_k.max(axis=1))[full]
    out[full, 3] = kreads[full]
    return out


def tile_stats(mask: np.ndarray, ms: int, dn: int, rn: int) -> tuple[int, ...]:
    """The COMPUTE row's sparse fields (`SPARSE_FIELDS`) of a weight tile `mask` [reps, rows,
    K] or [rows, K] (non-zero where True)."""
    mask = np.asarray(mask, bool)
    if mask.ndim == 2:
        mask = mask[None]
    reps, rows, k = mask.shape
    if mask.size and mask.all():  # dense: the closed form (a test holds it equal to packing)
        fields = dense_tile_stats(np.int64(reps), np.int64(rows), np.int64(k), ms, dn, rn)
        return tuple(int(v) for v in fields)  # type: ignore[return-value]
    if reps > 1 and mask.strides[0] == 0:  # one weight matrix for every rep (broadcast)
        one = tile_stats(mask[0], ms, dn, rn)
        return tuple(v * reps for v in one)  # type: ignore[return-value]
    # A split row (more non-zeros than multipliers) is an iteration of its own per chunk, whose
    # costs depend only on the chunk's length (its k are distinct): `dense_tile_stats`'s table.
    # The runs of rows between split rows are packed (`pack_vns` packs them apart anyway).
    lengths = mask.sum(axis=2)
    splits = lengths > ms
    iterations = []
    for rep, row_lengths in zip(mask, splits, strict=True):
        bounds = [-1, *np.flatnonzero(row_lengths).tolist(), len(row_lengths)]
        for lo, hi in itertools.pairwise(bounds):
            if hi - lo > 1:
                iterations += pack_vns(rep[lo + 1 : hi], ms)
    costs = iterations_costs(iterations, ms, dn, rn)
    w, s, b, kr = costs.T
    fill, col, kreads = int((w + s + b).sum()), int(np.maximum(s, b).sum()), int(kr.sum())
    events = np.array([iteration_events(*it, ms) for it in iterations], np.int64).reshape(-1, 4)
    fields = [len(iterations), fill, col, kreads, int(mask.sum()), int(mask.size)]
    fields += [int(v) for v in events.sum(axis=0)]
    if splits.any():
        split = dense_tile_stats(np.int64(1), np.int64(1), lengths[splits], ms, dn, rn)
        for f in (0, 1, 2, 3, 6, 7, 8, 9):  # the chunks' iterations (non-zeros counted above)
            fields[f] += int(split[f].sum())
    return tuple(fields)


def compute_cycles(m: Any, sparse: Any, ms: Any, xp: Any = None) -> Any:
    """Cycles of one COMPUTE: `m` streamed columns, `sparse` = the row's sparse fields."""
    xp = xp or default_xp()
    iters, fill, col = sparse[0], sparse[1], sparse[2]
    return fill + iters * (ceil_log2(ms) + ITERATION_OVERHEAD) + xp.maximum(m - 1, 0) * col


def sram_traffic(
    reps: Any,
    m: Any,
    n: Any,
    acc: Any,
    sparse: Any,
    element_bytes: Any,
    activation_density: Any,
    xp: Any = None,
) -> tuple[Any, Any, Any, Any]:
    """(input reads, weight reads, output writes, output reads) of one COMPUTE, in BYTES;
    `activation_density` <= 0 means dense activations."""
    xp = xp or default_xp()
    kreads, nnz, bits = sparse[3], sparse[4], sparse[5]
    streamed = m * kreads
    compressed = (
        xp.ceil(streamed * xp.maximum(activation_density, 0.0)).astype(streamed.dtype)
        * element_bytes
        + (streamed + 7) // 8
    )
    inputs = xp.where(activation_density > 0, compressed, streamed * element_bytes)
    weights = nnz * element_bytes + (bits + 7) // 8
    outputs = reps * m * n * element_bytes
    return inputs, weights, outputs, outputs * acc


def network_hops(m: Any, sparse: Any, ms: Any, xp: Any = None) -> Any:
    """Element hops of one COMPUTE: 2*log2(ms)+1 Benes stages per element sent, 2 adder-network
    links per effectual MAC."""
    xp = xp or default_xp()
    stages = 2 * ceil_log2(ms) + 1
    return (m * sparse[3] + sparse[4]) * stages + 2 * effectual_macs(m, sparse)


def effectual_macs(m: Any, sparse: Any) -> Any:
    """MACs with a non-zero weight: every streamed column meets every non-zero once."""
    return m * sparse[4]


def gemm_cycles(mask: np.ndarray, columns: int, ms: int, dn: int, rn: int) -> int:
    """Closed-form cycles of a whole sparse GEMM (stationary `mask` [rows, K], `columns` streamed)
    in one tile, as the simulator computes them (numpy; for validation scripts)."""
    stats = np.array(tile_stats(mask, ms, dn, rn), np.int64)
    return int(compute_cycles(np.int64(columns), stats, np.int64(ms), np))


def compressed_bytes(nnz: int, elements: int, element_bytes: int) -> int:
    """Bytes of a bitmap-compressed tensor: the non-zeros plus one bit per element."""
    return nnz * element_bytes + math.ceil(elements / 8)
