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
