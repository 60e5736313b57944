"""Every router of the service, each mounted once."""

from fastapi import APIRouter

from app.attestations.router import router as attestations_router
from app.audit.router import router as audit_router
from app.auth.router import router as auth_router
from app.decisions.router import queue_router as decision_queue_router
from app.decisions.router import requests_router as decision_requests_router
from app.decisions.router import router as decisions_router
from app.events.router import router as events_router
from app.evidence.router import router as evidence_router
from app.facts.router import router as facts_router
from app.governance.router import crosswalk_router
from app.governance.router import router as governance_router
from app.health.router import router as health_router
from app.initiatives.router import router as initiatives_router
from app.kpis.router import router as kpis_router
from app.notifications.router import router as notifications_router
from app.platforms.router import router as platforms_router
from app.portfolio.router import router as portfolio_router
from app.projects.router import router as projects_router
from app.readiness.router import evaluations_router, rescoring_router
from app.readiness.router import router as readiness_router
from app.reports.router import router as reports_router
from app.rubrics.router import router as rubrics_router

ROUTERS: list[APIRouter] = [
    health_router,
    projects_router,
    platforms_router,
    facts_router,
    kpis_router,
    rubrics_router,
    crosswalk_router,
    rescoring_router,
    readiness_router,
    evaluations_router,
    evidence_router,
    attestations_router,
    decisions_router,
    decision_requests_router,
    decision_queue_router,
    portfolio_router,
    governance_router,
    initiatives_router,
    events_router,
    notifications_router,
    reports_router,
    auth_router,
    audit_router,
]
