"""Per-tile cost of a rows x cols systolic array (SCALE-Sim style), per docs/program.md.

One COMPUTE runs `reps` independent GEMMs (m x k) @ (k x n) on the array. Per dataflow, two GEMM
dimensions are mapped onto the array (rows, cols) and the third is streamed through it (T):

    dataflow  across rows  across cols  streamed T  folds                        cycles per fold
    os        m            n            k           ceil(m/rows) * ceil(n/cols)  T + rows + cols - 2
    ws        k            n            m           ceil(k/rows) * ceil(n/cols)  2*rows + cols + T - 2
    is        k            m            n           ceil(k/rows) * ceil(m/cols)  2*rows + cols + T - 2

(ws/is: `rows` cycles to preload the stationary operand, then a skewed stream that needs
`T + rows + cols - 2` cycles to drain; os: the stream alone, the outputs stay in the PEs.)
`simulator/reference.py` derives the same numbers from register movement; the tests compare them.

Every function takes an array namespace `xp` (`jax.numpy`, the default, or `numpy`) so one
implementation serves the JAX engine (traced rows/cols, inside `lax.switch` and `vmap`) and the
tuner's vectorised numpy cost model. Dataflows are codes: 0 ws, 1 os, 2 is (`program.DATAFLOWS`).
Branches are selected with `where`, never Python `if`, so every argument may be a traced array.
"""

from __future__ import annotations

from typing import Any

DF_WS = 0
DF_OS = 1
DF_IS = 2


def _default_xp() -> Any:
    import jax.numpy as jnp

    return jnp


def cdiv(a: Any, b: Any) -> Any:
    """Ceiling division of non-negative integers (arrays or scalars)."""
    return (a + b - 1) // b


def fold_count(m: Any, n: Any, k: Any, dataflow: Any, rows: Any, cols: Any, xp: Any = None) -> Any:
    """Number of folds of one (m x k) @ (k x n) GEMM on the array."""
    xp = xp or _default_xp()
    ws = cdiv(k, rows) * cdiv(n, cols)
    os = cdiv(m, rows) * cdiv(n, cols)
    is_ = cdiv(k, rows) * cdiv(m, cols)
    return xp.where(dataflow == DF_OS, os, xp.where(dataflow == DF_IS, is_, ws))


def cycles_per_fold(
    m: Any, n: Any, k: Any, dataflow: Any, rows: Any, cols: Any, xp: Any = None
) -> Any:
    """Cycles of one fold: the streamed length T plus the array's fill/drain (and preload)."""
    xp = xp or _default_xp()
    streamed = xp.where(dataflow == DF_OS, k, xp.where(dataflow == DF_IS, n, m))
    preload = xp.where(dataflow == DF_OS, 0, rows)
    return preload + streamed + rows + cols - 2


def compute_cycles(
    reps: Any, m: Any, n: Any, k: Any, dataflow: Any, rows: Any, cols: Any, xp: Any = None
) -> Any:
    """Cycles of one COMPUTE: `reps` GEMMs, each `fold_count` folds of `cycles_per_fold`."""
    xp = xp or _default_xp()
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
    xp = xp or _default_xp()
    is_os = dataflow == DF_OS
    is_is = dataflow == DF_IS
    k_folds = cdiv(k, rows)
    input_reads = xp.where(is_is, m * k, m * k * cdiv(n, cols))
    weight_reads = xp.where(
        is_os, k * n * cdiv(m, rows), xp.where(is_is, k * n * cdiv(m, cols), k * n)
    )
    output_writes = xp.where(is_os, m * n, m * n * k_folds)
    output_reads = xp.where(is_os, m * n * acc, m * n * (k_folds - 1 + acc))
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
    xp = xp or _default_xp()
    in_rd, w_rd, out_wr, _ = sram_traffic(reps, m, n, k, acc, dataflow, rows, cols, xp)
    is_os = dataflow == DF_OS
    is_is = dataflow == DF_IS
    operands = xp.where(is_is, in_rd * rows + w_rd * cols, in_rd * cols + w_rd * rows)
    return operands + xp.where(is_os, 0, out_wr * rows)
