"""`readiness demo-data`: the playbook's stories hold when read back through the API, on both backends."""

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.clock import clock
from app.core.db import make_engine
from app.core.migrations import upgrade
from app.core.settings import Settings
from app.demo import PORTFOLIO, Outcome, build
from app.main import create_app
from migrations.data import published_definition
from tests.conftest import DatabaseUrlFactory


@pytest.fixture(scope="module")
def demo_settings(backend: str, database_url_factory: DatabaseUrlFactory) -> Settings:
    url = database_url_factory(backend)
    engine = make_engine(url, pool_size=1)
    upgrade(engine)
    engine.dispose()
    return Settings(database_url=url, rescorer=False, dispatcher=False, rate_limit=0, auth_failure_limit=0)


@pytest.fixture(scope="module")
def outcome(demo_settings: Settings) -> Outcome:
    return build(demo_settings)


@pytest.fixture(scope="module")
def api(demo_settings: Settings, outcome: Outcome) -> Iterator[TestClient]:
    with TestClient(create_app(demo_settings)) as client:
        client.headers["Authorization"] = f"Bearer {outcome.admin_secret}"
        yield client


def _get(api: TestClient, path: str) -> Any:
    response = api.get(f"/api/v1{path}")
    assert response.status_code == 200, response.text
    return response.json()


def test_the_demo_leaves_the_clock_as_it_found_it(outcome: Outcome) -> None:
    assert clock.offset == timedelta()
    assert outcome.built == [spec.key for spec in PORTFOLIO]


def test_claims_triage_passed_the_gate_and_reached_production_on_a_go(api: TestClient) -> None:
    project = _get(api, "/projects/claims-triage")
    readiness = _get(api, "/projects/claims-triage/readiness")
    decisions = _get(api, "/projects/claims-triage/decisions")["items"]

    assert project["stage"] == "production"
    assert readiness["gate"]["passed"] is True
    assert readiness["level"] in {"production_ready", "scale_ready"}
    assert readiness["stall"]["risk"] == "low"
    assert [d["decision"] for d in decisions] == ["go"]
    assert decisions[0]["decided_by"] == "demo-steering-committee"
    kpi = _get(api, "/projects/claims-triage/kpis/handling-cost")
    assert (kpi["category"], kpi["baseline"], kpi["target"], kpi["value_per_unit"]) == ("cost", 42, 28, 3000)


def test_the_churn_model_stalls_in_poc_for_the_playbooks_reasons(api: TestClient) -> None:
    stalled = {row["key"]: row for row in _get(api, "/portfolio/stalled?limit=100")["items"]}
    readiness = _get(api, "/projects/churn-prediction/readiness")

    assert readiness["stage"] == "poc"
    assert stalled["churn-prediction"]["risk"] == "high"
    for signals in (stalled["churn-prediction"]["signals"], readiness["stall"]["signals"]):
        reasons = {s["dimension"]: s["reason"] for s in signals if s["pattern"] == "stalled"}
        assert set(reasons) == {"scope", "success_metric", "ownership", "infrastructure", "inactivity"}
        assert "model accuracy alone" in reasons["success_metric"]
        assert "IT-only" in reasons["ownership"]
        assert "notebook" in reasons["infrastructure"]


def test_every_stage_department_and_several_regions_are_represented(api: TestClient) -> None:
    rows = _get(api, "/portfolio/readiness?limit=500")["items"]

    assert {row["stage"] for row in rows} == {"idea", "poc", "pilot", "production", "scaling", "retired"}
    assert {row["department"] for row in rows} >= {
        "claims", "underwriting", "marketing", "finance", "operations", "customer-service"
    }  # fmt: skip
    assert len({row["region"] for row in rows}) >= 3
    assert len({row["level"] for row in rows}) >= 3
    assert any(row["risk"] == "high" for row in rows)
    assert any(row["risk"] == "low" for row in rows)


def test_measurements_stage_transitions_and_readiness_history_spread_over_months(api: TestClient) -> None:
    measured = [
        datetime.fromisoformat(m["measured_at"])
        for m in _get(api, "/projects/claims-triage/kpis/handling-cost/measurements?limit=500")["items"]
    ]
    transitions = _get(api, "/projects/claims-triage/stage-transitions")["items"]
    history = _get(api, "/projects/claims-triage/readiness/history?limit=500")["items"]
    changed = [datetime.fromisoformat(h["changed_at"]) for h in history]

    assert len(measured) >= 30
    assert max(measured) - min(measured) > timedelta(days=180)
    assert [t["to"] for t in transitions] == ["poc", "pilot", "production"]
    assert datetime.fromisoformat(transitions[-1]["transitioned_at"]) - datetime.fromisoformat(
        transitions[0]["transitioned_at"]
    ) > timedelta(days=90)
    assert len(history) >= 5
    assert max(changed) - min(changed) > timedelta(days=180)
    assert changed == sorted(changed, reverse=True)


