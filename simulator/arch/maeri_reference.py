"""A cycle-stepped reference model of MAERI's dense compute path (STONNE's SDMemory controller),
for validating `simulator.arch.maeri` at small sizes.

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
  written (the K-tile barrier), and an input step of a window's last fold only once the
  collection bus has taken the previous window's NV results: such a step owns the bus (`rn`
  lines, one value per line per cycle) for a slot of ceil(NV/rn) cycles from its issue, and its
  outputs are written no earlier than the slot's end + the pipeline latency. The bus carries
  outputs only: the other folds' partial sums stay in the accumulators (STONNE, runs of
  bench/validation/tuned_vs_stonne.csv: 32 VNs on rn = 8 fold no slower than 16).
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

Regime B (folding without the accumulation buffer) is modelled for one VN per step
(`_simulate_regime_b`): the aux multiplier, the partial sum written to memory and sent back
through its port with priority in the same cycle, ports running ahead on unbounded FIFOs, the
round trip made of its hops (memory -> tree -> aux multiplier -> adder levels -> memory).

Scope: regime A of docs/stonne-timing.md (accumulation buffer on, or a single fold) and regime B
with T_K = T_X' = T_Y' = 1, spatial tiles that divide the extents (as in STONNE's runs), T_G =
T_N = 1. Several VNs folding without the accumulation buffer (shared adders of the augmented
tree) are not modelled.
Layers are given by STONNE role (`simulator.arch.maeri.ROLES`): extents (R, S, C, K, G, N, X', Y')
with X', Y' the output rows and columns; a GEMM/FC is the conv R=1, S=K, C=1, K=N, X'=M, Y'=1.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from simulator.arch import maeri_art

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
    # Without folding the accumulation buffer only passes each VN's single result through.
    vn = tr * ts * tc
    nv = tk * tx * ty
    regime_b = folds > 1 and not accumulation_buffer
    if regime_b and nv != 1:
        raise ReferenceScopeError(
            "folding without accumulation buffer is modelled for one VN per step only"
        )
    if vn * nv + int(regime_b) * nv > ms or ms % dn:
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
    if regime_b:
        cycles, outputs = _simulate_regime_b(extents, tile, stride, ms, dn, inputs, weights)
        return cycles, outputs, expected
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
            takes_bus = pending.kind == "input" and pending.fold == folds - 1
            bus_ok = not takes_bus or cycle >= bus_free_at
            if barrier_ok and bus_ok:
                count = sum(len(p) for p in pending.packages)
                pending.issued = cycle
                awaiting[id(pending)] = count
                for p, packages in enumerate(pending.packages):
                    queues[p].extend((pending, pkg) for pkg in packages)
                if takes_bus:
                    bus_free_at = cycle + math.ceil(nv / rn)
                if pending.kind == "input":
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


def _simulate_regime_b(
    extents: tuple[int, ...],
    tile: tuple[int, ...],
    stride: int,
    ms: int,
    dn: int,
    inputs: np.ndarray,
    weights: np.ndarray,
) -> tuple[int, np.ndarray]:
    """Regime B (folding without the accumulation buffer), one VN per step.

    The VN spans VN + 1 multipliers, the first its aux multiplier (STONNE's `folding_shift`):
    element e on multiplier 1 + e. Per cycle, in this order:

    * **Memory writes.** A VN's sum is written in the cycle it leaves the reduction tree. The
      partial sum of a fold but the last is at once pushed into the psum FIFO of the aux
      multiplier's port (`SDMemory::receive`); the last fold's sum is the output (it counts for
      the K-tile barrier from the next cycle on).
    * **Controller.** One step per cycle into the unbounded per-port FIFOs, as
      `SDMemory::cycle` does, regardless of their backlog (the ports run ahead of the round
      trips): the K-tile's F weight steps, then per window its F input steps; a step of K-tile
      j only once every output of the K-tiles before it is written.
    * **Ports.** Each sends one package: its psum FIFO first (priority), else its input FIFO.
      A package sent in cycle t is at its multipliers in t + 1, one cycle later when the tree
      has switches (ms/dn >= 2).
    * **Multipliers / reduction.** Each multiplier keeps its weight and activation per (window,
      fold) (its input FIFO), so activations of later windows never overwrite those of the
      window in flight; forwarded activations are the right neighbour's of the previous window.
      A product takes one cycle after its activation is in (the multiply); the psum at the aux
      multiplier enters the tree as it arrives. The VN takes its (window, fold)s in order, at
      most one per cycle: a fold enters the tree when its products and (after fold 0) its psum
      are there; each value crosses the adders of its own path in the augmented tree (levels
      and forwarding-link hops, CompilerART's configuration: h = floor(log2(VN + 2)) from the
      aux multiplier, up to `maeri_art.product_hops` from a product's) at one per cycle, and
      the sum is written the cycle after the last value leaves the last adder. Fold 0 adds a
      zero the aux multiplier injects: the first in cycle 1, the next in the cycle after it
      forwarded the previous window's last psum.

    So the round trip (write -> psum sent -> at the aux multiplier 1 or 2 cycles later -> climb
    -> write) is not a constant here: it is the sum of the hops above, and it equals section 3's
    L = floor(log2(VN + 2)) + 2 + (1 if ms/dn >= 2) only as a consequence."""
    r_, s_, c_, k_, g_, n_, xo, yo = extents
    tr, ts, tc, tk, tg, tn, tx, ty = tile
    folds_r, folds_s, folds_c = r_ // tr, s_ // ts, c_ // tc
    folds = folds_r * folds_s * folds_c
    width = ms // dn
    hop = 1 + int(width >= 2)  # port -> multiplier (through the tree's switches)
    vn = tr * ts * tc
    # The psum crosses h = floor(log2(VN + 2)) adders of the augmented tree from the aux
    # multiplier, a product up to `product_hops` from its multiplier (tree levels and
    # forwarding-link hops of CompilerART's configuration for a VN at multiplier 0,
    # docs/stonne-several-vn.md); the sum leaves the last adder a cycle later.
    levels = (vn + 2).bit_length()
    product_levels = maeri_art.product_hops(ms, vn + 1, 1)[0]
    forwarding = ty == 1 and ts > 1 and stride == 1 and s_ % ts == 0
    aux_port = 0  # multiplier 0 is the aux one

    def fold_origin(fold: int) -> tuple[int, int, int]:
        fc, rest = divmod(fold, folds_r * folds_s)
        fr, fs = divmod(rest, folds_s)
        return fc * tc, fr * tr, fs * ts

    def mult(c: int, dx: int, dy: int) -> int:
        return 1 + (c * tr + dx) * ts + dy

    ktile_order = [(n, g, kt) for n in range(n_) for g in range(g_) for kt in range(k_)]
    windows = [(xw, yw) for xw in range(xo) for yw in range(yo)]

    def steps():
        # (ktile, kind, window, fold, {port: [(value, multipliers)]}, forwarded multipliers)
        for key in ktile_order:
            n, g, k = key
            for fold in range(folds):
                c0, r0, s0 = fold_origin(fold)
                ports: dict[int, list] = {}
                for c in range(tc):
                    for dx in range(tr):
                        for dy in range(ts):
                            m = mult(c, dx, dy)
                            value = weights[g, k, c0 + c, r0 + dx, s0 + dy]
                            ports.setdefault(m // width, []).append((value, (m,)))
                yield key, "weight", None, fold, ports, ()
            for xw, yw in windows:
                for fold in range(folds):
                    c0, r0, s0 = fold_origin(fold)
                    first_col = ts - 1 if forwarding and yw > 0 else 0
                    ports, forwarded = {}, []
                    for x in range(tr):
                        for y in range(ts):
                            for c in range(tc):
                                m = mult(c, x, y)
                                if y < first_col:
                                    forwarded.append(m)
                                    continue
                                value = inputs[
                                    n, g, c0 + c, xw * stride + r0 + x, yw * stride + s0 + y
                                ]
                                ports.setdefault(m // width, []).append((value, (m,)))
                    yield key, "input", (xw, yw), fold, ports, tuple(forwarded)

    step_iter = steps()
    pending = next(step_iter, None)
    queues: list[deque] = [deque() for _ in range(dn)]
    psum_queue: deque = deque()  # the aux port's psum FIFO (one VN: one port)
    weight_reg: dict[tuple[int, int], float] = {}  # (multiplier, fold)
    weight_ready: dict[int, int] = {}  # fold -> cycle its last weight is in
    act: dict[tuple, float] = {}  # (multiplier, window, fold) -> activation
    ready: dict[tuple, int] = {}  # (window, fold) -> cycle its last activation is in
    remaining: dict[tuple, int] = {}  # (window, fold) / ("w", fold) -> packages not yet sent
    psum_in: dict[tuple, tuple[int, float]] = {}  # (window, fold) -> (cycle at aux, value)
    events: dict[int, list] = {}  # cycle -> sums leaving the tree: (key, window, fold, value)
    outputs = np.zeros((n_, g_, k_, xo, yo))
    done: set = set()
    written_ktile = {key: 0 for key in ktile_order}
    total, written, last_write, cycle = n_ * g_ * k_ * xo * yo, 0, -1, 0

    forwarded_of: dict[tuple, tuple[int, ...]] = {}  # (window, fold) -> forwarded multipliers
    waiting: list[tuple] = []  # (key, window, fold) generated, sum not yet started

    def operands_in(window, fold) -> int | None:
        """Cycle the fold's last activation is at its multiplier (forwarded ones: when the
        neighbour's of the previous window was), None while one is still on its way."""
        if (window, fold) not in ready:
            return None
        at = ready[(window, fold)]
        if forwarded_of.get((window, fold)):
            prev = operands_in((window[0], window[1] - 1), fold)
            if prev is None:
                return None
            at = max(at, prev)
        return at

    def activation(m, window, fold) -> float:
        if (m, window, fold) not in act:  # forwarded: the right neighbour's, one window back
            act[(m, window, fold)] = activation(m + 1, (window[0], window[1] - 1), fold)
        return act[(m, window, fold)]

    last_leaves = [-1]  # cycle the previous (window, fold)'s sum left the tree
    zero_at = [1]  # cycle the aux has the zero of the next fold 0 (the first: cycle 1)

    def try_reduce(key, window, fold) -> bool:
        # The fold's sum leaves the tree `levels` cycles after its last operand is in.
        start = operands_in(window, fold)
        if start is None or fold not in weight_ready:
            return False
        if fold > 0 and (window, fold) not in psum_in:
            return False
        # A product is ready one cycle after its activation (the multiply); the psum at the aux
        # multiplier goes into the tree as it arrives.
        start = max(start + 1, weight_ready[fold] + 1)
        value = 0.0
        leaves = start + product_levels
        if fold > 0:
            at_aux, value = psum_in.pop((window, fold))
            leaves = max(leaves, at_aux + levels)
            if fold == folds - 1:  # the aux injects the next window's zero the cycle after
                zero_at[0] = at_aux + 1
        else:  # fold 0 adds the zero the aux injected
            leaves = max(leaves, zero_at[0] + levels)
        # The adders pass the VN's sums in order, one per cycle (values of a later fold wait in
        # their input FIFOs behind the earlier one's).
        leaves = max(leaves, last_leaves[0] + 1)
        last_leaves[0] = leaves
        for c in range(tc):
            for dx in range(tr):
                for dy in range(ts):
                    m = mult(c, dx, dy)
                    value += weight_reg[(m, fold)] * activation(m, window, fold)
        assert leaves > cycle, "a sum left the tree in the past"
        events.setdefault(leaves, []).append((key, window, fold, value))
        return True

    while written < total:
        # Memory: sums leaving the tree are written; partial sums go straight back.
        for key, window, fold, value in events.pop(cycle, []):
            if fold < folds - 1:
                psum_queue.append((key, window, fold + 1, value))
            else:
                n, g, k = key
                outputs[n, g, k, window[0], window[1]] = value
                written += 1
                written_ktile[key] += 1
                last_write = cycle
        # Controller: one step per cycle, behind the K-tile barrier.
        if pending is not None:
            key, kind, window, fold, ports, forwarded = pending
            index = ktile_order.index(key)
            if all(k in done for k in ktile_order[:index]):
                if kind == "weight" and fold == 0:  # a new K-tile: the last one is written
                    for state in (ready, weight_ready, act, forwarded_of, remaining):
                        state.clear()
                tag = ("w", fold) if kind == "weight" else (window, fold)
                remaining[tag] = sum(len(v) for v in ports.values())
                for p, packages in ports.items():
                    queues[p].extend((key, kind, window, fold, pkg) for pkg in packages)
                if kind == "input":
                    forwarded_of[(window, fold)] = forwarded
                    waiting.append((key, window, fold))
                pending = next(step_iter, None)
        # Ports: psums first, else one input/weight package each.
        for p in range(dn):
            if p == aux_port and psum_queue:
                key, window, fold, value = psum_queue.popleft()
                psum_in[(window, fold)] = (cycle + hop, value)
                continue
            if not queues[p]:
                continue
            key, kind, window, fold, (value, dests) = queues[p].popleft()
            for m in dests:
                if kind == "weight":
                    weight_reg[(m, fold)] = value
                else:
                    act[(m, window, fold)] = value
            tag = ("w", fold) if kind == "weight" else (window, fold)
            remaining[tag] -= 1
            if remaining[tag] == 0:
                if kind == "weight":
                    weight_ready[fold] = cycle + hop
                else:
                    ready[(window, fold)] = cycle + hop
        # The multipliers take their (window, fold)s in order, one per cycle at most.
        while waiting and try_reduce(*waiting[0]):
            waiting.pop(0)
        for key, count in written_ktile.items():
            if count == xo * yo:
                done.add(key)
        cycle += 1
        if cycle > 10_000_000:
            raise RuntimeError("reference model did not finish")
    return last_write + 1, outputs
