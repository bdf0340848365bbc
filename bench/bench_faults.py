"""Fault matrix: the real `gkextract run --mode live` against a scriptable fake server.

For each fault the fake OpenAI-compatible server (tests/fake_server.py, a real
socket on 127.0.0.1) misbehaves on one section — report 000's overview — and
answers the other nine sections of the five samples normally.  Each run is a
fresh `gkextract run fixtures/reports` subprocess; the table gives the status
stored for the faulty section, the requests the server saw for it, whether the
nine others landed, and the exit code (1 = ran to the end with a failure
listed; any traceback would be flagged).

Then two whole-batch experiments on generated reports (bench_ingest.generate):

* kill -9 three times (once during ingest, twice during extraction), then a
  run to the end; compared row by row with a clean run: rows lost, rows
  duplicated, and calls paid twice (a section the server had fully answered
  before a kill and was asked for again).
* two runs started at once on one database: rows lost or duplicated against
  the clean run, and requests beyond one per section.

Not a test.  Usage: python bench/bench_faults.py [--reports 200] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
from bench_ingest import generate  # noqa: E402
from fake_server import FakeServer, Hang, Reply, Reset, completion  # noqa: E402

from gkextract.ingest import report_id  # noqa: E402

REPORTS = ROOT / "fixtures" / "reports"
TARGET = f"report {report_id((REPORTS / '000_93a7fea9e9928630.txt').read_text('utf-8'))} section overview"
CONFIG = """timeout = 2.0
section_deadline = 5.0
max_retries = 3
max_reasks = 2
max_wait = 0.2
"""
HTML = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
INVALID = completion(json.dumps({"platforms": "none"}))
# name, what the server does, for how many of the section's requests (None: all)
FAULTS: list[tuple[str, object, int | None]] = [
    ("429, twice then OK", Reply(429, {"error": {"message": "rate limited"}}, {"retry-after": "0.1"}), 2),
    ("429, always", Reply(429, {"error": {"message": "rate limited"}}, {"retry-after": "0.1"}), None),
    ("500, always", Reply(500, {"error": {"message": "internal"}}), None),
    ("503, twice then OK", Reply(503, {"error": {"message": "unavailable"}}), 2),
    ("connection reset, twice then OK", Reset(), 2),
    ("connection reset, always", Reset(), None),
    ("hang (never answers)", Hang(), None),
    ("malformed JSON content", Reply(body=completion('{"platforms": [{"type": "portal",')), None),
    ("schema-invalid, always", Reply(body=INVALID), None),
    ("schema-invalid once, then OK", Reply(body=INVALID), 1),
    ("refusal", Reply(body=completion(None, refusal="I can't help with that.")), None),
    ("truncation (finish_reason length)", Reply(body=completion('{"platforms": [', finish_reason="length")), None),
    ("content filter", Reply(body=completion("", finish_reason="content_filter")), None),
    ("empty choices, always", Reply(body={**completion("{}"), "choices": []}), None),
    ("error object with 200, always", Reply(body={"error": {"message": "overloaded", "type": "server_error"}}),
     None),
    ("HTML 200, always", Reply(body=HTML, content_type="text/html"), None),
    ("HTML 200 once, then OK", Reply(body=HTML, content_type="text/html"), 1),
]


def gk(args: list[str], server: FakeServer, tmp: Path, jobs: int = 4) -> subprocess.Popen:
    env = {**os.environ, "OPENAI_API_KEY": "sk-bench-faults-0123456789", "GKEXTRACT_CONFIG": str(tmp / "config.toml")}
    return subprocess.Popen([sys.executable, "-m", "gkextract.cli", *args, "--db", str(tmp / "gk.db"),
                             "--mode", "live", "--base-url", server.url, "--fixtures", str(tmp / "cache"),
                             "-j", str(jobs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def workdir(root: Path, name: str) -> Path:
    tmp = root / name
    tmp.mkdir()
    (tmp / "config.toml").write_text(CONFIG, encoding="utf-8")
    (tmp / "config.toml").chmod(0o600)
    return tmp


def fault_row(root: Path, i: int, name: str, action: object, times: int | None) -> list[str]:
    tmp = workdir(root, f"fault{i}")

    def script(request):
        if request.context == TARGET and (times is None or request.attempt <= times):
            return action
        return None

    with FakeServer(script) as server:
        started = time.monotonic()
        proc = gk(["run", str(REPORTS)], server, tmp)
        out, err = proc.communicate(timeout=300)
        elapsed = time.monotonic() - started
    with closing(sqlite3.connect(tmp / "gk.db")) as con:
        statuses = dict(((r, s), st) for r, s, st in con.execute("SELECT report_id, section, status FROM extractions"))
    rid = TARGET.split()[1]
    target_status = statuses.get((rid, "overview"), "—")
    others = sum(st == "ok" for key, st in statuses.items() if key != (rid, "overview"))
    clean = "Traceback" not in out + err and "never retrieved" not in out + err
    return [name, target_status, str(len(server.requests_for(TARGET))), f"{others}/9",
            f"yes (exit {proc.returncode})" if clean and proc.returncode in (0, 1) else f"NO (exit {proc.returncode})",
            f"{elapsed:.1f} s"]


# --- whole batches -------------------------------------------------------------------------------

def content(db: Path) -> Counter:
    """Every row that matters, by what it says (ids and timestamps left out)."""
    queries = {
        "reports": "SELECT id, issuer, year, status FROM reports",
        "sections": "SELECT report_id, kind, status, span_start, span_end FROM sections",
        "table_cells": "SELECT report_id, table_key, row_key, col_key, raw, value, status FROM table_cells",
        "checks": "SELECT report_id, check_id, status FROM checks",
        "files": "SELECT path, status FROM files",
        "extractions": "SELECT report_id, section, status FROM extractions",
        "facts": "SELECT report_id, section, kind, item, metric, label, value, evidence, span_start FROM facts",
        "problems": "SELECT report_id, item, summary, evidence, span_start FROM problems",
        "improvements": "SELECT report_id, item, summary, evidence, span_start FROM improvements",
    }
    with closing(sqlite3.connect(db)) as con:
        return Counter((t, row) for t, q in queries.items() for row in con.execute(q))


def compare(clean: Counter, got: Counter) -> tuple[int, int]:
    return sum((clean - got).values()), sum((got - clean).values())


def wait_until(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the batch did not get that far")
        time.sleep(0.01)


def reports_in(db: Path) -> int:
    try:
        with closing(sqlite3.connect(db, timeout=5)) as con:
            return con.execute("SELECT count(*) FROM reports").fetchone()[0]
    except sqlite3.Error:
        return 0


def clean_run(root: Path, folder: Path, latency: float) -> Counter:
    tmp = workdir(root, "clean")
    with FakeServer(latency=latency) as server:
        proc = gk(["run", str(folder)], server, tmp, jobs=8)
        proc.communicate(timeout=600)
    return content(tmp / "gk.db")


def kill_and_resume(root: Path, folder: Path, latency: float, clean: Counter, sections: int) -> list[list[str]]:
    tmp = workdir(root, "killed")
    rows = []
    paid_total = 0
    with FakeServer(latency=latency) as server:
        answered: set[str] = set()          # sections the server fully answered (and so billed)
        steps = [("during ingest", lambda: reports_in(tmp / "gk.db") > 0 and not server.log),
                 ("during extraction", lambda: sum(r.answered for r in server.log) >= sections // 4),
                 ("during extraction", lambda: sum(r.answered for r in server.log) >= sections // 2),
                 ("none: run to the end", None)]
        for n, (when, ready) in enumerate(steps, 1):
            seen = len(server.log)
            proc = gk(["run", str(folder)], server, tmp, jobs=8)
            if ready is not None:
                wait_until(ready)
                proc.send_signal(signal.SIGKILL)
            out, err = proc.communicate(timeout=600)
            log = server.log[seen:]
            paid_again = sum(r.context in answered for r in log)
            paid_total += paid_again
            answered |= {r.context for r in log if r.answered}
            step = f"kill -9 #{n} {when}" if ready else f"rerun to the end (exit {proc.returncode})"
            if "Traceback" in err:
                step += ", traceback!"
            rows.append([step, str(reports_in(tmp / "gk.db")), str(len(log)),
                         str(sum(not r.answered for r in log)) if ready else "—", str(paid_again)])
    lost, duplicated = compare(clean, content(tmp / "gk.db"))
    rows.append(["total against a clean run", f"lost {lost}, duplicated {duplicated}",
                 f"{len(server.log)} for {len({r.context for r in server.log})} sections", "—", str(paid_total)])
    return rows


def concurrent_runs(root: Path, folder: Path, latency: float, clean: Counter, sections: int) -> list[str]:
    tmp = workdir(root, "concurrent")
    with FakeServer(latency=latency) as server:
        procs = [gk(["run", str(folder)], server, tmp, jobs=8) for _ in range(2)]
        outs = [p.communicate(timeout=600) for p in procs]
    lost, duplicated = compare(clean, content(tmp / "gk.db"))
    waited = sum("waiting for it to finish" in err for _, err in outs)
    tracebacks = sum("Traceback" in out + err for out, err in outs)
    return [f"exit {', '.join(str(p.returncode) for p in procs)}", f"{waited} waited", str(lost), str(duplicated),
            f"{len(server.log)} for {sections} sections ({len(server.log) - sections} paid twice)", str(tracebacks)]


def show(title: str, header: list[str], rows: list[list[str]], markdown: bool) -> None:
    if markdown:
        print(f"\n**{title}**\n")
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print("| " + " | ".join(r) + " |")
        return
    t = Table(title=title)
    for h in header:
        t.add_column(h)
    for r in rows:
        t.add_row(*r)
    Console().print(t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=200, help="generated reports for kill -9 and concurrent runs")
    ap.add_argument("--latency", type=float, default=0.05, help="fake server latency per request (s)")
    ap.add_argument("--markdown", action="store_true", help="print Markdown tables (for the README)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows = [fault_row(root, i, *f) for i, f in enumerate(FAULTS)]
        show("faults on one section (report 000 overview); the other nine sections answered normally "
             "[timeout 2 s, section_deadline 5 s, max_retries 3, max_reasks 2]",
             ["fault", "status stored", "requests for it", "others ok", "batch completed", "wall time"],
             rows, args.markdown)

        folder = root / "reports"
        folder.mkdir()
        generate(args.reports, folder)
        sections = 2 * args.reports
        clean = clean_run(root, folder, args.latency)
        show(f"kill -9 and resume: {args.reports} generated reports, {sections} sections, -j 8",
             ["step", "reports in db", "requests", "cut off by the kill", "paid again"],
             kill_and_resume(root, folder, args.latency, clean, sections), args.markdown)
        show(f"two runs at once on one database: {args.reports} reports, {sections} sections",
             ["runs", "lock", "rows lost", "rows duplicated", "requests", "tracebacks"],
             [concurrent_runs(root, folder, args.latency, clean, sections)], args.markdown)


if __name__ == "__main__":
    main()
