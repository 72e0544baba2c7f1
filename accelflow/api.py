"""The public Python API: compile, simulate, check, tune (the CLI composes these).

`tune` runs one `tuner.session.TuneSession`, as `accelflow tune` does: the search (with
`hw=True`, the hardware search first), then verification: the model compiled with the database
and simulated (`compile_and_simulate`) must run every tuned layer in the cycles the tuner
reported. The returned `TuneResult` carries that outcome as `.verification`; a failed one also
warns (`VerificationWarning`).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.errors import MAX_SEED, AccelflowError, checked_number, existing_file, first_line
from simulator.program import Program
from simulator.target import Target, load_target

if TYPE_CHECKING:
    import onnx
    from xdsl.dialects.builtin import ModuleOp

    from compiler.tiling import LayerShape
    from tuner.db import MappingDB
    from tuner.session import CompiledCycles
    from tuner.tune import ProgressFn, TuneResult

    # accelerator layer name -> (its shape, its mapping dict once it has one)
    LayerMappings = dict[str, tuple[LayerShape, dict[str, Any] | None]]
    from compiler.import_model import LoadedModel

    # A model: a path to an ONNX file, an onnx.ModelProto (onnx is imported on loading one), or
    # a file loaded once for several compiles (`compiler.import_model.load_lean`).
    ModelLike = str | Path | onnx.ModelProto | LoadedModel

# Where a layer's mapping came from, in CompileResult.mapping_sources.
FROM_DATABASE = "database"
FROM_DEFAULT = "default"
FROM_OPTIONS = "options"


class InputError(AccelflowError):
    """Bad input tensors: unreadable file, unknown name, wrong shape."""


class VerificationWarning(UserWarning):
    """`tune`: the model compiled with the tuned database does not run as the tuner reported."""


@dataclass
class CompileResult:
    program: Program
    target: Target
    # IR text after each stage ("onnx", then each pass name), when asked for.
    stages: dict[str, str] = field(default_factory=dict)
    # Wall seconds per stage ("import", each pass, "assemble").
    seconds: dict[str, float] = field(default_factory=dict)
    # When mappings were given: accelerator layer name -> where its mapping came from,
    # "database" (its entry, by layer name or signature), "default" (no entry: the default
    # heuristic) or "options" (it has an entry, but options in `passes` replaced it).
    mapping_sources: dict[str, str] = field(default_factory=dict)
    # The timing fingerprints a MappingDB has entries for (None: no database, or a plain dict).
    database_fingerprints: list[str] | None = None
    # The layer signatures whose database entry was tuned with other cost-only fields (energy
    # table, clock) than the target's: cycles hold, energies were measured otherwise.
    database_cost_mismatches: list[str] = field(default_factory=list)

    def mapping_notice(self, database: str = "the mapping database", limit: int = 12) -> str | None:
        """One line saying which layers did not get their mapping from `database` (its name as
        the user knows it), or None when every layer did (or no mappings were given)."""
        if not self.mapping_sources:
            return None
        total = len(self.mapping_sources)
        default = [n for n, src in self.mapping_sources.items() if src == FROM_DEFAULT]
        replaced = [n for n, src in self.mapping_sources.items() if src == FROM_OPTIONS]
        fp = self.target.timing_fingerprint()
        parts = []
        where = f"target {self.target.name} (timing fingerprint {fp})"
        if self.database_fingerprints is not None and fp not in self.database_fingerprints:
            have = ", ".join(self.database_fingerprints)
            tuned = (
                f"it has entries for fingerprint(s) {have} only (tuned for other hardware, "
                "e.g. with other --set overrides?)"
                if have
                else "it has no entries"
            )
            parts.append(
                f"{database} has no entry for {where}; {tuned}; all {total} layers use the "
                "default mapping"
            )
        elif default:
            scope = f" for {where}" if self.database_fingerprints is not None else ""
            parts.append(
                f"{len(default)} of {total} layers are not in {database}{scope}; they use the "
                f"default mapping: {_name_list(default, limit)}"
            )
        if replaced:
            parts.append(
                f"pass options replace the mapping from {database} for {len(replaced)} of "
                f"{total} layers: {_name_list(replaced, limit)}"
            )
        if self.database_cost_mismatches:
            parts.append(
                f"{len(self.database_cost_mismatches)} entries of {database} were tuned with "
                "other energy/clock fields than this target's: their cycles hold, an "
                "energy-tuned entry may not be this target's energy optimum"
            )
        return "; ".join(parts) if parts else None


def _name_list(names: Sequence[str], limit: int) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names) - limit} more)"


def _resolve_mappings(
    mappings: Any, target: Target, objective: str = "latency"
) -> tuple[dict[str, Any] | None, list[str] | None, list[str]]:
    """(the dict `compile_module` takes, the DB's timing fingerprints or None, the signatures
    whose entries were tuned with other cost fields) of `mappings`: a path to a database file
    (or to an older plain layer-name JSON), a MappingDB, or a plain dict."""
    from tuner.db import FORMAT, MappingDB, read_mappings

    if mappings is None:
        return None, None, []
    if isinstance(mappings, str | Path):
        mappings = read_mappings(mappings)
    elif isinstance(mappings, Mapping) and "format" in mappings:
        mappings = MappingDB.from_json(dict(mappings))
    if isinstance(mappings, MappingDB):
        return (
            mappings.for_target(target, objective),
            mappings.fingerprints(),
            mappings.cost_mismatches(target, objective),
        )
    if isinstance(mappings, Mapping):
        return dict(mappings), None, []
    raise AccelflowError(
        f"mappings must be a path, a MappingDB or a dict, not {type(mappings).__name__} "
        f'(a database file has "format": "{FORMAT}")'
    )


def _record_layer_mappings(module: ModuleOp, seen: LayerMappings) -> None:
    """Note each accelerator layer's shape and mapping as the stage left it: the latest mapping
    of an accel.conv2d / accel.matmul (after accel-map), else that of its accel.tiled."""
    from compiler.passes.common import layer_shape, tiled_mapping
    from dialects import accel

    for op in module.walk():
        if not isinstance(op, accel.Conv2DOp | accel.MatmulOp | accel.TiledOp):
            continue
        name = op.layer_name.data
        known = seen.get(name, (None, None))[1] is not None
        if isinstance(op, accel.TiledOp):
            if not known:  # tiled without a mapped stage before (no accel-map in the pipeline)
                seen[name] = (layer_shape(op), tiled_mapping(op).to_dict())
        elif op.mapping is not None:
            seen[name] = (layer_shape(op), op.mapping.as_dict())
        elif not known:
            seen[name] = (layer_shape(op), None)


def _mapping_sources(seen: LayerMappings, database: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Layer name -> "database" | "default" | "options" (see CompileResult.mapping_sources);
    `database` as the compiler read it (the module's `accel.mappings`)."""
    from compiler import tiling
    from compiler.passes.common import database_mapping

    sources = {}
    for name, (shape, used) in seen.items():
        entry = database_mapping(database, name, shape)
        if entry is None:
            sources[name] = FROM_DEFAULT
        elif used is not None and tiling.Mapping.from_dict(used).normalized(
            shape
        ) == tiling.Mapping.from_dict(entry[1]).normalized(shape):
            sources[name] = FROM_DATABASE
        else:
            sources[name] = FROM_OPTIONS
    return sources


