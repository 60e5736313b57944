"""How projects relate, for scaling what works: the platform a project runs on, the validated
project it replicates in another department or region (`replica_of`), and the project whose domain
it expands into a neighbouring workflow (`adjacent_to`).

Every write checks them (422 with the field at fault): a key that names nothing, or a project the
caller cannot see; a replica in its origin's department and region; adjacency across domains; a
cycle through both relations. A write also says which other projects it changes: the old and new
ends of a relation, whose checks read this project.
"""

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.auth import scope
from app.core.errors import FieldError, Unprocessable
from app.engine.stages import IN_PRODUCTION, Stage
from app.engine.stall import STARTING
from app.platforms import service as platforms
from app.projects.models import Project


@dataclass(frozen=True)
class Relations:
    """The fields of a project that relations read or write."""

    department: str | None
    region: str | None
    platform: str | None
    domain: str | None
    replica_of: str | None
    adjacent_to: str | None

    @classmethod
    def of(cls, project: Project) -> "Relations":
        return cls(
            project.department,
            project.region,
            project.platform,
            project.domain,
            project.replica_of,
            project.adjacent_to,
        )


NONE = Relations(None, None, None, None, None, None)


def _where(department: str | None, region: str | None) -> str:
    return f"department {department or '(none)'} and region {region or '(none)'}"


def check(session: Session, *, key: str, new: Relations, old: Relations = NONE) -> None:
    """Refuse (422, naming each field at fault) relations that cannot stand."""
    # One function: each rule adds the error of its field, and all of them are answered at once.
    errors: list[FieldError] = []
    if (
        new.platform is not None
        and new.platform != old.platform
        and not platforms.existing_keys(session, {new.platform})
    ):
        errors.append(FieldError(field="body.platform", message=f"no platform with key {new.platform!r}"))
    targets = {target for target in (new.replica_of, new.adjacent_to) if target is not None}
    found = {
        row.key: row
        for row in session.execute(
            select(Project.key, Project.department, Project.region, Project.domain).where(
                Project.key.in_(sorted(targets))
            )
        )
    }
    pairs = (("replica_of", new.replica_of, old.replica_of), ("adjacent_to", new.adjacent_to, old.adjacent_to))
    for field, target, before in pairs:
        if target is None:
            continue
        row = found.get(target)
        if target == key:
            errors.append(FieldError(field=f"body.{field}", message="a project cannot relate to itself"))
        elif row is None or (target != before and not scope.can_see(row.department)):
            errors.append(FieldError(field=f"body.{field}", message=f"no project with key {target!r}{scope.within()}"))
        elif field == "replica_of" and (row.department, row.region) == (new.department, new.region):
            errors.append(
                FieldError(
                    field="body.replica_of",
                    message=f"a replica differs from its origin {target} in department or region; both are in "
                    f"{_where(new.department, new.region)}",
                )
            )
        elif field == "adjacent_to" and (new.domain is None or row.domain != new.domain):
            errors.append(
                FieldError(
                    field="body.adjacent_to",
                    message=f"adjacency stays in the domain: {target} serves domain {row.domain or '(none)'}, "
                    f"this project {new.domain or '(none)'}",
                )
            )
    if not errors and (new.replica_of, new.adjacent_to) != (old.replica_of, old.adjacent_to):
        cycle = _cycle(session, key, targets)
        if cycle:
            errors.append(
                FieldError(
                    field="body.replica_of" if new.replica_of in cycle else "body.adjacent_to",
                    message=f"no cycle through replica_of and adjacent_to: {' → '.join([key, *cycle])}",
                )
            )
    errors.extend(_dependents(session, key, new, old))
    if errors:
        raise Unprocessable("The project's relations cannot stand as sent.", errors=errors)


def _cycle(session: Session, key: str, targets: Collection[str]) -> list[str]:
    """The path back to `key` through replica_of and adjacent_to, from its new targets; empty if none."""
    path: dict[str, str | None] = dict.fromkeys(targets)
    frontier = set(targets)
    while frontier:
        rows = session.execute(
            select(Project.key, Project.replica_of, Project.adjacent_to).where(Project.key.in_(sorted(frontier)))
        )
        frontier = set()
        for source, *pointed in rows:
            for target in pointed:
                if target is None or target in path:
                    continue
                path[target] = source
                if target == key:
                    walked: list[str] = []
                    step: str | None = target
                    while step is not None:
                        walked.append(step)
                        step = path[step]
                    return list(reversed(walked))
                frontier.add(target)
    return []


