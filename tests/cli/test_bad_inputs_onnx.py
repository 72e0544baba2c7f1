"""The bad-input corpus (issue 13): broken ONNX models. Each is given to `accelflow compile`
(or `simulate`) and must be one `error:` line naming the file and the node or tensor, exit 2,
the model unchanged (harness: test_bad_inputs.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from test_bad_inputs import (
    Case,
    conv_model,
    fifo,
    make_model,
    matmul_model,
    model_file,
    params,
    run_case,
    save_model,
    tensor,
    vi,
)


def _compile(model: onnx.ModelProto | Callable[[Path], Path], *extra: str):
    def build(d: Path) -> list[str]:
        path = model(d) if callable(model) else model_file(d, model)
        return ["compile", str(path), *extra]

    return build


def _bytes(content: bytes, name: str = "m.onnx"):
    def write(d: Path) -> Path:
        (d / name).write_bytes(content)
        return d / name

    return write


def _valid_bytes() -> bytes:
    return matmul_model().SerializeToString()


def _edit(
    edit: Callable[[onnx.ModelProto], None], base: Callable[[], onnx.ModelProto] = matmul_model
):
    model = base()
    edit(model)
    return model


def _chain(nodes, inputs, outputs, inits=(), opset=17) -> onnx.ModelProto:
    return make_model(nodes, inputs, outputs, inits, opset)


# -- files that are not models ---------------------------------------------------------------


def _file_cases() -> list[Case]:
    valid = _valid_bytes()
    return [
        Case("empty-file", _compile(_bytes(b"")), ("m.onnx",)),
        Case("truncated-half", _compile(_bytes(valid[: len(valid) // 2])), ("m.onnx",)),
        Case("truncated-last-byte", _compile(_bytes(valid[:-1])), ("m.onnx",)),
        Case("not-protobuf-text", _compile(_bytes(b"hello, world\n")), ("m.onnx",)),
        Case("not-protobuf-json", _compile(_bytes(b'{"graph": {}}\n')), ("m.onnx",)),
        Case("random-bytes", _compile(_bytes(np.random.default_rng(0).bytes(4096))), ("m.onnx",)),
        Case("zeros", _compile(_bytes(bytes(1000))), ("m.onnx",)),
        Case(
            "no-graph",
            _compile(_bytes(onnx.ModelProto(ir_version=8).SerializeToString())),
            ("m.onnx",),
        ),
        Case("missing-model", lambda d: ["compile", str(d / "nope.onnx")], ("nope.onnx",)),
        Case("model-is-dev-zero", lambda d: ["compile", "/dev/zero"], ("/dev/zero",)),
        Case("model-is-dev-null", lambda d: ["compile", "/dev/null"], ("/dev/null",)),
        Case(
            "model-fifo", lambda d: ["compile", str(fifo(d, "m.onnx"))], ("m.onnx",), guarded=True
        ),
        Case("model-dir-no-program", lambda d: ["compile", str(d)], ("program.json",)),
        Case(
            "simulate-missing-model", lambda d: ["simulate", str(d / "nope.onnx")], ("nope.onnx",)
        ),
        Case(
            "export-missing-model",
            lambda d: ["export", str(d / "no.onnx"), "--format", "scalesim", "-o", str(d / "out")],
            ("no.onnx",),
        ),
    ]


# -- graphs that break ONNX's rules ----------------------------------------------------------


def _future_opset(m):
    m.opset_import[0].version = 99


def _old_opset(m):
    m.opset_import[0].version = 0


def _ir_version_zero(m):
    m.ir_version = 0


def _duplicate_input(m):
    m.graph.input.append(vi("x", [1, 4]))


def _duplicate_initializer(m):
    m.graph.initializer.append(tensor("w", np.zeros((4, 3), np.float32)))


def _two_producers() -> onnx.ModelProto:
    return _chain(
        [
            helper.make_node("Relu", ["x"], ["h"], name="a"),
            helper.make_node("Sigmoid", ["x"], ["h"], name="b"),
            helper.make_node("Relu", ["h"], ["y"], name="c"),
        ],
        [vi("x", [1, 4])],
        [vi("y", [1, 4])],
    )


def _input_produced() -> onnx.ModelProto:
    return _chain(
        [
            helper.make_node("Relu", ["x"], ["x"], name="a"),
            helper.make_node("Relu", ["x"], ["y"], name="b"),
        ],
        [vi("x", [1, 4])],
        [vi("y", [1, 4])],
    )


def _cycle() -> onnx.ModelProto:
    return _chain(
        [
            helper.make_node("Add", ["x", "b"], ["a"], name="first"),
            helper.make_node("Relu", ["a"], ["b"], name="second"),
            helper.make_node("Relu", ["b"], ["y"], name="third"),
        ],
        [vi("x", [1, 4])],
        [vi("y", [1, 4])],
    )


def _self_loop() -> onnx.ModelProto:
    return _chain(
        [
            helper.make_node("Add", ["x", "h"], ["h"], name="loop"),
            helper.make_node("Relu", ["h"], ["y"], name="r"),
        ],
        [vi("x", [1, 4])],
        [vi("y", [1, 4])],
    )


def _out_of_order() -> onnx.ModelProto:
    return _chain(
        [
            helper.make_node("Relu", ["h"], ["y"], name="second"),
            helper.make_node("Relu", ["x"], ["h"], name="first"),
        ],
        [vi("x", [1, 4])],
        [vi("y", [1, 4])],
    )


def _undefined_input() -> onnx.ModelProto:
    return _chain(
        [helper.make_node("Add", ["x", "ghost"], ["y"], name="add")],
        [vi("x", [1, 4])],
        [vi("y", [1, 4])],
    )


def _undefined_output() -> onnx.ModelProto:
    return _chain(
        [helper.make_node("Relu", ["x"], ["h"], name="r")], [vi("x", [1, 4])], [vi("y", [1, 4])]
    )


def _extra_input() -> onnx.ModelProto:
    return _chain(
        [helper.make_node("Relu", ["x", "x"], ["y"], name="relu")],
        [vi("x", [1, 4])],
        [vi("y", [1, 4])],
    )


def _extra_input_conv() -> onnx.ModelProto:
    m = conv_model()
    m.graph.node[0].input.append("b")
    return m


def _missing_input() -> onnx.ModelProto:
    return _chain(
        [helper.make_node("MatMul", ["x"], ["y"], name="mm")], [vi("x", [1, 4])], [vi("y", [1, 3])]
    )


def _unknown_op() -> onnx.ModelProto:
    return _chain(
        [helper.make_node("FrobnicateAll", ["x"], ["y"], name="frob")],
        [vi("x", [1, 4])],
        [vi("y", [1, 4])],
    )


def _custom_domain() -> onnx.ModelProto:
    m = _chain(
        [helper.make_node("Relu", ["x"], ["y"], name="r", domain="com.example")],
        [vi("x", [1, 4])],
        [vi("y", [1, 4])],
    )
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    return m


def _empty_op_type() -> onnx.ModelProto:
    return _chain(
        [helper.make_node("", ["x"], ["y"], name="blank")], [vi("x", [1, 4])], [vi("y", [1, 4])]
    )


def _string_input() -> onnx.ModelProto:
    return _chain(
        [helper.make_node("Identity", ["x"], ["y"], name="id")],
        [vi("x", [1, 4], TensorProto.STRING)],
        [vi("y", [1, 4], TensorProto.STRING)],
    )


def _dynamic_input() -> onnx.ModelProto:
    m = matmul_model()
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    return m


def _no_shape_input() -> onnx.ModelProto:
    return _chain(
        [helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", None)], [vi("y", None)]
    )


def _graph_cases() -> list[Case]:
    return [
        Case("future-opset", _compile(_edit(_future_opset)), ("opset",)),
        Case("opset-zero", _compile(_edit(_old_opset)), ("opset",)),
        Case("ir-version-zero", _compile(_edit(_ir_version_zero)), ("m.onnx",)),
        Case("duplicate-graph-input", _compile(_edit(_duplicate_input)), ("'x'",)),
        Case("duplicate-initializer", _compile(_edit(_duplicate_initializer)), ("'w'",)),
        Case("two-producers", _compile(_two_producers()), ("'h'",)),
        Case("node-writes-graph-input", _compile(_input_produced()), ("'x'",)),
        Case("cycle", _compile(_cycle()), ("m.onnx",)),
        Case("self-loop", _compile(_self_loop()), ("'h'",)),
        Case("nodes-out-of-order", _compile(_out_of_order()), ("'h'",)),
        Case("undefined-node-input", _compile(_undefined_input()), ("'ghost'",)),
        Case("undefined-graph-output", _compile(_undefined_output()), ("'y'",)),
        Case("extra-input-relu", _compile(_extra_input()), ("relu",)),
        Case("extra-input-conv", _compile(_extra_input_conv()), ("conv",)),
        Case("missing-input-matmul", _compile(_missing_input()), ("mm",)),
        Case("unknown-op", _compile(_unknown_op()), ("frob",)),
        Case("custom-domain", _compile(_custom_domain()), ("com.example",)),
        Case("empty-op-type", _compile(_empty_op_type()), ("m.onnx",)),
        Case("string-graph-input", _compile(_string_input()), ("'x'",)),
        Case("dynamic-input", _compile(_dynamic_input()), ("batch",)),
        Case("input-without-shape", _compile(_no_shape_input()), ("'x'",)),
    ]


# -- shapes and attributes that do not add up -----------------------------------------------


def _conv(w_shape=(4, 2, 3, 3), b_len: int | None = 4, x_shape=(1, 2, 5, 5), y_shape=None, **attrs):
    inits = [tensor("w", np.ones(w_shape, np.float32))]
    inputs = ["x", "w"]
    if b_len is not None:
        inits.append(tensor("b", np.zeros(b_len, np.float32)))
        inputs.append("b")
    return _chain(
        [helper.make_node("Conv", inputs, ["y"], name="conv", **attrs)],
        [vi("x", list(x_shape))],
        [vi("y", y_shape)],
        inits,
    )


def _matmul_lie() -> onnx.ModelProto:
    m = matmul_model()
    m.graph.output[0].type.tensor_type.shape.dim[1].dim_value = 5
    return m


def _reshape(shape) -> onnx.ModelProto:
    return _chain(
        [helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape")],
        [vi("x", [1, 4])],
        [vi("y", None)],
        [tensor("s", np.array(shape, np.int64))],
    )


def _matmul_k_mismatch() -> onnx.ModelProto:
    return _chain(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
        [vi("x", [1, 5])],
        [vi("y", None)],
        [tensor("w", np.ones((4, 3), np.float32))],
    )


def _gemm_mismatch() -> onnx.ModelProto:
    return _chain(
        [helper.make_node("Gemm", ["x", "w", "c"], ["y"], name="gemm", transB=1)],
        [vi("x", [1, 4])],
        [vi("y", None)],
        [tensor("w", np.ones((3, 5), np.float32)), tensor("c", np.ones(3, np.float32))],
    )


def _add_mismatch() -> onnx.ModelProto:
    return _chain(
        [helper.make_node("Add", ["x", "c"], ["y"], name="add")],
        [vi("x", [1, 4])],
        [vi("y", None)],
        [tensor("c", np.ones(3, np.float32))],
    )


def _pool(**attrs) -> onnx.ModelProto:
    return _chain(
        [helper.make_node("MaxPool", ["x"], ["y"], name="pool", **attrs)],
        [vi("x", [1, 2, 5, 5])],
        [vi("y", None)],
    )


def _transpose(perm) -> onnx.ModelProto:
    return _chain(
        [helper.make_node("Transpose", ["x"], ["y"], name="transpose", perm=perm)],
        [vi("x", [1, 4])],
        [vi("y", None)],
    )


def _concat(axis) -> onnx.ModelProto:
    return _chain(
        [helper.make_node("Concat", ["x", "x"], ["y"], name="concat", axis=axis)],
        [vi("x", [1, 4])],
        [vi("y", None)],
    )


def _conv_float_group() -> onnx.ModelProto:
    m = _conv()
    m.graph.node[0].attribute.append(helper.make_attribute("group", 1.5))
    return m


def _shape_cases() -> list[Case]:
    return [
        Case("conv-weight-channels", _compile(_conv(w_shape=(4, 3, 3, 3))), ("conv",)),
        Case("conv-groups-mismatch", _compile(_conv(group=3)), ("conv",)),
        Case("conv-group-zero", _compile(_conv(group=0)), ("conv",)),
        Case("conv-group-negative", _compile(_conv(group=-2)), ("conv",)),
        Case(
            "conv-group-not-dividing-k",
            _compile(_conv(w_shape=(3, 1, 3, 3), b_len=3, group=2)),
            ("conv",),
        ),
        Case("conv-group-float", _compile(_conv_float_group()), ("conv",)),
        Case("conv-bias-too-long", _compile(_conv(b_len=5)), ("conv",)),
        Case("conv-bias-too-short", _compile(_conv(b_len=1)), ("conv",)),
        Case("conv-weight-rank-3", _compile(_conv(w_shape=(4, 2, 3))), ("conv",)),
        Case("conv-kernel-larger-than-input", _compile(_conv(w_shape=(4, 2, 7, 7))), ("conv",)),
        Case("conv-stride-zero", _compile(_conv(strides=[0, 1])), ("conv",)),
        Case("conv-dilation-zero", _compile(_conv(dilations=[0, 1])), ("conv",)),
        Case("conv-pads-negative", _compile(_conv(pads=[-3, -3, -3, -3])), ("conv",)),
        Case("conv-pads-three", _compile(_conv(pads=[1, 1, 1])), ("conv",)),
        Case("conv-declared-output-lies", _compile(_conv(y_shape=[1, 4, 5, 5])), ("conv",)),
        Case("matmul-declared-output-lies", _compile(_matmul_lie()), ("'mm'",)),
        Case("matmul-k-mismatch", _compile(_matmul_k_mismatch()), ("mm",)),
        Case("gemm-shape-mismatch", _compile(_gemm_mismatch()), ("gemm",)),
        Case("add-broadcast-mismatch", _compile(_add_mismatch()), ("add",)),
        Case("reshape-count-differs", _compile(_reshape([1, 5])), ("reshape",)),
        Case("reshape-count-differs-bigger", _compile(_reshape([2, 4])), ("reshape",)),
        Case("reshape-two-minus-ones", _compile(_reshape([-1, -1])), ("reshape",)),
        Case("reshape-negative", _compile(_reshape([-4, -1])), ("reshape",)),
        Case("maxpool-kernel-zero", _compile(_pool(kernel_shape=[0, 0])), ("pool",)),
        Case("maxpool-kernel-too-big", _compile(_pool(kernel_shape=[9, 9])), ("pool",)),
        Case("maxpool-no-kernel", _compile(_pool()), ("pool",)),
        Case("transpose-bad-perm", _compile(_transpose([0, 0])), ("transpose",)),
        Case("transpose-perm-out-of-range", _compile(_transpose([0, 5])), ("transpose",)),
        Case("concat-axis-out-of-range", _compile(_concat(7)), ("concat",)),
    ]


# -- tensor data that lies about its size ----------------------------------------------------


def _raw_short() -> onnx.ModelProto:
    m = matmul_model()
    m.graph.initializer[0].raw_data = m.graph.initializer[0].raw_data[:20]
    return m


def _raw_short_big() -> onnx.ModelProto:
    """Dims of 1 GiB of floats with 8 bytes behind them: raw data shorter than its dims."""
    m = _chain(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
        [vi("x", [1, 16384])],
        [vi("y", None)],
        [tensor("w", np.ones((2,), np.float32))],
    )
    w = m.graph.initializer[0]
    del w.dims[:]
    w.dims.extend([16384, 16384])
    return m


def _float_data_short() -> onnx.ModelProto:
    m = matmul_model()
    w = m.graph.initializer[0]
    w.ClearField("raw_data")
    w.float_data.extend([1.0, 2.0])
    return m


def _negative_dim() -> onnx.ModelProto:
    m = matmul_model()
    m.graph.initializer[0].dims[0] = -4
    return m


def _huge_input() -> onnx.ModelProto:
    """A declared input of 56 GiB: refused before anything is allocated."""
    return _chain(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        [vi("x", [1, 3, 100_000, 50_000])],
        [vi("y", None)],
    )


def _overflowing_input() -> onnx.ModelProto:
    return _chain(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        [vi("x", [2**40, 2**40, 2**40])],
        [vi("y", None)],
    )


def _external(length: int | None, name: str = "w.bin"):
    """The weight in an external data file `name` holding `length` bytes (None: no file)."""

    def write(d: Path) -> Path:
        m = matmul_model()
        w = m.graph.initializer[0]
        w.ClearField("raw_data")
        w.data_location = TensorProto.EXTERNAL
        for key, value in (("location", name), ("offset", "0"), ("length", str(W_BYTES))):
            entry = w.external_data.add()
            entry.key, entry.value = key, value
        if length is not None:
            (d / name).write_bytes(bytes(length))
        return save_model(m, d / "m.onnx")

    return write


W_BYTES = 4 * 12


def _external_escapes(d: Path) -> Path:
    m = matmul_model()
    w = m.graph.initializer[0]
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    entry = w.external_data.add()
    entry.key, entry.value = "location", "../../../../etc/passwd"
    return save_model(m, d / "m.onnx")


def _data_cases() -> list[Case]:
    return [
        Case("raw-data-short", _compile(_raw_short()), ("'w'",)),
        Case("raw-data-short-huge-dims", _compile(_raw_short_big()), ("'w'",), guarded=True),
        Case("float-data-short", _compile(_float_data_short()), ("'w'",)),
        Case("initializer-negative-dim", _compile(_negative_dim()), ("'w'",)),
        Case("huge-declared-input", _compile(_huge_input()), ("'x'",), guarded=True),
        Case("overflowing-declared-input", _compile(_overflowing_input()), ("'x'",), guarded=True),
        Case("external-data-missing", _compile(_external(None)), ("'w'", "w.bin", "is missing")),
        Case("external-data-too-short", _compile(_external(10)), ("'w'",)),
        Case("external-data-empty", _compile(_external(0)), ("'w'",)),
        Case("external-data-directory", _compile(_external_dir), ("w.bin",)),
        Case("external-data-outside", _compile(_external_escapes), ("m.onnx",)),
        Case(
            "simulate-reshape-count-differs",
            lambda d: ["simulate", str(model_file(d, _reshape([1, 5])))],
            ("reshape",),
        ),
        Case(
            "simulate-two-producers",
            lambda d: ["simulate", str(model_file(d, _two_producers()))],
            ("'h'",),
        ),
    ]


def _external_dir(d: Path) -> Path:
    path = _external(None)(d)
    (d / "w.bin").mkdir()
    return path


CASES = _file_cases() + _graph_cases() + _shape_cases() + _data_cases()


@pytest.mark.parametrize("case", params(CASES))
def test_bad_model(case: Case, tmp_path: Path, capsys) -> None:
    run_case(case, tmp_path / "case", capsys)
