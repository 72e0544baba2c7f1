"""`accelflow export --format maestro|timeloop|stonne|zigzag` (accelflow/export/{maestro,timeloop,
stonne,zigzag}.py), without the peer tools.

One small model (a strided padded conv, a depthwise conv, a grouped 1x1 conv, a Gemm) on a
systolic target with tiled mappings (buffer tiles smaller than the layers) and on MAERI (and
SIGMA for STONNE) with the default mappings. Checked: the files; MAESTRO's top-level
TemporalMaps are the buffer tiles (Y / X as input windows, R / S whole) and its Cluster levels
the spatial unroll; Timeloop's factors of each dim multiply to its extent, those at and below
the global buffer to the buffer tile, the DRAM ones are the trips; STONNE's T_* are the spatial
tile, its dims run the layer's MACs; ZigZag's spatial x temporal factors multiply to the loop
sizes, the tile loops outermost; the notes; the CLI's refusals (one `error:` line, exit 2).
Given the peers (MAESTRO=path/to/maestro, TIMELOOP_MODEL=path/to/timeloop-model with its libraries
found), they run the exported files (skipped otherwise); ZigZag runs whenever zigzag-dse is
installed (the peers extra; ZIGZAG_PYTHON=another python with it).
"""

from __future__ import annotations

import math
import os
import re
import subprocess
from pathlib import Path

import onnx
import pytest

from accelflow.cli import main
from accelflow.export import export
from accelflow.export import stonne as stonne_export
from accelflow.export import timeloop as timeloop_export
from accelflow.export import zigzag as zigzag_export
from accelflow.models import GraphBuilder
from simulator.arch.maeri_mapping import STONNE_TILE_NAMES
from simulator.target import load_target

yaml = pytest.importorskip("yaml")

LAYERS = ("/conv1/Conv", "/conv2/Conv", "/conv3/Conv", "/fc/Gemm")
STEMS = ("conv1_Conv", "conv2_Conv", "conv3_Conv", "fc_Gemm")
# Buffer tiles smaller than the layers on the systolic target (they divide the dims).
TILED = {
    "/conv1/Conv": {
        "dataflow": "ws",
        "tiles": {"n": 1, "g": 1, "k": 8, "c": 3, "y": 4, "x": 8, "r": 3, "s": 3},
        "order": ["k", "y", "c", "r", "s", "n", "g", "x"],
    },
    "/fc/Gemm": {
        "dataflow": "ws",
        "tiles": {"g": 1, "m": 1, "n": 10, "k": 128},
        "order": ["k", "n", "g", "m"],
    },
}
# A tile that does not divide its dim (y: 3 of 8).
RAGGED = {
    "/conv1/Conv": {
        "dataflow": "ws",
        "tiles": {"n": 1, "g": 1, "k": 16, "c": 3, "y": 3, "x": 8, "r": 3, "s": 3},
        "order": ["y", "k", "c", "r", "s", "n", "g", "x"],
    }
}


def small_model() -> onnx.ModelProto:
    b = GraphBuilder("export_text", seed=0)
    x = b.conv("input", "/conv1", "conv1", 3, 16, 3, stride=2, pads=1)  # 15x15 -> 8x8
    x = b.relu(x, "/relu1")
    x = b.conv(x, "/conv2", "conv2", 16, 16, 3, pads=1, group=16)  # depthwise
    x = b.conv(x, "/conv3", "conv3", 16, 8, 1, group=2)  # grouped 1x1
    x = b.flatten(x, "/flatten")
    x = b.gemm(x, "/fc", "fc", 8 * 8 * 8, 10)
    return b.model("input", [1, 3, 15, 15], x, [1, 10])


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "small.onnx"
    onnx.save(small_model(), str(path))
    return path


@pytest.fixture(scope="module")
def exported(model_path, tmp_path_factory):
    """export(format, target, mappings) once per combination (module-wide)."""
    cache: dict = {}

    def get(fmt: str, target: str, mappings: dict | None = None):
        key = (fmt, target, id(mappings))
        if key not in cache:
            folder = tmp_path_factory.mktemp(f"{fmt}-{target}")
            cache[key] = export(model_path, target, fmt, folder, mappings=mappings)
        return cache[key]

    return get


def by_name(result) -> dict:
    return {layer.name: layer for layer in result.layers}


# --- MAESTRO -------------------------------------------------------------------------------

