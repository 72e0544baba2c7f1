"""Timeloop export (github NVlabs/timeloop): architecture, problem and mapping YAML.

Files written into the output folder:
- `arch.yaml`: the target as Timeloop's tree architecture (format 0.3): DRAM, the global
  buffer(s) (one `GlobalBuffer` when the target's buffer is shared, else `WeightBuffer`,
  `InputBuffer`, `OutputBuffer`, each keeping its operand), then `PE[0..N-1]` with a
  register file `PERegs` (one input, weight and partial sum) and a `MAC` each. Sizes and
  bandwidths come from the target: words of `element_bytes`; the buffers' read / write
  bandwidth is the target's array-side bandwidth (MAERI: its read / write ports, dn_bw /
  rn_bw); `multiple-buffering: 2` when the target double-buffers.
- `<layer>.problem.yaml` per distinct layer: Timeloop's CNN-layer problem (dimensions R S P Q
  C K N, plus G when the conv is grouped; strides and dilations as the coefficients Wstride,
  Hstride, Wdilation, Hdilation) or a GEMM (M N K, plus G for a batch).
- `<layer>.map.yaml`: the mapping. Per dim, the factors at DRAM are the buffer-tile trips
  (permutation from the mapping's loop order), the temporal factors at the innermost global
  buffer the tile's own loop (tile / spatial unroll, the mapping's order), its spatial factors
  the unroll on the PE array (systolic: the column dims on X, the row dims on Y; MAERI: every
  dim of the spatial tile on one row of multipliers), 1 elsewhere; the factors of a dim
  multiply to its extent, those at and below the global buffer to the buffer tile.
- `run_timeloop.sh`: `timeloop-model arch.yaml <layer>.problem.yaml <layer>.map.yaml` per layer.

Keys are spelled as Timeloop 3.0 reads them (`data-spaces`, `read-write`, `word-bits`,
`block-size`, `multiple-buffering`; `read_bandwidth`, `n_banks`); later versions turn every
hyphen into an underscore before reading, so both read these files.

Timeloop's names: R and P are the width axis (filter width, output columns: our s and x), S and
Q the height (our r and y), so Wstride is our column stride; permutations list loops innermost
first. A buffer tile that does not divide its dim pads the dim up to whole tiles (Timeloop
needs factors that multiply to the extent); a spatial factor that does not divide its tile is
the largest divisor that does. Both are said in the notes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from accelflow.export import ExportLayer
from accelflow.export.maestro import check_target, padded_loops, unique_stems, write_all
from simulator.target import Target

# Our loop dims -> Timeloop's (see the module docstring).
CONV_NAMES = {"n": "N", "g": "G", "k": "K", "c": "C", "y": "Q", "x": "P", "r": "S", "s": "R"}
MATMUL_NAMES = {"g": "G", "m": "M", "n": "N", "k": "K"}
DATA_SPACES = ("Weights", "Inputs", "Outputs")
SPLIT_BUFFERS = (
    ("WeightBuffer", "Weights"),
    ("InputBuffer", "Inputs"),
    ("OutputBuffer", "Outputs"),
)


def names(kind: str) -> dict[str, str]:
    """Our loop dim -> Timeloop dimension name, per layer kind."""
    return CONV_NAMES if kind == "conv2d" else MATMUL_NAMES


def buffer_levels(target: Target) -> list[tuple[str, str | None]]:
    """The global buffer levels, outermost first, with the data space each keeps (None: all)."""
    if target.global_buffer == "shared":
        return [("GlobalBuffer", None)]
    return list(SPLIT_BUFFERS)


def _dump(data: Any, comments: list[str]) -> str:
    head = "".join(f"# {line}\n" for line in comments)
    return head + yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)


def architecture(target: Target) -> tuple[dict[str, Any], list[str]]:
    """Timeloop's architecture for `target` (tree format 0.3) and what it cannot express."""
    eb = target.element_bytes
    bits = 8 * eb
    notes = []
    block = max(1, target.sram_bank_width_bytes // eb)
    if target.arch == "maeri":
        read_bw, write_bw = target.dn_bw_elems_per_cycle, target.rn_bw_elems_per_cycle
        mesh_x = target.num_pes
        notes.append(
            "MAERI's trees are not expressible: a virtual neuron's reduction is a spatial "
            "reduction across the multipliers, its read / write ports (dn_bw / rn_bw) the "
            "buffer's read / write bandwidth; no folding round trip or accumulation buffer"
        )
    else:
        read_bw = write_bw = max(1, target.sram_bytes_per_cycle // eb)
        mesh_x = target.cols
        notes.append(
            "Timeloop models the systolic array as a 2-D fanout with multicast and spatial "
            "reduction: no per-fold fill and drain skew"
        )
    if target.dram_latency_cycles:
        notes.append(f"DRAM latency ({target.dram_latency_cycles} cycles) is not expressible")
    buffers = []
    for name, keeps in buffer_levels(target):
        size = (
            target.shared_buffer_bytes
            if keeps is None
            else target.buffer_bytes(
                {"Weights": "weight", "Inputs": "input", "Outputs": "output"}[keeps]
            )
        )
        attributes: dict[str, Any] = {
            "depth": max(1, size // (block * eb)),
            "width": block * bits,
            "word-bits": bits,
            "block-size": block,
            "n_banks": target.sram_banks,
            "read_bandwidth": read_bw,
            "write_bandwidth": write_bw,
        }
        if target.double_buffer:
            attributes["multiple-buffering"] = 2
        buffers.append({"name": name, "class": "SRAM", "attributes": attributes})
    dram_block = max(1, 8 // eb)
    arch = {
        "architecture": {
            "version": 0.3,
            "subtree": [
                {
                    "name": "system",
                    "local": [
                        {
                            "name": "DRAM",
                            "class": "DRAM",
                            "attributes": {
                                "type": "LPDDR4",
                                "width": dram_block * bits,
                                "word-bits": bits,
                                "block-size": dram_block,
                                "read_bandwidth": max(1, int(target.dram_bw_bytes_per_cycle // eb)),
                                "write_bandwidth": max(
                                    1, int(target.dram_bw_bytes_per_cycle // eb)
                                ),
                            },
                        }
                    ],
                    "subtree": [
                        {
                            "name": "chip",
                            "attributes": {"technology": "45nm"},
                            "local": buffers,
                            "subtree": [
                                {
                                    "name": f"PE[0..{target.num_pes - 1}]",
                                    "local": [
                                        {
                                            "name": "PERegs",
                                            "class": "regfile",
                                            "attributes": {
                                                "depth": 3,
                                                "width": bits,
                                                "word-bits": bits,
                                                "block-size": 1,
                                                "meshX": mesh_x,
                                            },
                                        },
                                        {
                                            "name": "MAC",
                                            "class": "intmac",
                                            "attributes": {"datawidth": bits, "meshX": mesh_x},
                                        },
                                    ],
                                }
                            ],
                        }
                    ],
                }
            ],
        }
    }
    return arch, notes


def problem(layer: ExportLayer, extents: dict[str, int]) -> dict[str, Any]:
    """Timeloop's problem for the layer, with `extents` per our dim (padded to whole tiles)."""
    shape = layer.shape
    tl = names(shape.kind)
    grouped = extents["g"] > 1
    if shape.kind == "conv2d":
        weights = [[["K"]], [["C"]], [["R"]], [["S"]]]
        inputs = [[["N"]], [["C"]], [["R", "Wdilation"], ["P", "Wstride"]]]
        inputs.append([["S", "Hdilation"], ["Q", "Hstride"]])
        outputs = [[["N"]], [["K"]], [["Q"]], [["P"]]]
        dims = ["R", "S", "P", "Q", "C", "K", "N"]
        if grouped:
            weights.insert(0, [["G"]])
            inputs.insert(1, [["G"]])
            outputs.insert(1, [["G"]])
        sy, sx = shape.stride
        dy, dx = shape.dilation
        coefficients = {"Wstride": sx, "Hstride": sy, "Wdilation": dx, "Hdilation": dy}
        shape_name = "CNN_Layer_Grouped" if grouped else "CNN_Layer"
    else:
        weights = [[["K"]], [["N"]]]
        inputs = [[["M"]], [["K"]]]
        outputs = [[["M"]], [["N"]]]
        dims = ["M", "N", "K"]
        if grouped:
            inputs.insert(0, [["G"]])
            outputs.insert(0, [["G"]])
            if shape.b_batched:
                weights.insert(0, [["G"]])
        coefficients = {}
        shape_name = "GEMM_Batched" if grouped else "GEMM"
    if grouped:
        dims.append("G")
    spec: dict[str, Any] = {"name": shape_name, "dimensions": dims}
    if coefficients:
        spec["coefficients"] = [{"name": n, "default": 1} for n in coefficients]
    spec["data-spaces"] = [
        {"name": "Weights", "projection": weights},
        {"name": "Inputs", "projection": inputs},
        {"name": "Outputs", "projection": outputs, "read-write": True},
    ]
    instance = {tl[d]: int(extents[d]) for d in shape.dim_names if tl[d] in dims}
    instance.update(coefficients)
    return {"problem": {"shape": spec, "instance": instance}}


def layer_mapping(
    layer: ExportLayer, target: Target
) -> tuple[dict[str, Any], dict[str, int], dict[str, dict[str, int]], list[str]]:
    """(the mapping YAML, the padded extents, {level: {our dim: factor}}, notes) for a layer.
    Levels: "DRAM", each global buffer's temporal ("<name>"), the innermost buffer's spatial
    ("<name>.spatial") and "PERegs"."""
    shape = layer.shape
    mapping, extents, unroll, spatial, notes = padded_loops(layer, target)
    tiles = mapping.tiles
    tl = names(shape.kind)
    present = [d for d in shape.dim_names if d != "g" or extents["g"] > 1]
    levels = buffer_levels(target)
    inner = levels[-1][0]
    factors: dict[str, dict[str, int]] = {
        "DRAM": {d: extents[d] // tiles[d] for d in present},
        inner: {d: tiles[d] // spatial[d] for d in present},
        f"{inner}.spatial": {d: spatial[d] for d in present},
        "PERegs": {d: 1 for d in present},
    }
    for name, _ in levels[:-1]:
        factors[name] = {d: 1 for d in present}

    def text(level: dict[str, int]) -> str:
        return " ".join(f"{tl[d]}={level[d]}" for d in present)

    def perm(order: list[str]) -> str:  # innermost first
        return "".join(tl[d] for d in reversed(order) if d in present)

    own_order = [d for d in layer.mapping.order if d in present] or present
    x_dims = [u.dim for u in unroll if u.axis != "rows"]
    y_dims = [u.dim for u in unroll if u.axis == "rows"]
    rest = [d for d in present if d not in x_dims + y_dims]
    directives: list[dict[str, Any]] = [
        {
            "target": "DRAM",
            "type": "temporal",
            "factors": text(factors["DRAM"]),
            "permutation": perm([d for d in mapping.order if d in present]),
        }
    ]
    for name, _ in levels[:-1]:
        directives.append(
            {
                "target": name,
                "type": "temporal",
                "factors": text(factors[name]),
                "permutation": perm(present),
            }
        )
    directives += [
        {
            "target": inner,
            "type": "temporal",
            "factors": text(factors[inner]),
            "permutation": perm(own_order),
        },
        {
            "target": inner,
            "type": "spatial",
            "factors": text(factors[f"{inner}.spatial"]),
            "permutation": "".join(tl[d] for d in x_dims + y_dims + rest),
            "split": len(x_dims),
        },
        {
            "target": "PERegs",
            "type": "temporal",
            "factors": text(factors["PERegs"]),
            "permutation": perm(present),
        },
    ]
    for name, keeps in levels:
        if keeps is not None:
            directives.append(
                {
                    "target": name,
                    "type": "datatype",
                    "keep": [keeps],
                    "bypass": [s for s in DATA_SPACES if s != keeps],
                }
            )
    if mapping.double_buffer != target.double_buffer:
        notes.append(
            f"the mapping is {'double' if mapping.double_buffer else 'single'}-buffered, the "
            "architecture (shared by every layer) follows the target"
        )
    if shape.kind == "conv2d" and any(shape.pads):
        notes.append(
            "padding is not expressible: the input is the window the outputs read, pads included"
        )
    return {"mapping": directives}, extents, factors, notes


def write(
    layers: list[ExportLayer], target: Target, folder: Path, overwrite: bool = False
) -> tuple[list[Path], list[str]]:
    """Write the Timeloop files (see the module docstring); returns (files, notes)."""
    check_target(target, "Timeloop")
    arch, arch_notes = architecture(target)
    notes = list(arch_notes)
    stems = unique_stems(layers, ("arch", "run_timeloop"))
    files: list[tuple[Path, str]] = []
    for layer, stem in zip(layers, stems, strict=True):
        data, extents, _, layer_notes = layer_mapping(layer, target)
        notes += [f"{layer.name}: {n}" for n in layer_notes]
        head = [f"accelflow export for Timeloop: layer {layer.name} on target {target.name}"]
        if len(layer.names) > 1:
            head.append(f"shared by: {' '.join(layer.names)}")
        head.append(f"our mapping: {layer.mapping.directives(layer.shape)}")
        head += [f"note: {n}" for n in layer_notes]
        files.append((folder / f"{stem}.problem.yaml", _dump(problem(layer, extents), head)))
        files.append((folder / f"{stem}.map.yaml", _dump(data, head)))
    arch_head = [
        f"accelflow export for Timeloop: target {target.name} ({target.arch}, {target.num_pes} PEs)",
        f"words of {target.element_bytes} byte(s); bandwidths in words per cycle",
        *(f"note: {n}" for n in arch_notes),
    ]
    files.append((folder / "arch.yaml", _dump(arch, arch_head)))
    runs = [
        f'mkdir -p "out/{stem}" && (cd "out/{stem}" && "${{TIMELOOP_MODEL:-timeloop-model}}" '
        f"../../arch.yaml ../../{stem}.problem.yaml ../../{stem}.map.yaml) || exit 1"
        for stem in stems
    ]
    script = "\n".join(
        [
            "#!/bin/sh",
            "# Timeloop's model on each exported layer (TIMELOOP_MODEL=path/to/timeloop-model);",
            "# the statistics of layer L go to out/L/.",
            'cd "$(dirname "$0")" || exit 1',
            *runs,
            "",
        ]
    )
    files.append((folder / "run_timeloop.sh", script))
    return write_all(files, overwrite), notes
