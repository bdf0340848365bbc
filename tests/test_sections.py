"""Section spans of the five samples, checked by hand against the files' lines."""

import pytest

from gkextract.sections import PART_KINDS, split_sections

from samples import text

# (start, end) of each part; start is the first character of its heading.
SPANS = {
    "000": {"overview": (284, 1398), "proactive": (1401, 1766), "applications": (1770, 2891),
            "review_litigation": (2898, 3089), "problems": (3093, 3537), "other": (3538, 3578)},
    # 001's proactive part ends with its last row's trailing tab: a blank cell, kept
    "001": {"overview": (68, 1595), "proactive": (1597, 1892), "applications": (1894, 2716),
            "review_litigation": (2718, 2875), "problems": (2877, 3225), "other": (3227, 3298)},
    "002": {"overview": (1, 760), "proactive": (761, 1147), "applications": (1151, 2206),
            "review_litigation": (2210, 2401), "problems": (2405, 2635), "other": (2636, 2658)},
    "003": {"overview": (294, 2096), "proactive": (2098, 2481), "applications": (2492, 3424),
            "review_litigation": (3429, 3606), "problems": (3608, 4109), "other": (4111, 4122)},
    "004": {"overview": (500, 3060), "proactive": (3061, 3425), "applications": (3429, 4643),
            "review_litigation": (4647, 4851), "problems": (4855, 6406), "other": (6407, 6467)},
}
# The line (1-based) each part's heading stands on, read off the files.
LINES = {
    "000": [9, 26, 101, 368, 415, 419],
    "001": [9, 25, 47, 77, 84, 90],
    "002": [1, 10, 86, 349, 396, 401],
    "003": [9, 39, 153, 521, 591, 601],
    "004": [5, 12, 88, 351, 397, 407],
}


@pytest.mark.parametrize("key", sorted(SPANS))
def test_spans_and_heading_lines(key):
    t = text(key)
    split = split_sections(t)
    assert split.missing == []
    assert {k: (p.start, p.end) for k, p in split.parts.items()} == SPANS[key]
    assert [t.count("\n", 0, split.parts[k].start) + 1 for k in PART_KINDS] == LINES[key]


def test_headings_as_written():
    split = split_sections(text("001"))
    assert split.parts["problems"].heading == "五、政府信息公开工作存在的主要问题及改进情况"
    assert split.parts["other"].heading == "六、其他需要报告的事项"
    assert split_sections(text("000")).parts["other"].heading == "六、其他需报告的事项"


def test_duplicated_overview_heading_takes_the_real_one():
    t = text("003")
    split = split_sections(t)
    # Line 5 "一、\xa0总体情况" is followed by the preamble; the real part starts at line 9.
    assert t[split.parts["overview"].body_start:].lstrip().startswith("2020年,遂平县聚焦")
    assert split.preamble == (0, 294)
    assert "一、\xa0总体情况" in t[:294]


def test_non_standard_first_part_keeps_its_subparts():
    t = text("002")
    ov = split_sections(t).parts["overview"]
    body = ov.body(t)
    assert "二、主动公开政府信息的情况" in body and "四、政府信息公开工作下步计划" in body
    assert t[split_sections(t).parts["proactive"].body_start:].startswith("\n\t第二十条第（一）项")


def test_preamble_listing_the_parts_is_not_taken_for_headings():
    t = text("004")
    split = split_sections(t)
    assert split.parts["proactive"].start == 3061  # not the 、主动公开政府信息情况 in line 4
    assert "本报告包括总体情况、主动公开政府信息情况" in t[: split.parts["overview"].start]


def test_signature_is_split_from_the_last_part():
    t = text("000")
    split = split_sections(t)
    assert t[split.signature[0]:split.signature[1]] == "保德县人民政府\n2020年2月12日"
    assert split.parts["other"].text(t).endswith("无其他需报告的事项。")


def test_items_inside_narrative_parts():
    t = text("003")
    items = [(i.kind, i.marker, i.title) for i in split_sections(t).items]
    assert ("overview", "(一)", "主动公开情况") in items
    assert ("overview", "1.", "强化组织领导") in items
    assert ("problems", "(三)", "拓宽信息公开渠道") in items
    assert len([i for i in items if i[0] == "overview" and i[1].startswith("(")]) == 7
    first = split_sections(t).items[0]
    assert t[first.start:first.end].startswith("(一)主动公开情况")


def test_whole_report_on_one_line():
    t = text("000").replace("\n", " ")
    split = split_sections(t)
    assert split.missing == []
    assert split.parts["problems"].heading == "五、存在的主要问题及改进情况"
    assert t[split.parts["overview"].start:].startswith("一、总体情况")


def test_heading_with_missing_numeral():
    t = text("000").replace("\n二、主动公开政府信息情况", "\n、主动公开政府信息情况")
    split = split_sections(t)
    assert split.missing == []
    assert split.parts["proactive"].heading == "、主动公开政府信息情况"


def test_missing_parts_are_reported_not_guessed():
    t = text("000")
    cut = t.index("四、政府信息公开行政复议")
    split = split_sections(t[:cut])
    assert split.missing == ["review_litigation", "problems", "other"]
    assert "applications" in split.parts
