"""Regressions for what went wrong on reports outside the repo (issue 7), one per failure class.

Each builds its own small report in the shape that broke: merged cells in HTML, DOCX
and PDF, blank cells at a section's end, pipe rows without a leading |, cells closed
by " |", PDF text dumps, Markdown, the 2021 template's （六）1., issuer lines of every
kind, and checks over blank cells.
"""

from __future__ import annotations

from pathlib import Path

import docx
import pytest

from gkextract.ingest import parse_document
from gkextract.read import Document, read_document
from gkextract.region import resolve
from gkextract.tables import parse_applications, parse_proactive, parse_review_litigation

T2_HEAD = "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"


def _doc(text: str, name: str = "r.txt", **meta: str) -> Document:
    return Document(name, name.rsplit(".", 1)[-1], text, "utf-8", dict(meta))


def _report(tables: str, title: str = "某县人民政府2020年政府信息公开工作年度报告") -> str:
    return (f"{title}\n一、总体情况\n全年主动公开信息100条。\n{tables}\n"
            "五、存在的主要问题及改进情况\n一是政策解读不够深入。\n六、其他需要报告的事项\n无。\n")


# --- merged cells: one cell, never blanks that shift a row ---------------------------------

def test_html_label_spanning_two_columns_with_a_blank_last_cell_is_not_shifted(tmp_path: Path):
    # （一）予以公开 spans two columns under a rowspan label; its 总计 cell is really blank.
    html = (
        "<p>三、收到和处理政府信息公开申请情况</p><table>"
        f"<tr><td colspan=3 rowspan=3>{T2_HEAD}</td><td colspan=7>申请人情况</td></tr>"
        "<tr><td rowspan=2>自然人</td><td colspan=5>法人或其他组织</td><td rowspan=2>总计</td></tr>"
        "<tr><td>商业企业</td><td>科研机构</td><td>社会公益组织</td><td>法律服务机构</td><td>其他</td></tr>"
        "<tr><td colspan=3>一、本年新收政府信息公开申请数量</td>" + "<td>1</td>" * 6 + "<td>6</td></tr>"
        "<tr><td rowspan=2>三、本年度办理结果</td><td colspan=2>（一）予以公开</td>"
        + "<td>1</td>" * 6 + "<td>&nbsp;</td></tr>"
        "<tr><td colspan=2>（二）部分公开（区分处理的，只计这一情形，不计其他情形）</td>"
        + "<td>0</td>" * 7 + "</tr></table><p>四、政府信息公开行政复议、行政诉讼情况</p>"
    )
    p = tmp_path / "r.html"
    p.write_text(f"<html><body><p>某县人民政府2020年政府信息公开工作年度报告</p><p>一、总体情况</p>{html}"
                 "</body></html>", encoding="utf-8")
    t = parse_document(read_document(p)).tables["applications"]
    row = [(c.value, c.status) for c in t.cells if c.row_key == "disclosed"]
    assert row == [(1, "ok")] * 6 + [(None, "empty")]


def test_value_spanning_two_columns_is_one_cell(tmp_path: Path):
    # "13 | 13 (colspan 2) | 524": 2019 template, one value cell spanning two grid columns
    html = ("<p>二、主动公开政府信息情况</p><table>"
            "<tr><td colspan=5>第二十条第（一）项</td></tr>"
            "<tr><td>信息内容</td><td>本年新制作数量</td><td colspan=2>本年新公开数量</td><td>对外公开总数量</td></tr>"
            "<tr><td>规章</td><td>13</td><td colspan=2>13</td><td>524</td></tr></table>"
            "<p>三、收到和处理政府信息公开申请情况</p>")
    p = tmp_path / "r.html"
    p.write_text(f"<p>一、总体情况</p>{html}", encoding="utf-8")
    t = parse_document(read_document(p)).tables["proactive"]
    assert [c.value for c in t.cells if c.row_key == "rules"] == [13, 13, 524]
    assert t.row("rules").status == "ok"


