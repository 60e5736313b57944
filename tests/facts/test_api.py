from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.projects.factories import make_project
from tests.projects.test_api import assert_problem

FACTS = "/api/v1/projects/claims-triage/facts"


@pytest.fixture(autouse=True)
def _project(writer: TestClient) -> None:
    make_project(writer)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_a_fact_is_created_then_updated(writer: TestClient) -> None:
    created = writer.put(f"{FACTS}/ops.alerting_enabled", json={"value": True, "source": "pagerduty"})
    updated = writer.put(f"{FACTS}/ops.alerting_enabled", json={"value": False})

    assert created.status_code == 201, created.text
    assert updated.status_code == 200
    assert writer.get(f"{FACTS}/ops.alerting_enabled").json()["value"] is False
    assert [f["name"] for f in writer.get(FACTS).json()["items"]] == ["ops.alerting_enabled"]


@pytest.mark.parametrize("value", [True, 3, 2.5, "https://runbooks.example.com/claims"])
def test_facts_keep_their_json_type(writer: TestClient, value: object) -> None:
    writer.put(f"{FACTS}/ops.some_value", json={"value": value})

    stored = writer.get(f"{FACTS}/ops.some_value").json()["value"]
    assert stored == value
    assert type(stored) is type(value)


def test_an_older_observation_does_not_overwrite_a_newer_one(writer: TestClient) -> None:
    now = datetime.now(UTC)
    writer.put(f"{FACTS}/ops.monitoring_enabled", json={"value": True, "observed_at": iso(now)})

    response = writer.put(
        f"{FACTS}/ops.monitoring_enabled", json={"value": False, "observed_at": iso(now - timedelta(hours=1))}
    )

    assert response.status_code == 200
    assert response.json()["value"] is True
    assert writer.get(f"{FACTS}/ops.monitoring_enabled").json()["value"] is True


def test_timestamp_facts_must_hold_timestamps_with_an_offset(writer: TestClient) -> None:
    stored = writer.put(f"{FACTS}/ops.rollback_tested_at", json={"value": "2026-10-01T12:00:00+02:00"})

    assert stored.json()["value"] == "2026-10-01T10:00:00Z"
    assert_problem(writer.put(f"{FACTS}/ops.rollback_tested_at", json={"value": "last tuesday"}), 422)
    assert_problem(writer.put(f"{FACTS}/ops.rollback_tested_at", json={"value": "2026-10-01T12:00:00"}), 422)
    assert_problem(writer.put(f"{FACTS}/ops.rollback_tested_at", json={"value": True}), 422)


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("undotted", {"value": True}),
        ("Ops.Alerting", {"value": True}),
        ("ops.alerting_enabled", {"value": None}),
        ("ops.alerting_enabled", {"value": [1, 2]}),
        ("ops.alerting_enabled", {"value": {"a": 1}}),
        ("ops.alerting_enabled", {"value": "x" * 4097}),
        ("ops.alerting_enabled", {"value": True, "observed_at": "2026-01-01T00:00:00"}),
        ("ops.alerting_enabled", {"value": True, "unknown": 1}),
    ],
)
def test_invalid_facts_are_422_and_not_stored(writer: TestClient, name: str, body: dict[str, object]) -> None:
    assert_problem(writer.put(f"{FACTS}/{name}", json=body), 422)
    assert writer.get(FACTS).json()["items"] == []


def test_a_fact_observed_in_the_future_is_422(writer: TestClient) -> None:
    later = iso(datetime.now(UTC) + timedelta(minutes=10))
    soon = iso(datetime.now(UTC) + timedelta(minutes=2))

    assert_problem(writer.put(f"{FACTS}/ops.team_trained", json={"value": True, "observed_at": later}), 422)
    assert writer.put(f"{FACTS}/ops.team_trained", json={"value": True, "observed_at": soon}).status_code == 201


def test_facts_of_a_missing_project_are_404(writer: TestClient) -> None:
    assert_problem(writer.put("/api/v1/projects/ghost/facts/ops.team_trained", json={"value": True}), 404)
    assert_problem(writer.get("/api/v1/projects/ghost/facts"), 404)


def test_deleting_a_fact_needs_admin_and_forgets_it(writer: TestClient, admin: TestClient) -> None:
    writer.put(f"{FACTS}/perf.benchmarks_tracked", json={"value": True})

    assert_problem(writer.delete(f"{FACTS}/perf.benchmarks_tracked"), 403)
    assert admin.delete(f"{FACTS}/perf.benchmarks_tracked").status_code == 204
    assert_problem(writer.get(f"{FACTS}/perf.benchmarks_tracked"), 404)
    assert_problem(admin.delete(f"{FACTS}/perf.benchmarks_tracked"), 404)


