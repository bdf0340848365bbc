"""`gkextract review`: the interactive queue through a real terminal, decisions as an audit
trail over untouched extractions, and the CSV export/import round trip."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
from pathlib import Path

import pexpect
import pytest
from typer.testing import CliRunner

from gkextract.cli import app
from gkextract.explore import Filters
from gkextract.review import ReviewError, decide, queue
from gkextract.store import open_db

GKEXTRACT = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "gkextract")
runner = CliRunner()

NOT_FOUND = "培训工作严重滞后，人员流动频繁"        # problems, 0.20, quote_not_found
HANDLED_003 = "其中17件已按时办结"                 # facts, 0.40, conflicts_with_table (21)
HANDLED_004 = "依法按时办结5件"                    # facts, 0.45, conflicts_with_table (0)
DISCONNECT = "政府信息公开与日常行政管理脱节"       # problems, 0.50, category_unsure, category other
SESSIONS_004 = "2019年6月，举办政府门户网站运用及政务公开信息保障培训会"  # facts, 0.52


def rows(db: Path, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def squash(text: str) -> str:
    """Without whitespace: the terminal wraps long lines anywhere."""
    return "".join(text.split())


def query(*args: str, db: Path) -> list[dict]:
    res = runner.invoke(app, [*args, "--db", str(db), "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_interactive_review_in_a_terminal(sample_db_copy, item_id):
    db = sample_db_copy
    originals = {t: [tuple(r) for r in rows(db, f"SELECT * FROM {t} ORDER BY id")]
                 for t in ("facts", "problems", "improvements")}
    env = dict(os.environ, COLUMNS="120", LINES="40", TERM="dumb", NO_COLOR="1")
    child = pexpect.spawn(GKEXTRACT, ["review", "--db", str(db), "--reviewer", "tester"], env=env,
                          encoding="utf-8", timeout=20, dimensions=(40, 120))
    prompt = "[a]ccept [c]orrect [r]eject [s]kip [q]uit"
    try:
        # 1: an invented quote, shown alone with the reason -> reject
        child.expect_exact(prompt)
        assert "(1/8) problems" in child.before and "培训工作严重滞后" in child.before
        assert "The quote was not found in the report" in child.before
        child.sendline("r")
        child.expect_exact("note (optional)")
        child.sendline("quote invented by the model")
        child.expect_exact("reject recorded")
        # 2: the fact conflicts with the table; the quote is marked inside its context -> accept
        child.expect_exact(prompt)
        for shown in ("application handled: 17件", "disagrees with the report's own table",
                      "table applications.total_handled.total = 21 (conflicts with the fact)",
                      "»其中17件已按时办结«", "全县共受理政府信息公开申请18件"):  # the last: context around the quote
            assert squash(shown) in squash(child.before), shown
        child.sendline("a")
        child.expect_exact("accept recorded")
        # 3: skip
        child.expect_exact(prompt)
        child.sendline("s")
        # 4: unknown flag code shown as is; correct the category, a typo first
        child.expect_exact(prompt)
        assert "category_unsure" in child.before and "category: other" in child.before
        child.sendline("c")
        child.expect_exact("category (other):")
        child.sendline("timelyness")
        child.expect_exact("summary (")
        child.sendline("")
        child.expect_exact("did you mean timeliness?")
        child.expect_exact("category (other):")
        child.sendline("rules_standards")
        child.expect_exact("summary (")
        child.sendline("")
        child.expect_exact("note (optional)")
        child.sendline("")
        child.expect_exact("correct recorded")
        child.expect_exact(prompt)
        child.sendline("q")
        child.expect_exact("recorded 3 decision(s)")
        child.expect_exact("5 left in the queue")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0

    reviews = rows(db, "SELECT * FROM reviews ORDER BY id")
    assert [(r["item_table"], r["item_id"], r["decision"], r["reviewer"]) for r in reviews] == [
        ("problems", item_id("problems", NOT_FOUND), "reject", "tester"),
        ("facts", item_id("facts", HANDLED_003), "accept", "tester"),
        ("problems", item_id("problems", DISCONNECT), "correct", "tester")]
    rejected, accepted, corrected = reviews
    assert json.loads(rejected["before"]) == {"category": "staffing_capacity", "summary": "培训工作严重滞后"}
    assert rejected["after"] is None and rejected["note"] == "quote invented by the model"
    assert json.loads(accepted["before"]) == json.loads(accepted["after"]) == {"value": 17, "unit": "件"}
    assert json.loads(corrected["before"]) == {"category": "other", "summary": "信息公开与日常行政管理脱节"}
    assert json.loads(corrected["after"]) == {"category": "rules_standards", "summary": "信息公开与日常行政管理脱节"}
    assert all(r["decided_at"] and r["report_id"] for r in reviews)

    # the extracted rows are untouched
    assert {t: [tuple(r) for r in rows(db, f"SELECT * FROM {t} ORDER BY id")] for t in originals} == originals

    # the query commands show the reviewed values and hide the rejected item
    henan = {p["summary"]: p for p in query("problems", "--province", "河南", db=db)}
    assert (henan["信息公开与日常行政管理脱节"]["category"], henan["信息公开与日常行政管理脱节"]["review_status"]) == (
        "rules_standards", "corrected")
    assert query("problems", "--category", "other", db=db) == []
    guanling = query("problems", "--county", "关岭自治县", db=db)
    assert "培训工作严重滞后" not in {p["summary"] for p in guanling} and len(guanling) == 5
    shown = query("problems", "--county", "关岭自治县", "--include-rejected", db=db)
    assert {p["summary"]: p["review_status"] for p in shown}["培训工作严重滞后"] == "rejected"
    handled = [f for f in query("facts", "--metric", "handled", db=db) if f["county"] == "遂平县"]
    assert [(f["value"], f["review_status"]) for f in handled] == [(17, "accepted")]
    # rules_standards in 遂平: still one report, now two items
    by = {r["category"]: r for r in query("problems", "--by", "category", "--year", "2020", db=db)}
    assert (by["rules_standards"]["reports"], by["rules_standards"]["items"]) == (1, 2) and "other" not in by


def test_decisions_validate_and_the_latest_wins(sample_db_copy, item_id):
    db = open_db(sample_db_copy)
    fact = item_id("facts", SESSIONS_004)
    problem = item_id("problems", DISCONNECT)
    with pytest.raises(ReviewError, match="'two' is not a number"):
        decide(db, "facts", fact, "correct", "t", {"value": "two"})
    with pytest.raises(ReviewError, match="nothing to correct"):
        decide(db, "facts", fact, "correct", "t", {"value": "1"})
    with pytest.raises(ReviewError, match="did you mean timeliness"):
        decide(db, "problems", problem, "correct", "t", {"category": "timelyness"})
    with pytest.raises(ReviewError, match="category cannot be changed on facts"):
        decide(db, "facts", fact, "correct", "t", {"category": "other"})
    with pytest.raises(ReviewError, match="no problems item with id 9999"):
        decide(db, "problems", 9999, "accept", "t")
    assert db.execute("SELECT count(*) FROM reviews").fetchone()[0] == 0

    decide(db, "facts", fact, "correct", "t", {"value": "２"})  # full-width digits are fine
    decide(db, "problems", problem, "correct", "t", {"category": "政策解读"})
    decide(db, "problems", problem, "reject", "t")
    assert db.execute("SELECT value, original_value, review_status FROM facts_reviewed WHERE id = ?",
                      [fact]).fetchone() == (2, 1, "corrected")
    assert db.execute("SELECT review_status FROM problems_reviewed WHERE id = ?", [problem]).fetchone() == (
        "rejected",)
    decide(db, "problems", problem, "accept", "t")  # changed their mind: the latest decision wins
    assert db.execute("SELECT category, review_status FROM problems_reviewed WHERE id = ?",
                      [problem]).fetchone() == ("policy_interpretation", "accepted")
    # the views for Datasette/pandas: region attached, rejected left out
    assert db.execute("SELECT province, category FROM problems_by_region WHERE id = ?", [problem]).fetchone() == (
        "河南省", "policy_interpretation")
    left = [(i["item_table"], i["score"]) for i in queue(db, Filters())]
    assert left == [("problems", 0.2), ("facts", 0.4), ("facts", 0.45), ("problems", 0.55),
                    ("improvements", 0.58), ("facts", 0.62)]


def test_queue_respects_filters(sample_db):
    db = open_db(sample_db)
    assert [(i["item_table"], i["province"]) for i in queue(db, Filters(province="宁夏回族自治区"))] == [
        ("problems", "宁夏回族自治区")]
    assert {i["item_table"] for i in queue(db, Filters(category="staffing_capacity"))} == {"problems", "improvements"}
    assert {i["item_table"] for i in queue(db, Filters(kind="application"))} == {"facts"}
    res = runner.invoke(app, ["review", "--db", str(sample_db), "--province", "河北"])
    assert res.exit_code == 0 and "nothing to review" in res.stdout


def test_csv_export_and_import_round_trip(sample_db_copy, item_id, tmp_path):
    db = sample_db_copy
    out = tmp_path / "review.csv"
    res = runner.invoke(app, ["review", "--db", str(db), "--export", str(out)])
    assert res.exit_code == 0 and "wrote 8 item(s)" in res.stdout
    with out.open(encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert [(r["table"], r["score"]) for r in table] == [
        ("problems", "0.2"), ("facts", "0.4"), ("facts", "0.45"), ("problems", "0.5"), ("facts", "0.52"),
        ("problems", "0.55"), ("improvements", "0.58"), ("facts", "0.62")]
    first = table[0]
    assert (first["flags"], first["why"], first["evidence"]) == (
        "quote_not_found", "The quote is not in the report.", NOT_FOUND)
    assert all(r["decision"] == r["new_value"] == r["new_category"] == r["note"] == "" for r in table)

    fill = {
        NOT_FOUND: dict(decision="reject", note="not in the report"),
        HANDLED_003: dict(decision="a"),
        SESSIONS_004: dict(decision="correct", new_value="1", new_unit="期"),
        DISCONNECT: dict(decision="correct", new_category="timelyness"),               # bad: typo
        HANDLED_004: dict(decision="maybe"),                                            # bad: decision
        "政府门户网站的公开栏目有待进一步规范和优化": dict(decision="correct"),              # bad: no new value
    }
    for r in table:
        r.update(fill.get(r["evidence"], {}))
    with out.open("w", encoding="utf-8-sig", newline="") as fh:  # as a spreadsheet saves it, with a BOM
        w = csv.DictWriter(fh, fieldnames=list(table[0]))
        w.writeheader()
        w.writerows(table)

    res = runner.invoke(app, ["review", "--db", str(db), "--import", str(out), "--reviewer", "sheet"],
                        env={"COLUMNS": "200"})
    assert res.exit_code == 1, res.output
    assert "3 decision(s) applied, 0 already recorded, 2 row(s) without a decision, 3 rejected" in res.stdout
    disconnect = item_id("problems", DISCONNECT)
    assert f"row 5 (problems {disconnect}): unknown category 'timelyness'; did you mean timeliness?" in res.stderr
    assert f"row 4 (facts {item_id('facts', HANDLED_004)}): unknown decision 'maybe'" in res.stderr
    assert "row 7" in res.stderr and "correct needs a new value in new_category or new_summary" in res.stderr

    reviews = rows(db, "SELECT item_table, item_id, decision, reviewer, after, note FROM reviews ORDER BY id")
    assert [(r["item_table"], r["item_id"], r["decision"], r["reviewer"]) for r in reviews] == [
        ("problems", item_id("problems", NOT_FOUND), "reject", "sheet"),
        ("facts", item_id("facts", HANDLED_003), "accept", "sheet"),
        ("facts", item_id("facts", SESSIONS_004), "correct", "sheet")]
    assert json.loads(reviews[2]["after"]) == {"value": 1, "unit": "期"}
    sessions = [f for f in query("facts", "--kind", "training", "--county", "关岭自治县", db=db)
                if f["metric"] == "sessions"]
    assert [(f["value"], f["unit"], f["review_status"]) for f in sessions] == [(1, "期", "corrected")]

    # importing the same file again records nothing twice
    res = runner.invoke(app, ["review", "--db", str(db), "--import", str(out), "--reviewer", "sheet"])
    assert "0 decision(s) applied, 3 already recorded" in res.stdout
    assert rows(db, "SELECT count(*) FROM reviews")[0][0] == 3

    # the queue shrank; --all lists every item, decided or not
    res = runner.invoke(app, ["review", "--db", str(db), "--export", str(tmp_path / "left.csv")])
    assert "wrote 5 item(s)" in res.stdout
    res = runner.invoke(app, ["review", "--db", str(db), "--export", str(tmp_path / "all.csv"), "--all"])
    assert "wrote 59 item(s)" in res.stdout
    with (tmp_path / "all.csv").open(encoding="utf-8") as fh:
        statuses = {r["review_status"] for r in csv.DictReader(fh)}
    assert statuses == {"unflagged", "pending", "rejected", "accepted", "corrected"}


def test_export_and_import_together_is_a_usage_error(sample_db, tmp_path):
    res = runner.invoke(app, ["review", "--db", str(sample_db), "--export", str(tmp_path / "a.csv"),
                              "--import", str(tmp_path / "b.csv")])
    assert res.exit_code == 2 and "not both" in res.output
