"""The mapping database: tuned mappings kept for ahead-of-time compilation.

    db = MappingDB.load("maps.json")            # or MappingDB() for a new one
    db.put(shape, target, mapping, objective="latency", cycles=1234, default_cycles=5678,
           layers=["/conv1/Conv"])             # "added", "replaced" or "kept" (never worse)
    db.save("maps.json")                        # atomic: a temporary file, fsync, rename
    db.lookup(shape, target)                    # the Mapping, or None

    accelflow compile MODEL --target T --mappings maps.json
    accelflow db show maps.json | accelflow db diff A B | accelflow db merge A B -o C

An entry is keyed by the layer's signature (`tiling.LayerShape.signature`: kind, loop extents,
stride, dilation, pads, input size, bias), the target's TIMING fingerprint
(`Target.timing_fingerprint()`: every hardware field that can change a cycle count) and the
objective it was tuned for (latency, energy or edp), so one database serves every model with the
same layer on the same hardware, whatever the layers are called, and tuning for energy never
replaces the latency entry. The file is plain JSON:

    {"format": "accelflow-mappings", "version": 2,
     "targets": {FINGERPRINT: {target fields}},          # the hardware each entry was tuned for
     "entries": {"SIGNATURE @ TIMING_FP [OBJECTIVE]": {
         "signature": ..., "target": TIMING_FP, "fingerprint": FULL_FP, "objective": ...,
         "layer": {"kind": ..., "dims": {...}, "stride": ..., ...},   # the shape, structured
         "mapping": {Mapping.to_dict()},
         "cycles": ..., "default_cycles": ..., "energy_pj": ..., "default_energy_pj": ...,
         "layers": [names], "model_sha256": ..., "accelflow_version": ..., "created": ISO time,
         "strategy": ..., "seed": ..., "budget": ..., "evaluations": ...}}}

Only "mapping" is used to compile; the rest is provenance for people and scripts. `put` keeps the
better entry: a new one replaces an entry of the same key only when it scores better on its
objective (simulated cycles, energy, or their product; `overwrite=True` forces it). Energies are
compared only between entries tuned with the same cost fields (`Target.fingerprint()`).

Cost-only fields (`simulator.target.COST_FIELDS`: the energy table and the clock) are not in the
key: a database tuned for latency stays valid when only they change; `cost_mismatches` lists the
entries whose energies were measured with other cost fields, and the compiler says so.

Compiling with a database (`accelflow.api.compile(mappings=...)`) hands `for_target(target)`
(signature -> mapping; per signature the entry of the requested objective, else latency, edp,
energy in that order) to the compiler, whose `accel-map` looks each layer up by its name, then by
its signature; a layer with no entry gets the default mapping and the CLI says which ones.
Version-1 files (keyed by the full fingerprint, no objective) are read as latency entries.
`read_mappings` also accepts the older plain JSON object layer name -> mapping (optionally under
"layers"), which is not keyed by target.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from compiler.tiling import LayerShape, Mapping, MappingError
from simulator.errors import AccelflowError, existing_file
from simulator.target import Target, make_target

FORMAT = "accelflow-mappings"
VERSION = 2
OBJECTIVES = ("latency", "energy", "edp")


# A database larger than this is refused before it is read (a large one holds ~1 KiB per entry).
MAX_DATABASE_BYTES = 1 << 30


class DatabaseError(AccelflowError):
    """A mapping database that cannot be read: missing, not JSON, or not in this format."""


def entry_key(signature: str, fingerprint: str, objective: str = "latency") -> str:
    return f"{signature} @ {fingerprint} [{objective}]"


def objective_value(cycles: Any, energy_pj: Any, objective: str) -> Any:
    """The figure of merit of `objective` (lower is better): cycles, energy, or their product
    (EDP), as float64 (scalars or arrays). The one definition the tuner's ranking, its
    simulated choice and the database's comparison of entries use."""
    import numpy as np

    if objective == "latency":
        return np.asarray(cycles, np.float64)[()]
    if objective == "energy":
        return np.asarray(energy_pj, np.float64)[()]
    return np.asarray(cycles, np.float64)[()] * np.asarray(energy_pj, np.float64)[()]


def score(entry: dict[str, Any], objective: str) -> float | None:
    """An entry's simulated figure of merit for `objective` (`objective_value`), None when the
    entry lacks the figures it needs."""
    cycles, energy = entry.get("cycles"), entry.get("energy_pj")
    if (objective != "energy" and cycles is None) or (objective != "latency" and energy is None):
        return None
    return float(objective_value(cycles, energy, objective))


