"""Extract-stage throughput against a local fake OpenAI-compatible server on loopback.

The server answers every chat completion after a fixed latency (default 300 ms)
with the hand-written answer for that report and section, optionally injecting
429s and 500s.  It bills real o200k tokens (gkextract.tokens; characters when
o200k is unavailable) and imitates OpenAI's prompt cache: a request whose first
message it has seen before gets that message's tokens, rounded down to 128 and
only from 1,024 on, back as ``cached_tokens``.  Prints throughput against the
ideal ``concurrency / latency``, the client's CPU per call (all its threads, and
the part on the event loop's thread, which caps throughput), the TCP connections
the server accepted, the cacheable share of the prompt, the cost, and prompt
tokens per report against sending the whole report in one call.
Not a test.  Usage:

    python bench/bench_extract.py [--reports 256] [--concurrency 16] [--latency 0.3] [--errors 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import multiprocessing as mp
import random
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gkextract import tokens
from gkextract.ingest import ingest_paths
from gkextract.llm import LLMSettings, Mode
from gkextract.narrative import build_messages, extract_reports, load_prompt
from gkextract.pricing import DEFAULT_PRICES, cost_rows
from gkextract.store import open_db

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from bench_ingest import generate  # noqa: E402

# Which sample a generated report came from, by the issuer named in the request.
ISSUERS = {"000_93a7fea9e9928630": "保德县", "001_dcba8a3c48a24b57": "盐池县", "002_a08c52f4e01fde1f": "竞秀区",
           "003_7092e0e970d24238": "遂平县", "004_0e1c1bc522329e1b": "关岭"}


def cached_prefix(tokens_of_first_message: int) -> int:
    """OpenAI's prompt cache: prefixes of 1,024 tokens or more, in steps of 128."""
    return 0 if tokens_of_first_message < 1024 else tokens_of_first_message // 128 * 128


