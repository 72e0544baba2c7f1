"""accelflow.tune: the Python API's tuner, and compile reading its database."""

import accelflow


def test_tune_then_compile_with_the_database_gives_the_tuned_cycles(tmp_path):
    db = tmp_path / "maps.json"
    result = accelflow.tune(
        "examples/lenet.onnx", "tpu-like-small", db=db, budget=100, batch=50, seed=3
    )
    tuned = {name: r.tuned_cycles for r in result.layers for name in r.task.names}
    assert all(r.tuned_cycles <= r.default_cycles for r in result.layers)
    assert any(r.tuned_cycles < r.default_cycles for r in result.layers)
    compiled = accelflow.compile("examples/lenet.onnx", "tpu-like-small", mappings=db)
    assert set(compiled.mapping_sources.values()) == {"database"}
    stats = accelflow.simulate(compiled.program).stats
    assert {s.name: s.cycles for s in stats.layers if s.on_accel} == tuned
