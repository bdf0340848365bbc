"""How good is the narrative extraction?  Score a database against hand-made gold answers.

Gold: ``<report stem>.<section>.json`` files (an envelope whose ``answer`` is the
correct OverviewFacts / ProblemsFacts for that report), in fixtures/llm/answers.
By default the bench ingests every report that has gold, extracts it in replay mode
once per model whose saved replies are in fixtures/llm (the hand-written replies
imitate ``gpt-4o-mini``; the genuine ones were recorded from the local Qwen model),
and prints one table per model.  ``--db FILE --model NAME`` scores an existing
database instead.

Matching, per report and section:

* facts: a predicted fact may match a gold fact of the same kind when their evidence
  overlaps (the shorter quote is ≥ 60 % inside the longer, after folding width and
  punctuation) or when metric and value agree; pairs are taken best first (metric,
  value, label and overlap add to a pair's score), each item used once;
* problems and improvements: evidence overlap ≥ 60 %, or a summary ≥ 60 % like the
  gold's summary or copying its quote (the statement was found, its evidence may be wrong).

Columns: ``gold`` and ``pred`` items, ``match`` pairs; ``prec``/``recall`` = match /
pred and match / gold; ``value`` = matched facts whose metric and value equal the gold
(for problems/improvements: the category); ``evid`` = matched items whose evidence
overlaps the gold's; evidence located ``exact/norm/fuzzy/none`` for every predicted
item; ``wrong`` = predicted items that are not right (unmatched, or matched with a wrong
value/category or evidence) and ``caught`` the share of them the program flagged (score
below the review threshold: real-error recall); ``right`` and ``alarms`` the share of
right items it flagged (false alarms).  A bench, not a test: it always exits 0.

    .venv/bin/python bench/bench_quality.py [-v] [--gold DIR ...] [--model NAME ...]
    .venv/bin/python bench/bench_quality.py --db gk.db --model NAME
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gkextract.grounding import DEFAULT_THRESHOLD, fold  # noqa: E402
from gkextract.ingest import ingest_paths  # noqa: E402
from gkextract.llm import LLMSettings, Mode  # noqa: E402
from gkextract.narrative import extract_reports, flatten_overview  # noqa: E402
from gkextract.schema import OverviewFacts, ProblemsFacts  # noqa: E402
from gkextract.store import open_db  # noqa: E402

GOLD = ROOT / "fixtures" / "llm" / "answers"
REPORT_DIRS = [ROOT / "fixtures" / "reports", ROOT / "fixtures" / "corpus"]
MODELS = {"gpt-4o-mini": "hand-written", "qwen2.5-coder-1.5b-instruct-q4_k_m": "recorded"}
KINDS = ("platform", "training", "disclosure", "application", "administrative", "supervision")
OVERLAP = 0.6


@dataclass
class Item:
    """One fact, problem or improvement, predicted or gold, reduced to what is compared."""

    kind: str
    metric: str | None = None
    label: str | None = None
    value: float | None = None
    evidence: str = ""
    summary: str = ""
    category: str | None = None
    match: str | None = None      # predicted: how grounding located the quote
    score: float | None = None    # predicted: the program's score
    platform: str | None = None   # platforms: portal, weibo, wechat … (a wrong one makes the fact wrong)
    flags: str = ""               # predicted: grounding's flags, for the verbose listing


@dataclass
class Tally:
    gold: int = 0
    pred: int = 0
    matched: int = 0
    value_ok: int = 0
    evidence_ok: int = 0
    located: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    wrong: int = 0
    wrong_flagged: int = 0
    right: int = 0
    right_flagged: int = 0

    def add(self, other: "Tally") -> None:
        for k in ("gold", "pred", "matched", "value_ok", "evidence_ok", "wrong", "wrong_flagged", "right",
                  "right_flagged"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        for k, v in other.located.items():
            self.located[k] += v


def overlap(a: str, b: str) -> float:
    """How much of the shorter quote lies inside the longer one (0–1), after folding."""
    fa, fb = fold(a).text, fold(b).text
    if not fa or not fb:
        return 0.0
    short, long_ = sorted((fa, fb), key=len)
    return 1.0 if short in long_ else fuzz.partial_ratio(short, long_) / 100


def similar(a: str, b: str) -> float:
    return fuzz.ratio(fold(a).text, fold(b).text) / 100


def same_value(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(float(a) - float(b)) < 1e-6)


def pair_score(p: Item, g: Item) -> float | None:
    """How well a predicted item fits a gold one; None when they cannot be the same item."""
    if p.kind != g.kind:
        return None
    ov = overlap(p.evidence, g.evidence)
    if p.kind in ("problem", "improvement"):
        # the same statement: its quote, or a summary like the gold's (or one that copies the gold's quote)
        sim = max(similar(p.summary, g.summary), overlap(p.summary, g.evidence))
        return ov + 0.5 * sim if ov >= OVERLAP or sim >= OVERLAP else None
    metric, value = p.metric == g.metric, same_value(p.value, g.value)
    if ov < OVERLAP and not (metric and value):
        return None
    label = bool(p.label and g.label and similar(p.label, g.label) >= 0.6)
    return 2 * metric + 2 * value + 0.5 * label + ov


def is_right(p: Item, g: Item) -> tuple[bool, bool]:
    """(value or category right, evidence right) for a matched pair."""
    if p.kind in ("problem", "improvement"):
        value = p.category == g.category
    else:
        value = p.metric == g.metric and same_value(p.value, g.value) and p.platform == g.platform
    return value, overlap(p.evidence, g.evidence) >= OVERLAP


def describe(x: Item) -> str:
    what = f"{x.metric} = {x.value}" if x.kind not in ("problem", "improvement") else f"{x.category} {x.summary[:30]!r}"
    return f"{x.kind} {what}, evidence {x.evidence[:50]!r}"


def score_section(pred: list[Item], gold: list[Item], threshold: float,
                  misses: list[str] | None = None) -> dict[str, Tally]:
    """Tallies per kind for one report section."""
    pairs = sorted(((s, i, j) for i, p in enumerate(pred) for j, g in enumerate(gold)
                    if (s := pair_score(p, g)) is not None), reverse=True)
    used_p: dict[int, int] = {}
    used_g: set[int] = set()
    for _, i, j in pairs:
        if i not in used_p and j not in used_g:
            used_p[i] = j
            used_g.add(j)
    out: dict[str, Tally] = defaultdict(Tally)
    for g in gold:
        out[g.kind].gold += 1
    for i, p in enumerate(pred):
        t = out[p.kind]
        t.pred += 1
        t.located[p.match or "none"] += 1
        flagged = p.score is not None and p.score < threshold
        right = False
        if i in used_p:
            t.matched += 1
            value, evidence = is_right(p, gold[used_p[i]])
            t.value_ok += value
            t.evidence_ok += evidence
            right = value and evidence
        if right:
            t.right += 1
            t.right_flagged += flagged
            if misses is not None and flagged:
                misses.append(f"  ALARM    {describe(p)} (flags {p.flags})\n"
                              f"        gold: {describe(gold[used_p[i]])}")
        else:
            t.wrong += 1
            t.wrong_flagged += flagged
            if misses is not None:
                misses.append(f"  {'flagged ' if flagged else 'UNFLAGGED'} {describe(p)}\n"
                              f"        gold: {describe(gold[used_p[i]]) if i in used_p else '(none)'}")
    return out


# --- gold and predictions -------------------------------------------------------------------

def gold_items(envelope: dict, section: str) -> list[Item]:
    if section == "overview":
        facts = OverviewFacts.model_validate(envelope["answer"])
        return [Item(f.kind, f.metric, f.label, f.value, f.evidence, platform=f.attributes.get("type"))
                for _, f in flatten_overview(facts)]
    answer = ProblemsFacts.model_validate(envelope["answer"])
    return ([Item("problem", evidence=p.evidence, summary=p.summary, category=p.category.value)
             for p in answer.problems]
            + [Item("improvement", evidence=m.evidence, summary=m.summary, category=m.category.value)
               for m in answer.improvements])


def predicted_items(db, extraction_id: int, section: str) -> list[Item]:
    if section == "overview":
        return [Item(r["kind"], r["metric"], r["label"], r["value"], r["evidence"] or "", match=r["match"],
                     score=r["score"], platform=json.loads(r["attributes"]).get("type"), flags=r["flags"])
                for r in db.query("SELECT * FROM facts WHERE extraction_id = ? ORDER BY id", [extraction_id])]
    return [Item(kind, evidence=r["evidence"], summary=r["summary"], category=r["category"], match=r["match"],
                 score=r["score"], flags=r["flags"])
            for kind, table in (("problem", "problems"), ("improvement", "improvements"))
            for r in db.query(f"SELECT * FROM {table} WHERE extraction_id = ? ORDER BY id", [extraction_id])]


def load_gold(dirs: list[Path]) -> dict[tuple[str, str], dict]:
    """(report stem, section) → envelope; a later folder overrides an earlier one."""
    gold = {}
    for d in dirs:
        for p in sorted(d.glob("*.*.json")):
            stem, section = p.name[:-5].rsplit(".", 1)
            if section in ("overview", "problems"):
                gold[(stem, section)] = json.loads(p.read_text(encoding="utf-8"))
    return gold


def score_db(path: Path, model: str, gold: dict[tuple[str, str], dict], threshold: float,
             verbose: bool = False) -> tuple[dict[str, Tally], list[str], int]:
    """Tallies per kind for every report section that has gold and an ok extraction with ``model``."""
    db = open_db(path)
    totals: dict[str, Tally] = defaultdict(Tally)
    notes: list[str] = []
    sections = 0
    rows = db.query(
        "SELECT e.id, e.section, r.file_name FROM extractions e JOIN reports r ON r.id = e.report_id "
        "WHERE e.status = 'ok' AND e.model = ? AND e.id = (SELECT max(id) FROM extractions x "
        "WHERE x.report_id = e.report_id AND x.section = e.section AND x.model = e.model) "
        "ORDER BY r.file_name, e.section", [model])
    for r in rows:
        key = (Path(r["file_name"]).stem, r["section"])
        if key not in gold:
            continue
        sections += 1
        misses: list[str] | None = [] if verbose else None
        for kind, t in score_section(predicted_items(db, r["id"], r["section"]), gold_items(gold[key], r["section"]),
                                     threshold, misses).items():
            totals[kind].add(t)
        if misses:
            notes.append(f"{key[0]} {key[1]}:")
            notes.extend(misses)
    db.close()
    return totals, notes, sections


def build_db(reports: list[Path], model: str, fixtures: Path, folder: Path) -> tuple[Path, list[dict]]:
    """Ingest the reports and extract them in replay mode with ``model``'s saved replies."""
    path = folder / f"{model}.db"
    db = open_db(path)
    ingest_paths(db, reports)
    settings = LLMSettings(model=model, mode=Mode.replay, cache_dir=fixtures)
    failures = extract_reports(db, settings, threshold=DEFAULT_THRESHOLD).failures
    db.close()
    return path, failures


