"""SCALE-Sim 3.0.0 as an independent check of the systolic array's compute cycles.

SCALE-Sim (PyPI `scalesim==3.0.0`, installed by `pip install -e '.[dev,peers]'`) runs in a
subprocess: it prints a lot, takes seconds per layer, and its run folder goes into a temporary
directory. `run_scalesim` writes its three input files, runs it once for a list of layers, and
parses `COMPUTE_REPORT.csv`; `ours` compiles the same layer as a one-node ONNX model and reads
`stats.layers[0].compute_cycles`.

What SCALE-Sim reads (scalesim/scale_config.py, `read_conf_file`): `[general] run_name`;
`[run_presets] InterfaceBandwidth` (CALC or USER) and `UseRamulatorTrace`; `[architecture_presets]`
ArrayHeight, ArrayWidth, IfmapSramSzkB, FilterSramSzkB, OfmapSramSzkB (ints, kB), IfmapOffset,
FilterOffset, OfmapOffset, Dataflow (ws/os/is), ReadRequestBuffer, WriteRequestBuffer (and
Bandwidth in USER mode); `[layout]` IfmapCustomLayout, FilterCustomLayout, IfmapSRAMBank{Bandwidth,
Num,Port}, FilterSRAMBank{Bandwidth,Num,Port}; `[sparsity] SparsitySupport`. A `[network_presets]`
section must be absent (3.0.0 then looks its key up in the wrong section). The layout file is
always opened, but only read with a custom layout, so a header-only file is enough.

How its cycle count relates to ours (the offset the test applies, read from its source):

- Each dataflow's compute module (`compute/systolic_compute_{ws,os,is}.py`) builds demand
  matrices with one row per array cycle: per fold `T + rows + cols - 2` rows (os) or
  `2*rows + cols + T - 2` rows (ws, is: `rows` rows of stationary preload first), folds one after
  the other with no overlap. Our `simulator/arch/systolic.py` counts the same cycles: folds x cycles per
  fold, N rows in all.
- `memory/double_buffered_scratchpad_mem.py`, `service_memory_requests`, issues demand row `i` at
  cycle `i + stalls` and sets `total_cycles = max(ofmap serviced cycle)`: the *index* of the cycle
  in which the last row is serviced, i.e. `N - 1 + stalls` (0-based). `single_layer_sim.py` reports
  it as "Total Cycles" in COMPUTE_REPORT.csv (printed as "Compute cycles"), with "Stall Cycles"
  beside it; "Total Cycles (incl. prefetch)" is the span of the DRAM traces instead.
- With `InterfaceBandwidth: CALC` SCALE-Sim estimates the bandwidth and its read buffers never
  stall (`memory/read_buffer_estimate_bw.py`: "operation is stall free"); the ofmap write buffer
  stalls only when it fills, which buffers larger than the layer rule out. Then "Stall Cycles" = 0.

So `ours == "Total Cycles" - "Stall Cycles" + 1` (`SCALESIM_ZERO_BASED_OFFSET`), exactly.

Layers are given in SCALE-Sim's terms (no padding column: pass the padded ifmap size; its output
size is ceil((H - R + stride) / stride), which equals ours when (H - R) divides by the stride, as
for every layer here). A fully connected layer is a 1x1 conv over a 1x1 ifmap: Channels = inputs,
Num Filter = outputs, i.e. the GEMM M = 1 pixel, K = inputs, N = outputs; ours is a MatMul.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCALESIM_VERSION = "3.0.0"
# SCALE-Sim's "Total Cycles" is the 0-based index of the last cycle; ours is a count of cycles.
SCALESIM_ZERO_BASED_OFFSET = 1
# Buffers (kB) large enough that no layer here tiles or stalls, in SCALE-Sim and in ours.
BIG_SRAM_KB = 100_000
_RUN_MARKER = "ACCELFLOW_SCALESIM_RUN_SECONDS="


@dataclass(frozen=True)
class ConvLayer:
    """One layer in SCALE-Sim's topology terms (ifmap already padded; FC: 1x1 ifmap and filter)."""

    name: str
    ifmap_h: int
    ifmap_w: int
    filter_h: int
    filter_w: int
    channels: int
    num_filters: int
    stride: int = 1
    fully_connected: bool = False

    @property
    def ofmap_h(self) -> int:
        return (self.ifmap_h - self.filter_h) // self.stride + 1

    @property
    def ofmap_w(self) -> int:
        return (self.ifmap_w - self.filter_w) // self.stride + 1

    def csv_row(self) -> str:
        fields = [self.name, self.ifmap_h, self.ifmap_w, self.filter_h, self.filter_w]
        fields += [self.channels, self.num_filters, self.stride]
        return ",".join(str(f) for f in fields) + ","


