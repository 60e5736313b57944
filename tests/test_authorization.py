"""The authorization matrix, generated from the OpenAPI document: every operation, every role, and
every department scope."""

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import issue_key

ROLES = ["reader", "writer", "approver", "admin"]
SCOPABLE = ROLES[:-1]  # admin keys are never scoped
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


# Required query parameters, so that a call reaches what it reads rather than stopping at a 422.
REQUIRED_QUERY = {"/api/v1/rubrics/{key}/crosswalk": {"framework": "nist-ai-rmf"}}


def call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    body: dict[str, Any] | None = {} if method in ("post", "put", "patch") else None
    return client.request(
        method.upper(), concrete(path), headers=headers, json=body, params=REQUIRED_QUERY.get(path, {})
    )


def test_every_operation_but_the_public_ones_states_its_role() -> None:
    assert len(OPERATIONS) == 102
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


def scoped_key(admin: TestClient, role: str, department: str) -> str:
    body = {"name": f"{role}-{department}", "role": role, "departments": [department]}
    response = admin.post("/api/v1/api-keys", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["secret"])


def test_the_scope_matrix(client: TestClient, admin: TestClient, writer: TestClient) -> None:
    """Every operation on a project, by a caller scoped to another department, is 404 as if the
    project did not exist (or 403 when the role is too weak anyway); in scope, never."""
    from tests.projects.factories import make_project

    make_project(writer, department="claims")
    inside = {role: scoped_key(admin, role, "claims") for role in SCOPABLE}
    outside = {role: scoped_key(admin, role, "marketing") for role in SCOPABLE}
    checked = 0
    for path, method, needed in OPERATIONS:
        if "{key}" not in path:
            continue
        role = needed if needed in SCOPABLE else "approver"
        expected = 404 if needed in SCOPABLE else 403
        hidden = call(client, method, path, {"Authorization": f"Bearer {outside[role]}"})
        assert hidden.status_code == expected, (method, path, hidden.text)
        if expected == 404:
            assert "claims-triage" in hidden.json()["detail"], (method, path, hidden.text)
            seen = call(client, method, path, {"Authorization": f"Bearer {inside[role]}"})
            assert seen.status_code not in (401, 403), (method, path, seen.text)
            assert "No project with key" not in seen.text, (method, path, seen.text)
        checked += 1
    assert checked > 30


def test_every_list_hides_projects_out_of_scope(client: TestClient, admin: TestClient, writer: TestClient) -> None:
    """Every read without a project in its path, by a reader scoped to another department, shows
    nothing of a claims project: lists, portfolio pages, CSV, summary, stalled, the event feed."""
    from tests.projects.factories import make_project

    make_project(writer, department="claims")
    outside = {"Authorization": f"Bearer {scoped_key(admin, 'reader', 'marketing')}"}
    unscoped = {"Authorization": f"Bearer {issue_key(admin, 'reader')}"}
    reads = [path for path, method, needed in OPERATIONS if method == "get" and "{" not in path and needed == "reader"]
    shown_unscoped = 0
    for path in reads:
        for accept in ("application/json", "text/csv"):
            hidden = client.get(path, headers={**outside, "Accept": accept})
            assert "claims-triage" not in hidden.text, (path, accept)
            assert '"claims"' not in hidden.text, (path, accept)
            shown_unscoped += "claims-triage" in client.get(path, headers={**unscoped, "Accept": accept}).text
    assert shown_unscoped >= 4
