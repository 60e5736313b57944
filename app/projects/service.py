"""Projects: the AI use cases, their owners and deployment, and the stage they are in."""

import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Row, Select, Table, bindparam, func, or_, select
from sqlalchemy.orm import Session

from app.auth import scope
from app.core import changes
from app.core.changes import AuditEntry, Cause
from app.core.db import contains_element, utcnow
from app.core.errors import Conflict, FieldError, Forbidden, NotFound, ProblemError, Unprocessable
from app.core.identity import Caller, Role
from app.core.pagination import keyset_page
from app.core.patch import merge_patch
from app.core.preconditions import IfMatch, etag
from app.core.schemas import validate_or_422, validation_error_from
from app.engine.default_rubric import KEY as DEFAULT_RUBRIC_KEY
from app.engine.frameworks import RiskTier
from app.engine.stages import FORWARD_ORDER, Stage
from app.projects import relations, risk
from app.projects.models import Project, StageTransition
from app.projects.relations import Relations
from app.projects.schemas import (
    ProjectCreate,
    ProjectFields,
    ProjectRead,
    ProjectReplace,
)
from app.rubrics.service import require_rubric

# The rubric a project is held to decides its go-live gate: switching it is the steering committee's call.
RUBRIC_SWITCHER = Role.approver


PROJECT_TABLE: Table = Project.__table__  # type: ignore[assignment]
# Built once: constructing and caching a statement costs more than running it on a hot read.
_PROJECT_BY_KEY = select(PROJECT_TABLE).where(PROJECT_TABLE.c.key == bindparam("key"))


def project_etag(project: Project | Row[Any]) -> str:
    return etag(project.id, project.version)


def read_project(connection: Connection, *, key: str) -> Row[Any]:
    """The project by key as a row, for reads that only show it (no ORM object to track)."""
    row = connection.execute(_PROJECT_BY_KEY, {"key": key}).first()
    if row is None or not scope.can_see(row.department):
        raise NotFound(f"No project with key {key!r}.")
    return row


def get_project(session: Session, *, key: str, for_update: bool = False) -> Project:
    """The project by key. `for_update` locks its row until the transaction ends (PostgreSQL; SQLite
    serialises writers anyway), so that stage moves and decisions on one project take turns."""
    query = scope.restrict(select(Project).where(Project.key == key), Project.department)
    # FOR NO KEY UPDATE: rows inserted elsewhere that refer to the project (marks, facts) only
    # take a key-share lock on it, so they neither wait for this one nor deadlock with it.
    project = session.scalar(query.with_for_update(key_share=True) if for_update else query)
    if project is None:
        raise NotFound(f"No project with key {key!r}.")
    return project


def list_projects(
    session: Session,
    *,
    stage: Stage | None = None,
    department: str | None = None,
    region: str | None = None,
    tag: str | None = None,
    owner: str | None = None,
    q: str | None = None,
    platform: str | None = None,
    domain: str | None = None,
    risk_tier: RiskTier | None = None,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[Project], str | None]:
    """Projects ordered by key; the cursor is the last key served, so inserts never shift a page."""
    query: Select[Project] = scope.restrict(select(Project), Project.department)
    if stage is not None:
        query = query.where(Project.stage == stage.value)
    for column, value in (
        (Project.department, department),
        (Project.region, region),
        (Project.platform, platform),
        (Project.domain, domain),
        (Project.risk_tier, risk_tier.value if risk_tier is not None else None),
    ):
        if value is not None:
            query = query.where(column == value)
    if tag is not None:
        query = query.where(contains_element(Project.tags, tag))
    if owner is not None:
        email = owner.lower()
        query = query.where(
            or_(func.lower(Project.business_owner_email) == email, func.lower(Project.technical_owner_email) == email)
        )
    if q:
        needle = q.lower()
        query = query.where(
            or_(
                *(
                    func.lower(column).contains(needle, autoescape=True)
                    for column in (Project.key, Project.name, Project.description, Project.workflow)
                )
            )
        )
    return keyset_page(session, query, [Project.key], limit=limit, cursor=cursor)