def test_docx_vertical_and_horizontal_merges_write_each_cell_once(tmp_path: Path):
    d = docx.Document()
    d.add_paragraph("某县人民政府2020年政府信息公开工作年度报告")
    d.add_paragraph("四、政府信息公开行政复议、行政诉讼情况")
    t = d.add_table(rows=4, cols=15)
    t.cell(0, 0).merge(t.cell(0, 4)).text = "行政复议"
    t.cell(0, 5).merge(t.cell(0, 14)).text = "行政诉讼"
    for c, label in enumerate(["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"]):
        t.cell(1, c).merge(t.cell(2, c)).text = label          # vertical merges
        t.cell(2, 5 + c).text = label
        t.cell(2, 10 + c).text = label
    t.cell(1, 5).merge(t.cell(1, 9)).text = "未经复议直接起诉"
    t.cell(1, 10).merge(t.cell(1, 14)).text = "复议后起诉"
    values = ["1", "", "0", "0", "1", "2", "0", "0", "0", "2", "", "", "", "", ""]
    for c, v in enumerate(values):
        t.cell(3, c).text = v
    d.add_paragraph("五、存在的主要问题及改进情况")
    p = tmp_path / "r.docx"
    d.save(p)
    table = parse_document(read_document(p)).tables["review_litigation"]
    assert [c.value for c in table.cells] == [1, None, 0, 0, 1, 2, 0, 0, 0, 2, None, None, None, None, None]
    assert table.status == "ok"


# --- the section's end keeps the last row's blank cells --------------------------------------

def test_trailing_blank_cells_of_the_last_row_survive_the_section_end():
    rows = "\t行政复议\n\t行政诉讼\n" + "".join(f"\t{h}\n" for h in ("结果维持", "结果纠正", "其他结果", "尚未审结", "总计") * 3)
    cells = "\t1\n\t0\n\t0\n\t0\n\t1\n" + "\t\n" * 10      # 复议后起诉 and most of 直接起诉: blank
    text = _report(f"四、政府信息公开行政复议、行政诉讼情况\n{rows}\n{cells}\n")
    t = parse_document(_doc(text)).tables["review_litigation"]
    assert t.status == "ok"
    assert [c.value for c in t.cells] == [1, 0, 0, 0, 1] + [None] * 10


# --- layouts --------------------------------------------------------------------------------

def test_pipe_rows_without_a_leading_bar():
    body = ("第二十条第（一）项 |\n信息内容 | 本年制发件数 | 本年废止件数 | 现行有效件数 |\n"
            "规章 | 0 | 0 | 0 |\n行政规范性文件 | 12 |  | 40 |\n")
    t = parse_proactive(body)
    assert t.layout == "pipe"
    assert [c.value for c in t.cells if c.row_key == "normative_documents"] == [12, None, 40]


def test_one_cell_per_line_closed_by_a_bar():
    body = "信息内容 |\n本年制发件数 |\n本年废止件数 |\n现行有效件数 |\n\n规章 |\n0 |\n0 |\n2 |\n\n行政规范性文件 |\n7 |\n |\n35 |\n"
    t = parse_proactive(body)
    assert t.template == "2021"
    assert [c.value for c in t.cells if c.row_key == "rules"] == [0, 0, 2]
    assert [c.value for c in t.cells if c.row_key == "normative_documents"] == [7, None, 35]


def test_pdf_text_dump_with_space_separated_cells_and_a_wrapped_label():
    body = (f"{T2_HEAD}\n   申请人情况\n  自然人  商业企业  科研机构  社会公益组织  法律服务机构  其他  总计\n"
            "一、本年新收政府信息公开申请数量     5    0    0    0    0    0    5\n"
            "二、上年结转政府信息公开申请数量     0    0    0    0    0    0    0\n"
            "三、本年度办理结果  （一）予以公开    3    0    0    0    0    0    3\n"
            "（二）部分公开（区分处理的，只计这一\n情形，不计其他情形）   2    0    0    0    0    0    2\n"
            "（七）总计    5    0    0    0    0    0    5\n"
            "四、结转下年度继续办理    0    0    0    0    0    0    0\n")
    t = parse_applications(body)
    assert t.layout == "space_rows"
    assert t.value("partially_disclosed", "natural_person") == 2
    assert t.value("total_handled", "total") == 5
    # a row whose blank cells vanished cannot be placed: said, not guessed
    t = parse_applications("一、本年新收政府信息公开申请数量     5    5\n")
    assert t.row("new_received").status == "misaligned"


