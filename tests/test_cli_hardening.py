"""Bad input through the real CLI: odd file names, unreadable folders, a bad --db, Big5,
literal report ids, config files (honoured settings, exposed keys), keys in printed errors."""

import html
import json
import os
import sqlite3
import time
from contextlib import closing

import pytest
from typer.testing import CliRunner

from gkextract import ingest as ingest_mod
from gkextract.cli import app

from fake_server import FakeServer, Reply
from samples import REPORTS, SAMPLES, text

runner = CliRunner()
FIXTURES = str(REPORTS.parent / "llm")


def invoke(*args, env=None):
    return runner.invoke(app, list(args), env={"COLUMNS": "200", **(env or {})})


def test_file_names_that_are_not_utf8_are_stored_losslessly_and_shown_safely(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    odd = os.path.join(os.fsencode(folder), b"\xb1\xa8\xb8\xe6 2019.txt")     # 报告 in GBK bytes
    with open(odd, "wb") as f:
        f.write(SAMPLES["000"].read_bytes())
    (folder / "[red]x.txt").write_text(text("001"), encoding="utf-8")       # partial, so listed by name
    (folder / "ok.txt").write_text(text("004"), encoding="utf-8")
    db = tmp_path / "gk.db"
    res = invoke("ingest", str(folder), "--db", str(db))
    assert res.exit_code == 0, res.output
    assert "3 ingested" in res.output and "│ [red]x.txt" in res.output         # shown as it is, not as markup
    with closing(sqlite3.connect(db)) as con:
        files = dict(con.execute("SELECT path_bytes, path FROM files").fetchall())
        names = {r[0] for r in con.execute("SELECT file_name FROM reports")}
    assert files[os.path.realpath(odd)] == os.fsdecode(os.path.realpath(odd)).encode(
        "utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    assert names == {"\\xb1\\xa8\\xb8\\xe6 2019.txt", "[red]x.txt", "ok.txt"}
    again = invoke("ingest", str(folder), "--db", str(db), "--format", "json")   # found again by its name
    assert sorted(r["status"] for r in json.loads(again.stdout)) == ["skipped"] * 3


def test_one_files_failure_while_saving_rolls_back_no_other(tmp_path, monkeypatch):
    real = ingest_mod.write_reports     # the group's insert, then each report's in its own savepoint

    def fails_for_002(db, reports, labels=None):
        if any(r.tables["reports"][0][2] == "002_a08c52f4e01fde1f.txt" for r in reports):
            raise sqlite3.IntegrityError("simulated constraint failure")
        return real(db, reports, labels)

    monkeypatch.setattr(ingest_mod, "write_reports", fails_for_002)
    db = tmp_path / "gk.db"
    res = invoke("ingest", str(REPORTS), "--db", str(db), "--format", "json")
    assert res.exit_code == 1
    out = {r["file"].rsplit("/", 1)[1][:3]: r for r in json.loads(res.stdout)}
    assert out["002"]["status"] == "failed" and "simulated constraint failure" in out["002"]["detail"]
    assert [out[k]["status"] for k in ("000", "001", "003", "004")] == ["ingested"] * 4
    with closing(sqlite3.connect(db)) as con:
        assert con.execute("SELECT count(*) FROM reports").fetchone() == (4,)
        assert con.execute("SELECT count(*) FROM sections WHERE report_id NOT IN (SELECT id FROM reports)"
                           ).fetchone() == (0,)
        assert con.execute("SELECT status FROM files WHERE path LIKE '%002_%'").fetchone() == ("failed",)


def test_an_unreadable_folder_is_listed_as_failed_and_the_rest_lands(tmp_path, monkeypatch):
    folder = tmp_path / "in"
    (folder / "locked").mkdir(parents=True)
    (folder / "ok.txt").write_text(text("000"), encoding="utf-8")
    real = os.scandir

    def scandir(path="."):
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))   # what a chmod 000 folder raises
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    res = invoke("ingest", str(folder), "--db", str(tmp_path / "gk.db"), "--format", "json")
    assert res.exit_code == 1
    rows = {r["file"]: r for r in json.loads(res.stdout)}
    assert rows[str(folder / "locked")]["status"] == "failed"
    assert rows[str(folder / "locked")]["detail"] == "cannot read folder: Permission denied"
    assert rows[str(folder / "ok.txt")]["status"] == "ingested"


@pytest.mark.parametrize("command", [["ingest", str(SAMPLES["000"])], ["reports"], ["show", "000"],
                                     ["run", str(SAMPLES["000"]), "--mode", "replay"]])
def test_a_db_that_is_a_directory_or_not_sqlite_is_a_clear_usage_error(tmp_path, command):
    folder = tmp_path / "dir.db"
    folder.mkdir()
    res = invoke(*command, "--db", str(folder))
    assert res.exit_code == 2 and "is a directory, not a database file" in res.output
    assert isinstance(res.exception, SystemExit)                                 # no traceback
    notes = tmp_path / "notes.db"
    notes.write_text("these are my notes, not a database\n" * 50, encoding="utf-8")
    res = invoke(*command, "--db", str(notes))
    assert res.exit_code == 2 and "is not a SQLite database" in res.output
    assert isinstance(res.exception, SystemExit)
    assert notes.read_text(encoding="utf-8").startswith("these are my notes")     # left untouched


