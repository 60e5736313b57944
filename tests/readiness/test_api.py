"""Current readiness: kept current by every write and by time, with its history and attestations."""

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.core.clock import Clock
from app.core.db import Database, make_engine, utcnow
from app.core.migrations import upgrade
from app.core.settings import Settings
from app.engine import scoring
from app.main import create_app
from app.projects.models import Project
from app.readiness import document, inputs, scorer, service
from app.readiness.models import ProjectReadiness
from app.readiness.rescorer import Rescorer
from app.rubrics import service as rubrics
from tests.conftest import ADMIN_SECRET, DatabaseUrlFactory
from tests.evaluations.test_api import GO_LIVE_FACTS, PROJECT, decide, evaluate, iso
from tests.evidence import files
from tests.kpis.factories import cost_kpi, make_kpi
from tests.projects.factories import make_project
from tests.projects.test_api import assert_problem
from tests.rubrics.test_api import weakest_link_rubric

READINESS = f"{PROJECT}/readiness"
HISTORY = f"{PROJECT}/readiness/history"
ROLLBACK = {
    "ops.rollback_tested_at": iso(datetime.now(UTC) - timedelta(days=10)),
    "ops.rollback_procedure_url": "https://wiki.example.com/rollback",
}


@pytest.fixture
def ready(writer: TestClient) -> None:
    """A pilot whose go-live gate passes."""
    make_project(writer)
    make_kpi(writer, "claims-triage", cost_kpi())
    writer.post(f"{PROJECT}/kpis/handling-cost/measurements", json={"value": 34})
    for stage in ("poc", "pilot"):
        writer.post(f"{PROJECT}/stage-transitions", json={"to": stage})
    for name, value in {**GO_LIVE_FACTS, **ROLLBACK}.items():
        assert writer.put(f"{PROJECT}/facts/{name}", json={"value": value}).status_code == 201


