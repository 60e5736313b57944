"""The steering report over the demo's story, ending on 2026-04-30 so that the first quarter of 2026
lies inside it: its figures against a computation here from what the API shows of each project,
its PDF read back, its printable page, and its scope."""

import io
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from app.core.db import make_engine
from app.core.migrations import upgrade
from app.core.settings import Settings
from app.demo import Outcome, build
from app.main import create_app
from tests.conftest import DatabaseUrlFactory
from tests.ui.test_pages import sign_in

STORY_ENDS = date(2026, 4, 30)
FIRST, LAST = "2026-01-01", "2026-03-31"
START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
REPORT = "/api/v1/reports/steering"


@pytest.fixture(scope="module")
def story_settings(backend: str, database_url_factory: DatabaseUrlFactory) -> Settings:
    url = database_url_factory(backend)
    engine = make_engine(url, pool_size=1)
    upgrade(engine)
    engine.dispose()
    return Settings(database_url=url, rescorer=False, dispatcher=False, rate_limit=0, auth_failure_limit=0)


@pytest.fixture(scope="module")
def outcome(story_settings: Settings) -> Outcome:
    return build(story_settings, last_day=STORY_ENDS)


@pytest.fixture(scope="module")
def api(story_settings: Settings, outcome: Outcome) -> Iterator[TestClient]:
    with TestClient(create_app(story_settings)) as client:
        client.headers["Authorization"] = f"Bearer {outcome.admin_secret}"
        yield client


