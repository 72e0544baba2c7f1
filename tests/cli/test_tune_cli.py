"""`accelflow tune`: it tunes every accelerator layer of LeNet, writes a database that
`compile/simulate --mappings` reproduce cycle for cycle, plots, resumes a finished log without
evaluating anything, and ends bad settings with one `error:` line and exit code 2."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from accelflow.cli import main

MODEL = Path(__file__).resolve().parents[2] / "examples" / "lenet.onnx"
PRESET = "tpu-like-small"
LAYERS = ["/conv1/Conv", "/conv2/Conv", "/fc1/Gemm", "/fc2/Gemm", "/fc3/Gemm"]
SMALL = ["--target", PRESET, "--budget", "200", "--batch", "64"]


def run(*argv: object) -> tuple[int, str, str]:
    """The CLI in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def json_run(tmp_path_factory):
    """A fresh run with --json: (its JSON, the database path, the log path)."""
    folder = tmp_path_factory.mktemp("tune-json")
    db = folder / "maps.json"
    code, out, err = run("tune", MODEL, *SMALL, "-o", db, "--json")
    assert code == 0, err
    return json.loads(out), db, folder / "maps.log.jsonl"


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    """A fresh run with the table and --plot: (stdout, the plot path)."""
    folder = tmp_path_factory.mktemp("tune-table")
    plot = folder / "plots" / "tune.png"
    # the settings of json_run: the same simulations, compiled by JAX once
    code, out, err = run("tune", MODEL, *SMALL, "-o", folder / "maps.json", "--plot", plot)
    assert code == 0, err
    return out, plot


def test_json_has_every_layer_tuned_and_verified(json_run):
    data, db, log = json_run
    assert [name for row in data["layers"] for name in row["layers"]] == LAYERS
    for row in data["layers"]:
        assert row["evaluations"] == 200
        assert row["tuned_cycles"] <= row["default_cycles"], row["layers"]
    assert data["evaluations"] == 1000 and data["resumed_evaluations"] == 0
    verification = data["verification"]
    assert verification == {
        "ok": True,
        "layers": 5,
        "mismatches": [],
        "simulated_total_cycles": verification["simulated_total_cycles"],
        "simulated_accel_cycles": data["totals"]["tuned_cycles"],
    }
    # the whole model: the accelerator layers and the vector unit's operators
    assert verification["simulated_total_cycles"] > verification["simulated_accel_cycles"]
    assert data["totals"]["tuned_cycles"] == sum(r["tuned_cycles"] for r in data["layers"])
    assert data["totals"]["tuned_cycles"] < data["totals"]["default_cycles"]
    assert data["database"] == str(db) and data["log"] == str(log)
    assert db.exists() and log.exists()
    assert data["compile_command"].endswith(f"--target {PRESET} --mappings {db}")


def test_simulate_with_the_database_gives_the_tuned_cycles(json_run):
    data, db, _ = json_run
    code, out, err = run("simulate", MODEL, "--target", PRESET, "--mappings", db, "--json")
    assert code == 0, err
    assert "notice" not in err  # every layer found its entry
    cycles = {layer["name"]: layer["cycles"] for layer in json.loads(out)["layers"]}
    for row in data["layers"]:
        for name in row["layers"]:
            assert cycles[name] == row["tuned_cycles"], name


def test_resume_of_a_finished_log_evaluates_nothing(json_run):
    data, db, log = json_run
    code, out, err = run("tune", "--resume", log, "--json")
    assert code == 0, err
    again = json.loads(out)
    assert again["evaluations"] == 0
    assert again["resumed_evaluations"] == data["evaluations"] > 0
    assert again["verification"]["ok"]
    assert [r["tuned_cycles"] for r in again["layers"]] == [
        r["tuned_cycles"] for r in data["layers"]
    ]
    assert again["database"] == str(db)  # the header's database


