from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.kpis.factories import cost_kpi, make_kpi, time_kpi
from tests.projects.factories import make_project
from tests.projects.test_api import assert_problem

KPIS = "/api/v1/projects/claims-triage/kpis"
COST = f"{KPIS}/handling-cost"


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture(autouse=True)
def _project(writer: TestClient) -> None:
    make_project(writer)


def test_a_new_kpi_has_no_data_and_takes_the_projects_currency(writer: TestClient) -> None:
    response = writer.post(KPIS, json=cost_kpi())

    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/api/v1/projects/claims-triage/kpis/handling-cost"
    kpi = response.json()
    assert kpi["currency"] == "EUR"
    assert kpi["is_business_kpi"] is True
    assert kpi["latest"] is None
    assert kpi["progress"] is None
    assert kpi["status"] == "no_data"
    assert writer.get(COST).json() == kpi


def test_only_cost_time_revenue_and_risk_are_business_kpis(writer: TestClient) -> None:
    accuracy = make_kpi(
        writer,
        "claims-triage",
        cost_kpi(
            key="f1", category="model_accuracy", direction="increase", baseline=0.8, target=0.9, value_per_unit=None
        ),
    )

    assert accuracy["is_business_kpi"] is False


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"target": 45}, "body"),
        ({"direction": "increase"}, "body"),
        ({"category": "vibes"}, "body.category"),
        ({"currency": "eur"}, "body.currency"),
        ({"value_per_unit": -5}, "body.value_per_unit"),
        ({"key": "Bad Key"}, "body.key"),
        ({"surprise": True}, "body.surprise"),
    ],
)
def test_invalid_kpis_are_422(writer: TestClient, overrides: dict[str, object], field: str) -> None:
    problem = assert_problem(writer.post(KPIS, json=cost_kpi(**overrides)), 422)

    assert field in [error["field"] for error in problem["errors"]]
    assert writer.get(KPIS).json()["items"] == []


def test_a_target_on_the_wrong_side_of_the_baseline_is_422(writer: TestClient) -> None:
    problem = assert_problem(writer.post(KPIS, json=cost_kpi(target=41)), 422)

    assert "below the baseline" in problem["errors"][0]["message"]


def test_a_duplicate_kpi_key_is_a_conflict(writer: TestClient) -> None:
    make_kpi(writer, "claims-triage", cost_kpi())

    assert_problem(writer.post(KPIS, json=cost_kpi()), 409)


def test_kpis_of_a_missing_project_are_404(writer: TestClient) -> None:
    assert_problem(writer.post("/api/v1/projects/ghost/kpis", json=cost_kpi()), 404)
    assert_problem(writer.get("/api/v1/projects/ghost/kpis/handling-cost"), 404)
    assert_problem(writer.get(f"{KPIS}/ghost"), 404)


def test_measurements_move_latest_progress_and_status(writer: TestClient) -> None:
    make_kpi(writer, "claims-triage", cost_kpi())
    now = datetime.now(UTC)
    writer.post(f"{COST}/measurements", json={"value": 38, "measured_at": iso(now - timedelta(days=2))})
    writer.post(f"{COST}/measurements", json={"value": 34, "measured_at": iso(now - timedelta(days=1))})
    late_arrival = writer.post(f"{COST}/measurements", json={"value": 39, "measured_at": iso(now - timedelta(days=5))})

    kpi = writer.get(COST).json()

    assert late_arrival.status_code == 201
    assert kpi["latest"]["value"] == 34
    assert kpi["progress"] == pytest.approx((34 - 40) / (25 - 40))
    assert kpi["status"] == "on_track"


def test_a_kpi_moving_away_from_its_target_is_off_track(writer: TestClient) -> None:
    make_kpi(writer, "claims-triage", cost_kpi())
    writer.post(f"{COST}/measurements", json={"value": 44})

    kpi = writer.get(COST).json()

    assert kpi["progress"] == pytest.approx(-4 / 15)
    assert kpi["status"] == "off_track"


