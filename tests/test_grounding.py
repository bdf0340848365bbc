"""Locating quotes and checking numbers: exact, normalised, fuzzy; 3 ↔ 三, 1000余 ↔ 1000."""

import pytest

from gkextract.crosscheck import TableRef
from gkextract.grounding import Fact, Grounder, assess_fact, check_number
from gkextract.numbers import cn_to_int, find_quantities, parse_cell

from samples import text

T = text("001")
SECTION = (68, 1595)   # 一、总体情况 of sample 001


def test_exact_match_gives_the_offsets():
    g = Grounder(T, SECTION)
    quote = "“印象盐池”微信公众号发布信息 1900 余条"
    span = g.locate(quote, *SECTION)
    assert (span.start, span.end, span.match) == (T.index(quote), T.index(quote) + len(quote), "exact")


def test_normalised_match_maps_back_to_the_original_characters():
    g = Grounder(T, SECTION)
    span = g.locate("累计公开各类政府信息4340余条", *SECTION)   # the report has spaces: "4340 余条"
    assert span.match == "normalized"
    assert T[span.start:span.end] == "累计公开各类政府信息 4340 余条"


def test_fuzzy_match_is_character_level():
    g = Grounder(T, SECTION)
    span = g.locate("邀请人大代表、政协委员、群众代表、企业代表、记者代表等105人次列席了政府常务会议", *SECTION)
    assert span.match == "fuzzy" and span.similarity >= 85
    assert "列席政府常务会议" in T[span.start:span.end]


def test_fabricated_quote_is_not_found():
    span = Grounder(T, SECTION).locate("县政府门户网站全年发布信息5000条", *SECTION)
    assert (span.start, span.match) == (None, "none")


def fact(value, quote, approximate=False, unit=None, kind="supervision", metric=None, label=None, **attrs):
    return Fact(kind, metric, label, attrs, value, unit, approximate, quote)


@pytest.mark.parametrize("value, quote, approximate, expected", [
    (3, "下发督查通报三期", False, True),
    (2, "举办培训两期", False, True),
    (1000, "累计完成培训人员 1000 余人次", True, True),
    (11, "覆盖十一个区", False, True),
    (100, "办复率为 100%", False, True),
    (0, "2019年，我县未收到要求公开政府信息的申请。", False, True),
    (4380, "全年公开政府信息总计4038条", False, False),
    (5, "依法按时办结4件", False, False),
])
def test_number_in_quote(value, quote, approximate, expected):
    flags, _ = check_number(fact(value, quote, approximate), quote)
    assert ("number_not_in_quote" not in flags) is expected
    assert flags == ([] if expected else ["number_not_in_quote"])


def test_assess_scores_and_flags():
    g = Grounder(T, SECTION)
    ok = assess_fact(fact(4, "开展政务公开专项督查检查 4 次", unit="次"), g)
    assert (ok.flags, ok.score) == ([], 1.0)
    wrong = assess_fact(fact(5, "开展政务公开专项督查检查 4 次", unit="次"), g)
    assert (wrong.flags, wrong.score) == (["number_not_in_quote"], 0.5)
    conflict = assess_fact(fact(2, "我县收到自然人依申请公开政府信息2件", unit="件", kind="application",
                                metric="received"), g,
                           table=TableRef("applications.new_received.total", (3.0,)))
    assert conflict.flags == ["conflicts_with_table"] and conflict.table_value == 3.0
    unavailable = assess_fact(fact(2, "我县收到自然人依申请公开政府信息2件", unit="件", kind="application",
                                   metric="received"), g,
                              table=TableRef("applications.new_received.total", (), "new_received.total is misaligned"))
    assert (unavailable.flags, unavailable.score) == (["table_unavailable"], 1.0)
    outside = assess_fact(fact(None, "我办政府信息公开工作虽取得了一定的成绩"), g)   # in 五, not in 一
    assert outside.flags == ["quote_outside_section"] and outside.span.start == T.index("我办政府信息公开工作虽取得了一定的成绩")
    assert outside.score == 0.6


def test_chinese_numerals_and_quantities():
    assert [cn_to_int(x) for x in ("十一", "两", "一百零五", "三万", "二十")] == [11, 2, 105, 30000, 20]
    q = find_quantities("公开信息 4340 余条，近百场")
    assert [(x.value, x.approximate, x.unit) for x in q] == [(4340, True, "条"), (100, True, "场")]
    q = find_quantities("两条微信阅读量即达180万次，收费25.1万元，粉丝550万")
    assert [(x.value, x.unit) for x in q] == [(2, "条"), (1_800_000, "次"), (25.1, "万元"), (5_500_000, None)]


@pytest.mark.parametrize("raw, money, header_unit, value, unit, status", [
    ("4,657", False, None, 4657, None, "ok"),
    ("+17", False, None, 17, None, "ok"),
    ("增1", False, None, 1, None, "ok"),
    ("减330", False, None, -330, None, "ok"),
    ("1631．63万元", True, None, 1631.63, "万元", "ok"),
    ("251000元", True, None, 25.1, "万元", "ok"),
    ("13,193", True, "万元", 13193, "万元", "ok"),
    ("/", False, None, None, None, "not_applicable"),
    ("", False, None, None, None, "empty"),
    ("\u30000", False, None, 0, None, "ok"),
    ("约5", False, None, None, None, "unparsed"),
])
def test_parse_cell(raw, money, header_unit, value, unit, status):
    c = parse_cell(raw, money=money, header_unit=header_unit)
    assert (c.value, c.unit, c.status) == (value, unit, status)
