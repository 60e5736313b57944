import uuid
from datetime import timedelta
from typing import cast

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.auth import service
from app.auth.authenticator import Authenticator
from app.auth.dependencies import Admin
from app.auth.idempotency import IdempotencyDep, respond, without_secret
from app.auth.models import ApiKey
from app.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead, ApiKeyRotate
from app.core.deps import DbDep
from app.core.errors import problem_responses
from app.core.http import API_PREFIX, json_response
from app.core.pagination import Cursor, Limit, Page

router = APIRouter(prefix=f"{API_PREFIX}/api-keys", tags=["api-keys"])


def _secret_response(issued: tuple[ApiKey, str], *, status_code: int) -> Response:
    key, secret = issued
    created = ApiKeyCreated.model_validate({**ApiKeyRead.model_validate(key).model_dump(), "secret": secret})
    return json_response(created, status_code=status_code)


def _forget_cached_keys(request: Request) -> None:
    cast(Authenticator, request.app.state.authenticator).keys.clear()


@router.post(
    "",
    status_code=201,
    response_model=ApiKeyCreated,
    summary="Issue an API key",
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422, 429),
)
async def create_api_key(body: ApiKeyCreate, db: DbDep, caller: Admin, idempotency: IdempotencyDep) -> Response:
    """Issue a key with a role, optionally limited to departments and with an expiry (admin). The
    secret is in this response only; store it now. A replay of this request (same `Idempotency-Key`)
    answers the same key without its secret."""

    def issue(session: Session) -> Response:
        return respond(
            session,
            idempotency,
            lambda: _secret_response(
                service.create_api_key(
                    session,
                    name=body.name,
                    role=body.role,
                    departments=body.departments,
                    expires_at=body.expires_at,
                    actor=caller,
                    person=body.person,
                ),
                status_code=201,
            ),
            remember=without_secret,
        )

    return await db.write(issue)


@router.get(
    "",
    response_model=Page[ApiKeyRead],
    summary="List API keys",
    responses=problem_responses(400, 401, 403, 422, 429),
)
async def list_api_keys(db: DbDep, caller: Admin, limit: Limit = 50, cursor: Cursor = None) -> Response:
    """Every key, revoked ones included, by name (admin). Secrets are never shown again."""
    keys, next_cursor = await db.read(service.list_api_keys, limit=limit, cursor=cursor)
    return json_response(Page[ApiKeyRead](items=[ApiKeyRead.model_validate(k) for k in keys], next_cursor=next_cursor))


@router.post(
    "/{key_id:uuid}:rotate",
    response_model=ApiKeyCreated,
    summary="Rotate an API key's secret",
    responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 429),
)
async def rotate_api_key(
    key_id: uuid.UUID,
    request: Request,
    db: DbDep,
    caller: Admin,
    idempotency: IdempotencyDep,
    body: ApiKeyRotate | None = None,
) -> Response:
    """A new secret for the key (admin), shown once in this response. The previous secret keeps
    working for `grace_period_seconds` (default a day) so that its users can switch without an
    outage; role, scope and expiry stay as they were."""
    grace = timedelta(seconds=(body or ApiKeyRotate()).grace_period_seconds)

    def rotate(session: Session) -> Response:
        return respond(
            session,
            idempotency,
            lambda: _secret_response(
                service.rotate_api_key(session, key_id=key_id, grace=grace, actor=caller), status_code=200
            ),
            remember=without_secret,
        )

    response = await db.write(rotate)
    _forget_cached_keys(request)
    return response


@router.delete(
    "/{key_id:uuid}",
    status_code=204,
    summary="Revoke an API key",
    responses=problem_responses(401, 403, 404, 422, 429),
)
async def revoke_api_key(key_id: uuid.UUID, request: Request, db: DbDep, caller: Admin) -> Response:
    """Revoke a key (admin). It stops working here at once and on every replica within 5 seconds."""
    await db.write(service.revoke_api_key, key_id=key_id, actor=caller)
    _forget_cached_keys(request)
    return Response(status_code=204)
