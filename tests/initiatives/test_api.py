"""Initiatives: the resource, its live progress and what each remaining project misses, the news it
tells once, and what a scoped reader sees of it."""

from datetime import timedelta

from fastapi.testclient import TestClient

from app.core.clock import Clock
from app.core.db import Database
from tests.conftest import settled
from tests.evaluations.test_api import GO_LIVE_FACTS
from tests.initiatives.helpers import (
    INITIATIVES,
    MONITORING,
    comes_true,
    create_initiative,
    initiative_body,
    post_facts,
    progress,
    scoped_client,
    starts,
    told,
)
from tests.projects.factories import make_project
from tests.projects.test_api import assert_problem


def test_an_initiative_is_created_read_listed_changed_and_deleted(approver: TestClient, reader: TestClient) -> None:
    created = approver.post(INITIATIVES, json=initiative_body())
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"{INITIATIVES}/monitoring"
    tag = created.headers["etag"]
    body = created.json()
    assert body["goal"]["criteria"] == ["go_live.monitoring_alerting", "stakeholders.business_owner"]
    assert body["scope"]["department"] == "claims"
    assert body["completed_at"] is None

    read = reader.get(f"{INITIATIVES}/monitoring")
    assert (read.status_code, read.headers["etag"]) == (200, tag)
    assert reader.get(f"{INITIATIVES}/monitoring", headers={"If-None-Match": tag}).status_code == 304
    assert [item["key"] for item in reader.get(INITIATIVES).json()["items"]] == ["monitoring"]

    patch = {"goal": {"criteria": None, "gate": True}, "name": "Gate passed in claims"}
    stale = approver.patch(f"{INITIATIVES}/monitoring", json=patch, headers={"If-Match": '"stale"'})
    assert_problem(stale, 412)
    changed = approver.patch(f"{INITIATIVES}/monitoring", json=patch, headers={"If-Match": tag})
    assert changed.status_code == 200, changed.text
    assert changed.json()["goal"] == {"criteria": None, "gate": True, "level": None}
    assert changed.headers["etag"] != tag

    # What was read, sent back whole, is taken: the read-only fields are ignored.
    again = approver.patch(f"{INITIATIVES}/monitoring", json=changed.json())
    assert again.status_code == 200, again.text

    assert_problem(approver.delete(f"{INITIATIVES}/monitoring", headers={"If-Match": tag}), 412)
    assert approver.delete(f"{INITIATIVES}/monitoring").status_code == 204
    assert_problem(reader.get(f"{INITIATIVES}/monitoring"), 404)


def test_an_initiative_that_cannot_be_followed_is_refused_naming_what_is_wrong(approver: TestClient) -> None:
    unknown = assert_problem(
        approver.post(INITIATIVES, json=initiative_body(goal={"criteria": ["go_live.launch_party"]})), 422
    )
    assert "go_live.launch_party" in unknown["errors"][0]["message"]
    both = assert_problem(
        approver.post(INITIATIVES, json=initiative_body(goal={"gate": True, "level": "pilot_ready"})), 422
    )
    assert "gate and level" in str(both["errors"])
    late = initiative_body(starts_at="2027-01-01T00:00:00Z", target_date="2026-12-01")
    assert "starts_at" in str(assert_problem(approver.post(INITIATIVES, json=late), 422)["errors"])
    assert_problem(approver.post(INITIATIVES, json=initiative_body(scope={"level": "not_ready"})), 422)
    create_initiative(approver)
    assert_problem(approver.post(INITIATIVES, json=initiative_body()), 409)


def test_a_scoped_approver_writes_initiatives_of_its_departments_only(admin: TestClient) -> None:
    claims = scoped_client(admin, "approver", ["claims"])

    assert claims.post(INITIATIVES, json=initiative_body()).status_code == 201
    assert_problem(claims.post(INITIATIVES, json=initiative_body("all", scope={})), 403)
    assert_problem(claims.post(INITIATIVES, json=initiative_body("ops", scope={"department": "operations"})), 403)


