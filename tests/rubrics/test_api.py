from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.projects.factories import make_project
from tests.projects.test_api import assert_problem

RUBRICS = "/api/v1/rubrics"


def weakest_link_rubric(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": "weakest-link",
        "name": "Weakest link",
        "description": "The ML Test Score's rule: a system is as ready as its weakest section.",
        "aggregation": "min_section",
        "sections": [{"key": "owners", "title": "Owners"}, {"key": "infra", "title": "Infrastructure", "weight": 2}],
        "criteria": [
            {
                "key": "owners.business",
                "section": "owners",
                "title": "A business owner",
                "check": {"kind": "field", "field": "business_owner", "op": "present", "when_missing": "not_met"},
            },
            {
                "key": "infra.private",
                "section": "infra",
                "title": "Inside the VPC",
                "check": {"kind": "field", "field": "deployment.target", "op": "in", "values": ["vpc"]},
            },
            {
                "key": "infra.monitoring",
                "section": "infra",
                "title": "Monitoring",
                "gate": True,
                "check": {"kind": "fact", "fact": "ops.monitoring_enabled", "op": "is_true"},
                "references": [{"framework": "ml-test-score", "id": "Monitor 1", "strength": "strong"}],
            },
        ],
    }
    body.update(overrides)
    return body


def test_the_default_rubric_ships_as_version_4(reader: TestClient) -> None:
    listed = reader.get(RUBRICS).json()["items"]
    rubric = reader.get(f"{RUBRICS}/ai-production-readiness").json()

    assert [(r["key"], r["latest_version"]) for r in listed] == [("ai-production-readiness", 4)]
    assert rubric["version"] == 4
    assert rubric["aggregation"] == "weighted_mean"
    assert len(rubric["criteria"]) == 23
    assert [c["key"] for c in rubric["criteria"] if c["gate"]] == [
        "go_live.kpis_defined",
        "go_live.security_review",
        "go_live.monitoring_alerting",
        "go_live.rollback_tested",
        "go_live.ops_trained",
        "go_live.performance_benchmarks",
    ]
    rollback = next(c for c in rubric["criteria"] if c["key"] == "go_live.rollback_tested")
    assert rollback["check"]["fact"] == "ops.rollback_tested_at"
    assert [c["key"] for c in rubric["criteria"] if c["evidence_required"]] == [
        c["key"] for c in rubric["criteria"] if c["gate"]
    ]
    assert reader.get(f"{RUBRICS}/ai-production-readiness/versions/4").json() == rubric


def test_a_custom_min_section_rubric_scores_the_weakest_section(admin: TestClient, writer: TestClient) -> None:
    created = admin.post(RUBRICS, json=weakest_link_rubric())
    make_project(writer)

    evaluation = writer.post("/api/v1/projects/claims-triage/evaluations", json={"rubric": "weakest-link"}).json()

    assert created.status_code == 201, created.text
    sections = {s["key"]: s["score"] for s in evaluation["sections"]}
    # owners: business owner present → 100; infra: vpc met, monitoring has no data and no answer → 50
    assert sections == {"owners": 100, "infra": 50}
    assert evaluation["score"] == 50
    assert evaluation["weakest_section"] == "infra"
    assert evaluation["rubric"] == "weakest-link"


def test_a_project_can_be_governed_by_a_custom_rubric(admin: TestClient, writer: TestClient) -> None:
    admin.post(RUBRICS, json=weakest_link_rubric())
    make_project(admin, rubric="weakest-link")
    writer.post("/api/v1/projects/claims-triage/evaluations", json={})

    readiness = writer.get("/api/v1/projects/claims-triage/readiness").json()

    assert readiness["rubric"] == "weakest-link"
    assert readiness["rubric_version"] == 1
    assert writer.get("/api/v1/projects/claims-triage/evaluations").json()["items"][0]["rubric"] == "weakest-link"


