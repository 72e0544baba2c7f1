"""SCALE-Sim 3.0.0 export: the compiler's layers and mappings as SCALE-Sim input files, and a
runner that reads SCALE-Sim's cycles back.

    accelflow export MODEL --target tpu-like [--mappings DB] --format scalesim -o DIR

Files written into DIR (per dataflow used: one file set if every layer has the same dataflow,
else each name gets a `_ws` / `_os` / `_is` suffix, `scale_ws.cfg`, `topology_ws.csv`, ...):

- `scale.cfg`: the array (ArrayHeight = rows, ArrayWidth = cols), the three buffers
  (Ifmap/Filter/OfmapSramSzkB, KiB rounded up to whole KiB), the layers' dataflow,
  `InterfaceBandwidth: CALC`; the notes as `#` comment lines (its configparser skips them).
- `topology.csv`: one SCALE-Sim conv row per distinct layer, whole (untiled): what a SCALE-Sim
  user runs on the model.
- `tiles.csv`: one row per distinct tile GEMM of the layer's mapping (module section "Tiles").
- `tiles.json`: the manifest: per layer its names, shape, mapping, row in `topology.csv` and
  `repeat` (groups), and per tile row its count, GEMM (m, n, k) and our compute cycles.
- `layout.csv`: SCALE-Sim's layout file, header only (it opens it always, reads it only with a
  custom layout, which this export does not use).
- `README.txt`: what the files are, how to run SCALE-Sim on them, and the notes (CSV files
  have no comment syntax SCALE-Sim skips: a `#` line would be read as a layer).

Run it: `python -m scalesim.scale -c scale.cfg -t topology.csv -l layout.csv -p runs_topology
-i conv -s N` (and `-t tiles.csv -p runs_tiles`: two runs of one config write into the same
`<-p>/<run_name>/` folder, so give them different `-p`; SCALE-Sim creates only the last folder of
it); `run_export(DIR)` does both in a subprocess and returns each layer's cycles. accelflow itself
never imports scalesim.

How SCALE-Sim counts (read from its source; scalesim/scale_config.py, topology_utils.py,
compute/systolic_compute_{ws,os,is}.py, memory/double_buffered_scratchpad_mem.py,
single_layer_sim.py):

- Config: `[general] run_name`; `[run_presets] InterfaceBandwidth` (CALC or USER) and
  `UseRamulatorTrace`; `[architecture_presets]` ArrayHeight, ArrayWidth, IfmapSramSzkB,
  FilterSramSzkB, OfmapSramSzkB (ints, KiB: it multiplies by 1024; words are 1 byte),
  IfmapOffset, FilterOffset, OfmapOffset, Dataflow (ws/os/is), ReadRequestBuffer,
  WriteRequestBuffer (and Bandwidth in USER mode); `[layout]` IfmapCustomLayout,
  FilterCustomLayout, IfmapSRAMBank{Bandwidth,Num,Port}, FilterSRAMBank{Bandwidth,Num,Port};
  `[sparsity] SparsitySupport`. A `[network_presets]` section must be absent (3.0.0 then looks
  its key up in the wrong section).
- Topology (conv mode): a header line, then `name, IFMAP H, IFMAP W, Filter H, Filter W,
  Channels, Num Filter, Stride,` with a trailing comma (its parser drops the last field); one
  stride for both axes; no padding, batch, groups or dilation. A name containing `DP` is
  split into one depthwise layer per channel, so row names here never contain it. Output size
  ceil((H - R + stride) / stride); GEMM view M = output pixels, N = filters, K = R*S*C.
- Per dataflow two GEMM axes go across the array and the third is streamed (T): os rows M,
  cols N, T = K; ws rows K, cols N, T = M; is rows K, cols M, T = N, with ArrayHeight rows,
  ArrayWidth cols: ours (simulator/arch/systolic.py) maps the same axes. Its compute modules
  build one demand row per array cycle: per fold `T + rows + cols - 2` rows (os) or
  `2*rows + cols + T - 2` (ws, is: `rows` rows of stationary preload first), folds one after
  the other with no overlap; ceil(across-rows / rows) * ceil(across-cols / cols) folds. Ours
  counts the same cycles: folds x cycles per fold, N rows in all.
- `service_memory_requests` issues demand row `i` at cycle `i + stalls` and sets
  `total_cycles = max(ofmap serviced cycle)`: the *index* of the cycle in which the last row is
  serviced, `N - 1 + stalls` (0-based), reported as "Total Cycles" in COMPUTE_REPORT.csv with
  "Stall Cycles" beside it ("Total Cycles (incl. prefetch)" is the span of the DRAM traces).
  With `InterfaceBandwidth: CALC` its read buffers never stall
  (`memory/read_buffer_estimate_bw.py`); the ofmap write buffer stalls only when it fills.

So ours == "Total Cycles" - "Stall Cycles" + 1 (`SCALESIM_ZERO_BASED_OFFSET`), exactly
(`ScaleSimLayer.compute_cycles`). "Stall Cycles" was 0 in every run here, buffers down to 1 KiB on
8x16 arrays included; the formula leaves out any there are.

Rows. A conv layer is written as SCALE-Sim conv: ifmap (y-1)*stride + r by (x-1)*stride + s
(the padded input, padding folded in; cropped to the rows and columns the conv reads where
(padded - r) does not divide by the stride, since SCALE-Sim rounds its output size up), filter
r x s, c channels, k filters, the stride. Where SCALE-Sim has no field for the layer (batch
n > 1, dilation > 1, unequal strides) the row is the layer's GEMM as a 1x1 conv over an
(n*y) x x ifmap with c*r*s channels and k filters: the same M, N, K, so the same compute cycles,
but not the same ifmap traffic (a note says so). A grouped conv's row is one group; `repeat` in
the manifest is the number of groups (SCALE-Sim has none). A matmul is a 1x1 conv over an m x 1
ifmap (m = 1: SCALE-Sim's fully connected form, a 1x1 ifmap), k channels, n filters; a batched
matmul's row is one of its g products (`repeat` g).

Tiles. SCALE-Sim has no buffer tiles, loop order or double buffering: it runs a layer whole.
Our systolic compute cycles for a tiled layer are the sum over the mapping's tiles of each tile's
cost (reps x folds x cycles per fold of the tile's GEMM view, `simulator.workload.gemm_view`);
along every dim the tiles are full or the one edge tile, so a mapping's tiles come in at most
2^dims shapes (tuner/tile_shapes.py). Tiles of the same GEMM (m, n, k) cost the same: each
distinct one is a row of `tiles.csv` (the conv of a representative tile's sizes, its input
footprint as the ifmap, or the GEMM-equivalent row as above), its `count` (tiles x reps) in the
manifest, and sum(count x (Total - Stall + 1)) == our layer's compute cycles, exactly.
"""

