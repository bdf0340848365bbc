"""Ingest into SQLite: rows, idempotence, transactions and bad input."""

import json
import shutil

import pytest

from gkextract import ingest as ingest_mod
from gkextract.ingest import ingest_paths, report_id
from gkextract.store import open_db

from samples import REPORTS, SAMPLES, text


@pytest.fixture
def db(tmp_path):
    return open_db(tmp_path / "gk.db")


def count(db, table, where="1", params=()):
    return db.execute(f"SELECT count(*) FROM {table} WHERE {where}", list(params)).fetchone()[0]


def test_ingest_samples_writes_rows(db):
    results = ingest_paths(db, [REPORTS])
    assert [r.status for r in results] == ["ingested"] * 5
    assert count(db, "reports") == 5
    assert count(db, "sections", "status = 'found' AND kind NOT IN ('preamble', 'signature')") == 30
    assert count(db, "checks") == 200
    rid = report_id(text("004"))
    row = db.execute("SELECT issuer, province, city, county, year, status FROM reports WHERE id = ?",
                     [rid]).fetchone()
    assert row == ("关岭自治县人民政府", "贵州省", "安顺市", "关岭布依族苗族自治县", 2019, "complete")
    cell = db.execute("SELECT raw, value, status FROM table_cells WHERE report_id = ? AND table_key = "
                      "'applications' AND row_key = 'new_received' AND col_key = 'total'", [rid]).fetchone()
    assert cell == ("5\xa0", 5, "ok")
    fails = db.execute("SELECT check_id, expected, actual FROM checks WHERE report_id = ? AND status = 'fail' "
                       "ORDER BY check_id", [rid]).fetchall()
    assert fails[0] == ("applications.balance.legal_service", 1, 0)
    # Empty is NULL in the database too, not 0.
    rid1 = report_id(text("001"))
    assert db.execute("SELECT value, status FROM table_cells WHERE report_id = ? AND row_key = 'disclosed' "
                      "AND col_key = 'commercial'", [rid1]).fetchone() == (None, "empty")
    problems = json.loads(db.execute("SELECT problems FROM reports WHERE id = ?", [rid1]).fetchone()[0])
    assert problems[0].startswith("table applications misaligned: withheld_state_secret misaligned")
    # Section text round-trips through the spans.
    full, sec = db.execute("SELECT r.text, s.text FROM reports r JOIN sections s ON s.report_id = r.id "
                           "WHERE r.id = ? AND s.kind = 'problems'", [rid]).fetchone()
    start, end = db.execute("SELECT span_start, span_end FROM sections WHERE report_id = ? AND kind = 'problems'",
                            [rid]).fetchone()
    assert full[start:end] == sec and sec.startswith("五、存在的主要问题及改进情况")


def test_reingest_is_a_no_op(db, tmp_path):
    ingest_paths(db, [REPORTS])
    again = ingest_paths(db, [REPORTS])
    assert [r.status for r in again] == ["skipped"] * 5
    # A copy under another name is the same content: recognised as a duplicate.
    copy = tmp_path / "copy.txt"
    shutil.copy(SAMPLES["000"], copy)
    [res] = ingest_paths(db, [copy])
    assert (res.status, res.report_id) == ("duplicate", report_id(text("000")))
    assert count(db, "reports") == 5 and count(db, "table_cells") == \
        count(db, "table_cells", "report_id IN (SELECT id FROM reports)")


def test_gbk_copy_gives_identical_cells(db, tmp_path):
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes(text("000").encode("gbk"))
    utf = ingest_mod.parse_document(ingest_mod.read_document(SAMPLES["000"]))
    other = ingest_mod.parse_document(ingest_mod.read_document(gbk))
    assert other.document.encoding == "gb18030"
    assert [(c.row_key, c.col_key, c.value) for t in other.tables.values() for c in t.cells] == \
           [(c.row_key, c.col_key, c.value) for t in utf.tables.values() for c in t.cells]
    assert other.id == utf.id


