"""`gkextract serve` and `gkextract view` without a browser: the pages' content, the review
API (the same audit rows as `review.decide`), the heatmap's numbers, and the commands.
The browser tests (test_browser.py) check what a person sees and does."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from html import unescape
from pathlib import Path

import httpx
import sqlite_utils
from starlette.testclient import TestClient
from typer.testing import CliRunner

from conftest import report_ids
from corpus_db import corpus_db, rid  # noqa: F401  (fixture)
from gkextract.cli import app
from gkextract.domain import Lang
from gkextract.pages import cell_refs, segments
from gkextract.queries import Filters, group_counts
from gkextract.review import decide
from gkextract.web import bind, create_app

runner = CliRunner()
HANDLED_003 = "其中17件已按时办结"   # fact, 0.65: 17 handled in the text, 21 in 遂平's table 2
HANDLED_004 = "依法按时办结5件"      # fact, 0.65: 5 in the text, 0 in 关岭's table 2


def rows(db: Path, sql: str, params: tuple = ()) -> list[dict]:
    with closing(sqlite3.connect(db)) as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute(sql, params)]


def client(db: Path, reviewer: str = "web", lang: Lang = Lang.zh) -> TestClient:
    return TestClient(create_app(db, reviewer, lang), base_url="http://127.0.0.1")


def marked(html: str, key: str) -> str:
    """The text of every <mark> carrying the item's key, in order."""
    return "".join(unescape(m) for m in re.findall(
        rf'<mark class="hl b-\w+" data-items="[^"]*\b{key}\b[^"]*">(.*?)</mark>', html, re.S))


def test_segments_keep_overlapping_quotes_whole():
    text = "甲乙丙丁戊己庚"
    spans = [("f1", 1, 4), ("f2", 2, 6), ("p3", 2, 6), ("i4", 6, 7)]
    segs = segments(text, spans)
    assert [(s.text, s.keys) for s in segs] == [
        ("甲", ()), ("乙", ("f1",)), ("丙丁", ("f1", "f2", "p3")), ("戊己", ("f2", "p3")), ("庚", ("i4",))]
    assert "".join(s.text for s in segs) == text
    for key, a, b in spans:
        assert "".join(s.text for s in segs if key in s.keys) == text[a:b]


def test_cell_refs_read_joined_table_refs():
    assert cell_refs("applications.new_received.total | applications.new_received.total+"
                     "applications.carried_over.total") == ["applications.new_received.total",
                                                            "applications.carried_over.total"]
    assert cell_refs(None) == []


def test_report_page_marks_every_quote_and_the_conflicting_cell(sample_db):
    rid = report_ids(sqlite_utils.Database(sample_db))["004"]
    res = client(sample_db).get(f"/report/{rid[:6]}")
    assert res.status_code == 200
    html = res.text
    text = rows(sample_db, "SELECT text FROM reports WHERE id = ?", (rid,))[0]["text"]
    for table in ("facts", "problems", "improvements"):
        for r in rows(sample_db, f"SELECT id, evidence, span_start, span_end FROM {table} WHERE report_id = ?", (rid,)):
            assert marked(html, f"{table[0]}{r['id']}") == text[r["span_start"]:r["span_end"]] == r["evidence"]
    fact = rows(sample_db, "SELECT id FROM facts WHERE evidence = ?", (HANDLED_004,))[0]["id"]
    card = re.search(rf'<li id="item-f{fact}".*?(?=<li id="item-|</ol>)', html, re.S).group(0)
    assert "0.65" in card and "<li>数字与报告自身的统计表不一致。</li>" in card
    assert '<span class="status s-pending" title="pending">待审核</span>' in card
    assert '<span title="county">县级</span>' in html
    assert re.search(r'applications.total_handled.total</a> = <b>0</b>\s*<span class="tag bad">conflicts', card)
    cell = re.search(r'<td id="cell-applications.total_handled.total" class="([^"]*)"[^>]*>([^<]*)</td>', html)
    assert set(cell.group(1).split()) == {"c-ok", "fail", "conflict", "ref"} and cell.group(2) == "0"
    assert html.count("<tr data-check=") == 4   # the four failed balance checks


