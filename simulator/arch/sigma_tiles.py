"""SIGMA tiles (IR-free): the bitmap statistics of each tile's actual weights.

On a SIGMA target (`target.arch == "sigma"`) there is no spatial unroll: the rows of each tile's
weight matrix are packed into the multipliers by their non-zeros at run time, as STONNE's
SparseSDMemory does. The lowering (`loop_nest.lower(..., weights=)`) puts each COMPUTE's bitmap
statistics (`sigma_fields`, simulator/arch/sigma.py) in its row and loads bitmap-compressed weights
(non-zeros + one bit per element). Without weights (an elided module, a matmul of two
activations) the weights count as dense.

The family (`SIGMA`, simulator/arch/base.py): no spatial unroll and no dataflow choice; a LOAD
of weights moves their non-zeros and bitmap (`load_bytes`, the one rule the lowering and the
cost model share), inputs compressed with the declared density when the target has sparse
activations; the hardware search may change the multipliers and the read / write ports.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.arch import maeri, sigma
from simulator.arch.base import ARRAY_FIELDS, Family, Fields, SpatialBatch, TileCost, divisors
from simulator.program import NUM_SPARSE_FIELDS
from simulator.workload import LayerShape, MappingError, gemm_view, operand_dims

if TYPE_CHECKING:
    from simulator.target import Target
    from simulator.workload import Mapping

# The fewest multipliers a SIGMA array may have: a virtual neuron spans at least 3 (STONNE's
# bitmap pads shorter rows), and the later chunks of a folded row give one to the partial sum.
MIN_MULTIPLIERS = 4


def weight_tile(
    shape: LayerShape, weights: np.ndarray | None, off: dict[str, int], size: dict[str, int]
) -> np.ndarray:
    """The non-zero mask of a tile's weights in the GEMM view SIGMA packs: [reps, n, k] (conv:
    per group, output channels x c*r*s; matmul: per batch, the columns of b). All True (dense)
    when `weights` is None; `weights` may be the layer's non-zero mask already (bool)."""
    reps, _, n, k = gemm_view(shape, size)
    if weights is None:
        return np.ones((reps, n, k), bool)
    w = np.asarray(weights)
    if w.dtype != bool:
        w = w != 0
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
    """The sparse fields of a SIGMA COMPUTE row (simulator.arch.sigma.SPARSE_FIELDS) for one tile."""
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
    mask = None if weights is None else np.asarray(weights) != 0  # once, not once per tile
    for it in range(len(off)):
        key = (*off[it, weight_cols], *size[it, weight_cols], int(size[it, g]))
        if key not in memo:
            o = {d: int(off[it, i]) for i, d in enumerate(dims)}
            z = {d: int(size[it, i]) for i, d in enumerate(dims)}
            fields = sparse_tile_stats(shape, mask, target, o, z)
            loaded = fields[4]
            if shape.kind == "matmul" and not shape.b_batched:  # one copy for all reps
                loaded //= max(1, z["g"])
            memo[key] = (fields, loaded)
        stats[it], nnz[it] = memo[key]
    return stats, nnz


