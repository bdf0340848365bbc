"""Promises of year N looked for in year N+1, on the 平潭综合实验区管委会 series."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from corpus_db import CORPUS, corpus_db  # noqa: F401  (fixtures)
from gkextract.followup import shared
from gkextract.store import open_db

LABELS = json.loads((CORPUS / "followup_labels.json").read_text(encoding="utf-8"))["labels"]


def _followups(path: Path) -> list[dict]:
    db = open_db(path)
    return list(db.query("SELECT r.file_name AS promised_in, n.file_name AS looked_in, f.* FROM followups f "
                         "JOIN reports r ON r.id = f.report_id JOIN reports n ON n.id = f.next_report_id "
                         "ORDER BY f.improvement_id"))


def test_links_with_both_quotes(corpus_db: Path) -> None:
    got = {f["evidence"]: (f["looked_in"], f["status"], f["matched_table"], f["next_evidence"])
           for f in _followups(corpus_db)}
    assert got["一是加大政务公开检查力度"] == (
        "06-pingtan-2024.txt", "addressed", "facts", "加大政府网站与政务新媒体信息发布日常监测、季度检查力度")
    assert got["二是增强政策解读效果，进一步丰富政策解读形式"] == (
        "07-pingtan-2025.txt", "addressed", "facts", "发布文字、图解、H5等多形式政策解读82篇")
    assert got["不断提升全区政府信息公开工作的质量与效果"] == (
        "04-pingtan-2021.txt", "repeated", "problems", "政务公开质量水平有待提高")
    assert got["不断强化交流互动，倾听公众意见，回应社会关切，接受社会监督"] == (
        "03-pingtan-2020.txt", "repeated", "problems", "互动效果有待进一步加强")
    assert got["一是优化主动公开目录，开展主动公开事项目录编制"] == ("07-pingtan-2025.txt", "not_mentioned", None, None)


def test_only_consecutive_years_are_followed_up(corpus_db: Path) -> None:
    counts = Counter((f["promised_in"][:2], f["looked_in"][:2], f["status"]) for f in _followups(corpus_db))
    assert counts == {
        ("02", "03", "addressed"): 4, ("02", "03", "repeated"): 1, ("02", "03", "not_mentioned"): 8,
        ("03", "04", "repeated"): 2, ("03", "04", "not_mentioned"): 4,
        ("05", "06", "addressed"): 2, ("05", "06", "not_mentioned"): 4,
        ("06", "07", "addressed"): 1, ("06", "07", "not_mentioned"): 2,
    }  # 2021's promises have no 2022 report to look in; the departments never report two years running
    db = open_db(corpus_db)
    assert db.execute("SELECT file_name, promises_due, addressed, repeated, followup_rate FROM evaluation "
                      "WHERE promises_due IS NOT NULL ORDER BY file_name").fetchall() == [
        ("03-pingtan-2020.txt", 13, 4, 1, 0.308), ("04-pingtan-2021.txt", 6, 0, 2, 0.0),
        ("06-pingtan-2024.txt", 6, 2, 0, 0.333), ("07-pingtan-2025.txt", 3, 1, 0, 0.333)]


def test_agreement_with_a_hand_reading(corpus_db: Path) -> None:
    """The rules against fixtures/corpus/followup_labels.json: 20 of 28 agree (README, follow-up)."""
    pairs = Counter()
    for f in _followups(corpus_db):
        (label,) = [v for k, v in LABELS.items() if f["evidence"].startswith(k)]
        pairs[(label, f["status"])] += 1
    assert sum(pairs.values()) == len(LABELS) == 28
    assert pairs == {("not_mentioned", "not_mentioned"): 13, ("addressed", "addressed"): 5,
                     ("repeated", "repeated"): 2, ("addressed", "not_mentioned"): 4,
                     ("not_mentioned", "addressed"): 2, ("repeated", "not_mentioned"): 1,
                     ("addressed", "repeated"): 1}


def test_stock_words_do_not_link() -> None:
    assert shared("加强政务公开工作", "进一步加强政务公开工作水平") == (0.0, [])
    assert shared("一是加大政务公开检查力度", "加大政府网站与政务新媒体信息发布日常监测、季度检查力度") == (
        1.0, ["力度", "查力", "检查"])
