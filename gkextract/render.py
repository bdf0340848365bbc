"""Output for people (rich tables) and for machines (JSON, JSON Lines, CSV)."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from enum import Enum
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


class Format(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


console = Console()
err_console = Console(stderr=True)


def _cell(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, dict)):
        return escape(json.dumps(v, ensure_ascii=False))
    return escape(str(v))  # report text has brackets ([bookmark: _GoBack]) that rich would eat as markup


def emit(rows: Sequence[dict[str, Any]], fmt: Format, *, columns: Sequence[str] | None = None,
         title: str | None = None) -> None:
    """Print rows: a rich table for people, JSON/JSONL/CSV on stdout for scripts."""
    columns = list(columns or (rows[0].keys() if rows else []))
    if fmt is Format.json:
        sys.stdout.write(json.dumps([{c: r.get(c) for c in columns} for r in rows],
                                    ensure_ascii=False, indent=2) + "\n")
    elif fmt is Format.jsonl:
        for r in rows:
            sys.stdout.write(json.dumps({c: r.get(c) for c in columns}, ensure_ascii=False) + "\n")
    elif fmt is Format.csv:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({c: (json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v)
                        for c, v in r.items() if c in columns})
        sys.stdout.write(buf.getvalue())
    else:
        table = Table(title=title, show_lines=False, header_style="bold")
        for c in columns:
            table.add_column(c, overflow="fold")
        for r in rows:
            table.add_row(*(_cell(r.get(c)) for c in columns))
        console.print(table)


def dump_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")
