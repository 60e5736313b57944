"""Separation of duties: the approver role, decisions and attestations by the caller, four eyes."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import _client_with_key, issue_key
from tests.evaluations.test_api import GO_LIVE_FACTS, PROJECT, evaluate, iso, pilot  # noqa: F401 (a fixture)
from tests.evidence import files
from tests.kpis.factories import cost_kpi
from tests.projects.factories import make_project
from tests.projects.test_api import assert_problem
from tests.rubrics.test_api import weakest_link_rubric

ROLLBACK = "go_live.rollback_tested"
MERGE_PATCH = {"content-type": "application/merge-patch+json"}


def attest(client: TestClient, criterion: str = ROLLBACK, status: str = "met") -> int:
    """Attest, citing a drill report the same caller uploads: the gate's criteria require evidence."""
    # A writer may upload, not attest: what it is refused is the attestation.
    uploaded = client.post(f"{PROJECT}/evidence", files={"file": ("drill.pdf", files.pdf(), "application/pdf")})
    cited = [uploaded.json()["id"]] if uploaded.status_code == 201 else []
    response = client.put(
        f"{PROJECT}/attestations/{criterion}",
        json={"status": status, "evidence_url": "https://wiki.example.com/rollback-drill", "evidence_ids": cited},
    )
    return int(response.status_code)


@pytest.fixture
def second_approver(client: TestClient, admin: TestClient) -> TestClient:
    return _client_with_key(client, issue_key(admin, "approver"))


@pytest.mark.usefixtures("pilot")
def test_a_writer_cannot_attest_a_gate_criterion_but_an_approver_can(writer: TestClient, approver: TestClient) -> None:
    refused = writer.put(f"{PROJECT}/attestations/{ROLLBACK}", json={"status": "met"})
    through_evaluation = writer.post(
        f"{PROJECT}/evaluations", json={"answers": [{"criterion": ROLLBACK, "status": "met"}]}
    )

    assert_problem(refused, 403)
    assert "approver" in refused.json()["detail"]
    assert_problem(through_evaluation, 403)
    assert attest(approver) == 201
    assert writer.get(f"{PROJECT}/readiness").json()["gate"]["passed"] is True


@pytest.mark.usefixtures("pilot")
def test_four_eyes_the_approver_who_attested_a_gate_criterion_cannot_record_the_go(
    writer: TestClient, approver: TestClient, second_approver: TestClient
) -> None:
    assert attest(approver) == 201
    evaluation = evaluate(writer)
    body = {"evaluation_id": evaluation["id"], "decision": "go", "on_behalf_of": "Steering committee"}

    own = approver.post(f"{PROJECT}/decisions", json=body)
    by_writer = writer.post(f"{PROJECT}/decisions", json=body)
    other = second_approver.post(f"{PROJECT}/decisions", json=body)

    assert_problem(own, 409)
    assert ROLLBACK in own.json()["detail"]
    assert "Four eyes" in own.json()["detail"]
    assert_problem(by_writer, 403)
    assert other.status_code == 201, other.text
    decision = other.json()
    assert decision["decided_by"].startswith("approver-")
    assert decision["on_behalf_of"] == "Steering committee"
    listed = writer.get(f"{PROJECT}/decisions").json()["items"]
    assert [d["id"] for d in listed] == [decision["id"]]


@pytest.mark.usefixtures("pilot")
def test_a_no_go_needs_no_second_pair_of_eyes(writer: TestClient, approver: TestClient) -> None:
    assert attest(approver, status="not_met") == 201
    evaluation = evaluate(writer)

    no_go = approver.post(f"{PROJECT}/decisions", json={"evaluation_id": evaluation["id"], "decision": "no_go"})

    assert no_go.status_code == 201, no_go.text


@pytest.mark.usefixtures("pilot")
@pytest.mark.parametrize(
    ("path", "field"),
    [("decisions", "decided_by"), (f"attestations/{ROLLBACK}", "attested_by"), ("evaluations", "attested_by")],
)
def test_who_acted_is_never_taken_from_the_body(
    approver: TestClient, writer: TestClient, path: str, field: str
) -> None:
    evaluation = evaluate(writer)
    bodies = {
        "decisions": {"evaluation_id": evaluation["id"], "decision": "no_go", "decided_by": "CEO"},
        f"attestations/{ROLLBACK}": {"status": "met", "attested_by": "CEO"},
        "evaluations": {"answers": [{"criterion": ROLLBACK, "status": "met", "attested_by": "CEO"}]},
    }
    method = approver.put if path.startswith("attestations") else approver.post

    response = method(f"{PROJECT}/{path}", json=bodies[path])

    assert_problem(response, 422)
    error = response.json()["errors"][0]
    assert error["field"].endswith(field)
    assert "on_behalf_of" in error["message"]