from __future__ import annotations

import csv
import importlib.util
import itertools
import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from accelflow.export import ExportError, ExportLayer, write_text
from simulator.target import Target
from simulator.workload import LayerShape, gemm_view

SCALESIM_VERSION = "3.0.0"
# SCALE-Sim's "Total Cycles" is the 0-based index of the last cycle; ours is a count of cycles.
SCALESIM_ZERO_BASED_OFFSET = 1
# Buffers (kB) large enough that no layer of the validation tiles or stalls, in SCALE-Sim and ours.
BIG_SRAM_KB = 100_000
MANIFEST = "tiles.json"
LAYOUT = "layout.csv"
README = "README.txt"
_RUN_MARKER = "ACCELFLOW_SCALESIM_RUN_SECONDS="
_TOPOLOGY_HEADER = (
    "Layer name,IFMAP Height,IFMAP Width,Filter Height,Filter Width,Channels,Num Filter,Strides,"
)
_LAYOUT_HEADER = (
    "Layer name,IFMAP Height Intraline Factor,IFMAP Width Intraline Factor,"
    "Filter Height Intraline Factor,Filter Width Intraline Factor,Channel Intraline Factor,"
    "Num Filter Intraline Factor,IFMAP Height Intraline Order,IFMAP Width Intraline Order,"
    "Channel Intraline Order,IFMAP Height Interline Order,IFMAP Width Interline Order,"
    "Channel Interline Order,Num Filter Intraline Order,Channel Intraline Order,"
    "Filter Height Intraline Order,Filter Width Intraline Order,Num Filter Interline Order,"
    "Channel Interline Order,Filter Height Interline Order,Filter Width Interline Order,"
)


