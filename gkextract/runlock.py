"""One batch job per database at a time: a lock file next to it.

``ingest``, ``extract`` and ``run`` hold an exclusive ``flock`` on
``<db>.lock`` while they work.  A second one on the same database says who
holds it and waits; it never runs alongside, so no section is paid for twice.
The operating system drops the lock when its holder exits, even by kill -9,
so a crashed run never leaves a stale lock behind.  Query and review commands
take no lock: SQLite (WAL) lets them read, and write briefly, meanwhile.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


def _holder(fd: int) -> str:
    """Who holds the lock, as its holder wrote it (it may not have yet)."""
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return (f"pid {info['pid']} on {info['host']}, since {info['since']}: "
                f"{info['command']}")
    except (OSError, ValueError, KeyError, TypeError):
        return "another gkextract process"


@contextmanager
def run_lock(db_path: Path, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the database's run lock for the block; if taken, call ``on_wait(holder)`` once and wait."""
    path = lock_path(db_path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait:
                on_wait(_holder(fd))
            fcntl.flock(fd, fcntl.LOCK_EX)   # Ctrl-C interrupts the wait
        info = dict(pid=os.getpid(), host=socket.gethostname(),
                    since=time.strftime("%Y-%m-%d %H:%M:%S"), command=" ".join(["gkextract", *sys.argv[1:]]))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
