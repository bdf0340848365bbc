"""Text normalisation that never loses its way back to the original.

Every later stage works on normalised text (half-width digits and punctuation,
plain spaces), but evidence spans and section spans must point at the text the
user actually has.  ``Normalized.to_original`` maps a span back.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

# Full-width ASCII (！ … ～) → half-width, and the odd spaces → a plain space.
_ONE_TO_ONE: dict[int, int] = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
for _space in ("\u3000", "\xa0", "\u2002", "\u2003", "\u2004", "\u2005", "\u2006", "\u2007",
               "\u2008", "\u2009", "\u200a", "\u202f", "\u205f", "\x0b", "\x0c"):
    _ONE_TO_ONE[ord(_space)] = ord(" ")
_ONE_TO_ONE[ord("\u2212")] = ord("-")  # minus sign

# Characters that disappear: zero-width marks and BOMs; "\r" is handled apart.
_DROP = "\u200b\u200c\u200d\u2060\ufeff"
_DROP_RE = re.compile(f"[{_DROP}]|\r\n?")
_DROP_SPACES_RE = re.compile(f"[{_DROP} \t]|\r\n?")


@dataclass(frozen=True)
class Normalized:
    """Normalised text plus, for each of its characters, the original offset."""

    text: str
    original: str
    _map: tuple[int, ...] | None  # None means identity (nothing was inserted or dropped)

    def orig_index(self, i: int) -> int:
        if self._map is None:
            return i
        if i >= len(self._map):
            return len(self.original)
        return self._map[i]

    def from_original(self, orig: int) -> int:
        """The first normalised index whose original offset is at or after ``orig``."""
        if self._map is None:
            return orig
        return bisect.bisect_left(self._map, orig)

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a half-open span of the normalised text to the original text."""
        if start >= end:
            o = self.orig_index(start)
            return o, o
        return self.orig_index(start), self.orig_index(end - 1) + 1


def normalize(text: str, *, strip_spaces: bool = False) -> Normalized:
    """Half-width digits and punctuation, LF line ends, plain spaces.

    With ``strip_spaces`` all spaces and tabs are dropped too, which is what
    quote matching wants (PDF text puts spaces inside words: "4340 余条").
    """
    mapped = text.translate(_ONE_TO_ONE)
    pattern = _DROP_SPACES_RE if strip_spaces else _DROP_RE
    if not pattern.search(mapped):
        return Normalized(mapped, text, None)
    out: list[str] = []
    index: list[int] = []
    pos = 0
    for m in pattern.finditer(mapped):
        out.append(mapped[pos:m.start()])
        index.extend(range(pos, m.start()))
        if m.group().startswith("\r"):
            out.append("\n")
            index.append(m.start())
        pos = m.end()
    out.append(mapped[pos:])
    index.extend(range(pos, len(mapped)))
    return Normalized("".join(out), text, tuple(index))

