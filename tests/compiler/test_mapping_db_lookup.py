"""`accel.mappings` keyed by layer signature (as `tuner.db.MappingDB.for_target` gives it):
accel-map looks a layer up by name, then by signature, and the pipeline compiles a database
mapping exactly as stored (what the tuner simulated is what runs)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest
from xdsl.parser import Parser

from accelflow import models
from compiler import tiling
from compiler.assembler import assemble
from compiler.importer import import_onnx
from compiler.passes.common import layer_shape
from compiler.pipeline import compile_module, make_context
from dialects import accel
from simulator.target import Target, load_target


def layer_shapes(model, target: Target) -> dict[str, tiling.LayerShape]:
    module = compile_module(import_onnx(model), target, passes="onnx-to-accel")
    return {
        op.layer_name.data: layer_shape(op)
        for op in module.walk()
        if isinstance(op, accel.Conv2DOp | accel.MatmulOp)
    }


def mapped_layers(module) -> dict[str, tiling.Mapping]:
    return {
        op.layer_name.data: tiling.Mapping.from_dict(op.mapping.as_dict())
        for op in module.walk()
        if isinstance(op, accel.Conv2DOp | accel.MatmulOp)
    }


def other_mapping(shape: tiling.LayerShape, target: Target) -> tiling.Mapping:
    """A legal mapping unlike the default one: another dataflow (systolic) or halved tiles."""
    default = tiling.default_mapping(shape, target)
    if target.arch == "systolic":
        mapping = tiling.default_mapping(shape, target, dataflow="os")
    else:
        big = max(shape.dim_names, key=lambda d: default.tiles[d])
        tiles = {**default.tiles, big: max(1, default.tiles[big] // 2)}
        mapping = replace(default, tiles=tiles, order=tuple(reversed(default.order)))
        if target.arch == "maeri":  # a spatial tile the heuristic would not choose: 2 VNs of 1
            across = [d for d in ("k", "n", "x", "y", "m") if mapping.tiles.get(d, 1) >= 2]
            factors = {d: 1 for d in shape.dim_names} | {across[0]: 2}
            mapping = tiling.with_maeri_spatial(shape, mapping, target, factors)
            assert mapping != tiling.with_maeri_spatial(shape, replace(mapping, spatial={}), target)
    tiling.check_mapping(shape, mapping, target)
    assert mapping != default
    return mapping


TARGET = load_target("tpu-like-small")


def test_signature_keyed_entry_is_used_by_accel_map():
    shapes = layer_shapes(models.lenet(), TARGET)
    conv2 = shapes["/conv2/Conv"]
    wanted = other_mapping(conv2, TARGET)
    module = compile_module(
        import_onnx(models.lenet()),
        TARGET,
        passes="onnx-to-accel,accel-map",
        mappings={conv2.signature: wanted.to_dict()},
    )
    mapped = mapped_layers(module)
    assert mapped["/conv2/Conv"] == wanted
    assert mapped["/conv1/Conv"] == tiling.default_mapping(shapes["/conv1/Conv"], TARGET)


def test_layer_name_wins_over_signature():
    shapes = layer_shapes(models.lenet(), TARGET)
    conv2 = shapes["/conv2/Conv"]
    by_signature = other_mapping(conv2, TARGET)
    by_name = replace(by_signature, double_buffer=False)
    module = compile_module(
        import_onnx(models.lenet()),
        TARGET,
        passes="onnx-to-accel,accel-map",
        mappings={conv2.signature: by_signature.to_dict(), "/conv2/Conv": by_name.to_dict()},
    )
    assert mapped_layers(module)["/conv2/Conv"] == by_name


def test_dataflow_option_overrides_signature_entry():
    shapes = layer_shapes(models.lenet(), TARGET)
    conv2 = shapes["/conv2/Conv"]
    module = compile_module(
        import_onnx(models.lenet()),
        TARGET,
        passes="onnx-to-accel,accel-map{dataflow=is}",
        mappings={conv2.signature: other_mapping(conv2, TARGET).to_dict()},
    )
    assert mapped_layers(module)["/conv2/Conv"] == tiling.default_mapping(
        conv2, TARGET, dataflow="is"
    )


def test_illegal_signature_entry_names_the_layer():
    conv2 = layer_shapes(models.lenet(), TARGET)["/conv2/Conv"]
    bad = tiling.default_mapping(conv2, TARGET)
    bad = replace(bad, tiles={**bad.tiles, "k": conv2.dims["k"] * 2})
    with pytest.raises(tiling.MappingError, match=r"layer '/conv2/Conv': tile k=32 is outside"):
        compile_module(
            import_onnx(models.lenet()),
            TARGET,
            passes="onnx-to-accel,accel-map",
            mappings={conv2.signature: bad.to_dict()},
        )


def test_signature_keys_print_and_parse_back():
    conv2 = layer_shapes(models.lenet(), TARGET)["/conv2/Conv"]
    mapping = other_mapping(conv2, TARGET)
    module = compile_module(
        import_onnx(models.lenet()),
        TARGET,
        passes="onnx-to-accel",
        mappings={conv2.signature: mapping.to_dict()},
    )
    text = str(module)
    assert f'"{conv2.signature}" = #accel.mapping<os' in text
    reparsed = Parser(make_context(), text).parse_module()
    compile_module(reparsed, TARGET, passes="accel-map")
    assert mapped_layers(reparsed)["/conv2/Conv"] == mapping


@pytest.mark.parametrize("build", [models.depthwise_pointwise, models.concat_branches])
@pytest.mark.parametrize("preset", ["tpu-like-small", "tpu-like", "maeri-64", "sigma-64"])
def test_database_mapping_is_compiled_exactly(preset, build):
    """accel-tile (no tile options) and accel-emit keep a database mapping as stored (the
    position of a dim with one tile in the loop order changes nothing: compared normalized)."""
    target = load_target(preset)
    model = build()
    shapes = layer_shapes(model, target)
    database = {shape.signature: other_mapping(shape, target) for shape in shapes.values()}
    program = assemble(
        compile_module(
            import_onnx(model),
            target,
            mappings={sig: m.to_dict() for sig, m in database.items()},
        )
    )
    compiled = {
        layer.name: tiling.Mapping.from_dict(layer.mapping) for layer in program.accel_layers()
    }
    assert set(compiled) == set(shapes)
    for name, shape in shapes.items():
        assert compiled[name] == database[shape.signature].normalized(shape), name


def test_maeri_single_multiplier_spatial_tile_is_kept():
    target = load_target("maeri-64")
    shape = layer_shapes(models.depthwise_pointwise(), target)["/dw/Conv"]
    ones = {d: 1 for d in shape.dim_names}
    mapping = tiling.with_maeri_spatial(shape, tiling.default_mapping(shape, target), target, ones)
    tiling.check_mapping(shape, mapping, target)
    program = assemble(
        compile_module(
            import_onnx(models.depthwise_pointwise()),
            target,
            mappings={"/dw/Conv": mapping.to_dict()},
        )
    )
    (dw,) = [layer for layer in program.layers if layer.name == "/dw/Conv"]
    assert tiling.Mapping.from_dict(dw.mapping) == mapping.normalized(shape)


def test_the_compiler_does_not_import_the_tuner():
    code = (
        "import sys, compiler.pipeline, compiler.opt, compiler.assembler; "
        "print(sorted(m for m in sys.modules if m == 'tuner' or m.startswith('tuner.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
