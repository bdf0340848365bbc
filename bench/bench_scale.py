"""Is SQLite still the right store at 50,000 reports?  Build a database that size and time the queries.

The five samples are ingested and extracted (replay of the saved replies) into a
seed database; the big one is made from it in SQL: report n copies sample n % 5
(its text, sections, tables, cells, checks, extractions, problems and
improvements) under a new id, region, level and year, and takes the facts of
samples n % 5 and (n + 1) % 5 — and of (n + 2) % 5 for even n — so there are
about 50 facts per report: 2.5 M facts at 50,000 reports, as the scale path
expects.  Then every query a user runs through the CLI (the library functions
behind `problems`, `facts`, `summary`, `reports`, `cost`) and the README's SQL
questions are timed: best of three, warm cache.

Not a test.  Usage:

    python bench/bench_scale.py [--reports 50000] [--db out/scale.db] [--keep]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from gkextract import explore, query
from gkextract.ingest import ingest_paths
from gkextract.llm import LLMSettings, Mode
from gkextract.narrative import extract_reports
from gkextract.pricing import DEFAULT_PRICES, cost_rows
from gkextract.store import open_db

ROOT = Path(__file__).resolve().parent.parent
PROVINCES = ("北京市 天津市 河北省 山西省 内蒙古自治区 辽宁省 吉林省 黑龙江省 上海市 江苏省 浙江省 安徽省 福建省 江西省 "
             "山东省 河南省 湖北省 湖南省 广东省 广西壮族自治区 海南省 重庆市 四川省 贵州省 云南省 西藏自治区 陕西省 甘肃省 "
             "青海省 宁夏回族自治区 新疆维吾尔自治区").split()
LEVELS = ("county", "county", "county", "department", "department", "city", "township")
CHUNK = 2500


def seed(path: Path) -> None:
    db = open_db(path)
    ingest_paths(db, [ROOT / "fixtures" / "reports"])
    s = extract_reports(db, LLMSettings(mode=Mode.replay, cache_dir=ROOT / "fixtures" / "llm"))
    assert not s.failures, s.failures
    db.close()


def cols(db: Any, table: str) -> list[str]:
    return [r[1] for r in db.execute(f"PRAGMA table_info({table})")]


def build(path: Path, n: int, say: Callable[[str], None]) -> None:
    """Report n is sample n % 5 under a new id; ids of extractions and items are derived from n."""
    tmp = Path(tempfile.mkdtemp())
    seed(tmp / "seed.db")
    db = open_db(path)
    db.execute(f"ATTACH '{tmp / 'seed.db'}' AS s")
    db.executescript("""
        CREATE TEMP TABLE tmpl AS SELECT row_number() OVER (ORDER BY file_name) - 1 AS k, id FROM s.reports;
        CREATE TEMP TABLE ext AS SELECT t.k, e.section, e.id AS old,
            row_number() OVER (PARTITION BY t.k ORDER BY e.section) - 1 AS j
            FROM s.extractions e JOIN tmpl t ON t.id = e.report_id;
        CREATE TEMP TABLE prov (i INTEGER PRIMARY KEY, name TEXT);
        CREATE TEMP TABLE lvl (i INTEGER PRIMARY KEY, name TEXT);
    """)
    with db.atomic():
        db.conn.executemany("INSERT INTO prov VALUES (?, ?)", list(enumerate(PROVINCES)))
        db.conn.executemany("INSERT INTO lvl VALUES (?, ?)", list(enumerate(LEVELS)))
        db.execute("INSERT INTO cell_labels SELECT * FROM s.cell_labels")
    rid = "printf('%016x', g.n)"
    copies = {   # table: (its rows in the seed, joined on the template as x; the new columns)
        "section_spans": "s.section_spans", "section_items": "s.section_items", "stat_tables": "s.stat_tables",
        "table_rows": "s.table_rows", "cells": "s.cells", "checks": "s.checks"}
    for start in range(0, n, CHUNK):
        end = min(n, start + CHUNK)
        nums = f"(WITH RECURSIVE g(n) AS (SELECT {start} UNION ALL SELECT n + 1 FROM g WHERE n < {end - 1}) " \
               "SELECT n, n % 5 AS k FROM g)"
        with db.atomic():
            rc = cols(db, "reports")
            new = {"id": rid, "file_name": f"'r' || {rid} || '.txt'", "source_path": f"'/data/r' || {rid} || '.txt'",
                   "year": "2019 + g.n % 6", "province": "p.name",
                   "city": "p.name || '第' || (g.n / 31 % 12 + 1) || '市'",
                   "county": "CASE WHEN l.name IN ('county', 'township') THEN '第' || (g.n / 372 % 40 + 1) || '县' END",
                   "level": "l.name", "issuer": "p.name || (g.n / 31 % 12 + 1) || '号' || l.name || (g.n / 2604)",
                   "region_code": "NULL"}
            db.execute(f"INSERT INTO reports ({', '.join(rc)}) SELECT "
                       + ", ".join(new.get(c, f"x.{c}") for c in rc)
                       + f" FROM {nums} g JOIN tmpl t ON t.k = g.k JOIN s.reports x ON x.id = t.id "
                         "JOIN prov p ON p.i = g.n % 31 JOIN lvl l ON l.i = g.n % 7")
            for table, src in copies.items():
                c = cols(db, table)
                db.execute(f"INSERT INTO {table} ({', '.join(c)}) SELECT "
                           + ", ".join(rid if x == "report_id" else f"x.{x}" for x in c)
                           + f" FROM {nums} g JOIN tmpl t ON t.k = g.k JOIN {src} x ON x.report_id = t.id")
            ec = cols(db, "extractions")
            db.execute(f"INSERT INTO extractions ({', '.join(ec)}) SELECT "
                       + ", ".join({"id": "g.n * 2 + e.j + 1", "report_id": rid}.get(x, f"x.{x}") for x in ec)
                       + f" FROM {nums} g JOIN ext e ON e.k = g.k JOIN s.extractions x ON x.id = e.old")
            # facts of samples k, k+1 and (even n) k+2, all under this report's overview extraction
            fc = [x for x in cols(db, "facts") if x != "id"]
            db.execute(f"INSERT INTO facts ({', '.join(fc)}) SELECT "
                       + ", ".join({"extraction_id": "(SELECT g.n * 2 + e.j + 1 FROM ext e WHERE e.k = g.k "
                                                      "AND e.section = 'overview')",
                                    "report_id": rid}.get(x, f"x.{x}") for x in fc)
                       + f" FROM {nums} g JOIN tmpl t ON t.k IN (g.k, (g.k + 1) % 5, "
                         "CASE WHEN g.n % 2 = 0 THEN (g.k + 2) % 5 END) JOIN s.facts x ON x.report_id = t.id")
            for table in ("problems", "improvements"):
                c = [x for x in cols(db, table) if x not in ("id", "problem_id")]
                db.execute(f"INSERT INTO {table} ({', '.join(c)}) SELECT "
                           + ", ".join({"extraction_id": "g.n * 2 + e.j + 1", "report_id": rid}.get(x, f"x.{x}")
                                       for x in c)
                           + f" FROM {nums} g JOIN tmpl t ON t.k = g.k JOIN s.{table} x ON x.report_id = t.id "
                             "JOIN ext e ON e.k = g.k AND e.section = 'problems'")
            db.execute("INSERT INTO llm_calls (report_id, section, model, channel, request_key, prompt_tokens, "
                       "cached_tokens, completion_tokens, created_at) SELECT "
                       f"{rid}, e.section, 'gpt-4o-mini', CASE WHEN g.n % 2 THEN 'batch' ELSE 'online' END, "
                       "NULL, 2900, CASE WHEN g.n % 2 THEN 0 ELSE 1024 END, 740, '2026-12-05' "
                       f"FROM {nums} g JOIN ext e ON e.k = g.k")
        say(f"{end:,} / {n:,} reports")
    db.execute("DETACH s")
    db.execute("ANALYZE")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def best(fn: Callable[[], Any], times: int = 3) -> tuple[float, Any]:
    runs, out = [], None
    for _ in range(times):
        t0 = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - t0)
    return min(runs), out


README_SQL = {
    "1. provinces citing 政策解读, county level, 2020": (
        "SELECT province, count(DISTINCT report_id) AS reports FROM problems_by_region "
        "WHERE category = 'policy_interpretation' AND level = 'county' AND year = 2020 "
        "GROUP BY province ORDER BY reports DESC"),
    "2. problems mentioning 新媒体 (FTS5 trigram)": (
        "SELECT r.issuer, r.year, p.summary, p.evidence FROM problems_fts f JOIN problems p ON p.rowid = f.rowid "
        "JOIN reports r ON r.id = p.report_id WHERE problems_fts MATCH '\"新媒体\"'"),
    "3. table 2 breaking its own rule": (
        "SELECT r.issuer, r.year, c.expected, c.actual FROM checks c JOIN reports r ON r.id = c.report_id "
        "WHERE c.check_id = 'applications.balance.total' AND c.status = 'fail'"),
    "4. narrative against the report's table": (
        "SELECT issuer, year, metric, text_value, table_ref, table_value, evidence FROM conflicts "
        "WHERE status = 'conflict'"),
    "5. applications received per county (table_cells)": (
        "SELECT r.province, r.county, r.year, c.value AS received, c.status FROM table_cells c "
        "JOIN reports r ON r.id = c.report_id WHERE c.table_key = 'applications' AND c.row_key = 'new_received' "
        "AND c.col_key = 'total' ORDER BY r.province, r.county"),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=50_000)
    ap.add_argument("--db", type=Path, default=None, help="where to build it (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the database")
    args = ap.parse_args()
    console = Console(stderr=True)
    folder = Path(tempfile.mkdtemp())
    path = args.db or folder / "scale.db"
    if path.exists():
        sys.exit(f"{path} exists: give a new file")
    t0 = time.perf_counter()
    build(path, args.reports, lambda m: console.print(m))
    build_s = time.perf_counter() - t0
    size = path.stat().st_size

    db = open_db(path)
    counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("reports", "cells", "checks", "facts", "problems", "improvements")}
    rid = db.execute("SELECT id FROM reports ORDER BY id LIMIT 1 OFFSET 1234").fetchone()[0]
    F = explore.Filters
    timings: list[tuple[str, float, str]] = []

    def measure(label: str, fn: Callable[[], Any], rows: Callable[[Any], int] = len) -> None:
        seconds, out = best(fn)
        timings.append((label, seconds, f"{rows(out):,}"))

    def resolved(**kw: Any) -> explore.Filters:
        return explore.resolve_filters(db, F(**kw))

    measure("problems --level county --year 2020 --category 政策解读 --by province",
            lambda: explore.group_counts(db, "problems", resolved(level="county", year=2020,
                                                                  category="policy_interpretation"), ["province"]))
    measure("problems --by province,category", lambda: explore.group_counts(
        db, "problems", resolved(), ["province", "category"]))
    measure("problems --search 政策解读 --province 山西", lambda: explore.list_items(
        db, "problems", resolved(search="政策解读", province="山西")))
    measure("improvements --category staffing_capacity --by year", lambda: explore.group_counts(
        db, "improvements", resolved(category="staffing_capacity"), ["year"]))
    measure("facts --kind training --province 山西 --year 2020 --level county", lambda: explore.list_items(
        db, "facts", resolved(kind="training", province="山西", year=2020, level="county")))
    measure("facts --platform-type new_media --metric accounts --stats --by province", lambda: explore.fact_stats(
        db, resolved(platform_type="new_media", metric="accounts"), ["province"]))
    measure("facts --kind training --stats (every report)", lambda: explore.fact_stats(
        db, resolved(kind="training"), []))
    measure("summary REPORT", lambda: explore.report_summary(db, rid), rows=lambda d: len(d["facts"]))
    measure("show REPORT", lambda: query.report_detail(db, rid), rows=lambda d: len(d["tables"]))
    measure("reports (all, with failed checks)", lambda: query.list_reports(db))
    measure("cost", lambda: cost_rows(db, DEFAULT_PRICES))
    for label, sql in README_SQL.items():
        measure("SQL " + label, lambda sql=sql: db.execute(sql).fetchall())

    t = Table(title=f"SQLite at scale: {counts['reports']:,} reports, {counts['facts']:,} facts, "
                    f"{counts['cells']:,} cells, {counts['checks']:,} checks, {counts['problems']:,} problems, "
                    f"{counts['improvements']:,} improvements")
    for c in ("query", "seconds (best of 3)", "rows"):
        t.add_column(c, justify="right" if c != "query" else "left")
    t.add_row("build the database (SQL copies of the 5 samples)", f"{build_s:.0f}", "")
    t.add_row("database size", f"{size / 2**30:.2f} GiB ({size / counts['reports'] / 1024:.0f} KB per report)", "")
    for label, seconds, n in timings:
        t.add_row(label, f"{seconds:.3f}", n)
    t.add_row("median query", f"{statistics.median(s for _, s, _ in timings):.3f}", "")
    Console().print(t)
    db.close()
    if not args.keep:
        path.unlink()
        for suffix in ("-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
