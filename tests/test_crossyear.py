"""Checks across years and the publication deadline, on the corpus series and on its gold.

Expected values are read off the reports by hand (fixtures/corpus/gold/*.json holds the
cells as read): 平潭综合实验区管委会 reported for 2018–2021 and 2023–2025, no 2022.

* 上年结转 = last year's 结转下年度: every pair of consecutive years carries 0 into 0.
* 2020 (03) states 规章 对外公开总数量 7 while 2019 had 0 and 2020 published 0 new: fail.
* 2025 (09) states 546 行政规范性文件 in force; 2024 had 440, 2025 issued 58 and repealed
  45, so at most 453: fail, 93 too many.  2024 (08) is within its bound: 470 + 62 − 33 =
  499 ≥ 440.
* 2021 (04): 行政诉讼 未经复议直接起诉 went from 0 to 12: suspicious.
* Every report of the corpus was published before its deadline.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import date
from pathlib import Path

import pytest

import shapes
from corpus_db import corpus_db, corpus_db_copy, rid  # noqa: F401  (fixtures)
from gkextract.crossyear import _Report, deadline_check, deadline_for, is_current, refresh, report_crossyear_checks
from gkextract.ingest import ingest_paths
from gkextract.store import open_db


def checks(path: Path, prefix: str, like: str = "crossyear.%") -> dict[str, tuple]:
    db = open_db(path)
    return {c: (s, e, a, r, w) for c, s, e, a, r, w in db.execute(
        "SELECT check_id, status, expected, actual, reason, compared_with FROM checks WHERE report_id = ? "
        "AND check_id LIKE ? ORDER BY rowid", [rid(db, prefix), like])}


COLUMNS = ("natural_person", "commercial", "research", "social_welfare", "legal_service", "other_org", "total")


def test_carried_over_equals_last_years_carried_forward(corpus_db: Path) -> None:
    db = open_db(corpus_db)
    for this, last in (("03", "02"), ("04", "03"), ("06", "10"), ("07", "08"), ("08", "10"), ("09", "08")):
        got = checks(corpus_db, this, "crossyear.carried_over.%")
        assert got == {f"crossyear.carried_over.{c}": ("pass", 0, 0, None, rid(db, last)) for c in COLUMNS}, this
    # 2023 follows no 2022 report; 2019 follows the free-format 2018 report: skipped, with why.
    assert checks(corpus_db, "05", "crossyear.carried_over%") == {
        "crossyear.carried_over": ("skipped", None, None, "no 2022 report of this issuer", None)}
    assert checks(corpus_db, "02", "crossyear.carried_over%") == {
        "crossyear.carried_over": ("skipped", None, None,
                                   "the 2018 report has no statistical tables (pre-2019 format)", None)}
    # The departments never report two years running.
    assert checks(corpus_db, "15-pingtan-czj", "crossyear.carried_over%") == {
        "crossyear.carried_over": ("skipped", None, None, "no 2024 report of this issuer", None)}


def test_stock_of_documents_and_jumps(corpus_db: Path) -> None:
    db = open_db(corpus_db)
    assert checks(corpus_db, "03", "crossyear.stock.%") == {
        "crossyear.stock.rules": ("fail", 0, 7, "exceeds last year's stock plus this year's changes by +7",
                                  rid(db, "02")),
        "crossyear.stock.normative_documents": ("skipped", None, None,
                                                "normative_documents.total_published of the 2020 report is misaligned",
                                                None)}
    assert checks(corpus_db, "09", "crossyear.stock.normative_documents")["crossyear.stock.normative_documents"] == (
        "fail", 453, 546, "exceeds last year's stock plus this year's changes by +93", rid(db, "08"))
    assert checks(corpus_db, "08", "crossyear.stock.normative_documents")["crossyear.stock.normative_documents"] == (
        "pass", 499, 440, "59 fewer than the bound: documents expired without repeal?", rid(db, "10"))
    # 2020 → 2021 changed template: 对外公开总数量 and 现行有效件数 are not the same count.
    assert checks(corpus_db, "04", "crossyear.stock.rules")["crossyear.stock.rules"][:4] == (
        "skipped", None, None, "the 2020 report uses the 2019 template")
    suspicious = open_db(corpus_db).execute(
        "SELECT r.file_name, c.check_id, c.expected, c.actual, c.reason FROM checks c JOIN reports r "
        "ON r.id = c.report_id WHERE c.status = 'suspicious'").fetchall()
    assert suspicious == [("04-pingtan-2021.txt", "crossyear.jump.review_litigation.litigation_direct.total", 0, 12,
                           "×12.0 year over year (0 → 12)")]


def test_continuity_is_skipped_where_the_cells_are_misaligned(corpus_db: Path) -> None:
    got = checks(corpus_db, "03", "crossyear.continuity.%")
    assert {k: v[0] for k, v in got.items()} == {f"crossyear.continuity.{r}": "skipped" for r in (
        "administrative_licensing", "other_services", "administrative_penalty", "administrative_enforcement",
        "administrative_fees")}
    assert got["crossyear.continuity.administrative_licensing"][3] == \
        "administrative_licensing.prev_year_items of the 2020 report is misaligned"
    assert got["crossyear.continuity.administrative_fees"][3] == \
        "administrative_fees.prev_year_items of the 2019 report is misaligned"  # 2020's own cell reads 35


@pytest.fixture(scope="module")
def gold_series(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The series rendered from its gold cells (tab-separated rows: every cell readable), ingested alone."""
    folder = tmp_path_factory.mktemp("gold_series")
    for g in shapes.load_golds():
        name = g["file"]
        if name[:2] in ("02", "03", "04", "06", "07", "10"):
            suffix, data = shapes.render(g, shapes.corpus_narrative(g), ("tab_rows",))["tab_rows"]
            (folder / f"{Path(name).stem}{suffix}").write_bytes(data)
    path = folder / "gk.db"
    db = open_db(path)
    assert {r.status for r in ingest_paths(db, [folder])} == {"ingested"}
    refresh(db)
    return path


