"""`gkextract export`: one file per table, reviewed values applied, report text left out."""

from __future__ import annotations

import codecs
import csv
import json
import sqlite3

from typer.testing import CliRunner

from gkextract.cli import app
from gkextract.review import decide
from gkextract.store import open_db

runner = CliRunner()
FILES = ["reports", "table_cells", "checks", "facts", "problems", "improvements", "reviews"]


def read_csv(path) -> list[dict]:
    assert path.read_bytes().startswith(codecs.BOM_UTF8)   # utf-8-sig by default: Excel reads it
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def count(db, table: str) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def test_csv_export_with_reviews_applied(sample_db_copy, item_id, tmp_path):
    db = open_db(sample_db_copy)
    decide(db, "problems", item_id("problems", "县政府办政府信息公开工作机构现只有兼职人员1名"), "reject", "t")
    decide(db, "problems", item_id("problems", "工作措施不到位"), "correct", "t", {"category": "rules_standards"})
    decide(db, "facts", item_id("facts", "依法按时办结5件"), "correct", "t", {"value": "0"})
    db.close()

    out = tmp_path / "out"
    res = runner.invoke(app, ["export", "--db", str(sample_db_copy), "--out", str(out)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{f}.csv" for f in FILES)
    assert "wrote 7 files" in res.stderr and "table_cells.csv" in res.stderr and res.stdout == ""  # a summary: stderr

    reports = read_csv(out / "reports.csv")
    assert len(reports) == 5 and "text" not in reports[0] and "issuer" in reports[0]
    assert {r["county"] for r in reports} == {"保德县", "盐池县", "竞秀区", "遂平县", "关岭布依族苗族自治县"}
    assert len(read_csv(out / "table_cells.csv")) == count(sample_db_copy, "table_cells")
    guanling = next(r["id"] for r in reports if r["county"] == "关岭布依族苗族自治县")
    failed = {(c["check_id"], c["expected"], c["actual"]) for c in read_csv(out / "checks.csv")
              if c["status"] == "fail" and c["report_id"] == guanling}
    assert ("applications.balance.total", "5", "0") in failed and len(failed) == 4

    problems = read_csv(out / "problems.csv")
    assert len(problems) == 21  # 22 extracted, one rejected
    assert "人员力量薄弱，县政府办公开工作机构只有兼职人员1名" not in {p["summary"] for p in problems}
    measures = next(p for p in problems if p["summary"] == "工作措施不到位")
    assert (measures["category"], measures["original_category"], measures["review_status"],
            measures["province"], measures["year"]) == ("rules_standards", "other", "corrected", "河南省", "2020")
    assert {p["review_status"] for p in problems if p is not measures} == {"unflagged"}
    facts = read_csv(out / "facts.csv")
    assert len(facts) == 98
    handled = next(f for f in facts if f["evidence"] == "依法按时办结5件")
    assert (handled["value"], handled["original_value"], handled["review_status"], handled["county"]) == (
        "0", "5", "corrected", "关岭布依族苗族自治县")
    assert [f["review_status"] for f in facts if f["evidence"] == "其中17件已按时办结"] == ["pending"]
    assert len(read_csv(out / "improvements.csv")) == 22
    assert [r["decision"] for r in read_csv(out / "reviews.csv")] == ["reject", "correct", "correct"]

    res = runner.invoke(app, ["export", "--db", str(sample_db_copy), "--out", str(out), "--include-rejected"])
    problems = read_csv(out / "problems.csv")
    assert len(problems) == 22
    assert {p["review_status"] for p in problems if p["summary"].startswith("人员力量薄弱")} == {"rejected"}


def test_jsonl_export_has_real_arrays(sample_db, tmp_path):
    out = tmp_path / "jsonl"
    res = runner.invoke(app, ["export", "--db", str(sample_db), "--out", str(out), "--format", "jsonl"])
    assert res.exit_code == 0, res.output
    facts = [json.loads(line) for line in (out / "facts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(facts) == 98
    weibo = next(f for f in facts if f["label"] == "保德发布")
    assert (weibo["value"], weibo["attributes"], weibo["flags"], weibo["province"]) == (
        3951, {"type": "weibo"}, [], "山西省")
    handled = next(f for f in facts if f["evidence"] == "其中17件已按时办结")
    assert (handled["flags"], handled["table_value"], handled["review_status"]) == (["conflicts_with_table"], 21,
                                                                                    "pending")
    training = next(f for f in facts if f["evidence"] == "我县将政务公开纳入领导干部学法、党校公务员培训")
    assert (training["value"], training["flags"], training["attributes"]) == (
        None, ["no_value"], {"status": "held", "audience": "领导干部、公务员", "topic": "政务公开"})
    problems = [json.loads(line) for line in (out / "problems.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(problems) == 22 and all(p["flags"] == [] and p["score"] == 1.0 for p in problems)
    reports = [json.loads(line) for line in (out / "reports.jsonl").read_text(encoding="utf-8").splitlines()]
    partial = next(r for r in reports if r["county"] == "遂平县")
    assert isinstance(partial["problems"], list) and partial["problems"]
    assert (out / "reviews.jsonl").read_text() == ""