def _load_model(model: ModelLike) -> onnx.ModelProto:
    from compiler.importer import load_model

    return load_model(model)


def _elide_large_constants(text: str, limit: int = 512) -> str:
    """Replace hex blobs of large constants, and the handles of constants held in the compile's
    pool (compiler/constant_pool.py), by MLIR's `dense_resource<__elided__>`."""
    import re

    text = re.sub(r"dense_resource<[^>]*>", "dense_resource<__elided__>", text)
    return re.sub(rf'dense<"0x[0-9A-F]{{{limit},}}">', "dense_resource<__elided__>", text)


def compile(
    model: ModelLike,
    target: str | Path | Target = "tpu-like",
    overrides: Sequence[str] = (),
    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
    passes: str | None = None,
    mappings: str | Path | MappingDB | Mapping[str, Any] | None = None,
    keep_ir: bool = False,
    elide_constants: bool = True,
    objective: str = "latency",
) -> CompileResult:
    """Import an ONNX model and lower it to a Program for `target` (preset, YAML or Target).

    `mappings`: a mapping database (a path to its JSON file, or a `tuner.db.MappingDB`), whose
    entries for this target's timing fingerprint the layers use by signature (per signature
    the entry tuned for `objective`, else another: `MappingDB.for_target`); or a plain dict
    layer name (or signature) -> mapping dict. Layers without an entry get the default mapping;
    `CompileResult.mapping_sources` and `.mapping_notice()` say which.

    Large constants are held once, the IR carrying handles (compiler/constant_pool.py), unless
    the IR is kept with its constants (`keep_ir` and not `elide_constants`)."""
    import contextlib

    from compiler import constant_pool

    with contextlib.nullcontext() if keep_ir and not elide_constants else constant_pool.scope():
        return _compile(
            model, target, overrides, input_shapes, passes, mappings, keep_ir, elide_constants,
            objective,
        )  # fmt: skip


