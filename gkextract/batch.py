"""Extraction through the OpenAI Batch API (and the endpoints that copy it): submit, status, collect.

The Batch API answers within 24 hours at half the online price.  One JSONL
line per request: ``custom_id``, ``method``, ``url`` and the ``body`` that
``llm.prepare_request`` builds for the online path too, so a batch reply is
stored in the reply store under the online request's key — a section that
failed in the batch is finished online without paying again for the parts that
succeeded, and a re-run never pays twice.  Alibaba Bailian, Baidu Qianfan and
vLLM's ``run-batch`` read the same JSONL.

Crash safety: every step writes what it learned to ``batches`` before the next
step starts — the file and its requests (``written``), the uploaded file's id
(``uploaded``), the batch's id (``validating`` …).  A step cut short between the
API's answer and that write is found again on resume: the uploaded file by its
unique name in the file list, the batch by its input file in the batch list.
So nothing is uploaded or submitted twice, whenever the process dies.

Collecting maps each result by ``custom_id`` (never by line order), checks it
exactly as the online path does (``completion_problem``, ``interpret_reply``),
grounds and stores each section whose parts all succeeded, and leaves the rest
pending with their status (``failed``, ``expired``, ``invalid``) for
``gkextract extract`` to finish online.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import openai
import sqlite_utils

from .grounding import DEFAULT_THRESHOLD
from .llm import (CallResult, LLMSettings, ReplyStore, Usage, completion_problem, interpret_reply, is_local_url,
                  prepare_request, reply_usage)
from .narrative import (Budget, ExtractSummary, SECTIONS, count_result, estimate_cost, merge_results,
                        pending_sections, section_messages, store_result)
from .prompts import Prompt, load_prompt
from .redact import clip, redact
from .schema import SECTION_SCHEMAS
from .store import record_calls

MAX_LINES = 50_000                 # the Batch API's limits per input file
MAX_BYTES = 200 * 1024 * 1024
ENDPOINT = "/v1/chat/completions"
OPEN = ("written", "uploaded", "validating", "in_progress", "finalizing", "cancelling")
FINISHED = ("completed", "expired", "cancelled", "failed")   # the API is done: collect


class BatchError(Exception):
    """A batch step failed; str(e) says what, and the state in ``batches`` lets a re-run resume."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def custom_id(report_id: str, section: str, prompt_version: str, part: int, parts: int) -> str:
    """At most 64 characters, the same for the same request: report, section, part and prompt version."""
    return "gk-" + hashlib.sha256(f"{report_id}|{section}|{prompt_version}|{part}/{parts}".encode()).hexdigest()[:40]


def make_api(settings: LLMSettings) -> openai.OpenAI:
    """The Files and Batches client.  Its own retries are off: a lost reply to a create is found on resume
    (by name or input file), where a blind retry could create a second batch."""
    key = settings.api_key or ("local-server-needs-no-key" if is_local_url(settings.base_url) else None)
    if not key:
        raise BatchError("no API key: set OPENAI_API_KEY or api_key in the config file")
    return openai.OpenAI(api_key=key, base_url=settings.base_url, max_retries=0, timeout=max(settings.timeout, 300))


# --- submit ------------------------------------------------------------------------------------

@dataclass
class SubmitSummary:
    sections: int = 0            # sections put into new batch files
    requests: int = 0
    in_batches: int = 0          # pending sections already in an unfinished batch: not sent again
    cached: int = 0              # sections whose every reply is already saved: `extract` stores them for free
    too_large: int = 0
    refused_by_budget: int = 0
    estimated_cost: float | None = None
    batches: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Line:
    report_id: str
    section: str
    part: int
    parts: int
    prompt_version: str
    key: str
    data: bytes                  # the JSONL line, newline included


def _lines(db: sqlite_utils.Database, settings: LLMSettings, prompts: dict[str, Prompt], rid: str,
           kind: str) -> list[_Line] | CallResult:
    issuer, year, heading, text = db.execute(
        "SELECT r.issuer, r.year, s.heading, s.text FROM reports r JOIN sections s ON s.report_id = r.id "
        "WHERE r.id = ? AND s.kind = ?", [rid, kind]).fetchone()
    requests = section_messages(settings, prompts[kind], issuer, year, heading, text)
    if isinstance(requests, CallResult):
        return requests
    out = []
    for i, messages in enumerate(requests, 1):
        req = prepare_request(settings, messages, SECTION_SCHEMAS[kind])
        cid = custom_id(rid, kind, prompts[kind].version, i, len(requests))
        line = json.dumps({"custom_id": cid, "method": "POST", "url": ENDPOINT, "body": req.body},
                          ensure_ascii=False, separators=(",", ":"))
        out.append(_Line(rid, kind, i, len(requests), prompts[kind].version, req.key, (line + "\n").encode("utf-8")))
    return out


