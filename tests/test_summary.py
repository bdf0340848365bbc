"""`gkextract summary`: one report's metadata, table numbers, failed checks, narrative and flags."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from gkextract.cli import app

runner = CliRunner()
WIDE = {"COLUMNS": "200"}


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

    assert len(d["facts"]) == 8 and len(d["problems"]) == 6 and len(d["improvements"]) == 4
    handled = next(f for f in d["facts"] if f["metric"] == "handled")
    assert (handled["value"], handled["score"], handled["flags"], handled["table_value"]) == (
        5, 0.45, ["conflicts_with_table"], 0)

    flagged = d["flagged"]
    assert [(x["table"], x["score"]) for x in flagged] == [
        ("problems", 0.2), ("facts", 0.45), ("facts", 0.52), ("improvements", 0.58)]
    assert flagged[0]["id"] == item_id("problems", "培训工作严重滞后，人员流动频繁")
    assert flagged[0]["why"] == ["The quote is not in the report."]
    assert flagged[1]["why"] == ["The number disagrees with the report's own table.",
                                 "Table applications.total_handled.total = 0."]


def test_report_by_id_prefix_or_file_name(sample_db):
    d = summary("004_0e1c", sample_db)
    assert summary(d["report"]["id"][:6], sample_db)["report"]["id"] == d["report"]["id"]


def test_unknown_flag_codes_are_shown_as_they_are(sample_db):
    d = summary("003", sample_db)
    assert ["category_unsure"] in [x["why"] for x in d["flagged"]]


def test_failed_extraction_is_reported(sample_db):
    d = summary("002", sample_db)
    assert {e["section"]: e["status"] for e in d["extractions"]} == {"overview": "ok", "problems": "error"}
    assert d["problems"] == [] and len(d["facts"]) == 2
    res = runner.invoke(app, ["summary", "002", "--db", str(sample_db)], env=WIDE)
    assert "problems extraction error: HTTP 500 after 3 retries" in res.stdout


def test_summary_for_people(sample_db):
    res = runner.invoke(app, ["summary", "004", "--db", str(sample_db)], env=WIDE)
    assert res.exit_code == 0
    out = res.stdout
    for expected in ("关岭自治县人民政府", "贵州省 安顺市 关岭布依族苗族自治县", "applications.new_received.total",
                     "applications.balance.total", "政策解读质量、丰富性和时效性有待提高", "flagged for review",
                     "The quote is not in the report."):
        assert expected in out, expected


def test_summary_before_extraction(ingested_db):
    res = runner.invoke(app, ["summary", "000", "--db", str(ingested_db)], env=WIDE)
    assert res.exit_code == 0
    assert "not extracted yet" in res.stdout and "applications.new_received.total" in res.stdout


def test_summary_errors(sample_db):
    res = runner.invoke(app, ["summary", "zzz", "--db", str(sample_db)])
    assert res.exit_code == 2 and "no report matches 'zzz'" in res.output
    res = runner.invoke(app, ["summary", "004", "--db", str(sample_db), "--format", "csv"])
    assert res.exit_code == 2 and "--format json" in res.output
