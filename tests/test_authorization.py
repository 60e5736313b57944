"""The authorization matrix, generated from the OpenAPI document: every operation, every role."""

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import issue_key

ROLES = ["reader", "writer", "admin"]
PUBLIC = {("/healthz", "get"), ("/readyz", "get"), ("/metrics", "get")}
PATH_VALUES = {
    "key": "claims-triage",
    "kpi": "handling-cost",
    "name": "ops.alerting_enabled",
    "number": "1",
    "criterion": "stakeholders.weekly_sync",
}
UUID_ZERO = "00000000-0000-0000-0000-000000000000"


def operations() -> list[tuple[str, str, str]]:
    document = create_app().openapi()
    return [
        (path, method, operation["x-required-role"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if (path, method) not in PUBLIC
    ]


OPERATIONS = operations()


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), UUID_ZERO), path)


def call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    body: dict[str, Any] | None = {} if method in ("post", "put", "patch") else None
    return client.request(method.upper(), concrete(path), headers=headers, json=body)


def test_every_operation_but_the_public_ones_states_its_role() -> None:
    assert len(OPERATIONS) == 63
    assert {role for _, _, role in OPERATIONS} == set(ROLES)


def test_the_matrix(client: TestClient, admin: TestClient) -> None:
    keys = {role: issue_key(admin, role) for role in ROLES}
    revoked = admin.post("/api/v1/api-keys", json={"name": "revoked", "role": "admin"}).json()
    admin.delete(f"/api/v1/api-keys/{revoked['id']}")
    checked = 0
    for path, method, needed in OPERATIONS:
        anonymous = call(client, method, path, {})
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        stale = call(client, method, path, {"Authorization": f"Bearer {revoked['secret']}"})
        assert stale.status_code == 401, (method, path)
        for role in ROLES[: ROLES.index(needed)]:
            weaker = call(client, method, path, {"Authorization": f"Bearer {keys[role]}"})
            assert weaker.status_code == 403, (method, path, role, weaker.text)
        for role in ROLES[ROLES.index(needed) :]:
            allowed = call(client, method, path, {"Authorization": f"Bearer {keys[role]}"})
            assert allowed.status_code not in (401, 403), (method, path, role, allowed.text)
        checked += 1
    assert checked == len(OPERATIONS)


@pytest.mark.parametrize(("path", "method", "role"), [(p, m, r) for p, m, r in OPERATIONS if m != "get"])
def test_no_write_is_open_to_readers(path: str, method: str, role: str) -> None:
    assert role != "reader" or path.endswith((":preview",))
