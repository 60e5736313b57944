from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.kpis.factories import cost_kpi, make_kpi
from tests.projects.factories import make_project
from tests.projects.test_api import assert_problem

PROJECT = "/api/v1/projects/claims-triage"
GO_LIVE_FACTS: dict[str, Any] = {
    "security.review_completed": True,
    "compliance.review_completed": True,
    "ops.monitoring_enabled": True,
    "ops.alerting_enabled": True,
    "ops.escalation_path": "pagerduty:claims-oncall",
    "ops.team_trained": True,
    "ops.runbook_url": "https://runbooks.example.com/claims-triage",
    "perf.benchmarks_tracked": True,
}


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def pilot(writer: TestClient) -> None:
    """A pilot with a business owner, a cost KPI with a measurement, and every go-live fact but rollback."""
    make_project(writer)
    make_kpi(writer, "claims-triage", cost_kpi())
    writer.post(f"{PROJECT}/kpis/handling-cost/measurements", json={"value": 34})
    for stage in ("poc", "pilot"):
        writer.post(f"{PROJECT}/stage-transitions", json={"to": stage})
    for name, value in GO_LIVE_FACTS.items():
        assert writer.put(f"{PROJECT}/facts/{name}", json={"value": value}).status_code == 201


def evaluate(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post(f"{PROJECT}/evaluations", json=body)
    assert response.status_code == 201, response.text
    evaluation: dict[str, Any] = response.json()
    return evaluation


def decide(client: TestClient, evaluation_id: str, decision: str = "go", **extra: Any) -> Any:
    body = {"evaluation_id": evaluation_id, "decision": decision, "on_behalf_of": "Steering committee", **extra}
    return client.post(f"{PROJECT}/decisions", json=body)


@pytest.mark.usefixtures("pilot")
def test_the_gate_holds_production_until_rollback_is_tested_then_opens_it(
    writer: TestClient, approver: TestClient
) -> None:
    blocked = evaluate(writer)

    assert blocked["gate"]["passed"] is False
    assert blocked["recommendation"] == "no_go"
    assert [b["criterion"] for b in blocked["gate"]["blockers"]] == ["go_live.rollback_tested"]
    assert_problem(decide(approver, blocked["id"]), 409)
    assert_problem(writer.post(f"{PROJECT}/stage-transitions", json={"to": "production"}), 409)

    writer.put(f"{PROJECT}/facts/ops.rollback_tested_at", json={"value": iso(datetime.now(UTC) - timedelta(days=3))})
    writer.put(f"{PROJECT}/facts/ops.rollback_procedure_url", json={"value": "https://wiki.example.com/rollback"})
    passed = evaluate(writer)
    go = decide(approver, passed["id"], rationale="All go-live criteria met")
    entered = writer.post(f"{PROJECT}/stage-transitions", json={"to": "production"})

    assert passed["gate"] == {"passed": True, "blockers": []}
    assert passed["recommendation"] == "go"
    assert go.status_code == 201, go.text
    assert entered.status_code == 201, entered.text
    assert writer.get(PROJECT).json()["stage"] == "production"


@pytest.mark.usefixtures("pilot")
def test_an_evaluation_records_each_criterion_with_its_source_and_what_it_saw(writer: TestClient) -> None:
    evaluation = evaluate(
        writer,
        evaluator="ci",
        answers=[
            {"criterion": "scaling.adjacent_use_cases", "status": "met", "evidence_url": "https://wiki.example.com/x"},
        ],
    )
    criteria = {c["key"]: c for c in evaluation["criteria"]}

    assert len(criteria) == 23
    assert criteria["stakeholders.business_owner"]["status"] == "met"
    assert criteria["stakeholders.business_owner"]["source"] == "check"
    assert criteria["go_live.rollback_tested"]["reason"].startswith("no fact ops.rollback_tested_at")
    assert criteria["scaling.adjacent_use_cases"]["status"] == "not_applicable"
    assert criteria["value.measured_recently"]["observed"] == {"kpis": ["handling-cost"], "short": []}
    assert evaluation["rubric"] == "ai-production-readiness"
    assert evaluation["rubric_version"] == 4
    assert evaluation["stage"] == "pilot"
    assert {s["key"] for s in evaluation["sections"]} == {
        "stakeholders",
        "infrastructure",
        "value",
        "go_live",
        "scaling",
    }
    assert writer.get(f"{PROJECT}/evaluations/{evaluation['id']}").json() == evaluation


@pytest.mark.usefixtures("pilot")
def test_attested_answers_count_where_checks_have_no_data(writer: TestClient) -> None:
    writer.patch(PROJECT, json={"sync_cadence_days": None})

    evaluation = evaluate(
        writer,
        answers=[
            {"criterion": "stakeholders.weekly_sync", "status": "partial", "note": "fortnightly for now"},
            {"criterion": "stakeholders.business_owner", "status": "not_met"},
        ],
    )
    criteria = {c["key"]: c for c in evaluation["criteria"]}

    assert criteria["stakeholders.weekly_sync"]["status"] == "partial"
    assert criteria["stakeholders.weekly_sync"]["source"] == "attestation"
    assert "fortnightly" in criteria["stakeholders.weekly_sync"]["reason"]
    assert criteria["stakeholders.business_owner"]["status"] == "met"


@pytest.mark.usefixtures("pilot")
def test_answers_must_fit_the_rubric(writer: TestClient) -> None:
    answers = [
        {"criterion": "stakeholders.business_owner", "status": "met"},
        {"criterion": "made.up", "status": "met"},
        {"criterion": "stakeholders.business_owner", "status": "partial"},
    ]

    problem = assert_problem(writer.post(f"{PROJECT}/evaluations", json={"answers": answers}), 422)

    assert [e["field"] for e in problem["errors"]] == ["body.answers.1.criterion", "body.answers.2.criterion"]
    assert writer.get(f"{PROJECT}/evaluations").json()["items"] == []
    assert_problem(
        writer.post(f"{PROJECT}/evaluations", json={"answers": [{"criterion": "a.b", "status": "done"}]}), 422
    )


@pytest.mark.usefixtures("pilot")
def test_a_preview_computes_without_storing(reader: TestClient) -> None:
    preview = reader.post(f"{PROJECT}/evaluations:preview", json={})

    assert preview.status_code == 200
    assert preview.json()["id"] is None
    assert preview.json()["gate"]["passed"] is False
    assert reader.get(f"{PROJECT}/evaluations").json()["items"] == []
    assert_problem(reader.post(f"{PROJECT}/evaluations", json={}), 403)


@pytest.mark.usefixtures("pilot")
def test_an_exemption_clears_a_gate_criterion_until_it_expires(writer: TestClient, admin: TestClient) -> None:
    body = {
        "criterion": "go_live.rollback_tested",
        "justification": "Stateless service; redeploy is the rollback",
        "expires_at": iso(datetime.now(UTC) + timedelta(days=30)),
    }

    assert_problem(writer.post(f"{PROJECT}/exemptions", json=body), 403)
    created = admin.post(f"{PROJECT}/exemptions", json=body)
    evaluation = evaluate(writer)

    assert created.status_code == 201, created.text
    assert created.json()["active"] is True
    assert evaluation["gate"]["passed"] is True
    assert {c["key"]: c["status"] for c in evaluation["criteria"]}["go_live.rollback_tested"] == "exempt"

    assert admin.delete(f"{PROJECT}/exemptions/{created.json()['id']}").status_code == 204
    assert evaluate(writer)["gate"]["passed"] is False
    assert writer.get(f"{PROJECT}/exemptions").json()["items"] == []


@pytest.mark.usefixtures("pilot")
def test_exemptions_must_name_a_criterion_and_expire_in_the_future(admin: TestClient) -> None:
    later = iso(datetime.now(UTC) + timedelta(days=1))
    earlier = iso(datetime.now(UTC) - timedelta(days=1))

    assert_problem(
        admin.post(
            f"{PROJECT}/exemptions", json={"criterion": "go_live.nothing", "justification": "x", "expires_at": later}
        ),
        422,
    )
    assert_problem(
        admin.post(
            f"{PROJECT}/exemptions",
            json={"criterion": "go_live.rollback_tested", "justification": "x", "expires_at": earlier},
        ),
        422,
    )


@pytest.mark.usefixtures("pilot")
def test_a_go_must_reference_the_latest_evaluation(writer: TestClient, approver: TestClient) -> None:
    writer.put(f"{PROJECT}/facts/ops.rollback_tested_at", json={"value": iso(datetime.now(UTC))})
    writer.put(f"{PROJECT}/facts/ops.rollback_procedure_url", json={"value": "https://wiki.example.com/rollback"})
    older = evaluate(writer)
    newer = evaluate(writer)

    assert_problem(decide(approver, older["id"]), 409)
    assert decide(approver, older["id"], "no_go", rationale="Not yet").status_code == 201
    assert decide(approver, newer["id"]).status_code == 201
    decisions = writer.get(f"{PROJECT}/decisions").json()["items"]
    assert [d["decision"] for d in decisions] == ["go", "no_go"]


@pytest.mark.usefixtures("pilot")
def test_only_an_admin_may_override_a_failed_gate_and_the_reason_is_recorded(
    writer: TestClient, admin: TestClient, approver: TestClient
) -> None:
    evaluation = evaluate(writer)

    assert_problem(decide(approver, evaluation["id"], override_reason="Business deadline"), 403)
    overridden = decide(admin, evaluation["id"], override_reason="Accepted risk: rollback drill next week")

    assert overridden.status_code == 201, overridden.text
    assert overridden.json()["override_reason"] == "Accepted risk: rollback drill next week"
    assert overridden.json()["recorded_by"] == "bootstrap-admin"
    assert writer.post(f"{PROJECT}/stage-transitions", json={"to": "production"}).status_code == 201


@pytest.mark.usefixtures("pilot")
def test_an_override_reason_on_a_passed_gate_or_a_no_go_is_422(admin: TestClient) -> None:
    evaluation = evaluate(admin)

    assert_problem(decide(admin, evaluation["id"], "no_go", override_reason="why"), 422)


@pytest.mark.usefixtures("pilot")
def test_a_decision_on_another_projects_evaluation_is_422(writer: TestClient, approver: TestClient) -> None:
    make_project(writer, "fraud-scoring")
    other = writer.post("/api/v1/projects/fraud-scoring/evaluations", json={}).json()

    problem = assert_problem(decide(approver, other["id"], "no_go"), 422)

    assert problem["errors"][0]["field"] == "body.evaluation_id"
    assert_problem(decide(approver, "00000000-0000-0000-0000-000000000000", "no_go"), 422)


@pytest.mark.usefixtures("pilot")
def test_a_go_opens_production_once(writer: TestClient, admin: TestClient) -> None:
    transitions = f"{PROJECT}/stage-transitions"
    decide(admin, evaluate(writer)["id"], override_reason="Pilot results accepted")
    writer.post(transitions, json={"to": "production"})
    writer.post(transitions, json={"to": "pilot", "reason": "Incident: model drift"})

    refused = writer.post(transitions, json={"to": "production"})
    decide(admin, evaluate(writer)["id"], override_reason="Drift fixed")
    reentered = writer.post(transitions, json={"to": "production"})

    assert_problem(refused, 409)
    assert "new evaluation" in refused.json()["detail"]
    assert reentered.status_code == 201


@pytest.mark.usefixtures("pilot")
def test_a_no_go_keeps_production_closed(writer: TestClient, approver: TestClient) -> None:
    decide(approver, evaluate(writer)["id"], "no_go")

    problem = assert_problem(writer.post(f"{PROJECT}/stage-transitions", json={"to": "production"}), 409)

    assert "no_go" in problem["detail"]


@pytest.mark.usefixtures("pilot")
def test_evaluations_are_listed_newest_first(writer: TestClient) -> None:
    ids = [evaluate(writer)["id"] for _ in range(3)]

    first = writer.get(f"{PROJECT}/evaluations", params={"limit": 2}).json()
    second = writer.get(f"{PROJECT}/evaluations", params={"limit": 2, "cursor": first["next_cursor"]}).json()

    assert [e["id"] for e in first["items"] + second["items"]] == list(reversed(ids))


def test_an_idea_stage_project_is_not_ready_and_its_gate_criteria_are_still_evaluated(writer: TestClient) -> None:
    make_project(writer)

    evaluation = evaluate(writer)
    criteria = {c["key"]: c["status"] for c in evaluation["criteria"]}

    assert criteria["stakeholders.steering_committee"] == "not_applicable"
    assert criteria["go_live.security_review"] == "not_met"
    assert evaluation["level"] in ("not_ready", "pilot_ready")
    assert evaluation["gate"]["passed"] is False


def test_evaluations_of_a_missing_project_are_404(writer: TestClient) -> None:
    assert_problem(writer.post("/api/v1/projects/ghost/evaluations", json={}), 404)
    assert_problem(writer.get("/api/v1/projects/ghost/readiness"), 404)
    assert_problem(writer.get(f"{PROJECT}/evaluations/00000000-0000-0000-0000-000000000000"), 404)


def test_an_unknown_rubric_or_version_in_the_body_is_422(writer: TestClient) -> None:
    make_project(writer)

    unknown_version = assert_problem(writer.post(f"{PROJECT}/evaluations:preview", json={"rubric_version": 9}), 422)
    unknown_rubric = assert_problem(writer.post(f"{PROJECT}/evaluations", json={"rubric": "no-such-rubric"}), 422)

    assert unknown_version["errors"][0]["field"] == "body.rubric_version"
    assert unknown_rubric["errors"][0]["field"] == "body.rubric"
