"""The bad-input corpus (issue 13), its harness: every case is a command line that must end in
exit code 2 with exactly one `error:` line on stderr (for accelflow-opt, `accelflow-opt: error:`),
no traceback, and every file the case made (its inputs) unchanged, bytes and mtime, with nothing
new written beside them.

A case is a `Case(id, build, ...)`: `build(folder)` writes the case's files into an empty
`folder` and returns the argument list. Cases that could hang (a FIFO) or allocate (a huge
declared size, /dev/zero) run `guarded`: in a subprocess under a timeout and an address-space
limit, so a regression fails instead of hanging CI. The others call `main` in-process.

The cases themselves are in test_bad_inputs_*.py, by kind; this file's own are the paths and
numbers of the command line (--inputs, --input-shape, --seed, --rtol, --time, -o, ...).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

# A guarded case may take this long and map this much memory (the importer and the CLI's
# imports need ~1 GiB of address space; a 56 GiB allocation is what it must never try).
GUARD_SECONDS = 60
GUARD_ADDRESS_SPACE = 3 << 30
OPSET = 17


@dataclass(frozen=True)
class Case:
    """One bad input: `build(folder) -> argv`; `says` are texts the error line must hold (the
    file, the field or the node it names)."""

    id: str
    build: Callable[[Path], list[str]]
    says: tuple[str, ...] = ()
    tool: str = "accelflow"  # or "opt" (compiler.opt.main)
    guarded: bool = False

    def __repr__(self) -> str:
        return self.id


def params(cases: Sequence[Case]) -> list:
    """pytest params of `cases`, each with its id, guarded ones marked."""
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    return [pytest.param(c, id=c.id) for c in cases]


# --------------------------------------------------------------------------------------------
# Running a case
# --------------------------------------------------------------------------------------------


def _snapshot(folder: Path) -> dict[str, tuple[str, bytes | None, int]]:
    """Every entry under `folder`: (kind, bytes of a regular file, mtime_ns). A FIFO is never
    opened (that would block)."""
    seen = {}
    for path in sorted(folder.rglob("*")):
        st = path.lstat()
        if stat.S_ISREG(st.st_mode):
            seen[str(path.relative_to(folder))] = ("file", path.read_bytes(), st.st_mtime_ns)
        elif stat.S_ISDIR(st.st_mode):
            seen[str(path.relative_to(folder))] = ("dir", None, st.st_mtime_ns)
        else:
            seen[str(path.relative_to(folder))] = ("other", None, st.st_mtime_ns)
    return seen


# The child limits its own address space first thing (a preexec_fn would make subprocess
# fork the test process, which JAX, once imported by an in-process case, warns against).
_CHILD = (
    "import resource, sys\n"
    "limit = int(sys.argv[1])\n"
    "resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
    "resource.setrlimit(resource.RLIMIT_CORE, (0, 0))\n"
    "tool = sys.argv[2]\n"
    "if tool == 'opt':\n"
    "    from compiler.opt import main\n"
    "else:\n"
    "    from accelflow.cli import main\n"
    "sys.exit(main(sys.argv[3:]))\n"
)


def _run_guarded(tool: str, argv: list[str], folder: Path) -> tuple[int, str, str]:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "JAX_PLATFORMS": "cpu", "COLUMNS": "200"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(GUARD_ADDRESS_SPACE), tool, *argv],
            capture_output=True,
            text=True,
            timeout=GUARD_SECONDS,
            cwd=folder,
            env=env,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"hung: no answer in {GUARD_SECONDS} s")
    return done.returncode, done.stdout, done.stderr


def _run_in_process(tool: str, argv: list[str], capsys) -> tuple[int, str, str]:
    if tool == "opt":
        from compiler.opt import main
    else:
        from accelflow.cli import main
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def run_case(case: Case, folder: Path, capsys) -> None:
    """Build `case` in `folder`, run it, and assert what every bad input must give."""
    folder.mkdir(parents=True, exist_ok=True)
    argv = [str(a) for a in case.build(folder)]
    before = _snapshot(folder)
    if case.guarded:
        code, out, err = _run_guarded(case.tool, argv, folder)
    else:
        cwd = os.getcwd()
        os.chdir(folder)
        try:
            code, out, err = _run_in_process(case.tool, argv, capsys)
        finally:
            os.chdir(cwd)
    prefix = "accelflow-opt: error:" if case.tool == "opt" else "error:"
    shown = f"exit {code}\n--- stdout\n{out}\n--- stderr\n{err}"
    assert "Traceback" not in out + err, shown
    errors = [line for line in err.splitlines() if line.startswith(prefix)]
    assert len(errors) == 1, shown
    assert not [line for line in err.splitlines() if line.strip() and "error" in line.lower()][
        1:
    ], shown
    assert code == 2, shown
    for text in case.says:
        assert text in errors[0], f"{text!r} not in the error line\n{shown}"
    after = _snapshot(folder)
    assert after == before, f"the case's files changed: {sorted(set(after) ^ set(before))}"


# --------------------------------------------------------------------------------------------
# Small models (onnx.helper; nothing is downloaded)
# --------------------------------------------------------------------------------------------


def save_model(model: onnx.ModelProto, path: Path) -> Path:
    path.write_bytes(model.SerializeToString())
    return path


def make_model(
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
    initializers: Sequence[onnx.TensorProto] = (),
    opset: int = OPSET,
) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def vi(name: str, shape: Sequence[int | str] | None, elem: int = TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, None if shape is None else list(shape))


def tensor(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(array), name)


W = (np.arange(12, dtype=np.float32).reshape(4, 3) / 10) - 0.5


def matmul_model() -> onnx.ModelProto:
    """y[1,3] = x[1,4] @ w[4,3]."""
    return make_model(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
        [vi("x", [1, 4])],
        [vi("y", [1, 3])],
        [tensor("w", W)],
    )


def conv_model(**attrs) -> onnx.ModelProto:
    """y[1,4,3,3] = Conv(x[1,2,5,5], w[4,2,3,3], b[4])."""
    w = np.ones((4, 2, 3, 3), np.float32)
    return make_model(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv", **attrs)],
        [vi("x", [1, 2, 5, 5])],
        [vi("y", None)],
        [tensor("w", w), tensor("b", np.zeros(4, np.float32))],
    )


def model_file(folder: Path, model: onnx.ModelProto | None = None, name: str = "m.onnx") -> Path:
    return save_model(model if model is not None else matmul_model(), folder / name)


def fifo(folder: Path, name: str) -> Path:
    path = folder / name
    os.mkfifo(path)
    return path


def not_utf8(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_bytes(b"rows: 4\n\xff\xfe\xfa bad \x80\n")
    return path


def deep_json(depth: int = 100_000) -> str:
    return "[" * depth + "]" * depth


# --------------------------------------------------------------------------------------------
# This file's cases: the command line's paths and numbers
# --------------------------------------------------------------------------------------------


def _npy(folder: Path, name: str, array: np.ndarray) -> Path:
    path = folder / name
    with open(path, "wb") as f:
        np.save(f, array)
    return path


def _simulate(folder: Path, *extra: object) -> list[str]:
    return ["simulate", str(model_file(folder)), *map(str, extra)]


def _two_input_model() -> onnx.ModelProto:
    return make_model(
        [helper.make_node("Add", ["a", "b"], ["y"], name="add")],
        [vi("a", [1, 4]), vi("b", [1, 4])],
        [vi("y", [1, 4])],
    )


def _inputs_cases() -> list[Case]:
    def npy(array):
        return lambda d: _simulate(d, "--inputs", _npy(d, "x.npy", array))

    def npz(**arrays):
        def build(d):
            np.savez(d / "x.npz", **arrays)
            return _simulate(d, "--inputs", d / "x.npz")

        return build

    def text(content: bytes, name: str = "x.npy"):
        def build(d):
            (d / name).write_bytes(content)
            return _simulate(d, "--inputs", d / name)

        return build

    def two_inputs_npy(d):
        m = save_model(_two_input_model(), d / "two.onnx")
        return ["simulate", m, "--inputs", _npy(d, "x.npy", np.ones((1, 4), np.float32))]

    def obj_npy(d):
        path = d / "x.npy"
        np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
        return _simulate(d, "--inputs", path)

    def nan_weight(d):
        w = W.copy()
        w[1, 2] = np.nan
        model = make_model(
            [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
            [vi("x", [1, 4])],
            [vi("y", [1, 3])],
            [tensor("w", w)],
        )
        return ["simulate", save_model(model, d / "nan.onnx"), "--check"]

    return [
        # Non-finite values make --check meaningless: the tensor is named, exit 2 (issue 13).
        Case(
            "check-input-inf",
            lambda d: _simulate(
                d,
                "--check",
                "--inputs",
                _npy(d, "x.npy", np.array([[1, np.inf, 0, 2]], np.float32)),
            ),
            ("input 'x'", "non-finite", "[0, 1]"),
        ),  # fmt: skip
        Case(
            "check-input-nan",
            lambda d: _simulate(
                d, "--check", "--inputs", _npy(d, "x.npy", np.full((1, 4), np.nan, np.float32))
            ),
            ("input 'x'", "4 non-finite"),
        ),  # fmt: skip
        Case("check-weight-nan", nan_weight, ("weight 'w'", "[1, 2]")),
        Case("inputs-npy-strings", npy(np.array([["a", "b", "c", "d"]])), ("x.npy",)),
        Case("inputs-npy-bytes", npy(np.array([[b"a", b"b", b"c", b"d"]])), ("x.npy",)),
        Case("inputs-npy-complex", npy(np.ones((1, 4), np.complex64)), ("x.npy",)),
        Case("inputs-npy-structured", npy(np.zeros((1, 4), dtype=[("a", "f4")])), ("x.npy",)),
        Case("inputs-npy-object-pickle", obj_npy, ("x.npy",)),
        Case("inputs-npy-wrong-shape", npy(np.ones((2, 4), np.float32)), ("x.npy", "'x'")),
        Case("inputs-npy-wrong-rank", npy(np.ones((4,), np.float32)), ("x.npy", "'x'")),
        Case("inputs-npy-scalar", npy(np.float32(1.0)), ("x.npy",)),
        Case("inputs-npy-empty-array", npy(np.ones((0, 4), np.float32)), ("x.npy",)),
        Case("inputs-npz-unknown-name", npz(z=np.ones((1, 4), np.float32)), ("x.npz", "'z'")),
        Case("inputs-npz-empty", npz(), ("x.npz", "'x'")),
        Case("inputs-npz-strings", npz(x=np.array([["a", "b", "c", "d"]])), ("x.npz",)),
        Case("inputs-npy-for-two-inputs", two_inputs_npy, ("x.npy",)),
        Case("inputs-empty-file", text(b""), ("x.npy",)),
        Case("inputs-text-file", text(b"1 2 3 4\n"), ("x.npy",)),
        Case("inputs-truncated-npy", text(b"\x93NUMPY\x01\x00v\x00{'descr': '<f4'"), ("x.npy",)),
        Case("inputs-missing", lambda d: _simulate(d, "--inputs", d / "nope.npy"), ("nope.npy",)),
        Case("inputs-directory", lambda d: _simulate(d, "--inputs", d), ("not a regular file",)),
        Case(
            "inputs-fifo",
            lambda d: _simulate(d, "--inputs", fifo(d, "x.npy")),
            ("x.npy",),
            guarded=True,
        ),
        Case("inputs-dev-zero", lambda d: _simulate(d, "--inputs", "/dev/zero"), ("/dev/zero",)),
        Case("inputs-model-itself", lambda d: _simulate(d, "--inputs", d / "m.onnx"), ("m.onnx",)),
    ]


def _shape_cases() -> list[Case]:
    def shape(text: str, says: tuple[str, ...] = ("input shape",)) -> Case:
        return Case(
            f"input-shape-{text[:24].encode('ascii', 'replace').decode() or 'empty'}",
            lambda d: ["compile", model_file(d), "--input-shape", text],
            says,
        )

    return [
        shape("x=99999999999999999999x4"),
        shape("x=1x9223372036854775808"),
        shape("x=4294967296x4294967296", ("--input-shape",)),
        shape("x=-1x4"),
        shape("x=0x4"),
        shape("x=1x0"),
        shape("x=1x4.5"),
        shape("x=garbage"),
        shape("x="),
        shape("=1x4"),
        shape(""),
        shape("x=1x4,x=1x4"),
        shape("1x4,1x4"),
        shape("nope=1x4", ("'nope'",)),
        shape("x=1x4x1", ("'x'",)),
        shape("x=1x" + "9" * 400),
        shape("x=１x4"),  # a full-width digit: str.isdigit says yes, int() too
    ]


def _number_cases() -> list[Case]:
    def sim(*extra: str, says: tuple[str, ...] = ()) -> Case:
        return Case(
            "simulate" + "".join(extra).replace(" ", ""), lambda d: _simulate(d, *extra), says
        )

    def tune(*extra: str, says: tuple[str, ...] = ()) -> Case:
        return Case(
            "tune" + "".join(extra).replace(" ", ""),
            lambda d: ["tune", model_file(d), "-o", d / "db.json", *extra],
            says,
        )

    return [
        sim("--seed", "-1", says=("--seed",)),
        sim("--seed", str(2**64), says=("--seed",)),
        sim("--rtol", "-1", says=("--rtol",)),
        sim("--rtol", "nan", says=("--rtol",)),
        sim("--rtol", "inf", says=("--rtol",)),
        sim("--rtol=-inf", says=("--rtol",)),
        tune("--time", "nan", says=("--time",)),
        tune("--time", "inf", says=("--time",)),
        tune("--time", "-1", says=("--time",)),
        tune("--time", "0", says=("--time",)),
        tune("--budget", "0", says=("--budget",)),
        tune("--budget", "nan", says=("--budget",)),
        tune("--budget", "1e99", says=("--budget",)),
        tune("--seed", "-1", says=("--seed",)),
        tune("--seed", str(2**64), says=("--seed",)),
        tune("--top-k", "-1", says=("--top-k",)),
        tune("--batch", "0", says=("--batch",)),
        tune("--max-tiles", "0", says=("--max-tiles",)),
        tune("--hw", "--hw-budget", "0", says=("--hw-budget",)),
        tune("--hw", "--pe-budget", "-4", says=("--pe-budget",)),
        tune("--hw", "--buffer-budget", "nan", says=("--buffer-budget",)),
        tune("--hw", "--buffer-budget", "inf", says=("--buffer-budget",)),
        tune("--strategy", "nope", says=("nope",)),
        tune("--axes", "nope", says=("nope",)),
        # argparse's own errors: one line too, naming the subcommand and where to look.
        sim("--seed", "abc", says=("accelflow simulate", "--seed", "'abc'")),
        sim("--target", says=("--target", "expected one argument")),
        Case("argparse-unknown-command", lambda d: ["simulat", model_file(d)], ("'simulat'",)),
        Case("argparse-no-command", lambda d: [], ("COMMAND",)),
        Case("argparse-db-no-action", lambda d: ["db"], ("accelflow db", "ACTION")),
    ]


def _output_cases() -> list[Case]:
    def compile_out(d):
        return ["compile", model_file(d), "-o", d / "m.onnx"]

    def compile_out_file(d):
        (d / "notes.txt").write_text("keep me\n")
        return ["compile", model_file(d), "-o", d / "notes.txt"]

    def save(target_of: Callable[[Path], object], *extra: str):
        return lambda d: _simulate(d, "--save-outputs", target_of(d), *extra)

    def save_inputs(d):
        x = _npy(d, "x.npy", np.ones((1, 4), np.float32))
        return _simulate(d, "--inputs", x, "--save-outputs", x)

    def save_mappings(d):
        (d / "maps.json").write_text("{}\n")
        return _simulate(d, "--mappings", d / "maps.json", "--save-outputs", d / "maps.json")

    def save_target(d):
        (d / "t.yaml").write_text("base: tpu-like\n")
        return _simulate(d, "--target", d / "t.yaml", "--save-outputs", d / "t.yaml")

    def tune_out(dest: Callable[[Path], object], *extra: str):
        return lambda d: ["tune", model_file(d), "-o", dest(d), *extra]

    def export_out(dest: Callable[[Path], object]):
        def build(d):
            (d / "notes.txt").write_text("keep me\n")
            return ["export", model_file(d), "--format", "scalesim", "-o", dest(d)]

        return build

    def merge_out(d):
        (d / "a.json").write_text('{"format": "accelflow-mappings", "version": 2}\n')
        return ["db", "merge", d / "a.json", "-o", d / "a.json"]

    def merge_dir(d):
        (d / "a.json").write_text('{"format": "accelflow-mappings", "version": 2}\n')
        return ["db", "merge", d / "a.json", "-o", d]

    def merge_under_file(d):
        (d / "a.json").write_text('{"format": "accelflow-mappings", "version": 2}\n')
        return ["db", "merge", d / "a.json", "-o", d / "a.json" / "c.json"]

    return [
        Case("compile-o-the-model", compile_out, ("m.onnx",)),
        Case("compile-o-a-file", compile_out_file, ("notes.txt",)),
        Case(
            "compile-o-under-a-file",
            lambda d: ["compile", model_file(d), "-o", d / "m.onnx" / "out"],
            ("m.onnx",),
        ),
        Case(
            "compile-o-in-proc",
            lambda d: ["compile", model_file(d), "-o", "/proc/accelflow-out"],
            ("/proc",),
        ),
        Case("save-outputs-directory", save(lambda d: d), ("--save-outputs",)),
        Case("save-outputs-the-model", save(lambda d: d / "m.onnx"), ("m.onnx",)),
        Case("save-outputs-the-inputs", save_inputs, ("x.npy",)),
        Case("save-outputs-the-mappings", save_mappings, ("maps.json",)),
        Case("save-outputs-the-target", save_target, ("t.yaml",)),
        Case("save-outputs-no-folder", save(lambda d: d / "no" / "y.npz"), ("--save-outputs",)),
        Case(
            "save-outputs-under-a-file", save(lambda d: d / "m.onnx" / "y.npz"), ("--save-outputs",)
        ),
        Case("save-outputs-in-proc", save(lambda d: "/proc/accelflow-y.npz"), ("--save-outputs",)),
        Case("save-outputs-dev-null-dir", save(lambda d: "/dev"), ("--save-outputs",)),
        Case("tune-o-the-model", tune_out(lambda d: d / "m.onnx"), ("m.onnx",)),
        Case("tune-o-directory", tune_out(lambda d: d), ("-o",)),
        Case("tune-o-under-a-file", tune_out(lambda d: d / "m.onnx" / "db.json"), ("-o",)),
        Case("tune-o-in-proc", tune_out(lambda d: "/proc/accelflow-db.json"), ("/proc",)),
        Case(
            "tune-log-the-model",
            lambda d: ["tune", model_file(d), "-o", d / "db.json", "--log", d / "m.onnx"],
            ("m.onnx",),
        ),
        Case(
            "tune-log-directory",
            lambda d: ["tune", model_file(d), "-o", d / "db.json", "--log", d],
            ("--log",),
        ),
        Case(
            "tune-plot-the-model",
            lambda d: ["tune", model_file(d), "-o", d / "db.json", "--plot", d / "m.onnx"],
            ("m.onnx",),
        ),
        Case(
            "tune-o-is-log",
            lambda d: ["tune", model_file(d), "-o", d / "a.json", "--log", d / "a.json"],
            ("a.json",),
        ),
        Case("export-o-the-model", export_out(lambda d: d / "m.onnx"), ("m.onnx",)),
        Case("export-o-a-file", export_out(lambda d: d / "notes.txt"), ("notes.txt",)),
        Case("export-o-under-a-file", export_out(lambda d: d / "m.onnx" / "out"), ("m.onnx",)),
        Case("db-merge-o-an-input", merge_out, ("a.json",)),
        Case("db-merge-o-directory", merge_dir, ("-o",)),
        Case("db-merge-o-under-a-file", merge_under_file, ("-o",)),
    ]


CASES = _inputs_cases() + _shape_cases() + _number_cases() + _output_cases()


@pytest.mark.parametrize("case", params(CASES))
def test_bad_command_line(case: Case, tmp_path: Path, capsys) -> None:
    run_case(case, tmp_path / "case", capsys)
