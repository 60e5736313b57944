import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    PlainSerializer,
    StrictBool,
    StrictInt,
    WithJsonSchema,
)
from sqlalchemy import Row

from app.core.schemas import MONEY_JSON_SCHEMA, IsoDate, ReadModel, Slug, WriteModel
from app.engine.default_rubric import KEY as DEFAULT_RUBRIC_KEY
from app.engine.frameworks import RiskTier
from app.engine.stages import Stage
from app.platforms.schemas import Deployment, Name, Person, deployment_of, person_of
from app.projects.models import Project, StageTransition


class StakeholderRole(StrEnum):
    business = "business"
    engineering = "engineering"
    data_science = "data_science"
    security = "security"
    legal = "legal"
    compliance = "compliance"
    operations = "operations"


# Money goes out as a JSON number; two decimals and 15 digits keep it exact as a double.
def _a_number(value: object) -> object:
    if isinstance(value, str | bool):
        raise ValueError("must be a number")
    return value


MoneyAmount = Annotated[
    Decimal,
    BeforeValidator(_a_number),
    Field(ge=0, max_digits=15, decimal_places=2),
    PlainSerializer(float, return_type=float, when_used="json"),
    WithJsonSchema(MONEY_JSON_SCHEMA),
]
Tag = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,49}$")]
ShortText = Annotated[str, Field(min_length=1, max_length=100)]


class Stakeholder(WriteModel):
    role: StakeholderRole
    name: Name
    email: Annotated[EmailStr, Field(max_length=320)] | None = None


class Costs(WriteModel):
    build_cost: MoneyAmount | None = None
    run_cost_per_month: MoneyAmount | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR.")


class ProjectFields(WriteModel):
    """The writable fields of a project."""

    read_only_fields = frozenset(
        {"id", "stage", "created_at", "updated_at", "stage_entered_at", "risk_classified_by", "risk_classified_at"}
    )

    name: Name
    description: str | None = Field(default=None, max_length=5000)
    workflow: str | None = Field(
        default=None, max_length=500, description="The narrow, high-value workflow the project improves."
    )
    department: ShortText | None = None
    region: ShortText | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    business_owner: Person | None = None
    technical_owner: Person | None = None
    vendor_led: StrictBool = False
    stakeholders: list[Stakeholder] = Field(default_factory=list, max_length=50)
    deployment: Deployment = Field(default_factory=Deployment)
    sync_cadence_days: StrictInt | None = Field(
        default=None, ge=1, le=365, description="Days between data science and business syncs."
    )
    decision_date: IsoDate | None = Field(default=None, description="The planned go/no-go decision date.")
    costs: Costs = Field(default_factory=Costs)
    rubric: Slug = Field(default=DEFAULT_RUBRIC_KEY, description="Key of the rubric that governs this project.")
    platform: Slug | None = Field(
        default=None,
        description="Key of the platform it runs on. Each deployment fact the project leaves unset is read "
        "from the platform's `deployment`; the project's own value wins.",
    )
    domain: ShortText | None = Field(
        default=None, description="The business domain it serves, e.g. `claims`.", examples=["claims"]
    )
    replica_of: Slug | None = Field(
        default=None,
        description="Key of the validated project it replicates in another department or region (it must "
        "differ from it in one of them). Only an origin in production or scaling counts in its checks.",
    )
    adjacent_to: Slug | None = Field(
        default=None,
        description="Key of the project whose domain it expands into a neighbouring workflow: same `domain`.",
    )
    risk_tier: RiskTier | None = Field(
        default=None,
        description="Its risk class after the EU AI Act; `unclassified` by default. Changing it (or its "
        "rationale) needs the approver role, and any tier but `unclassified` needs a rationale. A PUT that "
        "leaves both out keeps them.",
    )
    risk_rationale: str | None = Field(
        default=None, max_length=2000, description="Why the project is in its risk tier, e.g. the Annex III point."
    )


class ProjectCreate(ProjectFields):
    key: Slug


class ProjectReplace(ProjectFields):
    key: Slug | None = Field(default=None, description="If given, must equal the key in the path.")


