"""Were last year's promises kept?  Each improvement of year N, looked for in year N+1.

A promise is

* ``repeated`` when year N+1 states a problem of the same category (the promise's,
  or that of the problem it answers) in the same words: at least ``MIN_SHARED`` of the
  promise's (or its problem's) content bigrams, and ``MIN_CONTAINMENT`` of the shorter
  text's, recur in the new problem;
* ``addressed`` when year N+1's overview states a fact of a kind that fits the
  category (training for staffing, a supervision measure for supervision, a policy
  interpretation count for 政策解读 …) sharing words with the promise the same way;
* ``not_mentioned`` otherwise.

Content bigrams are character 2-grams of the simplified text with the stock words of
these reports (政务公开, 加强, 进一步, 工作 …) cut out, so that only what the promise is
about can link it.  Both quotes are stored, with the shared words as the reason.
Only consecutive years are linked: a promise made in a year whose successor is
missing is not followed up (the timeline says so).

By rules alone a paraphrase is missed (丰富信息发布形式 → 政策解读形式仍需创新); the
README gives the agreement with a hand reading of the corpus.  The optional model
check per issuer pair of the issue is not built.
"""

from __future__ import annotations

import re
from collections import defaultdict

import sqlite_utils

from .boilerplate import shingles, simplify
from .store import insert_rows

MIN_SHARED = 1
MIN_CONTAINMENT = 0.2
_STOCK_WORDS = re.compile(
    "政府信息公开|政务公开|信息公开|公开|政府|信息|工作|进一步|加强|加大|不断|提升|提高|完善|强化|推进|全面|持续|"
    "深化|继续|做好|切实|积极|有待|不够|还需|仍需|全区|我区|各单位|部门|单位|全年|开展|做到|确保|相关|方面|水平|"
    "能力|建设|机制|有关|及时|常态化|日常")
ALL_KINDS = frozenset({"platform", "training", "disclosure", "application", "administrative", "supervision"})
# Which facts of the next overview can show a promise of each category was acted on.
CATEGORY_FACTS: dict[str, frozenset[str]] = {
    "disclosure_quality": frozenset({"disclosure"}), "timeliness": frozenset({"disclosure"}),
    "policy_interpretation": frozenset({"disclosure"}), "platforms": frozenset({"platform", "supervision"}),
    "rules_standards": frozenset({"supervision", "disclosure"}), "staffing_capacity": frozenset({"training"}),
    "awareness": frozenset({"training"}), "requests_handling": frozenset({"application"}),
    "responsiveness": frozenset({"platform"}), "supervision": frozenset({"supervision"}),
    "grassroots": frozenset({"disclosure", "supervision"}), "other": ALL_KINDS,
}


def content_bigrams(text: str) -> set[str]:
    parts = _STOCK_WORDS.sub("|", simplify(text)).split("|")
    return {s for part in parts for s in shingles(part, 2) if len(s) == 2}


def shared(a: str, b: str) -> tuple[float, list[str]]:
    """(containment: shared content bigrams / those of the shorter text, the shared ones)."""
    x, y = content_bigrams(a), content_bigrams(b)
    if not x or not y:
        return 0.0, []
    common = sorted(x & y)
    return len(common) / min(len(x), len(y)), common


def _links(text: str, targets: list[str], pool: list[dict]) -> tuple[dict, float, list[str]] | None:
    """The item of ``pool`` that shares most with ``text`` or one of ``targets``, if enough."""
    best = None
    for item in pool:
        for t in [text, *targets]:
            score, common = shared(t, item["evidence"])
            if len(common) >= MIN_SHARED and score >= MIN_CONTAINMENT and (best is None or score > best[1]):
                best = (item, score, common)
    return best


def _narrative_copy(db: sqlite_utils.Database) -> dict[tuple[str, int], str]:
    """Per issuer and year, the report whose problems section was extracted (with the most items, if two)."""
    out: dict[tuple[str, int], str] = {}
    for issuer, year, rid in db.execute(
            "SELECT ri.issuer_id, r.year, r.id FROM reports r JOIN report_issuers ri ON ri.report_id = r.id "
            "JOIN current_extractions e ON e.report_id = r.id AND e.section = 'problems' WHERE r.year IS NOT NULL "
            "ORDER BY (SELECT count(*) FROM improvements i WHERE i.extraction_id = e.id) "
            "+ (SELECT count(*) FROM problems p WHERE p.extraction_id = e.id), r.id DESC"):
        out[(issuer, year)] = rid
    return out


def _items(db: sqlite_utils.Database, table: str, extra: str = "") -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for r in db.query(f"SELECT * FROM {table}_reviewed WHERE review_status != 'rejected' {extra} ORDER BY id"):
        out[r["report_id"]].append(r)
    return out


def followup_rows(db: sqlite_utils.Database) -> list[dict]:
    copies = _narrative_copy(db)
    promises, problems = _items(db, "improvements"), _items(db, "problems")
    facts = _items(db, "facts", "AND section = 'overview'")
    out = []
    for (issuer, year), rid in sorted(copies.items(), key=lambda x: x[0][1]):
        nxt = copies.get((issuer, year + 1))
        if nxt is None:
            continue
        own = {p["id"]: p for p in problems[rid]}
        for m in promises[rid]:
            answered = [own[m["problem_id"]]] if m["problem_id"] in own else \
                [p for p in problems[rid] if p["category"] == m["category"]]
            categories = {m["category"]} | {p["category"] for p in answered}
            row = dict(improvement_id=m["id"], report_id=rid, next_report_id=nxt, evidence=m["evidence"])
            again = _links(m["evidence"], [p["evidence"] for p in answered],
                           [p for p in problems[nxt] if p["category"] in categories])
            kinds = CATEGORY_FACTS.get(m["category"], ALL_KINDS)
            done = None if again else _links(m["evidence"], [], [f for f in facts[nxt] if f["kind"] in kinds])
            if again or done:
                item, score, common = again or done
                row.update(status="repeated" if again else "addressed",
                           matched_table="problems" if again else "facts", matched_id=item["id"],
                           score=round(score, 3), next_evidence=item["evidence"],
                           how=(f"{'a problem' if again else 'a ' + item['kind'] + ' fact'} of "
                                f"{year + 1} in {item.get('category') or m['category']} shares "
                                f"{'、'.join(common)} ({score:.2f})"))
            else:
                row.update(status="not_mentioned", matched_table=None, matched_id=None, score=None,
                           next_evidence=None, how=f"no {year + 1} problem or fact of a fitting kind shares its words")
            out.append(row)
    return out


def refresh(db: sqlite_utils.Database) -> None:
    """Rebuild followups (issuers must be current)."""
    db.execute("DELETE FROM followups")
    insert_rows(db, "followups", followup_rows(db))
