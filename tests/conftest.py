"""Session-wide test settings."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def pytest_configure(config) -> None:
    """One persistent JAX compilation cache (simulator/jax_cache.py) for the test process and
    every `accelflow` process it starts, in the temp folder rather than the user's cache (a
    test that sets ACCELFLOW_JAX_CACHE itself keeps its own); the program cache off."""
    folder = Path(tempfile.gettempdir()) / f"accelflow-tests-jax-cache-{os.getuid()}"
    os.environ.setdefault("ACCELFLOW_JAX_CACHE", str(folder))
    # No compiled program reused between tests (a test may patch the compiler in-process);
    # tests/cli/test_program_cache.py turns the cache on where it tests it.
    os.environ.setdefault("ACCELFLOW_PROGRAM_CACHE", "off")
