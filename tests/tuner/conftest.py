"""Shared by the tuner tests: the example models as ONNX files, and one local Ray instance
(starting Ray takes seconds: the executor and tuning tests share it)."""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx
import pytest

from accelflow import models


@pytest.fixture(scope="session")
def model_files(tmp_path_factory) -> dict[str, Path]:
    """lenet, depthwise_pointwise and resnet_block written to .onnx files."""
    folder = tmp_path_factory.mktemp("models")
    paths = {}
    for name in ("lenet", "depthwise_pointwise", "resnet_block"):
        paths[name] = folder / f"{name}.onnx"
        onnx.save(getattr(models, name)(), str(paths[name]))
    return paths


@pytest.fixture(scope="session")
def ray_executor():
    """A RayExecutor on a local Ray instance of 2 CPUs, shut down after the session."""
    ray = pytest.importorskip("ray")
    from tuner.executors import RayExecutor

    with warnings.catch_warnings():
        # Ray starts its daemons with Popen(preexec_fn=...), a fork + exec, which JAX (once
        # initialised) warns about as if the child went on running Python
        warnings.filterwarnings("ignore", r"os\.fork\(\) was called", RuntimeWarning)
        executor = RayExecutor(num_cpus=2)
    yield executor
    executor.close()
    assert not ray.is_initialized()
