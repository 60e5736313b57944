"""Evaluations (snapshots of readiness), attestations, exemptions and go/no-go decisions."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.schemas import Role
from app.auth.service import Caller
from app.core import changes
from app.core.changes import AuditEntry, Cause
from app.core.db import utcnow
from app.core.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from app.core.pagination import keyset_page
from app.core.preconditions import IfMatch, etag
from app.engine import scoring
from app.evaluations.models import Attestation, Decision, Evaluation, Exemption
from app.evaluations.schemas import AnswerSpec, AttestationPut, DecisionCreate, EvaluationRead, ExemptionCreate
from app.facts.models import Fact
from app.projects.models import Project
from app.projects.service import get_project
from app.readiness import inputs
from app.readiness import service as readiness
from app.rubrics import service as rubrics

# Who may attest a go-live gate criterion, through the attestations resource or an evaluation's
# answers alike: the steering committee, not the systems that post state.
GATE_ATTESTER = Role.approver


def _governing_rubric(session: Session, project: Project) -> scoring.Rubric:
    return rubrics.to_engine(*rubrics.get_version(session, key=project.rubric))


def _criterion(rubric: scoring.Rubric, key: str) -> scoring.Criterion | None:
    return next((criterion for criterion in rubric.criteria if criterion.key == key), None)


def _require_attester(actor: Caller, criterion: scoring.Criterion) -> None:
    if criterion.gate and not actor.role.allows(GATE_ATTESTER):
        raise Forbidden(
            f"{criterion.key} is a go-live gate criterion; attesting it needs the {GATE_ATTESTER.value} role."
        )


def _answers(rubric: scoring.Rubric, answers: list[AnswerSpec]) -> dict[str, scoring.Answer]:
    known = {criterion.key for criterion in rubric.criteria}
    errors = []
    seen: set[str] = set()
    for index, answer in enumerate(answers):
        if answer.criterion not in known:
            errors.append(
                FieldError(
                    field=f"body.answers.{index}.criterion",
                    message=f"not a criterion of {rubric.key} v{rubric.version}",
                )
            )
        elif answer.criterion in seen:
            errors.append(FieldError(field=f"body.answers.{index}.criterion", message="answered twice"))
        seen.add(answer.criterion)
    if errors:
        raise Unprocessable("Some answers do not fit the rubric.", errors=errors)
    return {answer.criterion: scoring.Answer(answer.status, answer.evidence_url, answer.note) for answer in answers}


def evaluate_project(
    session: Session,
    *,
    key: str,
    rubric_key: str | None,
    rubric_version: int | None,
    evaluator: str | None,
    answers: list[AnswerSpec],
    actor: Caller,
    store: bool,
) -> EvaluationRead:
    """A snapshot of the project's readiness: against its governing rubric's latest version by
    default, or another rubric or version as an additional view. Stored, the answers given are
    recorded as attestations first; previewed, they are laid over the stored ones."""
    project = get_project(session, key=key, for_update=store)
    try:
        rubric_row, version = rubrics.get_version(session, key=rubric_key or project.rubric, number=rubric_version)
    except NotFound as missing:
        # The body names the rubric: an unknown one is a bad request body, not a missing resource.
        field = "body.rubric_version" if rubric_version is not None else "body.rubric"
        raise Unprocessable(missing.detail, errors=[FieldError(field=field, message=missing.detail)]) from missing
    rubric = rubrics.to_engine(rubric_row, version)
    attested = _answers(rubric, answers)
    now = utcnow()
    if store and attested:
        # Attestations belong to the project, whatever rubric is being evaluated: a criterion that
        # is a gate of the governing rubric needs its attester's role here too.
        governing = _governing_rubric(session, project)
        for criterion_key, given in attested.items():
            for judged_by in (rubric, governing):
                criterion = _criterion(judged_by, criterion_key)
                if criterion is not None:
                    _require_attester(actor, criterion)
            _put_attestation(session, project, criterion_key, given, None, actor, now)
        session.flush()
    loaded = inputs.load(session, [project], now)[project.id]
    overlay = (
        {}
        if store
        else {k: scoring.Answer(a.status, a.evidence_url, a.note, actor.name, now) for k, a in attested.items()}
    )
    result = scoring.evaluate(rubric, loaded.snapshot, {**loaded.attestations, **overlay}, loaded.exemptions, now)
    shown = readiness.document(rubric, result)
    evaluation_id = uuid.uuid4() if store else None
    if store:
        session.add(
            Evaluation(
                id=evaluation_id,
                project_id=project.id,
                rubric_key=rubric.key,
                rubric_version=rubric.version,
                evaluator=evaluator,
                stage=project.stage,
                evaluated_at=now,
                score=result.score,
                level=result.level.value,
                gate_passed=result.gate_passed,
                recommendation=result.recommendation,
                weakest_section=result.weakest_section,
                result={name: shown[name] for name in ("gate", "sections", "criteria")},
                answers=[answer.model_dump(mode="json") for answer in answers],
            )
        )
        changes.record(
            session,
            Cause("evaluation", str(evaluation_id)),
            [project.id],
            audit=AuditEntry(
                actor,
                "evaluation.create",
                "project",
                key,
                after={
                    "evaluation_id": str(evaluation_id),
                    "rubric": f"{rubric.key}/v{rubric.version}",
                    "score": result.score,
                    "level": result.level.value,
                    "gate_passed": result.gate_passed,
                },
            ),
            readiness=False,
        )
    return EvaluationRead.model_validate(
        {
            **shown,
            "id": evaluation_id,
            "project": project.key,
            "evaluator": evaluator,
            "stage": project.stage,
            "evaluated_at": now,
        }
    )


def _current_sources(criteria: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Evaluations stored before the source vocabulary was settled said `attested`."""
    return [{**c, "source": "attestation"} if c.get("source") == "attested" else c for c in criteria]


