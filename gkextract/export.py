"""Export the database as one file per table, with review decisions applied.

Rows stream from SQLite to disk, so a database of thousands of reports is
never held in memory.  Narrative items come from the ``*_reviewed`` views and
carry their report's region, level, year and issuer, ready for pandas.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

import sqlite_utils

from .explore import ITEM_TABLES, decode
from .query import ensure_reports


class ExportFormat(str, Enum):
    csv = "csv"
    jsonl = "jsonl"


def _csv_cell(v: Any) -> Any:
    return json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v


def write_rows(path: Path, rows: Iterable[dict[str, Any]], columns: Sequence[str], fmt: ExportFormat) -> int:
    """Write rows as CSV (UTF-8, header first) or JSON Lines; returns how many."""
    n = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        if fmt is ExportFormat.csv:
            w = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
            w.writeheader()
            for r in rows:
                w.writerow({k: _csv_cell(v) for k, v in r.items()})
                n += 1
        else:
            for r in rows:
                fh.write(json.dumps({c: r.get(c) for c in columns}, ensure_ascii=False) + "\n")
                n += 1
    return n


def _sources(db: sqlite_utils.Database, include_rejected: bool) -> list[tuple[str, str]]:
    report_cols = [c.name for c in db["reports"].columns if c.name != "text"]
    hidden = "" if include_rejected else " WHERE i.review_status != 'rejected'"

    def items(table: str) -> str:
        return ("SELECT r.province, r.city, r.county, r.level, r.year, r.issuer, i.* "
                f"FROM {table}_reviewed i JOIN reports r ON r.id = i.report_id{hidden} ORDER BY i.id")

    return [
        ("reports", f"SELECT {', '.join(report_cols)} FROM reports ORDER BY province, city, county, year, id"),
        ("table_cells", "SELECT * FROM table_cells ORDER BY report_id, rowid"),
        ("checks", "SELECT * FROM checks ORDER BY report_id, rowid"),
        *((t, items(t)) for t in ITEM_TABLES),
        ("reviews", "SELECT * FROM reviews ORDER BY id"),
    ]


def export_db(db: sqlite_utils.Database, out_dir: Path, fmt: ExportFormat,
              include_rejected: bool = False) -> list[dict[str, Any]]:
    """Write reports (without their text), table_cells, checks, facts, problems,
    improvements and the reviews audit trail; returns file and row count per table.
    In JSON Lines, JSON-valued columns (flags, attributes, …) become real arrays."""
    ensure_reports(db)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, sql in _sources(db, include_rejected):
        cur = db.execute(sql)
        columns = [d[0] for d in cur.description]
        path = out_dir / f"{name}.{fmt.value}"
        n = write_rows(path, _rows(cur, columns, fmt is ExportFormat.jsonl), columns, fmt)
        written.append({"table": name, "file": str(path), "rows": n})
    return written


def _rows(cur: Iterable[tuple], columns: list[str], decode_json: bool) -> Iterator[dict[str, Any]]:
    for values in cur:
        row = dict(zip(columns, values))
        yield decode(row) if decode_json else row
