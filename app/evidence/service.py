"""Evidence: files a project's attestations and decisions cite, kept in the database so that an
air-gapped audit can read them and nobody can change them after a decision cited them."""

import hashlib
import uuid
from collections.abc import Collection
from urllib.parse import quote

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.core import changes
from app.core.changes import AuditEntry, Cause
from app.core.db import utcnow
from app.core.errors import Conflict, FieldError, NotFound, PayloadTooLarge, Unprocessable, UnsupportedMediaType
from app.core.identity import Caller
from app.core.pagination import keyset_page
from app.evidence import sniff
from app.evidence.models import Citation, Evidence
from app.evidence.schemas import MAX_NAME_LENGTH
from app.projects.models import Project
from app.projects.service import get_project


def _described(evidence: Evidence) -> dict[str, object]:
    return {
        "id": str(evidence.id),
        "name": evidence.name,
        "media_type": evidence.media_type,
        "size": evidence.size,
        "sha256": evidence.sha256,
    }


def upload(
    session: Session, *, key: str, name: str, declared_type: str | None, content: bytes, max_bytes: int, actor: Caller
) -> tuple[Evidence, bool]:
    """Store a file as the project's evidence; returns it and whether it is new. The same bytes
    again are the same evidence: content-addressed within the project."""
    project = get_project(session, key=key)
    if len(content) > max_bytes:
        raise PayloadTooLarge(f"Evidence files are at most {max_bytes} bytes; this one has {len(content)}.")
    if not content:
        # Not a media type refused: no content at all, which no type would accept.
        raise Unprocessable(
            "The file is empty: evidence needs content.", errors=[FieldError(field="body.file", message="empty")]
        )
    try:
        media_type = sniff.media_type(content, declared_type)
    except sniff.Refused as refused:
        raise UnsupportedMediaType(
            f"The file is not accepted as evidence: {refused}. Accepted: PDF, PNG, JPEG, UTF-8 text or CSV, "
            "and Word, Excel or PowerPoint documents."
        ) from refused
    digest = hashlib.sha256(content).hexdigest()
    existing = session.scalar(select(Evidence).where(Evidence.project_id == project.id, Evidence.sha256 == digest))
    if existing is not None:
        return existing, False
    evidence = Evidence(
        project_id=project.id,
        sha256=digest,
        name=(name.strip() or "evidence")[:MAX_NAME_LENGTH],
        media_type=media_type,
        size=len(content),
        content=content,
        uploaded_by=actor.name,
        uploaded_by_identity=actor.identity,
        uploaded_at=utcnow(),
    )
    session.add(evidence)
    session.flush()
    changes.record(
        session,
        Cause("evidence", digest[:12]),
        [project.id],
        audit=AuditEntry(actor, "evidence.upload", "evidence", f"{key}/{evidence.id}", after=_described(evidence)),
        status="none",
        readiness=False,
    )
    return evidence, True


def get_evidence(session: Session, *, key: str, evidence_id: uuid.UUID) -> Evidence:
    project = get_project(session, key=key)
    evidence = session.scalar(select(Evidence).where(Evidence.id == evidence_id, Evidence.project_id == project.id))
    if evidence is None:
        raise NotFound(f"Project {key!r} has no evidence {evidence_id}.")
    return evidence


def content_of(session: Session, *, key: str, evidence_id: uuid.UUID) -> tuple[Evidence, bytes]:
    evidence = get_evidence(session, key=key, evidence_id=evidence_id)
    return evidence, evidence.content


def download_headers(evidence: Evidence) -> dict[str, str]:
    """How the bytes are sent: as an attachment a browser saves rather than shows, running nothing
    in them, its type as judged on upload."""
    fallback = "".join(ch if ch.isascii() and ch.isprintable() and ch not in '"\\' else "_" for ch in evidence.name)
    return {
        "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(evidence.name)}",
        "Content-Security-Policy": "sandbox",
        "X-Content-Type-Options": "nosniff",
        "ETag": f'"{evidence.sha256}"',
    }


def list_evidence(session: Session, *, key: str, limit: int, cursor: str | None) -> tuple[list[Evidence], str | None]:
    """Newest first."""
    project = get_project(session, key=key)
    query = select(Evidence).where(Evidence.project_id == project.id)
    return keyset_page(session, query, [Evidence.uploaded_at, Evidence.id], limit=limit, cursor=cursor, descending=True)


def delete_evidence(session: Session, *, key: str, evidence_id: uuid.UUID, actor: Caller) -> None:
    """Refused (409) while an attestation or a decision cites it."""
    evidence = get_evidence(session, key=key, evidence_id=evidence_id)
    citing = session.execute(select(Citation.cited_by, Citation.cited_by_id).where(Citation.evidence_id == evidence.id))
    cited = [f"{kind} {ref}" for kind, ref in citing]
    if cited:
        raise Conflict(f"Evidence {evidence_id} is cited by {', '.join(cited)}; it stays as long as they do.")
    before = _described(evidence)
    session.delete(evidence)
    changes.record(
        session,
        Cause("evidence", evidence.sha256[:12]),
        [evidence.project_id],
        audit=AuditEntry(actor, "evidence.delete", "evidence", f"{key}/{evidence_id}", before=before),
        status="none",
        readiness=False,
    )


def check_cited(session: Session, project: Project, evidence_ids: Collection[uuid.UUID], field: str) -> None:
    """422 unless every id is evidence of this project."""
    if not evidence_ids:
        return
    found = set(
        session.scalars(select(Evidence.id).where(Evidence.project_id == project.id, Evidence.id.in_(evidence_ids)))
    )
    errors = [
        FieldError(field=f"{field}.{index}", message=f"no evidence {evidence_id} of project {project.key!r}")
        for index, evidence_id in enumerate(evidence_ids)
        if evidence_id not in found
    ]
    if errors:
        raise Unprocessable("Some cited evidence does not exist for this project.", errors=errors)


def cite(
    session: Session, project: Project, *, cited_by: str, cited_by_id: uuid.UUID, evidence_ids: Collection[uuid.UUID]
) -> None:
    """What `cited_by` cites from now on, replacing what it cited before."""
    session.execute(delete(Citation).where(Citation.cited_by == cited_by, Citation.cited_by_id == cited_by_id))
    session.add_all(
        Citation(evidence_id=evidence_id, cited_by=cited_by, cited_by_id=cited_by_id, project_id=project.id)
        for evidence_id in dict.fromkeys(evidence_ids)
    )


def uploaded_by(session: Session, evidence_ids: Collection[uuid.UUID], identities: Collection[str]) -> list[str]:
    """Which of this evidence these identities uploaded, by name: what four eyes asks."""
    if not evidence_ids:
        return []
    query = select(Evidence.name).where(Evidence.id.in_(evidence_ids), Evidence.uploaded_by_identity.in_(identities))
    return sorted(session.scalars(query))