def stored_document(project: Project, evaluation: Evaluation) -> EvaluationRead:
    return EvaluationRead.model_validate(
        {
            "id": evaluation.id,
            "project": project.key,
            "rubric": evaluation.rubric_key,
            "rubric_version": evaluation.rubric_version,
            "evaluator": evaluation.evaluator,
            "stage": evaluation.stage,
            "evaluated_at": evaluation.evaluated_at,
            "score": evaluation.score,
            "level": evaluation.level,
            "weakest_section": evaluation.weakest_section,
            "recommendation": evaluation.recommendation,
            **evaluation.result,
            "criteria": _current_sources(evaluation.result["criteria"]),
        }
    )


def get_evaluation(session: Session, *, key: str, evaluation_id: uuid.UUID) -> EvaluationRead:
    project = get_project(session, key=key)
    evaluation = session.scalar(
        select(Evaluation).where(Evaluation.id == evaluation_id, Evaluation.project_id == project.id)
    )
    if evaluation is None:
        raise NotFound(f"Project {key!r} has no evaluation {evaluation_id}.")
    return stored_document(project, evaluation)


def list_evaluations(
    session: Session, *, key: str, rubric_key: str | None, limit: int, cursor: str | None
) -> tuple[list[EvaluationRead], str | None]:
    """Newest first."""
    project = get_project(session, key=key)
    query = select(Evaluation).where(Evaluation.project_id == project.id)
    if rubric_key is not None:
        query = query.where(Evaluation.rubric_key == rubric_key)
    evaluations, next_cursor = keyset_page(
        session, query, [Evaluation.evaluated_at, Evaluation.id], limit=limit, cursor=cursor, descending=True
    )
    return [stored_document(project, e) for e in evaluations], next_cursor


def _latest_governing(session: Session, project: Project) -> Evaluation | None:
    return session.scalar(
        select(Evaluation)
        .where(Evaluation.project_id == project.id, Evaluation.rubric_key == project.rubric)
        .order_by(Evaluation.evaluated_at.desc(), Evaluation.id.desc())
        .limit(1)
    )


# Attestations.


def attestation_etag(attestation: Attestation) -> str:
    return etag(attestation.id, attestation.version)


def _attestation_snapshot(attestation: Attestation) -> dict[str, Any]:
    return {
        "status": attestation.status,
        "evidence_url": attestation.evidence_url,
        "note": attestation.note,
        "expires_at": attestation.expires_at.isoformat() if attestation.expires_at else None,
        "attested_by": attestation.attested_by,
    }


