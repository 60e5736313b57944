"""Who is calling: the bearer credential, checked against the role an operation needs."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.base import SecurityBase
from starlette.datastructures import Headers
from starlette.types import Scope

from app.auth import scope
from app.auth.authenticator import Authenticator
from app.core.db import Database
from app.core.errors import Forbidden, NotFound
from app.core.http import API_PREFIX, CALLER_STATE_KEY
from app.core.identity import Caller, Role
from app.core.settings import Settings
from app.core.strict import refuse_unknown_query_parameters

PROJECT_PATH = f"{API_PREFIX}/projects/{{key}}"
SCHEME_NAME = "HTTPBearer"
BEARER_DESCRIPTION = (
    "An API key (`Authorization: Bearer rdy_...`) or an access token from the configured OpenID provider."
)
bearer = HTTPBearer(auto_error=False, scheme_name=SCHEME_NAME, description=BEARER_DESCRIPTION)


def bearer_credential(headers: Headers) -> str | None:
    """The credential of an `Authorization: Bearer ...` header, as HTTPBearer reads it."""
    scheme, _, credential = headers.get("authorization", "").partition(" ")
    credential = credential.strip()
    return credential if scheme.lower() == "bearer" and credential else None


async def _caller_of(asgi_scope: Scope, authenticator: Authenticator, credential: str | None) -> Caller:
    """The request's caller, authenticated once however many dependencies ask (a second check
    would take a second token from the caller's rate limit)."""
    state = asgi_scope.setdefault("state", {})
    caller = state.get(CALLER_STATE_KEY)
    if caller is None:
        caller = state[CALLER_STATE_KEY] = await authenticator.authenticate(asgi_scope, credential)
    scope.limit_to(caller.departments)
    return cast(Caller, caller)


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    authenticator = cast(Authenticator, request.app.state.authenticator)
    return await _caller_of(request.scope, authenticator, credentials.credentials if credentials else None)


async def authenticate_scope(asgi_scope: Scope, authenticator: Authenticator, role: Role) -> Caller:
    """Authenticate from the raw request, before routing: what the body guard does for batches, so
    that only a caller who may send one makes the service read a large body."""
    caller = await authenticator.authenticate(asgi_scope, bearer_credential(Headers(scope=asgi_scope)))
    if not caller.role.allows(role):
        raise Forbidden(f"This operation needs the {role.value} role; the caller has {caller.role.value}.")
    return caller


# A scoped caller's access to `/projects/{key}` is judged before the body is read, by the look-up of
# a project's department that the projects domain, a layer above, registers.
DepartmentOf = Callable[..., tuple[bool, str | None]]
_department_of: list[DepartmentOf] = []


def scope_projects_with(department_of: DepartmentOf) -> None:
    """Register how a project's department is found from its key: `department_of(session, key=...)`."""
    _department_of[:] = [department_of]


async def _check_project_scope(request: Request, caller: Caller) -> None:
    """A scoped caller learns nothing of a project outside its departments, whatever it sends: the
    404 comes before the body is validated. The services apply the scope again on every query."""
    path_format = getattr(request.scope.get("route"), "path_format", "")
    if caller.departments is None or not path_format.startswith(PROJECT_PATH):
        return
    key = request.path_params["key"]
    (department_of,) = _department_of
    exists, department = await cast(Database, request.app.state.db).read(department_of, key=key)
    # A missing project is 404 here too, so that a 404 never tells "elsewhere" from "nowhere"; only
    # PUT on the project itself may create it.
    creating = not exists and request.method == "PUT" and path_format == PROJECT_PATH
    if not creating and (not exists or not scope.can_see(department)):
        raise NotFound(f"No project with key {key!r}.")


class _Guard(SecurityBase):
    """An operation's whole guard in one dependency: the bearer credential, the role, the strict
    query parameters and the department scope. One dependency instead of a chain, because FastAPI
    solves every link of a chain on every request; being the security scheme itself, it keeps the
    contract's `HTTPBearer` requirement on each operation."""

    def __init__(self, role: Role) -> None:
        self.model = HTTPBearerModel(description=BEARER_DESCRIPTION)
        self.scheme_name = SCHEME_NAME
        self.role = role
        # Read by the OpenAPI document, which states each operation's role (x-required-role).
        self.required_role = role.value

    async def check(self, request: Request) -> Caller:
        authenticator = cast(Authenticator, request.app.state.authenticator)
        caller = await _caller_of(request.scope, authenticator, bearer_credential(request.headers))
        if not caller.role.allows(self.role):
            raise Forbidden(f"This operation needs the {self.role.value} role; the caller has {caller.role.value}.")
        refuse_unknown_query_parameters(request)
        await _check_project_scope(request, caller)
        return caller


class Require(_Guard):
    async def __call__(self, request: Request) -> Caller:
        return await self.check(request)


@dataclass(frozen=True)
class Access:
    """What an operation works with: its caller, the database and the settings."""

    caller: Caller
    db: Database
    settings: Settings


class RequireAccess(_Guard):
    """The guard that also hands over the database and the settings: for the hot operations, where
    each further dependency FastAPI solves is a measurable part of the request."""

    async def __call__(self, request: Request) -> Access:
        caller = await self.check(request)
        state = request.app.state
        return Access(caller, cast(Database, state.db), cast(Settings, state.settings))


Reader = Annotated[Caller, Depends(Require(Role.reader))]
Writer = Annotated[Caller, Depends(Require(Role.writer))]
Approver = Annotated[Caller, Depends(Require(Role.approver))]
Admin = Annotated[Caller, Depends(Require(Role.admin))]
ReaderAccess = Annotated[Access, Depends(RequireAccess(Role.reader))]
WriterAccess = Annotated[Access, Depends(RequireAccess(Role.writer))]
