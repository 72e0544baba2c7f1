"""The worked plugin (examples/plugins/accelflow-demo-plugin), installed into a temporary folder
without network and used through the CLIs as a user would: `accelflow-opt` and `accelflow
compile|simulate --passes`, as subprocesses with PYTHONPATH pointing at the install.

The install builds the plugin with the setuptools of this environment (`egg_info` + `build_py`:
its metadata, entry points included, and its package, from its own pyproject.toml); pip would
need `wheel` (or setuptools >= 70.1) to build, which an offline venv may lack. Where setuptools
is missing (a Python 3.12+ venv), the same files are written from pyproject.toml by hand.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "examples" / "plugins" / "accelflow-demo-plugin"
LENET = ROOT / "examples" / "lenet.onnx"
DOTPROD = PLUGIN / "targets" / "dotprod-16.yaml"
BIN = Path(sys.executable).parent
IR_TESTS = sorted((PLUGIN / "tests").glob("*.mlir"))
DEMO_PIPELINE = (
    "onnx-to-accel,accel-map,demo-force-dataflow{dataflow=os},accel-tile,accel-emit,"
    "demo-count-instructions"
)


def install_with_setuptools(src: Path, site: Path) -> None:
    subprocess.run(
        [sys.executable, "-W", "ignore", "-c", "from setuptools import setup; setup()", "-q"]
        + ["egg_info", "--egg-base", str(site), "build_py", "--build-lib", str(site)],
        cwd=src,
        check=True,
        capture_output=True,
        text=True,
    )


def install_by_hand(src: Path, site: Path) -> None:
    """What an install leaves: the package, and metadata with the entry points."""
    import tomllib

    project = tomllib.loads((src / "pyproject.toml").read_text())["project"]
    for package in ("accelflow_demo_plugin",):
        shutil.copytree(src / package, site / package)
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = []
    for group, entries in project["entry-points"].items():
        lines += [f"[{group}]", *(f"{name} = {value}" for name, value in entries.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


def install(tmp: Path, by_hand: bool = False) -> Path:
    src, site = tmp / "src", tmp / "site"
    shutil.copytree(
        PLUGIN, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    site.mkdir()
    if by_hand:
        install_by_hand(src, site)
    else:
        install_with_setuptools(src, site)
    return site


def has_setuptools() -> bool:
    import importlib.util

    return importlib.util.find_spec("setuptools") is not None


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory) -> dict[str, str]:
    """The environment of a shell where the plugin is installed (PYTHONPATH) and the venv's
    tools come first on PATH."""
    site = install(tmp_path_factory.mktemp("demo-plugin"), by_hand=not has_setuptools())
    pythonpath = [str(site), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(pythonpath),
        "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")]),
    }


def run_lines(path: Path) -> list[str]:
    return [
        line.removeprefix("// RUN:").strip().replace("%s", shlex.quote(str(path)))
        for line in path.read_text().splitlines()
        if line.startswith("// RUN:")
    ]


IR_CASES = [(path, i, line) for path in IR_TESTS for i, line in enumerate(run_lines(path), 1)]


def test_the_plugin_has_ir_tests():
    assert {p.name for p in IR_TESTS} == {
        "demo-force-dataflow.mlir",
        "demo-count-instructions.mlir",
        "dotprod.mlir",
    }


@pytest.mark.parametrize(
    "path, index, line", IR_CASES, ids=[f"{p.name}:{i}" for p, i, _ in IR_CASES]
)
def test_plugin_ir(plugin_env, tmp_path, path, index, line):
    """Each RUN line, lit-style, in bash with pipefail (`not CMD` inverts CMD's status)."""
    script = 'not() { ! "$@"; }\n' + line
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script],
        env=plugin_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"{line}\n{proc.stdout}\n{proc.stderr}"


def run_cli(env: dict[str, str], cwd: Path, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "accelflow"), *argv], env=env, cwd=cwd, capture_output=True, text=True
    )