def _snapshot(project: Project) -> dict[str, Any]:
    return ProjectRead.from_project(project).model_dump(mode="json")


def _apply(project: Project, data: ProjectFields) -> None:
    project.name = data.name
    project.description = data.description
    project.workflow = data.workflow
    project.department = data.department
    project.region = data.region
    project.tags = list(dict.fromkeys(data.tags))
    project.business_owner_name = data.business_owner.name if data.business_owner else None
    project.business_owner_email = str(data.business_owner.email) if data.business_owner else None
    project.technical_owner_name = data.technical_owner.name if data.technical_owner else None
    project.technical_owner_email = str(data.technical_owner.email) if data.technical_owner else None
    project.vendor_led = data.vendor_led
    project.stakeholders = [stakeholder.model_dump(mode="json") for stakeholder in data.stakeholders]
    project.deployment_target = data.deployment.target.value if data.deployment.target else None
    project.deployment_same_runtime = data.deployment.same_runtime_as_production
    project.deployment_sovereign = data.deployment.sovereign
    project.sync_cadence_days = data.sync_cadence_days
    project.decision_date = data.decision_date
    project.build_cost = data.costs.build_cost
    project.run_cost_per_month = data.costs.run_cost_per_month
    project.currency = data.costs.currency
    project.rubric = data.rubric
    project.platform = data.platform
    project.domain = data.domain
    project.replica_of = data.replica_of
    project.adjacent_to = data.adjacent_to


def _relations(data: ProjectFields) -> Relations:
    return Relations(data.department, data.region, data.platform, data.domain, data.replica_of, data.adjacent_to)


def _insert(session: Session, *, key: str, data: ProjectFields, actor: Caller) -> Project:
    scope.require_department(data.department)
    require_rubric(session, data.rubric)
    if data.rubric != DEFAULT_RUBRIC_KEY:
        _require_rubric_switcher(actor, "Governing a new project by another rubric than the default")
    if session.scalar(select(Project.id).where(Project.key == key)) is not None:
        raise Conflict(f"A project with key {key!r} already exists; use PUT to replace it.")
    classified = risk.sent(None, data, keep_unsent=False)
    risk.check(classified, risk.current_of(None), actor)
    related = _relations(data)
    relations.check(session, key=key, new=related)
    now = utcnow()
    project = Project(
        key=key,
        stage=Stage.idea.value,
        risk_tier=RiskTier.unclassified.value,
        created_at=now,
        updated_at=now,
        stage_entered_at=now,
    )
    _apply(project, data)
    session.add(project)
    session.flush()
    risk.apply(session, project, classified, actor, created=True)
    changes.record(
        session,
        Cause("project", key),
        [project.id, *relations.other_ends(session, relations.NONE, related)],
        audit=AuditEntry(actor, "project.create", "project", key, after=_snapshot(project)),
    )
    return project


def _require_rubric_switcher(actor: Caller, what: str) -> None:
    if not actor.role.allows(RUBRIC_SWITCHER):
        raise Forbidden(f"{what} needs the {RUBRIC_SWITCHER.value} role; the caller has {actor.role.value}.")


def _update(
    session: Session, project: Project, data: ProjectFields, *, action: str, actor: Caller, keep_unsent: bool
) -> bool:
    """Apply the fields; whether anything changed. With `keep_unsent` (a PUT), a risk tier and
    rationale left out of the body stay as they are."""
    if data.department != project.department:
        scope.require_department(data.department)
    if data.rubric != project.rubric:
        _require_rubric_switcher(actor, "Switching a project's governing rubric")
        require_rubric(session, data.rubric)
    classified = risk.sent(project, data, keep_unsent=keep_unsent)
    risk.check(classified, risk.current_of(project), actor)
    old, new = Relations.of(project), _relations(data)
    relations.check(session, key=project.key, new=new, old=old)
    before = _snapshot(project)
    _apply(project, data)
    risk.apply(session, project, classified, actor, created=False)
    after = _snapshot(project)
    if after == before:
        return False
    project.updated_at = utcnow()
    changes.record(
        session,
        Cause("project", project.key),
        [project.id, *relations.other_ends(session, old, new)],
        audit=AuditEntry(actor, action, "project", project.key, before=before, after=_snapshot(project)),
    )
    return True


