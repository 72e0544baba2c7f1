"""ZigZag export (PyPI `zigzag-dse`, KU Leuven): workload, accelerator and mapping YAML.

Files written into the output folder:
- `workload.yaml`: the distinct layers as ZigZag's layer list (`Conv`: equation
  `O[b][g][k][oy][ox]+=W[g][k][c][fy][fx]*I[b][g][c][iy][ix]`, strides and dilations in the
  dimension relations, the pads as padding; `Gemm`: `O[d][k]+=I[d][c]*W[c][k]` with our m, k,
  n as D, C, K, and B for a batch of GEMMs), each its own source (independent layers);
- `accelerator.yaml`: the target: one register per operand in every PE (served by no array
  dimension), the global buffer(s) (one per operand when split, one shared) and DRAM, sizes in
  bits, bandwidths in bits per cycle, read / write costs from the target's energy table; the
  operational array `D1` x `D2` = cols x rows (systolic, `systolic_dimensions` set) or a
  single `D1` of num_multipliers (MAERI);
- `mapping.yaml`: per layer (by name) the spatial mapping (systolic: the column dims on D1,
  the row dims on D2; MAERI: the whole spatial tile on D1, a "mixed" mapping) and the complete
  temporal ordering, innermost loop first: the buffer tile's own loops (tile / unroll) in the
  mapping's order, then the buffer-tile trips in the mapping's loop order; a complete ordering
  makes ZigZag evaluate it as given instead of searching (`default` entry: ZigZag requires one);
- `run_zigzag.py`: `zigzag.api.get_hardware_performance_zigzag` on the three files.

ZigZag assigns the loops to memory levels itself (filling each level from the bottom), so the
order and the sizes are the mapping's but where the buffer-tile boundary falls is ZigZag's.
Tiles that do not divide their dims pad them (a complete ordering must multiply to the
extent), spatial factors that do not divide their tile shrink to the largest divisor; both
are noted.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from accelflow.export import ExportLayer
from accelflow.export.maestro import check_target, padded_loops, unique_stems, write_all
from simulator.target import Target

CONV_NAMES = {"n": "B", "g": "G", "k": "K", "c": "C", "y": "OY", "x": "OX", "r": "FY", "s": "FX"}
MATMUL_NAMES = {"g": "B", "m": "D", "n": "K", "k": "C"}
LINKS = {"O": "O", "W": "I2", "I": "I1"}


def names(kind: str) -> dict[str, str]:
    """Our loop dim -> ZigZag layer dim, per layer kind."""
    return CONV_NAMES if kind == "conv2d" else MATMUL_NAMES


def _dump(data: Any, comments: list[str]) -> str:
    head = "".join(f"# {line}\n" for line in comments)
    return head + yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)


def workload_entry(
    layer: ExportLayer, ident: int, name: str, extents: dict[str, int], bits: int
) -> dict[str, Any]:
    """ZigZag's description of one layer (`extents`: per our dim, padded to whole tiles)."""
    shape = layer.shape
    zz = names(shape.kind)
    entry: dict[str, Any] = {"id": ident, "name": name}
    if shape.kind == "conv2d":
        sy, sx = shape.stride
        dy, dx = shape.dilation
        top, left, bottom, right = shape.pads
        entry |= {
            "operator_type": "Conv",
            "equation": "O[b][g][k][oy][ox]+=W[g][k][c][fy][fx]*I[b][g][c][iy][ix]",
            "dimension_relations": [f"iy={sy}*oy+{dy}*fy", f"ix={sx}*ox+{dx}*fx"],
            "loop_dims": [zz[d] for d in ("n", "g", "k", "c", "y", "x", "r", "s")],
            "loop_sizes": [extents[d] for d in ("n", "g", "k", "c", "y", "x", "r", "s")],
        }
        pr = {
            "pr_loop_dims": ["IY", "IX"],
            "pr_loop_sizes": [  # the input, grown by any output rows / cols padded in
                shape.in_hw[0] + (extents["y"] - shape.dims["y"]) * sy,
                shape.in_hw[1] + (extents["x"] - shape.dims["x"]) * sx,
            ],
            "padding": [[top, bottom], [left, right]],
        }
    else:
        batch = extents["g"] > 1
        b = "[b]" if batch else ""
        w = b if shape.b_batched else ""
        dims = (["g"] if batch else []) + ["m", "k", "n"]
        entry |= {
            "operator_type": "Gemm",
            "equation": f"O{b}[d][k]+=I{b}[d][c]*W{w}[c][k]",
            "dimension_relations": [],
            "loop_dims": [zz[d] for d in dims],
            "loop_sizes": [extents[d] for d in dims],
        }
        pr = {}
    entry["operand_precision"] = {"W": bits, "I": bits, "O": bits, "O_final": bits}
    entry["operand_source"] = {"W": ident, "I": ident}
    entry |= pr
    return entry