@pytest.mark.parametrize("name, content, message", [
    ("empty.txt", b"", "empty file"),
    ("blank.txt", "  \n\u3000\n".encode(), "empty file"),
    ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary file"),
    ("notes.txt", "会议纪要\n今天讨论了食堂的菜单。\n明天继续。\n".encode(), "not a government information-disclosure"),
    ("sheet.xlsx", b"PK\x03\x04", "unsupported"),
])
def test_bad_input_fails_clearly_and_writes_nothing(db, tmp_path, name, content, message):
    p = tmp_path / name
    p.write_bytes(content)
    [res] = ingest_paths(db, [p])
    assert res.status == "failed"
    assert message in res.error
    assert count(db, "reports") == 0 and count(db, "table_cells") == 0 and count(db, "sections") == 0
    assert db.execute("SELECT status, error FROM files").fetchone() == ("failed", res.error)


def test_bad_files_do_not_stop_the_batch(db, tmp_path):
    shutil.copy(SAMPLES["002"], tmp_path / "good.txt")
    (tmp_path / "empty.txt").write_bytes(b"")
    results = ingest_paths(db, [tmp_path, tmp_path / "missing.txt"])
    assert sorted((r.path.split("/")[-1], r.status) for r in results) == [
        ("empty.txt", "failed"), ("good.txt", "ingested"), ("missing.txt", "failed")]
    assert count(db, "reports") == 1


def test_report_cut_off_inside_table_2(db, tmp_path):
    t = text("000")
    cut = t.index("\t（四）无法提供")  # mid-way through table 2
    p = tmp_path / "cut.txt"
    p.write_text(t[:cut], encoding="utf-8")
    [res] = ingest_paths(db, [p])
    assert res.status == "ingested" and res.report_status == "partial"
    assert res.problems[:3] == ["missing part: review_litigation", "missing part: problems", "missing part: other"]
    assert res.problems[3].startswith("table applications partial: unable_not_held missing")
    rid = res.report_id
    status = dict(db.execute("SELECT row_key, status FROM table_rows WHERE report_id = ? AND "
                             "table_key = 'applications'", [rid]).fetchall())
    assert status["withheld_admin_query"] == "ok" and status["total_handled"] == "missing"
    assert db.execute("SELECT value, status FROM table_cells WHERE report_id = ? AND row_key = 'total_handled' "
                      "AND col_key = 'total'", [rid]).fetchone() == (None, "missing")
    assert count(db, "checks", "report_id = ? AND check_id = 'applications.balance.total' AND status = 'skipped'",
                 [rid]) == 1
    assert count(db, "stat_tables", "report_id = ? AND table_key = 'review_litigation' AND status = 'missing'",
                 [rid]) == 1


def test_a_failure_mid_write_leaves_no_partial_rows(db, monkeypatch):
    # the checks are inserted last: make that insert fail, after the report's other rows went in
    real = dict(ingest_mod._INSERT)
    monkeypatch.setitem(ingest_mod._INSERT, "checks", "INSERT INTO disk_full VALUES (?)")
    [res] = ingest_paths(db, [SAMPLES["003"]])
    assert res.status == "failed" and "no such table: disk_full" in res.error
    for table in ("reports", "sections", "table_cells", "table_rows", "stat_tables", "checks", "cell_labels"):
        assert count(db, table) == 0, table
    monkeypatch.setattr(ingest_mod, "_INSERT", real)
    [res] = ingest_paths(db, [SAMPLES["003"]])  # a re-run retries what failed
    assert res.status == "ingested" and count(db, "checks") == 40


