"""A cycle-stepped reference model of a rows x cols systolic array, for validating the timing model.

Plain numpy/Python with explicit registers that move one PE per cycle. One GEMM
C = A (m x k) @ B (k x n) is folded over the array exactly as `simulator.arch.systolic` assumes
(the array is always used at its full size; an edge fold streams zeros in the unused rows and
ignores the unused columns), and each fold is simulated cycle by cycle:

- os (output stationary): PE(i, j) owns C[i, j]. A's row i enters the left edge skewed by i
  cycles and moves right; B's column j enters the top edge skewed by j cycles and moves down;
  every cycle a PE holding a valid pair multiplies and accumulates. The fold ends after the last
  MAC (outputs stay in the PEs).
- ws / is (one operand stationary): first the stationary tile is shifted in from the top, one
  row per cycle, until every PE holds its value (preload); then the streamed operand enters the
  left edge skewed by one cycle per row and moves right, partial sums move down one PE per cycle
  and leave the bottom edge. The fold ends when the last partial sum leaves the array.
  ws keeps B (k x n) stationary and streams A's m rows; is keeps A^T (k x m) stationary and
  streams B's n columns (C^T comes out).

`simulate_gemm(a, b, dataflow, rows, cols) -> (cycles, C)`: the total cycles of all folds, and C.
Cycle counts come from running the registers until they are empty, never from the fold formulas.
"""

from __future__ import annotations

import numpy as np


def _os_fold(a: np.ndarray, b: np.ndarray) -> tuple[int, np.ndarray]:
    """a: [rows, T], b: [T, cols] (zero-padded to the array). Returns (cycles, a @ b)."""
    rows, streamed = a.shape
    cols = b.shape[1]
    a_val = np.zeros((rows, cols))
    a_ok = np.zeros((rows, cols), bool)
    b_val = np.zeros((rows, cols))
    b_ok = np.zeros((rows, cols), bool)
    acc = np.zeros((rows, cols))
    cycle, last_active = 0, -1
    while True:
        # Shift: A moves right, B moves down; the edges take the next skewed operands.
        a_val[:, 1:], a_ok[:, 1:] = a_val[:, :-1].copy(), a_ok[:, :-1].copy()
        b_val[1:, :], b_ok[1:, :] = b_val[:-1, :].copy(), b_ok[:-1, :].copy()
        for i in range(rows):
            t = cycle - i
            a_ok[i, 0] = 0 <= t < streamed
            a_val[i, 0] = a[i, t] if a_ok[i, 0] else 0.0
        for j in range(cols):
            t = cycle - j
            b_ok[0, j] = 0 <= t < streamed
            b_val[0, j] = b[t, j] if b_ok[0, j] else 0.0
        fire = a_ok & b_ok
        acc += np.where(fire, a_val * b_val, 0.0)
        if fire.any():
            last_active = cycle
        injecting = cycle < streamed + max(rows, cols)
        if not injecting and not (a_ok.any() or b_ok.any()):
            return last_active + 1, acc
        cycle += 1


def _stationary_fold(stationary: np.ndarray, streamed: np.ndarray) -> tuple[int, np.ndarray]:
    """stationary: [rows, cols] (S[i, j]), streamed: [T, rows] (X[t, i]); returns (cycles, X @ S)."""
    rows, cols = stationary.shape
    count = streamed.shape[0]
    cycle = 0
    # Preload: the stationary tile enters from the top, one row per cycle, bottom row first.
    held = np.zeros((rows, cols))
    held_ok = np.zeros((rows, cols), bool)
    while not held_ok.all():
        held[1:], held_ok[1:] = held[:-1].copy(), held_ok[:-1].copy()
        held[0], held_ok[0] = stationary[rows - 1 - cycle], True
        cycle += 1
    # Stream: X moves right, partial sums move down and leave the bottom row.
    x_val = np.zeros((rows, cols))
    x_ok = np.zeros((rows, cols), bool)
    psum = np.zeros((rows, cols))
    psum_ok = np.zeros((rows, cols), bool)
    out = np.zeros((count, cols))
    out_index = np.zeros(cols, int)  # next output row per column (partial sums leave in order)
    stream_begin, last_active = cycle, cycle - 1
    while True:
        t0 = cycle - stream_begin
        x_val[:, 1:], x_ok[:, 1:] = x_val[:, :-1].copy(), x_ok[:, :-1].copy()
        for i in range(rows):
            t = t0 - i
            x_ok[i, 0] = 0 <= t < count
            x_val[i, 0] = streamed[t, i] if x_ok[i, 0] else 0.0
        above = np.vstack([np.zeros((1, cols)), psum[:-1]])
        above_ok = np.vstack([np.zeros((1, cols), bool), psum_ok[:-1]])
        # The top row starts a new partial sum; lower rows need the one from above.
        fire = x_ok & (above_ok | (np.arange(rows)[:, None] == 0))
        psum = np.where(fire, above + held * x_val, 0.0)
        psum_ok = fire
        for j in np.flatnonzero(psum_ok[rows - 1]):
            out[out_index[j], j] = psum[rows - 1, j]
            out_index[j] += 1
        if fire.any():
            last_active = cycle
        injecting = t0 < count + rows
        if not injecting and not (x_ok.any() or psum_ok.any()):
            return last_active + 1, out
        cycle += 1


def _padded(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros(shape)
    out[: x.shape[0], : x.shape[1]] = x
    return out


def simulate_gemm(
    a: np.ndarray, b: np.ndarray, dataflow: str, rows: int, cols: int
) -> tuple[int, np.ndarray]:
    """Run C = a @ b on a rows x cols array with `dataflow` ("ws", "os", "is"); (cycles, C)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    m, k = a.shape
    k2, n = b.shape
    if k != k2:
        raise ValueError(f"inner dimensions differ: {a.shape} @ {b.shape}")
    c = np.zeros((m, n))
    cycles = 0
    if dataflow == "os":
        for i0 in range(0, m, rows):
            for j0 in range(0, n, cols):
                fold_a = _padded(a[i0 : i0 + rows], (rows, k))
                fold_b = _padded(b[:, j0 : j0 + cols], (k, cols))
                spent, tile = _os_fold(fold_a, fold_b)
                cycles += spent
                c[i0 : i0 + rows, j0 : j0 + cols] += tile[: min(rows, m - i0), : min(cols, n - j0)]
    elif dataflow == "ws":
        for k0 in range(0, k, rows):
            for j0 in range(0, n, cols):
                stationary = _padded(b[k0 : k0 + rows, j0 : j0 + cols], (rows, cols))
                streamed = _padded(a[:, k0 : k0 + rows], (m, rows))
                spent, tile = _stationary_fold(stationary, streamed)
                cycles += spent
                c[:, j0 : j0 + cols] += tile[:, : min(cols, n - j0)]
    elif dataflow == "is":
        for k0 in range(0, k, rows):
            for i0 in range(0, m, cols):
                stationary = _padded(a[i0 : i0 + cols, k0 : k0 + rows].T, (rows, cols))
                streamed = _padded(b[k0 : k0 + rows, :].T, (n, rows))
                spent, tile = _stationary_fold(stationary, streamed)
                cycles += spent
                c[i0 : i0 + cols, :] += tile[:, : min(cols, m - i0)].T
    else:
        raise ValueError(f"unknown dataflow '{dataflow}' (ws, os, is)")
    return cycles, c
