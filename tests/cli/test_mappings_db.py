"""`accelflow compile/simulate --mappings DB`: the database's mappings are compiled as stored,
the layers it lacks get the default mapping and one notice names them; bad files end with one
`error:` line and exit code 2."""

from __future__ import annotations

import json

import onnx
import pytest

from accelflow import models
from accelflow.cli import main
from compiler import tiling
from compiler.importer import import_onnx
from compiler.passes.common import layer_shape
from compiler.pipeline import compile_module
from dialects import accel
from simulator.target import load_target
from tuner.db import MappingDB

PRESET = "tpu-like-small"
TARGET = load_target(PRESET)
TUNED = "/conv2/Conv"
LAYERS = ["/conv1/Conv", "/conv2/Conv", "/fc1/Gemm", "/fc2/Gemm", "/fc3/Gemm"]


@pytest.fixture(scope="module")
def lenet_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "lenet.onnx"
    onnx.save(models.lenet(), str(path))
    return path


@pytest.fixture(scope="module")
def shapes():
    module = compile_module(import_onnx(models.lenet()), TARGET, passes="onnx-to-accel")
    return {
        op.layer_name.data: layer_shape(op)
        for op in module.walk()
        if isinstance(op, accel.Conv2DOp | accel.MatmulOp)
    }


@pytest.fixture(scope="module")
def tuned_mapping(shapes):
    """conv2 with the os dataflow (the target's default is ws): its cycles differ."""
    mapping = tiling.default_mapping(shapes[TUNED], TARGET, dataflow="os")
    assert mapping != tiling.default_mapping(shapes[TUNED], TARGET)
    return mapping


@pytest.fixture
def db_path(tmp_path, shapes, tuned_mapping):
    db = MappingDB()
    db.put(shapes[TUNED], TARGET, tuned_mapping, cycles=1, layers=[TUNED])
    path = tmp_path / "maps.json"
    db.save(path)
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def notices(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("notice:")]


def layer_cycles(capsys, *argv) -> tuple[dict[str, int], dict, str]:
    code, out, err = run(capsys, "simulate", *argv, "--json")
    assert code == 0, err
    data = json.loads(out)
    cycles = {layer["name"]: layer["cycles"] for layer in data["layers"] if layer["on_accel"]}
    return cycles, data, err


def test_simulate_uses_the_database_mapping_and_defaults_elsewhere(capsys, lenet_path, db_path):
    default, _, err = layer_cycles(capsys, lenet_path, "--target", PRESET)
    assert not notices(err)
    # the reference: the same mapping for conv2 through the pass options, nothing read from a file
    reference, _, _ = layer_cycles(
        capsys,
        lenet_path,
        "--target",
        PRESET,
        "--passes",
        f'onnx-to-accel,accel-map,accel-map{{layer="{TUNED}" dataflow=os force=true}},'
        "accel-tile,accel-emit",
    )
    tuned, data, err = layer_cycles(capsys, lenet_path, "--target", PRESET, "--mappings", db_path)
    assert tuned[TUNED] != default[TUNED]
    assert tuned[TUNED] == reference[TUNED]
    assert {k: v for k, v in tuned.items() if k != TUNED} == {
        k: v for k, v in default.items() if k != TUNED
    }
    fp = TARGET.fingerprint()
    tfp = TARGET.timing_fingerprint()
    assert notices(err) == [
        f"notice: 4 of 5 layers are not in {db_path} for target {PRESET} (timing fingerprint "
        f"{tfp}); "
        "they use the default mapping: /conv1/Conv, /fc1/Gemm, /fc2/Gemm, /fc3/Gemm"
    ]
    assert data["mappings"]["sources"] == {
        name: "database" if name == TUNED else "default" for name in LAYERS
    }
    assert data["mappings"]["target_fingerprint"] == fp
    assert data["mappings"]["timing_fingerprint"] == tfp


def test_compile_writes_the_database_mapping(
    capsys, lenet_path, db_path, tmp_path, tuned_mapping, shapes
):
    out_dir = tmp_path / "out"
    code, out, err = run(
        capsys, "compile", lenet_path, "-t", PRESET, "--mappings", db_path, "-o", out_dir
    )
    assert code == 0, err
    assert out.startswith("compiled ")
    assert len(notices(err)) == 1 and "4 of 5 layers" in notices(err)[0]
    layers = {
        layer["name"]: layer
        for layer in json.loads((out_dir / "program.json").read_text())["layers"]
    }
    # (the program carries the mapping its loop nest spells: compared normalized)
    assert tiling.Mapping.from_dict(layers[TUNED]["mapping"]) == tuned_mapping.normalized(
        shapes[TUNED]
    )
    assert layers["/conv1/Conv"]["mapping"]["dataflow"] == "ws"


