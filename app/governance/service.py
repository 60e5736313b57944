"""Governance views: a rubric's criteria filed under framework identifiers, the portfolio's
coverage of each identifier, and the criteria that hold the most projects back.

The portfolio views read each project's current result (`project_readiness`), narrowed in SQL to
one (project, criterion, status) row per criterion, for the projects the filters and the caller's
scope select: one statement however many projects, aggregated here in a single pass.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.auth import scope
from app.core.errors import NotFound
from app.core.pagination import cursor_text, decode_cursor, encode_cursor
from app.core.snapshots import ReadCache
from app.engine.frameworks import NAMES, Framework, RiskTier, framework_of
from app.engine.lift import GATE_CLEARED, lifting_criteria
from app.engine.scoring import Criterion, Rubric, Status
from app.engine.stages import Stage
from app.governance.storage import criteria_statuses
from app.portfolio import service as portfolio
from app.portfolio.models import ProjectStatus
from app.readiness.models import ProjectReadiness
from app.rubrics import service as rubrics

Kind = Literal["gate", "next_level"]
# Stages in which a gate criterion holds a project back from go-live.
BEFORE_GO_LIVE = (Stage.idea, Stage.poc, Stage.pilot)
# Each of these views reads every project's stored result: kept until anything commits.
_kept = ReadCache(max_age=timedelta(seconds=5))
COVERAGE_RULE = (
    "For each project, the mapped criteria that count (met, partial or not_met; not_applicable and exempt are "
    "left out): met when all of them are met, not_met when none is met or partial, partial otherwise; "
    "not_applicable when none counts. A reference marked high_risk_only binds only projects whose risk_tier is "
    "high: for the others it is left out, and a project it leaves nothing to is counted in not_high_risk."
)
LIFT_RULE = (
    "Worked out from each project's current result with the scoring rules: a criterion, partial or not met, "
    "is counted when its being met, all else unchanged, raises the project's level (not_ready to pilot_ready "
    "at score 50, to production_ready with the gate passed at 75, to scale_ready with the scaling section at 75 "
    "in production). One criterion at a time: a project two fixes away from its next level counts for neither."
)


@dataclass(frozen=True)
class MappedCriterion:
    criterion: str
    title: str
    strength: str | None
    why: str | None
    note: str | None
    high_risk_only: bool


@dataclass(frozen=True)
class CrosswalkEntry:
    id: str
    title: str | None
    criteria: list[MappedCriterion]


@dataclass(frozen=True)
class Crosswalk:
    rubric: str
    version: int
    framework: Framework
    framework_name: str
    identifiers: list[CrosswalkEntry]


def _crosswalk(rubric: Rubric, framework: Framework) -> Crosswalk:
    entries: dict[str, CrosswalkEntry] = {}
    for criterion in rubric.criteria:
        for reference in criterion.references:
            if framework_of(reference.framework) != framework:
                continue
            entry = entries.setdefault(reference.id, CrosswalkEntry(reference.id, reference.title, []))
            entry.criteria.append(
                MappedCriterion(
                    criterion.key,
                    criterion.title,
                    reference.strength,
                    reference.why,
                    reference.note,
                    reference.high_risk_only,
                )
            )
    return Crosswalk(rubric.key, rubric.version, framework, NAMES[framework], list(entries.values()))


def crosswalk(session: Session, *, key: str, framework: Framework, version: int | None) -> Crosswalk:
    """The rubric's criteria filed under the framework's identifiers (the latest version unless one is named)."""
    return _crosswalk(rubrics.to_engine(*rubrics.get_version(session, key=key, number=version)), framework)


# The portfolio views.


@dataclass(frozen=True)
class PortfolioRow:
    project_id: uuid.UUID
    key: str
    stage: Stage
    risk_tier: RiskTier
    statuses: dict[str, Status]


def _portfolio_rows(
    session: Session, *, rubric_key: str, filters: portfolio.Filters, now: datetime, limits: Mapping[Stage, int]
) -> Iterator[PortfolioRow]:
    """Every project in scope that the filters select and that has a current result against the
    rubric, with its status by criterion; retired projects are left out."""
    projects = (
        select(ProjectStatus.project_id, ProjectStatus.key, ProjectStatus.stage, ProjectStatus.risk_tier)
        .join(ProjectReadiness, ProjectReadiness.project_id == ProjectStatus.project_id)
        .where(ProjectReadiness.rubric_key == rubric_key, ProjectStatus.stage != Stage.retired.value)
    )
    query = criteria_statuses(session, portfolio.filtered(cast(Select[Any], projects), filters, now, limits))
    current: PortfolioRow | None = None
    for row in session.execute(query.order_by(ProjectStatus.project_id)).yield_per(5000):
        if current is None or row.project_id != current.project_id:
            if current is not None:
                yield current
            current = PortfolioRow(row.project_id, row.key, Stage(row.stage), RiskTier(row.risk_tier), {})
        current.statuses[row.criterion] = Status(row.status)
    if current is not None:
        yield current


@dataclass(frozen=True)
class CoverageRow:
    id: str
    title: str | None
    criteria: list[str]
    high_risk_only: bool
    met: int = 0
    partial: int = 0
    not_met: int = 0
    not_applicable: int = 0
    not_high_risk: int = 0


@dataclass(frozen=True)
class Coverage:
    rubric: str
    version: int
    framework: Framework
    framework_name: str
    projects: int
    high_risk: int
    unclassified: int
    rule: str
    identifiers: list[CoverageRow]


def _coverage_class(statuses: Mapping[str, Status], criteria: list[str]) -> str:
    counted = [statuses[key] for key in criteria if statuses.get(key) in (Status.met, Status.partial, Status.not_met)]
    if not counted:
        return "not_applicable"
    if all(status == Status.met for status in counted):
        return "met"
    if all(status == Status.not_met for status in counted):
        return "not_met"
    return "partial"


def framework_coverage(
    session: Session,
    *,
    framework: Framework,
    rubric_key: str,
    filters: portfolio.Filters,
    now: datetime,
    limits: Mapping[Stage, int],
) -> Coverage:
    """For each identifier of the framework, how many projects meet the criteria mapped to it."""
    key = ("coverage", framework, rubric_key, filters, scope.departments(), tuple(sorted(limits.items())))
    return _kept.read(
        session,
        key,
        now,
        lambda: _framework_coverage(
            session, framework=framework, rubric_key=rubric_key, filters=filters, now=now, limits=limits
        ),
    )


def _framework_coverage(
    session: Session,
    *,
    framework: Framework,
    rubric_key: str,
    filters: portfolio.Filters,
    now: datetime,
    limits: Mapping[Stage, int],
) -> Coverage:
    mapping = _crosswalk(rubrics.latest_engine_rubric(session, rubric_key), framework)
    criteria = {entry.id: [mapped.criterion for mapped in entry.criteria] for entry in mapping.identifiers}
    # What binds a project that is not classified high: the references that are not high-risk only.
    binding = {
        entry.id: [mapped.criterion for mapped in entry.criteria if not mapped.high_risk_only]
        for entry in mapping.identifiers
    }
    counts: dict[str, dict[str, int]] = {identifier: defaultdict(int) for identifier in criteria}
    projects = high = unclassified = 0
    for row in _portfolio_rows(session, rubric_key=rubric_key, filters=filters, now=now, limits=limits):
        projects += 1
        high += row.risk_tier == RiskTier.high
        unclassified += row.risk_tier == RiskTier.unclassified
        held_to = criteria if row.risk_tier == RiskTier.high else binding
        for identifier, keys in held_to.items():
            counts[identifier][_coverage_class(row.statuses, keys) if keys else "not_high_risk"] += 1
    return Coverage(
        mapping.rubric,
        mapping.version,
        framework,
        mapping.framework_name,
        projects,
        high,
        unclassified,
        COVERAGE_RULE,
        [
            CoverageRow(entry.id, entry.title, criteria[entry.id], not binding[entry.id], **counts[entry.id])
            for entry in mapping.identifiers
        ],
    )


@dataclass(frozen=True)
class BlockerRow:
    criterion: str
    title: str
    section: str
    gate: bool
    guidance: str
    count: int
    projects: list[str]
    next_cursor: str | None


@dataclass(frozen=True)
class Blockers:
    rubric: str
    version: int
    projects: int
    gate: list[BlockerRow]
    next_level: list[BlockerRow]
    rule: str


@dataclass(frozen=True)
class BlockedProject:
    key: str
    stage: Stage
    status: str


def _held_back(
    session: Session, *, rubric_key: str, filters: portfolio.Filters, now: datetime, limits: Mapping[Stage, int]
) -> tuple[Rubric, int, dict[Kind, dict[str, list[BlockedProject]]]]:
    """As last read, unless anything committed since: every page of blocked projects reads it."""
    key = ("held_back", rubric_key, filters, scope.departments(), tuple(sorted(limits.items())))
    return _kept.read(
        session,
        key,
        now,
        lambda: _read_held_back(session, rubric_key=rubric_key, filters=filters, now=now, limits=limits),
    )


def _read_held_back(
    session: Session, *, rubric_key: str, filters: portfolio.Filters, now: datetime, limits: Mapping[Stage, int]
) -> tuple[Rubric, int, dict[Kind, dict[str, list[BlockedProject]]]]:
    """The rubric, how many projects were read, and for each kind and criterion the projects it holds back."""
    rubric = rubrics.latest_engine_rubric(session, rubric_key)
    gates = [criterion.key for criterion in rubric.criteria if criterion.gate]
    held: dict[Kind, dict[str, list[BlockedProject]]] = {"gate": defaultdict(list), "next_level": defaultdict(list)}
    projects = 0
    for row in _portfolio_rows(session, rubric_key=rubric_key, filters=filters, now=now, limits=limits):
        key, stage, statuses = row.key, row.stage, row.statuses
        projects += 1
        if stage in BEFORE_GO_LIVE:
            for criterion in gates:
                status = statuses.get(criterion)
                if status is not None and status not in GATE_CLEARED:
                    held["gate"][criterion].append(BlockedProject(key, stage, status.value))
        for criterion in lifting_criteria(rubric, stage, statuses):
            held["next_level"][criterion].append(BlockedProject(key, stage, statuses[criterion].value))
    for by_criterion in held.values():
        for blocked in by_criterion.values():
            blocked.sort(key=lambda project: project.key)
    return rubric, projects, held


def _page(blocked: list[BlockedProject], limit: int, after: str | None) -> tuple[list[BlockedProject], str | None]:
    start = next((i for i, project in enumerate(blocked) if project.key > after), len(blocked)) if after else 0
    shown = blocked[start : start + limit]
    more = start + limit < len(blocked)
    return shown, encode_cursor([shown[-1].key]) if more and shown else None


def blockers(
    session: Session,
    *,
    rubric_key: str,
    filters: portfolio.Filters,
    keys: int,
    now: datetime,
    limits: Mapping[Stage, int],
) -> Blockers:
    """The criteria ranked by how many projects they hold back, as gate blockers before go-live and
    as the fix that would lift a project to its next level; each with its first `keys` projects."""
    rubric, projects, held = _held_back(session, rubric_key=rubric_key, filters=filters, now=now, limits=limits)
    by_key: dict[str, Criterion] = {criterion.key: criterion for criterion in rubric.criteria}

    def ranked(kind: Kind) -> list[BlockerRow]:
        rows = []
        for criterion_key, blocked in sorted(held[kind].items(), key=lambda item: (-len(item[1]), item[0])):
            criterion = by_key[criterion_key]
            shown, next_cursor = _page(blocked, keys, None)
            rows.append(
                BlockerRow(
                    criterion.key,
                    criterion.title,
                    criterion.section,
                    criterion.gate,
                    criterion.guidance,
                    len(blocked),
                    [project.key for project in shown],
                    next_cursor,
                )
            )
        return rows

    return Blockers(rubric.key, rubric.version, projects, ranked("gate"), ranked("next_level"), LIFT_RULE)


def blocked_projects(
    session: Session,
    *,
    rubric_key: str,
    criterion: str,
    kind: Kind,
    filters: portfolio.Filters,
    limit: int,
    cursor: str | None,
    now: datetime,
    limits: Mapping[Stage, int],
) -> tuple[list[BlockedProject], str | None]:
    """The projects one criterion holds back, by key, a page at a time."""
    rubric, _, held = _held_back(session, rubric_key=rubric_key, filters=filters, now=now, limits=limits)
    if all(c.key != criterion for c in rubric.criteria):
        raise NotFound(f"Rubric {rubric.key!r} has no criterion {criterion!r}.")
    after = decode_cursor(cursor, cursor_text)[0] if cursor is not None else None
    return _page(held[kind].get(criterion, []), limit, after)
