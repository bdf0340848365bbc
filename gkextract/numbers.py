"""Numbers as reports write them: table cells and narrative quantities.

Table cells: ``4,657``, ``+17``, ``增1``, ``减330``, ``1631．63万元``, ``251000元``,
``/`` (not applicable), an empty cell (not reported — never zero).
Narrative: ``4340余条``, ``近百场``, ``两期``, ``十一个区``, ``100%``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from .normalize import normalize

CellStatus = Literal["ok", "empty", "not_applicable", "unparsed"]
Number = int | float

_NA = {"/", "-", "--", "—", "——", "－", "\\", "无", "不适用", "n/a", "N/A", "×"}
_CELL_RE = re.compile(
    r"^(?P<sign>[+\-]|增加?|减少?)?(?P<num>\d[\d,]*(?:\.\d+)?|\.\d+)"
    r"(?P<unit>万元|元|亿元|件|条|个|项)?$"
)
_UNIT_FACTOR = {"万元": 1.0, "元": 1e-4, "亿元": 1e4}


@dataclass(frozen=True)
class CellValue:
    value: Number | None
    unit: str | None
    status: CellStatus


def _num(text: str) -> Number:
    text = text.replace(",", "")
    if "." in text:
        return float(text)
    return int(text)


@lru_cache(maxsize=8192)
def parse_cell(raw: str | None, *, money: bool = False, header_unit: str | None = None) -> CellValue:
    """Parse one table cell; money is normalised to 万元.

    ``header_unit`` is the unit stated in the column header ("元" or "万元");
    a unit written in the cell itself wins over it.
    """
    if raw is None:
        return CellValue(None, None, "empty")
    text = normalize(raw, strip_spaces=True).text.strip()
    if not text:
        return CellValue(None, None, "empty")
    if text in _NA:
        return CellValue(None, None, "not_applicable")
    m = _CELL_RE.match(text)
    if not m:
        return CellValue(None, None, "unparsed")
    value = _num(m["num"])
    sign = m["sign"] or ""
    if sign.startswith(("-", "减")):
        value = -value
    unit = m["unit"]
    if money:
        unit = unit if unit in _UNIT_FACTOR else (header_unit or "万元")
        if unit not in _UNIT_FACTOR:
            return CellValue(None, None, "unparsed")
        if unit != "万元":
            value = round(value * _UNIT_FACTOR[unit], 6)
        return CellValue(value, "万元", "ok")
    if unit in _UNIT_FACTOR:  # money written in a count column: keep it, but say so
        return CellValue(value, unit, "ok")
    return CellValue(value, None, "ok")


# --- Chinese numerals in narrative text ---------------------------------------------------

_DIGITS = {"零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "两": 2, "贰": 2, "三": 3, "叁": 3,
           "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8,
           "捌": 8, "九": 9, "玖": 9}
_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_BIG = {"万": 10_000, "亿": 100_000_000}
CN_NUMERAL_CHARS = "".join(_DIGITS) + "".join(_UNITS) + "".join(_BIG)


def cn_to_int(text: str) -> int | None:
    """Convert a Chinese numeral (``十一``, ``两``, ``一百零五``, ``三万``) to an int."""
    if not text or any(c not in CN_NUMERAL_CHARS for c in text):
        return None
    total = section = digit = 0
    seen = False
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
            seen = True
        elif ch in _UNITS:
            section += (digit or 1) * _UNITS[ch]
            digit = 0
            seen = True
        else:  # 万 / 亿
            section += digit
            total += (section or 1) * _BIG[ch]
            section = digit = 0
    if not seen and total == 0:
        return None
    return total + section + digit


# A quantity in running text: an optional approximation word, digits or a Chinese numeral,
# a 万/亿 multiplier, an optional 余/多, then the measure word or unit that follows.
_QTY_RE = re.compile(
    r"(?P<pre>将近|大约|超过|近|约|逾|超)?"
    r"(?P<num>\d[\d,]*(?:\.\d+)?|[零〇一二两三四五六七八九十百千万亿]+)"
    r"(?P<post>余|多)?"
    r"(?P<mult>万|亿)?"
    r"(?P<post2>余|多)?"
    r"(?P<unit>人次|场次|批次|万元|亿元|元|条|件|个|期|次|场|名|人|篇|项|家|份|批|轮|班|册|类|户|起|封|部|张|通|%|天|日|年|月|号)?"
)
MONEY_UNITS = {"万元": 1.0, "亿元": 1e4, "元": 1e-4}
_MULTIPLIER = {"万": 10_000, "亿": 100_000_000}


@dataclass(frozen=True)
class Quantity:
    """A number as the text states it, bound to the measure word after it.

    ``value`` has a 万/亿 multiplier applied for counts ("180万次" → 1 800 000,
    unit 次); money keeps its unit ("25.1万元" → 25.1, unit 万元).
    """

    value: Number
    approximate: bool
    start: int
    end: int
    unit: str | None = None
    multiplied: bool = False    # written with 万/亿 ("180万次")

    @property
    def is_year(self) -> bool:
        return self.unit == "年" and 1949 <= self.value <= 2100 and float(self.value).is_integer()


def find_quantities(text: str) -> list[Quantity]:
    """Every number in a stretch of narrative, Arabic or Chinese, with its unit and approximation.

    A Chinese numeral counts only with a measure word or an approximation
    ("两期", "近百场"): "一是", "进一步", "（五）" and "第三" are not quantities.
    """
    norm = normalize(text, strip_spaces=True)  # PDF text spaces numbers: "4340 余条"
    found: list[Quantity] = []
    for m in _QTY_RE.finditer(norm.text):
        raw = m["num"]
        before = norm.text[m.start() - 1:m.start()] if m.start() else ""
        if before.isascii() and before.isalpha():
            continue         # a name, not a count: H5, G20, 4G is handled by its unit
        if raw[0].isdigit():
            value: Number | None = _num(raw)
        else:
            if not (m["unit"] or m["pre"]) or norm.text[max(0, m.start() - 1):m.start()] == "第":
                continue
            value = cn_to_int(raw)
        if value is None:
            continue
        unit = m["unit"]
        if m["mult"]:
            if unit == "元":
                unit = m["mult"] + "元"
            else:
                value = value * _MULTIPLIER[m["mult"]]
        approx = bool(m["pre"]) or bool(m["post"]) or bool(m["post2"])
        s, e = norm.to_original(m.start(), m.end())
        found.append(Quantity(value, approx, s, e, unit, bool(m["mult"])))
    return found
