"""Export the mappings the compiler chose to the input formats of the peer tools.

    from accelflow.export import export
    result = export("model.onnx", "tpu-like", "scalesim", "out/", mappings="maps.json")
    result.files        # what was written
    result.notes        # what the format cannot express, one line each

    accelflow export MODEL --target T [--mappings DB] --format FORMAT -o DIR

Per distinct accelerator layer (layers of one signature share an entry, as in a mapping
database), the layer's shape and the mapping `accel-map` chose (from the database, else the
default heuristic) are handed to the format's writer, `accelflow.export.<format>.write(layers,
target, folder)`, which writes its files into `folder` and returns (files, notes). A note says
what the tool cannot express of a mapping (for example SCALE-Sim has no buffer tiles); the files
repeat it in a comment where the format has comments.

Writers never write over a file that exists unless `overwrite` is set, and never into a path that
is not a folder: the export is refused before anything is written.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from simulator.errors import AccelflowError
from simulator.target import Target, load_target
from simulator.workload import LayerShape, Mapping

FORMATS = ("scalesim", "stonne", "zigzag", "timeloop", "maestro")


class ExportError(AccelflowError):
    """An export that cannot be written (bad format, output folder, unsupported target)."""


@dataclass(frozen=True)
class ExportLayer:
    """One distinct accelerator layer: its shape, the mapping the compiler chose, the names of
    the model's layers that share it (the first is the one files are named after)."""

    names: tuple[str, ...]
    shape: LayerShape
    mapping: Mapping
    # The share of the weights that are zero, when they are constants of the model (None: not
    # known, e.g. a matmul of two activations or elided weights).
    weight_zeros: float | None = None

    @property
    def name(self) -> str:
        return self.names[0]

    @property
    def file_stem(self) -> str:
        """The layer's name as a file name: letters, digits, '-', '_' and '.' kept."""
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.name).strip("._")
        return stem or "layer"


@dataclass
class ExportResult:
    format: str
    folder: Path
    layers: list[ExportLayer]
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    target: str = ""  # the target's name


