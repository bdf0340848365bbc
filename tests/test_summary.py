"""`gkextract summary`: one report's metadata, table numbers, failed checks, narrative and flags."""

from __future__ import annotations

import json
import sqlite3

from typer.testing import CliRunner

from gkextract.cli import app

runner = CliRunner()
WIDE = {"COLUMNS": "200"}


def squash(text: str) -> str:
    """Without whitespace: the terminal wraps long lines anywhere."""
    return "".join(text.split())


def summary(report: str, db) -> dict:
    res = runner.invoke(app, ["summary", report, "--db", str(db), "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_summary_json_of_guanling(sample_db, item_id):
    d = summary("004", sample_db)
    r = d["report"]
    assert (r["issuer"], r["year"], r["province"], r["city"], r["county"], r["level"]) == (
        "关岭自治县人民政府", 2019, "贵州省", "安顺市", "关岭布依族苗族自治县", "county")
    cells = {c["cell"]: c["value"] for c in d["table_numbers"]}
    assert cells == {
        "applications.new_received.total": 5, "applications.carried_over.total": 0,
        "applications.total_handled.total": 0, "applications.carried_forward.total": 0,
        "proactive.normative_documents.new_made": 3, "proactive.normative_documents.new_published": 3,
        "proactive.normative_documents.total_published": 3,
        "review_litigation.administrative_review.total": 0, "review_litigation.litigation_direct.total": 0,
        "review_litigation.litigation_after_review.total": 0}
    balance = next(c for c in d["failed_checks"] if c["check_id"] == "applications.balance.total")
    assert (balance["expected"], balance["actual"]) == (5, 0)
    assert len(d["failed_checks"]) == 4
    assert {(e["section"], e["status"], e["model"]) for e in d["extractions"]} == {
        ("overview", "ok", "gpt-4o-mini"), ("problems", "ok", "gpt-4o-mini")}

    assert len(d["facts"]) == 26 and len(d["problems"]) == 6 and len(d["improvements"]) == 8
    handled = next(f for f in d["facts"] if f["metric"] == "handled")
    assert (handled["value"], handled["score"], handled["flags"], handled["table_ref"], handled["table_value"]) == (
        5, 0.65, ["conflicts_with_table"], "applications.total_handled.total", 0)
    received = next(f for f in d["facts"] if f["metric"] == "received")
    assert (received["value"], received["score"], received["flags"], received["table_value"]) == (5, 1.0, [], 5)
    linked = {i["summary"]: i["problem_id"] for i in d["improvements"] if i["problem_id"] is not None}
    assert linked["继续举办政务公开专题培训班，培训业务骨干"] == item_id(
        "problems", "全县信息公开从业人员专业性不够，缺乏专业性指导，培训工作滞后")
    assert len(linked) == 5

    flagged = d["flagged"]
    assert [(x["table"], x["item"], x["score"]) for x in flagged] == [("facts", "application handled: 5件", 0.65)]
    assert flagged[0]["id"] == item_id("facts", "依法按时办结5件")
    assert flagged[0]["why"] == ["The number disagrees with the report's own table.",
                                 "Table applications.total_handled.total = 0."]


def test_flagged_items_follow_the_review_threshold(review_db, sample_db, item_id):
    d = summary("003", review_db)
    assert [(x["table"], x["id"], x["item"], x["score"], x["why"]) for x in d["flagged"]] == [
        ("facts", item_id("facts", "其中17件已按时办结"), "application handled: 17件", 0.65,
         ["The number disagrees with the report's own table.", "Table applications.total_handled.total = 21."]),
        ("facts", item_id("facts", "我县将政务公开纳入领导干部学法、党校公务员培训"), "training 政务公开: —", 0.9,
         ["The fact states no number."]),
        ("facts", item_id("facts", "同时召开全县政务公开培训会,重点学习《政府信息公开条例》"),
         "training 《政府信息公开条例》: —", 0.9, ["The fact states no number."])]
    # extracted with the default threshold (0.7), only the table conflict waits for review
    assert [(x["id"], x["score"]) for x in summary("003", sample_db)["flagged"]] == [
        (item_id("facts", "其中17件已按时办结"), 0.65)]


def test_report_by_id_prefix_or_file_name(sample_db):
    d = summary("004_0e1c", sample_db)
    assert summary(d["report"]["id"][:6], sample_db)["report"]["id"] == d["report"]["id"]


def test_unknown_flag_codes_are_shown_as_they_are(sample_db_copy, item_id):
    # The pipeline only writes the flag codes this version explains; a database
    # written by another version may hold others, which are shown as they are.
    problem = item_id("problems", "工作措施不到位")
    con = sqlite3.connect(sample_db_copy)
    with con:
        con.execute("UPDATE problems SET flags = ?, score = 0.5 WHERE id = ?",
                    ['["category_unsure", "quote_fuzzy"]', problem])
    con.close()
    d = summary("003", sample_db_copy)
    assert [(x["table"], x["id"], x["why"]) for x in d["flagged"]] == [
        ("problems", problem, ["category_unsure", "The quote was found only approximately."]),
        ("facts", item_id("facts", "其中17件已按时办结"),
         ["The number disagrees with the report's own table.", "Table applications.total_handled.total = 21."])]


def test_failed_extraction_is_reported(failed_db):
    d = summary("002", failed_db)
    assert {e["section"]: e["status"] for e in d["extractions"]} == {"overview": "ok", "problems": "error"}
    error = next(e["error"] for e in d["extractions"] if e["section"] == "problems")
    assert error.startswith("replay: no saved reply for report 1f77dc1d184237b7 section problems (key ")
    assert d["problems"] == [] and d["improvements"] == [] and len(d["facts"]) == 3
    assert [(f["kind"], f["value"]) for f in d["facts"]] == [("training", None), ("disclosure", 1600),
                                                             ("application", 5)]
    res = runner.invoke(app, ["summary", "002", "--db", str(failed_db)], env=WIDE)
    assert squash("problems extraction error: replay: no saved reply for report 1f77dc1d184237b7 section problems") \
        in squash(res.stdout)


def test_summary_for_people(sample_db):
    res = runner.invoke(app, ["summary", "004", "--db", str(sample_db)], env=WIDE)
    assert res.exit_code == 0
    out = res.stdout
    for expected in ("关岭自治县人民政府", "贵州省 安顺市 关岭布依族苗族自治县", "层级: 县级",
                     "applications.new_received.total", "applications.balance.total",
                     "政策解读质量、丰富性和时效性有待提高", "继续举办政务公开专题培训班，培训业务骨干",
                     "得分低于 0.7、待审核", "application handled: 5件",
                     "数字与报告自身的统计表不一致。表格 applications.total_handled.total = 0。"):
        assert expected in out, expected
    res = runner.invoke(app, ["summary", "004", "--db", str(sample_db), "--lang", "en"], env=WIDE)
    for expected in ("level: county", "flagged for review below 0.7", "application handled: 5件",
                     "The number disagrees with the report's own table. Table applications.total_handled.total = 0."):
        assert expected in res.stdout, expected


def test_summary_before_extraction(ingested_db):
    res = runner.invoke(app, ["summary", "000", "--db", str(ingested_db)], env=WIDE)
    assert res.exit_code == 0
    assert "叙述部分：尚未抽取" in res.stdout and "applications.new_received.total" in res.stdout


def test_summary_errors(sample_db):
    res = runner.invoke(app, ["summary", "zzz", "--db", str(sample_db)])
    assert res.exit_code == 2 and "no report matches 'zzz'" in res.output
    res = runner.invoke(app, ["summary", "004", "--db", str(sample_db), "--format", "csv"])
    assert res.exit_code == 2 and "--format json" in res.output
