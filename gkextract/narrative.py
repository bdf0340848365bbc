"""Narrative extraction: one LLM call per narrative section, then grounding, then the store.

This module runs the batch: it finds the sections still to extract, sends each
through ``llm.structured_call`` with the versioned prompt (prompts.py), turns
the validated reply into items, has grounding.py score them against the report
and its tables (crosscheck.py), and hands the result to store.py, which writes
the call and its items in one transaction.  A section already extracted with the
same model and prompt version is not sent again.

A batch never stops for one section: each runs in a worker that turns any
failure into that section's status, a section longer than
``max_section_chars`` is sent in parts (cut at paragraphs) whose replies are
merged, and on Ctrl-C every worker is cancelled and awaited before the client
closes, so what was saved stays saved and a re-run resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import httpx
import sqlite_utils

from .crosscheck import Cells, table_reference
from .domain import NARRATIVE_KINDS
from rapidfuzz import fuzz, process

from .grounding import (DEFAULT_THRESHOLD, Assessment, Fact, Grounder, assess_fact, assess_shared_numbers,
                        assess_statement, fold, measures_start)
from . import tokens
from .llm import (CallResult, LLMSettings, Mode, ReplyStore, ResponseFormat, make_client, response_format_param,
                  structured_call)
from .pricing import Price
from .prompts import Prompt, build_messages, load_prompt
from .schema import SECTION_SCHEMAS, OverviewFacts, ProblemsFacts
from .store import write_extraction

SECTIONS = NARRATIVE_KINDS
T = TypeVar("T")


# --- replies into items ------------------------------------------------------------------

def flatten_overview(facts: OverviewFacts) -> list[tuple[int, Fact]]:
    """(position in its list, fact): the values of one training share a position."""
    rows: list[tuple[int, Fact]] = []

    def add(i: int, kind: str, metric: str | None, label: str | None, attributes: dict,
            value, evidence: str | None = None) -> None:
        rows.append((i, Fact(kind, metric, label, attributes, value.value if value else None,
                             value.unit if value else None, bool(value and value.approximate),
                             value.evidence if value else (evidence or ""))))

    for i, p in enumerate(facts.platforms):
        add(i, "platform", p.metric.value, p.name, {"type": p.type.value}, p.value)
    for i, t in enumerate(facts.trainings):
        attrs = {"status": t.status, "audience": t.audience, "topic": t.topic}
        values = [(m, v) for m, v in (("sessions", t.sessions), ("participants", t.participants)) if v]
        for metric, v in values or [(None, None)]:
            add(i, "training", metric, t.topic, attrs, v, t.evidence)
    for i, d in enumerate(facts.disclosure_volumes):
        add(i, "disclosure", "items", d.category, {}, d.value)
    for i, a in enumerate(facts.applications):
        add(i, "application", a.metric.value, None, {}, a.value)
    for i, m in enumerate(facts.administrative):
        add(i, "administrative", m.metric.value, None, {}, m.value)
    for i, s in enumerate(facts.supervision):
        add(i, "supervision", s.kind.value, None, {}, s.value, s.evidence)
    return rows


@dataclass
class Statement:
    item: int
    summary: str
    category: str
    evidence: str
    assessment: Assessment
    addresses: int | None = None     # improvements: the problem (its position) it answers


@dataclass
class Grounded:
    """A reply's items with their assessments, ready to store."""

    facts: list[tuple[int, Fact, Assessment]] = field(default_factory=list)
    problems: list[Statement] = field(default_factory=list)
    improvements: list[Statement] = field(default_factory=list)


@dataclass(frozen=True)
class SectionContext:
    """What grounding needs to know about the report a section comes from."""

    text: str
    span: tuple[int, int]
    cells: Cells
    template: str | None
    prompt_text: str


def _addressed(quote: str | None, problems: list[Statement]) -> int | None:
    """The problem an improvement names by copying its quote (exact, folded or close)."""
    if not quote or not problems:
        return None
    q = fold(quote).text
    for p in problems:
        e = fold(p.evidence).text
        if q and (q == e or q in e or e in q):
            return p.item
    best = process.extractOne(q, [fold(p.evidence).text for p in problems], scorer=fuzz.ratio, score_cutoff=85)
    return problems[best[2]].item if best else None


