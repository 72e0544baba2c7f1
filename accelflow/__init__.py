"""accelflow: evaluate and optimise DNN inference accelerators, from ONNX to cycles.

The public Python API (the CLI is a thin layer over it):

    import accelflow
    result = accelflow.compile("model.onnx", target="tpu-like")
    sim = accelflow.simulate(result.program, functional=True, inputs={"input": x})
    stats = accelflow.simulate_many(result.program, ["tpu-like", other_target])  # one vmap
    print(sim.stats.format_table())
    accelflow.tune("model.onnx", target="maeri-128", db="maps.json", budget=2000)
    result = accelflow.compile("model.onnx", target="maeri-128", mappings="maps.json")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from accelflow.api import (
        CheckReport,
        CompileResult,
        ReferenceUnavailable,
        check,
        compile,
        simulate,
        simulate_many,
        tune,
    )

__all__ = [
    "CheckReport",
    "CompileResult",
    "ReferenceUnavailable",
    "check",
    "compile",
    "simulate",
    "simulate_many",
    "tune",
]


def __getattr__(name: str) -> Any:
    """The API's names, imported on first use (so `import accelflow.cli` and `accelflow --help`
    do not pay for onnx, xDSL and JAX)."""
    if name in __all__:
        from accelflow import api

        return getattr(api, name)
    raise AttributeError(f"module 'accelflow' has no attribute '{name}'")
