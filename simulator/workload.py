"""The workload vocabulary every level shares (no xDSL): layers, mappings, operands, footprints.

- `LayerShape` describes one accelerator layer (conv2d or matmul) by its loop dimensions
  (`simulator.program.CONV_DIMS` / `MATMUL_DIMS`) plus conv geometry; `conv2d_shape` and
  `matmul_shape` build it from operand shapes.
- `Mapping` is a layer's dataflow, spatial unroll, buffer-level tiles, loop order and double
  buffering. `Mapping.to_dict()` / `Mapping.from_dict()` round-trip through plain JSON types
  (this is what `#accel.mapping` prints and what the mapping database stores).
- Operands and the loop dims they depend on (`operand_dims`): input (conv `n g c y x r s`, matmul
  `g m k`), weight (conv `g k c r s`, matmul `g k n`, or `k n` when b is shared), output (conv
  `n g k y x`, matmul `g m n`). An operand tile is loaded when its tile coordinates change
  between two consecutive iterations of the tile loop nest (compiler/loop_nest.py); `visit_counts`
  counts those changes analytically for any number of candidates at once, and `dram_traffic`
  turns them into bytes.
- Footprints (`footprint_elements`): the input tile with its conv halo, the weight tile with its
  bias slice, the output tile.
- Default loop orders (outermost first, `DEFAULT_ORDERS`): ws keeps the weight tile stationary
  (weight dims outer, pixels inner), os keeps the output tile (reduction innermost), is keeps the
  input tile (output channels innermost).

compiler/tiling.py re-exports all of this for the compiler, the tuner and the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import numpy as np

from simulator.errors import AccelflowError
from simulator.program import CONV_DIMS, MATMUL_DIMS
from simulator.shapes import output_size

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

# The spatial axes whose factor is a real unroll of the loop dim (MAERI's virtual neurons);
# on the systolic axes (rows, cols) the unroll is descriptive (`Mapping.directives`).
MAERI_AXES = ("vn", "vns")
# GEMM view: which loop dims fold into the GEMM axes m (pixels), n (output channels), k (reduction).
GEMM_AXES: dict[str, dict[str, tuple[str, ...]]] = {
    "conv2d": {"m": ("y", "x", "n"), "n": ("k",), "k": ("c", "r", "s")},
    "matmul": {"m": ("m",), "n": ("n",), "k": ("k",)},
}


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


def matmul_batch(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The batch dims of a @ b's result (ONNX/numpy MatMul: the leading dims broadcast), when the
    accelerator runs it as prod(batch) GEMMs: both operands with the same batch dims (after
    left-padding with 1s), or one with none (rank 2, or all 1s), which is then shared by every
    GEMM. Other broadcasts (e.g. [B, 1, M, K] @ [1, H, K, N]) are a ShapeError (the host runs
    them)."""
    if len(a_shape) < 2 or len(b_shape) < 2:
        raise ShapeError(
            f"matmul expects operands of rank >= 2, got {tuple(a_shape)} and {tuple(b_shape)}"
        )
    batch_a, batch_b = tuple(a_shape[:-2]), tuple(b_shape[:-2])
    rank = max(len(batch_a), len(batch_b))
    pad_a = (1,) * (rank - len(batch_a)) + batch_a
    pad_b = (1,) * (rank - len(batch_b)) + batch_b
    if pad_a == pad_b or math.prod(batch_a) == 1 or math.prod(batch_b) == 1:
        return tuple(max(x, y) for x, y in zip(pad_a, pad_b, strict=True))
    raise ShapeError(
        f"matmul batch dims of a {tuple(a_shape)} and b {tuple(b_shape)} broadcast partly; "
        "the accelerator runs equal batches or a shared operand"
    )


def matmul_shape(
    a_shape: tuple[int, ...], b_shape: tuple[int, ...], has_bias: bool = False
) -> LayerShape:
    """The LayerShape of out = a @ b (+ bias): a [..., M, K], b [..., K, N] with batch dims as
    `matmul_batch` allows them, run as g = prod(batch) GEMMs (batch x heads for attention).

    A 2-D (or batch-1) `a` with a batched `b` is broadcast over b's batch; a `b` whose batch is 1
    under a batched `a` is shared like a 2-D `b` (b_batched False)."""
    batch = matmul_batch(a_shape, b_shape)
    ga, gb = math.prod(a_shape[:-2]), math.prod(b_shape[:-2])
    m, ka = a_shape[-2:]
    kb, n = b_shape[-2:]
    if ka != kb:
        raise ShapeError(f"matmul inner dims differ: a {tuple(a_shape)} @ b {tuple(b_shape)}")
    b_batched = len(b_shape) >= 3 and not (gb == 1 and ga > 1)
    g = math.prod(batch)
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

    def directives(self, shape: LayerShape | None = None) -> str:
        """MAESTRO-style directives, e.g. 'TemporalMap(8,8) K; SpatialMap(1,1) C; ...' (without a
        shape the mapping's own order and tiles, which must then be complete)."""
        parts = []
        for d in self.order or (shape.dim_names if shape else ()):
            if d in self.spatial:
                axis, factor = self.spatial[d]
                size = factor if axis in MAERI_AXES else 1
                parts.append(f"SpatialMap({size},{size}) {d.upper()}")
                continue
            t = (
                self.tiles[d]
                if shape is None
                else min(self.tiles.get(d, shape.dims[d]), shape.dims[d])
            )
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