def _put_attestation(
    session: Session,
    project: Project,
    criterion: str,
    given: scoring.Answer,
    existing: Attestation | None,
    actor: Caller,
    now: datetime,
) -> tuple[Attestation, bool]:
    if existing is None:
        existing = session.scalar(
            select(Attestation).where(Attestation.project_id == project.id, Attestation.criterion == criterion)
        )
    before = _attestation_snapshot(existing) if existing else None
    attestation = existing or Attestation(project_id=project.id, criterion=criterion)
    attestation.status, attestation.evidence_url, attestation.note = given.status, given.evidence_url, given.note
    attestation.expires_at, attestation.attested_by, attestation.attested_at = given.expires_at, actor.name, now
    attestation.attested_by_identity = actor.identity
    if existing is None:
        session.add(attestation)
    changes.record(
        session,
        Cause("attestation", criterion),
        [project.id],
        audit=AuditEntry(
            actor,
            "attestation.put",
            "attestation",
            f"{project.key}/{criterion}",
            before=before,
            after=_attestation_snapshot(attestation),
        ),
        status="none",
    )
    return attestation, existing is None


def _attested_criterion(session: Session, project: Project, criterion: str) -> scoring.Criterion:
    found = _criterion(_governing_rubric(session, project), criterion)
    if found is None:
        raise NotFound(f"{criterion!r} is not a criterion of the project's rubric {project.rubric!r}.")
    return found


def put_attestation(
    session: Session, *, key: str, criterion: str, data: AttestationPut, if_match: IfMatch | None, actor: Caller
) -> tuple[Attestation, bool]:
    """Attest a criterion of the project's governing rubric; returns it and whether it was created."""
    project = get_project(session, key=key)
    _require_attester(actor, _attested_criterion(session, project, criterion))
    now = utcnow()
    if data.expires_at is not None and data.expires_at <= now:
        raise Unprocessable(
            "An attestation must expire in the future, if at all.",
            errors=[FieldError(field="body.expires_at", message="must be in the future")],
        )
    existing = session.scalar(
        select(Attestation).where(Attestation.project_id == project.id, Attestation.criterion == criterion)
    )
    if if_match is not None:
        if_match.check(attestation_etag(existing) if existing else None)
    given = scoring.Answer(data.status, data.evidence_url, data.note, expires_at=data.expires_at)
    return _put_attestation(session, project, criterion, given, existing, actor, now)


def get_attestation(session: Session, *, key: str, criterion: str) -> Attestation:
    project = get_project(session, key=key)
    attestation = session.scalar(
        select(Attestation).where(Attestation.project_id == project.id, Attestation.criterion == criterion)
    )
    if attestation is None:
        raise NotFound(f"Project {key!r} has no attestation of {criterion!r}.")
    return attestation


def list_attestations(
    session: Session, *, key: str, limit: int, cursor: str | None
) -> tuple[list[Attestation], str | None]:
    project = get_project(session, key=key)
    query = select(Attestation).where(Attestation.project_id == project.id)
    return keyset_page(session, query, [Attestation.criterion], limit=limit, cursor=cursor)


def delete_attestation(session: Session, *, key: str, criterion: str, if_match: IfMatch | None, actor: Caller) -> None:
    attestation = get_attestation(session, key=key, criterion=criterion)
    project = get_project(session, key=key)
    found = _criterion(_governing_rubric(session, project), criterion)
    if found is not None:
        _require_attester(actor, found)
    if if_match is not None:
        if_match.check(attestation_etag(attestation))
    before = _attestation_snapshot(attestation)
    session.delete(attestation)
    changes.record(
        session,
        Cause("attestation", criterion),
        [project.id],
        audit=AuditEntry(actor, "attestation.delete", "attestation", f"{key}/{criterion}", before=before),
        status="none",
    )


def create_exemption(session: Session, *, key: str, data: ExemptionCreate, actor: Caller) -> Exemption:
    project = get_project(session, key=key)
    if _criterion(_governing_rubric(session, project), data.criterion) is None:
        raise Unprocessable(
            f"{data.criterion!r} is not a criterion of the project's rubric {project.rubric!r}.",
            errors=[FieldError(field="body.criterion", message="not a criterion of the governing rubric")],
        )
    if data.expires_at <= utcnow():
        raise Unprocessable(
            "An exemption must expire in the future.",
            errors=[FieldError(field="body.expires_at", message="must be in the future")],
        )
    exemption = Exemption(
        project_id=project.id,
        criterion=data.criterion,
        justification=data.justification,
        expires_at=data.expires_at,
        created_by=actor.name,
    )
    session.add(exemption)
    session.flush()
    changes.record(
        session,
        Cause("exemption", data.criterion),
        [project.id],
        audit=AuditEntry(
            actor,
            "exemption.create",
            "project",
            key,
            after={
                "id": str(exemption.id),
                "criterion": data.criterion,
                "justification": data.justification,
                "expires_at": data.expires_at.isoformat(),
            },
        ),
        status="none",
    )
    return exemption


