"""The LLM client's unhappy paths: re-asks, refusals, truncation, 429/5xx, timeouts, replay misses."""


import httpx
import pytest

from gkextract.ingest import ingest_paths, report_id
from gkextract.llm import LLMSettings, Mode, load_settings, retry_after_seconds
from gkextract.narrative import extract_reports
from gkextract.store import open_db

from fake_openai import FLAWED, FakeOpenAI, answer, completion, ok
from samples import SAMPLES, text

STEM = "000_93a7fea9e9928630"


@pytest.fixture
def db(tmp_path):
    d = open_db(tmp_path / "gk.db")
    ingest_paths(d, [SAMPLES["000"], SAMPLES["002"]])
    return d


def settings(tmp_path, **kw):
    base = dict(mode=Mode.live, cache_dir=tmp_path / "cache", api_key="sk-test", max_wait=0.01)
    base.update(kw)
    return LLMSettings(**base)


def extraction(db, rid, section="overview"):
    return db.execute("SELECT status, error, calls, reasks, retries, raw_reply, prompt_tokens FROM extractions "
                      "WHERE report_id = ? AND section = ?", [rid, section]).fetchone()


def flawed(name):
    return (FLAWED / name).read_text(encoding="utf-8")


def test_malformed_json_is_reasked_with_the_error_then_succeeds(db, tmp_path):
    seen = []

    def reply(body, ctx):
        if ctx.endswith("problems"):
            return ok(answer(STEM, "problems"))
        seen.append(body["messages"])
        return ok(flawed("malformed.overview.txt") if len(seen) == 1 else answer(STEM, "overview"))

    s = extract_reports(db, settings(tmp_path), report_ids=[report_id(text("000"))], transport=FakeOpenAI(reply))
    assert s.failures == [] and s.reasks == 1
    status, error, calls, reasks, retries, raw, tokens = extraction(db, report_id(text("000")))
    assert (status, calls, reasks, tokens) == ("ok", 2, 1, 2000)
    reask = seen[1]
    assert [m["role"] for m in reask] == ["system", "user", "assistant", "user"]
    assert reask[2]["content"] == flawed("malformed.overview.txt")
    assert "没有通过校验" in reask[3]["content"] and "json" in reask[3]["content"].lower()
    flags = {r[0] for r in db.execute("SELECT flags FROM facts")}
    assert all("reasked" in f for f in flags)


def test_reasks_are_bounded(db, tmp_path):
    s = extract_reports(db, settings(tmp_path, max_reasks=2), report_ids=[report_id(text("000"))],
                        transport=FakeOpenAI(lambda b, c: ok(flawed("malformed.overview.txt"))))
    status, error, calls, reasks, *_ = extraction(db, report_id(text("000")))
    assert (status, calls, reasks) == ("invalid", 3, 2)
    assert "Invalid JSON" in error or "validation" in error.lower()
    assert len(s.failures) == 2


@pytest.mark.parametrize("response, status, raw", [
    (completion(None, refusal=flawed("refusal.txt")), "refused", flawed("refusal.txt")),
    (completion(flawed("truncated.overview.txt"), finish_reason="length"), "truncated",
     flawed("truncated.overview.txt")),
    (completion("", finish_reason="content_filter"), "content_filter", ""),
])
def test_refusal_truncation_and_filter_are_statuses_and_the_batch_goes_on(db, tmp_path, response, status, raw):
    target = report_id(text("000"))

    def reply(body, ctx):
        if ctx == f"report {target} section overview":
            return httpx.Response(200, json=response)
        stem = "000_93a7fea9e9928630" if target in ctx else "002_a08c52f4e01fde1f"
        return ok(answer(stem, ctx.split()[-1]))

    s = extract_reports(db, settings(tmp_path), transport=FakeOpenAI(reply))
    got = extraction(db, target)
    assert got[0] == status and got[5] == raw and got[2] == 1
    assert [f["status"] for f in s.failures] == [status]
    assert extraction(db, report_id(text("002")))[0] == "ok"   # the other report landed
    assert s.problems > 0


