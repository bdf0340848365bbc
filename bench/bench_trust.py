"""How many wrong items grounding flags, and how many right ones it leaves alone.

Takes the hand-written correct answers (fixtures/llm/answers: the samples and
the corpus reports that have them) and builds single-fault variants of them,
one planted fault per variant, for every fault type the grounding claims to
catch, plus realistic *right* variations (a trimmed or extended quote,
full-width forms, curly quotes written straight, 万 written out, a reworded
summary).  Every variant goes through the real client path — the openai
client over HTTP to a local fake OpenAI-compatible server on 127.0.0.1, the
real validation, grounding and store — and the planted item is looked up in
the database: *caught* when its score is below the review threshold.

Prints recall per fault type and false alarms per variation type, plus the
baseline: the correct answers themselves.  A flag that a correct item earns
because its report really contradicts its own table (conflicts_with_table)
is a finding, not a false alarm, and is counted apart.  Not a test.

    python bench/bench_trust.py [--limit-per-type N] [--reports SUBSTRING ...] [-v]
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import re
import sys
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from gkextract.grounding import DEFAULT_THRESHOLD, SOFT_FLAGS
from gkextract.ingest import ingest_paths
from gkextract.llm import LLMSettings, Mode
from gkextract.narrative import extract_reports
from gkextract.numbers import find_quantities
from gkextract.prompts import load_prompt
from gkextract.schema import CATEGORIES
from gkextract.store import open_db

ROOT = Path(__file__).resolve().parent.parent
ANSWERS = ROOT / "fixtures" / "llm" / "answers"
FOLDERS = (ROOT / "fixtures" / "reports", ROOT / "fixtures" / "corpus")
TABLE_KINDS = ("applications", "administrative")
console = Console()


# --- the fake server ------------------------------------------------------------------------

class Replies:
    """model name → {section: answer}; anything else gets the correct answer."""

    def __init__(self, correct: dict[tuple[str, str], dict], stems: dict[str, str]) -> None:
        self.correct = correct
        self.stems = stems              # report id → file stem
        self.variants: dict[str, dict[str, dict]] = {}

    def answer(self, model: str, report_id: str, section: str) -> dict:
        planted = self.variants.get(model, {})
        return planted.get(section) or self.correct[(self.stems[report_id], section)]


def start_server(replies: Replies) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            _, rid, _, section = self.headers["x-gkextract-context"].split()
            content = json.dumps(replies.answer(body["model"], rid, section), ensure_ascii=False)
            data = json.dumps({
                "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content, "refusal": None}}],
                "usage": {"prompt_tokens": 1000, "completion_tokens": 300, "total_tokens": 1300},
            }, ensure_ascii=False).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


# --- planting ---------------------------------------------------------------------------------

@dataclass
class Variant:
    group: str           # "fault" | "right"
    kind: str            # fault or variation type
    stem: str
    section: str
    answer: dict
    target: tuple[str, int, str | None]   # (item table, position in its list, fact kind)
    note: str


FACT_LISTS = {"platforms": "platform", "trainings": "training", "disclosure_volumes": "disclosure",
              "applications": "application", "administrative": "administrative", "supervision": "supervision"}


def _values(answer: dict) -> Iterator[tuple[str, int, dict, dict]]:
    """(list name, position, item, its Value) for every numeric fact of an overview answer."""
    for name in FACT_LISTS:
        for i, item in enumerate(answer.get(name, [])):
            for key in ("value", "sessions", "participants"):
                v = item.get(key)
                if isinstance(v, dict) and v.get("value") is not None:
                    yield name, i, item, v


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"[。；;\n]", text) if len(s.strip()) >= 8]


def plant(stem: str, answers: dict[str, dict], sections: dict[str, str], prompt_text: str,
          rng: random.Random) -> Iterator[Variant]:
    """Every single-fault variant and every right variation of one report's answers."""
    ov, pr = answers.get("overview"), answers.get("problems")
    if ov:
        for name, i, item, v in _values(ov):
            kind = FACT_LISTS[name]
            target = ("facts", i, kind)
            value, unit, ev = v["value"], v.get("unit") or "", v["evidence"]

            def variant(group: str, vtype: str, change: Callable[[dict], None], note: str) -> Variant:
                a = copy.deepcopy(ov)
                for name2, i2, item2, v2 in _values(a):
                    if (name2, i2) == (name, i) and v2["evidence"] == ev and v2["value"] == value:
                        change(v2 if vtype not in ("status_swapped",) else item2)
                        break
                return Variant(group, vtype, stem, "overview", a, target, note)

            wrong = value + (1 if value < 10 else max(1, round(value * 0.1)))
            yield variant("fault", "number_changed", lambda x: x.update(value=wrong), f"{value}→{wrong}")
            yield variant("fault", "invented_quote",
                          lambda x: x.update(evidence=f"全年共完成相关工作{_fmt(value)}{unit}，成效明显"), "")
            others = [s for s in _sentences(sections["overview"]) if _fmt(value) not in s]
            if others:
                s = rng.choice(others)[:40]
                yield variant("fault", "quote_lacks_number", lambda x: x.update(evidence=s), s)
            near = ev.replace(_fmt(value), _fmt(wrong), 1)
            if near != ev:
                vtype = "contradicts_table" if name in TABLE_KINDS else "near_copy_changed"
                yield variant("fault", vtype, lambda x: x.update(value=wrong, evidence=near), near)
            quantities = [q for q in find_quantities(ev) if q.value != value]
            if quantities:
                q = next((q for q in quantities if q.is_year), quantities[0])
                yield variant("fault", "other_number_same_quote", lambda x: x.update(value=q.value),
                              f"{value}→{q.value}")
            if unit and unit not in ("%",):
                if "万" in ev:
                    yield variant("fault", "wrong_unit_magnitude",
                                  lambda x: x.update(value=value / 10000, unit="人"), "万 dropped")
                else:
                    yield variant("fault", "wrong_unit_magnitude", lambda x: x.update(unit="万" + unit),
                                  f"{unit}→万{unit}")
            approx_text = bool(re.search(r"余|多|近|约|逾|超", ev))
            if approx_text and v.get("approximate"):
                yield variant("fault", "approximate_flipped", lambda x: x.update(approximate=False), "余 lost")
            five = [s[:40] for s in _sentences(sections.get("problems", "")) if find_quantities(s[:40])]
            if five:
                s = rng.choice(five)
                n = find_quantities(s)[0].value
                yield variant("fault", "wrong_section", lambda x: x.update(evidence=s, value=n), s)
            yield variant("fault", "copied_from_prompt",
                          lambda x: x.update(evidence="发布信息N条，其中政策解读M条"), "")
            if kind == "training":
                flipped = {"held": "planned", "planned": "held"}[item["status"]]
                yield variant("fault", "status_swapped", lambda x: x.update(status=flipped), flipped)
            # right variations
            m = re.match(r"^(.{2,}?[，,、])(.*" + re.escape(_fmt(value)) + ".*)$", ev)
            if m:
                yield variant("right", "quote_trimmed", lambda x: x.update(evidence=m.group(2)), m.group(2))
            body = sections["overview"]
            at = body.find(ev)
            if at > 0:
                start = max(body.rfind(c, 0, at - 1) for c in "，,。；\n") + 1
                if 0 < at - start <= 30:
                    longer = body[start:at] + ev
                    yield variant("right", "quote_extended", lambda x: x.update(evidence=longer), longer)
            wide = ev.translate({c: c + 0xFEE0 for c in range(0x30, 0x3A)})
            if wide != ev:
                yield variant("right", "fullwidth_digits", lambda x: x.update(evidence=wide), wide)
            straight = ev.translate(str.maketrans({"“": '"', "”": '"', "《": "<", "》": ">"}))
            if straight != ev:
                yield variant("right", "curly_quotes_straight", lambda x: x.update(evidence=straight), straight)
            if unit and re.search(r"\d万" + re.escape(unit), ev):
                yield variant("right", "wan_written_out", lambda x: x.update(value=value, unit=unit), "")
    if pr:
        probs, imps = pr["problems"], pr["improvements"]
        overview_sentences = _sentences(sections.get("overview", ""))
        for table, items in (("problems", probs), ("improvements", imps)):
            for i, item in enumerate(items):
                target = (table, i, None)

                def variant(group: str, vtype: str, change: Callable[[dict], None], note: str) -> Variant:
                    a = copy.deepcopy(pr)
                    change(a[table][i])
                    return Variant(group, vtype, stem, "problems", a, target, note)

                cat = item["category"]
                wrong = rng.choice([c for c in CATEGORIES if c not in (cat, "other")])
                yield variant("fault", "wrong_category", lambda x: x.update(category=wrong), f"{cat}→{wrong}")
                if overview_sentences:
                    s = rng.choice(overview_sentences)[:40]
                    vtype = "unstated_problem" if table == "problems" else "wrong_section"
                    yield variant("fault", vtype, lambda x: x.update(evidence=s, summary="（虚构）" + x["summary"]), s)
                if table == "improvements" and probs:
                    q = probs[min(i, len(probs) - 1)]["evidence"]
                    yield variant("fault", "improvement_quotes_problem", lambda x: x.update(evidence=q), q)
                if table == "problems" and imps:
                    q = imps[min(i, len(imps) - 1)]["evidence"]
                    yield variant("fault", "unstated_problem", lambda x: x.update(evidence=q), q)
                yield variant("right", "reworded_summary", lambda x: x.update(summary="报告称：" + x["summary"]), "")
                straight = item["evidence"].translate(str.maketrans({"“": '"', "”": '"', "《": "<", "》": ">"}))
                if straight != item["evidence"]:
                    yield variant("right", "curly_quotes_straight", lambda x: x.update(evidence=straight), straight)