def serve(latency: float, error_rate: float, answers: dict[tuple[str, str], dict], port_out: "mp.Queue[int]",
          stats: "mp.Queue[int]") -> None:
    """A minimal asyncio HTTP/1.1 server in its own process (no GIL shared with the client).

    Python's ThreadingHTTPServer added ~80 ms per request at this concurrency and
    would have measured itself instead of gkextract.
    """
    rng = random.Random(7)
    seen: set[str] = set()        # first messages already served: the prompt cache
    connections = 0
    served = 0
    count = functools.lru_cache(maxsize=64)(tokens.count)   # the static prompts and answers: counted once

    def reply(headers: dict[str, str], body: dict) -> tuple[int, dict, dict[str, str]]:
        roll = rng.random()
        if roll < error_rate / 2:
            return 429, {"error": {"message": "rate limited"}}, {"retry-after": "0.2"}
        if roll < error_rate:
            return 500, {"error": {"message": "server error"}}, {}
        section = headers["x-gkextract-context"].split()[-1]
        messages = body["messages"]
        # the schema is cached with the system prompt, as the prefix of every request of its section
        schema = json.dumps(body.get("response_format"), ensure_ascii=False)
        first = messages[0]["content"] + schema
        static = count(messages[0]["content"]) + count(schema)
        cached = cached_prefix(static) if first in seen else 0
        prompt = static + sum(tokens.count(m["content"]) for m in messages[1:]) + 3 * len(messages) + 3
        seen.add(first)
        user = messages[-1]["content"]
        stem = next((s for s, issuer in ISSUERS.items() if issuer in user[:80]), "000_93a7fea9e9928630")
        content = json.dumps(answers[(stem, section)], ensure_ascii=False)
        completion = count(content)
        return 200, {
            "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content, "refusal": None}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                      "prompt_tokens_details": {"cached_tokens": cached}}}, {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        stats.put(("connections", connections, 0.0))
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
                await asyncio.sleep(latency)
                code, obj, extra = reply({k: v.encode("latin-1").decode("utf-8") for k, v in headers.items()},
                                         json.loads(raw))
                data = json.dumps(obj, ensure_ascii=False).encode()
                out = [f"HTTP/1.1 {code} X", "content-type: application/json", f"content-length: {len(data)}"]
                out += [f"{k}: {v}" for k, v in extra.items()]
                writer.write(("\r\n".join(out) + "\r\n\r\n").encode() + data)
                await writer.drain()
                nonlocal served
                served += 1
                if served % 64 == 0:
                    stats.put(("cpu", served, time.process_time()))
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def run() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=512)
        port_out.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(run())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=256)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--latency", type=float, default=0.3)
    ap.add_argument("--errors", type=float, default=0.0, help="share of replies that are 429 or 500")
    args = ap.parse_args()

    answers_dir = ROOT / "fixtures" / "llm" / "answers"
    answers = {(p.name.split(".")[0], p.name.split(".")[1]): json.loads(p.read_text(encoding="utf-8"))["answer"]
               for p in answers_dir.glob("*.json")}
    ports: mp.Queue[int] = mp.Queue()
    stats: mp.Queue[int] = mp.Queue()
    server = mp.Process(target=serve, args=(args.latency, args.errors, answers, ports, stats), daemon=True)
    server.start()
    base_url = f"http://127.0.0.1:{ports.get(timeout=10)}/v1"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "reports"
        folder.mkdir()
        generate(args.reports, folder)
        db = open_db(Path(tmp) / "bench.db")
        ingest_paths(db, [folder])
        settings = LLMSettings(mode=Mode.live, base_url=base_url, api_key="sk-bench", cache_dir=Path(tmp) / "cache",
                               concurrency=args.concurrency, max_wait=1.0)
        t0, cpu0, loop0 = time.perf_counter(), time.process_time(), time.thread_time()
        s = extract_reports(db, settings)    # its event loop runs in this thread
        elapsed, cpu, loop_cpu = time.perf_counter() - t0, time.process_time() - cpu0, time.thread_time() - loop0
        connections, server_cpu = 0, (0, 0.0)
        while not stats.empty():
            kind, n, cpu_s = stats.get()
            if kind == "connections":
                connections = max(connections, n)
            else:
                server_cpu = max(server_cpu, (n, cpu_s))
        costs = cost_rows(db, DEFAULT_PRICES)

        mean_latency = db.execute("SELECT avg(latency_ms) FROM extractions").fetchone()[0] / 1000
        # Tokens: two section calls per report against one call with the whole report
        # (that call would need both sections' instructions).
        instructions = tokens.count(load_prompt("problems").text)
        whole = []
        for issuer, year, text in db.execute("SELECT issuer, year, text FROM reports"):
            msgs = build_messages(load_prompt("overview"), issuer, year, "全文", text)
            whole.append(tokens.message_tokens(msgs) + instructions)
        static = [tokens.count(load_prompt(k).text) for k in ("overview", "problems")]
    server.terminate()

    requests = s.calls + s.retries
    ideal = args.concurrency / args.latency
    rate = requests / elapsed
    t = Table(title=f"extract: {args.reports} reports, concurrency {args.concurrency}, "
                    f"latency {args.latency * 1000:.0f} ms, injected errors {args.errors:.0%}")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_row("sections extracted", f"{s.sections - len(s.failures)} / {s.sections}")
    t.add_row("HTTP requests (incl. retries)", f"{requests} ({s.retries} retries)")
    t.add_row("wall time", f"{elapsed:.2f} s")
    t.add_row("throughput", f"{rate:.1f} requests/s")
    t.add_row("ideal (concurrency / latency)", f"{ideal:.1f} requests/s")
    t.add_row("share of ideal", f"{rate / ideal:.0%}")
    t.add_row("mean latency seen by the client", f"{mean_latency * 1000:.0f} ms")
    t.add_row("client CPU per call (process time / requests)", f"{cpu / max(1, requests) * 1000:.2f} ms")
    t.add_row("  of which on the event loop's thread", f"{loop_cpu / max(1, requests) * 1000:.2f} ms")
    t.add_row("TCP connections the server accepted", f"{connections}")
    t.add_row("fake server CPU per request (its own process)",
              f"{server_cpu[1] / max(1, server_cpu[0]) * 1000:.2f} ms")
    unit = "o200k tokens" if tokens.exact() else "characters (o200k unavailable)"
    t.add_row(f"prompt per report, 2 section calls ({unit})", f"{s.prompt_tokens / max(1, s.reports):.0f}")
    t.add_row("  of which the static system prompts", f"{sum(static)} (+ the schemas)")
    t.add_row("prompt per report, whole report in 1 call", f"{sum(whole) / len(whole):.0f} (+ the schema)")
    t.add_row("completion per report", f"{s.completion_tokens / max(1, s.reports):.0f}")
    prompt = sum(r["prompt_tokens"] for r in costs)
    cached = sum(r["cached_tokens"] for r in costs)
    t.add_row("prompt tokens served from the prompt cache", f"{cached / max(1, prompt):.0%}")
    money = sum(r["cost"] for r in costs)
    uncached = sum(DEFAULT_PRICES[settings.model].cost(r["prompt_tokens"], 0, r["completion_tokens"]) for r in costs)
    t.add_row(f"cost, {settings.model} list price, online", f"${money:.4f} (${money / args.reports * 50_000:,.0f} "
              f"per 50,000 reports; ${uncached / args.reports * 50_000:,.0f} without the prompt cache)")
    Console().print(t)
    for f in s.failures[:3]:
        Console().print(f"[red]failure[/] {f}")


if __name__ == "__main__":
    main()
