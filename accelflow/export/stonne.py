"""STONNE export (github stonne-simulator/stonne): one command line of its standalone binary per
distinct layer, in `run_stonne.sh` (run it in the folder holding `./stonne`; its tile mapper
looks for `parameters/` there).

- MAERI targets: `-CONV` (conv) or `-FC` / `-DenseGEMM` (matmul, batch 1 / more) with the
  mapping's spatial tile as STONNE's tile (`-T_R -T_S -T_C -T_K -T_G -T_N -T_X_ -T_Y_`, GEMM
  `-T_M -T_N -T_K`; names as `simulator.arch.maeri_mapping.STONNE_TILE_NAMES`) and the
  target's `-num_ms -dn_bw -rn_bw -accumulation_buffer`.
- SIGMA targets: `-SparseGEMM -dataflow=MK_STA_KN_STR` (the weights stationary: STONNE's MK is
  our weight matrix transposed, M = output channels, N = the streamed rows, K = the reduction;
  a conv as its im2col GEMM), `-num_ms -dn_bw -rn_bw`.
- systolic targets: STONNE's TPU-like output-stationary mesh, `-DenseGEMM -ms_rows -ms_cols
  -mn_type=OS_MESH -mem_ctrl=TPU_OS_DENSE -rn_type=TEMPORALRN` (a conv as its im2col GEMM),
  T_M x T_N output tile on rows x cols, the mesh's `-dn_bw` = rows + cols edge ports and
  `-rn_bw` = rows * cols (STONNE's own TPU example, 4x4 with 8 and 16).

STONNE's limits (docs/stonne-timing.md, /work/shared/PEERS.md): batch 1 (`-N=1`), tiles that
divide the dimensions, no padding, one stride, no dilation, everything on chip (no buffer
tiles or DRAM). The export pads the input by the pads (and what makes the outputs a whole
number of tiles) and the dims to whole tiles, and says what it changed in a note.
"""

from __future__ import annotations

import math
from pathlib import Path

from accelflow.export import ExportError, ExportLayer, write_text
from simulator.arch.maeri_mapping import STONNE_TILE_NAMES
from simulator.target import Target

# STONNE's tile flags, in its own order (the home of these names; stonne_compare imports them).
CONV_TILES = ("T_R", "T_S", "T_C", "T_K", "T_G", "T_N", "T_X_", "T_Y_")
FC_TILES = ("T_M", "T_N", "T_K")


def stonne_sparsity(zeros: float) -> int:
    """STONNE's `-MK_sparsity` / `-KN_sparsity` for a share `zeros` of zero elements: it zeroes
    an element when rand() % 100 <= s, a share of (s + 1) / 100 (utility.cpp,
    generateMatrixDense), so s = round(100 * zeros) - 1, at least 0."""
    return max(0, round(100 * zeros) - 1)


def command(operation: str, params: dict[str, int | str]) -> str:
    """`./stonne -<operation> -name=value ...` (params in their order)."""
    return " ".join([f"./stonne -{operation}", *(f"-{k}={v}" for k, v in params.items())])


def parse_command(line: str) -> tuple[str, dict[str, str]]:
    """(operation, {name: value}) of a `./stonne -OP -name=value ...` line."""
    words = line.split()
    if len(words) < 2 or not words[0].endswith("stonne"):
        raise ValueError(f"not a STONNE command line: {line!r}")
    params = dict(w[1:].split("=", 1) for w in words[2:])
    return words[1][1:], params


