"""compile_module + assemble: the Program's instructions are loop_nest.program_rows's rows, its
constants are the model's weights (BN folded into the conv exactly as numpy computes it)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from compiler import loop_nest, tiling
from compiler.assembler import AssemblyError, assemble
from compiler.importer import import_onnx
from compiler.passes.common import PassError
from compiler.pipeline import DEFAULT_PASSES, compile_module, make_context
from simulator.program import OP_COMPUTE, OP_CONFIG, OP_VECTOR, ROW
from simulator.target import load_target

RNG = np.random.default_rng(0)
W1 = RNG.standard_normal((6, 3, 3, 3)).astype(np.float32)
B1 = RNG.standard_normal(6).astype(np.float32)
SCALE = RNG.uniform(0.5, 2.0, 6).astype(np.float32)
BETA = RNG.standard_normal(6).astype(np.float32)
MEAN = RNG.standard_normal(6).astype(np.float32)
VAR = RNG.uniform(0.5, 2.0, 6).astype(np.float32)
EPS = 1e-3
WFC = RNG.standard_normal((4, 6 * 8 * 8)).astype(np.float32)  # Gemm transB=1: [N, K]
BFC = RNG.standard_normal(4).astype(np.float32)


def small_model(batch: int = 1) -> onnx.ModelProto:
    """conv 3x3 (bias) -> BN -> Relu -> Flatten -> Gemm(transB, alpha 0.5, beta 2)."""
    inits = [
        numpy_helper.from_array(a, n)
        for a, n in (
            (W1, "conv.weight"),
            (B1, "conv.bias"),
            (SCALE, "bn.scale"),
            (BETA, "bn.beta"),
            (MEAN, "bn.mean"),
            (VAR, "bn.var"),
            (WFC, "fc.weight"),
            (BFC, "fc.bias"),
        )
    ]
    nodes = [
        helper.make_node(
            "Conv",
            ["x", "conv.weight", "conv.bias"],
            ["c"],
            name="/conv",
            pads=[1, 1, 1, 1],
            kernel_shape=[3, 3],
        ),
        helper.make_node(
            "BatchNormalization",
            ["c", "bn.scale", "bn.beta", "bn.mean", "bn.var"],
            ["b"],
            name="/bn",
            epsilon=EPS,
        ),
        helper.make_node("Relu", ["b"], ["r"], name="/relu"),
        helper.make_node("Flatten", ["r"], ["f"], name="/flatten", axis=1),
        helper.make_node(
            "Gemm", ["f", "fc.weight", "fc.bias"], ["y"], name="/fc", transB=1, alpha=0.5, beta=2.0
        ),
    ]
    graph = helper.make_graph(
        nodes,
        "small",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 4])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


TARGET = load_target(
    "tpu-like-small",
    ["rows=4", "cols=4", "ifmap_sram_kib=0.5", "filter_sram_kib=0.5", "ofmap_sram_kib=0.5"],
)


@pytest.fixture(scope="module")
def compiled():
    stages: list[str] = []
    module = compile_module(
        import_onnx(small_model()), TARGET, on_stage=lambda name, mod: stages.append(name)
    )
    return module, assemble(module), stages


def _conv_nchw(x: np.ndarray, w: np.ndarray, b: np.ndarray, pad: int) -> np.ndarray:
    n, c, h, wd = x.shape
    k, _, r, s = w.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((n, k, h + 2 * pad - r + 1, wd + 2 * pad - s + 1))
    for i in range(r):
        for j in range(s):
            window = xp[:, :, i : i + out.shape[2], j : j + out.shape[3]]
            out += np.einsum("nchw,kc->nkhw", window, w[:, :, i, j].astype(np.float64))
    return out + b[None, :, None, None]


def test_stages_and_layers(compiled):
    _, program, stages = compiled
    assert stages == DEFAULT_PASSES.split(",")
    kinds = [(layer.kind, layer.on_accel) for layer in program.layers]
    assert kinds == [("conv2d", True), ("Relu", False), ("Flatten", False), ("matmul", True)]
    assert program.inputs == ["x"] and program.outputs == ["y"]
    conv, relu, flatten, fc = program.layers
    assert conv.outputs == ["b"]  # the folded BN's tensor
    assert relu.inputs == ["b"] and flatten.attrs == {"axis": 1}
    assert program.tensors["x"] == (1, 3, 8, 8) and program.tensors["y"] == (1, 4)
    assert conv.attrs == {"strides": [1, 1], "pads": [1, 1, 1, 1], "dilations": [1, 1], "group": 1}
    assert conv.dims == {"n": 1, "g": 1, "k": 6, "c": 3, "y": 8, "x": 8, "r": 3, "s": 3}
    assert fc.dims == {"g": 1, "m": 1, "n": 4, "k": 384}
    assert program.target == TARGET.to_dict()


def test_instructions_equal_schedule(compiled):
    _, program, _ = compiled
    expected = []
    for index, layer in enumerate(program.accel_layers()):
        a, b = (program.tensors[name] for name in layer.inputs[:2])
        if layer.kind == "conv2d":
            shape = tiling.conv2d_shape(a, b, pads=tuple(layer.attrs["pads"]), has_bias=True)
        else:
            shape = tiling.matmul_shape(a, b, has_bias=len(layer.inputs) == 3)
        rows = loop_nest.program_rows(shape, tiling.Mapping.from_dict(layer.mapping), TARGET, index)
        np.testing.assert_array_equal(program.instrs[layer.instr_begin : layer.instr_end], rows)
        expected.append(rows)
    # Between the accelerator layers: one VECTOR row per other operator (the vector unit's).
    opcode = ROW.view(program.instrs).opcode
    accel_rows = np.concatenate(expected)
    assert program.instrs.shape[1] == ROW.num_columns
    np.testing.assert_array_equal(program.instrs[opcode != OP_VECTOR], accel_rows)
    others = [layer for layer in program.layers if not layer.on_accel]
    assert (opcode == OP_VECTOR).sum() == len(others)
    assert all(layer.instr_end == layer.instr_begin + 1 for layer in others)
    assert opcode[0] == OP_CONFIG
    assert (opcode == OP_COMPUTE).sum() > 2  # the tiny buffers force tiling


def test_constants_and_bn_folding(compiled):
    _, program, _ = compiled
    conv, _, _, fc = program.layers
    factor = SCALE.astype(np.float64) / np.sqrt(VAR.astype(np.float64) + EPS)
    w = program.constants[conv.inputs[1]]
    b = program.constants[conv.inputs[2]]
    np.testing.assert_allclose(w, W1 * factor[:, None, None, None], rtol=1e-6)
    np.testing.assert_allclose(b, (B1 - MEAN) * factor + BETA, rtol=1e-5, atol=1e-6)
    # The folded conv computes conv -> BN.
    x = RNG.standard_normal((1, 3, 8, 8))
    unfolded = _conv_nchw(x, W1, B1, 1)
    bn = (unfolded - MEAN[None, :, None, None]) * factor[None, :, None, None] + BETA[
        None, :, None, None
    ]
    np.testing.assert_allclose(_conv_nchw(x, w, b, 1), bn, rtol=1e-5, atol=1e-5)
    # Gemm: B = fc.weight^T * alpha, bias = fc.bias * beta; the unused originals are gone.
    np.testing.assert_allclose(program.constants[fc.inputs[1]], WFC.T * 0.5, rtol=1e-6)
    np.testing.assert_allclose(program.constants[fc.inputs[2]], BFC * 2.0, rtol=1e-6)
    assert not {"conv.weight", "bn.scale", "fc.weight", "fc.bias"} & set(program.constants)
    assert all(v.dtype == np.float32 for v in program.constants.values())


def test_mapping_database_is_used():
    module = import_onnx(small_model())
    first = compile_module(module, TARGET, passes="onnx-to-accel,accel-map")
    from dialects import accel

    conv = next(op for op in first.walk() if isinstance(op, accel.Conv2DOp))
    mapping = conv.mapping.as_dict()
    mapping["tiles"] = {**mapping["tiles"], "y": 3, "x": 5}
    module = compile_module(import_onnx(small_model()), TARGET, mappings={"/conv": mapping})
    program = assemble(module)
    assert program.layers[0].mapping["tiles"]["y"] == 3
    assert program.layers[0].mapping["tiles"]["x"] == 5


def test_unfinished_pipeline_is_an_error():
    module = compile_module(
        import_onnx(small_model()), TARGET, passes="onnx-to-accel,accel-map,accel-tile"
    )
    with pytest.raises(AssemblyError, match="layer '/conv' is still an accel.tiled"):
        assemble(module)


def test_bad_mapping_names_the_layer():
    with pytest.raises(tiling.MappingError, match="layer '/conv'"):
        compile_module(
            import_onnx(small_model()),
            TARGET,
            passes="onnx-to-accel,accel-tile{tile-c=3 tile-r=3 tile-s=3 tile-y=8 tile-x=8 double-buffer=on}",
        )
    with pytest.raises(PassError, match="dataflow 'xx'"):
        compile_module(
            import_onnx(small_model()), TARGET, passes="onnx-to-accel,accel-map{dataflow=xx}"
        )


def test_make_context_loads_dialects():
    ctx = make_context()
    for name in ("builtin", "func", "arith", "onnx", "accel", "accel_isa"):
        assert ctx.get_optional_dialect(name) is not None


@pytest.mark.parametrize("batch", [1, 2])
def test_program_round_trips_and_prints(tmp_path, batch):
    program = assemble(compile_module(import_onnx(small_model(batch)), TARGET))
    asm = program.to_asm()
    assert "; layer 0 /conv [conv2d on accel]" in asm and "config    dataflow=ws" in asm
    from simulator.program import Program

    loaded = Program.load(program.save(tmp_path))
    np.testing.assert_array_equal(loaded.instrs, program.instrs)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in program.layers]


def _gemm_model(
    trans_a: int, trans_b: int, alpha: float, beta: float, c_shape, const_b: bool, const_c: bool
):
    rng = np.random.default_rng(3)
    m, k, n = 3, 5, 4
    a_shape = (k, m) if trans_a else (m, k)
    b_shape = (n, k) if trans_b else (k, n)
    inputs = [helper.make_tensor_value_info("a", TensorProto.FLOAT, list(a_shape))]
    inits = []
    for name, shape, const in (("b", b_shape, const_b), ("c", c_shape, const_c)):
        if shape is None:
            continue
        if const:
            inits.append(
                numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)
            )
        else:
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
    node = helper.make_node(
        "Gemm",
        ["a", "b", "c"] if c_shape is not None else ["a", "b"],
        ["y"],
        name="/gemm",
        transA=trans_a,
        transB=trans_b,
        alpha=alpha,
        beta=beta,
    )
    graph = helper.make_graph(
        [node],
        "gemm",
        inputs,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize(
    "trans_a, trans_b, alpha, beta, c_shape, const_b, const_c",
    [
        (0, 1, 0.5, 2.0, (4,), True, True),  # all folded into B and the bias
        (1, 0, 1.0, 1.0, (1, 4), True, True),  # transA on a computed A: host Transpose
        (0, 1, 2.0, 3.0, (3, 4), False, False),  # host Transpose, Mul, Mul, Add
        (0, 0, 1.0, 0.5, (3, 1), True, True),  # C along columns: constant + host Add
        (0, 0, 1.0, 1.0, (4,), False, False),  # computed bias operand
        (1, 1, 1.5, 1.0, None, True, True),  # no C
    ],
)
def test_gemm_lowering_matches_onnx(trans_a, trans_b, alpha, beta, c_shape, const_b, const_c):
    from onnx.reference import ReferenceEvaluator

    from simulator.functional import run_functional

    model = _gemm_model(trans_a, trans_b, alpha, beta, c_shape, const_b, const_c)
    program = assemble(compile_module(import_onnx(model), TARGET))
    assert sum(layer.kind == "matmul" for layer in program.layers) == 1
    rng = np.random.default_rng(4)
    feeds = {
        name: rng.standard_normal(program.tensors[name]).astype(np.float32)
        for name in program.inputs
    }
    (expected,) = ReferenceEvaluator(model).run(None, feeds)
    got = run_functional(program, feeds)["y"]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_schedule_spaces():
    from compiler.passes.accel_map import AccelMapPass
    from compiler.passes.accel_tile import AccelTilePass

    module = compile_module(import_onnx(small_model()), TARGET, passes="onnx-to-accel")
    ctx = make_context()
    assert [p.dataflow for p in AccelMapPass.schedule_space(ctx, module)] == ["ws", "os", "is"]
    assert [p.double_buffer for p in AccelTilePass.schedule_space(ctx, module)] == [
        "auto",
        "on",
        "off",
    ]


def test_sigma_sparse_fields_round_trip_isa_and_program(tmp_path):
    """On a SIGMA target the computes carry the bitmap statistics of the tiles' actual weights:
    printed ISA -> parsed -> assembled gives the same rows, and Program.save/load keeps them."""
    import io

    from xdsl.parser import Parser
    from xdsl.printer import Printer

    from simulator.program import Program

    target = load_target("sigma-16", ["ifmap_sram_kib=1", "filter_sram_kib=1", "ofmap_sram_kib=1"])
    module = compile_module(import_onnx(small_model()), target)
    program = assemble(module)
    computes = ROW.view(program.instrs[ROW.view(program.instrs).opcode == OP_COMPUTE])
    assert (computes.sg_iters > 0).all()  # every tile has a stationary iteration
    stream = io.StringIO()
    Printer(stream=stream).print_op(module)
    assert "sparse [" in stream.getvalue()
    reparsed = Parser(make_context(), stream.getvalue()).parse_module()
    np.testing.assert_array_equal(assemble(reparsed).instrs, program.instrs)
    loaded = Program.load(program.save(tmp_path))
    np.testing.assert_array_equal(loaded.instrs, program.instrs)
    # The conv's rows come from its (BN-folded) weight constant, as loop_nest.program_rows computes them.
    conv = program.accel_layers()[0]
    shape = tiling.conv2d_shape(
        program.tensors[conv.inputs[0]],
        program.tensors[conv.inputs[1]],
        pads=tuple(conv.attrs["pads"]),
        has_bias=True,
    )
    rows = loop_nest.program_rows(
        shape,
        tiling.Mapping.from_dict(conv.mapping),
        target,
        0,
        weights=program.constants[conv.inputs[1]],
    )
    np.testing.assert_array_equal(program.instrs[conv.instr_begin : conv.instr_end], rows)


def test_maeri_config_carries_the_spatial_tile_and_the_simulator_derives_the_steps():
    """`accel_isa.config "os" spatial [..]`: the program carries the virtual neurons, not their
    step costs; the simulator derives those (`maeri.derive_steps`), so a spatial tile edited in
    the printed IR is timed as written: a smaller tile means more folds and more cycles."""
    import io
    import re

    from xdsl.parser import Parser
    from xdsl.printer import Printer

    from simulator import engine
    from simulator.arch import maeri

    target = load_target("maeri-64")
    module = compile_module(import_onnx(small_model()), target)
    stream = io.StringIO()
    Printer(stream=stream).print_op(module)
    text = stream.getvalue()
    assert "steps" not in text
    spatial = re.findall(r'accel_isa.config "os" spatial \[([0-9, ]+)\]', text)
    assert spatial
    program = assemble(module)
    configs = ROW.view(program.instrs[ROW.view(program.instrs).opcode == OP_CONFIG])
    assert not configs.steps.any()  # nothing derived at compile time
    params = engine.target_params(target)
    prepared = ROW.view(engine.prepare(program.instrs, params))
    at = np.flatnonzero(prepared.opcode == OP_CONFIG)[0]
    first = [int(v) for v in spatial[0].split(",")]
    kind = int(prepared.kind[at])
    t = tuple(int(v) for v in maeri.by_role(first, kind, np))
    stride = tuple(int(v) for v in prepared.stride[at])
    extent_s = int(prepared.size[np.flatnonzero(prepared.opcode == 3)[0]][7])
    expected = maeri.step_costs(t, stride, extent_s, 64, target.dn_bw_elems_per_cycle, False)
    assert tuple(prepared.steps[at]) == (*expected, 0, 1, 0)  # no aux: no psum round trip
    # Halve the first layer's virtual neurons along its largest reduction factor in the IR.
    r = max(range(len(first)), key=lambda i: first[i] if i in (3, 6, 7) else 0)
    assert first[r] > 1
    edited = list(first)
    edited[r] = first[r] // 2
    new = text.replace(f"spatial [{spatial[0]}]", f"spatial [{', '.join(map(str, edited))}]", 1)
    before = engine.simulate_timing(program, target)
    after = engine.simulate_timing(assemble(Parser(make_context(), new).parse_module()), target)
    assert after.layers[0].cycles > before.layers[0].cycles
    assert [x.cycles for x in after.layers[1:]] == [x.cycles for x in before.layers[1:]]
