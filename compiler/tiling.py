"""IR-free mapping and tiling math shared by the passes, the tuner's cost model and the tests.

- `LayerShape` describes one accelerator layer (conv2d or matmul) by its loop dimensions
  (`simulator.program.CONV_DIMS` / `MATMUL_DIMS`) plus conv geometry.
- `Mapping` is a layer's dataflow, spatial unroll, buffer-level tiles, loop order and double
  buffering. `Mapping.to_dict()` / `Mapping.from_dict()` round-trip through plain JSON types
  (this is what `#accel.mapping` prints and what the mapping database stores).
- `default_mapping` is the heuristic for a target; `choose_tiles` picks buffer tiles that fit;
  `check_mapping` raises `MappingError` naming the layer and the limit it breaks. The loop nest
  a mapping spells and its lowering to instructions are compiler/loop_nest.py's.

Choices made here (the rest of the project relies on them):

- Operands and the loop dims they depend on: input (conv `n g c y x r s`, matmul `g m k`), weight
  (conv `g k c r s`, matmul `g k n`, or `k n` when b is shared), output (conv `n g k y x`, matmul
  `g m n`). An operand tile is loaded when its tile coordinates change between two consecutive
  iterations of the tile loop nest (`compiler/loop_nest.py`; `dram_traffic` counts the same
  thing analytically).
- Spatial unroll (`spatial_unroll`) is descriptive: per array axis it records the main loop dim
  (the one with the largest extent among the dims folded onto that axis by the GEMM view) with
  factor min(GEMM-view extent of the axis, rows or cols). The timing model uses the GEMM view.
- MAERI targets (`target.arch == "maeri"`): the spatial unroll is STONNE's spatial tile, one
  factor per loop dim on one of two axes: "vn" for the reduction dims inside a virtual neuron
  (conv r s c, matmul k: VN size = T_R*T_S*T_C) and "vns" for the dims across virtual neurons
  (conv k g n y x, matmul n g m: number of VNs = their product); a dim that is absent has
  factor 1, and VN size * number of VNs must fit `num_multipliers` (plus one aux multiplier per
  VN when, without the accumulation buffer, its outputs take partial sums in: a buffer tile
  folds, as STONNE requires, or the reduction is split across buffer tiles, whose partial sums
  are re-injected the same way; `maeri_uses_aux`).
  `maeri_spatial` is the default heuristic (mRNA-like, see its docstring); STONNE's names map to
  ours as T_R=r T_S=s T_C=c T_K=k T_G=g T_N=n T_X'=y T_Y'=x for a conv (STONNE's X is the
  input rows, ours y) and T_M=m T_N=n T_K=k for a GEMM/FC (`parse_spatial`). The tiles stay
  buffer-level tiles; the spatial factors are clamped to them.
- SIGMA targets (`target.arch == "sigma"`): no spatial unroll (the rows of each tile's weight
  matrix are packed into the multipliers by their non-zeros at run time, as STONNE's
  SparseSDMemory does); tiles are chosen as for MAERI (dense footprints: a tile must fit even
  when its weights are dense) and the lowering (`loop_nest.lower(..., weights=)`) puts each
  COMPUTE's bitmap statistics (`sigma_fields`, simulator/sigma.py) in its row and loads
  bitmap-compressed weights (non-zeros + one bit per element). Without weights (an elided module, a matmul of two
  activations) the weights count as dense.
- Default loop orders (outermost first): ws keeps the weight tile stationary (weight dims outer,
  pixels inner), os keeps the output tile (reduction innermost), is keeps the input tile (output
  channels innermost). See `DEFAULT_ORDERS`.
- `choose_tiles` starts from the full extents and repeatedly halves (ceil) one dimension until
  every footprint (x2 when double-buffered) fits its global buffer. The dimension halved must
  shrink the most over-full buffer; among those it prefers (1) dims whose halving keeps the
  array-mapped GEMM axes and the reduction at least rows/cols-sized and that are not r/s, then
  (2) any dim but r/s, then (3) r/s; within a tier, the least estimated DRAM traffic for the
  mapping's loop order, then the largest drop of the over-full buffer, then the largest tile.
  The greedy runs once per best-tier first move; each result is then improved by a local search
  (double one tile, halve at most one other, while it fits) and the cheapest is kept: cost =
  (floors broken, estimated DRAM traffic `dram_traffic`, number of tile iterations).
  `double_buffer=None`: double-buffer when the target allows it (`target.double_buffer`) and the
  minimal tiles (all 1 except the fixed ones) fit twice; otherwise single-buffer.
- Instruction order within the loop nest: compiler/loop_nest.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from simulator import maeri, sigma
from simulator.errors import AccelflowError
from simulator.program import (
    CONV_DIMS,
    DATAFLOWS,
    MATMUL_DIMS,
    NUM_SPARSE_FIELDS,
)
from simulator.shapes import output_size
from simulator.target import Target

OPERANDS = ("input", "weight", "output")

# Buffer-tile loop orders (outermost first) per dataflow; see the module docstring.
DEFAULT_ORDERS: dict[str, dict[str, tuple[str, ...]]] = {
    "conv2d": {
        "ws": ("g", "k", "c", "r", "s", "n", "y", "x"),
        "os": ("g", "k", "n", "y", "x", "c", "r", "s"),
        "is": ("g", "n", "c", "r", "s", "y", "x", "k"),
    },
    "matmul": {
        "ws": ("g", "n", "k", "m"),
        "os": ("g", "n", "m", "k"),
        "is": ("g", "m", "k", "n"),
    },
}

# GEMM view: which loop dims fold into the GEMM axes m (pixels), n (output channels), k (reduction).
_GEMM_AXES: dict[str, dict[str, tuple[str, ...]]] = {
    "conv2d": {"m": ("y", "x", "n"), "n": ("k",), "k": ("c", "r", "s")},
    "matmul": {"m": ("m",), "n": ("n",), "k": ("k",)},
}
# GEMM axis across the array's rows / cols for each dataflow (docs/program.md).
_ARRAY_AXES: dict[str, tuple[str, str]] = {"os": ("m", "n"), "ws": ("k", "n"), "is": ("k", "m")}
# Dims the greedy tiler shrinks last (filter window: tiling it costs halo and partial sums).
_LAST_RESORT = ("r", "s")


class MappingError(AccelflowError):
    """An illegal mapping: the message names the layer and the limit (PEs, buffer bytes)."""


class ShapeError(AccelflowError, ValueError):
    """Operand shapes that do not form a valid conv2d / matmul layer."""


@dataclass(frozen=True)
class LayerShape:
    """One accelerator layer's loop nest.

    kind: "conv2d" or "matmul"; dims: extent of every loop dimension, in the canonical order
    of `simulator.program.LAYER_DIMS[kind]`. conv2d only: stride (sy, sx), dilation (dy, dx),
    pads (top, left, bottom, right), in_hw (input H, W unpadded). has_bias: a bias operand
    exists. matmul only: b_batched (b has the batch dim g; else b [K, N] is shared).
    """

    kind: str
    dims: dict[str, int]
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)
    in_hw: tuple[int, int] = (0, 0)
    has_bias: bool = False
    b_batched: bool = True

    @property
    def dim_names(self) -> tuple[str, ...]:
        return CONV_DIMS if self.kind == "conv2d" else MATMUL_DIMS

    @property
    def macs(self) -> int:
        return int(np.prod(list(self.dims.values()), dtype=np.int64))

    @property
    def signature(self) -> str:
        """A readable key naming everything that decides the layer's mappings and timing, e.g.
        `conv2d n1g1k64c3y55x55r11s11 st4x4 dl1x1 pad2,2,2,2 in224x224 bias` or
        `matmul g1m1k9216n4096 shared-b bias` (mapping databases are keyed by it)."""
        dims = "".join(f"{d}{self.dims[d]}" for d in self.dim_names)
        parts = [self.kind, dims]
        if self.kind == "conv2d":
            parts += [
                "st{}x{}".format(*self.stride),
                "dl{}x{}".format(*self.dilation),
                "pad{},{},{},{}".format(*self.pads),
                "in{}x{}".format(*self.in_hw),
            ]
        elif not self.b_batched:
            parts.append("shared-b")
        if self.has_bias:
            parts.append("bias")
        return " ".join(parts)

    @property
    def padded_hw(self) -> tuple[int, int]:
        """Input H, W with the pads added (conv2d only)."""
        top, left, bottom, right = self.pads
        return self.in_hw[0] + top + bottom, self.in_hw[1] + left + right


def conv2d_shape(
    input_shape: tuple[int, ...],
    weight_shape: tuple[int, ...],
    strides: tuple[int, int] = (1, 1),
    pads: tuple[int, int, int, int] = (0, 0, 0, 0),
    dilations: tuple[int, int] = (1, 1),
    group: int = 1,
    has_bias: bool = False,
) -> LayerShape:
    """The LayerShape of an NCHW conv with ONNX weight layout [G*K, C, R, S]."""
    if len(input_shape) != 4 or len(weight_shape) != 4:
        raise ShapeError(
            f"conv2d expects a 4-D input and weight, got {tuple(input_shape)} and {tuple(weight_shape)}"
        )
    n, cin, h, w = (int(v) for v in input_shape)
    gk, c, r, s = (int(v) for v in weight_shape)
    sy, sx = (int(v) for v in strides)
    dy, dx = (int(v) for v in dilations)
    top, left, bottom, right = (int(v) for v in pads)
    if group < 1 or cin % group or gk % group:
        raise ShapeError(
            f"conv2d group={group} does not divide input channels {cin} and output channels {gk}"
        )
    if c != cin // group:
        raise ShapeError(
            f"conv2d weight has {c} input channels per group, expected {cin} / {group} = {cin // group}"
        )
    if min(sy, sx, dy, dx) < 1 or min(top, left, bottom, right) < 0:
        raise ShapeError(
            f"conv2d strides {strides} / dilations {dilations} must be >= 1, pads {pads} >= 0"
        )
    oy = output_size(h, r, sy, top + bottom, dy)
    ox = output_size(w, s, sx, left + right, dx)
    if oy < 1 or ox < 1 or min(n, c, gk, r, s) < 1:
        raise ShapeError(
            f"conv2d of input {tuple(input_shape)} with weight {tuple(weight_shape)} has an empty output"
        )
    dims = {"n": n, "g": group, "k": gk // group, "c": c, "y": oy, "x": ox, "r": r, "s": s}
    return LayerShape(
        kind="conv2d",
        dims=dims,
        stride=(sy, sx),
        dilation=(dy, dx),
        pads=(top, left, bottom, right),
        in_hw=(h, w),
        has_bias=has_bias,
    )


def matmul_shape(
    a_shape: tuple[int, ...], b_shape: tuple[int, ...], has_bias: bool = False
) -> LayerShape:
    """The LayerShape of out = a @ b (+ bias): a [G, M, K] or [M, K]; b [G, K, N] or [K, N].

    A 2-D (or batch-1) `a` with a batched `b` is broadcast over b's batch; a 3-D `b` whose
    batch is 1 under a batched `a` is shared like a 2-D `b` (b_batched False)."""
    if len(a_shape) not in (2, 3) or len(b_shape) not in (2, 3):
        raise ShapeError(
            f"matmul expects 2-D or 3-D operands, got {tuple(a_shape)} and {tuple(b_shape)}"
        )
    ga, m, ka = (1, *a_shape) if len(a_shape) == 2 else tuple(a_shape)
    gb, kb, n = (1, *b_shape) if len(b_shape) == 2 else tuple(b_shape)
    if ka != kb:
        raise ShapeError(f"matmul inner dims differ: a {tuple(a_shape)} @ b {tuple(b_shape)}")
    if ga != gb and 1 not in (ga, gb):
        raise ShapeError(f"matmul batch dims differ: a {tuple(a_shape)} @ b {tuple(b_shape)}")
    b_batched = len(b_shape) == 3 and not (gb == 1 and ga > 1)
    g = max(ga, gb)
    if min(g, m, n, ka) < 1:
        raise ShapeError(f"matmul of {tuple(a_shape)} @ {tuple(b_shape)} is empty")
    dims = {"g": int(g), "m": int(m), "n": int(n), "k": int(ka)}
    return LayerShape(kind="matmul", dims=dims, has_bias=has_bias, b_batched=b_batched)


@dataclass(frozen=True)
class Mapping:
    """How a layer runs on the target.

    dataflow: "ws" | "os" | "is".
    spatial: loop dimension -> (array axis, unroll factor) for the dims that go across the PEs:
      systolic "rows" | "cols" (derived from dataflow and array shape); MAERI "vn" (inside a
      virtual neuron) | "vns" (across virtual neurons), STONNE's spatial tile.
    tiles: loop dimension -> buffer-level tile extent (every dimension present; 1 <= t <= extent).
    order: the buffer-tile loop order, outermost first (a permutation of all dims).
    double_buffer: input/weight/output tiles are double-buffered (they fit twice).
    """

    dataflow: str
    tiles: dict[str, int]
    order: tuple[str, ...]
    spatial: dict[str, tuple[str, int]] = field(default_factory=dict)
    double_buffer: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataflow": self.dataflow,
            "tiles": {d: int(t) for d, t in self.tiles.items()},
            "order": list(self.order),
            "spatial": {d: [axis, int(f)] for d, (axis, f) in self.spatial.items()},
            "double_buffer": bool(self.double_buffer),
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Mapping:
        missing = [key for key in ("dataflow", "tiles", "order") if key not in data]
        if missing:
            raise MappingError(f"mapping is missing '{missing[0]}'")
        try:
            return Mapping(
                dataflow=str(data["dataflow"]),
                tiles={str(d): int(t) for d, t in data["tiles"].items()},
                order=tuple(str(d) for d in data["order"]),
                spatial={str(d): (str(a), int(f)) for d, (a, f) in data.get("spatial", {}).items()},
                double_buffer=bool(data.get("double_buffer", True)),
            )
        except (TypeError, ValueError, AttributeError) as err:
            raise MappingError(f"malformed mapping {data!r}: {err}") from None

    def normalized(self, shape: LayerShape) -> Mapping:
        """The same mapping as its loop nest spells it (`compiler.loop_nest.nest_mapping`): tiles
        clamped to the extents, the order of the dims with more than one tile kept and the
        others (whose position changes nothing) after them in canonical order."""
        tiles = {d: min(int(self.tiles[d]), shape.dims[d]) for d in shape.dim_names}
        looped = [d for d in self.order if tiles[d] < shape.dims[d]]
        order = (*looped, *(d for d in shape.dim_names if d not in looped))
        return replace(self, tiles=tiles, order=order)

    def directives(self, shape: LayerShape) -> str:
        """MAESTRO-style directives, e.g. 'TemporalMap(8,8) K; SpatialMap(1,1) C; ...'."""
        parts = []
        for d in self.order or shape.dim_names:
            if d in self.spatial:
                axis, factor = self.spatial[d]
                size = factor if axis in MAERI_AXES else 1
                parts.append(f"SpatialMap({size},{size}) {d.upper()}")
                continue
            t = min(self.tiles.get(d, shape.dims[d]), shape.dims[d])
            parts.append(f"TemporalMap({t},{t}) {d.upper()}")
        return "; ".join(parts)


def gemm_view(shape: LayerShape, sizes: dict[str, int]) -> tuple[int, int, int, int]:
    """(reps, m, n, k) of a tile with per-dim `sizes`: conv m = n*y*x, n = k, k = c*r*s,
    reps = g; matmul m, n, k with reps = g."""
    if shape.kind == "conv2d":
        return (
            sizes["g"],
            sizes["n"] * sizes["y"] * sizes["x"],
            sizes["k"],
            sizes["c"] * sizes["r"] * sizes["s"],
        )
    return sizes["g"], sizes["m"], sizes["n"], sizes["k"]


def operand_dims(shape: LayerShape) -> dict[str, tuple[str, ...]]:
    """The loop dims each operand's tile depends on (its tile coordinates)."""
    if shape.kind == "conv2d":
        return {
            "input": ("n", "g", "c", "y", "x", "r", "s"),
            "weight": ("g", "k", "c", "r", "s"),
            "output": ("n", "g", "k", "y", "x"),
        }
    return {
        "input": ("g", "m", "k"),
        "weight": ("g", "k", "n") if shape.b_batched else ("k", "n"),
        "output": ("g", "m", "n"),
    }