def test_every_layer_in_the_database_gives_no_notice(capsys, lenet_path, shapes, tmp_path):
    db = MappingDB()
    for shape in shapes.values():
        db.put(shape, TARGET, tiling.default_mapping(shape, TARGET, dataflow="os"))
    path = tmp_path / "all.json"
    db.save(path)
    _, data, err = layer_cycles(capsys, lenet_path, "-t", PRESET, "--mappings", path)
    assert not notices(err)
    assert set(data["mappings"]["sources"].values()) == {"database"}


def test_database_for_another_target_says_so(capsys, lenet_path, db_path):
    other = TARGET.replace(rows=16).timing_fingerprint()
    code, _, err = run(
        capsys, "compile", lenet_path, "-t", PRESET, "--set", "rows=16", "--mappings", db_path
    )
    assert code == 0, err
    lines = notices(err)
    assert len(lines) == 1
    assert lines[0].startswith(
        f"notice: {db_path} has no entry for target {PRESET} (timing fingerprint {other}); "
        f"it has entries for fingerprint(s) {TARGET.timing_fingerprint()} only"
    )
    assert "all 5 layers use the default mapping" in lines[0]


def test_pass_options_replacing_the_database_are_named(capsys, lenet_path, db_path):
    _, data, err = layer_cycles(
        capsys,
        lenet_path,
        "-t",
        PRESET,
        "--mappings",
        db_path,
        "--passes",
        "onnx-to-accel,accel-map{dataflow=is},accel-tile,accel-emit",
    )
    assert data["mappings"]["sources"][TUNED] == "options"
    (line,) = notices(err)
    assert "4 of 5 layers are not in" in line
    assert f"pass options replace the mapping from {db_path} for 1 of 5 layers: {TUNED}" in line


def test_plain_layer_name_file_still_works(capsys, lenet_path, tmp_path, tuned_mapping, db_path):
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"layers": {TUNED: tuned_mapping.to_dict()}}))
    tuned, data, err = layer_cycles(capsys, lenet_path, "-t", PRESET, "--mappings", plain)
    from_db, _, _ = layer_cycles(capsys, lenet_path, "-t", PRESET, "--mappings", db_path)
    assert tuned == from_db
    assert data["mappings"]["sources"][TUNED] == "database"
    (line,) = notices(err)
    assert line.startswith(f"notice: 4 of 5 layers are not in {plain}; they use the default")


# --- bad files: one line, exit code 2 ------------------------------------------------------


def assert_one_line_error(code, err, *needles):
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (None, "no such mapping database"),
        ("{oops", "not valid JSON"),
        ("[1, 2]", "not a mapping database"),
        ('{"format": "accelflow-mappings", "version": 9}', "database version 9"),
        ('{"format": "accelflow-mappings", "version": 1, "entries": {"x": {}}}', "entry 'x'"),
        ('{"/conv2/Conv": {"dataflow": "ws"}}', "mapping is missing 'tiles'"),
    ],
)
@pytest.mark.parametrize("command", ["compile", "simulate"])
def test_bad_database_file(capsys, lenet_path, tmp_path, command, text, needle):
    path = tmp_path / "maps.json"
    if text is not None:
        path.write_text(text)
    code, out, err = run(capsys, command, lenet_path, "--mappings", path)
    assert_one_line_error(code, err, str(path), needle)
    assert out == ""


def test_illegal_database_mapping_names_the_layer(capsys, lenet_path, shapes, tmp_path):
    shape = shapes[TUNED]
    mapping = tiling.default_mapping(shape, TARGET)
    bad = tiling.Mapping(
        dataflow="ws",
        tiles={**mapping.tiles, "k": shape.dims["k"] * 4},
        order=mapping.order,
        spatial=mapping.spatial,
    )
    db = MappingDB()
    db.put(shape, TARGET, bad)
    path = tmp_path / "bad.json"
    db.save(path)
    code, _, err = run(capsys, "compile", lenet_path, "-t", PRESET, "--mappings", path)
    assert_one_line_error(code, err, f"layer '{TUNED}'", "tile k=64 is outside [1, 16]")
