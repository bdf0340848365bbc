"""The LLM client: structured outputs, retries, re-asks, and record/replay.

One code path for every mode.  Replies are recorded and replayed at the HTTP
layer (a transport under the ``openai`` client), so replay exercises exactly
the parsing a live call does.  The key of a saved reply is a hash of the
request body — model, messages, schema and generation parameters — and the
files hold the body's summary and the reply, never a header, so never a key.

* live: serve a saved reply when there is one, else call the API and save the reply
  (the store doubles as the cache: a re-run never pays twice for a call).
* record: always call the API and save (overwrite) each reply — to refresh fixtures.
* replay: serve saved replies only; a missing one is an error naming the request.

Nothing is trusted or cached before it validates: a 200 whose body is not a
well-formed chat completion (HTML, an ``{"error": …}`` object, no choices) is
retried like a 429 and, if it never gets better, becomes the section's
``bad_response`` status with the body kept (clipped, keys redacted); only a
reply that passes the pydantic schema enters the store.  One loop in
``structured_call`` does all of it, under one deadline per request.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import stat
import tempfile
import time
import tomllib
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import (AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt,
                      wait_exponential_jitter)

from . import __version__
from .redact import clip, redact, register_secret

if TYPE_CHECKING:
    import openai

# ``openai`` (a quarter of a second to import) is imported where a call needs it, so commands
# that make none — --help, queries, a re-run with nothing left to extract — never load it.

CONTEXT_HEADER = "x-gkextract-context"   # report and section, for error messages; not part of the key
CACHE_HEADER = "x-gkextract-cache"     # response: "hit"; request: "refresh" (skip the saved reply)
KEY_HEADER = "x-gkextract-key"         # response: the request's key in the store
MISS_HEADER = "x-gkextract-replay-miss"
DEFAULT_CACHE = Path.home() / ".cache" / "gkextract" / "llm"
POOL_SIZE = 8   # connections per httpcore pool (see CachingTransport)


class Mode(str, Enum):
    """live: call the API; record: call it and save every reply; replay: saved replies only, no network."""

    live = "live"
    record = "record"
    replay = "replay"


class ResponseFormat(str, Enum):
    json_schema = "json_schema"
    json_object = "json_object"


@dataclass(frozen=True)
class LLMSettings:
    """Where and how to call the model.  The key never comes from a command-line argument."""

    model: str = "gpt-4o-mini"
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    mode: Mode = Mode.live
    cache_dir: Path = Path("fixtures/llm")
    response_format: ResponseFormat = ResponseFormat.json_schema
    concurrency: int = 8
    timeout: float = 120.0
    max_retries: int = 6          # 429 / 5xx / timeouts / connection errors
    max_reasks: int = 2           # replies that fail validation
    max_wait: float = 60.0        # cap on one back-off, Retry-After included
    temperature: float = 0.0
    max_tokens: int | None = 4096
    max_section_chars: int = 30_000      # longer sections are split at paragraphs, one request per part
    max_section_parts: int = 10          # more parts than this: the section is too_large, nothing is sent
    section_deadline: float | None = None  # seconds for all attempts and re-asks of one request; None: 2.5 × timeout

    @property
    def deadline(self) -> float:
        return self.section_deadline or 2.5 * self.timeout
    explicit: frozenset[str] = field(default=frozenset(), repr=False, compare=False)  # set by config/env/option


def is_local_url(url: str | None) -> bool:
    """A server on this machine (Ollama, vLLM, llama-server, --local-model) needs no API key."""
    return bool(url) and (urlsplit(url).hostname or "") in {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


def load_settings(config: Path | None = None, warn: Callable[[str], None] | None = None,
                  **overrides: Any) -> LLMSettings:
    """Settings from a TOML config file, then the environment, then explicit overrides.

    Config keys: every LLMSettings field (model, base_url, api_key, mode, cache_dir,
    concurrency, response_format, timeout, max_retries, max_reasks, max_section_chars,
    max_section_parts, section_deadline …).  Environment: OPENAI_API_KEY, OPENAI_BASE_URL,
    GKEXTRACT_MODEL, GKEXTRACT_CONCURRENCY, GKEXTRACT_RESPONSE_FORMAT, GKEXTRACT_CACHE.
    Overrides that are None were not given, so they do not hide the file or the
    environment.  ``warn`` hears about a config file that holds a key and that
    other users can read.
    """
    values: dict[str, Any] = {}
    path = config or Path(os.environ.get("GKEXTRACT_CONFIG", Path.home() / ".config" / "gkextract" / "config.toml"))
    if path.is_file():
        with path.open("rb") as f:
            try:
                values.update(tomllib.load(f))
            except tomllib.TOMLDecodeError as e:
                raise ValueError(f"config file {path} is not valid TOML: {e}") from None
        mode = path.stat().st_mode
        if values.get("api_key") and mode & (stat.S_IRWXG | stat.S_IRWXO):
            (warn or (lambda m: warnings.warn(m, stacklevel=2)))(
                f"{path} holds an API key and other users can read it (mode {stat.S_IMODE(mode):04o}); "
                f"run: chmod 600 {path}")
    elif config is not None:
        raise FileNotFoundError(f"config file not found: {config}")
    env = {"api_key": "OPENAI_API_KEY", "base_url": "OPENAI_BASE_URL", "model": "GKEXTRACT_MODEL",
           "concurrency": "GKEXTRACT_CONCURRENCY", "response_format": "GKEXTRACT_RESPONSE_FORMAT",
           "cache_dir": "GKEXTRACT_CACHE"}
    for key, var in env.items():
        if os.environ.get(var):
            values[key] = os.environ[var]
    values.update({k: v for k, v in overrides.items() if v is not None})
    explicit = frozenset(values)       # what the user set, anywhere: a local server adapts only the rest
    values.setdefault("cache_dir", DEFAULT_CACHE)
    known = set(LLMSettings.__dataclass_fields__)
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown setting(s) in config: {', '.join(sorted(unknown))}")
    conversions: dict[str, Callable[[Any], Any]] = {
        "concurrency": int, "timeout": float, "max_retries": int, "max_reasks": int, "max_wait": float,
        "max_section_chars": int, "max_section_parts": int, "section_deadline": float,
        "mode": Mode, "response_format": ResponseFormat, "cache_dir": lambda v: Path(v).expanduser()}
    for key, conv in conversions.items():
        if values.get(key) is not None:
            try:
                values[key] = conv(values[key])
            except ValueError:
                raise ValueError(f"setting {key}: {values[key]!r} is not a valid value") from None
    register_secret(values.get("api_key"))
    return LLMSettings(**values, explicit=explicit)


# --- the reply store ---------------------------------------------------------------------

def _canonical(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def request_key(body: dict[str, Any]) -> str:
    """Hash of what determines the answer: model, messages, schema, parameters."""
    return hashlib.sha256(_canonical(body).encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class PreparedRequest:
    """One chat-completions request, serialised once: the body sent, its bytes and its key.

    The online path posts ``content`` as it is and the batch path writes
    ``body`` into its JSONL, so both ask the same question under the same key,
    and a batch reply is a cache hit for the online path (and back).
    ``content`` is the canonical JSON whose hash is the key, so the key costs
    one hash, not another serialisation.
    """

    body: dict[str, Any]
    content: bytes
    key: str


@lru_cache(maxsize=64)
def _canonical_format(model: type[BaseModel], kind: ResponseFormat) -> str:
    return _canonical(response_format_param(model, kind))


def prepare_request(settings: LLMSettings, messages: list[dict[str, str]],
                    model: type[BaseModel]) -> PreparedRequest:
    """The request body for these messages and this schema, as both the online and the batch path send it.

    Static first: the system prompt (with the schema for json_object servers)
    is the first message and byte-identical across reports, so a provider's
    prompt cache can serve it; the report text comes last.  The strict schema
    is serialised once per process (``_canonical_format``), not per call.
    """
    messages = list(messages)
    if settings.response_format is ResponseFormat.json_object:
        messages[0] = {**messages[0], "content": messages[0]["content"] + schema_instruction(model)}
    params: dict[str, Any] = {"model": settings.model, "temperature": settings.temperature}
    if settings.max_tokens:
        params["max_tokens"] = settings.max_tokens
    params["messages"] = messages
    # Keys in sorted order, as _canonical writes them; response_format spliced in pre-serialised.
    parts = [f'"{k}":{_canonical(v)}' for k, v in sorted(params.items())]
    parts.insert(sum(k < "response_format" for k in params),
                 f'"response_format":{_canonical_format(model, settings.response_format)}')
    content = ("{" + ",".join(parts) + "}").encode("utf-8")
    body = {**params, "response_format": response_format_param(model, settings.response_format)}
    return PreparedRequest(body, content, hashlib.sha256(content).hexdigest()[:32])


class ReplyStore:
    """One JSON file per reply under ``root/responses``; only replies that validated are put here."""

    def __init__(self, root: Path, source: str = "recorded", imitates_model: str | None = None,
                 note: str | None = None, provenance: dict[str, Any] | None = None) -> None:
        self.dir = Path(root) / "responses"
        self.source = source
        self.imitates_model = imitates_model
        self.note = note
        self.provenance = provenance   # what produced a recorded reply: model file, hash, server parameters

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The saved reply, or None — also for a damaged file or one that is not a usable completion."""
        try:
            reply = json.loads(self.path(key).read_text(encoding="utf-8"))["response"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return reply if completion_problem(reply) is None else None

    def evict(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def put(self, key: str, body: dict[str, Any], context: str | None, response: dict[str, Any]) -> None:
        record: dict[str, Any] = {
            "key": key,
            "source": self.source,
            "context": context,
            "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "request": {
                "model": body.get("model"),
                "response_format": (body.get("response_format") or {}).get("type"),
                "params": {k: v for k, v in body.items() if k not in ("model", "messages", "response_format")},
                "messages_sha256": hashlib.sha256(json.dumps(body.get("messages"), ensure_ascii=False)
                                                  .encode()).hexdigest(),
            },
            "response": response,
        }
        if self.provenance:
            record["provenance"] = self.provenance
        if self.imitates_model:
            record["imitates_model"] = self.imitates_model
        if self.note:
            record["note"] = self.note
        data = json.dumps(record, ensure_ascii=False, indent=1)   # written at once, not a write per token
        # A temporary name of its own (processes and tasks may save the same key at once),
        # then an atomic rename: a killed run never leaves half a file, nor takes another's.
        try:
            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=f".{key}.", suffix=".tmp")
        except FileNotFoundError:   # the first reply: the folder is made once, not checked on every put
            self.dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=f".{key}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def completion_problem(reply: Any) -> str | None:
    """Why a reply body is not a usable chat completion, or None if it is one.

    Only the shape that ``interpret_reply`` relies on is required, so lenient
    OpenAI-compatible servers (llama.cpp, Ollama, vLLM) still pass.
    """
    if not isinstance(reply, dict):
        return f"the reply is a JSON {type(reply).__name__}, not an object"
    choices = reply.get("choices")
    if not choices and reply.get("error"):
        error = reply["error"]
        message = error.get("message") if isinstance(error, dict) else error
        return f"the server answered 200 with an error object: {message}"
    if not isinstance(choices, list) or not choices:
        return "the reply has no choices"
    choice = choices[0]
    if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
        return "the reply's first choice has no message"
    message = choice["message"]
    for name in ("content", "refusal"):
        if not isinstance(message.get(name), (str, type(None))):
            return f"the reply's message {name} is not text"
    if not isinstance(choice.get("finish_reason"), (str, type(None))):
        return "the reply's finish_reason is not text"
    return None


