"""Boilerplate (雷同) against hand-picked pairs, similarity across consecutive years, concreteness rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpus_db import CORPUS, corpus_db, rid  # noqa: F401  (fixtures)
from gkextract.boilerplate import NEAR_VERBATIM, concreteness, similarity, simplify
from gkextract.read import read_document
from gkextract.store import open_db

PAIRS = json.loads((CORPUS / "similarity_pairs.json").read_text(encoding="utf-8"))["pairs"]


def _score(pair: dict) -> float:
    return similarity(simplify(pair["a"][1]), simplify(pair["b"][1]))


def test_the_hand_picked_quotes_are_verbatim() -> None:
    texts = {f: read_document(CORPUS / f).text for p in PAIRS for f, _ in (p["a"], p["b"])}
    missing = [(f, q) for p in PAIRS for f, q in (p["a"], p["b"]) if q not in texts[f]]
    assert missing == []
    assert [p["class"] for p in PAIRS].count("near_identical") == 8 and len(PAIRS) == 25


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: f"{p['class']}:{p['a'][1][:8]}")
def test_near_verbatim_exactly_for_the_identical_and_near_identical_pairs(pair: dict) -> None:
    score = _score(pair)
    assert (score >= NEAR_VERBATIM) == (pair["class"] in ("identical", "near_identical")), score
    if pair["class"] == "identical":
        assert score == 1.0


def test_simplify_drops_what_copying_changes() -> None:
    assert simplify("三是 2019年政策解读形式，有待丰富。") == simplify("（二）2025年 政策解读形式有待丰富")
    assert simplify("一是政务公开") == "政务公开"


def _previous(path: Path, prefix: str) -> list[tuple]:
    db = open_db(path)
    return db.execute(
        "SELECT p.evidence, q.evidence, round(s.score, 3), s.near_verbatim, o.file_name FROM problem_similarity s "
        "JOIN problems p ON p.id = s.problem_id JOIN problems q ON q.id = s.other_problem_id "
        "JOIN reports o ON o.id = s.other_report_id WHERE s.report_id = ? AND s.relation = 'previous' "
        "ORDER BY p.id", [rid(db, prefix)]).fetchall()


def test_consecutive_years_of_the_series_repeat_no_problem_verbatim(corpus_db: Path) -> None:
    """Read by hand: 管委会 words its problems anew each year.  The computed best matches agree, and two of
    them are hand-picked pairs: a paraphrase (2023→2024) and a different problem (2024→2025)."""
    db = open_db(corpus_db)
    rows = db.execute("SELECT count(*), sum(s.near_verbatim) FROM problem_similarity s JOIN reports r "
                      "ON r.id = s.report_id WHERE s.relation = 'previous' AND r.file_name GLOB '0[3-7]*'").fetchone()
    assert rows == (17, 0)
    paraphrase = next(p for p in PAIRS if p["class"] == "paraphrase" and p["b"][0].startswith("06"))
    different = next(p for p in PAIRS if p["class"] == "different" and p["b"][1] == "依申请公开答复质量待进一步提升"
                     and p["a"][0].startswith("06"))
    assert ("政策解读形式仍需创新", "三是政策解读的质量有待提高，形式还要更加多样、更加“接地气”", round(_score(paraphrase), 3), 0,
            "05-pingtan-2023.txt") in _previous(corpus_db, "06")
    assert ("依申请公开答复质量待进一步提升", "新时代政府信息公开工作机制有待进一步调整和完善", round(_score(different), 3), 0,
            "06-pingtan-2024.txt") in _previous(corpus_db, "07")


def test_the_finance_bureau_repeats_two_problems_of_2019_in_2025(corpus_db: Path) -> None:
    near = [r for r in _previous(corpus_db, "15-pingtan-czj") if r[3]]
    assert near == [
        ("二是公开方式灵活性不够", "二是公开方式灵活性不够", 1.0, 1, "11-pingtan-czj-2019.txt"),
        ("在社会公众互动及专题活动方面有待进一步加强", "在社会公众互动及专题活动方面还难以满足群众需要", 0.636, 1,
         "11-pingtan-czj-2019.txt"),
    ]
    db = open_db(corpus_db)
    assert db.execute("SELECT problems, boilerplate_share FROM evaluation WHERE file_name LIKE '15-%'").fetchone() == (
        7, 0.286)
    assert db.execute("SELECT count(*) FROM evaluation WHERE boilerplate_share > 0").fetchone() == (1,)


def test_section_five_against_last_year_and_the_years_peers(corpus_db: Path) -> None:
    db = open_db(corpus_db)
    rows = {(f[:2], rel): (o[:2], near) for f, rel, o, near in db.execute(
        "SELECT r.file_name, s.relation, o.file_name, s.near_verbatim FROM section_similarity s "
        "JOIN reports r ON r.id = s.report_id JOIN reports o ON o.id = s.other_report_id")}
    assert {k: v for k, v in rows.items() if k[1] == "previous" and k[0] in ("03", "04", "06", "07", "15")} == {
        ("03", "previous"): ("02", 0), ("04", "previous"): ("03", 0), ("06", "previous"): ("05", 0),
        ("07", "previous"): ("06", 0), ("15", "previous"): ("11", 0)}
    assert not any(near for _, near in rows.values())
    # The two renderings of the 2024 report have the same section 五 (a copy is no peer of its own issuer).
    text = {f: t[b:e] for f, t, b, e in db.execute(
        "SELECT r.file_name, r.text, s.body_start, s.span_end FROM reports r JOIN sections s ON s.report_id = r.id "
        "AND s.kind = 'problems' WHERE r.file_name LIKE '06-%' OR r.file_name LIKE '08-%'")}
    assert similarity(*(simplify(t) for t in text.values())) == 1.0
    assert rows[("14", "peer")][0] in ("06", "08")


@pytest.mark.parametrize("text, named, score", [
    ("不断优化政府门户网站栏目设置，开设富有实验区特色的专题专栏", {"object"}, 0.25),        # 05 (2023)
    ("每年至少开展2次政务公开专题调研并组织相关工作会议", {"object", "quantity", "deadline"}, 0.75),  # sample 000
    ("政府信息公开主要还是依靠县政府办牵头细化各部门所需公开的", {"owner"}, 0.25),           # sample 000
    ("县政府办政府信息公开工作机构现只有兼职人员1名", {"quantity"}, 0.25),                # sample 001
    ("及时发现问题并督促限期整改", {"deadline"}, 0.25),                             # 07 (2025)
    ("办公室对各处室的督促力度仍需进一步加强", {"owner"}, 0.25),                       # 15 (2025)
    ("由局办公室负责，2025年6月底前完成", {"owner", "deadline"}, 0.5),
    ("四是对局各处室政府信息公开工作的监管和指导还不够到位", set(), 0.0),                 # 15 (2025)
    ("政策解读形式仍需创新", set(), 0.0),                                         # 06 (2024)
])
def test_concreteness_rules(text: str, named: set[str], score: float) -> None:
    got, which, reasons = concreteness(text)
    assert (got, {k for k, v in which.items() if v}) == (score, named)
    if named:
        assert [r.split(":")[0] for r in reasons] == [k for k in ("object", "quantity", "deadline", "owner") if k in named]
    else:
        assert reasons[0].startswith("泛泛而谈: names no object, quantity, deadline or owner (")


def test_concreteness_is_stored_for_every_item_from_its_located_text(corpus_db: Path) -> None:
    db = open_db(corpus_db)
    counts = db.execute("SELECT (SELECT count(*) FROM problems_reviewed) + (SELECT count(*) FROM improvements_reviewed), "
                        "(SELECT count(*) FROM concreteness)").fetchone()
    assert counts[0] == counts[1] > 100
    mismatched = db.execute(
        "SELECT count(*) FROM concreteness k JOIN problems p ON k.item_table = 'problems' AND p.id = k.item_id "
        "JOIN reports r ON r.id = p.report_id WHERE k.located_text != substr(r.text, p.span_start + 1, "
        "p.span_end - p.span_start)").fetchone()
    assert mismatched == (0,)
    row = db.execute("SELECT k.score, k.object, k.reasons FROM concreteness k JOIN improvements i "
                     "ON k.item_table = 'improvements' AND i.id = k.item_id "
                     "WHERE i.evidence = '不断优化政府门户网站栏目设置，开设富有实验区特色的专题专栏'").fetchone()
    assert row == (0.25, 1, '["object: 专栏、专题、栏目、门户网站"]')
