"""Who is calling: the bearer API key, checked against the role an operation needs."""

from collections.abc import Awaitable, Callable
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.schemas import Role
from app.auth.service import Caller, CallerCache, find_caller, hash_secret
from app.core.db import Database
from app.core.errors import Forbidden, Unauthorized

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer rdy_...`.")


def _challenge(error: str | None = None) -> dict[str, str]:
    value = 'Bearer realm="ai-readiness"'
    return {"WWW-Authenticate": f'{value}, error="{error}"' if error else value}


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    if credentials is None:
        raise Unauthorized("Send an API key: Authorization: Bearer <key>.", headers=_challenge())
    cache = cast(CallerCache, request.app.state.callers)
    digest = hash_secret(credentials.credentials)
    cached, caller = cache.get(digest)
    if not cached:
        caller = await cast(Database, request.app.state.db).read(find_caller, digest=digest)
        cache.put(digest, caller)
    if caller is None:
        raise Unauthorized("The API key is unknown or revoked.", headers=_challenge("invalid_token"))
    return caller


def require(role: Role) -> Callable[[Caller], Awaitable[Caller]]:
    async def check_role(caller: Annotated[Caller, Depends(authenticate)]) -> Caller:
        if not caller.role.allows(role):
            raise Forbidden(f"This operation needs the {role.value} role; the API key has {caller.role.value}.")
        return caller

    check_role.__name__ = f"require_{role.value}"
    # Read by the OpenAPI document, which states each operation's role (x-required-role).
    check_role.required_role = role.value  # type: ignore[attr-defined]
    return check_role


Reader = Annotated[Caller, Depends(require(Role.reader))]
Writer = Annotated[Caller, Depends(require(Role.writer))]
Admin = Annotated[Caller, Depends(require(Role.admin))]
