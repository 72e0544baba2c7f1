"""The program cache (accelflow/program_cache.py): `simulate` of a model compiled before loads
the program; anything that changes the program is another entry; a broken entry recompiles."""

from __future__ import annotations

import json

import onnx
import pytest

from accelflow import models, program_cache
from accelflow.cli import main


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "programs"
    monkeypatch.setenv(program_cache.ENV, str(folder))
    return folder


def _simulate(capsys, model, *args) -> dict:
    assert main(["simulate", str(model), "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_second_simulate_loads_the_program(tmp_path, cache, capsys):
    model = tmp_path / "lenet.onnx"
    onnx.save(models.lenet(), str(model))
    first = _simulate(capsys, model, "--target", "maeri-64")
    assert "program cache" not in first["wall_seconds"]
    assert len(list(cache.iterdir())) == 1
    second = _simulate(capsys, model, "--target", "maeri-64")
    assert set(second["wall_seconds"]) == {"program cache", "simulate"}
    assert second["layers"] == first["layers"] and second["total"] == first["total"]

    # Another target field, another model: other entries, compiled anew.
    other = _simulate(capsys, model, "--target", "maeri-64", "--set", "num_multipliers=32")
    assert "program cache" not in other["wall_seconds"]
    assert other["total"]["cycles"] != first["total"]["cycles"]
    onnx.save(models.lenet(seed=1), str(model))
    changed = _simulate(capsys, model, "--target", "maeri-64")
    assert "program cache" not in changed["wall_seconds"]
    assert len([p for p in cache.iterdir() if not p.name.startswith(".")]) == 3


def test_a_broken_entry_is_compiled_again(tmp_path, cache, capsys):
    model = tmp_path / "lenet.onnx"
    onnx.save(models.lenet(), str(model))
    first = _simulate(capsys, model)
    (entry,) = cache.iterdir()
    (entry / "program.npz").write_bytes(b"not an npz")
    again = _simulate(capsys, model)
    assert "program cache" not in again["wall_seconds"]
    assert again["total"] == first["total"]


def test_off_and_external_data_are_not_cached(tmp_path, monkeypatch, capsys):
    model = tmp_path / "lenet.onnx"
    onnx.save(models.lenet(), str(model))
    folder = tmp_path / "programs"
    monkeypatch.setenv(program_cache.ENV, str(folder))  # restored after the test
    assert main(["--program-cache", "off", "simulate", str(model), "--json"]) == 0
    capsys.readouterr()
    assert not folder.exists()
    monkeypatch.setenv(program_cache.ENV, str(folder))
    proto = models.lenet()
    onnx.save(proto, str(tmp_path / "ext.onnx"), save_as_external_data=True, size_threshold=0)
    _simulate(capsys, tmp_path / "ext.onnx")
    assert not folder.exists() or not any(folder.iterdir())
