"""Go/no-go decisions: the steering committee's call on an evaluation, with the four-eyes rule."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core import changes
from app.core.changes import AuditEntry, Cause
from app.core.db import utcnow
from app.core.errors import Conflict, FieldError, Forbidden, Unprocessable
from app.core.identity import Caller, Role
from app.core.pagination import keyset_page
from app.decisions import four_eyes, requests
from app.decisions.models import Decision
from app.decisions.schemas import DecisionCreate
from app.engine.stages import IN_PRODUCTION
from app.evidence import service as evidence
from app.projects.models import Project, StageTransition
from app.projects.service import get_project
from app.readiness import reads as readiness
from app.readiness.models import Evaluation


def _latest_governing(session: Session, project: Project) -> Evaluation | None:
    return session.scalar(
        select(Evaluation)
        .where(Evaluation.project_id == project.id, Evaluation.rubric_key == project.rubric)
        .order_by(Evaluation.evaluated_at.desc(), Evaluation.id.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class GateAtDecision:
    passed: bool
    blockers: list[str]


def record_decision(session: Session, *, key: str, data: DecisionCreate, actor: Caller) -> Decision:
    """A `go` must reference the latest evaluation against the governing rubric (any version), and
    the project's current gate must pass at the moment of the decision, unless an admin overrides
    it with a reason."""
    # One function, read top to bottom: the refusals come in the order the API documents them, and
    # the decision is recorded only after every one of them.
    project = get_project(session, key=key, for_update=True)
    evaluation = session.get(Evaluation, data.evaluation_id)
    if evaluation is None or evaluation.project_id != project.id:
        raise Unprocessable(
            f"Evaluation {data.evaluation_id} is not an evaluation of project {key!r}.",
            errors=[FieldError(field="body.evaluation_id", message="not an evaluation of this project")],
        )
    cited = list(dict.fromkeys(data.evidence_ids))
    evidence.check_cited(session, project, cited, "body.evidence_ids")
    gate = None
    if data.decision == "go":
        latest = _latest_governing(session, project)
        if latest is None or latest.id != evaluation.id:
            current = f" ({latest.id})" if latest else ""
            raise Conflict(
                f"A go must reference the latest evaluation against the governing rubric {project.rubric!r}"
                f"{current}; evaluate again or reference that one."
            )
        result = readiness.current(session, key=key).result
        gate = GateAtDecision(
            result["gate"]["passed"], [blocker["criterion"] for blocker in result["gate"]["blockers"]]
        )
        four_eyes.check(session, project, result["criteria"], actor)
    if data.override_reason is not None and (gate is None or gate.passed):
        raise Unprocessable(
            "override_reason only applies to a go while the go-live gate does not pass.",
            errors=[FieldError(field="body.override_reason", message="nothing to override")],
        )
    if gate is not None and not gate.passed:
        if data.override_reason is None:
            raise Conflict(f"The go-live gate does not pass now; blockers: {', '.join(gate.blockers)}.")
        if not actor.role.allows(Role.admin):
            raise Forbidden("Only an admin may override a failed go-live gate.")
    decision = Decision(
        project_id=project.id,
        evaluation_id=evaluation.id,
        decision=data.decision,
        decided_by=actor.name,
        decided_by_identity=actor.identity,
        on_behalf_of=data.on_behalf_of,
        rationale=data.rationale,
        override_reason=data.override_reason,
        recorded_by=actor.name,
        decided_at=utcnow(),
        evidence_ids=[str(evidence_id) for evidence_id in cited],
    )
    session.add(decision)
    session.flush()
    evidence.cite(session, project, cited_by="decision", cited_by_id=decision.id, evidence_ids=cited)
    answered = requests.close(session, project_id=project.id, decision_id=decision.id, at=decision.decided_at)
    changes.record(
        session,
        Cause("decision", data.decision),
        audit=AuditEntry(
            actor,
            "decision.create",
            "project",
            key,
            after={
                "id": str(decision.id),
                "decision": data.decision,
                "on_behalf_of": data.on_behalf_of,
                "evaluation_id": str(evaluation.id),
                "override_reason": data.override_reason,
                "gate_blockers": gate.blockers if gate else None,
                "evidence_ids": decision.evidence_ids,
                "request_id": str(answered) if answered else None,
            },
        ),
    )
    return decision


def list_decisions(session: Session, *, key: str, limit: int, cursor: str | None) -> tuple[list[Decision], str | None]:
    """Newest first."""
    project = get_project(session, key=key)
    query = select(Decision).where(Decision.project_id == project.id)
    return keyset_page(session, query, [Decision.decided_at, Decision.id], limit=limit, cursor=cursor, descending=True)


def check_production_entry(session: Session, project: Project) -> None:
    """Entering production needs the latest decision to be `go`, taken since the project last left
    production: a go opens production once."""
    latest = session.scalar(
        select(Decision)
        .where(Decision.project_id == project.id)
        .order_by(Decision.decided_at.desc(), Decision.id.desc())
        .limit(1)
    )
    if latest is None or latest.decision != "go":
        seen = f"the latest decision is {latest.decision}" if latest else "there is no decision"
        raise Conflict(f"Entering production needs a go decision; {seen}. Evaluate, then record a go.")
    last_exit = session.scalar(
        select(StageTransition.transitioned_at)
        .where(
            StageTransition.project_id == project.id,
            StageTransition.from_stage.in_([stage.value for stage in IN_PRODUCTION]),
            StageTransition.to_stage.not_in([stage.value for stage in IN_PRODUCTION]),
        )
        .order_by(StageTransition.transitioned_at.desc())
        .limit(1)
    )
    if last_exit is not None and latest.decided_at <= last_exit:
        raise Conflict(
            "The latest go decision was taken before the project left production; "
            "re-entering needs a new evaluation and a new go decision."
        )
