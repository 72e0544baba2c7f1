"""accelflow's simulator: runs a Program (numpy arrays) on a Target (a plain dataclass).

Nothing here imports xDSL: the compiler produces a Program, this package consumes it.
A test asserts that `import simulator` loads no `xdsl` module. JAX is imported only when a
simulation runs (every name here is loaded lazily).
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.program import Program
    from simulator.run import SimResult, simulate
    from simulator.stats import ModelStats
    from simulator.target import Target, load_target

__all__ = ["ModelStats", "Program", "SimResult", "Target", "load_target", "simulate"]

# Every name is loaded on first use, so `simulator.errors` (the CLI's first import) stays light.
_LAZY = {
    "simulate": "simulator.run",
    "SimResult": "simulator.run",
    "ModelStats": "simulator.stats",
    "Program": "simulator.program",
    "Target": "simulator.target",
    "load_target": "simulator.target",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")
