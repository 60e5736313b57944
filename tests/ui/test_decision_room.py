"""The decision room over HTTP: forms by role, post/redirect/get, the CSRF token and the page's
ETag, refusals shown on the page, and every action the same as through the API."""

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import issue_key
from tests.evaluations.test_api import GO_LIVE_FACTS, PROJECT
from tests.evidence import files
from tests.kpis.factories import cost_kpi, make_kpi
from tests.projects.factories import make_project
from tests.ui.test_pages import BROWSER_POST, sign_in

PAGE = "/ui/projects/claims-triage"


def form_values(text: str, action: str) -> dict[str, str]:
    """The hidden fields of the form posting to `action`: its CSRF token and the page's ETag."""
    form = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', text, re.S)
    assert form is not None, action
    fields = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form.group(0))
    return {name: html.unescape(value) for name, value in fields}


def post_form(browser: TestClient, action: str, fields: dict[str, Any], **kwargs: Any) -> Any:
    hidden = form_values(browser.get(PAGE).text, action)
    return browser.post(action, data={**hidden, **fields}, headers=BROWSER_POST, follow_redirects=False, **kwargs)


@pytest.fixture
def ready(writer: TestClient) -> None:
    """A pilot whose gate passes once the rollback is attested: every go-live fact posted by a writer."""
    make_project(writer)
    make_kpi(writer, "claims-triage", cost_kpi())
    writer.post(f"{PROJECT}/kpis/handling-cost/measurements", json={"value": 34})
    for stage in ("poc", "pilot"):
        writer.post(f"{PROJECT}/stage-transitions", json={"to": stage})
    for name, value in GO_LIVE_FACTS.items():
        writer.put(f"{PROJECT}/facts/{name}", json={"value": value})


@pytest.mark.usefixtures("ready")
def test_a_writer_asks_an_approver_attests_with_a_pdf_and_another_records_the_go(
    client: TestClient, admin: TestClient, writer: TestClient
) -> None:
    asker = sign_in(client, issue_key(admin, "writer"))
    attester = sign_in(client, issue_key(admin, "approver"))
    chair = sign_in(client, issue_key(admin, "approver"))

    asked = post_form(asker, f"{PAGE}/decision-requests", {"note": "Ready after the rollback drill"})
    report = files.pdf(3 * 1024 * 1024)
    attested = post_form(
        attester,
        f"{PAGE}/attestations",
        {"criterion": "go_live.rollback_tested", "status": "met", "note": "Drill on staging"},
        files={"file": ("rollback-drill.pdf", report, "application/pdf")},
    )
    queue = chair.get("/ui/decisions")
    decided = post_form(
        chair, f"{PAGE}/decisions", {"decision": "go", "rationale": "Gate passes", "on_behalf_of": "Steering committee"}
    )

    for answer, notice in ((asked, "requested"), (attested, "attested"), (decided, "decided")):
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == f"{PAGE}?notice={notice}#decision-room"
    assert "Ready after the rollback drill" in queue.text
    assert "Claims triage" in queue.text
    stored = writer.get(f"{PROJECT}/evidence").json()["items"]
    assert [item["name"] for item in stored] == ["rollback-drill.pdf"]
    attestation = writer.get(f"{PROJECT}/attestations/go_live.rollback_tested").json()
    assert attestation["evidence_ids"] == [stored[0]["id"]]
    decision = writer.get(f"{PROJECT}/decisions").json()["items"][0]
    assert decision["decision"] == "go"
    assert decision["on_behalf_of"] == "Steering committee"
    assert writer.get(f"{PROJECT}/decision-requests").json()["items"][0]["decision_id"] == decision["id"]
    assert writer.post(f"{PROJECT}/stage-transitions", json={"to": "production"}).status_code == 201
    assert chair.get(f"{PAGE}/evidence/{stored[0]['id']}").content == report
    actions = [e["action"] for e in admin.get("/api/v1/audit-events").json()["items"]]
    assert {
        "decision_request.create",
        "evidence.upload",
        "attestation.put",
        "evaluation.create",
        "decision.create",
    } <= set(actions)


