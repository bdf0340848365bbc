"""Fuzzy quote location: rapidfuzz's partial-ratio alignment against a difflib sliding window.

Why gkextract depends on rapidfuzz: the same answer (best-matching window of the
section for a slightly altered quote), measured on sample 004's overview.
"""

from __future__ import annotations

import difflib
import time
from pathlib import Path

from rapidfuzz import fuzz
from rich.console import Console
from rich.table import Table

from gkextract.normalize import normalize

ROOT = Path(__file__).resolve().parent.parent
TEXT = (ROOT / "fixtures" / "reports" / "004_0e1c1bc522329e1b.txt").read_text(encoding="utf-8")[500:3060]
QUOTES = ["“关岭政务”政务微博、政务微信全年分别发稿116条和490条", "对全县70余名政务公开工作骨干和相关负责同志进行培训",
          "全年累计出刊4期，同时将电子档上传县人民政府网", "县人民政府网“回应关切”栏目共发布信息233条"]


def difflib_best(q: str, text: str) -> tuple[float, int]:
    best, at = 0.0, -1
    for i in range(0, len(text) - len(q) + 1):
        r = difflib.SequenceMatcher(None, q, text[i:i + len(q)]).ratio()
        if r > best:
            best, at = r, i
    return best * 100, at


def main() -> None:
    region = normalize(TEXT, strip_spaces=True).text
    rows = []
    for name, fn in (("rapidfuzz partial_ratio_alignment", lambda q: (lambda a: (a.score, a.dest_start))(
            fuzz.partial_ratio_alignment(q, region))), ("difflib sliding window", lambda q: difflib_best(q, region))):
        t0 = time.perf_counter()
        found = [fn(normalize(q, strip_spaces=True).text) for q in QUOTES]
        rows.append((name, (time.perf_counter() - t0) / len(QUOTES) * 1000, found))
    t = Table(title=f"fuzzy location of {len(QUOTES)} altered quotes in a {len(region)}-character section")
    for c in ("method", "ms per quote", "scores", "same positions"):
        t.add_column(c)
    for name, ms, found in rows:
        t.add_row(name, f"{ms:.2f}", " ".join(f"{s:.0f}" for s, _ in found),
                  "yes" if [p for _, p in found] == [p for _, p in rows[0][2]] else "no")
    Console().print(t)


if __name__ == "__main__":
    main()
