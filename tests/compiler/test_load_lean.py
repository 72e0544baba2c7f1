"""compiler.import_model.load_lean: the large float32 weights come as views of the file's bytes,
everything else as onnx.load parses it; odd files fall back or fail as onnx.load does."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from accelflow import models
from compiler.import_model import LEAN_MIN_BYTES, ModelImportError, load_lean, load_model
from compiler.importer import import_onnx


def _same_model(path) -> dict[str, np.ndarray]:
    """Assert load_lean's proto + weights equal onnx.load's model; return the weights."""
    full = onnx.load(str(path))
    lean = load_lean(path)
    stripped = {init.name for init in lean.proto.graph.initializer if not init.raw_data}
    assert set(lean.weights) <= stripped
    for init in full.graph.initializer:
        value = numpy_helper.to_array(init)
        if init.name in lean.weights:
            got = lean.weights[init.name]
            assert not got.flags.writeable and got.dtype == np.float32
        else:
            (got,) = [
                numpy_helper.to_array(i)
                for i in lean.proto.graph.initializer
                if i.name == init.name
            ]
        assert np.array_equal(got, value), init.name
    # Everything but the left-out raw data parses the same.
    for init in lean.proto.graph.initializer:
        if init.name in lean.weights:
            init.raw_data = numpy_helper.from_array(lean.weights[init.name]).raw_data
    assert lean.proto == full  # protobuf equality: field by field
    return lean.weights


def test_large_float_weights_are_views_of_the_file(tmp_path):
    path = tmp_path / "gemm.onnx"
    onnx.save(models.gemm(batch=2, k=256, n=128), str(path))  # a 128 KiB weight
    weights = _same_model(path)
    assert weights and all(v.nbytes >= LEAN_MIN_BYTES for v in weights.values())


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    shapes=st.lists(st.lists(st.integers(1, 70), min_size=1, max_size=3), min_size=1, max_size=4),
    int_too=st.booleans(),
)
def test_any_initializers_load_as_onnx_loads_them(tmp_path_factory, shapes, int_too):
    """Floats big and small (raw or float_data), an int64 tensor, dims of every length."""
    rng = np.random.default_rng(len(shapes))
    inits = []
    for i, shape in enumerate(shapes):
        array = rng.standard_normal(shape).astype(np.float32)
        if i % 2:
            inits.append(numpy_helper.from_array(array, f"w{i}"))
        else:  # float_data, not raw_data: parsed by protobuf, not left out
            inits.append(helper.make_tensor(f"w{i}", TensorProto.FLOAT, shape, array.ravel()))
    if int_too:
        inits.append(numpy_helper.from_array(np.arange(20000, dtype=np.int64), "ints"))
    graph = helper.make_graph(
        [helper.make_node("Identity", ["w0"], ["y"])],
        "g",
        [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=inits,
    )
    path = tmp_path_factory.mktemp("m") / "m.onnx"
    onnx.save(helper.make_model(graph), str(path))
    _same_model(path)


def test_not_a_model_is_the_same_error(tmp_path):
    path = tmp_path / "bad.onnx"
    path.write_bytes(b"\xff\xff\xff this is not protobuf")
    with pytest.raises(ModelImportError, match="not an ONNX model"):
        load_lean(path)
    with pytest.raises(ModelImportError, match="not an ONNX model"):
        load_model(path)


def test_the_importer_gets_the_same_constants(tmp_path):
    path = tmp_path / "mlp.onnx"
    onnx.save(models.mlp(), str(path))
    assert str(import_onnx(path)) == str(import_onnx(onnx.load(str(path))))


def test_external_data_is_read_as_onnx_load_reads_it(tmp_path):
    path = tmp_path / "ext.onnx"
    onnx.save(models.mlp(), str(path), save_as_external_data=True, size_threshold=0)
    assert not load_lean(path).weights  # nothing raw in the file: protobuf and onnx read it all
    _same_model(path)
