"""The `readiness` command line: serve, worker, migrate, create-api-key, demo-data, export-openapi."""

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from app import epilogue
from app.auth.service import create_api_key
from app.core.db import Database, make_engine
from app.core.identity import SYSTEM, Role
from app.core.logging import configure_logging
from app.core.migrations import downgrade, upgrade
from app.core.settings import get_settings
from app.portfolio.status import refresh_missing

DEFAULT_OPENAPI_PATH = Path("openapi/openapi.json")


def _migrate() -> None:
    """Upgrade the schema, then fill what this release keeps per project for rows that predate it."""
    settings = get_settings()
    db = Database(make_engine(settings.database_url, pool_size=1), threads=1)
    try:
        upgrade(db.engine)
        db.work(refresh_missing, write=True)()
    finally:
        db.dispose()


def cmd_migrate(args: argparse.Namespace) -> int:
    if args.downgrade:
        settings = get_settings()
        engine = make_engine(settings.database_url, pool_size=1)
        try:
            downgrade(engine, args.downgrade)
        finally:
            engine.dispose()
        print(f"database schema downgraded to {args.downgrade}")  # noqa: T201
        return 0
    _migrate()
    print("database schema is up to date")  # noqa: T201
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    if settings.migrate_on_start:
        _migrate()
    if settings.database_url.startswith("sqlite") and not settings.bootstrap_admin_key:
        print(  # noqa: T201
            "No READINESS_BOOTSTRAP_ADMIN_KEY set: create a key with "
            "`readiness create-api-key --name me --role admin`.",
            file=sys.stderr,
        )
    uvicorn.run(
        "app.main:serve_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers or settings.workers,
        log_config=None,
        access_log=False,
        # Only READINESS_TRUSTED_PROXIES decide whose X-Forwarded-For and X-Forwarded-Proto count:
        # uvicorn's own default trusts loopback, which would let anyone there choose their address.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or None,
        timeout_graceful_shutdown=20,
    )
    return 0


def cmd_worker(_args: argparse.Namespace) -> int:
    """The background work alone, for deployments that keep it off the API processes (run those
    with READINESS_RESCORER=false and READINESS_DISPATCHER=false): the re-scorer and the webhook
    dispatcher, polling, since they are told of no write. Metrics on READINESS_WORKER_METRICS_PORT."""
    from prometheus_client import CollectorRegistry, start_http_server

    from app.events.dispatcher import DispatcherMetrics
    from app.main import database_for, dispatcher_for, rescorer_for

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    db = database_for(settings)
    rescorer = rescorer_for(db, sweep_seconds=settings.worker_poll_seconds)
    registry = CollectorRegistry()
    dispatcher = dispatcher_for(db, settings, DispatcherMetrics(registry))
    dispatcher.poll_seconds = settings.worker_poll_seconds
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port, addr="0.0.0.0", registry=registry)  # noqa: S104 - a pod's port

    async def work() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(stop_signal, stopping.set)
        rescorer.start()
        rescorer.wake()
        dispatcher.start()
        dispatcher.wake()
        await stopping.wait()
        await rescorer.stop()
        await dispatcher.stop()

    try:
        asyncio.run(work())
    finally:
        db.dispose()
    return 0


def cmd_create_api_key(args: argparse.Namespace) -> int:
    settings = get_settings()
    _migrate()
    # The write epilogue records the key's audit event, as it does for every write.
    epilogue.install()
    db = Database(make_engine(settings.database_url, pool_size=1), threads=1)
    try:
        create = db.work(create_api_key, write=True)
        key, secret = create(
            name=args.name,
            role=Role(args.role),
            departments=args.departments.split(",") if args.departments is not None else None,
            expires_at=None,
            actor=SYSTEM,
            person=args.person,
        )
    finally:
        db.dispose()
    print(secret)  # noqa: T201
    print(f"created {key.role} key {key.name!r} ({key.id}); the secret above is shown once", file=sys.stderr)  # noqa: T201
    return 0


def cmd_demo_data(_args: argparse.Namespace) -> int:
    from app.demo import build

    settings = get_settings()
    _migrate()
    outcome = build(settings, progress=lambda line: print(line, file=sys.stderr))  # noqa: T201
    if outcome.existing:
        print(f"already there: {len(outcome.existing)} demo projects, left as they are", file=sys.stderr)  # noqa: T201
    print(f"sign in at http://{settings.host}:{settings.port}/ui/ with this key: {outcome.admin_secret}")  # noqa: T201
    return 0


def cmd_export_openapi(args: argparse.Namespace) -> int:
    from app.main import create_app

    document = json.dumps(create_app().openapi(), indent=2, sort_keys=True) + "\n"
    if args.output == "-":
        sys.stdout.write(document)
    else:
        path = Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(document)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="readiness", description="AI Readiness Service")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate (unless READINESS_MIGRATE_ON_START=false), then serve HTTP")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.set_defaults(handler=cmd_serve)

    migrate = commands.add_parser("migrate", help="upgrade the database schema to this release")
    migrate.add_argument(
        "--downgrade", metavar="REVISION", help="undo migrations down to REVISION (data in what they drop is lost)"
    )
    migrate.set_defaults(handler=cmd_migrate)

    worker = commands.add_parser("worker", help="run the background work (re-scoring) without serving HTTP")
    worker.set_defaults(handler=cmd_worker)

    key = commands.add_parser("create-api-key", help="issue an API key and print its secret once")
    key.add_argument("--name", required=True)
    key.add_argument("--role", required=True, choices=[role.value for role in Role])
    key.add_argument("--departments", help="comma-separated departments the key is limited to; default: all")
    key.add_argument("--person", help="the person (email) the key stands for, whom four eyes compares")
    key.set_defaults(handler=cmd_create_api_key)

    demo = commands.add_parser(
        "demo-data", help="fill the database with a realistic demo portfolio and print a key to sign in with"
    )
    demo.set_defaults(handler=cmd_demo_data)

    export = commands.add_parser("export-openapi", help="write the OpenAPI document")
    export.add_argument("--output", default=str(DEFAULT_OPENAPI_PATH), help="a path, or - for stdout")
    export.set_defaults(handler=cmd_export_openapi)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
