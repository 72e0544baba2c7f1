"""The ONNX importer on the example models, its constant folding, and its error messages."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from xdsl.context import Context
from xdsl.dialects import builtin, func
from xdsl.dialects.builtin import ArrayAttr, ModuleOp, StringAttr, TensorType
from xdsl.parser import Parser

from accelflow.models import MODELS
from compiler.importer import ModelImportError, import_onnx, parse_input_shape, parse_input_shapes
from dialects.onnx import ONNX, OnnxNodeOp
from simulator.errors import AccelflowError

SMALL_MODELS = ["lenet", "mlp", "resnet_block", "depthwise_pointwise", "concat_branches"]
# Nodes each model's import folds into constants (besides `Constant` nodes).
FOLDED = {"concat_branches": {"Shape": 1, "Gather": 1, "Unsqueeze": 1, "Concat": 1}}


def _build(name: str, **kwargs) -> onnx.ModelProto:
    if name == "resnet18":
        kwargs.setdefault("size", 64)  # same graph, smaller activations
    return MODELS[name](**kwargs)


def _main(module: ModuleOp) -> func.FuncOp:
    main = module.body.block.first_op
    assert isinstance(main, func.FuncOp)
    return main


def _node_ops(module: ModuleOp) -> list[OnnxNodeOp]:
    return [op for op in module.walk() if isinstance(op, OnnxNodeOp)]


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_imports_and_verifies(name: str):
    model = _build(name)
    module = import_onnx(model)
    module.verify()
    main = _main(module)
    assert main.sym_name.data == "main"
    assert main.attributes["onnx.input_names"] == ArrayAttr([StringAttr("input")])
    assert main.attributes["onnx.output_names"] == ArrayAttr([StringAttr("output")])
    declared = [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim]
    assert main.function_type.outputs.data[0] == TensorType(builtin.f32, declared)


@pytest.mark.parametrize("name", list(MODELS))
def test_op_counts_match_the_graph_after_folding(name: str):
    model = _build(name)
    module = import_onnx(model)
    expected = Counter(node.op_type for node in model.graph.node if node.op_type != "Constant")
    expected.subtract(FOLDED.get(name, {}))
    got = Counter(op.op_type for op in _node_ops(module) if op.op_type != "Constant")
    assert got == +expected
    # Each constant is materialised once, and every op knows its ONNX names.
    constants = [op.onnx_name for op in _node_ops(module) if op.op_type == "Constant"]
    assert len(constants) == len(set(constants))
    initializers = {init.name for init in model.graph.initializer}
    assert initializers <= set(constants)
    for op in _node_ops(module):
        assert op.onnx_name
        names = op.attributes["onnx_outputs"]
        assert isinstance(names, ArrayAttr) and len(names.data) == len(op.results)


def test_node_names_and_outputs_are_kept():
    module = import_onnx(_build("lenet"))
    conv = next(op for op in _node_ops(module) if op.op_type == "Conv")
    assert conv.onnx_name == "/conv1/Conv"
    assert conv.attributes["onnx_outputs"] == ArrayAttr([StringAttr("/conv1/Conv_output_0")])
    assert conv.results[0].type == TensorType(builtin.f32, [1, 6, 28, 28])
    pads = conv.attributes["pads"]
    assert isinstance(pads, builtin.DenseArrayBase) and pads.get_values() == (2, 2, 2, 2)
    assert conv.attributes["group"] == builtin.IntegerAttr(1, builtin.i64)


def test_shape_arithmetic_folds_into_a_constant():
    module = import_onnx(_build("concat_branches"))
    reshape = next(op for op in _node_ops(module) if op.op_type == "Reshape")
    shape_op = reshape.operands[1].owner
    assert isinstance(shape_op, OnnxNodeOp) and shape_op.op_type == "Constant"
    assert shape_op.onnx_name == "/Concat_1_output_0"
    value = shape_op.attributes["value"]
    assert isinstance(value, builtin.DenseIntOrFPElementsAttr)
    assert value.type == TensorType(builtin.i64, [2])
    assert np.frombuffer(value.data.data, dtype="<i8").tolist() == [1, -1]
    assert reshape.results[0].type == TensorType(builtin.f32, [1, 288])
    assert not {"Shape", "Gather", "Unsqueeze"} & {op.op_type for op in _node_ops(module)}


def test_clip_bounds_from_constant_nodes():
    module = import_onnx(_build("mlp"))
    clip = next(op for op in _node_ops(module) if op.op_type == "Clip")
    bounds = []
    for operand in clip.operands[1:]:
        owner = operand.owner
        assert isinstance(owner, OnnxNodeOp) and owner.op_type == "Constant"
        bounds.append(float(np.frombuffer(owner.attributes["value"].data.data, "<f4")[0]))
    assert bounds == [0.0, 6.0]


@pytest.mark.parametrize("name", ["lenet", "resnet_block"])
def test_constant_bytes_round_trip(name: str):
    model = _build(name)
    module = import_onnx(model)
    by_name = {op.onnx_name: op for op in _node_ops(module) if op.op_type == "Constant"}
    for init in model.graph.initializer:
        array = numpy_helper.to_array(init)
        value = by_name[init.name].attributes["value"]
        assert isinstance(value, builtin.DenseIntOrFPElementsAttr)
        assert value.get_shape() == array.shape
        got = np.frombuffer(value.data.data, dtype="<f4").reshape(array.shape)
        np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize("name", SMALL_MODELS)
def test_printed_module_parses_back(name: str):
    module = import_onnx(_build(name))
    ctx = Context()
    ctx.load_dialect(builtin.Builtin)
    ctx.load_dialect(func.Func)
    ctx.load_dialect(ONNX)
    text = str(module)
    parsed = Parser(ctx, text).parse_module()
    parsed.verify()
    assert str(parsed) == text


@pytest.mark.parametrize("batch", [1, 3])
def test_input_shapes_change_the_batch(batch: int, tmp_path: Path):
    path = tmp_path / "lenet.onnx"
    onnx.save(_build("lenet"), str(path))
    module = import_onnx(path, {"input": (batch, 1, 28, 28)})
    assert _main(module).function_type.inputs.data[0] == TensorType(builtin.f32, [batch, 1, 28, 28])
    assert _main(module).function_type.outputs.data[0] == TensorType(builtin.f32, [batch, 10])
    unnamed = import_onnx(path, parse_input_shape(f"{batch}x1x28x28"))
    assert str(unnamed) == str(module)


def test_the_bundled_lenet_imports():
    path = Path(__file__).parents[2] / "examples" / "lenet.onnx"
    assert path.stat().st_size < 300_000
    import_onnx(path).verify()


def test_model_builders_are_checked_and_runnable():
    from onnx.reference import ReferenceEvaluator

    model = _build("concat_branches", batch=2)
    x = np.random.default_rng(1).standard_normal((2, 4, 12, 12), dtype=np.float32)
    (y,) = ReferenceEvaluator(model).run(None, {"input": x})
    assert y.shape == (2, 10)


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def _tiny(nodes, initializers=(), input_shape=(1, 4), elem=TensorProto.FLOAT, output="y"):
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", elem, list(input_shape))],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)],
        initializer=list(initializers),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _raises(model, match: str, input_shapes=None) -> ModelImportError:
    with pytest.raises(ModelImportError, match=match) as info:
        import_onnx(model, input_shapes)
    assert isinstance(info.value, AccelflowError)
    assert "\n" not in str(info.value)
    return info.value


def test_error_not_an_onnx_file(tmp_path: Path):
    path = tmp_path / "model.onnx"
    path.write_bytes(np.random.default_rng(0).bytes(2048))
    _raises(path, r"^model\.onnx: not an ONNX model \(")


def test_error_missing_file(tmp_path: Path):
    _raises(tmp_path / "nope.onnx", r"nope\.onnx: no such file")


def test_error_unsupported_op(tmp_path: Path):
    w = numpy_helper.from_array(np.zeros((1, 32, 4), np.float32), "w")
    r = numpy_helper.from_array(np.zeros((1, 32, 8), np.float32), "r")
    lstm = helper.make_node("LSTM", ["x", "w", "r"], ["y"], name="/rnn/LSTM", hidden_size=8)
    model = _tiny([lstm], [w, r], input_shape=(5, 1, 4))
    path = tmp_path / "lstm.onnx"
    onnx.save(model, str(path))
    _raises(
        path,
        r"^node '/rnn/LSTM' \(op LSTM\) is not supported; the \d+ supported operators are "
        r"listed in docs/ops.md",
    )


def test_error_missing_initializer(tmp_path: Path):
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="x_conv", kernel_shape=[1, 1])
    model = _tiny([conv], input_shape=(1, 3, 4, 4))
    path = tmp_path / "missing.onnx"
    onnx.save(model, str(path))
    _raises(
        path,
        r"^missing\.onnx: node 'x_conv' \(op Conv\): input 'w' is not produced by any node, "
        r"initializer or graph input$",
    )


def test_unnamed_nodes_get_unique_names():
    relu = helper.make_node("Relu", ["x"], ["a"])
    relu2 = helper.make_node("Relu", ["a"], ["y"])
    module = import_onnx(_tiny([relu, relu2]))
    names = [op.onnx_name for op in _node_ops(module)]
    assert names == ["Relu_0", "Relu_1"]


def _dynamic_lenet() -> onnx.ModelProto:
    model = _build("lenet")
    dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    dim.ClearField("dim_value")
    dim.dim_param = "batch_size"
    model.graph.output[0].type.tensor_type.shape.dim[0].dim_param = "batch_size"
    return model


def test_error_dynamic_dimension(tmp_path: Path):
    path = tmp_path / "dynamic.onnx"
    onnx.save(_dynamic_lenet(), str(path))
    _raises(
        path,
        r"^graph input 'input' has a dynamic dimension 'batch_size' "
        r"\(shape \[batch_size, 1, 28, 28\]\); give --input-shape input=1x1x28x28$",
    )


def test_dynamic_dimension_with_input_shapes(tmp_path: Path):
    path = tmp_path / "dynamic.onnx"
    onnx.save(_dynamic_lenet(), str(path))
    module = import_onnx(path, {"input": (4, 1, 28, 28)})
    module.verify()
    assert _main(module).function_type.outputs.data[0] == TensorType(builtin.f32, [4, 10])


@pytest.mark.parametrize(
    "shapes, match",
    [
        ({"image": (1, 1, 28, 28)}, r"^input shape given for 'image', which is not a graph input"),
        ({"input": (1, 28, 28)}, r"has rank 3, but the graph input has shape \[1, 1, 28, 28\]"),
    ],
)
def test_error_bad_input_shapes(shapes, match: str):
    _raises(_build("lenet"), match, shapes)


def test_error_input_of_another_element_type():
    relu = helper.make_node("Relu", ["x"], ["y"])
    _raises(
        _tiny([relu], elem=TensorProto.FLOAT16),
        r"^graph input 'x' has element type FLOAT16; graph inputs may be FLOAT, INT64, INT32, "
        r"BOOL$",
    )


def test_int64_and_bool_inputs_keep_their_types():
    """Token ids and masks: the function's arguments and the Program's input dtypes."""
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, [1, 6])
    mask = helper.make_tensor_value_info("mask", TensorProto.BOOL, [1, 6])
    emb = numpy_helper.from_array(np.ones((10, 4), np.float32), "emb")
    nodes = [
        helper.make_node("Gather", ["emb", "ids"], ["e"], name="/Gather", axis=0),
        helper.make_node("Cast", ["mask"], ["m"], name="/Cast", to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["m", "axes"], ["m2"], name="/Unsqueeze"),
        helper.make_node("Mul", ["e", "m2"], ["y"], name="/Mul"),
    ]
    axes = numpy_helper.from_array(np.array([-1], np.int64), "axes")
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6, 4])
    graph = helper.make_graph(nodes, "g", [ids, mask], [y], [emb, axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    text = str(import_onnx(model))
    assert "tensor<1x6xi64>" in text and "tensor<1x6xi1>" in text
    from compiler.assembler import assemble
    from compiler.pipeline import compile_module
    from simulator.target import load_target

    program = assemble(compile_module(import_onnx(model), load_target("tpu-like")))
    assert program.input_dtypes == {"ids": "int64", "mask": "bool"}


def test_graph_input_that_is_an_initializer_is_a_constant():
    w = numpy_helper.from_array(np.ones((1, 4), np.float32), "w")
    add = helper.make_node("Add", ["x", "w"], ["y"], name="/Add")
    model = _tiny([add], [w])
    model.graph.input.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, [1, 4]))
    module = import_onnx(model)
    assert len(_main(module).function_type.inputs.data) == 1
    assert [op.op_type for op in _node_ops(module)] == ["Constant", "Add"]


def test_identity_of_a_constant_folds():
    w = numpy_helper.from_array(np.ones((1, 4), np.float32), "w")
    tied = helper.make_node("Identity", ["w"], ["w2"], name="/Identity")
    add = helper.make_node("Add", ["x", "w2"], ["y"], name="/Add")
    module = import_onnx(_tiny([tied, add], [w]))
    assert [op.onnx_name for op in _node_ops(module)] == ["w2", "/Add"]


# --------------------------------------------------------------------------------------------
# --input-shape parsing
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("input=1x3x224x224", {"input": (1, 3, 224, 224)}),
        ("1x3x32x32", {"": (1, 3, 32, 32)}),
        ("input.1=2x64", {"input.1": (2, 64)}),
        ("a=1x2,b=3", {"a": (1, 2), "b": (3,)}),
    ],
)
def test_parse_input_shape(text: str, expected):
    assert parse_input_shape(text) == expected


@pytest.mark.parametrize(
    "text", ["", "input=", "=1x3", "input=1x3x", "input=1,3", "x=0x3", "a=1,2x3"]
)
def test_parse_input_shape_errors(text: str):
    with pytest.raises(ModelImportError, match="bad input shape"):
        parse_input_shape(text)


def test_parse_input_shapes_repeated():
    assert parse_input_shapes(["a=1x2", "b=3"]) == {"a": (1, 2), "b": (3,)}
    with pytest.raises(ModelImportError, match="given twice"):
        parse_input_shapes(["a=1x2", "a=3"])
