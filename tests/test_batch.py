"""The Batch API round trip against a fake Files and Batches API on 127.0.0.1 (tests/fake_batch_api.py).

Submit writes one line per section with the online path's request body (so its
keys are the saved replies' keys), uploads it, creates a 24h batch and records
every id at once; collect maps shuffled results by custom_id, checks them like
the online path, stores what passed and leaves the rest for `extract`.  A crash
between the API's answer and the database is resumed without a second upload or
a second batch.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gkextract import batch
from gkextract.ingest import ingest_paths
from gkextract.llm import LLMSettings, Mode, ReplyStore
from gkextract.narrative import extract_reports
from gkextract.pricing import DEFAULT_PRICES, cost_rows
from gkextract.store import open_db

from conftest import LLM_FIXTURES
from fake_batch_api import FakeBatchAPI
from fake_server import FakeServer
from samples import REPORTS

KEY = "sk-test-batch-0123456789abcdef"


@pytest.fixture
def db(tmp_path):
    d = open_db(tmp_path / "gk.db")
    ingest_paths(d, [REPORTS])
    return d


def settings(tmp_path: Path, api: FakeBatchAPI | FakeServer, **kw) -> LLMSettings:
    return LLMSettings(**{"mode": Mode.live, "cache_dir": tmp_path / "cache", "api_key": KEY, "base_url": api.url,
                          "max_wait": 0.01, **kw})


def rows(db, sql, *args):
    return db.execute(sql, list(args)).fetchall()


def section_of(db, custom_id):
    return rows(db, "SELECT report_id, section FROM batch_requests WHERE custom_id = ?", custom_id)[0]


def test_submit_writes_the_online_requests_uploads_and_records_every_id(db, tmp_path):
    with FakeBatchAPI() as api:
        s = settings(tmp_path, api)
        summary = batch.submit(db, s, tmp_path / "out", batch.make_api(s))
    assert (summary.sections, summary.requests, summary.in_batches) == (10, 10, 0)
    (b,) = summary.batches
    assert (b["status"], b["lines"], b["batch_id"]) == ("validating", 10, "batch_1")
    assert rows(db, "SELECT input_file_id, batch_id FROM batches") == [("file-1", "batch_1")]
    assert api.files["file-1"]["purpose"] == "batch" and api.batches["batch_1"]["completion_window"] == "24h"
    lines = [json.loads(x) for x in api.contents["file-1"].decode().splitlines()]
    assert all(len(x["custom_id"]) <= 64 and x["url"] == "/v1/chat/completions" and x["method"] == "POST"
               for x in lines)
    assert len({x["custom_id"] for x in lines}) == 10
    # The same request as the online path: every line's key is the key of the saved (hand-written) reply
    # of that report and section, so batch replies and the cache are interchangeable.
    saved = ReplyStore(LLM_FIXTURES)
    keys = [k for (k,) in rows(db, "SELECT request_key FROM batch_requests")]
    assert all(saved.get(k) is not None for k in keys)
    first = lines[0]["body"]
    assert first["messages"][0]["role"] == "system" and first["response_format"]["type"] == "json_schema"


def test_round_trip_with_shuffled_results_one_error_and_one_expired(db, tmp_path):
    fail = {}

    def outcome(cid: str, n: int) -> str:
        what = {2: "error", 7: "expired"}.get(n, "ok")
        if what != "ok":
            fail[cid] = what
        return what

    with FakeBatchAPI(outcome=outcome) as api:
        s = settings(tmp_path, api)
        client = batch.make_api(s)
        batch.submit(db, s, tmp_path / "out", client)
        seen: list[str] = []
        final = batch.wait(db, client, first=0.01, sleep=lambda _: None,
                           on_poll=lambda r: seen.append(r[0]["status"]))
        assert seen == ["validating", "in_progress", "finalizing", "completed"]
        assert (final[0]["completed"], final[0]["failed"], final[0]["total"]) == (8, 2, 10)
        done = batch.collect(db, s, client, store=ReplyStore(tmp_path / "cache"))
        served = dict(api.usage)

    failed = {section_of(db, cid): what for cid, what in fail.items()}
    assert done.saved == 8 and len(done.failures) == 2
    assert rows(db, "SELECT count(*), sum(mode = 'batch'), sum(status = 'ok') FROM extractions") == [(8, 8, 8)]
    stored = {(r, sec) for r, sec in rows(db, "SELECT report_id, section FROM extractions")}
    assert not stored & set(failed)
    assert sorted(rows(db, "SELECT status FROM batch_requests WHERE status != 'ok'")) == [("expired",), ("failed",)]
    assert {(r, s_): st for r, s_, st in rows(
        db, "SELECT report_id, section, status FROM batch_requests WHERE status != 'ok'")} == {
        k: {"error": "failed", "expired": "expired"}[v] for k, v in failed.items()}
    assert rows(db, "SELECT status FROM batches") == [("collected",)]

    # Shuffled lines mapped by custom_id: each stored section has exactly the facts the replay of the
    # same saved reply gives (the fixtures' hand-written answers).
    ref = open_db(tmp_path / "ref.db")
    ingest_paths(ref, [REPORTS])
    extract_reports(ref, LLMSettings(mode=Mode.replay, cache_dir=LLM_FIXTURES))
    per_section = ("SELECT report_id, section, count(*), sum(score) FROM facts GROUP BY report_id, section "
                   "UNION ALL SELECT report_id, 'problems', count(*), sum(score) FROM problems GROUP BY report_id")
    expected = [r for r in rows(ref, per_section) if (r[0], r[1]) not in failed]
    assert sorted(rows(db, per_section)) == sorted(expected)

    # Cost: exactly the tokens the fake API reported for the 8 replies, billed at the batch price.
    (row,) = cost_rows(db, DEFAULT_PRICES)
    ok = [u for cid, u in served.items() if cid not in fail]
    assert (row["channel"], row["calls"]) == ("batch", 8)
    assert row["prompt_tokens"] == sum(u.prompt_tokens for u in ok)
    assert row["cached_tokens"] == sum(u.cached_tokens for u in ok) > 0
    assert row["completion_tokens"] == sum(u.completion_tokens for u in ok)
    p = DEFAULT_PRICES["gpt-4o-mini"]
    money = sum(p.cost(u.prompt_tokens, u.cached_tokens, u.completion_tokens, batch=True) for u in ok)
    assert row["cost"] == pytest.approx(money, abs=1e-6)

    # The two left over go back to the online path; the eight are done and not asked again.
    with FakeServer() as server:
        online = extract_reports(db, settings(tmp_path, server))
    assert (online.sections, online.already_done, online.saved, online.calls) == (2, 8, 2, 2)
    assert sorted((r.context.split()[1], r.section) for r in server.log) == sorted(failed)
    assert sorted(rows(db, "SELECT mode, count(*) FROM extractions GROUP BY mode")) == [("batch", 8), ("live", 2)]


def test_batch_replies_serve_the_online_path_from_the_cache(db, tmp_path):
    """A section whose batch reply was saved costs nothing online: the keys are the same."""
    with FakeBatchAPI(outcome=lambda cid, n: "ok") as api:
        s = settings(tmp_path, api)
        client = batch.make_api(s)
        batch.submit(db, s, tmp_path / "out", client)
        batch.wait(db, client, first=0.01, sleep=lambda _: None)
        batch.collect(db, s, client)
    db.execute("DELETE FROM extractions")
    with FakeServer() as server:
        again = extract_reports(db, settings(tmp_path, server))
    assert (again.saved, again.calls, again.cache_hits, len(server.log)) == (10, 0, 10, 0)


def test_a_crash_after_each_api_call_resumes_without_uploading_or_submitting_twice(db, tmp_path):
    with FakeBatchAPI(drop={"upload", "create"}) as api:
        s = settings(tmp_path, api)
        client = batch.make_api(s)
        with pytest.raises(batch.BatchError, match="run `gkextract batch submit` again"):
            batch.submit(db, s, tmp_path / "out", client)     # the upload happened, its reply was lost
        assert rows(db, "SELECT status, input_file_id, batch_id FROM batches") == [("written", None, None)]
        steps: list[str] = []
        with pytest.raises(batch.BatchError):
            batch.submit(db, s, tmp_path / "out", client, on_step=steps.append)   # found the file; create lost
        assert steps == ["found gkextract-" + steps[0].split("gkextract-")[1]] and "uploaded before" in steps[0]
        assert rows(db, "SELECT status, input_file_id, batch_id FROM batches") == [("uploaded", "file-1", None)]
        third = batch.submit(db, s, tmp_path / "out", client, on_step=steps.append)
        assert "created before" in steps[-1]
        assert rows(db, "SELECT status, input_file_id, batch_id FROM batches") == [("validating", "file-1", "batch_1")]
        assert (api.uploads, api.creates, third.sections, third.in_batches) == (1, 1, 0, 10)
        # Resubmitting while the batch runs adds nothing: the sections are in an open batch.
        fourth = batch.submit(db, s, tmp_path / "out", client)
        assert (api.uploads, api.creates, fourth.sections, fourth.in_batches) == (1, 1, 0, 10)
        batch.wait(db, client, first=0.01, sleep=lambda _: None)
        done = batch.collect(db, s, client)
    assert done.saved == 10
    assert rows(db, "SELECT count(*) FROM extractions WHERE status = 'ok' AND mode = 'batch'") == [(10,)]


def test_a_crash_after_writing_the_files_resumes_with_the_same_file(db, tmp_path):
    with FakeBatchAPI() as api:
        s = settings(tmp_path, api)
        written = batch.write_batches(db, s, tmp_path / "out")         # then the process died
        assert written.requests == 10 and api.log == []
        name = rows(db, "SELECT file_name FROM batches")[0][0]
        resumed = batch.submit(db, s, tmp_path / "out", batch.make_api(s))
    assert resumed.sections == 0 and resumed.in_batches == 10
    assert api.files["file-1"]["filename"] == name and api.creates == 1
    assert api.contents["file-1"] == (tmp_path / "out" / name).read_bytes()


def test_an_invalid_reply_is_left_for_the_online_path_with_its_status(db, tmp_path):
    with FakeBatchAPI(outcome=lambda cid, n: "invalid" if n == 1 else "ok") as api:
        s = settings(tmp_path, api)
        client = batch.make_api(s)
        batch.submit(db, s, tmp_path / "out", client)
        batch.wait(db, client, first=0.01, sleep=lambda _: None)
        done = batch.collect(db, s, client)
    (bad,) = rows(db, "SELECT report_id, section, status, error FROM batch_requests WHERE status != 'ok'")
    assert bad[2] == "invalid" and "validation error" in bad[3]
    assert done.saved == 9 and done.failures[0]["status"] == "invalid"
    assert rows(db, "SELECT count(*) FROM extractions WHERE report_id = ? AND section = ?", *bad[:2]) == [(0,)]
    # what the invalid reply cost is counted all the same
    assert rows(db, "SELECT count(*), sum(prompt_tokens) FROM llm_calls WHERE report_id = ? AND section = ?",
                *bad[:2]) == [(1, 1000)]


def test_files_are_split_by_lines_and_a_section_stays_in_one_file(db, tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "MAX_LINES", 3)
    with FakeBatchAPI() as api:
        s = settings(tmp_path, api)
        batch.submit(db, s, tmp_path / "out", batch.make_api(s))
    assert [n for (n,) in rows(db, "SELECT lines FROM batches ORDER BY id")] == [3, 3, 3, 1]
    assert sorted(api.batches) == ["batch_1", "batch_2", "batch_3", "batch_4"]
    assert rows(db, "SELECT count(DISTINCT model) FROM batches") == [(1,)]


def test_the_budget_leaves_sections_out_of_the_batch(db, tmp_path):
    from gkextract.narrative import Budget, estimate_cost, pending_sections
    from gkextract.prompts import load_prompt
    price = DEFAULT_PRICES["gpt-4o-mini"]
    with FakeBatchAPI() as api:
        s = settings(tmp_path, api)
        prompts = {k: load_prompt(k) for k in ("overview", "problems")}
        todo, _ = pending_sections(db, s, prompts)
        estimates = [estimate_cost(price, s, prompts[k], db.execute(
            "SELECT text FROM sections WHERE report_id = ? AND kind = ?", [r, k]).fetchone()[0], batch=True)
            for r, k in todo]
        limit = sum(estimates[:3]) + estimates[3] / 2     # three sections fit, the fourth does not
        summary = batch.submit(db, s, tmp_path / "out", batch.make_api(s), budget=Budget(limit, price))
    assert (summary.sections, summary.refused_by_budget) == (3, 7)
    assert summary.estimated_cost == pytest.approx(sum(estimates[:3])) and summary.estimated_cost <= limit
    assert rows(db, "SELECT lines FROM batches") == [(3,)]


def test_sections_already_in_the_reply_store_are_not_paid_for_again(db, tmp_path):
    with FakeBatchAPI() as api:
        s = settings(tmp_path, api, cache_dir=LLM_FIXTURES)
        summary = batch.submit(db, s, tmp_path / "out", batch.make_api(s))
    assert (summary.sections, summary.cached) == (0, 10)
    assert api.log == []
    assert rows(db, "SELECT count(*) FROM batches") == [(0,)]
