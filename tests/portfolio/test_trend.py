"""The portfolio's trend, checked against figures the test computes itself from what the API says
happened: creations, stage transitions, readiness history and measurements, months apart."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.clock import Clock
from tests.evaluations.test_api import GO_LIVE_FACTS, iso
from tests.kpis.factories import cost_kpi, make_kpi
from tests.projects.factories import make_project
from tests.projects.test_api import assert_problem

TREND = "/api/v1/portfolio/trend"
PROJECTS = "/api/v1/projects"
LIMITS = {"idea": 60, "poc": 90, "pilot": 120}  # the default stage time limits
STAGES = ("idea", "poc", "pilot", "production", "scaling", "retired")
# What the test planted: department, region, and the currency of each project's costs.
PLAN = {
    "claims-triage": ("claims", "emea", "EUR"),
    "fraud-scoring": ("claims", "apac", "USD"),
    "churn-model": ("marketing", "amer", "EUR"),
    "short-lived": ("claims", "emea", "EUR"),
}


def month_start(day: date, months_ahead: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + months_ahead
    return date(index // 12, index % 12 + 1, 1)


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def move_to(clock: Clock, moment: datetime) -> None:
    clock.advance(moment - clock.now())


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def rescore(client: TestClient, key: str) -> None:
    """Read the readiness, so that it is re-scored (and its history written) at the clock's time."""
    assert client.get(f"{PROJECTS}/{key}/readiness").status_code == 200


def measure(client: TestClient, key: str, value: float, when: datetime) -> None:
    response = client.post(
        f"{PROJECTS}/{key}/kpis/handling-cost/measurements", json={"value": value, "measured_at": iso(when)}
    )
    assert response.status_code == 201, response.text


def move(client: TestClient, key: str, stage: str) -> None:
    response = client.post(f"{PROJECTS}/{key}/stage-transitions", json={"to": stage, "reason": "plan"})
    assert response.status_code == 201, response.text


@pytest.fixture
def story(writer: TestClient, approver: TestClient, admin: TestClient, clock: Clock) -> dict[str, datetime]:
    """Four projects over five months: one reaches production, one stalls in poc, one stalls as an
    idea, one is deleted. Returns the moments the story happened at."""
    first = month_start(clock.now().date(), 1)
    moments = {
        "created": at(first + timedelta(days=1)),
        "poc": at(month_start(first, 1) + timedelta(days=2)),
        "production": at(month_start(first, 2) + timedelta(days=4)),
        "late": at(month_start(first, 4) + timedelta(days=9)),
    }
    move_to(clock, moments["created"])
    for key, (department, region, currency) in PLAN.items():
        make_project(
            writer, key, name=key, department=department, region=region, costs={"currency": currency}, tags=[key]
        )
    make_kpi(writer, "claims-triage", cost_kpi(value_per_unit=100))
    make_kpi(writer, "fraud-scoring", cost_kpi(value_per_unit=10, currency="USD"))
    measure(writer, "fraud-scoring", 38, moments["created"])
    for key in PLAN:
        rescore(writer, key)

    move_to(clock, moments["poc"])
    for key in ("claims-triage", "churn-model"):
        move(writer, key, "poc")
    measure(writer, "claims-triage", 35, moments["poc"])
    for key in PLAN:
        rescore(writer, key)

    move_to(clock, moments["production"])
    move(writer, "claims-triage", "pilot")
    facts = {**GO_LIVE_FACTS, "ops.rollback_tested_at": iso(clock.now() - timedelta(days=1))}
    facts["ops.rollback_procedure_url"] = "https://wiki.example.com/rollback"
    for name, value in facts.items():
        assert writer.put(f"{PROJECTS}/claims-triage/facts/{name}", json={"value": value}).status_code == 201
    measure(writer, "claims-triage", 30, moments["production"])
    rescore(writer, "claims-triage")
    evaluation = writer.post(f"{PROJECTS}/claims-triage/evaluations", json={})
    assert evaluation.status_code == 201, evaluation.text
    go = {"evaluation_id": evaluation.json()["id"], "decision": "go", "on_behalf_of": "Steering committee"}
    assert approver.post(f"{PROJECTS}/claims-triage/decisions", json=go).status_code == 201
    move(writer, "claims-triage", "production")
    rescore(writer, "claims-triage")

    move_to(clock, moments["late"])
    # Sent late, dated a month back: the bucket it is dated in shows it.
    measure(writer, "claims-triage", 28, at(month_start(first, 3)))
    measure(writer, "claims-triage", 25, moments["late"])
    assert admin.delete(f"{PROJECTS}/short-lived").status_code == 204
    for key in PLAN:
        if key != "short-lived":
            rescore(writer, key)
    return moments


