import uuid
from typing import cast

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.auth import service
from app.auth.dependencies import Admin
from app.auth.models import ApiKey
from app.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from app.auth.service import CallerCache
from app.core.deps import DbDep
from app.core.errors import problem_responses
from app.core.http import API_PREFIX, json_response
from app.core.idempotency import IdempotencyDep, idempotent
from app.core.pagination import Cursor, Limit, Page

router = APIRouter(prefix=f"{API_PREFIX}/api-keys", tags=["api-keys"])


def _created_response(issued: tuple[ApiKey, str]) -> Response:
    key, secret = issued
    created = ApiKeyCreated.model_validate({**ApiKeyRead.model_validate(key).model_dump(), "secret": secret})
    return json_response(created, status_code=201)


@router.post(
    "",
    status_code=201,
    response_model=ApiKeyCreated,
    summary="Issue an API key",
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422),
)
async def create_api_key(body: ApiKeyCreate, db: DbDep, caller: Admin, idempotency: IdempotencyDep) -> Response:
    """Issue a key with a role (admin). The secret is in this response only; store it now."""
    return await idempotent(
        db, idempotency, service.create_api_key, _created_response, name=body.name, role=body.role, actor=caller
    )


@router.get(
    "",
    response_model=Page[ApiKeyRead],
    summary="List API keys",
    responses=problem_responses(400, 401, 403, 422),
)
async def list_api_keys(db: DbDep, caller: Admin, limit: Limit = 50, cursor: Cursor = None) -> Response:
    """Every key, revoked ones included, by name (admin). Secrets are never shown again."""
    keys, next_cursor = await db.read(service.list_api_keys, limit=limit, cursor=cursor)
    return json_response(Page[ApiKeyRead](items=[ApiKeyRead.model_validate(k) for k in keys], next_cursor=next_cursor))


@router.delete(
    "/{key_id}",
    status_code=204,
    summary="Revoke an API key",
    responses=problem_responses(401, 403, 404, 422),
)
async def revoke_api_key(key_id: uuid.UUID, request: Request, db: DbDep, caller: Admin) -> Response:
    """Revoke a key (admin). It stops working here at once and on every replica within 5 seconds."""
    await db.write(service.revoke_api_key, key_id=key_id, actor=caller)
    cast(CallerCache, request.app.state.callers).clear()
    return Response(status_code=204)