def test_existing_database_is_migrated_not_recreated(tmp_path, monkeypatch):
    from gkextract import store
    path = tmp_path / "old.db"
    monkeypatch.setattr(store, "MIGRATIONS", store.MIGRATIONS[:1])  # a database from before narrative
    old = open_db(path)
    old.execute("INSERT INTO reports (id, source_path, file_name, format, n_chars, status, problems, text, "
                "ingested_at, gkextract_version) VALUES ('r1', 'a.txt', 'a.txt', 'txt', 1, 'complete', '[]', "
                "'x', 'now', '0')")
    old.execute("INSERT INTO checks (report_id, check_id, table_key, rule, status) "
                "VALUES ('r1', 'applications.balance.total', 'applications', 'rule', 'pass')")
    old.conn.commit()
    monkeypatch.undo()
    db = open_db(path)
    versions = [r[0] for r in db.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == [v for v, _, _ in store.MIGRATIONS]
    assert count(db, "reports") == 1 and "facts" in db.table_names()
    assert db.execute("SELECT blanks_as_zero FROM checks").fetchall() == [(0,)]
    assert ingest_paths(db, [SAMPLES["000"]])[0].status == "ingested"


def test_a_killed_batch_resumes_without_duplicates(db):
    seen = []

    def kill_after_three(res):
        seen.append(res)
        if len(seen) == 3:
            raise KeyboardInterrupt  # Ctrl-C in the middle of a batch

    with pytest.raises(KeyboardInterrupt):
        ingest_paths(db, [REPORTS], on_file=kill_after_three, commit_every=2)
    landed = count(db, "reports")
    assert landed == 4                       # Ctrl-C keeps every report parsed before it (two groups of 2)
    assert count(db, "files") == landed
    results = ingest_paths(db, [REPORTS])
    assert sorted(r.status for r in results) == ["ingested"] * 1 + ["skipped"] * 4
    assert count(db, "reports") == 5 and count(db, "checks") == 200


def test_migration_12_keeps_every_cell_and_section_as_it_was(tmp_path, monkeypatch):
    """A database from before migration 12 reads the same through the table_cells and sections views."""
    from gkextract import store
    path = tmp_path / "old.db"
    before = [m for m in store.MIGRATIONS if m[0] < 12]
    monkeypatch.setattr(store, "MIGRATIONS", before)
    old = open_db(path)
    old.execute("INSERT INTO reports (id, source_path, file_name, format, n_chars, status, problems, text, "
                "ingested_at, gkextract_version) VALUES ('r1', 'a.txt', 'a.txt', 'txt', 9, 'complete', '[]', "
                "'一、总体情况二、主动公开', 'now', '0')")
    old.execute("INSERT INTO sections VALUES ('r1', 'overview', 1, 'found', '一、总体情况', 0, 6, 6, '一、总体情况')")
    old.execute("INSERT INTO sections VALUES ('r1', 'problems', 5, 'missing', NULL, NULL, NULL, NULL, NULL)")
    cells = [("r1", "applications", "z_row", "total", "（七）总计", "总计", "5", 5, None, "ok"),
             ("r1", "applications", "a_row", "total", "一、本年新收", "总计", "", None, None, "empty"),
             ("r1", "applications", "a_row", "natural", "一、本年新收", "自然人", "3", 3, None, "ok")]
    old.conn.executemany("INSERT INTO table_cells VALUES (?,?,?,?,?,?,?,?,?,?)", cells)
    old.conn.commit()
    old.close()
    monkeypatch.undo()                  # all the migrations again: 12 runs on the old data
    db = open_db(path)
    assert db.execute("SELECT * FROM table_cells WHERE report_id = 'r1' ORDER BY rowid").fetchall() == cells
    assert db.execute("SELECT count(*) FROM cell_labels").fetchone() == (3,)
    assert db.execute("SELECT kind, status, heading, span_start, span_end, body_start, text FROM sections "
                      "ORDER BY ordinal").fetchall() == [
        ("overview", "found", "一、总体情况", 0, 6, 6, "一、总体情况"),
        ("problems", "missing", None, None, None, None, None)]
