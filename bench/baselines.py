"""The ceilings a scenario is measured against, served by the same uvicorn on the same host.

`starlette`: a bare JSON endpoint. `fastapi`: a constant project-shaped object (owners, deployment,
costs, four stakeholders) through a pydantic response model of the same shape, with no database and
no auth: what the service would cost if the database and the key check were free.
"""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.engine.frameworks import RiskTier
from app.engine.stages import Stage
from app.platforms.schemas import Deployment, DeploymentTarget, Person
from app.projects.schemas import Costs, ProjectRead, Stakeholder, StakeholderRole

NOW = datetime(2026, 11, 1, tzinfo=UTC)
PROJECT = ProjectRead(
    id=uuid.uuid4(),
    key="claims-triage",
    name="Claims triage",
    description="Route incoming motor claims to the right handler",
    workflow="Motor claims intake",
    department="claims",
    region="emea",
    tags=["claims", "genai"],
    stage=Stage.pilot,
    business_owner=Person(name="Ana Souza", email="ana@example.com"),
    technical_owner=Person(name="Bo Lee", email="bo@example.com"),
    vendor_led=False,
    stakeholders=[
        Stakeholder(role=StakeholderRole.business, name="Ana Souza", email="ana@example.com"),
        Stakeholder(role=StakeholderRole.engineering, name="Bo Lee", email="bo@example.com"),
        Stakeholder(role=StakeholderRole.security, name="Cy Park", email="cy@example.com"),
        Stakeholder(role=StakeholderRole.legal, name="Di Rossi", email="di@example.com"),
    ],
    deployment=Deployment(target=DeploymentTarget.vpc, same_runtime_as_production=True, sovereign=False),
    sync_cadence_days=7,
    decision_date=date(2027, 3, 31),
    costs=Costs(build_cost=Decimal("120000"), run_cost_per_month=Decimal("4000"), currency="EUR"),
    rubric="ai-production-readiness",
    platform="claims-vpc",
    domain="claims",
    replica_of=None,
    adjacent_to=None,
    risk_tier=RiskTier.limited,
    risk_rationale="Interacts with claimants: transparency obligations.",
    risk_classified_by="steering",
    risk_classified_at=NOW,
    created_at=NOW,
    updated_at=NOW,
    stage_entered_at=NOW,
)
PROJECT_JSON = PROJECT.model_dump(mode="json")


async def _bare(_request: Request) -> JSONResponse:
    return JSONResponse(PROJECT_JSON)


starlette_app = Starlette(routes=[Route("/api/v1/projects/{key}", _bare)])

fastapi_app = FastAPI()


@fastapi_app.get("/api/v1/projects/{key}", response_model=ProjectRead)
async def get_project(key: str) -> ProjectRead:
    return PROJECT
