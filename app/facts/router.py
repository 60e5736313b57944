from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import Response

from app.auth.dependencies import Admin, Reader, Writer
from app.auth.idempotency import IdempotencyDep, idempotent
from app.core.db import utcnow
from app.core.deps import DbDep, IfMatchDep, IfNoneMatchHeader, SettingsDep
from app.core.errors import problem_responses
from app.core.http import API_PREFIX, json_response
from app.core.pagination import Cursor, Limit, Page
from app.core.preconditions import if_none_match_hits
from app.core.settings import Settings
from app.engine.checks import FACT_NAME_PATTERN
from app.facts import service
from app.facts.models import Fact
from app.facts.schemas import FactBatch, FactBatchResult, FactRead, FactWrite
from app.projects.router import ProjectKey

router = APIRouter(prefix=API_PREFIX, tags=["facts"])

FactNamePath = Annotated[str, Path(pattern=FACT_NAME_PATTERN, max_length=128, description="A dotted fact name.")]


def _limits(settings: Settings) -> service.Limits:
    return service.Limits(names_per_project=settings.max_facts_per_project, value_bytes=settings.max_fact_value_bytes)


def _fact_response(fact: Fact, *, status_code: int = 200) -> Response:
    return json_response(FactRead.from_fact(fact), status_code=status_code, headers={"ETag": service.fact_etag(fact)})


@router.put(
    "/projects/{key}/facts/{name}",
    response_model=FactRead,
    summary="Record a fact about a project",
    responses={
        201: {"description": "Created", "model": FactRead},
        **problem_responses(400, 401, 403, 404, 412, 413, 415, 422),
    },
)
async def put_fact(
    key: ProjectKey,
    name: FactNamePath,
    body: FactWrite,
    db: DbDep,
    caller: Writer,
    if_match: IfMatchDep,
    settings: SettingsDep,
) -> Response:
    """Record what a system observed (`ops.alerting_enabled: true`). The latest `observed_at` wins:
    an observation older than the stored one leaves it in place, and the response shows what is
    stored. 201 when the fact is new."""
    observation = service.Observation(name, body.value, body.source, body.observed_at or utcnow())
    fact, created = await db.write(
        service.put_fact,
        key=key,
        observation=observation,
        if_match=if_match,
        limits=_limits(settings),
        actor=caller,
    )
    return _fact_response(fact, status_code=201 if created else 200)


@router.get(
    "/projects/{key}/facts/{name}",
    response_model=FactRead,
    summary="Get a fact",
    responses={304: {"description": "Not Modified"}, **problem_responses(401, 403, 404, 422)},
)
async def get_fact(
    key: ProjectKey, name: FactNamePath, db: DbDep, caller: Reader, if_none_match: IfNoneMatchHeader = None
) -> Response:
    """One fact of a project, with its ETag."""
    fact = await db.read(service.get_fact, key=key, name=name)
    tag = service.fact_etag(fact)
    if if_none_match_hits(if_none_match, tag):
        return Response(status_code=304, headers={"ETag": tag})
    return _fact_response(fact)


@router.get(
    "/projects/{key}/facts",
    response_model=Page[FactRead],
    summary="List a project's facts",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_facts(key: ProjectKey, db: DbDep, caller: Reader, limit: Limit = 50, cursor: Cursor = None) -> Response:
    """The project's current facts, by name."""
    facts, next_cursor = await db.read(service.list_facts, key=key, limit=limit, cursor=cursor)
    return json_response(Page[FactRead](items=[FactRead.from_fact(f) for f in facts], next_cursor=next_cursor))


@router.delete(
    "/projects/{key}/facts/{name}",
    status_code=204,
    summary="Delete a fact",
    responses=problem_responses(401, 403, 404, 412, 422),
)
async def delete_fact(key: ProjectKey, name: FactNamePath, db: DbDep, caller: Admin, if_match: IfMatchDep) -> Response:
    """Forget a fact (admin); checks that read it then see no data."""
    await db.write(service.delete_fact, key=key, name=name, if_match=if_match, actor=caller)
    return Response(status_code=204)


@router.post(
    "/facts:batch",
    response_model=FactBatchResult,
    summary="Record facts about many projects at once",
    responses=problem_responses(400, 401, 403, 413, 415, 422),
)
async def put_facts_batch(
    body: FactBatch, db: DbDep, caller: Writer, idempotency: IdempotencyDep, settings: SettingsDep
) -> Response:
    """Up to 10,000 facts across projects, all or nothing: if any item is invalid or names an
    unknown project, nothing is stored and the 422 lists every bad item by index."""
    return await idempotent(
        db,
        idempotency,
        service.put_facts_batch,
        lambda counts: json_response(FactBatchResult(stored=counts[0], superseded=counts[1], unchanged=counts[2])),
        items=body.items,
        limits=_limits(settings),
        actor=caller,
    )
