"""Checks no single report can make: the publication deadline and continuity from year to year.

Stored in ``checks`` next to the tables' own checks (``scope`` crossyear or
deadline), with ``compared_with`` naming the other year's report:

* ``crossyear.carried_over.<column>``: this year's 二、上年结转 equals last year's
  四、结转下年度继续办理, per applicant column;
* ``crossyear.continuity.<row>`` (2019 template, both years): this year's 上一年项目数量
  equals last year's 上一年项目数量 + 本年增/减;
* ``crossyear.stock.<row>`` (same template both years): 规章 and 规范性文件 in force
  cannot exceed last year's stock plus what was added (2021: + 制发 − 废止; 2019:
  对外公开总数量 + 本年新公开).  Less is possible (documents expire), more is not;
* ``crossyear.jump.<table>.<row>.<column>``: a key figure that changes more than
  ten-fold (a zero counting as one) is ``suspicious``, not wrong;
* ``publication.deadline``: met, late by N days, or unknown (skipped, with why).

Blank cells are read as zero, as the table checks read them, and the check says so.
"Last year" is the previous calendar year only: a missing year is a skipped check,
never a comparison with an older report.  When an issuer has two copies of one
year's report (a web page and a text dump), each copy is checked, and last year's
figures come from the copy that has them readable.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

import sqlite_utils

from . import boilerplate, followup
from .checks import _clean, _fmt
from .issuers import refresh_issuers
from .store import insert_rows
from .tables import APPLICANT_COLS, PROACTIVE_ROWS, REVIEW_ROWS

_EPS = 1e-6
JUMP_FACTOR = 10
CONTINUITY_ROWS = tuple(r.key for r in PROACTIVE_ROWS["2019"] if any(c.key == "prev_year_items" for c in r.cols))
STOCK = {  # template: (stock column, added columns, removed columns, the rule in words)
    "2019": ("total_published", ("new_published",), (), "对外公开总数量 ≤ {last}年的对外公开总数量 + 本年新公开数量"),
    "2021": ("in_force", ("issued",), ("repealed",), "现行有效件数 ≤ {last}年的现行有效件数 + 本年制发件数 − 本年废止件数"),
}
JUMP_CELLS = (("applications", "new_received", "total"), ("applications", "total_handled", "total"),
              ("applications", "carried_forward", "total")) + tuple(
    ("review_litigation", r.key, "total") for r in REVIEW_ROWS)
USABLE = ("ok", "empty", "not_applicable")

Cells = dict[tuple[str, str, str], tuple[Any, str]]


# --- the publication deadline --------------------------------------------------------------

def deadline_for(level: str | None, year: int | None) -> tuple[date | None, str]:
    """The date a report for ``year`` was due, and the rule; None when no rule sets one."""
    if year is None:
        return None, "the report's statistical year is unknown"
    if year <= 2018:
        return date(year + 1, 3, 31), "2007年条例第三十一条：每年3月31日前公布上一年度报告"
    if level == "department":
        return date(year + 1, 1, 31), "条例第四十九条：县级以上人民政府部门每年1月31日前公布上一年度报告"
    if level in ("county", "city", "province"):
        return date(year + 1, 3, 31), "条例第四十九条：县级以上地方人民政府每年3月31日前公布上一年度报告"
    if level is None:
        return None, "the issuer's level is unknown"
    return None, f"条例第四十九条 sets no date for a {level} body"


def deadline_check(report_id: str, level: str | None, year: int | None, published: str | None) -> dict:
    due, rule = deadline_for(level, year)
    row = dict(report_id=report_id, check_id="publication.deadline", table_key="report", rule=rule,
               expected=int(due.strftime("%Y%m%d")) if due else None, actual=None, blanks_as_zero=0,
               scope="deadline", compared_with=None)
    if due is None or not published:
        return dict(row, status="skipped", reason=f"unknown: {rule if due is None else 'no publication date'}")
    try:
        pub = date.fromisoformat(published)
    except ValueError:
        return dict(row, status="skipped", reason=f"unknown: publication date {published!r} is not a date")
    days = (pub - due).days
    row["actual"] = int(pub.strftime("%Y%m%d"))
    if days > 0:
        return dict(row, status="fail", reason=f"late by {days} day{'s' if days > 1 else ''}: published {pub}, due {due}")
    when = f"{-days} day{'s' if days < -1 else ''} before" if days else "on"
    return dict(row, status="pass", reason=f"met: published {pub}, {when} the deadline {due}")


# --- continuity across years --------------------------------------------------------------

class _Report:
    def __init__(self, row: dict, cells: Cells) -> None:
        self.id: str = row["id"]
        self.year: int | None = row["year"]
        self.template: str | None = row["template"]
        self.file_name: str = row["file_name"]
        self.cells = cells
        self.unreadable = sum(1 for _, st in cells.values() if st not in USABLE)

    def has(self, table: str) -> bool:
        return any(k[0] == table for k in self.cells)

    def value(self, key: tuple[str, str, str]) -> tuple[float | None, bool, str | None]:
        """(value, a blank read as 0, why there is none)."""
        if key not in self.cells:
            return None, False, f"{self.year} has no cell {'.'.join(key[1:])}"
        v, status = self.cells[key]
        if status == "ok":
            return v, False, None
        if status in ("empty", "not_applicable"):
            return 0, True, None
        return None, False, f"{'.'.join(key[1:])} of the {self.year} report is {status}"


def _values(r: _Report, keys: list[tuple[str, str, str]]) -> tuple[list[float], bool, str | None]:
    out, blanks = [], False
    for k in keys:
        v, blank, why = r.value(k)
        if why:
            return [], blanks, why
        out.append(v)
        blanks = blanks or blank
    return out, blanks, None


def _from_previous(prev: list[_Report], keys: list[tuple[str, str, str]]
                   ) -> tuple[_Report | None, list[float], bool, str | None]:
    """Last year's values from the first copy that has them all readable."""
    why = "no such cell last year"
    for p in prev:
        vals, blanks, why = _values(p, keys)
        if not why:
            return p, vals, blanks, None
    return (prev[0] if prev else None), [], False, why


