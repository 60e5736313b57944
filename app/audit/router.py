from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from app.audit import service
from app.audit.schemas import AuditEventRead
from app.auth.dependencies import Admin
from app.core.deps import DbDep
from app.core.errors import problem_responses
from app.core.http import API_PREFIX, json_response
from app.core.pagination import Cursor, Limit, Page
from app.core.schemas import UTCTimestamp

router = APIRouter(prefix=f"{API_PREFIX}/audit-events", tags=["audit"])

Filter = Annotated[str | None, Query(max_length=200)]


@router.get(
    "",
    response_model=Page[AuditEventRead],
    summary="Read the audit trail",
    responses=problem_responses(400, 401, 403, 422),
)
async def list_audit_events(
    db: DbDep,
    caller: Admin,
    entity_type: Filter = None,
    entity_key: Filter = None,
    actor: Filter = None,
    action: Filter = None,
    since: Annotated[UTCTimestamp | None, Query(description="Events at or after this time.")] = None,
    until: Annotated[UTCTimestamp | None, Query(description="Events before this time.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """Every change made through the API, newest first (admin). Events cannot be changed or deleted."""
    events, next_cursor = await db.read(
        service.list_events,
        entity_type=entity_type,
        entity_key=entity_key,
        actor=actor,
        action=action,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )
    page = Page[AuditEventRead](items=[AuditEventRead.model_validate(e) for e in events], next_cursor=next_cursor)
    return json_response(page)
