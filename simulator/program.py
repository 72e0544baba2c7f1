"""The Program: what the compiler's assembler produces and the simulator runs (no xDSL here).

A Program is
- `instrs`: an int64 array of shape [num_instructions, NUM_FIELDS], one row per instruction,
  columns named by the `F_*` constants below (unused fields are 0);
- `layers`: the model's operations in execution order (`Layer` records): accelerator layers
  (`conv2d`, `matmul`) own the instruction rows `[instr_begin, instr_end)`; host operations
  (`Relu`, `MaxPool`, ...) own none and run on the host;
- `constants`: weights and other constant tensors by name (numpy arrays);
- `tensors`: the shape of every tensor by name; `inputs` / `outputs`: the graph's I/O names;
- `target`: the fields of the Target the program was compiled for.

Instruction semantics (see docs/program.md for the full table):

    CONFIG   layer, dataflow, kind [, size, steps] start of a layer; sets the array's dataflow;
                                                  MAERI: the spatial tile per dim (size0..7:
                                                  virtual neurons) and the step costs
    LOAD     layer, buffer, slot, bytes, off/size DRAM -> global buffer `buffer`, slot `slot`
    COMPUTE  layer, s_in, s_w, s_out, acc, reps,  one buffer-level tile on the array: `reps`
             m, n, k, dataflow, off/size          independent GEMMs of m x n x k (the tile's GEMM
                                                  view); reads the input/weight slots, writes the
                                                  output slot (acc=1: adds to the partial sums)
    STORE    layer, slot, bytes, off/size         global buffer output slot -> DRAM

Loop dimensions, the meaning of off0..7/size0..7 (tile offset and extent per dimension):

    conv2d: n g k c y x r s   (k = output channels per group, c = input channels per group,
                               y/x = output rows/cols, r/s = filter rows/cols)
    matmul: g m n k           (g = batch, out[g] = a[g] (m x k) @ b[g] (k x n))

Tensor layouts: conv2d input NCHW, weight [G*K, C, R, S], bias [G*K], output NCHW;
matmul a [G, M, K] (or [M, K]), b [G, K, N] (or [K, N]), bias [N], output [G, M, N] (or [M, N]).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# Opcodes.
OP_NOP = 0
OP_CONFIG = 1
OP_LOAD = 2
OP_COMPUTE = 3
OP_STORE = 4
OPCODE_NAMES = {
    OP_NOP: "nop",
    OP_CONFIG: "config",
    OP_LOAD: "load",
    OP_COMPUTE: "compute",
    OP_STORE: "store",
}

# Global-buffer operands (the `buffer` field of LOAD).
BUF_INPUT = 0
BUF_WEIGHT = 1
BUF_OUTPUT = 2
BUFFER_NAMES = ("input", "weight", "output")

# Dataflows (the `dataflow` field of CONFIG and COMPUTE).
DATAFLOWS = ("ws", "os", "is")

MAX_DIMS = 8
CONV_DIMS = ("n", "g", "k", "c", "y", "x", "r", "s")
MATMUL_DIMS = ("g", "m", "n", "k")
LAYER_DIMS = {"conv2d": CONV_DIMS, "matmul": MATMUL_DIMS}

# Instruction fields (columns of `instrs`).
F_OPCODE = 0
F_LAYER = 1
F_DATAFLOW = 2
F_BUFFER = 3
F_SLOT = 4
F_BYTES = 5
F_S_IN = 6
F_S_W = 7
F_S_OUT = 8
F_ACC = 9
F_REPS = 10
F_M = 11
F_N = 12
F_K = 13
F_OFF = 14  # F_OFF + i, i < MAX_DIMS
F_SIZE = F_OFF + MAX_DIMS  # F_SIZE + i
# Appended in format 2 (CONFIG rows): the layer kind and MAERI's step costs (simulator/maeri.py).
F_KIND = F_SIZE + MAX_DIMS  # 0 conv2d, 1 matmul
F_STEPS = F_KIND + 1  # F_STEPS + i, i < NUM_STEP_FIELDS: c_w c_full c_col e_full e_col aux_ms
NUM_STEP_FIELDS = 6
# Appended in format 3 (COMPUTE rows on a SIGMA target): the bitmap statistics of the tile's
# weights (simulator/sigma.py, docs/program.md): stationary iterations, their fill/drain cycles,
# cycles per streamed column, distinct reduction indices streamed, non-zeros, bitmap bits.
F_SPARSE = F_STEPS + NUM_STEP_FIELDS  # F_SPARSE + i, i < NUM_SPARSE_FIELDS
NUM_SPARSE_FIELDS = 6
# Appended in format 4 (CONFIG rows on a MAERI target): the costs of fold 0's input steps, which
# send no partial sum back (c_full0, c_col0; maeri.STEP_FIELDS after aux_ms).
F_STEPS0 = F_SPARSE + NUM_SPARSE_FIELDS
NUM_STEP0_FIELDS = 2
NUM_FIELDS = F_STEPS0 + NUM_STEP0_FIELDS
# The columns of maeri.STEP_FIELDS, in order.
STEP_COLUMNS = (
    *range(F_STEPS, F_STEPS + NUM_STEP_FIELDS),
    *range(F_STEPS0, F_STEPS0 + NUM_STEP0_FIELDS),
)
FIELD_NAMES = (
    "opcode",
    "layer",
    "dataflow",
    "buffer",
    "slot",
    "bytes",
    "s_in",
    "s_w",
    "s_out",
    "acc",
    "reps",
    "m",
    "n",
    "k",
    *(f"off{i}" for i in range(MAX_DIMS)),
    *(f"size{i}" for i in range(MAX_DIMS)),
    "kind",
    "c_w",
    "c_full",
    "c_col",
    "e_full",
    "e_col",
    "aux_ms",
    "sg_iters",
    "sg_fill",
    "sg_col",
    "sg_kreads",
    "w_nnz",
    "w_bitmap_bits",
    "c_full0",
    "c_col0",
)
assert len(FIELD_NAMES) == NUM_FIELDS

FORMAT_VERSION = 4


@dataclass
class Layer:
    """One operation of the model, in execution order."""

    name: str
    kind: str  # "conv2d" | "matmul" for the accelerator; the ONNX op type for host operations
    on_accel: bool
    inputs: list[str]  # tensor names; "" marks an absent optional input
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    # Accelerator layers only:
    dims: dict[str, int] = field(default_factory=dict)  # loop dimension -> extent
    mapping: dict[str, Any] = field(default_factory=dict)  # dataflow, spatial, tiles, order, ...
    instr_begin: int = 0
    instr_end: int = 0

    @property
    def macs(self) -> int:
        if not self.on_accel:
            return 0
        return int(np.prod([v for v in self.dims.values()], dtype=np.int64))


@dataclass
class Program:
    instrs: np.ndarray
    layers: list[Layer]
    constants: dict[str, np.ndarray]
    tensors: dict[str, tuple[int, ...]]
    inputs: list[str]
    outputs: list[str]
    target: dict[str, Any] = field(default_factory=dict)
    # Constants whose values were elided from the IR the program was assembled from: the
    # program simulates for timing, but cannot run functionally.
    elided_constants: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.instrs = np.asarray(self.instrs, dtype=np.int64).reshape(-1, NUM_FIELDS)

    @property
    def num_instructions(self) -> int:
        return int(self.instrs.shape[0])

    def accel_layers(self) -> list[Layer]:
        return [layer for layer in self.layers if layer.on_accel]

    def save(self, folder: str | Path) -> Path:
        """Write `program.npz` (instructions, constants) and `program.json` (metadata)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {"instrs": self.instrs}
        const_keys = {}
        for i, (name, value) in enumerate(self.constants.items()):
            const_keys[name] = f"const{i}"
            arrays[f"const{i}"] = np.asarray(value)
        np.savez(folder / "program.npz", **arrays)
        meta = {
            "format_version": FORMAT_VERSION,
            "fields": list(FIELD_NAMES),
            "layers": [asdict(layer) for layer in self.layers],
            "constants": const_keys,
            "tensors": {k: list(v) for k, v in self.tensors.items()},
            "inputs": self.inputs,
            "outputs": self.outputs,
            "target": self.target,
            "elided_constants": self.elided_constants,
        }
        (folder / "program.json").write_text(json.dumps(meta, indent=1))
        return folder

    @staticmethod
    def load(folder: str | Path) -> Program:
        folder = Path(folder)
        meta = json.loads((folder / "program.json").read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{folder}: program format {meta.get('format_version')} is not {FORMAT_VERSION}"
            )
        with np.load(folder / "program.npz") as data:
            instrs = data["instrs"]
            constants = {name: data[key] for name, key in meta["constants"].items()}
        return Program(
            instrs=instrs,
            layers=[Layer(**layer) for layer in meta["layers"]],
            constants=constants,
            tensors={k: tuple(v) for k, v in meta["tensors"].items()},
            inputs=meta["inputs"],
            outputs=meta["outputs"],
            target=meta["target"],
            elided_constants=meta.get("elided_constants", []),
        )

    def to_asm(self, max_lines: int | None = None) -> str:
        """Readable assembly: one line per instruction, grouped by layer."""
        lines: list[str] = []
        for index, layer in enumerate(self.layers):
            where = "accel" if layer.on_accel else "host"
            lines.append(
                f"; layer {index} {layer.name} [{layer.kind} on {where}] "
                f"{', '.join(layer.inputs)} -> {', '.join(layer.outputs)}"
            )
            for row in self.instrs[layer.instr_begin : layer.instr_end]:
                lines.append("  " + format_instruction(row, layer.kind))
                if max_lines is not None and len(lines) >= max_lines:
                    lines.append("  ...")
                    return "\n".join(lines)
        return "\n".join(lines)


