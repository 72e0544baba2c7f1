"""tuner/session.py: one tuning run as `accelflow tune` and `accelflow.tune` do it. The API
verifies its database (and warns when compile --mappings does not reproduce it), runs a hardware
search with `hw=True`, and the session refuses bad settings before anything is logged."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import accelflow
import accelflow.api
from simulator.target import load_target
from tuner.session import FROM_DATABASE, TuneSession, TuneTotals, default_log
from tuner.tune import TuneConfig, TuneError

LENET = str(Path(__file__).resolve().parents[2] / "examples" / "lenet.onnx")
TARGET = "tpu-like-small"
LAYERS = ["/conv1/Conv", "/conv2/Conv", "/fc1/Gemm", "/fc2/Gemm", "/fc3/Gemm"]
SMALL = dict(budget=64, batch=32, top_k=2, seed=1)


@pytest.fixture(scope="module")
def api_run(tmp_path_factory):
    """accelflow.tune with a database and a log: (the result, the database, the log)."""
    folder = tmp_path_factory.mktemp("api")
    db, log = folder / "maps.json", folder / "run.jsonl"
    with warnings.catch_warnings():
        warnings.simplefilter("error", accelflow.api.VerificationWarning)
        result = accelflow.tune(LENET, TARGET, db=db, log=log, **SMALL)
    return result, db, log


def test_the_api_verifies_the_database_it_wrote(api_run):
    result, db, log = api_run
    verification = result.verification
    assert verification is not None and verification.ok
    assert verification.layers == len(LAYERS) and verification.mismatches == []
    assert verification.simulated_accel_cycles == TuneTotals.of(result).tuned_cycles
    assert verification.simulated_total_cycles >= verification.simulated_accel_cycles
    assert db.exists() and log.exists()
    assert not default_log(db).exists()  # the API logs only where it is told to


def test_the_api_verifies_without_a_database():
    result = accelflow.tune(LENET, TARGET, **SMALL)
    assert result.verification is not None and result.verification.ok
    assert result.verification.layers == len(LAYERS)


def test_a_failed_verification_warns_and_names_the_layers(api_run, tmp_path, monkeypatch):
    real = accelflow.api.compile
    monkeypatch.setattr(
        accelflow.api, "compile", lambda model, **kw: real(model, **{**kw, "mappings": {}})
    )
    with pytest.warns(accelflow.api.VerificationWarning, match="verification FAILED"):
        result = accelflow.tune(LENET, TARGET, db=tmp_path / "maps.json", **SMALL)
    verification = result.verification
    assert not verification.ok
    assert [m.layer for m in verification.mismatches] == LAYERS
    assert {m.mapping_from for m in verification.mismatches} == {"default"}
    assert verification.to_json()["mismatches"][0].keys() == {
        "layer", "tuned_cycles", "simulated_cycles", "mapping_from",
    }  # fmt: skip


def test_the_api_runs_a_hardware_search(tmp_path):
    db = tmp_path / "maps.json"
    result = accelflow.tune(LENET, TARGET, db=db, hw=True, hw_budget=3, **SMALL)
    base = load_target(TARGET)
    assert result.target.name == f"{TARGET}-hw"
    assert result.target.num_pes <= base.num_pes  # within the default budget: the base's PEs
    assert result.verification is not None and result.verification.ok
    written = load_target(tmp_path / "maps.target.yaml")
    assert written.fingerprint() == result.target.fingerprint()
    compiled = accelflow.compile(LENET, tmp_path / "maps.target.yaml", mappings=db)
    assert set(compiled.mapping_sources.values()) == {FROM_DATABASE}


def test_from_database_is_the_compilers_word():
    assert FROM_DATABASE == accelflow.api.FROM_DATABASE


def test_resume_of_the_api_log_evaluates_nothing(api_run):
    result, db, log = api_run
    session = TuneSession.resume(log)
    assert session.db == db and session.config == TuneConfig(strategy="evolutionary", **SMALL)
    outcome = session.run()
    assert outcome.result.evaluations == 0
    assert outcome.result.resumed_evaluations == result.evaluations
    assert outcome.compile_options == ["--target", TARGET]
    verification = session.verify(outcome, accelflow.api.compile_and_simulate)
    assert verification.ok and outcome.verification is verification


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (dict(hw_budget=4), "hw_budget is an option of the hardware search"),
        (dict(hw=True, hw_budgte=4), "unknown hardware-search option 'hw_budgte'"),
        (dict(config=TuneConfig(strategy="magic")), "unknown strategy 'magic'"),
        (dict(log="maps.json"), "the log needs a path of its own"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_written(tmp_path, settings, message):
    settings = {k: tmp_path / v if k == "log" else v for k, v in settings.items()}
    with pytest.raises(TuneError, match=message):
        TuneSession.new(LENET, tmp_path / "maps.json", target=TARGET, **settings)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_log_is_refused(api_run):
    _, db, log = api_run
    before = log.read_bytes()
    with pytest.raises(TuneError, match="a tuning log is already there"):
        TuneSession.new(LENET, db, target=TARGET, log=log)
    assert log.read_bytes() == before
