"""Risk classification after the EU AI Act: a project's `risk_tier` and its rationale, changed only
by an approver, recorded with who and when, and told as a `project.risk_classified` event."""

from sqlalchemy.orm import Session

from app.core import news
from app.core.db import utcnow
from app.core.errors import Forbidden, Unprocessable
from app.core.identity import Caller, Role
from app.core.schemas import validation_error_from
from app.engine.frameworks import RiskTier
from app.projects.models import Project
from app.projects.schemas import ProjectFields, RiskClassification, RiskClassified

CLASSIFIER = Role.approver


def sent(project: Project | None, data: ProjectFields, *, keep_unsent: bool) -> RiskClassification:
    """The tier and rationale a write asks for. A PUT (`keep_unsent`) that leaves one of them out
    keeps the stored one; otherwise (a create, a merge patch) what is absent is unclassified or none."""
    fields = data.model_fields_set
    current = current_of(project)
    tier = data.risk_tier if "risk_tier" in fields or not keep_unsent else current.risk_tier
    rationale = data.risk_rationale if "risk_rationale" in fields or not keep_unsent else current.risk_rationale
    return RiskClassification(risk_tier=tier or RiskTier.unclassified, risk_rationale=rationale or None)


def current_of(project: Project | None) -> RiskClassification:
    if project is None:
        return RiskClassification(risk_tier=RiskTier.unclassified, risk_rationale=None)
    return RiskClassification(risk_tier=RiskTier(project.risk_tier), risk_rationale=project.risk_rationale)


def check(wanted: RiskClassification, current: RiskClassification, actor: Caller) -> None:
    """Refuse a tier without a rationale (422), and a change by anyone but an approver (403)."""
    if wanted.risk_tier != RiskTier.unclassified and not wanted.risk_rationale:
        raise Unprocessable(
            f"A risk tier of {wanted.risk_tier.value} needs a rationale.",
            errors=[validation_error_from("body.risk_rationale", "required for a risk tier other than unclassified")],
        )
    if wanted != current and not actor.role.allows(CLASSIFIER):
        raise Forbidden(
            f"Classifying a project's risk needs the {CLASSIFIER.value} role; the caller has {actor.role.value}."
        )


def apply(session: Session, project: Project, wanted: RiskClassification, actor: Caller, *, created: bool) -> None:
    """Store the classification, if it changed, with who and when, and tell it once committed. A
    project created unclassified has not been classified by anyone."""
    current = current_of(project)
    if current == wanted:
        return
    before = None if created else current
    project.risk_tier = wanted.risk_tier.value
    project.risk_rationale = wanted.risk_rationale
    project.risk_classified_by = actor.name
    project.risk_classified_at = utcnow()
    told = RiskClassified(
        project=project.key,
        before=before,
        after=wanted,
        classified_by=actor.name,
        classified_at=project.risk_classified_at,
    )
    news.emit(
        session, "project.risk_classified", project.key, told, project_id=project.id, department=project.department
    )
