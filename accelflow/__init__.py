"""accelflow: evaluate and optimise DNN inference accelerators, from ONNX to cycles.

The public Python API (the CLI is a thin layer over it):

    import accelflow
    result = accelflow.compile("model.onnx", target="tpu-like")
    sim = accelflow.simulate(result.program, functional=True, inputs={"input": x})
    print(sim.stats.format_table())
    accelflow.tune("model.onnx", target="maeri-128", db="maps.json", budget=2000)
    result = accelflow.compile("model.onnx", target="maeri-128", mappings="maps.json")
"""

from accelflow.api import (
    CheckReport,
    CompileResult,
    ReferenceUnavailable,
    check,
    compile,
    simulate,
    tune,
)

__all__ = [
    "CheckReport",
    "CompileResult",
    "ReferenceUnavailable",
    "check",
    "compile",
    "simulate",
    "tune",
]
