"""Table cells of the five samples, read by hand off the files, NULLs included."""

import pytest

from gkextract.ingest import parse_document
from gkextract.read import read_document
from gkextract.tables import align, parse_applications, parse_proactive, Token

from samples import SAMPLES, text


def parsed(key):
    return parse_document(read_document(SAMPLES[key]))


def cells(key):
    r = parsed(key)
    return {(c.table, c.row_key, c.col_key): (c.value, c.status) for t in r.tables.values() for c in t.cells}


# (table, row, col) -> value; None means NULL.  All read off the sample files.
EXPECTED = {
    "000": {
        ("proactive", "normative_documents", "new_made"): 5,
        ("proactive", "normative_documents", "total_published"): 5,
        ("proactive", "rules", "new_published"): 0,
        ("proactive", "administrative_licensing", "prev_year_items"): 819,
        ("proactive", "administrative_licensing", "change"): 17,          # "+17"
        ("proactive", "administrative_licensing", "decisions"): 836,
        ("proactive", "administrative_penalty", "prev_year_items"): 19,
        ("proactive", "administrative_penalty", "change"): 1,             # "+1"
        ("proactive", "administrative_penalty", "decisions"): 20,
        ("proactive", "administrative_fees", "prev_year_items"): 25,
        ("proactive", "administrative_fees", "change"): -2,
        ("proactive", "centralized_procurement", "procurement_items"): 14,
        ("proactive", "centralized_procurement", "procurement_amount"): 1631.63,  # "1631．63万元"
        ("applications", "new_received", "natural_person"): 0,
        ("applications", "new_received", "total"): 0,
        ("applications", "carried_over", "total"): 0,
        ("applications", "withheld_three_safety", "research"): 0,
        ("applications", "other_handling", "natural_person"): 0,
        ("applications", "total_handled", "total"): 0,
        ("applications", "carried_forward", "other_org"): 0,
        ("review_litigation", "administrative_review", "total"): 0,
        ("review_litigation", "litigation_after_review", "pending"): 0,
    },
    "001": {
        ("proactive", "normative_documents", "new_made"): 3,
        ("proactive", "normative_documents", "new_published"): 3,
        ("proactive", "normative_documents", "total_published"): 3,
        ("proactive", "administrative_fees", "prev_year_items"): 0,
        ("proactive", "administrative_fees", "change"): 0,
        ("proactive", "centralized_procurement", "procurement_amount"): 0,
        ("applications", "new_received", "natural_person"): 2,
        ("applications", "new_received", "commercial"): 0,
        ("applications", "new_received", "total"): 2,
        ("applications", "disclosed", "natural_person"): 2,
        ("applications", "disclosed", "commercial"): None,       # empty cell in the OCR row
        ("applications", "disclosed", "research"): 0,
        ("applications", "disclosed", "social_welfare"): None,
        ("applications", "disclosed", "legal_service"): None,
        ("applications", "disclosed", "other_org"): None,
        ("applications", "disclosed", "total"): 2,
        ("applications", "withheld_state_secret", "natural_person"): None,  # 6 cells for 7 columns
        ("applications", "withheld_state_secret", "total"): None,
        ("applications", "withheld_prohibited", "total"): None,
        ("applications", "withheld_third_party", "total"): 0,   # garbled label "4.保护第三方 △涉切关"
        ("applications", "not_processed_publication", "total"): 0,  # "3.要求提供公 正山版物"
        ("applications", "other_handling", "total"): 0,          # label spans two empty cells
        ("applications", "total_handled", "natural_person"): 0,
        ("applications", "carried_forward", "total"): 0,
        ("review_litigation", "administrative_review", "upheld"): None,  # 14 numbers for 15 columns
        ("review_litigation", "litigation_after_review", "total"): None,
    },
    "002": {
        ("proactive", "rules", "new_made"): 1,
        ("proactive", "normative_documents", "total_published"): 3,
        ("proactive", "administrative_licensing", "prev_year_items"): 70,
        ("proactive", "administrative_licensing", "change"): 1,          # "增1"
        ("proactive", "administrative_licensing", "decisions"): 23677,
        ("proactive", "other_services", "change"): -13,                  # "减13"
        ("proactive", "other_services", "decisions"): 1872,
        ("proactive", "administrative_penalty", "prev_year_items"): 1207,
        ("proactive", "administrative_penalty", "change"): -330,         # "减330"
        ("proactive", "administrative_penalty", "decisions"): 6382,
        ("proactive", "administrative_enforcement", "change"): -20,
        ("proactive", "administrative_enforcement", "decisions"): 0,
        ("proactive", "administrative_fees", "change"): -19,
        ("proactive", "centralized_procurement", "procurement_items"): 62,
        ("proactive", "centralized_procurement", "procurement_amount"): 7441.879403,
        ("applications", "new_received", "natural_person"): 5,
        ("applications", "new_received", "total"): 5,
        ("applications", "disclosed", "natural_person"): 2,
        ("applications", "withheld_three_safety", "natural_person"): 0,  # label "…一稳定”0" + 7 cells
        ("applications", "unable_not_held", "natural_person"): 3,
        ("applications", "unable_not_held", "total"): 3,
        ("applications", "total_handled", "total"): 5,
        ("review_litigation", "administrative_review", "other"): 1,
        ("review_litigation", "administrative_review", "total"): 1,
        ("review_litigation", "litigation_direct", "upheld"): 7,
        ("review_litigation", "litigation_direct", "total"): 7,
        ("review_litigation", "litigation_after_review", "upheld"): 1,
        ("review_litigation", "litigation_after_review", "total"): 1,
    },
    "003": {
        ("proactive", "normative_documents", "new_made"): 15,
        ("proactive", "normative_documents", "total_published"): 46,
        ("proactive", "administrative_licensing", "change"): -14,
        ("proactive", "administrative_licensing", "decisions"): 4657,    # "4,657"
        ("proactive", "other_services", "prev_year_items"): 1286,
        ("proactive", "other_services", "decisions"): 144402,
        ("proactive", "administrative_penalty", "decisions"): 201501,
        ("proactive", "administrative_enforcement", "prev_year_items"): 67,
        ("proactive", "administrative_fees", "prev_year_items"): None,   # only "29" for two columns
        ("proactive", "administrative_fees", "change"): None,
        ("proactive", "centralized_procurement", "procurement_items"): 1228,
        ("proactive", "centralized_procurement", "procurement_amount"): 13193,  # header: 单位:万元
        ("applications", "new_received", "natural_person"): None,        # 5 cells for 7 columns
        ("applications", "new_received", "total"): None,
        ("applications", "carried_over", "natural_person"): None,
        ("applications", "disclosed", "natural_person"): 11,
        ("applications", "disclosed", "total"): 11,
        ("applications", "partially_disclosed", "natural_person"): None,
        ("applications", "withheld_admin_query", "natural_person"): 2,
        ("applications", "withheld_admin_query", "total"): 2,
        ("applications", "unable_not_held", "natural_person"): 3,        # "\xa03"
        ("applications", "unable_not_held", "commercial"): 1,
        ("applications", "unable_not_held", "total"): 4,
        ("applications", "total_handled", "natural_person"): 20,
        ("applications", "total_handled", "commercial"): 1,
        ("applications", "total_handled", "total"): 21,
        ("applications", "carried_forward", "total"): 1,
        ("review_litigation", "administrative_review", "corrected"): 1,
        ("review_litigation", "administrative_review", "total"): 1,
        ("review_litigation", "litigation_direct", "total"): 0,
    },
    "004": {
        ("proactive", "normative_documents", "new_made"): 3,
        ("proactive", "administrative_penalty", "prev_year_items"): 0,  # "\u30000"
        ("proactive", "administrative_penalty", "change"): 0,
        ("proactive", "administrative_enforcement", "decisions"): 0,
        ("proactive", "administrative_fees", "prev_year_items"): 0,     # "\u30000"
        ("proactive", "administrative_fees", "change"): 0,              # "0\xa0"
        ("proactive", "centralized_procurement", "procurement_items"): 99,  # "\u300099"
        ("proactive", "centralized_procurement", "procurement_amount"): 7111.64,
        ("applications", "new_received", "natural_person"): 2,
        ("applications", "new_received", "commercial"): 0,
        ("applications", "new_received", "legal_service"): 1,
        ("applications", "new_received", "other_org"): 2,
        ("applications", "new_received", "total"): 5,
        ("applications", "carried_over", "natural_person"): 0,          # "\xa0 0"
        ("applications", "disclosed", "total"): 0,
        ("applications", "unable_not_held", "total"): 0,
        ("applications", "total_handled", "natural_person"): 0,
        ("applications", "total_handled", "total"): 0,
        ("applications", "carried_forward", "total"): 0,
        ("review_litigation", "administrative_review", "total"): 0,
        ("review_litigation", "litigation_after_review", "total"): 0,
    },
}


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_cells(key):
    got = cells(key)
    expected = EXPECTED[key]
    assert len(expected) >= 20
    assert {k: got[k][0] for k in expected} == expected
    for k, v in expected.items():
        if v is None:
            assert got[k][1] in ("misaligned", "empty"), k
        else:
            assert got[k][1] == "ok", k