DIRECTIVE = re.compile(r"^(TemporalMap|SpatialMap)\((\d+),(\d+)\) (\w+);$")


def maestro_layers(text: str) -> dict[str, list[list[str]]]:
    """Layer name -> its Dataflow lines split into levels (at each Cluster)."""
    out = {}
    for name, body in re.findall(r"\tLayer (\w+) \{\n(.*?)\n\t\}", text, re.S):
        flow = body.split("Dataflow {", 1)[1]
        lines = [ln.strip() for ln in flow.splitlines() if ln.strip() and "//" not in ln]
        levels: list[list[str]] = [[]]
        for ln in lines:
            if ln.startswith("Cluster("):
                levels.append([ln])
            elif ln != "}":
                levels[-1].append(ln)
        out[name] = levels
    return out


def directives(level: list[str]) -> dict[str, tuple[str, int, int]]:
    found = {}
    for ln in level:
        m = DIRECTIVE.match(ln)
        if m:
            kind, size, ofs, dim = m.groups()
            found.setdefault(dim, (kind, int(size), int(ofs)))
    return found


def test_maestro_buffer_tiles_and_unroll_systolic(exported):
    result = exported("maestro", "tpu-like", TILED)
    names = [f.name for f in result.files]
    assert names == [f"{s}.m" for s in STEMS] + ["network.m", "accelerator.m", "run_maestro.sh"]
    assert all(f.is_file() for f in result.files)
    layers = maestro_layers((result.folder / "network.m").read_text())
    assert sorted(layers) == sorted(STEMS)
    layer = by_name(result)
    # conv1: tiles k=8, y=4 (input window (4-1)*2+3 = 9 rows, offset 8), the rest whole
    top = directives(layers["conv1_Conv"][0])
    assert top["K"][1:] == (8, 8)
    assert top["Y"][1:] == (9, 8)
    assert top["X"][1:] == (17, 16)
    assert top["C"][1:] == (3, 3) and top["R"][1:] == (3, 3) and top["S"][1:] == (3, 3)
    assert [k for k, *_ in top.values()].count("SpatialMap") == 1
    assert layer["/conv1/Conv"].mapping.tiles["k"] == 8
    # every layer's top level holds its buffer tile, in the mapping's loop order
    for name, stem in zip(LAYERS, STEMS, strict=True):
        m = layer[name].mapping.normalized(layer[name].shape)
        top = directives(layers[stem][0])
        for dim in ("k", "c", "n", "m"):
            big = dim.upper()
            if big in top and not (stem == "conv2_Conv" and dim == "c"):
                assert top[big][1] == m.tiles[dim], (stem, dim)
        looped = [d.upper() for d in m.order if m.tiles[d] < layer[name].shape.dims[d]]
        order = [d for d in directives(layers[stem][0])]
        assert order[: len(looped)] == [{"Y": "Y", "X": "X"}.get(d, d) for d in looped]
    # the array: K on the 32 columns, C x R x S (27) on the rows; one top-level unit
    sizes = [int(lv[0][8:].split(",")[0]) for lv in layers["conv1_Conv"][1:]]
    assert sizes == [32, 3, 3, 3]
    assert 1024 // math.prod(sizes) == 1
    spatial = [directives(lv) for lv in layers["conv1_Conv"][1:]]
    assert [d["K"][0] for d in spatial[:1]] == ["SpatialMap"]
    assert spatial[2]["R"][0] == spatial[2]["Y"][0] == "SpatialMap"  # the sliding pair
    hw = (result.folder / "accelerator.m").read_text()
    assert "num_pes: 1024" in hw and f"l2_size_cstr: {3 * 256 * 1024}" in hw
    assert "--bw_sweep=true" in (result.folder / "run_maestro.sh").read_text()
    notes = "\n".join(result.notes)
    assert "/conv1/Conv: padding 1,1,1,1" in notes and "Y x X = 17 x 17" in notes
    assert "/conv3/Conv: 2 groups" in notes
    assert "Type: DSCONV" in (result.folder / "conv2_Conv.m").read_text()
    assert "// note: padding" in (result.folder / "conv1_Conv.m").read_text()