def _compile(
    model: ModelLike,
    target: str | Path | Target,
    overrides: Sequence[str],
    input_shapes: Mapping[str, tuple[int, ...]] | None,
    passes: str | None,
    mappings: str | Path | MappingDB | Mapping[str, Any] | None,
    keep_ir: bool,
    elide_constants: bool,
    objective: str = "latency",
) -> CompileResult:
    from compiler.assembler import assemble
    from compiler.importer import import_onnx
    from compiler.passes.common import module_mappings
    from compiler.pipeline import DEFAULT_PASSES, compile_module

    tgt = load_target(target, list(overrides))
    database, fingerprints, cost_mismatches = _resolve_mappings(mappings, tgt, objective)
    layers: LayerMappings = {}
    compiled_database: list[dict[str, dict[str, Any]]] = [{}]
    seconds: dict[str, float] = {}
    stages: dict[str, str] = {}
    t0 = time.perf_counter()
    from compiler.import_model import load_lean

    module = import_onnx(load_lean(model), dict(input_shapes) if input_shapes else None)
    seconds["import"] = time.perf_counter() - t0

    def keep(stage: str, mod: Any) -> None:
        if keep_ir:
            text = str(mod)
            stages[stage] = _elide_large_constants(text) if elide_constants else text

    keep("onnx", module)
    last = [time.perf_counter()]

    def on_stage(name: str, mod: Any) -> None:
        now = time.perf_counter()
        seconds[name] = now - last[0]
        keep(name, mod)
        if database is not None:
            _record_layer_mappings(mod, layers)
            compiled_database[0] = module_mappings(mod) or compiled_database[0]
        last[0] = time.perf_counter()

    module = compile_module(
        module, tgt, passes=passes or DEFAULT_PASSES, mappings=database, on_stage=on_stage
    )
    t0 = time.perf_counter()
    program = assemble(module)
    seconds["assemble"] = time.perf_counter() - t0
    return CompileResult(
        program=program,
        target=tgt,
        stages=stages,
        seconds=seconds,
        mapping_sources=_mapping_sources(layers, compiled_database[0])
        if database is not None
        else {},
        database_fingerprints=fingerprints,
        database_cost_mismatches=cost_mismatches,
    )


# The passes left to run after each stage `compile -o` writes (DEFAULT_PASSES, in order).
_AFTER = {
    "onnx": "onnx-to-accel,accel-fuse,accel-map,accel-tile,accel-emit,accel-isa-verify",
    "accel": "accel-fuse,accel-map,accel-tile,accel-emit,accel-isa-verify",
    "mapped": "accel-tile,accel-emit,accel-isa-verify",
    "tiled": "accel-emit,accel-isa-verify",
    "isa": "accel-isa-verify",
}


def ir_stage(module: Any) -> str:
    """Which stage a module is at: "onnx" (onnx ops left), "accel" (layers not mapped),
    "mapped" (layers mapped, not tiled), "tiled" (tile nests not emitted) or "isa" (emitted)."""
    from dialects import accel

    names = {op.name for op in module.walk()}
    if any(n.startswith("onnx.") and n != "onnx.NoValue" for n in names):
        return "onnx"
    layers = [op for op in module.walk() if isinstance(op, accel.Conv2DOp | accel.MatmulOp)]
    if any(op.mapping is None for op in layers):
        return "accel"
    if layers:
        return "mapped"
    if any(isinstance(op, accel.TiledOp) for op in module.walk()):
        return "tiled"
    return "isa"