def fc(name: str, inputs: int, outputs: int) -> ConvLayer:
    """A fully connected layer: SCALE-Sim's 1x1 conv over a 1x1 ifmap (M=1, K=inputs, N=outputs)."""
    return ConvLayer(name, 1, 1, 1, 1, inputs, outputs, 1, fully_connected=True)


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


@dataclass(frozen=True)
class ScaleSimLayer:
    """One row of SCALE-Sim's COMPUTE_REPORT.csv."""

    name: str
    total_cycles: int  # "Total Cycles": 0-based index of the last cycle, stalls included
    total_cycles_incl_prefetch: int  # "Total Cycles (incl. prefetch)": DRAM trace span
    stall_cycles: int  # "Stall Cycles"
    mapping_efficiency_pct: float

    @property
    def compute_cycles(self) -> int:
        """The number of cycles the array computes: what our `compute_cycles` counts."""
        return self.total_cycles - self.stall_cycles + SCALESIM_ZERO_BASED_OFFSET


@dataclass(frozen=True)
class ScaleSimRun:
    layers: list[ScaleSimLayer]
    run_seconds: float  # SCALE-Sim's own run (inside the subprocess, import excluded)
    command: str
    config_summary: str


def scalesim_available(python: str | None = None) -> bool:
    """Whether `python` (default: this interpreter) can import scalesim."""
    if python is None or Path(python) == Path(sys.executable):
        return importlib.util.find_spec("scalesim") is not None
    probe = subprocess.run([python, "-c", "import scalesim"], capture_output=True)
    return probe.returncode == 0


