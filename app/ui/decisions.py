"""The decision room on the dashboard: the approvers' queue, and the forms on a project's page
through which people ask for a decision, attest a criterion with its evidence, and record go or
no-go.

Every form works without JavaScript: it POSTs, and success answers 303 back to the page (post,
redirect, get). Each form carries the session's CSRF token, besides the SameSite cookie and the
Origin check, and the readiness ETag of the page it was on: a page older than the project's data
is refused, as is anything the API would refuse (four eyes, a gate failing now), as a message on
the page. Every action is the same service call as the API's, audited the same way, in one
transaction: a refused decision leaves no evaluation behind, a refused attestation no evidence.
"""

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.attestations import service as attestations
from app.attestations.schemas import AnsweredStatus, AttestationPut
from app.core.errors import Forbidden, ProblemError, Unprocessable
from app.core.identity import Caller, Role
from app.core.schemas import validate_or_422
from app.decisions import requests
from app.decisions import service as decisions
from app.decisions.schemas import DecisionCreate, RequestStatus
from app.evidence import service as evidence
from app.readiness import evaluations, reads
from app.ui import project
from app.ui.web import UI_PATH, database, form_allowed, page, redirect, refused, settings_of, signed_in

router = APIRouter(prefix=UI_PATH, include_in_schema=False)
STALE = (
    "The project changed since this page was shown (a write, or time passing): look at it again before "
    "you act. Nothing was recorded."
)
Csrf = Annotated[str, Form(max_length=100)]
Etag = Annotated[str, Form(max_length=100)]
Action = Callable[[Session, Caller], str]


class _Stale(Exception):
    """The page the form was on is older than the project's readiness."""


async def _act(request: Request, key: str, csrf: str, etag: str, needs: Role, action: Action) -> Response:
    """Run `action` for the signed-in caller if the form may be taken: the answer is the page again
    with a notice, or with the refusal as its message."""
    caller = await signed_in(request)
    if isinstance(caller, Response):
        return caller
    if not form_allowed(request, csrf):
        return refused(request)
    limits = settings_of(request).stage_limits

    def unit(session: Session) -> str:
        if not caller.role.allows(needs):
            raise Forbidden(f"This needs the {needs.value} role; you have {caller.role.value}.")
        current = reads.view(session, key=key, limits=limits, refresh_stale=True)
        if current is None or current.etag != etag:
            raise _Stale
        return action(session, caller)

    try:
        notice = await database(request).write(unit)
    except _Stale:
        return await project.render(request, caller, key, message=STALE, status_code=409)
    except ProblemError as error:
        return await project.render(request, caller, key, message=error.detail, status_code=error.status)
    return redirect(f"{UI_PATH}/projects/{quote(key)}?notice={notice}#decision-room")


@router.post("/projects/{key}/decision-requests")
async def request_decision(
    request: Request, key: str, csrf: Csrf = "", etag: Etag = "", note: Annotated[str, Form(max_length=2000)] = ""
) -> Response:
    def ask(session: Session, caller: Caller) -> str:
        requests.request_decision(session, key=key, note=note.strip() or None, actor=caller)
        return "requested"

    return await _act(request, key, csrf, etag, Role.writer, ask)


@router.post("/projects/{key}/decision-requests/{request_id}/withdraw")
async def withdraw_request(
    request: Request, key: str, request_id: uuid.UUID, csrf: Csrf = "", etag: Etag = ""
) -> Response:
    def withdraw(session: Session, caller: Caller) -> str:
        requests.withdraw(session, key=key, request_id=request_id, actor=caller)
        return "withdrawn"

    return await _act(request, key, csrf, etag, Role.writer, withdraw)


@router.post("/projects/{key}/attestations")
async def attest(
    request: Request,
    key: str,
    criterion: Annotated[str, Form(max_length=120)],
    status: Annotated[AnsweredStatus, Form()],
    csrf: Csrf = "",
    etag: Etag = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    expires_on: Annotated[str, Form(max_length=10)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Attest a criterion, citing the evidence uploaded with the form (if any)."""
    max_bytes = settings_of(request).evidence_max_bytes
    content = await file.read(max_bytes + 1) if file is not None and file.filename else b""
    name, declared = (file.filename or "", file.content_type) if file is not None else ("", None)

    def record(session: Session, caller: Caller) -> str:
        cited: list[uuid.UUID] = []
        if content:
            uploaded, _ = evidence.upload(
                session, key=key, name=name, declared_type=declared, content=content, max_bytes=max_bytes, actor=caller
            )
            cited.append(uploaded.id)
        given = {
            "status": status,
            "note": note.strip() or None,
            "expires_at": _end_of(expires_on),
            "evidence_ids": cited,
        }
        data = validate_or_422(AttestationPut, given)
        attestations.put_attestation(session, key=key, criterion=criterion, data=data, if_match=None, actor=caller)
        return "attested"

    return await _act(request, key, csrf, etag, Role.writer, record)


def _end_of(day: str) -> datetime | None:
    """An expiry date from the form, as the end of that day in UTC; 422 for one that is no date."""
    if not day.strip():
        return None
    try:
        return datetime.combine(date.fromisoformat(day.strip()), time.max, tzinfo=UTC)
    except ValueError as error:
        raise Unprocessable(f"{day!r} is not a date (YYYY-MM-DD).") from error


@router.post("/projects/{key}/decisions")
async def decide(
    request: Request,
    key: str,
    decision: Annotated[Literal["go", "no_go"], Form()],
    csrf: Csrf = "",
    etag: Etag = "",
    rationale: Annotated[str, Form(max_length=4000)] = "",
    on_behalf_of: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Evaluate the project now and record the decision on that evaluation: one transaction, so a
    refused decision leaves no evaluation behind."""

    def record(session: Session, caller: Caller) -> str:
        evaluation = evaluations.evaluate_project(
            session,
            key=key,
            rubric_key=None,
            rubric_version=None,
            evaluator="dashboard",
            answers=[],
            actor=caller,
            store=True,
        )
        assert evaluation.id is not None
        given = {
            "evaluation_id": evaluation.id,
            "decision": decision,
            "rationale": rationale.strip() or None,
            "on_behalf_of": on_behalf_of.strip() or None,
        }
        data = validate_or_422(DecisionCreate, given)
        decisions.record_decision(session, key=key, data=data, actor=caller)
        return "decided"

    return await _act(request, key, csrf, etag, Role.approver, record)


@router.get("/decisions")
async def queue_view(request: Request, status: RequestStatus = "open") -> Response:
    """The approvers' queue: what waits for the steering committee, oldest first."""
    caller = await signed_in(request)
    if isinstance(caller, Response):
        return caller
    waiting, more = await database(request).read(requests.queue, status=status, limit=200, cursor=None)
    context = {"caller": caller, "waiting": waiting, "more": more is not None, "status": status}
    return page(request, "decisions.html", context)


@router.get("/projects/{key}/evidence/{evidence_id}")
async def evidence_content(request: Request, key: str, evidence_id: uuid.UUID) -> Response:
    """Evidence as the API gives it: an attachment that runs nothing."""
    caller = await signed_in(request)
    if isinstance(caller, Response):
        return caller
    try:
        stored, content = await database(request).read(evidence.content_of, key=key, evidence_id=evidence_id)
    except ProblemError as error:
        context = {"caller": caller, "title": "Not found", "message": error.detail}
        return page(request, "error.html", context, status_code=error.status)
    return Response(content, media_type=stored.media_type, headers=evidence.download_headers(stored))