def _ports(operands: list[str], bw: int, top: bool) -> list[dict[str, Any]]:
    """One read and one write port of `bw` bits/cycle serving `operands` (O both ways)."""
    reads, writes = [], []
    for op in operands:
        reads.append(f"{op}, tl")
        writes.append(f"{op}, fh")
        if op == "O":
            reads.append("O, th")
            writes.append("O, fl")
    if top:
        return [
            {
                "name": "rw_port_1",
                "type": "read_write",
                "bandwidth_min": bw,
                "bandwidth_max": bw,
                "allocation": reads + writes,
            }
        ]
    return [
        {
            "name": "r_port_1",
            "type": "read",
            "bandwidth_min": bw,
            "bandwidth_max": bw,
            "allocation": reads,
        },
        {
            "name": "w_port_1",
            "type": "write",
            "bandwidth_min": bw,
            "bandwidth_max": bw,
            "allocation": writes,
        },
    ]


def accelerator(target: Target) -> tuple[dict[str, Any], list[str]]:
    """ZigZag's accelerator for `target` and what it cannot express."""
    eb = target.element_bytes
    bits = 8 * eb
    notes = []
    sram_pj = target.sram_energy_pj_per_byte
    memories: dict[str, Any] = {}
    for op, reg in (("I2", "reg_weight"), ("I1", "reg_input"), ("O", "reg_output")):
        memories[reg] = {
            "size": bits,
            "r_cost": round(0.1 * sram_pj * eb, 6),
            "w_cost": round(0.1 * sram_pj * eb, 6),
            "area": 0.0,
            "latency": 1,
            "operands": [op],
            "ports": _ports([op], bits, top=False),
            "served_dimensions": [],
        }
    served = ["D1"] if target.arch == "maeri" else ["D1", "D2"]
    if target.arch == "maeri":
        read_bits = target.dn_bw_elems_per_cycle * bits
        notes.append(
            "MAERI's trees are not expressible: a row of num_multipliers MACs with a mixed spatial "
            "mapping, the read ports (dn_bw) as the buffer's bandwidth; no folding or accumulation "
            "buffer"
        )
    else:
        read_bits = target.sram_bytes_per_cycle * 8
    per_access = read_bits / 8 * sram_pj
    if target.global_buffer == "shared":
        buffers = [("global_buffer", ["I1", "I2", "O"], target.shared_buffer_bytes)]
    else:
        buffers = [
            ("ifmap_buffer", ["I1"], target.buffer_bytes("input")),
            ("filter_buffer", ["I2"], target.buffer_bytes("weight")),
            ("ofmap_buffer", ["O"], target.buffer_bytes("output")),
        ]
    for name, ops, size in buffers:
        memories[name] = {
            "size": size * 8,
            "r_cost": round(per_access, 6),
            "w_cost": round(per_access, 6),
            "area": 0.0,
            "latency": 1,
            "operands": ops,
            "ports": _ports(ops, read_bits, top=False),
            "served_dimensions": served,
            "force_double_buffering": bool(target.double_buffer),
        }
    dram_bits = max(8, int(target.dram_bw_bytes_per_cycle * 8))
    memories["dram"] = {
        "size": 10**12,
        "r_cost": round(dram_bits / 8 * target.dram_energy_pj_per_byte, 6),
        "w_cost": round(dram_bits / 8 * target.dram_energy_pj_per_byte, 6),
        "area": 0.0,
        "latency": 1,
        "operands": ["I1", "I2", "O"],
        "ports": _ports(["I1", "I2", "O"], dram_bits, top=True),
        "served_dimensions": served,
    }
    if target.dram_latency_cycles:
        notes.append(f"DRAM latency ({target.dram_latency_cycles} cycles) is not expressible")
    array: dict[str, Any] = {"unit_energy": target.mac_energy_pj, "unit_area": 1.0}
    if target.arch == "maeri":
        array |= {"dimensions": ["D1"], "sizes": [target.num_multipliers]}
    else:
        array |= {
            "dimensions": ["D1", "D2"],
            "sizes": [target.cols, target.rows],
            "systolic_dimensions": ["D1", "D2"],
        }
    notes.append(
        "the per-PE registers (one element per operand) are the export's: the target has none"
    )
    return {"name": target.name, "memories": memories, "operational_array": array}, notes


