"""Which unmet criteria would, once met, lift a project to its next readiness level.

Worked out from the statuses of a stored result with the scoring rules themselves (`scoring.py`):
the criterion's section score, the overall score and the gate are recomputed as if it were met,
everything else as it is. One criterion at a time: a project two fixes away from its next level
counts for neither.
"""

from collections.abc import Mapping

from app.engine.scoring import CREDIT, Aggregation, Level, Rubric, Status, level
from app.engine.stages import Stage

LEVEL_ORDER = tuple(Level)
GATE_CLEARED = (Status.met, Status.exempt)


def lifting_criteria(rubric: Rubric, stage: Stage, statuses: Mapping[str, Status]) -> list[str]:
    """The criteria, partial or not met now, whose being met would raise the project's level."""
    section_weight = {section.key: section.weight for section in rubric.sections}
    earned: dict[str, float] = dict.fromkeys(section_weight, 0.0)
    counted: dict[str, float] = dict.fromkeys(section_weight, 0.0)
    gate_open = 0
    for criterion in rubric.criteria:
        status = statuses.get(criterion.key)
        if status in CREDIT:
            earned[criterion.section] += criterion.weight * CREDIT[status]
            counted[criterion.section] += criterion.weight
        if criterion.gate and status is not None and status not in GATE_CLEARED:
            gate_open += 1

    def outcome(sections: Mapping[str, float | None], gate_passed: bool) -> Level:
        scored = [(section_weight[key], score) for key, score in sections.items() if score is not None]
        if not scored:
            total = 0.0
        elif rubric.aggregation == Aggregation.min_section:
            total = min(score for _, score in scored)
        else:
            total = sum(weight * score for weight, score in scored) / sum(weight for weight, _ in scored)
        return level(round(total, 2), gate_passed, stage, sections)

    def section_scores(extra_section: str | None = None, extra: float = 0.0) -> dict[str, float | None]:
        return {
            key: 100 * (earned[key] + (extra if key == extra_section else 0.0)) / counted[key] if counted[key] else None
            for key in section_weight
        }

    now = LEVEL_ORDER.index(outcome(section_scores(), gate_open == 0))
    if now == len(LEVEL_ORDER) - 1:
        return []
    lifting = []
    for criterion in rubric.criteria:
        status = statuses.get(criterion.key)
        if status not in (Status.partial, Status.not_met):
            continue
        gained = criterion.weight * (1 - CREDIT[status])
        gate_after = gate_open - (1 if criterion.gate else 0)
        if LEVEL_ORDER.index(outcome(section_scores(criterion.section, gained), gate_after == 0)) > now:
            lifting.append(criterion.key)
    return lifting
