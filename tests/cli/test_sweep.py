"""`accelflow sweep` and `accelflow.simulate_many`: many designs at once."""

from __future__ import annotations

import csv
import json

import onnx
import pytest

import accelflow
from accelflow import models
from accelflow.cli import main
from accelflow.sweep import SweepPoint, _pareto, sweep
from simulator.errors import AccelflowError
from simulator.target import load_target


@pytest.fixture(scope="module")
def lenet_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "lenet.onnx"
    onnx.save(models.lenet(), str(path))
    return path


def _figures(stats):
    return (stats.total.cycles, stats.total.dram_read_bytes, stats.total.energy_pj)


def test_simulate_many_equals_one_by_one():
    """One program on three memory systems, and programs for three families in one call."""
    program = accelflow.compile(models.lenet(), target="tpu-like").program
    targets = [load_target("tpu-like", [f"dram_bw_bytes_per_cycle={bw}"]) for bw in (4, 16, 64)]
    many = accelflow.simulate_many(program, targets)
    one = [accelflow.simulate(program, t).stats for t in targets]
    assert [_figures(s) for s in many] == [_figures(s) for s in one]
    assert len({s.total.cycles for s in many}) == 3  # the bandwidth matters here
    full = accelflow.simulate_many(program, targets, fast_forward=False)  # the vmap'd scan
    assert [s.to_dict()["layers"] for s in full] == [s.to_dict()["layers"] for s in many]
    names = ["tpu-like-small", "maeri-64", "sigma-64"]
    programs = [accelflow.compile(models.lenet(), target=n).program for n in names]
    many = accelflow.simulate_many(programs)  # each program on its own target
    one = [accelflow.simulate(p).stats for p in programs]
    assert [_figures(s) for s in many] == [_figures(s) for s in one]
    assert [s.target_name for s in many] == names
    assert [_figures(s) for s in accelflow.simulate_many(programs, names)] == [
        _figures(s) for s in one
    ]
    with pytest.raises(AccelflowError, match="3 programs and 2 targets"):
        accelflow.simulate_many(programs, names[:2])


def test_sweep_points_are_the_single_runs():
    model = models.lenet()
    points = sweep(model, "tpu-like", {"rows": [8, 16], "dataflow": ["ws", "os"]})
    assert [p.fields for p in points] == [
        {"rows": "8", "dataflow": "ws"}, {"rows": "8", "dataflow": "os"},
        {"rows": "16", "dataflow": "ws"}, {"rows": "16", "dataflow": "os"},
    ]  # fmt: skip
    for p in points:
        overrides = [f"{k}={v}" for k, v in p.fields.items()]
        compiled = accelflow.compile(model, target="tpu-like", overrides=overrides)
        stats = accelflow.simulate(compiled.program).stats
        assert p.cycles == stats.total.cycles
        assert p.energy_uj == pytest.approx(stats.total.total_energy_pj / 1e6)


def test_pareto_front():
    def point(cycles, energy):
        return SweepPoint({}, "t", cycles, 0.0, energy, 0.0, 0)

    points = [point(10, 5.0), point(20, 4.0), point(20, 6.0), point(30, 4.0), point(5, 9.0)]
    _pareto(points)
    assert [p.pareto for p in points] == [True, True, False, False, True]


def test_cli_writes_csv_json_and_a_plot(lenet_path, tmp_path, capsys):
    out, plot = tmp_path / "s.csv", tmp_path / "s.png"
    argv = [lenet_path, "--grid", "rows=8,16", "--grid", "cols=8", "-o", out, "--plot", plot]
    assert main(["sweep", *map(str, argv)]) == 0
    text = capsys.readouterr().out
    assert "2 points" in text and "pareto" in text
    rows = list(csv.DictReader(out.open()))
    assert [r["rows"] for r in rows] == ["8", "16"] and all(int(r["cycles"]) > 0 for r in rows)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["sweep", str(lenet_path), "--grid", "rows=8", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["rows"] == "8" and row["pareto"] is True


@pytest.mark.parametrize(
    "argv",
    [
        ["MODEL", "--grid", "rows=8,16", "cols=8", "--json"],  # the fields after one --grid
        ["--grid", "rows=8,16", "cols=8", "MODEL", "--json"],  # ... and the model after them
        ["--json", "--grid", "rows=8,16", "--grid", "cols=8", "MODEL"],
    ],
)
def test_cli_grid_forms(lenet_path, capsys, argv):
    assert main(["sweep", *(str(lenet_path) if a == "MODEL" else a for a in argv)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted((r["rows"], r["cols"]) for r in rows) == [("16", "8"), ("8", "8")]


def test_cli_sweep_without_a_model_is_one_line(capsys):
    assert main(["sweep", "--grid", "rows=8"]) == 2
    err = capsys.readouterr().err
    assert "give the ONNX model file" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "extra, needle",
    [
        ([], "at least one --grid"),
        (["--grid", "rows"], "expected FIELD=V1,V2"),
        (["--grid", "rows=8", "--grid", "rows=16"], "names 'rows' twice"),
        (["--grid", "nonsense=1"], "nonsense"),
        (["--grid", "rows=0"], "the grid point rows=0: invalid target field"),
        (  # a point the target refuses is named, with what to change
            ["--target", "sigma-128", "--grid", "num_multipliers=32,64"],
            "the grid point num_multipliers=32: invalid target field dn_bw_elems_per_cycle=128",
        ),
        (["--target", "maeri-64", "--grid", "rows=8,16"], "a maeri target does not read rows"),
        (
            ["--target", "sigma-64", "--set", "energy_model=stonne", "--grid", "mac_energy_pj=1,2"],
            "STONNE's own table, not mac_energy_pj",
        ),
        (["--grid", "rows=8", "-o", "points.xlsx"], "CSV or JSON (a .csv or .json file)"),
        (["--grid", "rows=8", "--plot", "plot.txt"], "give an image file: .png, .svg or .pdf"),
    ],
)
def test_cli_bad_grid_is_one_line(lenet_path, capsys, extra, needle):
    code = main(["sweep", str(lenet_path), *extra])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and needle in err, err
    assert len([line for line in err.splitlines() if line.strip()]) == 1


def test_cli_never_writes_over_the_model(lenet_path, capsys):
    before = lenet_path.read_bytes()
    code = main(["sweep", str(lenet_path), "--grid", "rows=8", "-o", str(lenet_path)])
    assert code == 2 and "refusing to overwrite" in capsys.readouterr().err
    assert lenet_path.read_bytes() == before
