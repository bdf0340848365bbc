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
    value: float | None = Field(description="数值；原文为中文数字时换算为阿拉伯数字；原文没有数字时为 null")
    unit: str | None = Field(description="原文单位，如 条、件、个、期、次、场、人次、万元、%")
    approximate: bool = Field(description="原文带 余/多/近/约/逾 等约数词时为 true")
    evidence: str = Field(description="从报告原文逐字复制的引文，须包含该数值")


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
    received = "received"          # 收到/受理申请
    handled = "handled"            # 办结/答复
    carried_over = "carried_over"  # 结转下年度
    review_cases = "review_cases"  # 行政复议案件
    litigation_cases = "litigation_cases"  # 行政诉讼案件


class ApplicationCount(_Strict):
    metric: ApplicationMetric
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
    supervision: list[Supervision]


class Problem(_Strict):
    summary: str = Field(description="一句话概括（中文，不超过40字）")
    category: Category
    evidence: str = Field(description="原文逐字引文")


class Improvement(_Strict):
    summary: str = Field(description="一句话概括（中文，不超过40字）")
    category: Category
    evidence: str = Field(description="原文逐字引文")
    addresses_problem: int | None = Field(
        description="原文明确表明针对某个问题时，填该问题在 problems 列表中的序号（从0开始）；否则为 null")


class ProblemsFacts(_Strict):
    """Facts from 五、存在的主要问题及改进情况."""

    problems: list[Problem]
    improvements: list[Improvement]


SECTION_SCHEMAS: dict[str, type[_Strict]] = {"overview": OverviewFacts, "problems": ProblemsFacts}
CATEGORIES = [c.value for c in Category]
