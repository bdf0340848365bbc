"""`gkextract review`: the interactive queue through a real terminal, decisions as an audit
trail over untouched extractions, and the CSV export/import round trip."""

from __future__ import annotations

import codecs
import csv
import json
import os
import sqlite3
from collections import Counter
from pathlib import Path

import pexpect
import pytest
from typer.testing import CliRunner

from gkextract.cli import app
from gkextract.queries import Filters
from gkextract.review import ReviewError, decide, queue
from gkextract.store import open_db

GKEXTRACT = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "gkextract")
runner = CliRunner()

# The review database is extracted with --review-threshold 0.95: five flagged facts.
HANDLED_003 = "其中17件已按时办结"                 # facts, 0.65, conflicts_with_table (21)
HANDLED_004 = "依法按时办结5件"                    # facts, 0.65, conflicts_with_table (0)
TRAINING_002 = "坚持集中培训、以会代训等方式对政府信息公开队伍进行培训"  # facts, 0.90, no_value
TRAINING_003 = "我县将政务公开纳入领导干部学法、党校公务员培训"        # facts, 0.90, no_value
TRAINING_003_LAW = "同时召开全县政务公开培训会,重点学习《政府信息公开条例》"  # facts, 0.90, no_value
MEASURES = "工作措施不到位"                        # problems, 1.0, unflagged, category other (003)
QUEUE = [HANDLED_003, HANDLED_004, TRAINING_002, TRAINING_003, TRAINING_003_LAW]


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


def spawn(db: Path, *args: str) -> pexpect.spawn:
    env = dict(os.environ, COLUMNS="120", LINES="40", TERM="dumb", NO_COLOR="1")
    return pexpect.spawn(GKEXTRACT, ["review", "--db", str(db), "--reviewer", "tester", *args], env=env,
                         encoding="utf-8", timeout=20, dimensions=(40, 120))


PROMPT = "[a]ccept [c]orrect [r]eject [s]kip [q]uit"