def _chunks(lines: list[_Line]) -> Iterator[list[_Line]]:
    """Files of at most MAX_LINES lines and MAX_BYTES bytes; a section's parts stay in one file."""
    chunk: list[_Line] = []
    size = 0
    i = 0
    while i < len(lines):
        j = i + lines[i].parts - lines[i].part + 1          # the rest of this section's parts
        group = lines[i:j]
        group_size = sum(len(x.data) for x in group)
        if chunk and (len(chunk) + len(group) > MAX_LINES or size + group_size > MAX_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk += group
        size += group_size
        i = j
    if chunk:
        yield chunk


def _in_open_batches(db: sqlite_utils.Database) -> set[tuple[str, str]]:
    return {(r, s) for r, s in db.execute(
        "SELECT q.report_id, q.section FROM batch_requests q JOIN batches b ON b.id = q.batch "
        "WHERE q.status = 'pending' AND b.status != 'collected'")}


def write_batches(db: sqlite_utils.Database, settings: LLMSettings, out_dir: Path, *,
                  report_ids: list[str] | None = None, budget: Budget | None = None,
                  prompts_dir: Path | None = None, store: ReplyStore | None = None) -> SubmitSummary:
    """Write the JSONL files for every pending section and record them (status ``written``) before any upload."""
    prompts = {s: load_prompt(s, prompts_dir) for s in SECTIONS}
    store = store or ReplyStore(settings.cache_dir)
    todo, _ = pending_sections(db, settings, prompts, report_ids)
    busy = _in_open_batches(db)
    summary = SubmitSummary()
    lines: list[_Line] = []
    for rid, kind in todo:
        if (rid, kind) in busy:
            summary.in_batches += 1
            continue
        section = _lines(db, settings, prompts, rid, kind)
        if isinstance(section, CallResult):
            summary.too_large += 1
            continue
        if all(store.get(x.key) is not None for x in section):
            summary.cached += 1
            continue
        if budget is not None:
            text = db.execute("SELECT text FROM sections WHERE report_id = ? AND kind = ?", [rid, kind]).fetchone()[0]
            if not budget.reserve(estimate_cost(budget.price, settings, prompts[kind], text, batch=True)):
                summary.refused_by_budget += 1
                continue
        summary.sections += 1
        lines += section
    summary.requests = len(lines)
    summary.estimated_cost = budget.reserved if budget else None
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    for n, chunk in enumerate(_chunks(lines), 1):
        data = b"".join(x.data for x in chunk)
        sha = hashlib.sha256(data).hexdigest()
        name = f"gkextract-{stamp}-{n:03d}-{sha[:12]}.jsonl"
        path = out_dir / name
        path.write_bytes(data)
        with db.atomic():
            cur = db.execute(
                "INSERT INTO batches (model, base_url, file_name, path, lines, bytes, sha256, status, "
                "estimated_cost, created_at, updated_at) VALUES (?,?,?,?,?,?,?,'written',?,?,?)",
                [settings.model, settings.base_url, name, str(path), len(chunk), len(data), sha,
                 None, _now(), _now()])
            db.conn.executemany(
                "INSERT INTO batch_requests (batch, custom_id, report_id, section, part, parts, prompt_version, "
                "request_key, status) VALUES (?,?,?,?,?,?,?,?,'pending')",
                [(cur.lastrowid, custom_id(x.report_id, x.section, x.prompt_version, x.part, x.parts), x.report_id,
                  x.section, x.part, x.parts, x.prompt_version, x.key) for x in chunk])
    return summary


def _set(db: sqlite_utils.Database, batch: int, **values: Any) -> None:
    """Record what the API said, at once: a crash after this line resumes from it."""
    with db.atomic():
        db.execute(f"UPDATE batches SET {', '.join(f'{k} = ?' for k in values)}, updated_at = ? WHERE id = ?",
                   [*values.values(), _now(), batch])


def send_batches(db: sqlite_utils.Database, api: openai.OpenAI,
                 on_step: Callable[[str], None] | None = None) -> None:
    """Upload each written file and create its batch, resuming whatever a crash left half done."""
    say = on_step or (lambda _: None)
    for bid, name, path, file_id in db.execute(
            "SELECT id, file_name, path, input_file_id FROM batches WHERE batch_id IS NULL AND status IN "
            "('written', 'uploaded') ORDER BY id").fetchall():
        try:
            if file_id is None:
                file_id = next((f.id for f in api.files.list(purpose="batch") if f.filename == name), None)
                if file_id is None:
                    with open(path, "rb") as f:
                        file_id = api.files.create(file=(name, f, "application/jsonl"), purpose="batch").id
                    say(f"uploaded {name} as {file_id}")
                else:
                    say(f"found {name}, uploaded before as {file_id}")
                _set(db, bid, input_file_id=file_id, status="uploaded")
            batch = next((b for b in api.batches.list(limit=100) if b.input_file_id == file_id), None)
            if batch is None:
                batch = api.batches.create(input_file_id=file_id, endpoint=ENDPOINT, completion_window="24h",
                                           metadata={"gkextract_file": name})
                say(f"created batch {batch.id} for {name}")
            else:
                say(f"found batch {batch.id} for {name}, created before")
            _set(db, bid, batch_id=batch.id, status=batch.status)
        except (openai.APIError, OSError) as e:
            raise BatchError(f"{name}: {redact(str(e))} — the state is saved: run `gkextract batch submit` "
                             "again to resume (nothing is uploaded or submitted twice)") from None


def submit(db: sqlite_utils.Database, settings: LLMSettings, out_dir: Path, api: openai.OpenAI, *,
           report_ids: list[str] | None = None, budget: Budget | None = None, prompts_dir: Path | None = None,
           on_step: Callable[[str], None] | None = None) -> SubmitSummary:
    """Resume unfinished submissions, then write, upload and submit the pending sections."""
    send_batches(db, api, on_step)          # what a crash left half done goes first, and alone
    summary = write_batches(db, settings, out_dir, report_ids=report_ids, budget=budget, prompts_dir=prompts_dir)
    send_batches(db, api, on_step)
    summary.batches = list_batches(db)
    return summary


# --- status ------------------------------------------------------------------------------------

def list_batches(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return [dict(r) for r in db.query(
        "SELECT b.id, b.batch_id, b.status, b.model, b.lines, b.completed, b.failed, b.total, b.file_name, "
        "(SELECT count(*) FROM batch_requests q WHERE q.batch = b.id AND q.status = 'ok') AS stored, "
        "(SELECT count(*) FROM batch_requests q WHERE q.batch = b.id AND q.status IN ('failed', 'expired', "
        "'invalid')) AS to_redo, b.created_at, b.updated_at FROM batches b ORDER BY b.id")]


def refresh(db: sqlite_utils.Database, api: openai.OpenAI) -> list[dict[str, Any]]:
    """Ask the API for every batch not yet finished; record status, counts and result files."""
    for bid, batch_id in db.execute("SELECT id, batch_id FROM batches WHERE batch_id IS NOT NULL AND status IN "
                                    "('validating', 'in_progress', 'finalizing', 'cancelling')").fetchall():
        try:
            b = api.batches.retrieve(batch_id)
        except openai.APIError as e:
            raise BatchError(f"batch {batch_id}: {redact(str(e))}") from None
        counts = b.request_counts
        errors = [e.model_dump() for e in b.errors.data] if b.errors and b.errors.data else None
        _set(db, bid, status=b.status, completed=counts.completed if counts else None,
             failed=counts.failed if counts else None, total=counts.total if counts else None,
             output_file_id=b.output_file_id, error_file_id=b.error_file_id,
             errors=json.dumps(errors, ensure_ascii=False) if errors else None)
    return list_batches(db)


def wait(db: sqlite_utils.Database, api: openai.OpenAI, *, first: float = 5.0, longest: float = 300.0,
         timeout: float | None = None, on_poll: Callable[[list[dict[str, Any]]], None] | None = None,
         sleep: Callable[[float], None] = time.sleep) -> list[dict[str, Any]]:
    """Poll until no batch is running, backing off from ``first`` to ``longest`` seconds between polls."""
    delay, waited = first, 0.0
    while True:
        rows = refresh(db, api)
        if on_poll:
            on_poll(rows)
        if not any(r["status"] in OPEN and r["batch_id"] for r in rows):
            return rows
        if timeout is not None and waited >= timeout:
            return rows
        sleep(delay)
        waited += delay
        delay = min(longest, delay * 2)


# --- collect -----------------------------------------------------------------------------------

def _results(api: openai.OpenAI, file_id: str | None) -> dict[str, dict[str, Any]]:
    """A result file's lines by custom_id (the order of lines means nothing)."""
    if not file_id:
        return {}
    text = api.files.content(file_id).text
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            out[item["custom_id"]] = item
        except (ValueError, KeyError, TypeError):
            raise BatchError(f"result file {file_id}, line {n}: not a batch result: {clip(line, 200)}") from None
    return out


def _bodies(path: str) -> dict[str, dict[str, Any]]:
    """The request bodies of a batch file by custom_id (for the reply store's record); {} if it is gone."""
    try:
        with open(path, encoding="utf-8") as f:
            return {(d := json.loads(line))["custom_id"]: d["body"] for line in f if line.strip()}
    except (OSError, ValueError, KeyError):
        return {}


def _judge(item: dict[str, Any] | None, schema: Any, batch_status: str) -> tuple[str, CallResult]:
    """A result line as the online path would see it: (status for batch_requests, the call's result)."""
    if item is None:
        status = "expired" if batch_status == "expired" else "failed"
        return status, CallResult("error", None, None, error=f"no result: the batch ended {batch_status}")
    error = item.get("error")
    response = item.get("response") or {}
    if error:
        code = error.get("code") if isinstance(error, dict) else None
        message = error.get("message") if isinstance(error, dict) else str(error)
        status = "expired" if code == "batch_expired" else "failed"
        return status, CallResult("error", None, None, error=redact(f"batch {status}: {code or ''} {message}"))
    body = response.get("body")
    if response.get("status_code") != 200:
        message = body.get("error", {}).get("message") if isinstance(body, dict) and isinstance(
            body.get("error"), dict) else clip(json.dumps(body, ensure_ascii=False), 300)
        return "failed", CallResult("error", None, None,
                                    error=redact(f"batch request failed with {response.get('status_code')}: {message}"))
    problem = completion_problem(body)
    if problem:
        return "invalid", CallResult("bad_response", None, redact(clip(json.dumps(body, ensure_ascii=False))),
                                     error=problem)
    outcome = interpret_reply(body, schema)
    prompt, cached, completion = reply_usage(body)
    res = CallResult(outcome.status, outcome.parsed, redact(outcome.raw), redact(clip(outcome.error)), calls=1,
                     prompt_tokens=prompt, cached_tokens=cached, completion_tokens=completion)
    return ("ok" if outcome.status == "ok" else "invalid"), res


def collect(db: sqlite_utils.Database, settings: LLMSettings, api: openai.OpenAI, *,
            threshold: float = DEFAULT_THRESHOLD, prompts_dir: Path | None = None, store: ReplyStore | None = None,
            on_section: Callable[[str, str, CallResult], None] | None = None) -> ExtractSummary:
    """Download, check, ground and store the results of every finished batch."""
    refresh(db, api)
    prompts = {s: load_prompt(s, prompts_dir) for s in SECTIONS}
    store = store or ReplyStore(settings.cache_dir)
    summary = ExtractSummary()
    for bid, batch_id, status, out_id, err_id, model, path in db.execute(
            "SELECT id, batch_id, status, output_file_id, error_file_id, model, path FROM batches "
            f"WHERE status IN ({', '.join('?' for _ in FINISHED)}) ORDER BY id", FINISHED).fetchall():
        try:
            results = {**_results(api, err_id), **_results(api, out_id)}
        except openai.APIError as e:
            raise BatchError(f"batch {batch_id}: cannot download its results: {redact(str(e))}") from None
        bodies = _bodies(path)
        rows = db.execute("SELECT custom_id, report_id, section, part, parts, prompt_version, request_key "
                          "FROM batch_requests WHERE batch = ? AND status = 'pending' ORDER BY report_id, section, "
                          "part", [bid]).fetchall()
        sections: dict[tuple[str, str], list[tuple[str, str, CallResult]]] = {}
        for cid, rid, kind, part, parts, version, key in rows:
            state, res = _judge(results.get(cid), SECTION_SCHEMAS[kind], status)
            res.request_key = key
            if res.calls:
                res.usage = [Usage(key, res.prompt_tokens, res.cached_tokens, res.completion_tokens)]
            if state == "ok":   # validated: now it is the online request's cached reply too
                store.put(key, bodies.get(cid, {"model": model}),
                          f"report {rid} section {kind}" + (f" part {part}/{parts}" if parts > 1 else ""),
                          results[cid]["response"]["body"])
            sections.setdefault((rid, kind), []).append((cid, state, res))
        with db.atomic():
            for (rid, kind), parts_ in sections.items():
                for cid, state, res in parts_:
                    db.execute("UPDATE batch_requests SET status = ?, error = ? WHERE batch = ? AND custom_id = ?",
                               [state, res.error, bid, cid])
                merged = merge_results([r for _, _, r in parts_], SECTION_SCHEMAS[kind])
                if merged.status == "ok":
                    merged, counts = store_result(db, rid, kind, prompts[kind], replace(settings, model=model),
                                                  merged, threshold, mode="batch")
                else:   # left pending for the online path; what it cost is still counted
                    record_calls(db, rid, kind, model, "batch", merged.usage)
                    counts = {"facts": 0, "problems": 0, "improvements": 0, "flagged": 0}
                count_result(summary, rid, kind, merged, counts)
                if on_section:
                    on_section(rid, kind, merged)
            db.execute("UPDATE batches SET status = 'collected', updated_at = ? WHERE id = ?", [_now(), bid])
        summary.sections += len(sections)
        summary.reports += len({r for r, _ in sections})
    return summary