def _row(r: _Report, check_id: str, table: str, rule: str, status: str, expected: float | None = None,
         actual: float | None = None, reason: str | None = None, blanks: bool = False,
         other: _Report | None = None) -> dict:
    return dict(report_id=r.id, check_id=check_id, table_key=table, rule=rule, status=status,
                expected=None if expected is None else _clean(expected),
                actual=None if actual is None else _clean(actual), reason=reason, blanks_as_zero=int(blanks),
                scope="crossyear", compared_with=other.id if other else None)


def _compare(r: _Report, prev: list[_Report], check_id: str, table: str, rule: str,
             mine: list[tuple[str, str, str]], theirs: list[tuple[str, str, str]],
             combine: Callable[[list[float], list[float]], tuple[float, float]],
             judge: Callable[[float, float], tuple[str, str | None]]) -> dict:
    own, blank_own, why = _values(r, mine)
    if why:
        return _row(r, check_id, table, rule, "skipped", reason=why, blanks=blank_own)
    other, vals, blank_prev, why = _from_previous(prev, theirs)
    if why:
        return _row(r, check_id, table, rule, "skipped", reason=why, blanks=blank_own, other=other)
    expected, actual = combine(own, vals)
    status, reason = judge(expected, actual)
    return _row(r, check_id, table, rule, status, expected, actual, reason, blank_own or blank_prev, other)


def _equal(expected: float, actual: float) -> tuple[str, str | None]:
    ok = abs(expected - actual) < _EPS
    return ("pass", None) if ok else ("fail", f"differs by {_fmt(actual - expected)}")