def test_interactive_review_in_a_terminal(review_db_copy, item_id):
    db = review_db_copy
    originals = {t: [tuple(r) for r in rows(db, f"SELECT * FROM {t} ORDER BY id")]
                 for t in ("facts", "problems", "improvements")}
    child = spawn(db)
    try:
        # 1: the fact conflicts with the table; the quote is marked inside its context -> accept
        child.expect_exact(PROMPT)
        for shown in ("(1/5) facts", "application handled: 17件", "数字与报告自身的统计表不一致。",  # --lang zh, the default
                      "table applications.total_handled.total = 21 (conflicts with the fact)",
                      "»其中17件已按时办结«", "全县共受理政府信息公开申请18件"):  # the last: context around the quote
            assert squash(shown) in squash(child.before), shown
        child.sendline("a")
        child.expect_exact("accept recorded")
        # 2: the other conflict; correct the value to the table's, a typo first
        child.expect_exact(PROMPT)
        for shown in ("(2/5) facts", "application handled: 5件",
                      "table applications.total_handled.total = 0 (conflicts with the fact)", "»依法按时办结5件«"):
            assert squash(shown) in squash(child.before), shown
        child.sendline("c")
        child.expect_exact("new value (a number, or null) (5):")
        child.sendline("five")
        child.expect_exact("unit (件):")
        child.sendline("")
        child.expect_exact("'five' is not a number")
        child.expect_exact("new value (a number, or null) (5):")
        child.sendline("0")
        child.expect_exact("unit (件):")
        child.sendline("")
        child.expect_exact("note (optional)")
        child.sendline("the table says none were handled")
        child.expect_exact("correct recorded")
        # 3: skip
        child.expect_exact(PROMPT)
        assert "(3/5) facts" in child.before and "该事实没有数字。" in child.before
        child.sendline("s")
        # 4: a training without a number, shown with the reason -> reject
        child.expect_exact(PROMPT)
        for shown in ("(4/5) facts", "training 政务公开: —", "该事实没有数字。",
                      "»我县将政务公开纳入领导干部学法、党校公务员培训«"):
            assert squash(shown) in squash(child.before), shown
        child.sendline("r")
        child.expect_exact("note (optional)")
        child.sendline("a standing rule, not a training held")
        child.expect_exact("reject recorded")
        child.expect_exact(PROMPT)
        assert "(5/5) facts" in child.before
        child.sendline("q")
        child.expect_exact("recorded 3 decision(s)")
        child.expect_exact("2 left in the queue")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0

    reviews = rows(db, "SELECT * FROM reviews ORDER BY id")
    assert [(r["item_table"], r["item_id"], r["decision"], r["reviewer"]) for r in reviews] == [
        ("facts", item_id("facts", HANDLED_003), "accept", "tester"),
        ("facts", item_id("facts", HANDLED_004), "correct", "tester"),
        ("facts", item_id("facts", TRAINING_003), "reject", "tester")]
    accepted, corrected, rejected = reviews
    assert json.loads(accepted["before"]) == json.loads(accepted["after"]) == {"value": 17, "unit": "件"}
    assert accepted["note"] is None
    assert json.loads(corrected["before"]) == {"value": 5, "unit": "件"}
    assert json.loads(corrected["after"]) == {"value": 0, "unit": "件"}
    assert corrected["note"] == "the table says none were handled"
    assert json.loads(rejected["before"]) == {"value": None, "unit": None}
    assert rejected["after"] is None and rejected["note"] == "a standing rule, not a training held"
    assert all(r["decided_at"] and r["report_id"] for r in reviews)

    # the extracted rows are untouched
    assert {t: [tuple(r) for r in rows(db, f"SELECT * FROM {t} ORDER BY id")] for t in originals} == originals

    # the query commands show the reviewed values and hide the rejected item
    handled = query("facts", "--metric", "handled", db=db)
    assert [(f["county"], f["value"], f["review_status"]) for f in handled] == [
        ("遂平县", 17, "accepted"), ("关岭布依族苗族自治县", 0, "corrected")]
    assert query("facts", "--metric", "handled", "--stats", db=db) == [
        {"kind": "application", "metric": "handled", "unit": "件", "facts": 2, "reports": 2, "min": 0,
         "median": 8.5, "max": 17}]
    suiping = query("facts", "--kind", "training", "--county", "遂平县", db=db)
    assert [(f["evidence"], f["review_status"]) for f in suiping] == [(TRAINING_003_LAW, "pending")]
    shown = query("facts", "--kind", "training", "--county", "遂平县", "--include-rejected", db=db)
    assert {f["evidence"]: f["review_status"] for f in shown} == {TRAINING_003: "rejected",
                                                                  TRAINING_003_LAW: "pending"}
    # trainings in 遂平: the one left waits for review (0.9 < 0.95), so counts leave it out ...
    by = query("facts", "--kind", "training", "--by", "county", "--year", "2020", db=db)
    assert [(r["county"], r["reports"], r["items"]) for r in by] == [("遂平县", 0, 0)]
    # ... and --include-flagged counts it: still one report, now one item
    by = query("facts", "--kind", "training", "--by", "county", "--year", "2020", "--include-flagged", db=db)
    assert [(r["county"], r["reports"], r["items"]) for r in by] == [("遂平县", 1, 1)]
    # a lower threshold for one query: nothing waits, so it counts
    by = query("facts", "--kind", "training", "--by", "county", "--year", "2020", "--below", "0.7", db=db)
    assert [(r["county"], r["reports"], r["items"]) for r in by] == [("遂平县", 1, 1)]


def test_interactive_review_of_every_item_corrects_a_category(review_db_copy, item_id):
    """--all walks unflagged items too: here the one problem filed under "other"."""
    db = review_db_copy
    child = spawn(db, "--all", "--category", "other")
    try:
        child.expect_exact(PROMPT)
        for shown in ("(1/1) problems", "category: other", "summary: 工作措施不到位", "(no flags)",
                      "»工作措施不到位«"):
            assert squash(shown) in squash(child.before), shown
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
        child.expect_exact("recorded 1 decision(s)")
        child.expect_exact("0 left in the queue")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0

    (review,) = rows(db, "SELECT * FROM reviews")
    assert (review["item_table"], review["item_id"], review["decision"], review["note"]) == (
        "problems", item_id("problems", MEASURES), "correct", None)
    assert json.loads(review["before"]) == {"category": "other", "summary": "工作措施不到位"}
    assert json.loads(review["after"]) == {"category": "rules_standards", "summary": "工作措施不到位"}
    assert rows(db, "SELECT category FROM problems WHERE id = ?", (review["item_id"],))[0][0] == "other"

    henan = {p["summary"]: p for p in query("problems", "--province", "河南", db=db)}
    assert (henan["工作措施不到位"]["category"], henan["工作措施不到位"]["review_status"]) == (
        "rules_standards", "corrected")
    assert query("problems", "--category", "other", db=db) == []
    # rules_standards in 遂平: still one report, now three items
    by = {r["category"]: r for r in query("problems", "--by", "category", "--year", "2020", db=db)}
    assert (by["rules_standards"]["reports"], by["rules_standards"]["items"]) == (1, 3) and "other" not in by