def test_a_database_that_does_not_reproduce_is_reported(json_run, monkeypatch):
    """Verification compiles with the database; here compile is made to ignore it."""
    import accelflow.api

    real = accelflow.api.compile
    monkeypatch.setattr(
        accelflow.api, "compile", lambda model, **kw: real(model, **{**kw, "mappings": {}})
    )
    _, _, log = json_run
    code, out, err = run("tune", "--resume", log, "--json")
    assert code == 0, err
    verification = json.loads(out)["verification"]
    assert not verification["ok"]
    assert {m["layer"] for m in verification["mismatches"]} == set(LAYERS)
    assert all(m["mapping_from"] == "default" for m in verification["mismatches"])
    assert "warning: verification FAILED" in err and "/fc1/Gemm" in err


def test_starting_over_an_existing_log_is_an_error(json_run):
    _, db, log = json_run
    before = log.read_bytes()
    code, _, err = run("tune", MODEL, *SMALL, "-o", db)
    assert_one_line_error(code, err, str(log), f"--resume {log}")
    assert log.read_bytes() == before


def test_table_lists_every_layer_and_the_total(table_run):
    out, _ = table_run
    for name in LAYERS:
        assert name in out
    for column in ("default cycles", "tuned cycles", "speed-up", "util %", "% of roofline"):
        assert column in out
    assert "total (5 layers)" in out
    assert "verified: compile --mappings reproduces the tuned cycles of 5 layers" in out
    assert "answered from the log" in out
    assert f"compile with: accelflow compile {MODEL} --target {PRESET} --mappings" in out


def test_plot_is_a_png(table_run):
    _, plot = table_run
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("options", "needles"),
    [
        (["--strategy", "magic"], ["unknown strategy 'magic'", "evolutionary"]),
        (["--objective", "speed"], ["unknown objective 'speed'"]),
        (["--axes", "tiles,colour"], ["unknown axis 'colour'"]),
        (["--budget", "0"], ["--budget must be >= 1"]),
        (["--budget", "many"], ["--budget takes an integer"]),
        (["--executor", "gpu"], ["unknown executor 'gpu'"]),
        (["--executor", "pool:zero"], ["pool:N takes a number"]),
        (["--pe-budget", "64"], ["--pe-budget is an option of --hw"]),
    ],
)
def test_bad_settings_end_with_one_line(tmp_path, options, needles):
    code, _, err = run("tune", MODEL, "-o", tmp_path / "maps.json", *options)
    assert_one_line_error(code, err, *needles)
    assert not (tmp_path / "maps.log.jsonl").exists()  # nothing logged


def test_missing_model_and_missing_output_end_with_one_line(tmp_path):
    code, _, err = run("tune", tmp_path / "none.onnx", "-o", tmp_path / "maps.json")
    assert_one_line_error(code, err, "none.onnx: no such file")
    code, _, err = run("tune", MODEL)
    assert_one_line_error(code, err, "-o DB")


def test_resume_takes_its_settings_from_the_log(tmp_path):
    code, _, err = run("tune", "--resume", tmp_path / "x.jsonl", "--budget", "10")
    assert_one_line_error(code, err, "drop --budget")
    code, _, err = run("tune", "--resume", tmp_path / "x.jsonl")
    assert_one_line_error(code, err, "no such tuning log")


def test_hardware_search_writes_the_tuned_target(tmp_path):
    pytest.importorskip("tuner.hardware")
    from simulator.target import load_target

    db = tmp_path / "maps.json"
    argv = ["--hw", "--hw-budget", "4", "--target", PRESET, "--budget", "64", "--batch", "64"]
    code, out, err = run("tune", MODEL, *argv, "-o", db, "--json")
    assert code == 0, err
    data = json.loads(out)
    target_file = tmp_path / "maps.target.yaml"
    assert data["target_file"] == str(target_file)
    tuned = load_target(target_file)
    assert tuned.fingerprint() == data["fingerprint"]
    assert data["hardware"]["base_target"] == PRESET
    assert data["verification"]["ok"], data["verification"]
    assert f"--target {target_file} --mappings {db}" in data["compile_command"]
    # a stopped --hw run goes on from its logs: here nothing is left to do
    code, out, err = run("tune", "--resume", tmp_path / "maps.log.jsonl", "--json")
    assert code == 0, err
    again = json.loads(out)
    assert again["evaluations"] == 0 and again["fingerprint"] == data["fingerprint"]
