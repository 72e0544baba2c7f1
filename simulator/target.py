"""The hardware description: a validated, frozen dataclass shared by compiler, simulator and tuner.

A target comes from a built-in preset (`tpu-like`, ...) or a YAML file with the same fields, and
`--set FIELD=VALUE` overrides single fields. A YAML file's `base:` names the preset or the other
YAML file (relative to the file naming it) that it starts from; base files chain, a cycle is an
error. Every field is validated by pydantic; a bad value
raises `TargetError` whose message names the field.

Units are in the field names. Sizes of the global buffers are in KiB, bandwidths in bytes per
cycle, energies in picojoules. Fields marked `tunable` are what the hardware search may change.

Energy defaults, picojoules, for 8-bit elements in a 45 nm-class process: an 8-bit multiply
is ~0.2 pJ (Horowitz, "Computing's energy problem", ISSCC 2014: 8-bit add 0.03 pJ, multiply
0.2 pJ), and the other costs follow Eyeriss's normalised table (Chen, Emer, Sze, ISCA 2016: a
MAC 1x, a PE-to-PE transfer 2x, a global-buffer access 6x, a DRAM access 200x): so 0.2 pJ per
MAC, 0.4 pJ per element hop between PEs, 1.2 pJ per global-buffer byte, 40 pJ per DRAM byte.
Override them per target (`--set dram_energy_pj_per_byte=...`) to match another technology.
`energy_model=stonne` (maeri and sigma targets) reports STONNE's energy instead: its event
counters priced with its table, static energy included, no DRAM, in STONNE's unit, which it does
not state (simulator/arch/stonne_energy.py, docs/stonne-energy.md).

Architectures (`arch`): the accelerator families of `simulator.arch` (each one's rules live there;
families from installed packages add their own `arch` names and target fields, which a target of
that family takes like any other field and keeps in `family_fields`). Built in:
- `systolic`: a `rows` x `cols` array (SCALE-Sim style), `dataflow` ws/os/is.
- `maeri`: MAERI as STONNE models it (docs/stonne-timing.md): `num_multipliers` multiplier
  switches (a power of two) fed by `dn_bw_elems_per_cycle` distribution trees (STONNE's
  `-dn_bw`: SDMemory read ports, one element per port per cycle, each tree feeding
  num_multipliers/dn_bw multipliers), an augmented reduction tree writing back through
  `rn_bw_elems_per_cycle` collection-bus lines (`-rn_bw`), and `accumulation_buffer` (STONNE's
  `-accumulation_buffer`: folds are summed next to the adders instead of going back to memory).
  `rows`/`cols` are ignored; `num_pes` is the number of multipliers. Presets `maeri-N` exist for
  every power of two N (`load_target("maeri-256")`): dn_bw = rn_bw = N/8 (STONNE's own example,
  64 multipliers with 8 read and 8 write ports), accumulation buffer on, one shared global buffer
  of 3 x 512 KiB (STONNE's SDMemory is a single buffer), and a DRAM of 1024 B/cycle with no
  latency: STONNE does not model DRAM (it preloads everything on chip), so the default keeps
  DRAM out of the way; set `dram_bw_bytes_per_cycle` / `dram_latency_cycles` to study it.
- `sigma`: SIGMA as STONNE models it (`-SparseGEMM`, dataflow MK_STA_KN_STR; docs/stonne-timing.md
  section 4, simulator/arch/sigma.py): `num_multipliers` multipliers fed by a Benes distribution
  network with `dn_bw_elems_per_cycle` read ports, a forwarding adder network writing back
  through `rn_bw_elems_per_cycle` collection-bus lines. The weights are the stationary sparse
  operand (`sparse_weights`, always on: the rows of a tile's weight matrix are packed into the
  multipliers by their non-zeros), stored bitmap-compressed: a weight tile of E elements with
  nnz non-zeros costs `nnz * element_bytes + ceil(E / 8)` bytes of DRAM and global-buffer
  traffic (one metadata bit per element). `sparse_activations` compresses the streamed operand
  the same way with the declared `activation_density` (the values are unknown at compile time):
  it changes input traffic only, not cycles (in STONNE's MK_STA_KN_STR dataflow a streamed
  element is sent whether or not it is zero). Presets `sigma-N` for every power of two N:
  dn_bw = rn_bw = N (the configuration STONNE's SIGMA runs were measured with), the same
  shared 3 x 512 KiB buffer and out-of-the-way DRAM as `maeri-N`; `accumulation_buffer` is
  ignored.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path
from typing import Any, Literal

import pydantic
import yaml
from pydantic import Field, field_validator, model_validator
from pydantic.dataclasses import dataclass
from pydantic.fields import FieldInfo

from simulator import arch as families
from simulator.errors import AccelflowError, existing_file

Dataflow = Literal["ws", "os", "is"]
BufferOrganisation = Literal["split", "shared"]
HostOps = Literal["vector", "host"]
EnergyModel = Literal["table", "stonne"]
# The families whose energy STONNE models (simulator/arch/stonne_energy.py).
STONNE_ENERGY_ARCHS = ("maeri", "sigma")
# Fields that leave the accelerator layers' mappings and timing unchanged (the vector unit's):
# left out of the fingerprint, so mapping databases stay valid when they change.
VECTOR_FIELDS = ("host_ops", "vector_lanes", "vector_fusion", "vector_energy_pj_per_op")
# Fields that change what a run costs (energy per event, the clock that turns cycles into time)
# but no cycle count: a mapping tuned for latency stays the latency optimum when only they change.
COST_FIELDS = (
    "clock_mhz",
    "mac_energy_pj",
    "noc_energy_pj_per_hop",
    "sram_energy_pj_per_byte",
    "dram_energy_pj_per_byte",
    "energy_model",
)
# The energy table's prices (`memory.energy_pj`), which `energy_model=stonne` does not read.
TABLE_ENERGY_FIELDS = (
    "mac_energy_pj",
    "noc_energy_pj_per_hop",
    "sram_energy_pj_per_byte",
    "dram_energy_pj_per_byte",
    "vector_energy_pj_per_op",
)


# A target file is a few lines: a larger one is refused before it is read.
MAX_TARGET_FILE_BYTES = 1 << 20
# The smallest DRAM bandwidth, bytes per cycle, and the largest number of any field
# (`_check_numbers`).
MIN_DRAM_BW = 1 / 1024
MAX_NUMBER = 2**40


class TargetError(AccelflowError):
    """A target that cannot be built: unknown preset, bad YAML, or a field that fails validation."""


def _tunable(default: Any, **kw: Any) -> Any:
    return Field(default, json_schema_extra={"tunable": True}, **kw)


@dataclass(frozen=True, config=pydantic.ConfigDict(extra="forbid", strict=False))
class Target:
    """An accelerator: array, global buffers, DRAM, clock and energy table."""

    name: str = "custom"
    arch: str = "systolic"
    rows: int = _tunable(32, ge=1, le=4096)
    cols: int = _tunable(32, ge=1, le=4096)
    dataflow: Dataflow = "ws"
    # MAERI only (arch="maeri"); see the module docstring.
    num_multipliers: int = _tunable(64, ge=1, le=65536)
    dn_bw_elems_per_cycle: int = _tunable(8, ge=1)
    rn_bw_elems_per_cycle: int = _tunable(8, ge=1)
    accumulation_buffer: bool = True
    # SIGMA only (arch="sigma"); see the module docstring.
    sparse_weights: bool = True
    sparse_activations: bool = False
    activation_density: float = Field(1.0, gt=0, le=1)
    element_bytes: int = Field(1, ge=1, le=8)
    # Global buffer: one per operand ("split", SCALE-Sim style) or one "shared" buffer whose
    # capacity is the sum of the three sizes (STONNE style). Sizes in KiB.
    global_buffer: BufferOrganisation = "split"
    ifmap_sram_kib: float = _tunable(256.0, gt=0)
    filter_sram_kib: float = _tunable(256.0, gt=0)
    ofmap_sram_kib: float = _tunable(256.0, gt=0)
    double_buffer: bool = True
    # Each buffer (or the shared one) has `sram_banks` banks of `sram_bank_width_bytes`, each
    # with `sram_ports` accesses per cycle: the array cannot read/write a buffer faster than
    # banks * width * ports bytes per cycle (DMA fills are not counted against the ports).
    sram_banks: int = _tunable(32, ge=1)
    sram_bank_width_bytes: int = Field(4, ge=1)
    sram_ports: int = Field(2, ge=1)
    dram_bw_bytes_per_cycle: float = _tunable(32.0, gt=0)
    dram_latency_cycles: int = Field(100, ge=0)
    clock_mhz: float = Field(1000.0, gt=0)
    # The vector unit (simulator/vector.py): every operator that is not a conv / matmul runs on
    # it ("vector"), or on a host outside the accelerator, taking no cycles ("host").
    host_ops: HostOps = "vector"
    vector_lanes: int = _tunable(16, ge=1, le=65536)
    # Element-wise operators the `accel-fuse` pass may fold into the output stage of the conv /
    # matmul producing their input (simulator/vector.py, "Fusion"); False: every one on its own.
    vector_fusion: bool = True
    # Energy table, picojoules (sources in the module docstring).
    mac_energy_pj: float = Field(0.2, ge=0)
    noc_energy_pj_per_hop: float = Field(0.4, ge=0)
    sram_energy_pj_per_byte: float = Field(1.2, ge=0)
    dram_energy_pj_per_byte: float = Field(40.0, ge=0)
    vector_energy_pj_per_op: float = Field(0.2, ge=0)
    # "table": the events above priced in picojoules; "stonne" (a maeri target): STONNE's own
    # counters and energy table, in its unit (simulator/arch/stonne_energy.py).
    energy_model: EnergyModel = "table"
    # The family's own fields (a family from a plugin, `simulator.arch.base.Family.fields`),
    # validated by its model; `to_dict` and YAML spell them as ordinary fields.
    family_fields: dict[str, Any] = Field(default_factory=dict)

    @field_validator("arch")
    @classmethod
    def _known_arch(cls, arch: str) -> str:
        if arch not in families.names():
            raise ValueError(
                f"unknown accelerator family '{arch}' (known: {', '.join(families.names())})"
            )
        return arch

    @model_validator(mode="after")
    def _check_family(self) -> Target:
        self.family.check_target(self)
        if self.energy_model == "stonne" and self.arch not in STONNE_ENERGY_ARCHS:
            raise ValueError(
                f"energy_model=stonne prices STONNE's MAERI and SIGMA counters; a {self.arch} "
                "target takes energy_model=table"
            )
        return self

    def __hash__(self) -> int:  # family_fields is a dict: hash what identifies the target
        return hash((self.name, self.dataflow, self.fingerprint()))

    def __getattr__(self, name: str) -> Any:  # a family's own field, read like the others
        own = self.__dict__.get("family_fields") or {}
        if name in own:
            return own[name]
        raise AttributeError(f"'Target' has no field '{name}'")

    @property
    def family(self) -> families.Family:
        """The accelerator family (`simulator.arch`) this target is one of."""
        return families.family(self.arch)

    @property
    def num_pes(self) -> int:
        """Processing elements: rows x cols for a systolic array, the multipliers for MAERI/SIGMA
        (the family's `num_pes`)."""
        return self.family.num_pes(self)

    @property
    def sram_bytes_per_cycle(self) -> int:
        """Array-side bandwidth of one global buffer (of the shared one, if shared)."""
        return self.sram_banks * self.sram_bank_width_bytes * self.sram_ports

    @property
    def shared_buffer_bytes(self) -> int:
        """Capacity of the shared global buffer (the three sizes together)."""
        return int((self.ifmap_sram_kib + self.filter_sram_kib + self.ofmap_sram_kib) * 1024)

    def buffer_bytes(self, operand: str) -> int:
        """Capacity in bytes of the global buffer holding `operand` (input, weight, output)."""
        kib = {
            "input": self.ifmap_sram_kib,
            "weight": self.filter_sram_kib,
            "output": self.ofmap_sram_kib,
        }[operand]
        return int(kib * 1024)

    def to_dict(self) -> dict[str, Any]:
        """Every field by name (a family's own fields as ordinary ones)."""
        fields = dataclasses.asdict(self)
        fields.update(fields.pop("family_fields"))
        return fields

    def fingerprint(self) -> str:
        """12 hex digits identifying the hardware: a hash of every field but `name`, the
        default `dataflow` and the vector unit's (`VECTOR_FIELDS`, which change no accelerator
        layer's mapping or timing): a preset and an identical YAML share it, any parameter that
        changes an accelerator layer's timing, memory or energy changes it."""
        return self._hash(("name", "dataflow", *VECTOR_FIELDS))

    def timing_fingerprint(self) -> str:
        """`fingerprint` without the cost-only fields (`COST_FIELDS`: energy table, clock): two
        targets that share it give every mapping the same cycles. Mapping databases are keyed
        by it (tuner/db.py)."""
        return self._hash(("name", "dataflow", *VECTOR_FIELDS, *COST_FIELDS))

    def _hash(self, skip: tuple[str, ...]) -> str:
        import hashlib
        import json

        fields = {k: v for k, v in self.to_dict().items() if k not in skip}
        text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def unread_reason(self, field: str) -> str | None:
        """Why this target never reads `field` (its family's `unread_fields`, or the energy
        table's prices under `energy_model=stonne`): a phrase; None when it may read it."""
        if field in self.family.unread_fields:
            return f"a {self.arch} target does not read {field}"
        if self.energy_model == "stonne" and field in TABLE_ENERGY_FIELDS:
            return f"energy_model=stonne prices STONNE's own table, not {field}"
        return None

    def name_against(self, other: dict[str, Any]) -> str:
        """This target's name; where `other` (a target's fields) has the same name, with the
        fields that differ (`tpu-like with rows=16, dram_bw_bytes_per_cycle=8.0`)."""
        if other.get("name") != self.name:
            return self.name
        mine = self.to_dict()
        changed = [f"{k}={v}" for k, v in mine.items() if k != "name" and v != other.get(k)]
        return f"{self.name} with {', '.join(changed)}" if changed else self.name

    def replace(self, **changes: Any) -> Target:
        return make_target({**self.to_dict(), **changes})

    @staticmethod
    def tunable_fields() -> tuple[str, ...]:
        """The fields marked tunable (the families' own: `Family.tunable_hardware`)."""
        return tuple(
            f.name
            for f in dataclasses.fields(Target)
            if isinstance(f.default, pydantic.fields.FieldInfo)
            and (f.default.json_schema_extra or {}).get("tunable")
        )


PRESETS: dict[str, dict[str, Any]] = {
    "tpu-like": dict(name="tpu-like", arch="systolic", rows=32, cols=32, dataflow="ws"),
    "tpu-like-small": dict(
        name="tpu-like-small",
        arch="systolic",
        rows=8,
        cols=8,
        dataflow="ws",
        ifmap_sram_kib=16,
        filter_sram_kib=16,
        ofmap_sram_kib=16,
        dram_bw_bytes_per_cycle=16,
    ),
    "tpu-v1": dict(
        name="tpu-v1",
        arch="systolic",
        rows=256,
        cols=256,
        dataflow="ws",
        ifmap_sram_kib=12 * 1024,
        filter_sram_kib=12 * 1024,
        ofmap_sram_kib=4 * 1024,
        sram_banks=64,
        dram_bw_bytes_per_cycle=34,
        clock_mhz=700,
    ),
}


def maeri_preset(num_multipliers: int) -> dict[str, Any]:
    """The fields of preset `maeri-N` (see the module docstring for the defaults' sources)."""
    ports = max(1, num_multipliers // 8)
    return dict(
        name=f"maeri-{num_multipliers}",
        arch="maeri",
        num_multipliers=num_multipliers,
        dn_bw_elems_per_cycle=ports,
        rn_bw_elems_per_cycle=ports,
        accumulation_buffer=True,
        dataflow="os",
        global_buffer="shared",
        ifmap_sram_kib=512,
        filter_sram_kib=512,
        ofmap_sram_kib=512,
        dram_bw_bytes_per_cycle=1024,
        dram_latency_cycles=0,
    )


def sigma_preset(num_multipliers: int) -> dict[str, Any]:
    """The fields of preset `sigma-N` (see the module docstring for the defaults' sources)."""
    return dict(
        maeri_preset(num_multipliers),
        name=f"sigma-{num_multipliers}",
        arch="sigma",
        dn_bw_elems_per_cycle=num_multipliers,
        rn_bw_elems_per_cycle=num_multipliers,
    )


# Listed by `accelflow targets`; any other power of two N works by name too.
PRESETS["maeri-64"] = maeri_preset(64)
PRESETS["maeri-128"] = maeri_preset(128)
PRESETS["sigma-64"] = sigma_preset(64)
PRESETS["sigma-128"] = sigma_preset(128)

PRESET_DESCRIPTIONS: dict[str, str] = {
    "tpu-like": "32x32 systolic array, weight-stationary, 3 x 256 KiB global buffers, 32 B/cycle DRAM",
    "tpu-like-small": "8x8 systolic array, weight-stationary, 3 x 16 KiB buffers (forces tiling)",
    "tpu-v1": "256x256 systolic array like TPU v1 (24 MiB unified buffer split), 700 MHz",
    "maeri-64": "MAERI as in STONNE, 8 read / 8 write ports, accumulation buffer (any maeri-N)",
    "maeri-128": "MAERI as in STONNE, 16 read / 16 write ports, accumulation buffer",
    "sigma-64": "SIGMA as in STONNE, sparse (bitmap) weights, 64 read / 64 write ports (any sigma-N)",
    "sigma-128": "SIGMA as in STONNE, sparse (bitmap) weights, 128 read / 128 write ports",
}


def preset_fields(name: str) -> dict[str, Any] | None:
    """The fields of preset `name` (`maeri-N`, `sigma-N` for any power of two N), or None."""
    if name in PRESETS:
        return dict(PRESETS[name])
    prefix, _, count = name.partition("-")
    builders = {"maeri": maeri_preset, "sigma": sigma_preset}
    if prefix in builders and count.isdigit():
        n = int(count)
        if n < 1 or n & (n - 1):
            raise TargetError(f"unknown target '{name}': {prefix}-N needs N a power of two")
        return builders[prefix](n)
    return None


def _field_names() -> list[str]:
    """The target fields: the common ones, then every registered family's own."""
    common = [f.name for f in dataclasses.fields(Target) if f.name != "family_fields"]
    own = [n for fam in families.families() if fam.fields for n in fam.fields.model_fields]
    return common + [n for n in own if n not in common]


def _family_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` with the family's own fields (the names not common to every target) validated
    by its model into `family_fields`."""
    common = {f.name for f in dataclasses.fields(Target)}
    own = {k: v for k, v in fields.items() if k not in common}
    fields = {k: v for k, v in fields.items() if k in common}
    arch = str(fields.get("arch", "systolic"))
    if arch not in families.names():
        return fields  # the arch's validator reports it
    model = families.family(arch).fields
    if own and (model is None or any(k not in model.model_fields for k in own)):
        name = next(k for k in sorted(own) if model is None or k not in model.model_fields)
        theirs = [f.name for f in families.families() if f.fields and name in f.fields.model_fields]
        where = f"; it is a field of {', '.join(theirs)} targets" if theirs else ""
        raise TargetError(
            f"unknown target field '{name}' for a {arch} target{where} (valid fields: "
            f"{', '.join(_field_names())})"
        )
    if model is not None:
        given = {**fields.get("family_fields", {}), **own}
        try:
            fields["family_fields"] = model(**given).model_dump()
        except pydantic.ValidationError as err:
            first = err.errors()[0]
            loc = ".".join(str(p) for p in first["loc"]) or "?"
            value = given.get(str(first["loc"][0])) if first["loc"] else None
            raise TargetError(f"invalid target field '{loc}' = {value!r}: {first['msg']}") from None
    return fields


def _check_arch(arch: Any, where: str = "") -> None:
    """An unknown family is reported before its fields (which only it would know)."""
    if arch is not None and str(arch) not in families.names():
        raise TargetError(
            f"{where}unknown accelerator family '{arch}' (known: {', '.join(families.names())}; "
            f"a family from a plugin needs its package installed)"
        )


def make_target(fields: dict[str, Any]) -> Target:
    """Build a Target from a dict, turning pydantic's report into one line naming the field."""
    _check_arch(fields.get("arch"))
    unknown = sorted(set(fields) - set(_field_names()) - {"family_fields"})
    if unknown:
        raise TargetError(
            f"unknown target field '{unknown[0]}' (valid fields: {', '.join(_field_names())})"
        )
    fields = _family_fields(fields)
    try:
        target = Target(**fields)
    except pydantic.ValidationError as err:
        first = err.errors()[0]
        if not first["loc"]:  # a check across fields (_check_maeri): its message names them
            message = str(first["msg"]).removeprefix("Value error, ")
            raise TargetError(f"invalid target field {message}") from None
        loc = ".".join(str(p) for p in first["loc"]) or "?"
        value = fields.get(str(first["loc"][0])) if first["loc"] else None
        raise TargetError(f"invalid target field '{loc}' = {value!r}: {first['msg']}") from None
    _check_numbers(target.to_dict())
    return target


def _parse_override(item: str) -> tuple[str, str]:
    if "=" not in item:
        raise TargetError(f"--set expects FIELD=VALUE, got '{item}'")
    key, value = item.split("=", 1)
    key = key.strip().replace("-", "_")
    if key not in _field_names():
        raise TargetError(
            f"unknown target field '{key}' (valid fields: {', '.join(_field_names())})"
        )
    return key, value.strip()


def _yaml_fields(
    path: Path, chain: tuple[Path, ...] = (), written: dict[str, Path] | None = None
) -> dict[str, Any]:
    """The fields of target file `path` over those of its `base` (a preset, or another target
    file, relative to `path`'s folder), which may have a base of its own. `chain` is the files
    that named this one (a file reached again is a cycle); `written`, when given, gets each
    field's file (the nearest of the chain that sets it)."""
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain[chain.index(resolved) :], resolved))
        raise TargetError(f"target file {path}: its base chain is a cycle: {cycle}")
    existing_file(path, TargetError, MAX_TARGET_FILE_BYTES)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise TargetError(f"target file {path} is not valid YAML: {_one_line(err)}") from None
    except UnicodeDecodeError:
        raise TargetError(f"target file {path} is not UTF-8 text") from None
    except RecursionError:
        raise TargetError(f"target file {path} is nested too deeply") from None
    except OSError as err:
        raise TargetError(f"target file {path} cannot be read: {err.strerror}") from None
    if not isinstance(data, dict):
        raise TargetError(f"target file {path} must hold a mapping of field: value")
    _check_arch(data.get("arch"), f"target file {path}: ")
    unknown = sorted(str(key) for key in set(data) - {"base", *_field_names()})
    if unknown:
        raise TargetError(
            f"target file {path}: unknown target field '{unknown[0]}' "
            f"(valid fields: base, {', '.join(_field_names())})"
        )
    if written is not None:  # which file wrote each field (the nearest, as for the values)
        for key in data:
            if key not in ("base", "name"):
                written.setdefault(str(key), path)
    data.setdefault("name", path.stem)
    base = data.pop("base", None)
    if base is None:
        return data
    fields = preset_fields(str(base))
    if fields is None:
        base_path = path.parent / Path(str(base)).expanduser()
        if not base_path.exists():
            raise TargetError(
                f"target file {path}: unknown base preset '{base}' ({', '.join(PRESETS)}, "
                f"maeri-N, sigma-N) and no target file {base_path}"
            )
        fields = _yaml_fields(base_path, (*chain, resolved), written)
    fields.update(data)
    return fields


def load_target(
    spec: str | Path | Target,
    overrides: list[str] | tuple[str, ...] = (),
    warn_unread: bool = True,
) -> Target:
    """A Target from a preset name, a YAML path or a Target, with `FIELD=VALUE` overrides applied.
    An override, or a target file's field set to other than its default, that the target never
    reads (`Target.unread_reason`: rows on a MAERI, an energy price under STONNE's energy)
    changes nothing: a warning says so, unless `warn_unread` is False.

    A YAML file holds target fields and optionally `base:`, the preset or the other YAML file
    (a path relative to the file naming it) whose fields it starts from; a base file may have a
    base of its own, and a cycle of files is an error. A file without a `name` field names the
    target after itself (its stem), not after its base."""
    written: dict[str, Path] = {}  # a target file's own fields, by the file
    if isinstance(spec, Target):
        fields = spec.to_dict()
    elif (preset := preset_fields(str(spec))) is not None:
        fields = preset
    else:
        path = Path(spec)
        if not path.exists():
            raise TargetError(
                f"unknown target '{spec}': not a preset ({', '.join(PRESETS)}) nor a YAML file"
            )
        fields = _yaml_fields(path, written=written)
    for item in overrides:
        key, value = _parse_override(item)
        try:
            fields[key] = yaml.safe_load(value) if value else value
        except (yaml.YAMLError, RecursionError):
            raise TargetError(f"--set {key}: '{value[:40]}' is not a YAML value") from None
    target = make_target(fields)
    if warn_unread:
        given = {_parse_override(item)[0]: "--set " for item in overrides}
        # A file's field at its default is left alone: accelflow writes every field of a target
        # to the files it saves (a tuned target, `Target.to_dict`).
        given.update(
            {
                k: f"{p}: "
                for k, p in written.items()
                if k not in given and not _is_default(target, k)
            }
        )
        for key, where in given.items():
            reason = target.unread_reason(key)
            if reason is not None:
                # (raised here, stacklevel 1: a process loading the target twice warns once)
                warnings.warn(f"{where}{key} changes nothing: {reason}", stacklevel=1)
    return target


def _is_default(target: Target, name: str) -> bool:
    """Whether `target`'s common field `name` holds the Target default."""
    spec = next((f for f in dataclasses.fields(Target) if f.name == name), None)
    if spec is None:
        return False
    default = spec.default.default if isinstance(spec.default, FieldInfo) else spec.default
    return bool(getattr(target, name) == default)


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def _check_numbers(fields: dict[str, Any]) -> None:
    """Numbers a target's validators let through: nan and inf (a finite bound is not checked
    by pydantic's gt/ge on an infinite value), numbers past 2**40 and a DRAM bandwidth so small
    that the cycles of moving a tensor would not fit a 64-bit counter."""
    for key, value in fields.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise TargetError(f"invalid target field '{key}' = {value}: must be a finite number")
        if isinstance(value, int | float) and not isinstance(value, bool) and value > MAX_NUMBER:
            raise TargetError(
                f"invalid target field '{key}' = {value!r}: must be <= 2**40 (the cycle and "
                "byte counts it enters are 64-bit integers)"
            )
    bw = fields.get("dram_bw_bytes_per_cycle")
    if isinstance(bw, int | float) and not isinstance(bw, bool) and 0 < bw < MIN_DRAM_BW:
        raise TargetError(
            f"invalid target field 'dram_bw_bytes_per_cycle' = {bw!r}: must be >= {MIN_DRAM_BW:g} "
            "(one byte per 1024 cycles; below it the cycle counts of a model overflow)"
        )
