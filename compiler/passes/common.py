"""Helpers shared by the accelflow passes: the module's target, a layer op's LayerShape, names.

Every pass reads the hardware from the module attribute `accel.target` (`#accel.target<"name", {field = value, ...}>`,
the fields of `simulator.target.Target`); `onnx-to-accel` sets it when the module has none, and
`compiler.pipeline.compile_module` sets it from the Target it is given.

A mapping database travels as the module attribute `accel.mappings`, a dictionary of
`#accel.mapping` values keyed by layer name or by layer signature (`tiling.LayerShape.signature`,
the key of `tuner.db.MappingDB`); `database_mapping` looks a layer up by its name first, then by
its signature. `accel-map` prefers it to the default heuristic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from xdsl.context import Context
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    ModuleOp,
    StringAttr,
    TensorType,
)
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.passes import ModulePass

from compiler import loop_nest, tiling
from dialects import accel, accel_isa
from simulator.errors import AccelflowError
from simulator.target import Target, load_target, make_target

TARGET_ATTR = "accel.target"
MAPPINGS_ATTR = "accel.mappings"
ONNX_OUTPUTS = "onnx_outputs"

P = TypeVar("P", bound=ModulePass)
LayerLike = accel.Conv2DOp | accel.MatmulOp | accel.TiledOp | accel_isa.LayerOp


class PassError(AccelflowError):
    """A pass cannot do what it was asked (missing target, bad option, unsupported node)."""


def applicable_passes(ctx: Context, module: ModuleOp, candidates: Sequence[P]) -> tuple[P, ...]:
    """The candidate pass instances that apply to (a clone of) `module` without a user error
    (for `ModulePass.schedule_space`)."""
    good = []
    for candidate in candidates:
        try:
            candidate.apply_to_clone(ctx, module)
        except (AccelflowError, ValueError):
            continue
        good.append(candidate)
    return tuple(good)


def module_target(module: ModuleOp) -> Target:
    """The Target of `module` (its `accel.target` attribute)."""
    attr = module.attributes.get(TARGET_ATTR)
    if not isinstance(attr, accel.TargetAttr):
        raise PassError(
            "the module has no `accel.target` attribute: run `onnx-to-accel{target=...}` first "
            'or set it (e.g. `builtin.module attributes {accel.target = #accel.target<"tpu-like", {rows = 16}>}`)'
        )
    return make_target(attr.as_dict())


def set_module_target(module: ModuleOp, target: Target | str, overwrite: bool = True) -> None:
    """Set `accel.target` from a Target, a preset name or a YAML path."""
    if not overwrite and TARGET_ATTR in module.attributes:
        return
    if not isinstance(target, Target):
        target = load_target(target)
    module.attributes[TARGET_ATTR] = accel.TargetAttr(target.to_dict())


def retarget(module: ModuleOp, target: str, who: str) -> None:
    """Set the module's target from a pass option: "" keeps the module's (tpu-like when it has
    none); a preset name or YAML path sets it, replacing another one with a warning that says
    so (mappings chosen for the old target stay: re-target before `accel-map`)."""
    import warnings

    if not target:
        set_module_target(module, "tpu-like", overwrite=False)
        return
    new = load_target(target)
    attr = module.attributes.get(TARGET_ATTR)
    if isinstance(attr, accel.TargetAttr):
        old = make_target(attr.as_dict())
        if old.to_dict() != new.to_dict():
            warnings.warn(
                f"{who}: target {new.name} (timing fingerprint {new.timing_fingerprint()}) "
                f"replaces the module's target {old.name} ({old.timing_fingerprint()})",
                stacklevel=2,
            )
    set_module_target(module, new)


def module_of(op: Operation) -> ModuleOp:
    """The outermost ModuleOp holding `op` (or `op` itself)."""
    found = op if isinstance(op, ModuleOp) else None
    parent = op.parent_op()
    while parent is not None:
        if isinstance(parent, ModuleOp):
            found = parent
        parent = parent.parent_op()
    if found is None:
        raise PassError(f"{op.name} is not inside a builtin.module")
    return found


def module_mappings(module: ModuleOp) -> dict[str, dict[str, Any]]:
    """The mapping database carried by `module` (layer name or signature -> mapping dict);
    {} if none."""
    attr = module.attributes.get(MAPPINGS_ATTR)
    if not isinstance(attr, DictionaryAttr):
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name, value in attr.data.items():
        if isinstance(value, accel.MappingAttr):
            out[name] = value.as_dict()
    return out


def database_mapping(
    database: Mapping[str, dict[str, Any]] | None, name: str, shape: tiling.LayerShape
) -> tuple[str, dict[str, Any]] | None:
    """The (key, mapping dict) of a layer in a mapping database: by layer name first (a mapping
    chosen for this very layer), else by its signature (one tuned for every layer of this
    shape); None if neither is there."""
    if not database:
        return None
    for key in (name, shape.signature):
        if key in database:
            return key, database[key]
    return None


def shape_of(value: SSAValue) -> tuple[int, ...]:
    typ = value.type
    assert isinstance(typ, TensorType), f"expected a tensor, got {typ}"
    return tuple(int(v) for v in typ.get_shape())


def _geometry(op: accel.TiledOp | accel_isa.LayerOp) -> dict[str, Any]:
    return accel.from_attr(op.geometry)


def layer_shape(op: LayerLike) -> tiling.LayerShape:
    """The LayerShape of a layer op (conv2d/matmul, or accel.tiled / accel_isa.layer)."""
    operands = [shape_of(v) for v in op.operands]
    has_bias = len(operands) == 3
    if isinstance(op, accel.Conv2DOp):
        return tiling.conv2d_shape(
            operands[0],
            operands[1],
            strides=tuple(op.strides.get_values()),
            pads=tuple(op.pads.get_values()),
            dilations=tuple(op.dilations.get_values()),
            group=op.group.value.data,
            has_bias=has_bias,
        )
    if isinstance(op, accel.MatmulOp):
        return tiling.matmul_shape(operands[0], operands[1], has_bias=has_bias)
    if op.kind.data == "conv2d":
        geo = _geometry(op)
        return tiling.conv2d_shape(
            operands[0],
            operands[1],
            strides=tuple(geo.get("strides", (1, 1))),
            pads=tuple(geo.get("pads", (0, 0, 0, 0))),
            dilations=tuple(geo.get("dilations", (1, 1))),
            group=int(geo.get("group", 1)),
            has_bias=has_bias,
        )
    return tiling.matmul_shape(operands[0], operands[1], has_bias=has_bias)


def geometry_of(op: accel.Conv2DOp | accel.MatmulOp) -> dict[str, Any]:
    """conv2d: strides, pads, dilations, group (plain Python); matmul: {}."""
    if isinstance(op, accel.Conv2DOp):
        return {
            "strides": [int(v) for v in op.strides.get_values()],
            "pads": [int(v) for v in op.pads.get_values()],
            "dilations": [int(v) for v in op.dilations.get_values()],
            "group": op.group.value.data,
        }
    return {}


def layer_name_of(op: Operation) -> str:
    prop = op.properties.get("layer_name")
    return prop.data if isinstance(prop, StringAttr) else ""


def mapping_attr(mapping: tiling.Mapping, shape: tiling.LayerShape) -> accel.MappingAttr:
    """`#accel.mapping` of a complete `mapping` (it prints its MAESTRO-style directives)."""
    return accel.MappingAttr.from_dict(mapping.to_dict())


def mapping_of(attr: accel.MappingAttr) -> tiling.Mapping:
    return tiling.Mapping.from_dict(attr.as_dict())


def tile_level_mapping(mapping: tiling.Mapping) -> accel.MappingAttr:
    """The `#accel.mapping` of an `accel.tiled`: the dataflow and the spatial unroll."""
    data = mapping.to_dict()
    return accel.MappingAttr.from_dict({k: data[k] for k in ("dataflow", "spatial")})


def nest_of(op: accel.TiledOp) -> loop_nest.LoopNest:
    """The loop nest an `accel.tiled` body spells (errors name its ops, see its verifier)."""
    loops: list[loop_nest.Loop] = []
    before: list[tuple[loop_nest.Transfer, ...]] = []
    after: list[tuple[loop_nest.Transfer, ...]] = []
    block = op.body.block
    while True:
        where = f"inside tile_for {', '.join(lp.dim for lp in loops)}" if loops else "at the top"
        pre: list[loop_nest.Transfer] = []
        post: list[loop_nest.Transfer] = []
        inner: Operation | None = None
        for child in block.ops:
            if isinstance(child, accel.TileForOp | accel.TileComputeOp):
                inner = child
                continue
            if isinstance(child, accel.TileLoadOp | accel.TileStoreOp):
                kind = loop_nest.LOAD if isinstance(child, accel.TileLoadOp) else loop_nest.STORE
                operand = child.operand.data
                label = f'{child.name} "{operand}" ({where})'
                t = loop_nest.Transfer(kind, operand, child.double_buffer.value.data != 0, label)
                (post if inner is not None else pre).append(t)
        before.append(tuple(pre))
        after.append(tuple(post))
        if not isinstance(inner, accel.TileForOp):
            break
        dim = inner.dim.data
        label = f'accel.tile_for "{dim}" ({where})'
        loops.append(loop_nest.Loop(dim, inner.tile.value.data, label))
        block = inner.body.block
    return loop_nest.LoopNest(
        loops=tuple(loops),
        before=tuple(before),
        after=tuple(after),
        compute_label="accel.tile_compute",
    )


def tiled_mapping(op: accel.TiledOp) -> tiling.Mapping:
    """The complete mapping an `accel.tiled` implements: its dataflow and spatial unroll, the
    tiles, loop order and double buffering of its body."""
    data = op.mapping.as_dict()
    spatial = tiling.Mapping.from_dict({**data, "tiles": {}, "order": []}).spatial
    return loop_nest.nest_mapping(layer_shape(op), nest_of(op), data["dataflow"], spatial)


def onnx_outputs_attrs(op: Operation) -> dict[str, Attribute]:
    """{"onnx_outputs": ...} if `op` carries it, else {} (to copy onto a replacement)."""
    attr = op.attributes.get(ONNX_OUTPUTS)
    return {ONNX_OUTPUTS: attr} if isinstance(attr, ArrayAttr) else {}
