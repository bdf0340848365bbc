"""A fake OpenAI-compatible endpoint for tests: an httpx transport with scripted replies."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
ANSWERS = ROOT / "fixtures" / "llm" / "answers"
FLAWED = ROOT / "fixtures" / "llm" / "flawed"


def completion(content: str | None, finish_reason: str = "stop", refusal: str | None = None) -> dict:
    return {
        "id": "chatcmpl-test", "object": "chat.completion", "created": 1767225600, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": finish_reason, "logprobs": None,
                     "message": {"role": "assistant", "content": content, "refusal": refusal}}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200},
    }


def answer(stem: str, section: str, folder: Path = ANSWERS) -> str:
    env = json.loads((folder / f"{stem}.{section}.json").read_text(encoding="utf-8"))
    return json.dumps(env["answer"], ensure_ascii=False)


class FakeOpenAI(httpx.MockTransport):
    """Answers each request with ``reply(request_body, context)``; records every request."""

    def __init__(self, reply: Callable[[dict, str], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return reply(json.loads(request.content), request.headers.get("x-gkextract-context", ""))

        super().__init__(handler)


def ok(content: str) -> httpx.Response:
    return httpx.Response(200, json=completion(content))
