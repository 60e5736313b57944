"""Checks: declarative rules over a project's data, never code. This module holds their vocabulary
(each kind of check, the snapshot of a project they read, what an answer holds) and what makes a
check well-formed; `verdicts.py` runs them.

A check reads a snapshot of the project (its fields, stakeholders, KPIs, ROI, facts, stage
history, and the projects related to it: its replicas and the projects adjacent to it) and
answers `met`, `partial`, `not_met`, or `no_data` when the data it reads is not there, in which
case an attested answer decides.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from app.engine.kpi import BUSINESS_CATEGORIES, Direction, KpiCategory
from app.engine.roi import ProjectCosts
from app.engine.stages import Stage


class CheckStatus(StrEnum):
    met = "met"
    partial = "partial"
    not_met = "not_met"
    no_data = "no_data"


# The project fields a `field` check may read, by their path in the project's representation.
PROJECT_FIELDS = frozenset(
    {
        "name",
        "description",
        "workflow",
        "department",
        "region",
        "business_owner",
        "technical_owner",
        "vendor_led",
        "deployment.target",
        "deployment.same_runtime_as_production",
        "deployment.sovereign",
        "sync_cadence_days",
        "decision_date",
        "costs.build_cost",
        "costs.run_cost_per_month",
        "costs.currency",
        "domain",
        "platform",
        "risk_tier",
    }
)
# Facts are named with dots, e.g. `ops.alerting_enabled`; a name ending in `_at` holds a timestamp.
FACT_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}(\.[a-z][a-z0-9_]{0,62}){1,4}$"
# How far ahead of the clock a timestamp may be and still count as past: clocks of other systems drift.
FUTURE_TOLERANCE = timedelta(minutes=5)
KPI_REQUIREMENTS = frozenset({"baseline", "target", "target_date", "value_per_unit", "measurement"})
FactOp = Literal["is_true", "non_empty", "within_days", "at_least"]


@dataclass(frozen=True)
class FactObservation:
    value: bool | int | float | str
    observed_at: datetime


@dataclass(frozen=True)
class KpiSnapshot:
    key: str
    category: KpiCategory
    direction: Direction
    baseline: float | None
    target: float | None
    target_date: date | None
    value_per_unit: Decimal | None
    currency: str | None
    latest_value: float | None
    latest_measured_at: datetime | None

    @property
    def is_business(self) -> bool:
        return self.category in BUSINESS_CATEGORIES


@dataclass(frozen=True)
class RelatedProject:
    """Another project as a relation check reads it: a replica, or a project adjacent to this one."""

    key: str
    department: str | None
    region: str | None
    platform: str | None
    domain: str | None


@dataclass(frozen=True)
class ProjectSnapshot:
    """What the checks may read about a project, loaded once per evaluation."""

    key: str
    stage: Stage
    fields: Mapping[str, Any]
    stakeholder_roles: frozenset[str]
    kpis: tuple[KpiSnapshot, ...]
    facts: Mapping[str, FactObservation]
    costs: ProjectCosts
    # Every stage the project entered, with when, oldest first; the last is the current stage.
    stage_history: tuple[tuple[Stage, datetime], ...]
    platform: str | None = None
    domain: str | None = None
    # The projects whose `replica_of` names this one, and those whose `adjacent_to` does.
    replicas: tuple[RelatedProject, ...] = ()
    adjacent: tuple[RelatedProject, ...] = ()


@dataclass(frozen=True)
class Deadline:
    """A moment at which an answer changes with time alone, and what changes then."""

    at: datetime
    cause: str


@dataclass(frozen=True)
class CheckResult:
    status: CheckStatus
    reason: str
    observed: dict[str, Any] = field(default_factory=dict)
    deadlines: tuple[Deadline, ...] = ()


# The check vocabulary. Each kind is a frozen dataclass; `kind` tells them apart in JSON. The
# `__pydantic_config__` attribute makes the API refuse unknown keys when it reads these from JSON.
STRICT = {"extra": "forbid"}


@dataclass(frozen=True)
class FieldCheck:
    """A project field: `present`, `is_true`, `in` a set of values, or `at_most` a number
    (`partial_at_most` gives partial credit up to a second bound)."""

    __pydantic_config__ = STRICT
    field: str
    op: Literal["present", "is_true", "in", "at_most"]
    values: tuple[str, ...] = ()
    at_most: float | None = None
    partial_at_most: float | None = None
    when_missing: Literal["no_data", "not_met"] = "no_data"
    kind: Literal["field"] = "field"


@dataclass(frozen=True)
class StakeholderRolesCheck:
    """Stakeholders cover these roles; `partial_at_least` of them earn partial credit."""

    __pydantic_config__ = STRICT
    roles: tuple[str, ...]
    partial_at_least: int
    kind: Literal["stakeholder_roles"] = "stakeholder_roles"


@dataclass(frozen=True)
class FactCondition:
    __pydantic_config__ = STRICT

    fact: str
    op: FactOp
    value: float | None = None


@dataclass(frozen=True)
class FactCheck:
    """One fact decides: absent is no_data, satisfied is met, otherwise not_met. When it is
    satisfied but one of the `also` conditions is not, the result is partial."""

    __pydantic_config__ = STRICT
    fact: str
    op: FactOp
    value: float | None = None
    also: tuple[FactCondition, ...] = ()
    max_age_days: int | None = None
    kind: Literal["fact"] = "fact"


@dataclass(frozen=True)
class FactsCheck:
    """Several facts: all satisfied is met, at least `partial_at_least` is partial, fewer is
    not_met; when none of the facts is there, no_data."""

    __pydantic_config__ = STRICT
    conditions: tuple[FactCondition, ...]
    partial_at_least: int = 1
    max_age_days: int | None = None
    kind: Literal["facts"] = "facts"


@dataclass(frozen=True)
class KpiExistsCheck:
    """At least one KPI of these categories meets every requirement: met, else not_met."""

    __pydantic_config__ = STRICT
    categories: tuple[KpiCategory, ...]
    require: tuple[str, ...] = ()
    kind: Literal["kpi_exists"] = "kpi_exists"


@dataclass(frozen=True)
class KpiCoverageCheck:
    """Every KPI of these categories meets the requirements (and was measured within N days):
    met; some of them: partial; none, or no such KPI: not_met."""

    __pydantic_config__ = STRICT
    categories: tuple[KpiCategory, ...]
    require: tuple[str, ...] = ()
    measured_within_days: int | None = None
    kind: Literal["kpi_coverage"] = "kpi_coverage"


@dataclass(frozen=True)
class RoiCheck:
    """The ROI % over a horizon is above a threshold: met, else not_met; no_data when it cannot be
    computed (nothing spent, or no KPI that carries money)."""

    __pydantic_config__ = STRICT
    basis: Literal["projected", "realized"] = "projected"
    horizon_months: int = 12
    above_pct: float = 0
    kind: Literal["roi"] = "roi"


@dataclass(frozen=True)
class StageDurationCheck:
    """The project has been in these stages, without leaving them, for at least N days."""

    __pydantic_config__ = STRICT
    stages: tuple[Stage, ...]
    at_least_days: int
    kind: Literal["stage_duration"] = "stage_duration"


@dataclass(frozen=True)
class ReplicasOnPlatformCheck:
    """Replication uses the same infrastructure: the project's replicas (projects whose `replica_of`
    names it) run on its platform. All of them: met; some: partial; none: not_met; no_data when it
    has no replica or no platform, so that an attestation can still decide."""

    __pydantic_config__ = STRICT
    kind: Literal["replicas_on_platform"] = "replicas_on_platform"


@dataclass(frozen=True)
class AdjacentInDomainCheck:
    """Expansion to an adjacent use case: a project of the same domain is `adjacent_to` this one:
    met; otherwise no_data, so that an attestation can still decide."""

    __pydantic_config__ = STRICT
    kind: Literal["adjacent_in_domain"] = "adjacent_in_domain"


@dataclass(frozen=True)
class AllOfCheck:
    """Every sub-check met: met; at least `partial_at_least` met: partial; else not_met."""

    __pydantic_config__ = STRICT
    checks: "tuple[Check, ...]"
    partial_at_least: int = 1
    kind: Literal["all_of"] = "all_of"


@dataclass(frozen=True)
class AnyOfCheck:
    """The best result among the sub-checks (met, then partial, then not_met)."""

    __pydantic_config__ = STRICT
    checks: "tuple[Check, ...]"
    kind: Literal["any_of"] = "any_of"


Check = (
    FieldCheck
    | StakeholderRolesCheck
    | FactCheck
    | FactsCheck
    | KpiExistsCheck
    | KpiCoverageCheck
    | RoiCheck
    | StageDurationCheck
    | ReplicasOnPlatformCheck
    | AdjacentInDomainCheck
    | AllOfCheck
    | AnyOfCheck
)


def check_problems(check: Check) -> list[str]:
    """What is wrong with a check's definition, beyond its shape; empty when it can be published."""
    match check:
        case FieldCheck(field=name, op=op):
            problems = [] if name in PROJECT_FIELDS else [f"unknown project field {name!r}"]
            if op == "in" and not check.values:
                problems.append("op 'in' needs values")
            if op == "at_most" and check.at_most is None:
                problems.append("op 'at_most' needs at_most")
            return problems
        case StakeholderRolesCheck(roles=roles, partial_at_least=partial):
            return (
                [] if roles and 0 < partial <= len(roles) else ["roles must be non-empty, 0 < partial_at_least ≤ roles"]
            )
        case FactCheck() | FactsCheck():
            conditions = (
                [FactCondition(check.fact, check.op, check.value), *check.also]
                if isinstance(check, FactCheck)
                else list(check.conditions)
            )
            return [problem for condition in conditions for problem in _condition_problems(condition)]
        case KpiExistsCheck(require=require) | KpiCoverageCheck(require=require):
            unknown = set(require) - KPI_REQUIREMENTS
            return [f"unknown KPI requirement {name!r}" for name in sorted(unknown)]
        case AllOfCheck(checks=checks) | AnyOfCheck(checks=checks):
            if not checks:
                return ["needs at least one sub-check"]
            return [problem for sub in checks for problem in check_problems(sub)]
        case _:
            return []


def _condition_problems(condition: FactCondition) -> list[str]:
    if not re.match(FACT_NAME_PATTERN, condition.fact):
        return [f"fact name {condition.fact!r} is not a dotted name like ops.alerting_enabled"]
    if condition.op in ("within_days", "at_least") and condition.value is None:
        return [f"fact {condition.fact!r}: op {condition.op!r} needs a value"]
    if condition.op == "within_days" and not condition.fact.endswith("_at"):
        return [f"fact {condition.fact!r}: within_days reads a timestamp fact, whose name ends in _at"]
    return []