def compile_ir(
    path: str | Path,
    target: str | Path | Target | None = None,
    overrides: Sequence[str] = (),
    mappings: str | Path | MappingDB | Mapping[str, Any] | None = None,
    objective: str = "latency",
) -> CompileResult:
    """A `.mlir` file of any stage (`compile -o` writes one per pass) compiled the rest of the
    way. `target` (or `overrides`) replaces the module's own with a warning (`accel-retarget`);
    without them the module's target is used (tpu-like when it has none)."""
    from xdsl.parser import Parser
    from xdsl.utils.exceptions import DiagnosticException, ParseError, VerifyException

    from compiler.assembler import assemble
    from compiler.passes.common import TARGET_ATTR, module_target
    from compiler.pipeline import compile_module, diagnostic_line, make_context

    path = existing_file(path, InputError)
    try:
        text = path.read_text(encoding="utf-8")
        module = Parser(make_context(), text, str(path)).parse_module()
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot be read as MLIR text ({err})") from None
    except (ParseError, VerifyException) as err:
        raise InputError(f"{path}: not MLIR accelflow can parse: {diagnostic_line(err)}") from None
    own = module_target(module) if TARGET_ATTR in module.attributes else None
    if target is not None or overrides or own is None:
        tgt = target if isinstance(target, Target) else None
        tgt = tgt or load_target(target or "tpu-like", list(overrides))
    else:
        tgt = own
    stage = ir_stage(module)
    if own is not None and own.to_dict() != tgt.to_dict():
        kept = (
            f"; its layers keep the mappings chosen for {own.name} (give the onnx or "
            f"onnx-to-accel stage for {tgt.name}'s own)"
            if stage not in ("onnx", "accel")
            else ""
        )
        warnings.warn(
            f"{path}: target {tgt.name} replaces the module's target {own.name}{kept}",
            stacklevel=2,
        )
    database, fingerprints, cost_mismatches = _resolve_mappings(mappings, tgt, objective)
    if database is not None and stage not in ("onnx", "accel"):
        warnings.warn(
            f"{path}: the layers are mapped already ({stage} stage): --mappings is not used",
            stacklevel=2,
        )
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    try:
        module = compile_module(module, tgt, passes=_AFTER[stage], mappings=database)
        program = assemble(module)
    except (VerifyException, DiagnosticException, KeyError, ValueError, TypeError) as err:
        if isinstance(err, AccelflowError):
            raise
        # IR edited by hand into something the passes cannot read: the user's file, not ours
        raise InputError(
            f"{path}: the {stage} stage does not hold what the passes after it need "
            f"({type(err).__name__}: {first_line(err)}); fix the IR or compile the model again"
        ) from err
    seconds["passes"] = time.perf_counter() - t0
    if program.elided_constants:
        dense = (
            f"; {tgt.name} counts their weight tiles as dense (the cycles of an unpruned model)"
            if tgt.family.uses_weights
            else ""
        )
        folds = (
            ", and folds that need their values (a Gemm's transB, BatchNorm) run on the host "
            "instead"
            if stage == "onnx"
            else ""
        )
        warnings.warn(
            f"{path}: {len(program.elided_constants)} constants were elided from it (`compile "
            f"-o` without --keep-weights): outputs cannot be computed{folds}{dense}",
            stacklevel=2,
        )
    return CompileResult(
        program=program, target=tgt, seconds=seconds, database_fingerprints=fingerprints,
        database_cost_mismatches=cost_mismatches,
    )  # fmt: skip


