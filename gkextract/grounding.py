"""Ground every extracted item in the report and score it — the program decides, not the model.

A quote is located exact first, then on folded text (full/half width, spaces,
curly vs straight quotes, 《》 vs <>, dashes, middle dots), then fuzzily at
character level (rapidfuzz's partial-ratio alignment: Chinese has no word
boundaries to tokenise on).  Everything else is checked against the *located*
text, not against the model's own quote:

* the number — its value (万/亿 applied, 三 = 3), the measure word bound to it,
  its approximation (余/多/近/约/逾/超), and that it is the number of this metric
  and not a neighbour's in the same sentence, or a year;
* the place — an overview fact in 一、总体情况, a problem or improvement in 五;
  within 五, a problem in the problems part and a measure in the measures part,
  and never the same quote as an item of the other kind;
* the meaning — training held vs planned from the sentence's cue words, a
  problem's quote reading as a weakness and an improvement's as a measure, and
  a keyword classifier's second opinion on the category (a soft flag);
* the tables — every figure a table also holds (crosscheck.py);
* the prompt — a quote or value copied from the prompt's own text.

Each item gets a score in [0, 1] and flag codes; the review threshold is applied
when reading (queries), never written into the rows.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from rapidfuzz import fuzz

from .crosscheck import TableRef, in_table_unit
from .normalize import Normalized, normalize
from .numbers import MONEY_UNITS, Quantity, find_quantities

MatchKind = Literal["exact", "normalized", "fuzzy", "none"]
FUZZY_MIN = 85.0           # partial-ratio similarity below which a quote counts as not found
DEFAULT_THRESHOLD = 0.7    # items scoring below this need review (applied at read time)

# Penalties, subtracted from 1.0; documented in the README.  A soft flag (0.1 or less)
# shows in review but cannot bring an item under the threshold by itself.
PENALTY = {
    "quote_normalized": 0.05,
    "quote_fuzzy": 0.25,
    "quote_outside_section": 0.4,
    "quote_not_found": 0.8,
    "copied_from_prompt": 0.8,
    "number_not_in_quote": 0.5,
    "number_bound_elsewhere": 0.4,
    "unit_mismatch": 0.4,
    "approximate_mismatch": 0.35,
    "status_mismatch": 0.4,
    "conflicts_with_table": 0.35,
    "table_unavailable": 0.0,
    "not_a_weakness": 0.35,
    "not_a_measure": 0.35,
    "improvement_in_problems_part": 0.35,
    "problem_in_measures_part": 0.35,
    "same_quote_as_other_kind": 0.35,
    "category_disagrees": 0.1,
    "reasked": 0.1,
    "no_value": 0.1,
}
SOFT_FLAGS = frozenset(f for f, p in PENALTY.items() if p <= 0.1)

# Typographic variants folded before matching (one character for one, so offsets hold).
_FOLD = str.maketrans({"“": '"', "”": '"', "„": '"', "「": '"', "」": '"', "『": '"', "』": '"',
                       "‘": '"', "’": '"', "'": '"', "《": "<", "》": ">", "〈": "<", "〉": ">",
                       "—": "-", "–": "-", "－": "-", "―": "-", "·": ".", "・": ".", "•": ".",
                       "。": ".", "，": ",", "、": ","})


def fold(text: str) -> Normalized:
    """Normalised for matching: width, spaces, quotes, brackets, dashes, dots."""
    n = normalize(text, strip_spaces=True)
    return Normalized(n.text.translate(_FOLD), n.original, n._map)


@dataclass(frozen=True)
class Span:
    start: int | None
    end: int | None
    match: MatchKind
    similarity: float


class Grounder:
    """Locates quotes in one report; what the items of a section share is computed once.

    Folded text once per region, a quote folded once however often it is
    matched, and the numbers of a located quote found once for all the facts
    that quote (a training's sessions and participants, a platform's values).
    """

    def __init__(self, text: str, section: tuple[int, int]) -> None:
        self.text = text
        self.section = section
        self._folded: dict[tuple[int, int], Normalized] = {}
        self._quotes: dict[str, str] = {}
        self._numbers: dict[str, _Numbers] = {}

    def _region(self, lo: int, hi: int) -> Normalized:
        if (lo, hi) not in self._folded:
            self._folded[(lo, hi)] = fold(self.text[lo:hi])
        return self._folded[(lo, hi)]

    def folded(self, quote: str) -> str:
        """``fold(quote).text``, once per quote."""
        q = self._quotes.get(quote)
        if q is None:
            q = self._quotes[quote] = fold(quote).text
        return q

    def numbers(self, located: str) -> _Numbers:
        n = self._numbers.get(located)
        if n is None:
            n = self._numbers[located] = _Numbers(located)
        return n

    def locate(self, quote: str, lo: int = 0, hi: int | None = None) -> Span:
        """Find ``quote`` in ``text[lo:hi]``: exact, then folded, then fuzzy."""
        hi = len(self.text) if hi is None else hi
        quote = quote.strip()
        if not quote:
            return Span(None, None, "none", 0.0)
        i = self.text.find(quote, lo, hi)
        if i != -1:
            return Span(i, i + len(quote), "exact", 100.0)
        region = self._region(lo, hi)
        q = self.folded(quote)
        if not q:
            return Span(None, None, "none", 0.0)
        j = region.text.find(q)
        if j != -1:
            s, e = region.to_original(j, j + len(q))
            return Span(lo + s, lo + e, "normalized", 100.0)
        if len(q) >= 6 and region.text:
            al = fuzz.partial_ratio_alignment(q, region.text, score_cutoff=FUZZY_MIN)
            if al is not None:
                s, e = region.to_original(al.dest_start, al.dest_end)
                return Span(lo + s, lo + e, "fuzzy", round(al.score, 1))
        return Span(None, None, "none", 0.0)

    def sentence(self, span: Span) -> str:
        """The sentence (or clause run) around a located span, for cue words."""
        if span.start is None or span.end is None:
            return ""
        lo = max(self.text.rfind(c, 0, span.start) for c in "。；;\n") + 1
        hi_candidates = [i for i in (self.text.find(c, span.end) for c in "。；;\n") if i != -1]
        hi = min(hi_candidates) if hi_candidates else len(self.text)
        return self.text[lo:hi]


# --- numbers --------------------------------------------------------------------------------

_ZERO_WORDS = re.compile(r"未收到|没有|无|零|未发生|未出现|未产生")
# Measure words a metric's number may carry (None: any).
_UNITS: dict[str, frozenset[str] | None] = {
    "sessions": frozenset("期次场轮批班") | {"个", "场次", "批次"},
    "participants": frozenset({"人", "人次", "名"}),
    "followers": frozenset({"人", "人次", "个", "户", "名"}),
    "accounts": frozenset({"个", "家", "类", "户", "部"}),
    "columns": frozenset({"个", "项", "类"}),
    "issues": frozenset({"期"}),
    "fees": frozenset(MONEY_UNITS),
}
# Words before a number that say which measure it is.
_CONTEXT: dict[str, tuple[str, ...]] = {
    "received": ("收到", "受理", "新收", "申请"),
    "carried_in": ("上年结转", "结转"),
    "handled": ("办结", "答复", "办理", "处理"),
    "carried_forward": ("结转", "下年度"),
    "disclosed": ("予以公开", "公开"),
    "partially_disclosed": ("部分公开",),
    "review_cases": ("复议",),
    "litigation_cases": ("诉讼",),
    "rules_issued": ("规章",),
    "normative_issued": ("规范性文件",),
    "normative_repealed": ("废止",),
    "normative_in_force": ("现行有效", "有效"),
    "licensing_decisions": ("许可",),
    "penalty_decisions": ("处罚",),
    "enforcement_decisions": ("强制",),
    "fees": ("收费", "费"),
    "sessions": ("培训", "举办", "开展", "组织", "班"),
    "participants": ("参训", "参加", "培训", "人员", "干部"),
    "followers": ("粉丝", "关注", "用户", "订阅"),
    "accounts": ("账号", "新媒体", "平台", "公众号", "微博", "网站"),
    "columns": ("栏目", "专栏", "专题"),
    "issues": ("公报", "刊", "期"),
}
_PLATFORM_WORDS = {
    "portal": ("网站", "门户"), "weibo": ("微博",), "wechat": ("微信", "公众号"),
    "new_media": ("新媒体",), "app": ("APP", "App", "app", "客户端", "小程序"),
    "gazette": ("公报",), "hotline_mailbox": ("热线", "信箱", "留言", "专线"),
}
_DELIMS = "，,。；;：:、（）()\n"


@dataclass(frozen=True)
class Fact:
    """One extracted fact as grounding sees it (narrative.flatten_overview makes these)."""

    kind: str                 # platform | training | disclosure | application | administrative | supervision
    metric: str | None
    label: str | None         # platform name, disclosure category, training topic
    attributes: dict
    value: float | None
    unit: str | None
    approximate: bool
    evidence: str


_DELIM_RE = re.compile(f"[{_DELIMS}]")


def _context(text: str, q: Quantity, floor: int = 0) -> str:
    """The clause a number sits in: from the delimiter before it to the one after it.

    Chinese names a measure before its number ("办结149件") or after it
    ("1件结转到2021年度"), so both sides count.
    """
    return _Numbers(text).context(q, floor)


class _Numbers:
    """A located quote's quantities and the clause around each, found once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._quantities: list[Quantity] | None = None
        self._delims = [m.start() for m in _DELIM_RE.finditer(text)]
        self._contexts: dict[tuple[int, int], str] = {}

    @property
    def quantities(self) -> list[Quantity]:
        if self._quantities is None:
            self._quantities = find_quantities(self.text)
        return self._quantities

    def context(self, q: Quantity, floor: int = 0) -> str:
        """``_context(text, q, floor)``: the last delimiter in [floor, q.start) and the first at or after q.end."""
        if floor == 0 and (q.start, q.end) in self._contexts:
            return self._contexts[(q.start, q.end)]
        d = self._delims
        i = bisect.bisect_left(d, q.start)
        lo = d[i - 1] + 1 if i and d[i - 1] >= floor else floor
        j = bisect.bisect_left(d, q.end)
        hi = d[j] if j < len(d) else len(self.text)
        c = self.text[lo:q.start] + self.text[q.end:hi]
        if floor == 0:
            self._contexts[(q.start, q.end)] = c
        return c