def padded_to_tiles(layer: ExportLayer) -> tuple[Mapping, dict[str, int], str | None]:
    """The layer's mapping (normalized: a tile per dim), its extents padded to whole buffer
    tiles (for the tools whose loop factors must divide), and a note naming the padded dims
    (None when every tile divides its dim)."""
    shape = layer.shape
    mapping = layer.mapping.normalized(shape)
    extents = {d: -(-shape.dims[d] // mapping.tiles[d]) * mapping.tiles[d] for d in shape.dim_names}
    padded = [
        f"{d} {shape.dims[d]} -> {extents[d]}"
        for d in shape.dim_names
        if extents[d] != shape.dims[d]
    ]
    note = (
        f"buffer tiles that do not divide their dims pad them to whole tiles ({', '.join(padded)})"
        if padded
        else None
    )
    return mapping, extents, note


def model_mappings(
    model: Any,
    target: Target,
    mappings: Any = None,
    input_shapes: dict[str, tuple[int, ...]] | None = None,
    objective: str = "latency",
) -> list[ExportLayer]:
    """The distinct accelerator layers of `model` on `target` with the mapping `accel-map`
    chooses for each (`mappings`: a database, its path, or a layer name -> mapping dict)."""
    from accelflow.api import _resolve_mappings
    from compiler import constant_pool
    from compiler.import_model import load_lean
    from compiler.importer import import_onnx
    from compiler.passes.accel_emit import constant_weights
    from compiler.passes.common import layer_shape, mapping_of
    from compiler.pipeline import compile_module
    from dialects import accel

    database, _, _ = _resolve_mappings(mappings, target, objective)
    layers: dict[str, ExportLayer] = {}
    with constant_pool.scope():
        module = import_onnx(load_lean(model), input_shapes)
        compile_module(module, target, passes="onnx-to-accel,accel-map", mappings=database)
        for op in module.walk():
            if isinstance(op, accel.Conv2DOp | accel.MatmulOp):
                assert op.mapping is not None
                _add_layer(layers, op.layer_name.data, layer_shape(op),
                           lambda op=op: (mapping_of(op.mapping), constant_weights(op)))  # fmt: skip
    return list(layers.values())


def _add_layer(
    layers: dict[str, ExportLayer],
    name: str,
    shape: LayerShape,
    entry: Callable[[], tuple[Mapping, np.ndarray | None]],
) -> None:
    """Layer `name` into `layers` (distinct shapes, by signature): a shape seen before takes its
    name; a new one its (mapping, weights) from `entry` and the weights' share of zeros (None
    without weights)."""
    if shape.signature in layers:
        known = layers[shape.signature]
        layers[shape.signature] = replace(known, names=(*known.names, name))
        return
    mapping, weights = entry()
    zeros = None if weights is None or not weights.size else float(np.mean(weights == 0))
    layers[shape.signature] = ExportLayer((name,), shape, mapping, zeros)


def program_mappings(program: Any) -> list[ExportLayer]:
    """The distinct accelerator layers of a compiled program with the mappings it was compiled
    with (its layers' shapes from `legality.program_layer_shape`; the weights' share of zeros
    where the program holds them)."""
    from compiler.legality import program_layer_shape

    layers: dict[str, ExportLayer] = {}
    for layer in program.layers:
        if layer.on_accel:
            _add_layer(layers, layer.name, program_layer_shape(program, layer),
                       lambda layer=layer: (Mapping.from_dict(layer.mapping),
                                            program.constants.get(layer.inputs[1])))  # fmt: skip
    return list(layers.values())


def output_folder(path: str | Path) -> Path:
    """The export's folder: created if missing; a path that exists and is not a folder is
    refused."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"-o {folder}: exists and is not a folder; give a folder to write into")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ExportError(
            f"-o {folder}: cannot create the folder ({err.strerror or err})"
        ) from None
    return folder


# The files the running export reads (model, mappings, target YAML): never written, even with
# `overwrite` (set by `export` while its writer runs).
_INPUTS: list[Path] = []


def write_text(path: Path, text: str, overwrite: bool = False) -> Path:
    """Write one export file (atomically); an existing file is refused unless `overwrite`, and
    a file the export reads is refused always."""
    from tuner.db import write_atomic

    for given in _INPUTS:
        if path.exists() and given.exists() and path.samefile(given):
            raise ExportError(f"{path} is an input of the export; refusing to overwrite it")
    if path.exists() and not overwrite:
        raise ExportError(f"{path} exists; refusing to overwrite it (use --overwrite)")
    try:
        write_atomic(path, text)
    except OSError as err:
        raise ExportError(f"{path}: cannot be written ({err.strerror or err})") from None
    return path


def export(
    model: Any,
    target: str | Path | Target | None,
    format: str,
    folder: str | Path,
    mappings: Any = None,
    input_shapes: dict[str, tuple[int, ...]] | None = None,
    overrides: Sequence[str] = (),
    overwrite: bool = False,
    objective: str = "latency",
) -> ExportResult:
    """Write `model`'s mappings on `target` in `format` (one of `FORMATS`) into `folder`.
    `model`: an ONNX model (mapped by `accel-map`: `mappings`, else the heuristic), a `.mlir`
    stage `compile -o` wrote (compiled the rest of the way) or its program folder (the mappings
    it was compiled with); `target` None: tpu-like, or the stage's or program's own."""
    if format not in FORMATS:
        raise ExportError(f"unknown export format '{format}' (one of {', '.join(FORMATS)})")
    writer = importlib.import_module(f"accelflow.export.{format}")
    path = Path(model) if isinstance(model, str | Path) else None
    if path is not None and (path.is_dir() or path.suffix == ".mlir"):
        from accelflow.api import compile_ir, load_program

        if path.is_dir():
            if mappings is not None or input_shapes:
                raise ExportError(
                    f"{path} is a compiled program: --mappings and --input-shape apply to a model"
                )
            compiled = load_program(path, target, overrides)
        else:
            if input_shapes:
                raise ExportError(f"{path}: --input-shape applies to an ONNX model")
            compiled = compile_ir(path, target, overrides, mappings, objective=objective)
        tgt, layers = compiled.target, program_mappings(compiled.program)
    else:
        tgt = (
            target
            if isinstance(target, Target) and not overrides
            else load_target(target or "tpu-like", list(overrides))
        )
        layers = model_mappings(model, tgt, mappings, input_shapes, objective)
    created = not Path(folder).exists()
    out = output_folder(folder)
    _INPUTS[:] = [Path(x) for x in (model, mappings, target) if isinstance(x, str | Path)]
    try:
        files, notes = writer.write(layers, tgt, out, overwrite=overwrite)
    except BaseException:
        if created and not any(out.iterdir()):  # refused before writing: leave no empty folder
            out.rmdir()
        raise
    finally:
        _INPUTS.clear()
    return ExportResult(format, out, layers, list(files), list(notes), tgt.name)
