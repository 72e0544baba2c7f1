"""Per-tile cost of MAERI as STONNE models it (dense CONV/FC through `SDMemory`).

The specification is docs/stonne-timing.md (sections 1-3, written from STONNE's source and fitted
to bench/validation/stonne.csv); this module implements it in two halves:

* compile time, plain Python (`step_costs`): the port cost of one *generation step* of the
  controller for a spatial tile: `c_w` (the weights of one fold), `c_full` (a whole input window)
  and `c_col` (only the newest column, when the multipliers' forwarding links slide the window),
  found by enumerating the step's elements and the distribution trees (`dn` read ports, each tree
  feeding `ms/dn` multipliers) that hold a receiver of each: a port sends one package per cycle and
  a multicast costs one slot per tree it reaches. They depend only on the spatial tile, `ms`, `dn`
  and whether the VNs carry an aux multiplier, so the compiler computes them once per layer and
  puts them in the layer's CONFIG row (docs/program.md), with `c_full0`, `c_col0`, the input steps
  of fold 0 (which sends no partial sum back);
* run time, array code (`compute_cycles`, `sram_traffic`, `network_hops`) taking an array
  namespace `xp` (`jax.numpy` by default, or numpy) like `simulator.systolic`, with every branch a
  `where`, so the engine can trace it inside `lax.switch` / `vmap`.

STONNE's tile is per dimension `T_R T_S T_C T_K T_G T_N T_X' T_Y'`; the run-time functions take
extents and spatial tiles as 8-vectors in that *role* order (`ROLES`). `ROLE_INDEX[kind]` says
which of the layer's loop dims plays each role: for conv2d (`n g k c y x r s`) R=r, S=s, C=c, K=k,
G=g, N=n, X'=y (STONNE's X is the input *rows*, paired with R) and Y'=x; a matmul (`g m n k`) runs
as STONNE runs an FC layer (`Stonne::loadDenseGEMM`): the CONV with R=1, S=k (the reduction),
C=1, K=n, G=g, X'=m, Y'=1. `NO_DIM` (8) selects the constant 1.

Per COMPUTE (one buffer tile, extents z, spatial tile t, both by role):

    F       = ceil(zR/tR) * ceil(zS/tS) * ceil(zC/tC)            folds (the reduction split)
    ktiles  = ceil(zK/tK) * ceil(zG/tG) * ceil(zN/tN)            K-tiles (a barrier each)
    VN      = tR*tS*tC,  NV = tK*tG*tN*tX'*tY',  c_rn = ceil(NV / rn)
    T       = ktiles * (F*c_w + ceil(zX'/tX') * [P(c_full, c_full0)
                                             + (ceil(zY'/tY') - 1) * P(c_col, c_col0)] + D)
    regime A (accumulation buffer, or F = 1):  P(c, c0) = F * max(c, c_rn),  D = 7
    regime B (F > 1 without the buffer):
        P(c, c0) = max(max(c0, c_rn) + (F-1) * max(c, c_rn), (F-1) * L + 1),
        plus once per K-tile the first window's start,
        max(c_full0, c_rn) + (F-1) * max(c_full, c_rn, L) - P(c_full, c_full0)
        (its chain waits for fold 0's inputs), D = L + 1, and the psum round trip
        L = max(4, 1 + ceil(log2(VN+1))) + (1 if ms/dn >= 2) + δ,
        δ = 1 if NV >= 2 and VN+1 >= 10 and NV*(VN+1) > 32 else 0 (empirical: several VNs)
    In regime B the step costs c_full, c_col include the partial sums sent back: one package per
    VN on the port of its aux multiplier (`step_costs`); fold 0 sends none (c_full0, c_col0). The ports run ahead of the multipliers
    (unbounded FIFOs), so a window costs its port time or its chain of F-1 round trips, whichever
    is longer.

Global-buffer traffic (elements) per COMPUTE: weights once (every K-tile has its own), inputs
`ktiles * F * ceil(zX'/tX') * (e_full + (ceil(zY'/tY')-1) * e_col)` (e_*: distinct elements of a
step, from the CONFIG row: inputs are re-sent every K-tile and fold), outputs written once with
the accumulation buffer, F times without (partial sums, read back F-1 times); `acc` (a psum reload
between buffer tiles) reads the outputs once more.
Network hops (energy): each element the SDMemory sends (weights, inputs, psums sent back) crosses
log2(ms) distribution-switch levels; each product climbs the reduction tree, a VN of V products
uses 2V-1 adder-input links, counted as 2 per MAC.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

ROLES = ("R", "S", "C", "K", "G", "N", "X", "Y")
NO_DIM = 8
# Index of the layer dim (simulator.program.LAYER_DIMS order) playing each role; NO_DIM: none.
ROLE_INDEX: dict[str, tuple[int, ...]] = {
    "conv2d": (6, 7, 3, 2, 1, 0, 4, 5),  # n g k c y x r s
    "matmul": (NO_DIM, 3, NO_DIM, 2, 0, NO_DIM, 1, NO_DIM),  # g m n k
}
KIND_CODES = {"conv2d": 0, "matmul": 1}
# Values of the step fields of a MAERI CONFIG row, in order (simulator.program.F_STEPS ...).
# The last two (fold 0's input steps, which carry no partial sum) travel in fields appended after
# the SIGMA ones (simulator.program.F_STEPS0).
STEP_FIELDS = ("c_w", "c_full", "c_col", "e_full", "e_col", "aux_ms", "c_full0", "c_col0")
# Cycles from the last package sent to the last output written, regime A (docs/stonne-timing.md).
DRAIN_CYCLES = 7


def _default_xp() -> Any:
    import jax.numpy as jnp

    return jnp


def cdiv(a: Any, b: Any) -> Any:
    return (a + b - 1) // b


def ceil_log2(v: Any, bits: int = 32) -> Any:
    """ceil(log2(v)) of integers v >= 1 without floating point (0 for v = 1)."""
    return sum(((v - 1) >> i) > 0 for i in range(bits))


def roles_of(kind: str, per_dim: dict[str, int], dims: tuple[str, ...]) -> tuple[int, ...]:
    """Per-dim values (extents or spatial factors) of a layer as the 8 STONNE roles."""
    values = [int(per_dim.get(d, 1)) for d in dims] + [1] * (NO_DIM + 1 - len(dims))
    return tuple(values[i] for i in ROLE_INDEX[kind])


def uses_aux_ms(folds: int, accumulation_buffer: bool) -> bool:
    """A VN carries an aux multiplier (psum injection) when it folds without the buffer."""
    return folds > 1 and not accumulation_buffer


def forwarding_usable(t: tuple[int, ...], extent_s: int, stride_cols: int) -> bool:
    """STONNE's sliding window (only the new column sent): T_Y'=1, T_S>1, stride 1, S % T_S = 0."""
    return t[7] == 1 and t[1] > 1 and stride_cols == 1 and extent_s % t[1] == 0


@cache
def step_costs(
    t: tuple[int, ...], stride: int | tuple[int, int], extent_s: int, ms: int, dn: int, aux: bool
) -> tuple[int, int, int, int, int, int, int, int]:
    """(c_w, c_full, c_col, e_full, e_col, aux, c_full0, c_col0) for spatial tile `t` (8 roles)
    on ms/dn; c_full0, c_col0: the input steps of fold 0, which send no partial sum back (equal
    to c_full, c_col without aux multipliers).

    `stride`: one stride, or (along X' = rows, along Y' = cols); STONNE has a single stride and
    no dilation (a dilated conv gets the step costs of its undilated window).

    VN v = ((k*T_X' + x)*T_Y' + y) (times T_G*T_N, which STONNE keeps at 1: the extra factors
    are laid out after K) occupies multipliers [v*VN', (v+1)*VN'), VN' = VN + aux, the element at
    offset e of the VN (e = (c*T_R + r)*T_S + s) on multiplier v*VN' + aux + e. Port p is the
    distribution tree of multipliers [p*w, (p+1)*w), w = ms/dn."""
    t_r, t_s, t_c, t_k, t_g, t_n, t_x, t_y = t
    vn = t_r * t_s * t_c
    vn_span = vn + int(aux)
    width = max(1, ms // dn)
    nv_outer = t_k * t_g * t_n

    def port(v: int, e: int) -> int:
        return (v * vn_span + int(aux) + e) // width

    weight_load: dict[int, int] = {}
    for k in range(nv_outer):
        for e in range(vn):
            ports = {port((k * t_x + x) * t_y + y, e) for x in range(t_x) for y in range(t_y)}
            for p in ports:
                weight_load[p] = weight_load.get(p, 0) + 1
    c_w = max(1, max(weight_load.values(), default=1))

    stride_x, stride_y = (stride, stride) if isinstance(stride, int) else stride
    x_in = t_r + (t_x - 1) * stride_x
    y_in = t_s + (t_y - 1) * stride_y

    def input_step(first_col: int) -> tuple[dict[int, int], int]:
        load: dict[int, int] = {}
        elements = 0
        for x in range(x_in):
            for y in range(first_col, y_in):
                for c in range(t_c):
                    ports = set()
                    for i in range(t_x):
                        dx = x - i * stride_x
                        if not 0 <= dx < t_r:
                            continue
                        for j in range(t_y):
                            dy = y - j * stride_y
                            if not 0 <= dy < t_s:
                                continue
                            for k in range(nv_outer):
                                v = (k * t_x + i) * t_y + j
                                ports.add(port(v, (c * t_r + dx) * t_s + dy))
                    elements += bool(ports)
                    for p in ports:
                        load[p] = load.get(p, 0) + 1
        return load, elements

    # Without the accumulation buffer every fold but the first also sends each VN's partial sum
    # back to its aux multiplier (the first of the VN's span), through that multiplier's port,
    # ahead of the inputs (SDMemory::send gives psums priority): one more package on that port.
    psum_load: dict[int, int] = {}
    if aux:
        for v in range(nv_outer * t_x * t_y):
            p = (v * vn_span) // width
            psum_load[p] = psum_load.get(p, 0) + 1

    def input_step_cost(first_col: int) -> tuple[int, int, int]:
        load, elements = input_step(first_col)
        cost0 = max(1, max(load.values(), default=1))
        for p, n in psum_load.items():
            load[p] = load.get(p, 0) + n
        return max(1, max(load.values(), default=1)), elements, cost0

    c_full, e_full, c_full0 = input_step_cost(0)
    if forwarding_usable(t, extent_s, stride_y):
        c_col, e_col, c_col0 = input_step_cost(y_in - 1)
    else:
        c_col, e_col, c_col0 = c_full, e_full, c_full0
    return c_w, c_full, c_col, e_full, e_col, int(aux), c_full0, c_col0


def _parts(z: Any, t: Any, xp: Any) -> dict[str, Any]:
    def at(v: Any, i: int) -> Any:
        return xp.maximum(v[i], 1)

    zr, zs, zc, zk, zg, zn, zx, zy = (at(z, i) for i in range(8))
    tr, ts, tc, tk, tg, tn, tx, ty = (at(t, i) for i in range(8))
    return dict(
        folds=cdiv(zr, tr) * cdiv(zs, ts) * cdiv(zc, tc),
        ktiles=cdiv(zk, tk) * cdiv(zg, tg) * cdiv(zn, tn),
        windows_x=cdiv(zx, tx),
        windows_y=cdiv(zy, ty),
        vn=tr * ts * tc,
        nv=tk * tg * tn * tx * ty,
    )


def psum_round_trip(vn: Any, nv: Any, ms_per_port: Any = 1, xp: Any = None) -> Any:
    """L: cycles from one fold's partial sum written to the next fold's written (regime B).

    `max(4, 1 + ceil(log2(VN+1)))`: the psum is re-sent in the cycle it is written, reaches the
    aux multiplier one cycle later and climbs the VN's adder tree (VN+1 leaves with the aux; 4 at
    least, as measured for VNs of 2-3; 3 for a VN of one multiplier, whose aux and multiplier
    meet at the first adder: STONNE micro runs in docs/bifrost.md);
    `+1` when the distribution trees have switches (ms/dn >= 2): exact for one VN per step
    (STONNE traces, docs/stonne-timing.md section 3). `+δ`, δ = 1 when several VNs of 10 or
    more multipliers (with the aux) fill more than 32 multipliers: an empirical term for the
    interaction of several VNs in the augmented tree, which is not modelled."""
    xp = xp or _default_xp()
    switches = xp.where(ms_per_port >= 2, 1, 0)
    delta = xp.where((nv >= 2) & (vn + 1 >= 10) & (nv * (vn + 1) > 32), 1, 0)
    return xp.maximum(xp.where(vn == 1, 3, 4), 1 + ceil_log2(vn + 1)) + switches + delta


def compute_cycles(
    z: Any,
    t: Any,
    steps: Any,
    rn: Any,
    accumulation_buffer: Any,
    xp: Any = None,
    ms_per_port: Any = 1,
) -> Any:
    """Cycles of one COMPUTE: extents z and spatial tile t by role, steps = (c_w, c_full, c_col,
    ...) from the CONFIG row, rn write ports, ms_per_port = ms/dn multipliers per distribution
    tree; see the module docstring for the formula."""
    xp = xp or _default_xp()
    p = _parts(z, t, xp)
    folds, vn, nv = p["folds"], p["vn"], p["nv"]
    c_w, c_full, c_col = steps[0], steps[1], steps[2]
    c_full0, c_col0 = steps[6], steps[7]
    c_rn = cdiv(nv, rn)
    regime_b = (folds > 1) & (accumulation_buffer == 0)
    lat = psum_round_trip(vn, nv, ms_per_port, xp)

    def window_a(c: Any) -> Any:
        return folds * xp.maximum(c, c_rn)

    def window_b(c: Any, c0: Any) -> Any:
        # The ports stream ahead (unbounded FIFOs): a window costs its port time (fold 0 sends
        # no psum) or its chain of F-1 psum round trips (+1 for fold 0, whose inputs are already
        # there), whichever is longer.
        ports = xp.maximum(c0, c_rn) + (folds - 1) * xp.maximum(c, c_rn)
        return xp.maximum(ports, (folds - 1) * lat + 1)

    def per_window(c: Any, c0: Any) -> Any:
        return xp.where(regime_b, window_b(c, c0), window_a(c))

    # Regime B, first window of a K-tile: its chain starts when fold 0's inputs are in.
    first = xp.maximum(c_full0, c_rn) + (folds - 1) * xp.maximum(xp.maximum(c_full, c_rn), lat)
    start = xp.where(regime_b, first - window_b(c_full, c_full0), 0)
    drain = xp.where(regime_b, lat + 1, DRAIN_CYCLES)
    row = per_window(c_full, c_full0) + (p["windows_y"] - 1) * per_window(c_col, c_col0)
    per_ktile = folds * c_w + p["windows_x"] * row + start + drain
    return p["ktiles"] * per_ktile


def sram_traffic(
    z: Any, t: Any, steps: Any, accumulation_buffer: Any, acc: Any, xp: Any = None
) -> tuple[Any, Any, Any, Any]:
    """(input reads, weight reads, output writes, output reads) of one COMPUTE, in elements."""
    xp = xp or _default_xp()
    p = _parts(z, t, xp)
    zz = [xp.maximum(z[i], 1) for i in range(8)]
    zr, zs, zc, zk, zg, zn, zx, zy = zz
    e_full, e_col = steps[3], steps[4]
    folds = p["folds"]
    inputs = p["ktiles"] * folds * p["windows_x"] * (e_full + (p["windows_y"] - 1) * e_col)
    weights = zr * zs * zc * zk * zg
    outputs = zk * zg * zn * zx * zy
    psum_passes = xp.where(accumulation_buffer == 0, folds, 1)
    writes = outputs * psum_passes
    reads = outputs * (psum_passes - 1 + acc)
    return inputs, weights, writes, reads


def network_hops(
    z: Any,
    t: Any,
    steps: Any,
    accumulation_buffer: Any,
    acc: Any,
    macs: Any,
    levels: Any,
    xp: Any = None,
) -> Any:
    """Element hops of one COMPUTE: `levels` = log2(ms) distribution-switch levels per element
    sent (inputs, weights, psums sent back) plus 2 reduction-tree links per MAC."""
    xp = xp or _default_xp()
    inputs, weights, writes, _ = sram_traffic(z, t, steps, accumulation_buffer, acc, xp)
    outputs = xp.maximum(z[3], 1) * xp.maximum(z[4], 1) * xp.maximum(z[5], 1)
    outputs = outputs * xp.maximum(z[6], 1) * xp.maximum(z[7], 1)
    psums_back = writes - outputs  # (F-1) per output without the accumulation buffer, else 0
    return (inputs + weights + psums_back) * levels + 2 * macs


def layer_cycles(
    extents: tuple[int, ...],
    t: tuple[int, ...],
    stride: int | tuple[int, int],
    ms: int,
    dn: int,
    rn: int,
    accumulation_buffer: bool,
) -> int:
    """Closed-form cycles of a whole layer (extents and spatial tile by role) in one tile, as
    the simulator computes them for one COMPUTE covering the layer (numpy; for the heuristic
    and the validation scripts)."""
    import numpy as np

    folds = math.prod(-(-extents[i] // t[i]) for i in range(3))
    aux = uses_aux_ms(folds, accumulation_buffer)
    steps = step_costs(tuple(t), stride, extents[1], ms, dn, aux)
    z = np.array(extents, np.int64)
    t_np = np.array(t, np.int64)
    width = max(1, ms // dn)
    return int(compute_cycles(z, t_np, steps, rn, int(accumulation_buffer), np, ms_per_port=width))
