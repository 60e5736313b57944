import csv
import io
import statistics
import uuid
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select, update
from sqlalchemy.orm import Session

from app.core.db import Database
from app.core.settings import Settings
from app.main import create_app
from app.portfolio.status import refresh
from app.projects.models import Project, StageTransition
from tests.kpis.factories import cost_kpi, make_kpi
from tests.projects.factories import make_project
from tests.projects.test_api import assert_problem, go_by_override

PORTFOLIO = "/api/v1/portfolio"
DEPARTMENTS = ("claims", "risk", "marketing", "operations")
REGIONS = ("emea", "apac", "amer")
PATHS = {
    "idea": [],
    "poc": ["poc"],
    "pilot": ["poc", "pilot"],
    "production": ["poc", "pilot", "production"],
    "scaling": ["poc", "pilot", "production", "scaling"],
    "retired": ["poc", "pilot", "retired"],
}


def all_rows(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client.get(
            f"{PORTFOLIO}/readiness", params={**params, "limit": 100, **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200, page.text
        rows += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return rows


def build_portfolio(writer: TestClient, admin: TestClient, size: int) -> dict[str, dict[str, Any]]:
    """Projects across departments, regions and every stage; returns what the test knows of each."""
    plan: dict[str, dict[str, Any]] = {}
    measurements = []
    for i in range(size):
        key = f"project-{i:03d}"
        stage = list(PATHS)[i % len(PATHS)]
        body = {
            "name": f"Project {i}",
            "department": DEPARTMENTS[i % len(DEPARTMENTS)],
            "region": REGIONS[i % len(REGIONS)],
            "workflow": "Triage claims" if i % 5 else None,
            "vendor_led": i % 7 == 0,
            "business_owner": {"name": "Ana", "email": "ana@example.com"},
            "technical_owner": {"name": "Bo", "email": "bo@example.com"},
            "deployment": {"target": "vpc", "same_runtime_as_production": True},
            "costs": {"currency": "EUR" if i % 3 else "USD"},
        }
        assert writer.put(f"/api/v1/projects/{key}", json=body).status_code == 201
        entry: dict[str, Any] = {"stage": stage, "department": body["department"], "score": None, "benefit": 0}
        if i % 2 == 0:
            make_kpi(writer, key, cost_kpi(value_per_unit=100))
            value = 40 - i % 10
            measurements.append({"project": key, "kpi": "handling-cost", "value": value})
            entry["benefit"] = (40 - value) * 100
        for step in PATHS[stage]:
            if step == "production":
                go_by_override(admin, key)
            mover = admin if step == "retired" else writer  # retiring is an approver's call
            response = mover.post(f"/api/v1/projects/{key}/stage-transitions", json={"to": step, "reason": "plan"})
            assert response.status_code == 201, response.text
        plan[key] = entry
    assert writer.post("/api/v1/measurements:batch", json={"items": measurements}).status_code == 201
    for key, entry in plan.items():
        if int(key[-3:]) % 3 == 0 or entry["stage"] in ("production", "scaling"):
            assert writer.post(f"/api/v1/projects/{key}/evaluations", json={}).status_code == 201
        current = writer.get(f"/api/v1/projects/{key}/readiness").json()
        entry["score"], entry["gate_passed"] = current["score"], current["gate"]["passed"]
    return plan


def expected_stats(plan: dict[str, dict[str, Any]], rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    scores = [e["score"] for e in plan.values() if e["score"] is not None]
    reached = [e for e in plan.values() if e["stage"] != "idea"]
    benefits: dict[str, float] = defaultdict(float)
    for key, entry in plan.items():
        benefits[rows[key]["currency"]] += entry["benefit"]
    return {
        "projects": len(plan),
        "by_stage": Counter(e["stage"] for e in plan.values()),
        "mean_score": round(statistics.fmean(scores), 2) if scores else None,
        "median_score": round(statistics.median(scores), 2) if scores else None,
        "go_live_ready": sum(bool(e.get("gate_passed")) for e in plan.values()),
        "stalled": sum(rows[k]["risk"] in ("medium", "high") and e["stage"] != "retired" for k, e in plan.items()),
        "entered_poc": len(reached),
        "reached_production": sum(e["stage"] in ("production", "scaling") for e in plan.values()),
        "realized": dict(benefits),
    }


def assert_stats(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert actual["projects"] == expected["projects"]
    assert {s: n for s, n in actual["by_stage"].items() if n} == dict(expected["by_stage"])
    assert actual["mean_score"] == pytest.approx(expected["mean_score"], abs=0.01)
    assert actual["median_score"] == pytest.approx(expected["median_score"], abs=0.01)
    assert actual["go_live_ready"] == expected["go_live_ready"]
    assert actual["stalled"] == expected["stalled"]
    conversion = actual["poc_to_production"]
    assert (conversion["entered_poc"], conversion["reached_production"]) == (
        expected["entered_poc"],
        expected["reached_production"],
    )
    assert conversion["rate"] == pytest.approx(expected["reached_production"] / expected["entered_poc"], abs=1e-4)
    assert actual["monthly_benefit"]["realized"] == pytest.approx(expected["realized"])


def test_the_summary_matches_a_computation_over_a_portfolio_of_over_a_hundred(
    writer: TestClient, admin: TestClient
) -> None:
    plan = build_portfolio(writer, admin, 120)
    rows = {row["key"]: row for row in all_rows(writer)}

    overall = writer.get(f"{PORTFOLIO}/summary").json()
    by_department = writer.get(f"{PORTFOLIO}/summary", params={"group_by": "department"}).json()

    assert len(rows) == 120
    assert_stats(overall["overall"], expected_stats(plan, rows))
    assert [g["group"] for g in by_department["groups"]] == sorted(DEPARTMENTS)
    for group in by_department["groups"]:
        members = {k: e for k, e in plan.items() if e["department"] == group["group"]}
        assert_stats(group, expected_stats(members, rows))
    assert set(overall["overall"]["median_days_in_stage"]) == {"idea", "poc", "pilot", "production", "scaling"}


def test_median_days_in_stage_come_from_the_transition_history(writer: TestClient, connection: Connection) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    stays = {"p-one": (10, 30), "p-two": (20, 50), "p-three": (40, 70)}  # days in idea, then days in poc
    for key, (idea_days, poc_days) in stays.items():
        make_project(writer, key)
        writer.post(f"/api/v1/projects/{key}/stage-transitions", json={"to": "poc"})
        writer.post(f"/api/v1/projects/{key}/stage-transitions", json={"to": "pilot"})
        project_id = uuid.UUID(writer.get(f"/api/v1/projects/{key}").json()["id"])
        into_poc = start + timedelta(days=idea_days)
        into_pilot = into_poc + timedelta(days=poc_days)
        connection.execute(update(Project).where(Project.id == project_id).values(created_at=start))
        for stage, entered, left in (("poc", start, into_poc), ("pilot", into_poc, into_pilot)):
            connection.execute(
                update(StageTransition)
                .where(StageTransition.project_id == project_id, StageTransition.to_stage == stage)
                .values(from_stage_entered_at=entered, transitioned_at=left)
            )

    medians = writer.get(f"{PORTFOLIO}/summary").json()["overall"]["median_days_in_stage"]

    assert medians["idea"] == pytest.approx(20)
    assert medians["poc"] == pytest.approx(50)
    assert medians["pilot"] is None


def test_rows_filter_sort_and_page(writer: TestClient, admin: TestClient) -> None:
    plan = build_portfolio(writer, admin, 30)

    by_score = [r["score"] for r in all_rows(writer, sort="-score")]
    scored = sorted((e["score"] for e in plan.values() if e["score"] is not None), reverse=True)
    claims = all_rows(writer, department="claims")
    pilots = all_rows(writer, stage="pilot", region="emea")
    high = all_rows(writer, risk="high")
    oldest_first = all_rows(writer, sort="-days_in_stage")

    assert by_score[: len(scored)] == scored
    assert all(score is None for score in by_score[len(scored) :])
    assert {r["key"] for r in claims} == {k for k, e in plan.items() if e["department"] == "claims"}
    assert all(r["stage"] == "pilot" and r["region"] == "emea" for r in pilots)
    assert all(r["risk"] == "high" for r in high)
    assert [r["days_in_stage"] for r in oldest_first] == sorted(
        (r["days_in_stage"] for r in oldest_first), reverse=True
    )
    assert_problem(writer.get(f"{PORTFOLIO}/readiness", params={"sort": "colour"}), 422)
    assert_problem(writer.get(f"{PORTFOLIO}/readiness", params={"risk": "extreme"}), 422)


def test_csv_export_streams_every_row_and_opens_in_a_spreadsheet(writer: TestClient) -> None:
    for i in range(120):
        make_project(writer, f"p-{i:03d}", name=f"Project {i}")
    make_project(writer, "formula", name='=HYPERLINK("http://evil.example.com","click")')

    response = writer.get(f"{PORTFOLIO}/readiness", params={"limit": 5}, headers={"Accept": "text/csv"})
    table = list(csv.DictReader(io.StringIO(response.text)))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.text.splitlines()[0].startswith("key,name,department")
    assert len(table) == 121
    assert {row["key"] for row in table} == {r["key"] for r in all_rows(writer)}
    formula = next(row for row in table if row["key"] == "formula")
    assert formula["name"].startswith("'=")


def test_an_accuracy_only_it_led_notebook_project_is_flagged_high_risk_with_reasons(writer: TestClient) -> None:
    make_project(
        writer,
        "vision-poc",
        business_owner=None,
        technical_owner={"name": "Bo", "email": "bo@example.com"},
        stakeholders=[{"role": "data_science", "name": "Cy"}],
        deployment={"target": "notebook"},
    )
    make_kpi(
        writer,
        "vision-poc",
        cost_kpi(
            key="f1", category="model_accuracy", direction="increase", baseline=0.8, target=0.95, value_per_unit=None
        ),
    )
    make_project(writer, "claims-triage")
    make_kpi(writer, "claims-triage", cost_kpi())

    readiness = writer.get("/api/v1/projects/vision-poc/readiness").json()
    stalled = writer.get(f"{PORTFOLIO}/stalled").json()["items"]

    assert readiness["stall"]["risk"] == "high"
    reasons = {s["dimension"]: s["reason"] for s in readiness["stall"]["signals"] if s["pattern"] == "stalled"}
    assert set(reasons) == {"success_metric", "ownership", "infrastructure"}
    assert "model accuracy alone" in reasons["success_metric"]
    assert "notebook" in reasons["infrastructure"]
    assert [row["key"] for row in stalled] == ["vision-poc"]
    assert stalled[0]["risk"] == "high"
    assert writer.get("/api/v1/projects/claims-triage/readiness").json()["stall"]["risk"] == "low"


def test_stalled_projects_come_worst_first_and_page(writer: TestClient) -> None:
    make_project(writer, "a-medium")  # no KPI: the one stalled signal
    make_project(writer, "b-high", workflow=None, vendor_led=True)
    make_project(writer, "c-high", workflow=None, deployment={"target": "external_api"})

    first = writer.get(f"{PORTFOLIO}/stalled", params={"limit": 2}).json()
    second = writer.get(f"{PORTFOLIO}/stalled", params={"limit": 2, "cursor": first["next_cursor"]}).json()

    assert [(r["key"], r["risk"]) for r in first["items"] + second["items"]] == [
        ("b-high", "high"),
        ("c-high", "high"),
        ("a-medium", "medium"),
    ]
    assert second["next_cursor"] is None


def test_badges_need_a_key_unless_public(
    client: TestClient, writer: TestClient, settings: Settings, db: Database
) -> None:
    make_project(writer)
    writer.post("/api/v1/projects/claims-triage/evaluations", json={})

    assert_problem(client.get("/api/v1/projects/claims-triage/badge.svg"), 401)
    private = writer.get("/api/v1/projects/claims-triage/badge.svg")
    with TestClient(create_app(settings.model_copy(update={"public_badges": True}), db)) as public_client:
        public = public_client.get("/api/v1/projects/claims-triage/badge.svg")
        again = public_client.get(
            "/api/v1/projects/claims-triage/badge.svg", headers={"If-None-Match": public.headers["etag"]}
        )
        missing = public_client.get("/api/v1/projects/ghost/badge.svg")

    assert private.status_code == 200
    assert private.headers["cache-control"] == "no-store"
    assert public.status_code == 200
    assert public.headers["content-type"] == "image/svg+xml"
    assert public.headers["cache-control"] == "public, max-age=300"
    assert again.status_code == 304
    assert_problem(missing, 404)
    svg = ET.fromstring(public.text)
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [element.text for element in svg.iter("{http://www.w3.org/2000/svg}text")]
    score = writer.get("/api/v1/projects/claims-triage/readiness").json()["score"]
    assert texts[0] == "readiness"
    assert texts[1] is not None
    assert texts[1].startswith(f"{score:.0f} · ")


def test_a_new_projects_badge_shows_its_current_readiness_without_an_evaluation(writer: TestClient) -> None:
    make_project(writer)

    svg = writer.get("/api/v1/projects/claims-triage/badge.svg").text
    readiness = writer.get("/api/v1/projects/claims-triage/readiness").json()

    assert f"{readiness['score']:.0f} · not ready" in svg
    assert "#e05d44" in svg


def test_the_quick_refresh_after_measurements_agrees_with_a_full_one(writer: TestClient, db: Database) -> None:
    for i in range(6):
        make_project(writer, f"p-{i}", workflow=None if i % 2 else "Claims")
        make_kpi(writer, f"p-{i}", cost_kpi())
    writer.post("/api/v1/projects/p-0/stage-transitions", json={"to": "poc"})
    items = [{"project": f"p-{i}", "kpi": "handling-cost", "value": 40 - i} for i in range(6)]
    writer.post("/api/v1/measurements:batch", json={"items": items})
    writer.post("/api/v1/projects/p-1/kpis/handling-cost/measurements", json={"value": 30})
    for i in range(6):  # scores follow through the re-scorer; a read of each brings it up to date
        writer.get(f"/api/v1/projects/p-{i}/readiness")
    after_measurements = all_rows(writer)

    def refresh_all(session: Session) -> None:
        refresh(session, list(session.scalars(select(Project.id))))

    db.work(refresh_all, write=True)()

    assert all_rows(writer) == after_measurements