def timelines(client: TestClient) -> dict[str, dict[str, Any]]:
    """What the API tells of each remaining project's past."""
    found = {}
    for key, (department, region, currency) in PLAN.items():
        project = client.get(f"{PROJECTS}/{key}")
        if project.status_code == 404:
            continue
        transitions = client.get(f"{PROJECTS}/{key}/stage-transitions", params={"limit": 100}).json()["items"]
        history = client.get(f"{PROJECTS}/{key}/readiness/history", params={"limit": 100}).json()["items"]
        kpis = client.get(f"{PROJECTS}/{key}/kpis").json()["items"]
        points = []
        for kpi in kpis:
            measured = client.get(f"{PROJECTS}/{key}/kpis/{kpi['key']}/measurements", params={"limit": 100})
            points += [(parse(m["measured_at"]), Decimal(repr(m["value"])), kpi) for m in measured.json()["items"]]
        found[key] = {
            "department": department,
            "region": region,
            "currency": currency,
            "created_at": parse(project.json()["created_at"]),
            "stages": sorted((parse(t["transitioned_at"]), t["to"]) for t in transitions),
            "scores": sorted((parse(h["changed_at"]), h["score"], h["gate_passed"]) for h in history),
            "measurements": sorted(points, key=lambda point: point[0]),
        }
    return found


