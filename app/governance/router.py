"""Governance views over the portfolio: the framework crosswalk of a rubric, how the portfolio covers
a framework, and what holds it back."""

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query
from starlette.responses import Response

from app.auth.dependencies import Reader
from app.core.db import utcnow
from app.core.deps import DbDep, IfNoneMatchHeader, SettingsDep
from app.core.errors import problem_responses
from app.core.http import API_PREFIX, json_response
from app.core.pagination import Cursor, Limit, Page
from app.engine.default_rubric import KEY as DEFAULT_RUBRIC_KEY
from app.engine.frameworks import Framework
from app.governance import service as governance
from app.governance.schemas import (
    BlockedProject,
    BlockersRead,
    CrosswalkRead,
    FrameworkCoverageRead,
    FrameworkCoverageRow,
)
from app.portfolio.http import CSV_MEDIA_TYPE, POLLED_HEADERS, Filters, RubricFilter, csv_cell, polled, wants_csv
from app.rubrics.router import RubricKey
from app.rubrics.schemas import MAX_VERSION

router = APIRouter(prefix=API_PREFIX, tags=["portfolio"])
crosswalk_router = APIRouter(prefix=f"{API_PREFIX}/rubrics", tags=["rubrics"])

COVERAGE_COLUMNS = list(FrameworkCoverageRow.model_fields)


@router.get(
    "/portfolio/frameworks/{framework}",
    response_model=FrameworkCoverageRead,
    summary="How the portfolio covers a governance framework",
    responses={
        200: {"content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}}, "description": "JSON, or CSV on request"},
        304: {"description": "Not Modified"},
        **problem_responses(401, 403, 404, 422),
    },
)
async def portfolio_framework(
    framework: Framework,
    db: DbDep,
    settings: SettingsDep,
    caller: Reader,
    filters: Filters,
    rubric: RubricFilter = DEFAULT_RUBRIC_KEY,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
    if_none_match: IfNoneMatchHeader = None,
) -> Response:
    """For each identifier of the framework that the rubric maps (its latest version), how many
    projects meet the criteria mapped to it, partially meet them, do not, or are not yet held to
    them, from each project's current readiness: so that "how many of our production systems have
    monitoring that answers NIST AI RMF MANAGE 4.1" is `?stage=production` and one row. `rule` says
    how a project is counted. Retired projects are left out. With `Accept: text/csv`, one row per
    identifier (criteria joined by spaces). The mappings are pointers, not findings of conformity."""
    coverage = await db.read(
        governance.framework_coverage,
        framework=framework,
        rubric_key=rubric,
        filters=filters,
        now=utcnow(),
        limits=settings.stage_limits,
    )
    read = FrameworkCoverageRead.model_validate(coverage)
    if wants_csv(accept):
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(COVERAGE_COLUMNS)
        for row in read.identifiers:
            shown = row.model_dump(mode="json")
            shown["criteria"] = " ".join(row.criteria)
            writer.writerow([csv_cell(shown[column]) for column in COVERAGE_COLUMNS])
        return Response(
            buffer.getvalue(),
            media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
            headers={
                **POLLED_HEADERS,
                "Content-Disposition": f'attachment; filename="portfolio-{framework.value}.csv"',
            },
        )
    return polled(read, if_none_match)


@router.get(
    "/portfolio/blockers",
    response_model=BlockersRead,
    summary="What holds the portfolio back",
    responses={304: {"description": "Not Modified"}, **problem_responses(401, 403, 404, 422)},
)
async def portfolio_blockers(
    db: DbDep,
    settings: SettingsDep,
    caller: Reader,
    filters: Filters,
    rubric: RubricFilter = DEFAULT_RUBRIC_KEY,
    keys: Annotated[int, Query(ge=0, le=200, description="Project keys listed with each criterion.")] = 20,
    if_none_match: IfNoneMatchHeader = None,
) -> Response:
    """The rubric's criteria ranked by how many projects they hold back, of the projects that match
    the filters: as go-live gate blockers of projects in pilot or earlier, and as the one fix that
    would lift a project to its next readiness level (`rule` says how that is worked out). Each
    with the playbook's guidance, the count, and the first `keys` project keys; the rest through
    `GET /portfolio/blockers/{criterion}/projects`. Retired projects are left out."""
    found = await db.read(
        governance.blockers, rubric_key=rubric, filters=filters, keys=keys, now=utcnow(), limits=settings.stage_limits
    )
    return polled(BlockersRead.model_validate(found), if_none_match)


@router.get(
    "/portfolio/blockers/{criterion}/projects",
    response_model=Page[BlockedProject],
    summary="The projects a criterion holds back",
    responses={304: {"description": "Not Modified"}, **problem_responses(400, 401, 403, 404, 422)},
)
async def portfolio_blocked_projects(
    criterion: Annotated[str, Path(max_length=120, description="The criterion's key.")],
    db: DbDep,
    settings: SettingsDep,
    caller: Reader,
    filters: Filters,
    kind: Annotated[
        governance.Kind, Query(description="`gate`: blocks go-live; `next_level`: its fix lifts the project's level.")
    ],
    rubric: RubricFilter = DEFAULT_RUBRIC_KEY,
    limit: Limit = 50,
    cursor: Cursor = None,
    if_none_match: IfNoneMatchHeader = None,
) -> Response:
    """A page of the projects, by key, that the criterion holds back in the sense of `kind`, of the
    projects that match the filters: the list behind a row of `GET /portfolio/blockers`."""
    rows, next_cursor = await db.read(
        governance.blocked_projects,
        rubric_key=rubric,
        criterion=criterion,
        kind=kind,
        filters=filters,
        limit=limit,
        cursor=cursor,
        now=utcnow(),
        limits=settings.stage_limits,
    )
    return polled(
        Page[BlockedProject](items=[BlockedProject.model_validate(r) for r in rows], next_cursor=next_cursor),
        if_none_match,
    )


@crosswalk_router.get(
    "/{key}/crosswalk",
    response_model=CrosswalkRead,
    summary="A rubric mapped to a governance framework",
    responses=problem_responses(401, 403, 404, 422),
)
async def rubric_crosswalk(
    key: RubricKey,
    db: DbDep,
    caller: Reader,
    framework: Annotated[Framework, Query(description="The framework to file the criteria under.")],
    version: Annotated[
        int | None, Query(ge=1, le=MAX_VERSION, description="A published version; the latest by default.")
    ] = None,
) -> Response:
    """For each identifier of the framework (NIST AI RMF subcategory, ISO/IEC 42001 Annex A control,
    EU AI Act article, ML Test Score test), the rubric's criteria that map to it, with the strength
    of each correspondence and why. References are pointers for a governance team, not findings of
    conformity, and not legal advice; EU AI Act articles other than Art. 4 bind only high-risk AI
    systems, and each such reference says so in its `note`."""
    found = await db.read(governance.crosswalk, key=key, framework=framework, version=version)
    return json_response(CrosswalkRead.model_validate(found, from_attributes=True))
