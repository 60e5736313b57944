"""Initiatives in and out: the resource, its progress, and the events it tells."""

from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, Field, model_validator

from app.core.schemas import IsoDate, ReadModel, Slug, UTCTimestamp, WriteModel
from app.engine.scoring import Level
from app.engine.stages import Stage
from app.platforms.schemas import Person
from app.projects.schemas import Tag
from app.rubrics.schemas import CriterionKey

GOAL_KINDS = ("criteria", "gate", "level")


class Goal(WriteModel):
    """What a project in scope must reach to count as done: one of `criteria` (each met, exempt or
    not applicable), `gate` (the go-live gate passes) or `level` (that readiness level or above)."""

    criteria: list[CriterionKey] | None = Field(
        default=None,
        min_length=1,
        max_length=50,
        description="Criterion keys; each counts as done when met, exempt or not applicable.",
        examples=[["go_live.monitoring_alerting", "go_live.rollback_tested"]],
    )
    gate: Literal[True] | None = Field(default=None, description="`true`: the go-live gate passes.")
    level: Level | None = Field(default=None, description="This readiness level or a higher one.")

    @model_validator(mode="after")
    def _exactly_one(self) -> "Goal":
        given = [kind for kind in GOAL_KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            named = " and ".join(given) if given else "none of them"
            raise ValueError(
                f"a goal is one of criteria, gate or level; this one has {named} "
                "(in a merge patch, send null for the one to drop)"
            )
        if self.criteria is not None:
            self.criteria = list(dict.fromkeys(self.criteria))
        return self


class Scope(WriteModel):
    """Which projects the initiative is about: the portfolio's filters, every one optional; `{}`
    is the whole portfolio. Readiness level and stall risk move with the very progress an
    initiative tracks, so they are not scopes."""

    department: str | None = Field(default=None, min_length=1, max_length=100, examples=["claims"])
    region: str | None = Field(default=None, min_length=1, max_length=100)
    stage: Stage | None = Field(default=None, description="Projects in this stage; in the past, as they were then.")
    owner: str | None = Field(
        default=None, max_length=320, description="A business or technical owner's email, in any case."
    )
    tag: Tag | None = None


class InitiativeFields(WriteModel):
    read_only_fields: ClassVar[frozenset[str]] = frozenset(
        {"created_at", "updated_at", "created_by", "completed_at", "overdue_at"}
    )

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    owner: Person
    goal: Goal
    scope: Scope = Field(default_factory=Scope)
    starts_at: UTCTimestamp | None = Field(
        default=None,
        description="Where the burn-up starts (its ISO week); default: now. It may lie in the past: the burn-up "
        "is computed from the readiness history.",
    )
    target_date: IsoDate = Field(description="The date by which every project in scope should be done (UTC).")

    @model_validator(mode="after")
    def _starts_before_target(self) -> "InitiativeFields":
        if self.starts_at is not None and self.starts_at.date() > self.target_date:
            raise ValueError("starts_at must not be after target_date")
        return self


class InitiativeCreate(InitiativeFields):
    key: Slug


class InitiativeReplace(InitiativeFields):
    """What a merge patch is checked against: the key stays."""

    key: Slug


class InitiativeRead(ReadModel):
    key: str
    name: str
    description: str
    owner: Person
    goal: Goal
    scope: Scope
    starts_at: datetime
    target_date: date
    created_by: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = Field(description="When `initiative.completed` was told; it is told once.")
    overdue_at: datetime | None = Field(description="When `initiative.overdue` was told; it is told once.")


class DepartmentProgress(ReadModel):
    department: str | None
    in_scope: int
    done: int


class RemainingProject(ReadModel):
    project: str = Field(description="The project's key.")
    name: str
    department: str | None
    stage: Stage
    missing: list[str] = Field(
        description="What it still misses: the goal's criteria not done; for the gate, its blockers; for a "
        "level, the criteria partly met or not met. Empty for a project not scored yet."
    )


class BurnUpWeek(ReadModel):
    week: str = Field(description="The ISO week, e.g. `2026-W14`.", examples=["2026-W14"])
    starts_on: date = Field(description="The week's Monday.")
    as_of: datetime = Field(description="The moment the figures describe: the week's end, or now for this week.")
    in_scope: int
    done: int
    exact: bool = Field(
        description="False when some project was judged from a history row written before each criterion's "
        "status was kept: gate criteria are known from its blockers, others count as not done."
    )


class InitiativeProgress(ReadModel):
    initiative: str
    as_of: datetime
    in_scope: int = Field(description="Projects in scope, within the caller's departments.")
    done: int = Field(description="Of those, how many meet the goal.")
    remaining: list[RemainingProject] = Field(description="Those that do not, by key, a page at a time.")
    next_cursor: str | None = Field(description="Where the next page of `remaining` starts.")
    by_department: list[DepartmentProgress]
    burn_up: list[BurnUpWeek] = Field(
        description="Each ISO week since `starts_at` as it ended, from the readiness history; this week as it "
        "stands. In scope then: the scope's stage as the project was then, its other filters as they are now."
    )
    exact_from: str | None = Field(
        description="The first week from which every figure of the burn-up is exact; null without a burn-up."
    )
    target_date: date
    overdue: bool = Field(description="The target date has passed with projects remaining.")
    completed_at: datetime | None


class InitiativeCompleted(BaseModel):
    """Every project in the initiative's scope meets its goal. Told once, at creation if it is
    already complete; its subject is the initiative's key."""

    initiative: str
    name: str
    goal: str = Field(description="The goal in words.", examples=["the go-live gate passes"])
    target_date: date
    in_scope: int
    summary: str = Field(description="What happened, in a sentence for people.")


class InitiativeOverdue(BaseModel):
    """The initiative's target date passed with projects in scope still missing its goal. Told
    once; its subject is the initiative's key."""

    initiative: str
    name: str
    goal: str = Field(description="The goal in words.", examples=["the go-live gate passes"])
    target_date: date
    in_scope: int
    done: int
    remaining: int
    summary: str = Field(description="What happened, in a sentence for people.")
