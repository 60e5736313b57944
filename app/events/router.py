import asyncio
import time
import uuid
from typing import Annotated, cast

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.auth.dependencies import Admin, Reader
from app.auth.idempotency import IdempotencyDep, respond, without_secret
from app.core.deps import DbDep, SettingsDep
from app.core.errors import FieldError, Unprocessable, problem_responses
from app.core.http import API_PREFIX, json_response
from app.core.pagination import Cursor, Limit, Page
from app.events import outbox, schemas, service
from app.events.models import Webhook
from app.events.service import Destinations

router = APIRouter(prefix=API_PREFIX)
MAX_WAIT_SECONDS = 30.0
# Events written by other processes are noticed by looking again this often during a long poll.
POLL_SECONDS = 0.5


class NewEvents:
    """Wakes long-polling feed readers when this process commits events."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._arrived = asyncio.Event()

    def bind(self) -> None:
        self._loop = asyncio.get_running_loop()

    def notify(self) -> None:
        """From any thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        self._arrived.set()
        self._arrived = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._arrived.wait(), timeout=seconds)
        except TimeoutError:
            pass


def _destinations(settings: SettingsDep) -> Destinations:
    return Destinations(settings.webhook_destinations, settings.webhook_allow_http)


@router.get(
    "/events",
    response_model=schemas.EventPage,
    summary="Follow what changed",
    tags=["events"],
    responses=problem_responses(400, 401, 403, 410, 422),
)
async def list_events(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    caller: Reader,
    after: Cursor = None,
    types: Annotated[
        str | None,
        Query(
            max_length=500,
            description="Comma-separated event types or `kind.*` patterns, e.g. `readiness.*,decision.recorded`.",
        ),
    ] = None,
    project: Annotated[str | None, Query(max_length=63, description="Only this project's events.")] = None,
    limit: Limit = 100,
    wait: Annotated[
        float, Query(ge=0, le=MAX_WAIT_SECONDS, description="Seconds to wait for an event when there is none yet.")
    ] = 0,
) -> Response:
    """The events after `after` in the order they were committed, in the same CloudEvents envelope
    webhooks receive, for systems that cannot accept inbound HTTP. Always answers a `next_cursor`,
    also on its last page: pass it as `after` to continue, and `wait` to long-poll (at most
    READINESS_EVENT_MAX_WAIT_SECONDS, 30 by default). A cursor older
    than the retention (READINESS_EVENT_RETENTION_DAYS, 30 by default) answers 410."""
    patterns = [p.strip() for p in types.split(",") if p.strip()] if types else None
    if patterns:
        try:
            schemas.check_patterns(patterns)
        except ValueError as error:
            raise Unprocessable(
                "The event types are not known.", errors=[FieldError(field="query.types", message=str(error))]
            ) from error
    position = service.parse_cursor(after)
    new_events = cast(NewEvents, request.app.state.new_events)
    deadline = time.monotonic() + min(wait, settings.event_max_wait_seconds)
    while True:
        bodies, next_cursor = await db.read(service.feed, after=position, types=patterns, project=project, limit=limit)
        remaining = deadline - time.monotonic()
        if bodies or remaining <= 0:
            break
        await new_events.wait(min(remaining, POLL_SECONDS))
    content = '{"items":[' + ",".join(bodies) + '],"next_cursor":"' + next_cursor + '"}'
    return Response(content=content, media_type="application/json")


def _read(webhook: Webhook) -> schemas.WebhookRead:
    return schemas.WebhookRead.model_validate(webhook)


def _with_secret(webhook: Webhook) -> schemas.WebhookCreated:
    """The only answers that show the signing secret: creation and rotation."""
    return schemas.WebhookCreated.model_validate({**_read(webhook).model_dump(), "secret": webhook.secret})


@router.post(
    "/webhooks",
    status_code=201,
    response_model=schemas.WebhookCreated,
    summary="Subscribe to events",
    tags=["webhooks"],
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422),
)
async def create_webhook(
    body: schemas.WebhookCreate, db: DbDep, settings: SettingsDep, caller: Admin, idempotency: IdempotencyDep
) -> Response:
    """Events of the given types (and departments) created from now on are POSTed to `url`,
    signed as the Standard Webhooks specification says. The signing secret is in this response
    only; store it now (admin). A replay of this request (same `Idempotency-Key`) answers the same
    subscription with `secret` null."""
    destinations = _destinations(settings)

    def subscribe(session: Session) -> Response:
        def created() -> Response:
            webhook = service.create_webhook(session, data=body, destinations=destinations, actor=caller)
            location = f"{API_PREFIX}/webhooks/{webhook.id}"
            return json_response(_with_secret(webhook), status_code=201, headers={"Location": location})

        return respond(session, idempotency, created, remember=without_secret)

    return await db.write(subscribe)


@router.get(
    "/webhooks",
    response_model=Page[schemas.WebhookRead],
    summary="List webhook subscriptions",
    tags=["webhooks"],
    responses=problem_responses(400, 401, 403, 422),
)
async def list_webhooks(db: DbDep, caller: Admin, limit: Limit = 50, cursor: Cursor = None) -> Response:
    """Oldest first (admin). Secrets are never shown again."""
    webhooks, next_cursor = await db.read(service.list_webhooks, limit=limit, cursor=cursor)
    return json_response(Page[schemas.WebhookRead](items=[_read(w) for w in webhooks], next_cursor=next_cursor))


