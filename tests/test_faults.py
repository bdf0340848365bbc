"""Fault injection through the real client path: a fake OpenAI-compatible server on 127.0.0.1.

Every test sends real HTTP over a socket (httpx pool, timeouts, the caching
transport) and checks what lands in the database: the section's status, the
raw body kept, how many requests the server saw, and that the rest of the
batch went on.
"""

import json
import threading
import time

import pytest

from gkextract import narrative
from gkextract.ingest import ingest_paths, report_id
from gkextract.llm import LLMSettings, Mode, ReplyStore, request_key
from gkextract.narrative import extract_reports, split_text
from gkextract.store import open_db

from fake_server import ANSWERS, FakeServer, Hang, Reply, Reset, completion
from samples import SAMPLES, text

RID = report_id(text("000"))
OTHER = report_id(text("002"))
TARGET = f"report {RID} section overview"
KEY = "sk-test-fault-0123456789abcdef"


@pytest.fixture
def db(tmp_path):
    d = open_db(tmp_path / "gk.db")
    ingest_paths(d, [SAMPLES["000"], SAMPLES["002"]])
    return d


def settings(tmp_path, server, **kw):
    base = dict(mode=Mode.live, cache_dir=tmp_path / "cache", api_key=KEY, base_url=server.url, max_wait=0.01,
                max_retries=2, concurrency=4)
    base.update(kw)
    return LLMSettings(**base)


def row(db, rid=RID, section="overview"):
    r = db.execute("SELECT status, error, raw_reply, calls, retries, reasks FROM extractions "
                   "WHERE report_id = ? AND section = ?", [rid, section]).fetchone()
    return dict(zip(("status", "error", "raw_reply", "calls", "retries", "reasks"), r))


def faulty(action, times=None):
    """A script: ``action`` for the target section (its first ``times`` requests, or always)."""
    def script(request):
        if request.context == TARGET and (times is None or request.attempt <= times):
            return action
        return None
    return script


def cached_contexts(tmp_path):
    return sorted(json.loads(p.read_text(encoding="utf-8"))["context"]
                  for p in (tmp_path / "cache" / "responses").glob("*.json"))


HTML = "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"
MALFORMED_200 = {
    "empty_choices": (Reply(body={**completion("{}"), "choices": []}), "no choices"),
    "error_object": (Reply(body={"error": {"message": "upstream overloaded", "type": "server_error"}}),
                     "error object: upstream overloaded"),
    "html_page": (Reply(body=HTML, content_type="text/html"), "an HTML page"),
    "not_json": (Reply(body='{"choices": [', content_type="application/json"), "not JSON"),
    "message_missing": (Reply(body={"choices": [{"index": 0, "finish_reason": "stop"}]}), "no message"),
}


@pytest.mark.parametrize("fault", MALFORMED_200)
def test_a_malformed_200_is_retried_then_bad_response_and_the_batch_goes_on(db, tmp_path, fault):
    action, why = MALFORMED_200[fault]
    with FakeServer(faulty(action)) as server:
        s = extract_reports(db, settings(tmp_path, server))
    got = row(db)
    assert got["status"] == "bad_response" and why in got["error"]
    assert got["retries"] == 2 and len(server.requests_for(TARGET)) == 3      # max_retries=2: three requests
    assert got["raw_reply"] == (action.body if isinstance(action.body, str)
                                else json.dumps(action.body, ensure_ascii=False))
    assert [(f["report_id"], f["section"], f["status"]) for f in s.failures] == [(RID, "overview", "bad_response")]
    assert s.saved == 3 and {row(db, RID, "problems")["status"], row(db, OTHER)["status"]} == {"ok"}
    assert TARGET not in " ".join(cached_contexts(tmp_path))                  # never cached
    assert len(cached_contexts(tmp_path)) == 3

    with FakeServer() as good:                                                # a rerun repairs it
        again = extract_reports(db, settings(tmp_path, good))
    assert (again.sections, again.failures, len(good.log)) == (1, [], 1)
    assert row(db)["status"] == "ok"


def test_a_malformed_200_then_a_good_one_is_ok_within_the_same_bound(db, tmp_path):
    with FakeServer(faulty(MALFORMED_200["empty_choices"][0], times=2)) as server:
        s = extract_reports(db, settings(tmp_path, server), report_ids=[RID])
    assert row(db)["status"] == "ok" and row(db)["retries"] == 2 and s.failures == []
    assert [r.action for r in server.requests_for(TARGET)] == ["reply"] * 3


def test_the_raw_body_is_clipped_and_its_secrets_redacted(db, tmp_path):
    body = f"<html>Authorization: Bearer {KEY} {'x' * 5000}</html>"
    with FakeServer(faulty(Reply(body=body, content_type="text/html"))) as server:
        extract_reports(db, settings(tmp_path, server, max_retries=0), report_ids=[RID])
    raw = row(db)["raw_reply"]
    assert KEY not in raw and "Bearer [redacted]" in raw
    assert len(raw) < 2100 and raw.endswith("more characters]")


