import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from starlette.responses import Response

from app.auth.dependencies import Admin, Reader, Writer, WriterAccess
from app.auth.idempotency import IdempotencyDep, idempotent
from app.core.db import utcnow
from app.core.deps import DbDep, IfMatchDep, IfNoneMatchHeader
from app.core.errors import problem_responses
from app.core.http import API_PREFIX, json_response
from app.core.pagination import Cursor, Limit, Page
from app.core.preconditions import if_none_match_hits
from app.core.schemas import UTCTimestamp
from app.kpis import service
from app.kpis.models import Kpi
from app.kpis.schemas import (
    KpiCreate,
    KpiPut,
    KpiRead,
    MeasurementBatch,
    MeasurementBatchResult,
    MeasurementCreate,
    MeasurementRead,
    RoiRead,
    kpi_read,
)
from app.projects.router import ProjectKey

router = APIRouter(prefix=API_PREFIX, tags=["kpis"])

KpiKey = Annotated[str, Path(max_length=63, description="The KPI's key within the project.")]
KPI_PATH = "/projects/{key}/kpis/{kpi}"


def _kpi_response(kpi: Kpi, *, project_key: str, status_code: int = 200) -> Response:
    headers = {"ETag": service.kpi_etag(kpi)}
    if status_code == 201:
        headers["Location"] = f"{API_PREFIX}/projects/{project_key}/kpis/{kpi.key}"
    return json_response(kpi_read(kpi, utcnow()), status_code=status_code, headers=headers)


@router.post(
    "/projects/{key}/kpis",
    status_code=201,
    response_model=KpiRead,
    summary="Define a KPI for a project",
    responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
)
async def create_kpi(
    key: ProjectKey, body: KpiCreate, db: DbDep, caller: Writer, idempotency: IdempotencyDep
) -> Response:
    """A KPI frames the project in business terms: cost, time, revenue or risk. The target must lie
    in the KPI's direction from its baseline. 409 if the project already has a KPI with this key."""
    return await idempotent(
        db,
        idempotency,
        service.create_kpi,
        lambda kpi: _kpi_response(kpi, project_key=key, status_code=201),
        project_key=key,
        data=body,
        actor=caller,
    )


