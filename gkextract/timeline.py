"""Read side of the cross-year work: an issuer's timeline, two years side by side, the evaluation.

Every function here reads what crossyear.refresh stored; the commands call
``crossyear.ensure_current`` first, so what they show matches the database.
When an issuer has two copies of a year's report (a web page and a text dump), a
figure comes from the first copy that has it readable and the narrative from the
copy that was extracted; ``reports`` names them all.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

import sqlite_utils

from .boilerplate import NEAR_VERBATIM, simplify, similarity
from .issuers import resolve_issuer

KEY_FIGURES = (  # (name, table, row, column per template)
    ("applications", "applications", "new_received", {"2019": "total", "2021": "total"}),
    ("handled", "applications", "total_handled", {"2019": "total", "2021": "total"}),
    ("carried_forward", "applications", "carried_forward", {"2019": "total", "2021": "total"}),
    ("reviews", "review_litigation", "administrative_review", {"2019": "total", "2021": "total"}),
    ("lawsuits_direct", "review_litigation", "litigation_direct", {"2019": "total", "2021": "total"}),
    ("lawsuits_after_review", "review_litigation", "litigation_after_review", {"2019": "total", "2021": "total"}),
    ("normative_documents", "proactive", "normative_documents", {"2019": "total_published", "2021": "in_force"}),
    ("licensing_decisions", "proactive", "administrative_licensing", {"2019": "decisions", "2021": "decisions"}),
)
EVALUATION_COLUMNS = (
    "report_id", "file_name", "issuer", "year", "level", "published", "deadline", "on_time", "days_late",
    "arithmetic_consistent", "arithmetic_failed", "crossyear_consistent", "crossyear_failed", "suspicious_jumps",
    "problems", "boilerplate_share", "section_vs_previous", "section_vs_peers", "concreteness",
    "promise_concreteness", "promises_due", "addressed", "repeated", "followup_rate", "current",
)


class EvaluationError(ValueError):
    pass


def _copies(db: sqlite_utils.Database, issuer_id: str) -> dict[int, list[dict]]:
    """The issuer's reports per year, the one with the fewest unreadable cells first."""
    by_year: dict[int, list[dict]] = defaultdict(list)
    for r in db.query(
            "SELECT r.id, r.file_name, r.year, r.template, r.publication_date, "
            "(SELECT count(*) FROM table_cells c WHERE c.report_id = r.id "
            " AND c.status NOT IN ('ok', 'empty', 'not_applicable')) AS unreadable, "
            "(SELECT count(*) FROM current_extractions e WHERE e.report_id = r.id) AS extracted "
            "FROM reports r JOIN report_issuers ri ON ri.report_id = r.id "
            "WHERE ri.issuer_id = ? AND r.year IS NOT NULL ORDER BY r.year, unreadable, r.id", [issuer_id]):
        by_year[r["year"]].append(r)
    return dict(by_year)