def test_measurements_are_listed_newest_first_within_a_range(writer: TestClient) -> None:
    make_kpi(writer, "claims-triage", cost_kpi())
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for day in range(5):
        writer.post(f"{COST}/measurements", json={"value": 40 - day, "measured_at": iso(start + timedelta(days=day))})

    everything = writer.get(f"{COST}/measurements").json()["items"]
    window = writer.get(
        f"{COST}/measurements", params={"from": iso(start + timedelta(days=1)), "to": iso(start + timedelta(days=3))}
    ).json()["items"]
    first = writer.get(f"{COST}/measurements", params={"limit": 3}).json()
    second = writer.get(f"{COST}/measurements", params={"limit": 3, "cursor": first["next_cursor"]}).json()

    assert [m["value"] for m in everything] == [36, 37, 38, 39, 40]
    assert [m["value"] for m in window] == [38, 39]
    assert [m["value"] for m in first["items"] + second["items"]] == [36, 37, 38, 39, 40]
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"value": "12"},
        {},
        {"value": 1, "measured_at": "2026-01-01T00:00:00"},
        {"value": 1, "measured_at": "2999-01-01T00:00:00Z"},
        {"value": 1e300},
    ],
)
def test_invalid_measurements_are_422_and_not_stored(writer: TestClient, body: dict[str, object]) -> None:
    make_kpi(writer, "claims-triage", cost_kpi())

    assert_problem(writer.post(f"{COST}/measurements", json=body), 422)
    assert writer.get(f"{COST}/measurements").json()["items"] == []


def test_deleting_a_wrong_measurement_falls_back_to_the_newest_left(writer: TestClient, admin: TestClient) -> None:
    make_kpi(writer, "claims-triage", cost_kpi())
    now = datetime.now(UTC)
    writer.post(f"{COST}/measurements", json={"value": 36, "measured_at": iso(now - timedelta(days=2))})
    wrong = writer.post(f"{COST}/measurements", json={"value": 3.6, "measured_at": iso(now - timedelta(days=1))}).json()

    assert_problem(writer.delete(f"{COST}/measurements/{wrong['id']}"), 403)
    assert admin.delete(f"{COST}/measurements/{wrong['id']}").status_code == 204
    assert writer.get(COST).json()["latest"]["value"] == 36
    assert_problem(admin.delete(f"{COST}/measurements/{wrong['id']}"), 404)


def test_patch_merges_and_revalidates_and_honours_if_match(writer: TestClient) -> None:
    etag = writer.post(KPIS, json=cost_kpi()).headers["etag"]

    updated = writer.patch(COST, json={"target": 20}, headers={"If-Match": etag})
    stale = writer.patch(COST, json={"target": 22}, headers={"If-Match": etag})
    wrong_side = writer.patch(COST, json={"target": 50})

    assert updated.status_code == 200, updated.text
    assert updated.json()["target"] == 20
    assert_problem(stale, 412)
    assert_problem(wrong_side, 422)
    assert_problem(writer.patch(COST, json={"key": "renamed"}), 422)
    assert writer.get(COST).json()["target"] == 20


def test_a_measurement_changes_the_kpis_etag(writer: TestClient) -> None:
    etag = writer.post(KPIS, json=cost_kpi()).headers["etag"]
    writer.post(f"{COST}/measurements", json={"value": 30})

    assert writer.get(COST, headers={"If-None-Match": etag}).status_code == 200
    fresh = writer.get(COST).headers["etag"]
    assert writer.get(COST, headers={"If-None-Match": fresh}).status_code == 304


def test_deleting_a_kpi_needs_admin(writer: TestClient, admin: TestClient) -> None:
    make_kpi(writer, "claims-triage", cost_kpi())

    assert_problem(writer.delete(COST), 403)
    assert admin.delete(COST).status_code == 204
    assert_problem(writer.get(COST), 404)


def test_batch_stores_measurements_across_projects_and_moves_latest(writer: TestClient) -> None:
    make_project(writer, "fraud-scoring")
    make_kpi(writer, "claims-triage", cost_kpi())
    make_kpi(writer, "fraud-scoring", time_kpi())
    now = datetime.now(UTC)
    items = [
        {"project": "claims-triage", "kpi": "handling-cost", "value": 37, "measured_at": iso(now - timedelta(hours=3))},
        {"project": "claims-triage", "kpi": "handling-cost", "value": 35, "measured_at": iso(now - timedelta(hours=1))},
        {"project": "fraud-scoring", "kpi": "triage-time", "value": 22, "source": "warehouse"},
    ]

    response = writer.post("/api/v1/measurements:batch", json={"items": items})

    assert response.status_code == 201, response.text
    assert response.json() == {"stored": 3, "created": 3, "updated": 0, "unchanged": 0}
    assert writer.get(COST).json()["latest"]["value"] == 35
    assert writer.get("/api/v1/projects/fraud-scoring/kpis/triage-time").json()["latest"]["value"] == 22
    assert len(writer.get(f"{COST}/measurements").json()["items"]) == 2


def test_a_batch_with_one_bad_item_stores_nothing_and_says_which(writer: TestClient) -> None:
    make_kpi(writer, "claims-triage", cost_kpi())
    good = {"project": "claims-triage", "kpi": "handling-cost", "value": 30}
    items = [good, good, {"project": "claims-triage", "kpi": "no-such-kpi", "value": 1}, good]

    problem = assert_problem(writer.post("/api/v1/measurements:batch", json={"items": items}), 422)

    assert [e["field"] for e in problem["errors"]] == ["body.items.2.kpi"]
    assert writer.get(f"{COST}/measurements").json()["items"] == []
    assert writer.get(COST).json()["latest"] is None


