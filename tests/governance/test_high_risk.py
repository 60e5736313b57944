"""The EU AI Act view counts the articles that bind high-risk AI systems only for the projects an
approver classified `high`, and says how many are not classified yet."""

from typing import Any

from fastapi.testclient import TestClient

from tests.governance.conftest import PLAN, PROJECTS

EU_AI_ACT = "/api/v1/portfolio/frameworks/eu-ai-act"
MERGE = {"Content-Type": "application/merge-patch+json"}


def rows(coverage: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in coverage["identifiers"]}


def counted(row: dict[str, Any]) -> int:
    return int(row["met"] + row["partial"] + row["not_met"] + row["not_applicable"])


def test_high_risk_only_articles_count_for_high_projects_only_and_the_unclassified_are_reported(
    portfolio: dict[str, dict[str, Any]], approver: TestClient, reader: TestClient
) -> None:
    before = reader.get(EU_AI_ACT).json()
    classified = [
        approver.patch(
            f"{PROJECTS}/claims-c",
            json={"risk_tier": "high", "risk_rationale": "Annex III 5(b): creditworthiness of natural persons."},
            headers=MERGE,
        ),
        approver.patch(
            f"{PROJECTS}/mkt-a",
            json={"risk_tier": "limited", "risk_rationale": "Art. 50: it talks to customers."},
            headers=MERGE,
        ),
    ]
    after = reader.get(EU_AI_ACT).json()
    crosswalk = reader.get("/api/v1/rubrics/ai-production-readiness/crosswalk", params={"framework": "eu-ai-act"})

    assert [response.status_code for response in classified] == [200, 200]
    assert (before["projects"], before["high_risk"], before["unclassified"]) == (len(PLAN), 0, len(PLAN))
    assert (after["projects"], after["high_risk"], after["unclassified"]) == (len(PLAN), 1, len(PLAN) - 2)
    logging, literacy = rows(after)["Art. 12(1)"], rows(after)["Art. 4"]
    assert logging["high_risk_only"] is True
    assert (counted(logging), logging["not_high_risk"]) == (1, len(PLAN) - 1)
    assert (counted(rows(before)["Art. 12(1)"]), rows(before)["Art. 12(1)"]["not_high_risk"]) == (0, len(PLAN))
    assert literacy["high_risk_only"] is False
    assert (counted(literacy), literacy["not_high_risk"]) == (len(PLAN), 0)
    mapped = [c for entry in crosswalk.json()["identifiers"] if entry["id"] == "Art. 12(1)" for c in entry["criteria"]]
    assert [(c["criterion"], c["high_risk_only"]) for c in mapped] == [("infrastructure.observability_in_pilot", True)]
    assert "high_risk_only" in after["rule"]


def test_the_high_risk_columns_come_in_the_csv_too(portfolio: dict[str, dict[str, Any]], reader: TestClient) -> None:
    header = reader.get(EU_AI_ACT, headers={"Accept": "text/csv"}).text.splitlines()[0]

    assert header.split(",") == [
        "id",
        "title",
        "criteria",
        "high_risk_only",
        "met",
        "partial",
        "not_met",
        "not_applicable",
        "not_high_risk",
    ]