@router.get(
    "/projects/{key}/kpis",
    response_model=Page[KpiRead],
    summary="List a project's KPIs",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_kpis(key: ProjectKey, db: DbDep, caller: Reader, limit: Limit = 50, cursor: Cursor = None) -> Response:
    """The project's KPIs by key, each with its latest measurement, progress and status."""
    kpis, next_cursor = await db.read(service.list_kpis, project_key=key, limit=limit, cursor=cursor)
    now = utcnow()
    return json_response(Page[KpiRead](items=[kpi_read(k, now) for k in kpis], next_cursor=next_cursor))


@router.get(
    KPI_PATH,
    response_model=KpiRead,
    summary="Get a KPI",
    responses={304: {"description": "Not Modified"}, **problem_responses(401, 403, 404, 422)},
)
async def get_kpi(
    key: ProjectKey, kpi: KpiKey, db: DbDep, caller: Reader, if_none_match: IfNoneMatchHeader = None
) -> Response:
    """A KPI with its latest measurement, progress towards the target and status."""
    found = await db.read(service.get_kpi, project_key=key, kpi_key=kpi)
    tag = service.kpi_etag(found)
    if if_none_match_hits(if_none_match, tag):
        return Response(status_code=304, headers={"ETag": tag})
    return _kpi_response(found, project_key=key)


@router.put(
    KPI_PATH,
    response_model=KpiRead,
    summary="Create or replace a KPI",
    responses={
        201: {"description": "Created", "model": KpiRead},
        **problem_responses(400, 401, 403, 404, 412, 413, 415, 422),
    },
)
async def put_kpi(
    key: ProjectKey, kpi: KpiKey, body: KpiPut, db: DbDep, caller: Writer, if_match: IfMatchDep
) -> Response:
    """Create the KPI (201) or replace its writable fields (200): an idempotent upsert by key, for
    systems that send their KPIs on every run. Sent unchanged, nothing is written and the ETag
    stays. A currency left out keeps the one the KPI has (or takes the project's when created)."""
    stored, created = await db.write(
        service.put_kpi, project_key=key, kpi_key=kpi, data=body, if_match=if_match, actor=caller
    )
    return _kpi_response(stored, project_key=key, status_code=201 if created else 200)


@router.patch(
    KPI_PATH,
    response_model=KpiRead,
    summary="Update a KPI",
    responses=problem_responses(400, 401, 403, 404, 412, 413, 415, 422),
)
async def update_kpi(
    key: ProjectKey,
    kpi: KpiKey,
    patch: Annotated[
        dict[str, Any],
        Body(media_type="application/merge-patch+json", description="A JSON merge patch (RFC 7396) of the KPI."),
    ],
    db: DbDep,
    caller: Writer,
    if_match: IfMatchDep,
) -> Response:
    """Change some fields of a KPI; `If-Match` guards against lost updates."""
    updated = await db.write(
        service.patch_kpi, project_key=key, kpi_key=kpi, patch=patch, if_match=if_match, actor=caller
    )
    return _kpi_response(updated, project_key=key)


@router.delete(
    KPI_PATH,
    status_code=204,
    summary="Delete a KPI",
    responses=problem_responses(401, 403, 404, 412, 422),
)
async def delete_kpi(key: ProjectKey, kpi: KpiKey, db: DbDep, caller: Admin, if_match: IfMatchDep) -> Response:
    """Delete a KPI and its measurements (admin)."""
    await db.write(service.delete_kpi, project_key=key, kpi_key=kpi, if_match=if_match, actor=caller)
    return Response(status_code=204)


@router.post(
    f"{KPI_PATH}/measurements",
    status_code=201,
    response_model=MeasurementRead,
    summary="Record a measurement of a KPI",
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
)
async def add_measurement(
    key: ProjectKey, kpi: KpiKey, body: MeasurementCreate, access: WriterAccess, idempotency: IdempotencyDep
) -> Response:
    """One observed value of the KPI. `measured_at` defaults to now and may be at most 5 minutes
    ahead. A point is identified by its KPI and `measured_at`: sent again with the same instant, it
    replaces the stored value (200, same id) instead of adding a point; without `measured_at` it is
    always a new point (201)."""
    return await idempotent(
        access.db,
        idempotency,
        service.add_measurement,
        lambda stored: json_response(
            MeasurementRead.from_measurement(stored[0]), status_code=201 if stored[1] == "created" else 200
        ),
        project_key=key,
        kpi_key=kpi,
        data=body,
        actor=access.caller,
    )


@router.get(
    f"{KPI_PATH}/measurements",
    response_model=Page[MeasurementRead],
    summary="List a KPI's measurements",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_measurements(
    key: ProjectKey,
    kpi: KpiKey,
    db: DbDep,
    caller: Reader,
    since: Annotated[UTCTimestamp | None, Query(alias="from", description="Measured at or after.")] = None,
    until: Annotated[UTCTimestamp | None, Query(alias="to", description="Measured before.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """Measurements newest first; `from` is inclusive, `to` exclusive."""
    measurements, next_cursor = await db.read(
        service.list_measurements,
        project_key=key,
        kpi_key=kpi,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )
    page = Page[MeasurementRead](
        items=[MeasurementRead.from_measurement(m) for m in measurements], next_cursor=next_cursor
    )
    return json_response(page)


@router.delete(
    f"{KPI_PATH}/measurements/{{measurement_id}}",
    status_code=204,
    summary="Delete a wrong measurement",
    responses=problem_responses(401, 403, 404, 422),
)
async def delete_measurement(
    key: ProjectKey, kpi: KpiKey, measurement_id: uuid.UUID, db: DbDep, caller: Admin
) -> Response:
    """Correct a wrong measurement (admin); the KPI's latest falls back to the newest one left."""
    await db.write(
        service.delete_measurement, project_key=key, kpi_key=kpi, measurement_id=measurement_id, actor=caller
    )
    return Response(status_code=204)


@router.post(
    "/measurements:batch",
    status_code=201,
    response_model=MeasurementBatchResult,
    summary="Record many measurements at once",
    responses=problem_responses(400, 401, 403, 413, 415, 422),
)
async def add_measurements_batch(
    body: MeasurementBatch, db: DbDep, caller: Writer, idempotency: IdempotencyDep
) -> Response:
    """Up to 10,000 measurements across projects and KPIs, all or nothing: if any item is invalid
    or names an unknown project or KPI, nothing is stored and the 422 lists every bad item by index.
    Re-runnable: an item whose KPI and `measured_at` are already stored replaces that point, so the
    same batch sent twice stores each point once; the answer counts what was created, updated and
    left unchanged."""
    return await idempotent(
        db,
        idempotency,
        service.add_measurements_batch,
        lambda counts: json_response(
            MeasurementBatchResult(
                stored=counts["created"] + counts["updated"],
                created=counts["created"],
                updated=counts["updated"],
                unchanged=counts["unchanged"],
            ),
            status_code=201,
        ),
        items=body.items,
        actor=caller,
    )


@router.get(
    "/projects/{key}/roi",
    response_model=RoiRead,
    summary="Return on investment of a project",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_roi(
    key: ProjectKey,
    db: DbDep,
    caller: Reader,
    horizon_months: Annotated[int, Query(ge=1, le=120, description="Months to add up.")] = 12,
) -> Response:
    """Monthly benefit realized (latest measurements) and projected (targets), split by cost
    reduction, time savings, revenue and risk mitigation; total cost (`build_cost +
    run_cost_per_month × horizon`), net value, ROI % and payback months. A KPI's monthly benefit is
    its improvement over the baseline, in its direction, times `value_per_unit`. Money is rounded
    to cents, percentages and months to two decimals, half to even."""
    report = await db.read(service.project_roi, project_key=key, horizon_months=horizon_months)
    return json_response(RoiRead.from_report(report))
