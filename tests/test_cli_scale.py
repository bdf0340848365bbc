"""The scale commands through CliRunner: batch submit/status/collect, cost, --max-cost, ingest -j."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from gkextract.cli import app
from gkextract.pricing import DEFAULT_PRICES

from fake_batch_api import FakeBatchAPI
from fake_server import FakeServer
from samples import REPORTS, ROOT

runner = CliRunner()
ENV = {"OPENAI_API_KEY": "sk-test-cli-0123456789abcdef", "COLUMNS": "200", "GKEXTRACT_CONFIG": "/nonexistent"}


def invoke(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env={**ENV, **(env or {})})


def test_batch_submit_status_collect_then_cost(tmp_path):
    db = str(tmp_path / "gk.db")
    with FakeBatchAPI(outcome=lambda cid, n: "expired" if n == 4 else "ok") as api:
        res = invoke("batch", "submit", str(REPORTS), "--db", db, "--base-url", api.url, "--format", "json",
                     "--fixtures", str(tmp_path / "cache"))
        assert res.exit_code == 0, res.output
        out = json.loads(res.stdout)        # one document: the batches, and the files ingested first
        assert [r["status"] for r in out["ingest"]] == ["ingested"] * 5
        assert (out["sections"], out["requests"], out["batches"][0]["status"]) == (10, 10, "validating")
        assert (tmp_path / "gk.db.batches" / out["batches"][0]["file_name"]).is_file()

        status = invoke("batch", "status", "--db", db, "--base-url", api.url, "--format", "json")
        assert status.exit_code == 0 and json.loads(status.stdout)[0]["status"] == "validating"

        collected = invoke("batch", "collect", "--db", db, "--base-url", api.url, "--wait", "--poll", "0.01",
                           "--format", "json", "--fixtures", str(tmp_path / "cache"))
        assert collected.exit_code == 1, collected.output        # one section expired: left for `extract`
        summary = json.loads(collected.stdout)[0]
        assert (summary["sections"], summary["calls"], summary["failures"]) == (10, 9, 1)
        assert "does them online" in collected.stderr
        usage = [u for cid, u in api.usage.items()]

    cost = invoke("cost", "--db", db, "--format", "json")
    assert cost.exit_code == 0, cost.output
    (row,) = json.loads(cost.stdout)
    assert (row["model"], row["channel"], row["calls"]) == ("gpt-4o-mini", "batch", 9)
    assert (row["prompt_tokens"], row["cached_tokens"], row["completion_tokens"]) == (
        sum(u.prompt_tokens for u in usage), sum(u.cached_tokens for u in usage),
        sum(u.completion_tokens for u in usage))
    p = DEFAULT_PRICES["gpt-4o-mini"]
    assert row["cost"] == pytest.approx(sum(p.cost(u.prompt_tokens, u.cached_tokens, u.completion_tokens, True)
                                            for u in usage), abs=1e-6)
    table = invoke("cost", "--db", db)
    assert "batch" in table.stdout and f"total: {row['cost']:.4f} USD" in table.stdout
    assert "default list price, checked 2026-12-05" in table.stdout


def test_cost_uses_the_prices_in_the_config_and_says_when_a_model_has_none(tmp_path):
    db = tmp_path / "gk.db"
    invoke("ingest", str(REPORTS / "000_93a7fea9e9928630.txt"), "--db", str(db))
    con = sqlite3.connect(db)
    con.executemany("INSERT INTO llm_calls (model, channel, prompt_tokens, cached_tokens, completion_tokens, "
                    "created_at) VALUES (?, ?, ?, ?, ?, 'now')",
                    [("deepseek-chat", "online", 2_000_000, 1_000_000, 1_000_000),
                     ("my-local-model", "online", 500, 0, 100)])
    con.commit()
    config = tmp_path / "config.toml"
    config.write_text('[prices."deepseek-chat"]\ninput = 0.27\ncached_input = 0.07\noutput = 1.10\n'
                      'currency = "USD"\n', encoding="utf-8")
    res = invoke("cost", "--db", str(db), "--config", str(config), "--format", "json")
    assert res.exit_code == 0, res.output
    rows = {r["model"]: r for r in json.loads(res.stdout)}
    assert rows["deepseek-chat"]["cost"] == pytest.approx(0.27 + 0.07 + 1.10)
    assert rows["my-local-model"]["cost"] is None and "no price" in rows["my-local-model"]["price_source"]
    bad = tmp_path / "bad.toml"
    bad.write_text('[prices."x"]\ninput = "cheap"\ncached_input = 0\noutput = 1\n', encoding="utf-8")
    res = invoke("cost", "--db", str(db), "--config", str(bad))
    assert res.exit_code == 2 and "must all be given, as numbers" in res.output


def test_max_cost_stops_before_the_budget_and_a_rerun_finishes(tmp_path):
    db = str(tmp_path / "gk.db")
    assert invoke("ingest", str(REPORTS), "--db", db).exit_code == 0
    with FakeServer() as server:
        common = ["--db", db, "--base-url", server.url, "--fixtures", str(tmp_path / "cache"), "-j", "1"]
        res = invoke("extract", *common, "--max-cost", "0.005", "--format", "json")
        assert res.exit_code == 1, res.output
        assert "stopped at the budget" in res.stderr
        done = json.loads(res.stdout)[0]
        assert 0 < done["calls"] < 10
        con = sqlite3.connect(db)
        (spent,) = con.execute("SELECT sum(prompt_tokens * 0.15 + completion_tokens * 0.60) / 1e6 FROM llm_calls"
                               ).fetchone()
        assert spent <= 0.005
        rest = invoke("extract", *common, "--format", "json")
        assert rest.exit_code == 0 and json.loads(rest.stdout)[0]["calls"] == 10 - done["calls"]
        assert len(server.log) == 10                            # nothing was asked twice
    unknown = invoke("extract", "--db", db, "--model", "no-such-model", "--max-cost", "1", "--mode", "replay",
                     "--fixtures", str(tmp_path / "cache"))
    assert unknown.exit_code == 2 and "no price for model 'no-such-model'" in unknown.output


def _rows(db: str) -> dict[str, list[tuple]]:
    con = sqlite3.connect(db)
    skip = {"ingested_at", "updated_at"}
    out = {}
    for t in ("reports", "sections", "section_items", "stat_tables", "table_rows", "table_cells", "checks", "files"):
        cols = [c[1] for c in con.execute(f"PRAGMA table_info({t})") if c[1] not in skip]
        out[t] = sorted(con.execute(f"SELECT {', '.join(cols)} FROM {t}").fetchall(), key=repr)
    return out


def test_ingest_with_two_processes_gives_the_same_database_as_one(tmp_path):
    one, two = str(tmp_path / "one.db"), str(tmp_path / "two.db")
    folders = [str(REPORTS), str(ROOT / "fixtures" / "corpus")]
    a = invoke("ingest", *folders, "--db", one, "--format", "json")
    b = invoke("ingest", *folders, "--db", two, "-j", "2", "--format", "json")
    assert a.exit_code == b.exit_code
    assert [r["status"] for r in json.loads(a.stdout)] == [r["status"] for r in json.loads(b.stdout)]
    rows_one, rows_two = _rows(one), _rows(two)
    assert len(rows_one["reports"]) >= 20 and rows_one == rows_two


def test_help_and_a_query_do_not_import_openai(tmp_path):
    code = ("import sys; from typer.testing import CliRunner; from gkextract.cli import app; "
            "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0; print('openai' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
