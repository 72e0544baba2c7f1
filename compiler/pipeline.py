"""The compiler pipeline: onnx dialect -> accel -> mapped -> tiled -> ISA, in process.

    module = import_onnx("model.onnx")
    module = compile_module(module, load_target("tpu-like"), on_stage=lambda name, m: ...)
    program = compiler.assembler.assemble(module)

`passes` uses accelflow-opt's syntax (`onnx-to-accel,accel-map{dataflow=os},accel-tile{tile-k=8},
accel-emit`); xDSL's own passes (`dce`, `canonicalize`, ...) and those of installed plugins (entry
point group `accelflow.passes`, compiler/plugins.py) may be mixed in. The module is
verified after every pass, then `on_stage(pass_name, module)` is called (to write the IR of each
level). `mappings` (layer name or layer signature -> `tiling.Mapping.to_dict()`, e.g.
`tuner.db.MappingDB.for_target(target)`) is attached to the module as `accel.mappings`; `accel-map`
uses the entry under a layer's name, else the one under its signature (`tiling.LayerShape
.signature`). The compiler does not read database files: `accelflow.api.compile` does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from xdsl.context import Context
from xdsl.dialects.builtin import DictionaryAttr, ModuleOp
from xdsl.passes import ModulePass, PassPipeline
from xdsl.utils.exceptions import VerifyException

from compiler import tiling
from compiler.opt import DIALECTS, PASSES
from compiler.passes.common import MAPPINGS_ATTR, PassError, set_module_target
from dialects import accel
from simulator.errors import AccelflowError
from simulator.target import Target

DEFAULT_PASSES = "onnx-to-accel,accel-fuse,accel-map,accel-tile,accel-emit,accel-isa-verify"


def make_context() -> Context:
    """A Context with builtin, func, arith and accelflow's dialects loaded."""
    from xdsl.dialects.arith import Arith
    from xdsl.dialects.builtin import Builtin
    from xdsl.dialects.func import Func

    ctx = Context()
    for dialect in (Builtin, Func, Arith):
        ctx.load_dialect(dialect)
    for factory in DIALECTS.values():
        ctx.load_dialect(factory())
    return ctx


def available_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    """accelflow's passes and xDSL's (ours win on a name clash), then the `accelflow.passes`
    plugins (compiler/plugins.py; a plugin named like one of those is a PluginError)."""
    from xdsl.transforms import get_all_passes

    from compiler.plugins import plugin_passes

    builtin = {**get_all_passes(), **PASSES}
    return {**builtin, **plugin_passes(builtin)}


def _mapping_entry(name: str, entry: Any) -> accel.MappingAttr:
    """A database entry: a mapping dict, or a record holding one under "mapping"."""
    if isinstance(entry, Mapping) and "mapping" in entry and "dataflow" not in entry:
        entry = entry["mapping"]
    if not isinstance(entry, Mapping):
        raise PassError(f"mapping database entry '{name}' is not a dictionary")
    try:
        data = tiling.Mapping.from_dict(dict(entry)).to_dict()
    except tiling.MappingError as err:
        raise tiling.MappingError(f"mapping database entry '{name}': {err}") from None
    return accel.MappingAttr.from_dict(data)


class PipelineError(AccelflowError):
    """A pass pipeline spec that cannot be parsed: bad syntax, unknown pass or option."""


def compile_module(
    module: ModuleOp,
    target: Target,
    passes: str = DEFAULT_PASSES,
    mappings: dict[str, Any] | None = None,
    on_stage: Callable[[str, ModuleOp], None] | None = None,
) -> ModuleOp:
    """Run `passes` on `module` (in place) for `target`; returns the module."""
    set_module_target(module, target)
    if mappings:
        module.attributes[MAPPINGS_ATTR] = DictionaryAttr(
            {str(name): _mapping_entry(str(name), entry) for name, entry in mappings.items()}
        )

    last = ["the input"]

    def callback(done: ModulePass | None, mod: ModuleOp, _next: ModulePass | None) -> None:
        if done is None:
            return
        last[0] = done.name
        if getattr(done, "changes_ir", True):  # a checking pass leaves a verified module
            mod.verify()
        if on_stage is not None:
            on_stage(done.name, mod)

    pipeline = parse_pipeline(passes, callback)
    try:
        pipeline.apply(make_context(), module)
    except VerifyException as err:  # xDSL's message goes on with the whole module printed
        raise IRVerifyError(f"after {last[0]}: {diagnostic_line(err)}") from None
    return module


class IRVerifyError(AccelflowError):
    """An op that does not verify (an xDSL VerifyException), said on one line naming it."""


_LOCATION = re.compile(r"^\S+:\d+:\d+$")


def diagnostic_line(err: BaseException) -> str:
    """An xDSL diagnostic on one line: a verifier error's first line (the op's own message, its
    layer name; xDSL goes on with the whole module printed), a parse error's location and
    message (`file:4:28: Operation accel.x is not registered`, not the source it quotes)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    if _LOCATION.match(lines[0]) and len(lines) > 1:
        return f"{lines[0]}: {lines[-1]}"
    return lines[0]


def parse_pipeline(
    passes: str, callback: Callable[[ModulePass | None, ModuleOp, ModulePass | None], None]
) -> PassPipeline:
    """The PassPipeline of a spec like `accel-map{dataflow=os},accel-tile`; a malformed spec, an
    unknown pass or option is a PipelineError naming it (one line, no traceback)."""
    from xdsl.utils.exceptions import ArgSpecParseError

    from compiler.plugins import PluginError

    try:
        return PassPipeline.parse_spec(available_passes(), passes, callback)
    except PluginError:
        raise  # names the plugin and its distribution already
    # xDSL raises ValueError and friends, and ArgSpecParseError (a BaseException) for syntax
    except (Exception, ArgSpecParseError) as err:
        first = str(err).strip().splitlines()
        detail = first[-1].strip() if first else type(err).__name__
        raise PipelineError(f"bad pass pipeline '{passes}': {detail}") from None
