"""`simulate --check` never crashes: when onnx.reference raises, one `notice:` line and
onnxruntime is the reference; when no reference can run, one `error:` line and exit code 3.
`--save-outputs` is written before the check and never over an input. The per-layer and
`targets` tables fit the terminal and never cut a number."""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import onnx
import onnx.reference
import pytest
from onnx import TensorProto, helper, numpy_helper

import accelflow.api
from accelflow import cli
from accelflow.api import ReferenceUnavailable, check
from accelflow.cli import main
from simulator.errors import AccelflowError

W = np.arange(12, dtype=np.float32).reshape(4, 3) / 10 - 0.5
X = np.array([[1.0, -2.0, 0.5, 3.0]], dtype=np.float32)
LONG_NAME = "/encoder/layers.11/self_attention/output_projection/MatMul_0"  # 60 characters


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def lines_of(text: str) -> list[str]:
    return [line for line in text.strip().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """y = Relu(x @ W): tiny, on the accelerator and the vector unit."""
    assert len(LONG_NAME) == 60
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"], name=LONG_NAME),
        helper.make_node("Relu", ["h"], ["y"], name="/act/Relu"),
    ]
    graph = helper.make_graph(nodes, "g", [x], [y], [numpy_helper.from_array(W, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = tmp_path_factory.mktemp("models") / "tiny.onnx"
    onnx.save(model, str(path))
    return path


@pytest.fixture
def inputs_path(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, x=X)
    return path


def expected_output() -> np.ndarray:
    return np.maximum(X @ W, 0.0)


@pytest.fixture
def evaluator_fails(monkeypatch):
    """onnx.reference raises (as its MaxPool ceil_mode bug or a missing op would)."""

    def broken(self, *args, **kwargs):
        raise RuntimeError("evaluator bug in MaxPool ceil_mode\n  a second line of detail")

    monkeypatch.setattr(onnx.reference.ReferenceEvaluator, "run", broken)


@pytest.fixture(params=["missing", "fails"])
def onnxruntime_unusable(request, monkeypatch):
    """onnxruntime not installed, or raising when the session is made."""
    if request.param == "missing":
        monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import raises ImportError
    else:
        import onnxruntime

        def broken(*args, **kwargs):
            raise ValueError("[ONNXRuntimeError] : 10 : INVALID_GRAPH : " + "x" * 400)

        monkeypatch.setattr(onnxruntime, "InferenceSession", broken)
    return request.param


# --- (a) onnx.reference fails, onnxruntime works -------------------------------------------


def test_onnxruntime_replaces_a_failing_evaluator(capsys, model_path, evaluator_fails):
    code, out, err = run(capsys, "simulate", model_path, "--check")
    assert code == 0, err
    assert "Traceback" not in err
    (notice,) = lines_of(err)
    assert notice.startswith("notice: onnx.reference failed (RuntimeError: evaluator bug")
    assert "a second line" not in notice
    assert "checking against onnxruntime " in notice
    assert re.search(r"check passed: .*\(onnxruntime \d", out), out


def test_json_report_names_the_reference(capsys, model_path, evaluator_fails):
    code, out, err = run(capsys, "simulate", model_path, "--check", "--json")
    assert code == 0, err
    data = json.loads(out)["check"]
    assert data["ok"] is True
    assert data["reference"].startswith("onnxruntime ")
    assert "RuntimeError" in data["fallback"]


def test_report_names_onnx_reference_when_it_works(capsys, model_path):
    code, out, err = run(capsys, "simulate", model_path, "--check", "--json")
    assert code == 0 and err == ""
    data = json.loads(out)["check"]
    assert data["reference"] == "onnx.reference" and data["fallback"] is None


def test_api_check_falls_back_and_can_pick(model_path, evaluator_fails):
    ours = {"y": expected_output()}
    report = check(model_path, {"x": X}, ours)
    assert report.ok and report.reference.startswith("onnxruntime ")
    assert report.fallback.startswith("onnx.reference failed (RuntimeError:")
    report = check(model_path, {"x": X}, ours, reference="onnxruntime")
    assert report.ok and report.fallback is None
    with pytest.raises(ReferenceUnavailable, match="onnx.reference failed") as info:
        check(model_path, {"x": X}, ours, reference="onnx")
    assert isinstance(info.value, AccelflowError) and info.value.exit_code == 3
    with pytest.raises(AccelflowError, match="reference must be one of"):
        check(model_path, {"x": X}, ours, reference="tensorflow")


def test_default_rtol_is_one_value():
    assert cli.DEFAULT_RTOL == accelflow.api.DEFAULT_RTOL
    assert cli.build_parser().parse_args(["simulate", "m.onnx"]).rtol == cli.DEFAULT_RTOL


# --- (b) no reference can run: exit 3, one line ----------------------------------------------


def test_no_reference_exits_3_in_one_line(
    capsys, model_path, tmp_path, evaluator_fails, onnxruntime_unusable
):
    saved = tmp_path / "y.npz"
    code, out, err = run(capsys, "simulate", model_path, "--check", "--save-outputs", saved)
    assert code == cli.EXIT_REFERENCE_UNAVAILABLE == 3, err
    assert "Traceback" not in err
    (line,) = lines_of(err)
    assert line.startswith("error: the reference could not run: onnx.reference failed")
    assert "RuntimeError: evaluator bug" in line
    if onnxruntime_unusable == "missing":
        assert "onnxruntime is not installed" in line
    else:
        assert "ValueError: [ONNXRuntimeError]" in line and len(line) < 500
    assert "total" in out  # the statistics are still printed
    assert saved.exists()  # and the outputs written


def test_no_reference_json_says_why(capsys, model_path, evaluator_fails, onnxruntime_unusable):
    code, out, err = run(capsys, "simulate", model_path, "--check", "--json")
    assert code == 3 and len(lines_of(err)) == 1
    data = json.loads(out)["check"]
    assert data["ok"] is None and "could not run" in data["error"]


def test_the_named_reference_only(capsys, model_path, evaluator_fails):
    code, _, err = run(capsys, "simulate", model_path, "--check", "--reference", "onnx")
    assert code == 3 and len(lines_of(err)) == 1 and "onnxruntime" not in err


# --- (c) --save-outputs -------------------------------------------------------------------


def test_outputs_saved_when_the_check_fails(capsys, model_path, inputs_path, tmp_path, monkeypatch):
    def wrong(model, inputs, names):
        return {name: np.full((1, 3), 100.0, np.float32) for name in names}

    monkeypatch.setattr(accelflow.api, "reference_outputs", wrong)
    saved = tmp_path / "y.npz"
    code, _, err = run(
        capsys, "simulate", model_path, "--inputs", inputs_path, "--save-outputs", saved, "--check"
    )
    assert code == 1, err
    assert "check FAILED" in err and "(onnx.reference)" in err
    with np.load(saved) as data:
        assert data.files == ["y"]
        np.testing.assert_allclose(data["y"], expected_output(), rtol=1e-5, atol=1e-6)


def test_outputs_saved_under_the_exact_name(capsys, model_path, tmp_path):
    saved = tmp_path / "outputs.bin"
    code, _, err = run(capsys, "simulate", model_path, "--save-outputs", saved)
    assert code == 0, err
    assert saved.exists() and not (tmp_path / "outputs.bin.npz").exists()


@pytest.mark.parametrize("which", ["model", "inputs", "model via another spelling"])
def test_save_outputs_never_overwrites_an_input(
    capsys, model_path, inputs_path, monkeypatch, which
):
    def must_not_run(*args, **kwargs):
        raise AssertionError("simulated although the output path is an input")

    monkeypatch.setattr(accelflow.api, "simulate", must_not_run)
    target = {
        "model": model_path,
        "inputs": inputs_path,
        "model via another spelling": model_path.parent
        / ".."
        / model_path.parent.name
        / model_path.name,
    }[which]
    before = {p: p.read_bytes() for p in (model_path, inputs_path)}
    code, _, err = run(
        capsys, "simulate", model_path, "--inputs", inputs_path, "--save-outputs", target, "--check"
    )
    assert code == 2, err
    (line,) = lines_of(err)
    assert line.startswith("error: --save-outputs") and "refusing to overwrite" in line
    assert {p: p.read_bytes() for p in before} == before


def test_save_outputs_into_a_missing_folder_is_a_user_error(capsys, model_path, tmp_path):
    code, _, err = run(capsys, "simulate", model_path, "--save-outputs", tmp_path / "no" / "y.npz")
    assert code == 2 and lines_of(err)[0].startswith("error: --save-outputs")


# --- (d) the tables fit the terminal and never cut a number -------------------------------


def big_stats():
    from simulator.stats import LayerStats, ModelStats
    from simulator.target import load_target

    target = load_target("tpu-like")

    def layer(name: str, cycles: int) -> LayerStats:
        return LayerStats.from_counts(
            name=name, kind="matmul", target=target, cycles=cycles,
            compute_cycles=cycles // 2, stall_cycles=cycles // 4,
            stall_by_cause={"dram_bandwidth": cycles // 4, "dram_latency": 0,
                            "output_drain": 0, "sram_bandwidth": 0},
            macs=cycles * 1000, noc_hops=cycles * 10, dram_read_bytes=cycles * 30,
            dram_write_bytes=cycles * 7, sram_read_bytes={"input": cycles * 100, "weight": 1,
                                                          "output": 0},
            sram_write_bytes={"input": cycles * 20, "weight": 0, "output": 0}, instructions=5,
        )  # fmt: skip

    layers = [layer(LONG_NAME, 20_796_812), layer("/fc/Gemm", 123_456_789)]
    return ModelStats.from_layers([*layers, LayerStats.host("/Relu", "Relu")], target)


def first_column(table: str) -> str:
    """The layer column's text, its folded pieces joined."""
    return "".join(line.split("│")[1].strip() for line in table.splitlines() if "│" in line)


@pytest.mark.parametrize("columns", [100, 80, 200])
def test_table_fits_and_keeps_every_digit(monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    stats = big_stats()
    table = stats.format_table()
    assert max(len(line) for line in table.splitlines()) <= columns
    assert "…" not in table and "..." not in table
    assert f"{stats.total.cycles:,}" in table  # "144,253,601": whole, on one line
    for layer in [*stats.layers, stats.total]:
        for number in (layer.cycles, layer.macs, layer.dram_read_bytes):
            assert f"{number:,}" in table
        assert f"{layer.total_energy_pj / 1000:,.2f}" in table
    assert LONG_NAME in first_column(table)  # folded, not truncated


def test_table_narrower_than_any_number_folds_but_loses_nothing():
    stats = big_stats()
    table = stats.format_table(width=36)
    assert max(len(line) for line in table.splitlines()) <= 36
    assert "…" not in table
    digits = re.sub(r"[^0-9]", "", "".join(line.split("│")[4] for line in table.splitlines()[:40]
                                           if line.count("│") > 4))  # fmt: skip
    assert re.sub(r"[^0-9]", "", f"{stats.total.cycles:,}") in digits


def test_simulate_table_at_100_columns(capsys, model_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    code, out, err = run(capsys, "simulate", model_path, "--json")
    assert code == 0, err
    cycles = json.loads(out)["total"]["cycles"]
    code, out, err = run(capsys, "simulate", model_path)
    assert code == 0, err
    assert max(len(line) for line in out.splitlines()) <= 100
    assert f"{cycles:,} cycles" in out and "…" not in out
    assert LONG_NAME in first_column(out)


@pytest.mark.parametrize("columns", [200, 100, 80])
def test_targets_table_fits(capsys, monkeypatch, columns):
    from simulator.target import PRESETS

    monkeypatch.setenv("COLUMNS", str(columns))
    code, out, _ = run(capsys, "targets")
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= columns
    assert "…" not in out
    for name in PRESETS:
        assert re.search(rf"│ {re.escape(name)} +│", out), name
    assert "12288/12288/4096" in out and "1024" in out


def _log_model():
    graph = helper.make_graph(
        [helper.make_node("Log", ["x"], ["y"], name="/log")],
        "log",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # log of -1 and 0, on purpose
def test_nonfinite_outputs_where_the_reference_has_them_too_compare_the_rest(tmp_path, capsys):
    # log(-1) is NaN and log(0) is -inf in ours and in the reference: the finite rest compared.
    path = tmp_path / "log.onnx"
    onnx.save(_log_model(), path)
    x = np.array([[1.0, -1.0, 0.0, 2.0]], np.float32)
    report = check(path, {"x": x}, {"y": np.log(x)})
    assert (
        report.ok and "2 non-finite value(s) in ours, 2 in the reference" in report.nonfinite["y"]
    )
    # ours NaN where the reference is finite: a failure that says so (not "by nan").
    ours = np.log(np.abs(x) + 1)
    ours[0, 3] = np.nan
    report = check(path, {"x": np.abs(x) + 0.5}, {"y": ours})
    assert not report.ok and report.nonfinite["y"].startswith("1 non-finite value(s) in ours, 0")
    np.save(tmp_path / "x.npy", np.array([[1.0, -1.0, 0.5, 2.0]], np.float32))
    code, _, err = run(capsys, "simulate", path, "--inputs", tmp_path / "x.npy", "--check")
    assert (
        code == 0 and "notice: output 'y': 1 non-finite value(s) in ours, 1 in the reference" in err
    )
