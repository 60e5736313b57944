"""Evaluations, exemptions and go/no-go decisions: the readiness score and the production gate."""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth.schemas import Role
from app.auth.service import Caller
from app.core.db import utcnow
from app.core.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from app.core.pagination import keyset_page
from app.engine import scoring
from app.engine.checks import FactObservation, KpiSnapshot, ProjectSnapshot
from app.engine.kpi import Direction, KpiCategory
from app.engine.roi import ProjectCosts
from app.engine.stages import IN_PRODUCTION, Stage
from app.evaluations.models import Decision, Evaluation, Exemption
from app.evaluations.schemas import AnswerSpec, DecisionCreate, ExemptionCreate
from app.facts.models import Fact
from app.kpis.models import Kpi
from app.portfolio import status as project_status
from app.portfolio.service import diagnose_many
from app.projects.models import Project, StageTransition
from app.projects.schemas import ProjectRead
from app.projects.service import get_project
from app.rubrics import service as rubrics


def _flatten(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"deployment": {"target": "vpc"}}` → `{"deployment": {...}, "deployment.target": "vpc"}`."""
    flat: dict[str, Any] = {}
    for name, value in document.items():
        path = f"{prefix}{name}"
        flat[path] = value
        if isinstance(value, dict) and name in ("deployment", "costs"):
            flat.update(_flatten(value, f"{path}."))
    return flat


def production_since(transitions: Sequence[StageTransition]) -> datetime | None:
    """When the project's current stretch in production (or scaling) began, if it is in one."""
    since = None
    for transition in transitions:
        entering = transition.to_stage in IN_PRODUCTION
        if entering and transition.from_stage not in IN_PRODUCTION:
            since = transition.transitioned_at
        elif not entering:
            since = None
    return since


def load_snapshot(session: Session, project: Project) -> ProjectSnapshot:
    """Everything the rubric's checks may read about the project, in four queries."""
    kpis = session.scalars(select(Kpi).where(Kpi.project_id == project.id))
    facts = session.scalars(select(Fact).where(Fact.project_id == project.id))
    transitions = session.scalars(
        select(StageTransition)
        .where(StageTransition.project_id == project.id)
        .order_by(StageTransition.transitioned_at, StageTransition.id)
    ).all()
    return ProjectSnapshot(
        key=project.key,
        stage=Stage(project.stage),
        fields=_flatten(ProjectRead.from_project(project).model_dump(mode="json")),
        stakeholder_roles=frozenset(stakeholder["role"] for stakeholder in project.stakeholders),
        kpis=tuple(
            KpiSnapshot(
                key=kpi.key,
                category=KpiCategory(kpi.category),
                direction=Direction(kpi.direction),
                baseline=kpi.baseline,
                target=kpi.target,
                target_date=kpi.target_date,
                value_per_unit=kpi.value_per_unit,
                currency=kpi.currency,
                latest_value=kpi.latest_value,
                latest_measured_at=kpi.latest_measured_at,
            )
            for kpi in kpis
        ),
        facts={fact.name: FactObservation(fact.value, fact.observed_at) for fact in facts},
        costs=ProjectCosts(project.build_cost, project.run_cost_per_month, project.currency),
        production_since=production_since(transitions) if Stage(project.stage) in IN_PRODUCTION else None,
    )


def active_exemptions(session: Session, project: Project, now: datetime) -> dict[str, str]:
    exemptions = session.scalars(
        select(Exemption).where(Exemption.project_id == project.id, Exemption.expires_at > now)
    )
    return {
        exemption.criterion: f"{exemption.justification} (until {exemption.expires_at.isoformat()})"
        for exemption in exemptions
    }


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


def document(
    *,
    evaluation_id: uuid.UUID | None,
    project: Project,
    rubric: scoring.Rubric,
    evaluator: str | None,
    evaluated_at: datetime,
    result: scoring.Evaluation,
) -> dict[str, Any]:
    """The evaluation as the API shows it and as it is stored."""
    return {
        "id": evaluation_id,
        "project": project.key,
        "rubric": rubric.key,
        "rubric_version": rubric.version,
        "evaluator": evaluator,
        "stage": project.stage,
        "evaluated_at": evaluated_at,
        "score": result.score,
        "level": result.level,
        "weakest_section": result.weakest_section,
        "gate": {"passed": result.gate_passed, "blockers": [asdict(blocker) for blocker in result.blockers]},
        "recommendation": result.recommendation,
        "sections": [asdict(section) for section in result.sections],
        "criteria": [asdict(criterion) for criterion in result.criteria],
    }


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
) -> dict[str, Any]:
    """Score the project against a rubric version (default: its governing rubric, latest version)."""
    project = get_project(session, key=key)
    try:
        rubric_row, version = rubrics.get_version(session, key=rubric_key or project.rubric, number=rubric_version)
    except NotFound as missing:
        # The body names the rubric: an unknown one is a bad request body, not a missing resource.
        field = "body.rubric_version" if rubric_version is not None else "body.rubric"
        raise Unprocessable(missing.detail, errors=[FieldError(field=field, message=missing.detail)]) from missing
    rubric = rubrics.to_engine(rubric_row, version)
    attested = _answers(rubric, answers)
    now = utcnow()
    result = scoring.evaluate(
        rubric, load_snapshot(session, project), attested, active_exemptions(session, project, now), now
    )
    evaluation_id = uuid.uuid4() if store else None
    shown = document(
        evaluation_id=evaluation_id,
        project=project,
        rubric=rubric,
        evaluator=evaluator,
        evaluated_at=now,
        result=result,
    )
    if store:
        stored = {name: shown[name] for name in ("gate", "sections", "criteria")}
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
                result=_json_ready(stored),
                answers=[answer.model_dump(mode="json") for answer in answers],
            )
        )
        session.flush()
        project_status.refresh(session, [project.id])
        audit.record(
            session,
            actor=actor,
            action="evaluation.create",
            entity_type="project",
            entity_key=key,
            after={
                "evaluation_id": str(evaluation_id),
                "rubric": f"{rubric.key}/v{rubric.version}",
                "score": result.score,
                "level": result.level.value,
                "gate_passed": result.gate_passed,
            },
        )
    return shown


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def stored_document(project: Project, evaluation: Evaluation) -> dict[str, Any]:
    return {
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
    }


def get_evaluation(session: Session, *, key: str, evaluation_id: uuid.UUID) -> dict[str, Any]:
    project = get_project(session, key=key)
    evaluation = session.scalar(
        select(Evaluation).where(Evaluation.id == evaluation_id, Evaluation.project_id == project.id)
    )
    if evaluation is None:
        raise NotFound(f"Project {key!r} has no evaluation {evaluation_id}.")
    return stored_document(project, evaluation)


def list_evaluations(
    session: Session, *, key: str, rubric_key: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first."""
    project = get_project(session, key=key)
    query = select(Evaluation).where(Evaluation.project_id == project.id)
    if rubric_key is not None:
        query = query.where(Evaluation.rubric_key == rubric_key)
    evaluations, next_cursor = keyset_page(
        session, query, [Evaluation.evaluated_at, Evaluation.id], limit=limit, cursor=cursor, descending=True
    )
    return [stored_document(project, e) for e in evaluations], next_cursor


def _latest_governing(session: Session, project: Project, count: int) -> list[Evaluation]:
    return list(
        session.scalars(
            select(Evaluation)
            .where(Evaluation.project_id == project.id, Evaluation.rubric_key == project.rubric)
            .order_by(Evaluation.evaluated_at.desc(), Evaluation.id.desc())
            .limit(count)
        )
    )


def readiness(session: Session, *, key: str, limits: Mapping[Stage, int]) -> dict[str, Any]:
    """The latest evaluation against the governing rubric, what changed since the one before, and
    the stall diagnosis."""
    project = get_project(session, key=key)
    recent = _latest_governing(session, project, 2)
    latest = recent[0] if recent else None
    change = None
    if latest is not None and len(recent) > 1:
        previous = recent[1]
        met_now = {c["key"] for c in latest.result["criteria"] if c["status"] == "met"}
        met_before = {c["key"] for c in previous.result["criteria"] if c["status"] == "met"}
        change = {
            "previous_evaluation_id": previous.id,
            "previous_score": previous.score,
            "score_delta": round(latest.score - previous.score, 2),
            "previous_level": previous.level,
            "newly_met": sorted(met_now - met_before),
            "no_longer_met": sorted(met_before - met_now),
        }
    return {
        "project": project.key,
        "rubric": project.rubric,
        "stage": project.stage,
        "latest": stored_document(project, latest) if latest is not None else None,
        "change": change,
        "stall": diagnose_many(session, [project], utcnow(), limits)[project.id],
    }


def create_exemption(session: Session, *, key: str, data: ExemptionCreate, actor: Caller) -> Exemption:
    project = get_project(session, key=key)
    rubric_row, version = rubrics.get_version(session, key=project.rubric)
    if data.criterion not in {c.key for c in rubrics.to_engine(rubric_row, version).criteria}:
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
    audit.record(
        session,
        actor=actor,
        action="exemption.create",
        entity_type="project",
        entity_key=key,
        after={
            "id": str(exemption.id),
            "criterion": data.criterion,
            "justification": data.justification,
            "expires_at": data.expires_at.isoformat(),
        },
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
    session.flush()
    audit.record(session, actor=actor, action="exemption.delete", entity_type="project", entity_key=key, before=before)


def record_decision(session: Session, *, key: str, data: DecisionCreate, actor: Caller) -> Decision:
    """A `go` must reference the latest evaluation against the governing rubric, and its gate must
    have passed, unless an admin overrides it with a reason."""
    project = get_project(session, key=key, for_update=True)
    evaluation = session.get(Evaluation, data.evaluation_id)
    if evaluation is None or evaluation.project_id != project.id:
        raise Unprocessable(
            f"Evaluation {data.evaluation_id} is not an evaluation of project {key!r}.",
            errors=[FieldError(field="body.evaluation_id", message="not an evaluation of this project")],
        )
    if data.override_reason is not None and (data.decision != "go" or evaluation.gate_passed):
        raise Unprocessable(
            "override_reason only applies to a go on an evaluation whose gate did not pass.",
            errors=[FieldError(field="body.override_reason", message="nothing to override")],
        )
    if data.decision == "go":
        latest = _latest_governing(session, project, 1)
        if not latest or latest[0].id != evaluation.id:
            current = f" ({latest[0].id})" if latest else ""
            raise Conflict(
                f"A go must reference the latest evaluation against the governing rubric {project.rubric!r}"
                f"{current}; evaluate again or reference that one."
            )
        if not evaluation.gate_passed:
            blockers = ", ".join(b["criterion"] for b in evaluation.result["gate"]["blockers"])
            if data.override_reason is None:
                raise Conflict(f"The evaluation's go-live gate did not pass; blockers: {blockers}.")
            if not actor.role.allows(Role.admin):
                raise Forbidden("Only an admin may override a failed go-live gate.")
    decision = Decision(
        project_id=project.id,
        evaluation_id=evaluation.id,
        decision=data.decision,
        decided_by=data.decided_by,
        rationale=data.rationale,
        override_reason=data.override_reason,
        recorded_by=actor.name,
        decided_at=utcnow(),
    )
    session.add(decision)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="decision.create",
        entity_type="project",
        entity_key=key,
        after={
            "id": str(decision.id),
            "decision": data.decision,
            "evaluation_id": str(evaluation.id),
            "override_reason": data.override_reason,
        },
    )
    return decision


def list_decisions(session: Session, *, key: str, limit: int, cursor: str | None) -> tuple[list[Decision], str | None]:
    """Newest first."""
    project = get_project(session, key=key)
    query = select(Decision).where(Decision.project_id == project.id)
    return keyset_page(session, query, [Decision.decided_at, Decision.id], limit=limit, cursor=cursor, descending=True)
