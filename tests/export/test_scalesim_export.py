"""`accelflow export --format scalesim` (accelflow/export/scalesim.py).

Without SCALE-Sim: the files and their contents, the notes (stdout, `#` lines of the .cfg,
README.txt), one file set per dataflow, the manifest's compute cycles equal to our simulator's
for a tiled mapping, and the refusals (non-systolic target, existing files, `-o` a file), each one
`error:` line with exit code 2.

With SCALE-Sim (skipped when it is not importable, as in tests/validation/test_scalesim.py): a
small model (a strided padded conv, a grouped conv, a dilated conv, a Gemm) on an 8x16 array, per
dataflow ws / os / is, run through SCALE-Sim from the exported files:
(a) big buffers, every layer untiled: each topology row's Total - Stall + 1 (x groups) equals our
    layer's compute cycles;
(b) 2 KiB buffers and ragged tiles (a mapping database): the tiles topology's
    sum(count x (Total - Stall + 1)) equals our layer's compute cycles of that tiled mapping.
Exact equality, never a tolerance. One SCALE-Sim subprocess per export, ~1-2 s each.
"""

from __future__ import annotations

import configparser
import json
from pathlib import Path

import onnx
import pytest

import accelflow
from accelflow.cli import main
from accelflow.export import ExportError, export
from accelflow.export.scalesim import (
    MANIFEST,
    _row_name,
    default_python,
    run_export,
    topology_names,
)
from accelflow.models import GraphBuilder

DATAFLOWS = ("ws", "os", "is")
NEXT_DATAFLOW = {"ws": "os", "os": "is", "is": "ws"}
ARRAY = ["rows=8", "cols=16"]
BIG = ["ifmap_sram_kib=4096", "filter_sram_kib=4096", "ofmap_sram_kib=4096"]
SMALL = ["ifmap_sram_kib=2", "filter_sram_kib=2", "ofmap_sram_kib=2"]
LAYERS = ("/conv1/Conv", "/conv2/Conv", "/conv3/Conv", "/fc/Gemm")
FILES = ("scale.cfg", "topology.csv", "tiles.csv", "layout.csv", MANIFEST, "README.txt")
NOT_INSTALLED = "SCALE-Sim not installed: pip install -e '.[dev,peers]'"


def small_model() -> onnx.ModelProto:
    b = GraphBuilder("export_small", seed=0)
    x = b.conv("input", "/conv1", "conv1", 3, 12, 3, stride=2, pads=1)  # 15x15 (17 padded) -> 8x8
    x = b.relu(x, "/relu1")
    x = b.conv(x, "/conv2", "conv2", 12, 20, 3, pads=[1, 0, 1, 0], group=2)  # -> 8x6, 2 groups
    x = b.conv(x, "/conv3", "conv3", 20, 16, 3, pads=2, dilation=2)  # -> 8x6, dilation 2
    x = b.flatten(x, "/flatten")
    x = b.gemm(x, "/fc", "fc", 16 * 8 * 6, 10)
    return b.model("input", [1, 3, 15, 15], x, [1, 10])


def ragged_mappings(dataflow: str) -> dict[str, dict]:
    """Tiles that do not divide the extents (edge tiles along k, c, y; along k for the Gemm),
    the Gemm on another dataflow than the convs (two file sets)."""
    return {
        "/conv1/Conv": {
            "dataflow": dataflow,
            "tiles": {"n": 1, "g": 1, "k": 5, "c": 2, "y": 3, "x": 8, "r": 3, "s": 3},
            "order": ["k", "c", "y", "n", "g", "x", "r", "s"],
        },
        "/fc/Gemm": {
            "dataflow": NEXT_DATAFLOW[dataflow],
            "tiles": {"g": 1, "m": 1, "n": 10, "k": 100},
            "order": ["n", "k", "g", "m"],
        },
    }


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "small.onnx"
    onnx.save(small_model(), str(path))
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


def ours(model, overrides: list[str], mappings=None) -> dict[str, int]:
    """Our compute cycles per accelerator layer."""
    result = accelflow.compile(model, "tpu-like", overrides, mappings=mappings)
    stats = accelflow.simulate(result.program, result.target).stats
    return {layer.name: int(layer.compute_cycles) for layer in stats.layers if layer.on_accel}


# ---- without SCALE-Sim ----------------------------------------------------------------------