def test_pages_and_their_errors(sample_db, tmp_path):
    c = client(sample_db)
    index = c.get("/")
    assert index.status_code == 200
    assert len(re.findall(r'<a href="/report/[0-9a-f]{16}">', index.text)) == 5
    # 遂平 and 关岭 each have one fact waiting for review
    assert len(re.findall(r'<a href="/review\?report=[0-9a-f]{16}">1</a>', index.text)) == 2
    missing = c.get("/report/zzz")
    assert missing.status_code == 404 and "no report matches &#39;zzz&#39;" in missing.text
    bad = c.get("/review", params={"province": "火星"})
    assert bad.status_code == 200 and "unknown province &#39;火星&#39;" in bad.text
    assert c.get("/heatmap", params={"level": "planet"}).text.count("unknown level &#39;planet&#39;") == 1
    assert "year &#39;twenty&#39; is not a number" in c.get("/heatmap", params={"year": "twenty"}).text
    # only 127.0.0.1 / localhost: another site's name pointed at this port gets nothing
    assert TestClient(create_app(sample_db, "x"), base_url="http://evil.example").get("/").status_code == 400
    empty = tmp_path / "empty.db"
    assert client(empty).get("/").status_code == 409
    # reading pages writes nothing
    assert rows(sample_db, "SELECT count(*) AS n FROM reviews")[0]["n"] == 0


def test_review_api_writes_what_decide_writes(sample_db_copy, sample_db, tmp_path):
    fact = rows(sample_db, "SELECT id FROM facts WHERE evidence = ?", (HANDLED_004,))[0]["id"]
    c = client(sample_db_copy, reviewer="ana")
    queue = c.get("/review").text
    assert queue.count('<article class="qitem') == 2 and "reviewing as <b id=\"reviewer\">ana</b>" in queue
    assert re.search(r'id="q-f\d+" data-table="facts"', queue)

    def post(**body):
        return c.post("/api/review", json=body)

    assert post(table="facts", id=fact, decision="correct", changes={"value": "five"}).json() == {
        "error": "'five' is not a number (write null for no value)"}
    assert post(table="facts", id=99999, decision="accept").status_code == 400
    assert post(table="facts", id=fact, decision="maybe").json()["error"].startswith("unknown decision 'maybe'")
    assert post(table="facts", decision="accept").status_code == 400
    as_form = c.post("/api/review", data={"table": "facts", "id": str(fact), "decision": "accept"})
    assert as_form.status_code == 415   # a plain cross-site form post cannot record a decision
    assert rows(sample_db_copy, "SELECT count(*) AS n FROM reviews")[0]["n"] == 0   # nothing half-written

    res = post(table="facts", id=fact, decision="correct", changes={"value": "0", "unit": "件"}, note="table says 0")
    assert res.status_code == 200
    assert res.json() == {"review_id": 1, "review_status": "corrected", "reviewer": "ana"}
    assert c.get("/review").text.count('<article class="qitem') == 1

    # the same decision through review.decide (what `gkextract review` calls) on a fresh copy
    other = tmp_path / "cli.db"
    with closing(sqlite3.connect(sample_db)) as a, closing(sqlite3.connect(other)) as b:
        a.backup(b)
    decide(sqlite_utils.Database(other), "facts", fact, "correct", "ana", {"value": "0", "unit": "件"}, "table says 0")
    columns = "id, item_table, item_id, report_id, decision, reviewer, before, after, note"
    assert rows(sample_db_copy, f"SELECT {columns} FROM reviews") == rows(other, f"SELECT {columns} FROM reviews")


