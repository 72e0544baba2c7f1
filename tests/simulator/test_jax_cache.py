"""The persistent JAX compilation cache's folder (simulator/jax_cache.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from simulator import jax_cache


@pytest.mark.parametrize("value", ["off", "OFF", "0", "none"])
def test_off(monkeypatch, value):
    monkeypatch.setenv(jax_cache.ENV, value)
    assert jax_cache.cache_dir() is None


def test_moved_and_default(monkeypatch, tmp_path):
    monkeypatch.setenv(jax_cache.ENV, str(tmp_path / "here"))
    assert jax_cache.cache_dir() == tmp_path / "here"
    monkeypatch.delenv(jax_cache.ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert jax_cache.cache_dir() == tmp_path / "xdg" / "accelflow" / "jax"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert jax_cache.cache_dir() == Path.home() / ".cache" / "accelflow" / "jax"


def _simulate(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    from accelflow import models

    model = tmp_path / "lenet.onnx"
    if not model.exists():
        model.write_bytes(models.lenet().SerializeToString())
    env = {k: v for k, v in os.environ.items() if k != jax_cache.ENV}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "accelflow.cli",
            *args,
            "simulate",
            str(model),
            "--json",
            "--full-scan",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_the_cli_fills_the_cache_it_is_given_and_warns_when_it_cannot(tmp_path):
    folder = tmp_path / "cache"
    proc = _simulate(tmp_path, "--jax-cache", str(folder))
    assert proc.returncode == 0, proc.stderr
    assert folder.is_dir() and any(folder.iterdir())  # the compiled simulator was kept
    unwritable = tmp_path / "file"
    unwritable.write_text("not a folder")
    proc = _simulate(tmp_path, "--jax-cache", str(unwritable / "sub"))
    assert proc.returncode == 0, proc.stderr  # the cache only saves time: a warning
    assert "warning: JAX compilation cache off" in proc.stderr
    assert "UserWarning" not in proc.stderr  # one line, not Python's warning format
