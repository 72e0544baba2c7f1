"""Is a mapping legal on a target? (IR-free) `check_mapping` and the buffer-capacity rules.

`check_mapping` raises `MappingError` naming the layer and the broken limit: an unknown dataflow,
a tile outside [1, extent], an order that is not a permutation, a spatial unroll beyond the
array, or a
footprint (x2 when double-buffered) beyond a global buffer (`capacity_error`, which the tile
search uses too).
"""

from __future__ import annotations

from simulator.memory import fits_buffers
from simulator.program import DATAFLOWS
from simulator.target import Target
from simulator.workload import OPERANDS, LayerShape, Mapping, MappingError, footprint_bytes


def _over_capacity_message(operand: str, need: int, cap: int, mult: int) -> str:
    twice = " (x2 double-buffered)" if mult == 2 else ""
    return f"{operand} tile needs {need} B{twice} but the {operand} buffer holds {cap} B"


def buffer_ratios(fp_bytes: tuple[int, ...], target: Target) -> list[float]:
    """How full each operand's global buffer is with tiles of `fp_bytes` (input, weight,
    output); everything fits iff the largest ratio is <= 1. A shared buffer is as full as the
    three tiles together; the largest tile carries that ratio, so shrinking it helps most."""
    if target.global_buffer == "shared":
        total, biggest = sum(fp_bytes), max(max(fp_bytes), 1)
        return [total / target.shared_buffer_bytes * b / biggest for b in fp_bytes]
    return [b / target.buffer_bytes(op) for b, op in zip(fp_bytes, OPERANDS, strict=True)]


def capacity_error(fp_bytes: tuple[int, ...], target: Target, mult: int) -> str | None:
    """The over-capacity message for tiles of `fp_bytes` (already x mult), or None if they fit
    (`simulator.memory.fits_buffers`, the rule the cost model and the tuner apply to arrays)."""
    if fits_buffers(list(fp_bytes), target):
        return None
    if target.global_buffer == "shared":
        need, cap = sum(fp_bytes), target.shared_buffer_bytes
        twice = " (x2 double-buffered)" if mult == 2 else ""
        return (
            f"input+weight+output tiles need {need} B{twice} but the shared global buffer "
            f"holds {cap} B"
        )
    for op, need in zip(OPERANDS, fp_bytes, strict=True):
        if need > target.buffer_bytes(op):
            return _over_capacity_message(op, need, target.buffer_bytes(op), mult)
    raise AssertionError("fits_buffers and the per-buffer checks disagree")


def check_mapping(shape: LayerShape, mapping: Mapping, target: Target, layer: str = "") -> None:
    """Raise MappingError naming `layer` and the broken limit: unknown dataflow, spatial unroll
    beyond rows/cols, a tile outside [1, extent], an order that is not a permutation, or a
    footprint (x2 when double-buffered) beyond a global buffer."""
    where = f"layer '{layer}': " if layer else ""
    dims = shape.dim_names
    if mapping.dataflow not in DATAFLOWS:
        raise MappingError(
            f"{where}unknown dataflow '{mapping.dataflow}' (expected one of {', '.join(DATAFLOWS)})"
        )
    for d in mapping.tiles:
        if d not in dims:
            raise MappingError(f"{where}tile for unknown dim '{d}' (dims: {' '.join(dims)})")
    for d in dims:
        if d not in mapping.tiles:
            raise MappingError(f"{where}no tile for dim '{d}'")
        t = mapping.tiles[d]
        if not 1 <= t <= shape.dims[d]:
            raise MappingError(f"{where}tile {d}={t} is outside [1, {shape.dims[d]}]")
    if sorted(mapping.order) != sorted(dims):
        raise MappingError(
            f"{where}loop order {' '.join(mapping.order)} is not a permutation of {' '.join(dims)}"
        )
    target.family.check_spatial(shape, mapping, target, where)
    mult = 2 if mapping.double_buffer else 1
    fp = footprint_bytes(shape, mapping.tiles, target.element_bytes)
    error = capacity_error(tuple(fp[op] * mult for op in OPERANDS), target, mult)
    if error is not None:
        raise MappingError(where + error)
