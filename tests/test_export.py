"""`gkextract export`: one file per table, reviewed values applied, report text left out."""

from __future__ import annotations

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
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def count(db, table: str) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def test_csv_export_with_reviews_applied(sample_db_copy, item_id, tmp_path):
    db = open_db(sample_db_copy)
    decide(db, "problems", item_id("problems", "培训工作严重滞后，人员流动频繁"), "reject", "t")
    decide(db, "problems", item_id("problems", "政府信息公开与日常行政管理脱节"), "correct", "t",
           {"category": "rules_standards"})
    decide(db, "facts", item_id("facts", "依法按时办结5件"), "correct", "t", {"value": "0"})
    db.close()

    out = tmp_path / "out"
    res = runner.invoke(app, ["export", "--db", str(sample_db_copy), "--out", str(out)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{f}.csv" for f in FILES)
    assert "wrote 7 files" in res.stdout and "table_cells.csv" in res.stdout

    reports = read_csv(out / "reports.csv")
    assert len(reports) == 5 and "text" not in reports[0] and "issuer" in reports[0]
    assert {r["county"] for r in reports} == {"保德县", "盐池县", "竞秀区", "遂平县", "关岭布依族苗族自治县"}
    assert len(read_csv(out / "table_cells.csv")) == count(sample_db_copy, "table_cells")
    guanling = next(r["id"] for r in reports if r["county"] == "关岭布依族苗族自治县")
    failed = {(c["check_id"], c["expected"], c["actual"]) for c in read_csv(out / "checks.csv")
              if c["status"] == "fail" and c["report_id"] == guanling}
    assert ("applications.balance.total", "5", "0") in failed and len(failed) == 4

    problems = read_csv(out / "problems.csv")
    assert len(problems) == 18  # 19 extracted, one rejected
    assert "培训工作严重滞后" not in {p["summary"] for p in problems}
    disconnect = next(p for p in problems if p["summary"] == "信息公开与日常行政管理脱节")
    assert (disconnect["category"], disconnect["original_category"], disconnect["review_status"],
            disconnect["province"], disconnect["year"]) == ("rules_standards", "other", "corrected", "河南省", "2020")
    facts = read_csv(out / "facts.csv")
    handled = next(f for f in facts if f["evidence"] == "依法按时办结5件")
    assert (handled["value"], handled["original_value"], handled["county"]) == ("0", "5", "关岭布依族苗族自治县")
    assert len(read_csv(out / "improvements.csv")) == 11
    assert [r["decision"] for r in read_csv(out / "reviews.csv")] == ["reject", "correct", "correct"]

    res = runner.invoke(app, ["export", "--db", str(sample_db_copy), "--out", str(out), "--include-rejected"])
    assert len(read_csv(out / "problems.csv")) == 19


def test_jsonl_export_has_real_arrays(sample_db, tmp_path):
    out = tmp_path / "jsonl"
    res = runner.invoke(app, ["export", "--db", str(sample_db), "--out", str(out), "--format", "jsonl"])
    assert res.exit_code == 0, res.output
    facts = [json.loads(line) for line in (out / "facts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(facts) == 29
    weibo = next(f for f in facts if f["label"] == "保德发布")
    assert (weibo["value"], weibo["attributes"], weibo["flags"], weibo["province"]) == (
        3951, {"type": "weibo"}, [], "山西省")
    reports = [json.loads(line) for line in (out / "reports.jsonl").read_text(encoding="utf-8").splitlines()]
    partial = next(r for r in reports if r["county"] == "遂平县")
    assert isinstance(partial["problems"], list) and partial["problems"]
    assert (out / "reviews.jsonl").read_text() == ""