def test_429_then_200_is_retried_honouring_retry_after(db, tmp_path):
    hits = []

    def reply(body, ctx):
        hits.append(ctx)
        if len(hits) == 1:
            return httpx.Response(429, json={"error": {"message": "slow down"}}, headers={"retry-after": "0"})
        return ok(answer(STEM, ctx.split()[-1]))

    s = extract_reports(db, settings(tmp_path), report_ids=[report_id(text("000"))], transport=FakeOpenAI(reply))
    assert s.failures == [] and s.retries == 1
    assert sum(r[0] for r in db.execute("SELECT retries FROM extractions")) == 1


def test_persistent_500_fails_that_report_only(db, tmp_path):
    bad = report_id(text("000"))

    def reply(body, ctx):
        if bad in ctx:
            return httpx.Response(500, json={"error": {"message": "boom"}})
        return ok(answer("002_a08c52f4e01fde1f", ctx.split()[-1]))

    s = extract_reports(db, settings(tmp_path, max_retries=2), transport=FakeOpenAI(reply))
    assert sorted((f["report_id"], f["status"]) for f in s.failures) == [(bad, "error"), (bad, "error")]
    status, error, calls, reasks, retries, *_ = extraction(db, bad)
    assert (status, retries) == ("error", 2) and "InternalServerError" in error
    assert extraction(db, report_id(text("002")), "problems")[0] == "ok"
    # a re-run retries only what failed
    s2 = extract_reports(db, settings(tmp_path), transport=FakeOpenAI(lambda b, c: ok(answer(STEM, c.split()[-1]))))
    assert (s2.sections, s2.already_done, s2.failures) == (2, 2, [])


def test_timeout_is_retried_then_reported(db, tmp_path):
    def reply(body, ctx):
        raise httpx.ReadTimeout("timed out")

    s = extract_reports(db, settings(tmp_path, max_retries=1), report_ids=[report_id(text("000"))],
                        transport=FakeOpenAI(reply))
    status, error, *_ = extraction(db, report_id(text("000")))
    assert status == "error" and "APITimeoutError" in error
    assert s.retries == 2


def test_replay_miss_names_the_report_and_section(db, tmp_path):
    s = extract_reports(db, LLMSettings(mode=Mode.replay, cache_dir=tmp_path / "empty"))
    rid = report_id(text("000"))
    msg = next(f["error"] for f in s.failures if f["report_id"] == rid and f["section"] == "overview")
    assert f"no saved reply for report {rid} section overview" in msg
    assert len(s.failures) == 4 and s.calls == 0


def test_settings_from_config_and_environment(tmp_path, monkeypatch):
    cfg = tmp_path / "config.toml"
    cfg.write_text('model = "qwen-plus"\nbase_url = "http://127.0.0.1:9/v1"\nconcurrency = 3\n'
                   'response_format = "json_object"\n', encoding="utf-8")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("GKEXTRACT_MODEL", "deepseek-chat")
    s = load_settings(cfg)
    assert (s.model, s.base_url, s.concurrency, s.response_format.value, s.api_key) == (
        "deepseek-chat", "http://127.0.0.1:9/v1", 3, "json_object", "sk-from-env")
    assert "sk-from-env" not in repr(s)
    (tmp_path / "bad.toml").write_text('modle = "x"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="modle"):
        load_settings(tmp_path / "bad.toml")


def test_retry_after_parsing():
    class E:
        def __init__(self, headers):
            self.response = httpx.Response(429, headers=headers)
    assert retry_after_seconds(E({"retry-after": "3"})) == 3.0
    assert retry_after_seconds(E({"retry-after-ms": "1500"})) == 1.5
    assert retry_after_seconds(E({})) is None


def test_refused_or_truncated_replies_are_not_cached(db, tmp_path):
    target = report_id(text("000"))
    replies = iter([completion(None, refusal=flawed("refusal.txt")), completion(answer(STEM, "overview"))])

    def reply(body, ctx):
        if ctx == f"report {target} section overview":
            return httpx.Response(200, json=next(replies))
        return ok(answer(STEM, "problems"))

    first = extract_reports(db, settings(tmp_path), report_ids=[target], transport=FakeOpenAI(reply))
    assert [f["status"] for f in first.failures] == ["refused"]
    assert len(list((tmp_path / "cache" / "responses").glob("*.json"))) == 1   # only the good problems reply
    again = extract_reports(db, settings(tmp_path), report_ids=[target], transport=FakeOpenAI(reply))
    assert (again.calls, again.failures) == (1, [])                            # the refusal was asked again
    assert extraction(db, target)[0] == "ok"