class Sigma(Family):
    """SIGMA as STONNE models it (simulator/arch/sigma.py; the weights' statistics: this module)."""

    name = "sigma"
    description = "SIGMA as in STONNE: sparse (bitmap) weights packed into the multipliers"
    tunable_hardware = maeri.MULTIPLIER_TUNABLES
    unread_fields = (*ARRAY_FIELDS, "accumulation_buffer")
    uses_weights = True

    def check_target(self, target: Target) -> None:
        if not target.sparse_weights:
            raise ValueError(
                "sparse_weights=False: a sigma target keeps its weights bitmap-compressed "
                "(dense weights are simply 100 % non-zeros); use a maeri target for a dense "
                "controller"
            )
        if target.activation_density < 1 and not target.sparse_activations:
            raise ValueError(
                f"activation_density={target.activation_density} needs sparse_activations=True"
            )
        maeri.check_multipliers(target)
        if target.num_multipliers < MIN_MULTIPLIERS:
            raise ValueError(
                f"num_multipliers={target.num_multipliers}: a sigma target needs at least "
                f"{MIN_MULTIPLIERS} (STONNE pads a virtual neuron to 3 multipliers, and a row "
                "longer than the array folds behind a partial-sum multiplier)"
            )

    def describe(self, target: Target) -> str:
        return f"{target.num_multipliers} MS"

    def check_spatial(
        self, shape: LayerShape, mapping: Mapping, target: Target, where: str
    ) -> None:
        if mapping.spatial:
            raise MappingError(
                f"{where}a sigma target takes no spatial unroll (got "
                f"{' '.join(sorted(mapping.spatial))}): rows are packed by their non-zeros"
            )

    def spatial_batch(
        self, shape: LayerShape, target: Target, tiles: np.ndarray, spatial: np.ndarray,
        dataflow: np.ndarray, with_config: bool = True,
    ) -> SpatialBatch:  # fmt: skip
        """Multipliers of the first stationary iteration of a full tile, with dense weights."""
        _, _, rows, k = gemm_view(shape, {d: tiles[:, i] for i, d in enumerate(shape.dim_names)})
        used = sigma.dense_iteration_multipliers(rows, k, target.num_multipliers)
        return SpatialBatch(used, np.ones(len(tiles), bool), Fields())

    def default_tile_options(
        self, shape: LayerShape, mapping: Mapping, target: Target
    ) -> list[dict[str, int]]:
        """With fewer read or write ports than multipliers, shorter reduction tiles: a port
        multicasts one package per distinct k among its multipliers per streamed column, and a
        write port takes one VN's sum per cycle, so the length of a VN (the tile's reduction,
        k: c*r*s or the matmul's k) sets the cycles per column (`sigma.iteration_costs`; 25
        STONNE runs in bench/validation/sigma_ports.csv). The options: whole windows times each
        divisor of the tile's c, whole filter rows times each divisor of r, each divisor of s
        (matmul: each divisor of k); `default_mapping` keeps those of at most
        `tile_search.MAX_TILES` tiles. With a port per multiplier and per VN, none."""
        ms = target.num_multipliers
        if target.dn_bw_elems_per_cycle >= ms and target.rn_bw_elems_per_cycle >= ms:
            return []
        t = mapping.tiles
        if shape.kind == "matmul":
            reductions = [{"k": v} for v in divisors(t["k"])]
        else:
            reductions = [{"c": v, "r": t["r"], "s": t["s"]} for v in divisors(t["c"])]
            reductions += [{"c": 1, "r": v, "s": t["s"]} for v in divisors(t["r"])]
            reductions += [{"c": 1, "r": 1, "s": v} for v in divisors(t["s"])]
        options = [t | red for red in reductions]
        return [o for i, o in enumerate(options) if o != t and o not in options[:i]]

    def load_bytes(
        self,
        shape: LayerShape,
        target: Target,
        nbytes: list[Any],
        sizes: dict[str, Any],
        w_nnz: Any = None,
    ) -> list[Any]:
        """Weights bitmap-compressed: their `w_nnz` non-zeros (None: dense, every element) plus
        one bit per element; inputs compressed with the declared density when the target has
        sparse activations."""
        eb = target.element_bytes
        dense_w = math.prod(sizes[d] for d in operand_dims(shape)["weight"])
        nnz = dense_w if w_nnz is None else w_nnz
        nbytes = list(nbytes)
        nbytes[1] = nbytes[1] - dense_w * eb + nnz * eb + (dense_w + 7) // 8
        if target.sparse_activations:
            elems = nbytes[0] // eb
            kept = np.ceil(elems * target.activation_density).astype(np.int64)
            nbytes[0] = kept * eb + (elems + 7) // 8
        return nbytes

    def compute_values(
        self,
        shape: LayerShape,
        target: Target,
        weights: np.ndarray | None,
        off: np.ndarray,
        size: np.ndarray,
    ) -> tuple[dict[str, Any], np.ndarray | None]:
        weight_cols = [shape.dim_names.index(d) for d in operand_dims(shape)["weight"]]
        stats, nnz = sigma_fields(shape, weights, target, off, size, weight_cols)
        return {"sparse": stats}, nnz

    def tile_fields(self, shape: LayerShape, target: Target, sizes: dict[str, Any]) -> Fields:
        reps, _, n, k = gemm_view(shape, sizes)
        sparse = sigma.dense_tile_stats(
            reps, n, k, target.num_multipliers, target.dn_bw_elems_per_cycle,
            target.rn_bw_elems_per_cycle,
        )  # fmt: skip
        return Fields(sparse=list(sparse))

    def params(self, target: Target | None) -> dict[str, Any]:
        return maeri.multiplier_params(self.name, target)

    def tile_cost(self, config: Any, compute: Any, params: dict[str, Any], xp: Any) -> TileCost:
        c = compute
        sparse = [c.sparse[i] for i in range(NUM_SPARSE_FIELDS)]
        ms = params["num_multipliers"]
        traffic = sigma.sram_traffic(
            c.reps, c.m, c.n, c.acc, sparse, params["element_bytes"],
            params["activation_density"], xp,
        )  # fmt: skip
        return TileCost(
            busy=sigma.compute_cycles(c.m, sparse, ms, xp),
            macs=sigma.effectual_macs(c.m, sparse),
            read_input=traffic[0],
            read_weight=traffic[1],
            write_output=traffic[2],
            read_output=traffic[3],
            hops=sigma.network_hops(c.m, sparse, ms, xp),
            folds=sparse[0],
        )


SIGMA = Sigma()
