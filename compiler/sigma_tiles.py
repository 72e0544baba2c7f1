"""SIGMA tiles (IR-free): the bitmap statistics of each tile's actual weights.

On a SIGMA target (`target.arch == "sigma"`) there is no spatial unroll: the rows of each tile's
weight matrix are packed into the multipliers by their non-zeros at run time, as STONNE's
SparseSDMemory does. The lowering (`loop_nest.lower(..., weights=)`) puts each COMPUTE's bitmap
statistics (`sigma_fields`, simulator/sigma.py) in its row and loads bitmap-compressed weights
(non-zeros + one bit per element). Without weights (an elided module, a matmul of two
activations) the weights count as dense.
"""

from __future__ import annotations

import numpy as np

from simulator import sigma
from simulator.program import NUM_SPARSE_FIELDS
from simulator.target import Target
from simulator.workload import LayerShape, gemm_view


def weight_tile(
    shape: LayerShape, weights: np.ndarray | None, off: dict[str, int], size: dict[str, int]
) -> np.ndarray:
    """The non-zero mask of a tile's weights in the GEMM view SIGMA packs: [reps, n, k] (conv:
    per group, output channels x c*r*s; matmul: per batch, the columns of b). All True (dense)
    when `weights` is None."""
    reps, _, n, k = gemm_view(shape, size)
    if weights is None:
        return np.ones((reps, n, k), bool)
    w = np.asarray(weights) != 0
    if shape.kind == "conv2d":
        per_group = shape.dims["k"]
        out = []
        for g in range(off["g"], off["g"] + size["g"]):
            lo = g * per_group + off["k"]
            block = w[
                lo : lo + size["k"],
                off["c"] : off["c"] + size["c"],
                off["r"] : off["r"] + size["r"],
                off["s"] : off["s"] + size["s"],
            ]
            out.append(block.reshape(size["k"], -1))
        return np.stack(out)
    ks, ns = slice(off["k"], off["k"] + size["k"]), slice(off["n"], off["n"] + size["n"])
    if w.ndim == 3:
        return np.stack([w[g, ks, ns].T for g in range(off["g"], off["g"] + size["g"])])
    return np.broadcast_to(w[ks, ns].T, (reps, size["n"], size["k"]))


def sparse_tile_stats(
    shape: LayerShape,
    weights: np.ndarray | None,
    target: Target,
    off: dict[str, int],
    size: dict[str, int],
) -> tuple[int, ...]:
    """The sparse fields of a SIGMA COMPUTE row (simulator.sigma.SPARSE_FIELDS) for one tile."""
    mask = weight_tile(shape, weights, off, size)
    return sigma.tile_stats(
        mask, target.num_multipliers, target.dn_bw_elems_per_cycle, target.rn_bw_elems_per_cycle
    )


def sigma_fields(
    shape: LayerShape,
    weights: np.ndarray | None,
    target: Target,
    off: np.ndarray,
    size: np.ndarray,
    weight_cols: list[int],
) -> tuple[np.ndarray, np.ndarray]:
    """Per iteration: the sparse fields of its COMPUTE, and the non-zeros of its weight tile
    (counted once: what its LOAD moves). Memoised on the weight tile's coordinates."""
    dims = shape.dim_names
    stats = np.zeros((len(off), NUM_SPARSE_FIELDS), np.int64)
    nnz = np.zeros(len(off), np.int64)
    memo: dict[tuple[int, ...], tuple[tuple[int, ...], int]] = {}
    g = dims.index("g")
    for it in range(len(off)):
        key = (*off[it, weight_cols], *size[it, weight_cols], int(size[it, g]))
        if key not in memo:
            o = {d: int(off[it, i]) for i, d in enumerate(dims)}
            z = {d: int(size[it, i]) for i, d in enumerate(dims)}
            fields = sparse_tile_stats(shape, weights, target, o, z)
            loaded = fields[4]
            if shape.kind == "matmul" and not shape.b_batched:  # one copy for all reps
                loaded //= max(1, z["g"])
            memo[key] = (fields, loaded)
        stats[it], nnz[it] = memo[key]
    return stats, nnz
