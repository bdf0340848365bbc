"""The same report in every shape users have.

A gold report (``fixtures/corpus/gold/*.json``, format in ``fixtures/corpus/gold/README``)
plus its narrative is rendered into the file shapes real reports arrive in::

    shapes = render(gold, corpus_narrative(gold))
    suffix, data = shapes["docx"]

Every shape holds the same report: the gold title, a ``发布时间：YYYY-MM-DD`` line, a
preamble, the six parts under their standard headings, the three statistical tables
of the gold's template laid out as the official Word template lays them out (merged
cells included), and the issuer and date as a signature.

How the tables are built: ``_tables`` describes each table once, as rows of origin
cells with rowspan/colspan (like HTML), using the labels of ``gkextract.tables``.
Each shape then writes that model the way its real-world tool does:

============== ===============================================================================
shape          merged cells                                   blank (null) cells
============== ===============================================================================
html_article   rowspan/colspan attributes                     ``<td><p>&nbsp;</p></td>`` etc.
html_page      the same article inside a full CMS page        same
docx           python-docx ``cell.merge``                     empty cell
pdf            reportlab ``SPAN`` in a ruled (GRID) table     empty cell
pdf_text       text once, centred in its span (pdftotext      absent (no text at all)
               -layout); long labels wrapped over lines
cell_per_line  one line per Word cell (a horizontal merge     a line holding just a tab
               is one cell); a vertical continuation is a
               line holding just a tab
tab_rows       every grid position a field; covered = empty   empty field
pipe           ``| a |  | c |``, covered = empty              empty field
pipe_bare      ``a |  | c |``                                  empty field
blank_sep.     each non-empty cell on its own line           absent
one_line       each non-empty cell, single spaces            absent
markdown       GFM table, covered = empty (like pandoc)      empty field
gbk            tab_rows encoded in GBK                        empty field
============== ===============================================================================

The scoring helpers at the end (``score``) are shared by
``tests/test_corpus_shapes.py`` and ``bench/bench_accuracy.py``.
"""

from __future__ import annotations

import copy
import html
import io
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from gkextract.tables import (APPLICANT_COLS, APPLICATION_ROWS, PROACTIVE_ROWS, REVIEW_COLS,
                              REVIEW_ROWS, Col, RowDef)

ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = ROOT / "fixtures" / "corpus"
GOLD_DIR = CORPUS_DIR / "gold"

SHAPES: tuple[str, ...] = (
    "html_article", "html_page", "docx", "pdf", "pdf_text", "cell_per_line", "tab_rows",
    "pipe", "pipe_bare", "blank_separated", "one_line", "markdown", "gbk",
)
# Shapes that can represent every cell (a blank cell keeps its place).
FULL_SHAPES: tuple[str, ...] = (
    "html_article", "html_page", "docx", "pdf", "cell_per_line", "tab_rows", "pipe",
    "pipe_bare", "markdown", "gbk",
)
# Shapes where a blank cell vanishes, so a row with blanks cannot be lined up for sure.
LOSSY_SHAPES: tuple[str, ...] = ("blank_separated", "one_line", "pdf_text")
VARIANTS: tuple[str, ...] = ("gold", "blank_zeros")

HEADINGS = {
    "overview": "一、总体情况",
    "proactive": "二、主动公开政府信息情况",
    "applications": "三、收到和处理政府信息公开申请情况",
    "review_litigation": "四、政府信息公开行政复议、行政诉讼情况",
    "problems": "五、存在的主要问题及改进情况",
    "other": "六、其他需要报告的事项",
}
NARRATIVE_KEYS = ("overview", "problems", "other")


# --- golds ---------------------------------------------------------------------------------

def load_golds(gold_dir: Path = GOLD_DIR) -> list[dict]:
    """Every gold file, sorted by name."""
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(gold_dir.glob("*.json"))]


def renderable(gold: dict) -> bool:
    """Golds that are rendered into shapes: a 2019/2021 template, not a duplicate page."""
    return gold["metadata"].get("template") in ("2019", "2021") and not gold.get("same_report_as")


def blank_zeros(gold: dict) -> dict:
    """A copy where every 0 in the applications and review tables is blank (null).

    Most real reports leave zero cells empty; the copy drops ``checks`` (blank cells
    read as zero would give the same results, but the variant makes no claim).
    """
    out = copy.deepcopy(gold)
    out.pop("checks", None)
    for key in ("applications", "review_litigation"):
        for row in out.get("tables", {}).get(key, {}).values():
            for col, v in row.items():
                if v == 0:
                    row[col] = None
    return out


def variant(gold: dict, name: str) -> dict:
    if name == "gold":
        return gold
    if name == "blank_zeros":
        return blank_zeros(gold)
    raise ValueError(name)


def report_name(gold: dict) -> str:
    return Path(gold["file"]).stem


# --- narrative from the corpus file ----------------------------------------------------------

_OVERVIEW_RE = re.compile(r"一\s*、\s*总体情况")
_PROACTIVE_RE = re.compile(r"二\s*、\s*主动公开政府信息情况")
_PROBLEMS_RE = re.compile(r"五\s*、\s*[^。；\n]{0,20}?问题[^。；\n]{0,6}?(?:改进情况|改进措施|工作计划|整改情况)")
_OTHER_RE = re.compile(r"六\s*、\s*其[他它]需要?报告的?事项")
_END_RE = re.compile(r"附件下载|相关链接|【打印本页】|扫一扫")