# ---- SCALE-Sim's input files ----------------------------------------------------------------


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

    @property
    def gemm(self) -> tuple[int, int, int]:
        """SCALE-Sim's GEMM view (M, N, K): output pixels, filters, window size."""
        return (
            self.ofmap_h * self.ofmap_w,
            self.num_filters,
            self.filter_h * self.filter_w * self.channels,
        )

    def csv_row(self) -> str:
        fields = [self.name, self.ifmap_h, self.ifmap_w, self.filter_h, self.filter_w]
        fields += [self.channels, self.num_filters, self.stride]
        return ",".join(str(f) for f in fields) + ","


def fc(name: str, inputs: int, outputs: int) -> ConvLayer:
    """A fully connected layer: SCALE-Sim's 1x1 conv over a 1x1 ifmap (M=1, K=inputs, N=outputs)."""
    return ConvLayer(name, 1, 1, 1, 1, inputs, outputs, 1, fully_connected=True)


def config_text(
    run_name: str,
    rows: int,
    cols: int,
    dataflow: str,
    ifmap_kb: int = BIG_SRAM_KB,
    filter_kb: int = BIG_SRAM_KB,
    ofmap_kb: int = BIG_SRAM_KB,
    comments: list[str] | tuple[str, ...] = (),
) -> str:
    """SCALE-Sim's .cfg (module docstring for what it reads); `comments` as `#` lines on top."""
    head = "".join(f"# {line}\n" for line in comments)
    return f"""{head}[general]
run_name = {run_name}

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: {ifmap_kb}
FilterSramSzkB: {filter_kb}
OfmapSramSzkB: {ofmap_kb}
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


def write_config(
    path: Path, run_name: str, rows: int, cols: int, dataflow: str, sram_kb: int = BIG_SRAM_KB
) -> str:
    """Write SCALE-Sim's .cfg (three buffers of `sram_kb`); returns a one-line summary of what
    matters for timing."""
    path.write_text(config_text(run_name, rows, cols, dataflow, sram_kb, sram_kb, sram_kb))
    return f"{rows}x{cols} {dataflow} sram={sram_kb}kB x3 InterfaceBandwidth=CALC"


def topology_text(layers: list[ConvLayer] | tuple[ConvLayer, ...]) -> str:
    """The topology CSV (trailing comma on every row, as SCALE-Sim's parser drops the last)."""
    return "\n".join([_TOPOLOGY_HEADER, *(layer.csv_row() for layer in layers)]) + "\n"


def write_topology(path: Path, layers: list[ConvLayer] | tuple[ConvLayer, ...]) -> None:
    path.write_text(topology_text(layers))


def layout_text() -> str:
    """A header-only layout file: SCALE-Sim opens it always but reads it only for custom layouts."""
    return _LAYOUT_HEADER + "\n"


def write_layout(path: Path) -> None:
    path.write_text(layout_text())


# ---- running SCALE-Sim ----------------------------------------------------------------------


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


def default_python() -> str | None:
    """The interpreter to run SCALE-Sim with: ACCELFLOW_SCALESIM_PYTHON, else this one if it has it."""
    env = os.environ.get("ACCELFLOW_SCALESIM_PYTHON")
    if env:
        return env if scalesim_available(env) else None
    return sys.executable if scalesim_available() else None


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


# One process for several runs (scalesim's import takes a while): argv[1] is a JSON list of
# [config, topology, layout, top_path]; prints the seconds of all the runs.
_DRIVER = f"""
import json, sys, time
from scalesim.scale_sim import scalesim
t0 = time.perf_counter()
for cfg, topo, layout, top in json.loads(sys.argv[1]):
    sim = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topo,
                   layout=layout, input_type_gemm=False)
    sim.run_scale(top_path=top)
print("{_RUN_MARKER}" + repr(time.perf_counter() - t0))
"""


def _run_name(config: Path) -> str:
    import configparser

    parser = configparser.ConfigParser()
    parser.read(config)
    return parser.get("general", "run_name")


def run_files(
    jobs: list[tuple[Path, Path, Path]],
    python: str | None = None,
    workdir: Path | None = None,
    timeout_s: float = 1800,
) -> tuple[list[list[ScaleSimLayer]], float]:
    """Run SCALE-Sim (conv topologies) once per (config, topology, layout) in one subprocess;
    returns per job its report (rows named after the topology's first column) and the seconds
    SCALE-Sim ran (import excluded). Run folders go under `workdir` (default: a temporary one)."""
    python = python or sys.executable
    with tempfile.TemporaryDirectory(prefix="scalesim-") as tmp:
        work = Path(workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        argv_jobs = []
        reports = []
        for i, (config, topology, layout) in enumerate(jobs):
            top = work / f"run{i}"
            argv_jobs.append([str(Path(p).resolve()) for p in (config, topology, layout, top)])
            reports.append(top / _run_name(config) / "COMPUTE_REPORT.csv")
        argv = [python, "-c", _DRIVER, json.dumps(argv_jobs)]
        proc = subprocess.run(
            argv, cwd=work, capture_output=True, text=True, timeout=timeout_s, check=False
        )
        if proc.returncode != 0 or not all(r.exists() for r in reports):
            tail = (proc.stdout + proc.stderr)[-2000:]
            raise RuntimeError(f"SCALE-Sim failed (exit {proc.returncode}):\n{tail}")
        seconds = next(
            float(line[len(_RUN_MARKER) :])
            for line in proc.stdout.splitlines()
            if line.startswith(_RUN_MARKER)
        )
        parsed = [
            read_compute_report(report, topology_names(topology))
            for report, (_, topology, _) in zip(reports, jobs, strict=True)
        ]
    return parsed, seconds


def topology_names(path: Path) -> list[str]:
    """The layer names of a conv topology CSV, in order (as SCALE-Sim reads them)."""
    lines = [line.strip() for line in Path(path).read_text().splitlines()[1:]]
    return [line.split(",")[0].strip() for line in lines if line]


def run_scalesim(
    layers: list[ConvLayer] | tuple[ConvLayer, ...],
    dataflow: str,
    rows: int = 32,
    cols: int = 32,
    python: str | None = None,
    workdir: Path | None = None,
    timeout_s: float = 1800,
) -> ScaleSimRun:
    """Run SCALE-Sim once on `layers` (buffers of BIG_SRAM_KB) in a subprocess; its report."""
    with tempfile.TemporaryDirectory(prefix="scalesim-") as tmp:
        work = Path(workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        run_name = f"accelflow_{dataflow}_{rows}x{cols}"
        summary = write_config(work / "scale.cfg", run_name, rows, cols, dataflow)
        write_topology(work / "topology.csv", layers)
        write_layout(work / "layout.csv")
        files = (work / "scale.cfg", work / "topology.csv", work / "layout.csv")
        (parsed,), seconds = run_files([files], python, work / "runs", timeout_s)
    command = (
        f"scalesim {SCALESIM_VERSION}: scalesim(save_disk_space=True, config='scale.cfg', "
        "topology='topology.csv', layout='layout.csv').run_scale(top_path='runs')"
    )
    return ScaleSimRun(parsed, seconds, command, summary)


# ---- the export -----------------------------------------------------------------------------


def _row_name(stem: str, taken: set[str]) -> str:
    """A topology row name: the file stem, without `DP` (SCALE-Sim would split the row into
    depthwise layers) nor commas, unique in its file."""
    base = stem.replace("DP", "Dp").replace(",", "_") or "layer"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def _sub_layer(name: str, shape: LayerShape, sizes: dict[str, int]) -> tuple[ConvLayer, str]:
    """The SCALE-Sim row of one group of a layer (or tile) of per-dim `sizes`, and why it is the
    GEMM-equivalent form ("" when it is the plain conv)."""
    if shape.kind == "matmul":
        m, n, k = sizes["m"], sizes["n"], sizes["k"]
        return (fc(name, k, n) if m == 1 else ConvLayer(name, m, 1, 1, 1, k, n, 1)), ""
    n, k, c, y, x, r, s = (sizes[d] for d in ("n", "k", "c", "y", "x", "r", "s"))
    sy, sx = shape.stride
    why = []
    if n > 1:
        why.append(f"no batch (n={n})")
    if shape.dilation != (1, 1):
        why.append("no dilation ({}x{})".format(*shape.dilation))
    if sy != sx:
        why.append(f"one stride for both axes ({sy}x{sx})")
    if why:  # the GEMM (M = n*y*x, N = k, K = c*r*s) as a 1x1 conv
        return ConvLayer(name, n * y, x, 1, 1, c * r * s, k, 1), ", ".join(why)
    return ConvLayer(name, (y - 1) * sy + r, (x - 1) * sx + s, r, s, c, k, sy), ""


def tile_shapes(layer: ExportLayer) -> list[tuple[dict[str, int], int]]:
    """The distinct tile shapes of the layer's mapping: (per-dim sizes, number of tiles), full
    tiles first (along each dim: `trips - 1` full tiles and one edge tile, or all full)."""
    shape = layer.shape
    per_dim = []
    for d in shape.dim_names:
        extent = shape.dims[d]
        tile = max(1, min(int(layer.mapping.tiles.get(d, extent)), extent))
        trips = math.ceil(extent / tile)
        edge = extent - (trips - 1) * tile
        per_dim.append([(tile, trips)] if edge == tile else [(tile, trips - 1), (edge, 1)])
    return [
        (
            {d: size for d, (size, _) in zip(shape.dim_names, combo, strict=True)},
            math.prod(count for _, count in combo),
        )
        for combo in itertools.product(*per_dim)
    ]


def _our_cycles(reps: int, m: int, n: int, k: int, dataflow: str, target: Target) -> int:
    import numpy as np

    from simulator.arch.systolic import compute_cycles
    from simulator.program import DATAFLOWS

    code = DATAFLOWS.index(dataflow)
    return int(compute_cycles(reps, m, n, k, code, target.rows, target.cols, xp=np))


def _kib(value: float) -> int:
    return max(1, math.ceil(value))


def _target_notes(target: Target) -> list[str]:
    notes = [
        f"SCALE-Sim runs with InterfaceBandwidth CALC (it estimates the DRAM bandwidth it needs): "
        f"the target's DRAM ({target.dram_bw_bytes_per_cycle:g} B/cycle, latency "
        f"{target.dram_latency_cycles} cycles) and SRAM banks/ports are not expressed; compare "
        "compute cycles (Total Cycles - Stall Cycles + 1), not total cycles"
    ]
    sizes = {
        "ifmap_sram_kib": target.ifmap_sram_kib,
        "filter_sram_kib": target.filter_sram_kib,
        "ofmap_sram_kib": target.ofmap_sram_kib,
    }
    odd = [f"{f}={v:g}" for f, v in sizes.items() if v != _kib(v)]
    if odd:
        notes.append(
            f"SCALE-Sim's SRAM sizes are whole KiB: {', '.join(odd)} rounded up to "
            f"{', '.join(str(_kib(sizes[f.split('=')[0]])) for f in odd)} KiB"
        )
    if target.global_buffer == "shared":
        notes.append(
            "SCALE-Sim has one buffer per operand: the target's shared global buffer is "
            "written as its three sizes"
        )
    if target.element_bytes != 1:
        notes.append(
            f"SCALE-Sim's words are 1 byte: element_bytes={target.element_bytes} is not "
            "expressed (the buffer sizes are written in KiB as they are)"
        )
    return notes


@dataclass
class _Group:
    """The files of one dataflow."""

    dataflow: str
    config: str
    topology: str
    tiles: str
    topology_rows: list[ConvLayer]
    tile_rows: list[ConvLayer]


def write(
    layers: list[ExportLayer], target: Target, folder: Path, overwrite: bool = False
) -> tuple[list[Path], list[str]]:
    """Write the SCALE-Sim files of `layers` on `target` into `folder` (module docstring);
    returns (files written, notes). Nothing is written if any file exists and not `overwrite`."""
    if target.arch != "systolic":
        raise ExportError(
            f"scalesim export: target '{target.name}' is a {target.arch} accelerator; "
            "SCALE-Sim models systolic arrays only (arch: systolic)"
        )
    if not layers:
        raise ExportError("scalesim export: the model has no accelerator layer (conv / matmul)")
    dataflows = list(dict.fromkeys(layer.mapping.dataflow for layer in layers))
    bad = [d for d in dataflows if d not in ("ws", "os", "is")]
    if bad:
        raise ExportError(f"scalesim export: dataflow '{bad[0]}' is not one of ws, os, is")

    notes = [
        "SCALE-Sim has no buffer tiles, loop order or double buffering: the topology runs each "
        "layer whole; the tiles topology has one row per distinct tile GEMM of the mapping and "
        f"{MANIFEST} their counts (a layer's compute cycles = sum of count x "
        "(Total Cycles - Stall Cycles + 1))",
        *_target_notes(target),
    ]
    suffix = len(dataflows) > 1
    groups: dict[str, _Group] = {}
    for df in dataflows:
        tail = f"_{df}" if suffix else ""
        groups[df] = _Group(
            df, f"scale{tail}.cfg", f"topology{tail}.csv", f"tiles{tail}.csv", [], []
        )
    taken: dict[str, set[str]] = {df: set() for df in dataflows}
    taken_tiles: dict[str, set[str]] = {df: set() for df in dataflows}
    manifest_layers = []
    for layer in layers:
        shape, mapping, df = layer.shape, layer.mapping, layer.mapping.dataflow
        group = groups[df]
        reps, m, n, k = gemm_view(shape, shape.dims)
        row, why = _sub_layer(_row_name(layer.file_stem, taken[df]), shape, shape.dims)
        group.topology_rows.append(row)
        if why:
            notes.append(
                f"{layer.name}: SCALE-Sim has {why}: its rows are the layer's (and tiles') GEMM "
                f"as a 1x1 conv (M={m}, N={n}, K={k}): the same compute cycles, not the same "
                "ifmap traffic"
            )
        if reps > 1:
            what = "groups" if shape.kind == "conv2d" else "batched products"
            notes.append(
                f"{layer.name}: {reps} {what}; SCALE-Sim has none: its rows are one of them, "
                f"repeat {reps} ({MANIFEST})"
            )
        # Tiles: grouped by their GEMM (m, n, k); count = tiles x reps.
        by_gemm: dict[tuple[int, int, int], tuple[dict[str, int], int]] = {}
        for sizes, count in tile_shapes(layer):
            t_reps, t_m, t_n, t_k = gemm_view(shape, sizes)
            key = (t_m, t_n, t_k)
            first, total = by_gemm.get(key, (sizes, 0))
            by_gemm[key] = (first, total + count * t_reps)
        tiles = []
        for (t_m, t_n, t_k), (sizes, count) in by_gemm.items():
            name = _row_name(f"{row.name}.t{len(tiles)}", taken_tiles[df])
            tile_row, _ = _sub_layer(name, shape, {**sizes, "g": 1})
            assert tile_row.gemm == (t_m, t_n, t_k), (tile_row, t_m, t_n, t_k)
            group.tile_rows.append(tile_row)
            cycles = _our_cycles(1, t_m, t_n, t_k, df, target)
            tiles.append(
                {
                    "row": name,
                    "count": count,
                    "gemm": {"m": t_m, "n": t_n, "k": t_k},
                    "sizes": sizes,
                    "compute_cycles": cycles,
                }
            )
        manifest_layers.append(
            {
                "name": layer.name,
                "names": list(layer.names),
                "signature": shape.signature,
                "dataflow": df,
                "mapping": mapping.to_dict(),
                "config": group.config,
                "topology": group.topology,
                "topology_row": row.name,
                "repeat": reps,
                "gemm": {"m": m, "n": n, "k": k},
                "untiled_compute_cycles": _our_cycles(reps, m, n, k, df, target),
                "tiles_file": group.tiles,
                "tiles": tiles,
                "compute_cycles": sum(t["count"] * t["compute_cycles"] for t in tiles),
            }
        )

    texts: dict[str, str] = {}
    sram = (_kib(target.ifmap_sram_kib), _kib(target.filter_sram_kib), _kib(target.ofmap_sram_kib))
    run_base = "".join(c if c.isalnum() or c in "-_" else "_" for c in target.name)
    for df, group in groups.items():
        run_name = f"accelflow_{run_base}_{df}"
        texts[group.config] = config_text(
            run_name, target.rows, target.cols, df, *sram, comments=_comment_lines(target, notes)
        )
        texts[group.topology] = topology_text(group.topology_rows)
        texts[group.tiles] = topology_text(group.tile_rows)
    texts[LAYOUT] = layout_text()
    manifest = {
        "format": f"accelflow SCALE-Sim {SCALESIM_VERSION} export",
        "target": target.name,
        "array": {"rows": target.rows, "cols": target.cols},
        "cycles": "a row's compute cycles = Total Cycles - Stall Cycles + 1 (COMPUTE_REPORT.csv); "
        "a layer's = repeat x its topology row's = sum over its tiles of count x the tile row's",
        "runs": [
            {"dataflow": g.dataflow, "config": g.config, "topology": g.topology, "tiles": g.tiles}
            for g in groups.values()
        ],
        "layout": LAYOUT,
        "layers": manifest_layers,
        "notes": notes,
    }
    texts[MANIFEST] = json.dumps(manifest, indent=1) + "\n"
    texts[README] = _readme(target, list(groups.values()), notes)

    paths = {name: folder / name for name in texts}
    if not overwrite:  # refuse before writing anything
        for path in paths.values():
            if path.exists():
                raise ExportError(f"{path} exists; refusing to overwrite it (use --overwrite)")
    files = [write_text(paths[name], text, overwrite) for name, text in texts.items()]
    return files, notes


def _comment_lines(target: Target, notes: list[str]) -> list[str]:
    return [
        f"accelflow export of the layers' mappings on '{target.name}' for SCALE-Sim "
        f"{SCALESIM_VERSION} (see README.txt, {MANIFEST})",
        *(f"note: {note}" for note in notes),
    ]


def _readme(target: Target, groups: list[_Group], notes: list[str]) -> str:
    lines = [
        f"SCALE-Sim {SCALESIM_VERSION} input files written by `accelflow export --format "
        f"scalesim` for target '{target.name}' ({target.rows}x{target.cols} systolic array).",
        "",
        "Files:",
    ]
    for g in groups:
        lines += [
            f"  {g.config}: the array, buffers and dataflow {g.dataflow}",
            f"  {g.topology}: the {g.dataflow} layers, each whole (untiled), one row per layer",
            f"  {g.tiles}: the {g.dataflow} layers' tiles, one row per distinct tile GEMM",
        ]
    lines += [
        f"  {LAYOUT}: SCALE-Sim's layout file (header only: no custom layout)",
        f"  {MANIFEST}: per layer its mapping, topology row, repeat (groups) and per tile row",
        "    its count; our compute cycles for each",
        "",
        "Run (conv topologies; give each run its own -p: a config's runs share one folder name):",
    ]
    for g in groups:
        for topo, where in ((g.topology, "topology"), (g.tiles, "tiles")):
            lines.append(
                f"  python -m scalesim.scale -c {g.config} -t {topo} -l {LAYOUT} "
                f"-p runs_{where}_{g.dataflow} -i conv -s N"
            )
    lines += [
        "",
        "Cycles: a row's compute cycles are Total Cycles - Stall Cycles + 1 in",
        "COMPUTE_REPORT.csv (SCALE-Sim reports the 0-based index of the last cycle). A layer's",
        "untiled compute cycles are repeat x its topology row's; its mapping's are the sum over",
        f"its tile rows of count x the row's ({MANIFEST}).",
        "",
        "What SCALE-Sim cannot express of the mappings:",
        *(f"  - {note}" for note in notes),
    ]
    return "\n".join(lines) + "\n"


# ---- reading SCALE-Sim's cycles back --------------------------------------------------------


@dataclass(frozen=True)
class LayerCycles:
    """One exported layer's compute cycles as SCALE-Sim counts them (Total - Stall + 1 per row),
    beside ours from the manifest. `untiled` / `tiled`: None where that topology was not run."""

    name: str
    dataflow: str
    untiled: int | None  # repeat x the topology row's
    tiled: int | None  # sum over the tile rows of count x the row's
    expected_untiled: int  # ours, the layer whole
    expected_tiled: int  # ours, the mapping's tiles
    untiled_stalls: int | None  # SCALE-Sim's "Stall Cycles" (left out of the above), summed
    tiled_stalls: int | None


def run_export(
    folder: str | Path,
    python: str | None = None,
    which: tuple[str, ...] = ("topology", "tiles"),
    workdir: Path | None = None,
    timeout_s: float = 1800,
) -> dict[str, LayerCycles]:
    """Run SCALE-Sim (in one subprocess, with `python`) on an exported folder's topologies
    (`which`: "topology" and / or "tiles") and return each layer's cycles by name."""
    unknown = [w for w in which if w not in ("topology", "tiles")]
    if unknown:
        raise ValueError(f"run_export: unknown topology '{unknown[0]}' (topology, tiles)")
    folder = Path(folder)
    manifest = json.loads((folder / MANIFEST).read_text())
    jobs = [
        (folder / run["config"], folder / run[kind], folder / manifest["layout"])
        for run in manifest["runs"]
        for kind in which
    ]
    reports, _ = run_files(jobs, python, workdir, timeout_s)
    rows: dict[tuple[str, str], ScaleSimLayer] = {}
    for (_, topology, _), report in zip(jobs, reports, strict=True):
        for layer in report:
            rows[(topology.name, layer.name)] = layer
    out: dict[str, LayerCycles] = {}
    for entry in manifest["layers"]:
        untiled = tiled = untiled_stalls = tiled_stalls = None
        if "topology" in which:
            row = rows[(entry["topology"], entry["topology_row"])]
            untiled = entry["repeat"] * row.compute_cycles
            untiled_stalls = entry["repeat"] * row.stall_cycles
        if "tiles" in which:
            tiled = tiled_stalls = 0
            for tile in entry["tiles"]:
                row = rows[(entry["tiles_file"], tile["row"])]
                tiled += tile["count"] * row.compute_cycles
                tiled_stalls += tile["count"] * row.stall_cycles
        out[entry["name"]] = LayerCycles(
            name=entry["name"],
            dataflow=entry["dataflow"],
            untiled=untiled,
            tiled=tiled,
            expected_untiled=entry["untiled_compute_cycles"],
            expected_tiled=entry["compute_cycles"],
            untiled_stalls=untiled_stalls,
            tiled_stalls=tiled_stalls,
        )
    return out


__all__ = [
    "BIG_SRAM_KB",
    "SCALESIM_VERSION",
    "SCALESIM_ZERO_BASED_OFFSET",
    "ConvLayer",
    "LayerCycles",
    "ScaleSimLayer",
    "ScaleSimRun",
    "config_text",
    "default_python",
    "fc",
    "layout_text",
    "read_compute_report",
    "run_export",
    "run_files",
    "run_scalesim",
    "scalesim_available",
    "tile_shapes",
    "topology_names",
    "topology_text",
    "write",
    "write_config",
    "write_layout",
    "write_topology",
]
