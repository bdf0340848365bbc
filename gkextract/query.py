"""Read-side library functions behind the query commands."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils


class NotFoundError(LookupError):
    pass


class EmptyDatabaseError(LookupError):
    pass


def ensure_reports(db: sqlite_utils.Database) -> None:
    if not db.execute("SELECT 1 FROM reports LIMIT 1").fetchone():
        raise EmptyDatabaseError(
            "the database has no reports yet: run `gkextract ingest PATH... --db FILE` "
            "(or `gkextract run PATH... --db FILE`) first"
        )


def resolve_report_id(db: sqlite_utils.Database, id_or_prefix: str) -> str:
    """A full id, or a unique prefix of an id or of a file name."""
    ensure_reports(db)
    # substr, not LIKE: '%' and '_' in what the user typed are characters, not wildcards
    rows = db.execute("SELECT id FROM reports WHERE substr(id, 1, length(:p)) = :p "
                      "OR substr(file_name, 1, length(:p)) = :p", {"p": id_or_prefix}).fetchall()
    if not rows:
        raise NotFoundError(f"no report matches {id_or_prefix!r}; `gkextract reports` lists them")
    if len(rows) > 1:
        ids = ", ".join(r[0] for r in rows[:5])
        raise NotFoundError(f"{id_or_prefix!r} matches {len(rows)} reports ({ids}…); give more of the id")
    return rows[0][0]


def list_reports(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    ensure_reports(db)
    rows = db.query(
        """
        SELECT r.id, r.file_name, r.issuer, r.year, r.level, r.province, r.city, r.county, r.template,
               r.status,
               (SELECT count(*) FROM checks c WHERE c.report_id = r.id AND c.status = 'fail') AS failed_checks
        FROM reports r ORDER BY r.province, r.city, r.county, r.year, r.issuer
        """
    )
    return list(rows)


def report_detail(db: sqlite_utils.Database, report_id: str) -> dict[str, Any]:
    """Everything the `show` command prints, as one JSON-able dict."""
    rep = next(db.query("SELECT * FROM reports WHERE id = ?", [report_id]))
    rep.pop("text")
    rep["problems"] = json.loads(rep["problems"])
    sections = list(db.query(
        "SELECT kind, status, heading, span_start, span_end, "
        "length(text) AS n_chars FROM sections WHERE report_id = ? ORDER BY ordinal", [report_id]))
    items = list(db.query("SELECT kind, marker, title, span_start, span_end FROM section_items "
                          "WHERE report_id = ? ORDER BY kind, idx", [report_id]))
    tables = []
    for t in db.query("SELECT * FROM stat_tables WHERE report_id = ? ORDER BY "
                      "CASE table_key WHEN 'proactive' THEN 1 WHEN 'applications' THEN 2 ELSE 3 END",
                      [report_id]):
        t.pop("report_id")
        t["notes"] = json.loads(t["notes"])
        rows = list(db.query("SELECT row_key, label, status, raw_cells, note FROM table_rows "
                             "WHERE report_id = ? AND table_key = ? ORDER BY ordinal",
                             [report_id, t["table_key"]]))
        cells = list(db.query("SELECT row_key, col_key, col_label, raw, value, unit, status FROM table_cells "
                              "WHERE report_id = ? AND table_key = ? ORDER BY rowid", [report_id, t["table_key"]]))
        by_row: dict[str, list[dict[str, Any]]] = {}
        for c in cells:
            by_row.setdefault(c.pop("row_key"), []).append(c)
        for r in rows:
            r["raw_cells"] = json.loads(r["raw_cells"])
            r["cells"] = by_row.get(r["row_key"], [])
        t["rows"] = rows
        tables.append(t)
    checks = list(db.query("SELECT check_id, table_key, rule, status, expected, actual, reason FROM checks "
                           "WHERE report_id = ? ORDER BY rowid", [report_id]))
    return dict(report=rep, sections=sections, items=items, tables=tables, checks=checks)
