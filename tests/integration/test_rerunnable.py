"""Re-runnable pushes from upstream systems: natural keys, upserts, unchanged writes, filters."""

from typing import Any

from fastapi.testclient import TestClient

from app.core.db import Database
from tests.conftest import settled
from tests.kpis.factories import cost_kpi, make_kpi
from tests.projects.factories import make_project, project_body
from tests.projects.test_api import assert_problem

PROJECT = "/api/v1/projects/claims-triage"
POINTS = f"{PROJECT}/kpis/handling-cost/measurements"


def batch(*items: dict[str, Any]) -> dict[str, Any]:
    return {"items": [{"project": "claims-triage", "kpi": "handling-cost", **item} for item in items]}


def test_the_same_measurements_batch_sent_twice_stores_each_point_once(writer: TestClient) -> None:
    make_project(writer)
    make_kpi(writer, "claims-triage", cost_kpi())
    body = batch(
        {"value": 38, "measured_at": "2026-10-01T00:00:00Z"},
        {"value": 35, "measured_at": "2026-10-08T00:00:00Z"},
        {"value": 33, "measured_at": "2026-10-15T00:00:00.000001Z"},
    )

    first = writer.post("/api/v1/measurements:batch", json=body)
    again = writer.post("/api/v1/measurements:batch", json=body)
    corrected = writer.post(
        "/api/v1/measurements:batch", json=batch({"value": 34, "measured_at": "2026-10-15T00:00:00.000001Z"})
    )

    assert first.json() == {"stored": 3, "created": 3, "updated": 0, "unchanged": 0}
    assert again.json() == {"stored": 0, "created": 0, "updated": 0, "unchanged": 3}
    assert corrected.json() == {"stored": 1, "created": 0, "updated": 1, "unchanged": 0}
    points = writer.get(POINTS).json()["items"]
    assert [point["value"] for point in points] == [34, 35, 38]
    assert writer.get(f"{PROJECT}/kpis/handling-cost").json()["latest"]["value"] == 34


def test_a_point_re_sent_with_its_instant_replaces_it_and_one_without_is_always_new(writer: TestClient) -> None:
    make_project(writer)
    make_kpi(writer, "claims-triage", cost_kpi())

    created = writer.post(POINTS, json={"value": 38, "measured_at": "2026-10-01T00:00:00Z"})
    replaced = writer.post(POINTS, json={"value": 37, "measured_at": "2026-10-01T00:00:00+00:00"})
    unchanged = writer.post(POINTS, json={"value": 37, "measured_at": "2026-10-01T02:00:00+02:00"})
    receipts = writer.post("/api/v1/measurements:batch", json=batch({"value": 30}, {"value": 31}))

    assert created.status_code == 201
    assert replaced.status_code == 200
    assert replaced.json()["id"] == created.json()["id"]
    assert replaced.json()["value"] == 37
    assert unchanged.status_code == 200
    assert unchanged.json()["id"] == created.json()["id"]
    assert receipts.json()["created"] == 2
    assert len(writer.get(POINTS).json()["items"]) == 3


def test_a_fact_re_sent_with_the_same_value_and_time_changes_nothing(writer: TestClient, admin: TestClient) -> None:
    make_project(writer)
    fact = {"value": True, "observed_at": "2026-10-01T00:00:00Z", "source": "ci"}
    first = writer.put(f"{PROJECT}/facts/ops.team_trained", json=fact)
    writer.get(f"{PROJECT}/readiness")  # the fact's re-score and its event, settled
    events_before = len(admin.get("/api/v1/events").json()["items"])
    audit_before = len(admin.get("/api/v1/audit-events").json()["items"])

    again = writer.put(f"{PROJECT}/facts/ops.team_trained", json=fact)
    item = {"project": "claims-triage", "name": "ops.team_trained", **fact}
    batched = writer.post("/api/v1/facts:batch", json={"items": [item]})
    writer.get(f"{PROJECT}/readiness")

    assert again.status_code == 200
    assert again.headers["etag"] == first.headers["etag"]
    assert batched.json() == {"stored": 0, "superseded": 0, "unchanged": 1}
    assert len(admin.get("/api/v1/events").json()["items"]) == events_before
    assert len(admin.get("/api/v1/audit-events").json()["items"]) == audit_before
    as_number = writer.put(f"{PROJECT}/facts/ops.team_trained", json={**fact, "value": 1})
    assert as_number.headers["etag"] != first.headers["etag"]


