"""A scriptable fake OpenAI-compatible server on 127.0.0.1: a real socket, in a thread.

Unlike the MockTransport in fake_openai.py, requests go through the whole
client stack (httpx connection pool, sockets, timeouts), and a `gkextract`
subprocess can use it through ``--base-url``.  A script decides each answer
from the request's context ("report <id> section <kind>") and how many times
that context was asked; the default answers every section with its
hand-written reply (fixtures/llm/answers, found by the issuer named in the
prompt).  Every request is logged, so tests and bench/bench_faults.py count
what a run really paid for.

    with FakeServer(script) as server:
        ... --base-url server.url ...
        server.log  # [Request(context, attempt, action, answered)]
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ANSWERS = ROOT / "fixtures" / "llm" / "answers"
# Which sample a report comes from, by the issuer the prompt names (generated reports keep it).
ISSUERS = {"000_93a7fea9e9928630": "保德县", "001_dcba8a3c48a24b57": "盐池县", "002_a08c52f4e01fde1f": "竞秀区",
           "003_7092e0e970d24238": "遂平县", "004_0e1c1bc522329e1b": "关岭"}


def completion(content: str | None, finish_reason: str = "stop", refusal: str | None = None) -> dict:
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 1767225600, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": finish_reason, "logprobs": None,
                     "message": {"role": "assistant", "content": content, "refusal": refusal}}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200},
    }


def load_answers() -> dict[tuple[str, str], str]:
    return {(p.name.split(".")[0], p.name.split(".")[1]):
            json.dumps(json.loads(p.read_text(encoding="utf-8"))["answer"], ensure_ascii=False)
            for p in ANSWERS.glob("*.json")}


# --- what the server does with one request --------------------------------------------------

@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None                 # dict/list → JSON; str/bytes → sent as is
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    kind: str = "reply"


@dataclass(frozen=True)
class Reset:
    """Close the connection with a TCP reset instead of answering."""
    kind: str = "reset"


@dataclass(frozen=True)
class Hang:
    """Accept the request and never answer."""
    kind: str = "hang"


Action = Reply | Reset | Hang


@dataclass
class Request:
    context: str
    attempt: int                     # 1 for the first request with this context
    body: dict
    action: str = ""
    answered: bool = False           # the whole reply was written to the socket

    @property
    def section(self) -> str:
        """"overview" or "problems" (a split section's parts add " part i/n" to the context)."""
        return self.context.partition(" section ")[2].split(" ")[0]


Script = Callable[[Request], Action | None]   # None: the normal answer


class FakeServer:
    def __init__(self, script: Script | None = None, latency: float = 0.0) -> None:
        self.script = script
        self.latency = latency
        self.answers = load_answers()
        self.log: list[Request] = []
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> FakeServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def requests_for(self, context_part: str) -> list[Request]:
        return [r for r in self.log if context_part in r.context]

    def normal(self, request: Request) -> Reply:
        user = request.body["messages"][-1]["content"]
        stem = next((s for s, issuer in ISSUERS.items() if issuer in user[:120]), "000_93a7fea9e9928630")
        return Reply(body=completion(self.answers[(stem, request.section)]))

    # --- the asyncio side -----------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=256)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop.wait()
        server.close()
        for task in asyncio.all_tasks() - {asyncio.current_task()}:
            task.cancel()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
                context = headers.get("x-gkextract-context", "").encode("latin-1").decode("utf-8")
                with self._lock:
                    self._counts[context] += 1
                    request = Request(context, self._counts[context], json.loads(raw))
                    self.log.append(request)
                action = (self.script(request) if self.script else None) or self.normal(request)
                request.action = action.kind
                if self.latency:
                    await asyncio.sleep(self.latency)
                if isinstance(action, Hang):
                    await asyncio.sleep(3600)
                if isinstance(action, Reset):
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                assert isinstance(action, Reply)
                body = action.body
                data = (json.dumps(body, ensure_ascii=False).encode() if isinstance(body, (dict, list))
                        else body.encode() if isinstance(body, str) else body or b"")
                out = [f"HTTP/1.1 {action.status} X", f"content-type: {action.content_type}",
                       f"content-length: {len(data)}", *(f"{k}: {v}" for k, v in action.headers.items())]
                writer.write(("\r\n".join(out) + "\r\n\r\n").encode() + data)
                await writer.drain()
                request.answered = True
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()
