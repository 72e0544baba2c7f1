"""Rules of the memory system and the energy table that every level shares (numpy or JAX).

- `transfer_cycles`: the cycles `n` bytes take at a rate of bytes per cycle (DMA and buffers).
- `sram_cycles`: the cycles the global buffer(s) need to deliver a tile's array-side traffic:
  split buffers serve their operands in parallel (the busiest one binds), a shared buffer serves
  all three from one budget; `bytes_per_cycle` is one buffer's (`Target.sram_bytes_per_cycle`).
  The engine stalls a COMPUTE by what this exceeds its busy time, the cost model likewise.
- `buffer_need` / `fits_buffers`: the bytes a mapping's tiles occupy in the global buffers
  (footprints x element bytes, x2 when double-buffered; dense, also on SIGMA: a tile must fit
  whatever its weights) and whether they fit: each operand its own buffer ("split"), or the three
  together the shared one. Scalars or arrays of candidates alike (compiler/legality.py words the
  error, the cost model and the tuner's space test arrays).
- `energy_pj`: the energy events priced by the target's table, picojoules by component: mac =
  MACs x mac_energy_pj, noc = element hops on the array's network x noc_energy_pj_per_hop, sram
  = global-buffer bytes read + written x sram_energy_pj_per_byte, dram = DRAM bytes x
  dram_energy_pj_per_byte, vector = vector-unit operations x vector_energy_pj_per_op
  (simulator/target.py and simulator/vector.py give the defaults' sources).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.workload import OPERANDS, footprint_elements

if TYPE_CHECKING:
    from simulator.target import Target
    from simulator.workload import LayerShape

ENERGY_COMPONENTS = ("mac", "noc", "sram", "dram", "vector")


def sram_cycles(
    in_bytes: Any, w_bytes: Any, out_bytes: Any, bytes_per_cycle: Any, shared: Any, xp: Any
) -> Any:
    """Cycles the global buffer(s) need for a tile's array-side bytes (module docstring)."""

    def together() -> Any:
        return in_bytes + w_bytes + out_bytes

    def split() -> Any:
        return xp.maximum(xp.maximum(in_bytes, w_bytes), out_bytes)

    if isinstance(shared, bool | np.bool_):  # one kind of buffer: only its need
        needed = xp.asarray(together() if shared else split())
    else:
        needed = xp.where(shared, together(), split())
    return transfer_cycles(needed, bytes_per_cycle, xp)


def transfer_cycles(nbytes: Any, bytes_per_cycle: Any, xp: Any) -> Any:
    """Cycles to move `nbytes` (integers) at `bytes_per_cycle` (a float: a rate need not be
    whole): ceil(nbytes / bytes_per_cycle). In numpy with a whole rate, integer ceiling
    division, which is the same number for any nbytes below 2^53 and several times faster."""
    if xp is np and np.ndim(bytes_per_cycle) == 0 and float(bytes_per_cycle).is_integer():
        n = np.asarray(nbytes)
        if n.dtype.kind in "iu":
            return -(-n.astype(np.int64, copy=False) // np.int64(bytes_per_cycle))
    return xp.ceil(xp.asarray(nbytes).astype(xp.float64) / bytes_per_cycle).astype(xp.int64)


def buffer_need(shape: LayerShape, sizes: dict[str, Any], target: Target, double: Any) -> list:
    """Bytes of the input, weight and output tiles of `sizes` in their buffers (x2 where
    `double`): ints, or arrays like the sizes."""
    eb = target.element_bytes
    dense = [np.asarray(fp, np.int64) * eb for fp in footprint_elements(shape, sizes)]
    return buffered(dense, double)


def buffered(dense_bytes: list[Any], double: Any) -> list:
    """`buffer_need` of tiles whose footprints times the element bytes are `dense_bytes`."""
    mult = np.where(double, 2, 1)
    return [b * mult for b in dense_bytes]


def fits_buffers(need: list, target: Target) -> Any:
    """Whether tiles needing `need` bytes (input, weight, output) fit the global buffers."""
    if target.global_buffer == "shared":
        return need[0] + need[1] + need[2] <= target.shared_buffer_bytes
    ok = np.ones(np.shape(need[0]), bool)
    for op, n in zip(OPERANDS, need, strict=True):
        ok = ok & (n <= target.buffer_bytes(op))
    return ok


def energy_pj(
    target: Target, macs: Any, hops: Any, sram_bytes: Any, dram_bytes: Any, vector_ops: Any = 0
) -> dict:
    """Energy by component (`ENERGY_COMPONENTS`), picojoules (module docstring)."""
    return {
        "mac": macs * target.mac_energy_pj,
        "noc": hops * target.noc_energy_pj_per_hop,
        "sram": sram_bytes * target.sram_energy_pj_per_byte,
        "dram": dram_bytes * target.dram_energy_pj_per_byte,
        "vector": vector_ops * target.vector_energy_pj_per_op,
    }
