"""The tables' own consistency rules, each stored as pass, fail or skipped.

Table 2 states its rule in its header (第一项加第二项之和，等于第三项加第四项之和);
the others follow from the layout.  Most reports write zero as a blank cell, so
a rule is evaluated with blank cells read as 0 — the cells stay NULL in
storage, and the check says ``blanks_as_zero`` so an evaluator can tell.  A rule
is skipped, with the reason, only when a cell it needs is misaligned, missing
or unreadable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .tables import APPLICANT_COLS, APPLICANT_PARTS, RESULT_ROWS, REVIEW_ROWS, StatTable

CheckStatus = Literal["pass", "fail", "skipped"]
_EPS = 1e-6


@dataclass(frozen=True)
class Check:
    check_id: str       # stable: "applications.balance.total"
    table: str
    rule: str           # human wording of the rule
    status: CheckStatus
    expected: float | None
    actual: float | None
    reason: str | None
    blanks_as_zero: bool = False   # a blank (or not-applicable) cell was read as 0


def _sum(table: StatTable, cells: list[tuple[str, str]]) -> tuple[float | None, str | None, bool]:
    """(sum, why it cannot be summed, whether a blank was read as 0)."""
    total = 0.0
    blanks = False
    for row, col in cells:
        c = table.cell(row, col)
        if c.value is None:
            if c.status in ("empty", "not_applicable"):
                blanks = True
                continue
            return None, f"{row}.{col} is {c.status}", blanks
        total += c.value
    return total, None, blanks


def _compare(check_id: str, table: StatTable, rule: str, lhs: list[tuple[str, str]],
             rhs: list[tuple[str, str]]) -> Check:
    """expected = sum(lhs), actual = sum(rhs)."""
    expected, why_l, blank_l = _sum(table, lhs)
    actual, why_r, blank_r = _sum(table, rhs)
    blanks = blank_l or blank_r
    if why_l or why_r:
        return Check(check_id, table.key, rule, "skipped", expected, actual, why_l or why_r, blanks)
    assert expected is not None and actual is not None
    ok = abs(expected - actual) < _EPS
    reason = None if ok else f"differs by {_fmt(actual - expected)}"
    return Check(check_id, table.key, rule, "pass" if ok else "fail", _clean(expected), _clean(actual),
                 reason, blanks)


def _clean(x: float) -> float | int:
    return int(x) if float(x).is_integer() else x


def _fmt(x: float) -> str:
    return f"{_clean(x):+}"


Cell = tuple[str, str]   # (row key, column key)
_REVIEW_PARTS = ("upheld", "corrected", "other", "pending")


def terms(check_id: str, template: str | None = None) -> tuple[list[Cell], list[Cell]]:
    """The cells each side of a rule sums, read from its id; the rules below and the
    report page (which marks the cells of a failed check) share it."""
    table, rule, key = check_id.split(".")
    if (table, rule) == ("applications", "balance"):
        return [("new_received", key), ("carried_over", key)], [("total_handled", key), ("carried_forward", key)]
    if (table, rule) == ("applications", "results_sum"):
        return [(r, key) for r in RESULT_ROWS[template or "2019"]], [("total_handled", key)]
    if (table, rule) == ("applications", "row_total"):
        return [(key, c) for c in APPLICANT_PARTS], [(key, "total")]
    if (table, rule) == ("review_litigation", "row_total"):
        return [(key, c) for c in _REVIEW_PARTS], [(key, "total")]
    raise ValueError(f"unknown check {check_id!r}")


def check_applications(t: StatTable) -> list[Check]:
    if t.status == "missing":
        return []
    out: list[Check] = []
    for col in APPLICANT_COLS:
        cid = f"applications.balance.{col.key}"
        out.append(_compare(cid, t, f"{col.label}: 本年新收 + 上年结转 = 办理结果总计 + 结转下年度",
                            *terms(cid, t.template)))
    for col in APPLICANT_COLS:
        cid = f"applications.results_sum.{col.key}"
        out.append(_compare(cid, t, f"{col.label}: （七）总计 = （一）至（六）之和", *terms(cid, t.template)))
    for row in t.rows:
        cid = f"applications.row_total.{row.key}"
        out.append(_compare(cid, t, f"{row.label or row.key}: 总计 = 各类申请人之和", *terms(cid)))
    return out


def check_review_litigation(t: StatTable) -> list[Check]:
    if t.status == "missing":
        return []
    return [_compare(f"review_litigation.row_total.{rd.key}", t, f"{rd.label}: 总计 = 维持 + 纠正 + 其他 + 尚未审结",
                     *terms(f"review_litigation.row_total.{rd.key}"))
            for rd in REVIEW_ROWS]


def run_checks(tables: dict[str, StatTable]) -> list[Check]:
    out: list[Check] = []
    if "applications" in tables:
        out += check_applications(tables["applications"])
    if "review_litigation" in tables:
        out += check_review_litigation(tables["review_litigation"])
    return out
