"""Who is calling: the bearer credential, checked against the role an operation needs."""

from collections.abc import Awaitable, Callable
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import Headers
from starlette.types import Scope

from app.auth import scope
from app.auth.authenticator import Authenticator
from app.auth.schemas import Role
from app.auth.service import Caller
from app.core.db import Database
from app.core.errors import Forbidden, NotFound
from app.core.http import API_PREFIX, CALLER_STATE_KEY
from app.core.strict import refuse_unknown_query_parameters
from app.projects.models import Project

PROJECT_PATH = f"{API_PREFIX}/projects/{{key}}"
bearer = HTTPBearer(
    auto_error=False,
    description="An API key (`Authorization: Bearer rdy_...`) or an access token from the configured OpenID provider.",
)


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    caller = request.scope.get("state", {}).get(CALLER_STATE_KEY)
    if caller is None:
        authenticator = cast(Authenticator, request.app.state.authenticator)
        caller = await authenticator.authenticate(request.scope, credentials.credentials if credentials else None)
    scope.limit_to(caller.departments)
    return cast(Caller, caller)


async def authenticate_scope(asgi_scope: Scope, authenticator: Authenticator, role: Role) -> Caller:
    """Authenticate from the raw request, before routing: what the body guard does for batches, so
    that only a caller who may send one makes the service read a large body."""
    header = Headers(scope=asgi_scope).get("authorization", "")
    scheme, _, credential = header.partition(" ")
    given = credential.strip() if scheme.lower() == "bearer" and credential.strip() else None
    caller = await authenticator.authenticate(asgi_scope, given)
    if not caller.role.allows(role):
        raise Forbidden(f"This operation needs the {role.value} role; the caller has {caller.role.value}.")
    return caller


def _department_of(session: Session, *, key: str) -> tuple[bool, str | None]:
    department = session.execute(select(Project.department).where(Project.key == key)).first()
    return department is not None, department[0] if department is not None else None


async def _check_project_scope(request: Request, caller: Caller) -> None:
    """A scoped caller learns nothing of a project outside its departments, whatever it sends: the
    404 comes before the body is validated. The services apply the scope again on every query."""
    path_format = getattr(request.scope.get("route"), "path_format", "")
    if caller.departments is None or not path_format.startswith(PROJECT_PATH):
        return
    key = request.path_params["key"]
    exists, department = await cast(Database, request.app.state.db).read(_department_of, key=key)
    # A missing project is 404 here too, so that a 404 never tells "elsewhere" from "nowhere"; only
    # PUT on the project itself may create it.
    creating = not exists and request.method == "PUT" and path_format == PROJECT_PATH
    if not creating and (not exists or not scope.can_see(department)):
        raise NotFound(f"No project with key {key!r}.")


def require(role: Role) -> Callable[[Request, Caller], Awaitable[Caller]]:
    async def check_role(request: Request, caller: Annotated[Caller, Depends(authenticate)]) -> Caller:
        if not caller.role.allows(role):
            raise Forbidden(f"This operation needs the {role.value} role; the caller has {caller.role.value}.")
        refuse_unknown_query_parameters(request)
        await _check_project_scope(request, caller)
        return caller

    check_role.__name__ = f"require_{role.value}"
    # Read by the OpenAPI document, which states each operation's role (x-required-role).
    check_role.required_role = role.value  # type: ignore[attr-defined]
    return check_role


Reader = Annotated[Caller, Depends(require(Role.reader))]
Writer = Annotated[Caller, Depends(require(Role.writer))]
Approver = Annotated[Caller, Depends(require(Role.approver))]
Admin = Annotated[Caller, Depends(require(Role.admin))]
