"""Every ORM model in one place, so that the metadata Alembic compares against is complete."""

from app.attestations.models import Attestation, Exemption
from app.audit.models import AuditEvent
from app.auth.idempotency import IdempotencyRecord
from app.auth.models import ApiKey
from app.decisions.models import Decision, DecisionReminder, DecisionRequest
from app.events.models import Attempt, Delivery, Event, EventFeed, Webhook
from app.evidence.models import Citation, Evidence
from app.facts.models import Fact
from app.initiatives.models import Initiative, InitiativeWeek
from app.kpis.models import Kpi, Measurement
from app.notifications.models import Channel, ChannelAttempt, ChannelDelivery
from app.platforms.models import Platform
from app.portfolio.models import ProjectStatus
from app.projects.models import Project, StageTransition
from app.readiness.models import Evaluation, ProjectReadiness, ReadinessHistory, ReadinessMark
from app.rubrics.models import Rubric, RubricVersion
from app.ui.models import UiPendingSignIn, UiSession

__all__ = [
    "ApiKey",
    "Attempt",
    "Attestation",
    "AuditEvent",
    "Channel",
    "ChannelAttempt",
    "ChannelDelivery",
    "Citation",
    "Decision",
    "DecisionReminder",
    "DecisionRequest",
    "Delivery",
    "Evaluation",
    "Event",
    "EventFeed",
    "Evidence",
    "Exemption",
    "Fact",
    "IdempotencyRecord",
    "Initiative",
    "InitiativeWeek",
    "Kpi",
    "Measurement",
    "Platform",
    "Project",
    "ProjectReadiness",
    "ProjectStatus",
    "ReadinessHistory",
    "ReadinessMark",
    "Rubric",
    "RubricVersion",
    "StageTransition",
    "UiPendingSignIn",
    "UiSession",
    "Webhook",
]
