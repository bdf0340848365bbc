"""Each grounding check on real sentences from the samples and the corpus (issue 8).

Every check is proved both ways: the wrong item is flagged, the right one is not.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gkextract.crosscheck import table_reference
from gkextract.grounding import (Fact, Grounder, assess_fact, assess_statement, check_number,
                                 check_training_status, keyword_category, measures_start)
from gkextract.ingest import parse_document
from gkextract.read import read_document

from samples import SAMPLES, text

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "corpus"


def fact(value, quote, unit=None, approximate=False, kind="supervision", metric=None, label=None, **attrs):
    return Fact(kind, metric, label, attrs, value, unit, approximate, quote)


def flags(f: Fact, located: str | None = None) -> list[str]:
    return check_number(f, located or f.evidence)[0]


# --- number, unit, approximation against the located text ------------------------------------

def test_a_sentence_with_two_numbers_cannot_lend_the_wrong_one():
    s = "全年我区政府信息公开单位共公布政府信息2602条(其中机构职能类信息82条，政策、规范性文件类信息80条"
    assert s in (CORPUS / "03-pingtan-2020.txt").read_text(encoding="utf-8")
    right = fact(80, s, "条", kind="disclosure", metric="items", label="规范性文件")
    wrong = fact(82, s, "条", kind="disclosure", metric="items", label="规范性文件")
    assert flags(right) == []
    assert flags(wrong) == ["number_bound_elsewhere"]


def test_respectively_pairs_platforms_with_numbers_in_order():
    s = "“关岭政务”政务微博、政务微信全年分别发稿116条、490条"
    assert s in text("004")
    assert flags(fact(116, s, "条", kind="platform", metric="items", type="weibo")) == []
    assert flags(fact(490, s, "条", kind="platform", metric="items", type="wechat")) == []
    assert flags(fact(490, s, "条", kind="platform", metric="items", type="weibo")) == ["number_bound_elsewhere"]


def test_a_year_is_not_a_count():
    s = "2019年累计公布网上信息、安全提示等1000余条"
    assert s in (CORPUS / "02-pingtan-2019.txt").read_text(encoding="utf-8")
    assert flags(fact(1000, s, "条", True, kind="disclosure", metric="items", label="全部")) == []
    assert flags(fact(2019, s, "条", kind="disclosure", metric="items", label="全部")) == ["number_bound_elsewhere"]


def test_wan_is_a_multiplier_and_the_unit_must_match():
    s = "两条微信阅读量即达180万次"            # the case a real model got wrong (issue 8)
    assert flags(fact(1_800_000, s, "次", kind="platform", metric="other", type="wechat")) == []
    assert flags(fact(180, s, "万次", kind="platform", metric="other", type="wechat")) == []
    assert flags(fact(180, s, "次", kind="platform", metric="other", type="wechat")) == ["number_not_in_quote"]
    s = "“印象盐池”微信公众号发布信息 1900 余条"
    assert s in text("001")
    assert flags(fact(1900, s, "条", True, kind="platform", metric="items")) == []
    assert flags(fact(1900, s, "万条", True, kind="platform", metric="items")) == ["number_not_in_quote"]
    assert flags(fact(0, "结转下年度继续办理0件", "万件", kind="application", metric="carried_forward")) == \
        ["unit_mismatch"]


def test_the_measure_word_must_suit_the_metric():
    s = "举办全县政务公开工作专题培训班 1 期"
    assert s in text("001")
    assert flags(fact(1, s, "期", kind="training", metric="sessions")) == []
    assert flags(fact(1, s, "期", kind="training", metric="participants")) == ["unit_mismatch"]


def test_approximate_must_match_the_text():
    s = "累计完成培训人员 1000 余人次"
    assert s in text("001")
    assert flags(fact(1000, s, "人次", True, kind="training", metric="participants")) == []
    assert flags(fact(1000, s, "人次", False, kind="training", metric="participants")) == ["approximate_mismatch"]
    assert flags(fact(5, "依法按时办结5件", "件", True, kind="application", metric="handled")) == \
        ["approximate_mismatch"]


def test_zero_in_words_and_ordinals_are_not_counts():
    s = "无行政诉讼案件、行政复议案件"
    assert s in text("004")
    assert flags(fact(0, s, kind="application", metric="review_cases")) == []
    # "二是" is an enumeration, not the number 2
    assert flags(fact(2, "二是发挥政务新媒体优势", "件", kind="application", metric="received")) == \
        ["number_not_in_quote"]


def test_number_checked_in_the_located_text_not_the_models_quote():
    g = Grounder(text("001"), (68, 1595))
    # the model's quote drops the spaces the report has; the number is read from the report
    a = assess_fact(fact(4340, "累计公开各类政府信息4340余条", "条", True, kind="disclosure", metric="items",
                         label="全部"), g)
    assert a.flags == ["quote_normalized"] and a.score == 0.95
    assert text("001")[a.span.start:a.span.end] == "累计公开各类政府信息 4340 余条"


def test_curly_quotes_written_straight_still_match():
    g = Grounder(text("001"), (68, 1595))
    a = assess_fact(fact(1900, '"印象盐池"微信公众号发布信息 1900 余条', "条", True, kind="platform",
                         metric="items", type="wechat"), g)
    assert a.flags == ["quote_normalized"]


# --- place and meaning -----------------------------------------------------------------------

def test_training_held_or_planned_from_the_sentence():
    held = "2019年6月，举办政府门户网站运用及政务公开信息保障培训会"
    held_with_plan_noun = "制定政务公开业务培训计划，组织全县政务公开工作人员开展业务培训"
    held_with_preposition = "我县将政务公开纳入领导干部学法、党校公务员培训"
    assert held in text("004") and held_with_plan_noun in text("000") and held_with_preposition in text("003")
    for s in (held, held_with_plan_noun, held_with_preposition):
        assert check_training_status("held", s) == []
        assert check_training_status("planned", s) == ["status_mismatch"]
    planned = "下一步，将组织开展政务公开业务培训2期"   # constructed: no report here plans one in 一
    assert check_training_status("planned", planned) == []
    assert check_training_status("held", planned) == ["status_mismatch"]


@pytest.fixture(scope="module")
def r004():
    r = parse_document(read_document(SAMPLES["004"]))
    p = r.split.parts["problems"]
    return r.document.text, (p.start, p.end)


def test_problems_part_and_measures_part(r004):
    t, span = r004
    start = measures_start(t, *span)
    assert t[start:].startswith("针对上述存在的问题")
    g = Grounder(t, span)
    problem = "二是政策解读质量、丰富性和时效性有待提高"
    measure = "完善关岭自治县政务公开政策解读工作制度"
    ok = assess_statement("problem", problem, "policy_interpretation", g, measures_from=start)
    assert ok.flags == []
    moved = assess_statement("improvement", problem, "policy_interpretation", g, measures_from=start)
    assert set(moved.flags) == {"not_a_measure", "improvement_in_problems_part"} and moved.score < 0.7
    assert assess_statement("improvement", measure, "policy_interpretation", g, measures_from=start).flags == []
    not_a_problem = assess_statement("problem", measure, "policy_interpretation", g, measures_from=start)
    assert set(not_a_problem.flags) == {"not_a_weakness", "problem_in_measures_part"}
    shared = assess_statement("improvement", problem, "policy_interpretation", g, measures_from=start,
                              other_spans=[g.locate(problem, *span)])
    assert "same_quote_as_other_kind" in shared.flags


def test_a_quote_from_another_section_costs_enough_to_be_reviewed(r004):
    t, span = r004
    g = Grounder(t, span)
    a = assess_statement("problem", "2019年6月，举办政府门户网站运用及政务公开信息保障培训会", "staffing_capacity",
                         g, measures_from=measures_start(t, *span))
    assert "quote_outside_section" in a.flags and a.score < 0.7


def test_category_second_opinion_is_a_soft_flag(r004):
    t, span = r004
    g = Grounder(t, span)
    q = "二是政策解读质量、丰富性和时效性有待提高"
    assert keyword_category(q) is None       # 解读, 质量 and 时效: no single reading
    assert keyword_category("政策解读的形式较为单一") == "policy_interpretation"
    a = assess_statement("problem", "部门主动公开的意识不强", "grassroots", g, measures_from=None)
    assert keyword_category("部门主动公开的意识不强") == "awareness"
    assert a.flags == ["category_disagrees"] and a.score == 0.9   # listed in review, not below 0.7
    assert assess_statement("problem", q, "policy_interpretation", g, measures_from=None).flags == []


def test_a_quote_copied_from_the_prompt_is_flagged():
    from gkextract.prompts import load_prompt
    g = Grounder(text("001"), (68, 1595))
    a = assess_fact(fact(5, "发布信息N条，其中政策解读M条"), g, prompt_text=load_prompt("overview").text)
    assert "copied_from_prompt" in a.flags and a.score == 0.0


# --- the tables check every figure they hold ---------------------------------------------------

def _cells(name: str):
    r = parse_document(read_document(CORPUS / name))
    return r.template, {(c.table, c.row_key, c.col_key): (c.value, c.status) for t in r.tables.values()
                        for c in t.cells}


# metric -> the gold cells (table, row, col) it must agree with, summed; one tuple per accepted reading
GOLD_CELLS = {
    ("application", "received"): ((("applications", "new_received", "total"),),
                                  (("applications", "new_received", "total"), ("applications", "carried_over", "total"))),
    ("application", "carried_in"): ((("applications", "carried_over", "total"),),),
    ("application", "handled"): ((("applications", "total_handled", "total"),),),
    ("application", "carried_forward"): ((("applications", "carried_forward", "total"),),),
    ("application", "disclosed"): ((("applications", "disclosed", "total"),),),
    ("application", "partially_disclosed"): ((("applications", "partially_disclosed", "total"),),),
    ("application", "review_cases"): ((("review_litigation", "administrative_review", "total"),),),
    ("application", "litigation_cases"): ((("review_litigation", "litigation_direct", "total"),
                                           ("review_litigation", "litigation_after_review", "total")),),
    ("administrative", "rules_issued"): ((("proactive", "rules", "issued"),),),
    ("administrative", "normative_issued"): ((("proactive", "normative_documents", "issued"),),),
    ("administrative", "normative_repealed"): ((("proactive", "normative_documents", "repealed"),),),
    ("administrative", "normative_in_force"): ((("proactive", "normative_documents", "in_force"),),),
    ("administrative", "licensing_decisions"): ((("proactive", "administrative_licensing", "decisions"),),),
    ("administrative", "penalty_decisions"): ((("proactive", "administrative_penalty", "decisions"),),),
    ("administrative", "enforcement_decisions"): ((("proactive", "administrative_enforcement", "decisions"),),),
    ("administrative", "fees"): ((("proactive", "administrative_fees", "fee_amount"),),),
}


@pytest.mark.parametrize("kind, metric", sorted(GOLD_CELLS))
def test_every_table_figure_has_its_cell(kind, metric):
    """Against the hand-read gold of 10-pingtan-2023 (a 2021-template web page)."""
    gold = json.loads((CORPUS / "gold" / "10-pingtan-2023-page.json").read_text(encoding="utf-8"))["tables"]
    expected = tuple(sum(gold[t][r][c] or 0 for t, r, c in reading) for reading in GOLD_CELLS[(kind, metric)])
    template, cells = _cells("10-pingtan-2023-page.html")
    ref = table_reference(kind, metric, None, template, cells)
    assert ref is not None and ref.unavailable is None
    assert ref.accepted == pytest.approx(expected)


def test_misaligned_cell_makes_the_reference_unavailable():
    template, cells = _cells("03-pingtan-2020.txt")      # its 规范性文件 row is digits run together
    ref = table_reference("administrative", "normative_issued", None, template, cells)
    assert ref.accepted == () and "misaligned" in ref.unavailable
    g = Grounder("制发规范性文件77件", (0, 12))
    a = assess_fact(fact(77, "制发规范性文件77件", "件", kind="administrative", metric="normative_issued"), g,
                    table=ref)
    assert a.flags == ["table_unavailable"] and a.score == 1.0


# --- a report whose narrative contradicts its own tables, end to end ------------------------------

CONTRADICTING = {   # metric: (kind, the narrative's clause, its number) — the tables (10-pingtan-2023) say otherwise
    "received": ("application", "本年新收政府信息公开申请90件", 90),
    "carried_in": ("application", "上年结转3件", 3),
    "handled": ("application", "办结88件", 88),
    "carried_forward": ("application", "结转下年度5件", 5),
    "disclosed": ("application", "其中予以公开30件", 30),
    "partially_disclosed": ("application", "部分公开25件", 25),
    "review_cases": ("application", "发生政府信息公开行政复议案件3件", 3),
    "litigation_cases": ("application", "行政诉讼案件6件", 6),
    "rules_issued": ("administrative", "制定规章2件", 2),
    "normative_issued": ("administrative", "制发规范性文件70件", 70),
    "normative_repealed": ("administrative", "废止规范性文件12件", 12),
    "normative_in_force": ("administrative", "现行有效规范性文件400件", 400),
    "licensing_decisions": ("administrative", "作出行政许可决定2000件", 2000),
    "penalty_decisions": ("administrative", "行政处罚决定1000件", 1000),
    "enforcement_decisions": ("administrative", "行政强制决定50件", 50),
    "fees": ("administrative", "收取行政事业性收费6000万元", 6000),
}


def test_every_text_table_conflict_shows_in_summary_and_review(tmp_path):
    import shapes
    from fake_openai import FakeOpenAI, ok
    from gkextract.queries import Filters, report_summary
    from gkextract.ingest import ingest_paths
    from gkextract.llm import LLMSettings, Mode
    from gkextract.narrative import extract_reports
    from gkextract.review import queue
    from gkextract.store import open_db

    gold = json.loads((CORPUS / "gold" / "10-pingtan-2023-page.json").read_text(encoding="utf-8"))
    clauses = "，".join(c for _, c, _ in CONTRADICTING.values())
    narrative = {"overview": f"2023年，{clauses}。", "problems": "一是政策解读不够深入。", "other": "无。"}
    suffix, data = shapes.render(gold, narrative, ("tab_rows",))["tab_rows"]
    path = tmp_path / f"contradicts{suffix}"
    path.write_bytes(data)
    db = open_db(tmp_path / "gk.db")
    assert ingest_paths(db, [path])[0].status == "ingested"

    def value(n, unit="件"):
        return {"value": n, "unit": unit, "approximate": False}
    reply = {"platforms": [], "trainings": [], "disclosure_volumes": [], "supervision": [],
             "applications": [{"metric": m, "value": {**value(n), "evidence": c}}
                              for m, (k, c, n) in CONTRADICTING.items() if k == "application"],
             "administrative": [{"metric": m, "value": {**value(n, "万元" if m == "fees" else "件"), "evidence": c}}
                                for m, (k, c, n) in CONTRADICTING.items() if k == "administrative"]}
    transport = FakeOpenAI(lambda body, ctx: ok(json.dumps(
        reply if ctx.endswith("overview") else {"problems": [], "improvements": []}, ensure_ascii=False)))
    settings = LLMSettings(mode=Mode.live, cache_dir=tmp_path / "cache", api_key="sk-test-fake-key-0000000000000000")
    assert extract_reports(db, settings, transport=transport).failures == []

    rid = db.execute("SELECT id FROM reports").fetchone()[0]
    d = report_summary(db, rid)
    shown = {c["metric"]: (c["status"], c["text_value"], c["table_value"]) for c in d["conflicts"]}
    table = gold["tables"]
    assert shown == {
        "received": ("conflict", 90, table["applications"]["new_received"]["total"]),
        "carried_in": ("conflict", 3, table["applications"]["carried_over"]["total"]),
        "handled": ("conflict", 88, table["applications"]["total_handled"]["total"]),
        "carried_forward": ("conflict", 5, table["applications"]["carried_forward"]["total"]),
        "disclosed": ("conflict", 30, table["applications"]["disclosed"]["total"]),
        "partially_disclosed": ("conflict", 25, table["applications"]["partially_disclosed"]["total"]),
        "review_cases": ("conflict", 3, table["review_litigation"]["administrative_review"]["total"]),
        "litigation_cases": ("conflict", 6, table["review_litigation"]["litigation_direct"]["total"]
                             + table["review_litigation"]["litigation_after_review"]["total"]),
        "rules_issued": ("conflict", 2, table["proactive"]["rules"]["issued"]),
        "normative_issued": ("conflict", 70, table["proactive"]["normative_documents"]["issued"]),
        "normative_repealed": ("conflict", 12, table["proactive"]["normative_documents"]["repealed"]),
        "normative_in_force": ("conflict", 400, table["proactive"]["normative_documents"]["in_force"]),
        "licensing_decisions": ("conflict", 2000, table["proactive"]["administrative_licensing"]["decisions"]),
        "penalty_decisions": ("conflict", 1000, table["proactive"]["administrative_penalty"]["decisions"]),
        "enforcement_decisions": ("conflict", 50, table["proactive"]["administrative_enforcement"]["decisions"]),
        "fees": ("conflict", 6000, pytest.approx(table["proactive"]["administrative_fees"]["fee_amount"])),
    }
    # the litigation reference sums both kinds of suit
    assert next(c for c in d["conflicts"] if c["metric"] == "litigation_cases")["table_ref"] == \
        "review_litigation.litigation_direct.total+review_litigation.litigation_after_review.total"
    # every one waits in the review queue, with the table cell and value that contradict it
    waiting = {i["metric"]: (i["table_ref"], i["table_value"], i["flags"]) for i in queue(db, Filters())}
    assert set(waiting) == set(CONTRADICTING)
    assert all(flags == ["conflicts_with_table"] and ref for ref, _, flags in waiting.values())


def test_a_number_in_another_platforms_clause_or_a_name_is_not_this_facts():
    s = "关停运营不规范、运维不及时的政府网站1个、政务新媒体2个"
    assert s in (CORPUS / "07-pingtan-2025.txt").read_text(encoding="utf-8")
    assert flags(fact(1, s, "个", kind="platform", metric="other", type="portal")) == []
    assert flags(fact(2, s, "个", kind="platform", metric="other", type="new_media")) == []
    assert flags(fact(2, s, "个", kind="platform", metric="other", type="portal")) == ["number_bound_elsewhere"]
    s = "发布文字、图解、H5等多形式政策解读82篇"      # H5 is a format, not the number 5
    assert flags(fact(5, s, "篇", kind="disclosure", metric="items", label="政策解读")) == ["number_not_in_quote"]
    s = "围绕扫黑除恶专项斗争宣传、110宣传日、禁毒宣传日等开展互动活动42场次"
    assert s in (CORPUS / "02-pingtan-2019.txt").read_text(encoding="utf-8")
    assert flags(fact(42, s, "场次", kind="platform", metric="other", type="new_media")) == []
    assert flags(fact(110, s, "场次", kind="platform", metric="other", type="new_media")) == ["number_bound_elsewhere"]


def test_single_quotes_for_double_still_match():
    g = Grounder(text("001"), (68, 1595))
    a = assess_fact(fact(1900, "‘印象盐池’微信公众号发布信息 1900 余条", "条", True, kind="platform",
                         metric="items", type="wechat"), g)
    assert a.flags == ["quote_normalized"] and a.score == 0.95


def test_a_number_claimed_twice_stays_with_the_fact_that_fits_it():
    """The real model filed "全年公开政府信息总计4038条" both as a platform's account count and as the total."""
    from gkextract.grounding import assess_shared_numbers
    s = "全年公开政府信息总计4038条"
    g = Grounder(text("000"), (0, len(text("000"))))
    wrong = fact(4038, s, "条", kind="platform", metric="accounts", type="portal")
    right = fact(4038, s, "条", kind="disclosure", metric="items", label="全部")
    assessments = [assess_fact(wrong, g), assess_fact(right, g)]
    assess_shared_numbers([wrong, right], assessments)
    assert assessments[0].flags == ["unit_mismatch", "number_bound_elsewhere"]
    assert assessments[1].flags == [] and assessments[1].score == 1.0
