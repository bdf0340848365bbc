"""Output: rich tables and screens for people, and one row writer (JSON, JSON Lines, CSV) for machines.

The output contract, the same for every command:

* ``--format json`` prints exactly one JSON document: an array of rows, or one
  object for commands whose result is one nested record (show, summary,
  timeline, compare, run);
* ``--format jsonl`` prints one row per line (a nested record is one line);
* ``--format csv`` prints a header and rows, encoded ``utf-8-sig`` by default
  so Excel on a Chinese system reads it (``--encoding`` changes it); a nested
  record cannot be a CSV, and the command says so instead of printing JSON;
* data goes to stdout, progress and summaries to stderr.

``write_rows`` serves ``emit`` (stdout), ``export`` and ``review --export``
(files), so CSV and JSON look the same wherever they come from.  Table output
shows Chinese labels by default (``--lang en`` for English): column headers,
category names, flag texts; the keys in JSON and CSV never change.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .domain import Lang, flag_text, value_label


class Format(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


class ExportFormat(str, Enum):
    """File formats for `export` (no table: files are for programs)."""

    csv = "csv"
    jsonl = "jsonl"
    json = "json"


DEFAULT_ENCODING = "utf-8-sig"   # Excel on Chinese Windows reads UTF-8 without a BOM as GBK: garbled


@dataclass
class OutputSettings:
    """How this command prints: set from --lang and --encoding (cli.py), read by emit and the screens."""

    lang: Lang = Lang.zh
    encoding: str = DEFAULT_ENCODING


output = OutputSettings()
console = Console()
err_console = Console(stderr=True)


class EncodingError(ValueError):
    """The rows hold a character the chosen CSV encoding cannot write."""


# --- the row writer ---------------------------------------------------------------------------

def _csv_cell(v: Any) -> Any:
    return json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v


def check_encoding(name: str) -> str:
    """The codec's name, or ValueError for one Python does not know."""
    try:
        codecs.lookup(name)
    except LookupError:
        raise ValueError(f"unknown encoding {name!r}: use utf-8-sig (Excel), utf-8 or gb18030") from None
    return name


def write_rows(out: IO[bytes], rows: Iterable[Mapping[str, Any]], columns: Sequence[str], fmt: Format | ExportFormat,
               encoding: str = DEFAULT_ENCODING) -> int:
    """Write rows as a JSON array (one row per line), JSON Lines or CSV; returns how many.

    Only ``columns`` are written, in that order.  CSV cells holding lists or
    dicts become JSON text; CSV is encoded with ``encoding`` (JSON is UTF-8).
    """
    columns = list(columns)
    n = 0
    if fmt.value == "csv":
        if not columns:
            return 0
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        enc = codecs.getincrementalencoder(encoding)()   # utf-8-sig: the BOM once, at the start

        def flush(line: int) -> None:
            try:
                out.write(enc.encode(buf.getvalue()))
            except UnicodeEncodeError as e:
                raise EncodingError(f"row {line}: {e.object[e.start:e.end]!r} cannot be written in {encoding}; "
                                    f"use --encoding utf-8-sig or gb18030") from None
            buf.seek(0)
            buf.truncate()

        flush(0)
        for r in rows:
            w.writerow({c: _csv_cell(r.get(c)) for c in columns})
            n += 1
            flush(n)
        return n
    if fmt.value == "jsonl":
        for r in rows:
            out.write((json.dumps({c: r.get(c) for c in columns}, ensure_ascii=False) + "\n").encode())
            n += 1
        return n
    if fmt.value == "json":
        out.write(b"[")
        for r in rows:
            row = json.dumps({c: r.get(c) for c in columns}, ensure_ascii=False)
            out.write(((",\n" if n else "\n") + row).encode())
            n += 1
        out.write(b"\n]\n" if n else b"]\n")
        return n
    raise ValueError(f"write_rows writes json, jsonl or csv, not {fmt.value}")


