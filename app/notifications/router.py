import uuid

from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.auth.dependencies import Admin
from app.auth.idempotency import IdempotencyDep, respond
from app.core.deps import DbDep, SettingsDep
from app.core.errors import problem_responses
from app.core.http import API_PREFIX, json_response
from app.core.pagination import Cursor, Limit, Page
from app.core.settings import Settings
from app.events import outbox
from app.notifications import schemas, service
from app.notifications.queue import Composing

router = APIRouter(prefix=API_PREFIX, tags=["channels"])


def destinations(settings: Settings) -> service.Destinations:
    return service.Destinations(settings.webhook_destinations, settings.webhook_allow_http)


def composing(settings: Settings) -> Composing:
    return Composing(public_url=settings.links_url, sender=settings.smtp_from)


@router.post(
    "/channels",
    status_code=201,
    response_model=schemas.ChannelRead,
    summary="Tell people through a channel",
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422),
)
async def create_channel(
    body: schemas.ChannelCreate, db: DbDep, settings: SettingsDep, caller: Admin, idempotency: IdempotencyDep
) -> Response:
    """News of the given event types (and departments) from now on, written for people: by email
    (fixed addresses, or `owners`: each project's business and technical owner) through the SMTP
    relay, or to a chat room's incoming webhook in the format its service expects (Slack, Microsoft
    Teams, Mattermost, Google Chat). A chat URL must be a destination the webhook rules allow
    (422 otherwise). An email channel may also send a weekly or monthly digest (admin)."""

    def create(session: Session) -> Response:
        def created() -> Response:
            channel = service.create_channel(
                session, data=body, destinations=destinations(settings), zone=settings.zone, actor=caller
            )
            location = f"{API_PREFIX}/channels/{channel.id}"
            return json_response(service.read(channel), status_code=201, headers={"Location": location})

        return respond(session, idempotency, created)

    return await db.write(create)


@router.get(
    "/channels",
    response_model=Page[schemas.ChannelRead],
    summary="List notification channels",
    responses=problem_responses(400, 401, 403, 422),
)
async def list_channels(db: DbDep, caller: Admin, limit: Limit = 50, cursor: Cursor = None) -> Response:
    """Oldest first (admin)."""
    channels, next_cursor = await db.read(service.list_channels, limit=limit, cursor=cursor)
    return json_response(Page[schemas.ChannelRead](items=[service.read(c) for c in channels], next_cursor=next_cursor))


@router.get(
    "/channels/{channel_id:uuid}",
    response_model=schemas.ChannelRead,
    summary="A notification channel",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_channel(channel_id: uuid.UUID, db: DbDep, caller: Admin) -> Response:
    """The channel (admin)."""
    return json_response(service.read(await db.read(service.get_channel, channel_id=channel_id)))


@router.patch(
    "/channels/{channel_id:uuid}",
    response_model=schemas.ChannelRead,
    summary="Change a notification channel",
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
)
async def update_channel(
    channel_id: uuid.UUID, body: schemas.ChannelUpdate, db: DbDep, settings: SettingsDep, caller: Admin
) -> Response:
    """A merge patch (admin); the kind does not change. A new digest schedule starts with the next
    period."""
    channel = await db.write(
        service.update_channel,
        channel_id=channel_id,
        data=body,
        destinations=destinations(settings),
        zone=settings.zone,
        actor=caller,
    )
    return json_response(service.read(channel))


@router.delete(
    "/channels/{channel_id:uuid}",
    status_code=204,
    summary="Remove a notification channel",
    responses=problem_responses(401, 403, 404, 422),
)
async def delete_channel(channel_id: uuid.UUID, db: DbDep, caller: Admin) -> Response:
    """The channel and its pending deliveries go (admin)."""
    await db.write(service.delete_channel, channel_id=channel_id, actor=caller)
    return Response(status_code=204)


def _woken(session: Session) -> None:
    # New deliveries wake the dispatcher, as new events do.
    session.info[outbox.WRITTEN_KEY] = True


@router.post(
    "/channels/{channel_id:uuid}:test",
    status_code=202,
    response_model=schemas.TestSent,
    summary="Send a test message",
    responses=problem_responses(401, 403, 404, 422),
)
async def test_channel(channel_id: uuid.UUID, db: DbDep, settings: SettingsDep, caller: Admin) -> Response:
    """A test message to the channel's chat room or to each of its addresses, delivered (and
    retried) like any other; follow it in the deliveries (admin)."""

    def test(session: Session) -> schemas.TestSent:
        _woken(session)
        deliveries = service.test_send(session, channel_id=channel_id, composing=composing(settings))
        return schemas.TestSent(channel_id=channel_id, deliveries=deliveries)

    return json_response(await db.write(test), status_code=202)


@router.post(
    "/channels/{channel_id:uuid}:digest",
    status_code=202,
    response_model=schemas.DigestSent,
    summary="Send a digest now",
    responses=problem_responses(401, 403, 404, 422),
)
async def send_digest(channel_id: uuid.UUID, db: DbDep, settings: SettingsDep, caller: Admin) -> Response:
    """The channel's digest now, whether it has a schedule or not, over its departments whatever its
    event types: to each recipient with something to report (each owner, only their projects), one
    email listing the gate's blockers, KPIs off track or unmeasured, decisions due within 14 days or
    overdue, and stalled projects. Email channels only (admin)."""

    def digest(session: Session) -> schemas.DigestSent:
        _woken(session)
        return service.send_digest(
            session,
            channel_id=channel_id,
            composing=composing(settings),
            zone=settings.zone,
            limits=settings.stage_limits,
        )

    return json_response(await db.write(digest), status_code=202)


@router.get(
    "/channels/{channel_id:uuid}/deliveries",
    response_model=Page[schemas.ChannelDeliveryRead],
    summary="A channel's deliveries",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_channel_deliveries(
    channel_id: uuid.UUID, db: DbDep, caller: Admin, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    """Newest first: one per event and recipient (and per digest or test), each with every attempt:
    when, the outcome, the chat service's status or the relay's reply code, and when the next one
    is due (admin)."""
    deliveries, next_cursor = await db.read(service.list_deliveries, channel_id=channel_id, limit=limit, cursor=cursor)
    return json_response(Page[schemas.ChannelDeliveryRead](items=deliveries, next_cursor=next_cursor))
