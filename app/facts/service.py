"""Facts: the state other systems post about a project, read by the rubric's checks."""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth import scope
from app.core import changes
from app.core.changes import AuditEntry, Cause
from app.core.db import utcnow
from app.core.errors import FieldError, NotFound, Unprocessable
from app.core.identity import Caller
from app.core.pagination import keyset_page
from app.core.preconditions import IfMatch, etag
from app.facts.models import Fact
from app.facts.schemas import FactBatchItem, normalise_value
from app.projects.models import Project
from app.projects.service import get_project


@dataclass(frozen=True)
class Limits:
    """What one project may hold, so that no caller can fill the database through facts."""

    names_per_project: int
    value_bytes: int

    def check_value(self, value: Any, field: str) -> FieldError | None:
        if isinstance(value, str) and len(value.encode()) > self.value_bytes:
            return FieldError(field=field, message=f"longer than the limit of {self.value_bytes} bytes")
        return None


def _check_room(session: Session, limits: Limits, new_names: dict[Any, set[str]], keys: dict[Any, str]) -> None:
    """422 when new fact names would take a project past its limit."""
    if not new_names:
        return
    counted = select(Fact.project_id, func.count()).where(Fact.project_id.in_(list(new_names)))
    held: dict[Any, int] = dict(session.execute(counted.group_by(Fact.project_id)).all())
    full = sorted(
        keys[project]
        for project, names in new_names.items()
        if held.get(project, 0) + len(names) > limits.names_per_project
    )
    if full:
        raise Unprocessable(
            f"A project holds at most {limits.names_per_project} fact names; {', '.join(full)} would exceed it. "
            "Nothing was stored."
        )


@dataclass(frozen=True)
class Observation:
    name: str
    value: Any
    source: str | None
    observed_at: datetime


def fact_etag(fact: Fact) -> str:
    return etag(fact.id, fact.version)


def _snapshot(fact: Fact) -> dict[str, Any]:
    return {"value": fact.value, "source": fact.source, "observed_at": fact.observed_at.isoformat()}


def _same(existing: Fact | None, observation: Observation) -> bool:
    """A re-sent observation: same value (and JSON type: `true` is not `1`), source and time."""
    return (
        existing is not None
        and type(existing.value) is type(observation.value)
        and existing.value == observation.value
        and existing.source == observation.source
        and existing.observed_at == observation.observed_at
    )


def _apply(
    session: Session, project_id: Any, existing: Fact | None, observation: Observation, actor: Caller
) -> Fact | None:
    """Store an observation unless a later one is stored; returns the fact written, if any."""
    now = utcnow()
    if existing is None:
        fact = Fact(
            project_id=project_id,
            name=observation.name,
            value=observation.value,
            source=observation.source,
            observed_at=observation.observed_at,
            recorded_at=now,
            recorded_by_identity=actor.identity,
        )
        session.add(fact)
        return fact
    if observation.observed_at < existing.observed_at:
        return None
    existing.value, existing.source = observation.value, observation.source
    existing.observed_at, existing.recorded_at = observation.observed_at, now
    existing.recorded_by_identity = actor.identity
    return existing


def get_fact(session: Session, *, key: str, name: str) -> Fact:
    project = get_project(session, key=key)
    fact = session.scalar(select(Fact).where(Fact.project_id == project.id, Fact.name == name))
    if fact is None:
        raise NotFound(f"Project {key!r} has no fact {name!r}.")
    return fact


