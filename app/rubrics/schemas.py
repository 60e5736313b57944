from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import Field, StrictBool

from app.core.schemas import ReadModel, Slug, WriteModel
from app.engine.checks import Check
from app.engine.frameworks import Strength
from app.engine.scoring import Aggregation, Criterion, Reference, Rubric, Section
from app.engine.stages import Stage

SectionKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
CRITERION_PATTERN = r"^[a-z][a-z0-9_]{0,39}\.[a-z][a-z0-9_]{0,79}$"
CriterionKey = Annotated[str, Field(pattern=CRITERION_PATTERN, max_length=120)]
# Versions are stored as 32-bit integers.
MAX_VERSION = 2**31 - 1
Weight = Annotated[float, Field(strict=True, gt=0, le=1000, allow_inf_nan=False)]


class SectionSpec(WriteModel):
    key: SectionKey
    title: str = Field(min_length=1, max_length=200)
    weight: Weight = 1


class ReferenceSpec(WriteModel):
    """Where a criterion corresponds to a governance framework: a pointer, not a finding of conformity."""

    framework: str = Field(
        min_length=1,
        max_length=100,
        description="`nist-ai-rmf`, `iso-42001`, `eu-ai-act` or `ml-test-score`, checked when a version is "
        "published; versions published before these names keep the names they had.",
        examples=["nist-ai-rmf"],
    )
    id: str = Field(min_length=1, max_length=100, description="The framework's identifier.", examples=["MANAGE 4.1"])
    title: str | None = Field(default=None, max_length=300, description="The framework's title for it, if it has one.")
    strength: Strength | None = Field(
        default=None,
        description="`strong`: about the same thing; `moderate`: part of it, or in another scope; `weak`: the "
        "closest honest pointer. Required when a version is published.",
    )
    why: str | None = Field(default=None, max_length=1000, description="Why it corresponds.")
    note: str | None = Field(
        default=None, max_length=500, description="A caveat, e.g. that an article binds only high-risk AI systems."
    )
    high_risk_only: StrictBool = Field(
        default=False,
        description="The obligation binds high-risk AI systems only: framework views count it for projects "
        "whose `risk_tier` is `high`, and say how many are unclassified.",
    )


class CriterionSpec(WriteModel):
    key: CriterionKey
    section: SectionKey
    title: str = Field(min_length=1, max_length=300)
    guidance: str = Field(default="", max_length=4000)
    weight: Weight = 1
    gate: StrictBool = Field(default=False, description="Blocking for go-live: the gate passes only when it is met.")
    applies_from: Stage = Field(default=Stage.idea, description="The first stage it applies to.")
    check: Annotated[Check, Field(discriminator="kind")] | None = Field(
        default=None, description="A declarative rule over the project's data; without one, only answers count."
    )
    references: list[ReferenceSpec] = Field(default_factory=list, max_length=20)
    evidence_required: StrictBool = Field(
        default=False,
        description="A `met` or `partial` attestation of it must cite evidence uploaded to the service.",
    )


class RubricVersionSpec(WriteModel):
    """The content of one version of a rubric. The read-only fields of a version as read (`key`,
    `version`, `published_at`, `published_by`) are ignored, so that a version read (as JSON or
    YAML) can be posted back as the next one."""

    read_only_fields: ClassVar[frozenset[str]] = frozenset({"key", "version", "published_at", "published_by"})

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    aggregation: Aggregation = Field(
        default=Aggregation.weighted_mean,
        description="`weighted_mean`: the section-weighted mean of section scores; "
        "`min_section`: the weakest section's score (the ML Test Score's rule).",
    )
    sections: list[SectionSpec] = Field(min_length=1, max_length=50)
    criteria: list[CriterionSpec] = Field(min_length=1, max_length=500)

    def to_engine(self, key: str, number: int) -> Rubric:
        return Rubric(
            key=key,
            version=number,
            sections=tuple(Section(s.key, s.title, s.weight) for s in self.sections),
            criteria=tuple(
                Criterion(
                    key=c.key,
                    section=c.section,
                    title=c.title,
                    guidance=c.guidance,
                    weight=c.weight,
                    gate=c.gate,
                    applies_from=c.applies_from,
                    check=c.check,
                    references=tuple(
                        Reference(r.framework, r.id, r.title, r.strength, r.why, r.note, r.high_risk_only)
                        for r in c.references
                    ),
                    evidence_required=c.evidence_required,
                )
                for c in self.criteria
            ),
            aggregation=self.aggregation,
        )

    @classmethod
    def from_engine(cls, rubric: Rubric, *, name: str, description: str) -> "RubricVersionSpec":
        return cls(
            name=name,
            description=description,
            aggregation=rubric.aggregation,
            sections=[SectionSpec(key=s.key, title=s.title, weight=s.weight) for s in rubric.sections],
            criteria=[
                CriterionSpec(
                    key=c.key,
                    section=c.section,
                    title=c.title,
                    guidance=c.guidance,
                    weight=c.weight,
                    gate=c.gate,
                    applies_from=c.applies_from,
                    check=c.check,
                    references=[
                        ReferenceSpec(
                            framework=r.framework,
                            id=r.id,
                            title=r.title,
                            strength=r.strength,
                            why=r.why,
                            note=r.note,
                            high_risk_only=r.high_risk_only,
                        )
                        for r in c.references
                    ],
                    evidence_required=c.evidence_required,
                )
                for c in rubric.criteria
            ],
        )


class RubricCreate(RubricVersionSpec):
    read_only_fields: ClassVar[frozenset[str]] = frozenset({"version", "published_at", "published_by"})

    key: Slug


class RubricVersionRead(RubricVersionSpec):
    read_only_fields: ClassVar[frozenset[str]] = frozenset()

    key: str
    version: int
    published_at: datetime
    published_by: str


class RubricSummary(ReadModel):
    key: str
    name: str
    description: str
    latest_version: int
    published_at: datetime


class RescoringRead(ReadModel):
    rubric: str
    latest_version: int
    governed: int = Field(description="Projects the rubric governs.")
    current: int = Field(description="Of those, how many are scored against the latest version.")
    pending: int = Field(
        description="How many the re-scorer has yet to reach; a read of one of them re-scores it at once."
    )