def test_compile_runs_plugin_passes(plugin_env, tmp_path):
    out = tmp_path / "out"
    proc = run_cli(
        plugin_env,
        tmp_path,
        *("compile", str(LENET), "--target", "tpu-like-small", "--passes", DEMO_PIPELINE),
        *("-o", str(out), "--emit", "ir"),
    )
    assert proc.returncode == 0, proc.stderr
    mapped = (out / "2-accel-map.mlir").read_text()
    forced = (out / "3-demo-force-dataflow.mlir").read_text()
    counted = (out / "6-demo-count-instructions.mlir").read_text()
    assert "#accel.mapping<ws," in mapped and "#accel.mapping<os," not in mapped
    assert "#accel.mapping<os," in forced and "#accel.mapping<ws," not in forced
    # accel-tile and accel-emit read the plugin's mapping: every program is configured for os
    emitted = (out / "5-accel-emit.mlir").read_text()
    assert emitted.count('accel_isa.config "os"') == 5 and 'accel_isa.config "ws"' not in emitted
    layers = counted.count("accel_isa.layer ")
    assert layers == 5 and counted.count("demo.instructions = {load = ") == layers


def test_simulate_runs_plugin_passes(plugin_env, tmp_path):
    proc = run_cli(
        plugin_env,
        tmp_path,
        *(
            "simulate",
            str(LENET),
            "--target",
            "tpu-like-small",
            "--json",
            "--passes",
            DEMO_PIPELINE,
        ),
    )
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)
    assert stats["total"]["cycles"] > 0
    assert sum(layer["on_accel"] for layer in stats["layers"]) == 5


@pytest.mark.skipif(not has_setuptools(), reason="setuptools is not installed")
def test_install_by_hand_matches_setuptools(tmp_path):
    import importlib.metadata

    def entry_points(site: Path) -> set[tuple[str, str]]:
        dists = importlib.metadata.distributions(path=[str(site)])
        return {(ep.name, ep.value) for d in dists for ep in d.entry_points}

    built = entry_points(install(tmp_path / "a"))
    assert built == entry_points(install(tmp_path / "b", by_hand=True))
    assert {name for name, _ in built} == {
        "demo-force-dataflow",
        "demo-count-instructions",
        "dotprod",
    }


# -- the plugin's accelerator family ----------------------------------------------------------


def test_family_simulates_and_computes_the_model(plugin_env, tmp_path):
    """A target of the plugin's family (its own fields from YAML and --set) through simulate:
    the engine times it by the family's tile_cost, and the outputs match onnx.reference."""
    proc = run_cli(
        plugin_env,
        tmp_path,
        *("simulate", str(LENET), "--target", str(DOTPROD), "--set", "lanes=8", "--check"),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)
    accel = [layer for layer in stats["layers"] if layer["on_accel"]]
    assert len(accel) == 5 and all(layer["compute_cycles"] > 0 for layer in accel)
    # fc3 (1 x 84 @ 84 x 10 in one tile): ceil(10 / 8 lanes) * ceil(84 / 16 wide) + log2(16) + 1
    fc3 = next(layer for layer in accel if layer["name"] == "/fc3/Gemm")
    assert fc3["compute_cycles"] == 2 * 6 + 4 + 1
    assert fc3["macs"] == 84 * 10


def test_family_tunes_and_compiles_with_the_database(plugin_env, tmp_path):
    """tune on the plugin's family (cost model and simulator both through the family) of a
    one-layer model; the session compiles the model with the database it wrote and checks that
    the tuned cycles come back (what `compile --mappings` does)."""
    import onnx

    from accelflow.models import gemm

    model = tmp_path / "gemm.onnx"
    onnx.save(gemm(batch=8, k=64, n=32), str(model))
    proc = run_cli(
        plugin_env,
        tmp_path,
        *("tune", str(model), "--target", str(DOTPROD), "--budget", "8", "-o", "maps.json"),
    )
    assert proc.returncode == 0, proc.stderr
    assert "verified: compile --mappings reproduces the tuned cycles of 1 layer" in proc.stdout
    assert (tmp_path / "maps.json").exists()


def test_family_is_unknown_without_the_plugin(tmp_path):
    proc = subprocess.run(
        [str(BIN / "accelflow"), "simulate", str(LENET), "--target", str(DOTPROD)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2, proc.stderr
    assert (
        "unknown accelerator family 'dotprod' (known: systolic, maeri, sigma; a family from a plugin"
        in proc.stderr
    )
