"""`import simulator` stays light: no xDSL ever, no JAX until a simulation runs."""

from __future__ import annotations

import subprocess
import sys


def test_import_simulator_loads_no_xdsl():
    code = "import simulator, sys; assert not any(m.startswith('xdsl') for m in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_import_simulator_loads_no_jax_and_exports_simulate():
    code = (
        "import simulator, sys; assert 'jax' not in sys.modules; "
        "from simulator import simulate, SimResult, ModelStats; assert callable(simulate); "
        "import simulator.run, simulator.engine, simulator.functional, simulator.arch.systolic_reference; "
        "assert not any(m.startswith('xdsl') for m in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