def test_publishing_a_new_version_leaves_the_old_one_and_its_evaluations_alone(
    admin: TestClient, writer: TestClient
) -> None:
    admin.post(RUBRICS, json=weakest_link_rubric())
    make_project(writer)
    old = writer.post("/api/v1/projects/claims-triage/evaluations", json={"rubric": "weakest-link"}).json()
    v2 = weakest_link_rubric(aggregation="weighted_mean")
    del v2["key"]

    published = admin.post(f"{RUBRICS}/weakest-link/versions", json=v2)
    new = writer.post("/api/v1/projects/claims-triage/evaluations", json={"rubric": "weakest-link"}).json()
    pinned = writer.post(
        "/api/v1/projects/claims-triage/evaluations", json={"rubric": "weakest-link", "rubric_version": 1}
    ).json()

    assert published.status_code == 201
    assert published.json()["version"] == 2
    assert admin.get(f"{RUBRICS}/weakest-link/versions/1").json()["aggregation"] == "min_section"
    assert admin.get(f"{RUBRICS}/weakest-link").json()["version"] == 2
    assert (new["rubric_version"], new["score"]) == (2, pytest.approx((100 + 2 * 50) / 3, abs=0.01))
    assert (pinned["rubric_version"], pinned["score"]) == (1, 50)
    assert writer.get(f"/api/v1/projects/claims-triage/evaluations/{old['id']}").json() == old


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"criteria": [{"key": "owners.x", "section": "nowhere", "title": "X"}]}, "unknown section"),
        (
            {
                "criteria": [
                    {
                        "key": "owners.x",
                        "section": "owners",
                        "title": "X",
                        "check": {"kind": "field", "field": "salary", "op": "present"},
                    }
                ]
            },
            "unknown project field",
        ),
        (
            {
                "criteria": [
                    {
                        "key": "owners.x",
                        "section": "owners",
                        "title": "X",
                        "check": {"kind": "fact", "fact": "NotDotted", "op": "is_true"},
                    }
                ]
            },
            "not a dotted name",
        ),
        (
            {
                "criteria": [
                    {
                        "key": "owners.x",
                        "section": "owners",
                        "title": "X",
                        "check": {"kind": "fact", "fact": "ops.done", "op": "within_days", "value": 3},
                    }
                ]
            },
            "ends in _at",
        ),
    ],
)
def test_unsound_rubrics_are_refused_with_reasons(admin: TestClient, change: dict[str, Any], message: str) -> None:
    problem = assert_problem(admin.post(RUBRICS, json=weakest_link_rubric(**change)), 422)

    assert any(message in error["message"] for error in problem["errors"]), problem
    assert_problem(admin.get(f"{RUBRICS}/weakest-link"), 404)


@pytest.mark.parametrize(
    "check",
    [
        {"kind": "code", "python": "import os"},
        {"kind": "fact", "fact": "ops.x_enabled", "op": "is_true", "eval": "1"},
        {"kind": "field", "field": "business_owner", "op": "matches"},
    ],
)
def test_checks_are_declarative_rules_never_code(admin: TestClient, check: dict[str, Any]) -> None:
    criteria = [{"key": "owners.x", "section": "owners", "title": "X", "check": check}]
    body = weakest_link_rubric(sections=[{"key": "owners", "title": "Owners"}], criteria=criteria)

    assert_problem(admin.post(RUBRICS, json=body), 422)


def test_rubrics_are_published_by_admins_only_and_keys_are_unique(admin: TestClient, writer: TestClient) -> None:
    assert_problem(writer.post(RUBRICS, json=weakest_link_rubric()), 403)
    assert admin.post(RUBRICS, json=weakest_link_rubric()).status_code == 201
    assert_problem(admin.post(RUBRICS, json=weakest_link_rubric()), 409)
    assert_problem(admin.get(f"{RUBRICS}/weakest-link/versions/9"), 404)
    assert_problem(
        admin.post(f"{RUBRICS}/nothing/versions", json={k: v for k, v in weakest_link_rubric().items() if k != "key"}),
        404,
    )


def test_version_numbers_beyond_what_the_database_stores_are_422(writer: TestClient) -> None:
    make_project(writer)

    assert_problem(writer.get(f"{RUBRICS}/ai-production-readiness/versions/144115188075855871"), 422)
    body = {"rubric_version": 144115188075855871}
    assert_problem(writer.post("/api/v1/projects/claims-triage/evaluations", json=body), 422)
