"""`gkextract facts`: filters, kinds and metrics, --stats per group, --by counts, errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gkextract.cli import app

runner = CliRunner()


def run(*args: str, db: Path) -> list[dict]:
    res = runner.invoke(app, ["facts", *args, "--db", str(db), "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_training_in_2019_by_county_governments(sample_db):
    # 001 (宁夏) is a department and 003 (河南) reports 2020; 000 (山西) states no training
    rows = run("--kind", "training", "--year", "2019", "--level", "county", db=sample_db)
    assert [(r["issuer"], r["province"], r["metric"], r["value"]) for r in rows] == [
        ("保定市竞秀区人民政府", "河北省", None, None), ("关岭自治县人民政府", "贵州省", "participants", 70)]
    assert run("--kind", "training", "--province", "山西", "--year", "2019", "--level", "county", db=sample_db) == []

    (t,) = run("--kind", "training", "--province", "河北", "--year", "2019", "--level", "county", db=sample_db)
    assert (t["issuer"], t["metric"], t["label"], t["value"], t["unit"]) == ("保定市竞秀区人民政府", None, None, None, None)
    assert t["attributes"] == {"status": "held", "audience": "政府信息公开队伍", "topic": None}
    assert t["evidence"] == "坚持集中培训、以会代训等方式对政府信息公开队伍进行培训"
    (t,) = run("--kind", "training", "--province", "贵州", "--year", "2019", "--level", "county", db=sample_db)
    assert (t["label"], t["value"], t["unit"], t["approximate"]) == ("政府门户网站运用及政务公开信息保障", 70, "名", 1)
    assert t["attributes"] == {"status": "held", "audience": "全县政务公开工作骨干和相关负责同志",
                               "topic": "政府门户网站运用及政务公开信息保障"}


def test_kind_and_metric_filters(sample_db):
    ningxia = run("--kind", "training", "--province", "宁夏回族自治区", db=sample_db)
    assert [(r["metric"], r["label"], r["value"], r["unit"], r["approximate"]) for r in ningxia] == [
        ("sessions", "政务公开工作", 1, "期", 0), ("sessions", "网络安全与舆情处置、新媒体管理", 2, "期", 0),
        ("participants", "政务公开业务", 1000, "人次", 1)]
    received = run("--kind", "application", "--metric", "received", db=sample_db)
    assert sorted(r["value"] for r in received) == [0, 2, 5, 5, 18]
    handled = run("--metric", "handled", db=sample_db)
    assert [(r["county"], r["value"], r["score"], r["review_status"]) for r in handled] == [
        ("遂平县", 17, 0.65, "pending"), ("关岭布依族苗族自治县", 5, 0.65, "pending")]
    jingxiu = run("--issuer", "竞秀", db=sample_db)
    assert {r["issuer"] for r in jingxiu} == {"保定市竞秀区人民政府"}
    assert [(r["kind"], r["value"]) for r in jingxiu] == [("training", None), ("disclosure", 1600), ("application", 5)]


def test_search_over_label_and_evidence(sample_db):
    weibo = run("--search", "微博", db=sample_db)
    assert sorted(r["value"] for r in weibo) == [116, 490, 1598, 3951]
    assert [r["value"] for r in run("--search", "保德发布", db=sample_db)] == [3951]          # the label
    assert [r["value"] for r in run("--search", "便民服务", db=sample_db)] == [18, 203]      # label and evidence
    assert [r["value"] for r in run("--search", "微博 保德", db=sample_db)] == [3951]        # all words


def test_stats_per_level(sample_db):
    rows = run("--kind", "platform", "--metric", "items", "--by", "level", "--stats", db=sample_db)
    # county 条: 3951, 42 (保德), 4014, 1598, 449, 203 (遂平), 4440, 116, 490 (关岭);
    # county 件: 86 (保德), 0, 22, 17, 164 (关岭); department: 103 件 and 1900 条 (盐池)
    assert rows == [
        {"level": "county", "kind": "platform", "metric": "items", "unit": "件", "facts": 5, "reports": 2,
         "min": 0, "median": 22, "max": 164},
        {"level": "county", "kind": "platform", "metric": "items", "unit": "条", "facts": 9, "reports": 3,
         "min": 42, "median": 490, "max": 4440},
        {"level": "department", "kind": "platform", "metric": "items", "unit": "件", "facts": 1, "reports": 1,
         "min": 103, "median": 103, "max": 103},
        {"level": "department", "kind": "platform", "metric": "items", "unit": "条", "facts": 1, "reports": 1,
         "min": 1900, "median": 1900, "max": 1900},
    ]


def test_median_new_media_accounts_per_county(sample_db):
    rows = run("--kind", "platform", "--metric", "accounts", "--by", "county", "--stats", db=sample_db)
    # 遂平: 5 new-media accounts, 18 township service centres, 203 village service stations
    assert [(r["county"], r["facts"], r["min"], r["median"], r["max"], r["unit"]) for r in rows] == [
        ("遂平县", 3, 5, 18, 203, "个")]
    rows = run("--kind", "platform", "--metric", "accounts", "--search", "新媒体", "--by", "county", "--stats",
               db=sample_db)
    assert [(r["county"], r["facts"], r["median"], r["unit"]) for r in rows] == [("遂平县", 1, 5, "个")]


def test_stats_without_by_split_by_kind_metric_unit(sample_db):
    # the two handled counts conflict with their tables: they wait for review and are left out...
    assert ("application", "handled", "件") not in {(r["kind"], r["metric"], r["unit"]) for r in run("--stats", db=sample_db)}
    # ... unless counted on purpose
    rows = {(r["kind"], r["metric"], r["unit"]): r for r in run("--stats", "--include-flagged", db=sample_db)}
    received = rows["application", "received", "件"]
    assert (received["facts"], received["min"], received["median"], received["max"]) == (3, 2, 5, 18)
    # 件, 例 and no unit (000's "未收到" = 0) are kept apart
    assert (rows["application", "received", "例"]["facts"], rows["application", "received", "例"]["median"]) == (1, 5)
    assert (rows["application", "received", None]["facts"], rows["application", "received", None]["max"]) == (1, 0)
    handled = rows["application", "handled", "件"]
    assert (handled["facts"], handled["reports"], handled["median"]) == (2, 2, 11)
    # 人次 and 名 are kept apart; the three trainings without a number are not counted
    assert (rows["training", "sessions", "期"]["facts"], rows["training", "sessions", "期"]["median"]) == (2, 1.5)
    assert rows["training", "participants", "人次"]["facts"] == 1
    assert rows["training", "participants", "名"]["facts"] == 1
    assert not any(k == "training" and (m is None or u is None) for k, m, u in rows)
    assert ("supervision", "assessment", None) not in rows   # supervision without numbers: nothing to count
    assert len(rows) == 28


def test_by_province_counts_reports_stating_training(sample_db):
    rows = {r["province"]: (r["reports"], r["reports_in_group"], r["share"], r["items"])
            for r in run("--kind", "training", "--by", "province", db=sample_db)}
    assert rows == {"宁夏回族自治区": (1, 1, 1.0, 3), "河北省": (1, 1, 1.0, 1), "河南省": (1, 1, 1.0, 2),
                    "贵州省": (1, 1, 1.0, 1), "山西省": (0, 1, 0.0, 0)}


def test_csv(sample_db):
    res = runner.invoke(app, ["facts", "--county", "遂平县", "--db", str(sample_db), "--format", "csv"])
    assert res.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [(r["kind"], r["metric"], r["value"]) for r in rows] == [
        ("platform", "items", "4014"), ("platform", "items", "1598"), ("platform", "items", "449"),
        ("platform", "items", "203"), ("platform", "accounts", "5"), ("platform", "accounts", "18"),
        ("platform", "accounts", "203"), ("training", "", ""), ("training", "", ""),
        ("disclosure", "items", "6264"), ("disclosure", "items", "69"), ("disclosure", "items", "4027"),
        ("disclosure", "items", "75"), ("disclosure", "items", "2093"), ("disclosure", "items", "1255"),
        ("disclosure", "items", "176"), ("application", "received", "18"), ("application", "handled", "17"),
        ("application", "carried_forward", "1"), ("application", "review_cases", "1"),
        ("application", "litigation_cases", "0"), ("supervision", "assessment", ""),
        ("supervision", "inspection", ""), ("supervision", "other", "")]
    assert json.loads(rows[4]["attributes"]) == {"type": "new_media"}
    assert json.loads(rows[7]["attributes"]) == {"status": "held", "audience": "领导干部、公务员", "topic": "政务公开"}
    assert (rows[17]["evidence"], rows[17]["score"], rows[17]["review_status"]) == ("其中17件已按时办结", "0.65",
                                                                                    "pending")
    assert {r["review_status"] for i, r in enumerate(rows) if i != 17} == {"unflagged"}


@pytest.mark.parametrize("args, message", [
    (["--kind", "plattform"], "unknown kind 'plattform'; did you mean platform?"),
    (["--metric", "acounts"], "unknown metric 'acounts'; did you mean accounts?"),
    (["--by", "category"], "unknown --by key 'category'"),
    (["--province", "Narnia"], "unknown province 'Narnia'"),
])
def test_invalid_filters(sample_db, args, message):
    res = runner.invoke(app, ["facts", *args, "--db", str(sample_db)], env={"COLUMNS": "200"})
    assert res.exit_code == 2
    assert message in res.output


def test_platform_type_and_training_status(sample_db):
    # 003 遂平: "目前,我县共有政务新媒体5个" is the only new-media account count
    (acc,) = run("--platform-type", "new_media", "--metric", "accounts", db=sample_db)
    assert (acc["issuer"], acc["value"], acc["unit"], acc["evidence"]) == ("遂平县人民政府", 5, "个", "目前,我县共有政务新媒体5个")
    stats = runner.invoke(app, ["facts", "--platform-type", "new_media", "--metric", "accounts", "--level", "county",
                                "--stats", "--db", str(sample_db), "--format", "json"])
    assert [(s["facts"], s["median"]) for s in json.loads(stats.stdout)] == [(1, 5)]
    held = run("--training-status", "held", "--province", "宁夏", "--year", "2019", db=sample_db)
    assert sorted((r["metric"], r["value"]) for r in held) == [("participants", 1000), ("sessions", 1), ("sessions", 2)]
    assert run("--training-status", "planned", db=sample_db) == []
    bad = runner.invoke(app, ["facts", "--platform-type", "newmedia", "--db", str(sample_db)])
    assert bad.exit_code == 2 and "did you mean new_media?" in bad.output


# --- the review threshold is applied when reading --------------------------------------------

def test_threshold_is_read_not_written(sample_db_copy):
    db = str(sample_db_copy)
    res = runner.invoke(app, ["threshold", "--db", db])
    assert (res.exit_code, res.stdout.strip()) == (0, "review threshold: 0.7")
    handled = {r["county"]: (r["score"], r["review_status"]) for r in run("--metric", "handled", db=sample_db_copy)}
    assert handled == {"遂平县": (0.65, "pending"), "关岭布依族苗族自治县": (0.65, "pending")}
    # a lower threshold for one query only
    assert {r["review_status"] for r in run("--metric", "handled", "--below", "0.6", db=sample_db_copy)} == \
        {"unflagged"}
    # raised for the database: every item under it now waits, the stored scores unchanged
    res = runner.invoke(app, ["threshold", "0.95", "--db", db])
    assert (res.exit_code, res.stdout.strip()) == (0, "review threshold: 0.95")
    trainings = run("--kind", "training", "--county", "遂平县", db=sample_db_copy)
    assert [(t["score"], t["review_status"]) for t in trainings] == [(0.9, "pending"), (0.9, "pending")]
    import sqlite3
    con = sqlite3.connect(sample_db_copy)
    assert con.execute("SELECT count(*) FROM facts_reviewed WHERE review_status = 'pending'").fetchone() == (5,)
    res = runner.invoke(app, ["threshold", "1.5", "--db", db])
    assert res.exit_code == 2


def test_counts_leave_out_what_waits_for_review_and_say_so(sample_db):
    res = runner.invoke(app, ["facts", "--metric", "handled", "--stats", "--db", str(sample_db), "--format", "json"])
    assert res.exit_code == 0
    assert json.loads(res.stdout) == []
    assert "left out: 2 facts scoring below the review threshold 0.7" in res.stderr
    res = runner.invoke(app, ["facts", "--metric", "handled", "--stats", "--include-flagged", "--db", str(sample_db),
                              "--format", "json"])
    assert [r["facts"] for r in json.loads(res.stdout)] == [2] and "left out" not in res.stderr


def test_summary_shows_text_against_table(sample_db):
    res = runner.invoke(app, ["summary", "004", "--db", str(sample_db), "--lang", "en"])
    assert res.exit_code == 0, res.output
    part = res.stdout[res.stdout.index("text vs. table"):res.stdout.index("flagged for review below 0.7")]
    assert all(x in part for x in ("handled", "5件", "conflict", "applications.total_handl"))
    d = json.loads(runner.invoke(app, ["summary", "004", "--db", str(sample_db), "--format", "json"]).stdout)
    assert [(c["metric"], c["text_value"], c["table_value"], c["status"]) for c in d["conflicts"]] == [
        ("handled", 5, 0, "conflict")]
    assert d["review_threshold"] == 0.7
