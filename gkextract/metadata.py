"""Who issued a report, for which year, when, at what level and where.

Issuer candidates come from every place a report names it: the title (year
first or last, split over two lines, behind a ``标题:`` label), the HTML
``<title>`` and the CMS ``<meta name="ArticleTitle">``, the signature at the
end, and the source line (``来源：`` / ``ContentSource``).  A candidate is
accepted only if it names an organisation (…人民政府, …办公室, …局, …管委会 …);
a title that names only a place (平潭综合实验区, 保德县) means that place's
government.  A sentence, a page header or a fragment is never an issuer.

The year is the statistical year (the title's 年度, else the stated
statistics period), not the publication year.  The publication date is the
page's own (发布时间, ``PubDate``), else the date under the signature.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .normalize import Normalized, normalize
from .region import Region, resolve
from .sections import SectionSplit

_DATE_RE = re.compile(r"((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_ISO_DATE_RE = re.compile(r"((?:19|20)\d{2})[-./年](\d{1,2})[-./月](\d{1,2})")
_PUBLISHED_RE = re.compile(r"(?:发布时间|发布日期|发文日期|成文日期|PubDate|(?<!统计)(?<!截止)时间|日期)\s*[:：]?\s*"
                           r"((?:19|20)\d{2})[-./年](\d{1,2})[-./月](\d{1,2})")
_PERIOD_RE = re.compile(r"统计(?:时限|期限|时间|周期|区间)?[^\n。]{0,12}?((?:19|20)\d{2})\s*年\s*1\s*月\s*1\s*日")
_YEAR_MENTION = re.compile(r"((?:19|20)\d{2})\s*年")
_REPORT_WORDS = re.compile(r"(?:政府信息公开|政务公开|信息公开)(?:工作)?(?:年度)?(?:报告|年报)|年度报告|年报")
_YEAR_IN_TITLE = re.compile(r"[(（]?((?:19|20)\d{2})\s*年?度?[)）]?")
# "标题: …" in crawler dumps; Markdown heading marks and emphasis around a title.
_LABEL_PREFIX = re.compile(r"^(?:#+\s*|>\s*|\*\*|__)*(?:(?:标题|题目|名称|文章标题|ArticleTitle)\s*[:：]\s*)?")

# What an organisation's name ends with, and what a place's name ends with.
_ORG_SUFFIX = re.compile(
    r"(?:人民政府|政府|办公室|办公厅|管理委员会|管委会|委员会|街道办事处|办事处|局|厅|署|委|院|中心|公署)$")
_PLACE_SUFFIX = re.compile(r"(?:综合实验区|实验区|开发区|高新区|新区|园区|自治州|自治县|自治旗|街道|省|市|县|区|旗|州|盟|乡|镇)$")
_NOT_A_NAME = re.compile(r"[，,。；;！!？?：:、“”\"《》<>|/\\\d]|本报告|根据|依据|按照|关于|Page", re.I)
_DEPARTMENT_RE = re.compile(r"(?:办公室|办公厅|局|委员会|委|厅|中心|院|署)$")
_TOWNSHIP_RE = re.compile(r"(?:乡|镇|街道|街道办事处|苏木)(?:人民政府)?$")
_SOURCE_RE = re.compile(r"(?:来源|信息来源|发布机构)\s*[:：]\s*([^\s:：]{3,40})")


@dataclass(frozen=True)
class Metadata:
    title: str | None
    issuer: str | None
    issuer_source: str | None     # title | title_place | html_title | signature | source | None
    year: int | None
    year_source: str | None       # "title" | "statistics_period" | "overview" | None
    publication_date: str | None  # ISO date
    level: str | None
    region: Region | None


def is_organisation(name: str) -> bool:
    """A body's name: short, no sentence punctuation or digits, an organisation's ending."""
    return 3 <= len(name) <= 40 and not _NOT_A_NAME.search(name) and bool(_ORG_SUFFIX.search(name))


def _is_place(name: str) -> bool:
    return 2 <= len(name) <= 20 and not _NOT_A_NAME.search(name) and bool(_PLACE_SUFFIX.search(name))


def government_of(place: str) -> str:
    """The government a title means when it names only its place."""
    if re.search(r"(?:实验区|开发区|高新区|新区|园区)$", place):
        return place + "管委会"
    if place.endswith("街道"):
        return place + "办事处"
    return place + "人民政府"


def _clean(s: str) -> str:
    return re.sub(r"\s+", "", normalize(s).text).strip("，,。:：-—_*# ")


def _title_issuer(line: str) -> tuple[str | None, str | None, int | None]:
    """(issuer, how, year) read off one title: "[issuer][year]…年度报告" or "[year][issuer]…"."""
    text = _clean(_LABEL_PREFIX.sub("", line.strip()))
    m = _REPORT_WORDS.search(text)
    if not m:
        return None, None, None
    head = text[:m.start()]
    years = [int(y) for y in _YEAR_IN_TITLE.findall(text)]
    name = _YEAR_IN_TITLE.sub("", head).strip("，,:：-—_ ")
    year = years[0] if years else None
    if is_organisation(name):
        return name, "title", year
    if _is_place(name):
        return government_of(name), "title_place", year
    return None, None, year


def _titles(head: str) -> list[str]:
    """Title-like lines of the text before the first part, and pairs of lines a title was split over."""
    lines = [ln.strip() for ln in head.split("\n") if ln.strip()]
    out: list[str] = []
    for i, line in enumerate(lines[:30]):
        out.append(line)
        if i + 1 < len(lines):
            out.append(line + lines[i + 1])
    return out


def _from_title(head: str) -> tuple[str | None, str | None, str | None, int | None]:
    """(title, issuer, how, year) from the first title-like line that names a body."""
    first: tuple[str | None, int | None] = (None, None)
    for line in _titles(head):
        issuer, how, year = _title_issuer(line)
        if year is not None and first[0] is None and _REPORT_WORDS.search(line):
            first = (_LABEL_PREFIX.sub("", line), year)
        if issuer:
            return _LABEL_PREFIX.sub("", line), issuer, how, year
    return first[0], None, None, first[1]


def _signature(sig: str) -> tuple[str | None, str | None]:
    issuer = date = None
    for line in (ln.strip() for ln in sig.split("\n")):
        if not line:
            continue
        d = _DATE_RE.search(normalize(line).text)
        if d and date is None:
            date = f"{int(d[1]):04d}-{int(d[2]):02d}-{int(d[3]):02d}"
        name = _clean(_DATE_RE.sub("", normalize(line).text))
        if issuer is None and is_organisation(name):
            issuer = name
    return issuer, date


def _level(issuer: str | None, region: Region | None) -> str | None:
    if not issuer:
        return None
    if _TOWNSHIP_RE.search(issuer):
        return "township"
    government = re.search(r"(?:人民政府|政府|管委会|管理委员会)$", issuer)
    body = re.sub(r"^.*?(?:人民政府|政府)", "", issuer) if "政府" in issuer else issuer
    if not government and body and _DEPARTMENT_RE.search(body):
        return "department"
    if region is None:
        return "department" if _DEPARTMENT_RE.search(issuer) else None
    return {"province": "province", "city": "city", "county": "county"}[region.tier]


def _iso(m: re.Match[str]) -> str:
    return f"{int(m[1]):04d}-{int(m[2]):02d}-{int(m[3]):02d}"


def extract_metadata(text: str, split: SectionSplit, norm: Normalized | None = None,
                     html_meta: dict[str, str] | None = None) -> Metadata:
    meta = html_meta or {}
    norm = norm or normalize(text)
    head = text[split.preamble[0]:split.preamble[1]] if split.preamble else ""

    candidates: list[tuple[str | None, str | None, str | None, int | None, str]] = []
    title, issuer, how, year = _from_title(head)
    candidates.append((title, issuer, how, year, "title"))
    for key in ("ArticleTitle", "title"):
        if key in meta:
            t, i, h, y = _from_title(meta[key].split("_")[0])
            candidates.append((t, i, "html_title" if i else None, y, "html"))

    sig_issuer = sig_date = None
    if split.signature:
        sig_issuer, sig_date = _signature(text[split.signature[0]:split.signature[1]])

    title = next((c[0] for c in candidates if c[0]), None)
    year = next((c[3] for c in candidates if c[3]), None)
    issuer, issuer_source = next(((c[1], c[2]) for c in candidates if c[1]), (None, None))
    if issuer is None and sig_issuer:
        issuer, issuer_source = sig_issuer, "signature"
    if issuer is None:
        sources = [meta.get("ContentSource", "")] + [m[1] for m in _SOURCE_RE.finditer(normalize(head).text)]
        issuer = next((_clean(s) for s in sources if s and is_organisation(_clean(s))), None)
        issuer_source = "source" if issuer else None
    year_source = "title" if year else None

    if year is None:
        m = _PERIOD_RE.search(norm.text)
        if m:
            year, year_source = int(m[1]), "statistics_period"
    if year is None and "overview" in split.parts:
        ov = split.parts["overview"]
        m = _YEAR_MENTION.search(norm.text, norm.from_original(ov.start), norm.from_original(ov.end))
        if m:
            year, year_source = int(m[1]), "overview"

    published = meta.get("PubDate")
    pub_match = (_ISO_DATE_RE.match(published) if published else None) or _PUBLISHED_RE.search(normalize(head).text)
    pub = _iso(pub_match) if pub_match else sig_date

    region = resolve(issuer, context=text) if issuer else None
    return Metadata(title, issuer, issuer_source, year, year_source, pub, _level(issuer, region), region)
