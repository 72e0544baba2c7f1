"""Runs the FileCheck tests (`*.mlir` under tests/filecheck) from pytest, lit-style.

Each `// RUN:` line (a trailing `\\` continues it) is a pipeline of
  `[not] accelflow-opt ARGS [2>&1]`  -- run in process (AccelOptMain), stdout (and with `2>&1`
                                        stderr / the traceback) captured; `not` inverts success,
  `filecheck ARGS`                   -- the filecheck command of this environment (subprocess).
`%s` is the test file. Every stage must succeed, as with `set -o pipefail`.
"""

from __future__ import annotations

import io
import shlex
import subprocess
import sys
import tempfile
import traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from compiler.opt import AccelOptMain

HERE = Path(__file__).parent
FILECHECK = Path(sys.executable).with_name("filecheck")
TESTS = sorted(HERE.rglob("*.mlir"))


def run_lines(path: Path) -> list[str]:
    lines, pending = [], ""
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line.startswith("// RUN:"):
            continue
        text = pending + line[len("// RUN:") :].strip()
        if text.endswith("\\"):
            pending = text[:-1] + " "
            continue
        pending = ""
        lines.append(text.replace("%s", shlex.quote(str(path))))
    return lines


def run_opt(args: list[str], stdin: str | None) -> tuple[int, str, str]:
    """accelflow-opt in process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with tempfile.TemporaryDirectory() as tmp:
        if stdin is not None and not any(a.endswith(".mlir") for a in args):
            src = Path(tmp) / "stdin.mlir"
            src.write_text(stdin)
            args = [*args, str(src)]
        with redirect_stdout(out), redirect_stderr(err):
            try:
                AccelOptMain(args=args).run()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except Exception:
                traceback.print_exc()
                code = 1
    return code, out.getvalue(), err.getvalue()


def run_pipeline(command: str) -> None:
    data: str | None = None
    for stage in command.split(" | "):
        argv = shlex.split(stage)
        invert = argv[:1] == ["not"]
        if invert:
            argv = argv[1:]
        merge = "2>&1" in argv
        argv = [a for a in argv if a != "2>&1"]
        tool, args = argv[0], argv[1:]
        if tool == "accelflow-opt":
            code, out, err = run_opt(args, data)
            data = out + err if merge else out
        elif tool == "filecheck":
            proc = subprocess.run(
                [str(FILECHECK), *args], input=data or "", capture_output=True, text=True
            )
            code, err = proc.returncode, proc.stderr
            data = proc.stdout
        else:
            raise AssertionError(f"unknown RUN tool '{tool}' in: {command}")
        ok = (code != 0) if invert else (code == 0)
        if not ok:
            pytest.fail(f"`{stage}` exited with {code}:\n{err}\n--- output ---\n{data}")


@pytest.mark.parametrize("path", TESTS, ids=[str(p.relative_to(HERE)) for p in TESTS])
def test_filecheck(path: Path) -> None:
    commands = run_lines(path)
    assert commands, f"{path} has no RUN line"
    for command in commands:
        run_pipeline(command)