def ground(parsed: OverviewFacts | ProblemsFacts, ctx: SectionContext, reasks: int) -> Grounded:
    grounder = Grounder(ctx.text, ctx.span)
    out = Grounded()
    if isinstance(parsed, OverviewFacts):
        items = flatten_overview(parsed)
        assessments = [assess_fact(f, grounder, reasks=reasks, prompt_text=ctx.prompt_text,
                                   table=table_reference(f.kind, f.metric, f.label, ctx.template, ctx.cells))
                       for _, f in items]
        assess_shared_numbers([f for _, f in items], assessments)
        out.facts = [(i, f, a) for (i, f), a in zip(items, assessments)]
        return out
    start = measures_start(ctx.text, *ctx.span)
    problem_spans = [grounder.locate(p.evidence, *ctx.span) for p in parsed.problems]
    improvement_spans = [grounder.locate(m.evidence, *ctx.span) for m in parsed.improvements]
    for i, p in enumerate(parsed.problems):
        a = assess_statement("problem", p.evidence, p.category.value, grounder, measures_from=start,
                             other_spans=improvement_spans, reasks=reasks, prompt_text=ctx.prompt_text)
        out.problems.append(Statement(i, p.summary, p.category.value, p.evidence, a))
    for i, m in enumerate(parsed.improvements):
        a = assess_statement("improvement", m.evidence, m.category.value, grounder, measures_from=start,
                             other_spans=problem_spans, reasks=reasks, prompt_text=ctx.prompt_text)
        out.improvements.append(Statement(i, m.summary, m.category.value, m.evidence, a,
                                          _addressed(m.addresses, out.problems)))
    return out


def section_context(db: sqlite_utils.Database, report_id: str, section: str, prompt: Prompt,
                    with_cells: bool = True) -> SectionContext:
    """What grounding needs about a section's report.

    ``with_cells`` False: the report's table cells are not read (only overview
    facts are checked against the tables, so a problems section needs none).
    """
    text, s_start, s_end, template = db.execute(
        "SELECT r.text, s.span_start, s.span_end, r.template FROM reports r JOIN sections s ON s.report_id = r.id "
        "WHERE r.id = ? AND s.kind = ?", [report_id, section]).fetchone()
    cells: Cells = {}
    if with_cells:
        cells = {(t, r, c): (v, st) for t, r, c, v, st in db.execute(
            "SELECT table_key, row_key, col_key, value, status FROM table_cells WHERE report_id = ?", [report_id])}
    return SectionContext(text, (s_start, s_end), cells, template, prompt.text)


# --- the batch ---------------------------------------------------------------------------------

@dataclass
class ExtractSummary:
    reports: int = 0
    sections: int = 0
    already_done: int = 0
    saved: int = 0              # sections whose extraction succeeded and was written in this run
    calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    reasks: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    facts: int = 0
    problems: int = 0
    improvements: int = 0
    flagged: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    budget: Budget | None = None


@dataclass
class Budget:
    """--max-cost: money this run may spend, checked before each section is sent.

    A section is sent only if what was spent, plus an upper estimate for every
    section in flight and for this one, stays within ``limit``: its prompt in
    o200k tokens (characters without o200k) billed uncached, and ``max_tokens``
    of output per request.  What a call really cost comes from the tokens the
    server reported.  Once a section is refused, no further one starts; the
    rest stay pending for a later run.  Re-asks (a reply that failed validation)
    are paid on top of the estimate.
    """

    limit: float
    price: Price
    spent: float = 0.0
    reserved: float = 0.0
    refused: int = 0         # sections left pending because of the budget

    def reserve(self, estimate: float) -> bool:
        if self.refused or self.spent + self.reserved + estimate > self.limit:
            self.refused += 1
            return False
        self.reserved += estimate
        return True

    def settle(self, estimate: float, res: CallResult, batch: bool = False) -> None:
        self.reserved -= estimate
        self.spent += sum(self.price.cost(u.prompt_tokens, u.cached_tokens, u.completion_tokens, batch)
                          for u in res.usage)


