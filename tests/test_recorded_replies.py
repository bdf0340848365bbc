"""Genuine replies: the five samples as Qwen2.5-Coder-1.5B answered them, replayed offline.

The replies in fixtures/llm/responses marked ``"source": "recorded"`` were recorded
from the real model through ``gkextract run --local-model`` (README, "A real model,
locally").  Replayed through the real pipeline they show what grounding does with a
weak model's output: the invented overview figures (every ``administrative`` metric
listed with 0 or 1, quotes that are empty or hold another number) are all flagged, and
so are 004's improvements, every one of which quotes the problems paragraph.

The scores and flags below are the pipeline's output for these recorded replies: if
grounding changes, they change, and the new values must be read and justified.
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import LLM_FIXTURES, ROOT, copy_db, report_ids
from gkextract.cli import app
from gkextract.llm import LLMSettings, Mode
from gkextract.narrative import extract_reports
from gkextract.store import open_db

QWEN = "qwen2.5-coder-1.5b-instruct-q4_k_m"
SERVER_PARAMS = {"threads": 1, "ctx_size": 16384, "slots": 1, "repeat_penalty": 1.1, "seed": 42}


def recorded() -> list[dict]:
    replies = [json.loads(p.read_text(encoding="utf-8")) for p in (LLM_FIXTURES / "responses").glob("*.json")]
    return [r for r in replies if r["source"] == "recorded"]


@pytest.fixture(scope="module")
def qwen_db(ingested_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The samples extracted in replay mode from the recorded replies, one report at a time."""
    path = copy_db(ingested_db, tmp_path_factory.mktemp("qwen") / "gk.db")
    db = open_db(path)
    settings = LLMSettings(model=QWEN, mode=Mode.replay, cache_dir=LLM_FIXTURES)
    for _, rid in sorted(report_ids(db).items()):
        assert extract_reports(db, settings, report_ids=[rid]).failures == []
    db.close()
    return path


def rows(path: Path, sql: str, *args: object) -> list[tuple]:
    with closing(sqlite3.connect(path)) as con:
        return con.execute(sql, args).fetchall()


def test_recorded_replies_say_what_produced_them() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from get_test_model import FILE_NAME, SHA256

    replies = recorded()
    sections: dict[str, set[str]] = {}
    for r in replies:
        _, report, _, section = r["context"].split()
        sections.setdefault(report, set()).add(section)
    assert len(replies) == sum(map(len, sections.values()))         # one reply per section
    assert sum(s == {"overview", "problems"} for s in sections.values()) >= 10
    for r in replies:
        prov = r["provenance"]
        assert r["request"]["model"] == QWEN and r["request"]["params"] == {"max_tokens": 4096, "temperature": 0.0}
        assert (prov["model_file"], prov["model_sha256"], prov["model_bytes"]) == (FILE_NAME, SHA256, 1_117_320_768)
        assert prov["quantisation"] == "Q4_K_M" and prov["server_params"] == SERVER_PARAMS
        assert prov["runtime"].startswith("xllamacpp ") and re.fullmatch(r"\d{4}-\d\d-\d\d", prov["recorded_on"])
        assert r["response"]["choices"][0]["finish_reason"] == "stop"
        assert r["response"]["usage"]["completion_tokens"] > 0
        assert "authorization" not in json.dumps(r).lower() and "imitates_model" not in r


def test_genuine_replies_replay_through_the_pipeline(qwen_db: Path) -> None:
    below = "score < 0.7"
    assert [rows(qwen_db, f"SELECT count(*), sum({below}) FROM {t}")[0]
            for t in ("facts", "problems", "improvements")] == [(66, 64), (13, 0), (16, 7)]
    # every quote the report does not contain is flagged, whatever else is said of it
    assert rows(qwen_db, f"SELECT count(*) FROM facts WHERE match = 'none' AND NOT {below}") == [(0,)]
    assert rows(qwen_db, "SELECT count(*) FROM facts WHERE match = 'none'") == [(27,)]