def test_switching_the_governing_rubric_needs_an_approver(
    writer: TestClient, approver: TestClient, admin: TestClient
) -> None:
    admin.post("/api/v1/rubrics", json=weakest_link_rubric())
    make_project(writer)
    switch = {"rubric": "weakest-link"}

    assert_problem(writer.patch(PROJECT, json=switch, headers=MERGE_PATCH), 403)
    assert writer.patch(PROJECT, json={"region": "apac"}, headers=MERGE_PATCH).status_code == 200
    assert approver.patch(PROJECT, json=switch, headers=MERGE_PATCH).status_code == 200
    assert writer.get(f"{PROJECT}/readiness").json()["rubric"] == "weakest-link"


def test_retiring_needs_an_approver_and_only_an_admin_brings_a_project_back(
    writer: TestClient, approver: TestClient, admin: TestClient
) -> None:
    make_project(writer)
    retire = {"to": "retired", "reason": "replaced by a vendor product"}

    assert_problem(writer.post(f"{PROJECT}/stage-transitions", json=retire), 403)
    assert approver.post(f"{PROJECT}/stage-transitions", json=retire).status_code == 201
    assert_problem(approver.post(f"{PROJECT}/stage-transitions", json={"to": "poc", "reason": "back"}), 403)
    assert_problem(admin.post(f"{PROJECT}/stage-transitions", json={"to": "poc"}), 422)
    back = admin.post(f"{PROJECT}/stage-transitions", json={"to": "poc", "reason": "the vendor deal fell through"})
    assert back.status_code == 201, back.text
    assert writer.get(PROJECT).json()["stage"] == "poc"
    audit = admin.get("/api/v1/audit-events", params={"entity_key": "claims-triage"}).json()["items"]
    assert audit[0]["action"] == "project.stage_transition"
    assert audit[0]["after"] == {"stage": "poc", "reason": "the vendor deal fell through"}


@pytest.mark.usefixtures("pilot")
def test_a_writer_cannot_attest_a_governing_gate_criterion_by_evaluating_against_another_rubric(
    writer: TestClient, admin: TestClient
) -> None:
    lenient = weakest_link_rubric(key="lenient")
    lenient["sections"].append({"key": "go_live", "title": "Go live"})
    lenient["criteria"].append({"key": ROLLBACK, "section": "go_live", "title": "Rollback, attested", "gate": False})
    assert admin.post("/api/v1/rubrics", json=lenient).status_code == 201, lenient

    through_other = writer.post(
        f"{PROJECT}/evaluations", json={"rubric": "lenient", "answers": [{"criterion": ROLLBACK, "status": "met"}]}
    )

    assert_problem(through_other, 403)
    assert writer.get(f"{PROJECT}/attestations").json()["items"] == []


@pytest.mark.usefixtures("pilot")
def test_four_eyes_the_approver_who_posted_a_gate_fact_cannot_record_the_go(
    writer: TestClient, approver: TestClient, second_approver: TestClient
) -> None:
    for name, value in (
        ("ops.rollback_tested_at", iso(datetime.now(UTC) - timedelta(days=3))),
        ("ops.rollback_procedure_url", "https://wiki.example.com/rollback"),
    ):
        assert approver.put(f"{PROJECT}/facts/{name}", json={"value": value}).status_code == 201
    evaluation = evaluate(writer)
    assert evaluation["gate"]["passed"] is True
    body = {"evaluation_id": evaluation["id"], "decision": "go"}

    own = approver.post(f"{PROJECT}/decisions", json=body)

    assert_problem(own, 409)
    assert "ops.rollback_tested_at" in own.json()["detail"]
    assert second_approver.post(f"{PROJECT}/decisions", json=body).status_code == 201


