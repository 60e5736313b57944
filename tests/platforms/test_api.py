"""Platforms: the shared infrastructure projects run on, whose deployment a project reads where it
has none of its own."""

from typing import Any

from fastapi.testclient import TestClient

from tests.platforms.factories import PLATFORMS, PROJECTS, make_platform, platform_body
from tests.projects.factories import make_project
from tests.projects.test_api import assert_problem


def criterion(client: TestClient, project: str, key: str) -> dict[str, Any]:
    readiness = client.get(f"{PROJECTS}/{project}/readiness").json()
    found: dict[str, Any] = next(c for c in readiness["criteria"] if c["key"] == key)
    return found


def test_an_admin_records_a_platform_that_any_reader_reads(admin: TestClient, reader: TestClient) -> None:
    created = admin.post(PLATFORMS, json=platform_body())

    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/api/v1/platforms/claims-vpc"
    shown = reader.get(f"{PLATFORMS}/claims-vpc")
    assert shown.json() == created.json()
    assert shown.headers["etag"] == created.headers["etag"]
    assert created.json()["deployment"] == {"target": "vpc", "same_runtime_as_production": True, "sovereign": True}
    assert [p["key"] for p in reader.get(PLATFORMS).json()["items"]] == ["claims-vpc"]
    assert reader.get(f"{PLATFORMS}/claims-vpc", headers={"If-None-Match": shown.headers["etag"]}).status_code == 304


def test_a_taken_key_is_a_conflict_and_bad_fields_are_refused(admin: TestClient) -> None:
    make_platform(admin)

    assert_problem(admin.post(PLATFORMS, json=platform_body()), 409)
    assert_problem(admin.post(PLATFORMS, json=platform_body("other", deployment={"target": "mainframe"})), 422)
    assert_problem(admin.post(PLATFORMS, json=platform_body("other", colour="blue")), 422)
    assert_problem(admin.get(f"{PLATFORMS}/nowhere"), 404)


def test_a_platform_is_changed_by_merge_patch_under_its_etag(admin: TestClient) -> None:
    etag = admin.post(PLATFORMS, json=platform_body()).headers["etag"]
    patch = {"deployment": {"sovereign": False}}
    headers = {"Content-Type": "application/merge-patch+json"}

    changed = admin.patch(f"{PLATFORMS}/claims-vpc", json=patch, headers={**headers, "If-Match": etag})
    stale = admin.patch(f"{PLATFORMS}/claims-vpc", json={"name": "x"}, headers={**headers, "If-Match": etag})
    renamed = admin.patch(f"{PLATFORMS}/claims-vpc", json={"key": "other"}, headers=headers)

    assert changed.status_code == 200, changed.text
    assert changed.json()["deployment"] == {"target": "vpc", "same_runtime_as_production": True, "sovereign": False}
    assert changed.headers["etag"] != etag
    assert_problem(stale, 412)
    assert_problem(renamed, 422)


def test_a_project_names_an_existing_platform_only(admin: TestClient, writer: TestClient) -> None:
    make_platform(admin)

    problem = assert_problem(writer.post(PROJECTS, json={"key": "orphan", "name": "O", "platform": "nowhere"}), 422)
    on_it = make_project(writer, platform="claims-vpc")

    assert problem["errors"] == [{"field": "body.platform", "message": "no platform with key 'nowhere'"}]
    assert on_it["platform"] == "claims-vpc"
    listed = writer.get(PROJECTS, params={"platform": "claims-vpc"}).json()["items"]
    assert [p["key"] for p in listed] == ["claims-triage"]


def test_deployment_facts_a_project_leaves_unset_are_read_from_its_platform_and_its_own_win(
    admin: TestClient, writer: TestClient
) -> None:
    make_platform(admin)
    make_project(writer, "on-platform", deployment={}, platform="claims-vpc")
    make_project(writer, "own-notebook", deployment={"target": "notebook"}, platform="claims-vpc")
    for key in ("on-platform", "own-notebook"):
        writer.post(f"{PROJECTS}/{key}/stage-transitions", json={"to": "poc"})

    inherited = criterion(writer, "on-platform", "infrastructure.private_deployment")
    own = criterion(writer, "own-notebook", "infrastructure.private_deployment")
    sovereign = criterion(writer, "own-notebook", "infrastructure.sovereign_ready")
    stall = writer.get(f"{PROJECTS}/on-platform/readiness").json()["stall"]["signals"]

    assert (inherited["status"], inherited["observed"]) == ("met", {"deployment.target": "vpc"})
    assert (own["status"], own["observed"]) == ("not_met", {"deployment.target": "notebook"})
    assert sovereign["status"] == "met"
    assert writer.get(f"{PROJECTS}/on-platform").json()["deployment"]["target"] is None
    infrastructure = next(s for s in stall if s["dimension"] == "infrastructure")
    assert infrastructure["pattern"] == "successful"


def test_changing_a_platforms_deployment_rescores_every_project_on_it(admin: TestClient, writer: TestClient) -> None:
    make_platform(admin)
    make_project(writer, deployment={}, platform="claims-vpc")
    writer.post(f"{PROJECTS}/claims-triage/stage-transitions", json={"to": "poc"})
    assert criterion(writer, "claims-triage", "infrastructure.private_deployment")["status"] == "met"

    moved = admin.patch(
        f"{PLATFORMS}/claims-vpc",
        json={"deployment": {"target": "public_cloud"}},
        headers={"Content-Type": "application/merge-patch+json"},
    )

    assert moved.status_code == 200, moved.text
    assert criterion(writer, "claims-triage", "infrastructure.private_deployment")["status"] == "not_met"
    history = writer.get(f"{PROJECTS}/claims-triage/readiness/history").json()["items"]
    assert history[0]["cause"] == [{"kind": "platform", "name": "claims-vpc"}]


def test_a_platform_in_use_cannot_be_deleted(admin: TestClient, writer: TestClient) -> None:
    make_platform(admin)
    make_platform(admin, "spare")
    make_project(writer, platform="claims-vpc")

    problem = assert_problem(admin.delete(f"{PLATFORMS}/claims-vpc"), 409)

    assert "in use by 1 project" in problem["detail"]
    assert admin.delete(f"{PLATFORMS}/spare").status_code == 204
    assert_problem(admin.get(f"{PLATFORMS}/spare"), 404)
    actions = [
        e["action"] for e in admin.get("/api/v1/audit-events", params={"entity_type": "platform"}).json()["items"]
    ]
    assert actions == ["platform.delete", "platform.create", "platform.create"]
