"""Evaluations (snapshots of readiness), attestations, exemptions and go/no-go decisions."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.attestations.service import criterion_of, governing_rubric, record_attestation, require_attester
from app.core import changes
from app.core.changes import AuditEntry, Cause
from app.core.db import utcnow
from app.core.errors import FieldError, NotFound, Unprocessable
from app.core.identity import Caller
from app.core.pagination import keyset_page
from app.engine import scoring
from app.projects.models import Project
from app.projects.service import get_project
from app.readiness import inputs
from app.readiness.document import ResultDocument, document
from app.readiness.models import Evaluation
from app.readiness.schemas import AnswerSpec, EvaluationRead
from app.rubrics import service as rubrics


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
    return {
        answer.criterion: scoring.Answer(
            answer.status,
            answer.evidence_url,
            answer.note,
            evidence_ids=tuple(str(evidence_id) for evidence_id in dict.fromkeys(answer.evidence_ids)),
        )
        for answer in answers
    }


def _store(
    session: Session,
    project: Project,
    rubric: scoring.Rubric,
    result: scoring.Evaluation,
    shown: ResultDocument,
    evaluator: str | None,
    answers: list[AnswerSpec],
    actor: Caller,
    now: datetime,
) -> uuid.UUID:
    """The evaluation stored as it was computed, and audited."""
    evaluation_id = uuid.uuid4()
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
            project.key,
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
    return evaluation_id


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
        governing = governing_rubric(session, project)
        fields = {answer.criterion: f"body.answers.{index}.evidence_ids" for index, answer in enumerate(answers)}
        for criterion_key, given in attested.items():
            for judged_by in (rubric, governing):
                criterion = criterion_of(judged_by, criterion_key)
                if criterion is not None:
                    require_attester(actor, criterion)
            record_attestation(session, project, criterion_key, given, None, actor, now, field=fields[criterion_key])
        session.flush()
    loaded = inputs.load(session, [project], now)[project.id]
    overlay = (
        {}
        if store
        else {
            k: scoring.Answer(a.status, a.evidence_url, a.note, actor.name, now, evidence_ids=a.evidence_ids)
            for k, a in attested.items()
        }
    )
    result = scoring.evaluate(rubric, loaded.snapshot, {**loaded.attestations, **overlay}, loaded.exemptions, now)
    shown = document(rubric, result)
    evaluation_id = _store(session, project, rubric, result, shown, evaluator, answers, actor, now) if store else None
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


# Attestations.