def test_decisions_validate_and_the_latest_wins(review_db_copy, item_id):
    db = open_db(review_db_copy)
    fact = item_id("facts", HANDLED_004)
    problem = item_id("problems", MEASURES)
    with pytest.raises(ReviewError, match="'two' is not a number"):
        decide(db, "facts", fact, "correct", "t", {"value": "two"})
    with pytest.raises(ReviewError, match="nothing to correct"):
        decide(db, "facts", fact, "correct", "t", {"value": "5"})
    with pytest.raises(ReviewError, match="did you mean timeliness"):
        decide(db, "problems", problem, "correct", "t", {"category": "timelyness"})
    with pytest.raises(ReviewError, match="category cannot be changed on facts"):
        decide(db, "facts", fact, "correct", "t", {"category": "other"})
    with pytest.raises(ReviewError, match="no problems item with id 9999"):
        decide(db, "problems", 9999, "accept", "t")
    assert db.execute("SELECT count(*) FROM reviews").fetchone()[0] == 0

    decide(db, "facts", fact, "correct", "t", {"value": "０"})  # full-width digits are fine
    decide(db, "problems", problem, "correct", "t", {"category": "政策解读"})
    decide(db, "problems", problem, "reject", "t")
    assert db.execute("SELECT value, original_value, review_status FROM facts_reviewed WHERE id = ?",
                      [fact]).fetchone() == (0, 5, "corrected")
    assert db.execute("SELECT review_status FROM problems_reviewed WHERE id = ?", [problem]).fetchone() == (
        "rejected",)
    decide(db, "problems", problem, "accept", "t")  # changed their mind: the latest decision wins
    assert db.execute("SELECT category, review_status FROM problems_reviewed WHERE id = ?",
                      [problem]).fetchone() == ("policy_interpretation", "accepted")
    # the views for Datasette/pandas: region attached, rejected left out
    assert db.execute("SELECT province, category FROM problems_by_region WHERE id = ?", [problem]).fetchone() == (
        "河南省", "policy_interpretation")
    left = [(i["item_table"], i["evidence"], i["score"]) for i in queue(db, Filters())]
    assert left == [("facts", HANDLED_003, 0.65), ("facts", TRAINING_002, 0.9), ("facts", TRAINING_003, 0.9),
                    ("facts", TRAINING_003_LAW, 0.9)]


def test_queue_respects_filters(review_db, sample_db):
    db = open_db(review_db)
    assert [i["evidence"] for i in queue(db, Filters())] == QUEUE
    assert [(i["item_table"], i["province"], i["evidence"]) for i in queue(db, Filters(province="河南省"))] == [
        ("facts", "河南省", HANDLED_003), ("facts", "河南省", TRAINING_003), ("facts", "河南省", TRAINING_003_LAW)]
    assert [i["evidence"] for i in queue(db, Filters(kind="application"))] == [HANDLED_003, HANDLED_004]
    # a category filter leaves facts out; no problem or improvement is flagged, but --all lists them
    assert queue(db, Filters(category="staffing_capacity")) == []
    assert [(i["item_table"], i["review_status"]) for i in queue(db, Filters(category="staffing_capacity"),
                                                                    everything=True)] == [
        ("problems", "unflagged"), ("problems", "unflagged"), ("improvements", "unflagged"),
        ("improvements", "unflagged"), ("improvements", "unflagged")]
    res = runner.invoke(app, ["review", "--db", str(review_db), "--province", "宁夏"])
    assert res.exit_code == 0 and "nothing to review" in res.stderr and res.stdout == ""   # a message, not data
    # extracted with the default threshold, only the two table conflicts wait for review
    assert [i["evidence"] for i in queue(open_db(sample_db), Filters())] == [HANDLED_003, HANDLED_004]