def eventually(check: Callable[[], bool], seconds: float = 2.0) -> bool:
    """Whether `check` comes true within `seconds`: for what the re-scorer does in the background."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


@contextmanager
def without_rescorer(settings: Settings, db: Database) -> Iterator[TestClient]:
    """An admin client of a service that leaves marked projects to reads (and to a worker)."""
    with TestClient(create_app(settings.model_copy(update={"rescorer": False}), db)) as admin:
        admin.headers["Authorization"] = f"Bearer {ADMIN_SECRET}"
        yield admin


def portfolio_row(client: TestClient, key: str = "claims-triage") -> dict[str, Any]:
    rows = client.get("/api/v1/portfolio/readiness", params={"limit": 500}).json()["items"]
    return next(row for row in rows if row["key"] == key)


def blockers(readiness: dict[str, Any]) -> list[str]:
    return [blocker["criterion"] for blocker in readiness["gate"]["blockers"]]


@pytest.mark.usefixtures("ready")
def test_a_fact_that_fails_the_gate_shows_at_once_everywhere_and_in_the_history(writer: TestClient) -> None:
    before = writer.get(READINESS)
    assert before.json()["gate"]["passed"] is True
    history_before = writer.get(HISTORY).json()["items"]

    assert writer.put(f"{PROJECT}/facts/security.review_completed", json={"value": False}).status_code == 200
    after = writer.get(READINESS)
    row = portfolio_row(writer)
    badge = writer.get(f"{PROJECT}/badge.svg").text
    history = writer.get(HISTORY).json()["items"]

    assert after.json()["gate"]["passed"] is False
    assert blockers(after.json()) == ["go_live.security_review"]
    assert after.headers["etag"] != before.headers["etag"]
    assert (row["score"], row["level"], row["gate_passed"]) == (after.json()["score"], after.json()["level"], False)
    assert f"{after.json()['score']:.0f} · {after.json()['level'].replace('_', ' ')}" in badge
    assert len(history) == len(history_before) + 1
    assert history[0]["cause"] == [{"kind": "fact", "name": "security.review_completed"}]
    assert history[0]["summary"] == "fact security.review_completed"
    assert history[0]["previous"]["gate_passed"] is True
    assert history[0]["blockers"] == [{"criterion": "go_live.security_review", "status": "partial"}]

    writer.put(f"{PROJECT}/facts/security.review_completed", json={"value": True})
    restored = writer.get(READINESS)

    assert restored.json()["gate"]["passed"] is True
    assert restored.json()["score"] == before.json()["score"]
    assert restored.headers["etag"] == before.headers["etag"]
    assert len(writer.get(HISTORY).json()["items"]) == len(history_before) + 2


@pytest.mark.usefixtures("ready")
def test_a_write_that_changes_nothing_adds_no_history_and_keeps_the_etag(writer: TestClient) -> None:
    first = writer.get(READINESS)
    history = writer.get(HISTORY).json()["items"]

    writer.put(f"{PROJECT}/facts/support.channel", json={"value": "#claims-support"})
    again = writer.get(READINESS, headers={"If-None-Match": first.headers["etag"]})

    assert again.status_code == 304
    assert writer.get(HISTORY).json()["items"] == history


def test_a_new_project_has_a_current_readiness_and_a_first_history_entry(writer: TestClient) -> None:
    make_project(writer)

    readiness = writer.get(READINESS).json()
    history = writer.get(HISTORY).json()["items"]

    assert readiness["rubric"] == "ai-production-readiness"
    assert readiness["level"] == "not_ready"
    assert len(readiness["criteria"]) == 23
    assert [entry["previous"] for entry in history] == [None]
    assert history[0]["cause"] == [{"kind": "project", "name": "claims-triage"}]


@pytest.mark.usefixtures("ready")
def test_a_rollback_test_ages_out_with_the_clock_without_any_write(
    writer: TestClient, settings: Settings, db: Database, clock: Clock
) -> None:
    tested = datetime.now(UTC) - timedelta(days=179)
    writer.put(f"{PROJECT}/facts/ops.rollback_tested_at", json={"value": iso(tested)})
    current = writer.get(READINESS).json()
    assert current["gate"]["passed"] is True
    assert current["changes_at"] is not None
    row_before = portfolio_row(writer)

    clock.advance(timedelta(days=2))
    sweeping = settings.model_copy(update={"rescore_sweep_seconds": 0.1})
    with TestClient(create_app(sweeping, db)) as service:
        service.headers["Authorization"] = f"Bearer {ADMIN_SECRET}"
        # No write and no read of the project: the sweep alone catches the portfolio up.
        assert eventually(lambda: portfolio_row(service)["gate_passed"] is False, seconds=5)
        expired = service.get(READINESS).json()
        history = service.get(HISTORY).json()["items"]

    assert row_before["gate_passed"] is True
    assert blockers(expired) == ["go_live.rollback_tested"]
    rollback = next(c for c in expired["criteria"] if c["key"] == "go_live.rollback_tested")
    assert tested.date().isoformat() in rollback["reason"]
    assert history[0]["cause"] == [{"kind": "time", "name": "fact ops.rollback_tested_at older than 180 days"}]
    assert history[0]["summary"] == "time: fact ops.rollback_tested_at older than 180 days"


def test_an_expired_attestation_no_longer_counts_and_the_read_says_so_at_once(writer: TestClient, clock: Clock) -> None:
    make_project(writer, sync_cadence_days=None)
    writer.post(f"{PROJECT}/stage-transitions", json={"to": "poc"})
    expires = datetime.now(UTC) + timedelta(days=1)
    response = writer.put(
        f"{PROJECT}/attestations/stakeholders.weekly_sync", json={"status": "met", "expires_at": iso(expires)}
    )
    assert response.status_code == 201, response.text

    def weekly_sync(readiness: dict[str, Any]) -> tuple[str, str]:
        criterion = next(c for c in readiness["criteria"] if c["key"] == "stakeholders.weekly_sync")
        return criterion["status"], criterion["source"]

    counting = writer.get(READINESS).json()
    clock.advance(timedelta(days=2))
    expired = writer.get(READINESS).json()
    history = writer.get(HISTORY).json()["items"]
    listed = writer.get(f"{PROJECT}/attestations").json()["items"]

    assert weekly_sync(counting) == ("met", "attestation")
    assert abs(datetime.fromisoformat(counting["changes_at"]) - expires) < timedelta(seconds=1)
    assert weekly_sync(expired) == ("not_met", "unanswered")
    assert expired["score"] < counting["score"]
    assert history[0]["cause"] == [{"kind": "time", "name": "attestation of stakeholders.weekly_sync expired"}]
    assert [(a["criterion"], a["active"]) for a in listed] == [("stakeholders.weekly_sync", False)]
    assert_problem(
        writer.put(
            f"{PROJECT}/attestations/stakeholders.weekly_sync",
            json={"status": "met", "expires_at": iso(datetime.now(UTC))},
        ),
        422,
    )


def test_attestations_record_the_caller_and_count_at_once(writer: TestClient) -> None:
    make_project(writer, sync_cadence_days=None)
    writer.post(f"{PROJECT}/stage-transitions", json={"to": "poc"})

    created = writer.put(
        f"{PROJECT}/attestations/stakeholders.weekly_sync",
        json={"status": "partial", "note": "fortnightly", "evidence_url": "https://wiki.example.com/sync"},
    )
    readiness = writer.get(READINESS).json()
    criterion = next(c for c in readiness["criteria"] if c["key"] == "stakeholders.weekly_sync")
    stale = writer.put(
        f"{PROJECT}/attestations/stakeholders.weekly_sync", json={"status": "met"}, headers={"If-Match": '"nope"'}
    )

    assert created.status_code == 201
    assert created.json()["attested_by"].startswith("writer-")
    assert (criterion["status"], criterion["source"]) == ("partial", "attestation")
    assert criterion["attestation"]["note"] == "fortnightly"
    assert criterion["evidence_url"] == "https://wiki.example.com/sync"
    assert stale.status_code == 412
    assert writer.delete(f"{PROJECT}/attestations/stakeholders.weekly_sync").status_code == 204
    gone = next(c for c in writer.get(READINESS).json()["criteria"] if c["key"] == "stakeholders.weekly_sync")
    assert gone["source"] == "unanswered"


def test_attesting_a_gate_criterion_needs_more_than_a_writer(writer: TestClient, admin: TestClient) -> None:
    make_project(writer)
    gate = f"{PROJECT}/attestations/go_live.performance_benchmarks"

    assert_problem(writer.put(gate, json={"status": "met"}), 403)
    refused = writer.post(
        f"{PROJECT}/evaluations", json={"answers": [{"criterion": "go_live.performance_benchmarks", "status": "met"}]}
    )
    assert_problem(refused, 403)
    assert writer.get(f"{PROJECT}/attestations").json()["items"] == []
    assert admin.put(gate, json={"status": "met", "evidence_ids": files.cited(admin, PROJECT)}).status_code == 201
    assert_problem(writer.delete(gate), 403)
    assert_problem(writer.put(f"{PROJECT}/attestations/nothing.like_this", json={"status": "met"}), 404)


def test_answers_in_an_evaluation_are_kept_as_attestations(writer: TestClient) -> None:
    make_project(writer, sync_cadence_days=None)
    writer.post(f"{PROJECT}/stage-transitions", json={"to": "poc"})

    evaluate(writer, answers=[{"criterion": "stakeholders.weekly_sync", "status": "met", "note": "Mondays"}])
    later = evaluate(writer)

    weekly = next(c for c in later["criteria"] if c["key"] == "stakeholders.weekly_sync")
    assert (weekly["status"], weekly["source"]) == ("met", "attestation")
    assert writer.get(f"{PROJECT}/attestations/stakeholders.weekly_sync").json()["note"] == "Mondays"


@pytest.mark.usefixtures("ready")
def test_a_go_needs_the_gate_to_pass_now_not_only_when_evaluated(writer: TestClient, approver: TestClient) -> None:
    evaluation = evaluate(writer)
    assert evaluation["gate"]["passed"] is True

    writer.put(f"{PROJECT}/facts/perf.benchmarks_tracked", json={"value": False})
    refused = decide(approver, evaluation["id"])

    assert "go_live.performance_benchmarks" in assert_problem(refused, 409)["detail"]
    writer.put(f"{PROJECT}/facts/perf.benchmarks_tracked", json={"value": True})
    assert decide(approver, evaluation["id"]).status_code == 201


def test_publishing_a_rubric_version_rescores_every_governed_project(admin: TestClient, writer: TestClient) -> None:
    admin.post("/api/v1/rubrics", json=weakest_link_rubric(aggregation="weighted_mean"))
    keys = [f"governed-{i}" for i in range(60)]
    for key in keys:
        # A project governed by another rubric than the default is created by an approver or above.
        make_project(admin, key, rubric="weakest-link", deployment={"target": "public_cloud"})
    before = writer.get(f"/api/v1/projects/{keys[0]}/readiness").json()

    definition = weakest_link_rubric(aggregation="weighted_mean")
    definition["sections"][1]["weight"] = 1
    del definition["key"]
    published = admin.post("/api/v1/rubrics/weakest-link/versions", json=definition)
    assert published.status_code == 201, published.text
    after = writer.get(f"/api/v1/projects/{keys[0]}/readiness").json()

    assert (before["rubric_version"], after["rubric_version"]) == (1, 2)
    assert after["score"] != before["score"]
    assert eventually(lambda: all(portfolio_row(writer, key)["score"] == after["score"] for key in keys))
    progress = writer.get("/api/v1/rubrics/weakest-link/rescoring").json()
    assert progress == {"rubric": "weakest-link", "latest_version": 2, "governed": 60, "current": 60, "pending": 0}
    history = writer.get(f"/api/v1/projects/{keys[1]}/readiness/history").json()["items"]
    assert history[0]["cause"] == [{"kind": "rubric", "name": "weakest-link v2"}]


def test_a_batch_over_many_projects_is_read_at_once_and_reaches_the_portfolio(writer: TestClient) -> None:
    keys = [f"measured-{i}" for i in range(80)]
    for key in keys:
        make_project(writer, key)
        make_kpi(writer, key, cost_kpi())
    items = [{"project": key, "kpi": "handling-cost", "value": 30} for key in keys]
    writer.get(f"/api/v1/projects/{keys[0]}/readiness")

    assert writer.post("/api/v1/measurements:batch", json={"items": items}).status_code == 201
    first = writer.get(f"/api/v1/projects/{keys[0]}/readiness/history").json()["items"][0]

    assert first["cause"] == [{"kind": "measurement", "name": "batch"}]
    score = writer.get(f"/api/v1/projects/{keys[-1]}/readiness").json()["score"]
    assert eventually(lambda: all(portfolio_row(writer, key)["score"] == score for key in keys))


def test_without_the_rescorer_a_published_version_waits_but_reads_are_never_stale(
    settings: Settings, db: Database
) -> None:
    with without_rescorer(settings, db) as admin:
        admin.post("/api/v1/rubrics", json=weakest_link_rubric())
        for i in range(3):
            make_project(admin, f"waiting-{i}", rubric="weakest-link")
        definition = weakest_link_rubric()
        del definition["key"]
        admin.post("/api/v1/rubrics/weakest-link/versions", json=definition)

        waiting = admin.get("/api/v1/rubrics/weakest-link/rescoring").json()
        read = admin.get("/api/v1/projects/waiting-0/readiness").json()
        after_read = admin.get("/api/v1/rubrics/weakest-link/rescoring").json()
        rows = {row["key"]: row for row in admin.get("/api/v1/portfolio/readiness").json()["items"]}

    assert (waiting["governed"], waiting["pending"]) == (3, 3)
    assert read["rubric_version"] == 2
    assert after_read["pending"] == 2
    assert rows["waiting-0"]["score"] == read["score"]


def test_timestamps_at_the_end_of_time_are_scored_or_refused_never_a_500(writer: TestClient) -> None:
    make_project(writer)
    far = writer.put(f"{PROJECT}/facts/ops.rollback_tested_at", json={"value": "9999-12-31T00:00:00Z"})
    beyond = writer.put(
        f"{PROJECT}/attestations/stakeholders.weekly_sync",
        json={"status": "met", "expires_at": "9999-12-31T23:59:59-01:00"},
    )

    assert far.status_code in (201, 422), far.text
    assert writer.get(READINESS).status_code == 200
    assert_problem(beyond, 422)


def test_a_fact_past_its_checks_maximum_age_stops_counting_with_time_as_the_cause(
    admin: TestClient, writer: TestClient, clock: Clock
) -> None:
    rubric = weakest_link_rubric(key="fresh-monitoring", aggregation="weighted_mean")
    rubric["criteria"][2]["check"]["max_age_days"] = 30
    assert admin.post("/api/v1/rubrics", json=rubric).status_code == 201
    make_project(admin, rubric="fresh-monitoring")
    writer.put(f"{PROJECT}/facts/ops.monitoring_enabled", json={"value": True})
    fresh = writer.get(READINESS).json()

    clock.advance(timedelta(days=31))
    aged = writer.get(READINESS).json()
    history = writer.get(HISTORY).json()["items"]

    assert fresh["gate"]["passed"] is True
    assert aged["gate"]["passed"] is False
    assert blockers(aged) == ["infra.monitoring"]
    assert history[0]["summary"] == "time: fact ops.monitoring_enabled older than 30 days"


def test_results_scored_in_a_read_are_stored_only_for_projects_no_write_changed_meanwhile(
    settings: Settings, db: Database
) -> None:
    with without_rescorer(settings, db) as admin:
        for key in ("steady", "written"):
            make_project(admin, key)
            admin.get(f"/api/v1/projects/{key}/readiness")
            admin.put(f"/api/v1/projects/{key}/facts/ops.monitoring_enabled", json={"value": True})
        scored = db.work(service.score_due, write=False)(limit=10)
        admin.put("/api/v1/projects/written/facts/ops.logging_enabled", json={"value": True})
        assert scored is not None

        stored = db.work(service.store_scored, write=True)(scored)
        waiting = admin.get("/api/v1/rubrics/ai-production-readiness/rescoring").json()
        again = db.work(service.rescore_due, write=True)(limit=10)
        history = admin.get("/api/v1/projects/written/readiness/history").json()["items"]

    assert len(scored.fresh) == 2
    assert (stored, waiting["pending"], again) == (1, 1, 1)
    assert history[0]["cause"] == [
        {"kind": "fact", "name": "ops.monitoring_enabled"},
        {"kind": "fact", "name": "ops.logging_enabled"},
    ]


def test_projects_a_restore_left_unscored_are_found_by_the_full_sweep(settings: Settings, db: Database) -> None:
    with without_rescorer(settings, db) as admin:
        make_project(admin)
        admin.get(READINESS)
        db.work(lambda session: session.execute(delete(ProjectReadiness)), write=True)()
        rescorer = Rescorer(db)

        after_wake = asyncio.run(rescorer.catch_up())
        after_full_sweep = asyncio.run(rescorer.catch_up(full=True))
        history = admin.get(HISTORY).json()["items"]

    assert (after_wake, after_full_sweep) == (0, 1)
    assert history[0]["cause"] == [{"kind": "readiness", "name": "first score"}]


def _copy_of_the_default_rubric(admin: TestClient, key: str) -> dict[str, Any]:
    """A rubric like the default one under another key, and its definition to publish again."""
    definition = admin.get("/api/v1/rubrics/ai-production-readiness").json()
    spec = {name: definition[name] for name in ("name", "description", "aggregation", "sections", "criteria")}
    assert admin.post("/api/v1/rubrics", json={"key": key, **spec}).status_code == 201
    return spec


def _heavier_go_live(spec: dict[str, Any]) -> dict[str, Any]:
    sections = [
        {**section, "weight": section["weight"] + 3} if section["key"] == "go_live" else section
        for section in spec["sections"]
    ]
    return {**spec, "sections": sections}


def _as_shown(readiness: dict[str, Any]) -> dict[str, Any]:
    shown = ("rubric_version", "score", "level", "weakest_section", "gate", "recommendation", "sections", "criteria")
    return {name: readiness[name] for name in shown}


def _recording_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys of the projects whose data scoring loads from now on (until `monkeypatch.undo`)."""
    loaded: list[str] = []
    load = inputs.load

    def recording_load(session: Any, projects: Any, now: datetime) -> Any:
        loaded.extend(project.key for project in projects)
        return load(session, projects, now)

    monkeypatch.setattr(inputs, "load", recording_load)
    return loaded


