"""A cycle-stepped reference model of SIGMA's compute path (STONNE's SparseSDMemory, dataflow
MK_STA_KN_STR), for validating `simulator.arch.sigma` at small sizes.

It steps cycles and moves packages and values; no closed form is evaluated. One GEMM
`out = stationary [rows, K] @ streamed [K, N]` (a COMPUTE tile's weights, rows = output channels,
and its N = m streamed columns), per cycle (docs/stonne-timing.md section 4):

* **Controller.** A state machine per *stationary iteration*: CONFIGURING (one cycle: pack whole
  rows, in order, while their non-zeros fit the `ms` multipliers; rows without a non-zero are
  skipped; a row with more than `ms` non-zeros is split into chunks of `ms`, then `ms - 1` plus a
  partial-sum multiplier), DIST_STA (push every mapped non-zero, unicast, into the FIFO of the
  read port whose multipliers hold it), DIST_STR (once every port FIFO is empty: one streamed
  column per issue, one package per (mapped k, port holding a multiplier of k) -- sent whether
  the element is zero or not -- a new column only when the port FIFOs are empty again and the
  collection bus has had b cycles since the previous issue: its credit, b = the most VNs that
  share one bus line), then WAIT
  until every output of the iteration is written; the next iteration configures the cycle after.
* **Ports / Benes network.** `dn` read ports, port p feeding multipliers [p*w, (p+1)*w),
  w = ms/dn; a port sends one package per cycle; a package sent in cycle t is at its
  multipliers in cycle t+1 (multicast inside the network is free).
* **Multipliers.** Latch their weight, then one activation per column; the array fires on a
  column in the cycle its last activation arrives (the array works on one column at a time).
  The partial-sum multiplier of a split row holds the previous chunk's sum for the column, read
  back by the psum path (not through the read ports: STONNE's port cost does not count it).
* **Forwarding adder network.** Pipelined, depth ceil(log2 ms): the sums of a column's VNs come
  out ceil(log2 ms) cycles after the column fires (the values are really added, per VN).
* **Collection bus and memory.** `rn` lines; a VN's sum leaves the adder tree from the adder
  STONNE's ART configuration picks for its multiplier range, on that adder's line
  (`simulator.arch.sigma.vn_bus_lines`: the two adders of a forwarding-linked pair share a line, so
  two VNs ending there serialise); each line takes one ready value per cycle (from the cycle
  after it is ready, its VNs in order) and memory writes it one cycle later.

The cycle count is the last write's cycle + 1 (STONNE's "Number of cycles running"). The values
are real: the model returns the outputs it accumulated, which the tests compare with a dense
matmul. Scope: one tile (one rep) at small sizes (a few hundred cycles); activation sparsity
plays no part (MK_STA_KN_STR streams zeros too). The adder tree is one fixed latency for every
VN (STONNE's sums that leave lower in the tree are earlier: the closed form ignores that too).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from simulator.arch.sigma import vn_bus_lines

PSUM = -1


@dataclass
class SigmaRun:
    cycles: int
    outputs: np.ndarray  # [rows, N]
    iterations: int


def _pack(stationary: np.ndarray, ms: int) -> list[list[tuple[int, int]]]:
    """Per stationary iteration, the (row, k) held by each used multiplier, in order;
    (row, PSUM) for a split row's partial-sum multiplier."""
    iterations: list[list[tuple[int, int]]] = []
    rows = [np.flatnonzero(r).tolist() for r in stationary]
    i = 0
    while i < len(rows):
        if len(rows[i]) > ms:
            first, pos = True, 0
            while pos < len(rows[i]):
                cap = ms if first else ms - 1
                chunk = [(i, k) for k in rows[i][pos : pos + cap]]
                iterations.append(chunk if first else [(i, PSUM), *chunk])
                first, pos = False, pos + cap
            i += 1
            continue
        layout: list[tuple[int, int]] = []
        while i < len(rows) and len(layout) + len(rows[i]) <= ms:
            layout += [(i, k) for k in rows[i]]
            i += 1
        if layout:
            iterations.append(layout)
    return iterations


