"""`gkextract run` and `gkextract extract` through CliRunner, in replay mode and with bad settings."""

import json
import sqlite3

from typer.testing import CliRunner

from gkextract.cli import app

from samples import REPORTS

runner = CliRunner()
FIXTURES = str(REPORTS.parent / "llm")


def test_run_in_replay_mode_builds_the_database(tmp_path):
    db = str(tmp_path / "gk.db")
    res = runner.invoke(app, ["run", str(REPORTS), "--db", db, "--mode", "replay", "--fixtures", FIXTURES])
    assert res.exit_code == 0, res.output
    assert "5 ingested (2 partial)" in res.output
    for line in ("sections          │ 10", "calls             │ 0", "cache hits        │ 10", "facts             │ 98",
                 "problems          │ 22", "flagged           │ 2", "failures          │ 0"):
        assert line in res.output, line
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*), sum(status = 'ok'), sum(mode = 'replay') FROM extractions").fetchone() == (10, 10, 10)
    assert con.execute("SELECT count(*) FROM facts_reviewed WHERE review_status = 'pending'").fetchone() == (2,)

    again = runner.invoke(app, ["run", str(REPORTS), "--db", db, "--mode", "replay", "--fixtures", FIXTURES,
                                "--format", "json"])
    assert again.exit_code == 0
    done = json.loads(again.stdout)      # one document: the files ingested, then the extraction
    assert {r["status"] for r in done["ingest"]} == {"skipped"} and len(done["ingest"]) == 5
    summary = done["extract"]
    assert (summary["sections"], summary["already_done"], summary["calls"]) == (0, 10, 0)
    assert "0 ingested" in again.stderr and "already done" in again.stderr   # summaries for people: stderr


def test_replay_miss_exits_1_and_names_the_section(tmp_path):
    db = str(tmp_path / "gk.db")
    runner.invoke(app, ["ingest", str(REPORTS / "002_a08c52f4e01fde1f.txt"), "--db", db])
    res = runner.invoke(app, ["extract", "--db", db, "--mode", "replay", "--fixtures", str(tmp_path / "none"),
                              "--format", "json"], env={"COLUMNS": "200"})
    assert res.exit_code == 1
    failed = json.loads(res.stdout)[0]["failed"]
    assert sorted(f["section"] for f in failed) == ["overview", "problems"]
    assert "no saved reply for report 1f77dc1d184237b7 section overview" in failed[[f["section"] for f in failed].index("overview")]["error"]


def test_live_without_a_key_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("GKEXTRACT_CONFIG", str(tmp_path / "absent.toml"))
    db = str(tmp_path / "gk.db")
    runner.invoke(app, ["ingest", str(REPORTS / "000_93a7fea9e9928630.txt"), "--db", db])
    res = runner.invoke(app, ["extract", "--db", db, "--fixtures", str(tmp_path / "cache")])
    assert res.exit_code == 2 and "OPENAI_API_KEY" in res.output


def test_extract_on_an_empty_or_missing_database_says_what_to_run(tmp_path):
    res = runner.invoke(app, ["extract", "--db", str(tmp_path / "gk.db"), "--mode", "replay"])
    assert res.exit_code == 3 and "gkextract run PATH..." in res.output
    assert not (tmp_path / "gk.db").exists()          # a query never creates a database
    runner.invoke(app, ["ingest", str(tmp_path / "nothing-here"), "--db", str(tmp_path / "gk.db")])
    res = runner.invoke(app, ["extract", "--db", str(tmp_path / "gk.db"), "--mode", "replay"])
    assert res.exit_code == 3 and "gkextract ingest" in res.output


def test_api_key_is_not_an_option():
    res = runner.invoke(app, ["extract", "--help"], env={"COLUMNS": "200"})
    assert "--api-key" not in res.output and "OPENAI_API_KEY" in res.output
