"""A real model, end to end: `make live-test` (slow, optional, never in CI).

Sample 002 goes through ``gkextract run --local-model`` against Qwen2.5-Coder-1.5B
on the llama.cpp server embedded in xllamacpp, started and stopped by the run.
The result must validate (both sections ``ok``), be grounded (every item has a
located span or a ``quote_not_found`` flag and a score below the threshold), and
the saved replies must carry their provenance.  Skipped, saying why, unless
GKEXTRACT_LIVE_MODEL names the .gguf and xllamacpp is installed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gkextract.cli import app

ROOT = Path(__file__).resolve().parent.parent
MODEL = Path(os.environ.get("GKEXTRACT_LIVE_MODEL", "").strip() or "/nonexistent")

pytestmark = [
    pytest.mark.skipif(not MODEL.is_file(), reason="no local model: run `make live-test` (it assembles the model "
                       "with scripts/get_test_model.py and sets GKEXTRACT_LIVE_MODEL)"),
    pytest.mark.skipif(importlib.util.find_spec("xllamacpp") is None,
                       reason="xllamacpp is not installed: pip install -e '.[local]'"),
]


def test_one_sample_end_to_end_with_the_real_model(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from get_test_model import SHA256

    db, replies = tmp_path / "gk.db", tmp_path / "llm"
    result = CliRunner().invoke(app, ["run", str(ROOT / "fixtures/reports/002_a08c52f4e01fde1f.txt"), "--db", str(db),
                                      "--local-model", str(MODEL), "--mode", "record", "--fixtures", str(replies),
                                      "--server-log", str(tmp_path / "server.log")])
    assert result.exit_code == 0, result.output
    with closing(sqlite3.connect(db)) as con:
        extractions = con.execute("SELECT section, status, model FROM extractions ORDER BY section").fetchall()
        assert extractions == [("overview", "ok", MODEL.stem), ("problems", "ok", MODEL.stem)]
        items = [row for t in ("facts", "problems", "improvements")
                 for row in con.execute(f"SELECT span_start, match, score, flags FROM {t}")]
    assert items, "the model extracted nothing"
    for start, match, score, flags in items:
        assert 0.0 <= score <= 1.0
        if start is None:   # a quote the report does not contain is always flagged
            assert match == "none" and "quote_not_found" in json.loads(flags) and score < 0.7
    assert any(match == "exact" for _, match, _, _ in items)
    saved = [json.loads(p.read_text(encoding="utf-8")) for p in (replies / "responses").glob("*.json")]
    assert len(saved) == 2
    for reply in saved:
        assert reply["source"] == "recorded"
        assert reply["provenance"]["model_sha256"] == SHA256
        assert reply["provenance"]["quantisation"] == "Q4_K_M"
        assert reply["provenance"]["server_params"]["repeat_penalty"] == 1.1
