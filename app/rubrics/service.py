"""Rubrics: what "ready" means, as versioned rules. A published version never changes."""

import uuid

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from app.core import changes
from app.core.changes import AuditEntry, Cause
from app.core.errors import Conflict, FieldError, NotFound, Unprocessable
from app.core.identity import Caller
from app.core.pagination import keyset_page
from app.engine import scoring
from app.rubrics.models import Rubric, RubricVersion
from app.rubrics.schemas import RubricCreate, RubricVersionRead, RubricVersionSpec

# Published versions never change, so their parsed form is kept for the life of the process.
_engine_rubrics: dict[uuid.UUID, scoring.Rubric] = {}


def to_engine(rubric: Rubric, version: RubricVersion) -> scoring.Rubric:
    """The engine's view of a published version."""
    parsed = _engine_rubrics.get(version.id)
    if parsed is None:
        parsed = RubricVersionSpec.model_validate(version.definition).to_engine(rubric.key, version.number)
        _engine_rubrics[version.id] = parsed
    return parsed


def latest_engine_rubric(session: Session, key: str) -> scoring.Rubric:
    """The engine's view of a rubric's latest version; the published definition is read and parsed
    only the first time this process meets that version (versions never change)."""
    found = session.execute(
        select(RubricVersion.id)
        .join(Rubric, Rubric.id == RubricVersion.rubric_id)
        .where(Rubric.key == key, RubricVersion.number == Rubric.latest_version)
    ).first()
    if found is None:
        raise NotFound(f"No rubric with key {key!r}.")
    parsed = _engine_rubrics.get(found.id)
    return parsed if parsed is not None else to_engine(*get_version(session, key=key))


def engine_rubric(session: Session, key: str, number: int) -> scoring.Rubric:
    """The engine's view of one published version of a rubric."""
    return to_engine(*get_version(session, key=key, number=number))


def version_read(rubric: Rubric, version: RubricVersion) -> RubricVersionRead:
    return RubricVersionRead.model_validate(
        {
            **version.definition,
            "key": rubric.key,
            "version": version.number,
            "published_at": version.published_at,
            "published_by": version.published_by,
        }
    )


def get_rubric(session: Session, *, key: str) -> Rubric:
    rubric = session.scalar(select(Rubric).where(Rubric.key == key))
    if rubric is None:
        raise NotFound(f"No rubric with key {key!r}.")
    return rubric


def get_version(session: Session, *, key: str, number: int | None = None) -> tuple[Rubric, RubricVersion]:
    """A version of a rubric: the latest when `number` is None."""
    rubric = get_rubric(session, key=key)
    wanted = rubric.latest_version if number is None else number
    version = session.scalar(
        select(RubricVersion).where(RubricVersion.rubric_id == rubric.id, RubricVersion.number == wanted)
    )
    if version is None:
        raise NotFound(f"Rubric {key!r} has no version {wanted}; the latest is {rubric.latest_version}.")
    return rubric, version


def list_rubrics(
    session: Session, *, limit: int, cursor: str | None
) -> tuple[list[tuple[Rubric, RubricVersion]], str | None]:
    rubrics, next_cursor = keyset_page(session, select(Rubric), [Rubric.key], limit=limit, cursor=cursor)
    latest = {
        version.rubric_id: version
        for version in session.scalars(
            select(RubricVersion).where(
                tuple_(RubricVersion.rubric_id, RubricVersion.number).in_([(r.id, r.latest_version) for r in rubrics])
            )
        )
    }
    return [(rubric, latest[rubric.id]) for rubric in rubrics], next_cursor


def check_publishable(key: str, spec: RubricVersionSpec) -> None:
    """422 naming every problem that keeps the version from being published."""
    problems = scoring.rubric_problems(spec.to_engine(key, 0))
    if problems:
        raise Unprocessable(
            "The rubric cannot be published.", errors=[FieldError(field="body", message=p) for p in problems]
        )


def _publish(session: Session, rubric: Rubric, number: int, spec: RubricVersionSpec, actor: Caller) -> RubricVersion:
    version = RubricVersion(
        rubric_id=rubric.id, number=number, definition=spec.model_dump(mode="json"), published_by=actor.name
    )
    session.add(version)
    changes.record(
        session,
        Cause("rubric", f"{rubric.key} v{number}"),
        governed_by=rubric.key,
        audit=AuditEntry(
            actor,
            "rubric.publish",
            "rubric",
            f"{rubric.key}/v{number}",
            after={"key": rubric.key, "version": number, "criteria": len(spec.criteria)},
        ),
    )
    return version


def create_rubric(session: Session, *, data: RubricCreate, actor: Caller) -> tuple[Rubric, RubricVersion]:
    if session.scalar(select(Rubric.id).where(Rubric.key == data.key)) is not None:
        raise Conflict(f"A rubric with key {data.key!r} exists; publish a new version of it instead.")
    spec = RubricVersionSpec.model_validate(data.model_dump(exclude={"key"}))
    check_publishable(data.key, spec)
    rubric = Rubric(key=data.key, latest_version=1)
    session.add(rubric)
    session.flush()
    return rubric, _publish(session, rubric, 1, spec, actor)


def publish_version(
    session: Session, *, key: str, data: RubricVersionSpec, actor: Caller
) -> tuple[Rubric, RubricVersion]:
    rubric = get_rubric(session, key=key)
    check_publishable(key, data)
    rubric.latest_version += 1
    version = _publish(session, rubric, rubric.latest_version, data, actor)
    return rubric, version


def require_rubric(session: Session, key: str) -> None:
    """422 unless the rubric exists: a project may only be governed by a published rubric."""
    if session.scalar(select(Rubric.id).where(Rubric.key == key)) is None:
        raise Unprocessable(
            f"No rubric with key {key!r}.", errors=[FieldError(field="body.rubric", message="no such rubric")]
        )
