"""docs/ops.md lists every supported operator, generated from the importer's registry; every
operator the importer accepts runs somewhere (the accelerator, or a host implementation)."""

from __future__ import annotations

from pathlib import Path

from compiler.ops_doc import ACCELERATED, markdown
from dialects.onnx import SUPPORTED_OPS
from simulator.host_ops import HOST_OPS

DOC = Path(__file__).resolve().parents[2] / "docs" / "ops.md"


def test_docs_ops_md_is_current():
    assert DOC.read_text() == markdown(), "regenerate: python -m compiler.ops_doc > docs/ops.md"


def test_every_supported_operator_runs_somewhere():
    missing = [op for op in SUPPORTED_OPS if op not in HOST_OPS and op not in ACCELERATED]
    assert not missing, f"imported but not implemented: {missing}"
    assert not set(HOST_OPS) - set(SUPPORTED_OPS), "host ops the importer refuses"
