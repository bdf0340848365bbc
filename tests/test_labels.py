"""Chinese labels in table output (--lang zh, the default) and English ones; keys stay in JSON and CSV."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from gkextract.cli import app
from gkextract.domain import CATEGORY_NAMES, FLAG_TEXT, Lang, category_label, flag_text, value_label
from gkextract.grounding import PENALTY
from gkextract.schema import CATEGORIES

runner = CliRunner()
WIDE = {"COLUMNS": "250"}


def squash(text: str) -> str:
    return "".join(text.split())


def test_every_key_has_both_names() -> None:
    assert list(CATEGORY_NAMES) == CATEGORIES
    assert set(PENALTY) <= set(FLAG_TEXT)       # every flag grounding can set can be explained
    assert all(zh and en and zh != en for zh, en in FLAG_TEXT.values())
    assert category_label("policy_interpretation") == "政策解读"
    assert category_label("policy_interpretation", Lang.en) == "policy interpretation"
    assert flag_text("quote_not_found") == "引文未在原文中找到。"
    assert flag_text("quote_not_found", Lang.en) == "The quote is not in the report."
    assert flag_text("a_new_code") == "a_new_code" and category_label("unknown") == "unknown"
    assert value_label("level", "county") == "县级" and value_label("level", None) is None
    assert value_label("summary", "policy_interpretation") == "policy_interpretation"   # only key columns


def test_problems_table_in_chinese_and_english(sample_db) -> None:
    args = ["problems", "--search", "政策解读", "--db", str(sample_db)]
    zh = runner.invoke(app, args, env=WIDE)
    assert zh.exit_code == 0, zh.output
    header = zh.stdout.splitlines()[2]
    assert [h.strip() for h in header.strip("┃").split("┃")] == [
        "编号", "发布机关", "地区", "年度", "类别", "概述", "得分", "审核", "原文依据"]
    assert zh.stdout.count("政策解读 ") == 2 and "policy_interpretation" not in zh.stdout and "无需审核" in zh.stdout
    en = runner.invoke(app, [*args, "--lang", "en"], env=WIDE)
    assert "│ policy interpretation │" in en.stdout and "┃ category " in en.stdout and "unflagged" in en.stdout
    assert runner.invoke(app, args, env={**WIDE, "GKEXTRACT_LANG": "en"}).stdout == en.stdout
    for lang in ("zh", "en"):   # the keys never change in data
        rows = json.loads(runner.invoke(app, [*args, "--lang", lang, "--format", "json"]).stdout)
        assert [r["category"] for r in rows] == ["policy_interpretation"] * 2
        assert [r["review_status"] for r in rows] == ["unflagged"] * 2


def test_counts_and_reports_in_chinese(sample_db) -> None:
    res = runner.invoke(app, ["problems", "--by", "category", "--category", "政策解读", "--db", str(sample_db)],
                        env=WIDE)
    assert res.exit_code == 0, res.output
    assert "┃类别┃报告数┃组内报告数┃占比┃条目数┃" in squash(res.stdout)
    assert "│政策解读│2│5│0.4│2│" in squash(res.stdout)
    res = runner.invoke(app, ["reports", "--db", str(sample_db)], env=WIDE)
    assert "层级" in res.stdout and "│ 县级 " in res.stdout and "│ 部门 " in res.stdout
    assert "未通过校验" in res.stdout


def test_flag_texts_in_the_summary_and_the_review_sheet(review_db, tmp_path) -> None:
    res = runner.invoke(app, ["summary", "003", "--db", str(review_db)], env=WIDE)
    assert squash("数字与报告自身的统计表不一致。表格 applications.total_handled.total = 21。") in squash(res.stdout)
    assert "该事实没有数字。" in res.stdout
    sheet = tmp_path / "q.csv"
    runner.invoke(app, ["review", "--db", str(review_db), "--export", str(sheet), "--lang", "en"])
    text = sheet.read_text(encoding="utf-8-sig")
    assert "The number disagrees with the report's own table." in text and "数字与" not in text
