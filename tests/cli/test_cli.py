"""The `accelflow` CLI: the user's view. Bad input ends with one line and exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from accelflow import models
from accelflow.cli import main


@pytest.fixture(scope="module")
def lenet_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "lenet.onnx"
    onnx.save(models.lenet(), str(path))
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *needles):
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_simulate_check_prints_table_and_passes(capsys, lenet_path):
    code, out, err = run(capsys, "simulate", lenet_path, "--target", "tpu-like-small", "--check")
    assert code == 0, err
    assert "check passed" in out
    assert "/conv1/Conv" in out or "conv" in out.lower()


def test_simulate_json_is_parseable(capsys, lenet_path):
    code, out, _ = run(
        capsys, "simulate", lenet_path, "--target", "tpu-like", "--set", "rows=16", "--json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["total"]["cycles"] > 0
    assert any(layer["on_accel"] for layer in data["layers"])


def test_set_overrides_change_cycles(capsys, lenet_path):
    cycles = {}
    for rows in (8, 32):
        code, out, _ = run(
            capsys,
            "simulate",
            lenet_path,
            "--set",
            f"rows={rows}",
            "--set",
            "dataflow=os",
            "--json",
        )
        assert code == 0
        cycles[rows] = json.loads(out)["total"]["cycles"]
    assert cycles[8] != cycles[32]


def test_compile_writes_every_level(capsys, lenet_path, tmp_path):
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "compile", lenet_path, "--target", "tpu-like", "-o", out_dir)
    assert code == 0, err
    names = sorted(p.name for p in out_dir.iterdir())
    assert "program.s" in names and "program.npz" in names and "program.json" in names
    mlir = sorted(p for p in names if p.endswith(".mlir"))
    assert mlir[0].startswith("0-onnx") and any("accel-emit" in p for p in mlir)
    assert "accel_isa.compute" in (out_dir / [p for p in mlir if "accel-emit" in p][0]).read_text()
    assert "compute" in (out_dir / "program.s").read_text()


def test_compile_emit_asm_only(capsys, lenet_path, tmp_path):
    code, _, _ = run(capsys, "compile", lenet_path, "-o", tmp_path, "--emit", "asm")
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["program.s"]


def test_targets_lists_presets(capsys):
    code, out, _ = run(capsys, "targets")
    assert code == 0 and "tpu-like" in out and "maeri-64" in out and "maeri-128" in out


def test_inputs_and_save_outputs_round_trip(capsys, lenet_path, tmp_path):
    x = np.random.default_rng(3).standard_normal((1, 1, 28, 28)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    code, _, err = run(
        capsys,
        "simulate",
        lenet_path,
        "--inputs",
        tmp_path / "x.npy",
        "--save-outputs",
        tmp_path / "y.npz",
        "--check",
    )
    assert code == 0, err
    saved = np.load(tmp_path / "y.npz")
    assert saved[saved.files[0]].shape == (1, 10)


def test_check_failure_exits_1(capsys, lenet_path, monkeypatch):
    import accelflow.api

    real = accelflow.api.reference_outputs

    def shifted(*args, **kwargs):
        return {k: v + 1.0 for k, v in real(*args, **kwargs).items()}

    monkeypatch.setattr(accelflow.api, "reference_outputs", shifted)
    code, _, err = run(capsys, "simulate", lenet_path, "--check")
    assert code == 1
    assert "check FAILED" in err and "differs from the ONNX reference" in err


# --- bad input: one line, exit code 2 ------------------------------------------------------


def test_not_an_onnx_file(capsys, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00\x01garbage" * 10)
    code, _, err = run(capsys, "simulate", bad)
    assert_one_line_error(code, err, "bad.onnx")


def test_missing_file(capsys, tmp_path):
    code, _, err = run(capsys, "compile", tmp_path / "nope.onnx")
    assert_one_line_error(code, err, "nope.onnx")


def _save(tmp_path, graph, name):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def test_unsupported_op_names_node_and_op(capsys, tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    node = helper.make_node("Hardmax", ["x"], ["y"], name="my_hardmax")
    path = _save(tmp_path, helper.make_graph([node], "g", [x], [y]), "hardmax.onnx")
    code, _, err = run(capsys, "compile", path)
    assert_one_line_error(code, err, "my_hardmax", "Hardmax")


def test_missing_initializer(capsys, tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    node = helper.make_node("MatMul", ["x", "w_missing"], ["y"], name="fc")
    path = _save(tmp_path, helper.make_graph([node], "g", [x], [y]), "noinit.onnx")
    code, _, err = run(capsys, "compile", path)
    assert_one_line_error(code, err, "w_missing")


def test_dynamic_dimension_needs_input_shape(capsys, tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    path = _save(
        tmp_path,
        helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="r")], "g", [x], [y]),
        "dyn.onnx",
    )
    code, _, err = run(capsys, "compile", path)
    assert_one_line_error(code, err, "batch", "--input-shape")
    code, out, err = run(capsys, "simulate", path, "--input-shape", "x=2x4", "--check")
    assert code == 0, err


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--target", "no-such-target"], "no-such-target"),
        (["--set", "rows=-3"], "rows"),
        (["--set", "dataflow=diagonal"], "dataflow"),
        (["--set", "nosuchfield=1"], "nosuchfield"),
        (["--set", "rows"], "FIELD=VALUE"),
    ],
)
def test_bad_target(capsys, lenet_path, argv, needle):
    code, _, err = run(capsys, "simulate", lenet_path, *argv)
    assert_one_line_error(code, err, needle)


def test_bad_target_yaml_field(capsys, lenet_path, tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("rows: 8\ncols: many\n")
    code, _, err = run(capsys, "simulate", lenet_path, "--target", path)
    assert_one_line_error(code, err, "cols")


def test_bad_inputs_file(capsys, lenet_path, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 2), np.float32))
    code, _, err = run(capsys, "simulate", lenet_path, "--inputs", tmp_path / "x.npy")
    assert_one_line_error(code, err, "shape")


def test_illegal_mapping_option(capsys, lenet_path):
    code, _, err = run(
        capsys,
        "compile",
        lenet_path,
        "--passes",
        "onnx-to-accel,accel-map{dataflow=zz},accel-tile,accel-emit",
    )
    assert_one_line_error(code, err, "zz")


def test_bad_cli_option_exits_2():
    proc = subprocess.run(
        [sys.executable, "-m", "accelflow", "simulate", "--no-such-flag"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "name", ["lenet", "mlp", "resnet_block", "depthwise_pointwise", "concat_branches"]
)
def test_simulate_check_every_example_model(capsys, tmp_path, name):
    path = tmp_path / f"{name}.onnx"
    onnx.save(models.MODELS[name](batch=2), str(path))
    code, out, err = run(
        capsys,
        "simulate",
        path,
        "--target",
        "tpu-like-small",
        "--set",
        "rows=4",
        "--set",
        "ifmap_sram_kib=2",
        "--check",
    )
    assert code == 0, err
    assert "check passed" in out


def test_written_ir_feeds_accelflow_opt_and_simulates_for_timing(capsys, lenet_path, tmp_path):
    from xdsl.parser import Parser

    from compiler.assembler import assemble
    from compiler.opt import main as opt_main
    from compiler.pipeline import make_context
    from simulator.errors import AccelflowError
    from simulator.run import simulate

    code, _, err = run(capsys, "compile", lenet_path, "-o", tmp_path, "--emit", "ir")
    assert code == 0, err
    level1 = tmp_path / "1-onnx-to-accel.mlir"
    assert "dense_resource<__elided__>" in level1.read_text()
    out = tmp_path / "isa.mlir"
    assert (
        opt_main(
            [
                str(level1),
                "-p",
                "accel-map{dataflow=is},accel-tile{tile-k=8},accel-emit",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert "accel_isa.compute" in out.read_text()
    program = assemble(Parser(make_context(), out.read_text()).parse_module())
    assert program.elided_constants and simulate(program).stats.total.cycles > 0
    with pytest.raises(AccelflowError, match="elided"):
        simulate(program, functional=True, inputs={"input": np.zeros((1, 1, 28, 28), np.float32)})


def test_accelflow_opt_reports_bad_input_in_one_line(tmp_path, capsys):
    from compiler.opt import main as opt_main

    bad = tmp_path / "bad.mlir"
    bad.write_text("%0 = accel.nonsense\n")
    assert opt_main([str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("accelflow-opt: error:") and "Traceback" not in err


@pytest.mark.parametrize(
    "passes, needle",
    [
        (
            "onnx-to-accel,accel-map{spatial=T_R=9},accel-tile,accel-emit",
            "Malformed pass arguments",
        ),
        ("onnx-to-accel,accel-mop,accel-tile,accel-emit", "accel-mop"),
        ("onnx-to-accel,accel-tile{tile-q=3},accel-emit", "tile_q"),
    ],
)
def test_bad_pass_pipeline(capsys, lenet_path, passes, needle):
    code, _, err = run(capsys, "compile", lenet_path, "--passes", passes)
    assert_one_line_error(code, err, "bad pass pipeline", needle)


@pytest.mark.parametrize("command", ["simulate", "compile"])
def test_a_missing_model_is_reported_before_the_compiler_loads(command, tmp_path):
    """The typo answers at once: no xDSL, ONNX or JAX imported for it (seconds each)."""
    script = (
        "import sys\n"
        "from accelflow.cli import main\n"
        f"code = main([{command!r}, {str(tmp_path / 'missing.onnx')!r}])\n"
        "heavy = sorted(m for m in ('xdsl', 'onnx', 'jax') if m in sys.modules)\n"
        "print(code, heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.stdout.split("\n")[0] == "2 []", proc.stdout + proc.stderr
    assert "missing.onnx: no such file" in proc.stderr
