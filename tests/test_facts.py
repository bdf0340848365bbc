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


def test_training_in_2019_by_county_governments_in_shanxi(sample_db):
    rows = run("--kind", "training", "--province", "山西", "--year", "2019", "--level", "county", db=sample_db)
    assert len(rows) == 1
    (t,) = rows
    assert (t["issuer"], t["metric"], t["label"], t["value"]) == ("保德县人民政府", "sessions", "政务公开业务培训", None)
    assert t["attributes"] == {"status": "planned", "audience": "全县政务公开工作人员"}


def test_kind_and_metric_filters(sample_db):
    ningxia = run("--kind", "training", "--province", "宁夏回族自治区", db=sample_db)
    assert [(r["metric"], r["value"], r["unit"], r["approximate"]) for r in ningxia] == [
        ("sessions", 1, "期", 0), ("sessions", 2, "期", 0), ("participants", 1000, "人次", 1)]
    received = run("--kind", "application", "--metric", "received", db=sample_db)
    assert sorted(r["value"] for r in received) == [0, 2, 5, 5, 18]
    assert {r["issuer"] for r in run("--issuer", "竞秀", db=sample_db)} == {"保定市竞秀区人民政府"}


def test_search_over_label_and_evidence(sample_db):
    weibo = run("--search", "微博", db=sample_db)
    assert sorted(r["value"] for r in weibo) == [116, 490, 1598, 3951]
    assert [r["value"] for r in run("--search", "保德发布", db=sample_db)] == [3951]


def test_stats_per_level(sample_db):
    rows = run("--kind", "platform", "--metric", "items", "--by", "level", "--stats", db=sample_db)
    # county: 3951 (保德), 1598 (遂平), 4440, 116, 490 (关岭); department: 1900 (盐池)
    assert rows == [
        {"level": "county", "kind": "platform", "metric": "items", "unit": "条", "facts": 5, "reports": 3,
         "min": 116, "median": 1598, "max": 4440},
        {"level": "department", "kind": "platform", "metric": "items", "unit": "条", "facts": 1, "reports": 1,
         "min": 1900, "median": 1900, "max": 1900},
    ]


def test_median_new_media_accounts_per_county(sample_db):
    rows = run("--kind", "platform", "--metric", "accounts", "--by", "county", "--stats", db=sample_db)
    assert [(r["county"], r["facts"], r["median"], r["unit"]) for r in rows] == [("遂平县", 1, 5, "个")]


def test_stats_without_by_split_by_kind_metric_unit(sample_db):
    rows = {(r["kind"], r["metric"], r["unit"]): r for r in run("--stats", db=sample_db)}
    received = rows["application", "received", "件"]
    assert (received["facts"], received["min"], received["median"], received["max"]) == (5, 0, 5, 18)
    # 期 and 次 are kept apart; the planned training has no value and is not counted
    assert rows["training", "sessions", "期"]["facts"] == 2
    assert rows["training", "sessions", "次"]["facts"] == 1
    assert ("training", "sessions", None) not in rows


def test_by_province_counts_reports_stating_training(sample_db):
    rows = {r["province"]: (r["reports"], r["reports_in_group"], r["share"], r["items"])
            for r in run("--kind", "training", "--by", "province", db=sample_db)}
    assert rows == {"宁夏回族自治区": (1, 1, 1.0, 3), "贵州省": (1, 1, 1.0, 2), "山西省": (1, 1, 1.0, 1),
                    "河北省": (0, 1, 0.0, 0), "河南省": (0, 1, 0.0, 0)}


def test_csv(sample_db):
    res = runner.invoke(app, ["facts", "--county", "遂平县", "--db", str(sample_db), "--format", "csv"])
    assert res.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [(r["kind"], r["metric"], r["value"]) for r in rows] == [
        ("disclosure", "items", "6264"), ("platform", "accounts", "5"), ("platform", "items", "1598"),
        ("application", "received", "18"), ("application", "handled", "17")]
    assert json.loads(rows[1]["attributes"]) == {"type": "new_media"}


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