@router.get(
    "/webhooks/{webhook_id:uuid}",
    response_model=schemas.WebhookRead,
    summary="A webhook subscription",
    tags=["webhooks"],
    responses=problem_responses(401, 403, 404, 422),
)
async def get_webhook(webhook_id: uuid.UUID, db: DbDep, caller: Admin) -> Response:
    """The subscription, whether it is enabled, and why not (admin)."""
    return json_response(_read(await db.read(service.get_webhook, webhook_id=webhook_id)))


@router.patch(
    "/webhooks/{webhook_id:uuid}",
    response_model=schemas.WebhookRead,
    summary="Change a webhook subscription",
    tags=["webhooks"],
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
)
async def update_webhook(
    webhook_id: uuid.UUID, body: schemas.WebhookUpdate, db: DbDep, settings: SettingsDep, caller: Admin
) -> Response:
    """A merge patch (admin). Enabling a disabled subscription resumes its deliveries where they
    stopped; its failures count afresh."""
    webhook = await db.write(
        service.update_webhook,
        webhook_id=webhook_id,
        data=body,
        destinations=_destinations(settings),
        actor=caller,
    )
    return json_response(_read(webhook))


@router.delete(
    "/webhooks/{webhook_id:uuid}",
    status_code=204,
    summary="Unsubscribe",
    tags=["webhooks"],
    responses=problem_responses(401, 403, 404, 422),
)
async def delete_webhook(webhook_id: uuid.UUID, db: DbDep, caller: Admin) -> Response:
    """The subscription and its pending deliveries go (admin)."""
    await db.write(service.delete_webhook, webhook_id=webhook_id, actor=caller)
    return Response(status_code=204)


@router.post(
    "/webhooks/{webhook_id:uuid}/secret:rotate",
    response_model=schemas.WebhookCreated,
    summary="Rotate a webhook's signing secret",
    tags=["webhooks"],
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
)
async def rotate_webhook_secret(
    webhook_id: uuid.UUID, db: DbDep, caller: Admin, body: schemas.SecretRotation | None = None
) -> Response:
    """A new secret, shown once; the old one keeps signing beside it for `overlap_seconds`
    (a day by default), so receivers can switch without missing a delivery (admin)."""
    overlap = (body or schemas.SecretRotation()).overlap_seconds
    webhook = await db.write(service.rotate_secret, webhook_id=webhook_id, overlap_seconds=overlap, actor=caller)
    return json_response(_with_secret(webhook))


@router.post(
    "/webhooks/{webhook_id:uuid}:ping",
    status_code=202,
    response_model=schemas.DeliveryRead,
    summary="Send a test event",
    tags=["webhooks"],
    responses=problem_responses(401, 403, 404, 422),
)
async def ping_webhook(webhook_id: uuid.UUID, db: DbDep, caller: Admin) -> Response:
    """A `webhook.ping` event to this subscription alone, delivered (and retried) like any other;
    follow it in the deliveries (admin)."""
    delivery = await db.write(_ping, webhook_id=webhook_id)
    return json_response(delivery, status_code=202)


def _ping(session: Session, *, webhook_id: uuid.UUID) -> schemas.DeliveryRead:
    delivery = service.ping(session, webhook_id=webhook_id)
    session.info[outbox.WRITTEN_KEY] = True
    return service.get_delivery(session, webhook_id=webhook_id, delivery_id=delivery.id)


def _redeliver(session: Session, *, webhook_id: uuid.UUID, delivery_id: uuid.UUID) -> schemas.DeliveryRead:
    delivery = service.redeliver(session, webhook_id=webhook_id, delivery_id=delivery_id)
    session.info[outbox.WRITTEN_KEY] = True
    return service.get_delivery(session, webhook_id=webhook_id, delivery_id=delivery.id)


@router.get(
    "/webhooks/{webhook_id:uuid}/deliveries",
    response_model=Page[schemas.DeliveryRead],
    summary="A webhook's deliveries",
    tags=["webhooks"],
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_deliveries(
    webhook_id: uuid.UUID, db: DbDep, caller: Admin, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    """Newest first, each with every attempt: when, the outcome, the receiver's status and the
    first 64 KiB of its answer, how long it took, and when the next one is due (admin)."""
    deliveries, next_cursor = await db.read(service.list_deliveries, webhook_id=webhook_id, limit=limit, cursor=cursor)
    return json_response(Page[schemas.DeliveryRead](items=deliveries, next_cursor=next_cursor))


@router.get(
    "/webhooks/{webhook_id:uuid}/deliveries/{delivery_id:uuid}",
    response_model=schemas.DeliveryRead,
    summary="A delivery with its attempts",
    tags=["webhooks"],
    responses=problem_responses(401, 403, 404, 422),
)
async def get_delivery(webhook_id: uuid.UUID, delivery_id: uuid.UUID, db: DbDep, caller: Admin) -> Response:
    """One delivery and every attempt at it (admin)."""
    return json_response(await db.read(service.get_delivery, webhook_id=webhook_id, delivery_id=delivery_id))


@router.post(
    "/webhooks/{webhook_id:uuid}/deliveries/{delivery_id:uuid}:redeliver",
    status_code=202,
    response_model=schemas.DeliveryRead,
    summary="Send an event again",
    tags=["webhooks"],
    responses=problem_responses(401, 403, 404, 422),
)
async def redeliver(webhook_id: uuid.UUID, delivery_id: uuid.UUID, db: DbDep, caller: Admin) -> Response:
    """A new delivery of the same event (same `webhook-id`, so receivers can tell a repeat) (admin)."""
    return json_response(await db.write(_redeliver, webhook_id=webhook_id, delivery_id=delivery_id), status_code=202)
