"""HTML pages for people: one report with its evidence highlighted, the review queue,
and the problems-by-region heatmap.

Rendering only — Jinja2 templates and server-side SVG, with the stylesheet and
script inlined so a page is one self-contained file (``gkextract view --html``).
``web.py`` serves the same pages and records review decisions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import sqlite_utils
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from .checks import terms
from .explore import (CATEGORY_LABELS, ITEM_TABLES, Filters, decode, explain_flags, item_label, status_sql,
                      with_threshold)
from .query import list_reports, report_detail, resolve_report_id
from .review import evidence_context
from .schema import CATEGORIES

HIGH_SCORE = 0.9          # at or above: green; between the review threshold and this: amber
_CELL_REF = re.compile(r"[a-z_]+\.[a-z_0-9]+\.[a-z_0-9]+")
TABLE_TITLES = {"proactive": "二、主动公开政府信息情况", "applications": "三、收到和处理政府信息公开申请情况",
                "review_litigation": "四、政府信息公开行政复议、行政诉讼情况"}

_env = Environment(loader=PackageLoader("gkextract", "templates"), autoescape=select_autoescape(["html", "svg"]),
                   trim_blocks=True, lstrip_blocks=True)


def _asset(name: str) -> Markup:
    """A stylesheet or script from gkextract/static, to inline into a page."""
    return Markup((resources.files("gkextract") / "static" / name).read_text(encoding="utf-8"))


def render(template: str, **context: Any) -> str:
    """A page; ``served`` (default False) adds the navigation and review controls that need the server."""
    context.setdefault("served", False)
    return _env.get_template(template).render(css=_asset("app.css"), js=_asset("app.js"),
                                              category_labels=CATEGORY_LABELS, **context)


def score_class(score: float, threshold: float, status: str = "") -> str:
    """Colour band of an item: rejected, below the review threshold, middling, or high."""
    if status == "rejected":
        return "rejected"
    if score < threshold:
        return "low"
    return "mid" if score < HIGH_SCORE else "high"


def cell_refs(table_ref: str | None) -> list[str]:
    """``table.row.col`` cells named by a fact's table_ref (which may join several with + or |)."""
    return list(dict.fromkeys(_CELL_REF.findall(table_ref or "")))


@dataclass(frozen=True)
class Segment:
    """A run of report text and the items whose quote spans cover it (none: plain text)."""
    text: str
    keys: tuple[str, ...]
    band: str = ""


def segments(text: str, spans: Sequence[tuple[str, int, int]], band: Callable[[tuple[str, ...]], str]
             = lambda keys: "") -> list[Segment]:
    """Cut the text at every span boundary so that overlapping quotes each stay whole:
    the segments carrying an item's key, read in order, are exactly its span."""
    cuts = sorted({0, len(text), *(p for _, a, b in spans for p in (a, b) if 0 <= p <= len(text))})
    out: list[Segment] = []
    for a, b in zip(cuts, cuts[1:]):
        keys = tuple(k for k, s, e in spans if s <= a and b <= e)
        out.append(Segment(text[a:b], keys, band(keys) if keys else ""))
    return out


def _items(db: sqlite_utils.Database, rid: str, f: Filters) -> list[dict[str, Any]]:
    """Every fact, problem and improvement of the report, with what the page shows of it, in
    reading order (items whose quote was not found last)."""
    conflicts = {r["fact_id"]: r["status"] for r in db.query(
        "SELECT fact_id, status FROM conflicts WHERE report_id = ?", [rid])}
    out = []
    for table in ITEM_TABLES:
        for r in db.query(f"SELECT i.*, {status_sql(f)} AS status FROM {table}_reviewed i "
                          "WHERE i.report_id = ? ORDER BY i.id", [rid]):
            r = decode(r)
            item = {"key": f"{table[0]}{r['id']}", "table": table, "id": r["id"], "label": item_label(table, r),
                    "score": r["score"], "status": r["status"], "why": explain_flags(r["flags"]),
                    "flags": r["flags"], "band": score_class(r["score"], f.below, r["status"]),
                    "span_start": r["span_start"], "span_end": r["span_end"], "match": r["match"],
                    "evidence": r["evidence"], "category": r.get("category"), "summary": r.get("summary"),
                    "problem_id": r.get("problem_id"), "table_ref": r.get("table_ref"),
                    "table_value": r.get("table_value"), "cells": cell_refs(r.get("table_ref")),
                    "table_status": conflicts.get(r["id"]) if table == "facts" else None}
            out.append(item)
    return sorted(out, key=lambda it: (it["span_start"] is None, it["span_start"] or 0, it["span_end"] or 0))


