from pydantic import Field

from app.core.schemas import ReadModel
from app.engine.frameworks import Framework, Strength
from app.engine.stages import Stage


class MappedCriterion(ReadModel):
    criterion: str
    title: str
    strength: Strength | None = Field(description="None only in versions published before strengths existed.")
    why: str | None
    note: str | None = Field(description="A caveat, e.g. that the article binds only high-risk AI systems.")
    high_risk_only: bool = Field(
        description="It binds high-risk AI systems only: coverage counts it for projects classified `high`."
    )


class CrosswalkEntry(ReadModel):
    id: str = Field(description="The framework's identifier.", examples=["MANAGE 4.1"])
    title: str | None
    criteria: list[MappedCriterion]


class CrosswalkRead(ReadModel):
    rubric: str
    version: int
    framework: Framework
    framework_name: str
    identifiers: list[CrosswalkEntry] = Field(description="In the order the rubric first maps them.")


class FrameworkCoverageRow(ReadModel):
    id: str
    title: str | None
    criteria: list[str] = Field(description="The rubric's criteria mapped to this identifier.")
    high_risk_only: bool = Field(
        description="Every reference to this identifier binds high-risk AI systems only (the EU AI Act's "
        "obligations of providers and deployers of high-risk systems)."
    )
    met: int = Field(description="Projects meeting every mapped criterion that counts for them.")
    partial: int = Field(description="Projects meeting some of it: a partial criterion, or some met and some not.")
    not_met: int = Field(description="Projects meeting none of the mapped criteria that count for them.")
    not_applicable: int = Field(
        description="Projects for which no mapped criterion counts yet (not applicable at their stage, or exempt)."
    )
    not_high_risk: int = Field(
        description="Projects not classified `high`, which the high-risk-only references leave nothing to count."
    )


class FrameworkCoverageRead(ReadModel):
    rubric: str
    version: int
    framework: Framework
    framework_name: str
    projects: int = Field(description="Projects in scope that match the filters and have a current result.")
    high_risk: int = Field(description="Of those, how many are classified `high` (risk_tier).")
    unclassified: int = Field(
        description="Of those, how many are not classified yet: high-risk-only references are not counted for "
        "them, which may understate what binds them."
    )
    rule: str = Field(description="How a project is counted for an identifier.")
    identifiers: list[FrameworkCoverageRow]


class BlockerRow(ReadModel):
    criterion: str
    title: str
    section: str
    gate: bool
    guidance: str = Field(description="The playbook's guidance for the criterion, from the rubric.")
    count: int = Field(description="How many projects it holds back.")
    projects: list[str] = Field(description="The first of them by key; the rest through `next_cursor`.")
    next_cursor: str | None = Field(
        description="For `GET /portfolio/blockers/{criterion}/projects` with the same `kind` and filters."
    )


class BlockersRead(ReadModel):
    rubric: str
    version: int
    projects: int = Field(description="Projects in scope that match the filters and have a current result.")
    gate: list[BlockerRow] = Field(
        description="Gate criteria not met by projects in pilot or earlier, most projects first: what holds them "
        "back from go-live."
    )
    next_level: list[BlockerRow] = Field(
        description="Criteria whose being met, alone, would lift a project to its next level, most projects first."
    )
    rule: str = Field(description="How the next level is worked out.")


class BlockedProject(ReadModel):
    key: str
    stage: Stage
    status: str = Field(description="The criterion's status for the project: partial or not_met.")