def test_schema_invalid_replies_are_reasked_never_cached_and_repaired_by_a_rerun(db, tmp_path):
    invalid = Reply(body=completion(json.dumps({"platforms": "none"})))
    with FakeServer(faulty(invalid)) as server:
        s = extract_reports(db, settings(tmp_path, server), report_ids=[RID])
    got = row(db)
    assert (got["status"], got["reasks"], len(server.requests_for(TARGET))) == ("invalid", 2, 3)
    assert [f["status"] for f in s.failures] == ["invalid"]
    assert cached_contexts(tmp_path) == [f"report {RID} section problems"]
    with FakeServer() as good:
        again = extract_reports(db, settings(tmp_path, good), report_ids=[RID])
    assert (again.failures, again.calls, row(db)["status"]) == ([], 1, "ok")


def test_a_saved_reply_that_does_not_validate_is_dropped_and_asked_again(db, tmp_path):
    with FakeServer() as server:
        extract_reports(db, settings(tmp_path, server), report_ids=[RID])
    (saved,) = [p for p in (tmp_path / "cache" / "responses").glob("*.json") if TARGET in p.read_text("utf-8")]
    record = json.loads(saved.read_text("utf-8"))
    record["response"]["choices"][0]["message"]["content"] = '{"platforms": 3}'   # written by an older version
    saved.write_text(json.dumps(record), encoding="utf-8")
    fresh = open_db(tmp_path / "fresh.db")
    ingest_paths(fresh, [SAMPLES["000"]])
    with FakeServer() as server:
        s = extract_reports(fresh, settings(tmp_path, server))
    assert (s.failures, s.cache_hits, s.calls, s.reasks) == ([], 2, 1, 0)   # the problems hit, the bad one dropped
    assert [r.context for r in server.log] == [TARGET]
    assert json.loads(saved.read_text("utf-8"))["response"]["choices"][0]["message"]["content"].startswith('{"platforms": [')


@pytest.mark.parametrize("action, status, requests", [
    (Reply(status=429, body={"error": {"message": "slow down"}}, headers={"retry-after": "0"}), "error", 3),
    (Reply(status=503, body={"error": {"message": "unavailable"}}), "error", 3),
    (Reset(), "error", 3),
    (Reply(body=completion(None, refusal="I can't help with that.")), "refused", 1),
    (Reply(body=completion('{"platforms": [', finish_reason="length")), "truncated", 1),
    (Reply(body=completion("", finish_reason="content_filter")), "content_filter", 1),
])
def test_each_fault_becomes_that_sections_status(db, tmp_path, action, status, requests):
    with FakeServer(faulty(action)) as server:
        s = extract_reports(db, settings(tmp_path, server))
    assert row(db)["status"] == status and len(server.requests_for(TARGET)) == requests
    assert s.saved == 3 and len(s.failures) == 1


def test_a_transient_reset_is_retried(db, tmp_path):
    with FakeServer(faulty(Reset(), times=1)) as server:
        s = extract_reports(db, settings(tmp_path, server), report_ids=[RID])
    assert s.failures == [] and row(db)["retries"] == 1 and len(server.requests_for(TARGET)) == 2


def test_a_hanging_server_costs_the_deadline_not_retries_times_timeout(db, tmp_path):
    with FakeServer(faulty(Hang())) as server:
        started = time.monotonic()
        s = extract_reports(db, settings(tmp_path, server, timeout=0.4, section_deadline=1.0, max_retries=6),
                            report_ids=[RID])
        elapsed = time.monotonic() - started
    got = row(db)
    assert got["status"] == "timeout" and "deadline of 1 s" in got["error"]
    assert elapsed < 2.5                                   # not 7 × 0.4 s, let alone 7 × 120 s
    assert 2 <= len(server.requests_for(TARGET)) <= 3
    assert [f["status"] for f in s.failures] == ["timeout"] and row(db, RID, "problems")["status"] == "ok"


def test_the_key_echoed_by_the_server_is_never_stored(db, tmp_path):
    echo = Reply(status=401, body={"error": {"message": f"Incorrect API key provided: {KEY}. "
                                                        f"Header was 'Authorization: Bearer {KEY}'"}})
    with FakeServer(lambda r: echo) as server:
        s = extract_reports(db, settings(tmp_path, server), report_ids=[RID])
    errors = [f["error"] for f in s.failures]
    assert len(errors) == 2 and all("AuthenticationError" in e and "[redacted]" in e for e in errors)
    stored = " ".join(r[0] for r in db.execute("SELECT error FROM extractions"))
    assert KEY not in stored and KEY[3:15] not in stored


