"""Dependency aliases that make endpoint signatures read like prose."""

from typing import Annotated, cast

from fastapi import Depends, Header, Request

from app.core.db import Database
from app.core.preconditions import IfMatch
from app.core.settings import Settings


# Dependencies are `async def` although they never await: FastAPI runs a plain `def` dependency in
# the thread pool, a thread hand-off per request for nothing.
async def get_db(request: Request) -> Database:
    return cast(Database, request.app.state.db)


async def get_settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


async def get_if_match(
    if_match: Annotated[
        str | None,
        Header(description="Change only if the resource's current ETag is one of these (412 otherwise)."),
    ] = None,
) -> IfMatch | None:
    return IfMatch.parse(if_match)


IfNoneMatchHeader = Annotated[
    str | None, Header(description="Answer 304 Not Modified when the current ETag is one of these.")
]
DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
IfMatchDep = Annotated[IfMatch | None, Depends(get_if_match)]
