"""MAERI's CONFIG-row step costs (`simulator.maeri.step_costs`) for many spatial tiles at once.

`maeri.step_costs` enumerates one spatial tile's elements in plain Python (~0.2 ms a tile); the
cost model meets thousands of distinct tiles per batch, so this module computes the same eight
numbers for a whole array of tiles by laying every tile out on a grid of multipliers:

- multiplier q holds VN v = q // VN' and offset o = q % VN' (VN' = VN + aux); o = 0 is the aux
  multiplier when the VNs carry one, the others hold element e = o - aux of the VN, with
  v = (k * T_X' + i) * T_Y' + j and e = (c * T_R + r) * T_S + s, as `maeri.step_costs` lays
  them out; port p is the distribution tree of multipliers [p * w, (p + 1) * w), w = ms / dn;
- c_w: per port, the distinct weights (k, e) its multipliers hold (copies of one weight sit one
  VN' apart, so a multiplier holds a weight new to its port iff the copy one VN earlier is in
  another port or it is the first copy); the most loaded port, at least 1;
- c_full / e_full: per port, the distinct input elements (c, i * stride_x + r, j * stride_y + s)
  its multipliers need; the most loaded port (plus the partial sums sent back to the aux
  multipliers of the port, regime B; c_full0 without them) and the distinct elements overall;
- c_col / e_col: the same restricted to the newest window column when the multipliers'
  forwarding links slide the window (`maeri.forwarding_usable`), else equal to the full step.

`tests/tuner/test_cost_model.py` checks it against `maeri.step_costs` on random tiles.
"""

from __future__ import annotations

import numpy as np

# By default a spatial tile needing more multipliers than this is not laid out (`step_costs`).
MAX_GRID = 4096
GRID_CELLS = 1 << 20  # multipliers laid out per vectorised pass (bounds the temporaries)


def multipliers_needed(t: np.ndarray, aux: np.ndarray) -> np.ndarray:
    """Multipliers a spatial tile occupies: its VNs times (VN size + aux) ([U] int64)."""
    vn = t[:, 0] * t[:, 1] * t[:, 2]
    return np.prod(t[:, 3:], axis=1) * (vn + aux)


def forwarding(t: np.ndarray, extent_s: np.ndarray, stride_y: int) -> np.ndarray:
    """`maeri.forwarding_usable` of each row of t [U, 8] ([U] bool)."""
    return (t[:, 7] == 1) & (t[:, 1] > 1) & (stride_y == 1) & (extent_s % t[:, 1] == 0)


def step_costs(
    t: np.ndarray,
    aux: np.ndarray,
    extent_s: np.ndarray,
    stride: tuple[int, int],
    ms: int,
    dn: int,
    max_grid: int = MAX_GRID,
) -> np.ndarray:
    """`maeri.step_costs(t[u], stride, extent_s[u], ms, dn, aux[u])` for every row u: [U, 8] int64
    (`maeri.STEP_FIELDS`). t [U, 8] spatial tiles by role, aux [U] bool, extent_s [U] the S-role
    buffer tile. Tiles needing more than `max_grid` multipliers (illegal beyond ms) are not laid
    out: placeholders, every step of theirs a full port (ms / dn packages), every element once."""
    t = np.asarray(t, np.int64)
    aux_i = np.asarray(aux, bool).astype(np.int64)
    width = max(1, ms // dn)
    need = multipliers_needed(t, aux_i)
    out = np.empty((len(t), 8), np.int64)
    small = need <= max_grid
    if (~small).any():
        big = ~small
        steps = np.full(int(big.sum()), width, np.int64)
        out[big] = np.stack(
            [steps, steps, steps, need[big], need[big], aux_i[big], steps, steps], 1
        )
    # Grids of a power of two of multipliers (at least one port), a few million cells per call.
    grid = np.maximum(1 << np.ceil(np.log2(np.maximum(need, 1))).astype(np.int64), width)
    extent_s = np.asarray(extent_s)
    for size in np.unique(grid[small]):
        rows = np.flatnonzero(small & (grid == size))
        step = max(1, GRID_CELLS // int(size))
        for lo in range(0, len(rows), step):
            at = rows[lo : lo + step]
            out[at] = _laid_out(t[at], aux_i[at], extent_s[at], stride, int(size), width)
    return out


def _distinct_per_group(ids: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Distinct valid values along the last axis (ids of invalid entries are ignored)."""
    sentinel = np.iinfo(np.int64).max
    keyed = np.sort(np.where(valid, ids, sentinel), axis=-1)
    new = np.ones(keyed.shape, bool)
    new[..., 1:] = keyed[..., 1:] != keyed[..., :-1]
    return np.sum(new & (keyed != sentinel), axis=-1)


def _laid_out(
    t: np.ndarray,
    aux: np.ndarray,
    extent_s: np.ndarray,
    stride: tuple[int, int],
    grid: int,
    width: int,
) -> np.ndarray:
    stride_x, stride_y = stride
    t_r, t_s, t_c, t_k, t_g, t_n, t_x, t_y = (t[:, i, None] for i in range(8))
    span = t_r * t_s * t_c + aux[:, None]
    count = t_k * t_g * t_n * t_x * t_y
    q = np.arange(grid, dtype=np.int64)[None, :]
    v, o = q // span, q % span
    used = v < count
    is_aux = (aux[:, None] == 1) & (o == 0)
    valid = used & ~is_aux
    e = o - aux[:, None]
    xy = v % (t_x * t_y)
    i, j = xy // t_y, xy % t_y
    c, window = e // (t_r * t_s), e % (t_r * t_s)
    dx, dy = window // t_s, window % t_s
    port = q // width
    shape = (len(t), grid // width, width)

    def per_port(mask: np.ndarray) -> np.ndarray:
        return mask.reshape(shape).sum(axis=-1)

    first_copy = valid & ((xy == 0) | ((q - span) // width != port))
    c_w = np.maximum(1, per_port(first_copy).max(axis=1))

    x, y = i * stride_x + dx, j * stride_y + dy
    x_in = t_r + (t_x - 1) * stride_x
    y_in = t_s + (t_y - 1) * stride_y
    ids = (c * (x_in.max() + 1) + x) * (y_in.max() + 1) + y
    psums = per_port(is_aux & used)

    def input_step(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        load = _distinct_per_group(ids.reshape(shape), mask.reshape(shape))
        cost = np.maximum(1, (load + psums).max(axis=1))
        cost0 = np.maximum(1, load.max(axis=1))
        return cost, _distinct_per_group(ids, mask), cost0

    c_full, e_full, c_full0 = input_step(valid)
    c_col, e_col, c_col0 = input_step(valid & (y == y_in - 1))
    fwd = forwarding(t, extent_s, stride_y)
    c_col, e_col, c_col0 = (
        np.where(fwd, a, b) for a, b in ((c_col, c_full), (e_col, e_full), (c_col0, c_full0))
    )
    return np.stack([c_w, c_full, c_col, e_full, e_col, aux, c_full0, c_col0], axis=1)
