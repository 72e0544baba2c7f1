"""Kill tests (issue 13): `accelflow tune` killed with SIGKILL in the middle of its search resumes
from its log without losing an evaluation, writes a database that parses, leaves no temporary
file behind, and (with a process pool) takes its workers down with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tuner.db import MappingDB, write_atomic

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")


def _tune(*argv: object, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    return subprocess.Popen(
        [sys.executable, "-m", "accelflow", "tune", *map(str, argv)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (the pool's workers and resource tracker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _evaluations(log: Path) -> int:
    """Complete evaluation records in a log (a torn last line does not count)."""
    count = 0
    for line in log.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        count += isinstance(record, dict) and record.get("type") == "eval"
    return count


@pytest.mark.parametrize("executor", ["inprocess", "pool:2"])
def test_sigkill_mid_search_then_resume(tmp_path, executor):
    import onnx

    from accelflow.models import lenet

    model, db, log = tmp_path / "lenet.onnx", tmp_path / "maps.json", tmp_path / "maps.log.jsonl"
    onnx.save(lenet(), model)
    argv = ["--target", "tpu-like-small", "--budget", "3000", "--batch", "64"]
    proc = _tune(model, *argv, "--executor", executor, "-o", db, cwd=tmp_path)
    deadline = time.monotonic() + 180
    while not (log.exists() and _evaluations(log) >= 300):
        assert proc.poll() is None, f"the run ended before the kill: {proc.communicate()}"
        assert time.monotonic() < deadline, "no evaluations logged in 180 s"
        time.sleep(0.05)
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = _evaluations(log)
    if executor.startswith("pool"):
        assert workers, "no pool workers seen"
        deadline = time.monotonic() + 20
        while any(Path(f"/proc/{w}").exists() for w in workers):
            assert time.monotonic() < deadline, "pool workers outlived the killed tuner"
            time.sleep(0.1)
    done = _tune("--resume", log, "--json", cwd=tmp_path)
    out, err = done.communicate(timeout=600)
    assert done.returncode == 0, err
    result = json.loads(out)
    assert result["resumed_evaluations"] == kept > 0  # nothing logged was lost
    assert len(MappingDB.load(db)) == len(result["layers"])
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".maps.json.{dead.pid}.abc123.tmp"
    stale.write_text("{ half a datab")
    live = tmp_path / f".maps.json.{os.getpid()}.def456.tmp"  # a writer still running: kept
    live.write_text("{")
    write_atomic(tmp_path / "maps.json", "{}\n")
    assert not stale.exists() and live.exists()
    assert (tmp_path / "maps.json").read_text() == "{}\n"


# A writer of ever newer databases: generation g holds `copies` entries marked g; prints g once
# saved. Killed at random moments, and (every other round) while its temporary file is written.
_WRITER = """
import json, sys
from tuner.db import MappingDB
path, start, copies = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seed = json.loads(open(sys.argv[4]).read())
(entry,) = seed["entries"].values()
print("ready", flush=True)
for g in range(start, start + 1000):
    entries = {f"{g:06d}-{i}": {**entry, "generation": g} for i in range(copies)}
    MappingDB.from_json({**seed, "entries": entries}, "seed").save(path)
    print(g, flush=True)
"""


def test_sigkill_during_database_writes_never_tears_the_database(tmp_path):
    import random

    from simulator.target import load_target
    from simulator.workload import LayerShape, Mapping

    shape = LayerShape("matmul", {"g": 1, "m": 4, "n": 8, "k": 16})
    target = load_target("tpu-like-small")
    mapping = Mapping("ws", {"g": 1, "m": 4, "n": 8, "k": 16}, ("g", "m", "n", "k"))
    seed_db = MappingDB()
    seed_db.put(shape, target, mapping, cycles=1)
    seed = tmp_path / "seed.json"
    seed_db.save(seed)
    db = tmp_path / "maps.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random(13)
    last, torn_writes, rounds = -1, 0, 0
    while rounds < 40 and (torn_writes < 4 or rounds < 10):
        rounds += 1
        writer = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(db), str(last + 1), "20000", str(seed)],
            env=env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert writer.stdout.readline().strip() == "ready"
        if rounds % 2:  # at a random moment
            time.sleep(rng.uniform(0.0, 1.5))
        else:  # as soon as the temporary file appears, or a few ms later: during the write
            deadline = time.monotonic() + 10
            while not list(tmp_path.glob(".maps.json.*.tmp")) and time.monotonic() < deadline:
                time.sleep(0.0002)
            time.sleep(rng.uniform(0.0, 0.003))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        torn_writes += bool(list(tmp_path.glob(".maps.json.*.tmp")))  # killed mid-write
        if db.exists():
            entries = MappingDB.load(db).entries  # parses: the old file or the new one
            (generation,) = {e["generation"] for e in entries.values()}
            assert len(entries) == 20000 and generation >= last
            last = generation
    assert torn_writes >= 4, f"only {torn_writes} of {rounds} kills landed during a write"
    print(f"{rounds} kills, {torn_writes} during a write, last generation {last}")
    MappingDB.load(seed).save(db)  # the next write removes the dead writers' temporaries
    assert not list(tmp_path.glob(".*.tmp"))
