"""What publishing a rubric version would do, told beforehand by the same engine, storing nothing."""

from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.db import Database
from app.events.models import Event
from app.readiness.models import ReadinessHistory
from app.rubrics.models import RubricVersion
from tests.conftest import settled
from tests.evaluations.test_api import GO_LIVE_FACTS, iso
from tests.initiatives.helpers import post_facts
from tests.kpis.factories import cost_kpi, make_kpi
from tests.projects.factories import make_project
from tests.projects.test_api import assert_problem

DEFAULT = "/api/v1/rubrics/ai-production-readiness"
YAML = {"Content-Type": "application/yaml"}


def portfolio(writer: TestClient) -> list[str]:
    """Projects on either side of the levels' thresholds."""
    make_project(writer, "claims-triage")
    make_project(writer, "claims-docs")
    make_project(writer, "churn-model", business_owner=None, deployment={"target": "notebook"}, stakeholders=[])
    # In pilot, held to every criterion: its go-live section is sound, the rest is not.
    make_project(
        writer,
        "lead-scoring",
        business_owner=None,
        stakeholders=[],
        deployment={"target": "notebook"},
        decision_date=None,
    )
    for stage in ("poc", "pilot"):
        assert writer.post("/api/v1/projects/lead-scoring/stage-transitions", json={"to": stage}).status_code == 201
    for key in ("claims-triage", "lead-scoring"):
        post_facts(writer, key, {**GO_LIVE_FACTS, "ops.rollback_tested_at": iso(datetime.now(UTC) - timedelta(days=1))})
        post_facts(writer, key, {"ops.rollback_procedure_url": "https://wiki.example.com/rollback"})
        make_kpi(writer, key, cost_kpi())
        measured = writer.post(f"/api/v1/projects/{key}/kpis/handling-cost/measurements", json={"value": 30})
        assert measured.status_code == 201, measured.text
    post_facts(writer, "claims-docs", GO_LIVE_FACTS)
    return ["churn-model", "claims-docs", "claims-triage", "lead-scoring"]


def heavier_go_live(admin: TestClient) -> str:
    version: dict[str, Any] = yaml.safe_load(admin.get(DEFAULT, headers={"Accept": "application/yaml"}).text)
    for section in version["sections"]:
        if section["key"] == "go_live":
            section["weight"] = 6
    return yaml.safe_dump(version, sort_keys=False)


def stored(session: Session) -> tuple[int, int, int]:
    return (
        session.scalar(select(func.count()).select_from(RubricVersion)) or 0,
        session.scalar(select(func.count()).select_from(ReadinessHistory)) or 0,
        session.scalar(select(func.count()).select_from(Event)) or 0,
    )


def standing(client: TestClient, key: str) -> dict[str, Any]:
    readiness = client.get(f"/api/v1/projects/{key}/readiness").json()
    return {"score": readiness["score"], "level": readiness["level"], "gate_passed": readiness["gate"]["passed"]}


def test_the_preview_of_a_heavier_go_live_section_reports_the_changes_publishing_then_makes(
    admin: TestClient, writer: TestClient, db: Database
) -> None:
    keys = portfolio(writer)
    assert settled(db)
    before = {key: standing(writer, key) for key in keys}
    counted = db.work(stored, write=False)()
    body = heavier_go_live(admin)

    preview = admin.post(f"{DEFAULT}/versions:preview", content=body.encode(), headers=YAML)

    assert preview.status_code == 200, preview.text
    shown = preview.json()
    assert db.work(stored, write=False)() == counted
    assert admin.get(DEFAULT).json()["version"] == shown["from_version"] == shown["to_version"] - 1
    assert shown["projects"] == len(keys)
    assert {change["project"]: change["before"] for change in shown["changes"]} == {
        key: before[key] for key in keys if key in {change["project"] for change in shown["changes"]}
    }
    assert any(change["before"]["level"] != change["after"]["level"] for change in shown["changes"])
    assert sum(shown["before"].values()) == sum(shown["after"].values()) == len(keys)

    published = admin.post(f"{DEFAULT}/versions", content=body.encode(), headers=YAML)
    assert published.status_code == 201, published.text
    assert settled(db)

    after = {key: standing(writer, key) for key in keys}
    predicted = {change["project"]: change["after"] for change in shown["changes"]}
    assert after == {key: predicted.get(key, before[key]) for key in keys}
    levels = [after[key]["level"] for key in keys]
    assert shown["after"] == {level: levels.count(level) for level in shown["after"]}


def test_a_version_that_could_not_be_published_cannot_be_previewed_either(admin: TestClient) -> None:
    version = admin.get(DEFAULT).json()
    version["criteria"][0]["section"] = "nowhere"

    problem = assert_problem(admin.post(f"{DEFAULT}/versions:preview", json=version), 422)

    assert "unknown section 'nowhere'" in str(problem["errors"])
    assert_problem(admin.post("/api/v1/rubrics/no-such-rubric/versions:preview", json=version), 404)
