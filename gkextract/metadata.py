"""Who issued a report, for which year, when, at what level and where.

The issuer comes from the title, or — when a report has no title (sample 002)
— from the signature at its end.  The year is the statistical year (the title's
年度, else the stated statistics period), not the publication year.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .normalize import Normalized, normalize
from .region import Region, resolve
from .sections import SectionSplit

_TITLE_RE = re.compile(r"(?P<pre>[^\n]*?)(?P<year>(?:19|20)\d{2})\s*年?度?(?P<rest>[^\n]*?(?:年度报告|年报|工作报告))")
_DATE_RE = re.compile(r"((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_PERIOD_RE = re.compile(r"统计(?:时限|期限|时间|周期|区间)?[^\n。]{0,12}?((?:19|20)\d{2})\s*年\s*1\s*月\s*1\s*日")
_BODY_RE = re.compile(r"(?:人民政府|政府|办公室|办公厅|局|委员会|委|厅|院|中心|办事处|管委会|管理委员会)$")
_DEPARTMENT_RE = re.compile(r"(?:办公室|办公厅|局|委员会|委|厅|中心|管委会|管理委员会|院)$")
_TOWNSHIP_RE = re.compile(r"(?:乡|镇|街道|街道办事处|苏木)(?:人民政府)?$")
_YEAR_MENTION = re.compile(r"((?:19|20)\d{2})\s*年")

LEVELS = ("province", "city", "county", "township", "department")


@dataclass(frozen=True)
class Metadata:
    title: str | None
    issuer: str | None
    issuer_source: str | None     # "title" | "signature" | None
    year: int | None
    year_source: str | None       # "title" | "statistics_period" | "overview" | None
    publication_date: str | None  # ISO date
    level: str | None
    region: Region | None


def _clean(s: str) -> str:
    return re.sub(r"\s+", "", s).strip("，,。:：")


def _title(head: str) -> tuple[str | None, str | None, int | None]:
    """(title, issuer, year) from the text before the first part."""
    lines = [ln.strip() for ln in head.split("\n")]
    for i, line in enumerate(lines):
        if not line:
            continue
        m = _TITLE_RE.search(normalize(line).text)
        if not m:
            continue
        issuer = _clean(m["pre"])
        title = line
        if not issuer:
            prev = next((p for p in reversed(lines[:i]) if p), "")
            if prev and _BODY_RE.search(_clean(prev)) and len(_clean(prev)) <= 30:
                issuer = _clean(prev)
                title = f"{prev}{line}"
        return title, issuer or None, int(m["year"])
    return None, None, None


def _signature_issuer(sig: str) -> tuple[str | None, str | None]:
    issuer = date = None
    for line in (ln.strip() for ln in sig.split("\n")):
        if not line:
            continue
        d = _DATE_RE.search(line)
        if d:
            date = f"{int(d[1]):04d}-{int(d[2]):02d}-{int(d[3]):02d}"
        elif issuer is None and _BODY_RE.search(_clean(line)):
            issuer = _clean(line)
    return issuer, date


def _level(issuer: str | None, region: Region | None) -> str | None:
    if not issuer:
        return None
    body = re.sub(r"^.*?(?:人民政府|政府)", "", issuer) if ("政府" in issuer) else issuer
    if _TOWNSHIP_RE.search(issuer):
        return "township"
    if body and _DEPARTMENT_RE.search(body):
        return "department"
    if region is None:
        return "department" if _DEPARTMENT_RE.search(issuer) else None
    return {"province": "province", "city": "city", "county": "county"}[region.tier]


def extract_metadata(text: str, split: SectionSplit, norm: Normalized | None = None) -> Metadata:
    head = text[split.preamble[0]:split.preamble[1]] if split.preamble else ""
    title, issuer, year = _title(head)
    issuer_source = "title" if issuer else None
    year_source = "title" if year else None

    sig_issuer = sig_date = None
    if split.signature:
        sig_issuer, sig_date = _signature_issuer(text[split.signature[0]:split.signature[1]])
    if not issuer and sig_issuer:
        issuer, issuer_source = sig_issuer, "signature"

    norm_text = (norm or normalize(text)).text
    if year is None:
        m = _PERIOD_RE.search(norm_text)
        if m:
            year, year_source = int(m[1]), "statistics_period"
    if year is None and "overview" in split.parts:
        ov = split.parts["overview"]
        m = _YEAR_MENTION.search(norm_text, norm.from_original(ov.start) if norm else ov.start,
                                 norm.from_original(ov.end) if norm else ov.end)
        if m:
            year, year_source = int(m[1]), "overview"

    pub = sig_date
    if pub is None:
        m = re.search(r"(?:发布|时间|日期)[:：]?\s*((?:19|20)\d{2})[-年./](\d{1,2})[-月./](\d{1,2})", normalize(head).text)
        if m:
            pub = f"{int(m[1]):04d}-{int(m[2]):02d}-{int(m[3]):02d}"

    region = resolve(issuer, context=text) if issuer else None
    return Metadata(title, issuer, issuer_source, year, year_source, pub, _level(issuer, region), region)
