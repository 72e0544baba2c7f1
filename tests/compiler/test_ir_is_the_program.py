"""The IR is the program: edits to the tiled IR change the program as they say, or are an error
naming the op; the instruction stream is verified; functional execution follows the loads.

The hand-written nests live in tests/filecheck/transforms/accel-emit-nest.mlir (their IR is checked
there with filecheck); here they are simulated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from xdsl.parser import Parser

import accelflow
from compiler import loop_nest, tiling
from compiler.assembler import assemble
from compiler.opt import main as opt_main
from compiler.passes.common import PassError, layer_shape, tiled_mapping
from compiler.pipeline import compile_module, make_context
from compiler.stream_check import StreamError, check_stream
from dialects import accel, accel_isa
from simulator.program import BUF_WEIGHT, OP_COMPUTE, OP_LOAD, ROW, Layer, Program
from simulator.run import simulate
from simulator.target import load_target
from tuner.cost_model import CandidateBatch, evaluate

FILECHECK = Path(__file__).parents[1] / "filecheck" / "transforms"
NEST = FILECHECK / "accel-emit-nest.mlir"


def parse(text: str):
    return Parser(make_context(), text).parse_module()


def tiled_layers(module) -> dict[str, accel.TiledOp]:
    return {op.layer_name.data: op for op in module.walk() if isinstance(op, accel.TiledOp)}


def test_loop_interchange_changes_dram_bytes_as_the_cost_model_predicts():
    module = parse(NEST.read_text())
    predicted = {}
    for name, op in tiled_layers(module).items():
        shape, mapping = layer_shape(op), tiled_mapping(op)
        target = load_target("tpu-like").replace(**_tiny())
        figures = evaluate(shape, target, CandidateBatch.from_mappings(shape, [mapping]))
        predicted[name] = (int(figures["dram_read_bytes"][0]), int(figures["dram_write_bytes"][0]))
    compile_module(module, _target(module), passes="accel-emit,accel-isa-verify")
    stats = {layer.name: layer for layer in simulate(assemble(module)).stats.layers}
    measured = {
        name: (stats[name].dram_read_bytes, stats[name].dram_write_bytes) for name in predicted
    }
    assert measured == predicted
    # The interchange moves weight reuse to input reuse: 8 input + 48 weight tiles of 256 B
    # against 48 input + 6 weight tiles (and 48 output tiles of 64 B stored by both).
    assert measured["/mn"] == ((8 + 48) * 256, 48 * 64)
    assert measured["/nm"] == ((48 + 6) * 256, 48 * 64)
    assert measured["/mn16"] == (4 * 512 + 24 * 256, 24 * 128)


def _tiny() -> dict:
    return {
        "rows": 4,
        "cols": 4,
        "ifmap_sram_kib": 1.0,
        "filter_sram_kib": 1.0,
        "ofmap_sram_kib": 1.0,
    }


def _target(module):
    from compiler.passes.common import module_target

    return module_target(module)


def test_a_tile_size_in_the_ir_is_the_programs():
    module = parse(NEST.read_text())
    compile_module(module, _target(module), passes="accel-emit")
    program = assemble(module)
    (layer,) = [lay for lay in program.layers if lay.name == "/mn16"]
    assert layer.mapping["tiles"]["m"] == 16
    rows = program.instrs[layer.instr_begin : layer.instr_end]
    computes = rows[ROW.view(rows).opcode == OP_COMPUTE]
    assert len(computes) == 4 * 6  # 64 / 16 m tiles x 48 / 8 n tiles


def test_a_deleted_load_is_an_error_naming_the_op_exit_2(capsys):
    code = opt_main([str(FILECHECK / "accel-emit-missing-load.mlir"), "-p", "accel-emit"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [
        "accelflow-opt: error: accel-emit: layer '/mn': accel.tile_compute reads the weight "
        'tile, but no accel.tile_load "weight" fills its buffer'
    ]


def _edit_nest(old: str, new: str) -> str:
    text = NEST.read_text()
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (  # /mn's input load hoisted out of the m loop it depends on
            '      accel.tile_for "m" tile 8 extent 64 {\n        accel.tile_load "input" double_buffer = true\n',
            '      accel.tile_load "input" double_buffer = true\n      accel.tile_for "m" tile 8 extent 64 {\n',
            "accel-emit: layer '/mn': accel.tile_load \"input\" (at the top) loads one input tile "
            "for every 'm' tile of the loop inside it: the compute would read input tiles no load "
            'filled (move it inside accel.tile_for "m")',
        ),
        (  # /mn's store moved out of the n loop: the output tile changes before it is stored
            '          accel.tile_store "output" double_buffer = true\n        }\n      }\n    }\n    %nm',
            '        }\n        accel.tile_store "output" double_buffer = true\n      }\n    }\n    %nm',
            "accel-emit: layer '/mn': accel.tile_store \"output\" (inside tile_for m): the output "
            "tile changes with the 'n' tiles before this store saves it",
        ),
        (  # single-buffered input, double-buffered rest
            '        accel.tile_load "input" double_buffer = true\n        accel.tile_for "n"',
            '        accel.tile_load "input" double_buffer = false\n        accel.tile_for "n"',
            "the tile transfers disagree on double buffering",
        ),
        (  # a tile the weight buffer cannot hold twice
            'accel.tile_for "n" tile 8 extent 48 {\n          accel.tile_load "weight"',
            'accel.tile_for "n" tile 48 extent 48 {\n          accel.tile_load "weight"',
            "layer '/mn': weight tile needs 3072 B (x2 double-buffered) but the weight buffer "
            "holds 1024 B",
        ),
    ],
    ids=["hoisted-load", "store-outside", "mixed-double-buffering", "over-buffer"],
)
def test_invalid_edits_are_errors_naming_the_op(old, new, message):
    module = parse(_edit_nest(old, new))
    with pytest.raises(PassError) as err:
        compile_module(module, _target(module), passes="accel-emit")
    assert message in str(err.value)


def _emitted():
    module = parse(NEST.read_text())
    compile_module(module, _target(module), passes="accel-emit")
    return module


def test_a_stream_without_a_weight_load_is_refused():
    module = _emitted()
    layer = next(op for op in module.walk() if isinstance(op, accel_isa.LayerOp))
    load = next(
        op
        for op in layer.body.block.ops
        if isinstance(op, accel_isa.LoadOp) and op.buffer.data == "weight"
    )
    layer.body.block.erase_op(load)
    module.verify()  # each op is still well formed
    expected = (
        "accel-isa-verify: layer '/mn': instruction 2 `accel_isa.compute in[0] w[0] out[0] acc "
        "false gemm [1, 8, 8, 32] at [0, 0, 0, 0] size [1, 8, 8, 32]`: reads weight slot 0, "
        "which no LOAD filled"
    )
    with pytest.raises(PassError, match="reads weight slot 0, which no LOAD filled") as err:
        compile_module(module, _target(module), passes="accel-isa-verify")
    assert str(err.value) == expected
    with pytest.raises(PassError) as err:  # the assembler refuses it too
        assemble(module)
    assert str(err.value) == expected


def test_functional_execution_follows_the_loads():
    """A program whose stream skips a weight load (edited past the verifier) computes garbage,
    so --check fails; the intact program matches numpy."""
    result = accelflow.compile(
        _matmul_model(),
        "tpu-like",
        ["rows=4", "cols=4"],
        passes=(
            "onnx-to-accel,accel-map,accel-tile{tile-m=4 tile-n=3},accel-emit,accel-isa-verify"
        ),
    )
    program = result.program
    x = np.random.default_rng(0).standard_normal((8, 6)).astype(np.float32)
    w = program.constants["w"]
    good = simulate(program, functional=True, inputs={"x": x}).outputs["y"]
    np.testing.assert_allclose(good, x @ w, rtol=1e-5, atol=1e-5)
    rows = program.instrs
    weight_loads = np.flatnonzero(
        (ROW.view(rows).opcode == OP_LOAD) & (ROW.view(rows).buffer == BUF_WEIGHT)
    )
    assert len(weight_loads) > 1
    keep = np.ones(len(rows), bool)
    keep[weight_loads[1]] = False
    (layer,) = program.accel_layers()
    broken = Program(
        instrs=rows[keep],
        layers=[Layer(**{**layer.__dict__, "instr_end": layer.instr_end - 1})],
        constants=program.constants, tensors=program.tensors, inputs=program.inputs,
        outputs=program.outputs, target=program.target,
    )  # fmt: skip
    with pytest.raises(StreamError, match="reads weight slot 1, which no LOAD filled"):
        check_stream(broken.instrs, _shape_of(layer))
    bad = simulate(broken, functional=True, inputs={"x": x}).outputs["y"]
    assert not np.allclose(bad, x @ w, rtol=1e-3, atol=1e-3, equal_nan=False)


def _shape_of(layer: Layer) -> tiling.LayerShape:
    d = layer.dims
    return tiling.matmul_shape(
        (d["g"], d["m"], d["k"]) if d["g"] > 1 else (d["m"], d["k"]), (d["k"], d["n"])
    )


def _matmul_model():
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(1).standard_normal((6, 9)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="/mm")],
        "mm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, 9])],
        [numpy_helper.from_array(w, "w")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_program_rows_is_the_passes_lowering():
    """The tuner's path (`loop_nest.program_rows`) and the passes' (accel-tile + accel-emit) give
    the same stream for a mapping."""
    result = accelflow.compile(
        _matmul_model(),
        "tpu-like-small",
        passes=("onnx-to-accel,accel-map,accel-tile{tile-m=4 tile-k=5},accel-emit"),
    )
    (layer,) = result.program.accel_layers()
    shape = _shape_of(layer)
    mapping = tiling.Mapping.from_dict(layer.mapping)
    rows = loop_nest.program_rows(shape, mapping, result.target, 0)
    np.testing.assert_array_equal(rows, result.program.instrs[layer.instr_begin : layer.instr_end])
