"""Boilerplate (雷同) and concreteness of what reports say is wrong and what they promise.

Similarity is rapidfuzz's ``ratio`` (normalised Indel similarity) of the two texts
simplified: half-width, no spaces, punctuation or list markers (一是, （二）, 3.), digits
as ``#`` so that a copied sentence with a new year still matches.  Chosen by
bench/bench_similarity.py on 25 hand-picked pairs from the corpus
(fixtures/corpus/similarity_pairs.json): it separates every identical and
near-identical pair from every paraphrase and different pair (margin +0.04), while
MinHash (datasketch) over character 2- or 3-gram shingles, an estimate of their
Jaccard similarity, misclasses a pair under some seeds (margin −0.10 to +0.13 over 20
seeds); it is deterministic and needs no new dependency.  ``NEAR_VERBATIM`` = 0.62
sits in the gap between the highest paraphrase (0.60) and the lowest near-identical
pair (0.64).

Compared: section 五 (from its body, without the heading) and each stated problem,
against the same issuer's previous report (the latest earlier year) and against the
reports of other issuers of the same year (the closest one is kept).

Concreteness: rules over the located text of each problem and improvement — does
it name an object (a website, column, list, a 《document》 …), a quantity (3个, 80%),
a deadline or schedule (年底前, 每月), an owner (由局办公室负责)?  The score is the share
of the four it names, stored with the words that made each one.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

import sqlite_utils
from rapidfuzz import fuzz, process

from .normalize import normalize
from .store import insert_rows

NEAR_VERBATIM = 0.62

_MARKER = re.compile(r"[（(][一二三四五六七八九十\d]{1,3}[)）]|(?<![\u4e00-\u9fff])[一二三四五六七八九十]{1,3}是|"
                     r"[一二三四五六七八九十]{1,3}、|\d{1,2}[.．、](?!\d)")
_NOT_TEXT = re.compile(r"[^\w#]|_")


def simplify(text: str) -> str:
    """What similarity compares: half-width, no spaces, punctuation or list markers, digits as #."""
    t = normalize(text, strip_spaces=True).text
    t = _MARKER.sub("", t)
    t = re.sub(r"\d+(?:\.\d+)?", "#", t)
    return _NOT_TEXT.sub("", t)


def shingles(text: str, n: int = 2) -> set[str]:
    """Character n-grams (bench/bench_similarity.py compares Jaccard and MinHash over them)."""
    if len(text) < n:
        return {text} if text else set()
    return {text[i:i + n] for i in range(len(text) - n + 1)}


def similarity(a: str, b: str) -> float:
    """0–1 similarity of two simplified texts."""
    return fuzz.ratio(a, b) / 100


# --- concreteness ------------------------------------------------------------------------

_NUM = r"(?:\d+(?:\.\d+)?|[零一二两三四五六七八九十百千]+)"
# A named unit that can own a task (县政府办, 局办公室, 信息科 …), not 各单位 or 部分处室.
_UNIT = r"(?:[县区市镇乡]?政府办(?:公室)?|[县区市]?政务公开办|局?办公室|[\u4e00-\u9fff]{2,8}?(?:局|处|科|股|中心|委员会))"
_RULES: dict[str, re.Pattern[str]] = {
    "object": re.compile(
        r"《[^》]{2,40}》|“[^”]{2,12}(?:号|网|平台|栏目|专栏|发布|热线|信箱|APP|客户端)”|"
        r"门户网站|政府网站|网站|栏目|专栏|专题|公众号|微信|微博|政务新媒体|新媒体|客户端|APP|热线|信箱|公报|"
        r"目录|清单|指南|知识库|数据库|公开栏|台账|预决算|规划计划|重大项目|权责清单|申请表|答复书"),
    "quantity": re.compile(
        rf"(?<![第])\d+(?:\.\d+)?\s*%|(?<![第]){_NUM}\s*(?:余|多)?\s*"
        r"(?:个|条|件|次|家|项|篇|期|场|人次|名|人|万|亿|天|小时|倍|批|轮|份|户|套|类|门|万元|元)"),
    "deadline": re.compile(
        rf"\d{{4}}\s*年(?:\d{{1,2}}\s*月)?(?:底|末|内|前|以前|之前)|\d{{1,2}}\s*月(?:底|末|份?前|\d{{1,2}}\s*日前)|"
        rf"年底前|年内|月底前|季度内|限期|期限内|{_NUM}\s*个?(?:工作日|日|月)内|每(?:日|天|周|月|季度|半年|年)"),
    "owner": re.compile(
        rf"(?:由|责成|依靠|牵头单位[:：]?|责任单位[:：]?|负责单位[:：]?){_UNIT}|"
        rf"(?<![各部分个别少数相关有关其他全本我该]){_UNIT}(?=对|要|将|负责|牵头|统筹)"),
}
_VAGUE = re.compile(r"有待(?:进一步)?(?:提高|提升|加强|完善|丰富|拓宽|改进)|不够|仍需|还需|还要|不足|欠缺|进一步|加强|提升")


def concreteness(text: str) -> tuple[float, dict[str, bool], list[str]]:
    """(score, which of object/quantity/deadline/owner are named, reasons) of one located text."""
    t = normalize(text).text
    found = {kind: sorted({m.group().strip() for m in rx.finditer(t)}) for kind, rx in _RULES.items()}
    named = {kind: bool(words) for kind, words in found.items()}
    reasons = [f"{kind}: {'、'.join(words)}" for kind, words in found.items() if words]
    if not reasons:
        vague = sorted({m.group() for m in _VAGUE.finditer(t)})
        reasons = ["泛泛而谈: names no object, quantity, deadline or owner"
                   + (f" ({'、'.join(vague)})" if vague else "")]
    return sum(named.values()) / len(named), named, reasons