def test_maestro_virtual_neurons_maeri(exported):
    result = exported("maestro", "maeri-64")
    layers = maestro_layers((result.folder / "network.m").read_text())
    for name, stem in zip(LAYERS, STEMS, strict=True):
        layer = by_name(result)[name]
        factors = sorted(f for _, f in layer.mapping.spatial.values() if f > 1)
        levels = layers[stem][1:]
        assert sorted(int(lv[0][8:].split(",")[0]) for lv in levels) == factors, stem
        mapped = set()
        for lv in levels:
            mapped |= {d for d, (kind, *_) in directives(lv).items() if kind == "SpatialMap"}
        names = {"y": "Y", "x": "X", "r": "R", "s": "S", "k": "K", "c": "C", "n": "N"}
        if stem == "conv2_Conv":
            names["g"] = "C"
        want = {names[d] for d, (_, f) in layer.mapping.spatial.items() if f > 1}
        assert want <= mapped, stem
    assert "num_pes: 64" in (result.folder / "accelerator.m").read_text()
    assert "noc_bw_cstr: 8" in (result.folder / "accelerator.m").read_text()


@pytest.mark.skipif(not os.environ.get("MAESTRO"), reason="set MAESTRO=path/to/maestro to run it")
def test_maestro_runs_the_exported_network(exported):
    for target in ("tpu-like", "maeri-64"):
        result = exported("maestro", target, TILED if target == "tpu-like" else None)
        run = subprocess.run(
            ["sh", str(result.folder / "run_maestro.sh")], capture_output=True, text=True
        )
        assert run.returncode == 0, run.stdout[-2000:]
        assert run.stdout.count("Runtime:") >= len(LAYERS), run.stdout[-2000:]


# --- Timeloop ------------------------------------------------------------------------------


def timeloop_levels(folder: Path, stem: str) -> tuple[dict, dict[str, dict[str, dict]]]:
    problem = yaml.safe_load((folder / f"{stem}.problem.yaml").read_text())["problem"]
    directives = yaml.safe_load((folder / f"{stem}.map.yaml").read_text())["mapping"]
    levels: dict[str, dict[str, dict]] = {}
    for d in directives:
        if d["type"] in ("temporal", "spatial"):
            factors = dict(item.split("=") for item in d["factors"].split())
            levels.setdefault(d["target"], {})[d["type"]] = {k: int(v) for k, v in factors.items()}
            assert sorted(d["permutation"]) == sorted(factors), d
    return problem, levels


@pytest.mark.parametrize("target", ["tpu-like", "maeri-64"])
def test_timeloop_factors_multiply_to_the_dims(exported, target):
    result = exported("timeloop", target, TILED if target == "tpu-like" else None)
    tgt = load_target(target)
    folder = result.folder
    assert (folder / "arch.yaml").is_file() and (folder / "run_timeloop.sh").is_file()
    arch = yaml.safe_load((folder / "arch.yaml").read_text())["architecture"]
    chip = arch["subtree"][0]["subtree"][0]
    pe = chip["subtree"][0]
    assert pe["name"] == f"PE[0..{tgt.num_pes - 1}]"
    buffers = [b["name"] for b in chip["local"]]
    inner = buffers[-1]
    if target == "tpu-like":
        assert buffers == ["WeightBuffer", "InputBuffer", "OutputBuffer"]
        assert chip["local"][1]["attributes"]["depth"] * 4 == 256 * 1024
        mesh_x, mesh_y = tgt.cols, tgt.rows
    else:
        assert buffers == ["GlobalBuffer"]
        assert chip["local"][0]["attributes"]["read_bandwidth"] == tgt.dn_bw_elems_per_cycle
        mesh_x, mesh_y = tgt.num_pes, 1
    for layer in result.layers:
        stem = layer.file_stem
        problem, levels = timeloop_levels(folder, stem)
        tl = timeloop_export.names(layer.shape.kind)
        m = layer.mapping.normalized(layer.shape)
        inst = problem["instance"]
        for d, extent in layer.shape.dims.items():
            if tl[d] not in inst:
                assert extent == 1 and d == "g"
                continue
            assert inst[tl[d]] == extent, (stem, d)  # the tiles divide the dims here
            every = [f[tl[d]] for lv in levels.values() for f in lv.values()]
            assert math.prod(every) == extent, (stem, d)
            on_chip = [f[tl[d]] for f in levels[inner].values()] + [
                levels["PERegs"]["temporal"][tl[d]]
            ]
            assert math.prod(on_chip) == m.tiles[d], (stem, d)
            assert levels["DRAM"]["temporal"][tl[d]] == extent // m.tiles[d]
        spatial = levels[inner]["spatial"]
        directive = next(
            x
            for x in yaml.safe_load((folder / f"{stem}.map.yaml").read_text())["mapping"]
            if x["type"] == "spatial"
        )
        split = directive["split"]
        x_dims, y_dims = directive["permutation"][:split], directive["permutation"][split:]
        assert math.prod(spatial[c] for c in x_dims) <= mesh_x
        assert math.prod(spatial[c] for c in y_dims) <= mesh_y
        if target == "maeri-64":  # the spatial tile, where it divides the buffer tile
            for d, (_, f) in layer.mapping.spatial.items():
                assert spatial[tl[d]] == f, (stem, d)
    conv1 = timeloop_levels(folder, "conv1_Conv")[0]
    assert conv1["instance"]["Wstride"] == 2 and conv1["instance"]["Hstride"] == 2
    assert conv1["shape"]["name"] == "CNN_Layer"
    conv3 = timeloop_levels(folder, "conv3_Conv")[0]
    assert conv3["shape"]["dimensions"][-1] == "G" and conv3["instance"]["G"] == 2
    assert any("padding is not expressible" in n for n in result.notes)