def test_markdown_file_is_read(tmp_path: Path):
    md = ("# 某县人民政府2021年政府信息公开工作年度报告\n\n## 一、总体情况\n\n全年公开信息。\n\n"
          "## 二、主动公开政府信息情况\n\n| 第二十条第（一）项 | | | |\n|---|---|---|---|\n"
          "| 信息内容 | 本年制发件数 | 本年废止件数 | 现行有效件数 |\n| 规章 | 1 | 0 | 3 |\n\n"
          "## 三、收到和处理政府信息公开申请情况\n")
    p = tmp_path / "r.md"
    p.write_text(md, encoding="utf-8")
    r = parse_document(read_document(p))
    assert r.document.format == "md"
    assert r.metadata.issuer == "某县人民政府"
    assert [c.value for c in r.tables["proactive"].cells if c.row_key == "rules"] == [1, 0, 3]


def test_crawler_dump_with_digits_run_together():
    # 02-pingtan-2019's table 三 rows as the crawler flattened them
    body = (f"{T2_HEAD}申请人情况自然人法人或其他组织总计商业企业科研机构社会公益组织法律服务机构其他"
            "一、本年新收政府信息公开申请数量230 000023二、上年结转政府信息公开申请数量0000000"
            "三、本年度办理结果（一）予以公开7000007（二）部分公开（区分处理的，只计这一情形，不计其他情形）1000001"
            "（三）不予公开1.属于国家秘密00000002.其他法律行政法规禁止公开0000000")
    t = parse_applications(body)
    assert t.layout == "inline"
    assert [c.value for c in t.cells if c.row_key == "new_received"] == [23, 0, 0, 0, 0, 0, 23]
    assert [c.value for c in t.cells if c.row_key == "withheld_state_secret"] == [0] * 7
    assert t.row("withheld_prohibited").status == "ok"


# --- the 2021 template's （六）1. is not （五）4. ------------------------------------------------

def test_2021_other_handling_rows_are_not_taken_for_mass_repeat():
    body = ("（五）不予处理\t4.无正当理由大量反复申请\t1\t0\t0\t0\t0\t0\t1\n"
            "\t5.要求行政机关确认或重新出具已获取信息\t0\t0\t0\t0\t0\t0\t0\n"
            "（六）其他处理\t1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请\t2\t0\t0\t0\t0\t0\t2\n"
            "\t2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请\t0\t0\t0\t0\t0\t0\t0\n"
            "\t3.其他\t3\t0\t0\t0\t0\t0\t3\n")
    t = parse_applications("一、本年新收政府信息公开申请数量\t6\t0\t0\t0\t0\t0\t6\n" + body, "2021")
    assert t.template == "2021"
    assert t.value("not_processed_mass_repeat", "total") == 1
    assert t.value("other_overdue_correction", "total") == 2
    assert t.value("other_misc", "total") == 3
    assert not any("appears twice" in n for n in t.notes)


# --- issuer -----------------------------------------------------------------------------------

@pytest.mark.parametrize("head, issuer, how", [
    ("2019年某某市人民政府办公厅政府信息公开工作年度报告", "某某市人民政府办公厅", "title"),   # year first
    ("标题: 平潭综合实验区财政金融局2019年度政府信息公开工作年度报告", "平潭综合实验区财政金融局", "title"),
    ("保德县人民政府\n2019年政府信息公开工作年度报告", "保德县人民政府", "title"),          # split over lines
    ("某某市交通运输局2020年度政府信息公开\n工作年度报告", "某某市交通运输局", "title"),
    ("平潭综合实验区2019年度政府信息公开工作年度报告", "平潭综合实验区管委会", "title_place"),
    ("遂平县2020年政府信息公开工作年度报告", "遂平县人民政府", "title_place"),
])
def test_issuer_from_title_lines(head, issuer, how):
    r = parse_document(_doc(_report("", title=head)))
    assert (r.metadata.issuer, r.metadata.issuer_source) == (issuer, how)