def test_big5_is_detected_and_named(tmp_path):
    big5 = tmp_path / "tw.txt"
    big5.write_bytes("一、總體情況\n本機關依政府資訊公開法，主動公開政府資訊。\n五、存在的主要問題及改進情況\n".encode("big5") * 20)
    res = invoke("ingest", str(big5), "--db", str(tmp_path / "gk.db"), "--format", "json")
    assert res.exit_code == 1
    (row,) = json.loads(res.stdout)
    assert row["status"] == "failed" and "Big5-encoded traditional Chinese" in row["detail"]


def test_report_ids_are_matched_literally(tmp_path):
    db = str(tmp_path / "gk.db")
    invoke("ingest", str(REPORTS), "--db", db)
    for pattern in ("%", "_", "0%", "__"):
        res = invoke("show", pattern, "--db", db)
        assert res.exit_code == 2 and f"no report matches {pattern!r}" in res.output, pattern
    assert invoke("show", "004_", "--db", db).exit_code == 0                   # a real file-name prefix


def test_cache_dir_and_mode_from_the_config_file_are_honoured_and_flags_win(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("GKEXTRACT_CACHE", raising=False)
    db = str(tmp_path / "gk.db")
    invoke("ingest", str(REPORTS), "--db", db)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'mode = "replay"\ncache_dir = "{FIXTURES}"\n', encoding="utf-8")
    res = invoke("extract", "--db", db, "--config", str(cfg), "--format", "json")
    assert res.exit_code == 0, res.output
    assert (json.loads(res.stdout)[0]["cache_hits"], json.loads(res.stdout)[0]["calls"]) == (10, 0)
    res = invoke("extract", "--db", db, "--config", str(cfg), "--mode", "live", "--refresh")
    assert res.exit_code == 2 and "OPENAI_API_KEY" in res.output              # --mode live won over the file
    res = invoke("extract", "--db", db, "--config", str(cfg), "--refresh")
    assert res.exit_code == 2 and "needs --mode live or record" in res.output


def test_a_config_file_holding_a_key_readable_by_others_is_warned_about(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    db = str(tmp_path / "gk.db")
    invoke("ingest", str(SAMPLES["000"]), "--db", db)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'api_key = "sk-config-0123456789"\nmode = "replay"\ncache_dir = "{FIXTURES}"\n',
                   encoding="utf-8")
    cfg.chmod(0o644)
    res = invoke("extract", "--db", db, "--config", str(cfg))
    assert res.exit_code == 0
    assert f"warning: {cfg} holds an API key and other users can read it (mode 0644); run: chmod 600 {cfg}" \
        in " ".join(res.output.split())
    assert "sk-config-0123456789" not in res.output
    cfg.chmod(0o600)
    res = invoke("extract", "--db", db, "--config", str(cfg), "--refresh", "--mode", "replay")
    assert "warning" not in res.output


def test_a_key_echoed_in_an_error_is_never_printed(tmp_path, monkeypatch):
    key = "custom-provider-key-9f8e7d6c5b4a"          # not sk-…: redacted because it is the configured key
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("GKEXTRACT_CONFIG", str(tmp_path / "none.toml"))
    echo = Reply(status=401, body={"error": {"message": f"invalid key {key}; also tried sk-abcdef0123456789"}})
    db = str(tmp_path / "gk.db")
    with FakeServer(lambda r: echo) as server:
        res = invoke("run", str(SAMPLES["000"]), "--db", db, "--base-url", server.url,
                     "--fixtures", str(tmp_path / "cache"), "--mode", "live")
    assert res.exit_code == 1 and "AuthenticationError" in res.output
    assert key not in res.output and "sk-abcdef0123456789" not in res.output and "[redacted]" in res.output
    with closing(sqlite3.connect(db)) as con:
        errors = " ".join(r[0] for r in con.execute("SELECT error FROM extractions"))
    assert key not in errors and "sk-abcdef" not in errors


def test_a_pathological_grid_is_read_fast_and_reported_not_guessed(tmp_path):
    report = text("004")
    before, after = report.index("三、收到和处理"), report.index("四、政府信息公开行政复议")
    rows = "".join(f'<tr><td rowspan="0" colspan="1000">{i}</td><td>{i % 7}</td></tr>' for i in range(5000))
    page = "".join(f"<p>{html.escape(line)}</p>" for line in report[:before].splitlines())
    page += f"<p>三、收到和处理政府信息公开申请情况</p><table>{rows}</table>"
    page += "".join(f"<p>{html.escape(line)}</p>" for line in report[after:].splitlines())
    (tmp_path / "grid.html").write_text(f"<html><body>{page}</body></html>", encoding="utf-8")
    db = str(tmp_path / "gk.db")
    started = time.monotonic()
    res = invoke("ingest", str(tmp_path / "grid.html"), "--db", db, "--format", "json")
    assert time.monotonic() - started < 10                  # was 23 s and 863 MB
    (row,) = json.loads(res.stdout)
    assert (row["status"], row["report_status"]) == ("ingested", "partial")
    assert "table applications not found in its part" in row["detail"]
    detail = json.loads(invoke("show", "grid", "--db", db, "--format", "json").stdout)
    t2 = next(t for t in detail["tables"] if t["table_key"] == "applications")
    assert t2["status"] == "missing" and all(c["value"] is None for r in t2["rows"] for c in r["cells"])
