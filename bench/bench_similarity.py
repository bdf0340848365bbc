"""Boilerplate similarity for Chinese: which measure separates 雷同 from the rest, and how fast.

Candidates, all on the same simplified text (gkextract.boilerplate.simplify: half-width,
no spaces, punctuation or list markers, digits as #):

* exact Jaccard of character 2-gram and 3-gram shingle sets;
* MinHash (datasketch, 128 permutations) estimates of the same Jaccard;
* rapidfuzz ``fuzz.ratio`` (normalised Indel similarity) and ``fuzz.partial_ratio``;
* containment of 2-gram shingles (shared / the smaller set).

Accuracy: the hand-picked pairs of fixtures/corpus/similarity_pairs.json, classed by
reading them before any measure was computed.  雷同 = identical or near_identical; the
rest (paraphrase, different) must stay below.  For each measure: the best threshold,
how many of the 24 pairs it classes right there, and the margin (lowest 雷同 score minus
highest other score; positive means a threshold separates them all).

Speed: scoring every pair among N stated problems and N section-五 texts (the corpus
texts repeated), as a same-year comparison across thousands of issuers needs.

    .venv/bin/python bench/bench_similarity.py [N]
"""

from __future__ import annotations

import json
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

try:
    from datasketch import MinHash, MinHashLSH
except ImportError:  # only this benchmark needs it
    sys.exit("bench_similarity compares MinHash: install it with  .venv/bin/pip install -e '.[bench]'")
from rapidfuzz import fuzz, process
from rich.console import Console
from rich.table import Table

from gkextract.boilerplate import shingles, similarity, simplify
from gkextract.read import read_document

ROOT = Path(__file__).resolve().parent.parent
PAIRS = json.loads((ROOT / "fixtures" / "corpus" / "similarity_pairs.json").read_text(encoding="utf-8"))["pairs"]
POSITIVE = {"identical", "near_identical"}


def minhash(text: str, n: int, num_perm: int = 128, seed: int = 1) -> MinHash:
    m = MinHash(num_perm=num_perm, seed=seed)
    m.update_batch([s.encode("utf-8") for s in shingles(text, n)])
    return m


def jaccard(a: str, b: str, n: int) -> float:
    x, y = shingles(a, n), shingles(b, n)
    return len(x & y) / len(x | y) if x | y else 1.0


def containment(a: str, b: str) -> float:
    x, y = shingles(a, 2), shingles(b, 2)
    return len(x & y) / min(len(x), len(y)) if x and y else 0.0


MEASURES: dict[str, Callable[[str, str], float]] = {
    "jaccard 2-gram": lambda a, b: jaccard(a, b, 2),
    "jaccard 3-gram": lambda a, b: jaccard(a, b, 3),
    "minhash 2-gram": lambda a, b: minhash(a, 2).jaccard(minhash(b, 2)),
    "minhash 3-gram": lambda a, b: minhash(a, 3).jaccard(minhash(b, 3)),
    "rapidfuzz ratio": lambda a, b: fuzz.ratio(a, b) / 100,
    "rapidfuzz partial_ratio": lambda a, b: fuzz.partial_ratio(a, b) / 100,
    "containment 2-gram": containment,
    "gkextract.boilerplate.similarity": similarity,
}


def accuracy(scores: list[tuple[float, bool]]) -> tuple[float, int, float]:
    """(best threshold, pairs right at it, margin)."""
    cuts = sorted({s for s, _ in scores})
    best = max(((t, sum((s >= t) == pos for s, pos in scores)) for t in cuts), key=lambda x: (x[1], -x[0]))
    low_pos = min(s for s, pos in scores if pos)
    high_neg = max(s for s, pos in scores if not pos)
    return best[0], best[1], low_pos - high_neg


def corpus_texts() -> tuple[list[str], list[str]]:
    """Stated problems (the pairs' quotes) and section 五 texts of the corpus."""
    problems = [q for p in PAIRS for _, q in (p["a"], p["b"])]
    sections = []
    for f in sorted((ROOT / "fixtures" / "corpus").glob("[01]*.txt")):
        text = read_document(f).text
        start = text.find("五、")
        sections.append(text[start:start + 800])
    return problems, sections


