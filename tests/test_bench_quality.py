"""bench/bench_quality.py matches predictions to gold the way its table says."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("bench_quality", ROOT / "bench" / "bench_quality.py")
bq = importlib.util.module_from_spec(_spec)
sys.modules["bench_quality"] = bq   # dataclasses look their module up
_spec.loader.exec_module(bq)  # type: ignore[union-attr]
Item = bq.Item


def test_right_wrong_invented_and_flagged_items_are_counted_apart() -> None:
    gold = [Item("training", "sessions", None, 3, "举办政务公开培训3期"),
            Item("platform", "items", "保德发布", 1200, "保德发布共发布信息1200条"),
            Item("platform", "followers", "保德发布", 5000, "粉丝5000余人")]
    pred = [Item("training", "sessions", None, 3, "举办政务公开培训3期", match="exact", score=1.0),
            Item("platform", "items", "保德发布", 1300, "保德发布共发布信息1200条", match="exact", score=0.6),
            Item("platform", "followers", "保德发布", 5000, "粉丝5000余人", match="exact", score=0.5),
            Item("supervision", "inspection", None, 4, "开展督查检查4次", match="none", score=0.2)]
    t = bq.score_section(pred, gold, threshold=0.7)
    assert (t["training"].gold, t["training"].matched, t["training"].right, t["training"].right_flagged) == (1, 1, 1, 0)
    platform = t["platform"]
    assert (platform.matched, platform.value_ok, platform.evidence_ok) == (2, 1, 2)
    assert (platform.wrong, platform.wrong_flagged) == (1, 1)      # 1300 against 1200: wrong, and caught
    assert (platform.right, platform.right_flagged) == (1, 1)      # right, yet flagged: a false alarm
    invented = t["supervision"]
    assert (invented.gold, invented.pred, invented.matched, invented.wrong, invented.wrong_flagged) == (0, 1, 0, 1, 1)
    assert invented.located == {"none": 1}


def test_a_statement_found_with_the_wrong_quote_is_matched_but_not_right() -> None:
    gold = [Item("improvement", evidence="二是扩大政府信息公开范围", summary="扩大公开范围", category="disclosure_quality")]
    pred = [Item("improvement", evidence="部门主动公开的意识不强", summary="扩大政府信息公开范围",
                 category="disclosure_quality", match="exact", score=0.5)]
    t = bq.score_section(pred, gold, threshold=0.7)["improvement"]
    assert (t.matched, t.value_ok, t.evidence_ok, t.wrong, t.wrong_flagged, t.right) == (1, 1, 0, 1, 1, 0)


def test_the_hand_written_replies_score_as_their_gold(tmp_path: Path) -> None:
    """They were written from the gold, so every item matches; the two flagged ones are the
    application counts the reports' own tables contradict (003, 004)."""
    gold = bq.load_gold([ROOT / "fixtures" / "llm" / "answers"])
    reports = sorted((ROOT / "fixtures" / "reports").glob("*.txt"))
    path, failures = bq.build_db(reports, "gpt-4o-mini", ROOT / "fixtures" / "llm", tmp_path)
    totals, _, sections = bq.score_db(path, "gpt-4o-mini", gold, 0.7)
    assert failures == [] and sections == 10
    rows = {r[0]: r[1:] for r in bq.table(totals)}
    assert rows["all facts"][:7] == ["98", "98", "98", "100%", "100%", "100%", "100%"]
    assert rows["all facts"][-2:] == ["98", "2%"]
    assert rows["problems"][:3] == ["22", "22", "22"] and rows["improvements"][:3] == ["22", "22", "22"]