def layer_mapping(
    layer: ExportLayer, target: Target, name: str
) -> tuple[dict[str, Any], dict[str, int], list[str]]:
    """(the layer's mapping entry, its extents padded to whole tiles, notes)."""
    shape = layer.shape
    mapping, extents, unroll, spatial, notes = padded_loops(layer, target)
    tiles = mapping.tiles
    zz = names(shape.kind)
    present = [d for d in shape.dim_names if shape.kind == "conv2d" or d != "g" or extents["g"] > 1]
    sm: dict[str, list[str]] = {}
    for u in unroll:
        axis = "D2" if u.axis == "rows" else "D1"
        sm.setdefault(axis, []).append(f"{zz[u.dim]}, {u.factor}")
    # every array dimension named (one ZigZag finds empty it fills with a search of its own)
    for axis in ["D1"] if target.arch == "maeri" else ["D1", "D2"]:
        sm.setdefault(axis, ["K, 1"])
    sm = {axis: sm[axis] for axis in sorted(sm)}
    own = [d for d in layer.mapping.order if d in present]
    ordering: list[list[Any]] = []
    for d in reversed(own):  # inside the buffer tile, innermost first
        f = tiles[d] // spatial[d]
        if f > 1:
            ordering.append([zz[d], f])
    for d in reversed([d for d in mapping.order if d in present]):  # the tile loops
        f = extents[d] // tiles[d]
        if f > 1:
            ordering.append([zz[d], f])
    entry: dict[str, Any] = {"name": name, "spatial_mapping": sm}
    entry["temporal_ordering"] = ordering
    entry["memory_operand_links"] = dict(LINKS)
    notes.append(
        "ZigZag puts the loops into memory levels itself: the order and sizes are the mapping's, "
        "the buffer-tile boundary is ZigZag's"
    )
    return entry, extents, notes


RUNNER = '''"""ZigZag (pip install zigzag-dse) on the exported files: latency and energy per layer."""

import sys
from pathlib import Path

import zigzag.stages.results.visualization as visualization
from zigzag.api import get_hardware_performance_zigzag

# zigzag-dse 3.9.1's loop-ordering printout fails on a layer with no temporal loop (all of it
# spatial, e.g. a small fully connected layer): print a line instead of stopping the run.
_print_mapping = visualization.print_mapping


def _print_mapping_or_note(cme):
    try:
        _print_mapping(cme)
    except ValueError:
        print(f"{cme.layer.name}: every loop is spatial (no temporal loop to print)")


visualization.print_mapping = _print_mapping_or_note
here = Path(__file__).resolve().parent
energy, latency, cmes = get_hardware_performance_zigzag(
    workload=str(here / "workload.yaml"),
    accelerator=str(here / "accelerator.yaml"),
    mapping=str(here / "mapping.yaml"),
    opt="latency",
    dump_folder=str(here / "zigzag-out"),
    loma_show_progress_bar=False,
)
for cme, _ in cmes[0][1]:
    print(
        f"{cme.layer.name}: latency {cme.latency_total2:.0f} cycles, energy "
        f"{cme.energy_total:.1f} pJ (temporal {cme.ideal_temporal_cycle:.0f}, stall/slack "
        f"{cme.stall_slack_comb:.0f}, onloading {cme.data_onloading_cycle:.0f}, offloading "
        f"{cme.data_offloading_cycle:.0f}; MAC {cme.mac_energy:.1f} pJ, memory "
        f"{cme.mem_energy:.1f} pJ)"
    )
print(f"total: latency {latency:.0f} cycles, energy {energy:.1f} pJ", file=sys.stderr)
'''


def write(
    layers: list[ExportLayer], target: Target, folder: Path, overwrite: bool = False
) -> tuple[list[Path], list[str]]:
    """Write the ZigZag files (see the module docstring); returns (files, notes)."""
    check_target(target, "ZigZag")
    arch, notes = accelerator(target)
    bits = 8 * target.element_bytes
    stems = unique_stems(layers)
    workload, mappings = [], []
    for i, (layer, stem) in enumerate(zip(layers, stems, strict=True)):
        entry, extents, layer_notes = layer_mapping(layer, target, stem)
        notes += [f"{layer.name}: {n}" for n in layer_notes if not n.startswith("ZigZag puts")]
        workload.append(workload_entry(layer, i, stem, extents, bits))
        mappings.append(entry)
    notes.append(
        "ZigZag puts the loops into memory levels itself: the order and sizes are the mapping's, "
        "the buffer-tile boundary is ZigZag's"
    )
    default = copy.deepcopy(mappings[0]) if mappings else {"memory_operand_links": dict(LINKS)}
    default["name"] = "default"
    default.pop("temporal_ordering", None)
    head = [f"accelflow export for ZigZag: {len(layers)} layer(s) on target {target.name}"]
    files = [
        (folder / "workload.yaml", _dump(workload, head)),
        (
            folder / "mapping.yaml",
            _dump([*mappings, default], head + [f"note: {n}" for n in notes]),
        ),
        (folder / "accelerator.yaml", _dump(arch, head)),
        (folder / "run_zigzag.py", RUNNER),
    ]
    return write_all(files, overwrite), notes
