"""MAERI's augmented reduction tree (ART) as STONNE configures it, and the partial-sum round trips
of virtual neurons (VNs) that fold without the accumulation buffer (regime B).

The specification is docs/stonne-several-vn.md (traced from STONNE's source: `CompilerART`,
`ASNetwork`, `ASwitch`, `CollectionBus`, `SDMemory`; checked on 495 STONNE runs). Without the
accumulation buffer every VN carries an aux multiplier (its first) through which the partial
sum of one fold re-enters for the next; VN v occupies multipliers `[v*span, (v+1)*span)`,
`span = VN + 1`. One fold's round trip, written to memory in cycle W:

* the psum waits in the psum FIFO of the aux's read port (one psum per port per cycle), leaves,
  and is at the aux multiplier `d` cycles later (`d = 1` when a port feeds a distribution tree
  of switches, ms/dn >= 2, else 0);
* it climbs `h_v` adders (`aux_hops`: tree levels and forwarding-link hops, one cycle each) to
  the adder that sends the VN's sum to the collection bus;
* that adder's bus line (`bus_lines`) passes one value per cycle, round robin over its inputs
  (+1 cycle), and SDMemory writes `ceil(q/2)` of the q values waiting in a cycle, in bus-line
  order (+1 cycle when written at once).

So alone a VN folds every `L_v = h_v + 2 + d` cycles; together, VNs wait at the read ports, the
bus lines and the write loop, and lock into each other's phase (no closed form: the recurrence
`psum_writes` steps those three queues cycle by cycle). `round_trips` gives what the closed form
of `simulator.arch.maeri.compute_cycles` needs: the slowest VN's round trips as a fraction
(cycles over round trips), its per-fold latency L in regime B; `drain_cycles` the latency of
a K-tile's last fold. `configure_vns` restates CompilerART's configuration of the tree (adder
modes, forwarding links, the adders that send to memory) and `psum_path` follows a value
through it; `aux_hops` is the closed form of the aux's path (equal to `psum_path`, checked by
bench/validation/stonne_several_vn.py --check on every VN of its runs).

Everything here is scalar Python at compile time (a few ms per distinct (ms, dn, rn, span, NV,
folds), cached); the simulator and the cost model read the result from the `steps` of the
layer's CONFIG row (docs/program.md).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import cache

# Folds per window and windows the recurrence steps to measure the mean round trip. The VNs lock
# into a periodic schedule within a few folds; a window boundary (the aux injects the next
# window's zero) shifts their phases, so the mean is taken over several windows. A layer folding
# more often than this is measured on this many folds (its mean is the steady state's); if its
# K-tiles have a single window (an FC layer's), on one window: no boundary ever shifts the
# phases of a long single window, and its locked phases can be slower (32 VNs of 1 + 1 on 8 bus
# lines, 512 folds: 5.67 cycles per fold in one window, 5.30 over three; STONNE 5.66). A short
# one is mostly its start, where the neutral start of the recurrence (every VN's zero in cycle
# 1, not the port schedule) is what is off, and the three windows' mean stays (the 344 grid runs
# of 12 folds: within 4.35 % of STONNE with it, 6.10 % over one window).
FOLD_HORIZON = 64
WINDOWS = 3


def switch_delay(ms: int, dn: int) -> int:
    """d: the cycle a package spends in the switches of a distribution tree of ms/dn >= 2
    multipliers (0 when a read port feeds one multiplier directly)."""
    return 1 if ms // max(dn, 1) >= 2 else 0


def aux_hops(ms: int, first: int, size: int) -> tuple[int, tuple[int, int]]:
    """(h, (level, index) of the completing adder) for a VN on multipliers [first, first+size):
    the adders its aux multiplier's psum crosses, tree levels and forwarding-link hops, and the
    adder that sends the VN's sum to the collection bus. Adders are named as STONNE names them:
    level 0 the root, level log2(ms) - 1 the adders of multiplier pairs. It depends on the VN's
    own multipliers only.

    Level by level from the leaves, with [p, q] the VN's active positions of the level below and
    x = p // 2, y = q // 2 its adders at this level (the psum is in the leftmost one, x):
    x == y completes the VN; else the psum climbs (h += 1) and, when x is the left adder of a
    linked pair (odd, not the level's last), with cl = 2x + 2 - p of its children in the VN and
    cr = q - 2x - 1 to its right: y == x + 1 and cl >= cr merges the pair into x (x completes);
    cl < cr sends the psum over the link to x + 1 (h += 1), which completes the VN when
    y == x + 1. A right end y that is the right adder of a linked pair still beyond x sends over
    its link to y - 1. One VN at multiplier 0 gets h = floor(log2(size + 1))."""
    levels = ms.bit_length() - 1
    p, q = first, first + size - 1
    h = 0
    for k in range(1, levels + 1):
        last = (ms >> k) - 1
        x, y = p // 2, q // 2
        if x == y:
            return h + 1, (levels - k, x)
        h += 1
        if x % 2 == 1 and x < last:
            cl, cr = 2 * x + 2 - p, q - 2 * x - 1
            if y == x + 1 and cl >= cr:
                return h, (levels - k, x)
            if cl < cr:
                h += 1
                if y == x + 1:
                    return h, (levels - k, x + 1)
                x += 1
        if y % 2 == 0 and y - 1 > x:
            y -= 1
        p, q = x, y
    raise ValueError(f"a VN on multipliers [{first}, {first + size}) exceeds {ms} multipliers")


@dataclass
class Art:
    """The adders CompilerART configures (`configure_vns`): mode, forwarding link (SEND or
    RECEIVE), and those flagged to send to memory; adders named (level, index)."""

    ms: int
    mode: dict[tuple[int, int], str]
    link: dict[tuple[int, int], str]  # "SEND" | "RECEIVE" for adders whose forwarding link is on
    to_memory: set[tuple[int, int]]


def art_configuration(ms: int, span: int, nv: int) -> Art:
    """The tree configured for NV VNs of `span` multipliers side by side (STONNE's layout)."""
    return configure_vns(ms, [(v * span, span) for v in range(nv)])


def configure_vns(ms: int, vns: list[tuple[int, int]]) -> Art:
    """The adder modes CompilerART derives for VNs given as (first multiplier, multipliers).

    VN by VN, level by level from the leaves, with the VN's *active* positions of the level
    below: an edge adder of a level (first or last, no forwarding link) takes the VN if either
    child is active. Inner adders come in linked pairs (a, a+1), a odd; `left` is the VN's run
    of active children ending at the pair's middle (or one child before it), `right` the run
    starting there (or one child after it). When the VN touches both sides and does not go on
    past the pair on the side of the smaller run, the pair is merged over the link: the side
    with the longer run (left on a tie) receives (ADD_3_1) and stays active, the other sends.
    Otherwise each side with a run is active. An adder that an earlier VN already configured
    becomes FW_2_2 (or ADD_1_1_PLUS_FW_1_1 when its link is on), a new one ADD_2_1. When a
    level holds a single active adder, it sends to memory (marked on every such level)."""
    levels = ms.bit_length() - 1
    mode: dict[tuple[int, int], str] = {}
    link: dict[tuple[int, int], str] = {}
    to_memory: set[tuple[int, int]] = set()

    def claim(node: tuple[int, int]) -> None:
        if node not in mode:
            mode[node] = "ADD_2_1"
        else:
            mode[node] = "ADD_1_1_PLUS_FW_1_1" if node in link else "FW_2_2"

    for first, size in vns:
        active = set(range(first, first + size))  # the VN's positions on the level below
        for level in range(levels - 1, -1, -1):
            n = 1 << level
            up: set[int] = set()
            # Only the adders over the VN's positions (and a pair around them) can take it.
            lo, hi = (min(active), max(active)) if active else (0, -4)
            for a in range(max(0, lo // 2 - 2), min(n, hi // 2 + 3)):
                kids = (2 * a, 2 * a + 1)
                if a in (0, n - 1):
                    if kids[0] in active or kids[1] in active:
                        up.add(a)
                        claim((level, a))
                    continue
                if a % 2 == 0:
                    continue  # the right adder of the pair (a-1, a), done with a-1
                s = kids[1] if kids[1] in active else kids[0]
                left = 0
                while s >= 0 and s in active:
                    left, s = left + 1, s - 1
                s = kids[1] + 1 if kids[1] + 1 in active else kids[1] + 2
                right = 0
                while s < ms and s in active:
                    right, s = right + 1, s + 1
                merged = False
                if left and right:
                    to_left = left >= right
                    beyond = (
                        2 * a + 4 in active or 2 * a + 5 in active
                        if to_left
                        else 2 * a - 1 in active or 2 * a - 2 in active
                    )
                    merged = not beyond
                if merged:
                    rcv, snd = (a, a + 1) if to_left else (a + 1, a)
                    link[(level, rcv)], link[(level, snd)] = "RECEIVE", "SEND"
                    mode[(level, rcv)] = "ADD_3_1"
                    mode[(level, snd)] = (
                        "ADD_1_1_PLUS_FW_1_1" if (level, snd) in mode else "ADD_2_1"
                    )
                    up.add(rcv)
                else:
                    for node, run in ((a, left), (a + 1, right)):
                        if run:
                            up.add(node)
                            claim((level, node))
            if len(up) == 1:
                to_memory.add((level, next(iter(up))))
            active = up
    return Art(ms, mode, link, to_memory)


def psum_path(art: Art, multiplier: int) -> list[tuple[int, int]]:
    """The adders a value entering at `multiplier` crosses, the last one sending it to memory."""
    levels = art.ms.bit_length() - 1
    level, a, side, via_link = levels - 1, multiplier // 2, multiplier % 2, False
    path = []
    for _ in range(4 * levels):
        node = (level, a)
        path.append(node)
        m = art.mode.get(node)
        if not via_link and (
            (m == "ADD_2_1" and art.link.get(node) == "SEND")
            or (m == "ADD_1_1_PLUS_FW_1_1" and side == (0 if a % 2 == 0 else 1))
        ):
            a, via_link = (a - 1 if a % 2 == 0 else a + 1), True
            continue
        if node in art.to_memory:
            return path
        level, a, side, via_link = level - 1, a // 2, a % 2, False
    raise ValueError(f"no path to memory from multiplier {multiplier}")


@cache
def vn_reduction(ms: int, sizes: tuple[int, ...]) -> tuple[int, int]:
    """(3:1 additions, reduction-network links written) of one reduction of VNs of `sizes`
    multipliers laid side by side from multiplier 0: the ADD_3_1 adders `configure_vns` sets,
    and per VN its values entering (one link each) plus every adder on their paths
    (`psum_path`) but the one that sends the sum to memory. STONNE counts both per reduction
    (docs/stonne-energy.md); MAERI's and SIGMA's energy read them from here."""
    vns, first = [], 0
    for size in sizes:
        vns.append((first, size))
        first += size
    art = configure_vns(ms, vns)
    three = sum(1 for mode in art.mode.values() if mode == "ADD_3_1")
    links = 0
    for first, size in vns:
        nodes: set[tuple[int, int]] = set()
        for m in range(first, first + size):
            nodes.update(psum_path(art, m))
        links += size + len(nodes) - 1
    return three, links


@cache
def bus_lines(ms: int, rn: int) -> dict[tuple[int, int], tuple[int, int]]:
    """(collection-bus line, input of the line) of every adder (ASNetwork::setMemoryConnections):
    the linked pairs in order (levels from the root, left to right) take line p % rn, inputs
    2*(p // rn) and +1; then the adders without a link (the root, the first and the last of every
    level) continue the count."""
    levels = ms.bit_length() - 1
    pairs: list[tuple[tuple[int, int], tuple[int, int]]] = []
    singles = [(0, 0)]
    for level in range(1, levels):
        n = 1 << level
        for a in range(n):
            if a and a % 2 == 0:
                pairs.append(((level, a - 1), (level, a)))
            elif a in (0, n - 1):
                singles.append((level, a))
    out = {}
    for p, (left, right) in enumerate(pairs):
        out[left] = (p % rn, 2 * (p // rn))
        out[right] = (p % rn, 2 * (p // rn) + 1)
    base = 2 * len(pairs) // rn + 1
    for i, node in enumerate(singles):
        out[node] = ((i + 2 * len(pairs)) % rn, base + i // rn)
    return out


def psum_writes(
    ms: int,
    dn: int,
    rn: int,
    span: int,
    nv: int,
    folds: int,
    windows: int,
    first_done: list[int] | None = None,
) -> list[list[int]]:
    """The cycles in which each of `nv` VNs of `span` multipliers (aux included) writes its
    partial sums, `folds` per window for `windows` windows (window-major), stepping the round
    trips cycle by cycle (module docstring). `first_done[v]`: the cycle VN v's fold 0 of the
    first window leaves its last adder (default: its aux's zero, injected in cycle 1, climbs its
    path). Inputs are assumed at the multipliers before the psum (the fold waits for its psum,
    not for its ports: `compute_cycles` takes the longer of the two)."""
    d = switch_delay(ms, dn)
    width = max(1, ms // max(dn, 1))
    lines = bus_lines(ms, rn)
    hops, line, port = [], [], []
    for v in range(nv):
        h, adder = aux_hops(ms, v * span, span)
        hops.append(h)
        line.append(lines[adder])
        port.append(v * span // width)
    if first_done is None:
        first_done = [1 + d + h for h in hops]
    inputs = ms // rn + 1
    done_at: dict[int, list[int]] = {}
    for v, t in enumerate(first_done):
        done_at.setdefault(t, []).append(v)
    bus_fifo = {ln: [deque() for _ in range(inputs)] for ln in {ln for ln, _ in line}}
    pointer = dict.fromkeys(bus_fifo, 0)
    psum_fifo: dict[int, deque[int]] = {p: deque() for p in set(port)}
    waiting: deque[int] = deque()
    to_memory: list[tuple[int, int]] = []
    to_bus: list[int] = []
    writes: list[list[int]] = [[] for _ in range(nv)]
    total, finished, t = folds * windows, 0, 0
    limit = 1 + max(first_done) + total * (max(hops) + 3 + d) * (nv + 1)
    while finished < nv:
        t += 1
        if t > limit:
            raise RuntimeError(f"psum round trips of {nv} VNs of {span} did not end")
        # SDMemory: the values the bus delivered (by line), ceil(q/2) writes, psums sent back.
        waiting.extend(v for _, v in sorted(to_memory))
        for _ in range((len(waiting) + 1) // 2):
            v = waiting.popleft()
            writes[v].append(t)
            finished += len(writes[v]) == total
            if len(writes[v]) % folds:  # not the window's last fold: its psum goes back
                psum_fifo[port[v]].append(v)
        for fifo in psum_fifo.values():
            if fifo:
                v = fifo.popleft()
                at_aux = t + d
                done_at.setdefault(at_aux + hops[v], []).append(v)
                if len(writes[v]) % folds == folds - 1 and len(writes[v]) < total - 1:
                    # The aux injects the next window's zero the cycle after the last psum.
                    done_at.setdefault(at_aux + 1 + hops[v], []).append(v)
        # Collection bus: one value per line per cycle, round robin over the line's inputs.
        for v in to_bus:
            ln, i = line[v]
            bus_fifo[ln][i].append(v)
        to_memory = []
        for ln, queues in bus_fifo.items():
            for k in range(inputs):
                i = (pointer[ln] + k) % inputs
                if queues[i]:
                    to_memory.append((ln, queues[i].popleft()))
                    pointer[ln] = (i + 1) % inputs
                    break
        to_bus = done_at.pop(t, [])
    return writes


@cache
def round_trips(
    ms: int, dn: int, rn: int, span: int, nv: int, folds: int, one_window: bool = False
) -> tuple[int, int]:
    """(cycles, round trips) of the slowest VN's psum round trips within windows, for `nv` VNs
    of `span` multipliers folding `folds` times per window: its per-fold latency in regime B is
    cycles / round trips. One VN: (L, 1), L = h + 2 + d of its path. Several: measured by
    `psum_writes` over `WINDOWS` windows of min(folds, FOLD_HORIZON) folds, or over one window
    where the K-tile has only one (`one_window`) and folds at least FOLD_HORIZON times."""
    d = switch_delay(ms, dn)
    if nv <= 1 or folds <= 1:
        return max(aux_hops(ms, v * span, span)[0] for v in range(max(nv, 1))) + 2 + d, 1
    f = min(folds, FOLD_HORIZON)
    windows = 1 if one_window and folds >= FOLD_HORIZON else WINDOWS
    best = (0, 1)
    for w in psum_writes(ms, dn, rn, span, nv, f, windows):
        cycles = sum(w[k + f - 1] - w[k] for k in range(0, len(w), f))
        count = windows * (f - 1)
        if cycles * best[1] > best[0] * count:
            best = (cycles, count)
    return best


@cache
def product_hops(ms: int, span: int, nv: int) -> tuple[int, ...]:
    """Per VN of `nv` VNs of `span` multipliers (aux first), the most adders one of its products
    crosses to the adder that sends the VN's sum to memory (`psum_path` of each of its
    multipliers but the aux, through the tree CompilerART configures for them). A fold's sum is
    complete when its last product has climbed: with every input in at once, d + this + 2
    cycles after (one VN of 14 multipliers on 128: 5 adders where its psum crosses 3; STONNE's
    first writes follow it, docs/stonne-several-vn.md)."""
    art = art_configuration(ms, span, nv)
    return tuple(max(len(psum_path(art, v * span + e)) for e in range(1, span)) for v in range(nv))


@cache
def drain_cycles(ms: int, dn: int, span: int, nv: int) -> int:
    """Cycles from a fold's last inputs sent to its partial sum written, for the slowest of `nv`
    VNs of `span` multipliers: d + 2 + its longest product path (`product_hops`; d:
    `switch_delay`, +2: the bus line and the write). It ends a K-tile in regime B."""
    return switch_delay(ms, dn) + 2 + max(product_hops(ms, span, nv))