def test_progress_shows_in_scope_done_and_remaining_with_what_each_misses(
    writer: TestClient, approver: TestClient, db: Database
) -> None:
    make_project(writer, "claims-triage")
    make_project(writer, "claims-fraud", business_owner=None)
    make_project(writer, "claims-docs")
    make_project(writer, "churn-model", department="marketing")
    post_facts(writer, "claims-triage", MONITORING)
    post_facts(writer, "claims-docs", {"ops.monitoring_enabled": True})
    create_initiative(approver)
    assert settled(db)

    shown = progress(approver)

    assert (shown["in_scope"], shown["done"]) == (3, 1)
    assert [(item["project"], item["missing"]) for item in shown["remaining"]] == [
        ("claims-docs", ["go_live.monitoring_alerting"]),
        ("claims-fraud", ["go_live.monitoring_alerting", "stakeholders.business_owner"]),
    ]
    assert shown["by_department"] == [{"department": "claims", "in_scope": 3, "done": 1}]
    assert shown["overdue"] is False
    first = progress(approver, limit=1)
    assert [item["project"] for item in first["remaining"]] == ["claims-docs"]
    rest = progress(approver, limit=1, cursor=first["next_cursor"])
    assert ([item["project"] for item in rest["remaining"]], rest["next_cursor"]) == (["claims-fraud"], None)


def test_a_fact_that_completes_a_project_moves_it_to_done_within_two_seconds(
    writer: TestClient, approver: TestClient, db: Database
) -> None:
    make_project(writer, "claims-triage")
    make_project(writer, "claims-docs")
    post_facts(writer, "claims-triage", MONITORING)
    create_initiative(approver)
    assert settled(db)
    assert progress(approver)["done"] == 1

    post_facts(writer, "claims-docs", MONITORING)

    assert comes_true(lambda: progress(approver)["done"] == 2)
    assert progress(approver)["remaining"] == []


def test_a_gate_goal_names_the_blockers_and_a_level_goal_every_criterion_not_done(
    writer: TestClient, approver: TestClient, db: Database
) -> None:
    make_project(writer, "claims-triage")
    post_facts(writer, "claims-triage", GO_LIVE_FACTS)
    create_initiative(approver, "gate", goal={"gate": True})
    create_initiative(approver, "production-ready", goal={"level": "production_ready"})
    assert settled(db)

    readiness = writer.get("/api/v1/projects/claims-triage/readiness").json()
    blockers = [blocker["criterion"] for blocker in readiness["gate"]["blockers"]]
    undone = sorted(c["key"] for c in readiness["criteria"] if c["status"] in ("partial", "not_met"))
    (gate,) = progress(approver, "gate")["remaining"]
    (level,) = progress(approver, "production-ready")["remaining"]
    assert gate["missing"] == blockers == ["go_live.kpis_defined", "go_live.rollback_tested"]
    assert level["missing"] == undone
    assert set(blockers) < set(undone)


def test_a_scoped_reader_sees_only_its_departments_in_an_initiatives_progress(
    admin: TestClient, writer: TestClient, approver: TestClient, db: Database
) -> None:
    make_project(writer, "claims-triage")
    make_project(writer, "churn-model", department="marketing")
    make_project(writer, "lead-scoring", department="marketing")
    post_facts(writer, "churn-model", MONITORING)
    create_initiative(approver, scope={}, starts_at=starts(-7))
    assert settled(db)
    marketing = scoped_client(admin, "reader", ["marketing"])

    everyone, theirs = progress(approver), progress(marketing)

    assert (everyone["in_scope"], everyone["done"]) == (3, 1)
    assert (theirs["in_scope"], theirs["done"]) == (2, 1)
    assert [item["project"] for item in theirs["remaining"]] == ["lead-scoring"]
    assert [row["department"] for row in theirs["by_department"]] == ["marketing"]
    assert "claims" not in str(theirs)
    assert [(week["in_scope"], week["done"]) for week in theirs["burn_up"]][-1] == (2, 1)
    assert [(week["in_scope"], week["done"]) for week in everyone["burn_up"]][-1] == (3, 1)


