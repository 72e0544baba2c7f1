"""The mapping database: round trip, atomic writes, clear errors, its keys (layer signature,
timing fingerprint, objective), provenance, and that a better entry is never silently replaced."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from compiler import tiling
from simulator.errors import AccelflowError
from simulator.target import Target, load_target
from tuner import db as dbmod
from tuner.db import DatabaseError, MappingDB, entry_key, read_mappings, write_atomic

TARGET = load_target("tpu-like-small")
CONV = tiling.conv2d_shape((1, 6, 14, 14), (16, 6, 5, 5), has_bias=True)
FC = tiling.matmul_shape((1, 400), (400, 120), has_bias=True)


def tuned(shape: tiling.LayerShape, target: Target = TARGET) -> tiling.Mapping:
    return tiling.default_mapping(shape, target, dataflow="os")


def small_db() -> MappingDB:
    db = MappingDB()
    db.put(CONV, TARGET, tuned(CONV), cycles=123, default_cycles=456, layers=["/conv2/Conv"])
    db.put(FC, TARGET, tuned(FC), cycles=7)
    return db


# --- round trip ----------------------------------------------------------------------------


def test_put_save_load_lookup_round_trip(tmp_path):
    db = small_db()
    path = tmp_path / "maps.json"
    db.save(path)
    loaded = MappingDB.load(path)
    assert loaded == db
    assert len(loaded) == 2
    assert loaded.lookup(CONV, TARGET) == tuned(CONV)
    assert loaded.lookup(FC, TARGET) == tuned(FC)
    assert loaded.lookup(CONV, load_target("tpu-like")) is None
    entry = loaded.entries[entry_key(CONV.signature, TARGET.timing_fingerprint())]
    assert entry["cycles"] == 123 and entry["layers"] == ["/conv2/Conv"]
    assert loaded.targets[TARGET.fingerprint()] == TARGET.to_dict()
    assert json.loads(path.read_text())["format"] == "accelflow-mappings"


def test_for_target_and_fingerprints():
    db = small_db()
    other = load_target("tpu-like")
    db.put(CONV, other, tiling.default_mapping(CONV, other))
    assert db.fingerprints() == sorted({TARGET.timing_fingerprint(), other.timing_fingerprint()})
    assert db.for_target(TARGET) == {
        CONV.signature: tuned(CONV).to_dict(),
        FC.signature: tuned(FC).to_dict(),
    }
    assert db.for_target(other) == {CONV.signature: tiling.default_mapping(CONV, other).to_dict()}
    assert db.for_target(load_target("maeri-64")) == {}


def test_put_replaces_and_keeps_its_keys_over_extras():
    db = small_db()
    db.put(CONV, TARGET, tiling.default_mapping(CONV, TARGET), signature="junk", overwrite=True)
    assert len(db) == 2
    assert db.lookup(CONV, TARGET) == tiling.default_mapping(CONV, TARGET)
    entry = db.entries[entry_key(CONV.signature, TARGET.timing_fingerprint())]
    assert entry["signature"] == CONV.signature


def test_a_better_entry_is_never_silently_replaced():
    db = small_db()  # CONV: 123 cycles
    other = tiling.default_mapping(CONV, TARGET)
    assert db.put(CONV, TARGET, other, cycles=200) == "kept"
    assert db.put(CONV, TARGET, other) == "kept"  # no figures: not known to be better
    assert db.lookup(CONV, TARGET) == tuned(CONV)
    assert db.put(CONV, TARGET, other, cycles=123) == "kept"  # a tie keeps the old one
    assert db.put(CONV, TARGET, other, cycles=100) == "replaced"
    assert db.lookup(CONV, TARGET) == other
    assert db.put(CONV, TARGET, tuned(CONV), cycles=900, overwrite=True) == "replaced"
    assert db.lookup(CONV, TARGET) == tuned(CONV)
    merged = MappingDB()
    merged.put(CONV, TARGET, other, cycles=50)
    assert db.merge(merged) == {"added": 0, "replaced": 1, "kept": 0}
    assert db.merge(small_db()) == {"added": 0, "replaced": 0, "kept": 2}


def test_objectives_are_kept_apart_and_chosen_by_compile():
    db = small_db()  # latency entries
    energy = tiling.default_mapping(CONV, TARGET)
    assert db.put(CONV, TARGET, energy, "energy", cycles=999, energy_pj=5.0) == "added"
    assert len(db) == 3
    assert db.lookup(CONV, TARGET) == tuned(CONV)  # latency first by default
    assert db.lookup(CONV, TARGET, "energy") == energy
    assert db.for_target(TARGET, "energy")[FC.signature] == tuned(FC).to_dict()  # falls back
    assert db.put(CONV, TARGET, tuned(CONV), "energy", energy_pj=6.0) == "kept"
    assert db.put(CONV, TARGET, tuned(CONV), "edp", cycles=2, energy_pj=6.0) == "added"
    assert db.lookup(CONV, TARGET, "energy") == energy
    with pytest.raises(DatabaseError, match="unknown objective 'speed'"):
        db.put(CONV, TARGET, energy, "speed")


def test_cost_fields_leave_entries_usable_and_are_reported():
    db = small_db()
    cheaper = TARGET.replace(mac_energy_pj=0.3, clock_mhz=500.0)
    assert cheaper.timing_fingerprint() == TARGET.timing_fingerprint()
    assert cheaper.fingerprint() != TARGET.fingerprint()
    assert db.for_target(cheaper) == db.for_target(TARGET)
    assert db.cost_mismatches(cheaper) == sorted([CONV.signature, FC.signature])
    assert db.cost_mismatches(TARGET) == []
    # a timing field is a different target
    assert db.for_target(TARGET.replace(dram_bw_bytes_per_cycle=3.0)) == {}
    # energies measured under other cost fields are not compared: the new entry wins
    db.put(CONV, TARGET, tuned(CONV), "energy", energy_pj=1.0)
    assert db.put(CONV, cheaper, tiling.default_mapping(CONV, TARGET), "energy", energy_pj=9.0) == (
        "replaced"
    )


def test_entries_carry_provenance_and_structured_dims():
    db = MappingDB()
    db.put(CONV, TARGET, tuned(CONV), "energy", cycles=1, energy_pj=2.0, model_sha256="ab" * 32,
           strategy="random", seed=3, budget=10, evaluations=9, layers=["/c"])  # fmt: skip
    (entry,) = db.entries.values()
    assert entry["objective"] == "energy" and entry["fingerprint"] == TARGET.fingerprint()
    assert entry["layer"]["kind"] == "conv2d" and entry["layer"]["dims"] == CONV.dims
    assert entry["layer"]["stride"] == [1, 1] and entry["layer"]["has_bias"] is True
    assert entry["accelflow_version"] and entry["created"].endswith("+00:00")
    for name in ("model_sha256", "strategy", "seed", "budget", "evaluations", "layers"):
        assert name in entry


def test_a_version_1_file_reads_as_latency_entries(tmp_path):
    fp = TARGET.fingerprint()
    v1 = {
        "format": "accelflow-mappings",
        "version": 1,
        "targets": {fp: TARGET.to_dict()},
        "entries": {
            f"{CONV.signature} @ {fp}": {
                "signature": CONV.signature, "target": fp, "mapping": tuned(CONV).to_dict(),
                "cycles": 5,
            }
        },
    }  # fmt: skip
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(v1))
    db = MappingDB.load(path)
    assert db.lookup(CONV, TARGET) == tuned(CONV)
    (key,) = db.entries
    assert key == entry_key(CONV.signature, TARGET.timing_fingerprint(), "latency")


# --- atomic save ---------------------------------------------------------------------------


def test_save_replaces_an_existing_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "maps.json"
    path.write_text("old contents")
    db = small_db()  # once: its entries carry their creation time (seconds)
    db.save(path)
    assert MappingDB.load(path) == db
    assert sorted(p.name for p in tmp_path.iterdir()) == ["maps.json"]


def test_save_creates_missing_folders(tmp_path):
    path = tmp_path / "a" / "b" / "maps.json"
    db = small_db()
    db.save(path)
    assert MappingDB.load(path) == db


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "maps.json"
    small_db().save(path)
    before = path.read_text()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(dbmod.os, "replace", crash)
    db = small_db()
    db.put(CONV, TARGET, tiling.default_mapping(CONV, TARGET))
    with pytest.raises(OSError, match="disk full"):
        db.save(path)
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["maps.json"]


def test_write_atomic_writes_text(tmp_path):
    write_atomic(tmp_path / "x.txt", "hello\n")
    assert (tmp_path / "x.txt").read_text() == "hello\n"
    assert os.listdir(tmp_path) == ["x.txt"]


# --- malformed files -----------------------------------------------------------------------

GOOD_MAPPING = tuned(CONV).to_dict()
FP = TARGET.fingerprint()


def _entry(**changes):
    return {"signature": CONV.signature, "target": FP, "mapping": GOOD_MAPPING, **changes}


MALFORMED = {
    "not-json": ("{not json", "not valid JSON"),
    "not-object": ("[1, 2]", "not an accelflow mapping database"),
    "no-format": (json.dumps({"entries": {}}), 'no "format"'),
    "other-format": (json.dumps({"format": "onnx"}), "\"format\" is 'onnx'"),
    "version": (
        json.dumps({"format": "accelflow-mappings", "version": 7}),
        "database version 7, this accelflow reads 1 and 2",
    ),
    "entries-list": (
        json.dumps({"format": "accelflow-mappings", "version": 1, "entries": []}),
        '"entries" is not an object',
    ),
    "targets-list": (
        json.dumps({"format": "accelflow-mappings", "version": 1, "targets": [1]}),
        '"targets" is not an object',
    ),
    "no-mapping": (
        json.dumps({"format": "accelflow-mappings", "version": 1, "entries": {"k": {}}}),
        "entry 'k' has no mapping",
    ),
    "no-signature": (
        json.dumps(
            {
                "format": "accelflow-mappings",
                "version": 1,
                "entries": {"k": {"target": FP, "mapping": GOOD_MAPPING}},
            }
        ),
        "entry 'k' has no \"signature\"",
    ),
    "bad-mapping": (
        json.dumps(
            {
                "format": "accelflow-mappings",
                "version": 1,
                "entries": {"k": _entry(mapping={"dataflow": "ws", "tiles": {}})},
            }
        ),
        "entry 'k': mapping is missing 'order'",
    ),
    "mapping-not-object": (
        json.dumps(
            {"format": "accelflow-mappings", "version": 1, "entries": {"k": _entry(mapping=3)}}
        ),
        "entry 'k': the mapping is not an object",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_file_is_a_database_error(tmp_path, case):
    text, needle = MALFORMED[case]
    path = tmp_path / "maps.json"
    path.write_text(text)
    with pytest.raises(DatabaseError) as info:
        MappingDB.load(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert needle in message
    assert "\n" not in message
    assert isinstance(info.value, AccelflowError) and info.value.exit_code == 2


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(DatabaseError, match="no such mapping database"):
        MappingDB.load(tmp_path / "nope.json")
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DatabaseError, match="not valid JSON"):
        MappingDB.load(binary)
    with pytest.raises(DatabaseError, match="not a regular file"):
        MappingDB.load(tmp_path)


# --- read_mappings: a database, or the older plain layer-name object -----------------------


def test_read_mappings_database_and_plain(tmp_path):
    path = tmp_path / "maps.json"
    db = small_db()
    db.save(path)
    assert read_mappings(path) == db
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"/conv2/Conv": GOOD_MAPPING}))
    assert read_mappings(plain) == {"/conv2/Conv": GOOD_MAPPING}
    nested = tmp_path / "nested.json"
    nested.write_text(json.dumps({"layers": {"/conv2/Conv": {"mapping": GOOD_MAPPING}}}))
    assert read_mappings(nested) == {"/conv2/Conv": GOOD_MAPPING}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[1]", "got list"),
        ('{"a": 1}', "'a' is not a layer's mapping"),
        ('{"/fc": {"dataflow": "ws"}}', "layer '/fc': mapping is missing 'tiles'"),
        ('{"format": "accelflow-mappings"}', "database version None"),
    ],
)
def test_read_mappings_rejects_other_json(tmp_path, text, needle):
    path = tmp_path / "maps.json"
    path.write_text(text)
    with pytest.raises(DatabaseError) as info:
        read_mappings(path)
    assert needle in str(info.value)


# --- the keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"dram_latency_cycles": 101},
        {"dram_bw_bytes_per_cycle": 8.0},
        {"rows": 16},
        {"ifmap_sram_kib": 1.0},
    ],
)
def test_fingerprint_changes_with_hardware_fields(change):
    assert TARGET.replace(**change).fingerprint() != TARGET.fingerprint()


def test_fingerprint_ignores_name_and_default_dataflow():
    other = TARGET.replace(name="renamed", dataflow="os")
    assert other.fingerprint() == TARGET.fingerprint()


def test_fingerprint_of_preset_equals_identical_yaml(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(load_target("tpu-like").to_dict()))
    from_yaml = load_target(path)
    assert from_yaml.fingerprint() == load_target("tpu-like").fingerprint()
    based = tmp_path / "based.yaml"
    based.write_text("base: tpu-like\nname: my-tpu\n")
    assert load_target(based).fingerprint() == load_target("tpu-like").fingerprint()
    based.write_text("base: tpu-like\nname: my-tpu\ndram_latency_cycles: 50\n")
    assert load_target(based).fingerprint() != load_target("tpu-like").fingerprint()


def test_fingerprint_is_twelve_hex_digits():
    fp = TARGET.fingerprint()
    assert len(fp) == 12 and int(fp, 16) >= 0


@pytest.mark.parametrize(
    "other",
    [
        tiling.conv2d_shape((1, 6, 14, 14), (16, 6, 5, 5), strides=(2, 2), has_bias=True),
        tiling.conv2d_shape((1, 6, 14, 14), (16, 6, 5, 5), strides=(1, 2), has_bias=True),
        tiling.conv2d_shape((1, 6, 12, 12), (16, 6, 5, 5), pads=(1, 1, 1, 1), has_bias=True),
        tiling.conv2d_shape((1, 6, 13, 13), (16, 6, 5, 5), pads=(1, 1, 0, 0), has_bias=True),
        tiling.conv2d_shape((1, 6, 14, 14), (16, 6, 5, 5), has_bias=False),
    ],
)
def test_signature_differs_for_other_geometry(other):
    assert other.signature != CONV.signature
    db = small_db()
    assert db.lookup(other, TARGET) is None


def test_signature_is_equal_for_equal_layers():
    again = tiling.conv2d_shape((1, 6, 14, 14), (16, 6, 5, 5), has_bias=True)
    assert again.signature == CONV.signature
    assert small_db().lookup(again, TARGET) == tuned(CONV)


def test_signature_tells_shared_from_batched_weights():
    shared = tiling.matmul_shape((2, 1, 400), (400, 120), has_bias=True)
    batched = tiling.matmul_shape((2, 1, 400), (2, 400, 120), has_bias=True)
    assert shared.dims == batched.dims
    assert shared.signature != batched.signature