def test_timeloop_pads_a_ragged_tile(exported):
    result = exported("timeloop", "tpu-like", RAGGED)
    problem, levels = timeloop_levels(result.folder, "conv1_Conv")
    assert problem["instance"]["Q"] == 9  # y 8 padded to 3 tiles of 3
    assert levels["DRAM"]["temporal"]["Q"] == 3
    assert any("y 8 -> 9" in n for n in result.notes)


@pytest.mark.skipif(
    not os.environ.get("TIMELOOP_MODEL"), reason="set TIMELOOP_MODEL=path/to/timeloop-model"
)
@pytest.mark.parametrize("target", ["tpu-like", "maeri-64"])
def test_timeloop_runs_the_exported_layers(exported, target):
    result = exported("timeloop", target, TILED if target == "tpu-like" else None)
    run = subprocess.run(
        ["sh", str(result.folder / "run_timeloop.sh")], capture_output=True, text=True
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-2000:]
    for layer in result.layers:
        stats = (result.folder / "out" / layer.file_stem / "timeloop-model.stats.txt").read_text()
        assert f"Computes = {layer.shape.macs}" in stats, layer.name


# --- STONNE --------------------------------------------------------------------------------


def stonne_lines(result) -> dict[str, tuple[str, dict[str, str]]]:
    text = (result.folder / "run_stonne.sh").read_text()
    lines = [ln for ln in text.splitlines() if ln.startswith("./stonne ")]
    parsed = [stonne_export.parse_command(ln) for ln in lines]
    return {params["layer_name"]: (op, params) for op, params in parsed}


def test_stonne_maeri_tiles_are_the_spatial_tile(exported):
    result = exported("stonne", "maeri-64")
    assert [f.name for f in result.files] == ["run_stonne.sh"]
    lines = stonne_lines(result)
    assert sorted(lines) == sorted(STEMS)
    tgt = load_target("maeri-64")
    for layer in result.layers:
        op, p = lines[layer.file_stem]
        kind = layer.shape.kind
        tiles = [flag for flag in p if flag in STONNE_TILE_NAMES[kind]]
        assert len(tiles) == (8 if kind == "conv2d" else 3)
        for flag in tiles:
            want = layer.mapping.spatial.get(STONNE_TILE_NAMES[kind][flag], ("", 1))[1]
            assert int(p[flag]) == want, (layer.name, flag)
        assert int(p["num_ms"]) == tgt.num_multipliers
        assert int(p["dn_bw"]) == tgt.dn_bw_elems_per_cycle
        assert int(p["rn_bw"]) == tgt.rn_bw_elems_per_cycle
        assert p["accumulation_buffer"] == "1"
        assert stonne_export.macs(p, op) == layer.shape.macs, layer.name
        if kind == "conv2d":
            assert op == "CONV" and p["N"] == "1"
    op, p = lines["conv1_Conv"]
    assert (p["X"], p["Y"], p["strides"]) == ("17", "17", "2")  # 15 + 2 pads
    assert lines["conv2_Conv"][1]["G"] == "16" and lines["conv2_Conv"][1]["C"] == "16"
    assert lines["fc_Gemm"][0] == "FC"
    assert (lines["fc_Gemm"][1]["M"], lines["fc_Gemm"][1]["N"]) == ("1", "10")
    assert any("padding 1,1,1,1" in n for n in result.notes)