def test_cli_writes_the_files_and_says_the_notes(capsys, model_path, tmp_path):
    out_dir = tmp_path / "out"
    code, out, err = run(
        capsys, "export", model_path, "--target", "tpu-like",
        *(f"--set={s}" for s in [*ARRAY, "dataflow=os"]),
        "--format", "scalesim", "-o", out_dir,
    )  # fmt: skip
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(FILES)
    notes = [line[len("note: ") :] for line in out.splitlines() if line.startswith("note: ")]
    assert any("no buffer tiles, loop order or double buffering" in n for n in notes)
    assert any(n.startswith("/conv2/Conv: 2 groups") for n in notes)
    assert any(n.startswith("/conv3/Conv: SCALE-Sim has no dilation") for n in notes)
    assert not any(n.startswith(("/conv1/", "/fc/")) for n in notes)

    cfg_text = (out_dir / "scale.cfg").read_text()
    for note in notes:  # repeated as comments in the .cfg and in the README
        assert f"# note: {note}\n" in cfg_text
        assert note in (out_dir / "README.txt").read_text()
    cfg = configparser.ConfigParser()
    cfg.read(out_dir / "scale.cfg")  # the comments parse (SCALE-Sim reads it the same way)
    arch = cfg["architecture_presets"]
    assert (arch["ArrayHeight"], arch["ArrayWidth"], arch["Dataflow"]) == ("8", "16", "os")
    assert arch["IfmapSramSzkB"] == arch["FilterSramSzkB"] == arch["OfmapSramSzkB"] == "256"
    assert cfg["run_presets"]["InterfaceBandwidth"] == "CALC"
    assert not cfg.has_section("network_presets")

    topology = (out_dir / "topology.csv").read_text().splitlines()
    assert topology[1:] == [
        "conv1_Conv,17,17,3,3,3,12,2,",  # padding folded into the ifmap
        "conv2_Conv,10,8,3,3,6,10,1,",  # one of 2 groups; asymmetric padding 1,0,1,0
        "conv3_Conv,8,6,1,1,180,16,1,",  # dilated: its GEMM (M 48, N 16, K 180) as a 1x1 conv
        "fc_Gemm,1,1,1,1,768,10,1,",  # fully connected: a 1x1 conv over a 1x1 ifmap
    ]
    manifest = json.loads((out_dir / MANIFEST).read_text())
    assert [layer["name"] for layer in manifest["layers"]] == list(LAYERS)
    assert [layer["repeat"] for layer in manifest["layers"]] == [1, 2, 1, 1]
    for layer in manifest["layers"]:  # untiled with 256 KiB buffers: one tile row, count 1 x g
        assert [t["count"] for t in layer["tiles"]] == [layer["repeat"]]
        assert layer["compute_cycles"] == layer["untiled_compute_cycles"]


def test_manifest_cycles_equal_ours_for_a_tiled_mapping(tmp_path):
    overrides = [*ARRAY, "dataflow=is", *SMALL]
    maps = ragged_mappings("is")
    result = export(small_model(), "tpu-like", "scalesim", tmp_path, maps, overrides=overrides)
    assert {f.name for f in result.files} == {
        "scale_is.cfg", "topology_is.csv", "tiles_is.csv",
        "scale_ws.cfg", "topology_ws.csv", "tiles_ws.csv",
        "layout.csv", MANIFEST, "README.txt",
    }  # fmt: skip
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    mine = ours(small_model(), overrides, maps)
    by_name = {layer["name"]: layer for layer in manifest["layers"]}
    assert {name: layer["compute_cycles"] for name, layer in by_name.items()} == mine
    conv1 = by_name["/conv1/Conv"]
    assert len(conv1["tiles"]) == 8  # edge tiles along k, c and y: 2^3 GEMMs
    assert sum(t["count"] for t in conv1["tiles"]) == 3 * 2 * 3  # k 12/5, c 3/2, y 8/3
    for run_ in manifest["runs"]:
        df = run_["dataflow"]
        cfg = configparser.ConfigParser()
        cfg.read(tmp_path / run_["config"])
        assert cfg["architecture_presets"]["Dataflow"] == df
        assert cfg["architecture_presets"]["IfmapSramSzkB"] == "2"
        rows = [layer["topology_row"] for layer in manifest["layers"] if layer["dataflow"] == df]
        assert topology_names(tmp_path / run_["topology"]) == rows
        of_df = [layer for layer in manifest["layers"] if layer["dataflow"] == df]
        tiles = [tile["row"] for layer in of_df for tile in layer["tiles"]]
        assert topology_names(tmp_path / run_["tiles"]) == tiles
    assert by_name["/fc/Gemm"]["dataflow"] == "ws"


