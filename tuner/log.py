"""The tuning log: append-only JSON lines, so that a run killed at any moment resumes.

    log = TuneLog("maps.log.jsonl")     # appends; every write is flushed and fsync'ed
    log.write([header, *records])
    records = TuneLog.read("maps.log.jsonl")   # header first; a torn last line cut off
    logged = LoggedRun.of(records)       # what a resumed mapping search answers from the log

The mapping search's log (`tuner/tune.py`), one object a line: a `header` (the model's path and
SHA-256, the input shapes, the target's fields and fingerprint, the configuration, the database
path, the layer signatures), then `eval` records {layer, g (genome), cost, latency_cycles,
energy_pj, dram_bytes, utilisation, roofline_cycles}, `sim` records {layer, mapping, cycles, ...}
and a `done` record per layer. The hardware search (`tuner/hardware.py`) keeps `hw` records in a
log of its own beside it (`maps.log.hw.jsonl`), with a header of its settings.

Reading cuts a torn last line (a kill mid-write) off the file, so appending goes on cleanly.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simulator.errors import AccelflowError, existing_file

LOG_VERSION = 1


class TuneError(AccelflowError):
    """Bad tuning settings, or a log that cannot be resumed."""


# The types of what a header record holds (`TuneLog.new_header`), checked on reading a log.
_HEADER_FIELDS = {"model": str, "model_sha256": str, "target": dict, "config": dict}


class TuneLog:
    """Append-only JSON lines; every write is flushed and fsync'ed before the tuner goes on."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path is not None else None
        self._file = None
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "a")  # noqa: SIM115 (open for the whole run)
            except OSError as err:
                raise TuneError(f"{self.path}: cannot be written ({err.strerror or err})") from None

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        if self._file is None:
            return
        text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        if text:
            self._file.write(text)
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    @staticmethod
    def read(path: str | Path) -> list[dict[str, Any]]:
        """The complete records of a log; a torn last line (killed mid-write) is cut off the
        file so that appending goes on cleanly, but only once the file has proved to be a
        tuning log (header record, version): a file given by mistake is never changed."""
        path = Path(path)
        if not path.exists():
            raise TuneError(f"{path}: no such tuning log")
        existing_file(path, TuneError)
        data = path.read_bytes()
        end = data.rfind(b"\n") + 1
        records = []
        for number, line in enumerate(data[:end].splitlines(), 1):
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
                raise TuneError(f"{path}:{number}: not a JSON record") from None
            if not isinstance(record, dict):
                raise TuneError(f"{path}:{number}: not a JSON object record")
            records.append(record)
        if not records or records[0].get("type") != "header":
            raise TuneError(f"{path}: not an accelflow tuning log (no header record)")
        if records[0].get("version") != LOG_VERSION:
            raise TuneError(
                f"{path}: log version {records[0].get('version')!r}, expected {LOG_VERSION}"
            )
        for key, kind in _HEADER_FIELDS.items():
            if key in records[0] and not isinstance(records[0][key], kind):
                raise TuneError(
                    f'{path}: the header record\'s "{key}" is missing or not a '
                    f"{kind.__name__}; not a log accelflow wrote"
                )
        if end < len(data):
            with open(path, "r+b") as f:
                f.truncate(end)
        return records

    @staticmethod
    def has_records(path: str | Path | None) -> bool:
        """Whether a log is at `path` (a file with something in it)."""
        return path is not None and Path(path).exists() and Path(path).stat().st_size > 0

    @staticmethod
    def new_header(
        model: str | Path,
        input_shapes: dict[str, tuple[int, ...]] | None,
        target: dict[str, Any],
        **settings: Any,
    ) -> dict[str, Any]:
        """A `header` record: the model (path and SHA-256), its input shapes, the target's
        fields, then the run's `settings` in the order given."""
        return {
            "type": "header",
            "version": LOG_VERSION,
            "model": str(model),
            "model_sha256": file_sha256(model),
            "input_shapes": {k: list(v) for k, v in (input_shapes or {}).items()},
            "target": target,
            **settings,
        }

    @staticmethod
    def logged_model(log: str | Path, header: dict[str, Any]) -> str:
        """The model a log's header names, when it is still there and unchanged."""
        model = header["model"]
        if not Path(model).exists():
            raise TuneError(f"{log}: the model it tuned, {model}, is gone")
        if file_sha256(model) != header["model_sha256"]:
            raise TuneError(f"{log}: {model} changed since the run started (SHA-256 differs)")
        return model


def mapping_key(mapping: dict[str, Any]) -> str:
    """A mapping dict as the key of its `sim` record."""
    return json.dumps(mapping, sort_keys=True)


@dataclass
class LoggedRun:
    """What a mapping search's log holds, by layer index: the points scored (genome bytes ->
    `eval` record), the mappings simulated ((layer, mapping_key) -> `sim` record), the layers
    decided."""

    evals: dict[int, dict[bytes, dict[str, Any]]] = field(default_factory=dict)
    sims: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    done: set[int] = field(default_factory=set)

    @staticmethod
    def of(records: list[dict[str, Any]]) -> LoggedRun:
        logged = LoggedRun()
        for r in records[1:]:
            kind = r.get("type")
            if kind == "eval":
                g = np.asarray(r["g"], np.int64).tobytes()
                logged.evals.setdefault(r["layer"], {})[g] = r
            elif kind == "sim":
                logged.sims[(r["layer"], mapping_key(r["mapping"]))] = r
            elif kind == "done":
                logged.done.add(r["layer"])
        return logged


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