# --- output ----------------------------------------------------------------------------------

HEADER = ["items", "gold", "pred", "match", "prec", "recall", "value", "evid", "exact/norm/fuzzy/none",
          "wrong", "caught", "right", "alarms"]


def pct(n: int, d: int) -> str:
    return f"{100 * n / d:.0f}%" if d else "-"


def row(name: str, t: Tally) -> list[str]:
    loc = "/".join(str(t.located.get(k, 0)) for k in ("exact", "normalized", "fuzzy", "none"))
    return [name, str(t.gold), str(t.pred), str(t.matched), pct(t.matched, t.pred), pct(t.matched, t.gold),
            pct(t.value_ok, t.matched), pct(t.evidence_ok, t.matched), loc, str(t.wrong),
            pct(t.wrong_flagged, t.wrong), str(t.right), pct(t.right_flagged, t.right)]


def table(totals: dict[str, Tally]) -> list[list[str]]:
    rows = [row(k, totals[k]) for k in KINDS if k in totals]
    facts = Tally()
    for k in KINDS:
        if k in totals:
            facts.add(totals[k])
    rows.append(row("all facts", facts))
    rows += [row(k + "s", totals[k]) for k in ("problem", "improvement") if k in totals]
    return rows


def print_table(title: str, rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [HEADER] + rows) for i in range(len(HEADER))]
    print(f"\n{title}")
    for r in [HEADER, ["-" * w for w in widths]] + rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", type=Path, action="append", help=f"gold folder (repeatable; default {GOLD})")
    parser.add_argument("--model", action="append", help="model whose replies to score (repeatable; default: "
                                                         + ", ".join(MODELS) + ")")
    parser.add_argument("--fixtures", type=Path, default=ROOT / "fixtures" / "llm", help="saved replies")
    parser.add_argument("--db", type=Path, help="score this database instead of building one per model")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help="review threshold")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every wrong predicted item")
    args = parser.parse_args()
    gold = load_gold(args.gold or [GOLD])
    stems = {s for s, _ in gold}
    reports = sorted(p for d in REPORT_DIRS for p in d.iterdir() if p.stem in stems)
    print(f"gold: {len(gold)} section(s) of {len(stems)} report(s); review threshold {args.threshold}")
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.model or list(MODELS):
            if args.db:
                path, failures = args.db, []
            else:
                path, failures = build_db(reports, model, args.fixtures, Path(tmp))
            totals, notes, sections = score_db(path, model, gold, args.threshold, args.verbose)
            source = MODELS.get(model, "saved")
            print_table(f"{model} ({source} replies): {sections} section(s) scored, "
                        f"{len(failures)} without a saved reply", table(totals))
            if notes:
                print("\n".join(notes))


if __name__ == "__main__":
    main()