def create_project(session: Session, *, data: ProjectCreate, actor: Caller) -> Project:
    return _insert(session, key=data.key, data=data, actor=actor)


def replace_project(
    session: Session, *, key: str, data: ProjectReplace, if_match: IfMatch | None, actor: Caller
) -> tuple[Project, bool]:
    """Create or replace by key (an idempotent upsert); returns the project and whether it was created."""
    if data.key is not None and data.key != key:
        raise Unprocessable(
            "The key in the body differs from the key in the path; keys cannot be renamed.",
            errors=[validation_error_from("body.key", "must equal the key in the path")],
        )
    project = session.scalar(select(Project).where(Project.key == key))
    if project is not None and not scope.can_see(project.department):
        raise NotFound(f"No project with key {key!r}.")
    if if_match is not None:
        if_match.check(project_etag(project) if project else None)
    if project is None:
        return _insert(session, key=key, data=data, actor=actor), True
    _update(session, project, data, action="project.replace", actor=actor, keep_unsent=True)
    return project, False


def upsert_projects(session: Session, *, items: list[ProjectCreate], actor: Caller) -> list[tuple[str, str]]:
    """Create or replace each project by key, all or nothing: an item that cannot be written is a 422
    naming it, and nothing is stored. Returns (key, created | updated | unchanged) per item."""
    keys = [item.key for item in items]
    repeated = sorted(key for key, times in Counter(keys).items() if times > 1)
    if repeated:
        raise Unprocessable(
            f"Each project may appear once in a batch; repeated: {', '.join(repeated)}.",
            errors=[
                FieldError(field=f"body.items.{index}.key", message="repeated in this batch")
                for index, key in enumerate(keys)
                if key in repeated
            ],
        )
    found = {project.key: project for project in session.scalars(select(Project).where(Project.key.in_(keys)))}
    results: list[tuple[str, str]] = []
    errors: list[FieldError] = []
    for index, item in enumerate(items):
        project = found.get(item.key)
        try:
            if project is not None and not scope.can_see(project.department):
                raise NotFound(f"no project with key {item.key!r}{scope.within()}")
            if project is None:
                _insert(session, key=item.key, data=item, actor=actor)
                results.append((item.key, "created"))
            else:
                changed = _update(session, project, item, action="project.replace", actor=actor, keep_unsent=True)
                results.append((item.key, "updated" if changed else "unchanged"))
        except ProblemError as refusal:
            errors.append(FieldError(field=f"body.items.{index}", message=refusal.detail))
    if errors:
        raise Unprocessable("Some items cannot be written; nothing was stored.", errors=errors)
    return results


def patch_project(
    session: Session, *, key: str, patch: dict[str, Any], if_match: IfMatch | None, actor: Caller
) -> Project:
    """Apply a JSON merge patch (RFC 7396) to the project's writable fields."""
    project = get_project(session, key=key)
    current = ProjectRead.from_project(project).writable()
    merged = merge_patch(current, patch)
    if merged.get("key") != key:
        raise Unprocessable(
            "Keys cannot be renamed.",
            errors=[validation_error_from("body.key", "must equal the key in the path")],
        )
    data = validate_or_422(ProjectReplace, merged)
    # After the body: a patch that could never apply is 422 whatever the caller last read.
    if if_match is not None:
        if_match.check(project_etag(project))
    _update(session, project, data, action="project.update", actor=actor, keep_unsent=False)
    return project


def delete_project(session: Session, *, key: str, if_match: IfMatch | None, actor: Caller) -> None:
    project = get_project(session, key=key)
    if if_match is not None:
        if_match.check(project_etag(project))
    before = _snapshot(project)
    detached = relations.detach(session, project)
    session.delete(project)
    changes.record(
        session,
        Cause("project", key),
        detached.rescored,
        audit=AuditEntry(actor, "project.delete", "project", key, before=before),
    )
    # Their focus signal read it; their readiness did not.
    changes.record(session, Cause("project", key), detached.followers, readiness=False)