def _grids(detail: dict[str, Any], items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The three tables as grids; cells of failed checks and cells facts are checked against are marked."""
    failed: dict[tuple[str, str, str], list[str]] = {}
    for c in detail["checks"]:
        if c["status"] == "fail":
            template = next((t["template"] for t in detail["tables"] if t["table_key"] == c["table_key"]), None)
            for row, col in (p for side in terms(c["check_id"], template) for p in side):
                failed.setdefault((c["table_key"], row, col), []).append(c["check_id"])
    referenced: dict[str, list[str]] = {}
    for it in items:
        for ref in it["cells"]:
            referenced.setdefault(ref, []).append(it["key"])
    conflicting = {ref for it in items if it["table_status"] == "conflict" for ref in it["cells"]}
    grids = []
    for t in detail["tables"]:
        columns: dict[str, str] = {}
        for row in t["rows"]:
            for c in row["cells"]:
                columns.setdefault(c["col_key"], c["col_label"])
        rows = []
        for row in t["rows"]:
            by_col = {c["col_key"]: c for c in row["cells"]}
            cells = []
            for col in columns:
                c = by_col.get(col)
                ref = f"{t['table_key']}.{row['row_key']}.{col}"
                cells.append({"ref": ref, "cell": c, "value": _value(c), "checks": failed.get(
                    (t["table_key"], row["row_key"], col), []), "item_keys": referenced.get(ref, []),
                    "conflict": ref in conflicting})
            rows.append({**row, "grid": cells})
        checks = [c for c in detail["checks"] if c["table_key"] == t["table_key"]]
        grids.append({**t, "title": TABLE_TITLES.get(t["table_key"], t["table_key"]), "columns": columns,
                      "grid_rows": rows, "misaligned": any(r["status"] == "misaligned" for r in rows),
                      "failed": [c for c in checks if c["status"] == "fail"],
                      "n_pass": sum(c["status"] == "pass" for c in checks),
                      "n_skipped": sum(c["status"] == "skipped" for c in checks)})
    return grids


def _value(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return ""
    v = cell["value"]
    if v is None:  # empty is not zero; a misaligned cell shows nothing rather than a guess
        return {"not_applicable": "/", "unparsed": cell["raw"] or ""}.get(cell["status"], "")
    return f"{v:g}" if isinstance(v, float) else str(v)


def report_context(db: sqlite_utils.Database, report: str, below: float | None = None) -> dict[str, Any]:
    """Everything the report page shows: metadata, the text cut into highlighted segments,
    every item with its flags in words, and the three tables with their marks."""
    rid = resolve_report_id(db, report)
    f = with_threshold(db, Filters(below=below))
    detail = report_detail(db, rid)
    text = db.execute("SELECT text FROM reports WHERE id = ?", [rid]).fetchone()[0]
    items = _items(db, rid, f)
    located = [(it["key"], it["span_start"], it["span_end"]) for it in items if it["span_start"] is not None]
    bands = {it["key"]: (it["score"], it["band"]) for it in items}

    def band(keys: tuple[str, ...]) -> str:  # the weakest item decides the colour
        return min((bands[k] for k in keys), key=lambda sb: (sb[1] != "rejected", sb[0]))[1]

    extractions = list(db.query("SELECT section, status, model, prompt_version, error FROM extractions "
                                "WHERE report_id = ? ORDER BY section, id", [rid]))
    return {"report": detail["report"], "sections": detail["sections"], "segments": segments(text, located, band),
            "items": items, "tables": _grids(detail, items), "threshold": f.below, "extractions": extractions,
            "counts": {t: sum(it["table"] == t for it in items) for t in ITEM_TABLES},
            "pending": sum(it["status"] == "pending" for it in items)}


def report_page(db: sqlite_utils.Database, report: str, below: float | None = None, served: bool = False) -> str:
    return render("report.html", served=served, **report_context(db, report, below))


def index_page(db: sqlite_utils.Database) -> str:
    reports = list_reports(db)
    f = with_threshold(db, Filters())
    pending = dict(db.execute(
        "SELECT report_id, count(*) FROM (" + " UNION ALL ".join(
            f"SELECT i.report_id FROM {t}_reviewed i WHERE {status_sql(f)} = 'pending'" for t in ITEM_TABLES)
        + ") GROUP BY report_id").fetchall())
    return render("index.html", served=True, reports=reports, pending=pending, threshold=f.below)


def queue_context(db: sqlite_utils.Database, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Queue items with their quote in its context and their flags in words."""
    texts: dict[str, str] = {}
    out = []
    for it in items:
        rid = it["report_id"]
        if rid not in texts:
            texts[rid] = db.execute("SELECT text FROM reports WHERE id = ?", [rid]).fetchone()[0]
        context = None if it["span_start"] is None else evidence_context(texts[rid], it["span_start"], it["span_end"])
        out.append({**it, "key": f"{it['item_table'][0]}{it['id']}", "label": item_label(it["item_table"], it),
                    "why": explain_flags(it["flags"]), "context": context,
                    "conflict": "conflicts_with_table" in it["flags"]})
    return out


# --- problems by region ---------------------------------------------------------------------

CELL_W, CELL_H, ROW_HEAD_W, COL_HEAD_H = 64, 30, 200, 40


def _shade(share: float | None) -> str:
    """White → deep red by the share of the group's reports citing the category."""
    if not share:
        return "#f6f6f6"
    light, dark = (255, 236, 217), (189, 0, 38)
    return "#" + "".join(f"{round(a + (b - a) * share):02x}" for a, b in zip(light, dark))


def heatmap_svg(rows: list[dict[str, Any]], link: Callable[[Any, str], str] | None = None,
                selected: tuple[Any, str] | None = None) -> Markup:
    """A province × category matrix from ``group_counts(..., ["province", "category"])``:
    each cell shows how many reports cite the category, shaded by their share of the
    province's extracted reports; ``link(province, category)`` makes a cell clickable."""
    provinces = sorted({r["province"] for r in rows}, key=lambda p: (
        -sum(r["reports"] for r in rows if r["province"] == p), p is None, p or ""))
    categories = [c for c in CATEGORIES if any(r["category"] == c for r in rows)]
    by_cell = {(r["province"], r["category"]): r for r in rows}
    cells = []
    for y, p in enumerate(provinces):
        for x, c in enumerate(categories):
            r = by_cell.get((p, c)) or {"reports": 0, "reports_in_group": 0, "share": None, "items": 0}
            cells.append({"x": ROW_HEAD_W + x * CELL_W, "y": COL_HEAD_H + y * CELL_H, "province": p, "category": c,
                          "reports": r["reports"], "of": r["reports_in_group"], "share": r["share"],
                          "n_items": r["items"], "fill": _shade(r["share"]),
                          "dark": (r["share"] or 0) > 0.55, "href": link(p, c) if link and r["items"] else None,
                          "selected": selected == (p, c)})
    totals = [{"x": ROW_HEAD_W + x * CELL_W, "category": c,
               "reports": sum(r["reports"] for r in rows if r["category"] == c),
               "n_items": sum(r["items"] for r in rows if r["category"] == c)} for x, c in enumerate(categories)]
    heads = [{"y": COL_HEAD_H + y * CELL_H, "province": p, "reports": max(
        (r["reports_in_group"] for r in rows if r["province"] == p), default=0)} for y, p in enumerate(provinces)]
    width = ROW_HEAD_W + CELL_W * len(categories) + 10
    total_y = COL_HEAD_H + CELL_H * len(provinces)
    legend = [{"x": ROW_HEAD_W + i * CELL_W, "label": f"{share:.0%}", "fill": _shade(share)}
              for i, share in enumerate((0.2, 0.4, 0.6, 0.8, 1.0))]
    return Markup(_env.get_template("heatmap.svg").render(
        cells=cells, totals=totals, heads=heads, categories=categories, legend=legend, legend_y=total_y + CELL_H + 8,
        width=max(width, ROW_HEAD_W + CELL_W * len(legend) + 10), height=total_y + 2 * CELL_H + 30,
        cw=CELL_W, ch=CELL_H, rw=ROW_HEAD_W, hh=COL_HEAD_H, total_y=total_y,
        labels=CATEGORY_LABELS))