def load_program(folder: str | Path, target: str | Path | Target | None = None,
                 overrides: Sequence[str] = ()) -> CompileResult:  # fmt: skip
    """A program `compile -o DIR` saved (program.json + program.npz), with the target it was
    compiled for (`target`/`overrides` replace it with a warning: its tiles were chosen for
    the other one)."""
    import zipfile

    from simulator.target import make_target

    try:
        program = Program.load(folder)
    except AccelflowError:
        raise
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as err:
        raise InputError(
            f"{folder}: not a program `accelflow compile -o` wrote ({type(err).__name__}: "
            f"{first_line(err)})"
        ) from None
    own = make_target(program.target) if program.target else None
    if target is not None or overrides or own is None:
        tgt = target if isinstance(target, Target) else None
        tgt = tgt or load_target(target or "tpu-like", list(overrides))
        if own is not None and own.to_dict() != tgt.to_dict():
            from compiler.legality import check_program

            check_program(program, tgt)  # another family, tiles beyond its buffers: an error
            warnings.warn(
                f"{folder}: compiled for {own.name}, simulated on "
                f"{tgt.name_against(own.to_dict())}: its tiles and "
                "instructions were chosen for the first",
                stacklevel=2,
            )
    else:
        tgt = own
    return CompileResult(program=program, target=tgt)


def random_inputs(program: Program, seed: int = 0) -> dict[str, np.ndarray]:
    """Inputs the model can take (`simulator.inputs.random_inputs`: float32 normal, token ids
    within their embedding, masks all True)."""
    from simulator.inputs import random_inputs as sample

    checked_number(seed, "seed", minimum=0, maximum=MAX_SEED)
    return sample(program, int(seed))


def read_inputs(path: str | Path, program: Program) -> dict[str, np.ndarray]:
    """Inputs from a .npy (the single graph input) or .npz (by input name, or arr_0.. in order)."""
    path = existing_file(path, InputError)
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as err:
        raise InputError(f"{path}: not a .npy/.npz file ({type(err).__name__})") from None
    if isinstance(data, np.ndarray):
        if len(program.inputs) != 1:
            raise InputError(
                f"{path}: a .npy holds one array but the model has inputs {program.inputs}; use .npz"
            )
        arrays = {program.inputs[0]: data}
    else:
        keys = list(data.keys())
        if all(k in program.inputs for k in keys):
            arrays = {k: data[k] for k in keys}
        elif all(k.startswith("arr_") for k in keys):
            arrays = dict(zip(program.inputs, (data[k] for k in sorted(keys)), strict=False))
        else:
            unknown = [k for k in keys if k not in program.inputs]
            raise InputError(
                f"{path}: '{unknown[0]}' is not a model input (inputs: {program.inputs})"
            )
    for name in program.inputs:
        if name not in arrays:
            raise InputError(f"{path}: no array for model input '{name}'")
        want = tuple(program.tensors[name])
        if tuple(arrays[name].shape) != want:
            raise InputError(
                f"{path}: input '{name}' has shape {list(arrays[name].shape)}, the model expects {list(want)}"
            )
    from simulator.inputs import InputError as BadInputs
    from simulator.inputs import coerce_inputs

    try:  # each to its input's dtype (float32, int64 token ids, bool masks)
        return coerce_inputs(program, arrays, str(path))
    except BadInputs as err:
        raise InputError(str(err)) from None


def simulate(
    program: Program,
    target: Target | None = None,
    functional: bool = False,
    inputs: Mapping[str, np.ndarray] | None = None,
    fast_forward: bool = True,
) -> Any:
    """Run a Program: timing statistics, and with `functional` (or `inputs` given) the output
    tensors too. `fast_forward` False: time every instruction in the full scan instead of
    jumping repeating tile loops (the same numbers, slower: simulator/fastforward.py). On a
    `target` other than its own, the program must be legal there (`legality.check_program`: the
    same family, tiles that fit its buffers; else MappingError)."""
    from compiler.legality import check_program
    from simulator.run import simulate as run

    if target is not None:
        check_program(program, target)
    functional = functional or inputs is not None
    if functional and inputs is None:
        inputs = random_inputs(program)
    return run(
        program,
        target,
        functional=functional,
        inputs=dict(inputs) if inputs else None,
        fast_forward=fast_forward,
    )


