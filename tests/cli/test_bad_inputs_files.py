"""The bad-input corpus (issue 13): target YAML files and `--set` values, mapping databases and
tuning logs that are the wrong kind of file, not UTF-8, nested too deeply, of the wrong shape,
or hold numbers out of range. Each must be one `error:` line naming the file and the field,
exit 2, every file unchanged (harness: test_bad_inputs.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_bad_inputs import Case, deep_json, fifo, model_file, not_utf8, params, run_case

# -- targets ---------------------------------------------------------------------------------


def _target(content: str | bytes, command: str = "compile"):
    def build(d: Path) -> list[str]:
        path = d / "t.yaml"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return [command, str(model_file(d)), "--target", str(path)]

    return build


def _target_path(path_of):
    return lambda d: ["compile", str(model_file(d)), "--target", str(path_of(d))]


def _set(*items: str):
    def build(d: Path) -> list[str]:
        argv = ["compile", str(model_file(d))]
        for item in items:
            argv += ["--set", item]
        return argv

    return build


def _target_dir(d: Path) -> Path:
    (d / "t.yaml").mkdir()
    return d / "t.yaml"


def _base_cycle(d: Path) -> Path:
    (d / "a.yaml").write_text("base: b.yaml\n")
    (d / "b.yaml").write_text("base: a.yaml\n")
    return d / "a.yaml"


def _base_missing(d: Path) -> Path:
    (d / "a.yaml").write_text("base: nowhere.yaml\n")
    return d / "a.yaml"


def _base_not_utf8(d: Path) -> Path:
    not_utf8(d, "b.yaml")
    (d / "a.yaml").write_text("base: b.yaml\n")
    return d / "a.yaml"


def _base_directory(d: Path) -> Path:
    (d / "b.yaml").mkdir()
    (d / "a.yaml").write_text("base: b.yaml\n")
    return d / "a.yaml"


_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}]\n"
    for i in range(8)
)


def _target_cases() -> list[Case]:
    return [
        Case("target-directory", _target_path(_target_dir), ("t.yaml",)),
        Case("target-fifo", _target_path(lambda d: fifo(d, "t.yaml")), ("t.yaml",), guarded=True),
        Case("target-dev-zero", _target_path(lambda d: "/dev/zero"), ("/dev/zero",), guarded=True),
        Case("target-dev-null", _target_path(lambda d: "/dev/null"), ("/dev/null",)),
        Case("target-missing-file", _target_path(lambda d: d / "none.yaml"), ("none.yaml",)),
        Case("target-not-utf8", _target_path(lambda d: not_utf8(d, "t.yaml")), ("t.yaml",)),
        Case("target-empty", _target(""), ("t.yaml",)),
        Case("target-not-yaml", _target("rows: [1, 2\n"), ("t.yaml",)),
        Case("target-list", _target("- rows\n- 4\n"), ("t.yaml",)),
        Case("target-scalar", _target("just text\n"), ("t.yaml",)),
        Case(
            "target-deep-flow",
            _target("rows: " + deep_json(50_000) + "\n"),
            ("t.yaml",),
            guarded=True,
        ),
        Case(
            "target-deep-mapping",
            _target("rows: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n"),
            ("t.yaml",),
            guarded=True,
        ),
        Case("target-billion-laughs", _target(_LAUGHS + "rows: *i\n"), ("t.yaml",), guarded=True),
        Case("target-huge-file", _target("# " + "x" * (8 << 20) + "\nrows: 4\n"), ("t.yaml",)),
        Case(
            "target-python-tag",
            _target("rows: !!python/object/apply:os.system ['true']\n"),
            ("t.yaml",),
        ),
        Case("target-unknown-key", _target("rowz: 4\n"), ("rowz",)),
        Case("target-unknown-nested", _target("base: tpu-like\nextras:\n  a: 1\n"), ("extras",)),
        Case("target-rows-string", _target("rows: many\n"), ("rows",)),
        Case("target-rows-list", _target("rows: [4]\n"), ("rows",)),
        Case("target-rows-float", _target("rows: 4.5\n"), ("rows",)),
        Case("target-rows-zero", _target("rows: 0\n"), ("rows",)),
        Case("target-rows-negative", _target("rows: -8\n"), ("rows",)),
        Case("target-rows-huge", _target("rows: 99999999999999999999999\n"), ("rows",)),
        Case("target-rows-nan", _target("rows: .nan\n"), ("rows",)),
        Case("target-clock-nan", _target("clock_mhz: .nan\n"), ("clock_mhz",)),
        Case("target-clock-inf", _target("clock_mhz: .inf\n"), ("clock_mhz",)),
        Case("target-energy-nan", _target("mac_energy_pj: .nan\n"), ("mac_energy_pj",)),
        Case(
            "target-energy-inf",
            _target("dram_energy_pj_per_byte: .inf\n"),
            ("dram_energy_pj_per_byte",),
        ),
        Case("target-sram-nan", _target("ifmap_sram_kib: .nan\n"), ("ifmap_sram_kib",)),
        Case("target-sram-inf", _target("ifmap_sram_kib: .inf\n"), ("ifmap_sram_kib",)),
        Case("target-sram-zero", _target("ifmap_sram_kib: 0\n"), ("ifmap_sram_kib",)),
        Case(
            "target-dram-bw-zero",
            _target("dram_bw_bytes_per_cycle: 0\n"),
            ("dram_bw_bytes_per_cycle",),
        ),
        Case(
            "target-dram-bw-negative",
            _target("dram_bw_bytes_per_cycle: -1\n"),
            ("dram_bw_bytes_per_cycle",),
        ),
        Case(
            "target-dram-bw-nan",
            _target("dram_bw_bytes_per_cycle: .nan\n"),
            ("dram_bw_bytes_per_cycle",),
        ),
        Case(
            "target-dram-bw-tiny",
            _target("dram_bw_bytes_per_cycle: 1.0e-300\n"),
            ("dram_bw_bytes_per_cycle",),
        ),
        Case(
            "target-dram-latency-huge",
            _target("dram_latency_cycles: 1.0e+300\n"),
            ("dram_latency_cycles",),
        ),
        Case("target-density-nan", _target("activation_density: .nan\n"), ("activation_density",)),
        Case("target-arch-unknown", _target("arch: quantum\n"), ("quantum",)),
        Case("target-dataflow-unknown", _target("dataflow: xs\n"), ("dataflow",)),
        Case("target-name-list", _target("name: [a, b]\n"), ("name",)),
        Case("target-double-buffer-string", _target("double_buffer: maybe\n"), ("double_buffer",)),
        Case("target-base-cycle", _target_path(_base_cycle), ("cycle",)),
        Case("target-base-missing", _target_path(_base_missing), ("nowhere.yaml",)),
        Case("target-base-not-utf8", _target_path(_base_not_utf8), ("b.yaml",)),
        Case("target-base-directory", _target_path(_base_directory), ("b.yaml",)),
        Case("target-base-list", _target("base: [tpu-like]\n"), ("base",)),
        Case("target-unknown-preset", _target_path(lambda d: "tpu-unlike"), ("tpu-unlike",)),
        Case("target-maeri-not-power", _target_path(lambda d: "maeri-3"), ("maeri-3",)),
        Case("set-no-equals", _set("rows"), ("--set",)),
        Case("set-unknown-field", _set("rowz=4"), ("rowz",)),
        Case("set-rows-nan", _set("rows=nan"), ("rows",)),
        Case("set-rows-negative", _set("rows=-1"), ("rows",)),
        Case("set-rows-overflow", _set("rows=1e400"), ("rows",)),
        Case("set-rows-list", _set("rows=[1, 2]"), ("rows",)),
        Case("set-rows-bad-yaml", _set("rows=[1, 2"), ("rows",)),
        Case("set-dram-bw-zero", _set("dram_bw_bytes_per_cycle=0"), ("dram_bw_bytes_per_cycle",)),
        Case(
            "set-dram-bw-tiny", _set("dram_bw_bytes_per_cycle=1e-300"), ("dram_bw_bytes_per_cycle",)
        ),
        Case("set-dram-bw-inf", _set("dram_bw_bytes_per_cycle=.inf"), ("dram_bw_bytes_per_cycle",)),
        Case("set-clock-nan", _set("clock_mhz=.nan"), ("clock_mhz",)),
        Case(
            "set-latency-int64",
            _set("dram_latency_cycles=9000000000000000000"),
            ("dram_latency_cycles",),
        ),
        Case("set-banks-huge", _set("sram_banks=99999999999999"), ("sram_banks",)),
        Case("set-sram-kib-huge", _set("ifmap_sram_kib=1.0e+200"), ("ifmap_sram_kib",)),
        Case("set-deep-value", _set("name=" + deep_json(50_000)), ("name",), guarded=True),
    ]


# -- mapping databases -----------------------------------------------------------------------

_GOOD_MAPPING = {"dataflow": "ws", "tiles": {"k": 4}}


def _db_entry(mapping) -> dict:
    return {
        "format": "accelflow-mappings",
        "version": 2,
        "entries": {"k": {"signature": "matmul m=1 k=4 n=3", "target": "abc", "mapping": mapping}},
    }


def _maps(content, command: str = "simulate"):
    """A --mappings file holding `content` (JSON text, bytes, or a value to dump)."""

    def build(d: Path) -> list[str]:
        path = d / "maps.json"
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content)
        else:
            path.write_text(json.dumps(content))
        if command == "show":
            return ["db", "show", str(path)]
        if command == "merge":
            return ["db", "merge", str(path), "-o", str(d / "out.json")]
        if command == "diff":
            (d / "other.json").write_text(json.dumps(_db_entry(_GOOD_MAPPING)))
            return ["db", "diff", str(d / "other.json"), str(path)]
        return [command, str(model_file(d)), "--mappings", str(path)]

    return build


def _maps_path(path_of, command: str = "compile"):
    def build(d: Path) -> list[str]:
        path = str(path_of(d))
        if command == "show":
            return ["db", "show", path]
        return [command, str(model_file(d)), "--mappings", path]

    return build


def _database_cases() -> list[Case]:
    deep = deep_json(100_000)
    return [
        Case("maps-directory", _maps_path(lambda d: d), ("not a regular file",)),
        Case("maps-fifo", _maps_path(lambda d: fifo(d, "maps.json")), ("maps.json",), guarded=True),
        Case("maps-dev-zero", _maps_path(lambda d: "/dev/zero"), ("/dev/zero",), guarded=True),
        Case("maps-missing", _maps_path(lambda d: d / "none.json"), ("none.json",)),
        Case("maps-not-utf8", _maps(b'{"a": "\xff\xfe"}'), ("maps.json",)),
        Case("maps-empty", _maps(""), ("maps.json",)),
        Case("maps-not-json", _maps("{nope"), ("maps.json",)),
        Case("maps-deep", _maps(deep), ("maps.json",), guarded=True),
        Case(
            "maps-deep-object",
            _maps('{"a": ' * 50_000 + "1" + "}" * 50_000),
            ("maps.json",),
            guarded=True,
        ),
        Case("maps-list", _maps([1, 2, 3]), ("maps.json",)),
        Case("maps-string", _maps("hello"), ("maps.json",)),
        Case("maps-number", _maps(42), ("maps.json",)),
        Case("maps-layer-list", _maps({"conv": [1, 2]}), ("conv",)),
        Case("maps-layer-string", _maps({"conv": "ws"}), ("conv",)),
        Case("maps-float-tile", _maps({"mm": {"dataflow": "ws", "tiles": {"k": 2.5}}}), ("mm",)),
        Case("maps-negative-tile", _maps({"mm": {"dataflow": "ws", "tiles": {"k": -2}}}), ("mm",)),
        Case("maps-nan-tile", _maps('{"mm": {"dataflow": "ws", "tiles": {"k": NaN}}}'), ("mm",)),
        Case("maps-bool-tile", _maps({"mm": {"dataflow": "ws", "tiles": {"k": True}}}), ("mm",)),
        Case("maps-huge-tile", _maps({"mm": {"dataflow": "ws", "tiles": {"k": 10**30}}}), ("mm",)),
        Case("maps-tiles-list", _maps({"mm": {"dataflow": "ws", "tiles": [4]}}), ("mm",)),
        Case("maps-bad-dataflow", _maps({"mm": {"dataflow": "xs"}}), ("mm",)),
        Case("maps-unknown-key", _maps({"mm": {"dataflow": "ws", "colour": "red"}}), ("mm",)),
        Case("db-format-wrong", _maps({"format": "other"}), ("maps.json",)),
        Case(
            "db-version-wrong",
            _maps({"format": "accelflow-mappings", "version": 9}),
            ("maps.json",),
        ),
        Case(
            "db-entries-list",
            _maps({"format": "accelflow-mappings", "version": 2, "entries": []}),
            ("entries",),
        ),
        Case(
            "db-entry-list",
            _maps({"format": "accelflow-mappings", "version": 2, "entries": {"k": []}}),
            ("'k'",),
        ),
        Case(
            "db-entry-string",
            _maps({"format": "accelflow-mappings", "version": 2, "entries": {"k": "x"}}),
            ("'k'",),
        ),
        Case(
            "db-entry-no-mapping",
            _maps(
                {
                    "format": "accelflow-mappings",
                    "version": 2,
                    "entries": {"k": {"signature": "s", "target": "t"}},
                }
            ),
            ("'k'",),
        ),
        Case(
            "db-entry-no-signature",
            _maps(
                {
                    "format": "accelflow-mappings",
                    "version": 2,
                    "entries": {"k": {"target": "t", "mapping": _GOOD_MAPPING}},
                }
            ),
            ("'k'",),
        ),
        Case(
            "db-entry-float-tile",
            _maps(_db_entry({"dataflow": "ws", "tiles": {"k": 1.5}})),
            ("'k'",),
        ),
        Case(
            "db-entry-cycles-string",
            _maps(
                {
                    **_db_entry(_GOOD_MAPPING),
                    "entries": {
                        "k": {**_db_entry(_GOOD_MAPPING)["entries"]["k"], "cycles": "many"}
                    },
                }
            ),
            ("'k'",),
        ),
        Case(
            "db-targets-list",
            _maps({"format": "accelflow-mappings", "version": 2, "targets": [1]}),
            ("targets",),
        ),
        Case("db-show-directory", _maps_path(lambda d: d, "show"), ("not a regular file",)),
        Case("db-show-not-utf8", _maps(b"\xff\xfe\x00", "show"), ("maps.json",)),
        Case("db-show-deep", _maps(deep, "show"), ("maps.json",), guarded=True),
        Case("db-show-list", _maps([1], "show"), ("maps.json",)),
        Case(
            "db-show-entry-string",
            _maps({"format": "accelflow-mappings", "version": 2, "entries": {"k": "x"}}, "show"),
            ("'k'",),
        ),
        Case("db-merge-not-utf8", _maps(b"\xff\xfe\x00", "merge"), ("maps.json",)),
        Case(
            "db-merge-float-tile",
            _maps(_db_entry({"dataflow": "ws", "tiles": {"k": 1.5}}), "merge"),
            ("'k'",),
        ),
        Case(
            "db-diff-entry-list",
            _maps({"format": "accelflow-mappings", "version": 2, "entries": {"k": []}}, "diff"),
            ("'k'",),
        ),
        Case(
            "maps-compile-float-tile",
            _maps({"mm": {"dataflow": "ws", "tiles": {"k": 2.5}}}, "compile"),
            ("mm",),
        ),
    ]


# -- tuning logs (tune --resume) -------------------------------------------------------------


def _log(content, name: str = "run.log.jsonl"):
    def build(d: Path) -> list[str]:
        path = d / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return ["tune", "--resume", str(path)]

    return build


def _header(**fields) -> str:
    return json.dumps({"type": "header", "version": 1, **fields}) + "\n"


def _resume_model(d: Path) -> list[str]:
    return ["tune", "--resume", str(model_file(d))]


def _resume_model_changed(d: Path) -> list[str]:
    model = model_file(d)
    header = _header(model=str(model), model_sha256="0" * 64, target={}, config={})
    (d / "run.log.jsonl").write_text(header)
    return ["tune", "--resume", str(d / "run.log.jsonl")]


def _log_cases() -> list[Case]:
    return [
        Case("log-the-model", _resume_model, ("m.onnx",)),
        Case("log-directory", lambda d: ["tune", "--resume", str(d)], ("not a regular file",)),
        Case(
            "log-fifo",
            lambda d: ["tune", "--resume", str(fifo(d, "run.log.jsonl"))],
            ("run.log.jsonl",),
            guarded=True,
        ),
        Case(
            "log-dev-zero",
            lambda d: ["tune", "--resume", "/dev/zero"],
            ("/dev/zero",),
            guarded=True,
        ),
        Case("log-missing", lambda d: ["tune", "--resume", str(d / "none.jsonl")], ("none.jsonl",)),
        Case("log-empty", _log(""), ("run.log.jsonl",)),
        Case("log-not-utf8", _log(b"\xff\xfe\xfa\n"), ("run.log.jsonl",)),
        Case("log-not-json", _log("hello\n"), ("run.log.jsonl",)),
        Case("log-deep", _log(deep_json(100_000) + "\n"), ("run.log.jsonl",), guarded=True),
        Case("log-record-list", _log("[1, 2]\n"), ("run.log.jsonl",)),
        Case("log-record-string", _log('"header"\n'), ("run.log.jsonl",)),
        Case("log-record-number", _log("7\n"), ("run.log.jsonl",)),
        Case("log-no-header", _log('{"type": "eval"}\n'), ("run.log.jsonl",)),
        Case(
            "log-header-version",
            _log(_header().replace('"version": 1', '"version": 7')),
            ("run.log.jsonl",),
        ),
        Case("log-header-no-model", _log(_header()), ("run.log.jsonl",)),
        Case(
            "log-header-model-list", _log(_header(model=[1], model_sha256="x")), ("run.log.jsonl",)
        ),
        Case(
            "log-header-model-gone",
            _log(_header(model="/nonexistent/m.onnx", model_sha256="x")),
            ("run.log.jsonl",),
        ),
        Case(
            "log-header-model-is-dir",
            lambda d: _log(_header(model=str(d), model_sha256="x"))(d),
            ("run.log.jsonl",),
        ),
        Case("log-names-no-database", _resume_model_changed, ("-o DB",)),
        Case("log-second-record-list", _log(_header() + "[1]\n"), ("run.log.jsonl",)),
        Case("log-torn-not-a-log", _log('{"type": "eval"}\n{"ty'), ("run.log.jsonl",)),
    ]


CASES = _target_cases() + _database_cases() + _log_cases()


@pytest.mark.parametrize("case", params(CASES))
def test_bad_file(case: Case, tmp_path: Path, capsys) -> None:
    run_case(case, tmp_path / "case", capsys)