def test_checks_on_the_gold_series(gold_series: Path) -> None:
    """Every cross-year check with the values read by hand, cells free of run-together digits."""
    db = open_db(gold_series)
    got = {(f[:2], c): (s, e, a) for f, c, s, e, a in db.execute(
        "SELECT r.file_name, c.check_id, c.status, c.expected, c.actual FROM checks c JOIN reports r "
        "ON r.id = c.report_id WHERE c.scope = 'crossyear' AND c.status != 'skipped' "
        "AND c.check_id NOT LIKE 'crossyear.jump.%'")}
    continuity = {("03", f"crossyear.continuity.{row}"): ("pass", n, n) for row, n in (
        ("administrative_licensing", 396), ("other_services", 10), ("administrative_penalty", 2648),
        ("administrative_enforcement", 126), ("administrative_fees", 35))}
    carried = {(f, f"crossyear.carried_over.{c}"): ("pass", 0, 0) for f in ("03", "04", "06", "07") for c in COLUMNS}
    assert got == {
        **carried, **continuity,
        ("03", "crossyear.stock.rules"): ("fail", 0, 7),                 # 0 + 0 new, but 7 published
        ("03", "crossyear.stock.normative_documents"): ("pass", 166, 166),  # 89 + 77
        ("06", "crossyear.stock.rules"): ("pass", 0, 0),
        ("06", "crossyear.stock.normative_documents"): ("pass", 499, 440),  # 470 + 62 − 33
        ("07", "crossyear.stock.rules"): ("pass", 0, 0),
        ("07", "crossyear.stock.normative_documents"): ("fail", 453, 546),  # 440 + 58 − 45
    }
    jumps = db.execute("SELECT r.file_name, c.check_id FROM checks c JOIN reports r ON r.id = c.report_id "
                       "WHERE c.status = 'suspicious'").fetchall()
    assert [(f[:2], c) for f, c in jumps] == [("04", "crossyear.jump.review_litigation.litigation_direct.total")]


def _report(year: int, template: str, cells: dict) -> _Report:
    return _Report(dict(id=f"r{year}", year=year, template=template, file_name=f"{year}.txt"),
                   {tuple(k.split(".")): v for k, v in cells.items()})


def test_a_carried_over_that_differs_fails_and_blanks_are_read_as_zero() -> None:
    last = _report(2025, "2021", {"applications.carried_forward.natural_person": (4, "ok"),
                                  "applications.carried_forward.total": (6, "ok"),
                                  "applications.carried_forward.commercial": (None, "empty")})
    this = _report(2026, "2021", {"applications.carried_over.natural_person": (4, "ok"),
                                  "applications.carried_over.total": (5, "ok"),
                                  "applications.carried_over.commercial": (None, "empty")})
    got = {c["check_id"]: (c["status"], c["expected"], c["actual"], c["reason"], c["blanks_as_zero"])
           for c in report_crossyear_checks(this, [last]) if "carried_over" in c["check_id"]}
    assert got["crossyear.carried_over.natural_person"] == ("pass", 4, 4, None, 0)
    assert got["crossyear.carried_over.total"] == ("fail", 6, 5, "differs by -1", 0)
    assert got["crossyear.carried_over.commercial"] == ("pass", 0, 0, None, 1)
    assert got["crossyear.carried_over.research"] == ("skipped", None, None, "2026 has no cell carried_over.research",
                                                      0)


def test_last_years_figures_come_from_the_copy_that_has_them() -> None:
    page = _report(2024, "2021", {"applications.carried_forward.total": (0, "ok")})
    dump = _report(2024, "2021", {"applications.carried_forward.total": (None, "misaligned")})
    this = _report(2025, "2021", {"applications.carried_over.total": (0, "ok")})
    (got,) = [c for c in report_crossyear_checks(this, [dump, page]) if c["check_id"].endswith(".total")
              and "carried" in c["check_id"]]
    assert (got["status"], got["compared_with"]) == ("pass", "r2024")