# --- running -----------------------------------------------------------------------------------

def load_answers(only: list[str]) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = defaultdict(dict)
    for p in sorted(ANSWERS.glob("*.json")):
        stem, section = p.stem.rsplit(".", 1)
        if only and not any(o in stem for o in only):
            continue
        out[stem][section] = json.loads(p.read_text(encoding="utf-8"))["answer"]
    return {k: v for k, v in out.items() if set(v) == {"overview", "problems"}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit-per-type", type=int, default=40, help="variants per type and report, at most")
    ap.add_argument("--reports", nargs="*", default=[], help="only reports whose stem contains one of these")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every missed fault and false alarm")
    args = ap.parse_args()
    rng = random.Random(7)
    answers = load_answers(args.reports)
    tmp = Path(tempfile.mkdtemp(prefix="bench_trust-"))
    db = open_db(tmp / "trust.db")
    files = [p for folder in FOLDERS for p in folder.iterdir() if p.stem in answers]
    ingest_paths(db, files)
    stems = {rid: Path(name).stem for rid, name in db.execute("SELECT id, file_name FROM reports")}
    by_stem = {v: k for k, v in stems.items()}
    texts = {rid: t for rid, t in db.execute("SELECT id, text FROM reports")}
    sections = {(rid, k): texts[rid][s:e] for rid, k, s, e in db.execute(
        "SELECT report_id, kind, span_start, span_end FROM sections WHERE status = 'found'")}
    prompt_text = load_prompt("overview").text + load_prompt("problems").text
    correct = {(stem, s): a for stem, secs in answers.items() for s, a in secs.items()}
    replies = Replies(correct, stems)
    server, base_url = start_server(replies)

    variants: list[Variant] = []
    for stem in answers:
        rid = by_stem[stem]
        secs = {k: sections.get((rid, k), "") for k in ("overview", "problems")}
        per_type: dict[str, int] = defaultdict(int)
        for v in plant(stem, answers[stem], secs, prompt_text, rng):
            if per_type[v.kind] < args.limit_per_type:
                per_type[v.kind] += 1
                variants.append(v)

    def run(model: str, rid: str) -> None:
        settings = LLMSettings(model=model, mode=Mode.live, base_url=base_url, api_key="bench-fake",
                               cache_dir=tmp / "cache", concurrency=2)
        summary = extract_reports(db, settings, report_ids=[rid])
        if summary.failures:
            raise RuntimeError(f"{model}: {summary.failures}")

    # the correct answers themselves
    for rid in stems:
        run("baseline", rid)
    for n, v in enumerate(variants):
        replies.variants[f"v{n}"] = {v.section: v.answer}
        run(f"v{n}", by_stem[v.stem])
    server.shutdown()

    def item(model: str, v_rid: str, target: tuple[str, int, str | None]) -> list[tuple[float, list[str]]]:
        table, pos, kind = target
        sql = (f"SELECT i.score, i.flags FROM {table} i JOIN extractions e ON e.id = i.extraction_id "
               "WHERE e.model = ? AND i.report_id = ? AND i.item = ?" + (" AND i.kind = ?" if kind else ""))
        return [(s, json.loads(f)) for s, f in db.execute(sql, [model, v_rid, pos, *([kind] if kind else [])])]

    tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])   # caught, variants, soft
    misses: list[str] = []
    for n, v in enumerate(variants):
        rows = item(f"v{n}", by_stem[v.stem], v.target)
        base = item("baseline", by_stem[v.stem], v.target)
        if not rows:
            continue
        if v.group == "fault":
            caught = any(s < DEFAULT_THRESHOLD for s, _ in rows)
            tally[(v.group, v.kind)][0] += caught
            tally[(v.group, v.kind)][2] += not caught and any(set(f) & SOFT_FLAGS - {"no_value"} for _, f in rows)
            if not caught:
                misses.append(f"missed {v.kind} {v.stem} {v.target} {v.note!r}: {rows}")
        else:
            # a right variation counts as a false alarm only if it flags more than the original did
            worse = min(s for s, _ in rows) < DEFAULT_THRESHOLD <= min(s for s, _ in base) if base else \
                any(s < DEFAULT_THRESHOLD for s, _ in rows)
            tally[(v.group, v.kind)][0] += worse
            if worse:
                misses.append(f"false alarm {v.kind} {v.stem} {v.target} {v.note!r}: {rows}")
        tally[(v.group, v.kind)][1] += 1

    # baseline false alarms
    base_total = base_flagged = base_conflict = 0
    for table in ("facts", "problems", "improvements"):
        for s, f in db.execute(f"SELECT i.score, i.flags FROM {table} i JOIN extractions e ON "
                               "e.id = i.extraction_id WHERE e.model = 'baseline'"):
            base_total += 1
            flags = json.loads(f)
            if s < DEFAULT_THRESHOLD:
                if "conflicts_with_table" in flags and not set(flags) - {"conflicts_with_table"} - SOFT_FLAGS:
                    base_conflict += 1
                else:
                    base_flagged += 1
                    misses.append(f"baseline flagged: {table} {s} {flags}")

    def report(group: str, title: str, what: str, extra: list[tuple[str, int, int]] = ()) -> None:
        t = Table(title=title, header_style="bold")
        for c in (what, "variants", "flagged" if group == "right" else "caught", "rate", "soft flag only"):
            t.add_column(c, justify="left" if c == what else "right")
        hit = total = 0
        for k in sorted(k for g, k in tally if g == group):
            c, n, soft = tally[(group, k)]
            hit, total = hit + c, total + n
            t.add_row(k, str(n), str(c), f"{100 * c / n:.1f} %", str(soft) if soft else "")
        t.add_row(f"[bold]all", str(total), str(hit), f"[bold]{100 * hit / max(1, total):.1f} %", "")
        for name, n, c in extra:
            t.add_row(name, str(n), str(c), f"{100 * c / max(1, n):.1f} %", "")
        console.print(t)

    report("fault", f"planted faults caught (score < {DEFAULT_THRESHOLD}), {len(answers)} reports", "fault type")
    report("right", "false alarms on right variations (flagged, where the original was not)", "variation",
           [("correct answers as written", base_total, base_flagged)])
    console.print(f"correct items flagged because the report contradicts its own table (findings, not false "
                  f"alarms): {base_conflict}")
    if args.verbose:
        for m in misses:
            console.print(m, markup=False)


if __name__ == "__main__":
    main()