def buckets(interval: str, first: date, last: date) -> list[tuple[datetime, datetime]]:
    if interval == "week":
        start = first - timedelta(days=first.weekday())
        starts = [start + timedelta(weeks=n) for n in range((last - start).days // 7 + 1)]
        return [(at(s, 0), at(s + timedelta(weeks=1), 0)) for s in starts]
    starts = [month_start(first, n) for n in range((last.year - first.year) * 12 + last.month - first.month + 1)]
    return [(at(s, 0), at(month_start(s, 1), 0)) for s in starts]


def expected(
    projects: dict[str, dict[str, Any]], periods: list[tuple[datetime, datetime]], now: datetime
) -> list[dict[str, Any]]:
    """Each bucket's figures, project by project, straight from the definitions."""
    points = []
    for start, end in periods:
        as_of = min(end, now)
        point: dict[str, Any] = {
            "projects": 0,
            "by_stage": dict.fromkeys(STAGES, 0),
            "entered_production": 0,
            "go_live_ready": 0,
            "stalled": 0,
            "realized_monthly_benefit": {},
        }
        scores: list[Decimal] = []
        for project in projects.values():
            if project["created_at"] > as_of:
                continue
            point["projects"] += 1
            entered, stage = project["created_at"], "idea"
            for moment, to in project["stages"]:
                if moment <= as_of:
                    entered, stage = moment, to
                if to == "production" and start <= moment < end:
                    point["entered_production"] += 1
            point["by_stage"][stage] += 1
            if stage in LIMITS and as_of - entered > timedelta(days=LIMITS[stage]):
                point["stalled"] += 1
            scored = [(score, gate) for moment, score, gate in project["scores"] if moment <= as_of]
            if scored:
                scores.append(Decimal(repr(scored[-1][0])))
                point["go_live_ready"] += scored[-1][1]
            latest: dict[str, tuple[Decimal, dict[str, Any]]] = {}
            for moment, value, kpi in project["measurements"]:
                if moment <= as_of:
                    latest[kpi["key"]] = (value, kpi)
            benefit = sum(
                (
                    (Decimal(repr(kpi["baseline"])) - value) * Decimal(repr(kpi["value_per_unit"]))
                    for value, kpi in latest.values()
                ),
                Decimal(0),
            )
            total = point["realized_monthly_benefit"].get(project["currency"], Decimal(0))
            point["realized_monthly_benefit"][project["currency"]] = total + benefit
        # Half-even to two decimals, as the API rounds.
        point["mean_score"] = float(round(sum(scores, Decimal(0)) / len(scores), 2)) if scores else None
        point["realized_monthly_benefit"] = {c: float(v) for c, v in point["realized_monthly_benefit"].items()}
        points.append(point)
    return points


def figures(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{name: value for name, value in p.items() if name not in ("start", "end", "as_of")} for p in points]


def trend(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get(TREND, params=params)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def test_monthly_buckets_show_each_month_as_it_ended(
    admin: TestClient, reader: TestClient, story: dict[str, datetime]
) -> None:
    projects = timelines(admin)
    first, last = story["created"].date(), story["late"].date()
    answer = trend(reader, **{"from": first.isoformat(), "to": last.isoformat()})
    now = parse(answer["overall"][-1]["as_of"])
    periods = buckets("month", first, last)

    assert answer["interval"] == "month"
    assert [(parse(p["start"]), parse(p["end"])) for p in answer["overall"]] == periods
    assert figures(answer["overall"]) == expected(projects, periods, now)
    assert any("stage's time limit" in note for note in answer["approximations"])
    # The story's landmarks, as a reader of the chart would see them.
    claims_triage = [p["by_stage"]["production"] for p in answer["overall"]]
    assert claims_triage == [0, 0, 1, 1, 1]
    assert [p["entered_production"] for p in answer["overall"]] == [0, 0, 1, 0, 0]
    assert [p["stalled"] for p in answer["overall"]][-1] == 2  # churn-model in poc, fraud-scoring an idea
    assert answer["overall"][2]["go_live_ready"] == 1
    assert [p["realized_monthly_benefit"]["EUR"] for p in answer["overall"]] == [0, 500, 1000, 1200, 1500]
    assert all(p["projects"] == 3 for p in answer["overall"])  # short-lived was deleted: gone everywhere


def test_weekly_buckets_match_the_computation(
    admin: TestClient, reader: TestClient, story: dict[str, datetime]
) -> None:
    projects = timelines(admin)
    first, last = story["created"].date(), story["late"].date()
    answer = trend(reader, interval="week", **{"from": first.isoformat(), "to": last.isoformat()})
    periods = buckets("week", first, last)

    assert all(parse(p["start"]).weekday() == 0 for p in answer["overall"])
    assert [(parse(p["start"]), parse(p["end"])) for p in answer["overall"]] == periods
    assert figures(answer["overall"]) == expected(projects, periods, parse(answer["overall"][-1]["as_of"]))


def test_the_default_is_twelve_months_ending_with_the_current_partial_one(
    admin: TestClient, reader: TestClient, story: dict[str, datetime]
) -> None:
    projects = timelines(admin)
    answer = trend(reader)
    last = story["late"].date()
    periods = buckets("month", month_start(last, -11), last)
    now = parse(answer["overall"][-1]["as_of"])

    assert len(answer["overall"]) == 12
    assert parse(answer["overall"][-1]["end"]) > now
    assert figures(answer["overall"]) == expected(projects, periods, now)


def test_groups_by_department_each_match_their_projects(
    admin: TestClient, reader: TestClient, story: dict[str, datetime]
) -> None:
    projects = timelines(admin)
    first, last = story["created"].date(), story["late"].date()
    answer = trend(reader, group_by="department", **{"from": first.isoformat(), "to": last.isoformat()})
    now = parse(answer["overall"][-1]["as_of"])
    periods = buckets("month", first, last)

    assert answer["group_by"] == "department"
    assert [group["group"] for group in answer["groups"]] == ["claims", "marketing"]
    for group in answer["groups"]:
        members = {key: p for key, p in projects.items() if p["department"] == group["group"]}
        assert figures(group["points"]) == expected(members, periods, now)
    assert figures(answer["overall"]) == expected(projects, periods, now)


def test_groups_by_stage_follow_each_project_s_stage_at_the_time(
    reader: TestClient, story: dict[str, datetime]
) -> None:
    first, last = story["created"].date(), story["late"].date()
    answer = trend(reader, group_by="stage", **{"from": first.isoformat(), "to": last.isoformat()})

    for index, point in enumerate(answer["overall"]):
        per_group = {group["group"]: group["points"][index] for group in answer["groups"]}
        assert {stage: g["projects"] for stage, g in per_group.items() if g["projects"]} == {
            stage: count for stage, count in point["by_stage"].items() if count
        }
        assert sum(g["entered_production"] for g in per_group.values()) == point["entered_production"]
    production = next(group for group in answer["groups"] if group["group"] == "production")
    assert [point["entered_production"] for point in production["points"]] == [0, 0, 1, 0, 0]


def test_a_filter_selects_the_projects_by_their_current_attributes(
    admin: TestClient, reader: TestClient, story: dict[str, datetime]
) -> None:
    projects = timelines(admin)
    first, last = story["created"].date(), story["late"].date()
    answer = trend(reader, region="emea", **{"from": first.isoformat(), "to": last.isoformat()})
    periods = buckets("month", first, last)
    emea = {key: p for key, p in projects.items() if p["region"] == "emea"}

    assert list(emea) == ["claims-triage"]
    assert figures(answer["overall"]) == expected(emea, periods, parse(answer["overall"][-1]["as_of"]))
    by_stage_now = trend(reader, stage="production", **{"from": first.isoformat(), "to": last.isoformat()})
    assert figures(by_stage_now["overall"]) == figures(answer["overall"])


def test_a_scoped_key_sees_only_its_departments(
    admin: TestClient, client: TestClient, story: dict[str, datetime]
) -> None:
    key = {"name": "claims-reader", "role": "reader", "departments": ["claims"]}
    created = admin.post("/api/v1/api-keys", json=key)
    assert created.status_code == 201, created.text
    scoped = TestClient(client.app)
    scoped.headers["Authorization"] = f"Bearer {created.json()['secret']}"
    projects = timelines(admin)
    first, last = story["created"].date(), story["late"].date()
    params = {"from": first.isoformat(), "to": last.isoformat(), "group_by": "department"}
    answer = trend(scoped, **params)
    claims = {key: p for key, p in projects.items() if p["department"] == "claims"}

    assert [group["group"] for group in answer["groups"]] == ["claims"]
    periods = buckets("month", first, last)
    assert figures(answer["overall"]) == expected(claims, periods, parse(answer["overall"][-1]["as_of"]))
    assert admin.get(TREND, params=params).headers["ETag"] != scoped.get(TREND, params=params).headers["ETag"]


def test_an_unchanged_trend_answers_304_to_its_etag(reader: TestClient, story: dict[str, datetime]) -> None:
    params = {"from": story["created"].date().isoformat(), "to": story["poc"].date().isoformat()}
    first = reader.get(TREND, params=params)
    tag = first.headers["ETag"]

    assert tag.startswith('W/"')
    assert first.headers["Cache-Control"] == "private, no-cache"
    again = reader.get(TREND, params=params, headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.headers["ETag"] == tag


@pytest.mark.parametrize(
    "params",
    [
        {"interval": "day"},
        {"from": "2026-05-01", "to": "2026-04-01"},
        {"interval": "week", "from": "2020-01-01", "to": "2022-12-31"},
        {"interval": "month", "from": "2010-01-01", "to": "2019-01-01"},
        {"from": "not-a-date"},
        {"to": "0"},
        {"group_by": "owner"},
        {"since": "2026-01-01"},
    ],
)
def test_bad_parameters_are_422_problems(reader: TestClient, params: dict[str, str]) -> None:
    assert_problem(reader.get(TREND, params=params), 422)


def test_104_weeks_are_allowed(reader: TestClient) -> None:
    today = datetime.now(UTC).date()
    answer = trend(reader, interval="week", **{"from": (today - timedelta(weeks=103)).isoformat()})

    assert len(answer["overall"]) == 104
    assert all(point["projects"] == 0 for point in answer["overall"])