@pytest.mark.parametrize("head", [
    "根据《中华人民共和国政府信息公开条例》规定，现公布本机关2019年政府信息公开工作年度报告。",
    "Page9-",
    "为",
])
def test_sentences_and_page_headers_are_never_issuers(head):
    r = parse_document(_doc(_report("", title=head)))
    assert r.metadata.issuer is None
    assert r.metadata.region is None


def test_issuer_from_the_signature_and_from_html_meta():
    text = _report("", title="") + "\n某某县人民政府办公室\n2020年1月20日\n"
    r = parse_document(_doc(text))
    assert (r.metadata.issuer, r.metadata.issuer_source, r.metadata.publication_date) == \
        ("某某县人民政府办公室", "signature", "2020-01-20")
    page = parse_document(_doc(_report("", title=""), "p.html",
                               ArticleTitle="平潭综合实验区2024年度政府信息公开工作年度报告",
                               PubDate="2025-03-10 15:35"))
    assert (page.metadata.issuer, page.metadata.year, page.metadata.publication_date) == \
        ("平潭综合实验区管委会", 2024, "2025-03-10")


def test_region_is_never_read_inside_the_state_name():
    assert resolve("中华人民共和国政府信息公开条例") is None
    assert resolve("共和县人民政府").county == "共和县"


def test_pre_2019_report_expects_no_tables():
    r = parse_document(_doc(_report("二、主动公开政府信息情况\n全年公开100条。\n",
                                    title="某县人民政府2018年政府信息公开工作年度报告")))
    assert r.template == "pre-2019"
    assert all(t.status == "missing" for t in r.tables.values())
    assert not any(p.startswith("table") for p in r.problems)


# --- checks over blank cells -------------------------------------------------------------------

def test_review_table_blanks_read_as_zero_in_checks():
    t = parse_review_litigation("结果维持\t结果纠正\t其他结果\t尚未审结\t总计\n1\t\t\t\t1\t\t\t\t\t\t\t\t\t\t\n")
    from gkextract.checks import check_review_litigation
    checks = {c.check_id: c for c in check_review_litigation(t)}
    c = checks["review_litigation.row_total.administrative_review"]
    assert (c.status, c.blanks_as_zero) == ("pass", True)
    assert checks["review_litigation.row_total.litigation_after_review"].status == "pass"
    assert [x.value for x in t.cells[:5]] == [1, None, None, None, 1]


def test_corpus_gold_passes_its_independent_check():
    """The golds agree with a second reading: each row's printed digits, the pages' <td>s, the identities."""
    import subprocess
    import sys
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, str(root / "fixtures/corpus/check_gold.py")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("OK") == 18


def _wide(text: str) -> int:
    import unicodedata
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _at(line: str, column: int, text: str) -> str:
    """``line`` padded so that ``text`` is centred on display column ``column``."""
    return line + " " * max(1, column - _wide(text) // 2 - _wide(line)) + text


def test_pdf_text_dump_places_blank_cells_under_their_headings():
    headings = ["自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]
    centres = [44 + 14 * i for i in range(7)]
    head = ""
    for h, c in zip(headings, centres):
        head = _at(head, c, h)

    def row(label: str, values: dict[int, str], shift: int = 0) -> str:
        line = label
        for i, v in sorted(values.items()):
            line = _at(line, centres[i] + (shift if i == 5 else 0), v)
        return line

    body = "\n".join([T2_HEAD, head, row("一、本年新收政府信息公开申请数量", {0: "5", 5: "2", 6: "7"}),
                      "二、上年结转政府信息公开申请数量",
                      row("（七）总计", {0: "5", 5: "2", 6: "7"})]) + "\n"
    t = parse_applications(body)
    assert t.layout == "space_rows"
    assert [c.value for c in t.cells if c.row_key == "new_received"] == [5, None, None, None, None, 2, 7]
    assert t.row("new_received").note == "blank cells placed by the columns' positions on the page"
    # a row of nothing but blanks: NULL, not guessed
    assert [c.value for c in t.cells if c.row_key == "carried_over"] == [None] * 7
    # a value half-way between two headings is not placed
    halfway = body.replace(row("（七）总计", {0: "5", 5: "2", 6: "7"}), row("（七）总计", {0: "5", 5: "2", 6: "7"}, -7))
    t = parse_applications(halfway)
    assert t.row("total_handled").status == "misaligned"
