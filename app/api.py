"""Every domain router, mounted once under /api/v1."""

from fastapi import APIRouter

from app.audit.router import router as audit_router
from app.auth.router import router as auth_router
from app.facts.router import router as facts_router
from app.projects.router import router as projects_router

API_PREFIX = "/api/v1"

api_router = APIRouter(prefix=API_PREFIX)
api_router.include_router(projects_router)
api_router.include_router(facts_router)
api_router.include_router(auth_router)
api_router.include_router(audit_router)