def test_a_second_run_leaves_the_portfolio_as_it_is_and_issues_a_new_sign_in_key(
    demo_settings: Settings, outcome: Outcome, api: TestClient
) -> None:
    before = _get(api, "/portfolio/readiness?limit=500")["items"]

    again = build(demo_settings)

    assert again.built == []
    assert again.existing == [spec.key for spec in PORTFOLIO]
    assert again.admin_secret != outcome.admin_secret
    signed_in = api.get(
        "/api/v1/portfolio/readiness?limit=500", headers={"Authorization": f"Bearer {again.admin_secret}"}
    )
    assert signed_in.status_code == 200
    assert signed_in.json()["items"] == before


def test_claims_triage_is_replicated_to_two_regions_on_its_platform_and_expanded_to_home_claims(
    api: TestClient,
) -> None:
    view = _get(api, "/portfolio/scaling?department=claims")
    readiness = _get(api, "/projects/claims-triage/readiness")
    criteria = {c["key"]: c for c in readiness["criteria"]}

    triage = next(use_case for use_case in view["use_cases"] if use_case["key"] == "claims-triage")
    assert [(r["key"], r["region"], r["stage"], r["same_platform"]) for r in triage["replicas"]] == [
        ("claims-triage-americas", "americas", "production", True),
        ("claims-triage-apac", "apac", "production", True),
    ]
    assert [e["key"] for e in triage["adjacent"]] == ["home-claims-triage"]
    assert {(p["department"], p["region"]) for p in view["places"]} >= {
        ("claims", "emea"),
        ("claims", "americas"),
        ("claims", "apac"),
    }
    assert (criteria["scaling.same_infrastructure"]["status"], criteria["scaling.same_infrastructure"]["source"]) == (
        "met",
        "check",
    )
    assert criteria["scaling.adjacent_use_cases"]["status"] == "met"
    causes = [c for h in _get(api, "/projects/claims-triage/readiness/history?limit=500")["items"] for c in h["cause"]]
    # The first replica on the platform met the criterion; the second changed no score.
    assert {"kind": "project", "name": "claims-triage-americas"} in causes


def test_a_department_opening_new_pocs_before_its_first_deployment_is_stable_is_told_to_focus(api: TestClient) -> None:
    readiness = _get(api, "/projects/hr-cv-screening/readiness")
    view = _get(api, "/portfolio/scaling")

    focus = next(s for s in readiness["stall"]["signals"] if s["dimension"] == "focus")
    assert "before the first one is stable: hr-policy-assistant in production since" in focus["reason"]
    assert "operations and support not trained" in focus["reason"]
    assert [(w["key"], w["unstable"]) for w in view["focus"]] == [
        ("hr-attrition-risk", ["hr-policy-assistant"]),
        ("hr-cv-screening", ["hr-policy-assistant"]),
    ]


def test_the_risk_office_classified_cv_screening_high_which_the_eu_ai_act_view_counts(api: TestClient) -> None:
    project = _get(api, "/projects/hr-cv-screening")
    coverage = _get(api, "/portfolio/frameworks/eu-ai-act")

    assert (project["risk_tier"], project["risk_classified_by"]) == ("high", "demo-risk-office")
    assert coverage["high_risk"] == 1
    assert 0 < coverage["unclassified"] < coverage["projects"]
    assert [row["key"] for row in _get(api, "/portfolio/readiness?risk_tier=high")["items"]] == ["hr-cv-screening"]


def test_version_4_of_the_default_rubric_moves_no_score_level_or_gate(api: TestClient) -> None:
    """Version 4 only asks evidence of the gate's attestations from now on: scored against version
    3 instead, every demo project would stand exactly where it stands."""
    preview = api.post(
        "/api/v1/rubrics/ai-production-readiness/versions:preview",
        json=published_definition("ai-production-readiness", 3),
    )

    assert preview.status_code == 200, preview.text
    shown = preview.json()
    assert (shown["from_version"], shown["projects"]) == (4, len(PORTFOLIO))
    assert shown["changes"] == []
    assert shown["before"] == shown["after"]