def list_exemptions(
    session: Session, *, key: str, limit: int, cursor: str | None
) -> tuple[list[Exemption], str | None]:
    project = get_project(session, key=key)
    query = select(Exemption).where(Exemption.project_id == project.id)
    return keyset_page(
        session, query, [Exemption.created_at, Exemption.id], limit=limit, cursor=cursor, descending=True
    )


def delete_exemption(session: Session, *, key: str, exemption_id: uuid.UUID, actor: Caller) -> None:
    project = get_project(session, key=key)
    exemption = session.scalar(
        select(Exemption).where(Exemption.id == exemption_id, Exemption.project_id == project.id)
    )
    if exemption is None:
        raise NotFound(f"Project {key!r} has no exemption {exemption_id}.")
    before = {"criterion": exemption.criterion, "justification": exemption.justification}
    session.delete(exemption)
    changes.record(
        session,
        Cause("exemption", exemption.criterion),
        [project.id],
        audit=AuditEntry(actor, "exemption.delete", "project", key, before=before),
        status="none",
    )


@dataclass(frozen=True)
class GateAtDecision:
    passed: bool
    blockers: list[str]


def _check_four_eyes(session: Session, project: Project, criteria: list[dict[str, Any]], actor: Caller) -> None:
    """Whoever records a go must not be whoever supplied the evidence of a gate criterion the go
    relies on, by attesting it or by posting a fact its check read: one caller cannot both vouch for
    the evidence and sign off on it."""
    met = [c for c in criteria if c["gate"] and c["status"] == "met"]
    attested = [c["key"] for c in met if c["source"] == "attestation"]
    facts_read = {name for c in met if c["source"] == "check" for name in c["observed"]}
    own = sorted(
        session.scalars(
            select(Attestation.criterion).where(
                Attestation.project_id == project.id,
                Attestation.criterion.in_(attested),
                Attestation.attested_by_identity == actor.identity,
            )
        )
    )
    posted = sorted(
        session.scalars(
            select(Fact.name).where(
                Fact.project_id == project.id, Fact.name.in_(facts_read), Fact.recorded_by_identity == actor.identity
            )
        )
    )
    if own or posted:
        evidence = [f"attested the gate criteria {', '.join(own)}"] if own else []
        evidence += [f"posted the facts {', '.join(posted)} that gate checks read"] if posted else []
        raise Conflict(
            f"Four eyes: the caller {' and '.join(evidence)}, which this go relies on; "
            "another approver must record the go."
        )


def record_decision(session: Session, *, key: str, data: DecisionCreate, actor: Caller) -> Decision:
    """A `go` must reference the latest evaluation against the governing rubric (any version), and
    the project's current gate must pass at the moment of the decision, unless an admin overrides
    it with a reason."""
    project = get_project(session, key=key, for_update=True)
    evaluation = session.get(Evaluation, data.evaluation_id)
    if evaluation is None or evaluation.project_id != project.id:
        raise Unprocessable(
            f"Evaluation {data.evaluation_id} is not an evaluation of project {key!r}.",
            errors=[FieldError(field="body.evaluation_id", message="not an evaluation of this project")],
        )
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
        _check_four_eyes(session, project, result["criteria"], actor)
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
    )
    session.add(decision)
    session.flush()
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
            },
        ),
    )
    return decision


def list_decisions(session: Session, *, key: str, limit: int, cursor: str | None) -> tuple[list[Decision], str | None]:
    """Newest first."""
    project = get_project(session, key=key)
    query = select(Decision).where(Decision.project_id == project.id)
    return keyset_page(session, query, [Decision.decided_at, Decision.id], limit=limit, cursor=cursor, descending=True)