def test_heatmap_numbers_are_group_counts(sample_db):
    c = client(sample_db)
    html = c.get("/heatmap").text
    cells = re.findall(r'<g class="cell[^"]*" data-province="([^"]*)" data-category="(\w+)" data-reports="(\d+)" '
                       r'data-of="(\d+)" data-items="(\d+)"', html)
    expected = group_counts(sqlite_utils.Database(sample_db), "problems", Filters(), ["province", "category"])
    assert {(p, cat): (int(n), int(of), int(i)) for p, cat, n, of, i in cells} == {
        (r["province"], r["category"]): (r["reports"], r["reports_in_group"], r["items"]) for r in expected}
    assert sum(int(i) for *_, i in cells) == 22
    # a cell's link lists exactly its items
    href = unescape(re.search(r'<a href="([^"]*cell_province=%E8%B4%B5%E5%B7%9E%E7%9C%81[^"]*'
                              r'cell_category=rules_standards[^"]*)">', html).group(1))
    listed = c.get(href).text
    section = listed[listed.index('<section id="cell-items">'):]
    assert section.count("<tr><td>") == 1 and "贵州省 · 制度规范" in section
    improvements = c.get("/heatmap", params={"table": "improvements"}).text
    assert sum(int(i) for i in re.findall(r'class="cell[^"]*"[^>]*data-items="(\d+)"', improvements)) == 22


def test_view_writes_one_self_contained_page(sample_db, tmp_path):
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["view", "003", "--db", str(sample_db), "--html", str(out)])
    assert res.exit_code == 0, res.output
    assert re.fullmatch(r"wrote .*r\.html \(\d+ KB\)\n", res.stderr)
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and "<title>遂平县人民政府 2020 · gkextract</title>" in html
    assert not re.search(r'<(link|script|img)[^>]+(href|src)=', html)   # nothing fetched from anywhere
    assert 'href="/' not in html                                        # no links into a server
    assert marked(html, "f" + str(rows(sample_db, "SELECT id FROM facts WHERE evidence = ?",
                                       (HANDLED_003,))[0]["id"])) == HANDLED_003
    assert html.count('class="r-misaligned"') == len(rows(
        sample_db, "SELECT 1 FROM table_rows r JOIN reports p ON p.id = r.report_id "
                   "WHERE p.file_name LIKE '003%' AND r.status = 'misaligned'"))
    stdout = runner.invoke(app, ["view", "003", "--db", str(sample_db), "--html", "-"])
    assert stdout.exit_code == 0 and stdout.stdout == html


def test_view_and_serve_errors(sample_db, tmp_path, monkeypatch):
    res = runner.invoke(app, ["view", "999", "--db", str(sample_db), "--html", str(tmp_path / "x.html")])
    assert res.exit_code == 2 and "no report matches '999'" in res.stderr
    assert not (tmp_path / "x.html").exists()
    res = runner.invoke(app, ["view", "003", "--db", str(tmp_path / "none.db"), "--html", str(tmp_path / "x.html")])
    assert res.exit_code == 3
    res = runner.invoke(app, ["serve", "--db", str(tmp_path / "none.db")])
    assert res.exit_code == 3 and "no database at" in res.stderr
    taken = bind(0)
    taken.listen()   # another server on that port
    try:
        res = runner.invoke(app, ["serve", "--db", str(sample_db), "--port", str(taken.getsockname()[1])])
        assert res.exit_code == 2 and "cannot listen on 127.0.0.1:" in res.stderr and "give another --port" in res.stderr
    finally:
        taken.close()
    for name in [m for m in sys.modules if m == "starlette" or m.startswith("starlette.")]:
        monkeypatch.setitem(sys.modules, name, None)   # as if the web extra were not installed
    monkeypatch.delitem(sys.modules, "gkextract.web")
    res = runner.invoke(app, ["serve", "--db", str(sample_db)])
    assert res.exit_code == 2
    assert "`gkextract serve` needs starlette, which is not installed: pip install 'gkextract[web]'" in res.stderr


