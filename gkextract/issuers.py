"""Issuers as entities: one body across the years, whatever name a report gives it.

Names of one body are matched by general rules over name forms, never by a list
of places:

* 党工委管委会 / 党工委、管委会 is the 管委会; a zone's 管理委员会 is its 管委会;
* 人民政府 is 政府, and a zone's 管委会 is its government (平潭综合实验区管委会 =
  平潭综合实验区政府); a title that names only a place means its government
  (metadata.government_of);
* a leading region is read as its code, so short, autonomous and city-prefixed forms
  meet (关岭自治县人民政府 = 关岭布依族苗族自治县人民政府, 保定市竞秀区人民政府 =
  竞秀区人民政府) while two 朝阳区 stay apart; a zone names itself (福建省平潭综合实验区
  = 平潭综合实验区).

A report whose issuer is unknown is an issuer of its own, never guessed into another.

Two names with different keys are one body only when a report says so — its
source line or signature names another government of the same region
(平潭综合实验区's 2021 report: 来源：平潭县人民政府) — or when a person merges them
by hand.  A renamed department (投资促进局 signing as 国有资产管理局) is only ever
*suggested*: ``gkextract issuers --merge A --into B`` decides, and every decision
is a row in ``issuer_decisions``, the audit trail, replayed on every refresh.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlite_utils

from .metadata import _SOURCE_RE, is_organisation
from .normalize import normalize
from .region import leading_region, resolve
from .store import insert_rows

_GOVERNMENT = re.compile(r"(?:人民政府|政府|管委会|管理委员会)$")
_ZONE = re.compile(r"[\u4e00-\u9fff]{2,}?(?:综合实验区|实验区|开发区|高新区|新区|园区|试验区|示范区|合作区)")
# The name run right before a date at the end of a report: its signature.
_SIGNED = re.compile(r"(?:^|[\s。；;，,：:）)])([\u4e00-\u9fff]{4,40}?)\s*(?:\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)")


class IssuerError(LookupError):
    """An issuer name that matches nothing, or more than one issuer."""


def written(name: str) -> str:
    """A name as written, without the spaces and full-width forms of its page."""
    return re.sub(r"\s+", "", normalize(name).text)


def canonical(name: str) -> str:
    """The name as the body's name: 党工委管委会 → 管委会; a zone's 管理委员会 → 管委会."""
    s = written(name)
    s = re.sub(r"党工委[、和及]?(?=管委会|管理委员会)", "", s)
    return re.sub(r"(?<=区)管理委员会", "管委会", s)


def name_key(name: str, context: str = "") -> str:
    """Names of one body share a key: 人民政府 = 政府 = a zone's 管委会, a leading region by its code.

    ``context`` (the report's text) picks between same-named regions, as metadata does.
    """
    s = re.sub(r"人民政府|(?<=区)管委会", "政府", canonical(name))
    if not is_organisation(s):
        s += "政府"  # a place stands for its government
    region, end = leading_region(s, context)
    if region is None or _ZONE.match(s[end:]):
        return s[end:]  # a zone names itself: 福建省平潭综合实验区管委会 = 平潭综合实验区管委会
    return f"@{region.code}{s[end:]}"


def is_government(name: str) -> bool:
    """A government (or a zone's 管委会), not one of its departments."""
    return bool(_GOVERNMENT.search(canonical(name)))


def signed_names(text: str) -> list[str]:
    """Bodies named right before a date at the end of a report (the signature)."""
    tail = normalize(text[-400:]).text
    return [m[1] for m in _SIGNED.finditer(tail) if is_organisation(m[1])]


def source_names(preamble: str) -> list[str]:
    return [m[1] for m in _SOURCE_RE.finditer(normalize(preamble).text) if is_organisation(m[1])]


# --- the refresh -----------------------------------------------------------------------

class _Union:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)


@dataclass
class Link:
    """Another body a report names: one issuer with it when it is the same government."""

    report_id: str
    issuer: str         # the report's issuer, as written
    key: str
    other: str          # the other name, as written
    other_key: str
    evidence: str       # 来源：… or 落款：…
    same_government: bool


def _report_links(rows: list[dict]) -> list[Link]:
    out = []
    for r in rows:
        if r["unknown"]:
            continue
        named = [("来源", n) for n in source_names(r["preamble"] or "")]
        named += [("落款", n) for n in signed_names(r["text"])]
        for where, other in named:
            other_key = name_key(other, r["text"])
            if other_key == r["key"]:
                continue
            region = resolve(canonical(other), r["text"])
            same = (is_government(r["issuer"]) and is_government(other) and region is not None
                    and region.code == r["region_code"])
            out.append(Link(r["id"], r["issuer"], r["key"], written(other), other_key, f"{where}：{other}", same))
    return out


def decisions(db: sqlite_utils.Database) -> list[dict]:
    return list(db.query("SELECT * FROM issuer_decisions ORDER BY id"))


def refresh_issuers(db: sqlite_utils.Database) -> None:
    """Rebuild issuers, aliases, report_issuers and suggestions from the reports and the decisions."""
    rows = list(db.query(
        "SELECT r.id, r.file_name, coalesce(r.issuer, '(issuer unknown: ' || r.file_name || ')') AS issuer, "
        "r.issuer IS NULL AS unknown, r.year, r.level, r.province, r.city, r.county, r.region_code, "
        "r.publication_date, r.text, s.text AS preamble FROM reports r "
        "LEFT JOIN sections s ON s.report_id = r.id AND s.kind = 'preamble' ORDER BY r.year, r.id"))
    for r in rows:
        r["key"] = f"?{r['id']}" if r["unknown"] else name_key(r["issuer"], r["text"])
    uf = _Union()
    for r in rows:
        uf.find(r["key"])
    manual: list[dict] = []
    blocked: set[str] = set()
    for d in decisions(db):
        if d["action"] == "merge":
            manual.append(d)
        else:
            manual = [m for m in manual if d["name_key"] not in (m["name_key"], m["into_key"])]
            blocked.add(d["name_key"])
    links = _report_links(rows)
    accepted = [ln for ln in links if ln.same_government and not {ln.key, ln.other_key} & blocked]
    for ln in accepted:
        uf.union(ln.other_key, ln.key)
    for m in manual:
        uf.union(m["name_key"], m["into_key"])
    reported = {ln.other_key: ln for ln in accepted}
    merged = {k: m for m in manual for k in (m["name_key"], m["into_key"])}

    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[uf.find(r["key"])].append(r)
    issuer_rows, alias_rows, report_rows = [], [], []
    for root, members in groups.items():
        latest = max(members, key=lambda m: (m["year"] or 0, m["publication_date"] or "", m["id"]))
        into = [m for m in manual if uf.find(m["into_key"]) == root]
        name, iid = (written(into[-1]["into_name"]), into[-1]["into_key"]) if into else \
            (latest["issuer"] if latest["unknown"] else written(latest["issuer"]), latest["key"])
        with_level = [m for m in members if m["level"]]
        where = max(with_level, key=lambda m: m["year"] or 0) if with_level else latest
        years = sorted({m["year"] for m in members if m["year"]})
        issuer_rows.append(dict(id=iid, name=name, level=where["level"], province=where["province"],
                                city=where["city"], county=where["county"], region_code=where["region_code"],
                                reports=len(members), first_year=years[0] if years else None,
                                last_year=years[-1] if years else None))
        aliases: dict[str, dict] = {}
        for m in members:
            as_written = written(m["issuer"])
            if as_written == name or as_written in aliases:
                continue
            if m["key"] == iid:
                how, evidence = "rule", "the same body by a name rule (党工委管委会 = 管委会, 人民政府 = 政府 …)"
            elif m["key"] in merged:
                how, evidence = "merge", _merge_evidence(merged[m["key"]])
            else:
                how, evidence = "report", reported[m["key"]].evidence if m["key"] in reported else ""
            aliases[as_written] = dict(issuer_id=iid, alias=as_written, how=how, report_id=m["id"],
                                    evidence=f"{evidence} ({m['file_name']})")
        for k, ln in reported.items():
            if uf.find(k) == root and ln.other not in aliases and ln.other != name:
                aliases[ln.other] = dict(issuer_id=iid, alias=ln.other, how="report", report_id=ln.report_id,
                                         evidence=ln.evidence)
        alias_rows += aliases.values()
        report_rows += [dict(report_id=m["id"], issuer_id=iid) for m in members]

    issuer_of = {r["report_id"]: r["issuer_id"] for r in report_rows}
    known = {r["key"]: issuer_of[r["id"]] for r in rows}
    suggestion_rows = [
        dict(issuer_id=issuer_of[ln.report_id], other_issuer_id=known[ln.other_key], report_id=ln.report_id,
             evidence=ln.evidence)
        for ln in links
        if not ln.same_government and ln.other_key in known and known[ln.other_key] != issuer_of[ln.report_id]
        and is_government(ln.other) == is_government(ln.issuer)]
    for table in ("issuer_suggestions", "report_issuers", "issuer_aliases", "issuers"):
        db.execute(f"DELETE FROM {table}")
    insert_rows(db, "issuers", issuer_rows)
    insert_rows(db, "issuer_aliases", alias_rows)
    insert_rows(db, "report_issuers", report_rows)
    insert_rows(db, "issuer_suggestions", suggestion_rows)


def _merge_evidence(d: dict) -> str:
    note = f": {d['note']}" if d["note"] else ""
    return f"merged by {d['reviewer']} on {d['decided_at'][:10]} (decision {d['id']}){note}"


# --- reading and deciding ---------------------------------------------------------------------

def resolve_issuer(db: sqlite_utils.Database, text: str) -> dict:
    """An issuer by id, name or alias (any written form of one), else by a unique part of one."""
    name = written(text)
    rows = list(db.query("SELECT * FROM issuers WHERE id IN (?, ?) OR name = ? OR id IN "
                         "(SELECT issuer_id FROM issuer_aliases WHERE alias = ?)",
                         [text, name_key(text), name, name]))
    if not rows:
        rows = list(db.query("SELECT * FROM issuers WHERE name LIKE '%' || ? || '%' OR id IN (SELECT issuer_id "
                             "FROM issuer_aliases WHERE alias LIKE '%' || ? || '%')", [name, name]))
    if not rows:
        raise IssuerError(f"no issuer matches {text!r}; `gkextract issuers` lists them")
    if len(rows) > 1:
        raise IssuerError(f"{text!r} matches {len(rows)} issuers ({', '.join(r['name'] for r in rows[:6])}); "
                          "give more of the name")
    return rows[0]


def _node_key(db: sqlite_utils.Database, text: str) -> str:
    """The key of one written name: a report's issuer or an alias (not the group it is in)."""
    row = db.execute("SELECT r.issuer, r.text FROM reports r WHERE r.issuer = ? LIMIT 1", [written(text)]).fetchone()
    return name_key(row[0], row[1]) if row else name_key(text)


def record_decision(db: sqlite_utils.Database, action: str, name: str, into: str | None, reviewer: str,
                    note: str | None) -> dict:
    """Append a merge or an unmerge to the audit trail; names are checked against the issuers."""
    a = resolve_issuer(db, name)
    if action == "merge":
        if not into:
            raise IssuerError("--merge needs --into: the issuer the other one joins")
        b = resolve_issuer(db, into)
        if a["id"] == b["id"]:
            raise IssuerError(f"{name!r} and {into!r} are already one issuer ({a['name']})")
        row = dict(action="merge", name=a["name"], name_key=a["id"], into_name=b["name"], into_key=b["id"])
    else:
        key = _node_key(db, name)
        if not any(key in (d["name_key"], d["into_key"]) for d in decisions(db) if d["action"] == "merge"):
            raise IssuerError(f"{name!r} was never merged by hand; nothing to undo")
        row = dict(action="unmerge", name=written(name), name_key=key, into_name=None, into_key=None)
    row.update(reviewer=reviewer, decided_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), note=note)
    with db.atomic():
        insert_rows(db, "issuer_decisions", [row])
    return row


