"""What publishing a rubric version would do, told before it is published and without storing
anything: every project the rubric governs scored now against its latest version and against the
posted one, by the engine function re-scoring runs (`scoring.evaluate`), on the inputs re-scoring
loads (`inputs.load`), a batch of projects at a time."""

from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import scope
from app.core.among import among
from app.core.db import utcnow
from app.engine import scoring
from app.projects.models import Project
from app.readiness import inputs
from app.readiness.schemas import LevelCounts, PreviewChange, PreviewStanding, RubricPreview
from app.rubrics import service as rubrics
from app.rubrics.schemas import RubricVersionSpec

BATCH = 1000


def _standing(result: scoring.Evaluation) -> PreviewStanding:
    return PreviewStanding(score=result.score, level=result.level, gate_passed=result.gate_passed)


def preview(session: Session, *, key: str, data: RubricVersionSpec) -> RubricPreview:
    """Projects per level before and after, and each project whose score, level or gate moves."""
    rubric = rubrics.get_rubric(session, key=key)
    rubrics.check_publishable(key, data)
    before = rubrics.latest_engine_rubric(session, key)
    after = data.to_engine(key, rubric.latest_version + 1)
    unchanged = scoring.decided_alike(before, after)
    now = utcnow()
    governed = select(Project.id).where(Project.rubric == key).order_by(Project.key)
    ids = list(session.scalars(scope.restrict(governed, Project.department)))
    levels_before: Counter[str] = Counter()
    levels_after: Counter[str] = Counter()
    changes = []
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        projects = session.scalars(
            select(Project).where(among(session.connection(), Project.id, chunk)).order_by(Project.key)
        ).all()
        loaded = inputs.load(session, projects, now)
        for project in projects:
            given = loaded[project.id]
            judged: scoring.Judged = {}
            was = _standing(scoring.evaluate(before, given.snapshot, given.attestations, given.exemptions, now, judged))
            # A criterion both versions decide alike is judged once, for both.
            alike = {key: found for key, found in judged.items() if key in unchanged}
            will = _standing(scoring.evaluate(after, given.snapshot, given.attestations, given.exemptions, now, alike))
            levels_before[was.level.value] += 1
            levels_after[will.level.value] += 1
            if was != will:
                changes.append(
                    PreviewChange(
                        project=project.key, name=project.name, department=project.department, before=was, after=will
                    )
                )
        session.expunge_all()
    return RubricPreview(
        rubric=key,
        from_version=rubric.latest_version,
        to_version=rubric.latest_version + 1,
        evaluated_at=now,
        projects=len(ids),
        before=LevelCounts(**levels_before),
        after=LevelCounts(**levels_after),
        changes=changes,
    )