class ProjectRead(ReadModel):
    id: uuid.UUID
    key: str
    name: str
    description: str | None
    workflow: str | None
    department: str | None
    region: str | None
    tags: list[str]
    stage: Stage
    business_owner: Person | None
    technical_owner: Person | None
    vendor_led: bool
    stakeholders: list[Stakeholder]
    deployment: Deployment
    sync_cadence_days: int | None
    decision_date: date | None
    costs: Costs
    rubric: str
    platform: str | None
    domain: str | None
    replica_of: str | None
    adjacent_to: str | None
    risk_tier: RiskTier
    risk_rationale: str | None
    risk_classified_by: str | None = Field(description="Who last changed the risk tier or its rationale.")
    risk_classified_at: datetime | None
    created_at: datetime
    updated_at: datetime
    stage_entered_at: datetime

    @classmethod
    def from_project(cls, project: "Project | Row[Any]") -> "ProjectRead":
        return cls.model_construct(
            id=project.id,
            key=project.key,
            name=project.name,
            description=project.description,
            workflow=project.workflow,
            department=project.department,
            region=project.region,
            tags=list(project.tags),
            stage=Stage(project.stage),
            business_owner=person_of(project.business_owner_name, project.business_owner_email),
            technical_owner=person_of(project.technical_owner_name, project.technical_owner_email),
            vendor_led=project.vendor_led,
            stakeholders=[_stakeholder(s) for s in project.stakeholders],
            deployment=deployment_of(
                project.deployment_target, project.deployment_same_runtime, project.deployment_sovereign
            ),
            sync_cadence_days=project.sync_cadence_days,
            decision_date=project.decision_date,
            costs=Costs.model_construct(
                build_cost=project.build_cost,
                run_cost_per_month=project.run_cost_per_month,
                currency=project.currency,
            ),
            rubric=project.rubric,
            platform=project.platform,
            domain=project.domain,
            replica_of=project.replica_of,
            adjacent_to=project.adjacent_to,
            risk_tier=RiskTier(project.risk_tier),
            risk_rationale=project.risk_rationale,
            risk_classified_by=project.risk_classified_by,
            risk_classified_at=project.risk_classified_at,
            created_at=project.created_at,
            updated_at=project.updated_at,
            stage_entered_at=project.stage_entered_at,
        )

    def writable(self) -> dict[str, Any]:
        """The fields a PUT would send back, as JSON values: the base of a merge patch."""
        return self.model_dump(mode="json", exclude=set(ProjectFields.read_only_fields))


def _stakeholder(stored: dict[str, Any]) -> Stakeholder:
    return Stakeholder.model_construct(
        role=StakeholderRole(stored["role"]), name=stored["name"], email=stored.get("email")
    )


class StageTransitionCreate(WriteModel):
    to: Stage
    reason: str | None = Field(default=None, max_length=2000, description="Why; required when moving back or retiring.")


class StageTransitionRead(ReadModel):
    model_config = ConfigDict(serialize_by_alias=True)

    id: uuid.UUID
    from_stage: Stage = Field(serialization_alias="from")
    to: Stage
    reason: str | None
    actor: str
    transitioned_at: datetime

    @classmethod
    def from_transition(cls, transition: StageTransition) -> "StageTransitionRead":
        return cls.model_construct(
            id=transition.id,
            from_stage=Stage(transition.from_stage),
            to=Stage(transition.to_stage),
            reason=transition.reason,
            actor=transition.actor,
            transitioned_at=transition.transitioned_at,
        )


MAX_PROJECT_BATCH_ITEMS = 1000


class ProjectBatch(WriteModel):
    items: list[ProjectCreate] = Field(min_length=1, max_length=MAX_PROJECT_BATCH_ITEMS)


class ProjectBatchItemResult(ReadModel):
    key: str
    result: Literal["created", "updated", "unchanged"]


class ProjectBatchResult(ReadModel):
    items: list[ProjectBatchItemResult] = Field(description="One per item, in the order sent.")
    created: int
    updated: int
    unchanged: int


# What the `project.risk_classified` event carries.


class RiskClassification(BaseModel):
    risk_tier: RiskTier
    risk_rationale: str | None


class RiskClassified(BaseModel):
    """A project's risk tier or its rationale changed (after the EU AI Act), by an approver."""

    project: str
    before: RiskClassification | None = Field(description="None when the project was created classified.")
    after: RiskClassification
    classified_by: str
    classified_at: datetime
