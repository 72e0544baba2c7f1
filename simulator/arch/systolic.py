"""Per-tile cost of a rows x cols systolic array (SCALE-Sim style), per docs/program.md.

One COMPUTE runs `reps` independent GEMMs (m x k) @ (k x n) on the array. Per dataflow, two GEMM
dimensions are mapped onto the array (rows, cols) and the third is streamed through it (T):

    dataflow  across rows  across cols  streamed T  folds                        cycles per fold
    os        m            n            k           ceil(m/rows) * ceil(n/cols)  T + rows + cols - 2
    ws        k            n            m           ceil(k/rows) * ceil(n/cols)  2*rows + cols + T - 2
    is        k            m            n           ceil(k/rows) * ceil(m/cols)  2*rows + cols + T - 2

(ws/is: `rows` cycles to preload the stationary operand, then a skewed stream that needs
`T + rows + cols - 2` cycles to drain; os: the stream alone, the outputs stay in the PEs.)
`simulator/arch/systolic_reference.py` derives the same numbers from register movement; the tests
compare them.

Every function takes an array namespace `xp` (`jax.numpy`, the default, or `numpy`) so one
implementation serves the JAX engine (traced rows/cols, inside `lax.switch` and `vmap`) and the
tuner's vectorised numpy cost model. Dataflows are codes: 0 ws, 1 os, 2 is (`program.DATAFLOWS`).
Branches are selected with `where`, never Python `if`, so every argument may be a traced array.

The family (`SYSTOLIC`, `simulator/arch/base.py`): every dataflow; the spatial unroll is
descriptive (`spatial_unroll`: per array axis the main loop dim of the GEMM axis mapped there,
factor min(its GEMM-view extent, rows or cols); the timing reads the GEMM view), checked by
`check_array_spatial`; the tile search keeps the array-mapped GEMM axes at least rows / cols and
the reduction at least rows; the hardware search may change rows and cols.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.arch.base import (
    SPARSE_FIELDS,
    SWITCH_FIELDS,
    Family,
    Fields,
    SpatialBatch,
    TileCost,
    cdiv,
    default_xp,
)
from simulator.program import DATAFLOWS
from simulator.workload import GEMM_AXES, MappingError, gemm_view

if TYPE_CHECKING:
    from simulator.target import Target
    from simulator.workload import LayerShape, Mapping

DF_WS = 0
DF_OS = 1
DF_IS = 2
# GEMM axis across the array's rows / cols for each dataflow (docs/program.md).
ARRAY_AXES: dict[str, tuple[str, str]] = {"os": ("m", "n"), "ws": ("k", "n"), "is": ("k", "m")}
# The GEMM axis each dataflow streams through the array, one element per cycle of a fold.
STREAMED_AXIS = {"ws": "m", "os": "k", "is": "n"}


def _spans(m: Any, n: Any, k: Any, rows: Any, cols: Any) -> tuple[Any, Any, Any, Any]:
    """How many array heights or widths each GEMM axis takes: ceil(k/rows), ceil(n/cols),
    ceil(m/rows), ceil(m/cols) (`fold_count` and `sram_traffic` share them)."""
    return cdiv(k, rows), cdiv(n, cols), cdiv(m, rows), cdiv(m, cols)


def fold_count(m: Any, n: Any, k: Any, dataflow: Any, rows: Any, cols: Any, xp: Any = None) -> Any:
    """Number of folds of one (m x k) @ (k x n) GEMM on the array."""
    return _folds(_spans(m, n, k, rows, cols), dataflow, xp or default_xp())


def _by_dataflow(dataflow: Any, xp: Any, ws: Any, os: Any, is_: Any) -> Any:
    """The dataflow's formula (`ws`, `os`, `is_`: thunks): only that one when `dataflow` is one
    number (a candidate group of one dataflow), else all three under `where`."""
    if isinstance(dataflow, int | np.integer):
        return {DF_OS: os, DF_IS: is_}.get(int(dataflow), ws)()
    return xp.where(dataflow == DF_OS, os(), xp.where(dataflow == DF_IS, is_(), ws()))


def _folds(spans: tuple[Any, ...], dataflow: Any, xp: Any) -> Any:
    k_rows, n_cols, m_rows, m_cols = spans
    return _by_dataflow(
        dataflow, xp,
        ws=lambda: k_rows * n_cols, os=lambda: m_rows * n_cols, is_=lambda: k_rows * m_cols,
    )  # fmt: skip


def cycles_per_fold(
    m: Any, n: Any, k: Any, dataflow: Any, rows: Any, cols: Any, xp: Any = None
) -> Any:
    """Cycles of one fold: the streamed length T plus the array's fill/drain (and preload)."""
    xp = xp or default_xp()
    fill = rows + cols - 2
    return _by_dataflow(
        dataflow, xp,
        ws=lambda: rows + m + fill, os=lambda: k + fill, is_=lambda: rows + n + fill,
    )  # fmt: skip