def _fact_value(f: Fact) -> tuple[float, str | None]:
    """A fact's value and unit as the text would state them: "550 万次" → 5 500 000 次."""
    unit = (f.unit or "").strip() or None
    value = f.value or 0.0
    if unit and unit[0] in "万亿" and unit not in MONEY_UNITS:
        value *= 10_000 if unit[0] == "万" else 100_000_000
        unit = unit[1:] or None
    return value, unit


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


def _context_words(f: Fact) -> tuple[str, ...]:
    """Words that name the fact's measure right before its number (a platform is named once
    for several numbers, so platform words bind only through 分别, below)."""
    words: tuple[str, ...] = _CONTEXT.get(f.metric or "", ())
    if f.kind == "disclosure" and f.label and f.label not in ("全部", "总量"):
        words += (f.label,)
    return words


_RESPECTIVELY = re.compile(r"分别")


def _other_platform(f: Fact, located: str, q: Quantity, numbers: _Numbers | None = None) -> bool:
    """"政府网站1个、政务新媒体2个": a number whose own clause names another kind of platform."""
    if f.kind != "platform" or _RESPECTIVELY.search(located):   # 分别 pairs them in order instead
        return False
    clause = (numbers or _Numbers(located)).context(q)
    own = _PLATFORM_WORDS.get(f.attributes.get("type", ""), ())
    if not own:
        return False
    others = [w for t, words in _PLATFORM_WORDS.items() if t != f.attributes.get("type") for w in words]
    return not any(w in clause for w in own) and any(w in clause for w in others)