def test_csv_export_and_import_round_trip(review_db_copy, item_id, tmp_path):
    db = review_db_copy
    out = tmp_path / "review.csv"
    res = runner.invoke(app, ["review", "--db", str(db), "--export", str(out)])
    assert res.exit_code == 0 and "wrote 5 item(s)" in res.stderr and res.stdout == ""
    assert out.read_bytes().startswith(codecs.BOM_UTF8)     # utf-8-sig: Excel on Chinese Windows reads it
    with out.open(encoding="utf-8-sig") as fh:
        table = list(csv.DictReader(fh))
    assert [(r["table"], r["score"], r["evidence"]) for r in table] == [
        ("facts", "0.65", HANDLED_003), ("facts", "0.65", HANDLED_004), ("facts", "0.9", TRAINING_002),
        ("facts", "0.9", TRAINING_003), ("facts", "0.9", TRAINING_003_LAW)]
    first = table[0]
    assert (first["flags"], first["why"], first["value"], first["unit"], first["table_ref"], first["table_value"]) == (
        "conflicts_with_table", "数字与报告自身的统计表不一致。", "17", "件",
        "applications.total_handled.total", "21")
    assert (table[2]["flags"], table[2]["why"], table[2]["value"]) == ("no_value", "该事实没有数字。", "")
    assert all(r["decision"] == r["new_value"] == r["new_category"] == r["note"] == "" for r in table)

    # a full pass: every item, to decide on any of them
    sheet = tmp_path / "all.csv"
    res = runner.invoke(app, ["review", "--db", str(db), "--export", str(sheet), "--all"])
    assert "wrote 142 item(s)" in res.stderr
    with sheet.open(encoding="utf-8-sig") as fh:
        table = list(csv.DictReader(fh))
    assert [r["evidence"] for r in table[:5]] == QUEUE and {r["score"] for r in table[5:]} == {"1.0"}
    fill = {
        HANDLED_003: dict(decision="a"),
        HANDLED_004: dict(decision="correct", new_value="0"),
        TRAINING_002: dict(decision="reject", note="not a count of trainings"),
        TRAINING_003: dict(decision="maybe"),                                           # bad: decision
        TRAINING_003_LAW: dict(decision="correct"),                                     # bad: no new value
        MEASURES: dict(decision="correct", new_category="timelyness"),                  # bad: typo
    }
    for r in table:
        r.update(fill.get(r["evidence"], {}))
    with sheet.open("w", encoding="utf-8-sig", newline="") as fh:  # as a spreadsheet saves it, with a BOM
        w = csv.DictWriter(fh, fieldnames=list(table[0]))
        w.writeheader()
        w.writerows(table)
    measures_row = 2 + next(i for i, r in enumerate(table) if r["evidence"] == MEASURES)
    assert measures_row == 2 + 5 + 93 + 13   # after the 5 flagged facts, the other 93 facts and 13 problems

    res = runner.invoke(app, ["review", "--db", str(db), "--import", str(sheet), "--reviewer", "sheet"],
                        env={"COLUMNS": "200"})
    assert res.exit_code == 1, res.output
    assert "3 decision(s) applied, 0 already recorded, 136 row(s) without a decision, 3 rejected" in res.stderr
    assert f"row 5 (facts {item_id('facts', TRAINING_003)}): unknown decision 'maybe'" in res.stderr
    assert (f"row 6 (facts {item_id('facts', TRAINING_003_LAW)}): correct needs a new value in new_value or "
            "new_unit") in res.stderr
    assert (f"row {measures_row} (problems {item_id('problems', MEASURES)}): unknown category 'timelyness'; "
            "did you mean timeliness?") in res.stderr

    reviews = rows(db, "SELECT item_table, item_id, decision, reviewer, after, note FROM reviews ORDER BY id")
    assert [(r["item_table"], r["item_id"], r["decision"], r["reviewer"]) for r in reviews] == [
        ("facts", item_id("facts", HANDLED_003), "accept", "sheet"),
        ("facts", item_id("facts", HANDLED_004), "correct", "sheet"),
        ("facts", item_id("facts", TRAINING_002), "reject", "sheet")]
    assert json.loads(reviews[1]["after"]) == {"value": 0, "unit": "件"}
    assert reviews[2]["after"] is None and reviews[2]["note"] == "not a count of trainings"
    handled = query("facts", "--metric", "handled", "--county", "关岭自治县", db=db)
    assert [(f["value"], f["unit"], f["review_status"]) for f in handled] == [(0, "件", "corrected")]
    assert query("facts", "--kind", "training", "--province", "河北", db=db) == []
    assert [p["category"] for p in query("problems", "--search", MEASURES, db=db)] == ["other"]

    # importing the same file again records nothing twice
    res = runner.invoke(app, ["review", "--db", str(db), "--import", str(sheet), "--reviewer", "sheet"])
    assert "0 decision(s) applied, 3 already recorded" in res.stderr
    assert rows(db, "SELECT count(*) FROM reviews")[0][0] == 3

    # the queue shrank; --all lists every item, decided or not
    res = runner.invoke(app, ["review", "--db", str(db), "--export", str(tmp_path / "left.csv")])
    assert "wrote 2 item(s)" in res.stderr
    res = runner.invoke(app, ["review", "--db", str(db), "--export", str(tmp_path / "all.csv"), "--all"])
    assert "wrote 142 item(s)" in res.stderr
    with (tmp_path / "all.csv").open(encoding="utf-8-sig") as fh:
        statuses = Counter(r["review_status"] for r in csv.DictReader(fh))
    assert statuses == {"unflagged": 137, "pending": 2, "rejected": 1, "accepted": 1, "corrected": 1}


def test_export_and_import_together_is_a_usage_error(sample_db, tmp_path):
    res = runner.invoke(app, ["review", "--db", str(sample_db), "--export", str(tmp_path / "a.csv"),
                              "--import", str(tmp_path / "b.csv")])
    assert res.exit_code == 2 and "not both" in res.output
