"""accelflow's simulator: runs a Program (numpy arrays) on a Target (a plain dataclass).

Nothing here imports xDSL: the compiler produces a Program, this package consumes it.
A test asserts that `import simulator` loads no `xdsl` module. JAX is imported only when a
simulation runs (`simulate`, `SimResult` and `ModelStats` are loaded lazily).
"""

from typing import Any

from simulator.program import Program
from simulator.target import Target, load_target

__all__ = ["ModelStats", "Program", "SimResult", "Target", "load_target", "simulate"]

_LAZY = {"simulate": "simulator.run", "SimResult": "simulator.run", "ModelStats": "simulator.stats"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")