def test_a_batch_with_an_invalid_value_names_the_item(writer: TestClient) -> None:
    make_kpi(writer, "claims-triage", cost_kpi())
    items = [{"project": "claims-triage", "kpi": "handling-cost", "value": 30}] * 3
    items = [*items, {"project": "claims-triage", "kpi": "handling-cost", "value": "thirty"}]

    problem = assert_problem(writer.post("/api/v1/measurements:batch", json={"items": items}), 422)

    assert problem["errors"][0]["field"].startswith("body.items.3.value")
    assert writer.get(f"{COST}/measurements").json()["items"] == []


def test_a_batch_over_ten_thousand_items_is_refused(writer: TestClient) -> None:
    items = [{"project": "claims-triage", "kpi": "handling-cost", "value": 1}] * 10_001

    assert_problem(writer.post("/api/v1/measurements:batch", json={"items": items}), 422)


def test_claims_triage_roi_matches_the_hand_computation(writer: TestClient) -> None:
    make_kpi(writer, "claims-triage", cost_kpi())
    make_kpi(writer, "claims-triage", time_kpi())
    make_kpi(
        writer,
        "claims-triage",
        cost_kpi(
            key="accuracy",
            category="model_accuracy",
            direction="increase",
            baseline=0.8,
            target=0.9,
            value_per_unit=None,
        ),
    )
    writer.post(f"{COST}/measurements", json={"value": 34})
    writer.post(
        "/api/v1/measurements:batch",
        json={"items": [{"project": "claims-triage", "kpi": "triage-time", "value": 20}]},
    )
    writer.patch("/api/v1/projects/claims-triage", json={"costs": {"build_cost": 120000, "run_cost_per_month": 4000}})

    roi = writer.get("/api/v1/projects/claims-triage/roi").json()

    # cost: (40 − 34) × 1000 = 6,000 realized, (40 − 25) × 1000 = 15,000 projected
    # time: (30 − 20) × 250 = 2,500 realized, (30 − 10) × 250 = 5,000 projected
    assert roi["currency"] == "EUR"
    assert roi["horizon_months"] == 12
    realized, projected = roi["realized"], roi["projected"]
    assert realized["monthly_benefit"] == 8500
    assert realized["by_category"] == {
        "cost_reduction": 6000,
        "time_savings": 2500,
        "revenue": 0,
        "risk_mitigation": 0,
        "other": 0,
    }
    assert realized["total_benefit"] == 102000
    assert realized["total_cost"] == 168000
    assert realized["net"] == -66000
    assert realized["roi_pct"] == -39.29
    assert realized["payback_months"] == 26.67
    assert projected["monthly_benefit"] == 20000
    assert projected["net"] == 72000
    assert projected["roi_pct"] == 42.86
    assert projected["payback_months"] == 7.5
    per_kpi = {row["kpi"]: row for row in roi["per_kpi"]}
    assert per_kpi["accuracy"]["excluded_reason"] == "no value_per_unit"
    assert per_kpi["handling-cost"]["realized_monthly_benefit"] == 6000


def test_roi_horizon_is_bounded_and_kpis_in_another_currency_are_listed_not_summed(writer: TestClient) -> None:
    make_kpi(writer, "claims-triage", cost_kpi())
    make_kpi(writer, "claims-triage", time_kpi(currency="USD"))

    roi = writer.get("/api/v1/projects/claims-triage/roi", params={"horizon_months": 24}).json()

    assert roi["projected"]["monthly_benefit"] == 15000
    assert roi["projected"]["total_cost"] == 120000 + 4000.5 * 24
    usd = next(row for row in roi["per_kpi"] if row["kpi"] == "triage-time")
    assert "USD" in usd["excluded_reason"]
    assert_problem(writer.get("/api/v1/projects/claims-triage/roi", params={"horizon_months": 0}), 422)
    assert_problem(writer.get("/api/v1/projects/claims-triage/roi", params={"horizon_months": 121}), 422)


@pytest.mark.parametrize("key", ["K", "x.y", "ab_c", "kü"])
def test_putting_a_kpi_under_a_key_that_is_no_slug_is_422_and_stores_nothing(writer: TestClient, key: str) -> None:
    body = {"name": "Handling cost", "category": "cost", "unit": "EUR", "direction": "decrease"}

    response = writer.put(f"{KPIS}/{key}", json=body)

    assert assert_problem(response, 422)["errors"][0]["field"] == "path.kpi"
    assert writer.get(KPIS).json()["items"] == []
