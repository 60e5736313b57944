"""Domain errors and their RFC 9457 problem+json rendering: the one place errors become HTTP."""

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.db import is_database_unavailable

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
# Relative references (RFC 9457 §3.1.1): resolved against the service that returned them.
PROBLEM_TYPE_BASE = "/problems/"


class FieldError(BaseModel):
    field: str = Field(description="Where the problem is, as a dotted path, e.g. `body.costs.currency`.")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem detail."""

    type: str = Field(description="A URI that identifies the kind of problem.")
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """Base of every error the service reports to its callers."""

    status: int = 500
    slug: str = "internal-error"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})

    @property
    def title(self) -> str:
        return HTTPStatus(self.status).phrase


class BadRequest(ProblemError):
    status, slug = 400, "bad-request"


class Unauthorized(ProblemError):
    status, slug = 401, "unauthorized"


class Forbidden(ProblemError):
    status, slug = 403, "forbidden"


class NotFound(ProblemError):
    status, slug = 404, "not-found"


class Conflict(ProblemError):
    status, slug = 409, "conflict"


class Gone(ProblemError):
    status, slug = 410, "gone"


class PreconditionFailed(ProblemError):
    status, slug = 412, "precondition-failed"


class PreconditionRequired(ProblemError):
    status, slug = 428, "precondition-required"


class PayloadTooLarge(ProblemError):
    status, slug = 413, "payload-too-large"


class UnsupportedMediaType(ProblemError):
    status, slug = 415, "unsupported-media-type"


class Unprocessable(ProblemError):
    status, slug = 422, "validation-failed"


class TooManyRequests(ProblemError):
    status, slug = 429, "too-many-requests"


class ServiceUnavailable(ProblemError):
    status, slug = 503, "service-unavailable"


def problem_response(
    status: int,
    slug: str,
    detail: str,
    *,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
    title: str | None = None,
) -> JSONResponse:
    problem = Problem(
        type=PROBLEM_TYPE_BASE + slug,
        title=title or HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        errors=list(errors) if errors is not None else None,
    )
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=status,
        headers=dict(headers or {}),
        media_type=PROBLEM_MEDIA_TYPE,
    )


def _field_path(location: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in location) or "body"


def validation_errors(raw_errors: Sequence[Any]) -> list[FieldError]:
    return [
        FieldError(field=_field_path(error.get("loc", ())), message=str(error.get("msg", "invalid")))
        for error in raw_errors
    ]


async def _on_problem(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ProblemError)
    return problem_response(error.status, error.slug, error.detail, errors=error.errors, headers=error.headers)


async def _on_request_validation(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    raw = error.errors()
    if any(item.get("type") == "json_invalid" for item in raw):
        message = next(
            (str(item.get("ctx", {}).get("error", "")) for item in raw if item.get("type") == "json_invalid"),
            "",
        )
        return problem_response(400, "malformed-json", f"The request body is not valid JSON: {message}".strip())
    return problem_response(422, "validation-failed", "The request has invalid fields.", errors=validation_errors(raw))


async def _on_http_exception(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    slugs = {404: "not-found", 405: "method-not-allowed"}
    detail = error.detail if isinstance(error.detail, str) else HTTPStatus(error.status_code).phrase
    headers = dict(error.headers or {})
    if error.status_code == 404:
        detail = "No such resource or route."
    if error.status_code == 405:
        # Each method of a path is a route of its own, so the router's Allow names only one of them.
        allowed = getattr(request.app.state, "allowed_methods", None)
        if allowed is not None:
            headers["Allow"] = ", ".join(sorted(allowed(request.url.path)))
    return problem_response(error.status_code, slugs.get(error.status_code, "http-error"), detail, headers=headers)


async def _on_database_error(_request: Request, error: Exception) -> JSONResponse:
    if isinstance(error, StaleDataError):
        return problem_response(
            409,
            "concurrent-modification",
            "The resource changed while this request ran; read it again and retry.",
        )
    if isinstance(error, sa_exc.DataError):
        # The database refused a value the validation let through (out of range, say): bad input.
        return problem_response(422, "validation-failed", "A value is out of the range the database can store.")
    if isinstance(error, sa_exc.IntegrityError):
        return problem_response(
            409, "conflict", "The change conflicts with the stored data (a concurrent write); retry."
        )
    if is_database_unavailable(error):
        return problem_response(
            503,
            "database-unavailable",
            "The database is unavailable or busy; retry shortly.",
            headers={"Retry-After": "2"},
        )
    return await _on_unexpected(_request, error)


async def _on_unexpected(request: Request, error: Exception) -> JSONResponse:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return problem_response(500, "internal-error", "The server failed to handle the request.")


_HANDLERS: dict[type[Exception], Callable[[Request, Exception], Awaitable[JSONResponse]]] = {
    ProblemError: _on_problem,
    RequestValidationError: _on_request_validation,
    StarletteHTTPException: _on_http_exception,
    StaleDataError: _on_database_error,
    sa_exc.SQLAlchemyError: _on_database_error,
}


def install_error_handlers(app: FastAPI) -> None:
    for error_type, handler in _HANDLERS.items():
        app.add_exception_handler(error_type, handler)


async def problem_for(request: Request, error: Exception) -> JSONResponse:
    """The problem document the application's handlers answer `error` with, for code that runs
    outside FastAPI's routing (the lean reads); an error no handler takes is raised again, a fault."""
    for error_type in type(error).__mro__:
        handler = _HANDLERS.get(error_type)
        if handler is not None:
            return await handler(request, error)
    raise error


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the problems an operation can return."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
