"""accelflow.tune: the Python API's tuner, and compile reading its database."""

from pathlib import Path

import accelflow

LENET = str(Path(__file__).resolve().parents[2] / "examples" / "lenet.onnx")


def test_tune_then_compile_with_the_database_gives_the_tuned_cycles(tmp_path):
    db = tmp_path / "maps.json"
    result = accelflow.tune(LENET, "tpu-like-small", db=db, budget=100, batch=50, seed=3)
    tuned = {name: r.tuned_cycles for r in result.layers for name in r.task.names}
    assert all(r.tuned_cycles <= r.default_cycles for r in result.layers)
    assert any(r.tuned_cycles < r.default_cycles for r in result.layers)
    compiled = accelflow.compile(LENET, "tpu-like-small", mappings=db)
    assert set(compiled.mapping_sources.values()) == {"database"}
    stats = accelflow.simulate(compiled.program).stats
    assert {s.name: s.cycles for s in stats.layers if s.on_accel} == tuned
