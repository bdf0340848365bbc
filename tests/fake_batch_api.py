"""A fake OpenAI Files and Batches API on 127.0.0.1: a real socket, in a thread.

It accepts an upload (multipart, purpose ``batch``), creates batches, answers
each ``GET /batches/{id}`` with the next status in ``statuses``, and once a
batch is ``completed`` (or ``expired``) serves its output and error files with
their lines shuffled.  ``outcome(custom_id, line_no)`` decides each request:
"ok" (the hand-written answer for its report and section), "error" (a 500 in the
error file), "expired" (``batch_expired`` in the error file) or "invalid" (a
reply that fails the schema).  ``drop`` names calls whose effect happens but
whose reply is lost (the connection is reset): a crash between the API's answer
and the client recording it.  Everything is logged for the tests.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import random
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fake_server import ISSUERS, completion, load_answers

Outcome = Callable[[str, int], str]


@dataclass
class Usage:
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int


@dataclass
class FakeBatchAPI:
    statuses: list[str] = field(default_factory=lambda: ["validating", "in_progress", "finalizing", "completed"])
    outcome: Outcome | None = None
    drop: set[str] = field(default_factory=set)       # "upload", "create": do it, then lose the reply (once each)
    seed: int = 3

    def __post_init__(self) -> None:
        self.answers = load_answers()
        self.files: dict[str, dict[str, Any]] = {}
        self.contents: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.polls: dict[str, int] = {}
        self.usage: dict[str, Usage] = {}             # what was billed, by custom_id, for ok replies
        self.log: list[tuple[str, str]] = []
        self.uploads = 0
        self.creates = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> FakeBatchAPI:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    # --- the API ----------------------------------------------------------------------------

    def _file(self, name: str, data: bytes, purpose: str) -> dict[str, Any]:
        fid = f"file-{len(self.files) + 1}"
        self.files[fid] = {"id": fid, "object": "file", "bytes": len(data), "created_at": 1767225600,
                           "filename": name, "purpose": purpose, "status": "processed"}
        self.contents[fid] = data
        return self.files[fid]

    def _answer(self, custom_id: str, body: dict[str, Any]) -> dict[str, Any]:
        user = body["messages"][-1]["content"]
        stem = next((s for s, issuer in ISSUERS.items() if issuer in user[:120]), "000_93a7fea9e9928630")
        section = "overview" if "总体情况" in user[:200] else "problems"
        reply = completion(self.answers[(stem, section)])
        system = body["messages"][0]["content"]
        usage = Usage(sum(len(m["content"]) for m in body["messages"]) // 2, len(system) // 2 // 128 * 128,
                      len(reply["choices"][0]["message"]["content"]) // 2)
        reply["usage"] = {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                          "total_tokens": usage.prompt_tokens + usage.completion_tokens,
                          "prompt_tokens_details": {"cached_tokens": usage.cached_tokens}}
        self.usage[custom_id] = usage
        return reply

    def _finish(self, batch: dict[str, Any]) -> None:
        """Write the output and error files of a batch, lines shuffled."""
        out, err = [], []
        lines = self.contents[batch["input_file_id"]].decode("utf-8").splitlines()
        for n, line in enumerate(lines, 1):
            req = json.loads(line)
            cid = req["custom_id"]
            kind = self.outcome(cid, n) if self.outcome else "ok"
            if kind == "ok":
                out.append({"id": f"batch_req_{n}", "custom_id": cid, "error": None,
                            "response": {"status_code": 200, "request_id": f"req_{n}",
                                         "body": self._answer(cid, req["body"])}})
            elif kind == "invalid":
                reply = completion('{"platforms": "not a list"}')
                self.usage[cid] = Usage(1000, 0, 200)
                out.append({"id": f"batch_req_{n}", "custom_id": cid, "error": None,
                            "response": {"status_code": 200, "request_id": f"req_{n}", "body": reply}})
            elif kind == "error":
                err.append({"id": f"batch_req_{n}", "custom_id": cid, "error": None,
                            "response": {"status_code": 500, "request_id": f"req_{n}",
                                         "body": {"error": {"message": "The server had an error",
                                                            "type": "server_error"}}}})
            else:
                err.append({"id": f"batch_req_{n}", "custom_id": cid, "response": None,
                            "error": {"code": "batch_expired", "message": "This request could not be executed "
                                      "before the completion window expired."}})
        rng = random.Random(self.seed)
        rng.shuffle(out)
        rng.shuffle(err)
        to_bytes = lambda items: "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items).encode()  # noqa: E731
        if out:
            batch["output_file_id"] = self._file(f"{batch['id']}_output.jsonl", to_bytes(out), "batch_output")["id"]
        if err:
            batch["error_file_id"] = self._file(f"{batch['id']}_error.jsonl", to_bytes(err), "batch_output")["id"]
        batch["request_counts"] = {"total": len(lines), "completed": len(out), "failed": len(err)}

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any, str]:
        """(status, body, what to do with the connection: "reply" or "drop")."""
        url = urlsplit(target)
        path = url.path.removeprefix("/v1")
        query = parse_qs(url.query)
        self.log.append((method, path))
        if method == "POST" and path == "/files":
            msg = email.message_from_bytes(b"Content-Type: " + headers["content-type"].encode() + b"\r\n\r\n" + raw,
                                           policy=email.policy.HTTP)
            parts = {p.get_param("name", header="content-disposition"): p for p in msg.iter_parts()}
            purpose = parts["purpose"].get_content()
            if purpose != "batch":
                return 400, {"error": {"message": f"purpose {purpose!r}: expected batch"}}, "reply"
            self.uploads += 1
            f = self._file(parts["file"].get_filename(), parts["file"].get_payload(decode=True), purpose)
            return 200, f, self._dropped("upload")
        if method == "GET" and path == "/files":
            data = [f for f in self.files.values() if f["purpose"] == query.get("purpose", ["batch"])[0]]
            return 200, {"object": "list", "data": data, "has_more": False}, "reply"
        if method == "GET" and path.startswith("/files/") and path.endswith("/content"):
            fid = path.split("/")[2]
            return 200, self.contents[fid], "reply"
        if method == "POST" and path == "/batches":
            body = json.loads(raw)
            if body.get("completion_window") != "24h" or body.get("endpoint") != "/v1/chat/completions":
                return 400, {"error": {"message": "bad completion_window or endpoint"}}, "reply"
            if body["input_file_id"] not in self.files:
                return 404, {"error": {"message": "no such file"}}, "reply"
            self.creates += 1
            bid = f"batch_{len(self.batches) + 1}"
            self.batches[bid] = {"id": bid, "object": "batch", "endpoint": body["endpoint"],
                                 "input_file_id": body["input_file_id"], "completion_window": "24h",
                                 "status": "validating", "created_at": 1767225600, "metadata": body.get("metadata"),
                                 "output_file_id": None, "error_file_id": None, "errors": None,
                                 "request_counts": {"total": 0, "completed": 0, "failed": 0}}
            self.polls[bid] = 0
            return 200, self.batches[bid], self._dropped("create")
        if method == "GET" and path == "/batches":
            return 200, {"object": "list", "data": list(self.batches.values()), "has_more": False}, "reply"
        if method == "GET" and path.startswith("/batches/"):
            bid = path.split("/")[2]
            batch = self.batches[bid]
            self.polls[bid] += 1
            status = self.statuses[min(self.polls[bid], len(self.statuses)) - 1]
            if status in ("completed", "expired") and batch["status"] != status:
                self._finish(batch)
            batch["status"] = status
            return 200, batch, "reply"
        return 404, {"error": {"message": f"no route {method} {path}"}}, "reply"

    def _dropped(self, what: str) -> str:
        if what in self.drop:
            self.drop.discard(what)
            return "drop"
        return "reply"

    # --- the asyncio side ---------------------------------------------------------------------

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
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
                method, target, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
                status, body, then = self.handle(method, target, headers, raw)
                if then == "drop":
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
                ctype = "application/octet-stream" if isinstance(body, bytes) else "application/json"
                writer.write((f"HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ncontent-length: {len(data)}\r\n\r\n"
                              ).encode() + data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()
