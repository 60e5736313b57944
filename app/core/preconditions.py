"""Optimistic concurrency: ETags from a row's version counter, and the If-Match / If-None-Match rules."""

import hashlib
import uuid
from dataclasses import dataclass

from app.core.errors import PreconditionFailed


def etag(resource_id: uuid.UUID, version: int) -> str:
    """A strong ETag; the id keeps a recreated resource from reusing an old tag."""
    return f'"{resource_id.hex}-{version}"'


def data_etag(body: bytes, *, audience: frozenset[str] | None) -> str:
    """A weak ETag of a computed answer (a page of rows, a summary) from its body as sent and the
    departments it was computed for: it changes exactly when the answer does, whatever caused it,
    time included, and is the same on every replica."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr(sorted(audience) if audience is not None else None).encode())
    digest.update(body)
    return f'W/"{digest.hexdigest()}"'


def _parse_tags(header: str) -> list[str]:
    # A malformed list simply matches nothing: If-Match then fails (412), If-None-Match is ignored.
    return [part.strip() for part in header.split(",") if part.strip()]


@dataclass(frozen=True)
class IfMatch:
    """A parsed If-Match header, checked inside the transaction that makes the change."""

    tags: tuple[str, ...]

    @classmethod
    def parse(cls, header: str | None) -> "IfMatch | None":
        return None if header is None else cls(tuple(_parse_tags(header)))

    def check(self, current: str | None) -> None:
        if "*" in self.tags:
            if current is None:
                raise PreconditionFailed("If-Match: * requires the resource to exist.")
            return
        # If-Match uses the strong comparison (RFC 9110 §13.1.1): a weak tag never matches.
        if current is None or current not in self.tags:
            raise PreconditionFailed(
                "The resource has changed since it was read (If-Match did not match its ETag); read it again."
            )


def if_none_match_hits(header: str | None, current: str) -> bool:
    """True when a GET's If-None-Match names the current representation (weak comparison)."""
    if header is None:
        return False
    tags = _parse_tags(header)
    return "*" in tags or current.removeprefix("W/") in {tag.removeprefix("W/") for tag in tags}