def _up(n: int, t: int) -> int:
    return -(-n // t) * t


class _Line:
    def __init__(self, layer: ExportLayer, target: Target, name: str) -> None:
        self.layer, self.target, self.name = layer, target, name
        self.shape = layer.shape
        self.notes: list[str] = []

    def common_notes(self) -> None:
        shape, m = self.shape, self.layer.mapping
        if any(m.tiles[d] < shape.dims[d] for d in shape.dim_names):
            self.notes.append(
                "STONNE keeps the whole layer on chip: the buffer tiles and their loop order "
                f"({m.directives(shape)}) are not expressible"
            )

    def conv_geometry(self) -> None:
        shape = self.shape
        if shape.dilation != (1, 1):
            self.notes.append(
                f"dilation {shape.dilation[0]}x{shape.dilation[1]} is not expressible: an "
                "undilated kernel over the same outputs"
            )
        if any(shape.pads):
            self.notes.append(
                f"padding {','.join(map(str, shape.pads))} is folded into the input size "
                "(STONNE has no padding)"
            )

    def maeri_conv(self) -> tuple[str, dict[str, int | str]]:
        shape, d = self.shape, self.shape.dims
        names = {
            flag: dim for flag, dim in STONNE_TILE_NAMES["conv2d"].items() if flag in CONV_TILES
        }
        t = {flag: _factor(self.layer, dim) for flag, dim in names.items()}
        self.conv_geometry()
        sy, sx = shape.stride
        if sy != sx:
            self.notes.append(f"strides {sy}x{sx}: STONNE has one stride, {sy} is used")
        if d["n"] > 1 or t["T_N"] > 1:
            self.notes.append(
                f"batch {d['n']} (T_N={t['T_N']}): STONNE runs N=1, the line is one image "
                f"(cycles x {d['n']})"
            )
            t["T_N"] = 1
        ext = {
            "T_R": d["r"], "T_S": d["s"], "T_C": d["c"], "T_K": d["k"], "T_G": d["g"],
            "T_X_": d["y"], "T_Y_": d["x"],
        }  # fmt: skip
        padded = {f: _up(e, t[f]) for f, e in ext.items()}
        grown = [f"{names[f]} {ext[f]} -> {padded[f]}" for f in ext if padded[f] != ext[f]]
        self.padded_note(grown)
        g = padded["T_G"]
        rows = (padded["T_X_"] - 1) * sy + padded["T_R"]
        cols = (padded["T_Y_"] - 1) * sy + padded["T_S"]
        params: dict[str, int | str] = {
            "layer_name": self.name,
            "R": padded["T_R"],
            "S": padded["T_S"],
            "C": g * padded["T_C"],
            "K": g * padded["T_K"],
            "G": g,
            "N": 1,
            "X": rows,
            "Y": cols,
            "strides": sy,
        }
        params.update({f: t[f] for f in CONV_TILES})
        params.update(self.maeri_hardware())
        return "CONV", params

    def padded_note(self, grown: list[str]) -> None:
        if grown:
            self.notes.append(
                "STONNE needs tiles that divide the dims: padded to whole tiles "
                f"({', '.join(grown)})"
            )

    def maeri_matmul(self) -> tuple[str, dict[str, int | str]]:
        d = self.shape.dims
        t = {f: _factor(self.layer, STONNE_TILE_NAMES["matmul"][f]) for f in FC_TILES}
        ext = {"T_M": d["m"], "T_N": d["n"], "T_K": d["k"]}
        padded = {f: _up(e, t[f]) for f, e in ext.items()}
        grown = [f"{f[2:].lower()} {ext[f]} -> {padded[f]}" for f in ext if padded[f] != ext[f]]
        self.padded_note(grown)
        self.batch_note()
        params: dict[str, int | str] = {
            "layer_name": self.name,
            "M": padded["T_M"],
            "N": padded["T_N"],
            "K": padded["T_K"],
        }
        params.update({f: t[f] for f in FC_TILES})
        params.update(self.maeri_hardware())
        return ("FC" if padded["T_M"] == 1 else "DenseGEMM"), params

    def maeri_hardware(self) -> dict[str, int | str]:
        target = self.target
        return {
            "num_ms": target.num_multipliers,
            "dn_bw": target.dn_bw_elems_per_cycle,
            "rn_bw": target.rn_bw_elems_per_cycle,
            "accumulation_buffer": int(target.accumulation_buffer),
        }

    def batch_note(self) -> None:
        d = self.shape.dims
        if self.shape.kind == "matmul" and d["g"] > 1:
            self.notes.append(
                f"a batch of {d['g']} GEMMs: the line is one of them (cycles x {d['g']})"
            )
        if self.shape.kind == "conv2d" and d["g"] > 1:
            self.notes.append(
                f"{d['g']} groups: the line is one group's im2col GEMM (cycles x {d['g']})"
            )

    def gemm_view(self) -> tuple[int, int, int]:
        """(rows streamed, output channels, reduction) of the layer's GEMM (conv: im2col)."""
        d = self.shape.dims
        if self.shape.kind == "conv2d":
            self.notes.append("the conv runs as its im2col GEMM (pads and dilation included)")
            return d["n"] * d["y"] * d["x"], d["k"], d["c"] * d["r"] * d["s"]
        return d["m"], d["n"], d["k"]

    def sigma(self) -> tuple[str, dict[str, int | str]]:
        target = self.target
        rows, outs, red = self.gemm_view()
        self.batch_note()
        # STONNE zeroes an element when rand() % 100 <= sparsity: (s + 1) % zeros, so a share
        # z of zeros is s = 100 z - 1 (0 is as close to dense as it goes: 1 % zeros).
        kn = stonne_sparsity(1 - target.activation_density) if target.sparse_activations else 0
        zeros = self.layer.weight_zeros
        if zeros is None:
            self.notes.append(
                "the weights are not constants of the model: -MK_sparsity=0 (dense) stands for "
                "their share of zeros"
            )
        mk = stonne_sparsity(zeros or 0.0)
        self.notes.append(
            f"STONNE draws its own random matrices with the weights' share of zeros "
            f"(-MK_sparsity={mk}) and the declared activation density (-KN_sparsity={kn}), "
            "not the model's values"
        )
        params: dict[str, int | str] = {
            "layer_name": self.name,
            "M": outs,
            "N": rows,
            "K": red,
            "MK_sparsity": mk,
            "KN_sparsity": kn,
            "dataflow": "MK_STA_KN_STR",
            "num_ms": target.num_multipliers,
            "dn_bw": target.dn_bw_elems_per_cycle,
            "rn_bw": target.rn_bw_elems_per_cycle,
        }
        return "SparseGEMM", params

    def tpu(self) -> tuple[str, dict[str, int | str]]:
        target = self.target
        rows, outs, red = self.gemm_view()
        self.batch_note()
        if self.layer.mapping.dataflow != "os":
            self.notes.append(
                f"STONNE's TPU mesh is output-stationary: the mapping's {self.layer.mapping.dataflow} "
                "dataflow is not expressible"
            )
        params: dict[str, int | str] = {
            "layer_name": self.name,
            "M": rows,
            "N": outs,
            "K": red,
            "T_M": min(target.rows, rows),
            "T_N": min(target.cols, outs),
            "T_K": 1,
            "ms_rows": target.rows,
            "ms_cols": target.cols,
            "dn_bw": target.rows + target.cols,
            "rn_bw": target.rows * target.cols,
            "accumulation_buffer": 1,
            "rn_type": "TEMPORALRN",
            "mn_type": "OS_MESH",
            "mem_ctrl": "TPU_OS_DENSE",
        }
        return "DenseGEMM", params

    def build(self) -> str:
        arch = self.target.arch
        self.common_notes()
        if arch == "maeri":
            op, params = self.maeri_conv() if self.shape.kind == "conv2d" else self.maeri_matmul()
        elif arch == "sigma":
            op, params = self.sigma()
        elif arch == "systolic":
            op, params = self.tpu()
        else:
            raise ExportError(
                f"STONNE export: no STONNE form for '{arch}' targets (target {self.target.name}); "
                "maeri, sigma and systolic targets export"
            )
        return command(op, params)


def _factor(layer: ExportLayer, dim: str) -> int:
    """The mapping's spatial factor of `dim` (1 where it is not unrolled), within its tile."""
    if dim not in layer.mapping.spatial:
        return 1
    _, f = layer.mapping.spatial[dim]
    tile = min(layer.mapping.tiles.get(dim, layer.shape.dims[dim]), layer.shape.dims[dim])
    return max(1, min(int(f), tile))


def command_line(
    layer: ExportLayer, target: Target, name: str | None = None
) -> tuple[str, list[str]]:
    """STONNE's command line for one layer on `target` and what it cannot express."""
    built = _Line(layer, target, name or _name(layer))
    line = built.build()
    return line, built.notes


def _name(layer: ExportLayer) -> str:
    return "".join(c if c.isalnum() or c in "_-." else "_" for c in layer.file_stem)


def write(
    layers: list[ExportLayer], target: Target, folder: Path, overwrite: bool = False
) -> tuple[list[Path], list[str]]:
    """Write `run_stonne.sh` (see the module docstring); returns ([file], notes)."""
    if target.arch not in ("maeri", "sigma", "systolic"):
        raise ExportError(
            f"STONNE export: no STONNE form for '{target.arch}' targets (target {target.name}); "
            "maeri, sigma and systolic targets export"
        )
    notes: list[str] = []
    body = [
        "#!/bin/sh",
        f"# accelflow export for STONNE: {len(layers)} layer(s) on target {target.name} "
        f"({target.arch}, {target.num_pes} multipliers)",
        "# Run it in the folder of STONNE's standalone binary (./stonne; its tile mapper reads",
        "# parameters/ there). It prints 'Number of cycles running: N' per layer; its statistics",
        "# files go to $OUTPUT_DIR (default: stonne-output, made here).",
        'OUTPUT_DIR="${OUTPUT_DIR:-stonne-output}"',
        'mkdir -p "$OUTPUT_DIR"',
        "export OUTPUT_DIR",
    ]
    if target.arch == "systolic":
        notes.append(
            "STONNE's TPU mesh takes GEMMs only; its -dn_bw / -rn_bw are the mesh's edge ports "
            "(rows + cols) and output lines (rows x cols), not target fields"
        )
        body += [f"# note: {n}" for n in notes]
    for layer in layers:
        line, layer_notes = command_line(layer, target)
        notes += [f"{layer.name}: {n}" for n in layer_notes]
        body.append("")
        shared = f" (shared by {' '.join(layer.names)})" if len(layer.names) > 1 else ""
        body.append(f"# {layer.name}{shared}: {layer.shape.signature}")
        body += [f"# note: {n}" for n in layer_notes]
        body.append(line)
    text = "\n".join(body) + "\n"
    return [write_text(folder / "run_stonne.sh", text, overwrite)], notes


def macs(params: dict[str, str], operation: str) -> int:
    """The multiply-accumulates a parsed STONNE line runs (for checks)."""
    p = {k: int(v) for k, v in params.items() if v.isdigit()}
    if operation == "CONV":
        s = p["strides"]
        out = ((p["X"] - p["R"]) // s + 1) * ((p["Y"] - p["S"]) // s + 1)
        return p["K"] * (p["C"] // p["G"]) * p["R"] * p["S"] * out * p["N"]
    return math.prod(p[k] for k in ("M", "N", "K"))
