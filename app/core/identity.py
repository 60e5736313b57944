"""Who is calling and what they may do: the caller every layer above receives, and its roles."""

import uuid
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What a caller may do, each role including the ones before it: `reader` reads, `writer` posts
    state, `approver` (the steering committee) decides go/no-go, attests gate criteria, retires
    projects and switches their rubric, `admin` manages keys, webhooks, rubrics and exemptions."""

    reader = "reader"
    writer = "writer"
    approver = "approver"
    admin = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: "Role") -> bool:
        return self.rank >= needed.rank


@dataclass(frozen=True)
class Caller:
    """Who is making a request.

    `identity` is what audit entries, idempotency records and rate limits are keyed by: the API key's
    id, or the token issuer and subject. `name` is for people to read. `departments` is the scope:
    None for every department, otherwise the only departments whose projects the caller can see.
    `person` is the person (an email) an API key stands for, where it says; a token's identity is a
    person already. The four-eyes rule compares people, so that two keys of one person count as one.
    """

    identity: str
    name: str
    role: Role
    departments: frozenset[str] | None = None
    key_id: uuid.UUID | None = None
    person: str | None = None


SYSTEM = Caller(identity="system", name="system", role=Role.admin)
