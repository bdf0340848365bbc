"""gkextract.read: every format down to one text, bad inputs refused with a clear message."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import pytest
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from gkextract.read import SUPPORTED_SUFFIXES, Document, ReadError, read_document

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "fixtures" / "reports" / "000_93a7fea9e9928630.txt"
FORMATS = ROOT / "fixtures" / "formats"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _refused(path: Path | str) -> str:
    with pytest.raises(ReadError) as info:
        read_document(path)
    return str(info.value)


# --- plain text ---------------------------------------------------------------------------

@pytest.mark.parametrize("codec, expected", [
    ("utf-8", "utf-8"),
    ("utf-8-sig", "utf-8-sig"),
    ("gbk", "gb18030"),
    ("gb18030", "gb18030"),
])
def test_txt_encodings_give_identical_text(tmp_path: Path, codec: str, expected: str) -> None:
    original = REPORT.read_text(encoding="utf-8")
    path = _write(tmp_path / f"report-{codec}.txt", original.encode(codec))
    doc = read_document(path)
    assert doc == Document(str(path), "txt", original, expected)
    assert not doc.text.startswith("\ufeff")
    assert "三、本年度办理结果" in doc.text


def test_txt_is_verbatim(tmp_path: Path) -> None:
    original = "一、总体情况\r\n\t\u3000\u3000全年公开信息１２３条。\u00a0\r\n\r\n二、\t0\t0\n"
    doc = read_document(_write(tmp_path / "crlf.txt", original.encode("utf-8")))
    assert doc.text == original


def test_txt_utf16_with_bom(tmp_path: Path) -> None:
    doc = read_document(_write(tmp_path / "notepad.txt", "一、总体情况\r\n".encode("utf-16")))
    assert (doc.text, doc.encoding) == ("一、总体情况\r\n", "utf-16")


def test_path_is_kept_as_given_and_suffix_case_ignored(tmp_path: Path) -> None:
    path = _write(tmp_path / "REPORT.TXT", "一、总体情况\n".encode("utf-8"))
    assert read_document(str(path)).path == str(path)
    assert read_document(path).format == "txt"


# --- refusals -----------------------------------------------------------------------------

@pytest.mark.parametrize("name, data", [
    ("zero.txt", b""),
    ("blank.txt", b" \r\n\t\n"),
    ("fullwidth-blank.txt", "\u3000\u3000\n".encode("gbk")),
    ("bom-only.txt", b"\xef\xbb\xbf"),
    ("zero.docx", b""),
    ("zero.pdf", b""),
    ("tags-only.html", b"<html><body><p> </p><table><tr><td>&nbsp;</td></tr></table></body></html>"),
])
def test_empty_files_are_refused(tmp_path: Path, name: str, data: bytes) -> None:
    assert "empty file" in _refused(_write(tmp_path / name, data))


@pytest.mark.parametrize("data, detail", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG image"),
    (b"PK\x03\x04\x14\x00\x00\x00", "ZIP archive"),
    (b"\x7fELF\x02\x01\x01", "executable"),
    (b"\xe4\xb8\x80\x00\x00\x01text", "NUL bytes"),
    (bytes(range(1, 9)) * 40 + "一、总体情况".encode(), "control characters"),
])
def test_binary_files_are_refused(tmp_path: Path, data: bytes, detail: str) -> None:
    message = _refused(_write(tmp_path / "report.txt", data))
    assert "binary file, not a report" in message
    assert detail in message


def test_binary_html_is_refused(tmp_path: Path) -> None:
    assert "binary file" in _refused(_write(tmp_path / "page.html", b"GIF89a\x01\x00\x01\x00"))


@pytest.mark.parametrize("name", ["report.xlsx", "report.rtf", "README"])
def test_unsupported_suffix_lists_supported_ones(tmp_path: Path, name: str) -> None:
    message = _refused(_write(tmp_path / name, "一、总体情况".encode()))
    assert "unsupported file type" in message
    assert ".txt, .md, .html, .htm, .docx, .pdf" in message
    assert SUPPORTED_SUFFIXES == (".txt", ".md", ".html", ".htm", ".docx", ".pdf")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    assert _refused(missing) == f"{missing}: file not found"
    assert "is a directory" in _refused(tmp_path)


def test_undecodable_text_is_refused(tmp_path: Path) -> None:
    # Valid in neither UTF-8 nor GB18030 (0x80 and 0xFF never start a GB18030 character).
    data = "一、总体情况".encode() + b"\x80\xff" + "全年公开".encode("gbk")
    assert "cannot determine the text encoding" in _refused(_write(tmp_path / "r.txt", data))


def _small_docx(path: Path) -> Path:
    document = docx.Document()
    document.add_paragraph("一、总体情况")
    document.save(path)
    return path


def test_corrupt_docx_is_refused(tmp_path: Path) -> None:
    good = _small_docx(tmp_path / "good.docx").read_bytes()
    truncated = _write(tmp_path / "truncated.docx", good[: len(good) // 2])
    assert "not a valid .docx file" in _refused(truncated)

    assert "not a ZIP archive" in _refused(_write(tmp_path / "text.docx", "一、总体情况".encode()))

    other_zip = tmp_path / "other.docx"
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("data.csv", "a,b\n1,2\n")
    assert "not a valid .docx file" in _refused(other_zip)

    ole = _write(tmp_path / "old.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64)
    assert "old Word .doc file" in _refused(ole)


def test_corrupt_pdf_is_refused(tmp_path: Path) -> None:
    good = (FORMATS / "table.pdf").read_bytes()
    truncated = _write(tmp_path / "truncated.pdf", good[: len(good) // 2])
    assert "corrupt or unreadable PDF" in _refused(truncated)
    garbage = _write(tmp_path / "garbage.pdf", b"%PDF-1.4\n" + b"garbage " * 50)
    assert "corrupt or unreadable PDF" in _refused(garbage)
    assert "not a PDF file" in _refused(_write(tmp_path / "text.pdf", "一、总体情况".encode()))


def test_scanned_pdf_needs_ocr() -> None:
    assert "needs OCR" in _refused(FORMATS / "scanned.pdf")


# --- HTML ---------------------------------------------------------------------------------

def test_html_merged_cells_are_one_cell_and_blanks_stay_blank() -> None:
    doc = read_document(FORMATS / "table_spans.html")
    assert (doc.format, doc.encoding) == ("html", "utf-8")
    assert doc.text.split("\n") == [
        "某县人民政府2020年政府信息公开工作年度报告",
        "一、总体情况",
        "\u3000\u30002020年，本县主动公开政府信息1234条， 较上年增长12%。",
        "第一行",
        "第二行",
        "三、收到和处理政府信息公开申请情况",
        "",
        "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）\t申请人情况",
        "自然人\t法人或其他组织\t总计",
        "商业企业\t科研机构\t社会公益组织\t法律服务机构\t其他",
        "一、本年新收政府信息公开申请数量\t3\t0\t0\t0\t\t0\t3",
        "三、本年度办理结果\t（一）予以公开\t2\t0\t0\t0\t0\t0\t2",
        "（二）部分公开（区分处理的，只计这一情形，不计其他情形）\t1\t0\t0\t0\t0\t0\t1",
        "（三）不予公开\t0\t\t0\t0\t0\t0\t0",
        "四、结转下年度继续办理\t0\t0\t0\t0\t0\t0\t0",
        "",
        "四、政府信息公开行政复议、行政诉讼情况",
        "",
    ]
    table = [line.split("\t") for line in doc.text.split("\n")[7:15]]
    # merged cells are written once, where they start; covered positions are not cells
    assert [len(row) for row in table] == [2, 3, 5, 8, 9, 8, 8, 8]
    assert table[3][5] == ""  # <td>&nbsp;</td>: a real cell, empty
    assert table[6][2] == ""  # <td> &nbsp; </td>
    assert doc.meta == {"title": "某县人民政府2020年政府信息公开工作年度报告"}


def test_html_gbk_meta_charset() -> None:
    doc = read_document(FORMATS / "meta_gbk.html")
    assert doc.encoding == "gb18030"
    assert doc.text == (
        "一、总体情况\n"
        "本年度主动公开政府信息456条，其中镕、堃等字仅见于GBK。\n"
        "\n"
        "信息内容\t本年制发件数\t本年废止件数\t现行有效件数\n"
        "规章\t1\t0\t7\n"
    )


def test_html_http_equiv_and_wrong_declarations(tmp_path: Path) -> None:
    body = "<p>一、总体情况</p><p>镕</p>"
    equiv = ('<meta http-equiv="Content-Type" content="text/html; charset=gb2312">' + body)
    doc = read_document(_write(tmp_path / "a.htm", equiv.encode("gbk")))
    assert (doc.text, doc.encoding) == ("一、总体情况\n镕\n", "gb18030")
    # Declared UTF-8 but saved as GBK: the declaration fails, detection takes over.
    lying = '<meta charset="utf-8">' + body
    doc = read_document(_write(tmp_path / "b.html", lying.encode("gbk")))
    assert (doc.text, doc.encoding) == ("一、总体情况\n镕\n", "gb18030")
    # A Western single-byte declaration is a template default, not the truth.
    latin = '<meta charset="iso-8859-1">' + body
    doc = read_document(_write(tmp_path / "d.html", latin.encode("utf-8")))
    assert (doc.text, doc.encoding) == ("一、总体情况\n镕\n", "utf-8")
    # A BOM wins over the declaration.
    bom = b"\xef\xbb\xbf" + ('<meta charset="gbk">' + body).encode("utf-8")
    doc = read_document(_write(tmp_path / "c.html", bom))
    assert (doc.text, doc.encoding) == ("一、总体情况\n镕\n", "utf-8-sig")


def test_html_layout_tables_are_read_as_blocks(tmp_path: Path) -> None:
    page = """<?xml version="1.0" encoding="utf-8"?>
    <html><body>
    <table><tr><td>导航</td><td>
      <p>一、总体情况</p>
      <table><tr><td>规章</td><td rowspan="9">0</td></tr><tr><td>规范性文件</td></tr></table>
      <p>二、结尾</p>
    </td></tr></table>
    <table><tr><td><p>单列第一段</p><p>单列第二段</p></td></tr></table>
    </body></html>"""
    doc = read_document(_write(tmp_path / "layout.html", page.encode("utf-8")))
    assert doc.text.split("\n") == [
        "导航", "一、总体情况", "", "规章\t0", "规范性文件", "", "二、结尾",
        "单列第一段", "单列第二段", "",
    ]


def test_html_deep_nesting(tmp_path: Path) -> None:
    deep = _write(tmp_path / "deep.html", ("<div>" * 1000 + "一、总体情况" + "</div>" * 1000).encode())
    assert read_document(deep).text == "一、总体情况\n"
    deeper = _write(tmp_path / "deeper.html", ("<div>" * 3000 + "x" + "</div>" * 3000).encode())
    assert "nested too deeply" in _refused(deeper)


# --- DOCX ---------------------------------------------------------------------------------

def test_docx_body_order_and_merged_cells(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("一、总体情况")
    document.add_paragraph("本年度主动公开政府信息\t123条。")
    table = document.add_table(rows=3, cols=4)
    for r, row in enumerate([["信息内容", "本年新制作数量", "本年新公开数量", "对外公开总数量"],
                             ["规章", "0", "0", "0"],
                             ["规范性文件", "5", "5", "12"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(1, 1).merge(table.cell(1, 2)).text = "0"      # horizontal merge
    table.cell(1, 3).merge(table.cell(2, 3)).text = "合计\n12"  # vertical merge, two paragraphs
    document.add_paragraph("")
    document.add_paragraph("二、主动公开政府信息情况")
    # Chinese Word wraps dates in smart tags; tracked changes: one insertion, one deletion.
    revision = 'w:id="{}" w:author="a" w:date="2020-01-01T00:00:00Z"'
    document.element.body.sectPr.addprevious(parse_xml(
        f'<w:p {nsdecls("w")}><w:r><w:t>统计时限为</w:t></w:r>'
        '<w:smartTag w:uri="urn:schemas-microsoft-com:office:smarttags" w:element="chsdate">'
        "<w:r><w:t>2019年1月1日</w:t></w:r></w:smartTag>"
        f"<w:ins {revision.format(1)}><w:r><w:t>至</w:t></w:r></w:ins>"
        f"<w:del {revision.format(2)}><w:r><w:delText>到</w:delText></w:r></w:del>"
        "<w:r><w:t>12月31日</w:t></w:r></w:p>"))
    path = tmp_path / "report.docx"
    document.save(path)

    doc = read_document(path)
    assert (doc.format, doc.encoding) == ("docx", None)
    assert doc.text.split("\n") == [
        "一、总体情况",
        "本年度主动公开政府信息\t123条。",
        "",
        "信息内容\t本年新制作数量\t本年新公开数量\t对外公开总数量",
        "规章\t0\t合计 12",       # 0 spans two columns; 合计 12 spans two rows
        "规范性文件\t5\t5",
        "",
        "二、主动公开政府信息情况",
        "统计时限为2019年1月1日至12月31日",
        "",
    ]


# --- PDF ----------------------------------------------------------------------------------

def test_pdf_text_and_ruled_table() -> None:
    doc = read_document(FORMATS / "table.pdf")
    assert (doc.format, doc.encoding) == ("pdf", None)
    assert doc.text.split("\n") == [
        "一、总体情况",
        "本年度主动公开政府信息123条。",
        "二、主动公开政府信息情况",
        "",
        "第二十条第（一）项",  # one cell merged across the row: pdfplumber's None cells are not cells
        "信息内容\t本年新制作数量\t本年新公开数量\t对外公开总数量",
        "规章\t0\t0\t0",
        "规范性文件\t5\t5\t12",
        "行政许可\t819\t17\t836",
        "其他对外管理服务事项\t3\t1\t4",  # wrapped onto two lines inside the cell
        "",
        "三、存在的主要问题及改进情况",
        "四、其他需要报告的事项",  # page 2
        "",
    ]