def test_one_sections_crash_does_not_stop_the_others(db, tmp_path, monkeypatch):
    real = narrative.ground

    def broken(parsed, ctx, reasks):
        if ctx.text == text("000") and type(parsed).__name__ == "ProblemsFacts":
            raise ZeroDivisionError("a grounding bug")
        return real(parsed, ctx, reasks)

    monkeypatch.setattr(narrative, "ground", broken)
    with FakeServer() as server:
        s = extract_reports(db, settings(tmp_path, server))
    assert row(db, RID, "problems")["status"] == "error"
    assert "internal error: ZeroDivisionError: a grounding bug" in row(db, RID, "problems")["error"]
    assert [row(db, r, k)["status"] for r, k in ((RID, "overview"), (OTHER, "overview"), (OTHER, "problems"))] \
        == ["ok"] * 3
    assert s.saved == 3 and len(server.log) == 4


def test_a_long_section_is_split_at_paragraphs_and_merged_with_spans_into_the_original(db, tmp_path):
    answer = json.loads((ANSWERS / "000_93a7fea9e9928630.problems.json").read_text("utf-8"))["answer"]

    def per_part(request):          # answer each part with the items quoted from it
        part = request.body["messages"][-1]["content"].split("<report_text>\n")[1]
        return Reply(body=completion(json.dumps(
            {k: [i for i in answer[k] if i["evidence"] in part] for k in ("problems", "improvements")},
            ensure_ascii=False)))

    problems = f"report {RID} section problems"
    with FakeServer(lambda r: per_part(r) if r.context.startswith(problems) else None) as server:
        s = extract_reports(db, settings(tmp_path, server, max_section_chars=200), report_ids=[RID])
    assert s.failures == []
    parts = [r for r in server.log if r.context.startswith(problems)]
    assert [r.context for r in parts] == [f"{problems} part {i}/3" for i in (1, 2, 3)]
    assert all(len(r.body["messages"][-1]["content"].split("<report_text>\n")[1]) <= 200 + 20 for r in parts)
    report_text = text("000")
    stored = db.execute("SELECT evidence, span_start, span_end, match FROM problems UNION ALL "
                        "SELECT evidence, span_start, span_end, match FROM improvements").fetchall()
    assert len(stored) == len(answer["problems"]) + len(answer["improvements"])   # no quote was cut
    for evidence, start, end, match in stored:
        assert match == "exact" and report_text[start:end] == evidence
    assert json.loads(row(db, RID, "problems")["raw_reply"])["parts"][0].startswith('{"problems"')


def test_split_text_loses_nothing_and_respects_the_limit():
    t = "第一段。" * 30 + "\n" + "第二段很长没有换行。" * 40 + "\n短\n"
    parts = split_text(t, 100)
    assert "".join(parts) == t and all(len(p) <= 100 for p in parts)
    assert parts[0].endswith("\n") is False and parts[0].endswith("。")
    assert split_text("short", 100) == ["short"]


def test_a_section_needing_too_many_requests_sends_none(db, tmp_path):
    with FakeServer() as server:
        s = extract_reports(db, settings(tmp_path, server, max_section_chars=100, max_section_parts=2),
                            report_ids=[RID])
    assert {f["status"] for f in s.failures} == {"too_large"} and len(server.log) == 0
    assert "max_section_parts = 2" in row(db)["error"]


def test_refresh_asks_again_for_the_selected_reports_only(db, tmp_path):
    with FakeServer() as server:
        extract_reports(db, settings(tmp_path, server))
    first = db.execute("SELECT count(*) FROM problems").fetchone()[0]
    with FakeServer() as server:
        s = extract_reports(db, settings(tmp_path, server), report_ids=[RID], refresh=True)
    assert sorted(r.context for r in server.log) == [TARGET, f"report {RID} section problems"]
    assert (s.sections, s.calls, s.cache_hits) == (2, 2, 0)
    assert db.execute("SELECT count(*) FROM extractions").fetchone()[0] == 4       # replaced, not doubled
    assert db.execute("SELECT count(*) FROM problems").fetchone()[0] == first
    with pytest.raises(ValueError, match="--refresh"):
        extract_reports(db, LLMSettings(mode=Mode.replay), refresh=True)


def test_cache_files_are_written_atomically_under_unique_names(tmp_path):
    store = ReplyStore(tmp_path)
    key = request_key({"model": "m"})
    errors = []

    def put(i):
        try:
            for _ in range(20):
                store.put(key, {"model": "m"}, f"writer {i}", completion("{}"))
        except Exception as e:  # the old shared "<key>.tmp" raised FileNotFoundError here
            errors.append(e)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [p.name for p in (tmp_path / "responses").iterdir()] == [f"{key}.json"]
    assert store.get(key) == completion("{}")
    (tmp_path / "responses" / f"{key}.json").write_text('{"response": {"choi', encoding="utf-8")
    assert store.get(key) is None                                   # a damaged file is a miss, not a crash
