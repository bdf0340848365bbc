"""Property-based fuzzing of the readers, numbers.parse_cell, the table tokenizer and align.

Random and mutated inputs must give a result or a clear ReadError (never a
traceback), and never a value in a cell the input did not put there: every
cell's raw text occurs in the input, and a cell's number is the number its raw
text spells.  Deterministic (derandomize) and small (max_examples), so the
suite stays fast and the same everywhere.
"""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path

import docx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gkextract.ingest import NotAReportError, parse_document
from gkextract.normalize import normalize
from gkextract.numbers import parse_cell
from gkextract.read import SUPPORTED_SUFFIXES, Document, ReadError, read_document
from gkextract.tables import (GROUP_TOTALS, LOSSY_LAYOUTS, ROW_TOTAL, align, detect_layout, parse_applications,
                              parse_proactive, parse_review_litigation, tokenize)

from samples import SAMPLES, text

ROOT = Path(__file__).resolve().parent.parent
FUZZ = settings(max_examples=60, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
SLOW = settings(FUZZ, max_examples=15)          # docx and pdf parsing cost more per example

# Table text is made of these: digits, signs, separators, units, labels, full-width forms.
TABLE_CHARS = st.sampled_from(list("0123456789") * 4 + list(" \t\n|,.+-/") * 2
                              + ["万元", "元", "增", "减", "（一）", "一、", "总计", "自然人", "规章", "　", "．",
                                 "１", "件", "申请", "2.", "—", "\xa0"])
table_text = st.lists(TABLE_CHARS, max_size=120).map("".join)


def _read(data: bytes, suffix: str) -> Document | None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzz{suffix}"
        path.write_bytes(data)
        try:
            doc = read_document(path)
        except ReadError as e:
            assert str(e).startswith(str(path)) and len(str(e)) > len(str(path)) + 5   # says what is wrong
            return None
    assert isinstance(doc.text, str) and doc.text.strip()
    return doc


@st.composite
def mutated(draw, original: bytes) -> bytes:
    """Bytes flipped, runs deleted or duplicated, the file cut short."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "delete", "duplicate", "truncate", "insert"]))
        if op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "delete":
            del data[i:i + draw(st.integers(1, 64))]
        elif op == "duplicate":
            data[i:i] = data[i:i + draw(st.integers(1, 64))]
        elif op == "truncate":
            del data[i:]
        else:
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


def _docx_bytes() -> bytes:
    d = docx.Document()
    d.add_paragraph("一、总体情况")
    t = d.add_table(rows=2, cols=3)
    for i, v in enumerate(["规章", "5", "10"]):
        t.rows[0].cells[i].text = v
    t.rows[1].cells[0].merge(t.rows[1].cells[1]).text = "合并"
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


SOURCES = {
    ".txt": SAMPLES["001"].read_bytes()[:3000],
    ".html": (ROOT / "fixtures" / "formats" / "table_spans.html").read_bytes(),
    ".md": b"| a | b |\n|---|---|\n| 1 | 2 |\n",
}


@FUZZ
@given(st.binary(max_size=3000), st.sampled_from(SUPPORTED_SUFFIXES))
def test_random_bytes_give_a_document_or_a_clear_read_error(data, suffix):
    _read(data, suffix)


@FUZZ
@given(st.data(), st.sampled_from(sorted(SOURCES)))
def test_mutated_text_html_and_markdown_give_a_document_or_a_clear_read_error(data, suffix):
    _read(data.draw(mutated(SOURCES[suffix])), suffix)


@SLOW
@given(st.data())
def test_mutated_docx_gives_a_document_or_a_clear_read_error(data):
    _read(data.draw(mutated(_docx_bytes())), ".docx")


@SLOW
@given(st.data())
def test_mutated_pdf_gives_a_document_or_a_clear_read_error(data):
    _read(data.draw(mutated((ROOT / "fixtures" / "formats" / "table.pdf").read_bytes())), ".pdf")


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["<table>", "<tr>", "<td rowspan=0 colspan=1000>", "<td>", "</td>",
                                           "</tr>", "</table>", "<th colspan=x>", "<div>", "<p>"]),
                          st.sampled_from(["", "1", "17", "规章", "（一）总计", " "])), max_size=80))
def test_random_html_tables_are_read_without_inventing_cells(pieces):
    html = "".join(tag + content for tag, content in pieces)
    doc = _read(html.encode("utf-8"), ".html")
    visible = re.sub(r"<[^>]*>", "", html)
    if doc is not None:
        for token in doc.text.split():
            assert token in visible                    # no cell, blank or number the page does not hold


# --- numbers ---------------------------------------------------------------------------------

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?|\.\d+")
CELL_CHARS = st.sampled_from(list("0123456789,.+- /") + ["增", "减", "增加", "万元", "元", "亿元", "件", "１", "．",
                                                         "　", "\xa0", "无", "—", "n/a", "x"])


@FUZZ
@given(st.lists(CELL_CHARS, max_size=12).map("".join), st.booleans(),
       st.sampled_from([None, "元", "万元"]))
def test_parse_cell_gives_a_status_and_only_the_number_written(raw, money, header_unit):
    cv = parse_cell(raw, money=money, header_unit=header_unit)
    assert cv.status in ("ok", "empty", "not_applicable", "unparsed")
    assert (cv.value is not None) == (cv.status == "ok")
    if cv.value is None:
        return
    norm = normalize(raw, strip_spaces=True).text
    written = float(_NUMBER.search(norm).group().replace(",", ""))
    factor = 1.0
    if money:
        unit = next((u for u in ("亿元", "万元", "元") if norm.endswith(u)), header_unit or "万元")
        factor = {"万元": 1.0, "元": 1e-4, "亿元": 1e4}[unit]
    assert abs(abs(cv.value) - written * factor) <= 1e-6 * max(1.0, written * factor)


# --- tokenizer and alignment --------------------------------------------------------------------

LAYOUTS = ["pipe", "tab_rows", "space_rows", "cell_per_line", "blank_separated", "inline"]


@FUZZ
@given(table_text, st.sampled_from(LAYOUTS + ["detect"]))
def test_the_tokenizer_only_yields_values_the_text_holds(body, layout):
    layout = detect_layout(body) if layout == "detect" else layout
    for token in tokenize(body, layout):
        assert token.kind in ("label", "value", "empty", "break")
        if token.kind == "value":
            assert token.raw and token.raw in body


@FUZZ
@given(table_text, st.sampled_from(LAYOUTS), st.integers(1, 15),
       st.sampled_from([None, ROW_TOTAL, GROUP_TOTALS]))
def test_align_places_only_text_from_the_row(row, layout, n, identity):
    tokens = [t for t in tokenize(row, layout) if t.kind != "break"]
    result = align(tokens, n, identity, layout in LOSSY_LAYOUTS)
    if result.cells is None:
        assert result.note                              # misaligned says why
        return
    assert len(result.cells) == n
    values = [t.raw for t in tokens if t.kind == "value"]
    for cell in result.cells:
        assert cell is None or any(cell in v for v in values), (cell, values)


@FUZZ
@given(st.data())
def test_parsed_tables_hold_only_cells_from_their_text(data):
    body = data.draw(st.one_of(table_text, mutated(_table_body().encode("utf-8")).map(
        lambda b: b.decode("utf-8", "replace"))))
    for parse in (parse_proactive, parse_applications, parse_review_litigation):
        table = parse(body)
        assert table.status in ("ok", "partial", "misaligned", "missing")
        for cell in table.cells:
            if cell.raw:
                assert cell.raw in body, (cell, body)
            if cell.value is not None:
                assert cell.raw and cell.status == "ok"


def _table_body() -> str:
    t = text("004")
    return t[t.index("三、收到和处理"):t.index("四、政府信息公开行政复议")]


@SLOW
@given(st.data())
def test_mutated_reports_parse_or_are_refused_clearly(data):
    raw = data.draw(mutated(SAMPLES["000"].read_bytes()))
    doc = Document("fuzz.txt", "txt", raw.decode("utf-8", "replace"), "utf-8")
    try:
        report = parse_document(doc)
    except NotAReportError as e:
        assert "not a government information-disclosure annual report" in str(e)
        return
    for table in report.tables.values():
        for cell in table.cells:
            assert not cell.raw or cell.raw in doc.text
