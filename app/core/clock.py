"""The service's clock. Every "now" comes from here, so that tests can move time forward and watch
what changes with time alone (facts ageing out, attestations and exemptions expiring)."""

from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta

    def reset(self) -> None:
        self.offset = timedelta()


clock = Clock()