def test_serve_command_serves_on_loopback(sample_db):
    proc = subprocess.Popen([sys.executable, "-m", "gkextract", "serve", "--db", str(sample_db),
                             "--port", "0", "--reviewer", "ana"], stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line).group(0)
        assert "(reviewer ana)" in line
        for _ in range(100):
            try:
                res = httpx.get(url + "heatmap", timeout=5)
                break
            except httpx.ConnectError:   # bound, not yet listening
                time.sleep(0.05)
        assert res.status_code == 200 and 'id="heatmap"' in res.text
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _cell_classes(html: str, ref: str) -> set[str]:
    return set(re.search(rf'<td id="cell-{re.escape(ref)}" class="([^"]*)"', html).group(1).split())


def test_every_corpus_report_renders_with_cross_year_checks_marked(corpus_db):
    """Cross-year checks live in `checks` next to the table rules: a failed one marks this report's
    cells it read, a suspicious jump is marked apart, and a page never fails on an id it cannot map."""
    c = client(corpus_db)
    db = sqlite_utils.Database(corpus_db)
    for report_id, name in db.execute("SELECT id, file_name FROM reports ORDER BY file_name"):
        assert c.get(f"/report/{report_id}").status_code == 200, name
    html = c.get(f"/report/{rid(db, '03')}").text   # 2019 template: 对外公开总数量 ≤ last year's + 本年新公开
    assert {"fail"} <= _cell_classes(html, "proactive.rules.total_published")
    assert {"fail"} <= _cell_classes(html, "proactive.rules.new_published")
    assert 'data-checks="crossyear.stock.rules"' in html
    listed = re.findall(r'<tr data-check="([^"]+)" class="(\w+)">', html)
    assert listed == [("crossyear.stock.rules", "fail"), ("applications.results_sum.natural_person", "fail"),
                      ("applications.results_sum.total", "fail")]
    html = c.get(f"/report/{rid(db, '04')}").text   # 行政诉讼 0 → 12: suspicious, not failed
    assert "suspicious" in _cell_classes(html, "review_litigation.litigation_direct.total")
    assert re.search(r'<p class="checks">.*?0 fail</span>, <span class="warn">1 suspicious</span>', html)


def test_english_labels(sample_db):
    rid_004 = report_ids(sqlite_utils.Database(sample_db))["004"]
    c = client(sample_db, lang=Lang.en)
    html = c.get(f"/report/{rid_004}").text
    assert "<li>The number disagrees with the report&#39;s own table.</li>" in html
    assert '<span class="cat" title="policy_interpretation">policy interpretation</span>' in html
    assert '<span class="status s-pending" title="pending">pending</span>' in html
    heatmap = c.get("/heatmap").text
    assert re.search(r'<text class="colhead"[^>]*transform="rotate\(-40[^>]*><title>timeliness</title>timeliness',
                     heatmap)
    zh = client(sample_db).get("/heatmap").text
    assert '<title>timeliness</title>及时性</text>' in zh and "rotate(" not in zh


def test_pages_before_any_extraction(ingested_db):
    """Ingested, not extracted: the reports and their tables show, and the narrative pages say what to run."""
    c = client(ingested_db)
    index = c.get("/")
    assert index.status_code == 200 and len(re.findall(r'<a href="/report/[0-9a-f]{16}">', index.text)) == 5
    assert "/review?report=" not in index.text   # nothing waits for review
    rid_004 = report_ids(sqlite_utils.Database(ingested_db))["004"]
    page = c.get(f"/report/{rid_004}").text
    assert "narrative not extracted yet (gkextract extract)" in page and "<mark class=\"hl b-low\" data-items" not in page
    assert "<mark class=\"hl b-high\" data-items" not in page
    assert page.count("<tr data-check=") == 4   # the tables and their checks need no LLM
    for path in ("/review", "/heatmap"):
        res = c.get(path)
        assert res.status_code == 409 and "run `gkextract extract --db FILE` first" in res.text
