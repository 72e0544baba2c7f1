"""The bad-input corpus (issue 13): `accelflow-opt` (and `accelflow compile` of a .mlir stage)
given missing, unreadable or wrong files, an output that is its input or cannot be written, and
accel ops written by hand with operands missing. Each must be one `accelflow-opt: error:` line
(`error:` for accelflow), exit 2, every file unchanged (harness: test_bad_inputs.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_bad_inputs import Case, fifo, not_utf8, params, run_case

_CONV_ATTRS = (
    'layer_name = "/conv", strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, '
    "dilations = array<i64: 1, 1>, group = 1 : i64"
)


def _module(
    body: str, args: str = "%x: tensor<1x2x4x4xf32>", result: str = "tensor<1x2x4x4xf32>"
) -> str:
    return (
        "builtin.module {\n"
        f"  func.func @main({args}) -> {result} {{\n"
        '    %w = accel.constant {tensor_name = "w", value = dense<1.0> : tensor<2x2x1x1xf32>} '
        ": tensor<2x2x1x1xf32>\n"
        f"{body}"
        f"    func.return %y : {result}\n"
        "  }\n"
        "}\n"
    )


GOOD = _module(
    f"    %y = accel.conv2d %x, %w {{{_CONV_ATTRS}}} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) "
    "-> tensor<1x2x4x4xf32>\n"
)
CONV_ONE_OPERAND = _module(
    f"    %y = accel.conv2d %x {{{_CONV_ATTRS}}} : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>\n"
)
CONV_NO_OPERANDS = _module(f"    %y = accel.conv2d {{{_CONV_ATTRS}}} : () -> tensor<1x2x4x4xf32>\n")
CONV_GENERIC_ONE_OPERAND = _module(
    f'    %y = "accel.conv2d"(%x) <{{{_CONV_ATTRS}}}> : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>\n'
)
CONV_BAD_BIAS = _module(
    '    %b = accel.constant {tensor_name = "b", value = dense<1.0> : tensor<3xf32>} : tensor<3xf32>\n'
    f"    %y = accel.conv2d %x, %w, %b {{{_CONV_ATTRS}}} : (tensor<1x2x4x4xf32>, "
    "tensor<2x2x1x1xf32>, tensor<3xf32>) -> tensor<1x2x4x4xf32>\n"
)
CONV_GROUP_ZERO = GOOD.replace("group = 1 : i64", "group = 0 : i64")
CONV_RESULT_LIES = _module(
    f"    %y = accel.conv2d %x, %w {{{_CONV_ATTRS}}} : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) "
    "-> tensor<1x2x5x5xf32>\n",
    result="tensor<1x2x5x5xf32>",
)
_MM = "%a: tensor<3x2xf32>"
MATMUL_ONE_OPERAND = _module(
    '    %y = accel.matmul %a {layer_name = "/mm"} : (tensor<3x2xf32>) -> tensor<3x2xf32>\n',
    _MM,
    "tensor<3x2xf32>",
)
MATMUL_NO_OPERANDS = _module(
    '    %y = accel.matmul {layer_name = "/mm"} : () -> tensor<3x2xf32>\n', _MM, "tensor<3x2xf32>"
)
MATMUL_FOUR_OPERANDS = _module(
    '    %m = accel.constant {tensor_name = "m", value = dense<1.0> : tensor<2x2xf32>} : tensor<2x2xf32>\n'
    '    %y = accel.matmul %a, %m, %m, %m {layer_name = "/mm"} : (tensor<3x2xf32>, '
    "tensor<2x2xf32>, tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<3x2xf32>\n",
    _MM,
    "tensor<3x2xf32>",
)
MATMUL_K_MISMATCH = _module(
    '    %m = accel.constant {tensor_name = "m", value = dense<1.0> : tensor<5x2xf32>} : tensor<5x2xf32>\n'
    '    %y = accel.matmul %a, %m {layer_name = "/mm"} : (tensor<3x2xf32>, tensor<5x2xf32>) '
    "-> tensor<3x2xf32>\n",
    _MM,
    "tensor<3x2xf32>",
)
UNKNOWN_OP = _module(
    '    %y = "accel.frobnicate"(%x) : (tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>\n'
)
SYNTAX_ERROR = "builtin.module {\n  func.func @main( {\n"
UNDEFINED_VALUE = GOOD.replace("accel.conv2d %x, %w", "accel.conv2d %nope, %w")


def _file(text: str | bytes, name: str = "in.mlir"):
    def write(d: Path) -> Path:
        path = d / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path

    return write


def _opt(make, *extra: str):
    return lambda d: [str(make(d)), *extra]


def _opt_o(make, output):
    return lambda d: [str(make(d)), "-o", str(output(d))]


def _compile_mlir(text: str):
    return lambda d: ["compile", str(_file(text)(d))]


def _opt_case(name: str, build, says: tuple[str, ...] = (), guarded: bool = False) -> Case:
    return Case(f"opt-{name}", build, says, tool="opt", guarded=guarded)


def _opt_cases() -> list[Case]:
    good = _file(GOOD)
    return [
        _opt_case("missing-input", lambda d: [str(d / "nope.mlir")], ("nope.mlir",)),
        _opt_case("input-directory", lambda d: [str(d)], ("not a regular file",)),
        _opt_case("input-fifo", lambda d: [str(fifo(d, "in.mlir"))], ("in.mlir",), guarded=True),
        _opt_case("input-dev-zero", lambda d: ["/dev/zero"], ("/dev/zero",)),
        _opt_case("input-not-utf8", lambda d: [str(not_utf8(d, "in.mlir"))], ()),
        _opt_case(
            "output-is-input", lambda d: [str(good(d)), "-o", str(d / "in.mlir")], ("in.mlir",)
        ),
        _opt_case("output-directory", _opt_o(good, lambda d: d), ("-o",)),
        _opt_case("output-no-folder", _opt_o(good, lambda d: d / "no" / "out.mlir"), ("-o",)),
        _opt_case(
            "output-under-a-file", _opt_o(good, lambda d: d / "in.mlir" / "out.mlir"), ("-o",)
        ),
        _opt_case("output-in-proc", _opt_o(good, lambda d: "/proc/accelflow-out.mlir"), ("/proc",)),
        _opt_case("output-dev-dir", _opt_o(good, lambda d: "/dev"), ("-o",)),
        _opt_case("conv2d-one-operand", _opt(_file(CONV_ONE_OPERAND)), ("/conv",)),
        _opt_case("conv2d-no-operands", _opt(_file(CONV_NO_OPERANDS)), ("/conv",)),
        _opt_case("conv2d-generic-one-operand", _opt(_file(CONV_GENERIC_ONE_OPERAND)), ("/conv",)),
        _opt_case("conv2d-bad-bias", _opt(_file(CONV_BAD_BIAS)), ("/conv",)),
        _opt_case("conv2d-group-zero", _opt(_file(CONV_GROUP_ZERO)), ("/conv",)),
        _opt_case("conv2d-result-lies", _opt(_file(CONV_RESULT_LIES)), ("/conv",)),
        _opt_case("matmul-one-operand", _opt(_file(MATMUL_ONE_OPERAND)), ("/mm",)),
        _opt_case("matmul-no-operands", _opt(_file(MATMUL_NO_OPERANDS)), ("/mm",)),
        _opt_case("matmul-four-operands", _opt(_file(MATMUL_FOUR_OPERANDS)), ("/mm",)),
        _opt_case("matmul-k-mismatch", _opt(_file(MATMUL_K_MISMATCH)), ("/mm",)),
        _opt_case(
            "conv2d-one-operand-then-pass",
            _opt(_file(CONV_ONE_OPERAND), "-p", "accel-map"),
            ("/conv",),
        ),
        _opt_case("unknown-op", _opt(_file(UNKNOWN_OP)), ("accel.frobnicate",)),
        _opt_case("syntax-error", _opt(_file(SYNTAX_ERROR)), ()),
        _opt_case("undefined-value", _opt(_file(UNDEFINED_VALUE)), ("nope",)),
        _opt_case("unknown-pass", _opt(good, "-p", "no-such-pass"), ("no-such-pass",)),
        _opt_case("target-directory", lambda d: [str(good(d)), "--target", str(d)], ()),
        _opt_case(
            "target-unknown", lambda d: [str(good(d)), "--target", "tpu-unlike"], ("tpu-unlike",)
        ),
    ]


def _accelflow_mlir_cases() -> list[Case]:
    return [
        Case("compile-mlir-conv2d-one-operand", _compile_mlir(CONV_ONE_OPERAND), ("/conv",)),
        Case("compile-mlir-matmul-one-operand", _compile_mlir(MATMUL_ONE_OPERAND), ("/mm",)),
        Case(
            "compile-mlir-not-utf8",
            lambda d: ["compile", str(not_utf8(d, "in.mlir"))],
            ("in.mlir",),
        ),
        Case("compile-mlir-syntax-error", _compile_mlir(SYNTAX_ERROR), ("in.mlir",)),
        Case(
            "compile-mlir-fifo",
            lambda d: ["compile", str(fifo(d, "in.mlir"))],
            ("in.mlir",),
            guarded=True,
        ),
    ]


CASES = _opt_cases() + _accelflow_mlir_cases()


@pytest.mark.parametrize("case", params(CASES))
def test_bad_opt_input(case: Case, tmp_path: Path, capsys) -> None:
    run_case(case, tmp_path / "case", capsys)
