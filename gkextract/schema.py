"""What the LLM returns for a narrative section, as pydantic models.

Built for OpenAI strict structured outputs: every field is required, optional
means ``X | None`` with no default, no extra properties, at most five levels
of nesting.  The model never rates its own confidence — grounding.py scores
each fact from the evidence.  Every number travels with its verbatim quote.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Value(_Strict):
    value: float | None = Field(description="数值；中文数字换算为阿拉伯数字；计数里的“万”“亿”乘进数值（550万次→5500000），金额保留原单位（25.1万元→25.1）；原文没有数字时为 null")
    unit: str | None = Field(description="紧跟数字的原文量词或单位，如 条、件、个、期、次、场、人次、万元、%")
    approximate: bool = Field(description="原文带 余/多/近/约/逾/超 等约数词时为 true")
    evidence: str = Field(description="从报告原文逐字复制的、含有这个数字的那一句或分句")


class PlatformType(str, Enum):
    portal = "portal"                # 门户网站
    weibo = "weibo"                  # 政务微博
    wechat = "wechat"                # 政务微信/公众号
    new_media = "new_media"          # 政务新媒体（泛指）
    app = "app"                      # 移动客户端/APP
    gazette = "gazette"              # 政府公报
    hotline_mailbox = "hotline_mailbox"  # 热线/信箱
    other = "other"


class PlatformMetric(str, Enum):
    accounts = "accounts"      # 账号/平台数量
    items = "items"            # 发布信息条数
    followers = "followers"    # 粉丝/关注数
    columns = "columns"        # 栏目/专栏/专题数量
    issues = "issues"          # 公报期数
    other = "other"


class Platform(_Strict):
    type: PlatformType
    name: str | None = Field(description="平台名称，如 “保德发布”；原文未写名称时为 null")
    metric: PlatformMetric
    value: Value


class Training(_Strict):
    status: Literal["held", "planned"] = Field(description="held=已举办；planned=计划举办")
    sessions: Value | None = Field(description="期数/次数/场次")
    participants: Value | None = Field(description="参训人次")
    audience: str | None
    topic: str | None
    evidence: str = Field(description="描述这项培训的原文逐字引文")


class DisclosureVolume(_Strict):
    category: str = Field(description="“全部”表示主动公开信息总量；否则为类别，如 政策解读、规范性文件、政务动态")
    value: Value


class ApplicationMetric(str, Enum):
    """Every application figure table 三 and 四 also hold, so the text can be checked against them."""

    received = "received"                  # 本年新收/收到/受理申请
    carried_in = "carried_in"              # 上年结转
    handled = "handled"                    # 办结/答复（办理结果总计）
    carried_forward = "carried_forward"    # 结转下年度继续办理
    disclosed = "disclosed"                # 予以公开
    partially_disclosed = "partially_disclosed"  # 部分公开
    review_cases = "review_cases"          # 行政复议案件
    litigation_cases = "litigation_cases"  # 行政诉讼案件


class ApplicationCount(_Strict):
    metric: ApplicationMetric
    value: Value


class AdministrativeMetric(str, Enum):
    """Figures of table 二 that the narrative often repeats."""

    rules_issued = "rules_issued"                    # 制定/出台规章
    normative_issued = "normative_issued"            # 制发/出台规范性文件
    normative_repealed = "normative_repealed"        # 废止规范性文件
    normative_in_force = "normative_in_force"        # 现行有效规范性文件
    licensing_decisions = "licensing_decisions"      # 行政许可决定
    penalty_decisions = "penalty_decisions"          # 行政处罚决定
    enforcement_decisions = "enforcement_decisions"  # 行政强制决定
    fees = "fees"                                    # 行政事业性收费金额


class AdministrativeFigure(_Strict):
    metric: AdministrativeMetric
    value: Value


class SupervisionKind(str, Enum):
    inspection = "inspection"    # 督查检查
    notice = "notice"            # 通报
    assessment = "assessment"    # 考核/评议
    other = "other"


class Supervision(_Strict):
    kind: SupervisionKind
    value: Value | None
    evidence: str = Field(description="原文逐字引文")


class Category(str, Enum):
    disclosure_quality = "disclosure_quality"      # 公开的深度、广度、质量
    timeliness = "timeliness"                      # 及时性
    policy_interpretation = "policy_interpretation"  # 政策解读
    platforms = "platforms"                        # 平台与渠道（网站、新媒体）
    rules_standards = "rules_standards"            # 制度、机制、标准化规范化
    staffing_capacity = "staffing_capacity"        # 队伍、专业能力、培训
    awareness = "awareness"                        # 认识、主动性
    requests_handling = "requests_handling"        # 依申请公开办理
    responsiveness = "responsiveness"              # 回应关切、政民互动
    supervision = "supervision"                    # 监督考核
    grassroots = "grassroots"                      # 基层政务公开
    other = "other"


class OverviewFacts(_Strict):
    """Facts from 一、总体情况."""

    platforms: list[Platform]
    trainings: list[Training]
    disclosure_volumes: list[DisclosureVolume]
    applications: list[ApplicationCount]
    administrative: list[AdministrativeFigure]
    supervision: list[Supervision]


class Problem(_Strict):
    summary: str = Field(description="一句话概括（中文，不超过40字）")
    category: Category
    evidence: str = Field(description="原文逐字引文")


class Improvement(_Strict):
    summary: str = Field(description="一句话概括（中文，不超过40字）")
    category: Category
    evidence: str = Field(description="原文逐字引文")
    addresses: str | None = Field(
        description="原文明确表明该措施针对某条问题时，照抄那条问题的 evidence；否则为 null")


class ProblemsFacts(_Strict):
    """Facts from 五、存在的主要问题及改进情况."""

    problems: list[Problem]
    improvements: list[Improvement]


SECTION_SCHEMAS: dict[str, type[_Strict]] = {"overview": OverviewFacts, "problems": ProblemsFacts}
CATEGORIES = [c.value for c in Category]
