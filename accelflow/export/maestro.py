"""MAESTRO export (github maestro-project/maestro): the mappings as MAESTRO's dataflow DSL.

Files written into the output folder:
- `<layer>.m` per distinct layer: a `Network` with that one `Layer` (dimensions and dataflow);
- `network.m`: every layer in one `Network` (what `run_maestro.sh` runs);
- `accelerator.m`: the hardware file (`num_pes`, `l1_size_cstr`, `l2_size_cstr` in bytes,
  `noc_bw_cstr`, `offchip_bw_cstr` in elements per cycle);
- `run_maestro.sh`: the command line (`MAESTRO=path/to/maestro sh run_maestro.sh`).

How a mapping becomes directives (outermost first, one cluster level per unrolled dim):
1. The buffer tiles, as the top level's TemporalMaps in the mapping's loop order (the loops
   with more than one tile first): `TemporalMap(t,t) K` for a tile of t output channels. The
   top level is one unit (the global buffer's tile goes to the whole array), so its one
   SpatialMap, which MAESTRO requires in every level, is put on a dim whose tile is the whole
   dim (one unit works, the others would idle): it is a TemporalMap in all but name.
2. The spatial unroll, one `Cluster(n, P)` level per unrolled dim, each with its SpatialMap:
   on a systolic array the columns then the rows (the GEMM axis each array axis holds, split
   into loop dims, the main dim first, as `spatial_unroll` says; the last level of an axis
   spans what is left of it, so that the levels hold (nearly) all rows x cols PEs and the top
   level is one unit); on MAERI the virtual neurons
   (output channels, pixels, ...) then the VN's reduction dims (C, R, S), each level as many
   units as the spatial factor (T_K, T_C, T_R, ...).
3. The innermost level streams what is left one element (one output pixel) at a time.
A depthwise conv is MAESTRO's `DSCONV` (our groups are its C); other grouped convs and batched
GEMMs are exported as one group / GEMM, R and S with a dilation as an undilated kernel over
the same outputs, the pads folded into the input size: each said in a note.

MAESTRO's own rules shape the rest: Y and X are input rows / columns (an output-row tile t is
`TemporalMap((t-1)*stride+R, t*stride) Y`), R and S are only ever mapped whole by a
TemporalMap (a buffer tile of part of R is not expressible), and R / S are unrolled with the
sliding-window pair `SpatialMap(1,1) Y; SpatialMap(1,1) R`, which needs one output row per
unit above it (a `TemporalMap(R,stride) Y` is put in the level before). maestro's default run
builds 4 NoC levels (2 Cluster directives); with more, `run_maestro.sh` adds
`--bw_sweep=true --top_bw_only=true --min_noc_bw=B --max_noc_bw=B`, which builds 6 (at most 5
Cluster directives; B is the hardware file's NoC bandwidth, so this sweeps one point).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from accelflow.export import ExportError, ExportLayer, padded_to_tiles, write_text
from simulator.target import Target
from simulator.workload import GEMM_AXES, LayerShape, Mapping

# maestro-top builds 4 NoC levels (2 Cluster directives), 6 in its --bw_sweep/--top_bw_only
# mode (5 Cluster directives).
PLAIN_CLUSTERS = 2
MAX_CLUSTERS = 5
# MAERI's spatial dims: across virtual neurons, then inside one (outermost first).
MAERI_ORDER = {
    "conv2d": ("k", "g", "n", "y", "x", "c", "r", "s"),
    "matmul": ("n", "g", "m", "k"),
}
# systolic.ARRAY_AXES: the GEMM axis across the rows and across the columns per dataflow.
ARRAY_AXES = {"os": ("m", "n"), "ws": ("k", "n"), "is": ("k", "m")}


def check_target(target: Target, tool: str) -> None:
    """Refuse the targets a dense dataflow tool cannot describe (one line, ExportError)."""
    if target.arch == "sigma":
        raise ExportError(
            f"{tool} export: target {target.name} is a sigma target, whose sparse weights are "
            f"packed into the multipliers at run time; {tool} models dense dataflows only "
            "(export it with --format stonne)"
        )
    if target.arch not in ("systolic", "maeri"):
        raise ExportError(
            f"{tool} export: no {tool} form for '{target.arch}' targets (target {target.name}); "
            "systolic and maeri targets export"
        )


def unique_stems(layers: Iterable[ExportLayer], reserved: Iterable[str] = ()) -> list[str]:
    """A distinct file stem per layer (letters, digits and '_'), none of `reserved`."""
    taken = {r.lower() for r in reserved}
    stems = []
    for layer in layers:
        base = "".join(c if c.isalnum() else "_" for c in layer.file_stem) or "layer"
        stem, i = base, 2
        while stem.lower() in taken:
            stem, i = f"{base}_{i}", i + 1
        taken.add(stem.lower())
        stems.append(stem)
    return stems


def write_all(files: list[tuple[Path, str]], overwrite: bool) -> list[Path]:
    """Write every (path, text); an existing path is refused before anything is written."""
    if not overwrite:
        for path, _ in files:
            if path.exists():
                raise ExportError(f"{path} exists; refusing to overwrite it (use --overwrite)")
    return [write_text(path, text, overwrite) for path, text in files]


def largest_divisor(n: int, limit: int) -> int:
    """The largest divisor of n that is <= limit (at least 1)."""
    return max((d for d in range(1, min(n, max(limit, 1)) + 1) if n % d == 0), default=1)


@dataclass(frozen=True)
class Unroll:
    """One unrolled loop dim: on which array axis (systolic rows / cols, MAERI vns / vn), by
    how much, and across how many units the tool should spread it (>= factor: a systolic
    axis's last dim spans the rest of the axis)."""

    axis: str
    dim: str
    factor: int
    units: int


def padded_loops(
    layer: ExportLayer, target: Target
) -> tuple[Mapping, dict[str, int], list[Unroll], dict[str, int], list[str]]:
    """What the tools whose loop factors must divide (Timeloop, ZigZag) take of a layer: its
    mapping (normalized), its extents padded to whole buffer tiles, the spatial unroll with
    divisor factors (`spatial_unroll`), the spatial factor per dim, and the notes of both."""
    mapping, extents, padded = padded_to_tiles(layer)
    unroll, notes = spatial_unroll(layer.shape, layer.mapping, target, divisors=True)
    spatial = {d: 1 for d in layer.shape.dim_names} | {u.dim: u.factor for u in unroll}
    return mapping, extents, unroll, spatial, ([padded] if padded else []) + notes


def spatial_unroll(
    shape: LayerShape, mapping: Mapping, target: Target, divisors: bool = False
) -> tuple[list[Unroll], list[str]]:
    """The mapping's spatial unroll per loop dim, outermost first, and what it changes.

    Systolic: per array axis (columns, then rows) the GEMM axis the dataflow maps there
    (`GEMM_AXES`, e.g. ws rows = c r s) is split into its loop dims, the mapping's main dim
    first: each gets min(its buffer tile, what is left of the axis); our timing flattens the
    GEMM axis, so the per-dim product can be smaller (7 x 4 = 28 pixels on 32 rows where the
    flattened 49 fill them). MAERI: the spatial tile (T_K, T_C, ...), clamped to the tiles.
    `divisors`: factors must divide the buffer tiles (Timeloop): each is the largest divisor of
    its tile not above the factor. Notes name what differs from the mapping."""
    tiles = mapping.normalized(shape).tiles
    notes: list[str] = []
    out: list[Unroll] = []
    if target.arch == "maeri":
        for d in MAERI_ORDER[shape.kind]:
            if d not in mapping.spatial:
                continue
            axis, factor = mapping.spatial[d]
            f = min(int(factor), tiles[d])
            if divisors and tiles[d] % f:
                g = largest_divisor(tiles[d], f)
                notes.append(
                    f"spatial {d}={f} does not divide its buffer tile {tiles[d]}: unrolled {g}"
                )
                f = g
            if f > 1:
                out.append(Unroll(axis, d, f, f))
        return out, notes
    dataflow = mapping.dataflow if mapping.dataflow in ARRAY_AXES else "ws"
    for axis, size, gemm in (
        ("cols", target.cols, ARRAY_AXES[dataflow][1]),
        ("rows", target.rows, ARRAY_AXES[dataflow][0]),
    ):
        dims = list(GEMM_AXES[shape.kind][gemm])
        named = [d for d, (a, _) in mapping.spatial.items() if a == axis and d in dims]
        main = named[0] if named else max(dims, key=lambda d: tiles[d])
        dims = [main] + [d for d in dims if d != main]
        left, group = size, []
        for d in dims:
            f = largest_divisor(tiles[d], left) if divisors else min(tiles[d], left)
            if f > 1:
                group.append([d, f])
                left //= f
        if group:  # the last dim of the axis spans the rest of it (idle where f is smaller)
            rest = math.prod(f for _, f in group[:-1])
            out += [Unroll(axis, d, f, f) for d, f in group[:-1]]
            out.append(Unroll(axis, group[-1][0], group[-1][1], size // rest))
        flat = math.prod(tiles[d] for d in GEMM_AXES[shape.kind][gemm])
        ours = min(flat, size)
        theirs = math.prod(f for _, f in group)
        if theirs != ours:
            spelled = " x ".join(f"{d}={f}" for d, f in group) or "nothing"
            if len(group) > 1:
                spelled += f" = {theirs}"
            notes.append(
                f"{axis}: the mapping unrolls the flattened {'*'.join(GEMM_AXES[shape.kind][gemm])}"
                f" ({ours} of {size} {axis}); per loop dim that is {spelled}"
            )
    return out, notes


# --- MAESTRO -------------------------------------------------------------------------------


def _names(shape: LayerShape) -> tuple[str, dict[str, str]]:
    """MAESTRO's layer type and its name for each of our dims it can express."""
    if shape.kind == "matmul":
        return "GEMM", {"m": "M", "n": "N", "k": "K"}
    d = shape.dims
    names = {"n": "N", "k": "K", "c": "C", "r": "R", "s": "S", "y": "Y", "x": "X"}
    if d["g"] > 1 and d["k"] == 1 and d["c"] == 1:  # depthwise: MAESTRO's C is the channel,
        names.pop("c")  # its K (1) is in no tensor: no directive may name it
        names.pop("k")
        names["g"] = "C"
        return "DSCONV", names
    return "CONV", names


def _token(name: str) -> str:
    """A name as one MAESTRO token (its tokenizer splits on ' ,->():;' and tabs)."""
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "layer"


class _Layer:
    """One layer's MAESTRO text and notes."""

    def __init__(self, layer: ExportLayer, target: Target, name: str) -> None:
        self.layer, self.target, self.name = layer, target, name
        self.shape = shape = layer.shape
        self.mapping = layer.mapping.normalized(shape)
        self.notes: list[str] = []
        self.type, self.names = _names(shape)
        self.conv = shape.kind == "conv2d"
        d = shape.dims
        if self.conv:
            self.stride = shape.stride
            self.rs = (d["r"], d["s"])
        self.ext = {self.names[k]: d[k] for k in self.names}
        if self.type == "DSCONV":
            self.ext["K"] = 1

    def note(self, text: str) -> None:
        self.notes.append(text)

    def window(self, dim: str, outputs: int, kernel: int | None = None) -> str:
        """`(size,offset) Y` for `outputs` output rows (X: columns) in input coordinates."""
        axis = 0 if dim == "Y" else 1
        k = self.rs[axis] if kernel is None else kernel
        s = self.stride[axis]
        return f"({(outputs - 1) * s + k},{outputs * s}) {dim}"

    def directive(self, dim: str, tile: int) -> str:
        if dim in ("Y", "X"):
            return self.window(dim, tile)
        return f"({tile},{tile}) {dim}"

    def input_hw(self) -> tuple[int, int]:
        d = self.shape.dims
        return (d["y"] - 1) * self.stride[0] + d["r"], (d["x"] - 1) * self.stride[1] + d["s"]

    def dimensions(self) -> str:
        if not self.conv:
            d = self.shape.dims
            return f"Dimensions {{ K: {d['k']}, M: {d['m']}, N: {d['n']} }}"
        d = self.shape.dims
        c = d["g"] if self.type == "DSCONV" else d["c"]
        k = 1 if self.type == "DSCONV" else d["k"]
        y, x = self.input_hw()
        return (
            f"Dimensions {{ N: {d['n']}, K: {k}, C: {c}, R: {d['r']}, S: {d['s']}, "
            f"Y: {y}, X: {x} }}"
        )

    def geometry_notes(self) -> None:
        shape, d = self.shape, self.shape.dims
        if self.conv:
            y, x = self.input_hw()
            if any(shape.pads):
                self.note(
                    f"padding {','.join(map(str, shape.pads))} is folded into the input size "
                    f"Y x X = {y} x {x} (MAESTRO has no padding)"
                )
            elif (y, x) != shape.in_hw:
                self.note(f"input {shape.in_hw[0]}x{shape.in_hw[1]} given as the {y}x{x} it uses")
            if shape.dilation != (1, 1):
                self.note(
                    f"dilation {shape.dilation[0]}x{shape.dilation[1]} is not expressible: an "
                    f"undilated {d['r']}x{d['s']} kernel over the same outputs"
                )
            if d["g"] > 1 and self.type != "DSCONV":
                self.note(
                    f"{d['g']} groups are not expressible: the layer is one group (MAESTRO's "
                    f"counts x {d['g']})"
                )
        elif d["g"] > 1:
            self.note(f"a batch of {d['g']} GEMMs: the layer is one of them (counts x {d['g']})")
        if not self.mapping.double_buffer:
            self.note("single buffering is not expressible (MAESTRO sizes L1/L2 double-buffered)")

    def build(self) -> tuple[str, int]:
        """The Layer block and the number of Cluster directives it uses."""
        shape, mapping, names = self.shape, self.mapping, self.names
        tiles = mapping.tiles
        self.geometry_notes()
        unroll, notes = spatial_unroll(shape, self.layer.mapping, self.target)
        self.notes += notes
        levels = [u for u in unroll if u.dim in names]
        for u in unroll:
            if u.dim not in names:
                self.note(f"the unroll of {u.dim} by {u.factor} is not expressible (no such dim)")
        # R / S unroll as sliding pairs, after every other level.
        levels = [u for u in levels if u.dim not in "rs"] + [u for u in levels if u.dim in "rs"]
        if len(levels) > MAX_CLUSTERS:
            keep = sorted(levels, key=lambda u: -u.factor)[:MAX_CLUSTERS]
            for u in levels:
                if u not in keep:
                    self.note(
                        f"the unroll of {u.dim} by {u.factor} is left out (MAESTRO runs at most "
                        f"{MAX_CLUSTERS} cluster levels)"
                    )
            levels = [u for u in levels if u in keep]
        pair_needed = {"Y": any(u.dim == "r" for u in levels)}
        pair_needed["X"] = any(u.dim == "s" for u in levels)
        first_pair = next((i for i, u in enumerate(levels) if u.dim in "rs"), None)
        lines: list[str] = ["// buffer tile (global buffer), loop order outermost first"]
        top: list[tuple[str, str]] = []
        for dim in mapping.order:
            if dim not in names:
                continue
            big = names[dim]
            t = tiles[dim]
            if big in ("R", "S") and t < self.ext[big]:
                self.note(
                    f"buffer tile {dim}={t} of {self.ext[big]} is not expressible (MAESTRO maps R "
                    "and S whole)"
                )
                t = self.ext[big]
            top.append((big, self.directive(big, t)))
        # The top level's SpatialMap: on a dim whose tile is whole (only one unit works).
        whole = [i for i, (big, _) in enumerate(top) if self._whole(big, tiles)]
        spatial_at = whole[0] if whole else 0
        units = math.prod(u.units for u in levels)
        if not whole and self.target.num_pes // max(units, 1) > 1:
            self.note(
                f"no dim is whole in the buffer tile: MAESTRO spreads the tiles over "
                f"{self.target.num_pes // units} top-level clusters"
            )
        for i, (_, text) in enumerate(top):
            lines.append(f"{'SpatialMap' if i == spatial_at else 'TemporalMap'}{text};")
        one_row = {"Y": False, "X": False}
        if first_pair == 0:  # the window must come from a level above the pair
            lines.append("// one output window at a time")
            lines.append("Cluster(1, P);")
            lines += self._windows(pair_needed, one_row, spatial=True)
        mapped = {u.dim for u in levels}
        for i, u in enumerate(levels):
            big = names[u.dim]
            what = "virtual neurons" if u.axis == "vns" else u.axis
            if u.axis == "vn":
                what = "inside a virtual neuron"
            lines.append(f"// {what}: {big} by {u.factor}")
            lines.append(f"Cluster({u.units}, P);")
            if big in ("R", "S"):
                partner = "Y" if big == "R" else "X"
                lines += [f"SpatialMap(1,1) {partner};", f"SpatialMap(1,1) {big};"]
            elif big in ("Y", "X"):
                lines.append(f"SpatialMap{self.window(big, 1)};")
                one_row[big] = True
            else:
                lines.append(f"SpatialMap(1,1) {big};")
            if first_pair is not None and i == first_pair - 1:
                # the windows and this level's unroll nest in the mapping's loop order
                spatial_line = lines.pop()
                windows = self._windows(pair_needed, one_row, spatial=False)
                nest = sorted(
                    [(self.rank(u.dim), spatial_line)]
                    + [(self.rank("y" if w.endswith(" Y;") else "x"), w) for w in windows]
                )
                lines += [line for _, line in nest]
        if levels:
            inner = []
            for dim in sorted(names, key=self.rank):
                if dim not in names or dim in mapped or dim in ("r", "s"):
                    continue
                big = names[dim]
                if big in ("Y", "X"):
                    if not one_row[big]:
                        inner.append(f"TemporalMap{self.window(big, 1)};")
                        one_row[big] = True
                elif tiles[dim] > 1:
                    inner.append(f"TemporalMap(1,1) {big};")
            if inner:
                lines.append("// each PE: one element at a time")
                lines += inner
        clusters = sum(1 for line in lines if line.startswith("Cluster("))
        head = [f"Layer {self.name} {{", f"Type: {self.type}"]
        if self.conv:
            head.append(f"Stride {{ X: {self.stride[1]}, Y: {self.stride[0]} }}")
        head.append(self.dimensions())
        body = "\n".join(
            [
                "\t" + head[0],
                *("\t\t" + h for h in head[1:]),
                "\t\tDataflow {",
                *("\t\t\t" + line for line in lines),
                "\t\t}",
                "\t}",
            ]
        )
        return body, clusters

    def rank(self, dim: str) -> int:
        """The dim's place in the mapping's own loop order (inside a tile, the nesting)."""
        order = list(self.layer.mapping.order) or list(self.shape.dim_names)
        return order.index(dim) if dim in order else len(order)

    def _whole(self, big: str, tiles: dict[str, int]) -> bool:
        dim = next(d for d, b in self.names.items() if b == big)
        return tiles[dim] >= self.shape.dims[dim]

    def _windows(self, needed: dict[str, bool], one_row: dict[str, bool], spatial: bool) -> list:
        out = []
        for big in ("Y", "X"):
            if needed[big] and not one_row[big]:
                kind = "SpatialMap" if spatial and not out else "TemporalMap"
                out.append(f"{kind}{self.window(big, 1)};")
                one_row[big] = True
        return out


def hardware(target: Target) -> tuple[str, list[str], int]:
    """The hardware file's text, its notes and the NoC bandwidth it gives."""
    eb = target.element_bytes
    notes = []
    if target.global_buffer == "shared":
        l2 = target.shared_buffer_bytes
        l2_what = "the shared global buffer"
    else:
        l2 = sum(target.buffer_bytes(op) for op in ("input", "weight", "output"))
        l2_what = "the three split global buffers together"
        notes.append(
            f"MAESTRO has one L2: the split global buffers ({target.ifmap_sram_kib:g}/"
            f"{target.filter_sram_kib:g}/{target.ofmap_sram_kib:g} KiB) are one of "
            f"{l2 // 1024} KiB"
        )
    if target.arch == "maeri":
        noc = target.dn_bw_elems_per_cycle
        noc_what = "MAERI's distribution ports (dn_bw)"
        notes.append(
            "MAERI's reduction network, its write ports (rn_bw) and the accumulation buffer are "
            "not expressible (MAESTRO reduces within a cluster at no cost)"
        )
    else:
        noc = target.rows + target.cols
        noc_what = "the array's edge: rows + cols"
        notes.append(
            "MAESTRO models the systolic array as PE clusters fed by a multicast NoC: no "
            "per-fold fill and drain skew"
        )
    if target.dram_latency_cycles:
        notes.append(f"DRAM latency ({target.dram_latency_cycles} cycles) is not expressible")
    offchip = max(1, int(target.dram_bw_bytes_per_cycle // eb))
    l1 = 6 * eb
    text = "\n".join(
        [
            f"// accelflow export: target {target.name} ({target.arch}, {target.num_pes} PEs)",
            f"// l2: {l2_what}, bytes; l1: one input, weight and partial sum per PE, double-",
            "// buffered as MAESTRO sizes it (the target models no PE-local buffer), bytes;",
            f"// noc_bw: {noc_what}, elements/cycle;",
            f"// offchip_bw: DRAM {target.dram_bw_bytes_per_cycle:g} B/cycle in elements/cycle",
            f"num_pes: {target.num_pes}",
            f"l1_size_cstr: {l1}",
            f"l2_size_cstr: {l2}",
            f"noc_bw_cstr: {noc}",
            f"offchip_bw_cstr: {offchip}",
            "",
        ]
    )
    return text, notes, noc


def _comment(lines: Iterable[str]) -> list[str]:
    return [f"// {line}" for line in lines]


def command(mapping_file: str, clusters: int, noc_bw: int) -> str:
    """maestro's command line for a mapping file with `clusters` Cluster directives at most."""
    cmd = (
        f'"${{MAESTRO:-./maestro}}" --HW_file=accelerator.m --Mapping_file={mapping_file} '
        "--print_res=true --print_res_csv_file=true --print_log_file=false"
    )
    if clusters > PLAIN_CLUSTERS:
        cmd += f" --bw_sweep=true --top_bw_only=true --min_noc_bw={noc_bw} --max_noc_bw={noc_bw}"
    return cmd


def write(
    layers: list[ExportLayer], target: Target, folder: Path, overwrite: bool = False
) -> tuple[list[Path], list[str]]:
    """Write the MAESTRO files (see the module docstring); returns (files, notes)."""
    check_target(target, "MAESTRO")
    hw_text, hw_notes, noc = hardware(target)
    stems = unique_stems(layers, ("network", "accelerator", "run_maestro"))
    blocks: list[tuple[str, str, list[str], int]] = []
    for layer, stem in zip(layers, stems, strict=True):
        built = _Layer(layer, target, _token(stem))
        text, clusters = built.build()
        blocks.append((stem, text, built.notes, clusters))
    notes = list(hw_notes)
    for (_, _, layer_notes, _), layer in zip(blocks, layers, strict=True):
        notes += [f"{layer.name}: {n}" for n in layer_notes]
    stride_note = [
        "MAESTRO's 'Num MACs' and output counts ignore the stride (it counts (Y-R+1) x (X-S+1)",
        "outputs); its runtime follows the stride.",
    ]
    files: list[tuple[Path, str]] = []
    max_clusters = max((c for *_, c in blocks), default=0)
    for (stem, text, layer_notes, clusters), layer in zip(blocks, layers, strict=True):
        header = [
            f"accelflow export for MAESTRO: layer {layer.name} on target {target.name}",
            f"mapping: {layer.mapping.directives(layer.shape)}",
        ]
        if len(layer.names) > 1:
            header.append(f"shared by: {' '.join(layer.names)}")
        if layer.shape.kind == "conv2d" and layer.shape.stride != (1, 1):
            header += stride_note
        header += [f"note: {n}" for n in layer_notes]
        header.append(f"run: {command(stem + '.m', clusters, noc)}")
        body = "\n".join([*_comment(header), f"Network {_token(stem)} {{", text, "}", ""])
        files.append((folder / f"{stem}.m", body))
    network = "\n".join(
        [
            *_comment(
                [
                    f"accelflow export for MAESTRO: {len(layers)} layer(s) on target {target.name}",
                    *(f"note: {n}" for n in notes),
                ]
            ),
            "Network accelflow {",
            "\n\n".join(text for _, text, _, _ in blocks),
            "}",
            "",
        ]
    )
    files.append((folder / "network.m", network))
    files.append((folder / "accelerator.m", hw_text))
    script = "\n".join(
        [
            "#!/bin/sh",
            "# MAESTRO (github maestro-project/maestro) on the exported layers; run it in this",
            "# folder, MAESTRO=path/to/maestro. More than 2 Cluster levels need maestro's",
            "# --bw_sweep/--top_bw_only mode (6 NoC levels), run at one bandwidth point.",
            'cd "$(dirname "$0")" || exit 1',
            command("network.m", max_clusters, noc),
            "",
        ]
    )
    files.append((folder / "run_maestro.sh", script))
    return write_all(files, overwrite), notes
