"""`accelflow-opt`: xdsl-opt with accelflow's dialects and passes, and the passes of installed
plugins (entry point group `accelflow.passes`, compiler/plugins.py).

accelflow-opt model.mlir -p 'onnx-to-accel,accel-map{dataflow=os},accel-tile{tile-k=8},accel-emit'
accelflow-opt model.mlir --target maeri-64 -p 'accel-map,accel-tile,accel-emit'

`--target T` (a preset or a YAML path) runs `accel-retarget{target=T}` before the pipeline: the
module's target is replaced, with a warning when it had another one. Warnings are one line on
stderr.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from xdsl.context import Context
from xdsl.ir import Dialect
from xdsl.passes import ModulePass
from xdsl.xdsl_opt_main import xDSLOptMain


def _onnx() -> Dialect:
    from dialects.onnx import ONNX

    return ONNX


def _accel() -> Dialect:
    from dialects.accel import Accel

    return Accel


def _accel_isa() -> Dialect:
    from dialects.accel_isa import AccelISA

    return AccelISA


DIALECTS: dict[str, Callable[[], Dialect]] = {
    "onnx": _onnx,
    "accel": _accel,
    "accel_isa": _accel_isa,
}


def _onnx_to_accel() -> type[ModulePass]:
    from compiler.passes.onnx_to_accel import OnnxToAccelPass

    return OnnxToAccelPass


def _accel_fuse() -> type[ModulePass]:
    from compiler.passes.accel_fuse import AccelFusePass

    return AccelFusePass


def _accel_map() -> type[ModulePass]:
    from compiler.passes.accel_map import AccelMapPass

    return AccelMapPass


def _accel_tile() -> type[ModulePass]:
    from compiler.passes.accel_tile import AccelTilePass

    return AccelTilePass


def _accel_emit() -> type[ModulePass]:
    from compiler.passes.accel_emit import AccelEmitPass

    return AccelEmitPass


def _accel_retarget() -> type[ModulePass]:
    from compiler.passes.accel_retarget import AccelRetargetPass

    return AccelRetargetPass


def _accel_isa_verify() -> type[ModulePass]:
    from compiler.passes.accel_isa_verify import AccelISAVerifyPass

    return AccelISAVerifyPass


PASSES: dict[str, Callable[[], type[ModulePass]]] = {
    "onnx-to-accel": _onnx_to_accel,
    "accel-fuse": _accel_fuse,
    "accel-map": _accel_map,
    "accel-tile": _accel_tile,
    "accel-emit": _accel_emit,
    "accel-isa-verify": _accel_isa_verify,
    "accel-retarget": _accel_retarget,
}


def register_accelflow(ctx: Context) -> None:
    """Make our dialects loadable in `ctx` (lazily, as xDSL does)."""
    for name, factory in DIALECTS.items():
        if name not in ctx.registered_dialect_names:
            ctx.register_dialect(name, factory)


class _HeldOutput(io.StringIO):
    """The output, held until the run succeeds (then written by `AccelOptMain.commit`): a
    failed run leaves a file at -o as it was."""

    def close(self) -> None:  # xDSLOptMain closes its output stream; the text is kept
        pass


class AccelOptMain(xDSLOptMain):
    _held: _HeldOutput | None = None

    def check_paths(self) -> None:
        """The input is a readable regular file (a FIFO would block, a folder or a missing
        file would be a traceback) and -o is not the input nor a folder, before anything is
        opened."""
        from simulator.errors import checked_output, existing_file

        given = self.args.input_file
        if given is not None and given != "-":
            existing_file(given)
        if self.args.output_file is not None:
            checked_output(self.args.output_file, "-o", [("the input file", given)])

    def prepare_output(self) -> IO[str]:
        if self.args.output_file is None:
            return sys.stdout
        self._held = _HeldOutput()
        return self._held

    def commit(self) -> None:
        """Write the held output to -o atomically (`tuner.db.write_atomic`: a temporary file
        beside it, renamed over it)."""
        from simulator.errors import AccelflowError
        from tuner.db import write_atomic

        if self._held is None:
            return
        out = Path(self.args.output_file)
        try:
            write_atomic(out, self._held.getvalue())
        except OSError as err:
            raise AccelflowError(f"-o {out}: cannot be written ({err.strerror or err})") from None

    def register_all_dialects(self) -> None:
        super().register_all_dialects()
        register_accelflow(self.ctx)

    def register_all_passes(self) -> None:
        """xDSL's passes, accelflow's, then the `accelflow.passes` plugins (compiler/plugins.py),
        which may not reuse a name registered before them."""
        from compiler.plugins import plugin_passes

        super().register_all_passes()
        for name, factory in PASSES.items():
            self.register_pass(name, factory)
        for name, factory in plugin_passes(set(self.available_passes)).items():
            self.register_pass(name, factory)


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"accelflow-opt: warning: {message}", file=sys.stderr)


def _with_target(argv: list[str]) -> list[str]:
    """`--target T` / `--target=T` taken out of `argv` and run as `accel-retarget{target=T}`
    before the `-p/--passes` pipeline (which it starts when there is none)."""
    from simulator.errors import AccelflowError

    target = None
    rest: list[str] = []
    it = iter(argv)
    for a in it:
        if a == "--target":
            target = next(it, None)
            if target is None:
                raise AccelflowError("--target needs a preset name or a YAML path")
        elif a.startswith("--target="):
            target = a.split("=", 1)[1]
        else:
            rest.append(a)
    if target is None:
        return rest
    if '"' in target or not target:
        raise AccelflowError(f"--target {target!r}: not a preset name or a file path")
    step = f'accel-retarget{{target="{target}"}}'
    for i, a in enumerate(rest):
        if a in ("-p", "--passes") and i + 1 < len(rest):
            rest[i + 1] = f"{step},{rest[i + 1]}" if rest[i + 1] else step
            return rest
        if a.startswith("--passes="):
            given = a.split("=", 1)[1]
            rest[i] = f"--passes={step},{given}" if given else f"--passes={step}"
            return rest
    return [*rest, "-p", step]


def main(args: Sequence[str] | None = None) -> int:
    """Run accelflow-opt; a parse, verification or pass error is one diagnostic, exit code 2."""
    import warnings

    from xdsl.utils.exceptions import (
        ArgSpecParseError,
        DiagnosticException,
        ParseError,
        VerifyException,
    )

    from simulator.errors import AccelflowError

    argv = list(args) if args is not None else sys.argv[1:]
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    if not debug:
        warnings.showwarning = _one_line_warning
    try:
        argv = _with_target(argv)
        tool = AccelOptMain(args=argv)
        tool.check_paths()
        tool.run()
        tool.commit()
    except (
        ParseError,
        VerifyException,
        DiagnosticException,
        AccelflowError,
        ValueError,
        ArgSpecParseError,  # a BaseException in xDSL 0.74
    ) as err:
        if debug:
            raise
        from compiler.pipeline import diagnostic_line  # (it imports this module)

        print(f"accelflow-opt: error: {diagnostic_line(err)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
