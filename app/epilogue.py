"""What every write ends with: the steps the domains add to the write epilogue, and the ORM
classes whose writes are collected even if a service forgot to say so. Measurements carry no
project of their own and are written by Core statements: the KPI service says what it wrote."""

from app.attestations.models import Attestation, Exemption
from app.audit import service as audit
from app.core import changes
from app.core.changes import Cause, Change
from app.decisions import reminders
from app.events import outbox
from app.facts.models import Fact
from app.kpis.models import Kpi
from app.portfolio import status, watch
from app.projects.models import Project, StageTransition
from app.readiness import changed, marks


def install() -> None:
    outbox.install()
    watch.install()
    reminders.install()
    changes.on_commit(order=10)(status.keep_current)
    changes.on_commit(order=20)(marks.keep_current)
    changed.on_scores_stored(status.store_scores)
    changes.on_commit(order=30)(audit.record_changes)
    changes.track(Project, lambda p: Change(Cause("project", p.key), frozenset({p.id})))
    changes.track(StageTransition, lambda t: Change(Cause("stage", t.to_stage), frozenset({t.project_id})))
    changes.track(Fact, lambda f: Change(Cause("fact", f.name), frozenset({f.project_id}), status="none"))
    changes.track(Kpi, lambda k: Change(Cause("kpi", k.key), frozenset({k.project_id})))
    changes.track(
        Attestation, lambda a: Change(Cause("attestation", a.criterion), frozenset({a.project_id}), status="none")
    )
    changes.track(
        Exemption, lambda e: Change(Cause("exemption", e.criterion), frozenset({e.project_id}), status="none")
    )
