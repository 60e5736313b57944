"""Evidence held by the service: uploaded, judged by content, addressed by its SHA-256, given back
safely, cited by attestations and decisions, and kept while cited."""

import hashlib
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.db import Database
from app.core.settings import Settings
from app.main import create_app
from tests.conftest import ADMIN_SECRET
from tests.evidence import files
from tests.projects.factories import make_project
from tests.projects.test_api import assert_problem

PROJECT = "/api/v1/projects/claims-triage"
EVIDENCE = f"{PROJECT}/evidence"
ROLLBACK = "go_live.rollback_tested"


def upload(
    client: TestClient, content: bytes, name: str = "rollback-drill.pdf", media_type: str = "application/pdf"
) -> Any:
    return client.post(EVIDENCE, files={"file": (name, content, media_type)})


@pytest.fixture(autouse=True)
def _project(writer: TestClient) -> None:
    make_project(writer)


def test_a_pdf_is_stored_by_its_hash_and_the_same_bytes_again_are_the_same_evidence(writer: TestClient) -> None:
    report = files.pdf(3 * 1024 * 1024)

    first = upload(writer, report)
    again = upload(writer, report, name="copy.pdf")

    assert first.status_code == 201, first.text
    stored = first.json()
    assert stored["sha256"] == hashlib.sha256(report).hexdigest()
    assert stored["media_type"] == "application/pdf"
    assert stored["size"] == len(report)
    assert stored["name"] == "rollback-drill.pdf"
    assert stored["uploaded_by"].startswith("writer-")
    assert first.headers["location"] == f"{EVIDENCE}/{stored['id']}"
    assert again.status_code == 200
    assert again.json()["id"] == stored["id"]
    assert [item["id"] for item in writer.get(EVIDENCE).json()["items"]] == [stored["id"]]


def test_the_bytes_come_back_as_an_attachment_that_runs_nothing(reader: TestClient, writer: TestClient) -> None:
    report = files.pdf(50_000)
    stored = upload(writer, report, name="drill räport (final).pdf").json()

    content = reader.get(f"{EVIDENCE}/{stored['id']}/content")
    metadata = reader.get(f"{EVIDENCE}/{stored['id']}")

    assert content.status_code == 200
    assert content.content == report
    assert content.headers["content-type"] == "application/pdf"
    assert content.headers["content-disposition"].startswith("attachment;")
    assert 'filename="drill r_port (final).pdf"' in content.headers["content-disposition"]
    assert "filename*=UTF-8''drill%20r%C3%A4port%20%28final%29.pdf" in content.headers["content-disposition"]
    assert content.headers["content-security-policy"] == "sandbox"
    assert content.headers["x-content-type-options"] == "nosniff"
    assert metadata.json() == stored


