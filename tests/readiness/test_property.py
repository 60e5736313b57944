"""Whatever the writes and however time moves, the stored current readiness equals a fresh
evaluation of the same data at the same moment."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.clock import Clock
from tests.kpis.factories import cost_kpi, make_kpi
from tests.projects.factories import make_project

FACTS = {
    "security.review_completed": st.booleans(),
    "compliance.review_completed": st.booleans(),
    "ops.monitoring_enabled": st.booleans(),
    "perf.benchmarks_tracked": st.booleans(),
    "ops.rollback_tested_at": st.integers(min_value=0, max_value=200).map(lambda days: -days),
}
NON_GATE = ["stakeholders.weekly_sync", "stakeholders.security_in_architecture", "scaling.adjacent_use_cases"]

fact_write = st.sampled_from(sorted(FACTS)).flatmap(lambda name: st.tuples(st.just("fact"), st.just(name), FACTS[name]))
attestation = st.tuples(
    st.just("attest"), st.sampled_from(NON_GATE), st.sampled_from(["met", "partial", "not_met"]), st.integers(1, 20)
)
measurement = st.tuples(st.just("measure"), st.integers(min_value=10, max_value=45))
stage = st.tuples(st.just("stage"), st.sampled_from(["poc", "pilot", "production"]))
patch = st.tuples(st.just("patch"), st.sampled_from([None, 7, 21]))
clock_move = st.tuples(st.just("time"), st.integers(min_value=1, max_value=60))
step = st.one_of(fact_write, attestation, measurement, stage, patch, clock_move)


def apply(client: TestClient, admin: TestClient, clock: Clock, path: str, action: tuple[Any, ...]) -> None:
    now = datetime.now(UTC) + clock.offset
    match action:
        case ("fact", name, value):
            shown = (now + timedelta(days=value)).isoformat() if name.endswith("_at") else value
            client.put(f"{path}/facts/{name}", json={"value": shown})
        case ("attest", criterion, status, days):
            expires = (now + timedelta(days=days)).isoformat()
            client.put(f"{path}/attestations/{criterion}", json={"status": status, "expires_at": expires})
        case ("measure", value):
            client.post(f"{path}/kpis/handling-cost/measurements", json={"value": value})
        case ("stage", to):
            if to == "production":
                evaluation = admin.post(f"{path}/evaluations", json={}).json()
                body = {"evaluation_id": evaluation["id"], "decision": "go", "on_behalf_of": "Board"}
                admin.post(f"{path}/decisions", json={**body, "override_reason": "property test"})
            client.post(f"{path}/stage-transitions", json={"to": to, "reason": "property test"})
        case ("patch", cadence):
            client.patch(path, json={"sync_cadence_days": cadence})
        case ("time", days):
            clock.advance(timedelta(days=days))


def essentials(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "score": result["score"],
        "level": result["level"],
        "gate": result["gate"],
        "criteria": [(c["key"], c["status"], c["source"], c["reason"]) for c in result["criteria"]],
    }


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=8))
def test_stored_readiness_always_equals_a_fresh_evaluation(
    writer: TestClient, admin: TestClient, clock: Clock, steps: list[tuple[Any, ...]]
) -> None:
    key = f"prop-{uuid.uuid4().hex[:10]}"
    path = f"/api/v1/projects/{key}"
    clock.reset()
    make_project(writer, key)
    make_kpi(writer, key, cost_kpi())
    writer.post(f"{path}/stage-transitions", json={"to": "poc"})
    for action in steps:
        apply(writer, admin, clock, path, action)
        stored = writer.get(f"{path}/readiness")
        fresh = writer.post(f"{path}/evaluations:preview", json={})
        assert stored.status_code == fresh.status_code == 200
        assert essentials(stored.json()) == essentials(fresh.json()), action
    clock.reset()
