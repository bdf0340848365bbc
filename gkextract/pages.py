"""HTML pages for people: one report with its evidence highlighted, the review queue,
and the problems-by-region heatmap.

Rendering only — Jinja2 templates and server-side SVG, with the stylesheet and
script inlined so a page is one self-contained file (``gkextract view --html``).
``web.py`` serves the same pages and records review decisions.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import sqlite_utils
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from .checks import terms
from .crossyear import own_cells
from .domain import CATEGORY_NAMES, ITEM_TABLES, PART_TITLES, Lang, category_label, value_label
from .queries import (Filters, NoExtractionsError, explain_flags, item_label, list_reports, report_detail,
                      report_items, resolve_report_id, with_threshold)
from .review import evidence_context, queue
from .schema import CATEGORIES

HIGH_SCORE = 0.9          # at or above: green; between the review threshold and this: amber
_CELL_REF = re.compile(r"[a-z_]+\.[a-z_0-9]+\.[a-z_0-9]+")
TABLE_TITLES = {key: f"{numeral}、{PART_TITLES[key]}" for numeral, key in
                (("二", "proactive"), ("三", "applications"), ("四", "review_litigation"))}
MARKED = ("fail", "suspicious")   # check statuses whose cells the tables mark

_env = Environment(loader=PackageLoader("gkextract", "templates"), autoescape=select_autoescape(["html", "svg"]),
                   trim_blocks=True, lstrip_blocks=True)


def _asset(name: str) -> Markup:
    """A stylesheet or script from gkextract/static, to inline into a page."""
    return Markup((resources.files("gkextract") / "static" / name).read_text(encoding="utf-8"))


def category_labels(lang: Lang = Lang.zh) -> dict[str, str]:
    """Every category key with its display name (政策解读, or "policy interpretation" in English)."""
    return {key: category_label(key, lang) or key for key in CATEGORY_NAMES}


def render(template: str, lang: Lang = Lang.zh, **context: Any) -> str:
    """A page; ``served`` (default False) adds the navigation and review controls that need the server;
    ``lang`` names categories and explains flags in Chinese (the default, as in the CLI) or English."""
    context.setdefault("served", False)
    return _env.get_template(template).render(css=_asset("app.css"), js=_asset("app.js"),
                                              category_labels=category_labels(lang),
                                              label=lambda column, value: value_label(column, value, lang),
                                              **context)


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


def _items(db: sqlite_utils.Database, rid: str, f: Filters, lang: Lang) -> list[dict[str, Any]]:
    """Every fact, problem and improvement of the report (rejected ones too, struck through), with
    what the page shows of it, in reading order (items whose quote was not found last)."""
    out = []
    for table, rows in report_items(db, rid, f, include_rejected=True).items():
        for r in rows:
            flags = r["flags"]
            table_status = ("conflict" if "conflicts_with_table" in flags else
                            "table_unavailable" if "table_unavailable" in flags else None)   # as the conflicts view
            out.append({"key": f"{table[0]}{r['id']}", "table": table, "id": r["id"], "label": item_label(table, r),
                        "score": r["score"], "status": r["review_status"], "why": explain_flags(flags, lang),
                        "flags": flags, "band": score_class(r["score"], f.below, r["review_status"]),
                        "span_start": r["span_start"], "span_end": r["span_end"], "match": r["match"],
                        "evidence": r["evidence"], "category": r.get("category"), "summary": r.get("summary"),
                        "problem_id": r.get("problem_id"), "table_ref": r.get("table_ref"),
                        "table_value": r.get("table_value"), "cells": cell_refs(r.get("table_ref")),
                        "table_status": table_status if table == "facts" else None})
    return sorted(out, key=lambda it: (it["span_start"] is None, it["span_start"] or 0, it["span_end"] or 0))


def check_cells(check_id: str, template: str | None) -> list[tuple[str, str]]:
    """The (row, column) cells of this report a check sums or compares: the table rules' own terms,
    or the cells a cross-year check reads; [] for a check about no cell (publication deadline)."""
    if check_id.startswith("crossyear."):
        return own_cells(check_id, template)
    try:
        lhs, rhs = terms(check_id, template)
    except ValueError:
        return []
    return lhs + rhs


def _grids(detail: dict[str, Any], items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The three tables as grids; cells of failed checks and cells facts are checked against are marked."""
    failed: dict[tuple[str, str, str], list[str]] = {}
    suspicious: set[tuple[str, str, str]] = set()
    for c in detail["checks"]:
        if c["status"] in MARKED:
            template = next((t["template"] for t in detail["tables"] if t["table_key"] == c["table_key"]), None)
            for row, col in check_cells(c["check_id"], template):
                failed.setdefault((c["table_key"], row, col), []).append(c["check_id"])
                if c["status"] == "suspicious":
                    suspicious.add((c["table_key"], row, col))
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
                at = (t["table_key"], row["row_key"], col)
                checks = failed.get(at, [])
                cells.append({"ref": ref, "cell": c, "value": _value(c), "checks": checks,
                              "mark": ("suspicious" if at in suspicious and len(checks) == 1 else "fail")
                              if checks else "", "item_keys": referenced.get(ref, []),
                              "conflict": ref in conflicting})
            rows.append({**row, "grid": cells})
        checks = [c for c in detail["checks"] if c["table_key"] == t["table_key"]]
        grids.append({**t, "title": TABLE_TITLES.get(t["table_key"], t["table_key"]), "columns": columns,
                      "grid_rows": rows, "misaligned": any(r["status"] == "misaligned" for r in rows),
                      "failed": [c for c in checks if c["status"] in MARKED],
                      "n_pass": sum(c["status"] == "pass" for c in checks),
                      "n_skipped": sum(c["status"] == "skipped" for c in checks)})
    return grids


