"""Table and metadata accuracy on the corpus golds, in every shape users have.

For every gold in fixtures/corpus/gold/ (format: fixtures/corpus/gold/README):

* the original corpus file is scored as shape ``original`` (cells listed in the gold's
  ``uncertain`` are not scored; a pre-2019 report has no tables, only its metadata is);
* a 2019/2021-template gold that is not a ``same_report_as`` duplicate is rendered by
  tests/shapes.py into every shape (html_article, docx, pdf, pdf_text, …), once as the
  gold and once as its ``blank_zeros`` variant (every 0 of tables 三 and 四 blank).

Each file goes through ``read_document`` and ``parse_document``; every gold cell is then

* right       the value equals the gold (a blank gold cell: no value, status ``empty``),
* wrong       a value where the gold has another value or a blank — the worst bug,
* null        no value and not misaligned, where the gold has a value (or another status),
* misaligned  the parser says misaligned, or has no such cell.

Issuer, year and region (province/city/county) are scored per file.  A bench, not a
test: it always exits 0.  Usage::

    python bench/bench_accuracy.py [-v] [--shape SHAPE ...] [--report SUBSTRING ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import shapes  # noqa: E402  (tests/shapes.py)


class Tally:
    def __init__(self) -> None:
        self.files = 0
        self.errors = 0
        self.cells = defaultdict(int)
        self.meta = defaultdict(int)
        self.seconds = 0.0

    def add(self, s: shapes.Score, seconds: float) -> None:
        self.files += 1
        self.errors += s.error is not None
        for outcome, *_ in s.cells.values():
            self.cells[outcome] += 1
        self.meta["issuer"] += s.issuer[0]
        self.meta["year"] += s.year[0]
        self.meta["region"] += s.region[0]
        self.seconds += seconds

    def merge(self, other: "Tally") -> None:
        self.files += other.files
        self.errors += other.errors
        for k, v in other.cells.items():
            self.cells[k] += v
        for k, v in other.meta.items():
            self.meta[k] += v
        self.seconds += other.seconds

    def row(self, name: str) -> list[str]:
        n = sum(self.cells.values())
        pct = f"{100 * self.cells['right'] / n:.1f}" if n else "-"
        return [name, str(self.files), str(n), pct, str(self.cells["wrong"]), str(self.cells["null"]),
                str(self.cells["misaligned"]), f"{self.meta['issuer']}/{self.files}",
                f"{self.meta['year']}/{self.files}", f"{self.meta['region']}/{self.files}",
                str(self.errors), f"{self.seconds:.1f}"]


HEADER = ["shape", "files", "cells", "right%", "wrong", "null", "misal", "issuer", "year",
          "region", "errors", "secs"]


def print_table(title: str, rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [HEADER] + rows) for i in range(len(HEADER))]
    print(f"\n{title}")
    line = "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(HEADER, widths)))
    print(line)
    print("-" * len(line))
    for r in rows:
        if r[0] == "overall":
            print("-" * len(line))
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="list every wrong cell, every parse error and every metadata miss")
    ap.add_argument("--shape", action="append", help="only these shapes (and/or 'original')")
    ap.add_argument("--report", action="append", help="only golds whose file name contains this")
    args = ap.parse_args(argv)

    golds = shapes.load_golds()
    if args.report:
        golds = [g for g in golds if any(s in g["file"] for s in args.report)]
    if not golds:
        print(f"no gold files in {shapes.GOLD_DIR}")
        return 0
    wanted = set(args.shape) if args.shape else set(shapes.SHAPES) | {"original"}
    render_shapes = tuple(s for s in shapes.SHAPES if s in wanted)

    by_shape: dict[str, Tally] = defaultdict(Tally)
    by_variant: dict[tuple[str, str], Tally] = defaultdict(Tally)
    findings: dict[tuple[str, str], list[str]] = defaultdict(list)  # (report, finding) → files
    t_render = 0.0
    t0 = time.perf_counter()

    def record(name: str, variant: str, shape: str, path: Path, gold: dict, skip: set[str]) -> None:
        t = time.perf_counter()
        s = shapes.score(path, gold, skip)
        dt = time.perf_counter() - t
        by_shape[shape].add(s, dt)
        by_variant[(shape, variant)].add(s, dt)
        if not args.verbose:
            return
        where = shape if shape == "original" else f"{shape}/{variant}"
        if s.error:
            findings[(name, f"ERROR {s.error.replace(str(path), path.name)}")].append(where)
        for key, (_o, gv, v, st) in s.where("wrong").items():
            findings[(name, f"WRONG {key}: gold {gv!r}, parsed {v!r} ({st})")].append(where)
        gm = gold["metadata"]
        for what, (ok, got) in (("issuer", s.issuer), ("year", s.year), ("region", s.region)):
            if not ok:
                want = (gm.get(what) if what != "region"
                        else "/".join(gm.get(k) or "-" for k in ("province", "city", "county")))
                findings[(name, f"{what} {got!r}, gold {want!r}")].append(where)

    with tempfile.TemporaryDirectory(prefix="bench_accuracy_") as tmp:
        folder = Path(tmp)
        for g in golds:
            name = shapes.report_name(g)
            if "original" in wanted:
                record(name, "gold", "original", shapes.CORPUS_DIR / g["file"], g,
                       set(g.get("uncertain") or ()))
            if not shapes.renderable(g) or not render_shapes:
                continue
            narrative = shapes.corpus_narrative(g)
            for variant in shapes.VARIANTS:
                vg = shapes.variant(g, variant)
                t = time.perf_counter()
                files = shapes.render(vg, narrative, render_shapes)
                t_render += time.perf_counter() - t
                for shape, (suffix, data) in files.items():
                    path = folder / f"{name}.{variant}.{shape}{suffix}"
                    path.write_bytes(data)
                    record(name, variant, shape, path, vg, set())

    order = [s for s in ("original",) + shapes.SHAPES if s in by_shape]
    overall = Tally()
    for s in order:
        if s != "original":
            overall.merge(by_shape[s])
    rows = [by_shape[s].row(s) for s in order] + [overall.row("overall")]
    print(f"{len(golds)} golds; rendered shapes × variants {shapes.VARIANTS}; "
          f"render {t_render:.1f}s, total {time.perf_counter() - t0:.1f}s")
    print_table("By shape (overall = rendered shapes, not original)", rows)
    vrows = [by_variant[(s, v)].row(f"{s} / {v}") for s in order for v in ("gold",) + shapes.VARIANTS[1:]
             if (s, v) in by_variant]
    print_table("By shape and variant", vrows)
    if args.verbose:
        print(f"\nFindings ({len(findings)}), each with the files it occurs in:")
        for (name, finding), where in findings.items():
            print(f"  {name}: {finding}\n      in {len(where)}: {' '.join(where)}")
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a bench: report, never fail the run
        import traceback
        traceback.print_exc()
        print(f"bench_accuracy failed: {e}")
    sys.exit(0)