STATUSES = {
    "000": {"proactive": "ok", "applications": "ok", "review_litigation": "ok"},
    "001": {"proactive": "ok", "applications": "misaligned", "review_litigation": "misaligned"},
    "002": {"proactive": "ok", "applications": "ok", "review_litigation": "ok"},
    "003": {"proactive": "misaligned", "applications": "misaligned", "review_litigation": "ok"},
    "004": {"proactive": "ok", "applications": "ok", "review_litigation": "ok"},
}
LAYOUTS = {"000": "cell_per_line", "001": "tab_rows", "002": "cell_per_line", "003": "blank_separated",
           "004": "cell_per_line"}


@pytest.mark.parametrize("key", sorted(STATUSES))
def test_table_status_layout_template(key):
    r = parsed(key)
    assert {k: t.status for k, t in r.tables.items()} == STATUSES[key]
    assert {t.layout for t in r.tables.values()} == {LAYOUTS[key]}
    assert r.template == "2019"


def test_misaligned_rows_keep_raw_cells_and_shift_nothing():
    t = parsed("003").tables["applications"]
    row = t.row("new_received")
    assert row.status == "misaligned"
    assert row.raw_cells == ["17\xa0", "\xa00", "0", "\xa00", "18"]
    assert [c.value for c in t.cells if c.row_key == "new_received"] == [None] * 7
    fees = parsed("003").tables["proactive"].row("administrative_fees")
    assert (fees.status, fees.raw_cells, fees.note) == ("misaligned", ["29"], "1 value cell(s) for 2 columns: more than one reading")
    t3 = parsed("001").tables["review_litigation"]
    assert t3.row("administrative_review").raw_cells == ["0"] * 14