@pytest.mark.usefixtures("ready")
def test_four_eyes_is_refused_on_the_page_with_the_reason_and_nothing_is_recorded(
    client: TestClient, admin: TestClient, writer: TestClient
) -> None:
    approver = sign_in(client, issue_key(admin, "approver"))
    post_form(
        approver,
        f"{PAGE}/attestations",
        {"criterion": "go_live.rollback_tested", "status": "met"},
        files={"file": ("drill.pdf", files.pdf(), "application/pdf")},
    )

    refused = post_form(approver, f"{PAGE}/decisions", {"decision": "go"})

    assert refused.status_code == 409
    assert "Four eyes" in refused.text
    assert "go_live.rollback_tested" in refused.text
    assert 'role="alert"' in refused.text
    assert writer.get(f"{PROJECT}/decisions").json()["items"] == []
    assert writer.get(f"{PROJECT}/evaluations").json()["items"] == []


def test_a_page_older_than_the_data_is_refused(client: TestClient, admin: TestClient, writer: TestClient) -> None:
    make_project(writer)
    browser = sign_in(client, issue_key(admin, "writer"))
    hidden = form_values(browser.get(PAGE).text, f"{PAGE}/decision-requests")
    writer.put(f"{PROJECT}/facts/security.review_completed", json={"value": True})

    stale = browser.post(f"{PAGE}/decision-requests", data={**hidden, "note": "x"}, headers=BROWSER_POST)

    assert stale.status_code == 409
    assert "changed since this page was shown" in stale.text
    assert writer.get(f"{PROJECT}/decision-requests").json()["items"] == []


def test_a_form_without_the_sessions_token_or_from_another_site_is_refused(
    client: TestClient, admin: TestClient, writer: TestClient
) -> None:
    make_project(writer)
    browser = sign_in(client, issue_key(admin, "writer"))
    hidden = form_values(browser.get(PAGE).text, f"{PAGE}/decision-requests")
    other = sign_in(client, issue_key(admin, "writer"))

    no_token = browser.post(f"{PAGE}/decision-requests", data={"etag": hidden["etag"]}, headers=BROWSER_POST)
    other_token = other.post(f"{PAGE}/decision-requests", data={**hidden}, headers=BROWSER_POST)
    cross_site = browser.post(
        f"{PAGE}/decision-requests",
        data=hidden,
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    )

    assert no_token.status_code == other_token.status_code == cross_site.status_code == 403
    assert writer.get(f"{PROJECT}/decision-requests").json()["items"] == []


def test_forms_follow_the_role(client: TestClient, admin: TestClient, writer: TestClient) -> None:
    make_project(writer)
    pages = {role: sign_in(client, issue_key(admin, role)).get(PAGE).text for role in ("reader", "writer", "approver")}

    assert "Request a decision" not in pages["reader"]
    assert "Attest" not in pages["reader"]
    assert "Request a decision" in pages["writer"]
    assert "Record the decision" not in pages["writer"]
    assert "(gate)" not in pages["writer"]
    assert "Record the decision" in pages["approver"]
    assert "(gate)" in pages["approver"]
    reader = sign_in(client, issue_key(admin, "reader"))
    refused = reader.post(
        f"{PAGE}/decision-requests",
        data=form_values(pages["writer"], f"{PAGE}/decision-requests"),
        headers=BROWSER_POST,
    )
    assert refused.status_code == 403


@pytest.mark.usefixtures("ready")
def test_an_html_file_named_pdf_is_refused_on_the_page(
    client: TestClient, admin: TestClient, writer: TestClient
) -> None:
    approver = sign_in(client, issue_key(admin, "approver"))

    refused = post_form(
        approver,
        f"{PAGE}/attestations",
        {"criterion": "go_live.rollback_tested", "status": "met"},
        files={"file": ("report.pdf", files.HTML, "application/pdf")},
    )

    assert refused.status_code == 415
    assert "HTML, SVG or XML" in refused.text
    assert writer.get(f"{PROJECT}/evidence").json()["items"] == []
    assert writer.get(f"{PROJECT}/attestations").json()["items"] == []


def test_the_queue_page_shows_only_the_callers_departments(
    client: TestClient, admin: TestClient, writer: TestClient
) -> None:
    make_project(writer, "claims-triage", department="claims")
    make_project(writer, "churn-model", name="Churn model", department="marketing")
    for key in ("claims-triage", "churn-model"):
        writer.post(f"/api/v1/projects/{key}/decision-requests", json={"note": f"decide {key}"})
    body = {"name": "claims-only", "role": "approver", "departments": ["claims"]}
    scoped = sign_in(client, admin.post("/api/v1/api-keys", json=body).json()["secret"])

    queue = scoped.get("/ui/decisions").text

    assert "decide claims-triage" in queue
    assert "decide churn-model" not in queue
