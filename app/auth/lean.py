"""The lean read path: the hot reads answered without FastAPI's per-request machinery.

An operation marked `@lean` stays an ordinary FastAPI route: it is declared, documented and
validated in the contract like every other. But a GET that matches it is answered here, one layer
in from the request middleware, by calling the route's own endpoint: its path, query and header
parameters validated by FastAPI's own validators, its guard (credential, role, rate limit, strict
query parameters, department scope) run as the same code, errors rendered by the same problem
handlers. What is skipped is what the profile found costly and the answer does not need: walking
the router's hundred routes, the exception and exit-stack middleware, and solving the dependency
graph anew on every request. Endpoints on this path send their body as they built it; the contract
tests hold those bodies to the response models.
"""

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth.dependencies import Access, RequireAccess
from app.core.db import Database
from app.core.errors import problem_for
from app.core.settings import Settings

EndpointT = TypeVar("EndpointT", bound=Callable[..., Awaitable[Any]])


def lean(endpoint: EndpointT) -> EndpointT:
    """Answer this GET operation on the lean path. Its dependencies may only be its access guard
    and plain functions of query parameters; the application refuses to start otherwise."""
    endpoint.__lean__ = True  # type: ignore[attr-defined]
    return endpoint


@dataclass(frozen=True)
class _Filter:
    """A dependency that only reads query parameters (the portfolio's filters, say)."""

    name: str
    call: Callable[..., Any]
    dependant: Dependant
    awaited: bool


@dataclass(frozen=True)
class LeanRoute:
    route: APIRoute
    guard: RequireAccess
    guard_name: str
    filters: tuple[_Filter, ...]

    @classmethod
    def of(cls, route: APIRoute) -> "LeanRoute":
        dependant = route.dependant
        if route.methods != {"GET"} or dependant.body_params or dependant.cookie_params:
            raise TypeError(f"{route.path}: only a GET without body or cookies can be lean")
        guards = [d for d in dependant.dependencies if isinstance(d.call, RequireAccess)]
        others = [d for d in dependant.dependencies if not isinstance(d.call, RequireAccess)]
        if len(guards) != 1 or guards[0].name is None:
            raise TypeError(f"{route.path}: a lean operation takes its access guard as a parameter")
        filters = []
        for other in others:
            if other.dependencies or other.path_params or other.header_params or other.body_params or not other.name:
                raise TypeError(f"{route.path}: {other.name} is more than a function of query parameters")
            assert other.call is not None
            filters.append(_Filter(other.name, other.call, other, inspect.iscoroutinefunction(other.call)))
        return cls(route, cast(RequireAccess, guards[0].call), guards[0].name, tuple(filters))

    async def arguments(self, request: Request) -> dict[str, Any]:
        """The endpoint's arguments, validated as FastAPI validates them; the guard runs first, so
        that a caller who may not ask learns nothing from a validation error."""
        dependant, query = self.route.dependant, request.query_params
        access = Access(await self.guard.check(request), *_shared(request))
        values, errors = request_params_to_args(dependant.path_params, request.path_params)
        for params, received in (
            (dependant.query_params, query),
            (dependant.header_params, request.headers),
        ):
            found, wrong = request_params_to_args(params, received)
            values.update(found)
            errors += wrong
        for dependency in self.filters:
            found, wrong = request_params_to_args(dependency.dependant.query_params, query)
            errors += wrong
            if not wrong:
                value = dependency.call(**found)
                values[dependency.name] = await value if dependency.awaited else value
        if errors:
            raise RequestValidationError(errors)
        values[self.guard_name] = access
        return values


def _shared(request: Request) -> tuple[Database, Settings]:
    state = request.app.state
    return cast(Database, state.db), cast(Settings, state.settings)


def lean_routes(routes: Sequence[Any]) -> list[LeanRoute]:
    return [
        LeanRoute.of(route)
        for route in routes
        if isinstance(route, APIRoute) and getattr(route.endpoint, "__lean__", False)
    ]


class LeanReads:
    """ASGI middleware: GETs of the lean operations answered by their endpoints directly; every
    other request goes on to the application as before."""

    def __init__(self, app: ASGIApp, *, routes: Sequence[LeanRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path = scope["path"]
            for lean_route in self.routes:
                match = lean_route.route.path_regex.match(path)
                if match is not None:
                    await self._answer(lean_route, match.groupdict(), scope, receive, send)
                    return
        await self.app(scope, receive, send)

    @staticmethod
    async def _answer(
        lean_route: LeanRoute, path_params: dict[str, str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        # What routing would have set: the metrics name the route's template, the guard reads both.
        scope["route"] = lean_route.route
        scope["path_params"] = path_params
        request = Request(scope, receive)
        try:
            arguments = await lean_route.arguments(request)
            response = await lean_route.route.endpoint(**arguments)
        except Exception as error:
            response = await problem_for(request, error)
        await response(scope, receive, send)
