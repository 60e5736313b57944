"""The scaling view, the playbook's section 5 across the portfolio: validated use cases (production
and scaling) with their replicas by department and region, the adjacent expansions of each, projects
per platform, and the projects told to focus.

Every project shown matches the portfolio's filters and is in the caller's scope: a replica or an
expansion in a department the caller cannot see is not shown, nor counted.
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from app.core.pagination import cursor_text, decode_cursor, encode_cursor
from app.engine.stages import IN_PRODUCTION, Stage
from app.platforms.models import Platform
from app.portfolio import service
from app.portfolio.models import ProjectStatus
from app.portfolio.schemas import Expansion, FocusWarning, Place, PlatformUse, Replica, ScalingRead, UseCase
from app.projects.models import Project

FOCUS_SHOWN = 500
DEPLOYED = sorted(stage.value for stage in IN_PRODUCTION)


Query = Select[*tuple[Any, ...]]


def _rows(query: Query, filters: service.Filters, now: datetime, limits: Mapping[Stage, int]) -> Select[Any]:
    joined = query.join(Project, Project.id == ProjectStatus.project_id)
    return service.filtered(cast(Select[Any], joined), filters, now, limits)


def _columns() -> Query:
    return select(
        ProjectStatus.key,
        ProjectStatus.name,
        ProjectStatus.department,
        ProjectStatus.region,
        ProjectStatus.stage,
        Project.platform,
        Project.domain,
        Project.replica_of,
        Project.adjacent_to,
    )


def view(
    session: Session,
    *,
    filters: service.Filters,
    limit: int,
    cursor: str | None,
    now: datetime,
    limits: Mapping[Stage, int],
) -> ScalingRead:
    """A page of use cases with their replicas and expansions, projects per platform and the focus
    warnings: five queries however many projects."""
    origins = _rows(_columns(), filters, now, limits).where(ProjectStatus.stage.in_(DEPLOYED))
    if cursor is not None:
        origins = origins.where(ProjectStatus.key > decode_cursor(cursor, cursor_text)[0])
    found = session.execute(origins.order_by(ProjectStatus.key).limit(limit + 1)).all()
    next_cursor = encode_cursor([found[limit - 1].key]) if len(found) > limit else None
    found = found[:limit]
    replicas, adjacent = _related(session, found, filters, now, limits)
    use_cases = [
        UseCase(
            key=row.key,
            name=row.name,
            department=row.department,
            region=row.region,
            stage=Stage(row.stage),
            platform=row.platform,
            domain=row.domain,
            replicas=replicas[row.key],
            adjacent=adjacent[row.key],
        )
        for row in found
    ]
    places = sorted(
        {(row.department, row.region) for row in found}
        | {(r.department, r.region) for rows in replicas.values() for r in rows},
        key=lambda place: (place[0] or "", place[1] or ""),
    )
    focus, focus_total = _focus(session, filters, now, limits)
    return ScalingRead(
        use_cases=use_cases,
        next_cursor=next_cursor,
        places=[Place(department=department, region=region) for department, region in places],
        platforms=_platforms(session, filters, now, limits),
        focus=focus,
        focus_total=focus_total,
    )


def _related(
    session: Session, origins: Sequence[Row[Any]], filters: service.Filters, now: datetime, limits: Mapping[Stage, int]
) -> tuple[dict[str, list[Replica]], dict[str, list[Expansion]]]:
    """The replicas of these use cases, and their adjacent expansions in the same domain, by key."""
    replicas: dict[str, list[Replica]] = defaultdict(list)
    adjacent: dict[str, list[Expansion]] = defaultdict(list)
    if not origins:
        return replicas, adjacent
    platform_of = {row.key: row.platform for row in origins}
    domain_of = {row.key: row.domain for row in origins}
    keys = sorted(platform_of)
    related = _rows(_columns(), filters, now, limits).where(
        or_(Project.replica_of.in_(keys), Project.adjacent_to.in_(keys))
    )
    for row in session.execute(related.order_by(ProjectStatus.key)):
        place = {"key": row.key, "name": row.name, "department": row.department, "region": row.region}
        if row.replica_of in platform_of:
            origin_platform = platform_of[row.replica_of]
            replicas[row.replica_of].append(
                Replica(
                    **place,
                    stage=Stage(row.stage),
                    platform=row.platform,
                    same_platform=origin_platform is not None and row.platform == origin_platform,
                )
            )
        if row.adjacent_to in domain_of and row.domain is not None and row.domain == domain_of[row.adjacent_to]:
            adjacent[row.adjacent_to].append(Expansion(**place, stage=Stage(row.stage), domain=row.domain))
    return replicas, adjacent


def _platforms(
    session: Session, filters: service.Filters, now: datetime, limits: Mapping[Stage, int]
) -> list[PlatformUse]:
    counts = _rows(
        select(
            Project.platform,
            func.count().label("projects"),
            func.sum(case((ProjectStatus.stage.in_(DEPLOYED), 1), else_=0)).label("in_production"),
        ).select_from(ProjectStatus),
        filters,
        now,
        limits,
    ).where(Project.platform.is_not(None))
    found = {row.platform: row for row in session.execute(counts.group_by(Project.platform))}
    names = dict(session.execute(select(Platform.key, Platform.name).where(Platform.key.in_(sorted(found)))).all())
    return [
        PlatformUse(
            platform=key,
            name=names.get(key, key),
            projects=int(found[key].projects),
            in_production=int(found[key].in_production or 0),
        )
        for key in sorted(found)
    ]


def _focus(
    session: Session, filters: service.Filters, now: datetime, limits: Mapping[Stage, int]
) -> tuple[list[FocusWarning], int]:
    focused = and_(
        ProjectStatus.focus_on.is_not(None),
        or_(ProjectStatus.focus_until.is_(None), ProjectStatus.focus_until > now),
    )
    query = _rows(
        select(
            ProjectStatus.key,
            ProjectStatus.name,
            ProjectStatus.department,
            ProjectStatus.stage,
            ProjectStatus.focus_on,
            ProjectStatus.signals,
        ),
        filters,
        now,
        limits,
    ).where(focused)
    total = session.scalar(_rows(select(func.count()).select_from(ProjectStatus), filters, now, limits).where(focused))
    warnings = [
        FocusWarning(
            key=row.key,
            name=row.name,
            department=row.department,
            stage=Stage(row.stage),
            unstable=list(row.focus_on),
            reason=next((s["reason"] for s in row.signals if s["dimension"] == "focus"), ""),
        )
        for row in session.execute(query.order_by(ProjectStatus.department, ProjectStatus.key).limit(FOCUS_SHOWN))
    ]
    return warnings, int(total or 0)