def test_completed_is_told_once_when_the_last_project_is_done(
    writer: TestClient, approver: TestClient, db: Database
) -> None:
    make_project(writer, "claims-triage")
    make_project(writer, "claims-docs")
    post_facts(writer, "claims-triage", MONITORING)
    create_initiative(approver)
    assert settled(db)
    assert told(approver, "initiative.completed") == []

    post_facts(writer, "claims-docs", MONITORING)

    assert comes_true(lambda: len(told(approver, "initiative.completed")) == 1)
    post_facts(writer, "claims-docs", {"ops.escalation_path": "a new rota"})
    assert settled(db)
    (event,) = told(approver, "initiative.completed")
    assert event["subject"] == "monitoring"
    assert event["data"]["in_scope"] == 2
    assert event["data"]["name"] == "Monitoring in claims"
    assert "all 2 projects in scope meet its goal" in event["data"]["summary"]
    assert progress(approver)["completed_at"] is not None


def test_an_initiative_already_complete_is_told_so_at_creation(
    writer: TestClient, approver: TestClient, db: Database
) -> None:
    make_project(writer, "claims-triage")
    post_facts(writer, "claims-triage", MONITORING)
    assert settled(db)

    create_initiative(approver)

    assert comes_true(lambda: len(told(approver, "initiative.completed")) == 1)


def test_overdue_is_told_once_after_the_target_date_with_projects_remaining(
    writer: TestClient, approver: TestClient, db: Database, clock: Clock
) -> None:
    make_project(writer, "claims-triage")
    target = clock.now().date() + timedelta(days=3)
    create_initiative(approver, target_date=target.isoformat())
    assert settled(db)
    assert progress(approver)["overdue"] is False

    clock.advance(timedelta(days=4))
    post_facts(writer, "claims-triage", {"ops.monitoring_enabled": True})  # any write wakes the watch

    assert comes_true(lambda: len(told(approver, "initiative.overdue")) == 1)
    post_facts(writer, "claims-triage", {"ops.alerting_enabled": True})
    assert settled(db)
    (event,) = told(approver, "initiative.overdue")
    assert (event["data"]["in_scope"], event["data"]["done"], event["data"]["remaining"]) == (1, 0, 1)
    assert f"its target date {target.isoformat()} has passed with 1 of 1" in event["data"]["summary"]
    assert progress(approver)["overdue"] is True


def test_initiative_news_is_in_the_feed_of_unscoped_readers_only(
    admin: TestClient, writer: TestClient, approver: TestClient, reader: TestClient, db: Database
) -> None:
    make_project(writer, "claims-triage")
    post_facts(writer, "claims-triage", MONITORING)
    create_initiative(approver)
    assert comes_true(lambda: len(told(reader, "initiative.completed")) == 1)

    assert told(scoped_client(admin, "reader", ["claims"]), "initiative.*") == []
    assert told(scoped_client(admin, "reader", ["claims"]), "readiness.changed") != []


def test_a_changed_goal_is_a_new_question_told_again(writer: TestClient, approver: TestClient, db: Database) -> None:
    make_project(writer, "claims-triage")
    post_facts(writer, "claims-triage", MONITORING)
    create_initiative(approver)
    assert comes_true(lambda: len(told(approver, "initiative.completed")) == 1)

    patched = approver.patch(f"{INITIATIVES}/monitoring", json={"goal": {"criteria": ["go_live.monitoring_alerting"]}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["completed_at"] is None

    assert comes_true(lambda: len(told(approver, "initiative.completed")) == 2)
