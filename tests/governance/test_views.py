"""Framework views and portfolio blockers, checked against figures the test computes from each
project's own readiness."""

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.auth.test_scopes import scoped
from tests.governance.conftest import PLAN, statuses
from tests.projects.test_api import assert_problem

CROSSWALK = "/api/v1/rubrics/ai-production-readiness/crosswalk"
FRAMEWORKS = "/api/v1/portfolio/frameworks"
BLOCKERS = "/api/v1/portfolio/blockers"
BEFORE_GO_LIVE = ("idea", "poc", "pilot")


def coverage_class(found: dict[str, str], criteria: list[str]) -> str:
    counted = [found[key] for key in criteria if found[key] in ("met", "partial", "not_met")]
    if not counted:
        return "not_applicable"
    if all(status == "met" for status in counted):
        return "met"
    if all(status == "not_met" for status in counted):
        return "not_met"
    return "partial"


def expected_counts(portfolio: dict[str, dict[str, Any]], criteria: list[str], keys: list[str]) -> dict[str, int]:
    counts = dict.fromkeys(("met", "partial", "not_met", "not_applicable"), 0)
    for key in keys:
        counts[coverage_class(statuses(portfolio[key]), criteria)] += 1
    return counts


def gate_blocked(portfolio: dict[str, dict[str, Any]], criterion: str, keys: list[str]) -> list[str]:
    return sorted(
        key
        for key in keys
        if PLAN[key][1] in BEFORE_GO_LIVE
        and any(blocker["criterion"] == criterion for blocker in portfolio[key]["gate"]["blockers"])
    )


def test_the_crosswalk_files_criteria_under_each_identifier(reader: TestClient) -> None:
    nist = reader.get(CROSSWALK, params={"framework": "nist-ai-rmf"}).json()
    iso = reader.get(CROSSWALK, params={"framework": "iso-42001"}).json()
    old = reader.get(CROSSWALK, params={"framework": "nist-ai-rmf", "version": 1}).json()

    by_id = {entry["id"]: entry for entry in nist["identifiers"]}
    assert nist["version"] == 4
    assert [(c["criterion"], c["strength"]) for c in by_id["MANAGE 4.1"]["criteria"]] == [
        ("go_live.monitoring_alerting", "strong")
    ]
    assert [c["criterion"] for c in by_id["MAP 1.4"]["criteria"]] == ["value.business_kpi", "go_live.kpis_defined"]
    assert "MAP 1.3" not in by_id
    assert sum(len(entry["criteria"]) for entry in nist["identifiers"]) == 23
    a626 = next(entry for entry in iso["identifiers"] if entry["id"] == "A.6.2.6")
    assert a626["title"] == "AI system operation and monitoring"
    assert [c["criterion"] for c in a626["criteria"]] == [
        "go_live.monitoring_alerting",
        "go_live.ops_trained",
        "scaling.runbooks_documented",
    ]
    # Version 1 named its frameworks as people do; its view still finds them.
    assert [(e["id"], e["criteria"][0]["strength"]) for e in old["identifiers"]] == [
        ("MAP 1.3", None),
        ("MANAGE 4.1", None),
    ]


def test_an_unknown_framework_is_a_422(reader: TestClient) -> None:
    assert_problem(reader.get(CROSSWALK, params={"framework": "sox"}), 422)
    assert_problem(reader.get(f"{FRAMEWORKS}/sox"), 422)
    assert_problem(reader.get(CROSSWALK), 422)
    assert_problem(reader.get(CROSSWALK, params={"framework": "nist-ai-rmf", "version": 9}), 404)


def test_manage_4_1_counts_are_the_projects_own_monitoring_statuses(
    portfolio: dict[str, dict[str, Any]], reader: TestClient
) -> None:
    coverage = reader.get(f"{FRAMEWORKS}/nist-ai-rmf").json()
    pilots = reader.get(f"{FRAMEWORKS}/nist-ai-rmf", params={"stage": "pilot"}).json()

    rows = {row["id"]: row for row in coverage["identifiers"]}
    manage = rows["MANAGE 4.1"]
    counts = {name: manage[name] for name in ("met", "partial", "not_met", "not_applicable")}
    assert manage["criteria"] == ["go_live.monitoring_alerting"]
    assert counts == expected_counts(portfolio, manage["criteria"], list(PLAN))
    assert counts == {"met": 4, "partial": 1, "not_met": 2, "not_applicable": 0}
    assert coverage["projects"] == len(PLAN)
    for row in coverage["identifiers"]:
        assert {name: row[name] for name in counts} == expected_counts(portfolio, row["criteria"], list(PLAN)), row[
            "id"
        ]
    in_pilot = [key for key, plan in PLAN.items() if plan[1] == "pilot"]
    manage_pilots = next(row for row in pilots["identifiers"] if row["id"] == "MANAGE 4.1")
    assert pilots["projects"] == len(in_pilot)
    assert {name: manage_pilots[name] for name in counts} == expected_counts(
        portfolio, ["go_live.monitoring_alerting"], in_pilot
    )