@pytest.mark.parametrize(
    ("content", "name", "declared", "expected"),
    [
        (
            files.docx(),
            "plan.docx",
            "application/octet-stream",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (files.CSV, "statuses.csv", "text/csv", "text/csv"),
        (b"Rollback tested on staging, 40 s.\n", "notes.txt", "text/plain", "text/plain"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "chart.png", "image/png", "image/png"),
    ],
)
def test_the_media_type_comes_from_the_content(
    writer: TestClient, content: bytes, name: str, declared: str, expected: str
) -> None:
    response = upload(writer, content, name=name, media_type=declared)

    assert response.status_code == 201, response.text
    assert response.json()["media_type"] == expected


def test_each_stored_type_comes_back_as_the_contract_documents_it(writer: TestClient) -> None:
    paths = writer.get("/openapi.json").json()["paths"]
    types = paths["/api/v1/projects/{key}/evidence/{evidence_id}/content"]["get"]["responses"]["200"]["content"]
    for content, name, declared in (
        (files.pdf(1024), "a.pdf", "application/pdf"),
        (b"Rollback drill: 40 s.\n", "a.txt", "text/plain"),
        (files.CSV, "a.csv", "text/csv"),
    ):
        stored = upload(writer, content, name=name, media_type=declared)
        assert stored.status_code == 201, stored.text
        sent = writer.get(f"{EVIDENCE}/{stored.json()['id']}/content")
        assert sent.headers["content-type"].split(";")[0] in types


@pytest.mark.parametrize(
    "content", [files.HTML, files.SVG, files.XML, b"\x00\x01binary", b"PK\x03\x04not really a zip"]
)
def test_markup_and_unknown_binaries_are_415_whatever_their_name(writer: TestClient, content: bytes) -> None:
    response = upload(writer, content, name="report.pdf", media_type="application/pdf")

    assert_problem(response, 415)
    assert writer.get(EVIDENCE).json()["items"] == []


def test_an_empty_file_is_422_as_input_no_type_would_accept(writer: TestClient) -> None:
    problem = assert_problem(upload(writer, b"", name="report.pdf", media_type="application/pdf"), 422)

    assert problem["errors"] == [{"field": "body.file", "message": "empty"}]
    assert writer.get(EVIDENCE).json()["items"] == []


def test_a_file_over_the_limit_is_413_and_a_body_that_is_no_upload_is_422(writer: TestClient) -> None:
    too_large = upload(writer, files.pdf(11 * 1024 * 1024))
    as_json = writer.post(EVIDENCE, json={"file": "x"})

    assert_problem(too_large, 413)
    assert_problem(as_json, 422)


def test_the_upload_limit_is_on_the_file_and_configurable(settings: Settings, db: Database) -> None:
    small = settings.model_copy(update={"evidence_max_bytes": 64 * 1024})
    with TestClient(create_app(small, db), headers={"Authorization": f"Bearer {ADMIN_SECRET}"}) as admin:
        make_project(admin, "other-project")
        path = "/api/v1/projects/other-project/evidence"
        fits = admin.post(path, files={"file": ("a.pdf", files.pdf(60 * 1024), "application/pdf")})
        over = admin.post(path, files={"file": ("b.pdf", files.pdf(70 * 1024), "application/pdf")})

    assert fits.status_code == 201, fits.text
    assert_problem(over, 413)


def test_a_reader_cannot_upload_and_an_anonymous_upload_is_refused_unread(
    reader: TestClient, client: TestClient
) -> None:
    assert_problem(upload(reader, files.pdf()), 403)
    assert_problem(upload(client, files.pdf()), 401)


def _evidence_rubric(admin: TestClient) -> None:
    read_only = ("key", "version", "published_at", "published_by")
    rubric = {
        k: v for k, v in admin.get("/api/v1/rubrics/ai-production-readiness").json().items() if k not in read_only
    }
    for criterion in rubric["criteria"]:
        criterion["evidence_required"] = criterion["gate"]
    published = admin.post("/api/v1/rubrics/ai-production-readiness/versions", json=rubric)
    assert published.status_code == 201, published.text


def test_a_met_attestation_of_a_criterion_that_requires_evidence_must_cite_some(
    admin: TestClient, approver: TestClient
) -> None:
    _evidence_rubric(admin)
    path = f"{PROJECT}/attestations/{ROLLBACK}"

    without = approver.put(path, json={"status": "met"})
    not_met = approver.put(path, json={"status": "not_met"})
    stored = upload(approver, files.pdf()).json()
    cited = approver.put(path, json={"status": "met", "evidence_ids": [stored["id"]]})

    problem = assert_problem(without, 422)
    assert ROLLBACK in problem["detail"]
    assert problem["errors"][0]["field"] == "body.evidence_ids"
    assert not_met.status_code == 200 or not_met.status_code == 201
    assert cited.status_code == 200, cited.text
    assert cited.json()["evidence_ids"] == [stored["id"]]
    readiness = approver.get(f"{PROJECT}/readiness").json()
    rollback = next(c for c in readiness["criteria"] if c["key"] == ROLLBACK)
    assert rollback["attestation"]["evidence_ids"] == [stored["id"]]


def test_cited_evidence_cannot_be_deleted_until_nothing_cites_it(admin: TestClient, approver: TestClient) -> None:
    stored = upload(approver, files.pdf()).json()
    path = f"{PROJECT}/attestations/{ROLLBACK}"
    assert approver.put(path, json={"status": "met", "evidence_ids": [stored["id"]]}).status_code == 201

    while_cited = admin.delete(f"{EVIDENCE}/{stored['id']}")
    assert approver.delete(path).status_code == 204
    once_free = admin.delete(f"{EVIDENCE}/{stored['id']}")

    assert "attestation" in assert_problem(while_cited, 409)["detail"]
    assert once_free.status_code == 204
    assert_problem(admin.get(f"{EVIDENCE}/{stored['id']}"), 404)
    audit = admin.get("/api/v1/audit-events", params={"action": "evidence.delete"}).json()["items"]
    assert audit[0]["before"]["sha256"] == stored["sha256"]


def test_only_an_admin_deletes_evidence(writer: TestClient) -> None:
    stored = upload(writer, files.pdf()).json()

    assert_problem(writer.delete(f"{EVIDENCE}/{stored['id']}"), 403)


def test_citing_evidence_of_another_project_or_none_at_all_is_422(writer: TestClient, approver: TestClient) -> None:
    make_project(writer, "other-project")
    elsewhere = writer.post(
        "/api/v1/projects/other-project/evidence", files={"file": ("x.pdf", files.pdf(), "application/pdf")}
    ).json()

    response = approver.put(
        f"{PROJECT}/attestations/{ROLLBACK}",
        json={"status": "met", "evidence_ids": [elsewhere["id"], "00000000-0000-0000-0000-000000000000"]},
    )

    problem = assert_problem(response, 422)
    assert [error["field"] for error in problem["errors"]] == ["body.evidence_ids.0", "body.evidence_ids.1"]
