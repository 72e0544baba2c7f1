"""The tuning log reader never changes a file that is not a tuning log (issue 13's data loss:
`tune --resume model.onnx` cut the end off the model), and cuts a torn last line off a real one."""

from __future__ import annotations

import json

import pytest

from tuner.log import LOG_VERSION, TuneError, TuneLog


def test_a_file_that_is_not_a_log_is_refused_unchanged(tmp_path):
    cases = {
        "model.onnx": b"\x08\x07\x12\x07pytorch\x1a\x032.1:\x8a\x01binary-without-newline",
        "notes.txt": b"line one\nline two without end",
        "list.jsonl": b'[1, 2]\n{"type": "head',
        "other.jsonl": b'{"type": "eval"}\n{"torn',
        "version.jsonl": b'{"type": "header", "version": 99}\n{"torn',
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(TuneError):
            TuneLog.read(path)
        assert path.read_bytes() == data, name
    with pytest.raises(TuneError, match="not a regular file"):
        TuneLog.read(tmp_path)


def test_a_torn_last_line_of_a_log_is_cut_off(tmp_path):
    path = tmp_path / "run.log.jsonl"
    header = json.dumps({"type": "header", "version": LOG_VERSION})
    path.write_text(header + '\n{"type": "eval", "lay')
    records = TuneLog.read(path)
    assert records == [json.loads(header)]
    assert path.read_text() == header + "\n"
