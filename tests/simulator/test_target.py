from __future__ import annotations

import pytest

from simulator.target import PRESETS, Target, TargetError, load_target


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_load(name):
    target = load_target(name)
    pes = target.num_multipliers if target.arch in ("maeri", "sigma") else target.rows * target.cols
    assert target.name == name and target.num_pes == pes


@pytest.mark.parametrize("count", [16, 64, 128, 256])
def test_maeri_presets_by_name(count):
    target = load_target(f"maeri-{count}", ["rn_bw_elems_per_cycle=2"])
    assert (target.arch, target.num_pes, target.global_buffer) == ("maeri", count, "shared")
    assert target.dn_bw_elems_per_cycle == count // 8 and target.rn_bw_elems_per_cycle == 2
    assert target.accumulation_buffer


def test_yaml_with_maeri_base(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("base: maeri-256\naccumulation_buffer: false\n")
    target = load_target(path)
    assert (target.name, target.num_pes, target.accumulation_buffer) == ("mine", 256, False)


@pytest.mark.parametrize(
    "spec, overrides, message",
    [
        ("maeri-48", [], "maeri-N needs N a power of two"),
        ("maeri-64", ["num_multipliers=48"], "num_multipliers=48 must be a power of two"),
        ("maeri-64", ["dn_bw_elems_per_cycle=3"], "dn_bw_elems_per_cycle=3 must be a power of two"),
        ("maeri-64", ["dn_bw_elems_per_cycle=128"], "exceeds num_multipliers=64"),
        ("maeri-64", ["rn_bw_elems_per_cycle=0"], "invalid target field 'rn_bw_elems_per_cycle'"),
    ],
)
def test_maeri_validation(spec, overrides, message):
    with pytest.raises(TargetError, match=message):
        load_target(spec, overrides)


def test_overrides_parse_values():
    target = load_target(
        "tpu-like",
        ["rows=8", "cols=4", "dataflow=os", "dram-bw-bytes-per-cycle=8.5", "double_buffer=false"],
    )
    assert (target.rows, target.cols, target.dataflow) == (8, 4, "os")
    assert target.dram_bw_bytes_per_cycle == 8.5 and target.double_buffer is False


def test_yaml_with_base(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("base: tpu-like-small\nrows: 12\n")
    target = load_target(path, ["cols=3"])
    assert (target.name, target.rows, target.cols) == ("mine", 12, 3)
    assert target.ifmap_sram_kib == PRESETS["tpu-like-small"]["ifmap_sram_kib"]


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["rows=0"], "invalid target field 'rows' = 0"),
        (["dataflow=xy"], "invalid target field 'dataflow' = 'xy'"),
        (["ifmap_sram_kib=-1"], "invalid target field 'ifmap_sram_kib'"),
        (["colz=3"], "unknown target field 'colz'"),
        (["rows"], "--set expects FIELD=VALUE"),
    ],
)
def test_bad_fields_are_named(overrides, message):
    with pytest.raises(TargetError, match=message.replace("(", r"\(")):
        load_target("tpu-like", overrides)


def test_bad_yaml(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(TargetError, match="mapping of field"):
        load_target(path)
    path.write_text("base: nope\n")
    with pytest.raises(TargetError, match="unknown base preset 'nope'"):
        load_target(path)


def test_unknown_preset():
    with pytest.raises(TargetError, match="unknown target 'tpu-huge'"):
        load_target("tpu-huge")


def test_tunable_fields_and_round_trip():
    assert {"rows", "cols", "ifmap_sram_kib", "dram_bw_bytes_per_cycle"} <= set(
        Target.tunable_fields()
    )
    target = load_target("tpu-v1")
    assert load_target(target) == target
    assert target.replace(rows=4).rows == 4
    assert target.buffer_bytes("weight") == int(target.filter_sram_kib * 1024)