def _person_key(admin: TestClient, client: TestClient, person: str, name: str) -> TestClient:
    body = {"name": name, "role": "approver", "person": person}
    response = admin.post("/api/v1/api-keys", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["person"] == person.lower()
    return _client_with_key(client, response.json()["secret"])


def _pilot_with_rollback_tested(writer: TestClient) -> None:
    for name, value in (
        ("ops.rollback_tested_at", iso(datetime.now(UTC) - timedelta(days=3))),
        ("ops.rollback_procedure_url", "https://wiki.example.com/rollback"),
    ):
        assert writer.put(f"{PROJECT}/facts/{name}", json={"value": value}).status_code == 201


def test_four_eyes_the_approver_who_created_the_kpi_and_posted_its_measurement_cannot_record_the_go(
    writer: TestClient, approver: TestClient, second_approver: TestClient
) -> None:
    make_project(writer)
    assert approver.post(f"{PROJECT}/kpis", json=cost_kpi()).status_code == 201
    assert approver.post(f"{PROJECT}/kpis/handling-cost/measurements", json={"value": 34}).status_code == 201
    for stage in ("poc", "pilot"):
        writer.post(f"{PROJECT}/stage-transitions", json={"to": stage})
    for name, value in GO_LIVE_FACTS.items():
        assert writer.put(f"{PROJECT}/facts/{name}", json={"value": value}).status_code == 201
    _pilot_with_rollback_tested(writer)
    evaluation = evaluate(writer)
    assert evaluation["gate"]["passed"] is True
    body = {"evaluation_id": evaluation["id"], "decision": "go"}

    own = approver.post(f"{PROJECT}/decisions", json=body)

    detail = assert_problem(own, 409)["detail"]
    assert "Four eyes" in detail
    assert "created or changed the KPIs handling-cost" in detail
    assert "posted measurements of the KPIs handling-cost" in detail
    assert second_approver.post(f"{PROJECT}/decisions", json=body).status_code == 201


def test_four_eyes_the_approver_who_only_measured_a_kpi_through_a_batch_cannot_record_the_go(
    writer: TestClient, approver: TestClient
) -> None:
    make_project(writer)
    assert writer.post(f"{PROJECT}/kpis", json=cost_kpi()).status_code == 201
    batch = {"items": [{"project": "claims-triage", "kpi": "handling-cost", "value": 33}]}
    assert approver.post("/api/v1/measurements:batch", json=batch).status_code == 201
    for stage in ("poc", "pilot"):
        writer.post(f"{PROJECT}/stage-transitions", json={"to": stage})
    for name, value in GO_LIVE_FACTS.items():
        writer.put(f"{PROJECT}/facts/{name}", json={"value": value})
    _pilot_with_rollback_tested(writer)
    evaluation = evaluate(writer)

    own = approver.post(f"{PROJECT}/decisions", json={"evaluation_id": evaluation["id"], "decision": "go"})

    detail = assert_problem(own, 409)["detail"]
    assert "posted measurements of the KPIs handling-cost" in detail
    assert "created or changed" not in detail


@pytest.mark.usefixtures("pilot")
def test_four_eyes_compares_people_two_keys_of_one_approver_count_as_one(
    client: TestClient, admin: TestClient, writer: TestClient
) -> None:
    ana_laptop = _person_key(admin, client, "Ana.Souza@example.com", "ana-laptop")
    ana_pipeline = _person_key(admin, client, "ana.souza@example.com", "ana-pipeline")
    bo = _person_key(admin, client, "bo.lee@example.com", "bo")
    assert attest(ana_laptop) == 201
    evaluation = evaluate(writer)
    body = {"evaluation_id": evaluation["id"], "decision": "go"}

    through_other_key = ana_pipeline.post(f"{PROJECT}/decisions", json=body)

    detail = assert_problem(through_other_key, 409)["detail"]
    assert "the person ana.souza@example.com" in detail
    assert ROLLBACK in detail
    assert bo.post(f"{PROJECT}/decisions", json=body).status_code == 201


@pytest.mark.parametrize("create", ["post", "put", "batch"])
def test_a_writer_cannot_choose_a_non_default_rubric_when_creating_a_project(
    writer: TestClient, approver: TestClient, admin: TestClient, create: str
) -> None:
    admin.post("/api/v1/rubrics", json=weakest_link_rubric())
    body = {"key": "fraud-scoring", "name": "Fraud scoring", "rubric": "weakest-link"}

    def send(client: TestClient) -> Any:
        if create == "post":
            return client.post("/api/v1/projects", json=body)
        if create == "put":
            return client.put("/api/v1/projects/fraud-scoring", json=body)
        return client.post("/api/v1/projects:batch", json={"items": [body]})

    # A batch names each item it refuses, all or nothing, as it does for every refusal.
    refused = assert_problem(send(writer), 422 if create == "batch" else 403)
    assert "approver" in str(refused)
    assert writer.get("/api/v1/projects/fraud-scoring").status_code == 404
    assert send(approver).status_code in (200, 201)
    assert writer.get("/api/v1/projects/fraud-scoring").json()["rubric"] == "weakest-link"
    default = {"key": "churn-model", "name": "Churn model"}
    assert writer.post("/api/v1/projects", json=default).status_code == 201


@pytest.mark.usefixtures("pilot")
def test_four_eyes_the_approver_who_uploaded_evidence_a_gate_attestation_cites_cannot_record_the_go(
    client: TestClient, admin: TestClient, writer: TestClient, approver: TestClient, second_approver: TestClient
) -> None:
    third = _client_with_key(client, issue_key(admin, "approver"))
    uploaded = approver.post(
        f"{PROJECT}/evidence", files={"file": ("drill.pdf", files.pdf(), "application/pdf")}
    ).json()
    cited = {"status": "met", "evidence_ids": [uploaded["id"]]}
    assert second_approver.put(f"{PROJECT}/attestations/{ROLLBACK}", json=cited).status_code == 201
    evaluation = evaluate(writer)
    body = {"evaluation_id": evaluation["id"], "decision": "go"}

    own = approver.post(f"{PROJECT}/decisions", json=body)

    detail = assert_problem(own, 409)["detail"]
    assert "uploaded the evidence drill.pdf" in detail
    assert third.post(f"{PROJECT}/decisions", json=body).status_code == 201
