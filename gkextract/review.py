"""Reviewing flagged extractions: the queue, decisions, and a CSV round trip.

A decision is a new row in ``reviews`` (who, when, the values before and
after); facts, problems and improvements themselves are never updated, and the
``*_reviewed`` views apply the latest decision.  The same ``decide`` serves
the interactive session and CSV import, so both validate alike.
"""

from __future__ import annotations

import csv
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils
from rich.console import Console
from rich.markup import escape
from rich.prompt import Prompt

from .domain import DECISIONS, EDITABLE, Lang, category_label
from .queries import (FilterError, Filters, canonical_category, decode, ensure_extractions, explain_flags, item_label,
                      item_where, items_from, status_sql, where_sql, with_threshold)
from .render import DEFAULT_ENCODING, ExportFormat, write_rows
from .store import as_json

_DECISION_WORDS = {"a": "accept", "accepted": "accept", "c": "correct", "corrected": "correct",
                   "r": "reject", "rejected": "reject"} | {d: d for d in DECISIONS}
QUEUE_CSV_COLUMNS = (
    "table", "id", "report_id", "issuer", "year", "score", "review_status", "flags", "why",
    "kind", "metric", "label", "value", "unit", "category", "summary", "evidence", "table_ref", "table_value",
    "decision", "new_value", "new_unit", "new_category", "new_summary", "note",
)
CONTEXT_CHARS = 200
# Soft flags that put an item in the review queue without making it count as flagged.
LISTED_FLAGS = ("category_disagrees",)


class ReviewError(ValueError):
    """A decision that cannot be recorded as given."""


def reviewer_name(explicit: str | None) -> str:
    return explicit or os.environ.get("USER") or "unknown"


def queue(db: sqlite_utils.Database, f: Filters, everything: bool = False) -> list[dict[str, Any]]:
    """Flagged items nobody has decided on yet, lowest score first (``everything``:
    all items whatever their status, for a full CSV pass)."""
    ensure_extractions(db)
    f = with_threshold(db, f)
    items = []
    for table in EDITABLE:
        if not f.applies_to(table):
            continue
        clauses, params = item_where(replace(f, include_rejected=True) if everything else f, table)
        if not everything:
            # below the threshold, or above it with a soft flag that wants a second look
            clauses.append(f"({status_sql(f)} = 'pending' OR (i.decision IS NULL AND EXISTS (SELECT 1 FROM "
                           f"json_each(i.flags) WHERE value IN ({', '.join(repr(x) for x in LISTED_FLAGS)}))))")
        extra = ("i.kind, i.metric, i.label, i.value, i.unit, i.approximate, i.table_ref, i.table_value"
                 if table == "facts" else "i.category, i.summary")
        for row in db.query(
                f"SELECT '{table}' AS item_table, i.id, i.report_id, r.issuer, r.year, r.province, r.city, "
                f"r.county, i.score, i.flags, i.match, i.evidence, i.span_start, i.span_end, "
                f"{status_sql(f)} AS review_status, "
                f"{extra} {items_from(table)}{where_sql(clauses)}", params):
            items.append(decode(row))
    items.sort(key=lambda r: (r["score"], list(EDITABLE).index(r["item_table"]), r["id"]))
    return items


def _parse_value(text: str) -> int | float | None:
    s = unicodedata.normalize("NFKC", text).strip().replace(",", "")
    if s.lower() in ("", "null", "none"):
        return None
    try:
        number = float(s)
    except ValueError:
        raise ReviewError(f"{text!r} is not a number (write null for no value)") from None
    return int(number) if number.is_integer() else number


