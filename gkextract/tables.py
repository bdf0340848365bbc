"""The three statistical tables, parsed by rule into (table, row, column) cells.

Text arrives in many layouts: one cell per line (docx export), tab-separated
rows (PDF/OCR and the HTML/DOCX/PDF readers), pipe rows with or without a
leading ``|``, space-separated rows (PDF text dumps), cells separated by blank
lines with some cells simply missing (scraped HTML), or a whole table on one
line with the digits of neighbouring cells run together (crawler dumps).

Every layout becomes one stream of tokens — labels, values, blanks and row
breaks.  Labels are read with their numbering (一、 （三） 2.) so that a row is
the template row its whole label and position name, never the first keyword
that fits.  A row's values are then lined up with the template's columns:
every reading the layout allows is enumerated (padding from merged cells,
digits run together, blank cells a lossy layout cannot show) and the row is
accepted only when exactly one reading remains — where the template has a row
identity (总计 = the sum of its parts) it is used to pick among readings.
Anything else is ``misaligned``: the raw cells are kept and nothing is shifted.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations, product
from typing import Callable, Iterable, Literal, Sequence

from .normalize import normalize
from .numbers import CellValue, cn_to_int, parse_cell

# --- templates --------------------------------------------------------------------------


@dataclass(frozen=True)
class Col:
    key: str
    label: str
    money: bool = False


@dataclass(frozen=True)
class RowDef:
    key: str
    label: str
    keywords: tuple[str, ...]    # distinctive words of the label, for labels without numbering
    group: str | None = None     # the heading the row sits under
    ordinal: int | None = None   # its "1." number under that heading
    cols: tuple[Col, ...] = ()
    marker: tuple[str, int] | None = None   # its own numbering: ("top", 1) 一、 / ("paren", 3) （三）


_T1_2019_COUNT = (Col("new_made", "本年新制作数量"), Col("new_published", "本年新公开数量"),
                  Col("total_published", "对外公开总数量"))
_T1_2021_COUNT = (Col("issued", "本年制发件数"), Col("repealed", "本年废止件数"),
                  Col("in_force", "现行有效件数"))
_T1_2019_ITEMS = (Col("prev_year_items", "上一年项目数量"), Col("change", "本年增/减"),
                  Col("decisions", "处理决定数量"))
_T1_2021_DECISIONS = (Col("decisions", "本年处理决定数量"),)

PROACTIVE_ROWS: dict[str, tuple[RowDef, ...]] = {
    "2019": (
        RowDef("rules", "规章", ("规章",), "art20_1", cols=_T1_2019_COUNT),
        RowDef("normative_documents", "规范性文件", ("规范性文件",), "art20_1", cols=_T1_2019_COUNT),
        RowDef("administrative_licensing", "行政许可", ("行政许可",), "art20_5", cols=_T1_2019_ITEMS),
        RowDef("other_services", "其他对外管理服务事项", ("其他对外管理服务事项", "对外管理服务事项"),
               "art20_5", cols=_T1_2019_ITEMS),
        RowDef("administrative_penalty", "行政处罚", ("行政处罚",), "art20_6", cols=_T1_2019_ITEMS),
        RowDef("administrative_enforcement", "行政强制", ("行政强制",), "art20_6", cols=_T1_2019_ITEMS),
        RowDef("administrative_fees", "行政事业性收费", ("行政事业性收费", "事业性收费"), "art20_8",
               cols=(Col("prev_year_items", "上一年项目数量"), Col("change", "本年增/减"))),
        RowDef("centralized_procurement", "政府集中采购", ("政府集中采购", "集中采购"), "art20_9",
               cols=(Col("procurement_items", "采购项目数量"),
                     Col("procurement_amount", "采购总金额", money=True))),
    ),
    "2021": (
        RowDef("rules", "规章", ("规章",), "art20_1", cols=_T1_2021_COUNT),
        RowDef("normative_documents", "行政规范性文件", ("规范性文件",), "art20_1", cols=_T1_2021_COUNT),
        RowDef("administrative_licensing", "行政许可", ("行政许可",), "art20_5", cols=_T1_2021_DECISIONS),
        RowDef("administrative_penalty", "行政处罚", ("行政处罚",), "art20_6", cols=_T1_2021_DECISIONS),
        RowDef("administrative_enforcement", "行政强制", ("行政强制",), "art20_6", cols=_T1_2021_DECISIONS),
        RowDef("administrative_fees", "行政事业性收费", ("行政事业性收费", "事业性收费"), "art20_8",
               cols=(Col("fee_amount", "本年收费金额（单位：万元）", money=True),)),
    ),
}

APPLICANT_COLS = (
    Col("natural_person", "自然人"), Col("commercial", "商业企业"), Col("research", "科研机构"),
    Col("social_welfare", "社会公益组织"), Col("legal_service", "法律服务机构"),
    Col("other_org", "其他"), Col("total", "总计"),
)
APPLICANT_PARTS = tuple(c.key for c in APPLICANT_COLS[:-1])


@dataclass(frozen=True)
class GroupDef:
    """A label of table 2 that heads rows and holds no values itself."""

    key: str
    keywords: tuple[str, ...]
    marker: tuple[str, int]


_T2_GROUPS: dict[str, tuple[GroupDef, ...]] = {
    "2019": (
        GroupDef("results", ("本年度办理结果", "办理结果"), ("top", 3)),
        GroupDef("withheld", ("不予公开",), ("paren", 3)),
        GroupDef("unable", ("无法提供",), ("paren", 4)),
        GroupDef("not_processed", ("不予处理",), ("paren", 5)),
    ),
}
_T2_GROUPS["2021"] = _T2_GROUPS["2019"] + (GroupDef("other_handling", ("其他处理",), ("paren", 6)),)


def _t2(key: str, label: str, keywords: tuple[str, ...], group: str | None = None,
        ordinal: int | None = None, marker: tuple[str, int] | None = None) -> RowDef:
    return RowDef(key, label, keywords, group, ordinal, APPLICANT_COLS, marker)


_T2_COMMON_HEAD = (
    _t2("new_received", "一、本年新收政府信息公开申请数量", ("本年新收",), marker=("top", 1)),
    _t2("carried_over", "二、上年结转政府信息公开申请数量", ("上年结转",), marker=("top", 2)),
    _t2("disclosed", "（一）予以公开", ("予以公开",), "results", marker=("paren", 1)),
    _t2("partially_disclosed", "（二）部分公开", ("部分公开",), "results", marker=("paren", 2)),
    _t2("withheld_state_secret", "1.属于国家秘密", ("国家秘密",), "withheld", 1),
    _t2("withheld_prohibited", "2.其他法律行政法规禁止公开", ("禁止公开", "其他法律行政法规"), "withheld", 2),
    _t2("withheld_three_safety", "3.危及“三安全一稳定”", ("三安全", "一稳定"), "withheld", 3),
    _t2("withheld_third_party", "4.保护第三方合法权益", ("第三方",), "withheld", 4),
    _t2("withheld_internal", "5.属于三类内部事务信息", ("三类内", "内部事务"), "withheld", 5),
    _t2("withheld_process", "6.属于四类过程性信息", ("四类过", "过程性"), "withheld", 6),
    _t2("withheld_enforcement_file", "7.属于行政执法案卷", ("执法案卷", "行政执"), "withheld", 7),
    _t2("withheld_admin_query", "8.属于行政查询事项", ("行政查",), "withheld", 8),
    _t2("unable_not_held", "1.本机关不掌握相关政府信息", ("不掌",), "unable", 1),
    _t2("unable_needs_creation", "2.没有现成信息需要另行制作", ("没有现成", "另行制作"), "unable", 2),
    _t2("unable_unclear", "3.补正后申请内容仍不明确", ("补正后", "仍不明确"), "unable", 3),
    _t2("not_processed_petition", "1.信访举报投诉类申请", ("信访", "举报投诉"), "not_processed", 1),
    _t2("not_processed_repeat", "2.重复申请", ("重复申请",), "not_processed", 2),
    _t2("not_processed_publication", "3.要求提供公开出版物", ("出版物", "版物"), "not_processed", 3),
    # Not "无正当理由": （六）1. of the 2021 template says it too.
    _t2("not_processed_mass_repeat", "4.无正当理由大量反复申请", ("大量反复",), "not_processed", 4),
    _t2("not_processed_confirmation", "5.要求行政机关确认或重新出具已获取信息", ("重新出具", "确认或"),
        "not_processed", 5),
)
_T2_TAIL = (
    _t2("total_handled", "（七）总计", ("总计",), "results", marker=("paren", 7)),
    _t2("carried_forward", "四、结转下年度继续办理", ("结转下年", "下年度继续"), marker=("top", 4)),
)
APPLICATION_ROWS: dict[str, tuple[RowDef, ...]] = {
    "2019": _T2_COMMON_HEAD
    + (_t2("other_handling", "（六）其他处理", ("其他处理",), "results", marker=("paren", 6)),) + _T2_TAIL,
    "2021": _T2_COMMON_HEAD + (
        _t2("other_overdue_correction", "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
            ("逾期不补正", "不补正", "申请人无正当理由"), "other_handling", 1),
        _t2("other_overdue_fee", "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
            ("缴纳费用", "收费通知", "申请人逾期"), "other_handling", 2),
        _t2("other_misc", "3.其他", (), "other_handling", 3),
    ) + _T2_TAIL,
}
# Rows whose sum is (七)总计, per template.
RESULT_ROWS = {
    t: tuple(r.key for r in rows if r.key not in ("new_received", "carried_over", "total_handled",
                                                   "carried_forward"))
    for t, rows in APPLICATION_ROWS.items()
}

REVIEW_COLS = (Col("upheld", "结果维持"), Col("corrected", "结果纠正"), Col("other", "其他结果"),
               Col("pending", "尚未审结"), Col("total", "总计"))
REVIEW_ROWS = (
    RowDef("administrative_review", "行政复议", (), cols=REVIEW_COLS),
    RowDef("litigation_direct", "行政诉讼·未经复议直接起诉", (), cols=REVIEW_COLS),
    RowDef("litigation_after_review", "行政诉讼·复议后起诉", (), cols=REVIEW_COLS),
)


# --- results ----------------------------------------------------------------------------

CellStatusT = Literal["ok", "empty", "not_applicable", "unparsed", "misaligned", "missing"]
RowStatus = Literal["ok", "misaligned", "missing"]
TableStatus = Literal["ok", "partial", "misaligned", "missing"]


@dataclass(frozen=True)
class Cell:
    table: str
    row_key: str
    col_key: str
    row_label: str
    col_label: str
    raw: str | None
    value: int | float | None
    unit: str | None
    status: CellStatusT


@dataclass
class Row:
    table: str
    key: str
    label: str | None            # the label as written in the report
    status: RowStatus
    raw_cells: list[str]
    note: str | None = None


@dataclass
class StatTable:
    key: str
    template: str | None
    layout: str | None
    status: TableStatus
    rows: list[Row] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _index: dict[tuple[str, str], Cell] = field(default_factory=dict, init=False, repr=False, compare=False)

    def value(self, row: str, col: str) -> int | float | None:
        return self.cell(row, col).value

    def cell(self, row: str, col: str) -> Cell:
        if len(self._index) != len(self.cells):
            self._index = {(c.row_key, c.col_key): c for c in self.cells}
        try:
            return self._index[(row, col)]
        except KeyError:
            raise KeyError((self.key, row, col)) from None

    def row(self, key: str) -> Row:
        for r in self.rows:
            if r.key == key:
                return r
        raise KeyError((self.key, key))


# --- tokens -----------------------------------------------------------------------------

TokKind = Literal["label", "value", "empty", "break"]
# How a token was delimited.  "cell": a whole cell of a lossless layout (tabs, pipes,
# one cell per line); "glued": a number written against a label with no separator;
# "space": a piece of a space-separated line; "line": a line of a blank-separated layout.
# Layouts that separate by space or blank line cannot show a blank cell: they are lossy.
Sep = Literal["cell", "glued", "space", "line"]


@dataclass(frozen=True)
class Token:
    kind: TokKind
    raw: str = ""
    compact: str = ""          # labels: normalised, without spaces — what labels are matched on
    sep: Sep = "cell"
    col: float | None = None   # space-separated rows: where the value sits on its line (display columns)

    @property
    def lossy(self) -> bool:
        return self.sep in ("space", "line")


_BREAK = Token("break")
# A number in running table text: digits (with a sign, thousands commas, decimals, a
# money unit).  Not a number: a year or date (2019年), a count with a measure word in
# a note (5条), a percentage, "第2".
_NUM_IN_TEXT = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:万元|亿元|元)?")
_NOT_A_CELL_AFTER = set("年月日号时%余多个次人名家期场条件")
_ORDINAL_AFTER = ".、"


def _split_glued(text: str) -> list[tuple[str, str]]:
    """Cut a stretch of text into ("label", …) and ("value", …) pieces.

    Crawler dumps run labels and numbers together ("规章000规范性文件898989",
    "…00000002.其他法律…").  An ordinal before a label ("2.其他") stays with the
    label, peeled off the end of a digit run when the two are run together.
    """
    out: list[tuple[str, str]] = []
    label_start = 0
    for m in _NUM_IN_TEXT.finditer(text):
        s, e = m.span()
        before = text[s - 1] if s else ""
        after = text[e] if e < len(text) else ""
        token = m.group()
        if before == "第" or (after and after in _NOT_A_CELL_AFTER):
            continue
        if after and after in _ORDINAL_AFTER and (e + 1 >= len(text) or not text[e + 1].isdigit()):
            digits = token.lstrip("+-")
            if not digits.isdigit():
                continue
            if len(digits) == 1:
                continue  # "2.其他…": an ordinal, part of the label
            e -= 1        # "00000002.其他…": seven values, then the ordinal 2
            token = token[:-1]
        if text[label_start:s].strip():
            out.append(("label", text[label_start:s]))
        out.append(("value", token))
        label_start = e
    if text[label_start:].strip():
        out.append(("label", text[label_start:]))
    return out


def _label(raw: str, sep: Sep) -> Token:
    return Token("label", raw, _compact(raw), sep)


@lru_cache(maxsize=16384)
def _compact(raw: str) -> str:
    return normalize(raw, strip_spaces=True).text


@lru_cache(maxsize=16384)
def _is_value(raw: str) -> bool:
    return parse_cell(raw).status in ("ok", "not_applicable")


@lru_cache(maxsize=8192)
def _cell_tokens(cell: str) -> tuple[Token, ...]:
    """One cell of a lossless layout: a value, a blank, a label — or a label with a number glued on."""
    raw = cell.strip(" \t\r\n")
    if not raw.strip():
        return (Token("empty", raw),)
    if _is_value(raw):
        return (Token("value", raw),)
    pieces = _split_glued(raw)
    if len(pieces) > 1 and pieces[0][0] == "label":
        return tuple(_label(p, "cell") if kind == "label" else Token("value", p, sep="glued")
                     for kind, p in pieces)
    return (_label(raw, "cell"),)


_WS = re.compile(r"[ \t\u3000\xa0]+")


def _spaced_tokens(line: str, sep: Sep) -> list[Token]:
    """A space-separated or run-together stretch: values split out, label pieces merged.

    "社会公益 组织" stays one label; "230 000023" is two value pieces, each of
    which may hold several cells (the aligner decides).
    """
    out: list[Token] = []
    pending: list[str] = []
    widths: list[int] = []

    def flush() -> None:
        if pending:
            out.append(_label(" ".join(pending), sep))
            pending.clear()

    def centre(line: str, start: int, end: int) -> float:   # _centre, with the widths summed once per line
        if not widths:
            widths.append(0)
            for ch in line:
                widths.append(widths[-1] + (2 if unicodedata.east_asian_width(ch) in "WF" else 1))
        return widths[start] + (widths[end] - widths[start]) / 2

    for m in _PIECE.finditer(line):
        piece = m.group()
        if _is_value(piece):
            flush()
            out.append(Token("value", piece, sep=sep, col=centre(line, m.start(), m.end())))
            continue
        at = m.start()
        for kind, text in _split_glued(piece):
            start = line.index(text, at)
            at = start + len(text)
            if kind == "label":
                pending.append(text)
            else:
                flush()
                out.append(Token("value", text, sep=sep, col=centre(line, start, at)))
    flush()
    return out


_PIECE = re.compile(r"[^ \t\u3000\xa0]+")


def _centre(line: str, start: int, end: int) -> float:
    """The middle of line[start:end] in display columns (CJK characters are two wide),
    which is how text dumps of PDFs line cells up under their columns."""
    return _width(line[:start]) + _width(line[start:end]) / 2


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


# A Markdown header rule (|---|:--:|); a row of empty cells (|  |  |) is not one.
_PIPE_RULE = re.compile(r"\|?(?:\s*:?-+:?\s*\|)*\s*:?-+:?\s*\|?")
_INNER_TAB = re.compile(r"\S\t|\t\s*\S.*\t")


def _line_cells(line: str, framed: bool = True) -> list[str] | None:
    """The cells of a row line of a lossless layout (pipes or tabs), else None.

    ``framed`` pipe rows open with a ``|`` (``| a | b |``); bare ones don't
    (``a | b |``), and there a line opening with ``|`` opens with an empty cell.
    """
    s = line.strip(" \r\n\u3000")
    if "|" in s:
        if framed and s.startswith("|"):
            s = s[1:]
        elif not framed and line[:1] in " \t\u3000" and s.startswith("|"):
            s = " " + s
        if s.endswith("|"):
            s = s[:-1]
        return s.split("|")
    if "\t" in s.strip("\t") or s.count("\t") >= 2 or _INNER_TAB.search(line):
        return line.split("\t")
    return None


def detect_layout(body: str) -> str:
    lines = [ln for ln in body.split("\n") if ln.strip()]
    if not lines:
        return "empty"
    n = len(lines)
    if sum("|" in ln for ln in lines) >= 0.3 * n:
        if sum(len(_line_cells(ln) or ()) >= 2 for ln in lines) >= 0.3 * n:
            return "pipe"
        return "cell_per_line"   # one cell per line, each closed by " |"
    if sum(_line_cells(ln) is not None for ln in lines) >= 0.3 * n:
        return "tab_rows"
    if n <= 3:
        return "inline"
    # Space-separated rows (PDF text dumps): the lines that hold numbers hold several.
    counts = [_value_count(ln) for ln in lines]
    valued = [c for c in counts if c]
    if valued and sum(c >= 2 for c in valued) > 0.5 * len(valued):
        return "space_rows"
    all_lines = body.split("\n")
    adjacent = sum(1 for a, b in zip(all_lines, all_lines[1:]) if a.strip() and b.strip())
    if adjacent >= 0.3 * n or sum(ln.startswith("\t") for ln in lines) >= 0.5 * n:
        return "cell_per_line"
    return "blank_separated"


def _value_count(line: str) -> int:
    """How many value tokens _spaced_tokens finds in the line, without placing them in columns."""
    n = 0
    for m in _PIECE.finditer(line):
        piece = m.group()
        n += 1 if _is_value(piece) else sum(kind != "label" for kind, _ in _split_glued(piece))
    return n


def tokenize(body: str, layout: str) -> list[Token]:
    toks: list[Token] = []
    if layout == "inline":
        return _spaced_tokens(body, "space")
    piped = [ln.strip() for ln in body.split("\n") if "|" in ln]
    framed = sum(ln.startswith("|") for ln in piped) > 0.5 * len(piped) if piped else True
    for line in body.split("\n"):
        if layout in ("pipe", "tab_rows"):
            if layout == "pipe" and _PIPE_RULE.fullmatch(line.strip()):
                continue
            cells = _line_cells(line, framed)
            if cells is None:
                if line.strip():
                    toks.extend(_spaced_tokens(line, "space"))
                    toks.append(_BREAK)
                continue
            for c in cells:
                toks.extend(_cell_tokens(c))
            toks.append(_BREAK)
        elif layout == "space_rows":
            if line.strip():
                toks.extend(_spaced_tokens(line, "space"))
                toks.append(_BREAK)
        elif layout == "cell_per_line":
            s = line.strip(" \r\u3000")
            if s.endswith("|"):
                s = s[:-1]
            if not line.strip():
                toks.append(Token("empty", "") if "\t" in line or s != line.strip(" \r\u3000")
                            else _BREAK)
                continue
            toks.extend(_cell_tokens(s[1:] if s.startswith("\t") else s))
        else:  # blank_separated: a blank line separates cells, nothing marks a row's end
            if line.strip():
                toks.extend(t if t.kind != "value" else Token("value", t.raw, sep="line")
                            for t in _cell_tokens(line))
    return toks


# --- alignment --------------------------------------------------------------------------

# A row identity: (columns of the parts, column of their total), per group of the row.
Identity = tuple[tuple[tuple[int, ...], int], ...]
_MAX_SEARCH = 200_000


Reading = tuple[str | None, ...]


@dataclass(frozen=True)
class Alignment:
    cells: list[str | None] | None   # raw text per column, None for a blank; None if not aligned
    note: str | None = None
    candidates: tuple[Reading, ...] = ()   # when not aligned: readings that fit the row identity


_MAX_CANDIDATES = 6


def align(tokens: Sequence[Token], n: int, identity: Identity | None = None,
          lossy_layout: bool = False, centres: Sequence[float] | None = None) -> Alignment:
    """Line up a row's value tokens with its n columns, or say it cannot be done.

    Lossless layouts (tabs, pipes, one cell per line) show every cell: a reading
    may drop blank padding before the values (a label spanning columns) and after
    them (a line's trailing separators), and may leave out a number glued to the
    label.  Lossy layouts (spaces, blank lines, run-together dumps) hide blank
    cells, and space-separated or run-together text may run digits together: a
    reading may then split a digit run and place hidden blanks.

    One reading that needs no guess is accepted even if it breaks the identity
    (reports do have arithmetic errors).  A reading that splits digits or places
    hidden blanks must satisfy the row identity, and so must the only one of
    several readings; otherwise the row is not aligned, and the readings that
    fit the identity are returned for a table-wide check.
    """
    values = [t for t in tokens if t.kind in ("value", "empty")]
    found = len([t for t in values if t.kind != "empty"])
    if any(t.lossy for t in values) or (lossy_layout and not found):
        pieces = [t for t in values if t.kind == "value"]
        if len(pieces) == n:
            return Alignment([t.raw for t in pieces])
        placed = _by_position(pieces, centres) if centres and len(centres) == n else None
        if placed is not None and (identity is None or _satisfies(placed, identity)):
            return Alignment(list(placed), "blank cells placed by the columns' positions on the page")
        if identity is None:
            readings, exhausted = _lossy_search(pieces, n, None, 2)
            if len(readings) == 1 and not exhausted and _forced(readings[0]):
                return Alignment(list(readings[0]), "digits run together; only one reading")
            fitting: list[Reading] = []
        else:
            fitting, exhausted = _lossy_search(pieces, n, identity, _MAX_CANDIDATES + 1)
            readings = fitting
            if len(fitting) == 1 and not exhausted:
                return Alignment(list(fitting[0]), "digits or blanks read by the row total")
    else:
        readings = _lossless_readings(values, n)
        exhausted = False
        if len(readings) == 1:
            return Alignment(list(readings[0]))
        fitting = [r for r in readings if identity and _satisfies(r, identity)]
        if len(fitting) == 1:
            return Alignment(list(fitting[0]), "several readings; the row total settles it")
    if exhausted:
        return Alignment(None, f"{found} value cell(s) for {n} columns: too many readings to tell")
    if not readings:
        return Alignment(None, f"{found} value cell(s) for {n} columns")
    candidates = tuple(fitting) if 1 < len(fitting) <= _MAX_CANDIDATES else ()
    return Alignment(None, f"{found} value cell(s) for {n} columns: more than one reading", candidates)


def _by_position(values: list[Token], centres: Sequence[float]) -> Reading | None:
    """Each value in the column whose stretch of the line it sits in, when every one clearly does.

    Columns meet half-way between their centres; a value within one display
    column of such a border, or two values in one column, or values out of
    order, and nothing is placed.
    """
    bounds = [(a + b) / 2 for a, b in zip(centres, centres[1:])]
    out: list[str | None] = [None] * len(centres)
    last = -1
    for t in values:
        if t.col is None or any(abs(t.col - b) < 1 for b in bounds):
            return None
        j = sum(t.col > b for b in bounds)
        if j <= last:
            return None
        out[j] = t.raw
        last = j
    return tuple(out)


def header_centres(lines: Sequence[str], labels: Sequence[str]) -> list[float] | None:
    """Where the columns' headings sit, in the lines before the first row: a PDF text
    dump puts each value under its heading.

    A heading is a space-separated piece of a line that is the heading, or its
    first characters when it wraps onto the next line ("社会公益" / "组织"); each is
    placed by its centre.  Read left to right they must be exactly the expected
    headings in order, or nothing is returned.
    """
    found: list[tuple[float, str]] = []
    for line in lines:
        for m in _PIECE.finditer(line):
            piece = m.group()
            label = next((lb for lb in labels if piece == lb), None) or next(
                (lb for lb in labels if len(piece) >= 2 and lb.startswith(piece)), None)
            if label:
                found.append((_centre(line, m.start(), m.end()), label))
    found.sort()
    if [label for _, label in found] != list(labels):
        return None
    return [c for c, _ in found]


def column_centres(rows: Sequence[Sequence[Token]], n: int) -> list[float] | None:
    """Where a table's n columns sit on the page, or None when that is not clear.

    From the rows that show all n values, when they agree (each value within two
    columns of the median); else from every value of the table, when they fall
    into exactly n tight groups with clear gaps between them.
    """
    full = [[t.col for t in r] for r in rows if len(r) == n and all(t.col is not None for t in r)]
    if full:
        centres = [sorted(c)[len(c) // 2] for c in zip(*full)]  # type: ignore[type-var]
        if all(abs(x - c) <= 2 for row in full for x, c in zip(row, centres)) and \
                all(b > a for a, b in zip(centres, centres[1:])):  # type: ignore[operator]
            return centres  # type: ignore[return-value]
        return None
    xs = sorted(t.col for r in rows for t in r if t.col is not None)
    if not xs:
        return None
    groups: list[list[float]] = [[xs[0]]]
    for x in xs[1:]:
        if x - groups[-1][-1] > 4:
            groups.append([x])
        else:
            groups[-1].append(x)
    if len(groups) != n or any(g[-1] - g[0] > 4 for g in groups):
        return None
    return [g[len(g) // 2] for g in groups]


def _forced(reading: Reading) -> bool:
    """Without an identity, the one reading is trusted if it places no hidden blank (or only blanks)."""
    return all(c is not None for c in reading) or all(c is None for c in reading)


def _lossless_readings(values: list[Token], n: int) -> list[Reading]:
    optional = [i for i, t in enumerate(values) if t.sep == "glued"]
    variants = [values]
    if 0 < len(optional) <= 2:
        variants = [[t for i, t in enumerate(values) if i not in drop]
                    for k in range(len(optional) + 1) for drop in combinations(optional, k)]
    out: dict[Reading, None] = {}
    for v in variants:
        m = len(v)
        if m < n:
            continue
        lead = next((i for i, t in enumerate(v) if t.kind != "empty"), m)
        trail = next((i for i, t in enumerate(reversed(v)) if t.kind != "empty"), m)
        extra = m - n
        for k1 in range(0, min(lead, extra) + 1):
            if extra - k1 <= trail:
                out[tuple(None if t.kind == "empty" else t.raw for t in v[k1:m - (extra - k1)])] = None
    return list(out)


_PLAIN_RUN = re.compile(r"(?P<sign>-?)(?P<int>\d+)(?P<tail>(?:\.\d+)?(?:万元|亿元|元)?)")
_MAX_CELL_DIGITS = 9


def _lossy_search(tokens: list[Token], n: int, identity: Identity | None, limit: int
                  ) -> tuple[list[Reading], bool]:
    """Up to ``limit`` readings of value pieces as n cells.

    A plain digit run may hold several cells, none but "0" starting with 0;
    anything else ("4,657", "+17", "增1") is one cell.  Blank cells the layout
    cannot show may sit anywhere, but the fewest hidden blanks that give a
    reading win: a dump that prints its zeros does not drop cells at random.
    With an identity, partial readings that break a total already placed are
    cut.  Returns (readings, search budget exhausted).
    """
    if len(tokens) > n:
        return [], False
    pieces = [t.raw for t in tokens]
    # Only space-separated or glued text runs digits together; a cell on its own line is whole.
    runs = [_PLAIN_RUN.fullmatch(t.raw) if t.sep in ("space", "glued") else None for t in tokens]
    digits_left = [0] * (len(pieces) + 1)
    for i in range(len(pieces) - 1, -1, -1):
        digits_left[i] = digits_left[i + 1] + (len(runs[i]["int"]) if runs[i] else 1)  # type: ignore[index]
    totals = {total for _, total in identity} if identity else set()
    found: list[Reading] = []
    cur: list[str | None] = []
    steps = 0

    def search(pi: int, off: int, blanks: int) -> bool:
        """Place the next column from piece ``pi`` at digit ``off``; False stops the search."""
        nonlocal steps
        steps += 1
        if steps > _MAX_SEARCH:
            return False
        col = len(cur)
        if identity and col - 1 in totals and not _satisfies(cur, identity):
            return True
        if col == n:
            if pi == len(pieces):
                found.append(tuple(cur))
            return len(found) < limit
        cells_possible = digits_left[pi] - off
        if len(pieces) - pi > n - col - blanks or cells_possible + blanks < n - col:
            return True
        if blanks:
            cur.append(None)                  # a blank cell the layout cannot show
            ok = search(pi, off, blanks - 1)
            cur.pop()
            if not ok:
                return False
        if pi == len(pieces):
            return True
        run = runs[pi]
        if run is None:
            if off:
                return True
            cur.append(pieces[pi])
            ok = search(pi + 1, 0, blanks)
            cur.pop()
            return ok
        digits = run["int"]
        for end in range(off + 1, min(len(digits), off + _MAX_CELL_DIGITS) + 1):
            part = digits[off:end]
            if len(part) > 1 and part[0] == "0":
                break
            last = end == len(digits)
            cur.append((run["sign"] if off == 0 else "") + part + (run["tail"] if last else ""))
            ok = search(pi + 1, 0, blanks) if last else search(pi, end, blanks)
            cur.pop()
            if not ok:
                return False
        return True

    for blanks in range(0, n - len(pieces) + 1):
        if not search(0, 0, blanks):
            if steps > _MAX_SEARCH:
                return found, True
        if found:
            break
    return found, False


def _satisfies(reading: Sequence[str | None], identity: Identity) -> bool:
    """Whether every total of the identity that lies within ``reading`` holds, blanks as 0."""
    nums = [_as_number(raw) for raw in reading]
    for parts, total in identity:
        if total >= len(nums):
            continue
        values = [nums[i] for i in parts] + [nums[total]]
        if any(v is None for v in values):
            return False
        if abs(sum(values[:-1]) - values[-1]) > 1e-6:  # type: ignore[arg-type]
            return False
    return True


def _as_number(raw: str | None) -> float | None:
    if raw is None:
        return 0.0
    cv = parse_cell(raw)
    if cv.value is None:
        return 0.0 if cv.status == "not_applicable" else None
    return float(cv.value)


ROW_TOTAL: Identity = ((tuple(range(6)), 6),)
GROUP_TOTALS: Identity = tuple((tuple(range(g, g + 4)), g + 4) for g in (0, 5, 10))


# --- rows ---------------------------------------------------------------------------------

def _cells_for(table: str, rd: RowDef, label: str | None, aligned: list[str | None] | None,
               row_status: RowStatus, header_units: dict[str, str]) -> list[Cell]:
    cells = []
    for i, col in enumerate(rd.cols):
        if aligned is None:
            status: CellStatusT = "misaligned" if row_status == "misaligned" else "missing"
            cells.append(Cell(table, rd.key, col.key, label or rd.label, col.label, None, None, None, status))
            continue
        raw = aligned[i]
        cv: CellValue = parse_cell(raw, money=col.money, header_unit=header_units.get(col.key))
        cells.append(Cell(table, rd.key, col.key, label or rd.label, col.label, raw if raw is not None else "",
                          cv.value, cv.unit, cv.status))
    return cells


@dataclass
class _Found:
    label: str
    tokens: list[Token] = field(default_factory=list)

    @property
    def has_values(self) -> bool:
        return any(t.kind in ("value", "empty") for t in self.tokens)


def _finish(key: str, template: str | None, layout: str, defs: Iterable[RowDef],
            found: dict[str, _Found], header_units: dict[str, str], notes: list[str],
            identity: Identity | None = None,
            resolve: Callable[[dict[str, Alignment]], dict[str, Alignment]] | None = None,
            headings: list[float] | None = None) -> StatTable:
    table = StatTable(key, template, layout, "ok", notes=notes)
    lossy = layout in LOSSY_LAYOUTS
    if found and not any(f.has_values for f in found.values()):
        # Row labels and not one cell: a dump that drops blank cells, of a table of blanks.
        lossy = True
        table.notes.append("no cell in any row: every cell read as blank")
    centres: dict[tuple[Col, ...], list[float] | None] = {}
    if layout == "space_rows":   # rows sharing columns share their positions on the page
        for rd in defs:
            if rd.cols not in centres:
                same = [[t for t in found[r.key].tokens if t.kind == "value"]
                        for r in defs if r.cols == rd.cols and r.key in found]
                centres[rd.cols] = column_centres(same, len(rd.cols)) or (
                    headings if headings and len(headings) == len(rd.cols) else None)
    results = {rd.key: align(found[rd.key].tokens, len(rd.cols), identity, lossy, centres.get(rd.cols))
               for rd in defs if rd.key in found}
    if resolve is not None and any(a.candidates for a in results.values()):
        results = resolve(results)
    any_misaligned = any_missing = False
    for rd in defs:
        if rd.key not in found:
            table.rows.append(Row(key, rd.key, None, "missing", []))
            table.cells.extend(_cells_for(key, rd, None, None, "missing", header_units))
            any_missing = True
            continue
        f, result = found[rd.key], results[rd.key]
        raw_cells = [t.raw for t in f.tokens if t.kind in ("value", "empty")]
        status: RowStatus = "ok" if result.cells is not None else "misaligned"
        any_misaligned |= status == "misaligned"
        table.rows.append(Row(key, rd.key, f.label, status, raw_cells, result.note))
        table.cells.extend(_cells_for(key, rd, f.label, result.cells, status, header_units))
    if not found:
        table.status = "missing"
    elif any_misaligned:
        table.status = "misaligned"
    elif any_missing:
        table.status = "partial"
    return table


LOSSY_LAYOUTS = ("blank_separated", "inline", "space_rows")


# ("group" | "row", key, start, end): what a label names, and where in its compact text
Event = tuple[str, str, int, int]


def _label_text(tok: Token, start: int, end: int) -> str:
    """The words of a label that name its row, as written (a run-together token holds more)."""
    if len(tok.compact) <= 15:
        return tok.raw.strip()
    n = normalize(tok.raw, strip_spaces=True)
    s, e = n.to_original(start, end)
    return tok.raw[s:e].strip()


def _collect(tokens: list[Token], layout: str, read_label: Callable[[Token], list[Event]],
             first_row: str | None = None) -> tuple[dict[str, _Found], list[str]]:
    """Walk the tokens: a label opens rows or groups, values fill the open row.

    A row whose label came with no values yet stays open across a line break and
    an unrecognised label: that is a label wrapped onto the next line.  A row
    seen a second time replaces the first only if the first got no values.
    """
    found: dict[str, _Found] = {}
    notes: list[str] = []
    current: _Found | None = None
    started = first_row is None
    breaks_close = layout not in ("blank_separated", "inline")
    for tok in tokens:
        if tok.kind == "break":
            if breaks_close and current is not None and current.has_values:
                current = None
            continue
        if tok.kind != "label":
            if current is not None:
                current.tokens.append(tok)
            continue
        events = read_label(tok)
        if not started:
            events = events[next((i for i, e in enumerate(events) if e[:2] == ("row", first_row)), len(events)):]
            started = bool(events)
        if not events:
            if current is not None and current.has_values:
                current = None
            continue
        for kind, key, start, end in events:
            if kind == "group":
                current = None
                continue
            if key in found and found[key].has_values:
                notes.append(f"row {key} appears twice; kept the first")
                current = None
                continue
            current = found[key] = _Found(_label_text(tok, start, end))
    return found, notes


# --- labels -------------------------------------------------------------------------------

_MARK = re.compile(
    r"(?P<top>(?<![第\d一二三四五六七八九十])[一二三四]、)"
    r"|\((?P<paren>[一二三四五六七])\)"
    r"|(?P<ord>(?<![\d.])[1-8])[.、](?!\d)"
)


Segment = tuple[tuple[str, int] | None, str, int, int]   # (numbering, words, start, end)


def _segments(compact: str) -> list[Segment]:
    """A label cut at its numbering: [(("paren", 3), "不予公开", 0, 7), (("ord", 1), "属于国家秘密", 7, 15)]."""
    out: list[Segment] = []
    marks = list(_MARK.finditer(compact))
    if not marks or marks[0].start() > 0:
        first = marks[0].start() if marks else len(compact)
        out.append((None, compact[:first], 0, first))
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(compact)
        if m["top"]:
            marker = ("top", cn_to_int(m["top"][0]) or 0)
        elif m["paren"]:
            marker = ("paren", cn_to_int(m["paren"]) or 0)
        else:
            marker = ("ord", int(m["ord"]))
        out.append((marker, compact[m.end():end], m.start(), end))
    return out


class _Table2Labels:
    """Reads table 2's labels with their numbering and the group they sit under."""

    def __init__(self, template: str) -> None:
        self.rows = APPLICATION_ROWS[template]
        self.groups = _T2_GROUPS[template]
        self.group: str | None = None

    def _by_marker(self, marker: tuple[str, int]) -> tuple[str, str] | None:
        kind, num = marker
        if kind == "ord":
            rd = next((r for r in self.rows if r.group == self.group and r.ordinal == num), None)
            return ("row", rd.key) if rd and self.group else None
        for g in self.groups:
            if g.marker == marker:
                return ("group", g.key)
        rd = next((r for r in self.rows if r.marker == marker), None)
        return ("row", rd.key) if rd else None

    def _by_words(self, body: str) -> list[tuple[str, str]]:
        hits = [("group", g.key) for g in self.groups if any(w in body for w in g.keywords)]
        return hits + [("row", r.key) for r in self.rows if any(w in body for w in r.keywords)]

    def __call__(self, tok: Token) -> list[Event]:
        """The numbering names the row in its group; the words must not name another.

        Numbering alone is enough for a garbled label ("4.保护第三方 △涉切关");
        words alone for a label without numbering, or one whose group heading
        comes later (a PDF centres it in its merged cell).
        """
        events: list[Event] = []
        for marker, body, start, end in _segments(tok.compact):
            by_marker = self._by_marker(marker) if marker else None
            words = self._by_words(body)
            if by_marker and (not words or by_marker in words):
                kind, key = by_marker
            elif len(words) == 1:
                kind, key = words[0]
            else:
                continue
            if kind == "group":
                self.group = key
            else:
                rd = next(r for r in self.rows if r.key == key)
                self.group = rd.group if rd.ordinal else (self.group if rd.group else None)
                if rd.marker and rd.marker[0] == "paren":
                    self.group = "results"
            events.append((kind, key, start, end))
        return events


_T1_GROUP = re.compile(r"第二十条第\(([一二三四五六七八九十]+)\)项")


def _table1_labels(defs: tuple[RowDef, ...]) -> Callable[[Token], list[Event]]:
    names = sorted(((w, rd.key) for rd in defs for w in rd.keywords), key=lambda x: -len(x[0]))
    pattern = re.compile("|".join(re.escape(w) for w, _ in names))
    key_of = dict(names)

    def read(tok: Token) -> list[Event]:
        events: list[Event] = []
        for m in _T1_GROUP.finditer(tok.compact):
            events.append(("group", f"art20_{cn_to_int(m.group(1))}", m.start(), m.end()))
        for m in pattern.finditer(tok.compact):
            events.append(("row", key_of[m.group()], m.start(), m.end()))
        return sorted(events, key=lambda e: e[2])
    return read


# --- table 1 ----------------------------------------------------------------------------

_T1_2021_HEAD = ("制发", "废止", "现行有效", "本年收费金额")
_T1_2019_HEAD = ("新制作", "新公开", "对外公开总数", "上一年项目", "采购项目")
_UNIT_IN_HEADER = re.compile(r"单位[:：]?\s*(万元|元)")


def _t1_template(tokens: list[Token]) -> str | None:
    heads = [t.compact for t in tokens if t.kind == "label"]
    if any(any(w in h for w in _T1_2021_HEAD) for h in heads):
        return "2021"
    if any(any(w in h for w in _T1_2019_HEAD) for h in heads):
        return "2019"
    return None


def parse_proactive(body: str, fallback_template: str | None = None) -> StatTable:
    layout = detect_layout(body)
    tokens = tokenize(body, layout)
    template = _t1_template(tokens) or fallback_template
    notes: list[str] = []
    if template is None:
        template = "2019"
        notes.append("template not recognisable from the column headers; assumed 2019")
    defs = PROACTIVE_ROWS[template]
    header_units: dict[str, str] = {}
    for tok in tokens:
        if tok.kind == "label" and "金额" in tok.compact and (m := _UNIT_IN_HEADER.search(tok.compact)):
            header_units.update({c.key: m.group(1) for rd in defs for c in rd.cols if c.money})
    found, more = _collect(tokens, layout, _table1_labels(defs))
    return _finish("proactive", template, layout, defs, found, header_units, notes + more)


# --- table 2 ----------------------------------------------------------------------------

def _t2_template(tokens: list[Token]) -> str | None:
    text = "".join(t.compact for t in tokens if t.kind == "label")
    if "逾期不补正" in text or "缴纳费用" in text or "收费通知" in text:
        return "2021"
    if "其他处理" in text:
        return "2019"
    return None


_MAX_COMBINATIONS = 5000


def _column_resolver(template: str) -> Callable[[dict[str, Alignment]], dict[str, Alignment]]:
    """Settle rows the row total left ambiguous with the table's column identities.

    Every row must be read (or have candidate readings); the one combination of
    candidates under which 一+二 = （七）+四 and （七） = Σ results hold in every
    column is accepted.  None, or more than one, and the rows stay misaligned.
    """
    results_rows = RESULT_ROWS[template]

    def resolve(rows: dict[str, Alignment]) -> dict[str, Alignment]:
        needed = ("new_received", "carried_over", "total_handled", "carried_forward") + results_rows
        if any(k not in rows or (rows[k].cells is None and not rows[k].candidates) for k in needed):
            return rows
        open_keys = [k for k in needed if rows[k].cells is None]
        options = [rows[k].candidates for k in open_keys]
        count = 1
        for o in options:
            count *= len(o)
        if count > _MAX_COMBINATIONS:
            return rows
        fixed = {k: tuple(rows[k].cells) for k in needed if rows[k].cells is not None}  # type: ignore[arg-type]
        passing = [combo for combo in product(*options)
                   if _columns_hold({**fixed, **dict(zip(open_keys, combo))}, results_rows)]
        if len(passing) != 1:
            return rows
        settled = dict(rows)
        for k, reading in zip(open_keys, passing[0]):
            settled[k] = Alignment(list(reading), "several readings; the column totals settle it")
        return settled
    return resolve


def _columns_hold(rows: dict[str, Reading], results_rows: tuple[str, ...]) -> bool:
    nums = {k: [_as_number(c) for c in r] for k, r in rows.items()}
    for c in range(len(APPLICANT_COLS)):
        col = {k: v[c] for k, v in nums.items()}
        if any(v is None for v in col.values()):
            return False
        balance = col["new_received"] + col["carried_over"] - col["total_handled"] - col["carried_forward"]  # type: ignore[operator]
        results = sum(col[k] for k in results_rows) - col["total_handled"]  # type: ignore[operator,misc]
        if abs(balance) > 1e-6 or abs(results) > 1e-6:
            return False
    return True


def parse_applications(body: str, template: str | None = None) -> StatTable:
    layout = detect_layout(body)
    tokens = tokenize(body, layout)
    notes: list[str] = []
    own = _t2_template(tokens)
    if own and template and own != template:
        notes.append(f"table 2 follows the {own} template while table 1 follows {template}")
    template = own or template or "2019"
    defs = APPLICATION_ROWS[template]
    found, more = _collect(tokens, layout, _Table2Labels(template), first_row="new_received")
    headings = None
    if layout == "space_rows":
        lines = body.split("\n")
        first = next((i for i, ln in enumerate(lines) if "本年新收" in ln), len(lines))
        headings = header_centres(lines[:first], [c.label for c in APPLICANT_COLS])
    return _finish("applications", template, layout, defs, found, {}, notes + more, ROW_TOTAL,
                   _column_resolver(template), headings)


# --- table 3 ----------------------------------------------------------------------------

def parse_review_litigation(body: str) -> StatTable:
    """Fifteen numbers after the header: review, direct suits, suits after review.

    The numbers are the run of cells after the last header label (the run with
    the most numbers, if numbers sit elsewhere too).  A header followed by no cell
    at all (a dump drops a row of blanks) shows fifteen blank cells: NULL, noted.
    """
    layout = detect_layout(body)
    tokens = tokenize(body, layout)
    runs: list[list[Token]] = [[]]
    for tok in tokens:
        if tok.kind == "label":
            runs.append([])
        elif tok.kind != "break":
            runs[-1].append(tok)
    best = max(reversed([r for r in runs if r] or [[]]), key=lambda r: sum(t.kind == "value" for t in r))
    has_header = any(t.kind == "label" and any(w in t.compact for w in ("结果维", "尚未审", "复议后起诉"))
                     for t in tokens)     # headings may wrap: 结果维 / 持
    if not best and not has_header:
        return _finish("review_litigation", None, layout, REVIEW_ROWS, {}, {}, [])
    headings = None
    if layout == "space_rows":
        labels = [c.label for _ in REVIEW_ROWS for c in REVIEW_COLS]
        headings = header_centres([ln for ln in body.split("\n") if not _value_count(ln)], labels)
    result = align(best, 15, GROUP_TOTALS, layout in LOSSY_LAYOUTS or not best, headings)
    if not best:
        result = Alignment(result.cells, "no cell after the header: fifteen blank cells")
    table = StatTable("review_litigation", None, layout, "ok")
    raw = [t.raw for t in best]
    for i, rd in enumerate(REVIEW_ROWS):
        if result.cells is None:
            table.rows.append(Row("review_litigation", rd.key, rd.label, "misaligned", raw, result.note))
            table.cells.extend(_cells_for("review_litigation", rd, rd.label, None, "misaligned", {}))
        else:
            part = result.cells[i * 5:(i + 1) * 5]
            table.rows.append(Row("review_litigation", rd.key, rd.label, "ok",
                                  [c if c is not None else "" for c in part], result.note))
            table.cells.extend(_cells_for("review_litigation", rd, rd.label, part, "ok", {}))
    if result.cells is None:
        table.status = "misaligned"
    return table


def missing_table(key: str) -> StatTable:
    return StatTable(key, None, None, "missing", notes=["its part of the report was not found"])
