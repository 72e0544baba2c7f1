"""The tuner (tuner/tune.py) end to end: a run killed with SIGKILL at any moment resumes from its
log to exactly the uninterrupted run (nothing lost, nothing evaluated twice, a torn last line cut
off); its mapping database round-trips and, compiled with `mappings=`, every accelerator layer
runs in the simulated cycles the tuner reported, never slower than the default mapping; the same
seed gives the same run, on every executor (in-process, process pool, Ray); bad logs and a
changed model are refused; a time limit stops the search and still writes the database."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from accelflow import api
from tuner.db import DatabaseError, MappingDB, without_times
from tuner.executors import ExecutorError
from tuner.tune import TuneConfig, TuneError, TuneResult, resume, tune

ROOT = Path(__file__).resolve().parents[2]
TARGET = "tpu-like-small"
# The run that the kill, executor and seed tests repeat: lenet's 5 layers, about 20 rounds each.
CONFIG = TuneConfig(strategy="evolutionary", budget=600, batch=32, top_k=3, seed=0)
SMALL = TuneConfig(strategy="evolutionary", budget=96, batch=48, top_k=2, seed=0)


def records(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def of_type(recs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in recs if r.get("type") == kind]


def eval_key(r: dict[str, Any]) -> tuple[int, tuple[int, ...]]:
    return r["layer"], tuple(r["g"])


def db_json(path: Path) -> dict[str, Any]:
    """The database without its entries' creation times (every other field must repeat)."""
    assert all(e["created"] for e in json.loads(path.read_text())["entries"].values())
    return without_times(path)


def rows(result: TuneResult) -> list[dict[str, Any]]:
    return [{**r.row(), "history": r.history} for r in result.layers]


def assert_consistent_log(log: Path, layers: int) -> list[dict[str, Any]]:
    """Every line a record; no point scored twice, no mapping simulated twice, one done each."""
    text = log.read_text()
    assert text.endswith("\n")
    recs = records(log)
    assert recs[0]["type"] == "header"
    keys = [eval_key(r) for r in of_type(recs, "eval")]
    assert len(keys) == len(set(keys)), "a point was evaluated twice"
    sims = [(r["layer"], json.dumps(r["mapping"], sort_keys=True)) for r in of_type(recs, "sim")]
    assert len(sims) == len(set(sims)), "a mapping was simulated twice"
    assert sorted(r["layer"] for r in of_type(recs, "done")) == list(range(layers))
    return recs


@pytest.fixture(scope="module")
def reference(model_files, tmp_path_factory) -> tuple[TuneResult, Path, Path]:
    """CONFIG on lenet, in-process, uninterrupted: (result, log, db)."""
    folder = tmp_path_factory.mktemp("reference")
    log, db = folder / "tune.jsonl", folder / "maps.json"
    result = tune(model_files["lenet"], TARGET, CONFIG, log=log, db=db)
    return result, log, db


def assert_same_run(log: Path, db: Path, result: TuneResult, reference) -> None:
    """The same records after the header (evaluations, simulations, decisions, in order), the
    same database and the same per-layer results as the reference run."""
    ref_result, ref_log, ref_db = reference
    assert records(log)[1:] == records(ref_log)[1:]
    assert db_json(db) == db_json(ref_db)
    assert rows(result) == rows(ref_result)


# --- kill -9 and resume ------------------------------------------------------------------------

SCRIPT = """
import json, sys, time
from tuner.tune import TuneConfig, resume, tune

def slow(done, total, what):  # a pause per round: the test kills the run between two rounds
    time.sleep(0.02)

if sys.argv[1] == "tune":
    model, target, config, log, db = sys.argv[2:]
    tune(model, target, TuneConfig.from_json(json.loads(config)), log=log, db=db,
         on_progress=slow)
else:
    resume(sys.argv[2], on_progress=slow)
"""


class LogWatch:
    """Counts the records of a growing log by type, on its complete lines (the file is read
    whole each time: a resume cuts a torn last line off before it appends)."""

    def __init__(self, path: Path):
        self.path = path
        self.counts: dict[str, int] = {}

    def poll(self) -> dict[str, int]:
        if self.path.exists():
            data = self.path.read_bytes()
            data = data[: data.rfind(b"\n") + 1]
            self.counts = {
                kind: data.count(b'{"type":"%s"' % kind.encode())
                for kind in ("eval", "sim", "done")
            }
        return self.counts