def _dependents(session: Session, key: str, new: Relations, old: Relations) -> list[FieldError]:
    """The projects pointing at this one must still stand: replicas elsewhere, adjacency in the domain."""
    if old is NONE or (new.department, new.region, new.domain) == (old.department, old.region, old.domain):
        return []
    rows = session.execute(
        select(
            Project.key, Project.department, Project.region, Project.domain, Project.replica_of, Project.adjacent_to
        ).where(or_(Project.replica_of == key, Project.adjacent_to == key))
    ).all()
    errors = []
    clash = [r for r in rows if r.replica_of == key and (r.department, r.region) == (new.department, new.region)]
    if clash:
        errors.append(
            FieldError(
                field="body.department",
                message=f"its replicas {_named(clash)} would then run in its {_where(new.department, new.region)}; "
                "a replica differs from its origin in one of them",
            )
        )
    astray = [r for r in rows if r.adjacent_to == key and r.domain != new.domain]
    if astray:
        errors.append(
            FieldError(
                field="body.domain",
                message=f"the projects adjacent to it ({_named(astray)}) serve another domain then; adjacency stays in "
                "the domain",
            )
        )
    return errors


class _Placed(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def department(self) -> str | None: ...


def _named(rows: Iterable[_Placed]) -> str:
    """Projects the caller may see by key; the others counted, so that nothing out of scope is revealed."""
    found = list(rows)
    visible = sorted(row.key for row in found if scope.can_see(row.department))
    hidden = len(found) - len(visible)
    return ", ".join([*visible, *([f"{hidden} out of the caller's scope"] if hidden else [])])


def _ids(session: Session, keys: Iterable[str | None]) -> list[uuid.UUID]:
    wanted = sorted({key for key in keys if key is not None})
    return list(session.scalars(select(Project.id).where(Project.key.in_(wanted)))) if wanted else []


def other_ends(session: Session, old: Relations, new: Relations) -> list[uuid.UUID]:
    """The projects whose checks read what this write changed: its origins, old and new, when its
    relation, platform, department or region changed; the projects it is adjacent to, old and new,
    when its adjacency or domain changed."""
    ends: list[str | None] = []
    if (old.replica_of, old.platform, old.department, old.region) != (
        new.replica_of,
        new.platform,
        new.department,
        new.region,
    ):
        ends += [old.replica_of, new.replica_of]
    if (old.adjacent_to, old.domain) != (new.adjacent_to, new.domain):
        ends += [old.adjacent_to, new.adjacent_to]
    return _ids(session, ends)


@dataclass(frozen=True)
class Detached:
    """What deleting a project changes of others."""

    rescored: list[uuid.UUID]  # the ends of its relations, whose checks counted it
    followers: list[uuid.UUID]  # projects whose focus signal read it


def detach(session: Session, project: Project) -> Detached:
    """Before deleting a project: the projects pointing at it no longer do (a write of each, so that
    their representation and ETag say so), its origin and adjacency target are re-scored, and, if it
    was deployed, the projects starting in its department see their focus again."""
    pointing = list(
        session.scalars(
            select(Project).where(or_(Project.replica_of == project.key, Project.adjacent_to == project.key))
        )
    )
    for other in pointing:
        if other.replica_of == project.key:
            other.replica_of = None
        if other.adjacent_to == project.key:
            other.adjacent_to = None
    followers = [other.id for other in pointing]
    if Stage(project.stage) in IN_PRODUCTION and project.department is not None:
        followers += session.scalars(
            select(Project.id).where(
                Project.department == project.department,
                Project.stage.in_(sorted(stage.value for stage in STARTING)),
                Project.id != project.id,
            )
        )
    return Detached(_ids(session, [project.replica_of, project.adjacent_to]), sorted(set(followers)))
