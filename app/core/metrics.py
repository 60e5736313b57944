"""Prometheus metrics: requests by route template and status, latency, database pool use."""

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """One registry per app, so that several apps in one process (tests) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "readiness_http_requests",
            "HTTP requests served, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "readiness_http_request_duration_seconds",
            "Time to serve an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.pool_size = Gauge(
            "readiness_db_pool_size", "Connections the database pool may hold.", registry=self.registry
        )
        self.pool_checked_out = Gauge(
            "readiness_db_pool_checked_out", "Database connections in use.", registry=self.registry
        )

        # Each request's series, found once: `labels()` takes a lock and builds its key every time.
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        series = self._series.get((method, route, status))
        if series is None:
            series = self._series[(method, route, status)] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        count, latency = series
        count.inc()
        latency.observe(seconds)

    def track_pool(self, engine: Engine) -> None:
        pool = engine.pool
        if isinstance(pool, QueuePool):
            self.pool_size.set_function(pool.size)
            self.pool_checked_out.set_function(pool.checkedout)