def format_instruction(row: np.ndarray, kind: str = "conv2d") -> str:
    op = int(row[F_OPCODE])
    dims = LAYER_DIMS.get(kind, CONV_DIMS)
    tile = " ".join(f"{d}={int(row[F_OFF + i])}+{int(row[F_SIZE + i])}" for i, d in enumerate(dims))
    if op == OP_CONFIG:
        text = f"config    dataflow={DATAFLOWS[int(row[F_DATAFLOW])]}"
        if row[F_SIZE : F_SIZE + MAX_DIMS].any():
            spatial = " ".join(f"{d}={int(row[F_SIZE + i])}" for i, d in enumerate(dims))
            steps = " ".join(f"{FIELD_NAMES[f]}={int(row[f])}" for f in STEP_COLUMNS)
            text += f" spatial {spatial} {steps}"
        return text
    if op == OP_LOAD:
        return (
            f"load      {BUFFER_NAMES[int(row[F_BUFFER])]}[{int(row[F_SLOT])}] "
            f"bytes={int(row[F_BYTES])} {tile}"
        )
    if op == OP_COMPUTE:
        text = (
            f"compute   in[{int(row[F_S_IN])}] w[{int(row[F_S_W])}] out[{int(row[F_S_OUT])}] "
            f"acc={int(row[F_ACC])} gemm={int(row[F_REPS])}x{int(row[F_M])}x{int(row[F_N])}x{int(row[F_K])} {tile}"
        )
        if row[F_SPARSE : F_SPARSE + NUM_SPARSE_FIELDS].any():
            text += " sparse " + " ".join(
                f"{FIELD_NAMES[F_SPARSE + i]}={int(row[F_SPARSE + i])}"
                for i in range(NUM_SPARSE_FIELDS)
            )
        return text
    if op == OP_STORE:
        return f"store     output[{int(row[F_SLOT])}] bytes={int(row[F_BYTES])} {tile}"
    return OPCODE_NAMES.get(op, f"op{op}")