def _value(cell: dict[str, Any] | None) -> str:
    """A cell as the grid shows it: its number, / for not applicable, the raw text if unreadable."""
    if cell is None:
        return ""
    v = cell["value"]
    if v is None:  # empty is not zero; a misaligned cell shows nothing rather than a guess
        return {"not_applicable": "/", "unparsed": cell["raw"] or ""}.get(cell["status"], "")
    return f"{v:g}" if isinstance(v, float) else str(v)


def report_context(db: sqlite_utils.Database, report: str, below: float | None = None,
                   lang: Lang = Lang.zh) -> dict[str, Any]:
    """Everything the report page shows: metadata, the text cut into highlighted segments,
    every item with its flags in words, and the three tables with their marks."""
    rid = resolve_report_id(db, report)
    f = with_threshold(db, Filters(below=below))
    detail = report_detail(db, rid)
    text = db.execute("SELECT text FROM reports WHERE id = ?", [rid]).fetchone()[0]
    items = _items(db, rid, f, lang)
    located = [(it["key"], it["span_start"], it["span_end"]) for it in items if it["span_start"] is not None]
    bands = {it["key"]: (it["score"], it["band"]) for it in items}

    def band(keys: tuple[str, ...]) -> str:  # the weakest item decides the colour (a rejected one only if alone)
        return min((bands[k] for k in keys), key=lambda sb: (sb[1] == "rejected", sb[0]))[1]

    extractions = list(db.query("SELECT section, status, model, prompt_version, error FROM extractions "
                                "WHERE report_id = ? ORDER BY section, id", [rid]))
    tabled = {t["table_key"] for t in detail["tables"]}
    return {"report": detail["report"], "sections": detail["sections"], "segments": segments(text, located, band),
            "items": items, "tables": _grids(detail, items), "threshold": f.below, "extractions": extractions,
            "other_checks": [c for c in detail["checks"] if c["table_key"] not in tabled and c["status"] in MARKED],
            "counts": {t: sum(it["table"] == t for it in items) for t in ITEM_TABLES},
            "pending": sum(it["status"] == "pending" for it in items)}


def report_page(db: sqlite_utils.Database, report: str, below: float | None = None, served: bool = False,
                lang: Lang = Lang.zh) -> str:
    """The report page; ``served=False`` is the self-contained file `gkextract view --html` writes."""
    return render("report.html", lang=lang, served=served, **report_context(db, report, below, lang))


def index_page(db: sqlite_utils.Database, lang: Lang = Lang.zh) -> str:
    """Every report, with its failed checks and how many of its items wait in the review queue."""
    reports = list_reports(db)
    f = with_threshold(db, Filters())
    try:
        waiting = Counter(it["report_id"] for it in queue(db, f))   # what /review?report=… then lists
    except NoExtractionsError:
        waiting = Counter()
    return render("index.html", lang=lang, served=True, reports=reports, pending=waiting, threshold=f.below)