class CachingTransport(httpx.AsyncBaseTransport):
    """Serve saved replies; pass misses on to the real transport.

    It never saves: ``structured_call`` puts a reply in the store once it has
    validated, so a malformed or invalid reply is never served again.
    """

    def __init__(self, store: ReplyStore, mode: Mode, inner: httpx.AsyncBaseTransport | None = None,
                 connections: int = 16) -> None:
        self.store = store
        self.mode = mode
        # The pools that really connect: their limits, not the outer client's, decide how many
        # connections stay open (httpx's default keeps 20 alive: at -j 64, 960 of 1,024 calls
        # reconnected).  httpcore scans every connection of a pool on every request, which cost
        # more CPU than the rest of a call at -j 64, so the connections are split into pools of
        # at most POOL_SIZE and each request goes to the least busy pool.
        if inner is not None:
            self.pools = [inner]
        else:
            n = max(1, -(-connections // POOL_SIZE))
            per = -(-connections // n)
            tls = httpx.create_ssl_context()   # loading the CA bundle once, not once per pool (15 ms each)
            self.pools = [httpx.AsyncHTTPTransport(verify=tls, limits=httpx.Limits(
                max_connections=per, max_keepalive_connections=per)) for _ in range(n)]
        self.busy = [0] * len(self.pools)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # prepare_request computed the key once and sent it along; other callers get it computed here
        key = request.headers.get(KEY_HEADER) or request_key(json.loads(request.content or b"{}"))
        refresh = request.headers.get(CACHE_HEADER) == "refresh"
        cached = self.store.get(key) if self.mode is not Mode.record and not refresh else None
        if cached is not None:
            return httpx.Response(200, json=cached, headers={CACHE_HEADER: "hit", KEY_HEADER: key}, request=request)
        context = request.headers.get(CONTEXT_HEADER)
        if self.mode is Mode.replay:
            return httpx.Response(404, json={"error": {"message": f"no saved reply for {context} (key {key})",
                                                       "type": "replay_miss"}},
                                  headers={MISS_HEADER: key}, request=request)
        i = min(range(len(self.pools)), key=self.busy.__getitem__)
        self.busy[i] += 1
        try:
            response = await self.pools[i].handle_async_request(request)
        finally:
            self.busy[i] -= 1
        response.headers[KEY_HEADER] = key
        return response

    async def aclose(self) -> None:
        for pool in self.pools:
            await pool.aclose()


# --- calling ------------------------------------------------------------------------------

class ReplayMissError(LookupError):
    pass


class BadResponse(Exception):
    """A 200 whose body is not a well-formed chat completion; retried like a 429."""

    def __init__(self, problem: str, body: str) -> None:
        super().__init__(problem)
        self.body = body


Status = Literal["ok", "refused", "truncated", "content_filter", "invalid", "bad_response", "timeout",
                 "too_large", "error"]


@dataclass
class CallResult:
    """What one structured request produced, including how it went."""

    status: Status
    parsed: BaseModel | None
    raw_reply: str | None
    error: str | None = None
    calls: int = 0              # HTTP calls that reached the API
    cache_hits: int = 0
    reasks: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0      # of prompt_tokens, served from the provider's prompt cache
    latency_ms: int = 0
    request_key: str | None = None
    usage: list[Usage] = field(default_factory=list)   # one per call that reached the API (paid for)


@dataclass(frozen=True)
class Usage:
    """What one call that reached the API was billed for, as the server reported it."""

    key: str
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int


def _transient(exc: BaseException) -> bool:
    """429, 408, 409, 5xx, timeouts, dropped connections and malformed 200s are worth another try; 4xx are not."""
    import openai
    if isinstance(exc, (openai.APIConnectionError, BadResponse)):  # includes APITimeoutError
        return True
    return isinstance(exc, openai.APIStatusError) and (exc.status_code in (408, 409, 429) or exc.status_code >= 500)


def retry_after_seconds(exc: BaseException | None) -> float | None:
    response = getattr(exc, "response", None)
    if response is None:
        return None
    headers = response.headers
    if headers.get("retry-after-ms"):
        try:
            return float(headers["retry-after-ms"]) / 1000
        except ValueError:
            return None
    value = headers.get("retry-after")
    if value:
        try:
            return float(value)
        except ValueError:
            from email.utils import parsedate_to_datetime
            try:
                return max(0.0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
            except (TypeError, ValueError):
                return None
    return None


class _Wait:
    """Exponential back-off with jitter, or the server's Retry-After when it gives one."""

    def __init__(self, cap: float) -> None:
        self.cap = cap
        self.exp = wait_exponential_jitter(initial=1, max=cap, jitter=1)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hinted = retry_after_seconds(exc)
        if hinted is not None:
            return min(self.cap, hinted + random.uniform(0, 0.25))
        return self.exp(state)


@dataclass
class LLMClient:
    """The caching transport chat completions go through, the store validated replies go into,
    and the openai client (for its endpoint, key and error types, and the Batch API's calls)."""

    api: openai.AsyncOpenAI
    store: ReplyStore
    mode: Mode
    transport: CachingTransport
    url: httpx.URL
    headers: dict[str, str]
    timeout: dict[str, float | None]
    # One thread writes the validated replies to the store, one after another: a thread per put from
    # asyncio's pool ran several file creations and fsyncs at once, which cost more CPU than they saved.
    saver: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="gkextract-saver"))

    async def save(self, key: str, body: dict[str, Any], context: str | None, reply: dict[str, Any]) -> None:
        """Put a validated reply in the store, in the saver thread (the event loop goes on meanwhile).

        Shielded: a task cancelled (Ctrl-C, its deadline) while its reply waits for the thread still
        gets it saved, as a put already running in a thread always was; ``aclose`` waits for it.
        """
        await asyncio.shield(asyncio.get_running_loop().run_in_executor(
            self.saver, self.store.put, key, body, context, reply))

    async def aclose(self) -> None:
        try:
            await self.api.close()
        finally:
            self.saver.shutdown(wait=True)


def make_client(settings: LLMSettings, transport: httpx.AsyncBaseTransport | None = None,
                store: ReplyStore | None = None) -> LLMClient:
    """An AsyncOpenAI client whose HTTP goes through the reply store.

    The client's own retries are off: tenacity retries, so a failure is not retried twice over.
    """
    import openai
    store = store or ReplyStore(settings.cache_dir)
    # Connections follow --concurrency (a worker's retry may overlap its old request's close).
    caching = CachingTransport(store, settings.mode, transport, connections=settings.concurrency + 4)
    http = httpx.AsyncClient(transport=caching, timeout=settings.timeout)
    key = settings.api_key
    if not key and is_local_url(settings.base_url):
        key = "local-server-needs-no-key"
    if not key:
        if settings.mode is not Mode.replay:
            raise RuntimeError("no API key: set OPENAI_API_KEY or api_key in the config file "
                               "(or use --mode replay)")
        key = "replay-needs-no-key"
    register_secret(key)
    api = openai.AsyncOpenAI(api_key=key, base_url=settings.base_url, max_retries=0,
                             timeout=settings.timeout, http_client=http)
    return LLMClient(api, store, settings.mode, caching, httpx.URL(str(api.base_url)).join("chat/completions"),
                     {"authorization": f"Bearer {key}", "content-type": "application/json",
                      "accept": "application/json", "user-agent": f"gkextract/{__version__}"},
                     httpx.Timeout(settings.timeout).as_dict())


def _count(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else 0


def reply_usage(reply: dict[str, Any]) -> tuple[int, int, int]:
    """(prompt, cached, completion) tokens of a reply, 0 where a server sent none or not a count.

    Cached tokens are OpenAI's ``usage.prompt_tokens_details.cached_tokens``
    (DeepSeek says ``prompt_cache_hit_tokens``); they are part of the prompt tokens.
    """
    u = reply.get("usage") if isinstance(reply, dict) else None
    if not isinstance(u, dict):
        return 0, 0, 0
    details = u.get("prompt_tokens_details")
    cached = _count(details.get("cached_tokens")) if isinstance(details, dict) else _count(
        u.get("prompt_cache_hit_tokens"))
    prompt = _count(u.get("prompt_tokens"))
    return prompt, min(cached, prompt), _count(u.get("completion_tokens"))


@lru_cache(maxsize=None)
def response_format_param(model: type[BaseModel], kind: ResponseFormat) -> dict[str, Any]:
    """The ``response_format`` body, built once per schema.

    ``chat.completions.parse`` rebuilds the strict schema and re-transforms the
    body on every call — 13 ms of CPU that capped throughput at 56 % of ideal
    (bench/bench_extract.py) — so the same strict json_schema is sent through
    ``create`` and the reply validated here with the same pydantic model.
    """
    if kind is ResponseFormat.json_object:
        return {"type": "json_object"}
    from openai.lib._parsing._completions import type_to_response_format_param
    return dict(type_to_response_format_param(model))  # type: ignore[arg-type]


def schema_instruction(model: type[BaseModel]) -> str:
    """For json_object servers: the schema goes into the prompt instead of response_format."""
    schema = response_format_param(model, ResponseFormat.json_schema)["json_schema"]["schema"]
    return ("\n\n只输出一个 JSON 对象，不要输出任何其他文字。它必须符合下面的 JSON Schema：\n"
            + json.dumps(schema, ensure_ascii=False))


async def structured_call(client: LLMClient, settings: LLMSettings, messages: list[dict[str, str]],
                          model: type[BaseModel], context: str, refresh: bool = False) -> CallResult:
    """One extraction, validated before it is trusted or cached.

    The one loop: send (transient errors and malformed 200s retried, at most
    ``max_retries`` times), interpret (refusal, truncation, filter, schema),
    re-ask an invalid reply with its error (at most ``max_reasks`` times), and
    save a reply to the store only once it validated.  A saved reply that no
    longer validates is dropped and asked again.  Everything runs under the
    request's deadline, so a hanging server costs ``settings.deadline``, not
    ``max_retries × timeout``.  Never raises for anything the server does.
    """
    import openai
    result = CallResult("error", None, None)
    messages = list(messages)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(settings.deadline):
            while True:
                request = prepare_request(settings, messages, model)
                sent = await _send(client, settings, request, context, result, refresh)
                pt, cached, ct = reply_usage(sent.reply)
                result.prompt_tokens += pt
                result.cached_tokens += cached
                result.completion_tokens += ct
                if not sent.cached:   # a saved reply costs nothing now: only calls that reached the API are billed
                    result.usage.append(Usage(request.key, pt, cached, ct))
                outcome = interpret_reply(sent.reply, model)
                result.raw_reply = outcome.raw
                if outcome.status != "ok" and sent.cached and client.mode is Mode.live:
                    client.store.evict(request.key)   # saved before replies were validated: ask again
                    refresh = True
                    continue
                if outcome.status == "ok" and not sent.cached and client.mode is not Mode.replay:
                    # fsync in the saver thread: the event loop keeps serving the other requests meanwhile,
                    # and the request's task goes on only once its reply is safe (a kill -9 loses no paid reply)
                    await client.save(request.key, request.body, context, sent.reply)
                if outcome.status == "invalid" and result.reasks < settings.max_reasks:
                    result.reasks += 1
                    messages = messages + [
                        {"role": "assistant", "content": outcome.raw or ""},
                        {"role": "user", "content": "上面的回复没有通过校验，错误如下：\n" + (outcome.error or "")[:1500]
                         + "\n请改正后重新输出完整的 JSON 对象，只输出 JSON。"},
                    ]
                    continue
                result.status, result.parsed, result.error = outcome.status, outcome.parsed, outcome.error
                break
    except TimeoutError:
        result.status = "timeout"
        result.error = (f"no usable reply within the deadline of {settings.deadline:g} s "
                        f"(timeout {settings.timeout:g} s per request, {result.retries} retries)")
    except BadResponse as e:
        result.status, result.error, result.raw_reply = "bad_response", str(e), clip(e.body)
    except ReplayMissError as e:
        result.status, result.error = "error", str(e)
    except openai.APIError as e:
        result.status, result.error = "error", f"{type(e).__name__}: {e}"
    result.error, result.raw_reply = redact(clip(result.error)), redact(result.raw_reply)
    result.latency_ms = int((time.perf_counter() - started) * 1000)
    return result


@dataclass
class _Outcome:
    status: Status
    parsed: BaseModel | None
    raw: str | None
    error: str | None = None


@dataclass
class _Sent:
    """A well-formed completion, and whether the store served it."""

    reply: dict[str, Any]
    cached: bool


async def _post(client: LLMClient, content: bytes, headers: dict[str, str]) -> httpx.Response:
    """POST the prepared body straight to the transport, failing the way the openai client fails.

    The SDK's request machinery and httpx's client layer (auth flow, redirects,
    cookies, hooks) cost about as much CPU as the rest of a call; a chat
    completion needs none of it.  Errors are the SDK's own types (RateLimitError,
    APITimeoutError …), so retrying treats them as before.
    """
    import openai
    request = httpx.Request("POST", client.url, headers={**client.headers, **headers}, content=content,
                            extensions={"timeout": client.timeout})
    try:
        response = await client.transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
    except httpx.TimeoutException:
        raise openai.APITimeoutError(request=request) from None
    except httpx.TransportError as e:
        raise openai.APIConnectionError(message=f"connection error: {type(e).__name__}: {e}",
                                        request=request) from None
    response.request = request
    if response.status_code >= 400:
        raise client.api._make_status_error_from_response(response)
    return response


async def _send(client: LLMClient, settings: LLMSettings, request: PreparedRequest, context: str,
                result: CallResult, refresh: bool) -> _Sent:
    """Send the prepared body as it is, retrying what is worth retrying."""
    import openai
    headers = {CONTEXT_HEADER: context, KEY_HEADER: request.key, **({CACHE_HEADER: "refresh"} if refresh else {})}
    async for attempt in AsyncRetrying(retry=retry_if_exception(_transient), wait=_Wait(settings.max_wait),
                                       stop=stop_after_attempt(settings.max_retries + 1), reraise=True):
        with attempt:
            if attempt.retry_state.attempt_number > 1:
                result.retries += 1
            try:
                raw = await _post(client, request.content, headers)
            except openai.NotFoundError as e:
                if e.response.headers.get(MISS_HEADER):
                    raise ReplayMissError(f"replay: no saved reply for {context} "
                                          f"(key {e.response.headers[MISS_HEADER]}); "
                                          "record it with --mode record, or check model and prompt version"
                                          ) from None
                raise
            cached = raw.headers.get(CACHE_HEADER) == "hit"
            result.request_key = request.key
            reply = _well_formed(raw.content)
            result.cache_hits += cached
            result.calls += not cached
            return _Sent(reply, cached)
    raise AssertionError("unreachable")


def _well_formed(content: bytes) -> dict[str, Any]:
    """The body as a completion dict, or BadResponse saying what it is instead."""
    text = content.decode("utf-8", errors="replace")
    try:
        reply = json.loads(text)
    except ValueError:
        kind = "an HTML page" if text.lstrip()[:1] == "<" else "not JSON"
        raise BadResponse(f"the server answered 200, but the body is {kind}", text) from None
    problem = completion_problem(reply)
    if problem:
        raise BadResponse(problem, text)
    return reply


def interpret_reply(reply: dict[str, Any], model: type[BaseModel]) -> _Outcome:
    """Turn a well-formed completion into a status: ok, refused, truncated, content_filter or invalid.

    The one judgement of a reply, for the online path and for batch results alike.
    ``reply`` passed ``completion_problem``, so its first choice and message are
    dicts whose content, refusal and finish_reason are text or None: they are
    read from the dicts as they are (building the SDK's models from them cost
    more than validating the content).
    """
    choice = reply["choices"][0]
    message = choice["message"]
    refusal, content, finish = message.get("refusal"), message.get("content"), choice.get("finish_reason")
    if refusal:
        return _Outcome("refused", None, refusal, f"the model refused: {refusal}")
    if finish == "length":
        return _Outcome("truncated", None, content, "the reply was cut off at the token limit")
    if finish == "content_filter":
        return _Outcome("content_filter", None, content, "the reply was stopped by the content filter")
    try:
        return _Outcome("ok", model.model_validate_json(content or ""), content)
    except ValidationError as e:
        return _Outcome("invalid", None, content, str(e))
