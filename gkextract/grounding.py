"""Ground every extracted fact in the report and score it — the program decides, not the model.

A quote is located exact first, then on normalised text (full-width/half-width,
spaces dropped), then fuzzily at character level (rapidfuzz's partial-ratio
alignment: Chinese has no word boundaries to tokenise on).  The fact's number
must occur in its quote (3 matches 三, 1000 matches 1000余), and where a fact
overlaps the report's own tables the two are compared: a disagreement is a
finding, flagged ``conflicts_with_table`` with both values kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from rapidfuzz import fuzz

from .normalize import Normalized, normalize
from .numbers import find_quantities

MatchKind = Literal["exact", "normalized", "fuzzy", "none"]
FUZZY_MIN = 85.0           # partial-ratio similarity below which a quote counts as not found
DEFAULT_THRESHOLD = 0.7    # facts scoring below this need review

# Penalties, subtracted from 1.0; documented in the README.
PENALTY = {
    "quote_normalized": 0.05,
    "quote_fuzzy": 0.25,
    "quote_outside_section": 0.15,
    "quote_not_found": 0.8,
    "number_not_in_quote": 0.4,
    "conflicts_with_table": 0.35,
    "reasked": 0.1,
    "no_value": 0.1,
}
FLAG_TEXT = {
    "quote_normalized": "the quote matches only after normalising width and spaces",
    "quote_fuzzy": "the quote was found only approximately",
    "quote_outside_section": "the quote is in the report but outside this section",
    "quote_not_found": "the quote is not in the report",
    "number_not_in_quote": "the number is not in its quote",
    "conflicts_with_table": "the number disagrees with the report's own table",
    "reasked": "the model's first reply failed validation and had to be re-asked",
    "no_value": "the fact states no number",
}


@dataclass(frozen=True)
class Span:
    start: int | None
    end: int | None
    match: MatchKind
    similarity: float


class Grounder:
    """Locates quotes in one report; the normalised text is computed once, not per fact."""

    def __init__(self, text: str, section: tuple[int, int]) -> None:
        self.text = text
        self.section = section
        self._norm: dict[tuple[int, int], Normalized] = {}

    def _normalized(self, lo: int, hi: int) -> Normalized:
        if (lo, hi) not in self._norm:
            self._norm[(lo, hi)] = normalize(self.text[lo:hi], strip_spaces=True)
        return self._norm[(lo, hi)]

    def locate(self, quote: str, lo: int = 0, hi: int | None = None) -> Span:
        """Find ``quote`` in ``text[lo:hi]``: exact, then normalised, then fuzzy."""
        hi = len(self.text) if hi is None else hi
        quote = quote.strip()
        if not quote:
            return Span(None, None, "none", 0.0)
        i = self.text.find(quote, lo, hi)
        if i != -1:
            return Span(i, i + len(quote), "exact", 100.0)
        region = self._normalized(lo, hi)
        q = normalize(quote, strip_spaces=True).text
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


_ZERO_WORDS = re.compile(r"未收到|没有|无|零|未发生|未出现")


def number_in_quote(value: float, quote: str, approximate: bool = False) -> bool:
    """Does the quote state this number (as digits, Chinese numerals, or "未收到" for 0)?"""
    for q in find_quantities(quote):
        if abs(q.value - value) < 1e-6 * max(1.0, abs(value)):
            return True
    return value == 0 and bool(_ZERO_WORDS.search(quote))


@dataclass
class Assessment:
    span: Span
    flags: list[str] = field(default_factory=list)
    score: float = 1.0
    needs_review: bool = False
    table_ref: str | None = None
    table_value: float | None = None


def assess(evidence: str, grounder: Grounder, *, value: float | None = None,
           approximate: bool = False, expects_value: bool = False,
           table: tuple[str, list[float]] | None = None, reasks: int = 0,
           threshold: float = DEFAULT_THRESHOLD) -> Assessment:
    """Locate, check the number, cross-check the table, and score one fact.

    ``table`` is (reference, accepted values): the fact conflicts when its value
    matches none of them (an approximate value may be off by 10 %).
    """
    span = grounder.locate(evidence, *grounder.section)
    flags: list[str] = []
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
    if value is not None:
        if not number_in_quote(value, evidence, approximate):
            flags.append("number_not_in_quote")
    elif expects_value:
        flags.append("no_value")
    a = Assessment(span)
    if table is not None and value is not None:
        ref, accepted = table
        a.table_ref = ref
        a.table_value = accepted[0]
        tolerance = 0.1 if approximate else 1e-9
        if not any(abs(value - t) <= tolerance * max(1.0, abs(t)) for t in accepted):
            flags.append("conflicts_with_table")
    if reasks:
        flags.append("reasked")
    score = 1.0 - sum(PENALTY[f] for f in flags)
    if span.match == "fuzzy":
        score -= (100.0 - span.similarity) / 100.0
    a.flags = flags
    a.score = round(min(1.0, max(0.0, score)), 3)
    a.needs_review = a.score < threshold
    return a