def put_fact(
    session: Session, *, key: str, observation: Observation, if_match: IfMatch | None, limits: Limits, actor: Caller
) -> tuple[Fact, bool]:
    """Record a fact; the latest `observed_at` wins. Returns the stored fact and whether it was created."""
    try:
        observation = replace(observation, value=normalise_value(observation.name, observation.value))
    except ValueError as error:
        raise Unprocessable(
            "The fact's value is invalid.", errors=[FieldError(field="body.value", message=str(error))]
        ) from error
    too_long = limits.check_value(observation.value, "body.value")
    if too_long is not None:
        raise Unprocessable("The fact's value is too long.", errors=[too_long])
    project = get_project(session, key=key)
    existing = session.scalar(select(Fact).where(Fact.project_id == project.id, Fact.name == observation.name))
    if existing is None:
        _check_room(session, limits, {project.id: {observation.name}}, {project.id: key})
    if if_match is not None:
        if_match.check(fact_etag(existing) if existing else None)
    before = _snapshot(existing) if existing else None
    if _same(existing, observation):
        assert existing is not None
        return existing, False
    written = _apply(session, project.id, existing, observation, actor)
    if written is None:
        assert existing is not None
        return existing, False
    changes.record(
        session,
        Cause("fact", observation.name),
        [project.id],
        audit=AuditEntry(
            actor, "fact.put", "fact", f"{key}/{observation.name}", before=before, after=_snapshot(written)
        ),
        status="none",
    )
    return written, existing is None


def list_facts(session: Session, *, key: str, limit: int, cursor: str | None) -> tuple[list[Fact], str | None]:
    project = get_project(session, key=key)
    return keyset_page(
        session, select(Fact).where(Fact.project_id == project.id), [Fact.name], limit=limit, cursor=cursor
    )


def delete_fact(session: Session, *, key: str, name: str, if_match: IfMatch | None, actor: Caller) -> None:
    fact = get_fact(session, key=key, name=name)
    if if_match is not None:
        if_match.check(fact_etag(fact))
    before = _snapshot(fact)
    session.delete(fact)
    changes.record(
        session,
        Cause("fact", name),
        [fact.project_id],
        audit=AuditEntry(actor, "fact.delete", "fact", f"{key}/{name}", before=before),
        status="none",
    )


def put_facts_batch(
    session: Session, *, items: list[FactBatchItem], limits: Limits, actor: Caller
) -> tuple[int, int, int]:
    """All or nothing: every item's project must exist. Returns (stored, superseded, unchanged)."""
    # One function: an all-or-nothing batch validates every item before it writes any, and its
    # per-item errors follow the items' order.
    keys = {item.project for item in items}
    rows = session.execute(
        scope.restrict(select(Project.key, Project.id).where(Project.key.in_(keys)), Project.department)
    )
    project_ids = {row.key: row.id for row in rows}
    missing = [
        FieldError(
            field=f"body.items.{index}.project",
            message=f"no project with key {item.project!r}{scope.within()}",
        )
        for index, item in enumerate(items)
        if item.project not in project_ids
    ]
    if missing:
        raise Unprocessable("Some items name projects that do not exist; nothing was stored.", errors=missing)
    too_long = [
        error
        for index, item in enumerate(items)
        if (error := limits.check_value(item.value, f"body.items.{index}.value")) is not None
    ]
    if too_long:
        raise Unprocessable("Some values are too long; nothing was stored.", errors=too_long)
    existing = {
        (fact.project_id, fact.name): fact
        for fact in session.scalars(select(Fact).where(Fact.project_id.in_(project_ids.values())))
    }
    new_names: dict[Any, set[str]] = {}
    for item in items:
        if (project_ids[item.project], item.name) not in existing:
            new_names.setdefault(project_ids[item.project], set()).add(item.name)
    _check_room(session, limits, new_names, {id_: key for key, id_ in project_ids.items()})
    now = utcnow()
    stored = superseded = unchanged = 0
    written: set[Any] = set()
    for item in items:
        pair = (project_ids[item.project], item.name)
        observation = Observation(item.name, item.value, item.source, item.observed_at or now)
        if _same(existing.get(pair), observation):
            unchanged += 1
            continue
        fact = _apply(session, pair[0], existing.get(pair), observation, actor)
        if fact is None:
            superseded += 1
        else:
            existing[pair] = fact
            written.add(pair[0])
            stored += 1
    if not written:
        return stored, superseded, unchanged
    changes.record(
        session,
        Cause("fact", "batch"),
        written,
        audit=AuditEntry(
            actor,
            "fact.batch",
            "fact",
            f"batch of {len(items)}",
            after={"stored": stored, "superseded": superseded, "unchanged": unchanged, "projects": sorted(keys)},
        ),
        status="none",
    )
    return stored, superseded, unchanged
