"""Real `gkextract` processes against a fake server on 127.0.0.1: Ctrl-C, kill -9, two runs at once.

Each test starts the CLI as a subprocess (as a user would), points it at
FakeServer with some latency so that the signal lands mid-batch, and then
counts what the database holds and what the server was paid for.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

from gkextract.store import open_db, review_threshold, set_review_threshold

from fake_server import FakeServer
from samples import REPORTS

SECTIONS = 10          # the five samples, overview + problems each


def as_from_a_terminal() -> None:
    """Ctrl-C reaches the child as it would from a shell: default disposition, not blocked.

    A child inherits its parent's ignored and blocked signals, and what an earlier test in
    this pytest process left behind would otherwise decide whether SIGINT arrives at all.
    """
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def gk(*args: str, server: FakeServer, tmp: Path) -> subprocess.Popen:
    env = {**os.environ, "OPENAI_API_KEY": "sk-test-processes-0123456789", "GKEXTRACT_CONFIG": str(tmp / "none.toml"),
           "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-m", "gkextract.cli", *args, "--base-url", server.url,
                             "--fixtures", str(tmp / "cache"), "-j", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=as_from_a_terminal)


def run_args(tmp: Path) -> tuple[str, ...]:
    return ("run", str(REPORTS), "--db", str(tmp / "gk.db"), "--mode", "live")


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def rows(db: Path) -> dict[str, list[tuple]]:
    """Every narrative row by what it says (not by id), for comparing two databases."""
    with closing(sqlite3.connect(db)) as con:
        return {
            "facts": sorted(con.execute("SELECT report_id, section, kind, item, metric, label, value, evidence "
                                        "FROM facts").fetchall(), key=repr),
            "problems": sorted(con.execute("SELECT report_id, item, summary, evidence FROM problems").fetchall()),
            "improvements": sorted(con.execute("SELECT report_id, item, summary, evidence FROM improvements")
                                   .fetchall()),
            "extractions": sorted(con.execute("SELECT report_id, section, status FROM extractions").fetchall()),
            "reports": sorted(con.execute("SELECT id FROM reports").fetchall()),
        }


def no_traceback(*outputs: str) -> None:
    for out in outputs:
        assert "Traceback" not in out and "Task exception was never retrieved" not in out, out


def test_ctrl_c_mid_batch_exits_130_says_what_was_saved_and_a_rerun_resumes(tmp_path, sample_db):
    # Replies slow enough that the signal lands mid-batch even on a loaded machine (at 0.3 s the
    # second wave could finish before a busy process took the signal, and the run rightly ended 0).
    with FakeServer(latency=1.5) as server:
        proc = gk(*run_args(tmp_path), server=server, tmp=tmp_path)
        wait_for(lambda: sum(r.answered for r in server.log) >= 3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        no_traceback(out, err)
        with closing(sqlite3.connect(tmp_path / "gk.db")) as con:
            saved = con.execute("SELECT count(*) FROM extractions WHERE status = 'ok'").fetchone()[0]
        assert 1 <= saved < SECTIONS
        assert f"interrupted — {saved} sections saved; rerun the same command to resume" in err

        first = len(server.log)
        cached = cached_contexts(tmp_path)
        again = gk(*run_args(tmp_path), server=server, tmp=tmp_path)
        out, err = again.communicate(timeout=60)
        assert again.returncode == 0, err
        no_traceback(out, err)
    assert rows(tmp_path / "gk.db") == rows(sample_db)          # nothing lost, nothing doubled
    rerun = [r.context for r in server.log[first:]]
    assert len(cached) >= saved and not set(rerun) & cached     # what was saved is not asked again
    assert len(rerun) == SECTIONS - len(cached)


def cached_contexts(tmp: Path) -> set[str]:
    return {json.loads(p.read_text("utf-8"))["context"] for p in (tmp / "cache" / "responses").glob("*.json")}


def test_kill_9_mid_batch_then_rerun_loses_nothing_and_pays_again_only_for_calls_in_flight(tmp_path, sample_db):
    with FakeServer(latency=1.5) as server:   # mid-batch even on a loaded machine, as above
        proc = gk(*run_args(tmp_path), server=server, tmp=tmp_path)
        wait_for(lambda: sum(r.answered for r in server.log) >= 4)
        proc.kill()
        proc.communicate(timeout=30)
        killed = list(server.log)
        cached = cached_contexts(tmp_path)
        again = gk(*run_args(tmp_path), server=server, tmp=tmp_path)
        out, err = again.communicate(timeout=60)
        assert again.returncode == 0, err
        no_traceback(out, err)
    assert rows(tmp_path / "gk.db") == rows(sample_db)          # 0 lost, 0 duplicated
    rerun = [r.context for r in server.log[len(killed):]]
    assert not set(rerun) & cached                              # nothing saved before the kill is paid again
    paid_twice = set(rerun) & {r.context for r in killed}
    assert len(paid_twice) <= 2                                 # at most the -j 2 requests in flight
    assert len(set(rerun) | {r.context for r in killed}) == SECTIONS


def test_two_runs_on_one_database_wait_for_each_other_and_pay_once(tmp_path, sample_db):
    with FakeServer(latency=0.2) as server:
        first = gk(*run_args(tmp_path), server=server, tmp=tmp_path)
        second = gk(*run_args(tmp_path), server=server, tmp=tmp_path)
        wait_for(lambda: len(server.log) >= 2)
        started = time.monotonic()       # meanwhile, other writers get through quickly (short transactions)
        db = open_db(tmp_path / "gk.db")
        set_review_threshold(db, 0.7)
        assert review_threshold(db) == 0.7 and time.monotonic() - started < 5
        db.close()
        outs = [p.communicate(timeout=90) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outs
    no_traceback(*(o for pair in outs for o in pair))
    errs = [err for _, err in outs]
    assert sum("waiting for it to finish" in err for err in errs) == 1
    assert len(server.log) == SECTIONS                          # no section paid twice
    assert sorted(r.context for r in server.log) == sorted({r.context for r in server.log})
    assert rows(tmp_path / "gk.db") == rows(sample_db)          # no duplicates
    assert any("calls             │ 0" in err and "already done      │ 10" in err for err in errs)
