"""accelflow-opt re-targets a module: `--target T` (accel-retarget first) and
`onnx-to-accel{target=T}` replace the module's target with a one-line warning naming both."""

from __future__ import annotations

from pathlib import Path

from compiler.opt import _with_target, main

MODULE = """builtin.module attributes {accel.target = #accel.target<"tpu-like-small", {rows = 8, cols = 8}>} {
  func.func @main(%x: tensor<1x4xf32>) -> tensor<1x4xf32> attributes {onnx.input_names = ["x"], onnx.output_names = ["x"]} {
    func.return %x : tensor<1x4xf32>
  }
}
"""


def run(capsys, tmp_path: Path, *argv: str) -> tuple[int, str, str]:
    path = tmp_path / "m.mlir"
    path.write_text(MODULE)
    code = main([str(path), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_target_flag_replaces_the_module_target_with_a_warning(capsys, tmp_path):
    code, out, err = run(capsys, tmp_path, "--target", "maeri-64")
    assert code == 0, err
    assert 'accel.target = #accel.target<"maeri-64"' in out
    assert err.count("\n") == 1 and err.startswith("accelflow-opt: warning: accel-retarget: ")
    assert "target maeri-64" in err and "replaces the module's target tpu-like-small" in err


def test_onnx_to_accel_target_overrides_with_a_warning(capsys, tmp_path):
    code, out, err = run(capsys, tmp_path, "-p", "onnx-to-accel{target=sigma-64}")
    assert code == 0, err
    assert 'accel.target = #accel.target<"sigma-64"' in out
    assert "onnx-to-accel: target sigma-64" in err
    code, out, err = run(capsys, tmp_path, "-p", "onnx-to-accel")
    assert code == 0 and err == "" and '"tpu-like-small"' in out


def test_same_target_says_nothing_and_bad_targets_are_one_error(capsys, tmp_path):
    # the module's "tpu-like-small" is not the preset (its other fields are tpu-like's): a warning
    code, out, err = run(capsys, tmp_path, "--target=tpu-like-small")
    assert code == 0 and "replaces the module's target tpu-like-small" in err
    again = tmp_path / "again.mlir"
    again.write_text(out)
    assert main([str(again), "--target=tpu-like-small", "-p", "accel-map"]) == 0
    assert "warning" not in capsys.readouterr().err
    for bad in (["--target", "nope"], ["--target"], ["-p", "accel-retarget"]):
        code, _, err = run(capsys, tmp_path, *bad)
        assert code == 2 and err.startswith("accelflow-opt: error:") and err.count("\n") == 1, err


def test_target_joins_the_pipeline():
    step = 'accel-retarget{target="t.yaml"}'
    assert _with_target(["m", "--target", "t.yaml", "-p", "accel-map"]) == [
        "m",
        "-p",
        f"{step},accel-map",
    ]
    assert _with_target(["m", "--passes=accel-map", "--target=t.yaml"]) == [
        "m",
        f"--passes={step},accel-map",
    ]
    assert _with_target(["m", "--target", "t.yaml"]) == ["m", "-p", step]
    assert _with_target(["m", "-p", "x"]) == ["m", "-p", "x"]