def _respectively(f: Fact, located: str, q: Quantity, quantities: list[Quantity]) -> bool:
    """"微博、微信分别发稿116条、490条": the i-th platform named takes the i-th number.

    True when the text pairs them this way and pairs this fact's platform with
    another number.
    """
    if f.kind != "platform":
        return False
    m = _RESPECTIVELY.search(located)
    if m is None:
        return False
    head = located[:m.start()]
    named = sorted((head.find(w), t) for t, words in _PLATFORM_WORDS.items() for w in words if w in head)
    kinds = list(dict.fromkeys(t for _, t in named))
    numbers = [x for x in quantities if x.start >= m.end() and not x.is_year]
    if len(kinds) < 2 or len(kinds) != len(numbers) or f.attributes.get("type") not in kinds:
        return False
    return numbers[kinds.index(f.attributes["type"])] is not q


def check_number(f: Fact, located: str, numbers: _Numbers | None = None) -> tuple[list[str], Quantity | None]:
    """Flags for the fact's number against the located text, and the quantity it binds to.

    ``numbers`` is ``located``'s quantities and clauses when the caller already has them (Grounder.numbers).
    """
    if f.value is None:
        return [], None
    value, unit = _fact_value(f)
    words = _context_words(f)
    if value == 0 and words and any(_ZERO_WORDS.search(c) and any(w in c for w in words)
                                    for c in _DELIM_RE.split(located)):
        return [], None      # "无行政诉讼案件": zero stated in words, for this measure
    numbers = numbers or _Numbers(located)
    context, quantities = numbers.context, numbers.quantities
    matches = [q for q in quantities if _same(q.value, value) and (not q.is_year or unit == "年")]
    if not matches:
        if value == 0 and _ZERO_WORDS.search(located):
            return [], None
        if any(_same(q.value, value) for q in quantities):
            return ["number_bound_elsewhere"], None   # only as a year
        return ["number_not_in_quote"], None
    flags: list[str] = []
    bound = [q for q in matches if not words or any(w in context(q) for w in words)]
    if words and not bound:
        others = [q for q in quantities if not q.is_year and not _same(q.value, value)
                  and any(w in context(q) for w in words)]
        if others:
            flags.append("number_bound_elsewhere")
    q = (bound or matches)[0]
    if "number_bound_elsewhere" not in flags and (
            _respectively(f, located, q, quantities) or _other_platform(f, located, q, numbers)
            or (unit and q.unit is None and any(o.unit == unit and not _same(o.value, value) for o in quantities))):
        flags.append("number_bound_elsewhere")
    expected = _UNITS.get(f.metric or "")
    raw_unit = (f.unit or "").strip()
    if raw_unit[:1] in ("万", "亿") and raw_unit not in MONEY_UNITS and not q.multiplied:
        flags.append("unit_mismatch")        # "N万条" where the text says "N条"
    elif unit and q.unit and unit != q.unit and not (unit in MONEY_UNITS and q.unit in MONEY_UNITS):
        flags.append("unit_mismatch")
    elif expected is not None and q.unit and q.unit not in expected:
        flags.append("unit_mismatch")
    if f.kind == "administrative" and f.metric == "fees" and unit in MONEY_UNITS and q.unit in MONEY_UNITS \
            and unit != q.unit:
        flags.append("unit_mismatch")
    if q.approximate != f.approximate:
        flags.append("approximate_mismatch")
    return flags, q