def layer_fields(shape: LayerShape) -> dict[str, Any]:
    """The layer's shape as structured JSON fields (what its signature string encodes)."""
    fields: dict[str, Any] = {"kind": shape.kind, "dims": dict(shape.dims)}
    if shape.kind == "conv2d":
        fields.update(
            stride=list(shape.stride), dilation=list(shape.dilation), pads=list(shape.pads),
            in_hw=list(shape.in_hw),
        )  # fmt: skip
    else:
        fields["b_batched"] = shape.b_batched
    fields["has_bias"] = shape.has_bias
    return fields


def accelflow_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("accelflow")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def without_times(path: str | Path) -> dict[str, Any]:
    """A database file's JSON without its entries' creation times: what tuning again with the
    same seed must repeat, field for field."""
    data = json.loads(Path(path).read_text())
    for entry in data.get("entries", {}).values():
        entry.pop("created", None)
    return data


def _remove_stale_temporaries(path: Path) -> None:
    """Delete the temporary files `write_atomic` left beside `path` in a process that no longer
    runs (killed while writing: nothing could clean up then); a live writer's are kept."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            tmp.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: alive
        return True
    return True


def write_atomic(path: str | Path, text: str | bytes) -> None:
    """Write `text` (str or bytes) to `path` so that a reader (or a crash) sees the old file or
    the new one, never a partial one: a temporary file in the same folder, fsync, then rename
    over."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    prefix = f".{path.name}.{os.getpid()}."
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if isinstance(text, bytes) else "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class MappingDB:
    """Tuned mappings keyed by layer signature, timing fingerprint and objective (see the
    module docstring)."""

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
        version = data.get("version")
        if version not in (1, VERSION):
            raise DatabaseError(
                f"{where}: database version {version!r}, this accelflow reads 1 and {VERSION}"
            )
        entries = data.get("entries", {})
        if not isinstance(entries, dict):
            raise DatabaseError(f'{where}: "entries" is not an object')
        targets = data.get("targets", {})
        if not isinstance(targets, dict) or not all(isinstance(v, dict) for v in targets.values()):
            raise DatabaseError(f'{where}: "targets" is not an object of target objects')
        for key, entry in entries.items():
            if not isinstance(entry, dict) or "mapping" not in entry:
                raise DatabaseError(f"{where}: entry '{key}' has no mapping")
            for name in ("signature", "target"):
                if not isinstance(entry.get(name), str):
                    raise DatabaseError(f"{where}: entry '{key}' has no \"{name}\" string")
            objective = entry.get("objective", "latency")
            if objective not in OBJECTIVES:
                raise DatabaseError(
                    f"{where}: entry '{key}' has objective {objective!r} "
                    f"(one of {', '.join(OBJECTIVES)})"
                )
            for name in ("cycles", "default_cycles", "energy_pj", "default_energy_pj"):
                v = entry.get(name)
                if v is not None and (
                    isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0
                ):
                    raise DatabaseError(
                        f"{where}: entry '{key}': {name} {v!r} is not a number >= 0"
                    )
            _check_mapping_dict(entry["mapping"], f"{where}: entry '{key}'")
        db = MappingDB(dict(entries), dict(targets))
        return db._from_version_1(where) if version == 1 else db

    def _from_version_1(self, where: str) -> MappingDB:
        """A version-1 database (keyed by the full fingerprint, no objective) as version 2:
        its entries become latency entries keyed by the timing fingerprint of their target."""
        timing: dict[str, str] = {}
        for fp, fields in self.targets.items():
            try:
                timing[fp] = make_target(fields).timing_fingerprint()
            except (AccelflowError, ValueError, TypeError):
                timing[fp] = fp  # fields this accelflow cannot read: keep the old key
        entries: dict[str, dict[str, Any]] = {}
        for entry in self.entries.values():
            fp = entry["target"]
            entry = {**entry, "target": timing.get(fp, fp), "fingerprint": fp}
            entry.setdefault("objective", "latency")
            entries[entry_key(entry["signature"], entry["target"], entry["objective"])] = entry
        return MappingDB(entries, self.targets)

    def _chosen(self, target: Target, objective: str) -> dict[str, dict[str, Any]]:
        """signature -> the entry compile uses on `target`: of `objective`, else latency, edp,
        energy in that order."""
        fp = target.timing_fingerprint()
        preference = [objective, *(o for o in ("latency", "edp", "energy") if o != objective)]
        chosen: dict[str, dict[str, Any]] = {}
        for entry in self.entries.values():
            if entry.get("target") != fp:
                continue
            sig = entry["signature"]
            rank = preference.index(entry.get("objective", "latency"))
            if sig not in chosen or rank < preference.index(
                chosen[sig].get("objective", "latency")
            ):
                chosen[sig] = entry
        return chosen

    def lookup(
        self, shape: LayerShape, target: Target, objective: str = "latency"
    ) -> Mapping | None:
        entry = self._chosen(target, objective).get(shape.signature)
        return None if entry is None else Mapping.from_dict(entry["mapping"])

    def for_target(self, target: Target, objective: str = "latency") -> dict[str, dict[str, Any]]:
        """signature -> mapping dict, for the entries tuned on `target`'s timing (what compile
        uses; per signature the entry of `objective` first)."""
        return {sig: e["mapping"] for sig, e in self._chosen(target, objective).items()}

    def cost_mismatches(self, target: Target, objective: str = "latency") -> list[str]:
        """The signatures whose chosen entry was tuned with other cost fields (energy table,
        clock) than `target`'s: their cycles hold, their energies were measured otherwise."""
        fp = target.fingerprint()
        return sorted(
            sig
            for sig, e in self._chosen(target, objective).items()
            if e.get("fingerprint", fp) != fp
        )

    def fingerprints(self) -> list[str]:
        """The timing fingerprints the entries were tuned on."""
        return sorted({str(e.get("target")) for e in self.entries.values()})

    def __len__(self) -> int:
        return len(self.entries)

    # -- writing --------------------------------------------------------------------------------

    def put(
        self,
        shape: LayerShape,
        target: Target,
        mapping: Mapping,
        objective: str = "latency",
        overwrite: bool = False,
        **info: Any,
    ) -> str:
        """Add the entry of `shape` on `target` tuned for `objective` (`info`: JSON-able extras,
        e.g. cycles, energy_pj, provenance). An entry of the same key is replaced only when the
        new one scores better on the objective (energies compared only under the same cost
        fields) or `overwrite`; returns "added", "replaced" or "kept"."""
        if objective not in OBJECTIVES:
            raise DatabaseError(f"unknown objective '{objective}' (one of {', '.join(OBJECTIVES)})")
        timing, full = target.timing_fingerprint(), target.fingerprint()
        key = entry_key(shape.signature, timing, objective)
        entry = {
            **info,
            "signature": shape.signature,
            "target": timing,
            "fingerprint": full,
            "objective": objective,
            "layer": layer_fields(shape),
            "mapping": mapping.to_dict(),
        }
        entry.setdefault("accelflow_version", accelflow_version())
        entry.setdefault("created", now_iso())
        old = self.entries.get(key)
        if old is not None and not overwrite and _keeps(old, entry):
            return "kept"
        self.targets.setdefault(full, target.to_dict())
        self.entries[key] = entry
        return "added" if old is None else "replaced"

    def merge(self, other: MappingDB, overwrite: bool = False) -> dict[str, int]:
        """Put every entry of `other` (the better one wins, as `put`); counts per status."""
        counts = {"added": 0, "replaced": 0, "kept": 0}
        for key, entry in other.entries.items():
            old = self.entries.get(key)
            if old is not None and not overwrite and _keeps(old, entry):
                counts["kept"] += 1
                continue
            counts["added" if old is None else "replaced"] += 1
            self.entries[key] = dict(entry)
            fp = entry.get("fingerprint")
            if fp in other.targets:
                self.targets.setdefault(fp, other.targets[fp])
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "targets": dict(sorted(self.targets.items())),
            "entries": dict(sorted(self.entries.items())),
        }

    def save(self, path: str | Path) -> None:
        write_atomic(path, json.dumps(self.to_json(), indent=1) + "\n")


def _keeps(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether `old` stays instead of `new` (same key): it scores at least as well on the
    objective. Energies are compared only under the same cost fields (full fingerprint)."""
    objective = new.get("objective", "latency")
    comparable = objective == "latency" or old.get("fingerprint") == new.get("fingerprint")
    old_score, new_score = score(old, objective), score(new, objective)
    return comparable and old_score is not None and (new_score is None or new_score >= old_score)


def _read_json(path: str | Path) -> Any:
    """The JSON value in `path`; a missing, unreadable or malformed file is a DatabaseError."""
    path = Path(path)
    if not path.exists():
        raise DatabaseError(f"{path}: no such mapping database")
    existing_file(path, DatabaseError, MAX_DATABASE_BYTES)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DatabaseError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
    except UnicodeDecodeError:
        raise DatabaseError(f"{path}: not valid JSON (not UTF-8 text)") from None
    except RecursionError:
        raise DatabaseError(f"{path}: not a mapping database (JSON nested too deeply)") from None
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