@pytest.mark.parametrize("level, year, published, status, reason", [
    ("department", 2023, "2024-02-05", "fail", "late by 5 days: published 2024-02-05, due 2024-01-31"),
    ("department", 2023, "2024-02-01", "fail", "late by 1 day: published 2024-02-01, due 2024-01-31"),
    ("department", 2023, "2024-01-31", "pass", "met: published 2024-01-31, on the deadline 2024-01-31"),
    ("county", 2023, "2024-03-31", "pass", "met: published 2024-03-31, on the deadline 2024-03-31"),
    ("city", 2020, "2021-04-02", "fail", "late by 2 days: published 2021-04-02, due 2021-03-31"),
    ("department", 2018, "2019-02-20", "pass", "met: published 2019-02-20, 39 days before the deadline 2019-03-31"),
    ("county", 2023, None, "skipped", "unknown: no publication date"),
    ("township", 2023, "2024-01-10", "skipped", "unknown: 条例第四十九条 sets no date for a township body"),
    (None, 2023, "2024-01-10", "skipped", "unknown: the issuer's level is unknown"),
    ("county", 2023, "2024年", "skipped", "unknown: publication date '2024年' is not a date"),
])
def test_deadline_rule(level: str | None, year: int, published: str | None, status: str, reason: str) -> None:
    got = deadline_check("r", level, year, published)
    assert (got["status"], got["reason"]) == (status, reason)


def test_deadline_dates_follow_the_regulation() -> None:
    assert deadline_for("department", 2019)[0] == date(2020, 1, 31)
    assert deadline_for("province", 2019)[0] == date(2020, 3, 31)
    assert deadline_for("department", 2018) == (date(2019, 3, 31), "2007年条例第三十一条：每年3月31日前公布上一年度报告")


def test_every_corpus_report_was_on_time(corpus_db: Path) -> None:
    with closing(sqlite3.connect(corpus_db)) as con:
        rows = dict(con.execute("SELECT r.file_name, c.status || ' ' || c.expected || ' ' || c.actual FROM checks c "
                                "JOIN reports r ON r.id = c.report_id WHERE c.check_id = 'publication.deadline'"))
    assert rows == {
        "01-pingtan-2018.txt": "pass 20190331 20190110", "02-pingtan-2019.txt": "pass 20200331 20200120",
        "03-pingtan-2020.txt": "pass 20210331 20210305", "04-pingtan-2021.txt": "pass 20220331 20220208",
        "05-pingtan-2023.txt": "pass 20240331 20240308", "06-pingtan-2024.txt": "pass 20250331 20250310",
        "07-pingtan-2025.txt": "pass 20260331 20260310", "08-pingtan-2024-page.html": "pass 20250331 20250310",
        "09-pingtan-2025-page.html": "pass 20260331 20260310", "10-pingtan-2023-page.html": "pass 20240331 20240308",
        "11-pingtan-czj-2019.txt": "pass 20200131 20200106", "12-pingtan-gwh-2021.txt": "pass 20220131 20220115",
        "13-pingtan-hzs-2023.txt": "pass 20240131 20240130", "14-pingtan-gaj-2024.txt": "pass 20250131 20250120",
        "15-pingtan-czj-2025.txt": "pass 20260131 20260116", "16-pingtan-jjf-2020.txt": "pass 20210131 20210127",
        "17-pingtan-tzcj-2024.txt": "pass 20250131 20250126", "18-pingtan-gzj-2020.txt": "pass 20210131 20210128",
    }


def test_a_late_report_in_the_evaluation_view(corpus_db_copy: Path) -> None:
    db = open_db(corpus_db_copy)
    with db.atomic():
        db.execute("UPDATE reports SET publication_date = '2021-02-03', ingested_at = '9999' "
                   "WHERE file_name LIKE '16-%'")
    assert not is_current(db)
    assert db.execute("SELECT current FROM evaluation LIMIT 1").fetchone() == (0,)
    refresh(db)
    assert db.execute("SELECT published, deadline, on_time, days_late, current FROM evaluation "
                      "WHERE file_name LIKE '16-%'").fetchone() == ("2021-02-03", "2021-01-31", "late", 3, 1)


def test_the_table_checks_are_left_alone(corpus_db_copy: Path) -> None:
    """A refresh replaces its own rows only: the tables' checks keep their count."""
    db = open_db(corpus_db_copy)
    before = db.execute("SELECT count(*) FROM checks WHERE scope = 'report'").fetchone()[0]
    refresh(db)
    refresh(db)
    assert db.execute("SELECT count(*) FROM checks WHERE scope = 'report'").fetchone()[0] == before > 0
    assert db.execute("SELECT count(*) FROM checks WHERE scope = 'deadline'").fetchone()[0] == 18