# Future markers as verbs; 将 alone is too often the preposition ("将政务公开纳入培训"), and
# 计划 too often the noun ("制定培训计划").
_PLANNED = re.compile(r"拟|计划(?:于|在|开展|组织|举办|对|年内)|下一步|下步|明年|今后|下阶段|将要|将于|将继续"
                      r"|将进一步|将(?:组织|开展|举办|加强|定期|适时|邀请)")


def check_training_status(status: str | None, sentence: str) -> list[str]:
    if status not in ("held", "planned") or not sentence:
        return []
    planned = bool(_PLANNED.search(sentence))
    return ["status_mismatch"] if planned != (status == "planned") else []


# --- problems and improvements ----------------------------------------------------------------

# Words that say something falls short.  _SHORTFALL is the strong kind, which makes a
# sentence read as a weakness even beside a measure's verb; _WEAKNESS adds the nouns
# and needs a problems part also uses ("存在信息噪音", "需进一步加大…").
_SHORTFALL = re.compile(
    r"不够|不足|有待|待提高|待加强|待完善|待提升|仍待|还需|仍需|亟需|亟待|滞后|薄弱|欠缺|不强|不高|不到位|差距"
    r"|缺乏|较少|偏少|偏弱|单一|不及时|不完善|不规范|不深入|不全面|不充分|不平衡|不够高|短板|局限|难以"
    r"|不便|不精准|不明显|不一|参差|不畅|不多|较弱|较低|不严|不细|不准|脱节|未达到|还未|尚未|未能|没有"
    r"|不能满足|无法满足|不适应|跟不上|偏低|只有|仅有|不完全|不够好|待改进|待进一步|较为薄弱"
    r"|不顺畅|不够顺畅|不过顺畅|残差不齐|不力|乏力|不均衡|较小|偏小|还要|再提升")
_WEAKNESS = re.compile(_SHORTFALL.pattern + r"|限制|制约|流动性|噪音|困难|瓶颈|隐患|漏洞"
                       r"|需(?:要)?(?:进一步|一步|加大|加强|提高|提升)|存在.{0,12}(?:问题|现象|情况|差距)")