def test_empty_cell_is_null_not_zero():
    c = parsed("001").tables["applications"].cell("disclosed", "commercial")
    assert (c.raw, c.value, c.status) == ("", None, "empty")


def test_full_width_space_cells_parse_as_zero():
    c = parsed("004").tables["proactive"].cell("administrative_penalty", "prev_year_items")
    assert (c.raw, c.value) == ("\u30000", 0)


def test_money_normalised_to_wanyuan():
    body = ("第二十条第（九）项\n信息内容\t采购项目数量\t采购总金额\n政府集中采购\t3\t251000元\n")
    t = parse_proactive(body)
    c = t.cell("centralized_procurement", "procurement_amount")
    assert (c.raw, c.value, c.unit) == ("251000元", 25.1, "万元")


def test_not_applicable_marks():
    body = "第二十条第（八）项\n信息内容\t上一年项目数量\t本年增/减\n行政事业性收费\t/\t-\n"
    t = parse_proactive(body)
    assert [(c.value, c.status) for c in t.cells if c.row_key == "administrative_fees"] == [
        (None, "not_applicable"), (None, "not_applicable")]


def test_pipe_table():
    body = ("| 信息内容 | 本年新制作数量 | 本年新公开数量 | 对外公开总数量 |\n|---|---|---|---|\n"
            "| 规章 | 0 | 0 | 0 |\n| 规范性文件 | 12 | 12 | 40 |\n")
    t = parse_proactive(body)
    assert t.layout == "pipe"
    assert [c.value for c in t.cells if c.row_key == "normative_documents"] == [12, 12, 40]
    assert t.row("administrative_licensing").status == "missing"
    assert t.status == "partial"


