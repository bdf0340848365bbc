"""The evidence view and review queue in a real browser: headless Debian chromium, driven
over the DevTools protocol against `gkextract serve`'s app on 127.0.0.1.

Skipped when /usr/bin/chromium is absent; `make browser-test` installs it (apt-get, with a CJK font)
and runs these.  Screenshots go to $GKEXTRACT_SCREENSHOTS (default: the test's tmp dir).
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pexpect
import pytest
import sqlite_utils
from typer.testing import CliRunner

from cdp import CHROMIUM, Browser, Page
from conftest import report_ids
from gkextract.cli import app
from gkextract.web import bind, create_app, make_server

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=(
    f"Debian's chromium is not installed ({CHROMIUM}): `make browser-test` installs it and runs "
    "the browser tests (GKEXTRACT_CHROMIUM names another chromium)"))

runner = CliRunner()
HANDLED_004 = "依法按时办结5件"     # fact, 0.65: the text's 5 against 0 in 关岭's own table 2


def rows(db: Path, sql: str, params: tuple = ()) -> list[dict]:
    with closing(sqlite3.connect(db)) as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute(sql, params)]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    b = Browser(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    p = browser.page()
    try:
        yield p
        assert p.errors() == []   # no uncaught script error on any page a test visited last
    finally:
        p.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("GKEXTRACT_SCREENSHOTS") or tmp_path)


def serve(db: Path) -> Iterator[str]:
    """`gkextract serve`'s app on a free port of 127.0.0.1, in a thread; yields its base URL."""
    sock = bind(0)
    server = make_server(create_app(db, "browser-test"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def site(sample_db_copy: Path) -> Iterator[str]:
    yield from serve(sample_db_copy)


def marks_of(page: Page, key: str) -> str:
    return page.eval(f"Array.from(document.querySelectorAll('mark.hl[data-items~=\"{key}\"]'))"
                     ".map(m => m.textContent).join('')")


def test_report_page_highlights_every_quote_at_its_stored_span(site, sample_db_copy, page, shots):
    rid = report_ids(sqlite_utils.Database(sample_db_copy))["004"]
    page.goto(f"{site}/report/{rid}")
    assert page.eval("document.querySelector('h1').textContent").split() == ["关岭自治县人民政府", "2019"]
    text = rows(sample_db_copy, "SELECT text FROM reports WHERE id = ?", (rid,))[0]["text"]
    assert page.eval("document.getElementById('report-text').textContent") == text   # the full text, as stored
    items = [(t[0] + str(r["id"]), r) for t in ("facts", "problems", "improvements")
             for r in rows(sample_db_copy, f"SELECT id, evidence, match, span_start, span_end, score FROM {t} "
                                           "WHERE report_id = ?", (rid,))]
    assert len(items) == 26 + 6 + 8
    assert page.eval("document.querySelectorAll('#items .card').length") == len(items)
    for key, r in items:   # every highlighted span's text equals the stored quote
        assert r["match"] == "exact" and r["span_start"] is not None
        assert marks_of(page, key) == text[r["span_start"]:r["span_end"]] == r["evidence"], key
    key91 = next(k for k, r in items if r["evidence"] == HANDLED_004)
    assert page.eval(f"document.querySelector('mark.hl[data-items~=\"{key91}\"]').className") == "hl b-low"
    # coloured by score: the rendered background of a flagged quote differs from a high-scoring one
    colours = page.eval("[...new Set(Array.from(document.querySelectorAll('#report-text mark.hl')).map("
                        "m => getComputedStyle(m).backgroundColor))].sort()")
    assert colours == ["rgb(211, 242, 211)", "rgb(255, 194, 194)"]   # green (≥ 0.9) and red (below 0.7)

    # hovering the flagged quote shows the fact, its flag in words and the table cell it contradicts
    page.hover(f"mark.hl[data-items~=\"{key91}\"]")
    inspector = page.wait_for("document.getElementById('inspector').innerText.includes('fact #') && "
                              "document.getElementById('inspector').innerText")
    assert "application handled: 5件" in inspector
    assert "数字与报告自身的统计表不一致。" in inspector
    assert "applications.total_handled.total = 0" in inspector and "conflicts with the text" in inspector
    cell = "document.getElementById('cell-applications.total_handled.total')"
    assert page.eval(f"{cell}.textContent") == "0"
    assert set(page.eval(f"{cell}.className").split()) >= {"c-ok", "conflict", "ref", "active"}
    page.eval("window.scrollTo(0, 0)")   # the header back in view; the quote stays in view inside the text
    page.screenshot(shots / "report-page.png")

    # the tables: the four failed balance checks listed, the cells they sum marked
    failed = page.eval("Array.from(document.querySelectorAll('#table-applications tr[data-check]'))"
                       ".map(r => r.dataset.check)")
    assert failed == [c["check_id"] for c in rows(
        sample_db_copy, "SELECT check_id FROM checks WHERE report_id = ? AND status = 'fail' ORDER BY rowid", (rid,))]
    assert failed == ["applications.balance.natural_person", "applications.balance.legal_service",
                      "applications.balance.other_org", "applications.balance.total"]
    assert page.eval("document.getElementById('cell-applications.new_received.legal_service').dataset.checks") \
        == "applications.balance.legal_service"
    page.eval("document.getElementById('table-applications').scrollIntoView()")
    page.screenshot(shots / "report-page-tables.png")


def test_misaligned_rows_are_marked_with_their_raw_cells(site, sample_db_copy, page):
    rid = rows(sample_db_copy, "SELECT id FROM reports WHERE file_name LIKE '003%'")[0]["id"]
    page.goto(f"{site}/report/{rid}")
    expected = rows(sample_db_copy, "SELECT table_key, row_key, raw_cells FROM table_rows "
                                    "WHERE report_id = ? AND status = 'misaligned' ORDER BY table_key, ordinal", (rid,))
    assert expected, "sample 003 has misaligned rows"
    shown = page.eval("Array.from(document.querySelectorAll('tr.r-misaligned')).map(r => "
                      "[r.closest('.stat-table').id.slice(6), r.querySelector('th').title, "
                      "r.querySelector('td.raw').textContent])")
    assert sorted(shown) == sorted([r["table_key"], r["row_key"], " | ".join(json.loads(r["raw_cells"]))]
                                   for r in expected)


def _terminal_review(db: Path) -> None:
    """The same decisions through `gkextract review` in a terminal."""
    child = pexpect.spawn(sys.executable, ["-m", "gkextract", "review", "--db", str(db), "--reviewer", "browser-test"],
                          env=dict(os.environ, COLUMNS="120", TERM="dumb", NO_COLOR="1"), encoding="utf-8", timeout=20)
    prompt = "[a]ccept [c]orrect [r]eject [s]kip [q]uit"
    try:
        child.expect_exact(prompt)
        child.sendline("a")
        child.expect_exact(prompt)
        child.sendline("c")
        child.expect_exact("new value (a number, or null) (5):")
        child.sendline("0")
        child.expect_exact("unit (件):")
        child.sendline("")
        child.expect_exact("note (optional)")
        child.sendline("the table says none")
        child.expect_exact("correct recorded")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


def test_review_in_the_browser_writes_the_audit_rows_the_terminal_does(site, sample_db_copy, sample_db, tmp_path,
                                                                       page, shots):
    page.goto(f"{site}/review")
    assert page.eval("document.querySelectorAll('.qitem').length") == 2
    first = page.eval("document.querySelector('.qitem.current').id")
    assert page.eval("document.querySelector('.qitem.current .label').textContent") == "application handled: 17件"
    page.screenshot(shots / "review-queue.png")
    page.key("a")    # accept, by keyboard
    page.wait_for(f"document.getElementById('{first}').classList.contains('done')")
    assert page.eval(f"document.querySelector('#{first} .result').textContent").startswith("accept recorded")
    # the second item is now current: correct it with c, a new value, a note and Enter
    second = page.eval("document.querySelector('.qitem.current').id")
    assert second != first
    page.key("c")
    assert page.eval("document.activeElement.name") == "value"
    page.eval("document.activeElement.select()")
    page.type("0")
    page.eval(f"document.querySelector('#{second} input[name=note]').value = 'the table says none'")
    page.key("Enter")
    page.wait_for(f"document.getElementById('{second}').classList.contains('done')")
    assert page.eval("document.getElementById('left').textContent") == "0"

    columns = "item_table, item_id, report_id, decision, reviewer, before, after, note"
    browser_rows = rows(sample_db_copy, f"SELECT {columns} FROM reviews ORDER BY id")
    assert [(r["item_table"], r["decision"], json.loads(r["before"]), json.loads(r["after"]), r["note"])
            for r in browser_rows] == [
        ("facts", "accept", {"value": 17, "unit": "件"}, {"value": 17, "unit": "件"}, None),
        ("facts", "correct", {"value": 5, "unit": "件"}, {"value": 0, "unit": "件"}, "the table says none")]
    terminal_db = tmp_path / "terminal.db"
    with closing(sqlite3.connect(sample_db)) as a, closing(sqlite3.connect(terminal_db)) as b:
        a.backup(b)
    _terminal_review(terminal_db)
    assert rows(terminal_db, f"SELECT {columns} FROM reviews ORDER BY id") == browser_rows

    page.goto(f"{site}/review")   # nothing left
    assert "Nothing to review" in page.eval("document.querySelector('main').innerText")


def test_heatmap_totals_equal_problems_by_province_and_category(site, sample_db_copy, page, shots):
    res = runner.invoke(app, ["problems", "--by", "province,category", "--db", str(sample_db_copy), "--format", "json"])
    assert res.exit_code == 0, res.output
    expected = {(r["province"], r["category"]): (r["reports"], r["items"]) for r in json.loads(res.stdout)}
    page.goto(f"{site}/heatmap")
    cells = page.eval("Array.from(document.querySelectorAll('#heatmap g.cell')).map(g => "
                      "[g.dataset.province, g.dataset.category, +g.dataset.reports, +g.dataset.items])")
    assert {(p, c): (n, i) for p, c, n, i in cells} == expected
    assert sum(i for *_, i in cells) == 22   # every problem of the samples, none waiting for review
    totals = page.eval("Array.from(document.querySelectorAll('#heatmap text.total[data-category]')).map(t => "
                       "[t.dataset.category, +t.dataset.reports, +t.textContent])")
    for category, reports, shown in totals:
        assert reports == shown == sum(n for (_, c), (n, _) in expected.items() if c == category)
    page.screenshot(shots / "heatmap.png")

    # clicking a cell lists the problems behind it
    page.click("#heatmap g.cell[data-province='贵州省'][data-category='policy_interpretation'] rect")
    page.wait_for("document.getElementById('cell-items') !== null")
    listed = page.eval("Array.from(document.querySelectorAll('#cell-items tbody tr')).map(r => r.cells[3].textContent)")
    assert listed == ["政策解读质量、丰富性和时效性有待提高"]
    assert len(listed) == expected[("贵州省", "policy_interpretation")][1]


def test_view_html_is_one_self_contained_file(sample_db, tmp_path, page):
    out = tmp_path / "guanling.html"
    res = runner.invoke(app, ["view", "004", "--db", str(sample_db), "--html", str(out)])
    assert res.exit_code == 0, res.output
    page.goto(out.as_uri())
    assert page.requests() == [out.as_uri()]   # no stylesheet, script or font fetched from anywhere
    assert page.eval("document.querySelector('nav.top')") is None   # no links into a server
    assert page.eval("getComputedStyle(document.querySelector('mark.hl')).backgroundColor") != "rgba(0, 0, 0, 0)"
    assert marks_of(page, page.eval("document.querySelector('#items .card').dataset.key")) != ""
    page.hover(f"#report-text mark.hl")
    assert page.wait_for("document.querySelectorAll('#inspector .card').length") >= 1
