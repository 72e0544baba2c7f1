"""Compiled programs kept between runs: `accelflow simulate` of a model it has compiled before
loads the program instead of compiling it again (no ONNX import, no passes).

An entry is keyed by the SHA-256 of everything the program depends on: the model file's bytes,
the resolved target (every field, after `--set`), the mapping database's bytes, `--passes` and
`--input-shape`, and the code (every `.py` file of accelflow's packages, the versions of xdsl,
onnx and numpy, and the plugin entry points installed). Anything changed is another key, so a
stale program is never used. A model that may keep its weights in external data files (its
bytes name a `location`) is not cached: those files are not in the key.

Folder: `ACCELFLOW_PROGRAM_CACHE` (`~/.cache/accelflow/programs` by default, `off` turns it
off; the CLI's `--program-cache DIR|off`). Entries are written to a temporary folder beside
and renamed into place, so a killed run leaves no half entry; the least recently used are
removed beyond `MAX_ENTRIES` entries or `MAX_BYTES` bytes. A cache that cannot be read or
written is skipped with a warning: it only saves time.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
import time
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simulator.cache_dirs import cache_folder
from simulator.program import Program, ProgramFormatError
from simulator.target import Target

ENV = "ACCELFLOW_PROGRAM_CACHE"
MAX_ENTRIES = 32
MAX_BYTES = 4 << 30
_PACKAGES = ("accelflow", "compiler", "dialects", "simulator", "tuner")
_VERSIONS = ("xdsl", "onnx", "numpy")
_ENTRY_POINTS = ("accelflow.passes", "accelflow.architectures")


def cache_dir() -> Path | None:
    return cache_folder(ENV, "programs")


@functools.cache
def code_fingerprint() -> str:
    """The SHA-256 of the code a program depends on (module docstring)."""
    digest = hashlib.sha256()
    for package in _PACKAGES:
        spec = importlib.util.find_spec(package)
        for root in (spec.submodule_search_locations or []) if spec else []:
            for path in sorted(Path(root).rglob("*.py")):
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    for name in _VERSIONS:
        try:
            digest.update(f"{name}={importlib.metadata.version(name)}".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{name}=none".encode())
    for group in _ENTRY_POINTS:
        for ep in sorted(importlib.metadata.entry_points(group=group), key=lambda e: e.name):
            dist = f"{ep.dist.name}={ep.dist.version}" if ep.dist else ""
            digest.update(f"{group}:{ep.name}={ep.value}@{dist}".encode())
    return digest.hexdigest()


def key(
    model: str | Path,
    target: Target,
    mappings: str | None,
    passes: str | None,
    input_shapes: Sequence[str] | None,
    objective: str = "latency",
) -> str | None:
    """The entry's key, or None when the model is not cached (external data, not a readable
    file: the compile then reports what is wrong with it)."""
    try:
        return _key(Path(model), target, mappings, passes, input_shapes, objective)
    except OSError:
        return None


def _key(
    path: Path,
    target: Target,
    mappings: str | None,
    passes: str | None,
    input_shapes: Sequence[str] | None,
    objective: str,
) -> str | None:
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as f:
        tail = b""
        while chunk := f.read(1 << 22):
            if b"location" in tail + chunk:  # may name an external data file
                return None
            tail = chunk[-16:]
            digest.update(chunk)
    options = {
        "target": target.to_dict(),
        "passes": passes,
        "input_shapes": list(input_shapes or []),
        "objective": objective,
        "mappings": (
            hashlib.sha256(Path(mappings).read_bytes()).hexdigest()
            if mappings and Path(mappings).is_file()
            else mappings
        ),
        "code": code_fingerprint(),
    }
    digest.update(json.dumps(options, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def load(entry: str) -> tuple[Program, dict[str, Any]] | None:
    """The program and metadata of an entry, or None (absent, unreadable: recompiled)."""
    folder = cache_dir()
    if folder is None or not (folder / entry / "meta.json").is_file():
        return None
    try:
        program = Program.load(folder / entry)
        meta = json.loads((folder / entry / "meta.json").read_text())
        os.utime(folder / entry)  # recently used
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, ProgramFormatError):
        return None  # a broken entry: compiled again
    return program, meta


def store(entry: str, program: Program, meta: dict[str, Any]) -> None:
    """Keep a program (atomically: a temporary folder beside, renamed), then trim the cache."""
    folder = cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry[:16]}-", dir=folder))
        try:
            program.save(tmp)
            (tmp / "meta.json").write_text(json.dumps(meta))
            os.replace(tmp, folder / entry)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not (folder / entry).is_dir():  # not another process's entry: a real failure
                raise
        _trim(folder)
    except OSError as err:
        warnings.warn(f"program cache off for this run: {folder}: {err}", stacklevel=2)


def _trim(folder: Path) -> None:
    entries = []
    for path in folder.iterdir():
        if path.name.startswith("."):
            if time.time() - path.stat().st_mtime > 3600:  # a killed run's leftover
                shutil.rmtree(path, ignore_errors=True)
            continue
        size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
        entries.append((path.stat().st_mtime, size, path))
    entries.sort(reverse=True)
    total = 0
    for index, (_, size, path) in enumerate(entries):
        total += size
        if index >= MAX_ENTRIES or total > MAX_BYTES:
            shutil.rmtree(path, ignore_errors=True)
