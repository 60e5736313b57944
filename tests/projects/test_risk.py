"""Risk classification after the EU AI Act: set by an approver with a rationale, audited, told as
an event, and a filter of every portfolio read."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.platforms.factories import PROJECTS
from tests.projects.factories import make_project, project_body
from tests.projects.test_api import assert_problem
from tests.readiness.test_api import eventually

MERGE = {"Content-Type": "application/merge-patch+json"}
HIGH = {"risk_tier": "high", "risk_rationale": "Annex III 4(a): it filters job applications."}


def test_an_approver_classifies_a_project_with_a_rationale_recorded_with_who_and_when(
    writer: TestClient, approver: TestClient, admin: TestClient
) -> None:
    created = make_project(writer)
    start = writer.get("/api/v1/events").json()["next_cursor"]

    classified = approver.patch(f"{PROJECTS}/claims-triage", json=HIGH, headers=MERGE)

    assert created["risk_tier"] == "unclassified"
    assert (created["risk_rationale"], created["risk_classified_by"], created["risk_classified_at"]) == (None,) * 3
    assert classified.status_code == 200, classified.text
    shown = classified.json()
    assert (shown["risk_tier"], shown["risk_rationale"]) == ("high", HIGH["risk_rationale"])
    assert shown["risk_classified_by"].startswith("approver-")
    assert shown["risk_classified_at"] is not None
    events = writer.get("/api/v1/events", params={"after": start, "types": "project.risk_classified"}).json()
    (told,) = events["items"]
    assert told["subject"] == "claims-triage"
    assert told["data"]["before"] == {"risk_tier": "unclassified", "risk_rationale": None}
    assert told["data"]["after"] == {"risk_tier": "high", "risk_rationale": HIGH["risk_rationale"]}
    assert told["data"]["classified_by"] == shown["risk_classified_by"]
    audit = admin.get("/api/v1/audit-events", params={"entity_key": "claims-triage", "action": "project.update"})
    (entry,) = audit.json()["items"]
    assert (entry["before"]["risk_tier"], entry["after"]["risk_tier"]) == ("unclassified", "high")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"risk_tier": "high"}, 422),
        ({"risk_tier": "high", "risk_rationale": ""}, 422),
        ({"risk_tier": "catastrophic", "risk_rationale": "?"}, 422),
    ],
)
def test_a_tier_needs_a_rationale_and_a_known_name(approver: TestClient, body: dict[str, Any], status: int) -> None:
    make_project(approver)

    assert_problem(approver.patch(f"{PROJECTS}/claims-triage", json=body, headers=MERGE), status)

    assert approver.get(f"{PROJECTS}/claims-triage").json()["risk_tier"] == "unclassified"


def test_only_an_approver_changes_the_classification_but_a_writer_may_send_it_back_unchanged(
    writer: TestClient, approver: TestClient
) -> None:
    make_project(writer)
    refused = writer.patch(f"{PROJECTS}/claims-triage", json=HIGH, headers=MERGE)
    refused_at_creation = writer.post(PROJECTS, json=project_body("hr-screening", **HIGH))
    approver.patch(f"{PROJECTS}/claims-triage", json=HIGH, headers=MERGE)
    current = writer.get(f"{PROJECTS}/claims-triage").json()

    round_trip = writer.put(f"{PROJECTS}/claims-triage", json={**current, "name": "Claims triage v2"})
    left_out = writer.put(f"{PROJECTS}/claims-triage", json=project_body(name="Claims triage v3"))
    changed = writer.put(f"{PROJECTS}/claims-triage", json={**current, "risk_tier": "limited"})

    assert_problem(refused, 403)
    assert_problem(refused_at_creation, 403)
    assert round_trip.status_code == 200, round_trip.text
    assert left_out.status_code == 200, left_out.text
    assert (left_out.json()["risk_tier"], left_out.json()["risk_rationale"]) == ("high", HIGH["risk_rationale"])
    assert left_out.json()["risk_classified_by"] == current["risk_classified_by"]
    assert_problem(changed, 403)


PORTFOLIO_READS = [
    "/api/v1/portfolio/readiness",
    "/api/v1/portfolio/summary",
    "/api/v1/portfolio/stalled",
    "/api/v1/portfolio/trend",
    "/api/v1/portfolio/scaling",
    "/api/v1/portfolio/frameworks/eu-ai-act",
    "/api/v1/portfolio/blockers",
]


def test_risk_tier_filters_every_portfolio_read(writer: TestClient, approver: TestClient) -> None:
    make_project(writer, "hr-screening", department="hr", workflow=None)
    make_project(writer, "claims-triage", workflow=None)
    approver.patch(f"{PROJECTS}/hr-screening", json=HIGH, headers=MERGE)
    assert eventually(
        lambda: (
            [r["key"] for r in writer.get(PORTFOLIO_READS[0], params={"risk_tier": "high"}).json()["items"]]
            == ["hr-screening"]
        )
    )

    for path in PORTFOLIO_READS:
        high = writer.get(path, params={"risk_tier": "high"})
        minimal = writer.get(path, params={"risk_tier": "minimal"})
        assert high.status_code == 200, (path, high.text)
        assert "claims-triage" not in high.text, path
        assert "hr-screening" not in minimal.text, path
        assert '"hr"' not in minimal.text, path
    csv = writer.get(PORTFOLIO_READS[0], params={"risk_tier": "high"}, headers={"Accept": "text/csv"}).text
    assert "hr-screening" in csv
    assert "claims-triage" not in csv
    summary = writer.get(PORTFOLIO_READS[1], params={"risk_tier": "unclassified"}).json()
    assert summary["overall"]["projects"] == 1
    stalled = writer.get(PORTFOLIO_READS[2], params={"risk_tier": "high"}).json()["items"]
    assert [row["key"] for row in stalled] == ["hr-screening"]
    assert_problem(writer.get(PORTFOLIO_READS[0], params={"risk_tier": "extreme"}), 422)
    listed = writer.get(PROJECTS, params={"risk_tier": "high"}).json()["items"]
    assert [project["key"] for project in listed] == ["hr-screening"]