def estimate_cost(price: Price, settings: LLMSettings, prompt: Prompt, text: str, batch: bool = False) -> float:
    """An upper estimate of one section's first attempt: prompt uncached, ``max_tokens`` out per request."""
    parts = len(split_text(text, settings.max_section_chars))
    prompt_tokens = tokens.count(text) + parts * (tokens.count(prompt.text) + schema_tokens(prompt.section) + 100)
    return price.cost(prompt_tokens, 0, parts * (settings.max_tokens or 16_384), batch)


@lru_cache(maxsize=4)
def schema_tokens(section: str) -> int:
    return tokens.count(json.dumps(response_format_param(SECTION_SCHEMAS[section], ResponseFormat.json_schema),
                                   ensure_ascii=False))


class ExtractInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the batch; ``summary`` says what was saved before it."""

    def __init__(self, summary: ExtractSummary) -> None:
        super().__init__()
        self.summary = summary


def pending_sections(db: sqlite_utils.Database, settings: LLMSettings, prompts: dict[str, Prompt],
                     report_ids: list[str] | None = None, redo: bool = False) -> tuple[list[tuple[str, str]], int]:
    """(report, section) pairs still to extract, and how many are already done (``redo``: none are)."""
    todo, done = [], 0
    rows = db.execute(
        "SELECT s.report_id, s.kind FROM sections s WHERE s.status = 'found' AND s.kind IN ('overview', 'problems') "
        "ORDER BY s.report_id, s.ordinal").fetchall()
    ok = set() if redo else {(r, s) for r, s, v in db.execute(
        "SELECT report_id, section, prompt_version FROM extractions WHERE status = 'ok' AND model = ?",
        [settings.model]) if v == prompts[s].version}
    for rid, kind in rows:
        if report_ids is not None and rid not in report_ids:
            continue
        if (rid, kind) in ok:
            done += 1
        else:
            todo.append((rid, kind))
    return todo, done


# --- sections too long for one request ---------------------------------------------------------

_SENTENCE_END = re.compile(r"[。；;！？!?]")


def split_text(text: str, limit: int) -> list[str]:
    """Cut ``text`` into parts of at most ``limit`` characters whose concatenation is ``text``.

    Cuts fall after a line break where one lies in the second half of a part,
    else after a sentence end, else at the limit: a quote is rarely cut, and
    nothing is dropped or repeated, so every quote still lies in the section.
    """
    parts: list[str] = []
    start = 0
    while len(text) - start > limit:
        window = text[start:start + limit]
        cut = window.rfind("\n") + 1
        if cut <= limit // 2:
            ends = [m.end() for m in _SENTENCE_END.finditer(window)]
            cut = ends[-1] if ends and ends[-1] > limit // 2 else limit
        parts.append(text[start:start + cut])
        start += cut
    parts.append(text[start:])
    return parts


def merge_results(parts: list[CallResult], schema: type[OverviewFacts] | type[ProblemsFacts]) -> CallResult:
    """One section's result from its parts' results: items concatenated, counts summed.

    A part that failed makes the section fail with that part's status (the
    parts that succeeded are in the reply store, so a re-run pays only for it).
    """
    if len(parts) == 1:
        return parts[0]
    failed = next(((i, p) for i, p in enumerate(parts, 1) if p.status != "ok"), None)
    merged = CallResult("ok", None, json.dumps({"parts": [p.raw_reply for p in parts]}, ensure_ascii=False),
                        request_key=",".join(p.request_key or "" for p in parts))
    for name in ("calls", "cache_hits", "reasks", "retries", "prompt_tokens", "cached_tokens", "completion_tokens",
                 "latency_ms"):
        setattr(merged, name, sum(getattr(p, name) for p in parts))
    merged.usage = [u for p in parts for u in p.usage]
    if failed:
        i, p = failed
        merged.status, merged.error = p.status, f"part {i} of {len(parts)}: {p.error}"
    else:
        merged.parsed = schema(**{name: [item for p in parts for item in getattr(p.parsed, name)]
                                  for name in schema.model_fields})
    return merged


def section_messages(settings: LLMSettings, prompt: Prompt, issuer: str | None, year: int | None, heading: str,
                     text: str) -> list[list[dict[str, str]]] | CallResult:
    """The messages of each request a section needs (one per part), or the too_large result.

    The online path and the batch file both build their requests here, so a
    batch reply is the cached reply of the online request and back.
    """
    parts = split_text(text, settings.max_section_chars)
    if len(parts) > settings.max_section_parts:
        return CallResult("too_large", None, None, error=(
            f"the section has {len(text):,} characters: {len(parts)} requests of at most "
            f"{settings.max_section_chars:,}, more than max_section_parts = {settings.max_section_parts}; "
            "nothing was sent (raise max_section_parts in the config to extract it anyway)"))
    return [build_messages(prompt, issuer, year,
                           heading if len(parts) == 1 else f"{heading}（第 {i} 部分，共 {len(parts)} 部分）", part)
            for i, part in enumerate(parts, 1)]


async def extract_section(client, settings: LLMSettings, prompt: Prompt, issuer: str | None, year: int | None,
                          heading: str, text: str, context: str, refresh: bool = False) -> CallResult:
    """Extract one section: in one request, or in parts when it is longer than ``max_section_chars``."""
    requests = section_messages(settings, prompt, issuer, year, heading, text)
    if isinstance(requests, CallResult):
        return requests
    results = []
    for i, messages in enumerate(requests, 1):
        where = context if len(requests) == 1 else f"{context} part {i}/{len(requests)}"
        results.append(await structured_call(client, settings, messages, SECTION_SCHEMAS[prompt.section],
                                             context=where, refresh=refresh))
        if results[-1].status != "ok":
            break
    return merge_results(results, SECTION_SCHEMAS[prompt.section])


# --- the batch ---------------------------------------------------------------------------------

def store_result(db: sqlite_utils.Database, rid: str, kind: str, prompt: Prompt, settings: LLMSettings,
                 res: CallResult, threshold: float, mode: str | None = None) -> tuple[CallResult, dict[str, int]]:
    """Ground a section's result and write it (``mode`` "batch" for a batch reply), whatever it is.

    Grounding or storing that fails becomes the section's ``error`` status (the
    result returned says so), in a savepoint of its own, so one section never
    rolls back the others.
    """
    mode = mode or settings.mode.value
    try:
        grounded = None
        if res.status == "ok" and res.parsed is not None:
            ctx = section_context(db, rid, kind, prompt, with_cells=isinstance(res.parsed, OverviewFacts))
            grounded = ground(res.parsed, ctx, res.reasks)  # type: ignore[arg-type]
        return res, write_extraction(db, rid, kind, settings.model, prompt.version,
                                     settings.response_format.value, mode, res, grounded, threshold)
    except Exception as e:  # grounding or storing this one failed: record that, go on
        failed = _internal_error(e)
        failed.usage = res.usage   # what was paid stays counted
        return failed, write_extraction(db, rid, kind, settings.model, prompt.version,
                                        settings.response_format.value, mode, failed, None, threshold)


def _internal_error(e: BaseException) -> CallResult:
    return CallResult("error", None, None, error=f"internal error: {type(e).__name__}: {e}")


def count_result(summary: ExtractSummary, rid: str, kind: str, res: CallResult, counts: dict[str, int]) -> None:
    summary.saved += res.status == "ok"
    for k in ("calls", "cache_hits", "retries", "reasks", "prompt_tokens", "cached_tokens", "completion_tokens"):
        setattr(summary, k, getattr(summary, k) + getattr(res, k))
    for k in ("facts", "problems", "improvements", "flagged"):
        setattr(summary, k, getattr(summary, k) + counts[k])
    if res.status != "ok":
        summary.failures.append(dict(report_id=rid, section=kind, status=res.status, error=(res.error or "")[:500]))


WRITE_GROUP = 32    # results written in one transaction, each in its own savepoint


async def _extract_async(db: sqlite_utils.Database, settings: LLMSettings, todo: list[tuple[str, str]],
                         prompts: dict[str, Prompt], threshold: float, summary: ExtractSummary,
                         transport: httpx.AsyncBaseTransport | None, store: ReplyStore | None,
                         on_done: Callable[[str, str, CallResult], None] | None, refresh: bool) -> None:
    """``concurrency`` workers call the model; one writer thread alone writes to the database.

    A worker turns anything a section raises into that section's status.  This
    task takes every result that has arrived (up to WRITE_GROUP) and hands them
    to the writer thread, which grounds them and writes them in one
    transaction, each in a savepoint: grounding and SQLite run off the event
    loop, which meanwhile keeps the requests going (the workers only read the
    sections they send; SQLite serialises the connection's use).  Results are
    counted and ``on_done`` called here, on the loop, once their group is
    committed.  On cancellation (Ctrl-C) a group being written is finished and
    counted, the workers are cancelled and awaited, then the client is closed:
    no request outlives the client, no task exception goes unseen, and the
    database is no longer in use when this returns.
    """
    client = make_client(settings, transport, store)
    queue = iter(todo)
    results: asyncio.Queue[tuple[str, str, CallResult]] = asyncio.Queue()
    budget = summary.budget

    async def worker() -> None:
        for rid, kind in queue:
            estimate = 0.0
            try:
                issuer, year, heading, text = db.execute(
                    "SELECT r.issuer, r.year, s.heading, s.text FROM reports r JOIN sections s "
                    "ON s.report_id = r.id WHERE r.id = ? AND s.kind = ?", [rid, kind]).fetchone()
                if budget is not None:
                    estimate = estimate_cost(budget.price, settings, prompts[kind], text)
                    if not budget.reserve(estimate):
                        results.put_nowait((rid, kind, None))
                        continue
                res = await extract_section(client, settings, prompts[kind], issuer, year, heading, text,
                                            f"report {rid} section {kind}", refresh)
            except Exception as e:  # a bug in one section must not stop the others
                res = _internal_error(e)
            if budget is not None:
                budget.settle(estimate, res)
            results.put_nowait((rid, kind, res))

    def write(group: list[tuple[str, str, CallResult | None]]) -> list[tuple[str, str, CallResult, dict[str, int]]]:
        written = []
        with db.atomic():
            for rid, kind, res in group:
                if res is not None:   # None: left pending by the budget
                    res, counts = store_result(db, rid, kind, prompts[kind], settings, res, threshold)
                    written.append((rid, kind, res, counts))
                    # Hand the GIL to the event loop between sections: grounding is Python, and the loop
                    # would otherwise wait up to the 5 ms switch interval to read the next reply.
                    time.sleep(0)
        return written

    def count(written: list[tuple[str, str, CallResult, dict[str, int]]]) -> None:
        for rid, kind, res, counts in written:
            count_result(summary, rid, kind, res, counts)
            if on_done:
                on_done(rid, kind, res)

    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gkextract-writer")
    writing: Future | None = None   # the group in the writer thread, until it is counted
    workers = [asyncio.create_task(worker()) for _ in range(min(settings.concurrency, len(todo)))]
    try:
        left = len(todo)
        while left:
            group = [await results.get()]
            while len(group) < WRITE_GROUP and not results.empty():
                group.append(results.get_nowait())
            left -= len(group)
            writing = writer.submit(write, group)
            written = await asyncio.shield(asyncio.wrap_future(writing))
            writing = None
            count(written)
    finally:
        if writing is not None:    # cancelled while a group was being written: it commits, so count it
            with contextlib.suppress(Exception):   # a failed write raised where it was awaited
                count(writing.result())
        writer.shutdown(wait=True)
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await client.aclose()


async def extract_reports_async(db: sqlite_utils.Database, settings: LLMSettings, *,
                                report_ids: list[str] | None = None, threshold: float | None = None,
                                prompts_dir: Path | None = None, transport: httpx.AsyncBaseTransport | None = None,
                                store: ReplyStore | None = None, refresh: bool = False,
                                budget: Budget | None = None,
                                on_total: Callable[[int], None] | None = None,
                                on_done: Callable[[str, str, CallResult], None] | None = None,
                                summary: ExtractSummary | None = None) -> ExtractSummary:
    """Extract every pending narrative section, on the caller's event loop (``await`` it).

    Arguments as for ``extract_reports``.  ``summary`` is filled in as sections
    are saved, so a caller that cancels the task still knows what was saved.
    Until it returns, a thread of its own writes to ``db``: read it meanwhile if
    you like, but do not write to the same connection.
    """
    if refresh and settings.mode is Mode.replay:
        raise ValueError("--refresh asks the model again: it needs --mode live or record, not replay")
    prompts = {s: load_prompt(s, prompts_dir) for s in SECTIONS}
    todo, done = pending_sections(db, settings, prompts, report_ids, redo=refresh)
    summary = summary if summary is not None else ExtractSummary()
    summary.reports, summary.sections, summary.already_done = len({r for r, _ in todo}), len(todo), done
    summary.budget = budget
    if on_total:
        on_total(len(todo))
    if todo:
        await _extract_async(db, settings, todo, prompts, threshold if threshold is not None else DEFAULT_THRESHOLD,
                             summary, transport, store, on_done, refresh)
    return summary


def extract_reports(db: sqlite_utils.Database, settings: LLMSettings, *, report_ids: list[str] | None = None,
                    threshold: float | None = None, prompts_dir: Path | None = None,
                    transport: httpx.AsyncBaseTransport | None = None, store: ReplyStore | None = None,
                    refresh: bool = False, budget: Budget | None = None,
                    on_total: Callable[[int], None] | None = None,
                    on_done: Callable[[str, str, CallResult], None] | None = None) -> ExtractSummary:
    """Extract every pending narrative section.

    ``threshold`` only decides what the summary counts as flagged; the rows store
    scores, and queries apply the review threshold when they read.
    ``transport`` replaces the network (tests, benchmarks); ``store`` replaces the
    reply store (to save hand-written replies with their provenance).
    ``refresh`` extracts the selected reports again, ignoring saved replies.
    ``budget`` (--max-cost) stops sending before this run's spending would pass it.
    Inside a running event loop (Jupyter) the work runs on a loop of its own in
    a worker thread while this call waits (see ``run_sync``).
    Ctrl-C raises ExtractInterrupted once every section in flight is cancelled.
    """
    summary = ExtractSummary()
    try:
        return run_sync(extract_reports_async(
            db, settings, report_ids=report_ids, threshold=threshold, prompts_dir=prompts_dir, transport=transport,
            store=store, refresh=refresh, budget=budget, on_total=on_total, on_done=on_done, summary=summary))
    except KeyboardInterrupt:
        raise ExtractInterrupted(summary) from None


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end from synchronous code, even inside a running event loop.

    ``asyncio.run`` refuses to start inside a running loop (a Jupyter cell), and
    blocking that loop from within is impossible, so there the coroutine runs on
    a new loop in a worker thread while this thread waits.  The database
    connection is used by one thread at a time (open_db allows the hand-over).
    Ctrl-C while waiting cancels the coroutine, waits for its clean-up, and
    raises KeyboardInterrupt here.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    loop = asyncio.new_event_loop()
    task = loop.create_task(coro)
    failure: list[BaseException] = []

    def work() -> None:
        try:
            loop.run_until_complete(task)
        except BaseException as e:  # re-raised in the waiting thread
            failure.append(e)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=work, name="gkextract-run-sync", daemon=True)
    thread.start()
    try:
        thread.join()
    except KeyboardInterrupt:
        with contextlib.suppress(RuntimeError):   # the loop may have finished meanwhile
            loop.call_soon_threadsafe(task.cancel)
        thread.join()
        raise
    if failure:
        raise failure[0]
    return task.result()
