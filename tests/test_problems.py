"""`gkextract problems` / `improvements`: filters, full-text search, --by counts and shares, errors."""

from __future__ import annotations

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
    assert {r["issuer"] for r in run("problems", "--year", "2020", db=sample_db)} == {"遂平县人民政府"}
    assert len(run("problems", "--issuer", "保德", db=sample_db)) == 4
    assert len(run("problems", "--city", "忻州", db=sample_db)) == 4

    policy = run("problems", "--category", "policy_interpretation", db=sample_db)
    assert summaries(policy) == {"政策解读不到位", "政策解读质量、丰富性和时效性有待提高", "解读数量占发布文件比例低"}
    assert run("problems", "--category", "政策解读", db=sample_db) == policy  # the Chinese name works too
    staffing = run("problems", "--level", "county", "--year", "2019", "--category", "staffing_capacity",
                   db=sample_db)
    assert summaries(staffing) == {"公开队伍建设、制度建设存在差距", "培训工作严重滞后"}
    assert {r["review_status"] for r in staffing} == {"unflagged", "pending"}


def test_a_real_province_without_reports_matches_nothing(sample_db):
    assert run("problems", "--province", "广东省", db=sample_db) == []


def test_search_uses_trigrams_for_3_chars_and_like_for_fewer(sample_db):
    assert summaries(run("problems", "--search", "政策解读", db=sample_db)) == {
        "政策解读不到位", "政策解读质量、丰富性和时效性有待提高"}
    # 解读 is too short for a trigram index: LIKE finds it, including 解读数量…
    assert summaries(run("problems", "--search", "解读", db=sample_db)) == {
        "政策解读不到位", "政策解读质量、丰富性和时效性有待提高", "解读数量占发布文件比例低"}
    # matched in the evidence only, not the summary
    assert summaries(run("problems", "--search", "人民群众的要求", db=sample_db)) == {"部分信息公开的质量、时效性未达群众要求"}
    assert summaries(run("problems", "--search", "渠道", db=sample_db)) == {"提供信息的方式和渠道有待优化拓展"}
    # all words must match
    assert summaries(run("problems", "--search", "政策解读 时效性", db=sample_db)) == {
        "政策解读质量、丰富性和时效性有待提高"}
    assert run("problems", "--search", "不存在的词", db=sample_db) == []


def test_by_year_share_counts_only_reports_with_a_problems_extraction(sample_db):
    # 2019: 000, 001, 002, 004, but 002's problems extraction failed -> 3 in the group; only 004 cites it.
    rows = run("problems", "--category", "policy_interpretation", "--by", "year", db=sample_db)
    assert rows == [
        {"year": 2020, "reports": 1, "reports_in_group": 1, "share": 1.0, "items": 1},
        {"year": 2019, "reports": 1, "reports_in_group": 3, "share": 0.333, "items": 2},
    ]


def test_by_level_and_category(sample_db):
    rows = run("problems", "--by", "level,category", "--category", "platforms", db=sample_db)
    assert {(r["level"], r["category"]): (r["reports"], r["reports_in_group"], r["share"], r["items"])
            for r in rows} == {("department", "platforms"): (1, 1, 1.0, 2), ("county", "platforms"): (1, 3, 0.333, 1)}


def test_by_category_over_all_extracted_reports(sample_db):
    rows = {r["category"]: r for r in run("problems", "--by", "category", db=sample_db)}
    assert set(rows) == {"disclosure_quality", "timeliness", "platforms", "rules_standards", "awareness", "other",
                         "supervision", "responsiveness", "policy_interpretation", "staffing_capacity"}
    assert (rows["rules_standards"]["reports"], rows["rules_standards"]["reports_in_group"],
            rows["rules_standards"]["share"], rows["rules_standards"]["items"]) == (3, 4, 0.75, 3)
    assert rows["policy_interpretation"]["share"] == 0.5


def test_by_province_and_category_is_a_full_matrix(sample_db):
    rows = run("problems", "--by", "province,category", db=sample_db)
    cell = {(r["province"], r["category"]): r for r in rows}
    assert cell["贵州省", "policy_interpretation"] == {
        "province": "贵州省", "category": "policy_interpretation", "reports": 1, "reports_in_group": 1,
        "share": 1.0, "items": 2}
    assert (cell["山西省", "policy_interpretation"]["reports"], cell["山西省", "policy_interpretation"]["share"]) == (0, 0)
    assert not any(p == "河北省" for p, _ in cell)  # 竞秀区 has no problems extraction: no denominator
    assert len(rows) == 4 * 10


def test_csv_output(sample_db):
    res = runner.invoke(app, ["problems", "--province", "山西", "--db", str(sample_db), "--format", "csv"])
    assert res.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [r["category"] for r in rows] == ["disclosure_quality", "timeliness", "platforms", "rules_standards"]
    assert rows[0]["evidence"] == "政府信息公开的深度和广度与公众的需求还有一定差距"
    assert (rows[0]["province"], rows[0]["city"], rows[0]["county"], rows[0]["year"]) == ("山西省", "忻州市", "保德县",
                                                                                       "2019")

    res = runner.invoke(app, ["problems", "--by", "year", "--db", str(sample_db), "--format", "csv"])
    by_year = {r["year"]: r for r in csv.DictReader(io.StringIO(res.stdout))}
    assert (by_year["2019"]["reports"], by_year["2019"]["reports_in_group"], by_year["2019"]["share"]) == ("3", "3",
                                                                                                          "1.0")


def test_table_for_people(sample_db):
    res = runner.invoke(app, ["problems", "--province", "宁夏", "--db", str(sample_db)], env=WIDE)
    assert res.exit_code == 0
    assert "4 problems" in res.stdout
    assert "盐池县政府办公室" in res.stdout and "宁夏回族自治区 吴忠市" in res.stdout
    res = runner.invoke(app, ["problems", "--province", "广东", "--db", str(sample_db)], env=WIDE)
    assert res.exit_code == 0 and "no problems match these filters" in res.output


def test_improvements(sample_db, item_id):
    rows = run("improvements", "--category", "staffing_capacity", db=sample_db)
    assert summaries(rows) == {"开展政务公开业务培训", "举办政务公开专题培训班"}
    training = next(r for r in rows if r["summary"] == "举办政务公开专题培训班")
    assert training["problem_id"] == item_id("problems", "政府信息公开队伍建设、制度建设还存在差距")
    assert summaries(run("improvements", "--search", "巡查通报", db=sample_db)) == {"健全定期巡查通报机制"}
    by = {r["category"]: r for r in run("improvements", "--by", "category", db=sample_db)}
    assert (by["rules_standards"]["reports"], by["rules_standards"]["reports_in_group"]) == (3, 4)


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
