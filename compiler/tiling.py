"""The mapping and tiling vocabulary, in one import (IR-free).

`from compiler import tiling` gives the compiler, the tuner and the tests every name below; each
lives in the module named by its job:

- simulator/workload.py: `LayerShape` (`conv2d_shape`, `matmul_shape`), `Mapping`, operands and
  their dims, the GEMM view, footprints, visit counts and `dram_traffic`, the default loop orders;
- compiler/tile_search.py: `choose_tiles`, `default_mapping`;
- compiler/legality.py: `check_mapping` and the buffer-capacity rules;
- simulator/arch/ (the accelerator families, each the one home of its rules): the systolic
  `spatial_unroll` (systolic.py), MAERI's spatial tile (maeri_mapping.py: STONNE's names, the
  default heuristic, the aux multiplier), SIGMA's per-tile bitmap statistics from the layer's
  weights (sigma_tiles.py);
- compiler/loop_nest.py: the loop nest a mapping spells and its lowering to instructions.
"""

from __future__ import annotations

from compiler.legality import buffer_ratios, capacity_error, check_mapping
from compiler.tile_search import choose_tiles, default_mapping
from simulator.arch.maeri_mapping import (
    STONNE_TILE_NAMES,
    maeri_axis,
    maeri_factors,
    maeri_mapping_spatial,
    maeri_spatial,
    maeri_uses_aux,
    parse_spatial,
    with_maeri_spatial,
)
from simulator.arch.sigma_tiles import sigma_fields, sparse_tile_stats, weight_tile
from simulator.arch.systolic import spatial_unroll
from simulator.workload import (
    DEFAULT_ORDERS,
    MAERI_AXES,
    OPERANDS,
    LayerShape,
    Mapping,
    MappingError,
    ShapeError,
    conv2d_shape,
    dram_traffic,
    footprint_bytes,
    footprint_elements,
    footprint_ints,
    gemm_view,
    matmul_shape,
    operand_dims,
    reduction_dims,
    visit_counts,
    visits,
)

__all__ = [
    "DEFAULT_ORDERS",
    "MAERI_AXES",
    "OPERANDS",
    "STONNE_TILE_NAMES",
    "LayerShape",
    "Mapping",
    "MappingError",
    "ShapeError",
    "buffer_ratios",
    "capacity_error",
    "check_mapping",
    "choose_tiles",
    "conv2d_shape",
    "default_mapping",
    "dram_traffic",
    "footprint_bytes",
    "footprint_elements",
    "footprint_ints",
    "gemm_view",
    "maeri_axis",
    "maeri_factors",
    "maeri_mapping_spatial",
    "maeri_spatial",
    "maeri_uses_aux",
    "matmul_shape",
    "operand_dims",
    "parse_spatial",
    "reduction_dims",
    "sigma_fields",
    "sparse_tile_stats",
    "spatial_unroll",
    "visit_counts",
    "visits",
    "weight_tile",
    "with_maeri_spatial",
]
