"""Find the six parts of a report and the numbered items inside the narrative parts.

Real reports repeat headings (a duplicated 一、总体情况), list the parts in a
preamble, open with a non-standard first part that has its own 二、三、四, drop
the numeral (``、主动公开…``) or arrive on one line.  Candidates for every part
are collected and the best ordered chain is chosen, preferring canonical
numerals, headings whose content looks right (a table after a table heading)
and, on a tie, the later candidate.  A part that is not found is reported as
missing, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .domain import NARRATIVE_KINDS, PART_KINDS, PART_TITLES
from .normalize import Normalized, normalize

_NUMERALS = "一二三四五六七八九十"
_CANONICAL = dict(zip(PART_KINDS, "一二三四五六"))

# Keywords tried in this order; the first that the heading title contains decides its kind.
_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("problems", ("存在的主要问题", "主要问题及改进", "存在问题及改进", "存在的问题及改进",
                  "问题及改进", "问题和改进", "存在的问题")),
    ("review_litigation", ("行政复议", "行政诉讼")),
    ("applications", ("收到和处理政府信息公开申请", "处理政府信息公开申请", "政府信息公开申请情况",
                      "依申请公开")),
    ("proactive", ("主动公开政府信息", "主动公开情况")),
    ("other", ("其他需要报告", "其他需报告", "其它需要报告", "其他事项")),
    ("overview", ("总体情况", "基本情况", "总体概况", "概述")),
)
# Content that shows a heading really opens the statistical table of its part.
_TABLE_MARKERS = {
    "proactive": re.compile(r"第二十条|信息内容|规范性文件"),
    "applications": re.compile(r"本年新收|申请人情况|上年结转"),
    "review_litigation": re.compile(r"结果维持|复议后起诉|尚未审结"),
}
_LINE_HEADING = re.compile(
    rf"(?m)^[ \t]*(?:第?(?P<num>[{_NUMERALS}]{{1,2}})(?:部分)?[ \t]*[、.．:]|(?P<bare>、))[ \t]*(?P<title>[^\n]{{0,60}})"
)
_INLINE_HEADING = re.compile(
    rf"(?<=[。；;!？?\s])(?P<num>[{_NUMERALS}]{{1,2}})、[ \t]*(?P<title>[^\n]{{0,40}})"
)
# Crawler dumps run a table straight into the next heading ("…432.52元三、收到和处理…").
# Anywhere in the text, a numeral heading is taken only with its part's own title.
_GLUED_HEADING = re.compile(rf"(?P<num>[{_NUMERALS}])、(?=[ \t]*(?P<title>[^\n]{{0,40}}))")
_CANONICAL_TITLES = {
    "overview": ("总体情况", "概述"),
    "proactive": ("主动公开政府信息情况", "主动公开情况"),
    "applications": ("收到和处理政府信息公开申请情况",),
    "review_litigation": ("政府信息公开行政复议", "因政府信息公开申请行政复议", "行政复议、行政诉讼"),
    "problems": ("存在的主要问题", "政府信息公开工作存在的主要问题", "主要问题及改进"),
    "other": ("其他需要报告的事项", "其他需要报告事项"),
}
_SIGNATURE_LINE = re.compile(
    r"^[ \t]*(?:[\u4e00-\u9fff（）()]{2,30}(?:政府|办公室|办公厅|局|委员会|委|厅|院|中心|街道办事处|办事处|管委会)"
    r"|\d{4}[ \t]*年[ \t]*\d{1,2}[ \t]*月[ \t]*\d{1,2}[ \t]*日)[ \t]*$"
)
_ITEM_MARKERS = re.compile(
    rf"(?:^|(?<=[\n。；;:：\]]))[ \t]*"
    rf"(?P<marker>\([{_NUMERALS}]{{1,2}}\)|\(\d{{1,2}}\)|[{_NUMERALS}]{{1,2}}是|\d{{1,2}}[.、](?!\d)|[{_NUMERALS}]{{1,2}}、)"
)


@dataclass(frozen=True)
class Section:
    kind: str
    heading: str       # as written, original characters
    start: int         # original offsets; the span includes the heading
    end: int
    body_start: int    # where the text after the heading starts

    def text(self, original: str) -> str:
        return original[self.start:self.end]

    def body(self, original: str) -> str:
        return original[self.body_start:self.end]


@dataclass(frozen=True)
class Item:
    """A numbered item inside a narrative part: （一）, 1., 一是 …"""

    kind: str
    marker: str
    title: str
    start: int
    end: int


@dataclass(frozen=True)
class SectionSplit:
    parts: dict[str, Section]
    missing: list[str]
    preamble: tuple[int, int] | None
    signature: tuple[int, int] | None
    items: list[Item]


@dataclass(frozen=True)
class _Candidate:
    kind: str
    start: int          # normalised offsets
    title_end: int
    numeral: str | None
    title: str
    inline: bool


def _kind_of(title: str) -> str | None:
    compact = re.sub(r"\s", "", title)[:40]
    for kind, words in _KEYWORDS:
        if any(w in compact for w in words):
            return kind
    return None


def _candidates(text: str) -> list[_Candidate]:
    found: dict[int, _Candidate] = {}
    for m in _LINE_HEADING.finditer(text):
        title = m["title"]
        # A heading line is short; a long line may still open with a heading followed by text.
        head = re.split(r"[。；;]", title, maxsplit=1)[0]
        kind = _kind_of(head[:30])
        if kind is None:
            continue
        start = m.start("num") if m["num"] else m.start("bare")
        found[start] = _Candidate(kind, start, m.start("title") + len(head.rstrip()), m["num"],
                                  head.strip(), False)
    for m in _INLINE_HEADING.finditer(text):
        if m.start() in found:
            continue
        title = m["title"]
        kind = _kind_of(title[:16])
        if kind is None:
            continue
        head = _head_of_inline(title, kind)
        found[m.start()] = _Candidate(kind, m.start(), m.start("title") + len(head), m["num"], head, True)
    for m in _GLUED_HEADING.finditer(text):
        if m.start() in found:
            continue
        title = re.sub(r"\s", "", m["title"])
        kind = next((k for k, words in _CANONICAL_TITLES.items()
                     if m["num"] == _CANONICAL[k] and any(title.startswith(w) for w in words)), None)
        if kind is None:
            continue
        head = _head_of_inline(m["title"], kind)
        found[m.start()] = _Candidate(kind, m.start(), m.start("title") + len(head), m["num"], head, True)
    return sorted(found.values(), key=lambda c: c.start)


def _head_of_inline(title: str, kind: str) -> str:
    """The heading words of a heading run into its paragraph ("一、总体情况 2019年，…")."""
    for _, words in _KEYWORDS:
        for w in words:
            i = title.find(w)
            if i != -1 and _kind_of(w) == kind:
                end = i + len(w)
                tail = re.match(r"[^\s，,。：:]{0,6}?(?:情况|事项)", title[end:])
                return title[: end + (tail.end() if tail else 0)]
    return title[:12]


def _score(c: _Candidate, text: str, next_start: int, length: int) -> float:
    score = 100.0
    if c.numeral == _CANONICAL[c.kind]:
        score += 10
    if PART_TITLES[c.kind] in re.sub(r"\s", "", c.title):
        score += 5
    marker = _TABLE_MARKERS.get(c.kind)
    if marker and marker.search(text, c.title_end, min(next_start, c.title_end + 4000)):
        score += 20
    if c.inline:
        score -= 5
    return score + c.start / (length + 1)  # on a tie, the later heading wins


def _best_chain(cands: list[_Candidate], text: str) -> list[_Candidate]:
    n = len(cands)
    order = {k: i for i, k in enumerate(PART_KINDS)}
    scores = [
        _score(c, text, cands[i + 1].start if i + 1 < n else len(text), len(text))
        for i, c in enumerate(cands)
    ]
    best: list[tuple[float, int]] = []  # (chain score ending here, previous index)
    for i, c in enumerate(cands):
        top, prev = scores[i], -1
        for j in range(i):
            if order[cands[j].kind] < order[c.kind] and best[j][0] + scores[i] > top:
                top, prev = best[j][0] + scores[i], j
        best.append((top, prev))
    if not best:
        return []
    i = max(range(n), key=lambda k: (best[k][0], k))
    chain = []
    while i != -1:
        chain.append(cands[i])
        i = best[i][1]
    return chain[::-1]


def _signature(text: str, floor: int) -> tuple[int, int] | None:
    """The issuer and date lines that close many reports, after the last part's content."""
    sig_start = None
    end = len(text)
    for _ in range(12):  # a signature is a few short lines; blank lines may pad it
        start = text.rfind("\n", 0, end) + 1
        if start < floor:
            break
        line = text[start:end]
        if line.strip():
            if not _SIGNATURE_LINE.match(line):
                break
            sig_start = start
        if start == 0:
            break
        end = start - 1
    if sig_start is None:
        return None
    return sig_start, len(text.rstrip())