def compute_cycles(
    reps: Any, m: Any, n: Any, k: Any, dataflow: Any, rows: Any, cols: Any, xp: Any = None
) -> Any:
    """Cycles of one COMPUTE: `reps` GEMMs, each `fold_count` folds of `cycles_per_fold`."""
    xp = xp or default_xp()
    return (
        reps
        * fold_count(m, n, k, dataflow, rows, cols, xp)
        * cycles_per_fold(m, n, k, dataflow, rows, cols, xp)
    )


def sram_traffic(
    reps: Any, m: Any, n: Any, k: Any, acc: Any, dataflow: Any, rows: Any, cols: Any, xp: Any = None
) -> tuple[Any, Any, Any, Any]:
    """Global-buffer accesses of one COMPUTE, in elements.

    Returns (input reads, weight reads, output writes, output reads), already times `reps`:

        os: m*k*ceil(n/cols), k*n*ceil(m/rows), m*n,               m*n*acc
        ws: m*k*ceil(n/cols), k*n,              m*n*ceil(k/rows), m*n*(ceil(k/rows) - 1 + acc)
        is: m*k,              k*n*ceil(m/cols), m*n*ceil(k/rows), m*n*(ceil(k/rows) - 1 + acc)
    """
    spans = _spans(m, n, k, rows, cols)
    return _traffic(reps, m, n, k, acc, dataflow, spans, xp or default_xp())


def _traffic(
    reps: Any, m: Any, n: Any, k: Any, acc: Any, dataflow: Any, spans: tuple[Any, ...], xp: Any
) -> tuple[Any, Any, Any, Any]:
    k_folds, n_cols, m_rows, m_cols = spans
    streamed_in = lambda: m * k * n_cols  # noqa: E731
    psums = lambda: m * n * k_folds  # noqa: E731
    psum_reads = lambda: m * n * (k_folds - 1 + acc)  # noqa: E731
    df = dataflow
    input_reads = _by_dataflow(df, xp, ws=streamed_in, os=streamed_in, is_=lambda: m * k)
    weight_reads = _by_dataflow(
        df, xp, ws=lambda: k * n, os=lambda: k * n * m_rows, is_=lambda: k * n * m_cols
    )
    output_writes = _by_dataflow(df, xp, ws=psums, os=lambda: m * n, is_=psums)
    output_reads = _by_dataflow(df, xp, ws=psum_reads, os=lambda: m * n * acc, is_=psum_reads)
    return (
        reps * input_reads,
        reps * weight_reads,
        reps * output_writes,
        reps * output_reads,
    )


def network_hops(
    reps: Any, m: Any, n: Any, k: Any, acc: Any, dataflow: Any, rows: Any, cols: Any, xp: Any = None
) -> Any:
    """PE-to-PE transfers (element hops) of one COMPUTE, for the network's energy.

    Every element read from a global buffer enters the array at its edge and is passed along
    its axis through all the PEs of that axis: streamed and preloaded operands travel the
    length of the axis they enter on, partial sums (ws, is) travel down the rows:

        os: input reads * cols + weight reads * rows
        ws: input reads * cols + weight reads * rows (preload) + output writes * rows
        is: input reads * rows (preload) + weight reads * cols + output writes * rows
    """
    traffic = sram_traffic(reps, m, n, k, acc, dataflow, rows, cols, xp)
    return _hops(traffic, dataflow, rows, cols, xp or default_xp())


def _hops(traffic: tuple[Any, ...], dataflow: Any, rows: Any, cols: Any, xp: Any) -> Any:
    """`network_hops` from the COMPUTE's `sram_traffic`."""
    in_rd, w_rd, out_wr, _ = traffic
    return _by_dataflow(
        dataflow, xp,
        ws=lambda: in_rd * cols + w_rd * rows + out_wr * rows,
        os=lambda: in_rd * cols + w_rd * rows,
        is_=lambda: in_rd * rows + w_rd * cols + out_wr * rows,
    )  # fmt: skip


def spatial_unroll(shape: LayerShape, dataflow: str, target: Target) -> dict[str, tuple[str, int]]:
    """The spatial unroll `dataflow` implies on a rows x cols systolic array (descriptive): per
    array axis, the main loop dim of the GEMM axis mapped there, with factor
    min(GEMM-view extent of that axis, rows or cols)."""
    if dataflow not in ARRAY_AXES:
        raise MappingError(
            f"unknown dataflow '{dataflow}' (expected one of {', '.join(DATAFLOWS)})"
        )
    axes = GEMM_AXES[shape.kind]
    spatial: dict[str, tuple[str, int]] = {}
    for array_axis, size, gemm_axis in zip(
        ("rows", "cols"), (target.rows, target.cols), ARRAY_AXES[dataflow], strict=True
    ):
        dims = axes[gemm_axis]
        main = max(dims, key=lambda d: shape.dims[d])  # first wins ties
        extent = math.prod(shape.dims[d] for d in dims)
        spatial[main] = (array_axis, min(extent, size))
    return spatial