def operand_indices(shape: LayerShape) -> list[tuple[int, ...]]:
    """`operand_dims` as indices into `shape.dim_names`, in `OPERANDS` order."""
    rel = operand_dims(shape)
    return [tuple(i for i, d in enumerate(shape.dim_names) if d in rel[op]) for op in OPERANDS]


def reduction_dims(shape: LayerShape) -> tuple[str, ...]:
    """The loop dims summed over (not in the output)."""
    return ("c", "r", "s") if shape.kind == "conv2d" else ("k",)


def footprint_ints(shape: LayerShape, t: dict[str, int]) -> tuple[int, int, int]:
    """Elements of one input (with halo), weight (+ bias) and output tile of per-dim sizes `t`."""
    return tuple(int(v) for v in footprint_elements(shape, t))  # type: ignore[return-value]


def footprint_bytes(shape: LayerShape, tiles: dict[str, int], element_bytes: int) -> dict[str, int]:
    """Bytes of one input tile (with conv halo), weight tile (+ its bias slice) and output tile:
    {"input": ..., "weight": ..., "output": ...}. Output partial sums are element_bytes wide."""
    t = {d: min(int(tiles[d]), shape.dims[d]) for d in shape.dim_names}
    return {op: e * element_bytes for op, e in zip(OPERANDS, footprint_ints(shape, t), strict=True)}


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


def visits(
    loop_trips: np.ndarray, order: np.ndarray, operands: list[tuple[int, ...]]
) -> list[np.ndarray]:
    """How many times each operand's tile changes along the loop nest (= its loads / stores),
    for B candidates at once ([B] each), dim-major: `loop_trips` [D, B] the trips of each loop
    and `order` [D, B] its dim (loop j, outermost first, runs dim order[j]), `operands` the
    indices of each operand's dims. The count is the product of the trips down to the innermost
    loop over a dim of the operand with more than one trip (1 if there is none)."""
    nd, b = loop_trips.shape
    # prefix[j]: the trips of loops 0..j; row nd: 1, for an operand no loop changes.
    prefix = np.empty((nd + 1, b), np.int64)
    prefix[0] = loop_trips[0]
    for j in range(1, nd):  # (np.cumprod along axis 0 is several times slower)
        np.multiply(prefix[j - 1], loop_trips[j], out=prefix[j])
    prefix[nd] = 1
    # Per candidate, one mask holding per operand (nd bits each) the loops over one of its dims
    # with more than one trip: bit j of field k set iff loop j changes operand k's tile (3
    # operands of at most 8 dims: 24 bits).
    assert nd * len(operands) < 63, "the operands' fields must fit an int64"
    fields = np.zeros(nd, np.int64)
    for k, deps in enumerate(operands):
        fields[list(deps)] |= 1 << (nd * k)
    at_loop = (fields[:, None] << np.arange(nd)).T  # [loop j, dim]: the dim's bits at loop j
    changing = np.zeros(b, np.int64)
    for j in range(nd):  # the bits are disjoint
        changing += at_loop[j][order[j]] * (loop_trips[j] > 1)
    innermost = np.where(_highest_bit(nd) < 0, nd, _highest_bit(nd))  # none: row nd
    flat, cols = prefix.ravel(), np.arange(b)
    fields_of = [(changing >> (nd * k)) & ((1 << nd) - 1) for k in range(len(operands))]
    return [np.take(flat, innermost[f] * b + cols) for f in fields_of]


@cache
def _highest_bit(nd: int) -> np.ndarray:
    """The highest set bit of every nd-bit mask (-1 for 0)."""
    return np.array([m.bit_length() - 1 for m in range(1 << nd)], np.int64)


def last_true(flags: np.ndarray) -> np.ndarray:
    """Per column of `flags` [D, B] (bool), the index of its last True row (-1: none)."""
    mask = np.zeros(flags.shape[1], np.int64)
    for j in range(len(flags)):
        mask |= flags[j].astype(np.int64) << j
    return _highest_bit(len(flags))[mask]


def visit_counts(
    shape: LayerShape, tiles: dict[str, int], order: tuple[str, ...]
) -> tuple[int, int, int, int]:
    """How many times the input, weight, output tile changes along the loop nest (= loads /
    stores), and how many distinct output tiles there are (`visits` for one mapping)."""
    dims = shape.dim_names
    loop_trips = np.array([[-(-shape.dims[d] // tiles[d])] for d in order], np.int64)
    loop = np.array([[dims.index(d)] for d in order], np.int64)
    rel = operand_dims(shape)
    counts = [int(v[0]) for v in visits(loop_trips, loop, operand_indices(shape))]
    distinct = math.prod(-(-shape.dims[d] // tiles[d]) for d in rel["output"])
    return counts[0], counts[1], counts[2], distinct


def dram_traffic(shape: LayerShape, mapping: Mapping, element_bytes: int) -> dict[str, int]:
    """Analytical DRAM bytes of the lowered loop nest (compiler/loop_nest.py) for this mapping:
    {"input", "weight" (loads), "output" (stores), "psum" (partial-sum reloads)}. Exact when the tiles divide the extents;
    otherwise an upper bound (every tile counted at full size)."""
    tiles = {d: min(mapping.tiles[d], shape.dims[d]) for d in shape.dim_names}
    counts = visit_counts(shape, tiles, mapping.order)
    fp = footprint_ints(shape, tiles)
    visits_in, visits_w, visits_out, distinct_out = counts
    return {
        "input": visits_in * fp[0] * element_bytes,
        "weight": visits_w * fp[1] * element_bytes,
        "output": visits_out * fp[2] * element_bytes,
        "psum": (visits_out - distinct_out) * fp[2] * element_bytes,
    }
