"""Executors (tuner/executors.py): the specs `make_executor` takes and refuses, and `map` giving
the results in the order of the payloads, on every executor (the tuner relies on it)."""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pytest

from compiler import tiling
from simulator.target import load_target
from tuner.executors import ExecutorError, InProcess, ProcessPool, RayExecutor, make_executor
from tuner.space import AXIS_GROUPS, MappingSpace
from tuner.tune import score_task


def slow_echo(payload: tuple[int, float]) -> int:
    """Sleeps, then returns the payload's index: the first payloads finish last."""
    index, seconds = payload
    time.sleep(seconds)
    return index


def score_payloads() -> list[tuple]:
    """Cost-model batches of two layers on two targets, as the tuner sends them."""
    payloads = []
    rng = np.random.default_rng(0)
    shapes = [
        tiling.conv2d_shape((1, 6, 14, 14), (16, 6, 5, 5), has_bias=True),
        tiling.matmul_shape((1, 400), (400, 120), has_bias=True),
    ]
    for name in ("tpu-like-small", "maeri-64"):
        target = load_target(name)
        for shape in shapes:
            base = tiling.default_mapping(shape, target)
            space = MappingSpace(shape, target, base=base)
            payloads.append((shape, target, AXIS_GROUPS, base, 4096, space.sample(rng, 40)))
    return payloads


def assert_same_figures(got: list[dict], want: list[dict]) -> None:
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert a.keys() == b.keys()
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_inprocess_spec():
    executor = make_executor("inprocess")
    assert isinstance(executor, InProcess) and executor.name == "inprocess"
    assert make_executor().name == "inprocess"
    assert executor.map(slow_echo, [(i, 0.0) for i in range(5)]) == list(range(5))
    assert executor.map(slow_echo, []) == []
    executor.close()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("pool:x", "pool:N takes a number of workers"),
        ("pool:2.5", "pool:N takes a number of workers"),
        ("pool:0", "needs at least 1 worker"),
        ("pool:-3", "needs at least 1 worker"),
        ("threads", "unknown executor 'threads'"),
        ("inprocess:4", "unknown executor 'inprocess:4'"),
        ("", "unknown executor ''"),
        ("Pool:2", "unknown executor 'Pool:2'"),
    ],
)
def test_bad_specs_are_refused(spec, message):
    with pytest.raises(ExecutorError, match=message):
        make_executor(spec)


def test_ray_without_ray_installed_is_an_executor_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(ExecutorError, match=r"pip install 'accelflow\[ray\]'"):
        make_executor("ray")
    with pytest.raises(ExecutorError, match="needs Ray"):
        RayExecutor(num_cpus=1)


def test_process_pool_map_keeps_the_order():
    default = make_executor("pool")
    try:
        assert isinstance(default, ProcessPool) and default.workers >= 1
        assert default.name == f"pool:{default.workers}"
    finally:
        default.close()
    executor = make_executor("pool:2")
    try:
        assert executor.name == "pool:2"
        # the first payloads sleep longest: finished out of order, returned in order
        payloads = [(i, 0.05 * (5 - i)) for i in range(6)]
        assert executor.map(slow_echo, payloads) == list(range(6))
        assert executor.map(slow_echo, []) == []
        payloads = score_payloads()
        assert_same_figures(executor.map(score_task, payloads), [score_task(p) for p in payloads])
    finally:
        executor.close()


def test_ray_map_keeps_the_order(ray_executor):
    assert ray_executor.name == "ray"
    values = [{"i": i} for i in range(8)]
    assert ray_executor.map(json.dumps, values) == [json.dumps(v) for v in values]
    assert ray_executor.map(json.dumps, []) == []
    payloads = score_payloads()
    assert_same_figures(ray_executor.map(score_task, payloads), [score_task(p) for p in payloads])
