from __future__ import annotations

from pathlib import Path

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


def test_yaml_base_chain_of_files(tmp_path):
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "small.yaml").write_text(
        "base: tpu-like-small\nname: small\nrows: 16\ncols: 16\n"
    )
    (tmp_path / "common" / "os.yaml").write_text("base: small.yaml\ndataflow: os\ncols: 4\n")
    (tmp_path / "mine.yaml").write_text("base: common/os.yaml\ncols: 2\n")
    target = load_target(tmp_path / "mine.yaml", ["ofmap_sram_kib=8"])
    # Nearest file wins; paths are relative to the file naming the base; the name is the file's.
    assert (target.name, target.rows, target.cols, target.dataflow) == ("mine", 16, 2, "os")
    assert target.filter_sram_kib == PRESETS["tpu-like-small"]["filter_sram_kib"]
    assert target.ofmap_sram_kib == 8
    assert load_target(tmp_path / "common" / "small.yaml").name == "small"
    assert load_target(tmp_path / "common" / "os.yaml").name == "os"


def test_yaml_base_absolute_path(tmp_path):
    (tmp_path / "a").mkdir()
    base = tmp_path / "a" / "base.yaml"
    base.write_text("arch: maeri\nnum_multipliers: 64\ndn_bw_elems_per_cycle: 8\n")
    path = tmp_path / "mine.yaml"
    path.write_text(f"base: {base}\nrn_bw_elems_per_cycle: 4\n")
    target = load_target(path)
    assert (target.arch, target.num_pes, target.rn_bw_elems_per_cycle) == ("maeri", 64, 4)


@pytest.mark.parametrize(
    "files, start, message",
    [
        ({"a.yaml": "base: a.yaml\n"}, "a.yaml", r"cycle: .*a\.yaml -> .*a\.yaml$"),
        (
            {
                "a.yaml": "base: b.yaml\nrows: 4\n",
                "b.yaml": "base: sub/c.yaml\n",
                "sub/c.yaml": "base: ../a.yaml\n",
            },
            "a.yaml",
            r"cycle: .*a\.yaml -> .*b\.yaml -> .*c\.yaml -> .*a\.yaml$",
        ),
        (
            {"top.yaml": "base: a.yaml\n", "a.yaml": "base: b.yaml\n", "b.yaml": "base: a.yaml\n"},
            "top.yaml",
            r"target file .*a\.yaml: its base chain is a cycle: .*a\.yaml -> .*b\.yaml -> .*a\.yaml$",
        ),
    ],
)
def test_yaml_base_cycle_is_an_error(tmp_path, files, start, message):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    with pytest.raises(TargetError, match=message):
        load_target(tmp_path / start)


@pytest.mark.parametrize(
    "files, message",
    [
        (
            {"mine.yaml": "base: missing.yaml\n"},
            r"unknown base preset 'missing\.yaml' .* no target file .*missing\.yaml",
        ),
        (
            {"mine.yaml": "base: b.yaml\n", "b.yaml": "rowz: 3\n"},
            r"target file .*b\.yaml: unknown target field 'rowz'",
        ),
        ({"mine.yaml": "base: b.yaml\n", "b.yaml": "[1, 2]\n"}, r"b\.yaml must hold a mapping"),
        ({"mine.yaml": "base: b.yaml\n", "b.yaml": "rows: [\n"}, r"b\.yaml is not valid YAML"),
        ({"mine.yaml": "base: b.yaml\n", "b.yaml": "rows: 0\n"}, "invalid target field 'rows' = 0"),
    ],
)
def test_yaml_base_errors_name_the_file(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(TargetError, match=message):
        load_target(tmp_path / "mine.yaml")


def test_example_target_files_load():
    targets = Path(__file__).parents[2] / "examples" / "targets"
    os16 = load_target(targets / "tpu-16x16-os.yaml")
    slow = load_target(targets / "tpu-16x16-os-slow-dram.yaml")
    assert (os16.name, os16.rows, os16.dataflow) == ("tpu-16x16-os", 16, "os")
    assert (
        slow.replace(name=os16.name, dram_bw_bytes_per_cycle=os16.dram_bw_bytes_per_cycle) == os16
    )


def _other_value(value):
    """A different legal value of a field: a bool flipped, a density halved, a number doubled."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, float) and value <= 1:
        return value / 2
    return value * 2 + (1 if isinstance(value, float) else 0)


@pytest.mark.parametrize(
    "preset, overrides",
    [
        ("tpu-like-small", []),
        ("maeri-64", ["accumulation_buffer=false"]),
        ("sigma-64", []),
        ("maeri-64", ["energy_model=stonne"]),
        ("sigma-64", ["energy_model=stonne", "sparse_activations=true"]),
    ],
)
def test_unread_fields_change_nothing(preset, overrides):
    """Every field a target says it never reads (`Target.unread_reason`: its family's
    `unread_fields`, the energy table under STONNE's energy) leaves the compiled program, the
    simulated statistics and the cost model's statistics as they are."""
    import numpy as np

    import accelflow
    from accelflow import models
    from simulator.workload import conv2d_shape
    from tests.tuner.test_cost_model import random_batch
    from tuner.cost_model import evaluate

    base = load_target(preset, overrides)
    unread = [f for f in base.to_dict() if base.unread_reason(f)]
    assert unread  # every built-in family ignores some other family's fields
    model = models.lenet()
    shape = conv2d_shape((1, 6, 9, 9), (8, 6, 3, 3), (1, 1), (1, 1, 1, 1), has_bias=True)
    candidates = random_batch(shape, base, 40, np.random.default_rng(0))

    def figures(target):
        program = accelflow.compile(model, target=target).program
        stats = accelflow.simulate(program, target).stats.to_dict()
        stats.pop("target")
        scored = evaluate(shape, target, candidates)
        return program.instrs.tobytes(), stats, {k: v.tolist() for k, v in scored.items()}

    expected = figures(base)
    for field in unread:
        changed = base.replace(**{field: _other_value(getattr(base, field))})
        assert changed.to_dict()[field] != base.to_dict()[field]
        assert figures(changed) == expected, field


def test_overriding_an_unread_field_warns(recwarn):
    load_target("maeri-64", ["num_multipliers=32", "energy_model=stonne"])
    assert not recwarn.list
    with pytest.warns(UserWarning, match="a maeri target does not read rows"):
        load_target("maeri-64", ["rows=8"])
    with pytest.warns(UserWarning, match="STONNE's own table, not mac_energy_pj"):
        load_target("sigma-64", ["energy_model=stonne", "mac_energy_pj=1"])
    load_target("tpu-like", ["num_multipliers=8"], warn_unread=False)
    assert not [w for w in recwarn.list if "num_multipliers" in str(w.message)]


def test_a_target_file_field_that_is_never_read_warns_naming_the_file(tmp_path):
    """The file that wrote the field is named (the nearest of a base chain, as for values)."""
    (tmp_path / "base.yaml").write_text("base: maeri-64\nrows: 16\nnum_multipliers: 32\n")
    (tmp_path / "top.yaml").write_text("base: base.yaml\nrows: 8\ndn_bw_elems_per_cycle: 4\n")
    with pytest.warns(UserWarning) as caught:
        target = load_target(tmp_path / "top.yaml")
    assert (target.rows, target.num_multipliers) == (8, 32)
    messages = [str(w.message) for w in caught]
    assert messages == [f"{tmp_path / 'top.yaml'}: rows changes nothing: a maeri target does not "
                        "read rows"]  # fmt: skip
