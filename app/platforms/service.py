"""Platforms: the shared infrastructure projects run on. Admins write them, any reader reads them.

A platform's deployment is read by every project on it that has none of its own, so a change of
it re-scores them all; which projects those are is for the projects domain, a layer above, to say
(`projects_on_with`, registered when the app is built).
"""

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core import changes
from app.core.changes import AuditEntry, Cause
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.identity import Caller
from app.core.pagination import keyset_page
from app.core.patch import merge_patch
from app.core.preconditions import IfMatch, etag
from app.core.schemas import validate_or_422, validation_error_from
from app.platforms.models import Platform
from app.platforms.schemas import PlatformCreate, PlatformFields, PlatformPatch, PlatformRead

# The projects on a platform, by its key: registered by the projects domain.
ProjectsOn = Callable[[Session, str], list[uuid.UUID]]
_projects_on: list[ProjectsOn] = []


def projects_on_with(finder: ProjectsOn) -> None:
    if finder not in _projects_on:
        _projects_on.append(finder)


def _projects_on_platform(session: Session, key: str) -> list[uuid.UUID]:
    return sorted({project_id for finder in _projects_on for project_id in finder(session, key)})


def platform_etag(platform: Platform) -> str:
    return etag(platform.id, platform.version)


def get_platform(session: Session, *, key: str) -> Platform:
    platform = session.scalar(select(Platform).where(Platform.key == key))
    if platform is None:
        raise NotFound(f"No platform with key {key!r}.")
    return platform


def existing_keys(session: Session, keys: set[str]) -> set[str]:
    """Which of these platform keys exist."""
    if not keys:
        return set()
    return set(session.scalars(select(Platform.key).where(Platform.key.in_(sorted(keys)))))


def list_platforms(session: Session, *, limit: int, cursor: str | None) -> tuple[list[Platform], str | None]:
    """Platforms by key."""
    return keyset_page(session, select(Platform), [Platform.key], limit=limit, cursor=cursor)


def _snapshot(platform: Platform) -> dict[str, Any]:
    return PlatformRead.from_platform(platform).model_dump(mode="json")


def _apply(platform: Platform, data: PlatformFields) -> None:
    platform.name = data.name
    platform.deployment_target = data.deployment.target.value if data.deployment.target else None
    platform.deployment_same_runtime = data.deployment.same_runtime_as_production
    platform.deployment_sovereign = data.deployment.sovereign
    platform.owner_name = data.owner.name if data.owner else None
    platform.owner_email = str(data.owner.email) if data.owner else None


def create_platform(session: Session, *, data: PlatformCreate, actor: Caller) -> Platform:
    if session.scalar(select(Platform.id).where(Platform.key == data.key)) is not None:
        raise Conflict(f"A platform with key {data.key!r} already exists.")
    now = utcnow()
    platform = Platform(key=data.key, created_at=now, updated_at=now)
    _apply(platform, data)
    session.add(platform)
    session.flush()
    changes.record(
        session,
        Cause("platform", data.key),
        audit=AuditEntry(actor, "platform.create", "platform", data.key, after=_snapshot(platform)),
    )
    return platform


def _deployment(platform: Platform) -> tuple[str | None, bool | None, bool | None]:
    return platform.deployment_target, platform.deployment_same_runtime, platform.deployment_sovereign


def patch_platform(
    session: Session, *, key: str, patch: dict[str, Any], if_match: IfMatch | None, actor: Caller
) -> Platform:
    """Apply a JSON merge patch (RFC 7396); a change of its deployment re-scores every project on it."""
    platform = get_platform(session, key=key)
    merged = merge_patch(PlatformRead.from_platform(platform).writable(), patch)
    if merged.get("key", key) != key:
        raise Unprocessable(
            "Keys cannot be renamed.", errors=[validation_error_from("body.key", "must equal the key in the path")]
        )
    data = validate_or_422(PlatformPatch, merged)
    # After the body: a patch that could never apply is 422 whatever the caller last read.
    if if_match is not None:
        if_match.check(platform_etag(platform))
    before, deployment = _snapshot(platform), _deployment(platform)
    _apply(platform, data)
    after = _snapshot(platform)
    if after == before:
        return platform
    platform.updated_at = utcnow()
    affected = _projects_on_platform(session, key) if _deployment(platform) != deployment else []
    changes.record(
        session,
        Cause("platform", key),
        affected,
        audit=AuditEntry(actor, "platform.update", "platform", key, before=before, after=_snapshot(platform)),
    )
    return platform


def delete_platform(session: Session, *, key: str, if_match: IfMatch | None, actor: Caller) -> None:
    """Refused (409) while a project runs on it."""
    platform = get_platform(session, key=key)
    if if_match is not None:
        if_match.check(platform_etag(platform))
    in_use = _projects_on_platform(session, key)
    if in_use:
        raise Conflict(
            f"Platform {key!r} is in use by {len(in_use)} project{'s' if len(in_use) != 1 else ''}; "
            "move them to another platform first."
        )
    before = _snapshot(platform)
    session.delete(platform)
    changes.record(
        session, Cause("platform", key), audit=AuditEntry(actor, "platform.delete", "platform", key, before=before)
    )