def kill_when(args: list[str], log: Path, ready) -> dict[str, int]:
    """Run the tuner in a subprocess and SIGKILL it as soon as `ready(counts)` holds for its
    log; fails if it ends by itself first. Returns the counts seen at the kill."""
    stderr = log.with_name(log.name + f".{args[0]}.stderr")
    with open(stderr, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    watch = LogWatch(log)
    deadline = time.monotonic() + 120
    try:
        while not ready(watch.poll()):
            if proc.poll() is not None:
                pytest.fail(f"the run ended before it was killed:\n{stderr.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no kill point within 120 s: {watch.counts}")
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return dict(watch.counts)


def test_resume_after_sigkill_loses_nothing(model_files, tmp_path, reference):
    ref_result, ref_log, _ = reference
    log, db = tmp_path / "tune.jsonl", tmp_path / "maps.json"
    layers = len(ref_result.layers)
    total = ref_result.evaluations

    # 1. killed in the search, a third of the way
    config = json.dumps(CONFIG.to_json())
    args = ["tune", str(model_files["lenet"]), TARGET, config, str(log), str(db)]
    seen = kill_when(args, log, lambda c: c.get("eval", 0) >= total // 3)
    assert seen.get("done", 0) == 0
    # 2. resumed, and killed again once the first layer is decided
    seen = kill_when(["resume", str(log)], log, lambda c: c.get("done", 0) >= 1)
    assert seen["eval"] == total and seen["done"] < layers
    # 3. a torn last line on top, as a kill mid-write leaves it
    logged = len(of_type(records_complete(log), "eval"))
    with open(log, "a") as f:
        f.write('{"type":"eval","layer":0,"g":[0,')

    result = resume(log)
    assert result.resumed_evaluations == logged == total
    assert result.evaluations == 0
    recs = assert_consistent_log(log, layers)
    assert_same_run(log, db, result, reference)
    assert {eval_key(r) for r in of_type(recs, "eval")} == {
        eval_key(r) for r in of_type(records(ref_log), "eval")
    }


def records_complete(log: Path) -> list[dict[str, Any]]:
    """The records of the complete lines (a kill may leave a torn last line)."""
    text = log.read_text()
    return [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines()]


def test_resume_in_the_middle_of_the_search_evaluates_the_rest_once(tmp_path, reference):
    """A log cut after some rounds (as a kill leaves it, torn last line included): resume scores
    exactly the points the cut run lacks and decides as the uninterrupted run did."""
    ref_result, ref_log, _ = reference
    lines = ref_log.read_text().splitlines(keepends=True)
    evals = [i for i, line in enumerate(lines) if '"type":"eval"' in line]
    cut = evals[len(evals) // 2]
    log, db = tmp_path / "tune.jsonl", tmp_path / "maps.json"
    log.write_text("".join(lines[:cut]) + lines[cut][: len(lines[cut]) // 2])
    result = resume(log, db=db)
    kept = len(evals[: len(evals) // 2])
    assert result.resumed_evaluations == kept
    assert result.evaluations + result.resumed_evaluations == ref_result.evaluations
    assert_consistent_log(log, len(ref_result.layers))
    assert_same_run(log, db, result, reference)


def test_resume_of_a_finished_log_with_a_torn_line_changes_nothing(tmp_path, reference):
    ref_result, ref_log, ref_db = reference
    log, db = tmp_path / "tune.jsonl", tmp_path / "maps.json"
    shutil.copy(ref_log, log)
    finished = log.read_text()
    with open(log, "a") as f:
        f.write('{"type":"sim","layer":2,"mapping":{"dataflow":"o')
    result = resume(log, db=db)
    assert log.read_text() == finished  # the torn line cut off, nothing else written
    assert result.evaluations == 0
    assert result.resumed_evaluations == ref_result.evaluations
    assert rows(result) == rows(ref_result)
    assert db_json(db) == db_json(ref_db)


# --- the database and compile --mappings -----------------------------------------------------

CASES = [
    ("lenet", "tpu-like-small"),
    ("lenet", "maeri-64"),
    ("lenet", "sigma-64"),
    ("depthwise_pointwise", "maeri-64"),
    ("resnet_block", "tpu-like-small"),
]


def accel_cycles(model: Path, target: str, mappings: Path | None = None) -> dict[str, int]:
    compiled = api.compile(model, target, mappings=mappings)
    if mappings is not None:
        assert set(compiled.mapping_sources.values()) == {"database"}, compiled.mapping_sources
        assert compiled.mapping_notice() is None
    stats = api.simulate(compiled.program).stats
    return {layer.name: layer.cycles for layer in stats.layers if layer.on_accel}


@pytest.mark.parametrize(("model", "target"), CASES)
def test_compile_with_the_database_reproduces_the_tuned_cycles(
    model, target, model_files, tmp_path
):
    path = model_files[model]
    log, db_path = tmp_path / "tune.jsonl", tmp_path / "maps.json"
    result = tune(path, target, SMALL, log=log, db=db_path)

    # the database round-trips
    db = MappingDB.load(db_path)
    assert db.to_json() == json.loads(db_path.read_text())
    db.save(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == db_path.read_text()
    assert len(db) == len(result.layers)
    for r in result.layers:
        assert db.lookup(r.task.shape, result.target) == r.mapping
        entry = next(e for e in db.entries.values() if e["signature"] == r.task.signature)
        assert (entry["cycles"], entry["default_cycles"]) == (r.tuned_cycles, r.default_cycles)
        assert entry["layers"] == r.task.names

    tuned = accel_cycles(path, target, db_path)
    default = accel_cycles(path, target)
    assert set(tuned) == {name for r in result.layers for name in r.task.names}
    for r in result.layers:
        assert r.tuned_cycles <= r.default_cycles, r.task.names
        for name in r.task.names:
            assert tuned[name] == r.tuned_cycles, name
            assert default[name] == r.default_cycles, name

    recs = assert_consistent_log(log, len(result.layers))
    assert (
        len(of_type(recs, "eval"))
        == result.evaluations
        == sum(r.evaluations for r in result.layers)
    )
    assert all(r.evaluations <= SMALL.budget for r in result.layers)


# --- the same run, whatever runs it -------------------------------------------------------------


def test_same_seed_same_run_other_seed_other_points(model_files, tmp_path, reference):
    log, db = tmp_path / "same.jsonl", tmp_path / "same.json"
    result = tune(model_files["lenet"], TARGET, CONFIG, log=log, db=db)
    assert_same_run(log, db, result, reference)
    assert result.evaluations == reference[0].evaluations
    other = tmp_path / "other.jsonl"
    config = TuneConfig(**{**CONFIG.to_json(), "axes": CONFIG.axes, "seed": 1})
    tune(model_files["lenet"], TARGET, config, log=other)
    points = [eval_key(r) for r in of_type(records(other), "eval")]
    assert points != [eval_key(r) for r in of_type(records(reference[1]), "eval")]


def test_process_pool_gives_the_same_run(model_files, tmp_path, reference):
    log, db = tmp_path / "tune.jsonl", tmp_path / "maps.json"
    result = tune(model_files["lenet"], TARGET, CONFIG, log=log, db=db, executor="pool:2")
    assert_same_run(log, db, result, reference)


def test_ray_gives_the_same_run(model_files, tmp_path, reference, ray_executor):
    log, db = tmp_path / "tune.jsonl", tmp_path / "maps.json"
    result = tune(model_files["lenet"], TARGET, CONFIG, log=log, db=db, executor=ray_executor)
    assert_same_run(log, db, result, reference)


# --- refusals and the time limit ----------------------------------------------------------------


def test_tune_refuses_an_existing_log(model_files, tmp_path):
    log = tmp_path / "tune.jsonl"
    log.write_text('{"type":"header"}\n')
    with pytest.raises(TuneError, match="the tuning log exists; resume it"):
        tune(model_files["lenet"], TARGET, SMALL, log=log)
    assert log.read_text() == '{"type":"header"}\n'


def test_a_bad_executor_or_database_fails_before_the_log_is_started(model_files, tmp_path):
    log = tmp_path / "tune.jsonl"
    with pytest.raises(ExecutorError, match="pool:N takes a number of workers"):
        tune(model_files["depthwise_pointwise"], TARGET, SMALL, log=log, executor="pool:x")
    assert not log.exists()
    db = tmp_path / "maps.json"
    db.write_text("not json")
    with pytest.raises(DatabaseError, match="not valid JSON"):
        tune(model_files["depthwise_pointwise"], TARGET, SMALL, log=log, db=db)
    assert not log.exists()  # a fixed database and the same log path just work


def moved_log(reference, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the reference log whose header names a copy of its model."""
    recs = records(reference[1])
    model = tmp_path / "model.onnx"
    shutil.copy(recs[0]["model"], model)
    recs[0]["model"] = str(model)
    log = tmp_path / "tune.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return log, model


def test_resume_refuses_a_changed_model(tmp_path, reference, model_files):
    log, model = moved_log(reference, tmp_path)
    model.write_bytes(model_files["depthwise_pointwise"].read_bytes())
    with pytest.raises(TuneError, match="changed since the run started"):
        resume(log)


def test_resume_refuses_a_missing_model(tmp_path, reference):
    log, model = moved_log(reference, tmp_path)
    model.unlink()
    with pytest.raises(TuneError, match="is gone"):
        resume(log)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "no such tuning log"),
        ('{"type":"eval"}\n', "no header record"),
        ('{"type":"header","version":99}\n', "log version 99"),
        ('{"type":"header","version":1}\nnot json\n{"type":"done"}\n', ":2: not a JSON record"),
    ],
)
def test_resume_refuses_what_is_not_a_log(tmp_path, text, message):
    log = tmp_path / "tune.jsonl"
    if text is not None:
        log.write_text(text)
    with pytest.raises(TuneError, match=message):
        resume(log)


@pytest.mark.parametrize("seconds", [0.0, 0.5])
def test_time_limit_stops_the_search_and_writes_the_database(model_files, tmp_path, seconds):
    # random never runs out of new points on lenet: only the time limit stops it
    config = TuneConfig(strategy="random", budget=10**6, batch=64, top_k=0, time_limit=seconds)
    log, db = tmp_path / "tune.jsonl", tmp_path / "maps.json"
    log.touch()  # an empty log is a new one
    result = tune(model_files["lenet"], TARGET, config, log=log, db=db)
    assert 0 < len(result.layers) == len(MappingDB.load(db))
    assert result.evaluations < config.budget
    if seconds == 0:
        assert result.evaluations == 0
    else:
        assert result.evaluations > 0
    for r in result.layers:  # top-k 0: the default only is simulated
        assert r.mapping == r.task.default and r.tuned_cycles == r.default_cycles
    recs = assert_consistent_log(log, len(result.layers))
    assert len(of_type(recs, "eval")) == result.evaluations


def test_each_objective_decides_its_own_choice_and_keeps_its_own_entries(model_files, tmp_path):
    """LeNet on tpu-like-small: the latency optimum of several layers uses more energy than the
    energy optimum (conv2's latency choice even more than the default mapping), so picking the
    final mapping by cycles under --objective energy (the bug of issue 11) would show here.
    The simulator decides by the run's objective: never worse than the default on it."""
    import dataclasses

    path, db_path = model_files["lenet"], tmp_path / "maps.json"
    config = dataclasses.replace(SMALL, top_k=4)
    latency = tune(path, TARGET, config, db=db_path)
    energy = tune(path, TARGET, dataclasses.replace(config, objective="energy"), db=db_path)
    for r in latency.layers:
        assert r.tuned_cycles <= r.default_cycles, r.task.names
    for r in energy.layers:
        assert r.tuned_energy_pj <= r.default_energy_pj, r.task.names
    pairs = list(zip(latency.layers, energy.layers, strict=True))
    # the two objectives' optima differ on this model, both ways
    assert any(a.tuned_energy_pj > b.tuned_energy_pj for a, b in pairs)
    assert any(a.tuned_cycles < b.tuned_cycles for a, b in pairs)
    # one database holds both, each compiled on request
    db = MappingDB.load(db_path)
    assert len(db) == 2 * len(latency.layers)
    assert {e["objective"] for e in db.entries.values()} == {"latency", "energy"}
    for want, result in (("latency", latency), ("energy", energy)):
        compiled = api.compile(path, TARGET, mappings=db_path, objective=want)
        stats = api.simulate(compiled.program).stats
        got = {layer.name: layer for layer in stats.layers if layer.on_accel}
        for r in result.layers:
            assert got[r.task.names[0]].cycles == r.tuned_cycles
            assert sum(got[r.task.names[0]].energy_pj.values()) == pytest.approx(r.tuned_energy_pj)
