"""datasette.yaml: the metadata names what the migrations create, and every canned query answers
the README's questions on the samples — run by SQLite directly, and through Datasette itself
when it is installed (pip install '.[datasette]'; those tests skip without it)."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT, copy_db
from gkextract.store import open_db

METADATA = yaml.safe_load((ROOT / "datasette.yaml").read_text(encoding="utf-8"))
GK = METADATA["databases"]["gk"]
PARAMS: dict[str, dict[str, str]] = {
    "category_by_province": {"category": "policy_interpretation", "level": "county", "year": ""},
    "search_problems": {"q": "新媒体"},
    "search_like": {"q": "解读"},
}
GUANLING, SUIPING = "关岭自治县人民政府", "遂平县人民政府"
EXPECTED: dict[str, list[tuple[Any, ...]]] = {   # the samples' answers, first columns of each row
    "category_by_province": [("河南省", 1, 1), ("贵州省", 1, 1)],
    "search_problems": [("保定市竞秀区人民政府", 2019, "河北省", "platforms")],
    "search_like": [("problem", SUIPING, 2020), ("improvement", GUANLING, 2019), ("problem", GUANLING, 2019)],
    "failed_balance": [("盐池县政府办公室", 2019, "宁夏回族自治区", 2, 0), (GUANLING, 2019, "贵州省", 5, 0)],
    "text_against_table": [(SUIPING, 2020, "handled", 17, "applications.total_handled.total", 21),
                           (GUANLING, 2019, "handled", 5, "applications.total_handled.total", 0)],
    "applications_received": [("宁夏回族自治区", "盐池县", 2019, 2, "ok"), ("山西省", "保德县", 2019, 0, "ok"),
                              ("河北省", "竞秀区", 2019, 5, "ok"), ("河南省", "遂平县", 2020, None, "misaligned"),
                              ("贵州省", "关岭布依族苗族自治县", 2019, 5, "ok")],
    "review_queue": [("fact", 66, SUIPING, 2020, 0.65), ("fact", 91, GUANLING, 2019, 0.65)],
}


def run_sql(db: Path, sql: str, params: dict[str, str]) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as con:
        return con.execute(sql, params).fetchall()


def test_metadata_describes_every_table_and_view_the_migrations_create(tmp_path: Path) -> None:
    """A name in the metadata that no migration creates is a typo; a table without a description
    is one a migration added since (add it to datasette.yaml)."""
    db = open_db(tmp_path / "fresh.db")
    created = {r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' "
        "AND name NOT LIKE '%\\_fts%' ESCAPE '\\'")}
    db.close()
    assert set(GK["tables"]) - created == set()
    assert created - set(GK["tables"]) == set(), "add these to datasette.yaml"
    assert all(t.get("description") for t in GK["tables"].values())
    fts = {name: t["fts_table"] for name, t in GK["tables"].items() if "fts_table" in t}
    assert fts == {"problems": "problems_fts", "improvements": "improvements_fts",
                   "problems_reviewed": "problems_fts", "improvements_reviewed": "improvements_fts",
                   "problems_by_region": "problems_fts", "improvements_by_region": "improvements_fts"}
    assert METADATA["databases"]["gkextract"] == GK   # `make run` writes out/gkextract.db


def test_canned_queries_answer_the_readme_questions(sample_db: Path) -> None:
    assert set(GK["queries"]) == set(EXPECTED)
    for name, query in GK["queries"].items():
        rows = run_sql(sample_db, query["sql"], PARAMS.get(name, {}))
        assert [r[:len(EXPECTED[name][0])] for r in rows] == EXPECTED[name], name
    by_year = run_sql(sample_db, GK["queries"]["category_by_province"]["sql"],
                      {"category": "policy_interpretation", "level": "", "year": "2019"})
    assert by_year == [("贵州省", 1, 1)]   # empty level: any level; year given as text, as Datasette sends it


def test_short_chinese_searches_need_the_like_recipe(sample_db: Path) -> None:
    """Trigrams cannot match 1–2 characters: the README says to use search_like for those."""
    fts = GK["queries"]["search_problems"]["sql"]
    assert run_sql(sample_db, fts, {"q": "解读"}) == []
    assert len(run_sql(sample_db, fts, {"q": "政策解读"})) == 2
    assert len(run_sql(sample_db, GK["queries"]["search_like"]["sql"], {"q": "解读"})) == 3


@pytest.fixture(scope="module")
def datasette_db(sample_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("datasette", reason="datasette is not installed: pip install '.[datasette]'")
    return copy_db(sample_db, tmp_path_factory.mktemp("datasette") / "gk.db")   # named gk: the metadata's key


def _get_all(db: Path, paths: list[str]) -> list[tuple[int, Any]]:
    """GET each path from a Datasette serving ``db`` with datasette.yaml, as `datasette gk.db -m datasette.yaml`."""
    from datasette.app import Datasette

    async def fetch() -> list[tuple[int, Any]]:
        ds = Datasette([str(db)], metadata=METADATA)
        await ds.invoke_startup()
        out = []
        for path in paths:
            res = await ds.client.get(path)
            out.append((res.status_code, res.json() if ".json" in path else res.text))
        return out

    return asyncio.run(fetch())


def test_datasette_runs_every_canned_query(datasette_db: Path) -> None:
    names = list(GK["queries"])
    paths = [f"/gk/{n}.json?_shape=arrays&" + "&".join(f"{k}={v}" for k, v in PARAMS.get(n, {}).items())
             for n in names]
    for name, (status, body) in zip(names, _get_all(datasette_db, paths)):
        assert status == 200, (name, body)
        assert [tuple(r) for r in body["rows"]] == run_sql(datasette_db, GK["queries"][name]["sql"],
                                                           PARAMS.get(name, {})), name
        assert [tuple(r[:len(EXPECTED[name][0])]) for r in body["rows"]] == EXPECTED[name], name


def test_datasette_search_and_descriptions(datasette_db: Path) -> None:
    (three, two, like, page, canned) = _get_all(datasette_db, [
        "/gk/problems_by_region.json?_search=新媒体&_shape=array",
        "/gk/problems_by_region.json?_search=解读&_shape=array",
        "/gk/search_like.json?q=解读&_shape=array",
        "/gk/problems_by_region",
        "/gk/search_like"])
    assert three[0] == 200 and [r["issuer"] for r in three[1]] == ["保定市竞秀区人民政府"]
    assert two == (200, [])   # a 2-character search finds nothing through the trigram index …
    assert len(like[1]) == 3  # … and the like recipe finds it
    assert 'name="_search"' in page[1] and "Reviewed problems with their report&#39;s province" in page[1]
    assert "For searches the trigram index cannot answer" in canned[1]