def _at_most(bound: float, actual: float) -> tuple[str, str | None]:
    if actual > bound + _EPS:
        return "fail", f"exceeds last year's stock plus this year's changes by {_fmt(actual - bound)}"
    if actual < bound - _EPS:
        return "pass", f"{_fmt(bound - actual)[1:]} fewer than the bound: documents expired without repeal?"
    return "pass", None


def _jump(previous: float, actual: float) -> tuple[str, str | None]:
    lo, hi = sorted((abs(previous), abs(actual)))
    factor = hi / max(lo, 1)
    if factor > JUMP_FACTOR:
        return "suspicious", f"×{factor:.1f} year over year ({previous:g} → {actual:g})"
    return "pass", None


def _proactive_label(template: str, row: str) -> str:
    return next((x.label for x in PROACTIVE_ROWS[template] if x.key == row), row)


def own_cells(check_id: str, template: str | None) -> list[tuple[str, str]]:
    """The (row, column) cells of the checked report a cross-year check reads, from its id, so
    the report page can mark them; [] for an id it does not know (a skipped family check)."""
    parts = check_id.split(".")
    if parts[:2] == ["crossyear", "carried_over"] and len(parts) == 3:
        return [("carried_over", parts[2])]
    if parts[:2] == ["crossyear", "continuity"] and len(parts) == 3:
        return [(parts[2], "prev_year_items")]
    if parts[:2] == ["crossyear", "stock"] and len(parts) == 3 and template in STOCK:
        stock, added, removed, _ = STOCK[template]
        return [(parts[2], c) for c in (stock, *added, *removed)]
    if parts[:2] == ["crossyear", "jump"] and len(parts) == 5:
        return [(parts[3], parts[4])]
    return []


def report_crossyear_checks(r: _Report, prev: list[_Report]) -> list[dict]:
    """Every cross-year check of one report against last year's copies (best first)."""
    if r.template not in ("2019", "2021"):
        return []
    last = r.year - 1 if r.year else None
    with_tables = [p for p in prev if p.template in ("2019", "2021")]
    if not prev or not with_tables:
        why = (f"no {last} report of this issuer" if not prev
               else f"the {last} report has no statistical tables ({prev[0].template} format)")
        families = ["carried_over", "jump"] + (["continuity"] if r.template == "2019" else []) + ["stock"]
        return [_row(r, f"crossyear.{f}", "applications" if f == "carried_over" else "proactive",
                     f"compared with the {last} report", "skipped", reason=why) for f in families]
    out: list[dict] = []
    if r.has("applications"):
        for col in APPLICANT_COLS:
            out.append(_compare(
                r, with_tables, f"crossyear.carried_over.{col.key}", "applications",
                f"{col.label}: 二、上年结转 = {last}年报告的 四、结转下年度继续办理",
                [("applications", "carried_over", col.key)], [("applications", "carried_forward", col.key)],
                lambda own, theirs: (theirs[0], own[0]), _equal))
    same = [p for p in with_tables if p.template == r.template]
    if r.template == "2019":
        for row in CONTINUITY_ROWS:
            out.append(_compare(
                r, same, f"crossyear.continuity.{row}", "proactive",
                f"{_proactive_label('2019', row)}: 上一年项目数量 = {last}年的 上一年项目数量 + 本年增/减",
                [("proactive", row, "prev_year_items")],
                [("proactive", row, "prev_year_items"), ("proactive", row, "change")],
                lambda own, theirs: (theirs[0] + theirs[1], own[0]), _equal)
                if same else _row(r, f"crossyear.continuity.{row}", "proactive", "上一年项目数量 continuity",
                                  "skipped", reason=f"the {last} report uses the {with_tables[0].template} template"))
    stock, added, removed, words = STOCK[r.template]
    for row in ("rules", "normative_documents"):
        rule = f"{_proactive_label(r.template, row)}: {words.format(last=last)}"
        if not same:
            out.append(_row(r, f"crossyear.stock.{row}", "proactive", rule, "skipped",
                            reason=f"the {last} report uses the {with_tables[0].template} template"))
            continue
        mine = [("proactive", row, stock)] + [("proactive", row, c) for c in added + removed]
        out.append(_compare(
            r, same, f"crossyear.stock.{row}", "proactive", rule, mine, [("proactive", row, stock)],
            lambda own, theirs: (theirs[0] + sum(own[1:1 + len(added)]) - sum(own[1 + len(added):]), own[0]),
            _at_most))
    keys = [k for k in JUMP_CELLS if k in r.cells] + [  # 本年增/减 is a change already: no ratio of it
        k for k in r.cells if k[0] == "proactive" and k[2] != "change" and any(k in p.cells for p in with_tables)]
    for key in keys:  # only figures readable in both years: an unreadable cell is already marked
        row = _compare(r, [p for p in with_tables if key in p.cells], "crossyear.jump." + ".".join(key), key[0],
                       f"{'.'.join(key[1:])}: within ten-fold of {last} (a zero counts as one)", [key], [key],
                       lambda own, theirs: (theirs[0], own[0]), _jump)
        if row["status"] != "skipped":
            out.append(row)
    return out


