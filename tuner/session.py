"""One tuning run, as `accelflow tune` and `accelflow.tune` do it: the checks before anything is
logged, the search (with `hw=True`, the hardware search first), resume, verification, and the
figures of the report.

    session = TuneSession.new("lenet.onnx", "maps.json", target="tpu-like",
                              config=TuneConfig(budget=500))      # checks; nothing logged yet
    outcome = session.run(on_progress)    # TuneOutcome: the TuneResult, the tuned target, ...
    verification = session.verify(outcome, accelflow.api.compile_and_simulate)
    session = TuneSession.resume("maps.log.jsonl")   # a stopped run (and its --hw search) goes on

`new` checks, in this order, before the log starts: the settings (`TuneConfig.check`), the
target, the input shapes, that the model is a file, that the log is not the database, that no
log is already at the log's path (or the hardware search's, `maps.log.hw.jsonl`), that a
database already at `db` is readable; then it makes their folders. The log defaults to
`DB_STEM.log.jsonl` beside the database. `resume` reads the log's header (and, when there is
one, the hardware search's) for the model, target and settings.

`verify` compiles the model with the database the run wrote (with no database: with the tuned
mappings held in memory), simulates it, and checks that every tuned layer got its mapping from
the database and runs in exactly the cycles the tuner reported. The compile-and-simulate step is
handed in (`CompileAndSimulate`; `accelflow.api.compile_and_simulate` is the one the CLI and the
API use), since nothing below `accelflow/` imports it.

Progress reaches the caller as `on_progress(done, total, label)`; results come back as the
dataclasses below; user mistakes raise `TuneError` (or the AccelflowError of the part that
found them: target, model, database, executor) with one message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from simulator.errors import existing_file
from simulator.target import Target, load_target, make_target
from tuner.db import MappingDB, entry_key
from tuner.executors import Executor, make_executor
from tuner.log import TuneError, TuneLog
from tuner.tune import ProgressFn, TuneConfig, TuneResult, resume, tune

# Where a layer's mapping came from when compiled: `accelflow.api.FROM_DATABASE`.
FROM_DATABASE = "database"
# Hardware-search settings of `new` (None: tuner.hardware's default).
HW_OPTIONS = ("hw_budget", "pe_budget", "buffer_kib_budget")


@dataclass(frozen=True)
class CompiledCycles:
    """The model compiled with a mapping database and simulated: what `verify` compares."""

    cycles: dict[str, int]  # every layer's simulated cycles, by name
    mapping_sources: dict[str, str]  # accelerator layer -> "database", "default" or "options"
    total_cycles: int


# (model, target, mappings: a database path or a MappingDB, input shapes) -> CompiledCycles
CompileAndSimulate = Callable[[str, Target, Any, "dict[str, tuple[int, ...]] | None", str], Any]


@dataclass(frozen=True)
class Mismatch:
    """A tuned layer that the compiled model does not run as the tuner reported."""

    layer: str
    tuned_cycles: int
    simulated_cycles: int | None  # None: the compiled model has no layer of that name
    mapping_from: str | None  # where the compiled layer's mapping came from


@dataclass(frozen=True)
class Verification:
    layers: int  # tuned layers checked
    mismatches: list[Mismatch]
    simulated_total_cycles: int  # the whole compiled model's cycles (the vector unit's too)
    simulated_accel_cycles: int = 0  # its accelerator layers' (what the tuned layers add up to)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "layers": self.layers,
            "mismatches": [asdict(m) for m in self.mismatches],
            "simulated_total_cycles": self.simulated_total_cycles,
            "simulated_accel_cycles": self.simulated_accel_cycles,
        }

    def failure(self, database: str | Path, limit: int = 8) -> str:
        """One line naming the layers that do not reproduce (the first `limit` of them)."""
        bad = self.mismatches
        listed = "; ".join(
            f"{m.layer}: tuned {m.tuned_cycles}, compiled {m.simulated_cycles}"
            + ("" if m.mapping_from == FROM_DATABASE else f" (mapping: {m.mapping_from})")
            for m in bad[:limit]
        )
        more = f"; ... ({len(bad) - limit} more)" if len(bad) > limit else ""
        return (
            f"verification FAILED: compile --mappings {database} does not reproduce the tuned "
            f"cycles of {len(bad)} of {self.layers} layers: {listed}{more}"
        )


@dataclass(frozen=True)
class TuneTotals:
    """Whole-model figures: each layer result counted once per layer that shares it."""

    layers: int
    distinct_layers: int
    evaluations: int
    default_cycles: int
    tuned_cycles: int
    speedup: float
    utilisation: float
    roofline_cycles: int
    roofline_fraction: float
    default_energy_pj: float = 0.0
    tuned_energy_pj: float = 0.0

    @staticmethod
    def of(result: TuneResult) -> TuneTotals:
        default = tuned = roofline = layers = 0
        busy = default_energy = tuned_energy = 0.0
        for r in result.layers:
            n = len(r.task.names)
            layers += n
            default_energy += n * r.default_energy_pj
            tuned_energy += n * r.tuned_energy_pj
            default += n * r.default_cycles
            tuned += n * r.tuned_cycles
            roofline += n * r.roofline_cycles
            busy += n * r.utilisation * r.tuned_cycles
        return TuneTotals(
            layers=layers,
            distinct_layers=len(result.layers),
            evaluations=sum(r.evaluations for r in result.layers),
            default_cycles=default,
            tuned_cycles=tuned,
            speedup=round(default / max(tuned, 1), 4),
            utilisation=round(busy / max(tuned, 1), 4),
            roofline_cycles=roofline,
            roofline_fraction=round(roofline / max(tuned, 1), 4),
            default_energy_pj=round(default_energy, 3),
            tuned_energy_pj=round(tuned_energy, 3),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TuneOutcome:
    """A finished run: what the report needs."""

    model: str
    target: Target  # the target the mappings were tuned for (with hw: the best found)
    input_shapes: dict[str, tuple[int, ...]] | None
    result: TuneResult  # `result.verification` once `TuneSession.verify` ran
    db: Path | None
    log: Path | None
    # `accelflow compile` options that give the tuned target and the input shapes back (None:
    # the target needs a YAML file and there is no database to write it beside)
    compile_options: list[str] | None
    target_file: Path | None = None  # the tuned target's YAML (hw, or a target not a preset)
    base_target: Target | None = None  # hw: the target the hardware search started from

    @property
    def totals(self) -> TuneTotals:
        return TuneTotals.of(self.result)

    @property
    def verification(self) -> Verification | None:
        return self.result.verification

    def hardware_changes(self) -> dict[str, list[Any]] | None:
        """hw: field -> [base value, tuned value] for the fields the search changed."""
        if self.base_target is None:
            return None
        before, after = self.base_target.to_dict(), self.target.to_dict()
        return {
            k: [before[k], after[k]] for k in after if k != "name" and before.get(k) != after[k]
        }


def default_log(db: str | Path) -> Path:
    """`maps.json` -> `maps.log.jsonl`, beside it."""
    db = Path(db)
    return db.with_name(f"{db.stem}.log.jsonl")


@dataclass
class TuneSession:
    """One tuning run (see the module docstring); build it with `new` or `resume`."""

    model: str
    db: Path | None
    log: Path | None
    config: TuneConfig
    executor: Executor | str = "inprocess"
    target: Target | None = None  # new runs: the target (with hw: the hardware search's base)
    input_shapes: dict[str, tuple[int, ...]] | None = None
    hw: bool = False
    hw_options: dict[str, Any] = field(default_factory=dict)  # tune_hardware's budgets
    # new runs: the `--target`/`--set` and `--input-shape` options as the user gave them
    target_options: list[str] | None = None
    shape_options: list[str] | None = None
    hw_log: Path | None = None  # with hw: the hardware search's log
    # resume: the mapping search's header (None: not started) and the hardware search's
    header: dict[str, Any] | None = None
    hw_header: dict[str, Any] | None = None
    resuming: bool = False
    # Replace database entries even when they are better than this run's (`MappingDB.put`).
    overwrite: bool = False

    @staticmethod
    def new(
        model: str | Path,
        db: str | Path | None = None,
        *,
        target: str | Path | Target = "tpu-like",
        overrides: Sequence[str] = (),
        config: TuneConfig | None = None,
        input_shapes: Mapping[str, Sequence[int]] | Sequence[str] | None = None,
        log: str | Path | bool | None = True,
        executor: Executor | str = "inprocess",
        hw: bool = False,
        **hw_options: Any,
    ) -> TuneSession:
        """A new run of `model` on `target` writing the database `db` (None: none). `log`: a
        path, True (`DB_STEM.log.jsonl` beside the database; none without one) or None/False
        (no log). `input_shapes`: name -> dims, or `--input-shape` texts. `hw_options`:
        hw_budget, pe_budget, buffer_kib_budget (with `hw`)."""
        from compiler.importer import ModelImportError

        config = config or TuneConfig()
        config.check()
        unknown = [k for k in hw_options if k not in HW_OPTIONS]
        if unknown:
            raise TuneError(f"unknown hardware-search option '{unknown[0]}'")
        hw_options = {k: v for k, v in hw_options.items() if v is not None}
        if hw_options and not hw:
            raise TuneError(f"{next(iter(hw_options))} is an option of the hardware search (hw)")
        tgt = load_target(target, list(overrides))
        shapes, shape_options = _shapes(input_shapes)
        existing_file(model, ModelImportError)
        db = Path(db) if db is not None else None
        if log is True:
            log = default_log(db) if db is not None else None
        elif log is False:
            log = None
        log = Path(log) if log is not None else None
        if log is not None and db is not None and log.resolve() == db.resolve():
            raise TuneError(
                f"--log and -o are the same file ({db}); the log needs a path of its own"
            )
        session = TuneSession(
            str(model), db, log, config, executor, tgt, shapes, hw, hw_options,
            target_options=None if isinstance(target, Target) else [
                "--target", str(target), *(a for item in overrides for a in ("--set", item))
            ],
            shape_options=shape_options,
        )  # fmt: skip
        if hw and log is not None:
            session.hw_log = _hardware().hw_log_path(log)
        elif hw:
            _hardware()  # this accelflow has a hardware search
        if existing := session.existing_logs():
            raise TuneError(
                f"{existing[0]}: a tuning log is already there; continue it with `accelflow tune "
                f"--resume {log}`, or remove {' and '.join(map(str, existing))} (or pass --log "
                "NEW) to start over"
            )
        _check_database(db)
        make_folders(db, log)
        return session

    @staticmethod
    def resume(
        log: str | Path, db: str | Path | None = None, executor: Executor | str = "inprocess"
    ) -> TuneSession:
        """Continue the run of `log` (the mapping search's log, or the hardware search's): its
        model, target and settings come from the headers; `db` replaces the logged database."""
        log = Path(log)
        hw_log, hw_header = _logged_hardware_search(log)
        if hw_header is not None and log == hw_log:
            log = _main_log_of(log)
        header = None
        if TuneLog.has_records(log) or hw_header is None:
            header = TuneLog.read(log)[0]
        db = db or (header or {}).get("db")
        if db is None:
            where = log if header is not None else hw_log
            raise TuneError(f"{where}: the log names no mapping database to write; pass -o DB")
        db = Path(db)
        _check_database(db)
        make_folders(db)
        first = hw_header if hw_header is not None else header
        assert first is not None
        for key in ("model", "config"):  # every header has them: else not a log we wrote
            if key not in first:
                raise TuneError(
                    f"{log}: the header record has no '{key}'; not a log accelflow wrote"
                )
        return TuneSession(
            first["model"], db, log, TuneConfig.from_json(first["config"]), executor,
            input_shapes=_shapes_of(first) or _shapes_of(header or {}),
            hw=hw_header is not None, hw_log=hw_log, header=header, hw_header=hw_header,
            resuming=True,
        )  # fmt: skip

    @property
    def logs(self) -> list[Path]:
        """The logs this run writes: the mapping search's, and with hw the hardware search's."""
        return [p for p in (self.log, self.hw_log) if p is not None]

    def existing_logs(self) -> list[Path]:
        return [p for p in self.logs if TuneLog.has_records(p)]

    def run(self, on_progress: ProgressFn | None = None) -> TuneOutcome:
        """The search (a new run, or the logged one going on) and the database written."""
        executor = make_executor(self.executor) if isinstance(self.executor, str) else self.executor
        try:
            base, tuned, result = self._search(executor, on_progress)
        finally:
            if executor is not self.executor:
                executor.close()
        outcome = TuneOutcome(
            self.model, tuned, self.input_shapes, result, self.db, self.log, None,
            base_target=base,
        )  # fmt: skip
        if self.hw:
            if self.db is not None:  # else no folder to write the tuned target's YAML to
                outcome.target_file = write_target(tuned, self.db)
                outcome.compile_options = ["--target", str(outcome.target_file)]
        elif self.target_options is not None:
            outcome.compile_options = list(self.target_options)
        else:
            outcome.compile_options, outcome.target_file = target_options(tuned, self.db)
        if outcome.compile_options is not None:
            outcome.compile_options += self._shape_options()
        return outcome

    def _search(
        self, executor: Executor, on_progress: ProgressFn | None
    ) -> tuple[Target | None, Target, TuneResult]:
        """(the hardware search's base target or None, the tuned target, the result)."""
        common: dict[str, Any] = dict(
            log=self.log, db=self.db, executor=executor, input_shapes=self.input_shapes,
            on_progress=on_progress,
        )  # fmt: skip
        if self.resuming and self.hw_header is not None:
            h = self.hw_header
            budgets = h.get("budget", {})
            base = make_target(h["target"])
            tuned, result = _hardware().tune_hardware(
                self.model, base, self.config, hw_budget=h["hw_budget"],
                pe_budget=budgets.get("pe"), buffer_kib_budget=budgets.get("buffer_kib"),
                dram_bw_budget=budgets.get("dram_bw"), inner=h.get("inner", 256), **common,
            )  # fmt: skip
            return base, tuned, result
        if self.resuming:
            assert self.log is not None
            result = resume(
                self.log, executor=executor, db=self.db, on_progress=on_progress,
                overwrite=self.overwrite,
            )  # fmt: skip
            return None, result.target, result
        assert self.target is not None
        if self.hw:
            tuned, result = _hardware().tune_hardware(
                self.model, self.target, self.config, **self.hw_options, **common
            )
            return self.target, tuned, result
        result = tune(self.model, self.target, self.config, **common, overwrite=self.overwrite)
        return None, self.target, result

    def _shape_options(self) -> list[str]:
        if self.shape_options is not None:
            return [a for text in self.shape_options for a in ("--input-shape", text)]
        options = []
        for name, dims in (self.input_shapes or {}).items():
            text = "x".join(str(d) for d in dims)
            options += ["--input-shape", f"{name}={text}" if name else text]
        return options

    def verify(
        self, outcome: TuneOutcome, compile_and_simulate: CompileAndSimulate
    ) -> Verification:
        """Compile and simulate the model with the run's database (see the module docstring);
        the verification is also kept as `outcome.result.verification`."""
        result = outcome.result
        mappings: Any = outcome.db
        if mappings is None:
            mappings = MappingDB()
            for r in result.layers:
                mappings.put(
                    r.task.shape, result.target, r.mapping, result.config.objective,
                    layers=r.task.names,
                )  # fmt: skip
        objective = result.config.objective
        compiled = compile_and_simulate(
            outcome.model, outcome.target, mappings, outcome.input_shapes, objective
        )
        # A layer whose database entry was better than this run's result ("kept") compiles
        # with that entry: its cycles are the expected ones.
        kept = [r for r in result.layers if r.db_status == "kept"]
        entries = MappingDB.load(outcome.db).entries if kept and outcome.db is not None else {}
        fp = outcome.target.timing_fingerprint()
        mismatches = []
        checked = 0
        for r in result.layers:
            expected = r.tuned_cycles
            if r.db_status == "kept":
                entry = entries.get(entry_key(r.task.signature, fp, objective), {})
                expected = int(entry.get("cycles", expected))
            for name in r.task.names:
                checked += 1
                source = compiled.mapping_sources.get(name)
                got = compiled.cycles.get(name)
                if got != expected or source != FROM_DATABASE:
                    mismatches.append(Mismatch(name, expected, got, source))
        accel = sum(compiled.cycles.get(name, 0) for name in compiled.mapping_sources)
        result.verification = Verification(checked, mismatches, compiled.total_cycles, accel)
        return result.verification


def _shapes(
    given: Mapping[str, Sequence[int]] | Sequence[str] | None,
) -> tuple[dict[str, tuple[int, ...]] | None, list[str] | None]:
    """(name -> dims or None, the `--input-shape` texts when given as texts)."""
    if not given:
        return None, None
    if isinstance(given, Mapping):
        return {str(k): tuple(int(d) for d in v) for k, v in given.items()}, None
    from compiler.importer import parse_input_shape

    shapes: dict[str, tuple[int, ...]] = {}
    for text in given:
        shapes.update(parse_input_shape(text))
    return shapes, list(given)


def _shapes_of(header: dict[str, Any]) -> dict[str, tuple[int, ...]] | None:
    return {k: tuple(v) for k, v in header.get("input_shapes", {}).items()} or None


def make_folders(*paths: Path | str | None) -> None:
    """The folders a run writes into, made before the search (not after it)."""
    for path in paths:
        if path is None:
            continue
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise TuneError(f"{path}: cannot make its folder ({err.strerror})") from None


def _check_database(db: Path | None) -> None:
    """An existing database must be readable before the search, not after it."""
    if db is not None and db.exists():
        MappingDB.load(db)


def _hardware() -> ModuleType:
    """The tuner.hardware module, or a TuneError when this accelflow has no hardware search."""
    try:
        from tuner import hardware
    except ImportError as err:
        if err.name != "tuner.hardware":
            raise
        raise TuneError("--hw: this accelflow has no hardware search (tuner/hardware.py)") from None
    return hardware


def _logged_hardware_search(log: Path) -> tuple[Path | None, dict[str, Any] | None]:
    """(the hardware-search log, its header) when `log` is one or has one beside it."""
    try:
        hardware = _hardware()
    except TuneError:
        return None, None
    for hw_log in (log, hardware.hw_log_path(log)):
        if TuneLog.has_records(hw_log):
            header = TuneLog.read(hw_log)[0]
            if "hw_budget" in header:
                return hw_log, header
    return None, None


def _main_log_of(hw_log: Path) -> Path:
    """`maps.log.hw.jsonl` -> `maps.log.jsonl` (the inverse of hardware.hw_log_path)."""
    stem = hw_log.stem.removesuffix(".hw")
    return hw_log.with_name(stem + hw_log.suffix)


def write_target(target: Target, db: Path) -> Path:
    """The target as YAML beside the database (`maps.json` -> `maps.target.yaml`)."""
    import yaml

    path = db.with_name(f"{db.stem}.target.yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(target.to_dict(), sort_keys=False))
    return path


def target_options(target: Target, db: Path | None) -> tuple[list[str] | None, Path | None]:
    """(`--target` options that give `target` back, the YAML file written for it): its preset
    and `--set`s for the fields that differ, or (not a preset) a YAML file written beside the
    database (no database: (None, None))."""
    from simulator.target import preset_fields

    preset = preset_fields(target.name)
    if preset is None:
        if db is None:
            return None, None
        path = write_target(target, db)
        return ["--target", str(path)], path
    base = make_target(preset).to_dict()
    options = ["--target", target.name]
    for key, value in target.to_dict().items():
        if base[key] != value:
            options += ["--set", f"{key}={value}"]
    return options, None
