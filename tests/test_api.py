"""The library API as a notebook uses it: sync calls inside a running event loop, dataclasses, DataFrames."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from dataclasses import asdict

import pytest
from typer.testing import CliRunner

import gkextract
from conftest import LLM_FIXTURES, ROOT
from gkextract.cli import app

REPORTS = ROOT / "fixtures" / "reports"
runner = CliRunner()


@pytest.fixture(autouse=True)
def no_config(monkeypatch, tmp_path):
    monkeypatch.setenv("GKEXTRACT_CONFIG", str(tmp_path / "absent.toml"))
    for var in ("OPENAI_API_KEY", "GKEXTRACT_MODEL", "GKEXTRACT_CACHE"):
        monkeypatch.delenv(var, raising=False)


def test_sync_api_inside_a_running_event_loop(tmp_path):
    """A Jupyter cell runs inside the kernel's event loop, where asyncio.run raises RuntimeError."""
    threads: set[str] = set()

    async def cell():
        asyncio.get_running_loop()          # we really are inside a running loop
        db = gkextract.open_database(tmp_path / "gk.db")
        files = gkextract.ingest_files(db, REPORTS)
        summary = gkextract.extract(db, mode="replay", cache_dir=LLM_FIXTURES,
                                    on_done=lambda rid, section, res: threads.add(threading.current_thread().name))
        return db, files, summary

    db, files, summary = asyncio.run(cell())
    assert [f.status for f in files] == ["ingested"] * 5
    assert (summary.sections, summary.calls, summary.cache_hits, summary.facts, summary.problems,
            summary.improvements, summary.flagged, summary.failures) == (10, 0, 10, 98, 22, 22, 2, [])
    assert threads == {"gkextract-run-sync"}            # the calls ran on a loop of their own
    assert db.execute("SELECT count(*) FROM facts").fetchone() == (98,)   # the connection is usable again
    again = gkextract.extract(db, mode="replay", cache_dir=LLM_FIXTURES)   # and outside a loop: plain asyncio.run
    assert (again.sections, again.already_done) == (0, 10)


def test_extract_async_on_the_callers_loop(tmp_path):
    db = gkextract.open_database(tmp_path / "gk.db")
    gkextract.ingest_files(db, [REPORTS / "004_0e1c1bc522329e1b.txt"])
    threads: set[str] = set()
    settings = gkextract.LLMSettings(mode=gkextract.Mode.replay, cache_dir=LLM_FIXTURES)
    summary = asyncio.run(gkextract.extract_async(
        db, settings, on_done=lambda *_: threads.add(threading.current_thread().name)))
    assert (summary.sections, summary.facts, summary.flagged) == (2, 26, 1)
    assert threads == {threading.current_thread().name}


def test_queries_are_what_the_cli_prints(sample_db):
    db = gkextract.open_database(sample_db, create=False)
    problems = gkextract.problems(db, province="山西")
    assert all(isinstance(p, gkextract.Problem) for p in problems)
    assert [p.category for p in problems] == ["disclosure_quality", "timeliness", "platforms", "rules_standards"]
    assert (problems[0].county, problems[0].year, problems[0].flags, problems[0].category_name()) == (
        "保德县", 2019, [], "公开质量")
    cli = json.loads(runner.invoke(app, ["problems", "--province", "山西", "--db", str(sample_db), "-f", "json"]).stdout)
    assert [asdict(p) for p in problems] == cli
    handled = gkextract.facts(db, gkextract.Filters(metric="handled"), county="关岭自治县")
    assert [(f.value, f.unit, f.flags, f.review_status) for f in handled] == [
        (5, "件", ["conflicts_with_table"], "pending")]
    assert [i.summary for i in gkextract.improvements(db, category="政策解读")] == [
        "完善政策解读工作制度，督促起草单位提高解读水平"]
    assert [r.county for r in gkextract.reports(db)][0] == "盐池县"
    counts = gkextract.counts(db, "problems", ["category"], category="policy_interpretation")
    assert counts == [{"category": "policy_interpretation", "reports": 2, "reports_in_group": 5, "share": 0.4,
                       "items": 2}]
    assert gkextract.summary(db, "004")["conflicts"][0]["table_value"] == 0
    with pytest.raises(gkextract.queries.FilterError, match="unknown category 'policy'"):
        gkextract.problems(db, category="policy")


def test_dataframes(sample_db, monkeypatch):
    pandas = pytest.importorskip("pandas")
    db = gkextract.open_database(sample_db, create=False)
    df = gkextract.to_dataframe(gkextract.facts(db, kind="training"))
    assert isinstance(df, pandas.DataFrame) and len(df) == len(gkextract.facts(db, kind="training")) > 0
    assert list(df.columns)[:4] == ["id", "report_id", "issuer", "province"]
    by_sql = dict(db.execute("SELECT r.province, count(*) FROM facts_reviewed f JOIN reports r ON r.id = f.report_id "
                             "WHERE f.kind = 'training' GROUP BY r.province").fetchall())
    assert df.groupby("province")["id"].count().to_dict() == by_sql == {"宁夏回族自治区": 3, "河北省": 1, "河南省": 2,
                                                                       "贵州省": 1}
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install pandas"):
        gkextract.to_dataframe([])


def test_open_database_never_creates_one_when_asked_not_to(tmp_path):
    with pytest.raises(FileNotFoundError, match="no database at"):
        gkextract.open_database(tmp_path / "typo.db", create=False)
    assert not (tmp_path / "typo.db").exists()


def test_import_is_light_and_documented():
    code = ("import sys, gkextract; gkextract.problems; gkextract.Problem; "
            "print(sorted(m for m in ('openai', 'httpx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"     # the LLM stack loads only when something is extracted
    assert set(gkextract.__all__) >= {"open_database", "ingest_files", "extract", "extract_async", "problems",
                                      "improvements", "facts", "to_dataframe"}
    assert all(getattr(gkextract, name).__doc__ for name in gkextract.__all__ if name != "__version__")
