"""compiler/plugins.py: `accelflow.passes` entry points, found by accelflow-opt and the pipeline.

Each test puts a fake distribution (a `*.dist-info` with entry_points.txt, and its module) on
sys.path, as an installed plugin would be, and runs the tools in process.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from compiler import plugins
from compiler.opt import main as opt_main
from compiler.pipeline import PipelineError, available_passes, parse_pipeline
from compiler.plugins import ARCHITECTURES_GROUP, PASSES_GROUP, PluginError

GOOD_PASS = """
from dataclasses import dataclass

from xdsl.dialects.builtin import UnitAttr
from xdsl.passes import ModulePass


@dataclass(frozen=True)
class {cls}(ModulePass):
    name = "{name}"

    note: str = "seen"

    def apply(self, ctx, op):
        op.attributes["fake." + self.note] = UnitAttr()
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path to install fake plugins into; their modules are unloaded after."""
    before = set(sys.modules)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith("fakeplug_"):
            del sys.modules[name]


def fake_distribution(
    site: Path, dist: str, entries: dict[str, str], modules: dict[str, str] | None = None
) -> None:
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = [f"[{PASSES_GROUP}]", *(f"{name} = {value}" for name, value in entries.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for module, source in (modules or {}).items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))


def run_opt(capsys, tmp_path: Path, passes: str, text: str = "builtin.module {}") -> tuple:
    src = tmp_path / "in.mlir"
    src.write_text(text)
    code = opt_main([str(src), "-p", passes])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_group_names():
    assert (PASSES_GROUP, ARCHITECTURES_GROUP) == ("accelflow.passes", "accelflow.architectures")


def test_plugin_pass_runs_in_accelflow_opt_and_pipeline(site, capsys):
    fake_distribution(
        site,
        "fakeplug-good",
        {"fake-mark": "fakeplug_good:FakeMark"},
        {"fakeplug_good": GOOD_PASS.format(cls="FakeMark", name="fake-mark")},
    )
    passes = available_passes()
    assert "fake-mark" in passes and "accel-map" in passes and "dce" in passes
    assert "fakeplug_good" not in sys.modules  # found from metadata, imported when used
    code, out, err = run_opt(capsys, site, "fake-mark{note=hello},canonicalize")
    assert code == 0, err
    assert "fake.hello" in out
    pipeline = parse_pipeline("fake-mark,dce", lambda *_: None)
    assert [p.name for p in pipeline.passes] == ["fake-mark", "dce"]


def test_a_distribution_on_the_path_twice_counts_once(site, tmp_path_factory, monkeypatch):
    again = tmp_path_factory.mktemp("again")
    for root in (site, again):
        fake_distribution(root, "fakeplug-twice", {"fake-twice": "fakeplug_twice:FakeTwice"})
    monkeypatch.syspath_prepend(str(again))
    assert len([ep for ep in plugins.entry_points(PASSES_GROUP) if ep.name == "fake-twice"]) == 1
    assert "fake-twice" in available_passes()


@pytest.mark.parametrize(
    "value, source, needles",
    [
        ("fakeplug_missing:Pass", None, ["failed to load: ModuleNotFoundError"]),
        (
            "fakeplug_raises:Pass",
            "raise RuntimeError('no accelerator here')\n",
            ["failed to load: RuntimeError: no accelerator here"],
        ),
        (
            "fakeplug_attr:Nope",
            "X = 1\n",
            ["failed to load: AttributeError"],
        ),
        (
            "fakeplug_func:make",
            "def make():\n    pass\n",
            ["is not a ModulePass subclass: it loads <function make"],
        ),
        (
            "fakeplug_cls:Thing",
            "class Thing:\n    name = 'fake-broken'\n",
            ["is not a ModulePass subclass: it loads the class Thing"],
        ),
        (
            "fakeplug_other:FakeOther",
            GOOD_PASS.format(cls="FakeOther", name="fake-other"),
            ["loads the pass named 'fake-other'", "must be the pass's `name`"],
        ),
    ],
    ids=["missing-module", "raises", "missing-attr", "function", "not-a-pass", "other-name"],
)
def test_a_broken_plugin_is_one_clear_error(site, capsys, value, source, needles):
    module = value.partition(":")[0]
    fake_distribution(
        site, "fakeplug-broken", {"fake-broken": value}, {module: source} if source else None
    )
    where = f"'fake-broken' (entry point '{value}' of distribution 'fakeplug-broken 1.0')"
    # accelflow-opt: one line, exit code 2; a pipeline not naming the plugin is unaffected
    code, _, err = run_opt(capsys, site, "fake-broken")
    assert_one_line(code, err, "accelflow-opt: error: pass plugin", where, *needles)
    assert run_opt(capsys, site, "canonicalize")[0] == 0
    # the in-process pipeline (accelflow compile|simulate|tune, the API): a PluginError
    with pytest.raises(PluginError) as info:
        parse_pipeline("onnx-to-accel,fake-broken", lambda *_: None)
    assert not isinstance(info.value, PipelineError)
    assert where in str(info.value) and all(n in str(info.value) for n in needles)


@pytest.mark.parametrize("name", ["accel-map", "dce"])
def test_a_plugin_may_not_replace_a_builtin_pass(site, capsys, name):
    fake_distribution(
        site,
        "fakeplug-clash",
        {name: "fakeplug_clash:Clash"},
        {"fakeplug_clash": GOOD_PASS.format(cls="Clash", name=name)},
    )
    needles = (
        f"pass plugin '{name}' (entry point 'fakeplug_clash:Clash' of distribution "
        "'fakeplug-clash 1.0') has the name of a built-in pass",
    )
    code, _, err = run_opt(capsys, site, "canonicalize")
    assert_one_line(code, err, *needles)
    with pytest.raises(PluginError, match="has the name of a built-in pass"):
        available_passes()
    assert "fakeplug_clash" not in sys.modules


def test_two_plugins_of_one_name_are_an_error(site):
    for dist in ("fakeplug-one", "fakeplug-two"):
        fake_distribution(site, dist, {"fake-same": f"{dist.replace('-', '_')}:Same"})
    with pytest.raises(PluginError, match="two pass plugins are named 'fake-same'") as info:
        available_passes()
    assert "fakeplug-one 1.0" in str(info.value) and "fakeplug-two 1.0" in str(info.value)


def test_accelflow_cli_reports_a_broken_plugin_in_one_line(site, capsys):
    from accelflow.cli import main

    fake_distribution(site, "fakeplug-cli", {"fake-cli": "fakeplug_cli_missing:Pass"})
    model = Path(__file__).resolve().parents[2] / "examples" / "lenet.onnx"
    code = main(["compile", str(model), "--passes", "onnx-to-accel,fake-cli"])
    err = capsys.readouterr().err
    assert_one_line(
        code, err, "error: pass plugin 'fake-cli'", "fakeplug-cli 1.0", "failed to load"
    )