def simulate_many(
    programs: Program | Sequence[Program],
    targets: Target | str | Sequence[Target | str | None] | None = None,
    fast_forward: bool = True,
) -> list[Any]:
    """Timing of many (program, target) pairs: `ModelStats` per pair, the same numbers as
    `simulate(program, target).stats` one by one (`simulator.run.simulate_many`: one program and
    many targets, many programs and one target, or two lists of one length; `fast_forward`
    False: the full scan in a few compiled `vmap` calls). A target may be a Target, a preset
    name or a YAML file; each program must be legal on the targets it is paired with
    (`legality.check_program`, as `simulate`)."""
    from compiler.legality import check_program
    from simulator.run import pairs
    from simulator.run import simulate_many as run_many

    def resolve(t: Target | str | None) -> Target | None:
        return load_target(t) if isinstance(t, str) else t

    if targets is None or isinstance(targets, Target | str):
        resolved: Target | list[Target | None] | None = resolve(targets)
    else:
        resolved = [resolve(t) for t in targets]
    for program, target in zip(*pairs(programs, resolved), strict=True):
        if not isinstance(program, Program):
            raise AccelflowError(
                f"simulate_many takes compiled programs (accelflow.compile(model).program), "
                f"not {type(program).__name__}"
            )
        if target is not None:
            check_program(program, target)
    return run_many(programs, resolved, fast_forward=fast_forward)


ONNX_REFERENCE = "onnx.reference"
ONNXRUNTIME = "onnxruntime"
REFERENCES = ("auto", "onnx", "onnxruntime")  # check(reference=...)
# The default tolerance of `check` and `simulate --check`: |ours - ref| <= rtol * max|ref| per
# output. Measured (random inputs, seed 0) for every model in accelflow.models.MODELS on every
# preset target (`accelflow targets`): the worst relative error is 2.3e-06 against onnx.reference
# and 2.5e-06 against onnxruntime (alexnet; resnet18 9.6e-07, the small models <= 7.1e-07; the
# two references differ from each other by up to 8.4e-07). float32 sums in another order drift
# further with depth and reduction length (deeper models, larger inputs): 1e-3 is ~400x that.
DEFAULT_RTOL = 1e-3


class ReferenceUnavailable(AccelflowError):
    """No reference could run the model (`check`): the ONNX reference evaluator raised and
    onnxruntime is not installed or raised too. `simulate --check` exits 3."""

    exit_code = 3


@dataclass
class CheckReport:
    """Per graph output: the worst absolute error and the reference's scale.

    `reference` names what the outputs were compared with: "onnx.reference" or
    "onnxruntime <version>"; `fallback` says why it is not onnx.reference (the evaluator's
    exception, shortened), else None."""

    errors: dict[str, tuple[float, float]]
    rtol: float
    reference: str = ONNX_REFERENCE
    fallback: str | None = None
    # Per output with non-finite values (NaN, inf) on either side: what each side holds. Where
    # both hold the same ones at the same places, the finite rest is compared; else the output
    # fails (its error is inf).
    nonfinite: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(err <= self.rtol * max(scale, 1e-6) for err, scale in self.errors.values())

    def worst(self) -> tuple[str, float]:
        name = max(self.errors, key=lambda k: self.errors[k][0] / max(self.errors[k][1], 1e-6))
        err, scale = self.errors[name]
        return name, err / max(scale, 1e-6)


def describe_exception(err: BaseException, limit: int = 160) -> str:
    """`Type: message` on one line, the message's first line cut to about `limit` characters."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    message = lines[0] if lines else ""
    if len(lines) > 1 or len(message) > limit:
        message = message[:limit].rstrip() + " ..."
    return f"{type(err).__name__}: {message}" if message else type(err).__name__


def reference_outputs(
    model: ModelLike, inputs: Mapping[str, np.ndarray], output_names: Sequence[str]
) -> dict[str, np.ndarray]:
    """The ONNX reference run (onnx.reference.ReferenceEvaluator), independent of our code."""
    from onnx.reference import ReferenceEvaluator

    evaluator = ReferenceEvaluator(_load_model(model))
    results = evaluator.run(list(output_names), dict(inputs))
    return dict(zip(output_names, results, strict=True))


def onnxruntime_version() -> str | None:
    """The installed onnxruntime's version, or None when it cannot be imported."""
    try:
        import onnxruntime
    except Exception:
        return None
    return str(onnxruntime.__version__)