def test_2021_template():
    body = (
        "第二十条第（一）项\n信息内容\t本年制发件数\t本年废止件数\t现行有效件数\n"
        "规章\t0\t0\t2\n行政规范性文件\t7\t1\t35\n"
        "第二十条第（五）项\n信息内容\t本年处理决定数量\n行政许可\t1,024\n"
        "第二十条第（六）项\n信息内容\t本年处理决定数量\n行政处罚\t88\n行政强制\t3\n"
        "第二十条第（八）项\n信息内容\t本年收费金额（单位：万元）\n行政事业性收费\t12.5\n"
    )
    t = parse_proactive(body)
    assert t.template == "2021" and t.status == "ok"
    assert t.value("normative_documents", "in_force") == 35
    assert t.value("administrative_licensing", "decisions") == 1024
    assert t.cell("administrative_fees", "fee_amount").unit == "万元"
    t2 = parse_applications(
        "（六）其他处理\n1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请\t1\t0\t0\t0\t0\t0\t1\n",
        "2021")
    assert t2.template == "2021"


def test_truncated_row_is_misaligned():
    body = "一、本年新收政府信息公开申请数量\t5\t0\t0\n"
    t = parse_applications(body)
    assert t.row("new_received").status == "misaligned"
    assert t.row("total_handled").status == "missing"


def tok(raw, sep="cell"):
    return Token("value" if raw.strip() else "empty", raw, sep=sep)


@pytest.mark.parametrize("cells, n, glued, expected", [
    (["1", "2", "3"], 3, None, ["1", "2", "3"]),
    (["1", "2", "3", ""], 3, None, ["1", "2", "3"]),          # trailing padding
    (["", "", "1", "2", "3"], 3, None, ["1", "2", "3"]),      # label spanning columns
    (["1", "", "3"], 3, None, ["1", None, "3"]),              # an empty cell in place
    (["2", "3"], 3, "1", ["1", "2", "3"]),                    # number glued to the label
    (["2", "3", "4"], 3, "0", ["2", "3", "4"]),               # a stray glued number is left out
    (["1", "2"], 3, None, None),                              # too few: never shifted
    (["", "1", "2"], 4, None, None),
    (["", "1", "2", ""], 3, None, None),                      # padding before or after: can't tell
])
def test_align(cells, n, glued, expected):
    toks = ([Token("value", glued, sep="glued")] if glued else []) + [tok(c) for c in cells]
    assert align(toks, n).cells == expected


@pytest.mark.parametrize("pieces, n, expected", [
    (["230", "000023"], 7, ["23", "0", "0", "0", "0", "0", "23"]),   # one reading fits 总计
    (["0", "0", "00", "00", "0"], 7, ["0"] * 7),                      # a cell never starts with 0
    (["21710000218"], 7, ["217", "1", "0", "0", "0", "0", "218"]),
    (["260000027"], 7, None),                 # no split fits the total: not guessed
    (["5", "5"], 7, None),                    # blanks hidden somewhere: many readings
    (["17", "0", "0", "0", "18"], 7, None),   # splitting 17 and 18 would break the total
])
def test_align_run_together_digits_by_row_total(pieces, n, expected):
    from gkextract.tables import ROW_TOTAL
    assert align([tok(p, "space") for p in pieces], n, ROW_TOTAL).cells == expected


def test_align_review_row_by_group_totals():
    from gkextract.tables import GROUP_TOTALS
    got = align([tok("21317000001324019", "space")], 15, GROUP_TOTALS).cells
    assert got == ["2", "1", "3", "1", "7", "0", "0", "0", "0", "0", "13", "2", "4", "0", "19"]


def test_align_run_together_without_identity_only_when_forced():
    assert align([tok("000", "space")], 3).cells == ["0", "0", "0"]
    assert align([tok("693665", "space")], 3).cells is None     # 69|3|665? 6|93|665? not guessed
    assert align([tok("2648", "space"), tok("-18538", "space")], 3).cells is None


def test_whole_report_on_one_line_gives_the_same_cells():
    from gkextract.read import Document
    flat = text("000").replace("\n", " ").replace("\t", " ")
    one_line = parse_document(Document("flat.txt", "txt", flat, "utf-8"))
    assert {t.layout for t in one_line.tables.values()} == {"inline"}
    assert {k: v[0] for k, v in cells("000").items()} == {
        (c.table, c.row_key, c.col_key): c.value for t in one_line.tables.values() for c in t.cells}
