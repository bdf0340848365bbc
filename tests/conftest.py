"""Shared fixtures: the five sample reports ingested, plus hand-made narrative extractions.

The LLM pipeline is not in place yet, so ``insert_handmade_extractions`` writes
a small, explicit set of extractions, facts, problems and improvements by hand.
Every evidence string is copied from the sample texts and its span is found
with ``reports.text.find``; items meant to be ungrounded say so.  Swap this
function for the replay pipeline once it exists.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from gkextract.ingest import ingest_paths
from gkextract.store import open_db

ROOT = Path(__file__).resolve().parent.parent
REVIEW_THRESHOLD = 0.7

# (report, section): extraction status; 002's problems call failed, so 002 has no problems.
EXTRACTIONS = {
    ("000", "overview"): "ok", ("000", "problems"): "ok",
    ("001", "overview"): "ok", ("001", "problems"): "ok",
    ("002", "overview"): "ok", ("002", "problems"): "error",
    ("003", "overview"): "ok", ("003", "problems"): "ok",
    ("004", "overview"): "ok", ("004", "problems"): "ok",
}

# An item's grounding: `found` is the passage of the report its evidence was
# located at ("=" : the evidence itself, exact match; None: not found).
# Facts: report, section, kind, item, metric, label, attributes, value, unit, approximate,
#        evidence, found, score, flags, table_ref, table_value
FACTS: list[tuple[Any, ...]] = [
    ("000", "overview", "platform", 0, "items", "保德发布", {"type": "weibo"}, 3951, "条", 0,
     "新浪政务微博（保德发布）：信息3951条", "=", 0.95, [], None, None),
    ("000", "overview", "disclosure", 0, "items", "全部", {}, 4038, "条", 0,
     "全年公开政府信息总计4038条", "=", 0.95, [], None, None),
    ("000", "overview", "disclosure", 1, "items", "政策解读", {}, 337, "条", 0,
     "政策解读 337条", "=", 0.92, [], None, None),
    ("000", "overview", "application", 0, "received", None, {}, 0, "件", 0,
     "2019年，我县未收到要求公开政府信息的申请", "=", 0.62, ["number_not_in_quote"],
     "applications.new_received.total", 0),
    ("000", "problems", "training", 0, "sessions", "政务公开业务培训",
     {"status": "planned", "audience": "全县政务公开工作人员"}, None, None, 0,
     "组织全县政务公开工作人员开展业务培训", "=", 0.85, [], None, None),
    ("001", "overview", "disclosure", 0, "items", "全部", {}, 4340, "条", 1,
     "2019 年累计公开各类政府信息 4340 余条", "=", 0.93, [], None, None),
    ("001", "overview", "disclosure", 1, "items", "规范性文件", {}, 3, "件", 0,
     "其中，含规范性文件 3 件", "=", 0.9, [], "proactive.normative_documents.new_published", 3),
    ("001", "overview", "platform", 0, "items", "印象盐池", {"type": "wechat"}, 1900, "条", 1,
     "“印象盐池”微信公众号发布信息 1900 余条", "=", 0.9, [], None, None),
    ("001", "overview", "platform", 1, "issues", "盐池县人民政府公报", {"type": "gazette"}, 4, "期", 0,
     "2019 年出版政府公报 4 期", "=", 0.9, [], None, None),
    ("001", "overview", "training", 0, "sessions", "政务公开工作专题培训班", {"status": "held"}, 1, "期", 0,
     "举办全县政务公开工作专题培训班 1 期", "=", 0.9, [], None, None),
    ("001", "overview", "training", 1, "sessions", "网络安全与舆情处置、新媒体管理专题培训班",
     {"status": "held"}, 2, "期", 0, "全县网络安全与舆情处置、新媒体管理专题培训班 2 期", "=", 0.9, [], None, None),
    ("001", "overview", "training", 2, "participants", None, {"status": "held"}, 1000, "人次", 1,
     "累计完成培训人员 1000 余人次", "=", 0.88, [], None, None),
    ("001", "overview", "supervision", 0, "inspection", None, {}, 4, "次", 0,
     "开展政务公开专项督查检查 4 次", "=", 0.9, [], None, None),
    ("001", "overview", "application", 0, "received", None, {}, 2, "件", 0,
     "我县收到自然人依申请公开政府信息2件", "=", 0.95, [], "applications.new_received.total", 2),
    ("002", "overview", "disclosure", 0, "items", "全部", {}, 1600, "条", 1,
     "主动公开包括新增、修改或编辑在内有关各类信息1600余条", "=", 0.9, [], None, None),
    ("002", "overview", "application", 0, "received", None, {}, 5, "件", 0,
     "我区收到5例政府信息依申请公开", "=", 0.9, [], "applications.new_received.total", 5),
    ("003", "overview", "disclosure", 0, "items", "全部", {}, 6264, "条", 0,
     "2020年,县政府本级主动公开政府信息6264条", "=", 0.95, [], None, None),
    ("003", "overview", "platform", 0, "accounts", None, {"type": "new_media"}, 5, "个", 0,
     "目前,我县共有政务新媒体5个", "=", 0.93, [], None, None),
    ("003", "overview", "platform", 1, "items", None, {"type": "weibo"}, 1598, "条", 0,
     "通过政务微博公开政府信息1598条", "=", 0.92, [], None, None),
    ("003", "overview", "application", 0, "received", None, {}, 18, "件", 0,
     "全县共受理政府信息公开申请18件", "=", 0.8, [], "applications.new_received.total", None),
    ("003", "overview", "application", 1, "handled", None, {}, 17, "件", 0,
     "其中17件已按时办结", "=", 0.4, ["conflicts_with_table"], "applications.total_handled.total", 21),
    ("004", "overview", "application", 0, "received", None, {}, 5, "件", 0,
     "2019年共办理公民、法人及其他组织向县政府及县政府办公室提交的政府信息公开申请5件", "=", 0.95, [],
     "applications.new_received.total", 5),
    ("004", "overview", "application", 1, "handled", None, {}, 5, "件", 0,
     "依法按时办结5件", "=", 0.45, ["conflicts_with_table"], "applications.total_handled.total", 0),
    ("004", "overview", "training", 0, "sessions", "政府门户网站运用及政务公开信息保障培训会",
     {"status": "held"}, 1, "次", 0, "2019年6月，举办政府门户网站运用及政务公开信息保障培训会", "=", 0.52,
     ["number_not_in_quote"], None, None),
    ("004", "overview", "training", 0, "participants", "政府门户网站运用及政务公开信息保障培训会",
     {"status": "held", "audience": "政务公开工作骨干和相关负责同志"}, 70, "人", 1,
     "对全县70余名政务公开工作骨干和相关负责同志开展培训", "=", 0.88, [], None, None),
    ("004", "overview", "platform", 0, "items", None, {"type": "portal"}, 4440, "条", 0,
     "全年编发信息4440条", "=", 0.9, [], None, None),
    ("004", "overview", "platform", 1, "items", "关岭政务", {"type": "weibo"}, 116, "条", 0,
     "“关岭政务”政务微博、政务微信全年分别发稿116条、490条", "=", 0.9, [], None, None),
    ("004", "overview", "platform", 2, "items", "关岭政务", {"type": "wechat"}, 490, "条", 0,
     "“关岭政务”政务微博、政务微信全年分别发稿116条、490条", "=", 0.9, [], None, None),
    ("004", "overview", "platform", 3, "issues", None, {"type": "gazette"}, 4, "期", 0,
     "全年累计出刊4期", "=", 0.9, [], None, None),
]

# Problems: report, category, summary, evidence, found, score, flags
PROBLEMS: list[tuple[Any, ...]] = [
    ("000", "disclosure_quality", "信息公开的深度和广度与公众需求有差距",
     "政府信息公开的深度和广度与公众的需求还有一定差距", "=", 0.93, []),
    ("000", "timeliness", "部分信息公开的质量、时效性未达群众要求",
     "部分信息公开的质量、时效性还未达到人民群众的要求", "=", 0.9, []),
    ("000", "platforms", "提供信息的方式和渠道有待优化拓展",
     "为社会提供政府信息的方式和渠道有待进一步优化和拓展", "=", 0.92, []),
    ("000", "rules_standards", "政府信息公开制度建设有待完善创新",
     "在推进政府信息公开制度建设上有待进一步完善和创新", "=", 0.9, []),
    ("001", "awareness", "政府信息公开主动性有待提高", "政府信息公开主动性有待提高", "=", 0.93, []),
    ("001", "rules_standards", "公开的标准化规范化有待加强", "公开的标准化规范化还有待加强", "=", 0.9, []),
    ("001", "platforms", "公开方式创新不足，平台拓展不够",
     "政府信息公开方式创新上还有不足，公开平台的拓展上还有待加强", "=", 0.9, []),
    ("001", "platforms", "门户网站公开栏目有待规范和优化",
     "政府门户网站的公开栏目有待进一步规范和优化", "政府门户网站公开栏目还有待进一步规范和优化", 0.55,
     ["quote_fuzzy"]),
    ("003", "rules_standards", "信息公开的内容、形式、程序不够规范",
     "信息公开的内容、形式、程序规范不够", "=", 0.9, []),
    ("003", "other", "信息公开与日常行政管理脱节", "政府信息公开与日常行政管理脱节", "=", 0.5,
     ["category_unsure"]),
    ("003", "supervision", "少数单位信息公开缺乏有效监督检查", "少数单位信息公开缺乏有效的监督检查", "=",
     0.88, []),
    ("003", "responsiveness", "网上公开的焦点、热点、难点信息偏少", "网上公开的焦点、热点、难点信息偏少", "=",
     0.85, []),
    ("003", "policy_interpretation", "政策解读不到位", "政策解读不到位", "=", 0.9, []),
    ("004", "staffing_capacity", "公开队伍建设、制度建设存在差距", "政府信息公开队伍建设、制度建设还存在差距", "=",
     0.9, []),
    ("004", "awareness", "部门主动公开意识不强", "部门主动公开的意识不强、规范性不足", "=", 0.88, []),
    ("004", "policy_interpretation", "政策解读质量、丰富性和时效性有待提高",
     "政策解读质量、丰富性和时效性有待提高", "=", 0.96, []),
    ("004", "policy_interpretation", "解读数量占发布文件比例低", "解读数量与发布文件数量比例占比较低", "=",
     0.85, []),
    ("004", "supervision", "指导督促职责有待强化", "指导督促职责有待进一步强化", "=", 0.9, []),
    ("004", "staffing_capacity", "培训工作严重滞后", "培训工作严重滞后，人员流动频繁", None, 0.2,
     ["quote_not_found"]),
]

# Improvements: report, category, summary, evidence, found, score, flags, index of the
# problem it answers within the same report's PROBLEMS rows (or None)
IMPROVEMENTS: list[tuple[Any, ...]] = [
    ("000", "rules_standards", "健全公开工作机制和制度规范", "进一步健全政府信息公开工作机制和制度规范", "=",
     0.9, [], 3),
    ("000", "disclosure_quality", "扩大政府信息公开范围", "扩大政府信息公开范围", "=", 0.9, [], 0),
    ("000", "staffing_capacity", "开展政务公开业务培训", "组织全县政务公开工作人员开展业务培训", "=", 0.88, [],
     None),
    ("001", "disclosure_quality", "提升政务公开工作质量和水平", "不断提升政务公开工作质量和水平", "=", 0.8, [],
     None),
    ("003", "grassroots", "推进基层政务公开标准化规范化", "进一步推进基层政务公开标准化规范化建设", "=", 0.9, [],
     None),
    ("003", "rules_standards", "规范公开流程", "规范公开流程,确保公开及时、透明", "=", 0.85, [], 0),
    ("003", "platforms", "完善各类公开平台", "进一步完善各类公开平台", "=", 0.9, [], None),
    ("004", "policy_interpretation", "完善政策解读工作制度", "完善关岭自治县政务公开政策解读工作制度", "=", 0.92,
     [], 2),
    ("004", "rules_standards", "推进政务公开标准化规范化", "加快推进政务公开标准化规范化", "=", 0.9, [], None),
    ("004", "supervision", "健全定期巡查通报机制", "进一步健全政府信息公开定期巡查通报机制", "=", 0.9, [], 4),
    ("004", "staffing_capacity", "举办政务公开专题培训班", "继续举办政务公开专题培训班", "=", 0.58, ["retried"], 0),
]


def report_ids(db: sqlite_utils.Database) -> dict[str, str]:
    """Sample key ("000" …) → report id."""
    return {r["file_name"][:3]: r["id"] for r in db.query("SELECT id, file_name FROM reports")}


def _ground(text: str, evidence: str, found: str | None) -> dict[str, Any]:
    if found is None:
        assert evidence not in text, evidence
        return dict(span_start=None, span_end=None, match="none")
    passage = evidence if found == "=" else found
    start = text.find(passage)
    assert start >= 0, f"not in the sample text: {passage}"
    return dict(span_start=start, span_end=start + len(passage), match="exact" if found == "=" else "fuzzy")


def insert_handmade_extractions(db: sqlite_utils.Database) -> None:
    """Write the hand-made narrative rows above into an ingested database."""
    ids = report_ids(db)
    texts = {k: db.execute("SELECT text FROM reports WHERE id = ?", [rid]).fetchone()[0] for k, rid in ids.items()}
    extraction: dict[tuple[str, str], int] = {}
    for (key, section), status in EXTRACTIONS.items():
        extraction[key, section] = db["extractions"].insert(dict(
            report_id=ids[key], section=section, model="gpt-4o-mini", prompt_version=f"{section}-v1",
            response_format="json_schema", mode="replay", request_key=f"hand-written-{key}-{section}",
            status=status, error="HTTP 500 after 3 retries" if status == "error" else None, calls=0,
            cache_hits=1, reasks=0, retries=3 if status == "error" else 0, prompt_tokens=None,
            completion_tokens=None, latency_ms=None, raw_reply=None, created_at="2026-11-20T10:00:00+00:00",
        )).last_pk

    def scored(key: str, evidence: str, found: str | None, score: float, flags: list[str]) -> dict[str, Any]:
        return dict(report_id=ids[key], evidence=evidence, **_ground(texts[key], evidence, found), score=score,
                    flags=json.dumps(flags), needs_review=int(score < REVIEW_THRESHOLD))

    for (key, section, kind, item, metric, label, attrs, value, unit, approx, evidence, found, score, flags,
         table_ref, table_value) in FACTS:
        db["facts"].insert(dict(
            extraction_id=extraction[key, section], section=section, kind=kind, item=item, metric=metric,
            label=label, attributes=json.dumps(attrs, ensure_ascii=False), value=value, unit=unit,
            approximate=approx, **scored(key, evidence, found, score, flags), table_ref=table_ref,
            table_value=table_value))
    problem_ids: dict[str, list[int]] = {}
    for key, category, summary, evidence, found, score, flags in PROBLEMS:
        pids = problem_ids.setdefault(key, [])
        pids.append(db["problems"].insert(dict(
            extraction_id=extraction[key, "problems"], item=len(pids), summary=summary, category=category,
            **scored(key, evidence, found, score, flags))).last_pk)
    counts: dict[str, int] = {}
    for key, category, summary, evidence, found, score, flags, answers in IMPROVEMENTS:
        counts[key] = counts.get(key, -1) + 1
        db["improvements"].insert(dict(
            extraction_id=extraction[key, "problems"], item=counts[key], summary=summary, category=category,
            problem_id=None if answers is None else problem_ids[key][answers],
            **scored(key, evidence, found, score, flags)))


def copy_db(src: Path, dst: Path) -> Path:
    """A consistent copy even with the WAL journal (the backup API, not a file copy)."""
    with closing(sqlite3.connect(src)) as a, closing(sqlite3.connect(dst)) as b:
        a.backup(b)
    return dst


@pytest.fixture(scope="session")
def ingested_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five samples ingested; no narrative extracted yet. Do not modify."""
    path = tmp_path_factory.mktemp("ingested") / "gk.db"
    db = open_db(path)
    ingest_paths(db, [ROOT / "fixtures" / "reports"])
    db.close()
    return path


@pytest.fixture(scope="session")
def sample_db(ingested_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ingested samples plus the hand-made extractions. Shared: do not modify, use sample_db_copy."""
    path = copy_db(ingested_db, tmp_path_factory.mktemp("sample") / "gk.db")
    db = open_db(path)
    insert_handmade_extractions(db)
    db.close()
    return path


@pytest.fixture
def sample_db_copy(sample_db: Path, tmp_path: Path) -> Path:
    """A private copy of sample_db for a test that writes to it."""
    return copy_db(sample_db, tmp_path / "gk.db")


@pytest.fixture(scope="session")
def item_id(sample_db: Path):
    """Look an item up by its evidence, so tests do not depend on insertion order."""
    db = sqlite_utils.Database(sample_db)

    def lookup(table: str, evidence: str, report: str | None = None) -> int:
        sql = f"SELECT id FROM {table} WHERE evidence = ?" + (" AND report_id = ?" if report else "")
        rows = db.execute(sql, [evidence, *([report_ids(db)[report]] if report else [])]).fetchall()
        assert len(rows) == 1, (table, evidence, rows)
        return rows[0][0]

    return lookup
