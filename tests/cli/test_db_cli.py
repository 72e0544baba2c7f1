"""`accelflow db show|diff|merge`: readable and JSON output, the better entry wins a merge, and
no input is ever written over."""

from __future__ import annotations

import json

from accelflow.cli import main
from compiler import tiling
from simulator.target import load_target
from tuner.db import MappingDB

TARGET = load_target("tpu-like-small")
CONV = tiling.conv2d_shape((1, 6, 14, 14), (16, 6, 5, 5), has_bias=True)
FC = tiling.matmul_shape((1, 400), (400, 120), has_bias=True)
OS = tiling.default_mapping(CONV, TARGET, dataflow="os")
WS = tiling.default_mapping(CONV, TARGET, dataflow="ws")


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def two_databases(tmp_path):
    a, b = MappingDB(), MappingDB()
    a.put(CONV, TARGET, OS, cycles=100, default_cycles=300, layers=["/conv2/Conv"])
    a.put(FC, TARGET, tiling.default_mapping(FC, TARGET), cycles=50)
    b.put(CONV, TARGET, WS, cycles=80, energy_pj=1e6, layers=["/conv2/Conv"])
    b.put(CONV, TARGET, OS, "energy", cycles=120, energy_pj=5e5)
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    a.save(pa)
    b.save(pb)
    return pa, pb


def test_show(capsys, tmp_path):
    pa, _ = two_databases(tmp_path)
    code, out, err = run(capsys, "db", "show", pa)
    assert code == 0, err
    assert "/conv2/Conv" in out and "3.00x" in out and "latency" in out
    code, out, _ = run(capsys, "db", "show", pa, "--json")
    rows = json.loads(out)["entries"]
    conv = next(r for r in rows if r["kind"] == "conv2d")
    assert conv["dims"] == CONV.dims and conv["speedup"] == 3.0
    assert conv["target"] == "tpu-like-small" and conv["objective"] == "latency"


def test_diff(capsys, tmp_path):
    pa, pb = two_databases(tmp_path)
    code, out, _ = run(capsys, "db", "diff", pa, pb)
    assert code == 0
    assert "0 the same, 1 with different mappings, 1 only in" in out
    code, out, _ = run(capsys, "db", "diff", pa, pb, "--json")
    data = json.loads(out)
    assert len(data["only_in_a"]) == 1 and "matmul" in data["only_in_a"][0]
    assert len(data["only_in_b"]) == 1 and data["only_in_b"][0].endswith("[energy]")
    (changed,) = data["different"]
    assert changed["a"]["cycles"] == 100 and changed["b"]["cycles"] == 80


def test_merge_keeps_the_better_entry_and_never_writes_an_input(capsys, tmp_path):
    pa, pb = two_databases(tmp_path)
    before = pa.read_bytes(), pb.read_bytes()
    out_path = tmp_path / "c.json"
    code, out, err = run(capsys, "db", "merge", pa, pb, "-o", out_path)
    assert code == 0, err
    assert "3 entries" in out and "1 replaced by a better entry" in out
    merged = MappingDB.load(out_path)
    assert merged.lookup(CONV, TARGET) == WS  # 80 cycles beat 100
    assert merged.lookup(CONV, TARGET, "energy") == OS
    # the other order: the worse entry is left out
    code, out, _ = run(capsys, "db", "merge", pb, pa, "-o", tmp_path / "d.json")
    assert "1 worse entries left out" in out
    assert MappingDB.load(tmp_path / "d.json").lookup(CONV, TARGET) == WS
    # --overwrite: the later one wins
    run(capsys, "db", "merge", pb, pa, "-o", tmp_path / "e.json", "--overwrite")
    assert MappingDB.load(tmp_path / "e.json").lookup(CONV, TARGET) == OS
    # -o naming an input is refused before anything is written
    code, _, err = run(capsys, "db", "merge", pa, pb, "-o", pa)
    assert code == 2 and err.count("error:") == 1 and "refusing to overwrite" in err
    assert (pa.read_bytes(), pb.read_bytes()) == before


def test_bad_database_is_one_error_line(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    for argv in (("show", bad), ("diff", bad, bad), ("show", tmp_path), ("show", tmp_path / "x")):
        code, _, err = run(capsys, "db", *argv)
        assert code == 2 and err.startswith("error:") and err.count("\n") == 1, err
        assert "Traceback" not in err
