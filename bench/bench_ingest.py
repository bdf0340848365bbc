"""Ingest throughput on generated .txt reports (one core): reports/s and peak memory.

Generates N distinct reports by varying the five bundled samples (a different
issuer county, year and figures in the narrative, so every report hashes
differently), ingests them into a fresh database and prints a table.
Not a test: timings vary by machine.  Usage: python bench/bench_ingest.py [N]
"""

from __future__ import annotations

import random
import resource
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


def main(n: int = 2000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "reports"
        folder.mkdir()
        paths = generate(n, folder)

        t0 = time.perf_counter()
        for p in paths[:500]:
            parse_document(read_document(p))
        parse_rate = 500 / (time.perf_counter() - t0)

        db = open_db(Path(tmp) / "bench.db")
        t0 = time.perf_counter()
        results = ingest_paths(db, [folder])
        elapsed = time.perf_counter() - t0
        ok = sum(r.status == "ingested" for r in results)

        t0 = time.perf_counter()
        again = ingest_paths(db, [folder])
        rerun = time.perf_counter() - t0
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    table = Table(title=f"gkextract ingest, {n} generated .txt reports, one core")
    for col in ("measure", "value"):
        table.add_column(col)
    table.add_row("reports ingested", f"{ok} / {n}")
    table.add_row("ingest (read+parse+write)", f"{n / elapsed:.0f} reports/s ({elapsed:.1f} s)")
    table.add_row("parse only (no database)", f"{parse_rate:.0f} reports/s")
    table.add_row("re-run, nothing to do", f"{n / rerun:.0f} files/s ({sum(r.status == 'skipped' for r in again)} skipped)")
    table.add_row("peak memory (max RSS)", f"{peak_mb:.0f} MB")
    Console().print(table)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
