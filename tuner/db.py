"""The mapping database: tuned mappings kept for ahead-of-time compilation.

    db = MappingDB.load("maps.json")            # or MappingDB() for a new one
    db.put(shape, target, mapping, cycles=1234, default_cycles=5678, layers=["/conv1/Conv"])
    db.save("maps.json")                        # atomic: a temporary file, fsync, rename
    db.lookup(shape, target)                    # the Mapping, or None

    accelflow compile MODEL --target T --mappings maps.json

An entry is keyed by the layer's signature (`tiling.LayerShape.signature`: kind, loop extents,
stride, dilation, pads, input size, bias) and the target's fingerprint (`Target.fingerprint()`:
every hardware field but the name and the default dataflow), so one database serves every model
with the same layer on the same hardware, whatever the layers are called. The file is plain JSON:

    {"format": "accelflow-mappings", "version": 1,
     "targets": {FINGERPRINT: {target fields}},          # the hardware each entry was tuned for
     "entries": {"SIGNATURE @ FINGERPRINT": {"signature": ..., "target": FINGERPRINT,
                  "mapping": {Mapping.to_dict()}, "cycles": ..., ...}}}

Anything else an entry carries (simulated cycles, the default's cycles, the strategy, the
evaluations spent, the layer names it was tuned under) is information for people and scripts;
only "mapping" is used to compile.

Compiling with a database (`accelflow.api.compile(mappings=...)`) hands `for_target(target)`
(signature -> mapping) to the compiler, whose `accel-map` looks each layer up by its name, then
by its signature; a layer with no entry gets the default mapping and the CLI says which ones.
`read_mappings` also accepts the older plain JSON object layer name -> mapping (optionally under
"layers"), which is not keyed by target.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.tiling import LayerShape, Mapping, MappingError
from simulator.errors import AccelflowError
from simulator.target import Target

FORMAT = "accelflow-mappings"
VERSION = 1


class DatabaseError(AccelflowError):
    """A mapping database that cannot be read: missing, not JSON, or not in this format."""


def entry_key(signature: str, fingerprint: str) -> str:
    return f"{signature} @ {fingerprint}"


def write_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` so that a reader (or a crash) sees the old file or the new one,
    never a partial one: a temporary file in the same folder, fsync, then rename over."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class MappingDB:
    """Tuned mappings keyed by layer signature + target fingerprint (see the module docstring)."""

    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)

    # -- reading --------------------------------------------------------------------------------

    @staticmethod
    def load(path: str | Path) -> MappingDB:
        return MappingDB.from_json(_read_json(path), str(path))

    @staticmethod
    def from_json(data: Any, where: str = "mapping database") -> MappingDB:
        if not isinstance(data, dict) or "format" not in data:
            raise DatabaseError(
                f'{where}: not an accelflow mapping database (no "format": "{FORMAT}")'
            )
        if data["format"] != FORMAT:
            raise DatabaseError(
                f'{where}: not an accelflow mapping database ("format" is '
                f'{data["format"]!r}, expected "{FORMAT}")'
            )
        if data.get("version") != VERSION:
            raise DatabaseError(
                f"{where}: database version {data.get('version')!r}, this accelflow reads {VERSION}"
            )
        entries = data.get("entries", {})
        if not isinstance(entries, dict):
            raise DatabaseError(f'{where}: "entries" is not an object')
        targets = data.get("targets", {})
        if not isinstance(targets, dict):
            raise DatabaseError(f'{where}: "targets" is not an object')
        for key, entry in entries.items():
            if not isinstance(entry, dict) or "mapping" not in entry:
                raise DatabaseError(f"{where}: entry '{key}' has no mapping")
            for name in ("signature", "target"):
                if not isinstance(entry.get(name), str):
                    raise DatabaseError(f"{where}: entry '{key}' has no \"{name}\" string")
            _check_mapping_dict(entry["mapping"], f"{where}: entry '{key}'")
        return MappingDB(dict(entries), dict(targets))

    def lookup(self, shape: LayerShape, target: Target) -> Mapping | None:
        entry = self.entries.get(entry_key(shape.signature, target.fingerprint()))
        return None if entry is None else Mapping.from_dict(entry["mapping"])

    def for_target(self, target: Target) -> dict[str, dict[str, Any]]:
        """signature -> mapping dict, for the entries tuned on `target` (what compile uses)."""
        fp = target.fingerprint()
        return {
            e["signature"]: e["mapping"] for e in self.entries.values() if e.get("target") == fp
        }

    def fingerprints(self) -> list[str]:
        return sorted({str(e.get("target")) for e in self.entries.values()})

    def __len__(self) -> int:
        return len(self.entries)

    # -- writing --------------------------------------------------------------------------------

    def put(self, shape: LayerShape, target: Target, mapping: Mapping, **info: Any) -> None:
        """Add or replace the entry of `shape` on `target` (`info`: JSON-able extras)."""
        fp = target.fingerprint()
        self.targets.setdefault(fp, target.to_dict())
        entry = {"signature": shape.signature, "target": fp, "mapping": mapping.to_dict(), **info}
        # the keys lookups rely on win over extras of the same name
        entry.update(signature=shape.signature, target=fp, mapping=mapping.to_dict())
        self.entries[entry_key(shape.signature, fp)] = entry

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "targets": dict(sorted(self.targets.items())),
            "entries": dict(sorted(self.entries.items())),
        }

    def save(self, path: str | Path) -> None:
        write_atomic(path, json.dumps(self.to_json(), indent=1) + "\n")


def _read_json(path: str | Path) -> Any:
    """The JSON value in `path`; a missing, unreadable or malformed file is a DatabaseError."""
    path = Path(path)
    if not path.exists():
        raise DatabaseError(f"{path}: no such mapping database")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DatabaseError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
    except UnicodeDecodeError:
        raise DatabaseError(f"{path}: not valid JSON (not UTF-8 text)") from None
    except OSError as err:
        raise DatabaseError(f"{path}: cannot be read ({err.strerror})") from None


def _check_mapping_dict(mapping: Any, where: str) -> None:
    if not isinstance(mapping, dict):
        raise DatabaseError(f"{where}: the mapping is not an object")
    try:
        Mapping.from_dict(mapping)
    except MappingError as err:
        raise DatabaseError(f"{where}: {err}") from None


def read_mappings(path: str | Path) -> MappingDB | dict[str, dict[str, Any]]:
    """The mappings in a JSON file: a MappingDB (a file with "format"), or the older plain
    object layer name -> mapping (or -> a record holding one under "mapping"), optionally
    under "layers", returned as a dict. Anything else is a DatabaseError."""
    data = _read_json(path)
    if isinstance(data, dict) and "format" in data:
        return MappingDB.from_json(data, str(path))
    if isinstance(data, dict) and isinstance(data.get("layers"), dict):
        data = data["layers"]
    if not isinstance(data, dict):
        raise DatabaseError(
            f"{path}: not a mapping database (expected a JSON object with "
            f'"format": "{FORMAT}", got {type(data).__name__})'
        )
    layers: dict[str, dict[str, Any]] = {}
    for name, entry in data.items():
        where = f"{path}: layer '{name}'"
        if isinstance(entry, dict) and "mapping" in entry and "dataflow" not in entry:
            entry = entry["mapping"]
        if not isinstance(entry, dict):
            raise DatabaseError(
                f'{path}: not a mapping database (no "format": "{FORMAT}", and '
                f"'{name}' is not a layer's mapping)"
            )
        _check_mapping_dict(entry, where)
        layers[str(name)] = entry
    return layers