_MEASURE = re.compile(
    r"将|进一步|加强|完善|推进|提升|持续|强化|加大|健全|做好|继续|着力|深化|优化|拓展|落实|扩大|建立"
    r"|严格|确保|切实|不断|力争|加快|注重|坚持|抓好|全面|规范|提高|开展|组织|丰富|拓宽|畅通|及时|做到|实现"
    r"|推动|争取|探索|打造|构建|聚焦|围绕|发挥|运用|增强|利用|依托|清理|排查|整改|修订|制定|更新|梳理"
    r"|主动公开|精准")
_FUTURE = re.compile(r"将|下一步|今后|明年|计划|拟|要|力争|努力|20\d\d年")
# A sentence that opens the measures: "下一步，…" "针对上述问题，…" "2020年，我们将…".
_MEASURES_INTRO = re.compile(
    r"(?:^|(?<=[。；;\n]))[ \t\u3000]*(?:[（(]?[一二三四五六七八九十]+[)）、]|\d+[.、])?[ \t\u3000]*"
    r"(?:下一步|下步|今后|下阶段|明年|针对上述|针对以上|针对存在|针对这些|为此|改进措施|整改措施|改进情况"
    r"|(?:19|20)\d\d年[^。；]{0,30}?将|我们将|我[局区县市委办]将)")

# Second opinion on the category: words that name each one.
CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "policy_interpretation": ("解读",),
    "timeliness": ("及时", "时效", "滞后", "第一时间", "更新不"),
    "platforms": ("网站", "新媒体", "平台", "渠道", "栏目", "微信", "微博", "公众号", "客户端", "载体", "专栏",
                  "电子化", "信息化"),
    "rules_standards": ("制度", "机制", "标准化", "规范化", "流程", "目录", "清单", "标准", "规范", "程序"),
    "staffing_capacity": ("队伍", "人员", "培训", "业务能力", "专业", "力量", "兼职", "编制", "能力"),
    "awareness": ("认识", "意识", "主动性", "自觉", "重视", "理念"),
    "requests_handling": ("依申请",),
    "responsiveness": ("回应", "关切", "互动", "舆情", "诉求", "征集", "民意"),
    "supervision": ("监督", "考核", "督查", "检查", "评议", "问责", "通报", "督导"),
    "grassroots": ("基层", "乡镇", "村务", "社区", "街道"),
    "disclosure_quality": ("深度", "广度", "质量", "内容", "范围", "全面", "精细", "实效"),
}


def keyword_category(text: str) -> str | None:
    """The category whose words the text uses most; None on a tie or no word at all."""
    hits = {c: sum(map(text.count, words)) for c, words in CATEGORY_WORDS.items()}
    best = max(hits.values())
    top = [c for c, n in hits.items() if n == best]
    return top[0] if best and len(top) == 1 else None


def measures_start(text: str, lo: int, hi: int) -> int | None:
    """Where section 五 turns from problems to measures, if the text says so."""
    m = _MEASURES_INTRO.search(text, lo, hi)
    return None if m is None else m.start()


# --- assessing -----------------------------------------------------------------------------------

@dataclass
class Assessment:
    span: Span
    flags: list[str] = field(default_factory=list)
    score: float = 1.0
    table_ref: str | None = None
    table_value: float | None = None
    bound: Quantity | None = None


def _locate(evidence: str, grounder: Grounder, flags: list[str]) -> Span:
    span = grounder.locate(evidence, *grounder.section)
    if span.match == "none":
        outside = grounder.locate(evidence)
        if outside.match != "none":
            span = outside
            flags.append("quote_outside_section")
    if span.match == "normalized":
        flags.append("quote_normalized")
    elif span.match == "fuzzy":
        flags.append("quote_fuzzy")
    elif span.match == "none":
        flags.append("quote_not_found")
    return span


def _located(grounder: Grounder, span: Span, evidence: str) -> str:
    return grounder.text[span.start:span.end] if span.start is not None else evidence


def copied_from_prompt(evidence: str, prompt_text: str | None, grounder: Grounder | None = None) -> bool:
    """The quote (8+ characters) occurs in the prompt: the model copied an example."""
    if not prompt_text or len(evidence) < 8:     # folding never lengthens a text
        return False
    q = grounder.folded(evidence) if grounder is not None else fold(evidence).text
    return len(q) >= 8 and q in _folded_prompt(prompt_text)


@lru_cache(maxsize=8)
def _folded_prompt(prompt_text: str) -> str:
    """The prompt folded once per process, not once per fact (it was half of grounding's time)."""
    return fold(prompt_text).text