def reduction_dims(shape: LayerShape) -> tuple[str, ...]:
    """The loop dims summed over (not in the output)."""
    return ("c", "r", "s") if shape.kind == "conv2d" else ("k",)


def _footprint_elems(shape: LayerShape, t: dict[str, int]) -> tuple[int, int, int]:
    """Elements of one input (with halo), weight (+ bias) and output tile of per-dim sizes `t`."""
    return tuple(int(v) for v in footprint_elements(shape, t))  # type: ignore[return-value]


def footprint_bytes(shape: LayerShape, tiles: dict[str, int], element_bytes: int) -> dict[str, int]:
    """Bytes of one input tile (with conv halo), weight tile (+ its bias slice) and output tile:
    {"input": ..., "weight": ..., "output": ...}. Output partial sums are element_bytes wide."""
    t = {d: min(int(tiles[d]), shape.dims[d]) for d in shape.dim_names}
    return {
        op: e * element_bytes for op, e in zip(OPERANDS, _footprint_elems(shape, t), strict=True)
    }


def spatial_unroll(shape: LayerShape, dataflow: str, target: Target) -> dict[str, tuple[str, int]]:
    """The spatial unroll `dataflow` implies on a rows x cols systolic array (descriptive): per
    array axis, the main loop dim of the GEMM axis mapped there, with factor
    min(GEMM-view extent of that axis, rows or cols)."""
    if dataflow not in _ARRAY_AXES:
        raise MappingError(
            f"unknown dataflow '{dataflow}' (expected one of {', '.join(DATAFLOWS)})"
        )
    axes = _GEMM_AXES[shape.kind]
    spatial: dict[str, tuple[str, int]] = {}
    for array_axis, size, gemm_axis in zip(
        ("rows", "cols"), (target.rows, target.cols), _ARRAY_AXES[dataflow], strict=True
    ):
        dims = axes[gemm_axis]
        main = max(dims, key=lambda d: shape.dims[d])  # first wins ties
        extent = math.prod(shape.dims[d] for d in dims)
        spatial[main] = (array_axis, min(extent, size))
    return spatial