def _items(norm: Normalized, kind: str, body_start: int, end: int) -> list[Item]:
    text = norm.text
    marks = [m for m in _ITEM_MARKERS.finditer(text, body_start, end)]
    items = []
    for k, m in enumerate(marks):
        stop = marks[k + 1].start("marker") if k + 1 < len(marks) else end
        line = text[m.end("marker"):stop]
        title = re.split(r"[。；;\n]", line.strip(), maxsplit=1)[0][:60].strip()
        s, e = norm.to_original(m.start("marker"), stop)
        marker_orig = norm.original[s: norm.to_original(m.start("marker"), m.end("marker"))[1]]
        items.append(Item(kind, marker_orig, title, s, e))
    return items


def split_sections(original: str, norm: Normalized | None = None) -> SectionSplit:
    norm = norm or normalize(original)
    text = norm.text
    chain = _best_chain(_candidates(text), text)
    parts: dict[str, Section] = {}
    for i, c in enumerate(chain):
        end = chain[i + 1].start if i + 1 < len(chain) else len(text)
        s, _ = norm.to_original(c.start, c.start + 1)
        _, te = norm.to_original(c.start, c.title_end)
        # Trailing blank lines go, tabs stay: they are the last row's blank cells.
        end = c.title_end + len(text[c.title_end:end].rstrip(" \n\r\u3000"))
        e = norm.to_original(c.start, end)[1]
        parts[c.kind] = Section(c.kind, original[s:te].strip(), s, e, te)
    signature = None
    if chain:
        last = parts[chain[-1].kind]
        signature = _signature(original, last.body_start)
        if signature:
            sig_start = last.body_start + len(original[last.body_start:signature[0]].rstrip())
            parts[last.kind] = Section(last.kind, last.heading, last.start,
                                       max(last.body_start, sig_start), last.body_start)
    first = min((p.start for p in parts.values()), default=len(original))
    preamble = (0, first) if original[:first].strip() else None
    items: list[Item] = []
    for kind in NARRATIVE_KINDS:
        if kind in parts:
            p = parts[kind]
            body_s = norm.from_original(p.body_start)
            body_e = norm.from_original(p.end)
            items.extend(_items(norm, kind, body_s, body_e))
    missing = [k for k in PART_KINDS if k not in parts]
    return SectionSplit(parts, missing, preamble, signature, items)