def test_stonne_sigma_and_tpu(exported):
    sigma = stonne_lines(exported("stonne", "sigma-64"))
    op, p = sigma["fc_Gemm"]
    assert op == "SparseGEMM" and p["dataflow"] == "MK_STA_KN_STR"
    assert (p["M"], p["N"], p["K"]) == ("10", "1", "512")  # stationary rows = output channels
    op, p = sigma["conv1_Conv"]
    assert (p["M"], p["N"], p["K"]) == ("16", "64", "27")  # im2col
    assert p["num_ms"] == p["dn_bw"] == p["rn_bw"] == "64"
    tpu = exported("stonne", "tpu-like", TILED)
    lines = stonne_lines(tpu)
    op, p = lines["conv1_Conv"]
    assert op == "DenseGEMM" and p["mn_type"] == "OS_MESH" and p["mem_ctrl"] == "TPU_OS_DENSE"
    assert (p["M"], p["N"], p["K"], p["T_M"], p["T_N"]) == ("64", "16", "27", "32", "16")
    assert (p["ms_rows"], p["ms_cols"]) == ("32", "32")
    notes = "\n".join(tpu.notes)
    assert "output-stationary" in notes and "buffer tiles" in notes


def test_stonne_tile_names_shared_with_the_validation():
    from bench.validation.stonne_compare import read_rows, spatial_option

    rows = read_rows()
    conv = next(r for r in rows if r.kind == "conv")
    fc = next(r for r in rows if r.kind == "fc")
    assert spatial_option(conv).split()[0].startswith("T_R=")
    assert [w.split("=")[0] for w in spatial_option(fc).split()] == list(stonne_export.FC_TILES)


# --- ZigZag --------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["tpu-like", "maeri-64"])
def test_zigzag_factors_multiply_to_the_loop_sizes(exported, target):
    result = exported("zigzag", target, TILED if target == "tpu-like" else None)
    folder = result.folder
    assert [f.name for f in result.files] == [
        "workload.yaml",
        "mapping.yaml",
        "accelerator.yaml",
        "run_zigzag.py",
    ]
    workload = yaml.safe_load((folder / "workload.yaml").read_text())
    mapping = {m["name"]: m for m in yaml.safe_load((folder / "mapping.yaml").read_text())}
    accel = yaml.safe_load((folder / "accelerator.yaml").read_text())
    sizes = accel["operational_array"]["sizes"]
    assert "default" in mapping
    for entry, layer in zip(workload, result.layers, strict=True):
        zz = zigzag_export.names(layer.shape.kind)
        m = mapping[entry["name"]]
        loop = dict(zip(entry["loop_dims"], entry["loop_sizes"], strict=True))
        for d, extent in layer.shape.dims.items():
            if zz[d] not in loop:
                continue
            assert loop[zz[d]] == extent
            spatial = [
                int(s.split(",")[1])
                for axis in m["spatial_mapping"].values()
                for s in axis
                if s.split(",")[0] == zz[d]
            ]
            temporal = [f for dim, f in m["temporal_ordering"] if dim == zz[d]]
            assert math.prod(spatial + temporal) == extent, (entry["name"], d)
        for i, axis in enumerate(sorted(m["spatial_mapping"])):
            used = math.prod(int(s.split(",")[1]) for s in m["spatial_mapping"][axis])
            assert used <= sizes[i]
    if target == "tpu-like":
        conv1 = mapping["conv1_Conv"]
        assert conv1["temporal_ordering"][-2:] == [["OY", 2], ["K", 2]]  # the tile loops
        assert conv1["spatial_mapping"]["D1"] == ["K, 8"]
        assert sizes == [32, 32]
        assert workload[0]["dimension_relations"] == ["iy=2*oy+1*fy", "ix=2*ox+1*fx"]
        assert workload[0]["padding"] == [[1, 1], [1, 1]]
    else:
        assert sizes == [64]
    assert result.notes