def _load(db: sqlite_utils.Database) -> tuple[list[dict], dict[str, _Report]]:
    cells: dict[str, Cells] = defaultdict(dict)
    for rid, t, row, col, v, st in db.execute(
            "SELECT report_id, table_key, row_key, col_key, value, status FROM table_cells"):
        cells[rid][(t, row, col)] = (v, st)
    rows = list(db.query("SELECT r.id, r.year, r.level, r.template, r.file_name, r.publication_date, r.status, "
                         "ri.issuer_id FROM reports r JOIN report_issuers ri ON ri.report_id = r.id"))
    return rows, {r["id"]: _Report(r, cells[r["id"]]) for r in rows}


def crossyear_checks(db: sqlite_utils.Database) -> list[dict]:
    rows, reports = _load(db)
    by_year: dict[tuple[str, int], list[_Report]] = defaultdict(list)
    for r in rows:
        if r["year"]:
            by_year[(r["issuer_id"], r["year"])].append(reports[r["id"]])
    for copies in by_year.values():
        copies.sort(key=lambda x: (x.unreadable, x.id))
    out = []
    for r in rows:
        out.append(deadline_check(r["id"], r["level"], r["year"], r["publication_date"]))
        if r["year"]:
            out += report_crossyear_checks(reports[r["id"]], by_year.get((r["issuer_id"], r["year"] - 1), []))
    return out


# --- keeping the derived tables current ------------------------------------------------

def fingerprint(db: sqlite_utils.Database) -> str:
    return db.execute("SELECT fingerprint FROM crossyear_inputs").fetchone()[0]


def is_current(db: sqlite_utils.Database) -> bool:
    row = db.execute("SELECT value FROM settings WHERE key = 'crossyear_inputs'").fetchone()
    return bool(row) and row[0] == fingerprint(db)


def refresh(db: sqlite_utils.Database) -> dict[str, int]:
    """Recompute everything derived across reports, in one transaction; returns row counts."""
    with db.atomic():
        refresh_issuers(db)
        db.execute("DELETE FROM checks WHERE scope != 'report'")
        insert_rows(db, "checks", crossyear_checks(db))
        boilerplate.refresh(db)
        followup.refresh(db)
        db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('crossyear_inputs', ?)", [fingerprint(db)])
    counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("issuers", "section_similarity", "problem_similarity", "concreteness", "followups")}
    counts["checks"] = db.execute("SELECT count(*) FROM checks WHERE scope != 'report'").fetchone()[0]
    return counts


def ensure_current(db: sqlite_utils.Database) -> dict[str, int] | None:
    """Refresh when reports, extractions, reviews or merges changed since the last refresh (its counts)."""
    return None if is_current(db) else refresh(db)