def test_fact_writes_honour_if_match(writer: TestClient, admin: TestClient) -> None:
    etag = writer.put(f"{FACTS}/ops.team_trained", json={"value": True}).headers["etag"]
    writer.put(f"{FACTS}/ops.team_trained", json={"value": False})

    assert_problem(writer.put(f"{FACTS}/ops.team_trained", json={"value": True}, headers={"If-Match": etag}), 412)
    assert_problem(admin.delete(f"{FACTS}/ops.team_trained", headers={"If-Match": etag}), 412)
    assert writer.get(f"{FACTS}/ops.team_trained", headers={"If-None-Match": etag}).status_code == 200


def test_a_readers_cannot_write_facts(reader: TestClient) -> None:
    assert_problem(reader.put(f"{FACTS}/ops.team_trained", json={"value": True}), 403)
    assert reader.get(FACTS).status_code == 200


def test_batch_stores_facts_across_projects(writer: TestClient) -> None:
    make_project(writer, "fraud-scoring")
    now = datetime.now(UTC)
    items = [
        {"project": "claims-triage", "name": "ops.logging_enabled", "value": True},
        {"project": "fraud-scoring", "name": "ops.logging_enabled", "value": False, "source": "ci"},
        {"project": "fraud-scoring", "name": "ops.rollback_tested_at", "value": "2026-11-01T00:00:00+00:00"},
    ]
    writer.put(
        "/api/v1/projects/fraud-scoring/facts/ops.runbook_url",
        json={"value": "https://r.example.com", "observed_at": iso(now)},
    )
    items.append(
        {
            "project": "fraud-scoring",
            "name": "ops.runbook_url",
            "value": "https://old.example.com",
            "observed_at": iso(now - timedelta(days=1)),
        }
    )

    response = writer.post("/api/v1/facts:batch", json={"items": items})

    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 3, "superseded": 1, "unchanged": 0}
    fraud = {f["name"]: f["value"] for f in writer.get("/api/v1/projects/fraud-scoring/facts").json()["items"]}
    assert fraud == {
        "ops.logging_enabled": False,
        "ops.rollback_tested_at": "2026-11-01T00:00:00Z",
        "ops.runbook_url": "https://r.example.com",
    }


def test_a_batch_with_bad_items_stores_nothing_and_names_each_bad_item(writer: TestClient) -> None:
    items = [
        {"project": "claims-triage", "name": "ops.logging_enabled", "value": True},
        {"project": "ghost", "name": "ops.logging_enabled", "value": True},
        {"project": "claims-triage", "name": "ops.monitoring_enabled", "value": True},
        {"project": "nobody", "name": "ops.logging_enabled", "value": True},
    ]

    problem = assert_problem(writer.post("/api/v1/facts:batch", json={"items": items}), 422)

    assert [e["field"] for e in problem["errors"]] == ["body.items.1.project", "body.items.3.project"]
    assert writer.get(FACTS).json()["items"] == []


def test_a_batch_with_an_invalid_value_names_the_item(writer: TestClient) -> None:
    items = [
        {"project": "claims-triage", "name": "ops.logging_enabled", "value": True},
        {"project": "claims-triage", "name": "ops.rollback_tested_at", "value": "soon"},
    ]

    problem = assert_problem(writer.post("/api/v1/facts:batch", json={"items": items}), 422)

    assert problem["errors"][0]["field"].startswith("body.items.1")
    assert writer.get(FACTS).json()["items"] == []


def test_a_batch_over_the_item_cap_is_refused(writer: TestClient) -> None:
    items = [{"project": "claims-triage", "name": "ops.logging_enabled", "value": True}] * 10_001

    assert_problem(writer.post("/api/v1/facts:batch", json={"items": items}), 422)
    assert_problem(writer.post("/api/v1/facts:batch", json={"items": []}), 422)


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "2999-01-01T00:00:00Z"])
def test_a_timestamp_fact_beyond_the_calendar_or_in_the_future_is_422_alone_and_in_a_batch(
    writer: TestClient, value: str
) -> None:
    name = "ops.rollback_tested_at"
    batch = {"items": [{"project": "claims-triage", "name": name, "value": value}]}

    alone = writer.put(f"{FACTS}/{name}", json={"value": value})
    in_batch = writer.post("/api/v1/facts:batch", json=batch)

    assert_problem(alone, 422)
    assert assert_problem(in_batch, 422)["errors"][0]["field"].startswith("body.items.0")
    assert writer.get(FACTS).json()["items"] == []


def test_a_timestamp_fact_may_run_a_few_minutes_ahead_of_the_clock(writer: TestClient) -> None:
    name = "ops.rollback_tested_at"
    soon = iso(datetime.now(UTC) + timedelta(minutes=3))

    response = writer.put(f"{FACTS}/{name}", json={"value": soon})

    assert response.status_code == 201, response.text