def clean_changes(table: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Validated new values: a number for a fact, a taxonomy category, a non-empty summary."""
    unknown = set(changes) - set(EDITABLE[table])
    if unknown:
        raise ReviewError(f"{', '.join(sorted(unknown))} cannot be changed on {table} "
                          f"(only {', '.join(EDITABLE[table])})")
    out: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "value":
            out[key] = _parse_value(value) if isinstance(value, str) else value
        elif key == "unit":
            out[key] = (value or "").strip() or None
        elif key == "category":
            try:
                out[key] = canonical_category(value)
            except FilterError as e:
                raise ReviewError(str(e)) from None
        else:
            out[key] = (value or "").strip()
            if not out[key]:
                raise ReviewError("the summary cannot be empty")
    return out


def current_values(db: sqlite_utils.Database, table: str, item_id: int) -> tuple[str, dict[str, Any]]:
    """The item's report and its editable values as the latest decision left them."""
    if table not in EDITABLE:
        raise ReviewError(f"unknown table {table!r}; one of {', '.join(EDITABLE)}")
    cols = EDITABLE[table]
    row = db.execute(f"SELECT report_id, {', '.join(cols)} FROM {table}_reviewed WHERE id = ?",
                     [item_id]).fetchone()
    if row is None:
        raise ReviewError(f"there is no {table} item with id {item_id}")
    return row[0], dict(zip(cols, row[1:]))


def decide(db: sqlite_utils.Database, table: str, item_id: int, decision: str, reviewer: str,
           changes: dict[str, Any] | None = None, note: str | None = None) -> int:
    """Record one decision; returns the review id."""
    if decision not in DECISIONS:
        raise ReviewError(f"unknown decision {decision!r}; one of {', '.join(DECISIONS)}")
    report_id, before = current_values(db, table, item_id)
    cleaned = clean_changes(table, changes or {})
    if decision != "correct" and cleaned:
        raise ReviewError(f"new values were given but the decision is {decision}; use correct")
    after: dict[str, Any] | None = None if decision == "reject" else {**before, **cleaned}
    if decision == "correct" and after == before:
        raise ReviewError("nothing to correct: the new values equal the current ones")
    written = db["reviews"].insert(dict(
        item_table=table, item_id=item_id, report_id=report_id, decision=decision, reviewer=reviewer,
        decided_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), before=as_json(before),
        after=None if after is None else as_json(after), note=(note or "").strip() or None))
    return int(written.last_pk)


# --- CSV round trip -------------------------------------------------------------------------

def export_queue(db: sqlite_utils.Database, path: Path, f: Filters, everything: bool = False,
                 encoding: str = DEFAULT_ENCODING, lang: Lang = Lang.zh) -> int:
    """The queue as a spreadsheet with empty decision columns to fill in (``why`` in ``lang``)."""
    rows = ({**item, "table": item["item_table"], "flags": ", ".join(item["flags"]),
             "why": " ".join(explain_flags(item["flags"], lang))} for item in queue(db, f, everything))
    try:
        with path.open("wb") as fh:
            return write_rows(fh, rows, QUEUE_CSV_COLUMNS, ExportFormat.csv, encoding)
    except BaseException:
        path.unlink(missing_ok=True)   # never half a spreadsheet
        raise


@dataclass
class ImportResult:
    applied: int = 0
    unchanged: int = 0        # already recorded by an earlier import of the same file
    blank: int = 0            # no decision filled in
    errors: list[str] = field(default_factory=list)


