"""SCALE-Sim 3.0.0 as an independent check of the systolic array's compute cycles.

SCALE-Sim (PyPI `scalesim==3.0.0`, installed by `pip install -e '.[dev,peers]'`) runs in a
subprocess: it prints a lot, takes seconds per layer, and its run folder goes into a temporary
directory. `run_scalesim` writes its three input files, runs it once for a list of layers, and
parses `COMPUTE_REPORT.csv`; `ours` compiles the same layer as a one-node ONNX model and reads
`stats.layers[0].compute_cycles`.

The SCALE-Sim side (its input files, `ConvLayer`, `run_scalesim`, the report parser) lives in the
exporter, `accelflow/export/scalesim.py`, whose docstring says what SCALE-Sim reads and how its
cycle count relates to ours, read from its source: ours == "Total Cycles" - "Stall Cycles" + 1
(`SCALESIM_ZERO_BASED_OFFSET`), exactly. This module re-exports those names and adds the layers
of the validation (AlexNet) and our side of it.

Layers are given in SCALE-Sim's terms (no padding column: pass the padded ifmap size; its output
size is ceil((H - R + stride) / stride), which equals ours when (H - R) divides by the stride, as
for every layer here). A fully connected layer is a 1x1 conv over a 1x1 ifmap: Channels = inputs,
Num Filter = outputs, i.e. the GEMM M = 1 pixel, K = inputs, N = outputs; ours is a MatMul.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from accelflow.export.scalesim import (  # noqa: F401  (re-exported)
    BIG_SRAM_KB,
    SCALESIM_VERSION,
    SCALESIM_ZERO_BASED_OFFSET,
    ConvLayer,
    ScaleSimLayer,
    ScaleSimRun,
    default_python,
    fc,
    read_compute_report,
    run_scalesim,
    scalesim_available,
    write_config,
    write_layout,
    write_topology,
)

# AlexNet (Krizhevsky et al. 2012) at 227x227, batch 1, groups ignored (SCALE-Sim has none);
# padded sizes: conv2 27+2*2, conv3-5 13+2*1 (pad 1 keeps conv5's 13x13 -> pool 6x6x256 = 9216).
ALEXNET: tuple[ConvLayer, ...] = (
    ConvLayer("conv1", 227, 227, 11, 11, 3, 96, 4),
    ConvLayer("conv2", 31, 31, 5, 5, 96, 256, 1),
    ConvLayer("conv3", 15, 15, 3, 3, 256, 384, 1),
    ConvLayer("conv4", 15, 15, 3, 3, 384, 384, 1),
    ConvLayer("conv5", 15, 15, 3, 3, 384, 256, 1),
    fc("fc6", 9216, 4096),
    fc("fc7", 4096, 4096),
    fc("fc8", 4096, 1000),
)


# ---- ours -----------------------------------------------------------------------------------


def layer_model(layer: ConvLayer) -> Any:
    """A one-node ONNX model of `layer`: Conv (no padding, on the padded size) or MatMul (FC)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    if layer.fully_connected:
        x_shape, y_shape = [1, layer.channels], [1, layer.num_filters]
        w = np.zeros((layer.channels, layer.num_filters), np.float32)
        node = helper.make_node("MatMul", ["x", "w"], ["y"], name=layer.name)
    else:
        x_shape = [1, layer.channels, layer.ifmap_h, layer.ifmap_w]
        y_shape = [1, layer.num_filters, layer.ofmap_h, layer.ofmap_w]
        w_shape = (layer.num_filters, layer.channels, layer.filter_h, layer.filter_w)
        w = np.zeros(w_shape, np.float32)
        node = helper.make_node(
            "Conv",
            ["x", "w"],
            ["y"],
            name=layer.name,
            kernel_shape=[layer.filter_h, layer.filter_w],
            strides=[layer.stride, layer.stride],
        )
    graph = helper.make_graph(
        [node],
        layer.name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)],
        initializer=[numpy_helper.from_array(w, "w")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def target_overrides(dataflow: str, rows: int = 32, cols: int = 32) -> list[str]:
    """tpu-like with SCALE-Sim's array and buffers so large that the layer is one buffer tile."""
    big = f"{BIG_SRAM_KB}"
    return [
        f"rows={rows}",
        f"cols={cols}",
        f"dataflow={dataflow}",
        f"ifmap_sram_kib={big}",
        f"filter_sram_kib={big}",
        f"ofmap_sram_kib={big}",
    ]


@dataclass(frozen=True)
class OursLayer:
    compute_cycles: int
    compute_count: int  # COMPUTE instructions in the layer (1: one buffer tile)
    simulate_seconds: float  # warm `accelflow.simulate` wall time (second call)


def ours(layer: ConvLayer, dataflow: str, rows: int = 32, cols: int = 32) -> OursLayer:
    """Compile `layer` for tpu-like (rows x cols, `dataflow`, one buffer tile) and simulate it."""
    import numpy as np

    import accelflow
    from simulator.program import OP_COMPUTE, ROW

    result = accelflow.compile(
        layer_model(layer), "tpu-like", target_overrides(dataflow, rows, cols)
    )
    accelflow.simulate(result.program, result.target)  # warm-up (jit)
    t0 = time.perf_counter()
    sim = accelflow.simulate(result.program, result.target)
    seconds = time.perf_counter() - t0
    computes = int(np.count_nonzero(ROW.view(result.program.instrs).opcode == OP_COMPUTE))
    return OursLayer(int(sim.stats.layers[0].compute_cycles), computes, seconds)