def projects_on_platform(session: Session, key: str) -> list[uuid.UUID]:
    """Every project on the platform, whatever the caller's scope."""
    return list(session.scalars(select(Project.id).where(Project.platform == key)))


def check_transition(current: Stage, to: Stage, reason: str | None, role: Role) -> None:
    """Forward one stage at a time; back any number of stages with a reason; retire from anywhere
    (approver); bring a retired project back to any stage up to production (admin, with a reason)."""
    if to == current:
        raise Conflict(f"The project is already in {current.value}.")
    if current == Stage.retired:
        if not role.allows(Role.admin):
            raise Forbidden("Only an admin can bring a retired project back.")
        if to == Stage.scaling:
            raise Conflict("A retired project comes back at production at most; it scales from there.")
        if not reason:
            raise Unprocessable(
                "Bringing a retired project back needs a reason.",
                errors=[validation_error_from("body.reason", "required when bringing a project back")],
            )
        return
    if to == Stage.retired:
        if not role.allows(Role.approver):
            raise Forbidden(f"Retiring a project needs the approver role; the caller has {role.value}.")
        if not reason:
            raise Unprocessable(
                "Retiring a project needs a reason.",
                errors=[validation_error_from("body.reason", "required when retiring")],
            )
        return
    step = FORWARD_ORDER.index(to) - FORWARD_ORDER.index(current)
    if step > 1:
        raise Conflict(
            f"A project moves forward one stage at a time: from {current.value} the next stage is "
            f"{FORWARD_ORDER[FORWARD_ORDER.index(current) + 1].value}, not {to.value}."
        )
    if step < 0 and not reason:
        raise Unprocessable(
            "Moving a project back needs a reason.",
            errors=[validation_error_from("body.reason", "required when moving back")],
        )


# What entering production needs beyond the order of stages: registered by the domain that records
# go/no-go decisions, a layer above this one.
ProductionEntryCheck = Callable[[Session, Project], None]
_production_entry_checks: list[ProductionEntryCheck] = []


def check_production_entry_with(check: ProductionEntryCheck) -> None:
    if check not in _production_entry_checks:
        _production_entry_checks.append(check)


def department_of(session: Session, *, key: str) -> tuple[bool, str | None]:
    """Whether a project with this key exists, whatever the caller's scope, and its department."""
    department = session.execute(select(Project.department).where(Project.key == key)).first()
    return department is not None, department[0] if department is not None else None


def transition_stage(session: Session, *, key: str, to: Stage, reason: str | None, actor: Caller) -> StageTransition:
    project = get_project(session, key=key, for_update=True)
    current = Stage(project.stage)
    check_transition(current, to, reason, actor.role)
    if to == Stage.production:
        for check in _production_entry_checks:
            check(session, project)
    now = utcnow()
    transition = StageTransition(
        project_id=project.id,
        from_stage=current.value,
        from_stage_entered_at=project.stage_entered_at,
        to_stage=to.value,
        reason=reason,
        actor=actor.name,
        transitioned_at=now,
    )
    session.add(transition)
    project.stage, project.stage_entered_at, project.updated_at = to.value, now, now
    changes.record(
        session,
        Cause("stage", to.value),
        [project.id],
        audit=AuditEntry(
            actor,
            "project.stage_transition",
            "project",
            key,
            before={"stage": current.value},
            after={"stage": to.value, "reason": reason},
        ),
    )
    return transition


def list_transitions(
    session: Session, *, key: str, limit: int, cursor: str | None
) -> tuple[list[StageTransition], str | None]:
    """Oldest first: the project's path through the stages."""
    project = get_project(session, key=key)
    query = select(StageTransition).where(StageTransition.project_id == project.id)
    return keyset_page(
        session, query, [StageTransition.transitioned_at, StageTransition.id], limit=limit, cursor=cursor
    )
