"""The Program's row schema (`simulator.program.ROW`): one encode, one decode, one layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from simulator.arch import maeri, sigma
from simulator.errors import AccelflowError
from simulator.program import (
    FORMAT_VERSION,
    OP_COMPUTE,
    OP_CONFIG,
    ROW,
    Layer,
    Program,
    ProgramFormatError,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "program.md"


def test_layout_is_named_and_contiguous():
    assert ROW.num_columns == len(ROW.column_names) == 60
    assert ROW.column("opcode") == 0  # the opcode stays first
    assert len(set(ROW.column_names)) == ROW.num_columns
    start = 0
    for field in ROW.fields:
        column = ROW.column(field.name)
        if field.members:
            assert column == slice(start, start + field.width)
            assert [ROW.column(m) for m in field.members] == list(range(start, column.stop))
        else:
            assert column == start
        start += field.width
    assert start == ROW.num_columns


def test_group_members_are_the_architectures_fields():
    assert ROW.field("steps").members == maeri.STEP_FIELDS
    assert ROW.field("sparse").members == sigma.SPARSE_FIELDS
    assert ROW.field("gemm").members == ("reps", "m", "n", "k")


def test_encode_then_view_round_trips_named_values():
    rows = ROW.encode(
        3,
        opcode=OP_COMPUTE,
        layer=2,
        s_out=[0, 1, 0],
        gemm=[[1, 2, 3, 4], [5, 6, 7, 8], [1, 1, 1, 1]],
        off=[0, 4],
        size=np.array([[4, 4], [4, 2], [1, 1]]),
        sparse=None,
    )
    assert rows.shape == (3, ROW.num_columns) and rows.dtype == np.int64
    view = ROW.view(rows)
    assert view.opcode.tolist() == [OP_COMPUTE] * 3
    assert view.layer.tolist() == [2, 2, 2]
    assert view["s_out"].tolist() == [0, 1, 0]
    assert view.m.tolist() == [2, 6, 1]
    assert view.off.tolist() == [[0, 4, 0, 0, 0, 0, 0, 0]] * 3
    assert view.size[:, :2].tolist() == [[4, 4], [4, 2], [1, 1]]
    assert not view.sparse.any() and not view.steps.any()
    one = ROW.view(rows[1])  # a single row reads the same way
    assert int(one.k) == 8 and one.gemm.tolist() == [5, 6, 7, 8]


def test_encode_refuses_unknown_fields_and_wide_groups():
    with pytest.raises(KeyError, match="no field 'slots'.*opcode"):
        ROW.encode(1, slots=1)
    with pytest.raises(ValueError, match="'gemm' takes 1 to 4 values"):
        ROW.encode(1, gemm=[1, 2, 3, 4, 5])
    with pytest.raises(AttributeError, match="no field 'nope'"):
        _ = ROW.view(np.zeros(ROW.num_columns, np.int64)).nope


def test_docs_hold_the_layout_table():
    assert ROW.describe() in DOCS.read_text()


def test_load_refuses_another_format_naming_both(tmp_path):
    rows = ROW.encode(1, opcode=OP_CONFIG)
    layer = Layer("l", "matmul", True, [], [], instr_begin=0, instr_end=1)
    program = Program(rows, [layer], {}, {}, [], [])
    folder = program.save(tmp_path / "p")
    np.testing.assert_array_equal(Program.load(folder).instrs, rows)
    meta = json.loads((folder / "program.json").read_text())
    assert meta["fields"] == list(ROW.column_names)
    meta["format_version"] = FORMAT_VERSION - 1
    (folder / "program.json").write_text(json.dumps(meta))
    with pytest.raises(ProgramFormatError) as err:
        Program.load(folder)
    assert f"format {FORMAT_VERSION - 1}" in str(err.value)
    assert f"format {FORMAT_VERSION} only" in str(err.value)
    assert isinstance(err.value, AccelflowError)
