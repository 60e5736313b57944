"""Writing events: each in the transaction of the change it tells of, as the exact bytes sent.

Anything in a unit of work may tell an event (`app.core.news`); the epilogue's last step inserts
them all just before the commit. On PostgreSQL it first takes a transaction-scoped advisory lock, so that
outbox inserts commit in the order of their positions: ids from a sequence are taken before
commit, and without the lock a feed follower reading past position 7 could miss a 6 committed
later. The lock is held only from the insert to the commit.
"""

import uuid
from datetime import datetime
from typing import Any

import pydantic_core
from pydantic import BaseModel
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from app.core import changes, news
from app.core.changes import Change
from app.core.db import new_id, utcnow
from app.events import schemas, storage
from app.events.models import Event
from app.events.schemas import ProjectChanged
from app.projects.models import Project

# Left in `session.info` once events are written: the dispatcher and feed followers wake on it.
WRITTEN_KEY = "events_written"
EVENT_TABLE: Table = Event.__table__  # type: ignore[assignment]
# Rewritten when the app or the worker is built from its settings.
_source = {"uri": "urn:ai-readiness:local"}


def configure(source: str) -> None:
    _source["uri"] = source


def envelope(event_id: uuid.UUID, event_type: str, subject: str, at: datetime, data: BaseModel) -> str:
    """The CloudEvents document, compact, keys in a fixed order: what is stored, sent and signed."""
    document = {
        "specversion": "1.0",
        "id": str(event_id),
        "source": _source["uri"],
        "type": event_type,
        "subject": subject,
        "time": at.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": data.model_dump(mode="json", by_alias=True),
    }
    return pydantic_core.to_json(document).decode()


def _owners(session: Session, pending: list[news.Pending]) -> dict[uuid.UUID, list[str]]:
    """Each project's owners' emails as they are now, lower-cased, the business owner first; for a
    project deleted in this transaction, as its `project.deleted` event shows it."""
    project_ids = {event.project_id for event in pending if event.project_id is not None}
    if not project_ids:
        return {}
    found = session.execute(
        select(Project.id, Project.business_owner_email, Project.technical_owner_email).where(
            Project.id.in_(project_ids)
        )
    )
    owners = {project_id: _emails(business, technical) for project_id, business, technical in found}
    for event in pending:
        if event.project_id is not None and event.project_id not in owners and isinstance(event.data, ProjectChanged):
            shown = event.data.project
            owners[event.project_id] = _emails(
                (shown.get("business_owner") or {}).get("email"), (shown.get("technical_owner") or {}).get("email")
            )
    return owners


def _emails(*emails: str | None) -> list[str]:
    return list(dict.fromkeys(email.lower() for email in emails if email))


def write_pending(session: Session) -> None:
    pending = news.take(session)
    if not pending:
        return
    owners = _owners(session, pending)
    storage.take_outbox_lock(session)
    now = utcnow()
    rows = []
    for event in pending:
        event_id = new_id()
        rows.append(
            {
                "id": event_id,
                "type": event.type,
                "subject": event.subject,
                "project_id": event.project_id,
                "department": event.department,
                "occurred_at": now,
                "owners": owners.get(event.project_id) if event.project_id is not None else None,
                "body": envelope(event_id, event.type, event.subject, now, event.data),
            }
        )
    session.connection().execute(insert(EVENT_TABLE), rows)
    session.info[WRITTEN_KEY] = True


PROJECT_ACTIONS = {
    "project.create": "project.created",
    "project.replace": "project.updated",
    "project.update": "project.updated",
    "project.delete": "project.deleted",
    "project.stage_transition": "project.stage_changed",
    "evaluation.create": "evaluation.recorded",
    "decision.create": "decision.recorded",
}


def _data(action: str, key: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> BaseModel:
    after = after or {}
    if action == "project.stage_transition":
        return schemas.StageChanged.model_validate(
            {"project": key, "from": (before or {}).get("stage"), "to": after["stage"], "reason": after.get("reason")}
        )
    if action == "evaluation.create":
        return schemas.EvaluationRecorded.model_validate({"project": key, **after})
    if action == "decision.create":
        blockers = after.get("gate_blockers")
        return schemas.DecisionRecorded.model_validate(
            {
                "project": key,
                "decision_id": after["id"],
                "decision": after["decision"],
                "evaluation_id": after["evaluation_id"],
                "override_reason": after.get("override_reason"),
                "gate_blockers": None if blockers is None else [str(b) for b in blockers],
            }
        )
    if action == "project.create":
        return schemas.ProjectChanged(project=after)
    if action == "project.delete":
        return schemas.ProjectChanged(project=before or {})
    return schemas.ProjectChanged(project=after, before=before)


def events_of_changes(session: Session, written: list[Change]) -> None:
    """The epilogue's event step: the news among a transaction's writes, told by their audit entries."""
    entries = [c.audit for c in written if c.audit is not None]
    keys = {e.entity_key for e in entries if e.action in PROJECT_ACTIONS}
    projects: dict[str, tuple[uuid.UUID, str | None]] = {}
    if keys:
        found = session.execute(select(Project.key, Project.id, Project.department).where(Project.key.in_(keys)))
        projects = {key: (project_id, department) for key, project_id, department in found}
    for entry in entries:
        if entry.action == "rubric.publish" and entry.after is not None:
            published = schemas.RubricPublished(
                rubric=entry.after["key"], version=entry.after["version"], criteria=entry.after["criteria"]
            )
            news.emit(session, "rubric.published", published.rubric, published)
            continue
        event_type = PROJECT_ACTIONS.get(entry.action)
        if event_type is None:
            continue
        project_id, department = projects.get(entry.entity_key, (None, None))
        if project_id is None and entry.before is not None:  # deleted in this transaction
            project_id = uuid.UUID(str(entry.before["id"])) if "id" in entry.before else None
            department = entry.before.get("department")
        news.emit(
            session,
            event_type,
            entry.entity_key,
            _data(entry.action, entry.entity_key, entry.before, entry.after),
            project_id=project_id,
            department=department,
        )


def install() -> None:
    changes.on_commit(order=40)(events_of_changes)
    changes.register_last_step(write_pending, pending_key=news.PENDING_KEY)
