"""The ingest, reports and show commands through typer's CliRunner."""

import csv
import io
import json

from typer.testing import CliRunner

from gkextract.cli import app

from samples import REPORTS

runner = CliRunner()


def test_ingest_then_list_and_show(tmp_path):
    db = str(tmp_path / "gk.db")
    res = runner.invoke(app, ["ingest", str(REPORTS), "--db", db])
    assert res.exit_code == 0, res.output
    assert "5 ingested (2 partial)" in res.output
    assert "0 failed" in res.output

    res = runner.invoke(app, ["reports", "--db", db, "--format", "csv"])
    assert res.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert sorted((r["county"], r["year"], r["failed_checks"]) for r in rows) == [
        ("保德县", "2019", "0"), ("关岭布依族苗族自治县", "2019", "4"), ("盐池县", "2019", "2"),
        ("竞秀区", "2019", "0"), ("遂平县", "2020", "0")]

    res = runner.invoke(app, ["show", "004", "--db", db, "--format", "json"])
    assert res.exit_code == 0
    d = json.loads(res.stdout)
    assert d["report"]["issuer"] == "关岭自治县人民政府"
    assert [s["kind"] for s in d["sections"] if s["status"] == "found"] == ["preamble",
        "overview", "proactive", "applications", "review_litigation", "problems", "other"]
    t2 = next(t for t in d["tables"] if t["table_key"] == "applications")
    new = next(r for r in t2["rows"] if r["row_key"] == "new_received")
    assert [c["value"] for c in new["cells"]] == [2, 0, 0, 0, 1, 2, 5]
    assert [c["check_id"] for c in d["checks"] if c["status"] == "fail"] == [
        "applications.balance.natural_person", "applications.balance.legal_service",
        "applications.balance.other_org", "applications.balance.total"]

    res = runner.invoke(app, ["show", "003", "--db", db], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    assert "misaligned" in res.stdout and "17\xa0 | \xa00 | 0 | \xa00 | 18" in res.stdout


def test_failures_give_exit_1_and_the_rest_lands(tmp_path):
    db = str(tmp_path / "gk.db")
    bad = tmp_path / "in"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "ok.txt").write_text((REPORTS / "000_93a7fea9e9928630.txt").read_text(encoding="utf-8"),
                                encoding="utf-8")
    res = runner.invoke(app, ["ingest", str(bad), "--db", db, "--format", "json"])
    assert res.exit_code == 1
    out = {r["file"].split("/")[-1]: r for r in json.loads(res.stdout)}
    assert out["empty.txt"]["status"] == "failed" and "empty file" in out["empty.txt"]["detail"]
    assert out["ok.txt"]["status"] == "ingested"


def test_show_unknown_and_empty(tmp_path):
    db = str(tmp_path / "gk.db")
    res = runner.invoke(app, ["show", "abc", "--db", db])
    assert res.exit_code == 3 and "gkextract ingest" in res.output
    runner.invoke(app, ["ingest", str(REPORTS / "000_93a7fea9e9928630.txt"), "--db", db])
    res = runner.invoke(app, ["show", "zzz", "--db", db])
    assert res.exit_code == 2 and "no report matches 'zzz'" in res.output


def test_help_explains():
    res = runner.invoke(app, ["ingest", "--help"])
    assert res.exit_code == 0 and "one transaction" in res.output