def write_config(
    path: Path, run_name: str, rows: int, cols: int, dataflow: str, sram_kb: int = BIG_SRAM_KB
) -> str:
    """Write SCALE-Sim's .cfg; returns a one-line summary of what matters for timing."""
    text = f"""[general]
run_name = {run_name}

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: {sram_kb}
FilterSramSzkB: {sram_kb}
OfmapSramSzkB: {sram_kb}
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth: 10
Dataflow: {dataflow}
MemoryBanks: 1
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport: false
SparseRep: ellpack_block
OptimizedMapping: false
BlockSize: 8
RandomNumberGeneratorSeed: 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""
    path.write_text(text)
    return f"{rows}x{cols} {dataflow} sram={sram_kb}kB x3 InterfaceBandwidth=CALC"


def write_topology(path: Path, layers: list[ConvLayer] | tuple[ConvLayer, ...]) -> None:
    """Write the topology CSV (trailing comma on every row, as SCALE-Sim's parser drops the last)."""
    header = "Layer name,IFMAP Height,IFMAP Width,Filter Height,Filter Width,Channels,Num Filter,Strides,"
    path.write_text("\n".join([header, *(layer.csv_row() for layer in layers)]) + "\n")


def write_layout(path: Path) -> None:
    """A header-only layout file: SCALE-Sim opens it always but reads it only for custom layouts."""
    path.write_text(
        "Layer name,IFMAP Height Intraline Factor,IFMAP Width Intraline Factor,"
        "Filter Height Intraline Factor,Filter Width Intraline Factor,Channel Intraline Factor,"
        "Num Filter Intraline Factor,IFMAP Height Intraline Order,IFMAP Width Intraline Order,"
        "Channel Intraline Order,IFMAP Height Interline Order,IFMAP Width Interline Order,"
        "Channel Interline Order,Num Filter Intraline Order,Channel Intraline Order,"
        "Filter Height Intraline Order,Filter Width Intraline Order,Num Filter Interline Order,"
        "Channel Interline Order,Filter Height Interline Order,Filter Width Interline Order,\n"
    )


_DRIVER = f"""
import sys, time
from scalesim.scale_sim import scalesim
cfg, topo, layout, top = sys.argv[1:5]
sim = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topo, layout=layout,
               input_type_gemm=False)
t0 = time.perf_counter()
sim.run_scale(top_path=top)
print("{_RUN_MARKER}" + repr(time.perf_counter() - t0))
"""


def read_compute_report(path: Path, names: list[str]) -> list[ScaleSimLayer]:
    """Parse COMPUTE_REPORT.csv (header 'LayerID, Total Cycles (incl. prefetch), Total Cycles,
    Stall Cycles, Overall Util %, Mapping Efficiency %, Compute Util %,', rows in layer order)."""
    with path.open(newline="") as f:
        rows = [
            {k.strip(): v.strip() for k, v in row.items() if k and k.strip()}
            for row in csv.DictReader(f, skipinitialspace=True)
        ]
    if len(rows) != len(names):
        raise RuntimeError(f"{path}: {len(rows)} layers reported, {len(names)} simulated")
    return [
        ScaleSimLayer(
            name=name,
            total_cycles=int(float(row["Total Cycles"])),
            total_cycles_incl_prefetch=int(float(row["Total Cycles (incl. prefetch)"])),
            stall_cycles=int(float(row["Stall Cycles"])),
            mapping_efficiency_pct=float(row["Mapping Efficiency %"]),
        )
        for name, row in zip(names, rows, strict=True)
    ]


def run_scalesim(
    layers: list[ConvLayer] | tuple[ConvLayer, ...],
    dataflow: str,
    rows: int = 32,
    cols: int = 32,
    python: str | None = None,
    workdir: Path | None = None,
    timeout_s: float = 1800,
) -> ScaleSimRun:
    """Run SCALE-Sim once on `layers` in a subprocess and return its per-layer report."""
    python = python or sys.executable
    with tempfile.TemporaryDirectory(prefix="scalesim-") as tmp:
        work = Path(workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        run_name = f"accelflow_{dataflow}_{rows}x{cols}"
        summary = write_config(work / "scale.cfg", run_name, rows, cols, dataflow)
        write_topology(work / "topology.csv", layers)
        write_layout(work / "layout.csv")
        argv = [python, "-c", _DRIVER, "scale.cfg", "topology.csv", "layout.csv", "runs"]
        proc = subprocess.run(
            argv, cwd=work, capture_output=True, text=True, timeout=timeout_s, check=False
        )
        report = work / "runs" / run_name / "COMPUTE_REPORT.csv"
        if proc.returncode != 0 or not report.exists():
            tail = (proc.stdout + proc.stderr)[-2000:]
            raise RuntimeError(f"SCALE-Sim failed (exit {proc.returncode}):\n{tail}")
        seconds = next(
            float(line[len(_RUN_MARKER) :])
            for line in proc.stdout.splitlines()
            if line.startswith(_RUN_MARKER)
        )
        parsed = read_compute_report(report, [layer.name for layer in layers])
    command = (
        f"scalesim {SCALESIM_VERSION}: scalesim(save_disk_space=True, config='scale.cfg', "
        "topology='topology.csv', layout='layout.csv').run_scale(top_path='runs')"
    )
    return ScaleSimRun(parsed, seconds, command, summary)


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


def default_python() -> str | None:
    """The interpreter to run SCALE-Sim with: ACCELFLOW_SCALESIM_PYTHON, else this one if it has it."""
    env = os.environ.get("ACCELFLOW_SCALESIM_PYTHON")
    if env:
        return env if scalesim_available(env) else None
    return sys.executable if scalesim_available() else None