def run(stationary: np.ndarray, streamed: np.ndarray, ms: int, dn: int, rn: int) -> SigmaRun:
    """Step SIGMA through `stationary @ streamed` (values; zeros of `stationary` are skipped)."""
    stationary = np.asarray(stationary, np.float64)
    streamed = np.asarray(streamed, np.float64)
    num_rows, depth = stationary.shape
    columns = streamed.shape[1]
    assert streamed.shape[0] == depth and columns >= 1
    width = max(1, ms // dn)
    latency = math.ceil(math.log2(ms)) if ms > 1 else 0
    out = np.zeros((num_rows, columns))
    cycle = 0
    layouts = _pack(stationary != 0, ms)
    for layout in layouts:
        cycle = _iteration(layout, stationary, streamed, out, cycle, width, dn, rn, latency, ms)
    return SigmaRun(cycles=cycle, outputs=out, iterations=len(layouts))


def _iteration(
    layout: list[tuple[int, int]],
    stationary: np.ndarray,
    streamed: np.ndarray,
    out: np.ndarray,
    start: int,
    width: int,
    dn: int,
    rn: int,
    latency: int,
    ms: int,
) -> int:
    """Step one stationary iteration from its CONFIGURING cycle `start`; returns the cycle after
    its last write (the next iteration's CONFIGURING cycle)."""
    columns = streamed.shape[1]
    vns = list(dict.fromkeys(row for row, _ in layout))  # rows mapped, in order
    sizes = [sum(1 for r, _ in layout if r == row) for row in vns]
    vn_line = vn_bus_lines(sizes, ms, rn)
    credit = max(vn_line.count(line) for line in vn_line)
    holders: dict[int, list[int]] = {}  # k -> multipliers holding a non-zero of column k
    for position, (_, k) in enumerate(layout):
        if k != PSUM:
            holders.setdefault(k, []).append(position)
    expected = sum(1 for _, k in layout if k != PSUM)

    fifos: list[deque[tuple[str, int, int]]] = [deque() for _ in range(dn)]
    in_flight: list[tuple[str, int, int]] = []  # sent last cycle, arrive this cycle
    weight_reg: dict[int, float] = {}
    activations: dict[int, dict[int, float]] = {}  # column -> multiplier -> activation
    lines: list[deque[tuple[int, int, int, float]]] = [deque() for _ in range(rn)]
    psum_chunk = {row for row, k in layout if k == PSUM}
    outputs_left = len(vns) * columns
    phase, next_column, last_issue = "config", 0, -(10**9)
    cycle = start
    while True:
        # Arrivals of the packages sent in the previous cycle.
        for kind, target, column in in_flight:
            if kind == "w":
                weight_reg[target] = stationary[layout[target][0], layout[target][1]]
            else:
                k = layout[target][1]
                activations.setdefault(column, {})[target] = streamed[k, column]
        in_flight = []
        # The multiplier array fires on a column whose activations are all in.
        for column in [c for c, acts in activations.items() if len(acts) == expected]:
            acts = activations.pop(column)
            assert len(weight_reg) == expected, "a column fired before its weights arrived"
            sums = {row: 0.0 for row in vns}
            for position, value in acts.items():
                sums[layout[position][0]] += weight_reg[position] * value
            for v, row in enumerate(vns):
                total = sums[row] + (out[row, column] if row in psum_chunk else 0.0)
                lines[vn_line[v]].append((cycle + latency, row, column, total))
        # Controller.
        fifos_empty = all(not f for f in fifos)
        if phase == "config":
            phase = "sta"
        elif phase == "sta":
            for position, (_, k) in enumerate(layout):
                if k != PSUM:
                    fifos[position // width].append(("w", position, 0))
            phase = "sta_wait"
        elif phase == "sta_wait" and fifos_empty:
            phase = "str"
        bus_credit = cycle >= last_issue + credit
        if phase == "str" and fifos_empty and next_column < columns and bus_credit:
            for k in sorted(holders):
                for port in sorted({p // width for p in holders[k]}):
                    first = next(p for p in holders[k] if p // width == port)
                    fifos[port].append(("a", first, next_column))
            last_issue, next_column = cycle, next_column + 1
        # Ports: one package each; a multicast package reaches every holder of k on its port.
        for fifo in fifos:
            if fifo:
                kind, position, column = fifo.popleft()
                if kind == "w":
                    in_flight.append((kind, position, column))
                else:
                    k = layout[position][1]
                    port = position // width
                    in_flight += [("a", p, column) for p in holders[k] if p // width == port]
        # Collection bus: each line takes one value that was ready before this cycle; memory
        # writes it next cycle (counted here: the write's cycle is cycle + 1).
        for line in lines:
            if line and line[0][0] < cycle:
                _, row, column, total = line.popleft()
                out[row, column] = total
                outputs_left -= 1
                if outputs_left == 0:
                    return cycle + 2  # written at cycle + 1; the next iteration starts after
        cycle += 1
