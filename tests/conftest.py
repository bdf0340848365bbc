"""Shared fixtures: the five sample reports ingested and extracted by the real pipeline in replay mode.

Every narrative row comes from ``extract_reports`` serving the saved hand-written
replies in fixtures/llm/responses (built from fixtures/llm/answers/<report>.<section>.json:
98 facts, 22 problems, 22 improvements).  Three databases are built once per session:

* ``sample_db``: the default review threshold (0.7).  Only 003's and 004's
  ``application/handled`` facts are flagged (conflicts_with_table, score 0.65).
* ``failed_db``: the same, except 002's saved problems reply is missing, so that
  extraction has status "error" (for shares whose denominators count only reports
  whose problems extraction succeeded).
* ``review_db``: review threshold 0.95, so the three trainings without a number
  (no_value, score 0.9) join the queue: five flagged facts.

Reports are extracted one at a time in file-name order, so row ids do not depend
on which concurrent call happens to finish first (the review queue breaks ties by id).
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import sqlite_utils

from gkextract.grounding import DEFAULT_THRESHOLD
from gkextract.ingest import ingest_paths
from gkextract.llm import LLMSettings, Mode
from gkextract.narrative import extract_reports
from gkextract.store import open_db, set_review_threshold

ROOT = Path(__file__).resolve().parent.parent
LLM_FIXTURES = ROOT / "fixtures" / "llm"
REVIEW_THRESHOLD = 0.95


def report_ids(db: sqlite_utils.Database) -> dict[str, str]:
    """Sample key ("000" …) → report id."""
    return {r["file_name"][:3]: r["id"] for r in db.query("SELECT id, file_name FROM reports")}


def copy_db(src: Path, dst: Path) -> Path:
    """A consistent copy even with the WAL journal (the backup API, not a file copy)."""
    with closing(sqlite3.connect(src)) as a, closing(sqlite3.connect(dst)) as b:
        a.backup(b)
    return dst


def extract_replay(path: Path, cache_dir: Path = LLM_FIXTURES, threshold: float = DEFAULT_THRESHOLD) -> list[dict]:
    """Extract every report of an ingested database in replay mode; returns the failures."""
    db = open_db(path)
    settings = LLMSettings(mode=Mode.replay, cache_dir=cache_dir)
    set_review_threshold(db, threshold)   # applied when reading, not written into the rows
    failures: list[dict] = []
    try:
        for _, rid in sorted(report_ids(db).items()):
            failures += extract_reports(db, settings, report_ids=[rid], threshold=threshold).failures
    finally:
        db.close()
    return failures


def counts(path: Path) -> list[tuple[str, int, int]]:
    """(table, items, flagged) for the narrative tables."""
    with closing(sqlite3.connect(path)) as con:
        below = "(SELECT CAST(value AS REAL) FROM settings WHERE key = 'review_threshold')"
        return [(t, *con.execute(f"SELECT count(*), coalesce(sum(score < {below}), 0) FROM {t}").fetchone())
                for t in ("facts", "problems", "improvements")]


@pytest.fixture(scope="session")
def ingested_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five samples ingested; no narrative extracted yet. Do not modify."""
    path = tmp_path_factory.mktemp("ingested") / "gk.db"
    db = open_db(path)
    ingest_paths(db, [ROOT / "fixtures" / "reports"])
    db.close()
    return path


@pytest.fixture(scope="session")
def sample_db(ingested_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The samples extracted in replay mode, default threshold. Shared: do not modify, use sample_db_copy."""
    path = copy_db(ingested_db, tmp_path_factory.mktemp("sample") / "gk.db")
    assert extract_replay(path) == []
    assert counts(path) == [("facts", 98, 2), ("problems", 22, 0), ("improvements", 22, 0)]
    return path


@pytest.fixture(scope="session")
def failed_db(ingested_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Like sample_db, but 002's problems reply is missing: that extraction failed. Do not modify."""
    tmp = tmp_path_factory.mktemp("failed")
    cache = tmp / "llm"
    shutil.copytree(LLM_FIXTURES / "responses", cache / "responses")
    with closing(sqlite3.connect(ingested_db)) as con:
        rid = con.execute("SELECT id FROM reports WHERE file_name LIKE '002%'").fetchone()[0]
    context = f'"context": "report {rid} section problems"'
    (reply,) = [p for p in (cache / "responses").glob("*.json") if context in (t := p.read_text(encoding="utf-8"))
                and '"source": "hand-written"' in t]   # not the recorded one beside it (another model)
    reply.unlink()
    path = copy_db(ingested_db, tmp / "gk.db")
    failures = extract_replay(path, cache_dir=cache)
    assert [(f["report_id"], f["section"], f["status"]) for f in failures] == [(rid, "problems", "error")]
    assert counts(path) == [("facts", 98, 2), ("problems", 20, 0), ("improvements", 18, 0)]
    return path


@pytest.fixture(scope="session")
def review_db(ingested_db: Path, sample_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The samples extracted in replay mode with --review-threshold 0.95. Do not modify, use review_db_copy."""
    path = copy_db(ingested_db, tmp_path_factory.mktemp("review") / "gk.db")
    assert extract_replay(path, threshold=REVIEW_THRESHOLD) == []
    assert counts(path) == [("facts", 98, 5), ("problems", 22, 0), ("improvements", 22, 0)]
    assert _item_keys(path) == _item_keys(sample_db)  # so item_id serves both
    return path


def _item_keys(path: Path) -> list[tuple]:
    with closing(sqlite3.connect(path)) as con:
        return [row for t in ("facts", "problems", "improvements")
                for row in con.execute(f"SELECT '{t}', id, report_id, item, evidence FROM {t} ORDER BY id")]


@pytest.fixture
def sample_db_copy(sample_db: Path, tmp_path: Path) -> Path:
    """A private copy of sample_db for a test that writes to it."""
    return copy_db(sample_db, tmp_path / "gk.db")


@pytest.fixture
def review_db_copy(review_db: Path, tmp_path: Path) -> Path:
    """A private copy of review_db for a test that writes to it."""
    return copy_db(review_db, tmp_path / "review.db")


@pytest.fixture(scope="session")
def item_id(sample_db: Path):
    """Look an item up by its evidence (and report), so tests do not depend on insertion order.
    The ids are the same in sample_db and review_db (not in failed_db, which lacks 002's problems)."""
    db = sqlite_utils.Database(sample_db)

    def lookup(table: str, evidence: str, report: str | None = None) -> int:
        sql = f"SELECT id FROM {table} WHERE evidence = ?" + (" AND report_id = ?" if report else "")
        rows = db.execute(sql, [evidence, *([report_ids(db)[report]] if report else [])]).fetchall()
        assert len(rows) == 1, (table, evidence, rows)
        return rows[0][0]

    return lookup