def _figures(db: sqlite_utils.Database, copies: list[dict]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, table, row, cols in KEY_FIGURES:
        out[name] = None
        for c in copies:
            col = cols.get(c["template"] or "")
            cell = db.execute("SELECT value, status FROM table_cells WHERE report_id = ? AND table_key = ? "
                              "AND row_key = ? AND col_key = ?", [c["id"], table, row, col]).fetchone()
            if cell and cell[1] in ("ok", "empty", "not_applicable"):
                out[name] = cell[0] if cell[1] == "ok" else 0
                break
    return out


def _check_counts(db: sqlite_utils.Database, report_id: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {"report": {}, "crossyear": {}}
    for scope, status, n in db.execute("SELECT scope, status, count(*) FROM checks WHERE report_id = ? "
                                       "AND scope IN ('report', 'crossyear') GROUP BY scope, status", [report_id]):
        out[scope][status] = n
    return out


def _narrative(copies: list[dict]) -> str | None:
    return next((c["id"] for c in sorted(copies, key=lambda c: -c["extracted"]) if c["extracted"]), None)


def problems_of(db: sqlite_utils.Database, report_id: str | None) -> list[dict]:
    if report_id is None:
        return []
    return list(db.query(
        "SELECT p.id, p.category, p.summary, p.evidence, k.score AS concreteness, k.reasons, "
        "(SELECT json_group_array(json_object('relation', s.relation, 'score', round(s.score, 3), "
        "  'other', o.evidence, 'other_report', r2.file_name)) "
        " FROM problem_similarity s JOIN problems o ON o.id = s.other_problem_id "
        " JOIN reports r2 ON r2.id = s.other_report_id WHERE s.problem_id = p.id AND s.near_verbatim) AS near_verbatim "
        "FROM problems_reviewed p LEFT JOIN concreteness k ON k.item_table = 'problems' AND k.item_id = p.id "
        "WHERE p.report_id = ? AND p.review_status != 'rejected' ORDER BY p.id", [report_id]))


def followups_into(db: sqlite_utils.Database, report_id: str | None) -> list[dict]:
    if report_id is None:
        return []
    return list(db.query("SELECT f.improvement_id, i.category, f.status, f.evidence, f.next_evidence, f.how "
                         "FROM followups f JOIN improvements i ON i.id = f.improvement_id "
                         "WHERE f.next_report_id = ? ORDER BY f.improvement_id", [report_id]))


def _deadline(db: sqlite_utils.Database, report_id: str) -> dict:
    row = db.execute("SELECT status, reason FROM checks WHERE report_id = ? AND scope = 'deadline'",
                     [report_id]).fetchone()
    if not row:
        return dict(on_time="unknown", detail="not checked")
    return dict(on_time={"pass": "met", "fail": "late"}.get(row[0], "unknown"), detail=row[1])


def timeline(db: sqlite_utils.Database, issuer: str) -> dict[str, Any]:
    """Per year: reports, publication, key figures, checks, problems and what became of last year's promises."""
    iss = resolve_issuer(db, issuer)
    by_year = _copies(db, iss["id"])
    years = []
    for year, copies in sorted(by_year.items()):
        best, narrative = copies[0], _narrative(copies)
        problems = problems_of(db, narrative)
        follow = followups_into(db, narrative)
        promised = db.execute("SELECT count(*) FROM improvements_reviewed WHERE report_id = ? AND "
                              "review_status != 'rejected'", [narrative]).fetchone()[0] if narrative else None
        scored = [p["concreteness"] for p in problems if p["concreteness"] is not None]
        years.append(dict(
            year=year, reports=[c["file_name"] for c in copies], published=best["publication_date"],
            **_deadline(db, best["id"]), template=best["template"], figures=_figures(db, copies),
            checks=_check_counts(db, best["id"]), narrative_report=narrative,
            problems=[dict(p, near_verbatim=json.loads(p["near_verbatim"] or "[]"),
                           reasons=json.loads(p["reasons"] or "[]")) for p in problems],
            near_verbatim=sum(1 for p in problems if json.loads(p["near_verbatim"] or "[]")),
            concreteness=round(sum(scored) / len(scored), 3) if scored else None,
            promises_made=promised,
            followup_of_last_year=dict(Counter(f["status"] for f in follow)) if follow else None,
            followups=follow,
            previous_year_missing=year - 1 not in by_year))
    return dict(issuer=dict(iss, aliases=list(db.query(
        "SELECT alias, how, evidence FROM issuer_aliases WHERE issuer_id = ? ORDER BY alias", [iss["id"]]))),
        years=years)


def compare(db: sqlite_utils.Database, issuer: str, years: tuple[int, int]) -> dict[str, Any]:
    """Two years of one issuer side by side: figures with their change, checks, problems matched, promises."""
    iss = resolve_issuer(db, issuer)
    by_year = _copies(db, iss["id"])
    missing = [y for y in years if y not in by_year]
    if missing:
        have = ", ".join(map(str, sorted(by_year))) or "none"
        raise EvaluationError(f"{iss['name']} has no report for {', '.join(map(str, missing))} (years: {have})")
    a, b = (by_year[y] for y in years)
    fa, fb = _figures(db, a), _figures(db, b)
    figures = [dict(figure=k, **{str(years[0]): fa[k], str(years[1]): fb[k]},
                    change=None if fa[k] is None or fb[k] is None else fb[k] - fa[k]) for k in fa]
    checks = {str(y): list(db.query(
        "SELECT check_id, scope, status, expected, actual, reason FROM checks WHERE report_id = ? "
        "AND status IN ('fail', 'suspicious') ORDER BY scope, check_id", [c[0]["id"]])) for y, c in zip(years, (a, b))}
    na, nb = _narrative(a), _narrative(b)
    pa, pb = problems_of(db, na), problems_of(db, nb)
    matched = []
    for p in pb:
        best = max(((similarity(simplify(p["evidence"]), simplify(q["evidence"])), q) for q in pa),
                   key=lambda x: x[0], default=(None, None))
        matched.append({str(years[1]): p["evidence"], "category": p["category"],
                        str(years[0]): best[1]["evidence"] if best[1] else None,
                        "similarity": round(best[0], 3) if best[0] is not None else None,
                        "near_verbatim": bool(best[0] is not None and best[0] >= NEAR_VERBATIM)})
    consecutive = years[1] == years[0] + 1
    return dict(issuer=iss, years=list(years),
                reports={str(y): [c["file_name"] for c in by_year[y]] for y in years},
                deadline={str(y): _deadline(db, by_year[y][0]["id"]) for y in years},
                figures=figures, checks=checks, problems=matched,
                earlier_problems=[q["evidence"] for q in pa],
                promises=followups_into(db, nb) if consecutive else None,
                promises_note=None if consecutive else
                f"{years[1]} does not follow {years[0]}: promises are followed up into the next year only")


def evaluation(db: sqlite_utils.Database, issuer: str | None = None, year: int | None = None,
               sort: str | None = None, descending: bool = False) -> list[dict]:
    """Rows of the evaluation view, filtered and sorted (NULLs last whatever the direction)."""
    if sort and sort not in EVALUATION_COLUMNS:
        raise EvaluationError(f"cannot sort by {sort!r}; columns: {', '.join(EVALUATION_COLUMNS)}")
    where, args = [], []
    if issuer:
        where.append("issuer_id = ?")
        args.append(resolve_issuer(db, issuer)["id"])
    if year is not None:
        where.append("year = ?")
        args.append(year)
    order = (f"{sort} IS NULL, {sort} {'DESC' if descending else 'ASC'}, " if sort else "") + \
        "province, city, county, issuer, year, file_name"
    return list(db.query(f"SELECT * FROM evaluation {'WHERE ' + ' AND '.join(where) if where else ''} "
                         f"ORDER BY {order}", args))