MAERI_AXES = ("vn", "vns")
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
    return max((d for d in range(1, min(n, max(limit, 1)) + 1) if n % d == 0), default=1)


def maeri_spatial(shape: LayerShape, target: Target, extents: dict[str, int]) -> dict[str, int]:
    """The default spatial tile on MAERI for buffer tiles of `extents` (mRNA-like heuristic).

    1. Candidate virtual neurons: the whole reduction (conv R*S*C, matmul K) when it fits the
       multipliers (no folding); else whole filter windows R*S times each divisor of C that
       fits; else whole filter rows S times the largest divisor of R; else the largest divisor
       of S (matmul: each divisor of K that fits). Divisors keep every fold full. Without the
       accumulation buffer a VN that takes partial sums in (it folds, or the reduction is split
       across buffer tiles) needs one aux multiplier, so it gets one less.
    2. For each, the virtual neurons fill the remaining multipliers: output channels first (k
       for a conv, n for a matmul: fewer K-tiles, each of which drains STONNE's pipeline),
       then output columns, rows, batch and groups, each the largest divisor of its extent
       that still fits.
    3. The candidate with the fewest cycles by the closed form (`simulator.maeri`) wins (ties:
       the larger VN). At most 8 candidates (the largest VNs) are evaluated.
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
    elif shape.kind == "matmul":
        vns += [{"k": v} for v in _divisors(ext["k"], budget)]
    elif ext["r"] * ext["s"] <= budget:
        window = ext["r"] * ext["s"]
        vns += [
            {"r": ext["r"], "s": ext["s"], "c": v} for v in _divisors(ext["c"], budget // window)
        ]
    elif ext["s"] <= budget:
        vns.append({"s": ext["s"], "r": _largest_divisor(ext["r"], budget // ext["s"])})
    else:
        vns.append({"s": _largest_divisor(ext["s"], budget)})
    across = ("k", "x", "y", "n", "g") if shape.kind == "conv2d" else ("n", "m", "g")
    stride = shape.stride if shape.kind == "conv2d" else (1, 1)
    roles = maeri.roles_of(shape.kind, ext, shape.dim_names)
    best: tuple[tuple[int, int], dict[str, int]] | None = None
    for vn_factors in sorted(vns, key=lambda f: -math.prod(f.values()))[:8]:
        t = {d: 1 for d in shape.dim_names} | vn_factors
        vn = math.prod(t[d] for d in red)
        aux = maeri_uses_aux(shape, ext, t, target)
        capacity = ms // (vn + int(aux))
        for d in across:
            t[d] = _largest_divisor(ext[d], capacity)
            capacity //= t[d]
        cycles = maeri.layer_cycles(
            roles,
            maeri.roles_of(shape.kind, t, shape.dim_names),
            stride,
            ms,
            target.dn_bw_elems_per_cycle,
            target.rn_bw_elems_per_cycle,
            target.accumulation_buffer,
        )
        key = (cycles, -vn)
        if best is None or key < best[0]:
            best = (key, t)
    assert best is not None
    return best[1]


def _divisors(n: int, limit: int) -> list[int]:
    """Divisors of n that are <= limit (at least [1])."""
    return [d for d in range(1, min(n, max(limit, 1)) + 1) if n % d == 0] or [1]


def _maeri_folds(shape: LayerShape, extents: dict[str, int], factors: dict[str, int]) -> int:
    return math.prod(-(-extents[d] // factors.get(d, 1)) for d in reduction_dims(shape))


def maeri_uses_aux(
    shape: LayerShape, tiles: dict[str, int], factors: dict[str, int], target: Target
) -> bool:
    """Without the accumulation buffer, a VN carries an aux multiplier (partial-sum injection)
    when its outputs take a partial sum in: its buffer tile folds (the tile's reduction exceeds
    the VN), or the reduction is split across buffer tiles (each tile after the first re-injects
    the partial sums the previous one stored)."""
    if target.accumulation_buffer:
        return False
    split = any(tiles[d] < shape.dims[d] for d in reduction_dims(shape))
    return split or maeri.uses_aux_ms(_maeri_folds(shape, tiles, factors), False)


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


def maeri_config(shape: LayerShape, mapping: Mapping, target: Target) -> tuple[int, ...]:
    """The step fields of a MAERI CONFIG row (simulator.maeri.STEP_FIELDS) for this mapping:
    the port costs of its spatial tile, with an aux multiplier when its buffer tiles fold
    without the accumulation buffer."""
    factors = maeri_factors(shape, mapping)
    tiles = {d: min(mapping.tiles[d], shape.dims[d]) for d in shape.dim_names}
    t = maeri.roles_of(shape.kind, factors, shape.dim_names)
    aux = maeri_uses_aux(shape, tiles, factors, target)
    stride = shape.stride if shape.kind == "conv2d" else (1, 1)
    extent_s = tiles["s"] if shape.kind == "conv2d" else tiles["k"]
    return maeri.step_costs(
        t, stride, extent_s, target.num_multipliers, target.dn_bw_elems_per_cycle, aux
    )


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


def dram_traffic(shape: LayerShape, mapping: Mapping, element_bytes: int) -> dict[str, int]:
    """Analytical DRAM bytes of the lowered loop nest (compiler/loop_nest.py) for this mapping: {"input", "weight" (loads),
    "output" (stores), "psum" (partial-sum reloads)}. Exact when the tiles divide the extents;
    otherwise an upper bound (every tile counted at full size)."""
    tiles = {d: min(mapping.tiles[d], shape.dims[d]) for d in shape.dim_names}
    counts = _visit_counts(shape, tiles, mapping.order)
    fp = _footprint_elems(shape, tiles)
    visits_in, visits_w, visits_out, distinct_out = counts
    return {
        "input": visits_in * fp[0] * element_bytes,
        "weight": visits_w * fp[1] * element_bytes,
        "output": visits_out * fp[2] * element_bytes,
        "psum": (visits_out - distinct_out) * fp[2] * element_bytes,
    }


def _visit_counts(
    shape: LayerShape, tiles: dict[str, int], order: tuple[str, ...]
) -> tuple[int, int, int, int]:
    """How many times the input, weight, output tile changes along the loop nest (= loads /
    stores), and how many distinct output tiles there are."""
    trips = {d: -(-shape.dims[d] // tiles[d]) for d in order}
    rel = operand_dims(shape)
    result = []
    for op in OPERANDS:
        deps = rel[op]
        prefix, visits = 1, 1
        for d in order:
            prefix *= trips[d]
            if d in deps and trips[d] > 1:
                visits = prefix
        result.append(visits)
    result.append(math.prod(trips[d] for d in rel["output"]))
    return result[0], result[1], result[2], result[3]


def default_mapping(
    shape: LayerShape,
    target: Target,
    dataflow: str | None = None,
    order: tuple[str, ...] | None = None,
) -> Mapping:
    """The heuristic mapping for `target`: its dataflow (or `dataflow`), the spatial unroll
    that dataflow implies, a reuse-friendly loop order (or `order`), and tiles from
    `choose_tiles`."""
    dataflow = dataflow or target.dataflow
    if target.arch in ("maeri", "sigma") and dataflow not in DATAFLOWS:
        raise MappingError(
            f"unknown dataflow '{dataflow}' (expected one of {', '.join(DATAFLOWS)})"
        )
    spatial = {} if target.arch in ("maeri", "sigma") else spatial_unroll(shape, dataflow, target)
    order = tuple(order) if order is not None else DEFAULT_ORDERS[shape.kind][dataflow]
    if sorted(order) != sorted(shape.dim_names):
        raise MappingError(
            f"loop order {' '.join(order)} is not a permutation of {' '.join(shape.dim_names)}"
        )
    start = Mapping(dataflow=dataflow, tiles=dict(shape.dims), order=order, spatial=spatial)
    mapping = choose_tiles(shape, start, target)
    if target.arch == "maeri":
        mapping = with_maeri_spatial(shape, mapping, target)
    return mapping


def _gemm_floors(
    shape: LayerShape, dataflow: str, target: Target
) -> list[tuple[tuple[str, ...], int]]:
    """(dims of a GEMM axis, minimum product) the tiler tries to keep: the array-mapped axes at
    least rows/cols, the reduction at least rows (each capped by the axis's full extent)."""
    axes = _GEMM_AXES[shape.kind]
    if target.arch in ("maeri", "sigma"):  # keep a virtual neuron's worth of reduction per tile
        dims = axes["k"]
        return [(dims, min(target.num_multipliers, math.prod(shape.dims[d] for d in dims)))]
    rows_axis, cols_axis = _ARRAY_AXES.get(dataflow, ("k", "n"))
    wanted = {rows_axis: target.rows, cols_axis: target.cols}
    wanted["k"] = max(wanted.get("k", 0), target.rows)
    floors = []
    for gemm_axis, size in wanted.items():
        dims = axes[gemm_axis]
        floors.append((dims, min(size, math.prod(shape.dims[d] for d in dims))))
    return floors


def _over_capacity_message(operand: str, need: int, cap: int, mult: int) -> str:
    twice = " (x2 double-buffered)" if mult == 2 else ""
    return f"{operand} tile needs {need} B{twice} but the {operand} buffer holds {cap} B"


def buffer_ratios(fp_bytes: tuple[int, ...], target: Target) -> list[float]:
    """How full each operand's global buffer is with tiles of `fp_bytes` (input, weight,
    output); everything fits iff the largest ratio is <= 1. A shared buffer is as full as the
    three tiles together; the largest tile carries that ratio, so shrinking it helps most."""
    if target.global_buffer == "shared":
        total, biggest = sum(fp_bytes), max(max(fp_bytes), 1)
        return [total / target.shared_buffer_bytes * b / biggest for b in fp_bytes]
    return [b / target.buffer_bytes(op) for b, op in zip(fp_bytes, OPERANDS, strict=True)]


def _capacity_error(fp_bytes: tuple[int, ...], target: Target, mult: int) -> str | None:
    """The over-capacity message for tiles of `fp_bytes` (already x mult), or None if they fit."""
    if target.global_buffer == "shared":
        need, cap = sum(fp_bytes), target.shared_buffer_bytes
        if need <= cap:
            return None
        twice = " (x2 double-buffered)" if mult == 2 else ""
        return (
            f"input+weight+output tiles need {need} B{twice} but the shared global buffer "
            f"holds {cap} B"
        )
    for op, need in zip(OPERANDS, fp_bytes, strict=True):
        if need > target.buffer_bytes(op):
            return _over_capacity_message(op, need, target.buffer_bytes(op), mult)
    return None


def choose_tiles(
    shape: LayerShape,
    mapping: Mapping,
    target: Target,
    fixed: dict[str, int] | None = None,
    double_buffer: bool | None = None,
) -> Mapping:
    """`mapping` with the largest tiles that fit the target's global buffers (twice, when double
    buffered; `double_buffer=None` means "where they fit twice"). Dims in `fixed` keep the given
    tile (clamped to the extent). Raises MappingError if even the fixed tiles cannot fit.

    Greedy halving; see the module docstring for the preference order."""
    fixed = {d: max(1, min(int(t), shape.dims[d])) for d, t in (fixed or {}).items()}
    unknown = sorted(set(fixed) - set(shape.dim_names))
    if unknown:
        raise MappingError(
            f"fixed tile for unknown dim '{unknown[0]}' (dims: {' '.join(shape.dim_names)})"
        )
    eb = target.element_bytes
    minimal = {d: fixed.get(d, 1) for d in shape.dim_names}
    min_fp = _footprint_elems(shape, minimal)

    def scaled(fp: tuple[int, int, int], mult: int) -> tuple[int, ...]:
        return tuple(e * eb * mult for e in fp)

    if double_buffer is None:
        double_buffer = (
            target.double_buffer and _capacity_error(scaled(min_fp, 2), target, 2) is None
        )
    mult = 2 if double_buffer else 1
    error = _capacity_error(scaled(min_fp, mult), target, mult)
    if error is not None:
        raise MappingError(error + " even with the smallest tiles")

    order = tuple(mapping.order) if mapping.order else shape.dim_names
    free = [d for d in order if d not in fixed]
    floors = _gemm_floors(shape, mapping.dataflow, target)
    search = _TileSearch(shape, order, free, floors, target, eb * mult)
    full = {d: fixed.get(d, shape.dims[d]) for d in shape.dim_names}
    # The greedy halving is myopic about which dim to shrink first: start it from each of the
    # best-tier first moves and keep the cheapest refined result.
    first_moves = search.halvings(full)
    starts = [full]
    if first_moves:
        best_tier = first_moves[0][0]
        starts = [tiles for tier, tiles in first_moves if tier == best_tier]
    best: tuple[tuple[int, int, int], dict[str, int]] | None = None
    for tiles in starts:
        search.greedy(tiles)
        search.refine(tiles)
        cost = search.cost(tiles)
        if best is None or cost < best[0]:
            best = (cost, tiles)
    assert best is not None
    tiles = best[1]
    return replace(mapping, tiles=tiles, order=order, double_buffer=bool(double_buffer))


class _TileSearch:
    """The greedy halving and local search of `choose_tiles` (see the module docstring)."""

    def __init__(
        self,
        shape: LayerShape,
        order: tuple[str, ...],
        free: list[str],
        floors: list[tuple[tuple[str, ...], int]],
        target: Target,
        bytes_per_elem: int,
    ) -> None:
        self.shape, self.order, self.free, self.floors = shape, order, free, floors
        self.target, self.bytes_per_elem = target, bytes_per_elem
        self.rel = operand_dims(shape)

    def ratios(self, fp: tuple[int, int, int]) -> list[float]:
        return buffer_ratios(tuple(e * self.bytes_per_elem for e in fp), self.target)

    def fits(self, fp: tuple[int, int, int]) -> bool:
        return max(self.ratios(fp)) <= 1

    def traffic(self, tiles: dict[str, int], fp: tuple[int, int, int]) -> int:
        v_in, v_w, v_out, distinct = _visit_counts(self.shape, tiles, self.order)
        return v_in * fp[0] + v_w * fp[1] + (2 * v_out - distinct) * fp[2]

    def floors_broken(self, tiles: dict[str, int]) -> int:
        return sum(math.prod(tiles[x] for x in dims) < lo for dims, lo in self.floors)

    def cost(self, tiles: dict[str, int]) -> tuple[int, int, int]:
        """(floors broken, estimated DRAM traffic, number of tile iterations): lower is better."""
        fp = _footprint_elems(self.shape, tiles)
        steps = math.prod(-(-self.shape.dims[d] // tiles[d]) for d in self.order)
        return self.floors_broken(tiles), self.traffic(tiles, fp), steps

    def halvings(self, tiles: dict[str, int]) -> list[tuple[int, dict[str, int]]]:
        """(tier, tiles) for each halving that shrinks the most over-full buffer, best first;
        empty when everything fits."""
        fp = _footprint_elems(self.shape, tiles)
        ratios = self.ratios(fp)
        worst = max(range(3), key=ratios.__getitem__)
        if ratios[worst] <= 1:
            return []
        ranked = []
        for pos, d in enumerate(self.free):
            t = tiles[d]
            if t == 1 or d not in self.rel[OPERANDS[worst]]:
                continue
            new = {**tiles, d: -(-t // 2)}
            new_fp = _footprint_elems(self.shape, new)
            if new_fp[worst] >= fp[worst]:
                continue
            tier = 2 if d in _LAST_RESORT else 1 if self.floors_broken(new) else 0
            key = (tier, self.traffic(new, new_fp), new_fp[worst] - fp[worst], -t, pos)
            ranked.append((key, new))
        ranked.sort(key=lambda item: item[0])
        return [(key[0], new) for key, new in ranked]

    def greedy(self, tiles: dict[str, int]) -> None:
        """Halve the best candidate until everything fits (the minimal tiles are known to)."""
        while True:
            options = self.halvings(tiles)
            if not options:
                return
            tiles.update(options[0][1])

    def refine(self, tiles: dict[str, int], max_rounds: int = 16) -> None:
        """Local search after the greedy halving: moves that double one tile and halve at most
        one other (never shrinking r/s) are taken while the tiles still fit and the cost drops."""
        dims = self.shape.dims
        current = self.cost(tiles)
        for _ in range(max_rounds):
            best, best_move = current, None
            for grow in self.free:
                t_grow = tiles[grow]
                if t_grow == dims[grow]:
                    continue
                for shrink in (None, *self.free):
                    if shrink is not None and (
                        shrink == grow or tiles[shrink] == 1 or shrink in _LAST_RESORT
                    ):
                        continue
                    move = {grow: min(2 * t_grow, dims[grow])}
                    if shrink is not None:
                        move[shrink] = -(-tiles[shrink] // 2)
                    new = {**tiles, **move}
                    if self.fits(_footprint_elems(self.shape, new)):
                        cost = self.cost(new)
                        if cost < best:
                            best, best_move = cost, move
            if best_move is None:
                return
            tiles.update(best_move)
            current = best


def check_mapping(shape: LayerShape, mapping: Mapping, target: Target, layer: str = "") -> None:
    """Raise MappingError naming `layer` and the broken limit: unknown dataflow, spatial unroll
    beyond rows/cols, a tile outside [1, extent], an order that is not a permutation, or a
    footprint (x2 when double-buffered) beyond a global buffer."""
    where = f"layer '{layer}': " if layer else ""
    dims = shape.dim_names
    if mapping.dataflow not in DATAFLOWS:
        raise MappingError(
            f"{where}unknown dataflow '{mapping.dataflow}' (expected one of {', '.join(DATAFLOWS)})"
        )
    for d in mapping.tiles:
        if d not in dims:
            raise MappingError(f"{where}tile for unknown dim '{d}' (dims: {' '.join(dims)})")
    for d in dims:
        if d not in mapping.tiles:
            raise MappingError(f"{where}no tile for dim '{d}'")
        t = mapping.tiles[d]
        if not 1 <= t <= shape.dims[d]:
            raise MappingError(f"{where}tile {d}={t} is outside [1, {shape.dims[d]}]")
    if sorted(mapping.order) != sorted(dims):
        raise MappingError(
            f"{where}loop order {' '.join(mapping.order)} is not a permutation of {' '.join(dims)}"
        )
    if target.arch == "maeri":
        _check_maeri_spatial(shape, mapping, target, where)
    elif target.arch == "sigma":
        if mapping.spatial:
            raise MappingError(
                f"{where}a sigma target takes no spatial unroll (got "
                f"{' '.join(sorted(mapping.spatial))}): rows are packed by their non-zeros"
            )
    else:
        _check_array_spatial(shape, mapping, target, where)
    mult = 2 if mapping.double_buffer else 1
    fp = footprint_bytes(shape, mapping.tiles, target.element_bytes)
    error = _capacity_error(tuple(fp[op] * mult for op in OPERANDS), target, mult)
    if error is not None:
        raise MappingError(where + error)


def _check_array_spatial(shape: LayerShape, mapping: Mapping, target: Target, where: str) -> None:
    dims = shape.dim_names
    per_axis: dict[str, list[tuple[str, int]]] = {"rows": [], "cols": []}
    for d, (axis, factor) in mapping.spatial.items():
        if d not in dims:
            raise MappingError(
                f"{where}spatial unroll of unknown dim '{d}' (dims: {' '.join(dims)})"
            )
        if axis not in per_axis:
            raise MappingError(
                f"{where}spatial unroll of {d} on unknown array axis '{axis}' (rows or cols)"
            )
        if factor < 1:
            raise MappingError(f"{where}spatial unroll of {d} = {factor} is below 1")
        per_axis[axis].append((d, factor))
    for axis, size in (("rows", target.rows), ("cols", target.cols)):
        unrolled = per_axis[axis]
        total = math.prod(f for _, f in unrolled)
        if total > size:
            what = "*".join(d for d, _ in unrolled)
            factors = "*".join(str(f) for _, f in unrolled)
            value = f"{factors} = {total}" if len(unrolled) > 1 else str(total)
            raise MappingError(
                f"{where}spatial unroll of {what} = {value} exceeds the array's {size} {axis}"
            )


def _check_maeri_spatial(shape: LayerShape, mapping: Mapping, target: Target, where: str) -> None:
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


def footprint_elements(shape: LayerShape, size: dict[str, Any]) -> tuple[Any, ...]:
    """Footprint elements (input with halo, weight + bias, output) of tiles whose per-dim sizes
    are ints or arrays of clipped sizes (one entry per iteration)."""
    if shape.kind == "conv2d":
        sy, sx = shape.stride
        dy, dx = shape.dilation
        hp, wp = shape.padded_hw
        h = np.minimum((size["y"] - 1) * sy + (size["r"] - 1) * dy + 1, hp)
        w = np.minimum((size["x"] - 1) * sx + (size["s"] - 1) * dx + 1, wp)
        gk = size["g"] * size["k"]
        weight = gk * size["c"] * size["r"] * size["s"] + (gk if shape.has_bias else 0)
        return (
            size["n"] * size["g"] * size["c"] * h * w,
            weight,
            size["n"] * gk * size["y"] * size["x"],
        )
    gb = size["g"] if shape.b_batched else 1
    weight = gb * size["k"] * size["n"] + (size["n"] if shape.has_bias else 0)
    return size["g"] * size["m"] * size["k"], weight, size["g"] * size["m"] * size["n"]


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
