"""SIGMA's bitmap statistics (`simulator.sigma.tile_stats`) of dense weight tiles, vectorised.

The cost model scores SIGMA mappings with dense weights (what `loop_nest.lower(..., weights=None)`
emits). A dense weight matrix of `rows` x `k` packs into the multipliers in at most three kinds
of stationary iteration (`sigma.pack_vns`), so its statistics are counts times the costs of a
few iterations, each from `sigma.iteration_costs` (tabulated once per ms / dn / rn):

- k <= ms: whole rows, `ms // k` per iteration (layout 0..k-1 repeated, VNs of k): `rows // per`
  full iterations and one of `rows % per` rows when it is not 0;
- k > ms: every row split (`sigma.pack_vns`): a first chunk of ms multipliers, then chunks of
  ms - 1 non-zeros behind the partial-sum multiplier, the last one of `(k - ms) % (ms - 1)`.

`tests/tuner/test_cost_model.py` checks it against `sigma.tile_stats` of dense masks.
"""

from __future__ import annotations

import functools

import numpy as np

from simulator import sigma


@functools.cache
def _tables(ms: int, dn: int, rn: int) -> tuple[np.ndarray, np.ndarray]:
    """packed [ms + 1, ms + 1, 3]: (W + s + b, max(s, b), kreads) of an iteration of `count` rows
    of k non-zeros (index [k, count], zeros where count = 0); split [ms + 1, 3]: index 0 the first
    chunk of a split row, index ms the full later chunk, index r (1 <= r < ms - 1) a later chunk
    of r non-zeros."""

    def costs(layout: list[int], sizes: list[int]) -> tuple[int, int, int]:
        w, s, b, kreads = sigma.iteration_costs(layout, sizes, ms, dn, rn)
        return w + s + b, max(s, b), kreads

    packed = np.zeros((ms + 1, ms + 1, 3), np.int64)
    for k in range(1, ms + 1):
        for count in range(1, ms // k + 1):
            packed[k, count] = costs(list(range(k)) * count, [k] * count)
    split = np.zeros((ms + 1, 3), np.int64)
    split[0] = costs(list(range(ms)), [ms])
    split[ms] = costs([sigma.PSUM, *range(ms - 1)], [ms])
    for r in range(1, ms - 1):
        split[r] = costs([sigma.PSUM, *range(r)], [r + 1])
    return packed, split


def dense_stats(
    reps: np.ndarray, rows: np.ndarray, k: np.ndarray, ms: int, dn: int, rn: int
) -> tuple[np.ndarray, ...]:
    """`sigma.tile_stats` of all-non-zero masks [reps, rows, k] on ms / dn / rn: the six sparse
    fields (sg_iters, sg_fill, sg_col, sg_kreads, w_nnz, w_bitmap_bits), arrays like k."""
    packed, split = _tables(ms, dn, rn)
    fits = k <= ms
    kk = np.minimum(k, ms)
    per = ms // kk
    full, rest = rows // per, rows % per
    one = packed[kk, per]
    last = packed[kk, rest]
    packed_iters = full + (rest > 0)
    packed_sums = [full * one[..., f] + last[..., f] for f in range(3)]
    # Split rows: the first chunk, `middle` full later chunks, one later chunk of `tail`.
    later = np.maximum(k - ms, 0)
    middle, tail = later // max(ms - 1, 1), later % max(ms - 1, 1)
    tail_costs = np.where((tail > 0)[..., None], split[tail], 0)
    split_iters = rows * (1 + middle + (tail > 0))
    split_sums = [
        rows * (split[0, f] + middle * split[ms, f] + tail_costs[..., f]) for f in range(3)
    ]
    iters = np.where(fits, packed_iters, split_iters)
    sums = [np.where(fits, a, b) for a, b in zip(packed_sums, split_sums, strict=True)]
    elements = rows * k
    return (reps * iters, *(reps * s for s in sums), reps * elements, reps * elements)
