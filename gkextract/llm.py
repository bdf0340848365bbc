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
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from enum import Enum
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import openai
from openai.lib._parsing._completions import type_to_response_format_param
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ValidationError
from tenacity import (AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt,
                      wait_exponential_jitter)

CONTEXT_HEADER = "x-gkextract-context"   # report and section, for error messages; not part of the key
CACHE_HEADER = "x-gkextract-cache"
MISS_HEADER = "x-gkextract-replay-miss"


class Mode(str, Enum):
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
    explicit: frozenset[str] = field(default=frozenset(), repr=False, compare=False)  # set by config/env/option


def is_local_url(url: str | None) -> bool:
    """A server on this machine (Ollama, vLLM, llama-server, --local-model) needs no API key."""
    return bool(url) and (urlsplit(url).hostname or "") in {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


def load_settings(config: Path | None = None, **overrides: Any) -> LLMSettings:
    """Settings from a TOML config file, then the environment, then explicit overrides.

    Config keys: model, base_url, api_key, concurrency, response_format, timeout,
    max_retries, max_reasks.  Environment: OPENAI_API_KEY, OPENAI_BASE_URL,
    GKEXTRACT_MODEL, GKEXTRACT_CONCURRENCY, GKEXTRACT_RESPONSE_FORMAT.
    """
    values: dict[str, Any] = {}
    path = config or Path(os.environ.get("GKEXTRACT_CONFIG", Path.home() / ".config" / "gkextract" / "config.toml"))
    if path.is_file():
        with path.open("rb") as f:
            values.update(tomllib.load(f))
    elif config is not None:
        raise FileNotFoundError(f"config file not found: {config}")
    env = {"api_key": "OPENAI_API_KEY", "base_url": "OPENAI_BASE_URL", "model": "GKEXTRACT_MODEL",
           "concurrency": "GKEXTRACT_CONCURRENCY", "response_format": "GKEXTRACT_RESPONSE_FORMAT"}
    for key, var in env.items():
        if os.environ.get(var):
            values[key] = os.environ[var]
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = set(LLMSettings.__dataclass_fields__)
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown setting(s) in config: {', '.join(sorted(unknown))}")
    for key, conv in (("concurrency", int), ("timeout", float), ("max_retries", int), ("max_reasks", int)):
        if key in values:
            values[key] = conv(values[key])
    if "mode" in values:
        values["mode"] = Mode(values["mode"])
    if "response_format" in values:
        values["response_format"] = ResponseFormat(values["response_format"])
    if "cache_dir" in values:
        values["cache_dir"] = Path(values["cache_dir"])
    return LLMSettings(**values, explicit=frozenset(values))


# --- the reply store ---------------------------------------------------------------------

def request_key(body: dict[str, Any]) -> str:
    """Hash of what determines the answer: model, messages, schema, parameters."""
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


class ReplyStore:
    """One JSON file per reply under ``root/responses``."""

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
        p = self.path(key)
        if not p.is_file():
            return None
        return json.loads(p.read_text(encoding="utf-8"))["response"]

    def put(self, key: str, body: dict[str, Any], context: str | None, response: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
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
        tmp = self.path(key).with_suffix(".tmp")
        tmp.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(self.path(key))  # atomic: a killed run never leaves half a file


def _complete(reply: dict[str, Any]) -> bool:
    choices = reply.get("choices") or [{}]
    return choices[0].get("finish_reason") == "stop" and not (choices[0].get("message") or {}).get("refusal")


class CachingTransport(httpx.AsyncBaseTransport):
    """Serve saved replies; pass misses on to the real transport and save what comes back."""

    def __init__(self, store: ReplyStore, mode: Mode, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.store = store
        self.mode = mode
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        key = request_key(body)
        cached = self.store.get(key) if self.mode is not Mode.record else None
        if cached is not None:
            return httpx.Response(200, json=cached, headers={CACHE_HEADER: "hit"}, request=request)
        context = request.headers.get(CONTEXT_HEADER)
        if self.mode is Mode.replay:
            return httpx.Response(404, json={"error": {"message": f"no saved reply for {context} (key {key})",
                                                       "type": "replay_miss"}},
                                  headers={MISS_HEADER: key}, request=request)
        response = await self.inner.handle_async_request(request)
        if response.status_code == 200:
            data = await response.aread()
            reply = json.loads(data)
            if _complete(reply):  # a refused or cut-off reply is not worth keeping: a re-run may do better
                self.store.put(key, body, context, reply)
            return httpx.Response(200, content=data, headers={"content-type": "application/json"},
                                  request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


# --- calling ------------------------------------------------------------------------------

class ReplayMissError(LookupError):
    pass


Status = Literal["ok", "refused", "truncated", "content_filter", "invalid", "error"]


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
    latency_ms: int = 0
    request_key: str | None = None


def _transient(exc: BaseException) -> bool:
    """429, 408, 409, 5xx, timeouts and dropped connections are worth another try; 4xx are not."""
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
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


def make_client(settings: LLMSettings, transport: httpx.AsyncBaseTransport | None = None,
                store: ReplyStore | None = None) -> openai.AsyncOpenAI:
    """An AsyncOpenAI client whose HTTP goes through the reply store.

    The client's own retries are off: tenacity retries, so a failure is not retried twice over.
    """
    caching = CachingTransport(store or ReplyStore(settings.cache_dir), settings.mode, transport)
    http = httpx.AsyncClient(transport=caching, timeout=settings.timeout,
                             limits=httpx.Limits(max_connections=max(10, settings.concurrency * 2)))
    key = settings.api_key
    if not key and is_local_url(settings.base_url):
        key = "local-server-needs-no-key"
    if not key:
        if settings.mode is not Mode.replay:
            raise RuntimeError("no API key: set OPENAI_API_KEY or api_key in the config file "
                               "(or use --mode replay)")
        key = "replay-needs-no-key"
    return openai.AsyncOpenAI(api_key=key, base_url=settings.base_url, max_retries=0,
                              timeout=settings.timeout, http_client=http)


def _usage(completion: Any) -> tuple[int, int]:
    u = getattr(completion, "usage", None)
    return (getattr(u, "prompt_tokens", 0) or 0, getattr(u, "completion_tokens", 0) or 0) if u else (0, 0)


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
    return dict(type_to_response_format_param(model))  # type: ignore[arg-type]


def schema_instruction(model: type[BaseModel]) -> str:
    """For json_object servers: the schema goes into the prompt instead of response_format."""
    schema = response_format_param(model, ResponseFormat.json_schema)["json_schema"]["schema"]
    return ("\n\n只输出一个 JSON 对象，不要输出任何其他文字。它必须符合下面的 JSON Schema：\n"
            + json.dumps(schema, ensure_ascii=False))


async def structured_call(client: openai.AsyncOpenAI, settings: LLMSettings, messages: list[dict[str, str]],
                          model: type[BaseModel], context: str) -> CallResult:
    """One extraction: retries for transient errors, re-asks for invalid replies."""
    result = CallResult("error", None, None)
    messages = list(messages)
    if settings.response_format is ResponseFormat.json_object:
        messages[0] = {**messages[0], "content": messages[0]["content"] + schema_instruction(model)}
    params: dict[str, Any] = {"model": settings.model, "temperature": settings.temperature,
                              "response_format": response_format_param(model, settings.response_format)}
    if settings.max_tokens:
        params["max_tokens"] = settings.max_tokens
    started = time.perf_counter()
    try:
        while True:
            completion, cached = await _send(client, settings, {**params, "messages": messages}, context, result)
            result.cache_hits += cached
            result.calls += not cached
            pt, ct = _usage(completion)
            result.prompt_tokens += pt
            result.completion_tokens += ct
            outcome = _interpret(completion, model)
            result.raw_reply = outcome.raw
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
    except ReplayMissError as e:
        result.status, result.error = "error", str(e)
    except openai.APIError as e:
        result.status, result.error = "error", f"{type(e).__name__}: {e}"
    result.latency_ms = int((time.perf_counter() - started) * 1000)
    return result


@dataclass
class _Outcome:
    status: Status
    parsed: BaseModel | None
    raw: str | None
    error: str | None = None


async def _send(client: openai.AsyncOpenAI, settings: LLMSettings, params: dict[str, Any], context: str,
                result: CallResult) -> tuple[ChatCompletion, bool]:
    async for attempt in AsyncRetrying(retry=retry_if_exception(_transient), wait=_Wait(settings.max_wait),
                                       stop=stop_after_attempt(settings.max_retries + 1), reraise=True):
        with attempt:
            if attempt.retry_state.attempt_number > 1:
                result.retries += 1
            try:
                raw = await client.chat.completions.with_raw_response.create(
                    **params, extra_headers={CONTEXT_HEADER: context})
            except openai.NotFoundError as e:
                if e.response.headers.get(MISS_HEADER):
                    raise ReplayMissError(f"replay: no saved reply for {context} "
                                          f"(key {e.response.headers[MISS_HEADER]}); "
                                          "record it with --mode record, or check model and prompt version"
                                          ) from None
                raise
            result.request_key = request_key(json.loads(raw.http_request.content))
            return raw.parse(), raw.headers.get(CACHE_HEADER) == "hit"
    raise AssertionError("unreachable")


def _interpret(completion: ChatCompletion, model: type[BaseModel]) -> _Outcome:
    """Turn a completion into a status: ok, refused, truncated, content_filter or invalid."""
    choice = completion.choices[0]
    message = choice.message
    if getattr(message, "refusal", None):
        return _Outcome("refused", None, message.refusal, f"the model refused: {message.refusal}")
    if choice.finish_reason == "length":
        return _Outcome("truncated", None, message.content, "the reply was cut off at the token limit")
    if choice.finish_reason == "content_filter":
        return _Outcome("content_filter", None, message.content, "the reply was stopped by the content filter")
    try:
        return _Outcome("ok", model.model_validate_json(message.content or ""), message.content)
    except ValidationError as e:
        return _Outcome("invalid", None, message.content, str(e))