def _stdout(data: bytes) -> None:
    sys.stdout.flush()              # anything rich printed goes first
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def emit(rows: Sequence[Mapping[str, Any]], fmt: Format, *, columns: Sequence[str] | None = None,
         title: str | None = None, stderr: bool = False) -> None:
    """Print rows: a rich table for people (``stderr``: a summary, not data), JSON/JSONL/CSV on stdout for scripts.

    The rows are encoded before anything is written, so an encoding error
    prints nothing rather than half a file.
    """
    columns = list(columns or (rows[0].keys() if rows else []))
    if fmt is Format.table:
        (err_console if stderr else console).print(table(rows, columns, title))
        return
    buf = io.BytesIO()
    try:
        write_rows(buf, rows, columns, fmt, output.encoding)
    except EncodingError as e:   # a usage error like any other bad option: say so, exit 2, print no data
        err_console.print(f"[bold red]error:[/] {escape(str(e))}", soft_wrap=True)
        raise SystemExit(2) from None
    _stdout(buf.getvalue())


def dump_json(obj: Any, fmt: Format = Format.json) -> None:
    """One nested record: indented for --format json, one line for jsonl."""
    text = json.dumps(obj, ensure_ascii=False, default=str, indent=None if fmt is Format.jsonl else 2)
    _stdout((text + "\n").encode())


# --- tables for people ------------------------------------------------------------------------

# Column headers in Chinese; a column not listed keeps its key.  English keeps the keys.
COLUMN_LABELS = {
    "id": "编号", "report_id": "报告编号", "file": "文件", "file_name": "文件", "issuer": "发布机关", "year": "年度",
    "level": "层级", "region": "地区", "province": "省份", "city": "地市", "county": "区县", "template": "模板",
    "status": "状态", "failed_checks": "未通过校验", "published": "发布日期", "part": "部分", "heading": "标题",
    "span": "位置", "chars": "字数", "check": "校验", "check_id": "校验", "rule": "规则", "expected": "应为",
    "actual": "实为", "reason": "原因", "category": "类别", "summary": "概述", "score": "得分", "review": "审核",
    "review_status": "审核状态", "evidence": "原文依据", "kind": "类型", "metric": "指标", "label": "名称",
    "value": "数值", "unit": "单位", "reports": "报告数", "reports_in_group": "组内报告数", "share": "占比",
    "items": "条目数", "facts": "事实数", "min": "最小值", "median": "中位数", "max": "最大值", "cell": "单元格",
    "problem_id": "对应问题", "fact_id": "事实编号", "text": "文中数字", "table_ref": "表格单元格",
    "table_value": "表中数值", "table": "表", "item": "条目", "why": "标记原因", "rows": "行数",
    "years": "年份", "aliases": "别名", "problem": "问题", "concrete": "具体程度", "promise": "承诺",
    "promised": "承诺年度", "next_year": "次年", "figure": "指标", "change": "变化", "similarity": "相似度",
    "near_verbatim": "雷同", "on_time": "按时", "arith": "表内校验", "cross": "跨年校验", "jumps": "异常跳变",
    "problems": "问题数", "boilerplate": "套话占比", "followup": "承诺落实", "name": "名称",
    "on time": "按时", "applications": "申请 新收/办结/结转", "table checks": "表内校验", "cross-year": "跨年校验",
    "promises a/r/n": "承诺 落实/重复/未提及", "next_evidence": "次年原文", "named": "所称机关",
}


def header(column: str) -> str:
    return COLUMN_LABELS.get(column, column) if output.lang is Lang.zh else column


def _cell(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, dict)):
        return escape(json.dumps(v, ensure_ascii=False))
    return escape(str(v))  # report text has brackets ([bookmark: _GoBack]) that rich would eat as markup


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], title: str | None = None) -> Table:
    """A rich table with headers and key values (category, level, kind, review status) in the chosen language."""
    t = Table(title=title, show_lines=False, header_style="bold")
    for c in columns:
        t.add_column(header(c), overflow="fold")
    for r in rows:
        t.add_row(*(_cell(value_label(c, r.get(c), output.lang)) for c in columns))
    return t


def region_text(r: Mapping[str, Any], keys: Sequence[str] = ("province", "city", "county")) -> str:
    return " ".join(str(r[k]) for k in keys if r.get(k))


def _n(v: Any) -> str:
    return "—" if v is None else (f"{v:g}" if isinstance(v, float) else str(v))


def zh_en(zh: str, en: str) -> str:
    """A phrase of the screens in the chosen language."""
    return zh if output.lang is Lang.zh else en


# --- screens: one per query command ----------------------------------------------------------