# --- the refresh -------------------------------------------------------------------------

def _reports(db: sqlite_utils.Database) -> list[dict]:
    return list(db.query(
        "SELECT r.id, r.year, r.text, ri.issuer_id, s.body_start, s.span_end FROM reports r "
        "JOIN report_issuers ri ON ri.report_id = r.id "
        "LEFT JOIN sections s ON s.report_id = r.id AND s.kind = 'problems' AND s.status = 'found' "
        "WHERE r.year IS NOT NULL ORDER BY r.year, r.id"))


def located(text: str, start: int | None, end: int | None, evidence: str) -> str:
    return text[start:end] if start is not None and end is not None else evidence


def _previous_of(rows: list[dict], has: set[str]) -> dict[str, list[str]]:
    """Each report's previous report(s): the same issuer's latest earlier year that has something."""
    years: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["id"] in has:
            years[r["issuer_id"]][r["year"]].append(r["id"])
    out = {}
    for r in rows:
        earlier = [y for y in years[r["issuer_id"]] if y < r["year"]]
        if earlier:
            out[r["id"]] = years[r["issuer_id"]][max(earlier)]
    return out


def _best(query: str, choices: dict[object, str]) -> tuple[object, float] | None:
    if not choices or not query:
        return None
    keys = list(choices)
    hit = process.extractOne(query, [choices[k] for k in keys], scorer=fuzz.ratio)
    return (keys[hit[2]], hit[1] / 100) if hit else None


def _section_rows(rows: list[dict]) -> list[dict]:
    texts = {r["id"]: simplify(r["text"][r["body_start"]:r["span_end"]]) for r in rows if r["body_start"] is not None}
    meta = {r["id"]: r for r in rows}
    previous = _previous_of(rows, set(texts))
    out = []
    for rid, text in texts.items():
        r = meta[rid]
        if rid in previous:
            best = _best(text, {p: texts[p] for p in previous[rid]})
            if best:
                out.append(dict(report_id=rid, relation="previous", other_report_id=best[0], score=best[1],
                                near_verbatim=int(best[1] >= NEAR_VERBATIM), peers_near_verbatim=None))
        peers = {o: texts[o] for o in texts if meta[o]["year"] == r["year"] and meta[o]["issuer_id"] != r["issuer_id"]}
        if peers:
            scores = process.extract(text, peers, scorer=fuzz.ratio, limit=None)
            other, score = max(((key, s / 100) for _, s, key in scores), key=lambda x: (x[1], x[0]))
            near = {meta[key]["issuer_id"] for _, s, key in scores if s / 100 >= NEAR_VERBATIM}
            out.append(dict(report_id=rid, relation="peer", other_report_id=other, score=score,
                            near_verbatim=int(score >= NEAR_VERBATIM), peers_near_verbatim=len(near)))
    return out


def _problem_rows(db: sqlite_utils.Database, rows: list[dict]) -> list[dict]:
    text_of = {r["id"]: r["text"] for r in rows}
    meta = {r["id"]: r for r in rows}
    items: dict[str, dict[int, str]] = defaultdict(dict)
    for p in db.query("SELECT id, report_id, evidence, span_start, span_end FROM problems_reviewed "
                      "WHERE review_status != 'rejected'"):
        if p["report_id"] in text_of:
            items[p["report_id"]][p["id"]] = simplify(located(text_of[p["report_id"]], p["span_start"],
                                                               p["span_end"], p["evidence"]))
    previous = _previous_of(rows, set(items))
    out = []
    for rid, problems in items.items():
        year, issuer = meta[rid]["year"], meta[rid]["issuer_id"]
        earlier = {(o, pid): t for o in previous.get(rid, []) for pid, t in items[o].items()}
        peers = {(o, pid): t for o in items if meta[o]["year"] == year and meta[o]["issuer_id"] != issuer
                 for pid, t in items[o].items()}
        for pid, text in problems.items():
            for relation, pool in (("previous", earlier), ("peer", peers)):
                best = _best(text, pool)
                if best:
                    (other, other_pid), score = best
                    out.append(dict(problem_id=pid, report_id=rid, relation=relation, other_problem_id=other_pid,
                                    other_report_id=other, score=score, near_verbatim=int(score >= NEAR_VERBATIM)))
    return out


def _concreteness_rows(db: sqlite_utils.Database) -> list[dict]:
    out = []
    for table in ("problems", "improvements"):
        for it in db.query(f"SELECT i.id, i.report_id, i.span_start, i.span_end, r.text FROM {table}_reviewed i "
                           "JOIN reports r ON r.id = i.report_id WHERE i.review_status != 'rejected'"):
            if it["span_start"] is None:
                out.append(dict(item_table=table, item_id=it["id"], report_id=it["report_id"], score=None,
                                object=None, quantity=None, deadline=None, owner=None, located_text=None,
                                reasons=json.dumps(["not scored: the quote was not found in the report"])))
                continue
            text = it["text"][it["span_start"]:it["span_end"]]
            score, named, reasons = concreteness(text)
            out.append(dict(item_table=table, item_id=it["id"], report_id=it["report_id"], score=round(score, 3),
                            **{k: int(v) for k, v in named.items()}, located_text=text,
                            reasons=json.dumps(reasons, ensure_ascii=False)))
    return out


def refresh(db: sqlite_utils.Database) -> None:
    """Rebuild section_similarity, problem_similarity and concreteness (issuers must be current)."""
    rows = _reports(db)
    for table in ("section_similarity", "problem_similarity", "concreteness"):
        db.execute(f"DELETE FROM {table}")
    insert_rows(db, "section_similarity", _section_rows(rows))
    insert_rows(db, "problem_similarity", _problem_rows(db, rows))
    insert_rows(db, "concreteness", _concreteness_rows(db))