def test_owner_and_tag_filter_projects_and_every_portfolio_read(writer: TestClient, reader: TestClient) -> None:
    make_project(writer, "claims-triage", business_owner={"name": "Ana", "email": "Ana@Example.com"}, tags=["genai"])
    make_project(writer, "fraud-scoring", business_owner={"name": "Cy", "email": "cy@example.com"}, tags=["ml"])
    owner = {"owner": "ana@example.COM"}

    projects = reader.get("/api/v1/projects", params=owner).json()["items"]
    rows = reader.get("/api/v1/portfolio/readiness", params=owner).json()["items"]
    tagged = reader.get("/api/v1/portfolio/readiness", params={"tag": "ml"}).json()["items"]
    summary = reader.get("/api/v1/portfolio/summary", params=owner).json()
    csv = reader.get("/api/v1/portfolio/readiness", params=owner, headers={"Accept": "text/csv"}).text

    assert [p["key"] for p in projects] == ["claims-triage"]
    assert [r["key"] for r in rows] == ["claims-triage"]
    assert rows[0]["business_owner_email"] == "ana@example.com"
    assert rows[0]["technical_owner_email"] == "bo@example.com"
    assert [r["key"] for r in tagged] == ["fraud-scoring"]
    assert summary["overall"]["projects"] == 1
    assert "business_owner_email" in csv.splitlines()[0]
    assert "fraud-scoring" not in csv
    assert reader.get("/api/v1/portfolio/stalled", params=owner).status_code == 200
    assert_problem(reader.get("/api/v1/portfolio/readiness", params={"ownr": "ana@example.com"}), 422)


def test_kpis_are_upserted_by_key(writer: TestClient) -> None:
    make_project(writer)
    body = cost_kpi()
    del body["key"]

    created = writer.put(f"{PROJECT}/kpis/handling-cost", json=body)
    again = writer.put(f"{PROJECT}/kpis/handling-cost", json=body)
    changed = writer.put(f"{PROJECT}/kpis/handling-cost", json={**body, "target": 20})
    renamed = writer.put(f"{PROJECT}/kpis/handling-cost", json={**body, "key": "other"})

    assert created.status_code == 201
    assert created.headers["location"].endswith("/kpis/handling-cost")
    assert created.json()["currency"] == "EUR"
    assert again.status_code == 200
    assert again.headers["etag"] == created.headers["etag"]
    assert changed.json()["target"] == 20
    assert changed.headers["etag"] != created.headers["etag"]
    assert_problem(renamed, 422)
    assert [k["key"] for k in writer.get(f"{PROJECT}/kpis").json()["items"]] == ["handling-cost"]


def test_a_thousand_projects_upsert_in_one_call_and_again_change_nothing(writer: TestClient) -> None:
    items = [project_body(f"p-{n:04d}", name=f"Project {n}") for n in range(1000)]

    first = writer.post("/api/v1/projects:batch", json={"items": items})
    again = writer.post("/api/v1/projects:batch", json={"items": items})
    items[7]["region"] = "apac"
    changed = writer.post("/api/v1/projects:batch", json={"items": items[:10]})

    assert first.status_code == 200, first.text
    assert (first.json()["created"], first.json()["updated"], first.json()["unchanged"]) == (1000, 0, 0)
    assert (again.json()["created"], again.json()["updated"], again.json()["unchanged"]) == (0, 0, 1000)
    assert changed.json()["items"][7] == {"key": "p-0007", "result": "updated"}
    assert changed.json()["unchanged"] == 9
    assert writer.get("/api/v1/projects/p-0007").json()["region"] == "apac"
    assert writer.get("/api/v1/portfolio/summary").json()["overall"]["projects"] == 1000


def test_a_project_batch_is_all_or_nothing_and_names_the_bad_items(writer: TestClient) -> None:
    items = [project_body("good-one"), project_body("bad-rubric", rubric="no-such-rubric"), project_body("good-one")]

    refused = writer.post("/api/v1/projects:batch", json={"items": items})
    wrong_rubric = writer.post("/api/v1/projects:batch", json={"items": items[:2]})

    assert_problem(refused, 422)
    assert [e["field"] for e in refused.json()["errors"]] == ["body.items.0.key", "body.items.2.key"]
    assert_problem(wrong_rubric, 422)
    assert [e["field"] for e in wrong_rubric.json()["errors"]] == ["body.items.1"]
    assert writer.get("/api/v1/projects").json()["items"] == []


def test_portfolio_pollers_get_304_until_something_changes(
    writer: TestClient, reader: TestClient, db: Database
) -> None:
    make_project(writer)
    assert settled(db)
    for path in ("/api/v1/portfolio/readiness", "/api/v1/portfolio/summary", "/api/v1/portfolio/stalled"):
        first = reader.get(path)
        tag = first.headers["etag"]
        assert tag.startswith('W/"'), path
        assert first.headers["cache-control"] == "private, no-cache"
        assert "Accept" in first.headers["vary"]

        unchanged = reader.get(path, headers={"If-None-Match": tag})
        assert unchanged.status_code == 304, path
        assert unchanged.headers["etag"] == tag
        assert unchanged.content == b""

    tag = reader.get("/api/v1/portfolio/readiness").headers["etag"]
    writer.patch(PROJECT, json={"region": "apac"}, headers={"content-type": "application/merge-patch+json"})
    changed = reader.get("/api/v1/portfolio/readiness", headers={"If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != tag
    assert changed.json()["items"][0]["region"] == "apac"