def test_004_invented_figures_and_misplaced_improvements_are_all_flagged(qwen_db: Path) -> None:
    rid = report_ids(open_db(qwen_db))["004"]
    facts = rows(qwen_db, "SELECT kind, metric, value, match, round(score, 3), flags FROM facts "
                          "WHERE report_id = ? ORDER BY id", rid)
    platform_quote = [f for f in facts if f[0] in ("platform", "disclosure")]
    assert [f[1] for f in platform_quote] == ["accounts", "items", "followers", "columns", "issues", "other", "items"]
    assert {f[2:] for f in platform_quote} == {(1, "exact", 0.5, '["number_not_in_quote"]')}
    administrative = {f[1]: f[2:] for f in facts if f[0] == "administrative"}
    assert len(administrative) == 8
    assert administrative["normative_issued"] == (1, "exact", 0.15, '["number_not_in_quote", "conflicts_with_table"]')
    assert administrative["fees"] == (1, "exact", 0.5, '["number_not_in_quote"]')
    improvements = rows(qwen_db, "SELECT category, match, round(score, 3), flags, problem_id FROM improvements "
                                 "WHERE report_id = ? ORDER BY id", rid)
    assert len(improvements) == 7
    # every improvement quotes the problems paragraph (some with ‘’ for “”, so folded, not fuzzy): all flagged
    assert [m for _, m, _, _, _ in improvements] == ["fuzzy", "normalized", "normalized", "fuzzy", "fuzzy",
                                                     "fuzzy", "fuzzy"]
    for category, match, score, flags, problem in improvements:
        assert score < 0.3 and problem is None
        assert {"improvement_in_problems_part", "same_quote_as_other_kind"} <= set(json.loads(flags))
    # the problems themselves quote their own part: the improvements borrowed those quotes, not they
    problems = rows(qwen_db, "SELECT category, round(score, 3), flags FROM problems WHERE report_id = ? ORDER BY id", rid)
    assert problems == [("staffing_capacity", 0.728, '["quote_fuzzy"]'),
                        ("policy_interpretation", 0.95, '["quote_normalized"]'),
                        ("supervision", 0.95, '["quote_normalized"]')]


def test_003_right_figure_passes_and_wrong_metric_is_caught(qwen_db: Path) -> None:
    rid = report_ids(open_db(qwen_db))["003"]
    facts = rows(qwen_db, "SELECT kind, metric, value, match, round(score, 3), flags, evidence FROM facts "
                          "WHERE report_id = ? ORDER BY id", rid)
    assert ("disclosure", "items", 6264, "exact", 1.0, "[]", "2020年,县政府本级主动公开政府信息6264条") in facts
    # "公开政府信息4014条" is a count of items, not of accounts: the unit gives it away
    wrong_metric = [f[2:6] for f in facts if f[0] == "platform"]
    # ... and the model called all four "portal": the 微博 and 微信 counts are another platform's numbers
    assert wrong_metric == [(4014, "exact", 0.6, '["unit_mismatch"]'),
                            (1598, "exact", 0.2, '["number_bound_elsewhere", "unit_mismatch"]'),
                            (449, "exact", 0.2, '["number_bound_elsewhere", "unit_mismatch"]'),
                            (203, "exact", 0.6, '["unit_mismatch"]')]
    enumerated = [f for f in facts if f[0] in ("administrative", "supervision")]
    assert len(enumerated) == 11 and {(f[2], f[3], f[4], f[6]) for f in enumerated} == {(0, "none", 0.0, "")}


def test_cli_replays_a_local_model_run_offline(tmp_path: Path) -> None:
    """`--local-model X.gguf --mode replay` needs no server and no model file content: its name picks the replies."""
    model = tmp_path / f"{QWEN}.gguf"
    model.touch()
    result = CliRunner().invoke(app, ["run", str(ROOT / "fixtures/reports/004_0e1c1bc522329e1b.txt"), "--db",
                                      str(tmp_path / "gk.db"), "--local-model", str(model), "--mode", "replay",
                                      "--fixtures", str(LLM_FIXTURES), "--format", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)["extract"]   # one document: {"ingest": [...], "extract": {...}}
    assert (summary["cache_hits"], summary["calls"], summary["facts"], summary["problems"], summary["improvements"],
            summary["flagged"]) == (2, 0, 15, 3, 7, 22)