def items_for_people(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A compact view of problems, improvements or facts; scripts get every column (--format csv/json)."""
    out = []
    for r in rows:
        row: dict[str, Any] = {"id": r["id"], "issuer": r["issuer"],
                               "region": region_text(r, ("province", "county" if r["county"] else "city")),
                               "year": r["year"]}
        if "kind" in r:  # a fact
            value = r["value"]
            shown = None if value is None else f"{'≈' if r.get('approximate') else ''}{value:g} {r.get('unit') or ''}"
            row.update(kind=r["kind"], metric=r["metric"], label=r["label"], value=shown)
        else:
            row.update(category=r["category"], summary=r["summary"])
        row.update(score=r["score"], review=r["review_status"], evidence=r["evidence"])
        out.append(row)
    return out


def reports_for_people(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [dict(id=r["id"][:10], issuer=r["issuer"], year=r["year"], level=r["level"], region=region_text(r),
                 template=r["template"], status=r["status"], failed_checks=r["failed_checks"]) for r in rows]


def _heading(r: Mapping[str, Any], title_end: str, *fields: tuple[str, Any]) -> None:
    """A report's first two lines: issuer, year and id; then its region, level, template and ``fields``."""
    console.print(f"[bold]{escape(r['issuer'] or zh_en('（发布机关不详）', '(issuer unknown)'))}[/] {r['year'] or ''}  "
                  f"[dim]{r['id']}[/]{title_end}")
    pairs = [("region", region_text(r)), ("level", value_label("level", r["level"], output.lang)),
             ("template", r["template"]), *fields]
    console.print("   ".join(f"{header(k)}: {escape(str(v)) if v else '—'}" for k, v in pairs))


def print_detail(d: Mapping[str, Any]) -> None:
    """`show`: metadata, sections with their spans, the three tables as grids, the checks."""
    r = d["report"]
    _heading(r, "", ("published", r["publication_date"]), ("file", r["file_name"]))
    status_colour = "green" if r["status"] == "complete" else "yellow"
    console.print(f"{header('status')}: [{status_colour}]{r['status']}[/]" +
                  "".join(f"\n  - {escape(p)}" for p in r["problems"]))
    emit([dict(part=s["kind"], status=s["status"], heading=s["heading"], span=(
        f"{s['span_start']}–{s['span_end']}" if s["span_start"] is not None else None), chars=s["n_chars"])
        for s in d["sections"]], Format.table, title=zh_en("各部分", "sections"))
    for t in d["tables"]:
        console.print(_grid(t))
    failed = [c for c in d["checks"] if c["status"] == "fail"]
    skipped = sum(1 for c in d["checks"] if c["status"] == "skipped")
    passed = sum(1 for c in d["checks"] if c["status"] == "pass")
    console.print(zh_en(f"校验：[green]{passed} 通过[/]，[red]{len(failed)} 未通过[/]，{skipped} 跳过",
                        f"checks: [green]{passed} pass[/], [red]{len(failed)} fail[/], {skipped} skipped"))
    if failed:
        emit([dict(check=c["check_id"], rule=c["rule"], expected=c["expected"], actual=c["actual"],
                   reason=c["reason"]) for c in failed], Format.table, title=zh_en("未通过的校验", "failed checks"))


def _grid(t: Mapping[str, Any]) -> Table:
    """One statistical table as printed in the report; misaligned rows show their raw cells."""
    cols: list[str] = []
    for row in t["rows"]:
        for c in row["cells"]:
            if c["col_label"] not in cols:
                cols.append(c["col_label"])
    grid = Table(title=f"{t['table_key']} — {t['status']} ({t['layout'] or 'no layout'}, "
                 f"template {t['template'] or '—'})", header_style="bold")
    grid.add_column(zh_en("行", "row"))
    for c in cols:
        grid.add_column(escape(c), justify="right")
    grid.add_column(zh_en("原始单元格（错位行）", "raw cells (misaligned rows)"))
    for row in t["rows"]:
        values = {c["col_label"]: c for c in row["cells"]}
        cells = []
        for c in cols:
            cell = values.get(c)
            if cell is None:
                cells.append("")
            elif cell["value"] is None:
                cells.append(f"[dim]{cell['status']}[/]")
            else:
                cells.append(_n(cell["value"]))
        raw = " | ".join(row["raw_cells"]) if row["status"] == "misaligned" else ""
        label = row["label"] or row["row_key"]
        style = {"misaligned": "[yellow]", "missing": "[dim]"}.get(row["status"], "")
        grid.add_row(f"{style}{escape(label[:30])}", *cells, escape(raw))
    return grid


def why_flagged(x: Mapping[str, Any]) -> str:
    """A flagged item's reasons, in the chosen language."""
    why = [flag_text(code, output.lang) for code in x["flags"]]
    if x.get("table_ref"):
        why.append(zh_en(f"表格 {x['table_ref']} = {_n(x['table_value'])}。",
                         f"Table {x['table_ref']} = {_n(x['table_value'])}."))
    return zh_en("", " ").join(why)


def print_summary(d: Mapping[str, Any]) -> None:
    """`summary`: one report on one screen."""
    r = d["report"]
    _heading(r, f"  {escape(r['file_name'])}", ("status", r["status"]))
    for p in r["problems"]:
        console.print(f"  - {escape(p)}")
    emit(d["table_numbers"], Format.table, columns=["cell", "label", "value", "status"],
         title=zh_en("主要表格数字", "key table numbers"))
    if d["failed_checks"]:
        emit(d["failed_checks"], Format.table, title=zh_en("未通过的校验", "failed checks"))
    if not d["extractions"]:
        console.print(zh_en("叙述部分：尚未抽取（运行 `gkextract extract`）",
                            "narrative: not extracted yet (run `gkextract extract`)"))
    for e in d["extractions"]:
        if e["status"] != "ok":
            console.print(f"[yellow]{e['section']} extraction {e['status']}[/]: {escape(e['error'] or '')}")
    for name, cols, title in (
            ("facts", ["id", "kind", "metric", "label", "value", "unit", "score", "review_status"], ("事实", "facts")),
            ("problems", ["id", "category", "summary", "score", "review_status"], ("问题", "problems")),
            ("improvements", ["id", "category", "summary", "problem_id", "score", "review_status"],
             ("改进措施", "improvements"))):
        if d[name]:
            emit(d[name], Format.table, columns=cols, title=zh_en(*title))
    if d["conflicts"]:
        emit([{**c, "text": f"{c['text_value']:g}{c['unit'] or ''}" if c["text_value"] is not None else None}
              for c in d["conflicts"]], Format.table,
             columns=["fact_id", "metric", "text", "table_ref", "table_value", "status"],
             title=zh_en("文字与表格（conflict：不一致；table_unavailable：单元格错位或缺失）",
                         "text vs. table (conflict: they disagree; table_unavailable: the cell is misaligned or "
                         "missing)"))
    if d["flagged"]:
        emit([{**x, "why": why_flagged(x)} for x in d["flagged"]], Format.table,
             columns=["table", "id", "item", "score", "why"],
             title=zh_en(f"得分低于 {d['review_threshold']:g}、待审核（gkextract review）",
                         f"flagged for review below {d['review_threshold']:g} (gkextract review)"))


def _count_text(counts: Mapping[str, int]) -> str:
    if not counts:
        return "—"
    bad = [f"{counts[k]} {k}" for k in ("fail", "suspicious") if counts.get(k)]
    return " · ".join(bad) if bad else "ok"


def print_timeline(t: Mapping[str, Any]) -> None:
    """`timeline`: one issuer year by year, its stated problems and last year's promises."""
    iss = t["issuer"]
    console.print(f"[bold]{escape(iss['name'])}[/]  {value_label('level', iss['level'], output.lang) or '—'}  "
                  f"{region_text(iss)}")
    for a in iss["aliases"]:
        console.print(f"  {zh_en('又名', 'also')}: {escape(a['alias'])} ({a['how']}: {escape(a['evidence'] or '')})")
    rows = []
    for y in t["years"]:
        f, follow, cross = y["figures"], y["followup_of_last_year"], y["checks"]["crossyear"]
        lawsuits = None if f["lawsuits_direct"] is None else f["lawsuits_direct"] + (f["lawsuits_after_review"] or 0)
        rows.append({
            "year": y["year"], "published": y["published"], "on time": y["on_time"],
            "applications": f"{_n(f['applications'])}/{_n(f['handled'])}/{_n(f['carried_forward'])}",
            "复议/诉讼": f"{_n(f['reviews'])}/{_n(lawsuits)}", "规范性文件": _n(f["normative_documents"]),
            "table checks": _count_text(y["checks"]["report"]),
            "cross-year": "no prior year" if y["previous_year_missing"] else (
                _count_text(cross) if set(cross) - {"skipped"} else "skipped" if cross else "—"),
            "problems": "—" if y["narrative_report"] is None else len(y["problems"]),
            "雷同": "—" if y["narrative_report"] is None else y["near_verbatim"],
            "concrete": y["concreteness"],
            "promises a/r/n": "—" if not follow else "/".join(str(follow.get(k, 0)) for k in
                                                            ("addressed", "repeated", "not_mentioned")),
        })
    emit(rows, Format.table, title=zh_en("逐年", "timeline"))
    console.print(zh_en("applications：新收/办结/结转（表三）· 复议/诉讼：合计（表四）· 规范性文件：制发（2019 模板）或现行有效"
                        "（2021）· promises：上一年的承诺，已落实/重复/未提及",
                        "applications: new/handled/carried forward (table 三) · 复议/诉讼: totals (table 四) · "
                        "规范性文件: published (2019 template) or in force (2021) · promises: last year's, "
                        "addressed/repeated/not mentioned"), style="dim")
    problems = [dict(year=y["year"], category=p["category"], problem=p["evidence"], concrete=p["concreteness"],
                     雷同="; ".join(f"{m['other_report']} ({m['score']})" for m in p["near_verbatim"]) or None)
                for y in t["years"] for p in y["problems"]]
    if problems:
        emit(problems, Format.table, title=zh_en("所述问题", "stated problems"))
    promises = [dict(promised=y["year"] - 1, status=f["status"], promise=f["evidence"],
                     next_year=f["next_evidence"]) for y in t["years"] for f in y["followups"]]
    if promises:
        emit(promises, Format.table, title=zh_en("上一年的承诺及落实", "last year's promises, followed up"))


def print_compare(c: Mapping[str, Any], a: int, b: int) -> None:
    """`compare`: two years of one issuer side by side."""
    console.print(f"[bold]{escape(c['issuer']['name'])}[/]  {a} ↔ {b}")
    for y in (a, b):
        d = c["deadline"][str(y)]
        console.print(f"  {y}: {escape(', '.join(c['reports'][str(y)]))}  {escape(d['detail'])}", soft_wrap=True)
    emit([{**r, str(a): _n(r[str(a)]), str(b): _n(r[str(b)]), "change": _n(r["change"])} for r in c["figures"]],
         Format.table, title=zh_en("主要数字", "key figures"))
    for y in (a, b):
        if c["checks"][str(y)]:
            emit(c["checks"][str(y)], Format.table, columns=["check_id", "status", "expected", "actual", "reason"],
                 title=zh_en(f"{y}：未通过和可疑的校验", f"{y}: failed and suspicious checks"))
    if c["problems"]:
        emit(c["problems"], Format.table, columns=[str(b), "category", str(a), "similarity", "near_verbatim"],
             title=zh_en(f"{b} 年的问题及最接近的 {a} 年问题", f"{b} problems and the closest {a} problem"))
    if c["promises"]:
        emit(c["promises"], Format.table, columns=["status", "evidence", "next_evidence"],
             title=zh_en(f"{a} 年的承诺在 {b} 年", f"{a} promises in {b}"))
    elif c["promises_note"]:
        console.print(c["promises_note"])


def evaluation_for_people(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [dict(issuer=r["issuer"], year=r["year"], file=r["file_name"], on_time=r["on_time"] +
                 (f" +{r['days_late']}d" if r["days_late"] else ""), arith=r["arithmetic_consistent"],
                 cross=r["crossyear_consistent"], jumps=r["suspicious_jumps"], problems=r["problems"],
                 boilerplate=r["boilerplate_share"], concrete=r["concreteness"], followup=r["followup_rate"])
            for r in rows]


def issuers_for_people(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [dict(issuer=r["name"], level=r["level"], region=region_text(r), years=r["years"], reports=r["reports"],
                 aliases="; ".join(f"{a['alias']} ({a['how']}: {a['evidence']})" for a in r["aliases"]) or None)
            for r in rows]