def onnxruntime_outputs(
    model: ModelLike, inputs: Mapping[str, np.ndarray], output_names: Sequence[str]
) -> dict[str, np.ndarray]:
    """The model run by onnxruntime on the CPU, graph optimisations off (a second reference)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3  # errors only: no warnings on stderr
    source = str(model) if isinstance(model, str | Path) else _load_model(model).SerializeToString()
    session = onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}
    feeds = {name: np.asarray(value) for name, value in inputs.items() if name in wanted}
    results = session.run(list(output_names), feeds)
    return dict(zip(output_names, results, strict=True))


def run_reference(
    model: ModelLike,
    inputs: Mapping[str, np.ndarray],
    output_names: Sequence[str],
    reference: str = "auto",
) -> tuple[dict[str, np.ndarray], str, str | None]:
    """(the reference outputs, which reference ran, why onnx.reference did not or None).

    `reference`: "onnx" (onnx.reference only), "onnxruntime" (onnxruntime only) or "auto"
    (onnx.reference; when it raises, onnxruntime). `ReferenceUnavailable` when none could run,
    its message naming each failure on one line."""
    if reference not in REFERENCES:
        raise AccelflowError(f"reference must be one of {', '.join(REFERENCES)}, not {reference!r}")
    # A bad model file is the user's mistake (exit 2), not the reference's.
    proto = _load_model(model)
    failures: list[str] = []
    if reference in ("auto", "onnx"):
        try:
            return reference_outputs(proto, inputs, output_names), ONNX_REFERENCE, None
        except Exception as err:  # the evaluator's own bugs and gaps: any type
            failures.append(f"{ONNX_REFERENCE} failed ({describe_exception(err)})")
    if reference in ("auto", "onnxruntime"):
        version = onnxruntime_version()
        if version is None:
            failures.append(f"{ONNXRUNTIME} is not installed")
        else:
            # From the file when there is one (external data lies beside it).
            source = model if isinstance(model, str | Path) else proto
            try:
                outputs = onnxruntime_outputs(source, inputs, output_names)
            except Exception as err:
                failures.append(f"{ONNXRUNTIME} {version} failed ({describe_exception(err)})")
            else:
                return outputs, f"{ONNXRUNTIME} {version}", (failures[0] if failures else None)
    raise ReferenceUnavailable(f"the reference could not run: {'; '.join(failures)}")


def check(
    model: ModelLike,
    inputs: Mapping[str, np.ndarray],
    outputs: Mapping[str, np.ndarray],
    rtol: float = DEFAULT_RTOL,
    on_reference: Callable[[], None] | None = None,
    *,
    reference: str = "auto",
) -> CheckReport:
    """Compare `outputs` with a reference run: |ours - ref| <= rtol * max|ref| per output.

    The reference is onnx.reference.ReferenceEvaluator; with `reference="auto"` (the default),
    when it raises (a bug of the evaluator, an op it does not implement) onnxruntime instead,
    `CheckReport.fallback` saying why. `reference="onnx"` or `"onnxruntime"` uses only that one.
    Raises `ReferenceUnavailable` (an AccelflowError, exit code 3) when no reference can run.
    `on_reference`, when given, is called before the reference runs."""
    checked_number(rtol, "rtol", minimum=0)
    names = list(outputs)
    if on_reference is not None:
        on_reference()
    ref, used, fallback = run_reference(model, inputs, names, reference)
    errors, nonfinite = {}, {}
    for name in names:
        ours = np.asarray(outputs[name], dtype=np.float64)
        want = np.asarray(ref[name], dtype=np.float64)
        if ours.shape != want.shape:
            errors[name] = (float("inf"), 1.0)
            continue
        finite = np.isfinite(ours) & np.isfinite(want)
        if not finite.all():
            same = np.array_equal(ours[~finite], want[~finite], equal_nan=True)
            same = same and np.array_equal(np.isfinite(ours), np.isfinite(want))
            nonfinite[name] = (
                f"{int((~np.isfinite(ours)).sum())} non-finite value(s) in ours, "
                f"{int((~np.isfinite(want)).sum())} in the reference"
                + (", at the same places (the finite rest compared)" if same else "")
            )
            if not same:
                errors[name] = (float("inf"), 1.0)
                continue
            ours, want = ours[finite], want[finite]
        errors[name] = (
            float(np.max(np.abs(ours - want), initial=0.0)),
            float(np.max(np.abs(want), initial=0.0)),
        )
    return CheckReport(
        errors=errors, rtol=rtol, reference=used, fallback=fallback, nonfinite=nonfinite
    )


def first_nonfinite(tensors: Mapping[str, np.ndarray]) -> str | None:
    """The first of `tensors` (floating point) holding NaN or inf, said in a few words (its name,
    how many, the first index), or None when all are finite."""
    for name, value in tensors.items():
        value = np.asarray(value)
        if not np.issubdtype(value.dtype, np.floating):
            continue
        bad = ~np.isfinite(value)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            return (
                f"'{name}' holds {int(bad.sum())} non-finite value(s) "
                f"({value[first]} at index {list(first)})"
            )
    return None


def model_weights(model: ModelLike) -> dict[str, np.ndarray]:
    """The model's initializers as arrays (for `first_nonfinite`)."""
    from onnx import numpy_helper

    return {t.name: numpy_helper.to_array(t) for t in _load_model(model).graph.initializer}