def synthetic(texts: list[str], n: int, seed: int = 7) -> list[str]:
    """n texts as long as ``texts``, each a random mix of their clauses: alike, never identical."""
    rng = random.Random(seed)
    clauses = [c for t in texts for c in re.split(r"(?<=[，、。；;])", t) if c]
    size = sum(map(len, texts)) // len(texts)
    out = []
    for _ in range(n):
        parts: list[str] = []
        while sum(map(len, parts)) < size:
            parts.append(rng.choice(clauses))
        out.append(simplify("".join(parts)[:size]))
    return out


def speed(texts: list[str], n: int) -> dict[str, float]:
    """Seconds to find, for each of n texts, its closest other (every pair scored where the method must)."""
    items = synthetic(texts, n)
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    process.cdist(items, items, scorer=fuzz.ratio, score_cutoff=80, workers=2)
    out["rapidfuzz ratio, cdist (2 workers)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i, text in enumerate(items):  # what gkextract.boilerplate does: each text's best other
        process.extractOne(text, items[:i] + items[i + 1:], scorer=fuzz.ratio)
    out["rapidfuzz ratio, extractOne per text (as gkextract)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    sets = [shingles(t, 2) for t in items]
    for i, a in enumerate(sets):
        for b in sets[i + 1:]:
            len(a & b) / len(a | b)
    out["jaccard 2-gram, python sets"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    sigs = [minhash(t, 2) for t in items]
    for i, m in enumerate(sigs):
        lsh.insert(str(i), m)
    for m in sigs:
        lsh.query(m)
    out["minhash 2-gram + LSH (sketch, index, query)"] = time.perf_counter() - t0
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    console = Console(width=150)
    rows = []
    for name, fn in MEASURES.items():
        scored = [(fn(simplify(p["a"][1]), simplify(p["b"][1])), p["class"] in POSITIVE) for p in PAIRS]
        cut, right, margin = accuracy(scored)
        by_class = {c: [fn(simplify(p["a"][1]), simplify(p["b"][1])) for p in PAIRS if p["class"] == c]
                    for c in ("identical", "near_identical", "paraphrase", "different")}
        rows.append((name, cut, right, margin, by_class))
    t = Table(title=f"雷同 or not: {len(PAIRS)} hand-picked pairs from the corpus "
                    f"({sum(p['class'] in POSITIVE for p in PAIRS)} 雷同)")
    for c in ("measure", "best threshold", "right", "margin", "identical", "near-identical", "paraphrase",
              "different"):
        t.add_column(c, justify="left" if c == "measure" else "right")
    for name, cut, right, margin, by_class in rows:
        t.add_row(name, f"{cut:.2f}", f"{right}/{len(PAIRS)}", f"{margin:+.2f}",
                  *(f"{min(v):.2f}–{max(v):.2f}" for v in by_class.values()))
    console.print(t)

    v = Table(title="MinHash is an estimate: the same pairs under 20 seeds")
    for c in ("measure", "right (min–max)", "margin (min–max)"):
        v.add_column(c, justify="left" if c == "measure" else "right")
    for n_gram in (2, 3):
        runs = [accuracy([(minhash(simplify(p["a"][1]), n_gram, seed=seed).jaccard(
            minhash(simplify(p["b"][1]), n_gram, seed=seed)), p["class"] in POSITIVE) for p in PAIRS])
            for seed in range(1, 21)]
        v.add_row(f"minhash {n_gram}-gram", f"{min(r[1] for r in runs)}–{max(r[1] for r in runs)}/{len(PAIRS)}",
                  f"{min(r[2] for r in runs):+.2f} – {max(r[2] for r in runs):+.2f}")
    console.print(v)

    problems, sections = corpus_texts()
    s = Table(title=f"the closest of {n} texts for each (texts mixed from the corpus's clauses; 2 cores)")
    s.add_column("method")
    s.add_column(f"problems (~{sum(map(len, problems)) // len(problems)} characters), s", justify="right")
    s.add_column(f"sections 五 (~{sum(map(len, sections)) // len(sections)} characters), s", justify="right")
    p_times, s_times = speed(problems, n), speed(sections, n)
    for k in p_times:
        s.add_row(k, f"{p_times[k]:.2f}", f"{s_times[k]:.2f}")
    console.print(s)


if __name__ == "__main__":
    main()
