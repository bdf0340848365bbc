"""`gkextract problems` / `improvements`: filters, full-text search, --by counts and shares, errors."""

from __future__ import annotations

import codecs
import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gkextract.cli import app

runner = CliRunner()
WIDE = {"COLUMNS": "200"}


def run(*args: str, db: Path) -> list[dict]:
    res = runner.invoke(app, [*args, "--db", str(db), "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def summaries(rows: list[dict]) -> set[str]:
    return {r["summary"] for r in rows}


def test_filters_by_region_year_level_issuer_category(sample_db):
    guanling = run("problems", "--province", "贵州", db=sample_db)
    assert len(guanling) == 6
    assert {(r["issuer"], r["province"], r["city"], r["county"], r["year"]) for r in guanling} == {
        ("关岭自治县人民政府", "贵州省", "安顺市", "关岭布依族苗族自治县", 2019)}

    assert summaries(run("problems", "--county", "关岭自治县", db=sample_db)) == summaries(guanling)
    assert len(run("problems", "--province", "宁夏", "--level", "department", db=sample_db)) == 4
    assert len(run("problems", "--province", "宁夏", "--level", "county", db=sample_db)) == 0
    suiping = run("problems", "--year", "2020", db=sample_db)
    assert len(suiping) == 6 and {r["issuer"] for r in suiping} == {"遂平县人民政府"}
    assert len(run("problems", "--issuer", "保德", db=sample_db)) == 4
    assert len(run("problems", "--city", "忻州", db=sample_db)) == 4

    policy = run("problems", "--category", "policy_interpretation", db=sample_db)
    assert summaries(policy) == {"政策解读不到位", "政策解读质量、丰富性和时效性有待提高"}
    assert run("problems", "--category", "政策解读", db=sample_db) == policy  # the Chinese name works too
    # rules_standards is cited by 000 and 004 (county, 2019), 001 (department) and 003 (2020)
    rules = run("problems", "--level", "county", "--year", "2019", "--category", "rules_standards", db=sample_db)
    assert [(r["county"], r["summary"]) for r in rules] == [
        ("保德县", "政府信息公开制度建设有待完善和创新"),
        ("关岭布依族苗族自治县", "制度建设存在差距，缺乏政府信息公开管理制度，规范性不足")]
    assert {r["review_status"] for r in rules} == {"unflagged"}
    assert {r["score"] for r in rules} == {1.0}


def test_a_real_province_without_reports_matches_nothing(sample_db):
    assert run("problems", "--province", "广东省", db=sample_db) == []


def test_search_uses_trigrams_for_3_chars_and_like_for_fewer(sample_db):
    assert summaries(run("problems", "--search", "政策解读", db=sample_db)) == {
        "政策解读不到位", "政策解读质量、丰富性和时效性有待提高"}
    assert summaries(run("problems", "--search", "规范化", db=sample_db)) == {"公开的标准化规范化有待加强"}
    # 规范 is too short for a trigram index: LIKE finds it, including 规范和…, 规范不够 and 规范性…
    assert summaries(run("problems", "--search", "规范", db=sample_db)) == {
        "公开的标准化规范化有待加强", "政府门户网站公开栏目有待规范和优化", "信息公开的内容、形式、程序规范不够",
        "制度建设存在差距，缺乏政府信息公开管理制度，规范性不足"}
    assert summaries(run("problems", "--search", "解读", db=sample_db)) == {
        "政策解读不到位", "政策解读质量、丰富性和时效性有待提高"}
    # matched in the evidence only, not the summary: by the trigram index, then by LIKE
    assert summaries(run("problems", "--search", "人民群众的要求", db=sample_db)) == {"部分信息公开的质量、时效性未达到群众要求"}
    assert summaries(run("problems", "--search", "研究", db=sample_db)) == {
        "认识不到位，部分工作人员对政务公开重要意义认识不足、被动应付"}
    assert summaries(run("problems", "--search", "渠道", db=sample_db)) == {"提供政府信息的方式和渠道有待优化拓展"}
    # all words must match
    assert summaries(run("problems", "--search", "政策解读 时效性", db=sample_db)) == {
        "政策解读质量、丰富性和时效性有待提高"}
    assert summaries(run("problems", "--search", "规范 管理制度", db=sample_db)) == {
        "制度建设存在差距，缺乏政府信息公开管理制度，规范性不足"}
    assert run("problems", "--search", "不存在的词", db=sample_db) == []


def test_by_year_share_counts_only_reports_with_a_problems_extraction(sample_db, failed_db):
    # 2019: 000, 001, 002, 004; only 004 cites policy_interpretation, 2020's only report (003) does too.
    rows = run("problems", "--category", "policy_interpretation", "--by", "year", db=sample_db)
    assert rows == [
        {"year": 2020, "reports": 1, "reports_in_group": 1, "share": 1.0, "items": 1},
        {"year": 2019, "reports": 1, "reports_in_group": 4, "share": 0.25, "items": 1},
    ]
    # 002's problems extraction failed: it says nothing either way and leaves the 2019 denominator
    rows = run("problems", "--category", "policy_interpretation", "--by", "year", db=failed_db)
    assert rows == [
        {"year": 2020, "reports": 1, "reports_in_group": 1, "share": 1.0, "items": 1},
        {"year": 2019, "reports": 1, "reports_in_group": 3, "share": 0.333, "items": 1},
    ]
    # and 002's platforms problem is gone with it: only 000 cites platforms among the counties of 2019
    rows = run("problems", "--category", "platforms", "--level", "county", "--year", "2019", "--by", "year",
               db=failed_db)
    assert rows == [{"year": 2019, "reports": 1, "reports_in_group": 2, "share": 0.5, "items": 1}]


def test_by_level_and_category(sample_db):
    rows = run("problems", "--by", "level,category", "--category", "platforms", db=sample_db)
    # 001 (department): two items; counties 000 and 002 one each, of 000, 002, 003 and 004
    assert rows == [
        {"level": "department", "category": "platforms", "reports": 1, "reports_in_group": 1, "share": 1.0,
         "items": 2},
        {"level": "county", "category": "platforms", "reports": 2, "reports_in_group": 4, "share": 0.5,
         "items": 2},
    ]


def test_by_category_over_all_extracted_reports(sample_db, failed_db):
    rows = {r["category"]: (r["reports"], r["reports_in_group"], r["share"], r["items"])
            for r in run("problems", "--by", "category", db=sample_db)}
    assert rows == {
        "awareness": (3, 5, 0.6, 3), "disclosure_quality": (2, 5, 0.4, 2), "other": (1, 5, 0.2, 1),
        "platforms": (3, 5, 0.6, 4), "policy_interpretation": (2, 5, 0.4, 2), "rules_standards": (4, 5, 0.8, 5),
        "staffing_capacity": (1, 5, 0.2, 2), "supervision": (2, 5, 0.4, 2), "timeliness": (1, 5, 0.2, 1)}
    failed = {r["category"]: (r["reports"], r["reports_in_group"], r["share"], r["items"])
              for r in run("problems", "--by", "category", db=failed_db)}
    assert failed["rules_standards"] == (4, 4, 1.0, 5)
    assert failed["awareness"] == (2, 4, 0.5, 2) and failed["platforms"] == (2, 4, 0.5, 3)


def test_by_province_and_category_is_a_full_matrix(sample_db, failed_db):
    rows = run("problems", "--by", "province,category", db=failed_db)
    cell = {(r["province"], r["category"]): r for r in rows}
    assert cell["贵州省", "policy_interpretation"] == {
        "province": "贵州省", "category": "policy_interpretation", "reports": 1, "reports_in_group": 1,
        "share": 1.0, "items": 1}
    assert cell["贵州省", "staffing_capacity"]["items"] == 2
    assert (cell["山西省", "policy_interpretation"]["reports"], cell["山西省", "policy_interpretation"]["share"]) == (0, 0)
    assert not any(p == "河北省" for p, _ in cell)  # 竞秀区 has no problems extraction: no denominator
    assert len(rows) == 4 * 9   # 4 provinces x the 9 categories cited
    assert cell["宁夏回族自治区", "platforms"]["items"] == 2 and cell["宁夏回族自治区", "timeliness"]["items"] == 0

    full = {(r["province"], r["category"]): r for r in run("problems", "--by", "province,category", db=sample_db)}
    assert len(full) == 5 * 9
    assert (full["河北省", "awareness"]["reports"], full["河北省", "awareness"]["share"]) == (1, 1.0)


def test_csv_output(sample_db):
    res = runner.invoke(app, ["problems", "--province", "山西", "--db", str(sample_db), "--format", "csv"])
    assert res.exit_code == 0
    assert res.stdout_bytes.startswith(codecs.BOM_UTF8 + b"id,report_id,issuer,")   # utf-8-sig by default, for Excel
    rows = list(csv.DictReader(io.StringIO(res.stdout_bytes.decode("utf-8-sig"))))
    assert [r["category"] for r in rows] == ["disclosure_quality", "timeliness", "platforms", "rules_standards"]
    assert rows[0]["evidence"] == "一是政府信息公开的深度和广度与公众的需求还有一定差距"
    assert rows[0]["summary"] == "政府信息公开的深度和广度与公众需求有差距"
    assert (rows[0]["province"], rows[0]["city"], rows[0]["county"], rows[0]["year"]) == ("山西省", "忻州市", "保德县",
                                                                                       "2019")

    res = runner.invoke(app, ["problems", "--by", "year", "--db", str(sample_db), "--format", "csv"])
    by_year = {r["year"]: r for r in csv.DictReader(io.StringIO(res.stdout_bytes.decode("utf-8-sig")))}
    assert (by_year["2019"]["reports"], by_year["2019"]["reports_in_group"], by_year["2019"]["share"],
            by_year["2019"]["items"]) == ("4", "4", "1.0", "16")
    assert (by_year["2020"]["reports"], by_year["2020"]["items"]) == ("1", "6")


def test_table_for_people(sample_db):
    res = runner.invoke(app, ["problems", "--province", "宁夏", "--db", str(sample_db)], env=WIDE)
    assert res.exit_code == 0
    assert "4 条问题" in res.stdout   # the title, in the default Chinese
    # the compact region column: province and county (the city only where there is no county)
    assert "盐池县政府办公室" in res.stdout and "宁夏回族自治区 盐池县" in res.stdout
    assert "公开方式创新不足，公开平台拓展有待加强" in res.stdout
    res = runner.invoke(app, ["problems", "--province", "广东", "--db", str(sample_db)], env=WIDE)
    assert res.exit_code == 0 and "no problems match these filters" in res.output


def test_improvements(sample_db, item_id):
    rows = run("improvements", "--category", "staffing_capacity", db=sample_db)
    assert summaries(rows) == {"制定培训计划，组织全县政务公开工作人员业务培训", "加强培训指导",
                               "继续举办政务公开专题培训班，培训业务骨干"}
    training = next(r for r in rows if r["summary"] == "继续举办政务公开专题培训班，培训业务骨干")
    assert training["problem_id"] == item_id("problems", "全县信息公开从业人员专业性不够，缺乏专业性指导，培训工作滞后")
    assert {r["summary"]: r["problem_id"] for r in rows if r["county"] != "关岭布依族苗族自治县"} == {
        "制定培训计划，组织全县政务公开工作人员业务培训": None, "加强培训指导": None}
    assert summaries(run("improvements", "--search", "巡查通报", db=sample_db)) == {
        "健全定期巡查通报机制，加大对政府部门的督促落实力度"}
    by = {r["category"]: r for r in run("improvements", "--by", "category", db=sample_db)}
    assert (by["rules_standards"]["reports"], by["rules_standards"]["reports_in_group"],
            by["rules_standards"]["items"]) == (3, 5, 3)
    assert (by["supervision"]["reports"], by["supervision"]["items"]) == (2, 3)


@pytest.mark.parametrize("args, message", [
    (["--province", "山西生"], "unknown province '山西生'; did you mean 山西省?"),
    (["--province", "Atlantis"], "unknown province 'Atlantis'"),
    (["--county", "山西"], "unknown county '山西'"),  # a province is not a county
    (["--category", "timelyness"], "unknown category 'timelyness'; did you mean timeliness?"),
    (["--level", "countyy"], "unknown level 'countyy'; did you mean county?"),
    (["--by", "provnce"], "unknown --by key 'provnce'; did you mean province?"),
    (["--by", "kind"], "unknown --by key 'kind'"),
])
def test_invalid_filters_exit_2_with_a_suggestion(sample_db, args, message):
    res = runner.invoke(app, ["problems", *args, "--db", str(sample_db)], env=WIDE)
    assert res.exit_code == 2, res.output
    assert message in res.output


@pytest.mark.parametrize("args", [["problems"], ["improvements"], ["facts"], ["summary", "004"], ["review"],
                                  ["export", "--out", "OUT"]])
def test_empty_database_says_what_to_run(tmp_path, args):
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    res = runner.invoke(app, [*args, "--db", str(tmp_path / "empty.db")], env=WIDE)
    assert res.exit_code == 3, res.output
    assert "gkextract run PATH... --db FILE" in res.output


@pytest.mark.parametrize("command", ["problems", "improvements", "facts", "review"])
def test_no_extractions_says_to_extract(ingested_db, command):
    res = runner.invoke(app, [command, "--db", str(ingested_db)], env=WIDE)
    assert res.exit_code == 3, res.output
    assert "gkextract extract --db FILE" in res.output
