"""IR-free mapping and tiling math shared by the passes, the tuner's cost model and the tests.

CONTRACT (fixed; the implementation fills in the bodies):

- `LayerShape` describes one accelerator layer (conv2d or matmul) by its loop dimensions
  (`simulator.program.CONV_DIMS` / `MATMUL_DIMS`) plus conv geometry.
- `Mapping` is a layer's dataflow, spatial unroll, buffer-level tiles, loop order and double
  buffering. `Mapping.to_dict()` / `Mapping.from_dict()` round-trip through plain JSON types
  (this is what `#accel.mapping` prints and what the mapping database stores).
- `default_mapping` is the heuristic for a target; `choose_tiles` picks buffer tiles that fit;
  `check_mapping` raises `MappingError` naming the layer and the limit it breaks;
  `schedule` turns a layer + mapping into instruction rows of the Program format
  (`simulator.program`: CONFIG, LOAD, COMPUTE, STORE rows with bytes, slots, tile offsets/sizes
  and the GEMM view reps/m/n/k of each tile).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulator.errors import AccelflowError
from simulator.program import CONV_DIMS, MATMUL_DIMS
from simulator.target import Target


class MappingError(AccelflowError):
    """An illegal mapping: the message names the layer and the limit (PEs, buffer bytes)."""


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
    raise NotImplementedError


def matmul_shape(
    a_shape: tuple[int, ...], b_shape: tuple[int, ...], has_bias: bool = False
) -> LayerShape:
    """The LayerShape of out = a @ b (+ bias): a [G, M, K] or [M, K]; b [G, K, N] or [K, N]."""
    raise NotImplementedError


@dataclass(frozen=True)
class Mapping:
    """How a layer runs on the target.

    dataflow: "ws" | "os" | "is".
    spatial: loop dimension -> (array axis "rows" | "cols", unroll factor) for the dims that go
      across the PE array (derived from dataflow and array shape for the systolic array).
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
        raise NotImplementedError

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Mapping:
        raise NotImplementedError

    def directives(self, shape: LayerShape) -> str:
        """MAESTRO-style directives, e.g. 'TemporalMap(8,8) K; SpatialMap(1,1) C; ...'."""
        raise NotImplementedError


def gemm_view(shape: LayerShape, sizes: dict[str, int]) -> tuple[int, int, int, int]:
    """(reps, m, n, k) of a tile with per-dim `sizes`: conv m = n*y*x, n = k, k = c*r*s,
    reps = g; matmul m, n, k with reps = g."""
    raise NotImplementedError


def footprint_bytes(shape: LayerShape, tiles: dict[str, int], element_bytes: int) -> dict[str, int]:
    """Bytes of one input tile (with conv halo), weight tile (+ its bias slice) and output tile:
    {"input": ..., "weight": ..., "output": ...}. Output partial sums are element_bytes wide."""
    raise NotImplementedError


def default_mapping(
    shape: LayerShape,
    target: Target,
    dataflow: str | None = None,
    order: tuple[str, ...] | None = None,
) -> Mapping:
    """The heuristic mapping for `target`: its dataflow (or `dataflow`), the spatial unroll
    that dataflow implies, a reuse-friendly loop order (or `order`), and tiles from
    `choose_tiles`."""
    raise NotImplementedError


def choose_tiles(
    shape: LayerShape,
    mapping: Mapping,
    target: Target,
    fixed: dict[str, int] | None = None,
    double_buffer: bool | None = None,
) -> Mapping:
    """`mapping` with the largest tiles that fit the target's global buffers (twice, when double
    buffered; `double_buffer=None` means "where they fit twice"). Dims in `fixed` keep the given
    tile (clamped to the extent). Raises MappingError if even the fixed tiles cannot fit."""
    raise NotImplementedError


def check_mapping(shape: LayerShape, mapping: Mapping, target: Target, layer: str = "") -> None:
    """Raise MappingError naming `layer` and the broken limit: unknown dataflow, spatial unroll
    beyond rows/cols, a tile outside [1, extent], an order that is not a permutation, or a
    footprint (x2 when double-buffered) beyond a global buffer."""
    raise NotImplementedError


def schedule(shape: LayerShape, mapping: Mapping, target: Target, layer_index: int) -> np.ndarray:
    """Instruction rows (int64, [n, simulator.program.NUM_FIELDS]) for one layer: a CONFIG,
    then over the buffer tiles in `mapping.order` the LOADs of operand tiles whose coordinates
    changed (reuse), the COMPUTE of each tile (edge tiles clipped to the extent), the STOREs of
    finished output tiles (and psum STORE/LOAD when a reduction loop is outside an output loop).
    Slots alternate 0/1 per new tile of an operand when double-buffered, else stay 0."""
    raise NotImplementedError
