"""Issuers as entities: name rules, aliases a report states, merges by hand with an audit trail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpus_db import CORPUS, corpus_db, corpus_db_copy, rid  # noqa: F401  (fixtures)
from gkextract.cli import app
from gkextract.crossyear import refresh
from gkextract.ingest import ingest_paths
from gkextract.issuers import IssuerError, canonical, name_key, resolve_issuer, written, year_ranges
from gkextract.store import open_db

runner = CliRunner()
PINGTAN = "平潭综合实验区管委会"


@pytest.mark.parametrize("a, b", [
    ("平潭综合实验区党工委管委会", "平潭综合实验区管委会"),
    ("平潭综合实验区党工委、管委会", "平潭综合实验区管委会"),
    ("平潭综合实验区管理委员会", "平潭综合实验区管委会"),
    ("平潭综合实验区", "平潭综合实验区管委会"),                      # a place means its government
    ("福建省平潭综合实验区管委会", "平潭综合实验区管委会"),           # a zone names itself
    ("平潭综合实验区党工委管委会办公室", "平潭综合实验区管委会办公室"),
    ("关岭自治县人民政府", "关岭布依族苗族自治县人民政府"),
    ("保定市竞秀区人民政府", "竞秀区人民政府"),
    ("保德县政府", "保德县人民政府"),
    ("保德县", "保德县人民政府"),
    ("平潭综合实验区 国有资产管理局", "平潭综合实验区国有资产管理局"),
])
def test_names_of_one_body_share_a_key(a: str, b: str) -> None:
    assert name_key(a) == name_key(b)


@pytest.mark.parametrize("a, b", [
    ("平潭县人民政府", "平潭综合实验区管委会"),            # only where a report says so
    ("平潭综合实验区管委会办公室", "平潭综合实验区管委会"),  # a department is not its government
    ("平潭综合实验区投资促进局", "平潭综合实验区国有资产管理局"),  # renamed: only by hand
    ("保德县人民政府", "保德县财政局"),
])
def test_different_bodies_keep_different_keys(a: str, b: str) -> None:
    assert name_key(a) != name_key(b)


def test_same_named_districts_are_told_apart_by_the_report() -> None:
    assert name_key("朝阳区人民政府", "北京市朝阳区2019年") != name_key("朝阳区人民政府", "吉林省长春市朝阳区2019年")


def test_canonical_keeps_the_name_readable() -> None:
    assert canonical("平潭综合实验区党工委管委会") == "平潭综合实验区管委会"
    assert written("平潭综合实验区　国有资产管理局") == "平潭综合实验区国有资产管理局"


def test_year_ranges_show_gaps() -> None:
    assert year_ranges([2018, 2019, 2020, 2021, 2023, 2024, 2025]) == "2018–2021, 2023–2025"
    assert year_ranges([2019, 2025]) == "2019, 2025"


def _issuers(path: Path) -> dict[str, tuple]:
    db = open_db(path)
    return {r["name"]: (r["level"], r["reports"], r["first_year"], r["last_year"])
            for r in db.query("SELECT * FROM issuers")}


def test_the_corpus_issuers(corpus_db: Path) -> None:
    assert _issuers(corpus_db) == {
        PINGTAN: ("county", 10, 2018, 2025),
        "平潭综合实验区管委会办公室": ("department", 1, 2021, 2021),
        "平潭综合实验区财政金融局": ("department", 2, 2019, 2025),
        "平潭综合实验区行政审批局": ("department", 1, 2023, 2023),
        "平潭综合实验区公安局": ("department", 1, 2024, 2024),
        "平潭综合实验区经济发展局": ("department", 1, 2020, 2020),
        "平潭综合实验区投资促进局": ("department", 1, 2024, 2024),
        "平潭综合实验区国有资产管理局": ("department", 1, 2020, 2020),
    }
    db = open_db(corpus_db)
    # 平潭县人民政府 is the same body because the 2021 report's source line says so.
    assert list(db.query("SELECT alias, how, report_id, evidence FROM issuer_aliases")) == [
        dict(alias="平潭县人民政府", how="report", report_id=rid(db, "04"), evidence="来源：平潭县人民政府")]
    # 管委会办公室 publishes the 2023–2025 pages (来源：平潭综合实验区管委会办公室) and has a report of its
    # own: a department is never folded into its government.
    assert db.execute("SELECT count(DISTINCT issuer_id) FROM report_issuers ri JOIN reports r ON r.id = ri.report_id "
                      "WHERE r.file_name LIKE '12-%' OR r.file_name LIKE '05-%'").fetchone()[0] == 2
    assert resolve_issuer(db, "平潭县人民政府")["name"] == PINGTAN
    assert resolve_issuer(db, "平潭综合实验区党工委管委会")["name"] == PINGTAN
    with pytest.raises(IssuerError, match="matches 8 issuers"):
        resolve_issuer(db, "平潭")
    with pytest.raises(IssuerError, match="no issuer matches"):
        resolve_issuer(db, "保德县人民政府")


def test_a_report_under_the_party_work_committee_name_joins_its_issuer(corpus_db_copy: Path, tmp_path: Path) -> None:
    text = (CORPUS / "02-pingtan-2019.txt").read_text(encoding="utf-8")
    title = "平潭综合实验区2019年度政府信息公开工作年度报告"
    assert title in text
    renamed = tmp_path / "renamed.txt"
    renamed.write_text(text.replace(title, "平潭综合实验区党工委管委会2019年度政府信息公开工作年度报告", 1), encoding="utf-8")
    db = open_db(corpus_db_copy)
    (res,) = ingest_paths(db, [renamed])
    assert db.execute("SELECT issuer FROM reports WHERE id = ?", [res.report_id]).fetchone() == ("平潭综合实验区党工委管委会",)
    refresh(db)
    assert _issuers(corpus_db_copy)[PINGTAN] == ("county", 11, 2018, 2025)
    assert db.execute("SELECT issuer_id, alias, how FROM issuer_aliases WHERE report_id = ?", [res.report_id]
                      ).fetchall() == [(name_key(PINGTAN), "平潭综合实验区党工委管委会", "rule")]


def test_a_renamed_department_is_suggested_then_merged_by_hand(corpus_db_copy: Path) -> None:
    db_arg = ["--db", str(corpus_db_copy)]
    res = runner.invoke(app, ["issuers", *db_arg, "--format", "json"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)) == 8
    db = open_db(corpus_db_copy)
    assert list(db.query("SELECT i.name AS issuer, o.name AS other, s.evidence FROM issuer_suggestions s "
                         "JOIN issuers i ON i.id = s.issuer_id JOIN issuers o ON o.id = s.other_issuer_id")) == [
        dict(issuer="平潭综合实验区投资促进局", other="平潭综合实验区国有资产管理局",
             evidence="落款：平潭综合实验区国有资产管理局")]

    res = runner.invoke(app, ["issuers", *db_arg, "--merge", "投资促进局", "--into", "国有资产管理局",
                              "--note", "renamed; the 2024 report is signed 国有资产管理局", "--reviewer", "tester"])
    assert res.exit_code == 0, res.output
    assert "recorded: merge 平潭综合实验区投资促进局 into 平潭综合实验区国有资产管理局 by tester" in res.output
    issuers = _issuers(corpus_db_copy)
    assert len(issuers) == 7 and issuers["平潭综合实验区国有资产管理局"] == ("department", 2, 2020, 2024)
    (alias,) = db.query("SELECT alias, how, evidence FROM issuer_aliases WHERE how = 'merge'")
    assert alias["alias"] == "平潭综合实验区投资促进局"
    assert alias["evidence"].startswith("merged by tester on ")
    assert alias["evidence"].endswith("(decision 1): renamed; the 2024 report is signed 国有资产管理局 "
                                      "(17-pingtan-tzcj-2024.txt)")
    assert db.execute("SELECT count(*) FROM issuer_suggestions").fetchone() == (0,)
    assert db.execute("SELECT action, name, into_name, reviewer, note FROM issuer_decisions").fetchall() == [
        ("merge", "平潭综合实验区投资促进局", "平潭综合实验区国有资产管理局", "tester",
         "renamed; the 2024 report is signed 国有资产管理局")]
    # Both years now sit in one timeline; 2020 → 2024 is no consecutive pair, so nothing is compared.
    res = runner.invoke(app, ["timeline", "投资促进局", *db_arg, "--format", "json"])
    assert [y["year"] for y in json.loads(res.stdout)["years"]] == [2020, 2024]

    res = runner.invoke(app, ["issuers", *db_arg, "--unmerge", "平潭综合实验区投资促进局", "--reviewer", "tester"])
    assert res.exit_code == 0, res.output
    assert len(_issuers(corpus_db_copy)) == 8
    assert [r[0] for r in db.execute("SELECT action FROM issuer_decisions ORDER BY id")] == ["merge", "unmerge"]


@pytest.mark.parametrize("args, message", [
    (["--merge", "投资促进局"], "--merge and --into go together"),
    (["--merge", "保德", "--into", "国有资产管理局"], "no issuer matches '保德'"),
    (["--merge", "平潭县人民政府", "--into", PINGTAN], "are already one issuer"),
    (["--merge", "局", "--into", PINGTAN], "matches 6 issuers"),
    (["--unmerge", "公安局"], "was never merged by hand"),
    (["--merge", "投资促进局", "--into", "国有资产管理局", "--unmerge", "公安局"], "not both"),
])
def test_bad_merges_exit_2_and_record_nothing(corpus_db_copy: Path, args: list[str], message: str) -> None:
    res = runner.invoke(app, ["issuers", "--db", str(corpus_db_copy), *args])
    assert res.exit_code == 2
    assert message in res.output
    assert open_db(corpus_db_copy).execute("SELECT count(*) FROM issuer_decisions").fetchone() == (0,)


def test_an_empty_or_missing_database(tmp_path: Path) -> None:
    res = runner.invoke(app, ["issuers", "--db", str(tmp_path / "none.db")])
    assert res.exit_code == 3 and "no database" in res.output
    open_db(tmp_path / "empty.db").close()
    res = runner.invoke(app, ["timeline", PINGTAN, "--db", str(tmp_path / "empty.db")])
    assert res.exit_code == 3 and "no reports yet" in res.output


def test_a_report_without_an_issuer_is_its_own(corpus_db_copy: Path) -> None:
    db = open_db(corpus_db_copy)
    with db.atomic():
        db.execute("UPDATE reports SET issuer = NULL WHERE file_name LIKE '14-%'")
    refresh(db)
    assert _issuers(corpus_db_copy)["(issuer unknown: 14-pingtan-gaj-2024.txt)"] == ("department", 1, 2024, 2024)
    assert db.execute("SELECT issuer_id FROM report_issuers WHERE report_id = ?", [rid(db, "14")]).fetchone() == (
        f"?{rid(db, '14')}",)
