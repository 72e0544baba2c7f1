"""`accelflow simulate` takes every `.mlir` stage `compile -o` writes and the saved program
folder, with the same cycles as the model; `--keep-weights` keeps the constants (outputs then
computable, SIGMA's statistics real); what cannot work says so in one line."""

from __future__ import annotations

import json

import onnx
import pytest

from accelflow import models
from accelflow.cli import main


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """lenet.onnx and its `compile -o` folders (weights elided, and kept)."""
    folder = tmp_path_factory.mktemp("stages")
    model = folder / "lenet.onnx"
    onnx.save(models.lenet(), str(model))
    assert main(["compile", str(model), "-o", str(folder / "elided")]) == 0
    assert main(["compile", str(model), "-o", str(folder / "kept"), "--keep-weights"]) == 0
    return folder


def sim(capsys, *argv):
    code = main(["simulate", *map(str, argv), "--json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def test_every_stage_and_the_program_give_the_model_cycles(capsys, compiled):
    code, want, err = sim(capsys, compiled / "lenet.onnx")
    assert code == 0, err
    stages = sorted((compiled / "kept").glob("*.mlir"))
    assert [p.name.split("-", 1)[1] for p in stages] == [
        "onnx.mlir", "onnx-to-accel.mlir", "accel-fuse.mlir", "accel-map.mlir",
        "accel-tile.mlir", "accel-emit.mlir", "accel-isa-verify.mlir",
    ]  # fmt: skip
    for path in [*stages, *sorted((compiled / "elided").glob("*.mlir"))[1:], compiled / "kept"]:
        code, got, err = sim(capsys, path)
        assert code == 0, (path, err)
        assert got["total"]["cycles"] == want["total"]["cycles"], path
        assert [layer["cycles"] for layer in got["layers"]] == [
            layer["cycles"] for layer in want["layers"]
        ], path


def test_outputs_need_the_weights(capsys, compiled):
    code, got, err = sim(capsys, compiled / "kept" / "0-onnx.mlir", "--functional")
    assert code == 0, err
    code, _, err = sim(capsys, compiled / "elided" / "0-onnx.mlir", "--functional")
    assert code == 2 and "has no value (it was elided" in err and "Traceback" not in err
    assert "7 constants were elided" in err


def test_sigma_from_elided_weights_says_the_tiles_count_dense(capsys, compiled):
    code, _, err = sim(capsys, compiled / "elided" / "1-onnx-to-accel.mlir", "-t", "sigma-64")
    assert code == 0, err
    assert "replaces the module's target tpu-like" in err
    assert "sigma-64 counts their weight tiles as dense" in err
    code, _, err = sim(capsys, compiled / "kept" / "1-onnx-to-accel.mlir", "-t", "sigma-64")
    assert code == 0 and "dense" not in err


def test_a_program_keeps_its_target_and_warns_when_given_another(capsys, compiled):
    code, got, err = sim(capsys, compiled / "kept")
    assert code == 0 and got["target"] == "tpu-like" and err == ""
    code, got, err = sim(capsys, compiled / "kept", "-t", "tpu-v1")  # larger: its tiles fit
    assert code == 0 and "compiled for tpu-like, simulated on tpu-v1" in err
    code, got, err = sim(capsys, compiled / "kept", "--set", "dram_bw_bytes_per_cycle=8")
    assert code == 0 and "simulated on tpu-like with dram_bw_bytes_per_cycle=8.0" in err


@pytest.mark.parametrize(
    ("target", "needle"),
    [
        ("tpu-like-small", "weight tile needs 96240 B (x2 double-buffered) but the weight buffer "
         "holds 16384 B (compile the model for that target)"),
        ("maeri-64", "maeri-64 is a maeri target, which runs its own family's instructions"),
    ],
)  # fmt: skip
def test_a_program_its_tiles_or_family_rule_out_is_one_error_line(capsys, compiled, target, needle):
    code, _, err = sim(capsys, compiled / "kept", "-t", target)
    assert code == 2 and needle in err and err.count("error:") == 1, err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (("{d}/elided/0-onnx.mlir", "--check"), "--check compares with an ONNX reference run"),
        (("{d}/kept", "--mappings", "{d}/lenet.onnx"), "is a compiled program"),
        (("{d}/elided/3-accel-map.mlir", "--passes", "accel-map"), "--passes and --input-shape"),
        (("{d}",), "a folder without program.json"),
        (("{d}/lenet.onnx.mlir",), "no such file"),
    ],
)
def test_what_cannot_work_is_one_error_line(capsys, compiled, argv, needle):
    code, _, err = sim(capsys, *(a.format(d=compiled) for a in argv))
    assert code == 2 and needle in err and err.count("error:") == 1, err
    assert "Traceback" not in err


def test_bad_mlir_is_one_error_line(capsys, tmp_path):
    bad = tmp_path / "bad.mlir"
    bad.write_text("builtin.module { this is not mlir }")
    code, _, err = sim(capsys, bad)
    assert code == 2 and err.startswith("error:") and "not MLIR accelflow can parse" in err
    binary = tmp_path / "bin.mlir"
    binary.write_bytes(b"\xff\xfe\x00")
    code, _, err = sim(capsys, binary)
    assert code == 2 and "cannot be read as MLIR text" in err


def test_keep_weights_needs_the_ir(capsys, compiled):
    code = main(["compile", str(compiled / "lenet.onnx"), "--keep-weights"])
    err = capsys.readouterr().err
    assert code == 2 and "--keep-weights applies to the IR stages" in err


def test_a_broken_program_or_hand_edited_ir_is_one_error_line(capsys, compiled, tmp_path):
    import shutil

    program = tmp_path / "prog"
    shutil.copytree(compiled / "kept", program)
    (program / "program.json").write_text("{not json")
    code, _, err = sim(capsys, program)
    assert code == 2 and "not a program `accelflow compile -o` wrote" in err
    (program / "program.json").write_text((compiled / "kept" / "program.json").read_text())
    (program / "program.npz").write_text("junk")
    code, _, err = sim(capsys, program)
    assert code == 2 and err.count("error:") == 1 and "Traceback" not in err
    mapped = (compiled / "kept" / "3-accel-map.mlir").read_text()
    edited = tmp_path / "edited.mlir"
    edited.write_text(mapped.replace('layer_name = "/conv1/Conv", ', "", 1))
    code, _, err = sim(capsys, edited)
    assert code == 2 and "does not hold what the passes after it need" in err, err
    edited.write_text(mapped.replace("#accel.mapping<ws", "#accel.mapping<zz", 1))
    code, _, err = sim(capsys, edited)
    assert code == 2 and "unknown dataflow 'zz'" in err and "Traceback" not in err
