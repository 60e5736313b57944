"""HTTP plumbing shared by every route: JSON responses and the request middleware."""

import itertools
import logging
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import FieldError, ProblemError, problem_response
from app.core.logging import client_request_id_var, request_id_var
from app.core.metrics import Metrics
from app.core.ratelimit import RATE_LIMIT_HEADERS_KEY
from app.core.yaml_documents import YamlError, is_yaml, json_of

logger = logging.getLogger("app.requests")

# Routers carry the full prefix themselves, so that a route's template is its whole path (metrics).
API_PREFIX = "/api/v1"
JSON_MEDIA_TYPE = "application/json"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
CALLER_STATE_KEY = "caller"
# Room around an uploaded file for the multipart boundaries and part headers.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class _RequestIds:
    """Unique request ids without a call to the system's random source per request (a tenth of a
    request's time on the hot reads): a random prefix per process, then a counter. 32 hex digits,
    as a UUID's; unique, not secret."""

    def __init__(self) -> None:
        self._reseed()
        os.register_at_fork(after_in_child=self._reseed)

    def _reseed(self) -> None:
        self._prefix = uuid.uuid4().hex[:16]
        self._counter = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


_request_ids = _RequestIds()


def json_response(model: BaseModel, *, status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """Serialise with pydantic-core directly: the route declares the model only for the contract."""
    return Response(
        content=model.model_dump_json(), status_code=status_code, headers=headers, media_type=JSON_MEDIA_TYPE
    )


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == JSON_MEDIA_TYPE or (media_type.startswith("application/") and media_type.endswith("+json"))


class RequestMiddleware:
    """Request id, body size and media type guard, security headers, access log and metrics.

    One pure ASGI middleware instead of several: each layer of BaseHTTPMiddleware costs a task
    hand-off per request on the hot path.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        max_body_bytes: int,
        max_batch_body_bytes: int,
        batch_paths: Sequence[re.Pattern[str]],
        max_upload_bytes: int,
        upload_paths: Sequence[re.Pattern[str]],
        authenticate: Callable[[Scope], Awaitable[object]],
        allowed_methods: Callable[[str], set[str]],
        yaml_paths: Sequence[re.Pattern[str]] = (),
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.max_batch_body_bytes = max_batch_body_bytes
        self.batch_paths = batch_paths
        # A file's bytes, with room for the multipart framing around them.
        self.max_upload_body_bytes = max_upload_bytes + MULTIPART_OVERHEAD_BYTES
        self.upload_paths = upload_paths
        self.authenticate = authenticate
        # Operations that take YAML as well: its body is read here into the JSON the route validates.
        self.yaml_paths = yaml_paths
        # A method the path does not take is the router's 405 (or 404), whatever its body.
        self.allowed_methods = allowed_methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = Headers(scope=scope)
        supplied = headers.get("x-request-id", "")
        client_request_id = supplied if _REQUEST_ID.match(supplied) else None
        request_id = _request_ids.next()
        token = request_id_var.set(request_id)
        client_token = client_request_id_var.set(client_request_id)
        status = 500
        started_response = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status, started_response = message["status"], True
                response_headers = MutableHeaders(scope=message)
                # The caller's own id comes back when it sent one, so that it can match the answer.
                response_headers["X-Request-ID"] = client_request_id or request_id
                for name, value in scope.get("state", {}).get(RATE_LIMIT_HEADERS_KEY, {}).items():
                    response_headers.setdefault(name, value)
                response_headers.setdefault("X-Content-Type-Options", "nosniff")
                response_headers.setdefault("Cache-Control", "no-store")
            await send(message)

        try:
            rejection, receive = await self._guard_body(scope, headers, receive)
            if rejection is not None:
                await rejection(scope, receive, send_with_headers)
            else:
                await self.app(scope, receive, send_with_headers)
        except Exception as error:
            # Answered here, not by Starlette's outermost handler: that one raises again once it has
            # answered, and the server then closes the client's keep-alive connection.
            if started_response:
                raise
            logger.error("unhandled error on %s %s", scope["method"], scope["path"], exc_info=error)
            failed = problem_response(500, "internal-error", "The server failed to handle the request.")
            await failed(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.observe_request(scope["method"], route_template(scope), status, elapsed)
            # Checked first: the record's fields cost more to build than a disabled log call.
            if logger.isEnabledFor(logging.INFO):
                logger.info(
                    "%s %s %s",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(token)
            client_request_id_var.reset(client_token)

    async def _guard_body(self, scope: Scope, headers: Headers, receive: Receive) -> tuple[Response | None, Receive]:
        """Read the whole body up front, refusing it early when it is too large or not JSON.

        Only the batch operations and file uploads take larger limits, and only from an authenticated
        caller: the credential is checked before a byte of the body is read, so that nobody can make
        the service hold large bodies without one. Uploads are multipart, not JSON. The operations
        that take YAML read it here into JSON, for an authenticated caller too.
        """
        # One function: the body is read once, and each refusal (size, credential, media type) must
        # come before the step that would read more of it.
        if scope["method"] not in BODY_METHODS:
            return None, receive
        posted = scope["method"] == "POST"
        batch = posted and any(pattern.match(scope["path"]) for pattern in self.batch_paths)
        upload = posted and any(pattern.match(scope["path"]) for pattern in self.upload_paths)
        content_type = headers.get("content-type", "")
        yaml_body = (
            posted and is_yaml(content_type) and any(pattern.match(scope["path"]) for pattern in self.yaml_paths)
        )
        limit = self.max_batch_body_bytes if batch else self.max_upload_body_bytes if upload else self.max_body_bytes
        too_large = problem_response(
            413,
            "payload-too-large",
            f"The request body exceeds the limit of {limit} bytes for this endpoint.",
        )
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return too_large, receive
        # Reading YAML costs far more than JSON: only an authenticated caller makes the service do it.
        if batch or upload or yaml_body:
            try:
                scope.setdefault("state", {})[CALLER_STATE_KEY] = await self.authenticate(scope)
            except ProblemError as error:
                return problem_response(error.status, error.slug, error.detail, headers=error.headers), receive
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return too_large, receive
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body and yaml_body:
            try:
                body = json_of(body)
            except YamlError as error:
                return problem_response(
                    422,
                    "validation-failed",
                    f"The YAML body does not parse: {error}.",
                    errors=[FieldError(field="body", message=str(error))],
                ), receive
            _as_json(scope, len(body))
        elif (
            body
            and scope["path"].startswith("/api/")
            and not upload
            and not _is_json(content_type)
            and scope["method"] in self.allowed_methods(scope["path"])
        ):
            return problem_response(
                415,
                "unsupported-media-type",
                "Request bodies must be JSON (or YAML where an operation says it takes it): "
                "send Content-Type: application/json.",
            ), receive
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return None, replay


def _as_json(scope: Scope, length: int) -> None:
    """The request's headers as they are for the JSON it now carries instead of its YAML."""
    kept = [(name, value) for name, value in scope["headers"] if name not in (b"content-type", b"content-length")]
    scope["headers"] = [*kept, (b"content-type", JSON_MEDIA_TYPE.encode()), (b"content-length", str(length).encode())]


def route_template(scope: Mapping[str, Any]) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"