def _get(api: TestClient, path: str, **params: Any) -> Any:
    response = api.get(f"/api/v1{path}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _stage_at(project: dict[str, Any], moves: list[dict[str, Any]], moment: datetime) -> str | None:
    if _at(project["created_at"]) >= moment:
        return None
    stage = moves[0]["from"] if moves else project["stage"]
    for move in moves:
        if _at(move["transitioned_at"]) <= moment:
            stage = move["to"]
    return str(stage)


def _expected(api: TestClient) -> dict[str, Any]:
    """The report's figures, worked out from each project's own pages."""
    projects = _get(api, "/projects", limit=500)["items"]
    at_end: Counter[str] = Counter()
    entered: Counter[str] = Counter()
    decisions: list[tuple[str, ...]] = []
    up: set[str] = set()
    down: set[str] = set()
    blockers: Counter[str] = Counter()
    for project in projects:
        key = project["key"]
        moves = sorted(
            _get(api, f"/projects/{key}/stage-transitions", limit=500)["items"], key=lambda m: m["transitioned_at"]
        )
        stage = _stage_at(project, moves, END)
        if stage is None:
            continue
        at_end[stage] += 1
        entered.update(m["to"] for m in moves if START <= _at(m["transitioned_at"]) < END)
        for decision in _get(api, f"/projects/{key}/decisions", limit=500)["items"]:
            if START <= _at(decision["decided_at"]) < END:
                who = (decision["decided_by"], decision["rationale"])
                decisions.append((decision["decided_at"], key, decision["decision"], *who))
        history = sorted(
            _get(api, f"/projects/{key}/readiness/history", limit=500)["items"], key=lambda h: h["changed_at"]
        )
        before = [h for h in history if _at(h["changed_at"]) < START]
        after = [h for h in history if _at(h["changed_at"]) < END]
        if before and after[-1]["score"] != before[-1]["score"]:
            (up if after[-1]["score"] > before[-1]["score"] else down).add(key)
        if after and stage != "retired":
            blockers.update({b["criterion"] for b in after[-1]["blockers"]})
    return {
        "at_end": at_end,
        "entered": entered,
        "decisions": sorted(decisions),
        "up": up,
        "down": down,
        "blockers": blockers,
    }


def test_the_first_quarter_matches_what_each_projects_history_shows(api: TestClient) -> None:
    report = _get(api, "/reports/steering", **{"from": FIRST, "to": LAST})
    expected = _expected(api)

    assert report["period"]["from"] == FIRST
    assert report["period"]["to"] == LAST
    assert _at(report["period"]["as_of"]) == END
    stages = {row["stage"]: row for row in report["funnel"]["stages"]}
    assert {stage: row["at_end"] for stage, row in stages.items() if row["at_end"]} == dict(expected["at_end"])
    assert {stage: row["entered"] for stage, row in stages.items() if row["entered"]} == dict(expected["entered"])
    assert report["funnel"]["entered_production"] == expected["entered"]["production"]
    taken = sorted(
        (d["decided_at"], d["project"], d["decision"], d["decided_by"], d["rationale"]) for d in report["decisions"]
    )
    assert taken == expected["decisions"]
    assert {m["project"] for m in report["readiness_up"]} == expected["up"]
    assert {m["project"] for m in report["readiness_down"]} == expected["down"]
    ranked = sorted(expected["blockers"].items(), key=lambda item: (-item[1], item[0]))[:10]
    assert [(b["criterion"], b["projects"]) for b in report["top_blockers"]] == ranked
    # The story has something in each section, so the comparisons above compare something.
    assert taken
    assert expected["entered"]["production"] >= 1
    assert report["readiness_up"]
    assert report["benefit"]
    assert report["stalled"]
    assert report["approximations"]


def test_the_pdf_opens_and_has_the_period_and_the_decisions_in_its_text(api: TestClient) -> None:
    report = _get(api, "/reports/steering", **{"from": FIRST, "to": LAST})
    response = api.get(REPORT, params={"from": FIRST, "to": LAST}, headers={"Accept": "application/pdf"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == f'inline; filename="steering-report-{FIRST}-{LAST}.pdf"'
    pdf = PdfReader(io.BytesIO(response.content))
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in pdf.pages)
    assert f"Steering report, {FIRST} to {LAST}" in text
    # A narrow column breaks a long name after one of its hyphens.
    unbroken = text.replace("- ", "-")
    for decision in report["decisions"]:
        assert decision["name"] in text
        assert decision["decided_by"] in unbroken
    assert "Decisions taken" in text
    assert "Top blockers" in text


def test_the_printable_page_links_to_its_pdf(api: TestClient, outcome: Outcome) -> None:
    browser = sign_in(api, outcome.admin_secret)
    page = browser.get("/ui/reports/steering", params={"from": FIRST, "to": LAST})
    pdf = browser.get("/ui/reports/steering.pdf", params={"from": FIRST, "to": LAST})
    stylesheet = browser.get("/ui/reports/steering.css")

    assert page.status_code == 200
    assert "Content-Security-Policy" in page.headers
    assert f'href="/ui/reports/steering.pdf?from={FIRST}&amp;to={LAST}"' in page.text
    assert '<link rel="stylesheet" href="/ui/reports/steering.css">' in page.text
    assert "style=" not in page.text
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")
    assert stylesheet.status_code == 200
    assert browser.get("/ui/reports/steering", params={"from": LAST, "to": FIRST}).status_code == 422
    assert TestClient(api.app).get("/ui/reports/steering", follow_redirects=False).status_code == 303


def test_a_scoped_reader_sees_only_its_departments(api: TestClient) -> None:
    everyone = _get(api, "/reports/steering", **{"from": FIRST, "to": LAST})
    key = api.post("/api/v1/api-keys", json={"name": "claims-reader", "role": "reader", "departments": ["claims"]})
    scoped = TestClient(api.app)
    scoped.headers["Authorization"] = f"Bearer {key.json()['secret']}"
    claims = _get(scoped, "/reports/steering", **{"from": FIRST, "to": LAST})
    departments = {p["key"]: p["department"] for p in _get(api, "/projects", limit=500)["items"]}

    assert 0 < claims["projects"] < everyone["projects"]
    assert {d["project"] for d in claims["decisions"]} <= {k for k, d in departments.items() if d == "claims"}
    assert all(departments[s["project"]] == "claims" for s in claims["stalled"])


def test_bad_periods_are_refused(api: TestClient) -> None:
    for params in ({"from": LAST, "to": FIRST}, {"from": "2020-01-01", "to": "2026-01-01"}, {"from": "31/01/2026"}):
        assert api.get(REPORT, params=params).status_code == 422
    assert api.get(REPORT, params={"since": FIRST}).status_code == 422