def _stored_and_fresh(session: Session, key: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """The stored result's text and ETag, and those of the project evaluated afresh now."""
    project = session.scalars(select(Project).where(Project.key == key)).one()
    stored = session.execute(
        select(ProjectReadiness.result, ProjectReadiness.etag).where(ProjectReadiness.project_id == project.id)
    ).one()
    now = utcnow()
    rubric = rubrics.latest_engine_rubric(session, project.rubric)
    given = inputs.load(session, [project], now)[project.id]
    evaluation = scoring.evaluate(rubric, given.snapshot, given.attestations, given.exemptions, now)
    fresh_text = document.serialized(document.document(rubric, evaluation))
    return (stored.result, stored.etag), (fresh_text, scorer.score(session, [project], now)[project.id].etag)


@pytest.mark.usefixtures("ready")
def test_a_version_changing_only_weights_reweighs_stored_results_as_a_fresh_evaluation_would(
    admin: TestClient, writer: TestClient, clock: Clock, monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    spec = _copy_of_the_default_rubric(admin, "reweighed")
    assert admin.patch(PROJECT, json={"rubric": "reweighed"}).status_code == 200
    attested = {
        "status": "met",
        "note": "Reviewed by the CISO",
        "evidence_url": "https://wiki.example.com/architecture",
        "expires_at": iso(datetime.now(UTC) + timedelta(days=20)),
    }
    assert writer.put(f"{PROJECT}/attestations/stakeholders.security_in_architecture", json=attested).status_code in (
        200,
        201,
    )
    before = writer.get(READINESS).json()
    loaded = _recording_loads(monkeypatch)
    assert admin.post("/api/v1/rubrics/reweighed/versions", json=_heavier_go_live(spec)).status_code == 201
    after = writer.get(READINESS).json()
    monkeypatch.undo()
    fresh = writer.post(f"{PROJECT}/evaluations:preview", json={}).json()
    stored, scored_afresh = db.work(_stored_and_fresh, write=False)("claims-triage")
    clock.advance(timedelta(days=25))
    expired = writer.get(READINESS).json()
    history = writer.get(HISTORY).json()["items"]
    clock.reset()

    assert "claims-triage" not in loaded
    assert (before["rubric_version"], after["rubric_version"]) == (1, 2)
    assert after["score"] != before["score"]
    assert _as_shown(after) == _as_shown(fresh)
    # The same bytes, and the same ETag, as the project evaluated afresh.
    assert stored == scored_afresh
    security = next(c for c in expired["criteria"] if c["key"] == "stakeholders.security_in_architecture")
    assert (security["status"], security["source"]) == ("not_met", "unanswered")
    assert history[0]["cause"] == [
        {"kind": "time", "name": "attestation of stakeholders.security_in_architecture expired"}
    ]
    assert history[1]["cause"] == [{"kind": "rubric", "name": "reweighed v2"}]


def test_a_project_whose_data_changed_too_is_scored_afresh_under_a_reweighed_version(
    settings: Settings, db: Database
) -> None:
    with without_rescorer(settings, db) as admin:
        spec = _copy_of_the_default_rubric(admin, "reweighed")
        make_project(admin, rubric="reweighed")
        admin.get(READINESS)
        admin.post("/api/v1/rubrics/reweighed/versions", json=_heavier_go_live(spec))
        for name in ("security.review_completed", "compliance.review_completed"):
            admin.put(f"{PROJECT}/facts/{name}", json={"value": True})

        after = admin.get(READINESS).json()
        fresh = admin.post(f"{PROJECT}/evaluations:preview", json={}).json()
        history = admin.get(HISTORY).json()["items"]

    security = next(c for c in after["criteria"] if c["key"] == "go_live.security_review")
    assert (security["status"], security["source"]) == ("met", "check")
    assert _as_shown(after) == _as_shown(fresh)
    assert {"kind": "fact", "name": "compliance.review_completed"} in history[0]["cause"]


def test_a_result_the_previous_release_wrote_last_is_scored_afresh_under_a_reweighed_version(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with without_rescorer(settings, db) as admin:
        spec = _copy_of_the_default_rubric(admin, "reweighed")
        make_project(admin, rubric="reweighed")
        admin.get(READINESS)
        # The previous release writes results with an ETag of its own, leaving the statuses and
        # summary this release keeps beside them as they were.
        db.work(lambda session: session.execute(update(ProjectReadiness).values(etag="0" * 40)), write=True)()
        admin.post("/api/v1/rubrics/reweighed/versions", json=_heavier_go_live(spec))
        loaded = _recording_loads(monkeypatch)
        after = admin.get(READINESS).json()
        monkeypatch.undo()
        fresh = admin.post(f"{PROJECT}/evaluations:preview", json={}).json()

    assert loaded == ["claims-triage"]
    assert _as_shown(after) == _as_shown(fresh)


def test_batches_running_at_once_take_different_projects(database_url_factory: DatabaseUrlFactory) -> None:
    engine = make_engine(database_url_factory("postgresql"), pool_size=3)
    upgrade(engine)
    database = Database(engine)
    settings = Settings(
        database_url=str(engine.url), bootstrap_admin_key=ADMIN_SECRET, rescorer=False, dispatcher=False
    )
    with TestClient(create_app(settings, database)) as admin:
        admin.headers["Authorization"] = f"Bearer {ADMIN_SECRET}"
        for i in range(10):
            make_project(admin, f"shared-{i}")
        with Session(engine) as first, Session(engine) as second, first.begin():
            taken_first = service.rescore_due(first, limit=5)
            with second.begin():
                taken_second = service.rescore_due(second, limit=5)
        left = admin.get("/api/v1/rubrics/ai-production-readiness/rescoring").json()
    engine.dispose()

    assert (taken_first, taken_second) == (5, 5)
    assert left["pending"] == 0


def test_the_history_pages_through_every_change_with_its_cursors(writer: TestClient) -> None:
    make_project(writer)
    for name in ("security.review_completed", "compliance.review_completed", "ops.monitoring_enabled"):
        assert writer.put(f"{PROJECT}/facts/{name}", json={"value": True}).status_code == 201
        writer.get(READINESS)
    expected = [entry["changed_at"] for entry in writer.get(HISTORY).json()["items"]]
    assert len(expected) >= 3

    seen, cursor = [], None
    while True:
        page = writer.get(HISTORY, params={"limit": 1, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        seen += [entry["changed_at"] for entry in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break

    assert seen == expected
