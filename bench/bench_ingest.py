"""Ingest throughput on generated .txt reports: reports/s with -j 1 and -j 2 against a floor, bytes per report.

Generates N distinct reports by varying the five bundled samples (a different
issuer county, year and figures in the narrative, so every report hashes
differently), ingests them into fresh databases and prints one table:

* the floor: read, decode, hash, six regexes and one row per file — what any
  ingest must do, with no parsing of tables;
* gkextract ingest with one process (-j 1) and with a pool of two (-j 2);
* parsing alone, the re-run that finds nothing to do, and the database's size.

Not a test: timings vary by machine and load.  Usage: python bench/bench_ingest.py [N]
"""

from __future__ import annotations

import hashlib
import random
import re
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gkextract.ingest import ingest_paths, parse_document
from gkextract.read import read_document
from gkextract.store import open_db

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted((ROOT / "fixtures" / "reports").glob("*.txt"))


def generate(n: int, out: Path) -> list[Path]:
    rng = random.Random(42)
    texts = [p.read_text(encoding="utf-8") for p in SAMPLES]
    paths = []
    for i in range(n):
        t = texts[i % len(texts)]
        t = f"（编号 {i}，随机数 {rng.randint(0, 10**9)}）\n" + t.replace("2019年", f"{2019 + i % 4}年", 1)
        # make every narrative section unique too, so no two LLM requests are the same
        t = t.replace("总体情况\n", f"总体情况\n（样本 {i}）\n").replace("改进情况\n", f"改进情况\n（样本 {i}）\n")
        p = out / f"r{i:05d}.txt"
        p.write_text(t, encoding="utf-8" if i % 3 else "gb18030")
        paths.append(p)
    return paths


FLOOR_PATTERNS = [re.compile(p) for p in (r"一、\s*总体情况", r"二、\s*主动公开", r"三、\s*收到和处理",
                                          r"四、\s*政府信息公开行政复议", r"五、\s*存在的主要问题", r"六、\s*其他")]


def floor(paths: list[Path], db_path: Path, reader: bool = False) -> float:
    """The least an ingest does: read, decode, hash, six regexes, one row per file; seconds.

    ``reader``: decode with gkextract's reader (encoding detection, BOMs, Big5
    refused …) instead of trying UTF-8 then GB18030.
    """
    t0 = time.perf_counter()
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("CREATE TABLE f (id TEXT PRIMARY KEY, path TEXT, chars INTEGER, parts TEXT, text TEXT)")
    for p in paths:
        if reader:
            text = read_document(p).text
        else:
            raw = p.read_bytes()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("gb18030")
        rid = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        parts = "".join("1" if r.search(text) else "0" for r in FLOOR_PATTERNS)
        con.execute("INSERT OR IGNORE INTO f VALUES (?, ?, ?, ?, ?)", (rid, str(p), len(text), parts, text))
    con.commit()
    con.close()
    return time.perf_counter() - t0


def timed_ingest(folder: Path, db_path: Path, jobs: int) -> tuple[float, int, float, int]:
    """(seconds, reports ingested, seconds of a re-run with nothing to do, database bytes)."""
    db = open_db(db_path)
    t0 = time.perf_counter()
    results = ingest_paths(db, [folder], jobs=jobs)
    elapsed = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = ingest_paths(db, [folder], jobs=jobs)
    rerun = time.perf_counter() - t0
    assert all(r.status == "skipped" for r in again)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return elapsed, sum(r.status == "ingested" for r in results), rerun, db_path.stat().st_size


def main(n: int = 2000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "reports"
        folder.mkdir()
        paths = generate(n, folder)
        input_bytes = sum(p.stat().st_size for p in paths)

        t0 = time.perf_counter()
        for p in paths[:500]:
            parse_document(read_document(p))
        parse_rate = 500 / (time.perf_counter() - t0)

        base = floor(paths, Path(tmp) / "floor.db")
        base_reader = floor(paths, Path(tmp) / "floor_reader.db", reader=True)
        one, ok, rerun, size = timed_ingest(folder, Path(tmp) / "j1.db", 1)
        two, ok2, _, size2 = timed_ingest(folder, Path(tmp) / "j2.db", 2)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    rate = {"floor": n / base, "reader": n / base_reader, "j1": n / one, "j2": n / two}
    table = Table(title=f"gkextract ingest, {n} generated .txt reports ({input_bytes / n / 1024:.1f} KB each)")
    for col in ("measure", "value"):
        table.add_column(col)
    table.add_row("floor: read, decode, hash, 6 regexes, 1 row per file", f"{rate['floor']:.0f} reports/s")
    table.add_row("floor, decoding with gkextract's reader", f"{rate['reader']:.0f} reports/s")
    table.add_row("ingest -j 1 (read+parse+write)", f"{rate['j1']:.0f} reports/s ({one:.1f} s, {ok} ingested)")
    table.add_row("ingest -j 2 (2 parsing processes, 1 writer)", f"{rate['j2']:.0f} reports/s ({two:.1f} s, "
                                                                   f"{ok2} ingested)")
    table.add_row("-j 1 / floor (/ floor with the reader)", f"{rate['j1'] / rate['floor']:.2f} "
                                                             f"({rate['j1'] / rate['reader']:.2f})")
    table.add_row("-j 2 / -j 1", f"{rate['j2'] / rate['j1']:.2f}")
    table.add_row("parse only (no database, one process)", f"{parse_rate:.0f} reports/s")
    table.add_row("re-run, nothing to do", f"{n / rerun:.0f} files/s")
    table.add_row("database per report", f"{size / n / 1024:.1f} KB ({size / input_bytes:.1f}× the input; "
                                         f"-j 2: {size2 / n / 1024:.1f} KB)")
    table.add_row("peak memory (max RSS, this process)", f"{peak_mb:.0f} MB")
    Console().print(table)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