def test_row_names_avoid_what_scalesim_misreads():
    taken: set[str] = set()
    # 'DP' in a name makes SCALE-Sim split the row into depthwise layers; commas split fields.
    assert _row_name("block_DP,1", taken) == "block_Dp_1"
    assert _row_name("block_DP,1", taken) == "block_Dp_1_2"


def test_non_systolic_target_refused(capsys, model_path, tmp_path):
    out_dir = tmp_path / "out"
    code, _, err = run(
        capsys, "export", model_path, "--target", "maeri-64", "--format", "scalesim", "-o", out_dir
    )
    assert_one_line_error(code, err, "maeri-64", "systolic")
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_existing_files_refused_without_overwrite(capsys, model_path, tmp_path):
    argv = ["export", model_path, "--target", "tpu-like", "--format", "scalesim", "-o", tmp_path]
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    (tmp_path / "tiles.csv").unlink()  # one missing, the rest there: still nothing written
    (tmp_path / "scale.cfg").write_text("mine\n")
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err, "exists", "--overwrite")
    assert (tmp_path / "scale.cfg").read_text() == "mine\n"
    assert not (tmp_path / "tiles.csv").exists()
    code, _, err = run(capsys, *argv, "--overwrite")
    assert code == 0, err
    assert (tmp_path / "scale.cfg").read_text().startswith("# accelflow export")
    assert (tmp_path / "tiles.csv").exists()


def test_output_that_is_a_file_refused(capsys, model_path, tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("keep\n")
    code, _, err = run(
        capsys, "export", model_path, "--target", "tpu-like", "--format", "scalesim", "-o", target
    )
    assert_one_line_error(code, err, "not a folder")
    assert target.read_text() == "keep\n"


def test_writer_refuses_non_systolic_target_directly(tmp_path):
    from accelflow.export.scalesim import write
    from simulator.target import load_target

    with pytest.raises(ExportError, match="systolic"):
        write([], load_target("sigma-64"), tmp_path)


# ---- with SCALE-Sim -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scalesim_python() -> str:
    python = default_python()
    if python is None:
        pytest.skip(NOT_INSTALLED)
    return python


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_untiled_topology_equals_our_compute_cycles(dataflow, scalesim_python, tmp_path):
    overrides = [*ARRAY, f"dataflow={dataflow}", *BIG]
    result = export(small_model(), "tpu-like", "scalesim", tmp_path, overrides=overrides)
    for layer in result.layers:  # untiled: one buffer tile per layer
        assert layer.mapping.tiles == layer.shape.dims, layer.name
    theirs = run_export(tmp_path, scalesim_python, which=("topology",))
    mine = ours(small_model(), overrides)
    assert set(theirs) == set(mine) == set(LAYERS)
    for name, cycles in theirs.items():
        assert cycles.dataflow == dataflow
        assert cycles.untiled == mine[name] == cycles.expected_untiled, (name, cycles)
        assert cycles.untiled_stalls == 0, name


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_tiles_topology_equals_our_tiled_compute_cycles(dataflow, scalesim_python, tmp_path):
    overrides = [*ARRAY, f"dataflow={dataflow}", *SMALL]
    maps = ragged_mappings(dataflow)
    result = export(small_model(), "tpu-like", "scalesim", tmp_path, maps, overrides=overrides)
    tiled = [layer.name for layer in result.layers if layer.mapping.tiles != layer.shape.dims]
    assert {"/conv1/Conv", "/fc/Gemm"} <= set(tiled)
    theirs = run_export(tmp_path, scalesim_python, which=("tiles",))
    mine = ours(small_model(), overrides, maps)
    assert set(theirs) == set(mine) == set(LAYERS)
    for name, cycles in theirs.items():
        assert cycles.tiled == mine[name] == cycles.expected_tiled, (name, cycles)
        assert cycles.tiled_stalls == 0, name
    assert theirs["/fc/Gemm"].dataflow == NEXT_DATAFLOW[dataflow]
