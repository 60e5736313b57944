"""What the portfolio's reads and the views built on them share over HTTP: the filters, the answer to
a poller, CSV cells."""

from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import BaseModel
from starlette.responses import Response

from app.auth import scope
from app.core.http import JSON_MEDIA_TYPE
from app.core.preconditions import data_etag, if_none_match_hits
from app.engine.frameworks import RiskTier
from app.engine.scoring import Level
from app.engine.stages import Stage
from app.engine.stall import Risk
from app.portfolio import service
from app.projects.router import Owner

CSV_MEDIA_TYPE = "text/csv"


# Cells a spreadsheet would run as a formula (OWASP: CSV injection) are quoted with a leading '.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


Filter = Annotated[str | None, Query(max_length=100)]


RubricFilter = Annotated[
    str, Query(max_length=63, description="The rubric whose current results are read; projects it governs.")
]


async def portfolio_filters(
    department: Filter = None,
    region: Filter = None,
    stage: Stage | None = None,
    level: Level | None = None,
    risk: Risk | None = None,
    owner: Owner = None,
    tag: Filter = None,
    risk_tier: Annotated[
        RiskTier | None, Query(description="The EU AI Act risk tier an approver classified the project in.")
    ] = None,
) -> service.Filters:
    return service.Filters(department, region, stage, level.value if level else None, risk, owner, tag, risk_tier)


Filters = Annotated[service.Filters, Depends(portfolio_filters)]


# Portfolio answers depend on who asks (scope) and how (Accept): caches must keep them apart, and
# check with the service before reusing one.
POLLED_HEADERS = {"Cache-Control": "private, no-cache", "Vary": "Accept, Authorization"}


def polled(model: BaseModel, if_none_match: str | None) -> Response:
    """The answer to a poller: 304 when its ETag still names the answer, else the answer with its ETag."""
    body = model.model_dump_json()
    tag = data_etag(body.encode(), audience=scope.departments())
    headers = {**POLLED_HEADERS, "ETag": tag}
    if if_none_match_hits(if_none_match, tag):
        return Response(status_code=304, headers=headers)
    return Response(content=body, headers=headers, media_type=JSON_MEDIA_TYPE)


def csv_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def wants_csv(accept: str | None) -> bool:
    return accept is not None and CSV_MEDIA_TYPE in accept
