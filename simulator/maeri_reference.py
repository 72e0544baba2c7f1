"""A cycle-stepped reference model of MAERI's dense compute path (STONNE's SDMemory controller),
for validating `simulator.maeri` at small sizes.

It steps cycles and moves packages and values; no step cost or closed form is evaluated. What it
models, per cycle, in STONNE's order (docs/stonne-timing.md sections 1-2):

* **Controller.** Walks STONNE's loop nest `K-tile, X'-window, Y'-window, C-fold, R-fold, S-fold`
  (N, G outermost, as more K-tiles) and turns one *step* into packages in a cycle: the F weight
  steps of a K-tile (weights multicast to every VN of their filter), then one input step per
  (window, fold): the window's elements, each multicast to every multiplier that uses it; with
  the forwarding links (T_Y' = 1, T_S > 1, stride 1, S % T_S = 0) a window after the first of its
  row sends only its newest column and the multipliers shift the rest from their right
  neighbour. A package is copied into the FIFO of every distribution tree (read port) holding one
  of its destinations. A new step is generated only when every port FIFO is empty (the step's
  packages are out), a step of K-tile j only once every output of the K-tiles before it has been
  written (the K-tile barrier), and an input step only once the collection bus has taken the
  previous input step's NV results: each input step owns the bus (`rn` lines, one value per line
  per cycle) for a slot of ceil(NV/rn) cycles from its issue. (`rn` never bound in STONNE's
  measured rows, so this part is our choice, not a fit: a step's outputs are written no earlier
  than its slot's end + the pipeline latency.)
* **Ports / distribution trees.** `dn` trees of `ms/dn` multipliers; each port sends one package
  per cycle; a package sent in cycle t is at its multipliers in cycle t+1 (multicast inside a
  tree is free).
* **Multipliers.** The VN layout of STONNE: VN v = (k*T_X' + x)*T_Y' + y on multipliers
  [v*VN, (v+1)*VN), element e = (c*T_R + r)*T_S + s of the VN on multiplier v*VN + e. Each holds
  its F weights (one per fold) and one activation register per fold (so forwarding within a
  fold survives the interleaved folds); it multiplies in the cycle its activation arrives.
* **Reduction, accumulation buffer, write-back.** When the last product of a VN for a
  (window, fold) is made in cycle t, its sum leaves the augmented reduction tree at t+3, is added
  into the VN's accumulator at t+4, and after the last fold the output crosses the collection bus
  at t+5 and is written to memory at t+6. These latencies are constants: STONNE's regime-A drain
  is 7 cycles from the last package sent for every VN size measured (9 to 121 multipliers).

The run ends when every output is written; the cycle count is the last write's cycle + 1 (as
STONNE's "Number of cycles running"). The values are real: the model returns the outputs it
accumulated, which the tests compare with a direct convolution, so a wrong VN layout or a wrong
forwarding shift shows up as a wrong number, not only as a wrong cycle count.

Scope: regime A of docs/stonne-timing.md (accumulation buffer on, or a single fold), spatial
tiles that divide the extents (as in STONNE's runs), T_G = T_N = 1. Folding without the
accumulation buffer (aux multipliers and the psum round trip through memory) is not modelled.
Layers are given by STONNE role (`simulator.maeri.ROLES`): extents (R, S, C, K, G, N, X', Y')
with X', Y' the output rows and columns; a GEMM/FC is the conv R=1, S=K, C=1, K=N, X'=M, Y'=1.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

REDUCE_LATENCY = 3  # last product -> sum out of the augmented reduction tree
WRITE_LATENCY = 6  # last product -> output written (tree 3, accumulator 1, bus 1, memory 1)


class ReferenceScopeError(ValueError):
    """A case the reference model does not cover (see the module docstring)."""


@dataclass
class _Step:
    ktile: tuple[int, int, int]  # (n, g, k-tile)
    kind: str  # "weight" | "input"
    window: tuple[int, int] = (0, 0)
    fold: int = 0
    # per port: packages (value, destination multipliers on that port's tree)
    packages: list[list[tuple[float, tuple[int, ...]]]] = field(default_factory=list)
    # multipliers that get their activation by forwarding (input steps)
    forwarded: tuple[int, ...] = ()
    issued: int = -1  # the cycle the controller generated it


def simulate_layer(
    extents: tuple[int, ...],
    tile: tuple[int, ...],
    stride: int,
    ms: int,
    dn: int,
    rn: int,
    accumulation_buffer: bool = True,
    seed: int = 0,
) -> tuple[int, np.ndarray, np.ndarray]:
    """Run one layer (STONNE roles, see the module docstring) on MAERI; returns (cycles, the
    outputs computed [N, G, K, X', Y'], the expected outputs by direct convolution)."""
    r_, s_, c_, k_, g_, n_, xo, yo = extents
    tr, ts, tc, tk, tg, tn, tx, ty = tile
    if tg != 1 or tn != 1:
        raise ReferenceScopeError("T_G and T_N must be 1")
    if any(e % t for e, t in zip(extents, tile, strict=True)):
        raise ReferenceScopeError(f"spatial tile {tile} must divide the extents {extents}")
    folds_r, folds_s, folds_c = r_ // tr, s_ // ts, c_ // tc
    folds = folds_r * folds_s * folds_c
    if folds > 1 and not accumulation_buffer:
        raise ReferenceScopeError("folding without accumulation buffer is not modelled")
    # Without folding the accumulation buffer only passes each VN's single result through.
    vn = tr * ts * tc
    nv = tk * tx * ty
    if vn * nv > ms or ms % dn:
        raise ReferenceScopeError(f"{nv} VNs of {vn} do not fit {ms} multipliers / {dn} ports")
    width = ms // dn
    rng = np.random.default_rng(seed)
    x_in, y_in = (xo - 1) * stride + r_, (yo - 1) * stride + s_
    inputs = rng.integers(-3, 4, (n_, g_, c_, x_in, y_in)).astype(np.float64)
    weights = rng.integers(-3, 4, (g_, k_, c_, r_, s_)).astype(np.float64)
    expected = np.zeros((n_, g_, k_, xo, yo))
    for dx in range(r_):
        for dy in range(s_):
            patch = inputs[:, :, :, dx : dx + stride * xo : stride, dy : dy + stride * yo : stride]
            expected += np.einsum("ngcxy,gkc->ngkxy", patch, weights[:, :, :, dx, dy])
    forwarding = ty == 1 and ts > 1 and stride == 1 and s_ % ts == 0
    wx, wy = tr + (tx - 1) * stride, ts + (ty - 1) * stride  # window rows / cols

    def fold_origin(fold: int) -> tuple[int, int, int]:
        fc, rest = divmod(fold, folds_r * folds_s)  # C-fold outer, R-fold, S-fold inner
        fr, fs = divmod(rest, folds_s)
        return fc * tc, fr * tr, fs * ts

    def multiplier(k: int, i: int, j: int, c: int, dx: int, dy: int) -> int:
        v = (k * tx + i) * ty + j
        return v * vn + (c * tr + dx) * ts + dy

    def split(items: list[tuple[float, list[int]]]) -> list[list[tuple[float, tuple[int, ...]]]]:
        ports: list[list[tuple[float, tuple[int, ...]]]] = [[] for _ in range(dn)]
        for value, dests in items:
            by_port: dict[int, list[int]] = {}
            for m in dests:
                by_port.setdefault(m // width, []).append(m)
            for p, ms_list in by_port.items():
                ports[p].append((value, tuple(ms_list)))
        return ports

    def steps():
        for n in range(n_):
            for g in range(g_):
                for kt in range(k_ // tk):
                    key = (n, g, kt)
                    for fold in range(folds):
                        c0, r0, s0 = fold_origin(fold)
                        items = []
                        for k in range(tk):
                            for c in range(tc):
                                for dx in range(tr):
                                    for dy in range(ts):
                                        value = weights[g, kt * tk + k, c0 + c, r0 + dx, s0 + dy]
                                        dests = [
                                            multiplier(k, i, j, c, dx, dy)
                                            for i in range(tx)
                                            for j in range(ty)
                                        ]
                                        items.append((value, dests))
                        yield _Step(key, "weight", fold=fold, packages=split(items))
                    for xw in range(xo // tx):
                        for yw in range(yo // ty):
                            for fold in range(folds):
                                yield input_step(key, xw, yw, fold, c0_r0_s0=fold_origin(fold))

    def input_step(key, xw, yw, fold, c0_r0_s0) -> _Step:
        n, g, _ = key
        c0, r0, s0 = c0_r0_s0
        slide = forwarding and yw > 0
        first_col = wy - 1 if slide else 0
        items, forwarded = [], []
        for x in range(wx):
            for y in range(wy):
                for c in range(tc):
                    dests = []
                    for i in range(tx):
                        dx = x - i * stride
                        if not 0 <= dx < tr:
                            continue
                        for j in range(ty):
                            dy = y - j * stride
                            if not 0 <= dy < ts:
                                continue
                            dests += [multiplier(k, i, j, c, dx, dy) for k in range(tk)]
                    if not dests:
                        continue
                    if y < first_col:
                        forwarded += dests
                        continue
                    row = xw * tx * stride + r0 + x
                    col = yw * ty * stride + s0 + y
                    items.append((inputs[n, g, c0 + c, row, col], dests))
        return _Step(
            key, "input", (xw, yw), fold, packages=split(items), forwarded=tuple(forwarded)
        )

    # Multiplier state: weight per (multiplier, fold), activation per (multiplier, fold).
    weight_reg = np.zeros((ms, folds))
    act_reg = np.zeros((ms, folds))
    queues: list[deque] = [deque() for _ in range(dn)]
    in_flight: dict[int, list[tuple[_Step, tuple[float, tuple[int, ...]]]]] = {}
    awaiting: dict[int, int] = {}  # id(step) -> packages not yet at their multipliers
    accumulators: dict[tuple, float] = {}
    outputs = np.zeros_like(expected)
    written_per_ktile: dict[tuple[int, int, int], int] = {}
    outputs_per_ktile = tk * xo * yo
    writes: dict[int, list[tuple]] = {}  # cycle -> outputs written then
    done_ktiles_before: set[tuple[int, int, int]] = set()
    ktile_order = [(n, g, kt) for n in range(n_) for g in range(g_) for kt in range(k_ // tk)]
    total_outputs = n_ * g_ * k_ * xo * yo
    written = 0
    bus_free_at = 0
    step_iter = steps()
    pending = next(step_iter, None)
    last_write = -1

    def shift_forwarded(step: _Step) -> None:
        # The forwarding links: each multiplier takes its right neighbour's activation (the
        # element one column further in the previous window of the same fold); ascending order
        # reads every neighbour before it is overwritten.
        for m in sorted(step.forwarded):
            act_reg[m, step.fold] = act_reg[m + 1, step.fold]

    def finish_input_step(step: _Step, cycle: int) -> None:
        # Every activation of the step is in: each VN's products are made in this cycle.
        n, g, kt = step.ktile
        xw, yw = step.window
        for k in range(tk):
            for i in range(tx):
                for j in range(ty):
                    v = (k * tx + i) * ty + j
                    span = slice(v * vn, (v + 1) * vn)
                    psum = float(weight_reg[span, step.fold] @ act_reg[span, step.fold])
                    out = (n, g, kt, k, xw * tx + i, yw * ty + j)
                    accumulators[out] = accumulators.get(out, 0.0) + psum
                    if step.fold == folds - 1:
                        # The step's bus slot ends ceil(NV/rn) cycles after its issue.
                        ready = max(cycle, step.issued + math.ceil(nv / rn))
                        writes.setdefault(ready + WRITE_LATENCY, []).append(
                            (*out, accumulators.pop(out))
                        )

    cycle = 0
    while written < total_outputs:
        # Memory writes of this cycle (they release the K-tile barrier from the next cycle on).
        for n, g, kt, k, x, y, value in writes.pop(cycle, []):
            outputs[n, g, kt * tk + k, x, y] = value
            written += 1
            last_write = cycle
            key = (n, g, kt)
            written_per_ktile[key] = written_per_ktile.get(key, 0) + 1
        # Multipliers: packages sent last cycle arrive, products are made.
        for step, (value, dests) in in_flight.pop(cycle, []):
            for m in dests:
                if step.kind == "weight":
                    weight_reg[m, step.fold] = value
                else:
                    act_reg[m, step.fold] = value
            awaiting[id(step)] -= 1
            if awaiting[id(step)] == 0 and step.kind == "input":
                finish_input_step(step, cycle)
        # Controller: generate the next step when the ports are idle and it is allowed.
        if pending is not None and not any(queues):
            index = ktile_order.index(pending.ktile)
            barrier_ok = all(key in done_ktiles_before for key in ktile_order[:index])
            bus_ok = pending.kind == "weight" or cycle >= bus_free_at
            if barrier_ok and bus_ok:
                count = sum(len(p) for p in pending.packages)
                pending.issued = cycle
                awaiting[id(pending)] = count
                for p, packages in enumerate(pending.packages):
                    queues[p].extend((pending, pkg) for pkg in packages)
                if pending.kind == "input":
                    bus_free_at = cycle + math.ceil(nv / rn)
                    shift_forwarded(pending)
                pending = next(step_iter, None)
        # Ports: one package each.
        for queue in queues:
            if queue:
                in_flight.setdefault(cycle + 1, []).append(queue.popleft())
        for key, count in written_per_ktile.items():
            if count == outputs_per_ktile:
                done_ktiles_before.add(key)
        cycle += 1
        if cycle > 10_000_000:
            raise RuntimeError("reference model did not finish")
    return last_write + 1, outputs, expected