def queue_context(db: sqlite_utils.Database, items: list[dict[str, Any]], lang: Lang = Lang.zh
                  ) -> list[dict[str, Any]]:
    """Queue items with their quote in its context and their flags in words."""
    texts: dict[str, str] = {}
    out = []
    for it in items:
        rid = it["report_id"]
        if rid not in texts:
            texts[rid] = db.execute("SELECT text FROM reports WHERE id = ?", [rid]).fetchone()[0]
        context = None if it["span_start"] is None else evidence_context(texts[rid], it["span_start"], it["span_end"])
        out.append({**it, "key": f"{it['item_table'][0]}{it['id']}", "label": item_label(it["item_table"], it),
                    "why": explain_flags(it["flags"], lang), "context": context,
                    "conflict": "conflicts_with_table" in it["flags"]})
    return out


# --- problems by region ---------------------------------------------------------------------

CELL_W, CELL_H, ROW_HEAD_W = 64, 30, 200
COL_HEAD_H = {Lang.zh: 40, Lang.en: 130}   # English names are long: their headings are set at a slant


def _shade(share: float | None) -> str:
    """White → deep red by the share of the group's reports citing the category."""
    if not share:
        return "#f6f6f6"
    light, dark = (255, 236, 217), (189, 0, 38)
    return "#" + "".join(f"{round(a + (b - a) * share):02x}" for a, b in zip(light, dark))


def heatmap_svg(rows: list[dict[str, Any]], link: Callable[[Any, str], str] | None = None,
                selected: tuple[Any, str] | None = None, lang: Lang = Lang.zh) -> Markup:
    """A province × category matrix from ``group_counts(..., ["province", "category"])``:
    each cell shows how many reports cite the category, shaded by their share of the
    province's extracted reports; ``link(province, category)`` makes a cell clickable.
    Drawn here, on the server, so the page needs no script or CDN to show it."""
    head_h = COL_HEAD_H[lang]
    provinces = sorted({r["province"] for r in rows}, key=lambda p: (
        -sum(r["reports"] for r in rows if r["province"] == p), p is None, p or ""))
    categories = [c for c in CATEGORIES if any(r["category"] == c for r in rows)]
    by_cell = {(r["province"], r["category"]): r for r in rows}
    cells = []
    for y, p in enumerate(provinces):
        for x, c in enumerate(categories):
            r = by_cell.get((p, c)) or {"reports": 0, "reports_in_group": 0, "share": None, "items": 0}
            cells.append({"x": ROW_HEAD_W + x * CELL_W, "y": head_h + y * CELL_H, "province": p, "category": c,
                          "reports": r["reports"], "of": r["reports_in_group"], "share": r["share"],
                          "n_items": r["items"], "fill": _shade(r["share"]),
                          "dark": (r["share"] or 0) > 0.55, "href": link(p, c) if link and r["items"] else None,
                          "selected": selected == (p, c)})
    totals = [{"x": ROW_HEAD_W + x * CELL_W, "category": c,
               "reports": sum(r["reports"] for r in rows if r["category"] == c),
               "n_items": sum(r["items"] for r in rows if r["category"] == c)} for x, c in enumerate(categories)]
    heads = [{"y": head_h + y * CELL_H, "province": p, "reports": max(
        (r["reports_in_group"] for r in rows if r["province"] == p), default=0)} for y, p in enumerate(provinces)]
    width = ROW_HEAD_W + CELL_W * len(categories) + (130 if lang is Lang.en else 10)   # room for the last slant
    total_y = head_h + CELL_H * len(provinces)
    legend = [{"x": ROW_HEAD_W + i * CELL_W, "label": f"{share:.0%}", "fill": _shade(share)}
              for i, share in enumerate((0.2, 0.4, 0.6, 0.8, 1.0))]
    return Markup(_env.get_template("heatmap.svg").render(
        cells=cells, totals=totals, heads=heads, categories=categories, legend=legend, legend_y=total_y + CELL_H + 8,
        width=max(width, ROW_HEAD_W + CELL_W * len(legend) + 10), height=total_y + 2 * CELL_H + 30,
        cw=CELL_W, ch=CELL_H, rw=ROW_HEAD_W, hh=head_h, total_y=total_y, slant=lang is Lang.en,
        labels=category_labels(lang)))
