"""MAERI mappings: STONNE's spatial tile as a mapping's spatial unroll (IR-free).

On a MAERI target (`target.arch == "maeri"`) the spatial unroll is STONNE's spatial tile, one
factor per loop dim on one of two axes: "vn" for the reduction dims inside a virtual neuron (conv
r s c, matmul k: VN size = T_R*T_S*T_C) and "vns" for the dims across virtual neurons (conv k g n
y x, matmul n g m: number of VNs = their product); a dim that is absent has factor 1, and VN size
* number of VNs must fit `num_multipliers` (plus one aux multiplier per VN when, without the
accumulation buffer, its outputs take partial sums in: a buffer tile folds, as STONNE requires,
or the reduction is split across buffer tiles, whose partial sums are re-injected the same way;
`maeri_uses_aux`). `maeri_spatial` is the default heuristic (mRNA-like, see its docstring);
STONNE's names map to ours as T_R=r T_S=s T_C=c T_K=k T_G=g T_N=n T_X'=y T_Y'=x for a conv
(STONNE's X is the input rows, ours y) and T_M=m T_N=n T_K=k for a GEMM/FC (`parse_spatial`). The
tiles stay buffer-level tiles; the spatial factors are clamped to them. `check_maeri_spatial` is
the legality check `tiling.check_mapping` runs on a MAERI target.

The family (`MAERI`, simulator/arch/base.py) puts these and the timing of simulator/arch/maeri.py
behind the common interface: the CONFIG row carries the spatial tile, the simulator derives the
step costs (`maeri.derive_steps`); the tuner's spatial axes are per dim the divisors of its
extent and the powers of two below it, up to the multipliers; the hardware search may change the
multipliers and the read / write ports.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.arch import maeri
from simulator.arch.base import (
    ARRAY_FIELDS,
    SPARSE_FIELDS,
    Family,
    Fields,
    SpatialBatch,
    TileCost,
    ceil_log2,
    divisors,
)
from simulator.program import CONV_DIMS, KIND_CODES, MATMUL_DIMS

if TYPE_CHECKING:
    from simulator.target import Target
from simulator.workload import (
    MAERI_AXES,
    LayerShape,
    Mapping,
    MappingError,
    reduction_dims,
)

# STONNE's tile names -> our dims, per layer kind (see the module docstring).
STONNE_TILE_NAMES: dict[str, dict[str, str]] = {
    "conv2d": {
        "T_R": "r", "T_S": "s", "T_C": "c", "T_K": "k", "T_G": "g", "T_N": "n",
        "T_X_": "y", "T_X'": "y", "T_Y_": "x", "T_Y'": "x",
    },
    "matmul": {"T_M": "m", "T_N": "n", "T_K": "k", "T_G": "g"},
}  # fmt: skip


def maeri_axis(shape: LayerShape, dim: str) -> str:
    """ "vn" for a dim inside a virtual neuron (the reduction), "vns" for one across them."""
    return "vn" if dim in reduction_dims(shape) else "vns"


def parse_spatial(text: str, kind: str) -> dict[str, int]:
    """A spatial tile typed by a user, `T_R=3 T_S=3 T_C=2 T_K=2` (STONNE's names) or `r=3 s=3`
    (our dims), separated by spaces or commas, as {dim: factor} for a layer of `kind`; names of
    the other kind's dims are ignored (one option serves conv and matmul layers)."""
    dims = CONV_DIMS if kind == "conv2d" else MATMUL_DIMS
    all_names = {n for names in STONNE_TILE_NAMES.values() for n in names}
    all_dims = set(CONV_DIMS) | set(MATMUL_DIMS)
    out: dict[str, int] = {}
    for item in text.replace(",", " ").split():
        name, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit() or int(value) < 1:
            raise MappingError(f"spatial tile '{item}' is not NAME=FACTOR with FACTOR >= 1")
        key = name.strip()
        if key in STONNE_TILE_NAMES[kind]:
            out[STONNE_TILE_NAMES[kind][key]] = int(value)
        elif key in dims:
            out[key] = int(value)
        elif key not in all_names and key not in all_dims:
            raise MappingError(
                f"spatial tile names unknown dim '{key}' (STONNE's T_R T_S T_C T_K T_G T_N "
                f"T_X_ T_Y_ / T_M T_N T_K, or the dims {' '.join(CONV_DIMS)} / "
                f"{' '.join(MATMUL_DIMS)})"
            )
    return out


def _largest_divisor(n: int, limit: int) -> int:
    """The largest divisor of n that is <= limit (at least 1)."""
    return divisors(n, limit)[-1]


# The default spatial tile's candidate VNs costed by the closed form, largest first (a conv has
# at most divisors(C) + divisors(R) + divisors(S) + 1), each with up to 5 fills.
MAX_CANDIDATES = 64


def maeri_spatial(shape: LayerShape, target: Target, extents: dict[str, int]) -> dict[str, int]:
    """The default spatial tile on MAERI for buffer tiles of `extents` (mRNA-like heuristic).

    1. Candidate virtual neurons: the whole reduction (conv R*S*C, matmul K) when it fits the
       multipliers (no folding); whole filter windows R*S times each divisor of C that fits;
       whole filter rows S times each divisor of R; each divisor of S, down to a VN of one
       multiplier (matmul: each divisor of K that fits). Divisors keep every fold full. Smaller
       VNs leave room for more of them side by side, and with the accumulation buffer folding
       is cheap: ResNet-18 on maeri-128 takes 31.8 M cycles where whole windows only gave it
       100.4 M (tuned: 18.3 M), and STONNE agrees on the scaled layers of
       bench/validation/default_vs_stonne.csv. With the accumulation buffer a VN of one
       multiplier is left out where a larger one exists (STONNE aborts on it). Without the
       accumulation buffer a VN that takes partial sums in (it folds, or the reduction is split
       across buffer tiles) needs one aux multiplier, so it gets one less.
    2. For each, the virtual neurons fill the remaining multipliers: output channels first (k
       for a conv, n for a matmul: fewer K-tiles, each of which drains STONNE's pipeline),
       then output columns, rows, batch and groups, each the largest divisor of its extent
       that still fits; every prefix of that fill is a candidate (more VNs side by side are
       not always faster: several output columns per step cost more than they save).
    3. The candidate with the fewest cycles by the closed form (`simulator.arch.maeri`) wins
       (ties: the larger VN, then the fewer multipliers). At most `MAX_CANDIDATES` VNs (the
       largest) are evaluated.
    Returns {dim: factor} for every dim (1 where not unrolled)."""
    ms = target.num_multipliers
    ext = {d: max(1, int(extents[d])) for d in shape.dim_names}
    red = reduction_dims(shape)
    whole = math.prod(ext[d] for d in red)
    split = any(ext[d] < shape.dims[d] for d in red)  # partial sums re-injected: an aux too
    budget = ms - 1 if (whole > ms or split) and not target.accumulation_buffer else ms
    vns: list[dict[str, int]] = []
    if whole <= budget:
        vns.append({d: ext[d] for d in red})
    if shape.kind == "matmul":
        vns += [{"k": v} for v in divisors(ext["k"], budget)]
    else:
        window = ext["r"] * ext["s"]
        if window <= budget:
            vns += [
                {"r": ext["r"], "s": ext["s"], "c": v} for v in divisors(ext["c"], budget // window)
            ]
        if ext["s"] <= budget:
            vns += [{"s": ext["s"], "r": v} for v in divisors(ext["r"], budget // ext["s"])]
        vns += [{"s": v} for v in divisors(ext["s"], budget)]
    vns = list({tuple(sorted(f.items())): f for f in vns}.values())
    if target.accumulation_buffer:
        # STONNE cannot run a VN of one multiplier into the accumulation buffer (it aborts in
        # `Accumulator::perform_operation_2_operands`, docs/bifrost.md): where there is another
        # divisor, the default is a tile that can be handed to it (`accelflow export`).
        vns = [f for f in vns if math.prod(f.values()) > 1] or vns
    across = ("k", "x", "y", "n", "g") if shape.kind == "conv2d" else ("n", "m", "g")
    stride = shape.stride if shape.kind == "conv2d" else (1, 1)
    roles = maeri.roles_of(shape.kind, ext, shape.dim_names)
    best: tuple[tuple[int, int, int], dict[str, int]] | None = None
    for vn_factors in sorted(vns, key=lambda f: -math.prod(f.values()))[:MAX_CANDIDATES]:
        t = {d: 1 for d in shape.dim_names} | vn_factors
        vn = math.prod(t[d] for d in red)
        aux = maeri_uses_aux(shape, ext, t, target)
        capacity = ms // (vn + int(aux))
        for d in across:  # each prefix of the fill is a candidate: more VNs are not always faster
            t = t | {d: _largest_divisor(ext[d], capacity)}
            capacity //= t[d]
            if t[d] == 1 and d != across[0]:
                continue  # (the same tile as the previous prefix)
            cycles = maeri.layer_cycles(
                roles,
                maeri.roles_of(shape.kind, t, shape.dim_names),
                stride,
                ms,
                target.dn_bw_elems_per_cycle,
                target.rn_bw_elems_per_cycle,
                target.accumulation_buffer,
            )
            key = (cycles, -vn, math.prod(t.values()))
            if best is None or key < best[0]:
                best = (key, t)
    assert best is not None
    return best[1]


def _maeri_folds(shape: LayerShape, extents: dict[str, int], factors: dict[str, int]) -> int:
    return math.prod(-(-extents[d] // factors.get(d, 1)) for d in reduction_dims(shape))


def maeri_uses_aux(
    shape: LayerShape, tiles: dict[str, int], factors: dict[str, int], target: Target
) -> bool:
    """Without the accumulation buffer, a VN carries an aux multiplier (partial-sum injection)
    when its outputs take a partial sum in: its buffer tile folds (the tile's reduction exceeds
    the VN), or the reduction is split across buffer tiles (each tile after the first re-injects
    the partial sums the previous one stored): `maeri.needs_aux`."""
    split = any(tiles[d] < shape.dims[d] for d in reduction_dims(shape))
    folds = _maeri_folds(shape, tiles, factors)
    return bool(maeri.needs_aux(folds, split, target.accumulation_buffer))


def maeri_mapping_spatial(shape: LayerShape, factors: dict[str, int]) -> dict[str, tuple[str, int]]:
    """Mapping.spatial for MAERI factors (dims with factor 1 left out). An all-ones tile keeps
    its first reduction dim at 1, so that it reads as chosen (an empty spatial unroll means
    "not chosen yet": `with_maeri_spatial` gives it the heuristic's)."""
    spatial = {d: (maeri_axis(shape, d), int(f)) for d, f in factors.items() if f > 1}
    if not spatial:
        first = reduction_dims(shape)[0]
        spatial[first] = (maeri_axis(shape, first), 1)
    return spatial


def maeri_factors(shape: LayerShape, mapping: Mapping) -> dict[str, int]:
    """The spatial factor of every dim of a MAERI mapping (1 where absent)."""
    return {d: int(mapping.spatial[d][1]) if d in mapping.spatial else 1 for d in shape.dim_names}


def with_maeri_spatial(
    shape: LayerShape, mapping: Mapping, target: Target, factors: dict[str, int] | None = None
) -> Mapping:
    """`mapping` with a MAERI spatial tile: `factors` (clamped to the buffer tiles), else the
    mapping's own spatial factors clamped, else the default heuristic on the buffer tiles."""
    tiles = {d: min(mapping.tiles[d], shape.dims[d]) for d in shape.dim_names}
    if (
        factors is None
        and mapping.spatial
        and all(a in MAERI_AXES for a, _ in mapping.spatial.values())
    ):
        factors = maeri_factors(shape, mapping)
    if factors is None:
        factors = maeri_spatial(shape, target, tiles)
    clamped = {d: max(1, min(int(factors.get(d, 1)), tiles[d])) for d in shape.dim_names}
    return replace(mapping, spatial=maeri_mapping_spatial(shape, clamped))


def check_maeri_spatial(shape: LayerShape, mapping: Mapping, target: Target, where: str) -> None:
    """MAERI: vn/vns axes on the right dims, factors within the buffer tiles, the virtual
    neurons (and their aux multipliers, `maeri_uses_aux`) within the multipliers."""
    dims = shape.dim_names
    for d, (axis, factor) in mapping.spatial.items():
        if d not in dims:
            raise MappingError(
                f"{where}spatial unroll of unknown dim '{d}' (dims: {' '.join(dims)})"
            )
        if axis not in MAERI_AXES:
            raise MappingError(
                f"{where}spatial unroll of {d} on axis '{axis}': a maeri target has the axes "
                f"vn (inside a virtual neuron) and vns (across virtual neurons)"
            )
        if axis != maeri_axis(shape, d):
            raise MappingError(
                f"{where}spatial unroll of {d} on axis '{axis}' should be on "
                f"'{maeri_axis(shape, d)}' (vn: the reduction {' '.join(reduction_dims(shape))})"
            )
        if not 1 <= factor <= min(mapping.tiles[d], shape.dims[d]):
            raise MappingError(
                f"{where}spatial unroll of {d} = {factor} is outside [1, its buffer tile "
                f"{min(mapping.tiles[d], shape.dims[d])}]"
            )
    factors = maeri_factors(shape, mapping)
    vn = math.prod(factors[d] for d in reduction_dims(shape))
    count = math.prod(f for d, f in factors.items() if d not in reduction_dims(shape))
    ms = target.num_multipliers
    tiles = {d: min(mapping.tiles[d], shape.dims[d]) for d in dims}
    aux = maeri_uses_aux(shape, tiles, factors, target)
    needed = count * (vn + int(aux))
    if needed > ms:
        spelled = "*".join(f"{d}{factors[d]}" for d in dims if factors[d] > 1) or "1"
        extra = (
            f" ({count} VNs of {vn} + 1 aux multiplier: partial sums without accumulation buffer)"
            if aux
            else f" ({count} VNs of {vn})"
        )
        raise MappingError(
            f"{where}spatial tile {spelled} needs {needed} multipliers{extra} but the target "
            f"has {ms}"
        )


def _by_role_rows(per_dim: np.ndarray, kind: str) -> np.ndarray:
    """Rows of per-dim values [B, dims] as the 8 STONNE roles [B, 8] (a role no dim fills
    reads 1)."""
    roles = maeri.ROLE_INDEX[kind]
    nd = per_dim.shape[1]
    out = np.take(per_dim, [min(i, nd - 1) for i in roles], axis=1)
    out[:, [r for r, i in enumerate(roles) if i >= nd]] = 1
    return out


class Maeri(Family):
    """MAERI as STONNE models it (module docstring; the mapping side: maeri_mapping.py)."""

    name = "maeri"
    description = "MAERI as in STONNE: multiplier switches, distribution and reduction trees"
    tunable_hardware = maeri.MULTIPLIER_TUNABLES
    unread_fields = (*ARRAY_FIELDS, *SPARSE_FIELDS)
    spatial_axes = ("vn", "vns")
    spatial_is_unroll = True

    def check_target(self, target: Target) -> None:
        maeri.check_multipliers(target)

    def describe(self, target: Target) -> str:
        return f"{target.num_multipliers} MS"

    def default_spatial(self, shape: LayerShape, mapping: Mapping, target: Target) -> Mapping:
        return with_maeri_spatial(shape, mapping, target)

    def check_spatial(
        self, shape: LayerShape, mapping: Mapping, target: Target, where: str
    ) -> None:
        check_maeri_spatial(shape, mapping, target, where)

    def parse_spatial(self, text: str, kind: str) -> dict[str, int]:
        return parse_spatial(text, kind)

    def with_spatial(
        self, shape: LayerShape, mapping: Mapping, target: Target, factors: dict[str, int]
    ) -> Mapping:
        return with_maeri_spatial(shape, mapping, target, factors)

    def spatial_factors(self, shape: LayerShape, mapping: Mapping) -> dict[str, int]:
        return maeri_factors(shape, mapping)

    def spatial_options(self, shape: LayerShape, target: Target) -> dict[str, list[int]]:
        """Per dim of extent z, up to the multipliers: the divisors of z, the powers of two,
        and for every count n of steps (folds of a reduction dim, windows of an output dim)
        the least factor that takes n, ceil(z / n) (MAERI's steps are ceil(z / factor), the
        last one partial: 5 channels of 64 in 13 folds, mRNA's tile of AlexNet conv2). A
        conv's output rows and columns (STONNE's T_X', T_Y'): only divisors, and only at
        stride 1. STONNE's controller computes the others wrong (its output check fails at
        stride > 1, and on partial windows with the accumulation buffer), and on partial
        windows without it runs 4-6 % faster than we time them
        (bench/validation/tuned_vs_stonne.csv)."""
        options = {}
        for d in shape.dim_names:
            z = shape.dims[d]
            limit = min(z, target.num_multipliers)
            values = {f for f in range(1, limit + 1) if z % f == 0}
            if shape.kind == "conv2d" and d in ("x", "y"):
                options[d] = sorted(values) if shape.stride == (1, 1) else [1]
                continue
            values |= {1 << i for i in range(limit.bit_length()) if 1 << i <= limit}
            values |= {-(-z // n) for n in range(1, z + 1) if -(-z // n) <= limit}
            options[d] = sorted(values)
        return options

    def spatial_batch(
        self, shape: LayerShape, target: Target, tiles: np.ndarray, spatial: np.ndarray,
        dataflow: np.ndarray, with_config: bool = True,
    ) -> SpatialBatch:  # fmt: skip
        """The spatial tiles clamped to the buffer tiles (as `with_maeri_spatial` does), their
        multipliers (VNs x (VN size + aux)) and step costs (`step_costs_batch` of each distinct
        one; a tile beyond the multipliers gets placeholders)."""
        dims = shape.dim_names
        factors = np.clip(spatial, 1, tiles)
        t = _by_role_rows(factors, shape.kind)
        red = [dims.index(d) for d in reduction_dims(shape)]
        folds = np.prod(-(-tiles[:, red] // factors[:, red]), axis=1)
        extent = np.array([shape.dims[d] for d in dims], np.int64)
        split = np.any(tiles[:, red] < extent[red], axis=1)
        aux = maeri.needs_aux(folds, split, target.accumulation_buffer)
        stride = shape.stride if shape.kind == "conv2d" else (1, 1)
        extent_s = tiles[:, maeri.ROLE_INDEX[shape.kind][1]]
        used = maeri.multipliers_needed(t, aux)
        legal = used <= target.num_multipliers
        if not with_config:
            return SpatialBatch(used, legal, Fields())
        fwd = maeri.forwarding_usable(t.T, extent_s, stride[1])
        # The step costs depend on the spatial tile, aux and forwarding only: each distinct once.
        first, inverse = maeri.distinct_rows(
            np.concatenate([t, aux[:, None], fwd[:, None]], axis=1)
        )
        ms = target.num_multipliers
        dn, rn = target.dn_bw_elems_per_cycle, target.rn_bw_elems_per_cycle
        ports = maeri.step_costs_batch(
            t[first], aux[first], extent_s[first], stride, ms, dn,
            max_multipliers=ms,  # a larger spatial tile is illegal: placeholders
        )[inverse]  # fmt: skip
        z = _by_role_rows(tiles, shape.kind)
        trips = maeri.round_trip_fields(z, t, aux, ms, dn, rn)
        steps = np.concatenate([ports, trips], axis=1)
        per_dim = [factors[:, i] for i in range(len(dims))] + [1] * (maeri.NO_DIM - len(dims))
        config = Fields(
            kind=KIND_CODES[shape.kind],
            size=per_dim,
            steps=[steps[:, i] for i in range(steps.shape[1])],
        )
        if target.energy_model == "stonne":  # STONNE's energy: each distinct tile's constants
            from simulator.arch.stonne_energy import spatial_constants

            constants = np.zeros((len(first), 5), np.int64)
            for j, u in enumerate(first.tolist()):
                if legal[u]:
                    key = (tuple(t[u].tolist()), stride, int(extent_s[u]), ms, dn, bool(aux[u]))
                    constants[j] = spatial_constants(*key)
            config.energy = [constants[inverse, i] for i in range(5)]
            config.stride_y = stride[1]
        return SpatialBatch(used, legal, config)

    def config_values(self, shape: LayerShape, mapping: Mapping, target: Target) -> dict[str, Any]:
        """The virtual neurons: the spatial tile per dim (the step costs are derived)."""
        factors = self.spatial_factors(shape, mapping)
        return {"size": [factors[d] for d in shape.dim_names]}

    def prepare_rows(self, rows: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        return maeri.derive_steps(
            rows,
            int(params["num_multipliers"]),
            int(params["dn_bw_elems_per_cycle"]),
            int(params["rn_bw_elems_per_cycle"]),
            bool(params["accumulation_buffer"]),
        )

    def params(self, target: Target | None) -> dict[str, Any]:
        return maeri.multiplier_params(self.name, target)

    def tile_cost(self, config: Any, compute: Any, params: dict[str, Any], xp: Any) -> TileCost:
        c = compute
        z = maeri.by_role(c.size, config.kind, xp)
        t = maeri.by_role(config.size, config.kind, xp)
        steps = [xp.maximum(config.steps[i], 0) for i in range(len(maeri.STEP_FIELDS))]
        ms, eb = params["num_multipliers"], params["element_bytes"]
        acc_buffer = params["accumulation_buffer"].astype(np.int64)
        macs = c.reps * c.m * c.n * c.k
        counts = maeri.tile_counts(z, t, xp)
        rn = params["rn_bw_elems_per_cycle"]
        busy = maeri.compute_cycles(z, t, steps, rn, acc_buffer, xp, counts)
        traffic = maeri.sram_traffic(z, t, steps, acc_buffer, c.acc, xp, counts)
        levels = ceil_log2(ms)
        return TileCost(
            busy=busy,
            macs=macs,
            read_input=traffic[0] * eb,
            read_weight=traffic[1] * eb,
            write_output=traffic[2] * eb,
            read_output=traffic[3] * eb,
            hops=maeri.network_hops(z, t, steps, acc_buffer, c.acc, macs, levels, xp, traffic),
            folds=counts["folds"] * counts["ktiles"],
        )


MAERI = Maeri()
