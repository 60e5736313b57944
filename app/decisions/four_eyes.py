"""Four eyes: whoever records a go must not be whoever supplied an input that a passing gate
criterion read, so that nobody both vouches for the evidence and signs off on it.

The inputs are the attestation that decided a criterion and the evidence it cites, the facts its
check read, and the KPIs it read: who created, replaced or patched them, and who posted their
measurements. "Whoever" is the
person: an API key that names a person counts with every other key of that person; a token's
identity is a person already.
"""

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.attestations.models import Attestation
from app.auth.service import identities_of
from app.core.errors import Conflict
from app.core.identity import Caller
from app.evidence import service as evidence
from app.facts.models import Fact
from app.kpis.models import Kpi, Measurement
from app.projects.models import Project
from app.readiness.document import CriterionDocument


def check(session: Session, project: Project, criteria: list[CriterionDocument], actor: Caller) -> None:
    """Refuse (409) a go by a person who supplied an input of a gate criterion it relies on."""
    met = [c for c in criteria if c["gate"] and c["status"] == "met"]
    attested = [c["key"] for c in met if c["source"] == "attestation"]
    checked = [c["observed"] for c in met if c["source"] == "check"]
    # A KPI check names the KPIs it read under `kpis`; a fact check names the facts it read.
    kpis_read = {key for observed in checked for key in observed.get("kpis", [])}
    facts_read = {name for observed in checked for name in observed if name != "kpis"}
    person = identities_of(session, actor)
    found = []
    own = _attested(session, project, attested, person)
    if own:
        found.append(f"attested the gate criteria {', '.join(own)}")
    uploaded = evidence.uploaded_by(session, _cited(session, project, attested), person)
    if uploaded:
        found.append(f"uploaded the evidence {', '.join(uploaded)} that gate attestations cite")
    posted = _facts(session, project, facts_read, person)
    if posted:
        found.append(f"posted the facts {', '.join(posted)} that gate checks read")
    shaped, measured = _kpis(session, project, kpis_read, person)
    if shaped:
        found.append(f"created or changed the KPIs {', '.join(shaped)} that gate checks read")
    if measured:
        found.append(f"posted measurements of the KPIs {', '.join(measured)} that gate checks read")
    if not found:
        return
    who = f"the person {actor.person}, through any of their keys," if actor.person else "the caller"
    raise Conflict(f"Four eyes: {who} {' and '.join(found)}, which this go relies on; another approver must record it.")


def _attested(session: Session, project: Project, criteria: list[str], person: frozenset[str]) -> list[str]:
    if not criteria:
        return []
    query = select(Attestation.criterion).where(
        Attestation.project_id == project.id,
        Attestation.criterion.in_(criteria),
        Attestation.attested_by_identity.in_(person),
    )
    return sorted(session.scalars(query))


def _cited(session: Session, project: Project, criteria: list[str]) -> set[uuid.UUID]:
    if not criteria:
        return set()
    query = select(Attestation.evidence_ids).where(
        Attestation.project_id == project.id, Attestation.criterion.in_(criteria)
    )
    return {uuid.UUID(evidence_id) for ids in session.scalars(query) for evidence_id in ids or ()}


def _facts(session: Session, project: Project, names: set[str], person: frozenset[str]) -> list[str]:
    if not names:
        return []
    query = select(Fact.name).where(
        Fact.project_id == project.id, Fact.name.in_(names), Fact.recorded_by_identity.in_(person)
    )
    return sorted(session.scalars(query))


def _kpis(session: Session, project: Project, keys: set[str], person: frozenset[str]) -> tuple[list[str], list[str]]:
    """The KPIs the person created, replaced or patched, and those they posted measurements of."""
    if not keys:
        return [], []
    kpis = session.execute(
        select(Kpi.id, Kpi.key, Kpi.written_by).where(Kpi.project_id == project.id, Kpi.key.in_(keys))
    ).all()
    shaped = sorted(kpi.key for kpi in kpis if person & set(kpi.written_by or ()))
    measured_ids = set(
        session.scalars(
            select(Measurement.kpi_id)
            .where(Measurement.kpi_id.in_([kpi.id for kpi in kpis]), Measurement.recorded_by_identity.in_(person))
            .distinct()
        )
    )
    return shaped, sorted(kpi.key for kpi in kpis if kpi.id in measured_ids)
