"""Is a mapping legal on a target? (IR-free) `check_mapping` and the buffer-capacity rules.

`check_mapping` raises `MappingError` naming the layer and the broken limit: an unknown dataflow,
a tile outside [1, extent], an order that is not a permutation, a spatial unroll beyond the
array, double buffering on a target without it, or a footprint (x2 when double-buffered) beyond
a global buffer (`capacity_error`, which the tile search uses too). `check_program`: a compiled
program on a target other than its own (the same family, its every mapping legal there).
"""

from __future__ import annotations

from simulator.memory import fits_buffers
from simulator.program import DATAFLOWS, Layer, Program
from simulator.target import Target
from simulator.workload import (
    OPERANDS,
    LayerShape,
    Mapping,
    MappingError,
    conv2d_shape,
    footprint_bytes,
    matmul_shape,
)


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


def check_mapping(
    shape: LayerShape, mapping: Mapping, target: Target, layer: str = "", spatial: bool = True
) -> None:
    """Raise MappingError naming `layer` and the broken limit: unknown dataflow, spatial unroll
    beyond rows/cols, a tile outside [1, extent], an order that is not a permutation, double
    buffering on a target without it, or a footprint (x2 when double-buffered) beyond a global
    buffer. `spatial` False: the spatial unroll is not checked (`check_program` on a family
    where it is descriptive)."""
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
    if spatial:
        target.family.check_spatial(shape, mapping, target, where)
    if mapping.double_buffer and not target.double_buffer:
        raise MappingError(f"{where}double-buffered, but the target has double_buffer=false")
    mult = 2 if mapping.double_buffer else 1
    fp = footprint_bytes(shape, mapping.tiles, target.element_bytes)
    error = capacity_error(tuple(fp[op] * mult for op in OPERANDS), target, mult)
    if error is not None:
        raise MappingError(where + error)


def program_layer_shape(program: Program, layer: Layer) -> LayerShape:
    """The LayerShape of accelerator layer `layer` of `program`, from its operands' shapes and
    geometry (what the compiler built it from); a program whose layer does not agree with its
    tensors (a hand-edited program.json) is a MappingError naming the layer."""
    missing = [name for name in layer.inputs[:2] if name not in program.tensors]
    if len(layer.inputs) < 2 or missing:
        raise MappingError(
            f"layer '{layer.name}': the program has no shape for its operand "
            f"'{(missing or [''])[0]}' (a program.json edited by hand?)"
        )
    shapes = [program.tensors[name] for name in layer.inputs[:2]]
    has_bias = len(layer.inputs) > 2 and bool(layer.inputs[2])
    if layer.kind == "conv2d":
        geo = layer.attrs
        shape = conv2d_shape(
            shapes[0], shapes[1], strides=tuple(geo["strides"]), pads=tuple(geo["pads"]),
            dilations=tuple(geo["dilations"]), group=int(geo["group"]), has_bias=has_bias,
        )  # fmt: skip
    else:
        shape = matmul_shape(shapes[0], shapes[1], has_bias=has_bias)
    if shape.dims != layer.dims:
        raise MappingError(
            f"layer '{layer.name}': its dims {layer.dims} are not those of its operands "
            f"{shape.dims} (a program.json edited by hand?)"
        )
    return shape


def check_program(program: Program, target: Target) -> None:
    """Raise MappingError when `program` cannot run on `target` as compiled: a target of another
    family (its instructions are its own family's), or an accelerator layer whose mapping is
    illegal there (`check_mapping`: tiles beyond a smaller buffer, a MAERI spatial tile beyond
    fewer multipliers; a systolic unroll is descriptive, the timing follows the array). Its own
    target passes without a look: the compiler checked it."""
    own = dict(program.target or {})
    if own and own.get("arch") != target.arch:
        raise MappingError(
            f"the program was compiled for {own.get('name')} ({own.get('arch')}); "
            f"{target.name} is a {target.arch} target, which runs its own family's "
            "instructions (compile the model for that target)"
        )
    if own == target.to_dict():
        return
    spatial = target.family.spatial_is_unroll
    for layer in program.layers:
        if layer.on_accel:
            shape = program_layer_shape(program, layer)
            try:
                check_mapping(shape, Mapping.from_dict(layer.mapping), target, layer.name, spatial)
            except MappingError as err:
                raise MappingError(
                    f"the program was compiled for {own.get('name', 'another target')} and "
                    f"cannot run on {target.name_against(own)}: {err} (compile the model for "
                    "that target)"
                ) from None