def test_framework_coverage_comes_as_csv_and_polls_with_an_etag(
    portfolio: dict[str, dict[str, Any]], reader: TestClient
) -> None:
    response = reader.get(f"{FRAMEWORKS}/eu-ai-act", headers={"Accept": "text/csv"})
    first = reader.get(f"{FRAMEWORKS}/eu-ai-act")
    again = reader.get(f"{FRAMEWORKS}/eu-ai-act", headers={"If-None-Match": first.headers["ETag"]})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["id"] for row in rows] == [row["id"] for row in first.json()["identifiers"]]
    art12 = next(row for row in rows if row["id"] == "Art. 12(1)")
    assert art12["criteria"] == "infrastructure.observability_in_pilot"
    # Art. 12(1) binds high-risk systems only, and no project of the plan is classified high.
    assert int(art12["not_high_risk"]) == len(PLAN)
    assert sum(int(art12[name]) for name in ("met", "partial", "not_met", "not_applicable", "not_high_risk")) == len(
        PLAN
    )
    assert again.status_code == 304


def test_blockers_rank_rollback_first_with_its_projects(
    portfolio: dict[str, dict[str, Any]], reader: TestClient
) -> None:
    found = reader.get(BLOCKERS, params={"keys": 2}).json()

    rollback = found["gate"][0]
    expected = gate_blocked(portfolio, "go_live.rollback_tested", list(PLAN))
    assert rollback["criterion"] == "go_live.rollback_tested"
    assert rollback["count"] == len(expected) == 5
    assert rollback["guidance"].startswith("Post ops.rollback_tested_at")
    assert rollback["projects"] == expected[:2]
    assert all(row["count"] < rollback["count"] for row in found["gate"][1:])
    for row in found["gate"]:
        assert row["count"] == len(gate_blocked(portfolio, row["criterion"], list(PLAN))), row["criterion"]

    rest = reader.get(
        f"{BLOCKERS}/go_live.rollback_tested/projects",
        params={"kind": "gate", "limit": 1, "cursor": rollback["next_cursor"]},
    ).json()
    last = reader.get(
        f"{BLOCKERS}/go_live.rollback_tested/projects",
        params={"kind": "gate", "limit": 5, "cursor": rest["next_cursor"]},
    ).json()
    assert [p["key"] for p in rest["items"] + last["items"]] == expected[2:]
    assert last["next_cursor"] is None


def test_the_next_level_counts_the_one_fix_that_lifts_a_project(
    portfolio: dict[str, dict[str, Any]], reader: TestClient
) -> None:
    found = reader.get(BLOCKERS).json()

    lifting = {row["criterion"]: row for row in found["next_level"]}
    # claims-a and claims-b pass every gate criterion but the rollback test, and score above 75:
    # testing the rollback makes them production ready.
    assert {"claims-a", "claims-b"} <= set(lifting["go_live.rollback_tested"]["projects"])
    for key in ("claims-a", "claims-b"):
        assert portfolio[key]["level"] == "pilot_ready"
        assert portfolio[key]["score"] >= 75
    # claims-c passes the gate already: the rollback lifts nothing there.
    assert "claims-c" not in lifting["go_live.rollback_tested"]["projects"]
    assert found["rule"].startswith("Worked out from each project's current result")


def test_filters_and_scope_narrow_the_blockers(
    portfolio: dict[str, dict[str, Any]], client: TestClient, admin: TestClient, reader: TestClient
) -> None:
    claims_only = scoped(client, admin, "reader", ["claims"])
    claims = [key for key, plan in PLAN.items() if plan[0] == "claims"]
    pilots = [key for key, plan in PLAN.items() if plan[1] == "pilot"]

    by_filter = reader.get(BLOCKERS, params={"department": "claims"}).json()
    by_scope = claims_only.get(BLOCKERS).json()
    by_stage = reader.get(BLOCKERS, params={"stage": "pilot", "region": "emea"}).json()
    nobody = reader.get(BLOCKERS, params={"region": "amer"}).json()

    for answer, keys in ((by_filter, claims), (by_scope, claims), (by_stage, pilots)):
        rollback = next(row for row in answer["gate"] if row["criterion"] == "go_live.rollback_tested")
        assert rollback["projects"] == gate_blocked(portfolio, "go_live.rollback_tested", keys)
        assert answer["projects"] == len(keys)
    assert (nobody["projects"], nobody["gate"], nobody["next_level"]) == (0, [], [])
    assert claims_only.get(f"{FRAMEWORKS}/nist-ai-rmf").json()["projects"] == len(claims)


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        (f"{BLOCKERS}/go_live.nothing/projects", {"kind": "gate"}, 404),
        (f"{BLOCKERS}/go_live.rollback_tested/projects", {"kind": "sideways"}, 422),
        (f"{BLOCKERS}/go_live.rollback_tested/projects", {"kind": "gate", "cursor": "garbage"}, 400),
        (BLOCKERS, {"rubric": "no-such-rubric"}, 404),
        (BLOCKERS, {"keys": 1000}, 422),
        (BLOCKERS, {"stage": "launch"}, 422),
    ],
)
def test_bad_blocker_queries_are_problems_not_errors(
    reader: TestClient, path: str, params: dict[str, Any], status: int
) -> None:
    assert_problem(reader.get(path, params=params), status)