def tune(
    model: str | Path,
    target: str | Path | Target = "tpu-like",
    db: str | Path | None = None,
    log: str | Path | None = None,
    strategy: str = "evolutionary",
    budget: int = 2000,
    seed: int = 0,
    executor: str = "inprocess",
    *,
    overrides: Sequence[str] = (),
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    hw: bool = False,
    hw_budget: int | None = None,
    pe_budget: int | None = None,
    buffer_kib_budget: float | None = None,
    verify: bool = True,
    on_progress: ProgressFn | None = None,
    **options: Any,
) -> TuneResult:
    """Tune every accelerator layer's mapping (`tuner.session.TuneSession`, `accelflow tune`);
    the database at `db` is what `compile(..., mappings=db)` reads, the log at `log` (None:
    none) what `tuner.tune.resume` goes on from. `options`: the other `tuner.tune.TuneConfig`
    fields (top_k, batch, objective, axes, max_tiles, time_limit).

    `hw=True` searches the target's tunable parameters first (`tuner.hardware`: at most
    `hw_budget` points, default 64, within `pe_budget` PEs and `buffer_kib_budget` KiB of
    buffers, both by default the target's), then tunes the mappings of the best; `result.target`
    is that hardware (written to `DB_STEM.target.yaml` beside the database).

    Then (`verify`) the model is compiled with the database (or, without one, the tuned
    mappings) and simulated: `result.verification` (`tuner.session.Verification`) says whether
    every tuned layer runs in the cycles the tuner reported; when not, `VerificationWarning`.
    Returns a `tuner.tune.TuneResult`."""
    from tuner.session import TuneSession
    from tuner.tune import TuneConfig

    session = TuneSession.new(
        model, db, target=target, overrides=overrides, input_shapes=input_shapes,
        config=TuneConfig(strategy=strategy, budget=budget, seed=seed, **options),
        log=log if log is not None else False, executor=executor, hw=hw,
        hw_budget=hw_budget, pe_budget=pe_budget, buffer_kib_budget=buffer_kib_budget,
    )  # fmt: skip
    outcome = session.run(on_progress)
    if verify:
        verification = session.verify(outcome, compile_and_simulate)
        if not verification.ok:
            where = db if db is not None else "the tuned mappings"
            warnings.warn(verification.failure(where), VerificationWarning, stacklevel=2)
    return outcome.result


def compile_and_simulate(
    model: ModelLike,
    target: str | Path | Target,
    mappings: str | Path | MappingDB | Mapping[str, Any],
    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
    objective: str = "latency",
) -> CompiledCycles:
    """`model` compiled with `mappings` and simulated: every layer's cycles and where each
    accelerator layer's mapping came from (what `TuneSession.verify` compares)."""
    from tuner.session import CompiledCycles

    compiled = compile(
        model, target=target, input_shapes=input_shapes, mappings=mappings, objective=objective
    )
    stats = simulate(compiled.program, compiled.target).stats
    return CompiledCycles(
        cycles={layer.name: int(layer.cycles) for layer in stats.layers},
        mapping_sources=dict(compiled.mapping_sources),
        total_cycles=int(stats.cycles),
    )
