"""Versions 2 and 3 of the default rubric: the crosswalk as references, version 1 untouched, no score
moved; then the scaling checks and the EU AI Act's high-risk-only references as a field."""

import copy
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import Database, utcnow
from app.engine import scoring
from app.engine.default_rubric import DEFAULT_RUBRIC, DESCRIPTION, NAME
from app.projects.models import Project
from app.readiness import inputs
from app.rubrics.models import Rubric, RubricVersion
from app.rubrics.schemas import RubricVersionSpec
from migrations.data import published_definition
from tests.governance.conftest import PLAN
from tests.projects.test_api import assert_problem
from tests.rubrics.test_api import weakest_link_rubric

RUBRIC = "/api/v1/rubrics/ai-production-readiness"
EU_HIGH_RISK = {"Art. 12(1)", "Art. 43", "Art. 26(5)", "Art. 15(4)", "Art. 15(1) and (3)", "Art. 13(3)(e)"}


def references(rubric: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {c["key"]: c["references"] for c in rubric["criteria"] if c["references"]}


def test_the_default_rubric_is_version_4_with_43_references_over_18_criteria(reader: TestClient) -> None:
    rubric = reader.get(RUBRIC).json()
    found = references(rubric)

    assert rubric["version"] == 4
    assert sum(len(refs) for refs in found.values()) == 43
    assert len(found) == 18
    assert found["value.business_kpi"][0] == {
        "framework": "nist-ai-rmf",
        "id": "MAP 1.4",
        "title": None,
        "strength": "strong",
        "why": "business value defined, not only model metrics",
        "note": None,
        "high_risk_only": False,
    }
    articles = [r for refs in found.values() for r in refs if r["framework"] == "eu-ai-act"]
    assert {r["id"] for r in articles if r["note"]} == EU_HIGH_RISK
    assert {r["id"] for r in articles if r["high_risk_only"]} == EU_HIGH_RISK
    assert all(r["note"] is None for r in articles if r["id"] == "Art. 4")
    assert {r["strength"] for refs in found.values() for r in refs} == {"strong", "moderate", "weak"}


def test_version_2_is_version_1_with_references_and_what_the_code_defines(reader: TestClient) -> None:
    v1 = reader.get(f"{RUBRIC}/versions/1").json()
    v2 = reader.get(f"{RUBRIC}/versions/2").json()

    def without_references(rubric: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in rubric.items() if k not in ("version", "published_at")}
        shown["criteria"] = [{k: v for k, v in c.items() if k != "references"} for c in rubric["criteria"]]
        return shown

    assert without_references(v1) == without_references(v2)
    # Published before the field existed: read back, no reference binds high-risk systems only.
    assert not any(r["high_risk_only"] for refs in references(v2).values() for r in refs)


def test_version_3_is_version_2_with_the_scaling_checks_and_high_risk_only(
    reader: TestClient,
) -> None:
    v2 = reader.get(f"{RUBRIC}/versions/2").json()
    v3 = reader.get(f"{RUBRIC}/versions/3").json()
    changed = {"scaling.adjacent_use_cases", "scaling.same_infrastructure"}

    def unchanged_part(rubric: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in rubric.items() if k not in ("version", "published_at")}
        shown["criteria"] = [
            {
                **{k: v for k, v in c.items() if k != "references"},
                "references": [{k: v for k, v in r.items() if k != "high_risk_only"} for r in c["references"]],
            }
            for c in rubric["criteria"]
            if c["key"] not in changed
        ]
        return shown

    assert unchanged_part(v2) == unchanged_part(v3)
    checks = {c["key"]: c["check"] for c in v3["criteria"] if c["key"] in changed}
    assert checks == {
        "scaling.adjacent_use_cases": {"kind": "adjacent_in_domain"},
        "scaling.same_infrastructure": {"kind": "replicas_on_platform"},
    }


def test_version_4_is_version_3_with_evidence_required_on_every_gate_criterion_and_what_the_code_defines(
    reader: TestClient,
) -> None:
    v3 = reader.get(f"{RUBRIC}/versions/3").json()
    v4 = reader.get(f"{RUBRIC}/versions/4").json()

    def without_evidence(rubric: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in rubric.items() if k not in ("version", "published_at")}
        shown["criteria"] = [{k: v for k, v in c.items() if k != "evidence_required"} for c in rubric["criteria"]]
        return shown

    assert without_evidence(v3) == without_evidence(v4)
    assert not any(c["evidence_required"] for c in v3["criteria"])
    assert {c["key"] for c in v4["criteria"] if c["evidence_required"]} == {
        c["key"] for c in v4["criteria"] if c["gate"]
    }
    assert len([c for c in v4["criteria"] if c["gate"]]) == 6
    defined = RubricVersionSpec.from_engine(DEFAULT_RUBRIC, name=NAME, description=DESCRIPTION).model_dump(mode="json")
    assert published_definition("ai-production-readiness", 4) == defined


def test_version_1_is_as_it_was_published(db: Database, reader: TestClient) -> None:
    # Through the service's Database, which takes turns on the shared connection with the re-scorer.
    stored = db.work(
        lambda session: session.scalar(
            select(RubricVersion.definition)
            .join(Rubric, Rubric.id == RubricVersion.rubric_id)
            .where(Rubric.key == "ai-production-readiness", RubricVersion.number == 1)
        ),
        write=False,
    )()

    assert stored == published_definition("ai-production-readiness", 1)
    old = references(reader.get(f"{RUBRIC}/versions/1").json())
    assert [(r["framework"], r["id"]) for r in old["value.business_kpi"]] == [("NIST AI RMF", "MAP 1.3")]
    assert [(r["framework"], r["id"]) for r in old["go_live.monitoring_alerting"]] == [
        ("ML Test Score", "Monitor 1–7"),
        ("NIST AI RMF", "MANAGE 4.1"),
    ]


@pytest.mark.parametrize(("earlier", "later"), [(1, 2), (3, 4)])
def test_no_project_scores_differently_against_a_version_than_against_the_one_it_amends(
    earlier: int, later: int, portfolio: dict[str, dict[str, Any]], db: Database
) -> None:
    """Version 2 only adds references and version 4 only asks evidence of future attestations:
    neither may move a project's score, level, gate, blockers or any criterion's result."""
    specs = {
        number: RubricVersionSpec.model_validate(published_definition("ai-production-readiness", number))
        for number in (earlier, later)
    }
    now = utcnow()

    def load(session: Session) -> tuple[list[Project], dict[Any, inputs.ReadinessInputs]]:
        projects = list(session.scalars(select(Project).where(Project.key.in_(PLAN))))
        return projects, inputs.load(session, projects, now)

    projects, loaded = db.work(load, write=False)()

    seen = set()
    for project in projects:
        given = loaded[project.id]
        results = [
            scoring.evaluate(
                spec.to_engine("ai-production-readiness", number),
                given.snapshot,
                given.attestations,
                given.exemptions,
                now,
            )
            for number, spec in specs.items()
        ]
        before, after = ((r.score, r.level, r.gate_passed, r.blockers, r.criteria) for r in results)
        assert before == after, project.key
        shown = portfolio[project.key]
        assert (shown["rubric_version"], shown["score"], shown["level"]) == (4, after[0], after[1].value)
        seen.add((after[0], after[1], after[2]))
    # A varied portfolio: the comparison covers several scores, levels and both gate outcomes.
    assert len(seen) >= 4
    assert {gate for _, _, gate in seen} == {True, False}


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ({"framework": "NIST AI RMF", "id": "MAP 1.4", "strength": "strong"}, "is not one of nist-ai-rmf"),
        ({"framework": "sox", "id": "404", "strength": "weak"}, "is not one of nist-ai-rmf"),
        ({"framework": "nist-ai-rmf", "id": "  ", "strength": "strong"}, "at least 1 character"),
        ({"framework": "iso-42001", "id": "A.6.2.6"}, "needs a strength"),
    ],
)
def test_publishing_a_rubric_checks_its_references(admin: TestClient, reference: dict[str, Any], message: str) -> None:
    body = weakest_link_rubric()
    body["criteria"][2]["references"] = [reference]
    version = copy.deepcopy(body)
    del version["key"]

    created = assert_problem(admin.post("/api/v1/rubrics", json=body), 422)
    republished = assert_problem(admin.post(f"{RUBRIC}/versions", json=version), 422)

    assert any(message in error["message"] for error in created["errors"]), json.dumps(created)
    assert any(message in error["message"] for error in republished["errors"])


def test_an_unknown_strength_is_refused(admin: TestClient) -> None:
    body = weakest_link_rubric()
    body["criteria"][2]["references"] = [{"framework": "ml-test-score", "id": "Monitor 1", "strength": "total"}]

    assert_problem(admin.post("/api/v1/rubrics", json=body), 422)
