"""Every ORM model in one place, so that the metadata Alembic compares against is complete."""

from app.audit.models import AuditEvent
from app.auth.models import ApiKey
from app.facts.models import Fact
from app.kpis.models import Kpi, Measurement
from app.projects.models import Project, StageTransition

__all__ = ["ApiKey", "AuditEvent", "Fact", "Kpi", "Measurement", "Project", "StageTransition"]
