"""The corpus (fixtures/corpus) as a database: ingested, extracted in replay mode, cross-year data computed.

Narrative replies exist for the reports with hand-written answers
(fixtures/llm/answers/<stem>.<section>.json: 02–07 and 11–18); 01 (pre-2019) and the
web-page copies 08–10 are ingested without narrative.  Reports are extracted one at a
time in file-name order, so row ids do not depend on which call finishes first.
Import the fixture into a test module: ``from corpus_db import corpus_db, corpus_db_copy``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlite_utils

from conftest import LLM_FIXTURES, ROOT, copy_db
from gkextract.crossyear import refresh
from gkextract.ingest import ingest_paths
from gkextract.llm import LLMSettings, Mode
from gkextract.narrative import SECTIONS, extract_reports
from gkextract.store import open_db

CORPUS = ROOT / "fixtures" / "corpus"
ANSWERS = LLM_FIXTURES / "answers"


def answered(db: sqlite_utils.Database) -> list[str]:
    """Report ids with both hand-written answers, in file-name order."""
    return [rid for rid, name in db.execute("SELECT id, file_name FROM reports ORDER BY file_name")
            if all((ANSWERS / f"{Path(name).stem}.{s}.json").exists() for s in SECTIONS)]


def rid(db: sqlite_utils.Database, prefix: str) -> str:
    """The id of the corpus report whose file name starts with ``prefix`` ("07", "15-pingtan-czj")."""
    (row,) = db.execute("SELECT id FROM reports WHERE file_name LIKE ? || '%'", [prefix]).fetchall()
    return row[0]


@pytest.fixture(scope="session")
def corpus_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus, replayed and refreshed. Shared: do not modify, use corpus_db_copy."""
    path = tmp_path_factory.mktemp("corpus") / "gk.db"
    db = open_db(path)
    results = ingest_paths(db, [CORPUS])
    assert sorted(r.status for r in results).count("ingested") == 18
    settings = LLMSettings(mode=Mode.replay, cache_dir=LLM_FIXTURES)
    ids = answered(db)
    assert len(ids) == 14
    for report in ids:
        assert extract_reports(db, settings, report_ids=[report]).failures == []
    refresh(db)
    db.close()
    return path


@pytest.fixture
def corpus_db_copy(corpus_db: Path, tmp_path: Path) -> Path:
    return copy_db(corpus_db, tmp_path / "corpus.db")