def list_issuers(db: sqlite_utils.Database) -> list[dict]:
    out = []
    for r in db.query("SELECT * FROM issuers ORDER BY province, city, county, level != 'department', name"):
        years = [y for (y,) in db.execute(
            "SELECT DISTINCT r.year FROM reports r JOIN report_issuers ri ON ri.report_id = r.id "
            "WHERE ri.issuer_id = ? AND r.year IS NOT NULL ORDER BY r.year", [r["id"]])]
        aliases = list(db.query("SELECT alias, how, report_id, evidence FROM issuer_aliases WHERE issuer_id = ? "
                                "ORDER BY alias", [r["id"]]))
        out.append(dict(r, years=year_ranges(years), aliases=aliases))
    return out


def list_suggestions(db: sqlite_utils.Database) -> list[dict]:
    return list(db.query(
        "SELECT a.name AS issuer, b.name AS named, r.file_name, r.year, s.evidence FROM issuer_suggestions s "
        "JOIN issuers a ON a.id = s.issuer_id JOIN issuers b ON b.id = s.other_issuer_id "
        "JOIN reports r ON r.id = s.report_id ORDER BY a.name, r.year"))


def year_ranges(years: list[int]) -> str:
    """2018–2021, 2023–2025: gaps show."""
    parts: list[list[int]] = []
    for y in years:
        if parts and parts[-1][-1] == y - 1:
            parts[-1].append(y)
        else:
            parts.append([y])
    return ", ".join(f"{p[0]}–{p[-1]}" if len(p) > 1 else str(p[0]) for p in parts)