def _zigzag_python() -> str | None:
    """ZIGZAG_PYTHON, else this Python when zigzag-dse is installed (the peers extra)."""
    import importlib.util
    import sys

    given = os.environ.get("ZIGZAG_PYTHON")
    return given or (sys.executable if importlib.util.find_spec("zigzag") else None)


@pytest.mark.skipif(
    _zigzag_python() is None,
    reason="zigzag-dse not installed: pip install -e '.[dev,peers]' (or set ZIGZAG_PYTHON)",
)
def test_zigzag_runs_the_exported_files(exported):
    result = exported("zigzag", "tpu-like", TILED)
    run = subprocess.run(
        [_zigzag_python(), str(result.folder / "run_zigzag.py")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    for stem in STEMS:
        assert re.search(rf"^{stem}: latency \d+ cycles", run.stdout, re.M), run.stdout


# --- the CLI -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["maestro", "timeloop", "zigzag"])
def test_cli_refuses_sigma_for_dense_formats(capsys, model_path, tmp_path, fmt):
    out_dir = tmp_path / "out"
    argv = ["export", str(model_path), "--target", "sigma-64", "--format", fmt, "-o", str(out_dir)]
    code = main(argv)
    _, err = capsys.readouterr()
    assert code == 2, err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "sigma" in lines[0] and "stonne" in lines[0]
    assert "Traceback" not in err
    assert not out_dir.exists()


def test_cli_writes_stonne_and_prints_notes(capsys, model_path, tmp_path):
    out_dir = tmp_path / "out"
    argv = ["export", str(model_path), "--target", "maeri-64", "--format", "stonne"]
    code = main([*argv, "-o", str(out_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "run_stonne.sh" in out and "note: /conv1/Conv: padding" in out
    code = main([*argv, "-o", str(out_dir)])  # the file exists: refused, nothing changed
    _, err = capsys.readouterr()
    assert code == 2 and err.startswith("error: ") and "--overwrite" in err


def test_an_input_is_never_written_even_with_overwrite(capsys, model_path, tmp_path):
    import shutil

    model = tmp_path / "run_stonne.sh"  # a model named like the file the export writes
    shutil.copy(model_path, model)
    before = model.read_bytes()
    argv = ["export", str(model), "--target", "maeri-64", "--format", "stonne", "-o"]
    code = main([*argv, str(tmp_path), "--overwrite"])
    _, err = capsys.readouterr()
    assert code == 2 and "is an input of the export" in err
    assert model.read_bytes() == before


@pytest.mark.parametrize("target", ["tpu-like", "maeri-64"])
def test_a_compiled_program_and_its_ir_stages_export_its_mappings(model_path, tmp_path, target):
    """A program folder or a `.mlir` stage exports the mappings it was compiled with: the same
    layers, tiles, spatial unroll and dataflow as the model on the same target (the loop
    order may differ in the place of dims of one trip, which `accel-tile` moves)."""
    compiled = tmp_path / "compiled"
    assert main(["compile", str(model_path), "--target", target, "-o", str(compiled)]) == 0
    sources = [model_path, compiled, compiled / "3-accel-map.mlir", compiled / "4-accel-tile.mlir"]
    results = [export(s, None if s != model_path else target, "stonne", tmp_path / str(i))
               for i, s in enumerate(sources)]  # fmt: skip
    assert {r.target for r in results} == {target}

    def summary(result):
        return [
            (layer.names, layer.shape.signature, layer.mapping.dataflow, layer.mapping.tiles,
             layer.mapping.spatial)
            for layer in result.layers
        ]  # fmt: skip

    assert all(summary(r) == summary(results[0]) for r in results[1:])
    assert [p.read_text() for p in sorted((tmp_path / "1").iterdir())] == [
        p.read_text() for p in sorted((tmp_path / "0").iterdir())
    ]


def test_cli_exports_a_program_folder_on_its_own_family_only(capsys, model_path, tmp_path):
    compiled = tmp_path / "compiled"
    assert main(["compile", str(model_path), "-o", str(compiled)]) == 0
    capsys.readouterr()
    out_dir = tmp_path / "out"
    assert main(["export", str(compiled), "--format", "scalesim", "-o", str(out_dir)]) == 0
    out, _ = capsys.readouterr()
    assert "on tpu-like as scalesim" in out
    argv = ["export", str(compiled), "--format", "stonne", "-t", "maeri-64", "-o", str(out_dir)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "maeri-64 is a maeri target" in err and err.count("error:") == 1