def _strip_html(text: str) -> str:
    text = re.sub(r"(?is)<(script|style|head|noscript)\b.*?</\1\s*>", "", text)
    text = re.sub(r"(?s)<!--.*?-->", "", text)
    text = re.sub(r"(?i)</p\s*>|<br\s*/?>|</div\s*>|</tr\s*>|</h\d\s*>", "\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = html.unescape(text)
    lines = [re.sub(r"\s+", " ", ln).strip() for ln in text.split("\n")]
    return "\n".join(ln for ln in lines if ln)


def _paragraphs(text: str) -> str:
    lines = [re.sub(r"[ \t\u3000\xa0]+", " ", ln).strip() for ln in text.split("\n")]
    return "\n".join(ln for ln in lines if ln)


def slice_narrative(text: str, is_html: bool = False) -> dict[str, str | None]:
    """Parts 一, 五 and 六 of a report's text (None where a heading is not found)."""
    if is_html:
        text = _strip_html(text)
    marker = text.find("==== 正文 ====")
    if marker >= 0:
        text = text[marker:].split("\n", 1)[-1]
    out: dict[str, str | None] = {k: None for k in NARRATIVE_KEYS}
    m1 = _OVERVIEW_RE.search(text)
    if m1:
        m2 = _PROACTIVE_RE.search(text, m1.end())
        if m2:
            out["overview"] = _paragraphs(text[m1.end():m2.start()])
    m5 = _PROBLEMS_RE.search(text)
    m6 = _OTHER_RE.search(text, m5.end()) if m5 else _OTHER_RE.search(text)
    if m5 and m6:
        out["problems"] = _paragraphs(text[m5.end():m6.start()])
    if m6:
        rest = text[m6.end():]
        end = _END_RE.search(rest)
        if end:
            rest = rest[:end.start()]
        # the part is short; what follows the first run of spaces is the signature
        chunks = [c for c in re.split(r"[\s\xa0\u3000]+", rest) if c]
        out["other"] = chunks[0] if chunks else None
    return out


def placeholder_narrative(gold: dict) -> dict[str, str]:
    m = gold["metadata"]
    year, issuer = m.get("year") or 2020, m.get("issuer") or "本机关"
    return {
        "overview": (f"{year}年，{issuer}认真贯彻落实《中华人民共和国政府信息公开条例》，"
                     "坚持以公开为常态、不公开为例外，持续深化政务公开，不断提升政府信息公开工作质量。"),
        "problems": ("政府信息公开工作仍存在一些不足：政策解读形式还不够丰富，公开内容的深度和广度有待拓展。"
                     f"{year + 1}年，将进一步完善工作机制，加强业务培训，不断提高公开质量。"),
        "other": "无其他需要报告的事项。",
    }


def corpus_narrative(gold: dict, corpus_dir: Path = CORPUS_DIR) -> dict[str, str]:
    """The narrative of parts 一, 五, 六 sliced from the gold's corpus file, or placeholders."""
    fallback = placeholder_narrative(gold)
    path = corpus_dir / gold["file"]
    try:
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
    except OSError:
        return fallback
    sliced = slice_narrative(text, is_html=path.suffix.lower() in (".html", ".htm"))
    out = {}
    for key in NARRATIVE_KEYS:
        v = sliced.get(key)
        ok = v is not None and (len(v) >= 20 or (key == "other" and len(v) >= 1))
        out[key] = v if ok else fallback[key]
    return out


# --- numbers ----------------------------------------------------------------------------------

def fmt_number(v: int | float) -> str:
    if isinstance(v, bool):
        raise TypeError(v)
    if isinstance(v, int):
        return str(v)
    s = f"{v:.10f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def fmt_cell(v: int | float | None, col: Col) -> str:
    """A value as printed in a real report: money in 万元 (the procurement cell says so)."""
    if v is None:
        return ""
    if col.key == "procurement_amount":
        return fmt_number(v) + "万元"
    return fmt_number(v)


# --- the table model --------------------------------------------------------------------------

@dataclass(frozen=True)
class TCell:
    text: str              # "\n" separates the pieces of a header written over two lines
    rowspan: int = 1
    colspan: int = 1
    kind: str = "label"    # "label" | "head" | "value"

    @property
    def flat(self) -> str:
        return self.text.replace("\n", "")

    @property
    def spaced(self) -> str:
        return self.text.replace("\n", " ")


@dataclass
class TableModel:
    key: str
    ncols: int
    rows: list[list[TCell]]
    text_widths: tuple[int, ...]     # display columns per grid column (pdf_text)
    pdf_widths: tuple[float, ...]    # points per grid column (pdf)

    def placed(self) -> list[tuple[int, int, TCell]]:
        """(row, col, cell) of every origin cell, HTML placement rules."""
        taken: set[tuple[int, int]] = set()
        out = []
        for r, row in enumerate(self.rows):
            c = 0
            for cell in row:
                while (r, c) in taken:
                    c += 1
                for dr in range(cell.rowspan):
                    for dc in range(cell.colspan):
                        taken.add((r + dr, c + dc))
                out.append((r, c, cell))
                c += cell.colspan
        return out

    def grid(self) -> list[list[tuple[TCell, int, int]]]:
        """Every grid position → (cell covering it, its origin row, its origin column)."""
        g: list[list[tuple[TCell, int, int] | None]] = [[None] * self.ncols for _ in self.rows]
        for r, c, cell in self.placed():
            for dr in range(cell.rowspan):
                for dc in range(cell.colspan):
                    assert g[r + dr][c + dc] is None, (self.key, r + dr, c + dc)
                    g[r + dr][c + dc] = (cell, r, c)
        for r, row in enumerate(g):
            assert all(x is not None for x in row), (self.key, r, row)
        return g  # type: ignore[return-value]

    def text_grid(self, join: str = "") -> list[list[str]]:
        """Cell texts at their origin positions, "" where covered."""
        return [[cell.text.replace("\n", join) if (r0, c0) == (r, c) else ""
                 for c, (cell, r0, c0) in enumerate(row)]
                for r, row in enumerate(self.grid())]


ART20 = {"art20_1": "第二十条第（一）项", "art20_5": "第二十条第（五）项",
         "art20_6": "第二十条第（六）项", "art20_8": "第二十条第（八）项",
         "art20_9": "第二十条第（九）项"}
# Official wording where it is longer than the parser's label.
OFFICIAL_LABEL = {"partially_disclosed": "（二）部分公开（区分处理的，只计这一情形，不计其他情形）"}
APP_GROUPS = {"withheld": "（三）不予公开", "unable": "（四）无法提供",
              "not_processed": "（五）不予处理", "other_handling": "（六）其他处理"}
HEAD_SPLIT = {"商业企业": "商业\n企业", "科研机构": "科研\n机构", "社会公益组织": "社会公益\n组织",
              "法律服务机构": "法律服务\n机构"}
APPS_TOPLEFT = "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"


def _v(gold_tables: dict, table: str, row: str, col: Col) -> TCell:
    v = gold_tables.get(table, {}).get(row, {}).get(col.key)
    return TCell(fmt_cell(v, col), kind="value")


def _proactive(tables: dict, template: str) -> TableModel:
    rows: list[list[TCell]] = []
    by_group: dict[str, list[RowDef]] = {}
    for r in PROACTIVE_ROWS[template]:
        by_group.setdefault(r.group or "", []).append(r)
    for group, defs in by_group.items():
        cols = defs[0].cols
        rows.append([TCell(ART20[group], colspan=4, kind="head")])
        head = [TCell("信息内容", kind="head")]
        for i, col in enumerate(cols):
            last = i == len(cols) - 1
            head.append(TCell(col.label, colspan=(4 - len(cols) if last else 1), kind="head"))
        rows.append(head)
        for d in defs:
            row = [TCell(d.label)]
            for i, col in enumerate(d.cols):
                last = i == len(d.cols) - 1
                cell = _v(tables, "proactive", d.key, col)
                row.append(TCell(cell.text, colspan=(4 - len(d.cols) if last else 1), kind="value"))
            rows.append(row)
    return TableModel("proactive", 4, rows, (22, 16, 16, 16), (160.0, 115.0, 115.0, 115.0))


def _applications(tables: dict, template: str) -> TableModel:
    defs = APPLICATION_ROWS[template]
    parts = APPLICANT_COLS[:-1]
    org = APPLICANT_COLS[1:-1]
    rows: list[list[TCell]] = [
        [TCell(APPS_TOPLEFT, rowspan=3, colspan=3, kind="head"),
         TCell("申请人情况", colspan=7, kind="head")],
        [TCell(parts[0].label, rowspan=2, kind="head"),
         TCell("法人或其他组织", colspan=5, kind="head"),
         TCell(APPLICANT_COLS[-1].label, rowspan=2, kind="head")],
        [TCell(HEAD_SPLIT.get(c.label, c.label), kind="head") for c in org],
    ]
    n_results = sum(1 for d in defs if d.group is not None)
    group_sizes: dict[str, int] = {}
    for d in defs:
        if d.group and d.group != "results":
            group_sizes[d.group] = group_sizes.get(d.group, 0) + 1
    seen_results = False
    seen_groups: set[str] = set()
    for d in defs:
        label = OFFICIAL_LABEL.get(d.key, d.label)
        row: list[TCell] = []
        if d.group is None:
            row.append(TCell(label, colspan=3))
        else:
            if not seen_results:
                row.append(TCell("三、本年度办理结果", rowspan=n_results))
                seen_results = True
            if d.group == "results":
                row.append(TCell(label, colspan=2))
            else:
                if d.group not in seen_groups:
                    row.append(TCell(APP_GROUPS[d.group], rowspan=group_sizes[d.group]))
                    seen_groups.add(d.group)
                row.append(TCell(label))
        row.extend(_v(tables, "applications", d.key, c) for c in APPLICANT_COLS)
        rows.append(row)
    return TableModel("applications", 10, rows, (10, 14, 24) + (8,) * 7,
                      (48.0, 62.0, 150.0) + (36.0,) * 7)


def _review(tables: dict) -> TableModel:
    heads = [TCell(c.label, kind="head") for c in REVIEW_COLS]
    rows = [
        [TCell("行政复议", colspan=5, kind="head"), TCell("行政诉讼", colspan=10, kind="head")],
        [TCell(c.label, rowspan=2, kind="head") for c in REVIEW_COLS]
        + [TCell("未经复议直接起诉", colspan=5, kind="head"), TCell("复议后起诉", colspan=5, kind="head")],
        heads + heads,
        [_v(tables, "review_litigation", d.key, c) for d in REVIEW_ROWS for c in REVIEW_COLS],
    ]
    # pdf_text columns are narrow, as in a real dump: 结果维持 wraps to 结果维 / 持
    return TableModel("review_litigation", 15, rows, (6,) * 15, (34.0,) * 15)


def build_tables(gold: dict) -> dict[str, TableModel]:
    template = gold["metadata"]["template"]
    tables = gold.get("tables", {})
    return {"proactive": _proactive(tables, template),
            "applications": _applications(tables, template),
            "review_litigation": _review(tables)}


# --- the report model -------------------------------------------------------------------------

@dataclass
class Report:
    title: str
    date: str                    # YYYY-MM-DD
    issuer: str
    preamble: str
    parts: list[tuple[str, list]]  # (heading, [paragraph str | TableModel])

    @property
    def date_cn(self) -> str:
        y, m, d = (int(x) for x in self.date.split("-"))
        return f"{y}年{m}月{d}日"

    def blocks(self):
        """("title"|"date"|"para"|"heading"|"table"|"sign", payload) in reading order."""
        yield "title", self.title
        yield "date", f"发布时间：{self.date}"
        yield "para", self.preamble
        for heading, body in self.parts:
            yield "heading", heading
            for b in body:
                yield ("table", b) if isinstance(b, TableModel) else ("para", b)
        yield "sign", self.issuer
        yield "sign", self.date_cn


def build_report(gold: dict, narrative: dict[str, str]) -> Report:
    m = gold["metadata"]
    year = m["year"]
    tables = build_tables(gold)
    preamble = ("本报告根据《中华人民共和国政府信息公开条例》和国务院办公厅政府信息与政务公开办公室关于"
                "政府信息公开工作年度报告的有关要求编制。全文包括总体情况、主动公开政府信息情况、"
                "收到和处理政府信息公开申请情况、政府信息公开行政复议和行政诉讼情况、存在的主要问题及改进情况、"
                f"其他需要报告的事项。本报告所列数据的统计期限自{year}年1月1日起至{year}年12月31日止。")

    def paras(key: str) -> list:
        return [p for p in (narrative.get(key) or "").split("\n") if p.strip()]

    parts = [
        (HEADINGS["overview"], paras("overview")),
        (HEADINGS["proactive"], [tables["proactive"]]),
        (HEADINGS["applications"], [tables["applications"]]),
        (HEADINGS["review_litigation"], [tables["review_litigation"]]),
        (HEADINGS["problems"], paras("problems")),
        (HEADINGS["other"], paras("other")),
    ]
    return Report(m["title"], m["publication_date"], m["issuer"], preamble, parts)


# --- display width (pdf_text) -----------------------------------------------------------------

def dwidth(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in s)


_NO_LINE_START = frozenset("。，、；：？！）》」』”’")


def wrap(text: str, width: int) -> list[str]:
    """Wrap at a display width; CJK breaks anywhere, ASCII words and numbers stay whole."""
    tokens = re.findall(r"[A-Za-z0-9.,%+\-/:@]+|.", text)
    lines, cur, w = [], "", 0
    for tok in tokens:
        tw = dwidth(tok)
        # no line starts with closing punctuation (Word's kinsoku rules): it overhangs
        if cur and w + tw > width and tok not in _NO_LINE_START:
            lines.append(cur)
            cur, w = "", 0
            if tok == " ":
                continue
        cur += tok
        w += tw
    if cur:
        lines.append(cur)
    return lines or [""]


# --- HTML -------------------------------------------------------------------------------------

_TD_STYLE = ("padding: 5px; border: 1px solid windowtext; word-break: break-all;")


def _html_cell_content(cell: TCell, i: int) -> str:
    if cell.kind == "value":
        if not cell.text:
            return ("<p>&nbsp;</p>", "<p><br/></p>", "")[i % 3]
        t = html.escape(cell.text)
        return (f"<p>&nbsp;{t}</p>", f"<p>{t}</p>", f"<p>{t}&nbsp; &nbsp;</p>")[i % 3]
    pieces = cell.text.split("\n")
    if cell.text == "三、本年度办理结果":
        pieces = ["三、本", "年度办", "理结果"]
    if len(pieces) > 1:
        pad = "\n " + "&nbsp; " * 8
        return "".join(f"<p><span>{html.escape(p)}</span>{pad}</p>" for p in pieces)
    if cell.kind == "head" and len(cell.text) == 4 and cell.text in {c.label for c in REVIEW_COLS} and i % 2:
        return f"<p>{cell.text[:2]}<br/>{cell.text[2:]}</p>"
    return f"<p>{html.escape(cell.text)}</p>"


def html_table(t: TableModel) -> str:
    out = ['<table style="font-family: \'Times New Roman\';font-size: 13px;border-collapse: collapse;'
           'border: none;margin: 0 auto;" cellspacing="0" align="center" border="1"><tbody>']
    by_row: dict[int, list[TCell]] = {}
    for r, _c, cell in t.placed():
        by_row.setdefault(r, []).append(cell)
    i = 0
    for r in range(len(t.rows)):
        cls = ' class="firstRow"' if r == 0 else ""
        out.append(f'<tr style="height: 19px"{cls}>')
        for cell in by_row.get(r, []):
            attrs = ""
            if cell.colspan > 1:
                attrs += f' colspan="{cell.colspan}"'
            if cell.rowspan > 1:
                attrs += f' rowspan="{cell.rowspan}"'
            out.append(f'<td{attrs} style="{_TD_STYLE}" valign="center">'
                       f'{_html_cell_content(cell, i)}</td>')
            i += 1
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def html_article_body(rep: Report) -> str:
    """The CMS article: a TRS_Editor div with <p> paragraphs and <strong> headings."""
    p = '<p style="text-indent: 2em;">'
    out = ['<div class="TRS_Editor">']
    for kind, x in rep.blocks():
        if kind in ("title", "date"):
            continue
        if kind == "para":
            out.append(f"{p}{html.escape(x)}</p>")
        elif kind == "heading":
            out.append(f'{p}<strong><span style="font-family: 黑体, SimHei;">{html.escape(x)}</span></strong></p>')
        elif kind == "table":
            out.append(html_table(x))
        elif kind == "sign":
            out.append(f'<p style="text-align: right;">{html.escape(x)}</p>')
    out.append("<p>&nbsp;</p><p><br/></p></div>")
    return "\n".join(out)


def render_html_article(rep: Report) -> str:
    t = html.escape(rep.title)
    return ("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\"/>\n"
            f"<title>{t}</title>\n</head>\n<body>\n<div class=\"article\">\n"
            f"<h1 class=\"article_title\">{t}</h1>\n"
            f"<p class=\"article_info\">发布时间：{rep.date}</p>\n"
            f"{html_article_body(rep)}\n</div>\n</body>\n</html>\n")


def _site(gold: dict) -> str:
    m = gold["metadata"]
    place = m.get("county") or m.get("city") or m.get("province") or ""
    return f"{place}人民政府" if place else "人民政府门户网站"


def render_html_page(rep: Report, gold: dict) -> str:
    site = html.escape(_site(gold))
    t = html.escape(rep.title)
    issuer = html.escape(rep.issuer)
    nav = "".join(f'<li><a href="/{k}/" target="_self">{v}</a></li>' for k, v in (
        ("index", "首页"), ("zwgk", "政务公开"), ("zwfw", "政务服务"), ("hdjl", "互动交流"),
        ("ztzl", "专题专栏"), ("zjwm", "走进我们")))
    sub = "".join(f'<li><a href="/zwgk/{k}/">{v}</a></li>' for k, v in (
        ("zfxxgkzn", "政府信息公开指南"), ("zfxxgkzd", "政府信息公开制度"), ("fdzdgknr", "法定主动公开内容"),
        ("zfxxgknb", "政府信息公开年报"), ("ysqgk", "依申请公开")))
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8"/>
<meta http-equiv="X-UA-Compatible" content="IE=Edge"/>
<meta name="SiteName" content="{site}"/>
<meta name="SiteDomain" content="www.example.gov.cn"/>
<meta name="ColumnName" content="政府信息公开年报"/>
<meta name="ColumnType" content="政府信息公开年报"/>
<meta name="ArticleTitle" content="{t}"/>
<meta name="PubDate" content="{rep.date} 09:30"/>
<meta name="ContentSource" content="{issuer}"/>
<meta name="Keywords" content="政府信息公开,年度报告"/>
<title>{t}_政府信息公开年报_{site}</title>
<link rel="stylesheet" type="text/css" href="/images/common.css"/>
<script type="text/javascript">var _hmt = _hmt || []; var pageTitle = "{t}";</script>
</head>
<body>
<div class="topbar"><div class="row">
  <a href="https://www.gov.cn/" target="_blank">国务院</a> <a href="/sheng/" target="_blank">省政府</a>
  <span class="date" id="today"></span> <a href="javascript:;">无障碍浏览</a> <a href="javascript:;">长者模式</a>
</div></div>
<div class="header"><div class="row">
  <div class="logo"><a href="/"><img src="/images/logo.png" alt="{site}"/></a></div>
  <form class="search" name="searchform" action="/search/" method="get" target="_blank">
    <input type="text" name="q" class="search_input" placeholder="请输入关键字"/>
    <input type="hidden" name="siteid" value="4"/>
    <button type="submit" class="search_btn">搜索</button>
  </form>
</div></div>
<div class="nav"><ul>{nav}</ul></div>
<div class="main row">
  <div class="sidebar"><div class="side_title">政府信息公开</div><ul>{sub}</ul></div>
  <div class="content">
    <div class="location">当前位置：<a href="/">首页</a> &gt; <a href="/zwgk/">政务公开</a> &gt; <a href="/zwgk/zfxxgk/">政府信息公开</a> &gt; <a href="/zwgk/zfxxgk/zfxxgknb/">政府信息公开年报</a></div>
    <div class="article">
      <h1 class="article_title">{t}</h1>
      <div class="article_info"><span>发布时间：{rep.date} 09:30</span> <span>来源：{issuer}</span> <span>浏览次数：<em id="hits"></em></span> <span class="fontsize">字号：<a href="javascript:;">大</a> <a href="javascript:;">中</a> <a href="javascript:;">小</a></span></div>
      <div class="article_content">
{html_article_body(rep)}
      </div>
      <div class="article_share">分享到：<a href="javascript:;">微信</a> <a href="javascript:;">微博</a> <a href="javascript:;">QQ空间</a></div>
      <div class="article_btn"><a href="javascript:window.print();">【打印本页】</a> <a href="javascript:window.close();">【关闭窗口】</a></div>
    </div>
  </div>
</div>
<div class="footer"><div class="row">
  <div class="footer_links"><a href="/wzdt/">网站地图</a> | <a href="/lxwm/">联系我们</a> | <a href="/yssm/">隐私声明</a> | <a href="/jczx/">纠错</a></div>
  <p>主办单位：{site}办公室　承办单位：{site}信息中心</p>
  <p>网站标识码：3501230001　<a href="https://beian.miit.gov.cn/" target="_blank">闽ICP备05012345号-1</a>　<img src="/images/ga.png" alt=""/>闽公网安备 35012302000123号</p>
  <p>建议使用1366×768分辨率浏览</p>
</div></div>
<script type="text/javascript" src="/images/jquery.min.js"></script>
<script type="text/javascript">document.getElementById("today").innerHTML = new Date().toLocaleDateString();</script>
</body>
</html>
"""


# --- DOCX -------------------------------------------------------------------------------------

def render_docx(rep: Report) -> bytes:
    import docx
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    d = docx.Document()
    style = d.styles["Normal"]
    style.font.size = Pt(10.5)
    for kind, x in rep.blocks():
        if kind == "title":
            p = d.add_paragraph()
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            run = p.add_run(x)
            run.bold = True
            run.font.size = Pt(16)
        elif kind == "heading":
            d.add_paragraph().add_run(x).bold = True
        elif kind in ("para", "date"):
            d.add_paragraph(x)
        elif kind == "sign":
            d.add_paragraph(x).alignment = WD_ALIGN_PARAGRAPH.RIGHT
        elif kind == "table":
            t: TableModel = x
            table = d.add_table(rows=len(t.rows), cols=t.ncols)
            table.style = "Table Grid"
            table.alignment = WD_TABLE_ALIGNMENT.CENTER
            placed = t.placed()
            # merge first (merging moves the cells' paragraphs); the merges are disjoint, so
            # the corner cells of one are untouched by the others: one lookup list serves all
            before = table._cells
            for r, c, cell in placed:
                if cell.rowspan > 1 or cell.colspan > 1:
                    r2, c2 = r + cell.rowspan - 1, c + cell.colspan - 1
                    before[r * t.ncols + c].merge(before[r2 * t.ncols + c2])
            grid = table._cells  # table.cell() rebuilds this list on every call
            for r, c, cell in placed:
                tc = grid[r * t.ncols + c]
                pieces = cell.text.split("\n")
                tc.paragraphs[0].text = pieces[0]
                for piece in pieces[1:]:
                    tc.add_paragraph(piece)
                if cell.kind != "label":
                    for para in tc.paragraphs:
                        para.alignment = WD_ALIGN_PARAGRAPH.CENTER
            d.add_paragraph()
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


# --- PDF --------------------------------------------------------------------------------------

FONT = "STSong-Light"


@lru_cache(maxsize=1)
def _register_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def render_pdf(rep: Report) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER, TA_RIGHT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = _register_font()
    body = ParagraphStyle("body", fontName=font, fontSize=10.5, leading=17, firstLineIndent=21,
                          wordWrap="CJK")
    title = ParagraphStyle("title", parent=body, fontSize=15, leading=22, alignment=TA_CENTER,
                           firstLineIndent=0, spaceAfter=6)
    date = ParagraphStyle("date", parent=body, alignment=TA_CENTER, firstLineIndent=0)
    heading = ParagraphStyle("heading", parent=body, fontSize=11.5, spaceBefore=6)
    sign = ParagraphStyle("sign", parent=body, alignment=TA_RIGHT, firstLineIndent=0)
    cell_label = ParagraphStyle("cell", fontName=font, fontSize=8, leading=10, wordWrap="CJK")
    cell_center = ParagraphStyle("cellc", parent=cell_label, alignment=TA_CENTER)

    story: list = []
    for kind, x in rep.blocks():
        if kind == "title":
            story.append(Paragraph(xml_escape(x), title))
        elif kind == "date":
            story.append(Paragraph(xml_escape(x), date))
        elif kind == "para":
            story.append(Paragraph(xml_escape(x), body))
        elif kind == "heading":
            story.append(Paragraph(xml_escape(x), heading))
        elif kind == "sign":
            story.append(Paragraph(xml_escape(x), sign))
        elif kind == "table":
            t: TableModel = x
            data: list[list] = [["" for _ in range(t.ncols)] for _ in t.rows]
            cmds: list[tuple] = [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 2), ("RIGHTPADDING", (0, 0), (-1, -1), 2),
                ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
            for r, c, cell in t.placed():
                if cell.text:
                    style = cell_label if cell.kind == "label" else cell_center
                    data[r][c] = Paragraph(xml_escape(cell.text).replace("\n", "<br/>"), style)
                if cell.rowspan > 1 or cell.colspan > 1:
                    cmds.append(("SPAN", (c, r), (c + cell.colspan - 1, r + cell.rowspan - 1)))
            table = Table(data, colWidths=list(t.pdf_widths), hAlign="CENTER")
            table.setStyle(TableStyle(cmds))
            story.extend([Spacer(1, 4), table, Spacer(1, 6)])
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm,
                            topMargin=20 * mm, bottomMargin=20 * mm, title=rep.title,
                            author=rep.issuer, invariant=1)
    doc.build(story)
    return buf.getvalue()


# --- pdftotext -layout ------------------------------------------------------------------------

_PT_MARGIN = 4
_PT_GAP = 2
_PT_PAGE = 58
_PT_LINE = 80   # display columns of a text line


def _layout_table(t: TableModel) -> list[list[str]]:
    """The table as `pdftotext -layout` gives it: each cell's text at its column, once."""
    x0 = [_PT_MARGIN]
    for w in t.text_widths:
        x0.append(x0[-1] + w + _PT_GAP)
    placed = t.placed()
    wrapped: dict[tuple[int, int], list[str]] = {}
    for r, c, cell in placed:
        width = x0[c + cell.colspan] - x0[c] - _PT_GAP
        lines: list[str] = []
        for piece in cell.text.split("\n"):
            if piece:
                lines.extend(wrap(piece, width))
        wrapped[(r, c)] = lines
    heights = [1] * len(t.rows)
    for r, c, cell in placed:
        if cell.rowspan == 1:
            heights[r] = max(heights[r], len(wrapped[(r, c)]))
    for r, c, cell in placed:
        if cell.rowspan > 1:
            have = sum(heights[r:r + cell.rowspan])
            need = len(wrapped[(r, c)])
            if need > have:
                heights[r + cell.rowspan - 1] += need - have
    starts = [0]
    for h in heights:
        starts.append(starts[-1] + h)
    frags: list[list[tuple[int, str]]] = [[] for _ in range(starts[-1])]
    for r, c, cell in placed:
        lines = wrapped[(r, c)]
        if not lines:
            continue
        top, span = starts[r], starts[r + cell.rowspan] - starts[r]
        first = top + (span - len(lines)) // 2
        width = x0[c + cell.colspan] - x0[c] - _PT_GAP
        for i, ln in enumerate(lines):
            x = x0[c]
            if cell.kind != "label":
                x += max(0, (width - dwidth(ln)) // 2)
            frags[first + i].append((x, ln))
    lines_out = []
    for line_frags in frags:
        s, w = "", 0
        for x, text in sorted(line_frags):
            pad = x - w if x - w >= (_PT_GAP if s else 0) else (_PT_GAP if s else 0)
            s += " " * pad + text
            w += pad + dwidth(text)
        lines_out.append(s.rstrip())
    # Blocks of rows a page break cannot fall into (a row, or the rows a rowspan cell
    # binds together: the PDF never splits a merged cell), each as its lines;
    # pdftotext drops lines that hold nothing.
    bound = [r for r in range(len(t.rows))]
    for r, _c, cell in placed:
        bound[r] = max(bound[r], r + cell.rowspan - 1)
    blocks, first, end = [], 0, 0
    for r in range(len(t.rows)):
        end = max(end, bound[r])
        if r == end:
            blocks.append([ln for ln in lines_out[starts[first]:starts[r + 1]] if ln.strip()])
            first, end = r + 1, r + 1
    return blocks


def render_pdf_text(rep: Report) -> str:
    chunks: list[list[str]] = []  # units that are not split over a page break
    for kind, x in rep.blocks():
        if kind == "title":
            w = dwidth(x)
            chunks.append([" " * max(0, (_PT_LINE - w) // 2) + x, ""])
        elif kind == "date":
            chunks.append([" " * max(0, (_PT_LINE - dwidth(x)) // 2) + x, ""])
        elif kind == "heading":
            chunks.append([" " * (_PT_MARGIN + 4) + x])
        elif kind == "para":
            lines = wrap(x, _PT_LINE - _PT_MARGIN - 4)
            # the first line is indented by two characters, the rest flush left
            first = " " * (_PT_MARGIN + 4) + lines[0]
            rest = wrap("".join(lines[1:]), _PT_LINE - _PT_MARGIN) if len(lines) > 1 else []
            chunks.extend([[first]] + [[" " * _PT_MARGIN + ln] for ln in rest])
        elif kind == "table":
            chunks.append([""])
            t: TableModel = x
            # a page break falls between table rows, never inside a row or a merged cell
            chunks.extend(block for block in _layout_table(t) if block)
            chunks.append([""])
        elif kind == "sign":
            chunks.append([" " * (_PT_LINE - dwidth(x)) + x])
    out: list[str] = []
    n = 0
    for chunk in chunks:
        if n + len(chunk) > _PT_PAGE:
            out.append("\f")
            n = 0
        out.extend(chunk)
        n += len(chunk)
    text = "\n".join(out).replace("\n\f\n", "\n\f")
    return text + "\n\f"


# --- plain-text shapes ------------------------------------------------------------------------

def _text_lines(rep: Report, table_lines) -> list[str]:
    """Text lines of a text export: one line per paragraph, tables as ``table_lines`` says."""
    out: list[str] = []
    for kind, x in rep.blocks():
        if kind == "table":
            out.extend(table_lines(x))
        else:
            out.append(x)
    return out


def cell_per_line_table(t: TableModel) -> list[str]:
    """docx→text: each Word cell on its own tab-indented line, rows split by a blank line.

    A horizontal merge is one Word cell (gridSpan); a vertically merged cell continues
    in every row it covers as a cell of its own, written as a line holding just a tab.
    """
    out = [""]
    grid = t.grid()
    for r, row in enumerate(grid):
        for c, (cell, r0, c0) in enumerate(row):
            if c != c0:
                continue  # covered horizontally: part of the same Word cell
            out.append("\t" + (cell.flat if r == r0 else ""))
        out.append("")
    out.append("")
    return out


def tab_rows_table(t: TableModel) -> list[str]:
    return [""] + ["\t".join(row) for row in t.text_grid()] + [""]


def pipe_table(t: TableModel) -> list[str]:
    return [""] + ["| " + " | ".join(row) + " |" for row in t.text_grid()] + [""]


def pipe_bare_table(t: TableModel) -> list[str]:
    return [""] + [" | ".join(row) + " |" for row in t.text_grid()] + [""]


def markdown_table(t: TableModel) -> list[str]:
    rows = t.text_grid()
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join("---" for _ in rows[0]) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return [""] + lines + [""]


def render_cell_per_line(rep: Report) -> str:
    return "\n".join(_text_lines(rep, cell_per_line_table)) + "\n"


def render_tab_rows(rep: Report) -> str:
    return "\n".join(_text_lines(rep, tab_rows_table)) + "\n"


def render_pipe(rep: Report) -> str:
    return "\n".join(_text_lines(rep, pipe_table)) + "\n"


def render_pipe_bare(rep: Report) -> str:
    return "\n".join(_text_lines(rep, pipe_bare_table)) + "\n"


def render_blank_separated(rep: Report) -> str:
    """Scraped HTML: every non-empty piece of text on its own line, blank lines between."""
    items: list[str] = []
    for kind, x in rep.blocks():
        if kind == "table":
            for _r, _c, cell in x.placed():
                items.extend(p for p in cell.text.split("\n") if p)
        else:
            items.append(x)
    return "\n\n".join(items) + "\n"


def render_one_line(rep: Report) -> str:
    items: list[str] = []
    for kind, x in rep.blocks():
        if kind == "table":
            items.extend(cell.spaced for _r, _c, cell in x.placed() if cell.text)
        else:
            items.append(x)
    return " ".join(items) + "\n"


def render_markdown(rep: Report) -> str:
    out: list[str] = []
    for kind, x in rep.blocks():
        if kind == "title":
            out += [f"# {x}", ""]
        elif kind == "heading":
            out += [f"## {x}", ""]
        elif kind == "table":
            out += markdown_table(x)[1:]
        else:
            out += [x, ""]
    return "\n".join(out)


def _gbk(text: str) -> bytes:
    return text.encode("gbk", errors="replace")


# --- render -----------------------------------------------------------------------------------

def render(gold: dict, narrative: dict[str, str], shapes: tuple[str, ...] = SHAPES
           ) -> dict[str, tuple[str, bytes]]:
    """Shape name → (file suffix, file bytes) for the gold report and its narrative."""
    rep = build_report(gold, narrative)
    out: dict[str, tuple[str, bytes]] = {}
    utf8 = lambda s: s.encode("utf-8")  # noqa: E731
    makers = {
        "html_article": lambda: (".html", utf8(render_html_article(rep))),
        "html_page": lambda: (".html", utf8(render_html_page(rep, gold))),
        "docx": lambda: (".docx", render_docx(rep)),
        "pdf": lambda: (".pdf", render_pdf(rep)),
        "pdf_text": lambda: (".txt", utf8(render_pdf_text(rep))),
        "cell_per_line": lambda: (".txt", utf8(render_cell_per_line(rep))),
        "tab_rows": lambda: (".txt", utf8(render_tab_rows(rep))),
        "pipe": lambda: (".txt", utf8(render_pipe(rep))),
        "pipe_bare": lambda: (".txt", utf8(render_pipe_bare(rep))),
        "blank_separated": lambda: (".txt", utf8(render_blank_separated(rep))),
        "one_line": lambda: (".txt", utf8(render_one_line(rep))),
        "markdown": lambda: (".md", utf8(render_markdown(rep))),
        "gbk": lambda: (".txt", _gbk(render_tab_rows(rep))),
    }
    for name in shapes:
        out[name] = makers[name]()
    return out


# --- scoring ----------------------------------------------------------------------------------

OUTCOMES = ("right", "wrong", "null", "misaligned")


@dataclass
class Score:
    """What the parser made of one file, cell by cell, against a gold."""
    cells: dict[str, tuple[str, object, object, str | None]] = field(default_factory=dict)
    # "table.row.col" → (outcome, gold value, parsed value, parsed status)
    issuer: tuple[bool, str | None] = (False, None)
    year: tuple[bool, int | None] = (False, None)
    region: tuple[bool, str | None] = (False, None)
    error: str | None = None

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.cells.values() if o[0] == outcome)

    def where(self, *outcomes: str) -> dict[str, tuple]:
        return {k: v for k, v in self.cells.items() if v[0] in outcomes}


def gold_cells(gold: dict) -> dict[str, object]:
    """"table.row.col" → gold value, for every cell of the gold's tables (none before 2019)."""
    if gold["metadata"].get("template") not in ("2019", "2021"):
        return {}
    return {f"{t}.{r}.{c}": v
            for t, rows in gold.get("tables", {}).items()
            for r, cols in rows.items()
            for c, v in cols.items()}


def same_value(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def classify(gold_value: object, value: object, status: str | None) -> str:
    """right / wrong / null / misaligned for one cell.

    * misaligned: the parser says so (status misaligned), or has no such cell (missing);
    * wrong: a value where the gold has another value or a blank — the worst bug;
    * right: the value equals the gold, or both are blank and the status is ``empty``;
    * null: no value otherwise (where the gold has one, or a blank read with another status).
    """
    if status in ("misaligned", "missing", None):
        return "misaligned"
    if value is not None:
        return "right" if same_value(gold_value, value) else "wrong"
    if gold_value is None and status == "empty":
        return "right"
    return "null"


def score(path: Path | str, gold: dict, skip: set[str] | frozenset[str] = frozenset()) -> Score:
    """Read and parse ``path`` with the library API and score it against ``gold``."""
    from gkextract.ingest import parse_document
    from gkextract.read import read_document

    s = Score()
    expected = {k: v for k, v in gold_cells(gold).items() if k not in skip}
    try:
        parsed = parse_document(read_document(path))
    except Exception as e:  # noqa: BLE001 - a bench: any failure is a finding
        s.error = f"{type(e).__name__}: {e}"
        s.cells = {k: ("misaligned", v, None, None) for k, v in expected.items()}
        return s
    for key, gv in expected.items():
        t, r, c = key.split(".")
        table = parsed.tables.get(t)
        try:
            cell = table.cell(r, c) if table is not None else None
        except KeyError:
            cell = None
        if cell is None:
            s.cells[key] = ("misaligned", gv, None, "missing")
        else:
            s.cells[key] = (classify(gv, cell.value, cell.status), gv, cell.value, cell.status)
    m, gm = parsed.metadata, gold["metadata"]
    s.issuer = (m.issuer == gm["issuer"], m.issuer)
    s.year = (m.year == gm["year"], m.year)
    reg = m.region
    got = (reg.province, reg.city, reg.county) if reg else None
    s.region = (got == (gm.get("province"), gm.get("city"), gm.get("county")),
                "/".join(x or "-" for x in got) if got else None)
    return s