def _read_csv(path: Path) -> list[dict[str, str]]:
    """UTF-8 (with or without BOM), or GB18030 as Excel on a Chinese system saves it."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("gb18030")
    return list(csv.DictReader(text.splitlines()))


def _import_row(db: sqlite_utils.Database, row: dict[str, str], reviewer: str, result: ImportResult) -> None:
    decision = _DECISION_WORDS.get((row.get("decision") or "").strip().lower())
    if not (row.get("decision") or "").strip():
        result.blank += 1
        return
    if decision is None:
        raise ReviewError(f"unknown decision {row['decision']!r}; one of {', '.join(DECISIONS)}")
    table = (row.get("table") or "").strip()
    try:
        item_id = int((row.get("id") or "").strip())
    except ValueError:
        raise ReviewError(f"id {row.get('id')!r} is not a number") from None
    changes = {k[4:]: v for k, v in row.items() if k and k.startswith("new_") and (v or "").strip()}
    if decision == "correct" and not changes:
        raise ReviewError("correct needs a new value in " +
                          " or ".join(f"new_{c}" for c in EDITABLE.get(table, ("value",))))
    _, current = current_values(db, table, item_id)
    latest = db.execute("SELECT decision FROM latest_reviews WHERE item_table = ? AND item_id = ?",
                        [table, item_id]).fetchone()
    if latest and latest[0] == decision and all(
            current[k] == v for k, v in clean_changes(table, changes).items()):
        result.unchanged += 1
        return
    decide(db, table, item_id, decision, reviewer, changes, row.get("note"))
    result.applied += 1


def import_csv(db: sqlite_utils.Database, path: Path, reviewer: str) -> ImportResult:
    """Apply the filled-in rows; a bad row is reported and skipped, the others land."""
    ensure_extractions(db)
    result = ImportResult()
    for line, row in enumerate(_read_csv(path), start=2):
        try:
            _import_row(db, row, reviewer, result)
        except ReviewError as e:
            result.errors.append(f"row {line} ({row.get('table')} {row.get('id')}): {e}")
    return result


# --- interactive ---------------------------------------------------------------------------

def evidence_context(text: str, start: int, end: int, width: int = CONTEXT_CHARS) -> tuple[str, str, str]:
    """The quote and about ``width`` characters around it, whitespace flattened."""
    pad = max(0, (width - (end - start)) // 2)

    def flat(s: str) -> str:
        return re.sub(r"\s+", " ", s)

    return flat(text[max(0, start - pad):start]), flat(text[start:end]), flat(text[end:end + pad])


def render_item(item: dict[str, Any], text: str, pos: int, total: int, plain: bool = False,
                lang: Lang = Lang.zh) -> str:
    """One queue item as rich markup: what was extracted, why it is flagged, where it stands.
    ``plain`` (a terminal without colour) marks the quote with »…« instead of reverse video;
    ``lang``: the category's name and the flags' explanations in Chinese or English."""
    table = item["item_table"]
    region = " ".join(x for x in (item["province"], item["city"], item["county"]) if x)
    lines = [f"[bold]({pos}/{total}) {table} #{item['id']}[/]  score {item['score']:.2f}  "
             f"{escape(item['issuer'] or '')} {item['year'] or ''} {escape(region)}  [dim]{item['report_id']}[/]"]
    if table == "facts":
        lines.append(f"fact: [bold]{escape(item_label(table, item))}[/]")
    else:
        lines.append(f"category: [bold]{item['category']}[/] ({category_label(item['category'], lang)})")
        lines.append(f"summary: [bold]{escape(item['summary'])}[/]")
    lines.append("why it is flagged:")
    lines += [f"  - {escape(why)}" for why in explain_flags(item["flags"], lang)] or ["  - (no flags)"]
    if item["span_start"] is None:
        lines.append("The quote was not found in the report; the model's evidence alone:")
        lines.append(f"  [bold]{escape(item['evidence'] or '')}[/]")
    else:
        before, quote, after = evidence_context(text, item["span_start"], item["span_end"])
        lines.append(f"in the report ({item['match']} match at {item['span_start']}–{item['span_end']}):")
        mark = ("»", "«") if plain else ("", "")
        lines.append(f"  …{escape(before)}[reverse bold]{mark[0]}{escape(quote)}{mark[1]}[/]{escape(after)}…")
        if item["match"] != "exact":
            lines.append(f"  the model quoted: {escape(item['evidence'] or '')}")
    if table == "facts" and item["table_ref"]:
        lines.append(f"table {item['table_ref']} = {item['table_value']}"
                     + ("  [bold red](conflicts with the fact)[/]" if "conflicts_with_table" in item["flags"] else ""))
    return "\n".join(lines)


def _ask_changes(table: str, item: dict[str, Any], console: Console,
                 ask: Callable[..., str]) -> dict[str, Any]:
    """Prompt for new values until they validate."""
    while True:
        if table == "facts":
            value = item["value"]
            raw = {"value": ask("new value (a number, or null)", console=console,
                                default="null" if value is None else f"{value:g}"),
                   "unit": ask("unit", console=console, default=item["unit"] or "")}
        else:
            raw = {"category": ask("category", console=console, default=item["category"]),
                   "summary": ask("summary", console=console, default=item["summary"])}
        try:
            return clean_changes(table, raw)
        except ReviewError as e:
            console.print(f"[red]{escape(str(e))}[/]")


def run_session(db: sqlite_utils.Database, items: list[dict[str, Any]], reviewer: str, console: Console,
                ask: Callable[..., str] = Prompt.ask, lang: Lang = Lang.zh) -> Counter[str]:
    """Walk the queue; every decision is written at once, so quitting loses nothing."""
    done: Counter[str] = Counter()
    texts: dict[str, str] = {}
    choices = {"a": "accept", "c": "correct", "r": "reject", "s": "skip", "q": "quit"}
    for pos, item in enumerate(items, start=1):
        rid = item["report_id"]
        if rid not in texts:
            texts[rid] = db.execute("SELECT text FROM reports WHERE id = ?", [rid]).fetchone()[0]
        console.rule()
        console.print(render_item(item, texts[rid], pos, len(items), plain=console.color_system is None,
                                  lang=lang))
        while True:
            try:
                key = ask(escape("[a]ccept [c]orrect [r]eject [s]kip [q]uit"), console=console,
                          choices=list(choices), default="s", show_choices=False)
                action = choices[key]
                if action == "quit":
                    return done
                if action == "skip":
                    break
                changes = _ask_changes(item["item_table"], item, console, ask) if action == "correct" else None
                note = ask("note (optional)", console=console, default="", show_default=False) \
                    if action != "accept" else None
                decide(db, item["item_table"], item["id"], action, reviewer, changes, note)
            except ReviewError as e:
                console.print(f"[red]{escape(str(e))}[/]")
                continue
            except (EOFError, KeyboardInterrupt):
                return done
            done[action] += 1
            console.print(f"[green]{action} recorded[/]")
            break
    return done