def check_array_spatial(shape: LayerShape, mapping: Mapping, target: Target, where: str) -> None:
    """The spatial unroll within the array: axes rows / cols, factors >= 1, per axis the product
    of the factors within rows / cols."""
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


class Systolic(Family):
    """A rows x cols systolic array, SCALE-Sim style (module docstring)."""

    name = "systolic"
    description = "rows x cols systolic array (SCALE-Sim style), dataflow ws / os / is"
    tunable_hardware = {"rows": (4, 512), "cols": (4, 512)}
    unread_fields = (*SWITCH_FIELDS, "accumulation_buffer", *SPARSE_FIELDS)
    spatial_axes = ("rows", "cols")
    one_dataflow_cheaper = True

    def num_pes(self, target: Target) -> int:
        return int(target.rows * target.cols)

    def describe(self, target: Target) -> str:
        return f"{target.rows}x{target.cols}"

    def dataflows(self, target: Target) -> tuple[str, ...]:
        return DATAFLOWS

    def default_spatial(self, shape: LayerShape, mapping: Mapping, target: Target) -> Mapping:
        from dataclasses import replace

        return replace(mapping, spatial=spatial_unroll(shape, mapping.dataflow, target))

    def check_spatial(
        self, shape: LayerShape, mapping: Mapping, target: Target, where: str
    ) -> None:
        check_array_spatial(shape, mapping, target, where)

    def tile_floors(
        self, shape: LayerShape, dataflow: str, target: Target
    ) -> list[tuple[tuple[str, ...], int]]:
        axes = GEMM_AXES[shape.kind]
        rows_axis, cols_axis = ARRAY_AXES.get(dataflow, ("k", "n"))
        wanted = {rows_axis: target.rows, cols_axis: target.cols}
        wanted["k"] = max(wanted.get("k", 0), target.rows)
        # The streamed axis at least as long as a fold's fill, drain and preload
        # (`cycles_per_fold`), so that a fold computes at least half its cycles: without it
        # the tiler, which minimises DRAM traffic, shrinks the streamed pixels of an input-
        # starved layer until the folds are mostly fill (ResNet-18 at 8 KiB of input buffer
        # and 512 KiB of filter buffer took 5.72 M cycles; 4.05 M with the floor).
        code = DATAFLOWS.index(dataflow) if dataflow in DATAFLOWS else DF_WS
        overhead = int(cycles_per_fold(0, 0, 0, code, target.rows, target.cols, np))
        streamed = STREAMED_AXIS.get(dataflow, "m")
        wanted[streamed] = max(wanted.get(streamed, 0), overhead)
        return [
            (axes[a], min(size, math.prod(shape.dims[d] for d in axes[a])))
            for a, size in wanted.items()
        ]

    def spatial_batch(
        self, shape: LayerShape, target: Target, tiles: np.ndarray, spatial: np.ndarray,
        dataflow: np.ndarray, with_config: bool = True,
    ) -> SpatialBatch:  # fmt: skip
        """PEs of the two array-mapped GEMM axes of a full tile."""
        _, m, n, k = gemm_view(shape, {d: tiles[:, i] for i, d in enumerate(shape.dim_names)})
        across_rows = np.where(dataflow == DF_OS, m, k)
        across_cols = np.where(dataflow == DF_IS, m, n)
        used = np.minimum(across_rows, target.rows) * np.minimum(across_cols, target.cols)
        return SpatialBatch(used, np.ones(len(tiles), bool), Fields())

    def params(self, target: Target | None) -> dict[str, Any]:
        mine = target is not None and target.arch == self.name
        return {
            "rows": np.int64(target.rows if mine else 1),
            "cols": np.int64(target.cols if mine else 1),
        }

    def tile_cost(self, config: Any, compute: Any, params: dict[str, Any], xp: Any) -> TileCost:
        c = compute
        rows, cols, eb = params["rows"], params["cols"], params["element_bytes"]
        reps, m, n, k, df = c.reps, c.m, c.n, c.k, c.dataflow
        spans = _spans(m, n, k, rows, cols)
        traffic = _traffic(reps, m, n, k, c.acc, df, spans, xp)
        folds = reps * _folds(spans, df, xp)  # compute_cycles, its parts
        return TileCost(
            busy=folds * cycles_per_fold(m, n, k, df, rows, cols, xp),
            macs=reps * m * n * k,
            read_input=traffic[0] * eb,
            read_weight=traffic[1] * eb,
            write_output=traffic[2] * eb,
            read_output=traffic[3] * eb,
            hops=_hops(traffic, df, rows, cols, xp),
            folds=folds,
        )


SYSTOLIC = Systolic()
