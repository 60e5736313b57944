import uuid
from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from starlette.responses import Response

from app.auth.dependencies import Admin, Reader, Writer
from app.core.deps import DbDep, SettingsDep
from app.core.errors import problem_responses
from app.core.http import API_PREFIX, json_response
from app.core.pagination import Cursor, Limit, Page
from app.evidence import service
from app.evidence.models import Evidence
from app.evidence.schemas import EvidenceRead
from app.evidence.sniff import ACCEPTED
from app.projects.router import ProjectKey

router = APIRouter(prefix=f"{API_PREFIX}/projects/{{key}}/evidence", tags=["evidence"])


def _read(evidence: Evidence) -> EvidenceRead:
    return EvidenceRead.model_validate(evidence)


@router.post(
    "",
    status_code=201,
    response_model=EvidenceRead,
    summary="Upload evidence",
    responses={
        200: {"model": EvidenceRead, "description": "The same bytes were uploaded before"},
        **problem_responses(400, 401, 403, 404, 413, 415, 422),
    },
)
async def upload_evidence(
    key: ProjectKey,
    file: Annotated[UploadFile, File(description="The file, in the `file` field of multipart/form-data.")],
    db: DbDep,
    settings: SettingsDep,
    caller: Writer,
) -> Response:
    """A file the project's attestations and decisions can cite (writer), stored by the service so
    that an audit can read it where no link would reach: PDF, PNG, JPEG, UTF-8 text, CSV, and Word,
    Excel or PowerPoint documents, judged by the content, not the name (HTML, SVG or XML is 415), at
    most `READINESS_EVIDENCE_MAX_BYTES` (default 10 MiB; 413 beyond). Addressed by its SHA-256
    within the project: the same bytes again answer 200 with the first upload. Never changed."""
    content = await file.read(settings.evidence_max_bytes + 1)
    evidence, created = await db.write(
        service.upload,
        key=key,
        name=file.filename or "",
        declared_type=file.content_type,
        content=content,
        max_bytes=settings.evidence_max_bytes,
        actor=caller,
    )
    location = f"{API_PREFIX}/projects/{key}/evidence/{evidence.id}"
    return json_response(_read(evidence), status_code=201 if created else 200, headers={"Location": location})


@router.get(
    "",
    response_model=Page[EvidenceRead],
    summary="List a project's evidence",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_evidence(
    key: ProjectKey, db: DbDep, caller: Reader, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    """Newest first; metadata only."""
    found, next_cursor = await db.read(service.list_evidence, key=key, limit=limit, cursor=cursor)
    return json_response(Page[EvidenceRead](items=[_read(e) for e in found], next_cursor=next_cursor))


@router.get(
    "/{evidence_id}",
    response_model=EvidenceRead,
    summary="An evidence file's metadata",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_evidence(key: ProjectKey, evidence_id: uuid.UUID, db: DbDep, caller: Reader) -> Response:
    """Name, media type, size, SHA-256, who uploaded it and when."""
    return json_response(_read(await db.read(service.get_evidence, key=key, evidence_id=evidence_id)))


@router.get(
    "/{evidence_id}/content",
    response_class=Response,
    summary="An evidence file's bytes",
    responses={
        200: {
            "description": "The file, with the media type its content was judged to have.",
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}} for media_type in ACCEPTED},
        },
        **problem_responses(401, 403, 404, 422),
    },
)
async def get_evidence_content(key: ProjectKey, evidence_id: uuid.UUID, db: DbDep, caller: Reader) -> Response:
    """The bytes as uploaded, as an attachment: a browser saves them rather than showing them, and
    would run nothing in them (`Content-Security-Policy: sandbox`)."""
    evidence, content = await db.read(service.content_of, key=key, evidence_id=evidence_id)
    return Response(content, media_type=evidence.media_type, headers=service.download_headers(evidence))


@router.delete(
    "/{evidence_id}",
    status_code=204,
    summary="Delete evidence",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def delete_evidence(key: ProjectKey, evidence_id: uuid.UUID, db: DbDep, caller: Admin) -> Response:
    """Admin only, audited, and refused (409) while an attestation or a decision cites it."""
    await db.write(service.delete_evidence, key=key, evidence_id=evidence_id, actor=caller)
    return Response(status_code=204)
