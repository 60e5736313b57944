"""The hot reads answered on the lean path: the same contract, guard and problems as every operation."""

import json

import pytest
from fastapi import APIRouter, Body
from fastapi.testclient import TestClient
from pydantic import BaseModel

from app.auth.dependencies import ReaderAccess
from app.auth.lean import LeanRoute, lean
from app.core.db import Database
from app.core.pagination import Page
from app.portfolio.schemas import PortfolioRow
from app.projects.schemas import ProjectRead
from app.readiness.schemas import ReadinessRead
from tests.auth.test_scopes import scoped
from tests.conftest import settled
from tests.kpis.factories import cost_kpi, make_kpi
from tests.projects.factories import make_project
from tests.projects.test_api import assert_problem

PROJECT = "/api/v1/projects/claims-triage"
LEAN_READS: list[tuple[str, type[BaseModel]]] = [
    (PROJECT, ProjectRead),
    (f"{PROJECT}/readiness", ReadinessRead),
    ("/api/v1/portfolio/readiness?department=claims&sort=-score&limit=5", Page[PortfolioRow]),
]


@pytest.fixture
def portfolio(writer: TestClient, db: Database) -> None:
    make_project(writer, "claims-triage", department="claims")
    make_project(writer, "campaign-copy", department="marketing", name="Campaign copy")
    make_kpi(writer, "claims-triage", cost_kpi())
    response = writer.post(f"{PROJECT}/kpis/handling-cost/measurements", json={"value": 31})
    assert response.status_code == 201, response.text
    # An attestation puts timestamps and evidence into the stored result the readiness read sends.
    attested = {"status": "met", "note": "Reviewed", "expires_at": "2099-01-01T00:00:00Z"}
    response = writer.put(f"{PROJECT}/attestations/stakeholders.security_in_architecture", json=attested)
    assert response.status_code in (200, 201), response.text
    # Two reads compared: the re-scorer's commits must not fall between them.
    assert settled(db)


@pytest.mark.usefixtures("portfolio")
@pytest.mark.parametrize(("path", "model"), LEAN_READS)
def test_each_answer_is_exactly_what_its_response_model_would_send(
    reader: TestClient, path: str, model: type[BaseModel]
) -> None:
    response = reader.get(path, headers={"X-Request-ID": "lean-1"})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert json.loads(response.content) == model.model_validate_json(response.content).model_dump(mode="json")
    assert response.headers["x-request-id"] == "lean-1"
    assert response.headers["x-content-type-options"] == "nosniff"
    not_modified = reader.get(path, headers={"If-None-Match": response.headers["etag"]})
    assert not_modified.status_code == 304
    assert not_modified.headers["etag"] == response.headers["etag"]


@pytest.mark.usefixtures("portfolio")
@pytest.mark.parametrize("path", [path for path, _ in LEAN_READS])
def test_the_guard_holds_on_every_lean_read(client: TestClient, admin: TestClient, path: str) -> None:
    problem = assert_problem(client.get(path), 401)
    assert "credential" in problem["detail"]
    unknown = assert_problem(admin.get(path, params={"ownr": "x"}), 422)
    assert unknown["errors"] == [{"field": "query.ownr", "message": "not a parameter of this operation"}]

    marketing = scoped(client, admin, "reader", ["marketing"])
    if path.startswith(PROJECT):
        assert_problem(marketing.get(path), 404)
    else:
        assert marketing.get(path).json()["items"] == []


@pytest.mark.usefixtures("portfolio")
def test_parameters_are_validated_as_fastapi_validates_them(admin: TestClient) -> None:
    too_long = assert_problem(admin.get(f"/api/v1/projects/{'k' * 64}"), 422)
    assert [error["field"] for error in too_long["errors"]] == ["path.key"]
    page = assert_problem(admin.get("/api/v1/portfolio/readiness", params={"limit": 0, "stage": "dreaming"}), 422)
    assert sorted(error["field"] for error in page["errors"]) == ["query.limit", "query.stage"]
    assert_problem(admin.get("/api/v1/projects/nowhere"), 404)
    assert_problem(admin.get("/api/v1/projects/nowhere/readiness"), 404)


@pytest.mark.usefixtures("portfolio")
def test_the_portfolio_still_streams_csv_on_request(reader: TestClient) -> None:
    response = reader.get("/api/v1/portfolio/readiness", headers={"Accept": "text/csv"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert len(response.text.strip().splitlines()) == 3


def test_an_operation_that_needs_more_than_its_guard_and_parameters_cannot_be_lean() -> None:
    router = APIRouter()

    @router.get("/with-body")
    @lean
    async def with_body(access: ReaderAccess, body: dict[str, str] = Body()) -> None:
        """A GET that reads a body."""

    @router.get("/unguarded")
    @lean
    async def unguarded(key: str) -> None:
        """No access guard."""

    for route in router.routes:
        with pytest.raises(TypeError):
            LeanRoute.of(route)  # type: ignore[arg-type]
