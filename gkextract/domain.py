"""The domain's fixed vocabularies, in one place: parts, levels, categories, flags, review.

Keys (``policy_interpretation``, ``quote_not_found``, ``county``) are what the
database and JSON hold and never change; the labels next to them are what
people read in table output, in Chinese by default (``--lang zh``) or English.
"""

from __future__ import annotations

from enum import Enum


class Lang(str, Enum):
    """Language of labels in table output; keys in the database and JSON stay as they are."""

    zh = "zh"
    en = "en"


# --- the six parts of a report (国办公开办函〔2019〕60号) ------------------------------------

PART_KINDS: tuple[str, ...] = (
    "overview", "proactive", "applications", "review_litigation", "problems", "other",
)
PART_TITLES = {
    "overview": "总体情况",
    "proactive": "主动公开政府信息情况",
    "applications": "收到和处理政府信息公开申请情况",
    "review_litigation": "政府信息公开行政复议、行政诉讼情况",
    "problems": "存在的主要问题及改进情况",
    "other": "其他需要报告的事项",
}
NARRATIVE_KINDS: tuple[str, ...] = ("overview", "problems")   # the parts sent to the LLM, one call each

# --- who issued a report --------------------------------------------------------------------

LEVELS: tuple[str, ...] = ("province", "city", "county", "township", "department")
LEVEL_LABELS = {"province": ("省级", "province"), "city": ("市级", "city"), "county": ("县级", "county"),
                "township": ("乡镇", "township"), "department": ("部门", "department")}

# --- what the narrative holds ---------------------------------------------------------------

ITEM_TABLES: tuple[str, ...] = ("facts", "problems", "improvements")
FACT_KINDS: tuple[str, ...] = ("platform", "training", "disclosure", "application", "administrative", "supervision")
FACT_KIND_LABELS = {"platform": ("平台", "platform"), "training": ("培训", "training"),
                    "disclosure": ("主动公开", "disclosure"), "application": ("依申请", "application"),
                    "administrative": ("复议诉讼", "administrative"), "supervision": ("监督", "supervision")}

# The problem/improvement taxonomy (schema.Category): (Chinese, English) per key.
CATEGORY_NAMES = {
    "disclosure_quality": ("公开质量", "disclosure quality"), "timeliness": ("及时性", "timeliness"),
    "policy_interpretation": ("政策解读", "policy interpretation"), "platforms": ("平台渠道", "platforms"),
    "rules_standards": ("制度规范", "rules and standards"), "staffing_capacity": ("队伍能力", "staffing and capacity"),
    "awareness": ("公开意识", "awareness"), "requests_handling": ("依申请办理", "handling requests"),
    "responsiveness": ("回应关切", "responsiveness"), "supervision": ("监督考核", "supervision"),
    "grassroots": ("基层公开", "grassroots disclosure"), "other": ("其他", "other"),
}
# Short Chinese names of the taxonomy; accepted wherever a category is asked for.
CATEGORY_LABELS = {key: zh for key, (zh, _) in CATEGORY_NAMES.items()}

# --- flags: why an item scored low (set by grounding.py and llm.py) ---------------------------

FLAG_TEXT = {   # code: (Chinese, English)
    "quote_normalized": ("引文仅在统一全半角、空格和标点后才与原文一致",
                         "the quote matches only after normalising width, spaces and punctuation"),
    "quote_fuzzy": ("引文只能在原文中近似找到", "the quote was found only approximately"),
    "quote_outside_section": ("引文在报告中，但不在本部分", "the quote is in the report but outside this section"),
    "quote_not_found": ("引文未在原文中找到", "the quote is not in the report"),
    "copied_from_prompt": ("引文或数值抄自提示词，而非报告", "the quote or value is copied from the prompt, not the report"),
    "number_not_in_quote": ("数字不在引文中", "the number is not in its quote"),
    "number_bound_elsewhere": ("引文中的数字属于另一项指标（或是年份）",
                               "the quote's number belongs to another measure (or is a year)"),
    "unit_mismatch": ("单位与原文量词不符", "the unit differs from the measure word in the text"),
    "approximate_mismatch": ("约数标记与原文的余/多/近/约/逾不符",
                             "approximate does not match 余/多/近/约/逾 in the text"),
    "status_mismatch": ("已举办/计划举办与原句不符", "held/planned does not match the sentence"),
    "conflicts_with_table": ("数字与报告自身的统计表不一致", "the number disagrees with the report's own table"),
    "table_unavailable": ("用于核对的表格单元格错位或缺失", "the table cell to check against is misaligned or missing"),
    "not_a_weakness": ("引文读起来不像问题", "the quote does not read as a weakness"),
    "not_a_measure": ("引文读起来不像改进措施", "the quote does not read as a measure"),
    "improvement_in_problems_part": ("措施的引文位于问题部分", "the measure's quote lies in the problems part"),
    "problem_in_measures_part": ("问题的引文位于措施部分", "the problem's quote lies in the measures part"),
    "same_quote_as_other_kind": ("问题与改进措施引用了同一句", "a problem and an improvement share this quote"),
    "category_disagrees": ("关键词判断提示应属另一类别", "a keyword reading suggests another category"),
    "reasked": ("模型首次回复未通过校验，已重新请求",
                "the model's first reply failed validation and had to be re-asked"),
    "no_value": ("该事实没有数字", "the fact states no number"),
    "retried": ("模型调用需要重试（限流、服务器错误或超时）",
                "the model call had to be retried (rate limit, server error or timeout)"),
    "low_match": ("引文与报告原文只弱匹配", "the quote matches the report text only weakly"),
}

# --- review -----------------------------------------------------------------------------------

# What a reviewer may correct, per item table (the rest is evidence and stays as extracted).
EDITABLE = {"facts": ("value", "unit"), "problems": ("category", "summary"),
            "improvements": ("category", "summary")}
DECISIONS: tuple[str, ...] = ("accept", "correct", "reject")
REVIEW_STATUS_LABELS = {"pending": ("待审核", "pending"), "unflagged": ("无需审核", "unflagged"),
                        "accepted": ("已接受", "accepted"), "corrected": ("已更正", "corrected"),
                        "rejected": ("已驳回", "rejected")}


def _pick(names: dict[str, tuple[str, str]], key: str | None, lang: Lang) -> str | None:
    if key is None or key not in names:
        return key
    return names[key][0 if lang is Lang.zh else 1]


def category_label(key: str | None, lang: Lang = Lang.zh) -> str | None:
    """政策解读 (zh) or "policy interpretation" (en) for ``policy_interpretation``; unknown keys as they are."""
    return _pick(CATEGORY_NAMES, key, lang)


def flag_text(code: str, lang: Lang = Lang.zh) -> str:
    """A flag code as a sentence; a code we do not know is shown as it is."""
    if code not in FLAG_TEXT:
        return code
    text = FLAG_TEXT[code][0 if lang is Lang.zh else 1]
    return f"{text}。" if lang is Lang.zh else f"{text[0].upper()}{text[1:]}."


# Columns whose values are keys with display names, for table output.
VALUE_LABELS = {"category": CATEGORY_NAMES, "level": LEVEL_LABELS, "kind": FACT_KIND_LABELS,
                "review_status": REVIEW_STATUS_LABELS, "review": REVIEW_STATUS_LABELS}


def value_label(column: str, value: object, lang: Lang = Lang.zh) -> object:
    """The display name of a key in a known column (category, level, kind, review status)."""
    names = VALUE_LABELS.get(column)
    if names is None or not isinstance(value, str):
        return value
    return _pick(names, value, lang)