def _finish(a: Assessment, flags: list[str], reasks: int) -> Assessment:
    if reasks:
        flags.append("reasked")
    score = 1.0 - sum(PENALTY[f] for f in flags)
    if a.span.match == "fuzzy":
        score -= (100.0 - a.span.similarity) / 100.0
    a.flags = flags
    a.score = round(min(1.0, max(0.0, score)), 3)
    return a


def assess_fact(f: Fact, grounder: Grounder, *, table: TableRef | None = None, reasks: int = 0,
                prompt_text: str | None = None) -> Assessment:
    """Locate, check number, unit, approximation, status and table, and score one fact."""
    flags: list[str] = []
    span = _locate(f.evidence, grounder, flags)
    if copied_from_prompt(f.evidence, prompt_text, grounder):
        flags.append("copied_from_prompt")
    located = _located(grounder, span, f.evidence)
    a = Assessment(span)
    if f.value is None:
        if f.kind != "supervision":
            flags.append("no_value")
    else:
        more, a.bound = check_number(f, located, grounder.numbers(located))
        flags += more
    if f.kind == "training":
        flags += check_training_status(f.attributes.get("status"), grounder.sentence(span) or located)
    if table is not None and f.value is not None:
        a.table_ref = table.ref
        if table.unavailable:
            flags.append("table_unavailable")
        else:
            a.table_value = table.accepted[0]
            value = in_table_unit(_fact_value(f)[0], f.unit, f.kind, f.metric)
            tolerance = 0.1 if f.approximate else 1e-9
            if not any(abs(value - t) <= tolerance * max(1.0, abs(t)) for t in table.accepted):
                flags.append("conflicts_with_table")
    return _finish(a, flags, reasks)


def assess_shared_numbers(facts: Sequence[Fact], assessments: Sequence[Assessment]) -> None:
    """A number in the text belongs to one fact: of the facts bound to the same
    occurrence, the one that fits it best (highest score, then first) keeps it;
    the others, if they claim another measure, are flagged."""
    by_number: dict[int, list[int]] = {}
    for i, a in enumerate(assessments):
        if a.bound is not None and a.span.start is not None:
            by_number.setdefault(a.span.start + a.bound.start, []).append(i)
    for claimants in by_number.values():
        owner = max(claimants, key=lambda i: (assessments[i].score, -i))
        o = facts[owner]
        for i in claimants:
            f, a = facts[i], assessments[i]
            if i != owner and (o.kind, o.metric, o.label) != (f.kind, f.metric, f.label) \
                    and "number_bound_elsewhere" not in a.flags:
                a.flags.append("number_bound_elsewhere")
                a.score = round(max(0.0, a.score - PENALTY["number_bound_elsewhere"]), 3)


def assess_statement(kind: Literal["problem", "improvement"], evidence: str, category: str,
                     grounder: Grounder, *, measures_from: int | None, other_spans: Sequence[Span] = (),
                     reasks: int = 0, prompt_text: str | None = None) -> Assessment:
    """A problem or an improvement: where its quote is, whether it reads as one, its category."""
    flags: list[str] = []
    span = _locate(evidence, grounder, flags)
    if copied_from_prompt(evidence, prompt_text, grounder):
        flags.append("copied_from_prompt")
    located = _located(grounder, span, evidence)
    sentence = grounder.sentence(span) or located
    if kind == "problem":
        if not _WEAKNESS.search(sentence):       # "…，积极回应社会、群众关切" under "需进一步加大…"
            flags.append("not_a_weakness")
        if measures_from is not None and span.start is not None and span.start >= measures_from:
            flags.append("problem_in_measures_part")
    else:
        reads_as_weakness = _SHORTFALL.search(located) and not _FUTURE.search(sentence)
        if not _MEASURE.search(located) or reads_as_weakness:
            flags.append("not_a_measure")
        if measures_from is not None and span.start is not None and span.start < measures_from:
            flags.append("improvement_in_problems_part")
    shared = span.start is not None and any(o.start is not None and o.start < span.end and span.start < o.end
                                            for o in other_spans)
    # A shared quote belongs to the part it lies in: there, the other kind borrowed it.
    in_own_part = measures_from is not None and span.start is not None and (
        (span.start < measures_from) == (kind == "problem"))
    if shared and not in_own_part:
        flags.append("same_quote_as_other_kind")
    opinion = keyword_category(located)
    if opinion and opinion != category and not any(w in located for w in CATEGORY_WORDS.get(category, ())):
        flags.append("category_disagrees")
    return _finish(Assessment(span), flags, reasks)
