"""accelflow's simulator: runs a Program (numpy arrays) on a Target (a plain dataclass).

Nothing here imports xDSL: the compiler produces a Program, this package consumes it.
A test asserts that `import simulator` loads no `xdsl` module.
"""

from simulator.program import Program
from simulator.target import Target, load_target

__all__ = ["Program", "Target", "load_target"]
