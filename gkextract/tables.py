"""The three statistical tables, parsed by rule into (table, row, column) cells.

Text arrives in several layouts: one cell per line (docx export), tab-separated
rows (PDF/OCR, HTML and docx readers), cells separated by blank lines with some
cells simply missing (scraped HTML), pipe tables, or a whole table on one line.
Every layout is turned into a stream of tokens — labels, values and row breaks
— and rows are recognised by their labels, not by position.  A row whose values
cannot be lined up with the template's columns with confidence is marked
``misaligned``: its raw cells are kept and no value is guessed or shifted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterable, Literal

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
    keywords: tuple[str, ...]
    group: str | None = None     # the heading the row sits under
    ordinal: int | None = None   # its "1." number under that heading
    cols: tuple[Col, ...] = ()


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
        RowDef("other_services", "其他对外管理服务事项", ("其他对外管理", "对外管理服务"), "art20_5",
               cols=_T1_2019_ITEMS),
        RowDef("administrative_penalty", "行政处罚", ("行政处罚",), "art20_6", cols=_T1_2019_ITEMS),
        RowDef("administrative_enforcement", "行政强制", ("行政强制",), "art20_6", cols=_T1_2019_ITEMS),
        RowDef("administrative_fees", "行政事业性收费", ("事业性收费",), "art20_8",
               cols=(Col("prev_year_items", "上一年项目数量"), Col("change", "本年增/减"))),
        RowDef("centralized_procurement", "政府集中采购", ("集中采购",), "art20_9",
               cols=(Col("procurement_items", "采购项目数量"),
                     Col("procurement_amount", "采购总金额", money=True))),
    ),
    "2021": (
        RowDef("rules", "规章", ("规章",), "art20_1", cols=_T1_2021_COUNT),
        RowDef("normative_documents", "行政规范性文件", ("规范性文件",), "art20_1", cols=_T1_2021_COUNT),
        RowDef("administrative_licensing", "行政许可", ("行政许可",), "art20_5", cols=_T1_2021_DECISIONS),
        RowDef("administrative_penalty", "行政处罚", ("行政处罚",), "art20_6", cols=_T1_2021_DECISIONS),
        RowDef("administrative_enforcement", "行政强制", ("行政强制",), "art20_6", cols=_T1_2021_DECISIONS),
        RowDef("administrative_fees", "行政事业性收费", ("事业性收费",), "art20_8",
               cols=(Col("fee_amount", "本年收费金额（单位：万元）", money=True),)),
    ),
}

APPLICANT_COLS = (
    Col("natural_person", "自然人"), Col("commercial", "商业企业"), Col("research", "科研机构"),
    Col("social_welfare", "社会公益组织"), Col("legal_service", "法律服务机构"),
    Col("other_org", "其他"), Col("total", "总计"),
)
APPLICANT_PARTS = tuple(c.key for c in APPLICANT_COLS[:-1])

# Groups of table 2: a label that opens a group is not a row itself.
_T2_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("results", ("本年度办理结果", "办理结果")),
    ("withheld", ("不予公开",)),
    ("unable", ("无法提供",)),
    ("not_processed", ("不予处理",)),
)


def _t2(key: str, label: str, keywords: tuple[str, ...], group: str | None = None,
        ordinal: int | None = None) -> RowDef:
    return RowDef(key, label, keywords, group, ordinal, APPLICANT_COLS)


_T2_COMMON_HEAD = (
    _t2("new_received", "一、本年新收政府信息公开申请数量", ("本年新收",)),
    _t2("carried_over", "二、上年结转政府信息公开申请数量", ("上年结转",)),
    _t2("disclosed", "（一）予以公开", ("予以公开",), "results"),
    _t2("partially_disclosed", "（二）部分公开", ("部分公开",), "results"),
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
    _t2("not_processed_mass_repeat", "4.无正当理由大量反复申请", ("大量反复", "无正当理由"), "not_processed", 4),
    _t2("not_processed_confirmation", "5.要求行政机关确认或重新出具已获取信息", ("重新出具", "确认"),
        "not_processed", 5),
)
_T2_TAIL = (
    _t2("total_handled", "（七）总计", ("总计",), "results"),
    _t2("carried_forward", "四、结转下年度继续办理", ("结转下年", "下年度继续")),
)
APPLICATION_ROWS: dict[str, tuple[RowDef, ...]] = {
    "2019": _T2_COMMON_HEAD + (_t2("other_handling", "（六）其他处理", ("其他处理",), "results"),) + _T2_TAIL,
    "2021": _T2_COMMON_HEAD + (
        _t2("other_overdue_correction", "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
            ("逾期不补正", "不补正"), "other_handling", 1),
        _t2("other_overdue_fee", "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
            ("缴纳费用", "收费通知"), "other_handling", 2),
        _t2("other_misc", "3.其他", ("其他",), "other_handling", 3),
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
_CJK = re.compile(r"[\u4e00-\u9fff]")
_GLUED = re.compile(r"^(?P<label>.*[\u4e00-\u9fff”\"')）])(?P<num>\d+)$")


@dataclass(frozen=True)
class Token:
    kind: TokKind
    raw: str = ""
    glued: str | None = None   # a number glued to the end of a label: "3.危及“三安全一稳定”0"
    compact: str = ""          # normalised, without spaces: what labels are matched on


_BREAK = Token("break")


@lru_cache(maxsize=8192)
def _token(cell: str) -> Token:
    raw = cell.strip(" \t\r\n")
    if not raw.strip():
        return Token("empty", raw)
    if parse_cell(raw).status != "unparsed":
        return Token("value", raw)
    compact = normalize(raw, strip_spaces=True).text
    m = _GLUED.match(compact)
    if m and _CJK.search(m["label"]):
        return Token("label", raw, glued=m["num"], compact=compact)
    return Token("label", raw, compact=compact)


def detect_layout(body: str) -> str:
    lines = [ln for ln in body.split("\n") if ln.strip()]
    if not lines:
        return "empty"
    n = len(lines)
    if sum(ln.lstrip().startswith("|") for ln in lines) >= 0.3 * n:
        return "pipe"
    if n <= 3:
        return "inline"
    if sum("\t" in ln.strip(" \t") or ln.count("\t") >= 2 for ln in lines) >= 0.3 * n:
        return "tab_rows"
    if sum(ln.startswith("\t") and ln.count("\t") == 1 for ln in lines) >= 0.5 * n:
        return "cell_per_line"
    return "blank_separated"


def tokenize(body: str, layout: str) -> list[Token]:
    toks: list[Token] = []
    if layout == "inline":
        sep = "\t" if "\t" in body else None
        for part in re.split(r"[\t\n]" if sep else r"\s+", body):
            if part.strip() or sep:
                toks.append(_token(part))
        return toks
    for line in body.split("\n"):
        if layout == "pipe":
            s = line.strip()
            if not s.startswith("|"):
                if s:
                    toks.extend([_token(s), _BREAK])
                continue
            if re.fullmatch(r"\|?[\s:|\-]+\|?", s):
                continue
            toks.extend(_token(c) for c in s.strip("|").split("|"))
            toks.append(_BREAK)
        elif layout == "tab_rows":
            if not line.strip():
                continue
            toks.extend(_token(c) for c in line.split("\t"))
            toks.append(_BREAK)
        elif layout == "cell_per_line":
            if not line.strip():
                if line == "" or "\t" not in line:
                    toks.append(_BREAK)
                else:
                    toks.append(Token("empty", ""))
                continue
            toks.append(_token(line[1:] if line.startswith("\t") else line))
        else:  # blank_separated: a blank line separates cells, and nothing marks a row's end
            if line.strip():
                toks.append(_token(line))
    return toks


# --- alignment --------------------------------------------------------------------------

def align(values: list[Token], n: int, glued: str | None) -> list[Token] | None:
    """Line up a row's value tokens with its n columns, or say it cannot be done.

    Accepted: exactly n cells; n cells followed by empty padding; or exactly n
    contiguous non-empty cells after empty padding (a label cell spanning
    columns).  A number glued to the label fills a single missing first cell.
    Anything else — too few, too many, gaps — is not guessed.
    """
    v = list(values)
    while len(v) > n and v and v[-1].kind == "empty":
        v.pop()
    if len(v) == n:
        return v
    while v and v[0].kind == "empty":
        v.pop(0)
    if len(v) == n and all(t.kind == "value" for t in v):
        return v
    if glued is not None and len(v) == n - 1 and all(t.kind == "value" for t in v):
        return [Token("value", glued)] + v
    return None


def _cells_for(table: str, rd: RowDef, label: str | None, aligned: list[Token] | None,
               row_status: RowStatus, header_units: dict[str, str]) -> list[Cell]:
    cells = []
    for i, col in enumerate(rd.cols):
        if aligned is None:
            status: CellStatusT = "misaligned" if row_status == "misaligned" else "missing"
            cells.append(Cell(table, rd.key, col.key, label or rd.label, col.label, None, None, None, status))
            continue
        raw = aligned[i].raw
        cv: CellValue = parse_cell(raw, money=col.money, header_unit=header_units.get(col.key))
        cells.append(Cell(table, rd.key, col.key, label or rd.label, col.label, raw, cv.value, cv.unit,
                          cv.status))
    return cells


def _finish(key: str, template: str | None, layout: str, defs: Iterable[RowDef],
            found: dict[str, tuple[str, list[Token], str | None]], header_units: dict[str, str],
            notes: list[str]) -> StatTable:
    table = StatTable(key, template, layout, "ok", notes=notes)
    any_misaligned = any_missing = False
    for rd in defs:
        if rd.key not in found:
            table.rows.append(Row(key, rd.key, None, "missing", []))
            table.cells.extend(_cells_for(key, rd, None, None, "missing", header_units))
            any_missing = True
            continue
        label, values, glued = found[rd.key]
        aligned = align(values, len(rd.cols), glued)
        raw_cells = [t.raw for t in values]
        if aligned is None:
            note = f"{len([t for t in values if t.kind != 'empty'])} value cell(s) for {len(rd.cols)} columns"
            table.rows.append(Row(key, rd.key, label, "misaligned", raw_cells, note))
            table.cells.extend(_cells_for(key, rd, label, None, "misaligned", header_units))
            any_misaligned = True
        else:
            table.rows.append(Row(key, rd.key, label, "ok", raw_cells))
            table.cells.extend(_cells_for(key, rd, label, aligned, "ok", header_units))
    if not found:
        table.status = "missing"
    elif any_misaligned:
        table.status = "misaligned"
    elif any_missing:
        table.status = "partial"
    return table


# --- table 1 ----------------------------------------------------------------------------

_T1_GROUP = re.compile(r"第二十条第\(([一二三四五六七八九十]+)\)项")
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


_MATCHES: dict[tuple[int, str, str | None], RowDef | None] = {}


def _match_row(compact: str, defs: tuple[RowDef, ...], group: str | None) -> RowDef | None:
    """The template row a label names: by keyword, else by its "1." number under the group.

    Memoised by the identity of ``defs`` (module-level templates): hashing the
    RowDef tuples for an lru_cache cost more than the matching itself.
    """
    key = (id(defs), compact, group)
    if key in _MATCHES:
        return _MATCHES[key]
    found = next((rd for rd in defs if any(k in compact for k in rd.keywords)), None)
    if found is None:
        m = re.match(r"^(\d)[.、]", compact)
        if m and group:
            found = next((rd for rd in defs if rd.group == group and rd.ordinal == int(m.group(1))), None)
    if len(_MATCHES) < 50_000:
        _MATCHES[key] = found
    return found


def _collect(tokens: list[Token], defs: tuple[RowDef, ...], layout: str, *,
             group_of: Callable[[str], str | None], first_row: str | None = None,
             on_label: Callable[[Token], None] | None = None,
             ) -> tuple[dict[str, tuple[str, list[Token], str | None]], list[str]]:
    """Walk the tokens: a label opens a row (or a group), values fill the open row."""
    found: dict[str, tuple[str, list[Token], str | None]] = {}
    notes: list[str] = []
    current: str | None = None
    group: str | None = None
    started = first_row is None
    breaks_close = layout not in ("blank_separated", "inline")
    for tok in tokens:
        if tok.kind == "break":
            if breaks_close:
                current = None
            continue
        if tok.kind != "label":
            if current is not None:
                found[current][1].append(tok)
            continue
        if on_label:
            on_label(tok)
        compact = tok.compact
        g = group_of(compact)
        if g is not None:
            group, current = g, None
            continue
        rd = _match_row(compact, defs, group)
        if rd is not None and not started and rd.key != first_row:
            rd = None
        if rd is None:
            if current is not None and started:
                notes.append(f"unexpected label {tok.raw!r} after row {current}")
                current = None
            continue
        started = True
        if rd.key in found:
            notes.append(f"row {rd.key} appears twice; kept the first")
            current = None
            continue
        found[rd.key] = (tok.raw, [], tok.glued)
        current = rd.key
        if rd.group:
            group = rd.group
    return found, notes


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

    def on_label(tok: Token) -> None:
        m = _UNIT_IN_HEADER.search(tok.compact)
        if m and ("金额" in tok.compact):
            for rd in defs:
                for c in rd.cols:
                    if c.money:
                        header_units[c.key] = m.group(1)

    def group_of(compact: str) -> str | None:
        m = _T1_GROUP.search(compact)
        return f"art20_{cn_to_int(m.group(1))}" if m else None

    found, more = _collect(tokens, defs, layout, group_of=group_of, on_label=on_label)
    return _finish("proactive", template, layout, defs, found, header_units, notes + more)


# --- table 2 ----------------------------------------------------------------------------

def _t2_template(tokens: list[Token]) -> str | None:
    text = "".join(t.compact for t in tokens if t.kind == "label")
    if "逾期不补正" in text or "缴纳费用" in text or "收费通知" in text:
        return "2021"
    if "其他处理" in text:
        return "2019"
    return None


def parse_applications(body: str, template: str | None = None) -> StatTable:
    layout = detect_layout(body)
    tokens = tokenize(body, layout)
    notes: list[str] = []
    own = _t2_template(tokens)
    if own and template and own != template:
        notes.append(f"table 2 follows the {own} template while table 1 follows {template}")
    template = own or template or "2019"
    defs = APPLICATION_ROWS[template]

    def group_of(compact: str) -> str | None:
        for key, words in _T2_GROUPS:
            if any(w in compact for w in words) and not _match_row(compact, defs, None):
                return key
        if template == "2021" and "其他处理" in compact:
            return "other_handling"
        return None

    found, more = _collect(tokens, defs, layout, group_of=group_of, first_row="new_received")
    return _finish("applications", template, layout, defs, found, {}, notes + more)


# --- table 3 ----------------------------------------------------------------------------

def parse_review_litigation(body: str) -> StatTable:
    """Fifteen numbers after the header: review, direct suits, suits after review."""
    layout = detect_layout(body)
    tokens = tokenize(body, layout)
    runs: list[list[Token]] = [[]]
    for tok in tokens:
        if tok.kind == "label":
            runs.append([])
        elif tok.kind != "break":
            runs[-1].append(tok)
    best = max(runs, key=lambda r: sum(t.kind == "value" for t in r))
    if not any(t.kind == "value" for t in best):
        return _finish("review_litigation", None, layout, REVIEW_ROWS, {}, {}, [])
    aligned = align(best, 15, None)
    table = StatTable("review_litigation", None, layout, "ok")
    raw = [t.raw for t in best]
    for i, rd in enumerate(REVIEW_ROWS):
        if aligned is None:
            table.rows.append(Row("review_litigation", rd.key, rd.label, "misaligned", raw,
                                  f"{len([t for t in best if t.kind != 'empty'])} value cell(s) for 15 columns"))
            table.cells.extend(_cells_for("review_litigation", rd, rd.label, None, "misaligned", {}))
        else:
            part = aligned[i * 5:(i + 1) * 5]
            table.rows.append(Row("review_litigation", rd.key, rd.label, "ok", [t.raw for t in part]))
            table.cells.extend(_cells_for("review_litigation", rd, rd.label, part, "ok", {}))
    if aligned is None:
        table.status = "misaligned"
    return table


def missing_table(key: str) -> StatTable:
    return StatTable(key, None, None, "missing", notes=["its part of the report was not found"])
