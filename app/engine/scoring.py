"""Scoring a project against a rubric: criterion statuses, section scores, the overall score,
the readiness level, the go-live gate and the go/no-go recommendation.

The rules, in the order they apply to each criterion:
1. an unexpired exemption makes it `exempt`: left out of the score, and it does not block the gate;
2. before the stage it applies from it is `not_applicable`, except gate criteria, which are
   always evaluated, whatever the stage;
3. a check decides it where the data the check reads exists;
4. otherwise an unexpired attestation counts; an attested `not_applicable` does not clear a gate
   criterion;
5. otherwise it is `not_met`.

A result also carries its deadlines: the moments at which it would change with time alone (an
exemption or attestation expiring, a fact ageing past a check's limit), earliest first.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from app.engine.checks import Check, CheckStatus, Deadline, ProjectSnapshot, check_problems
from app.engine.frameworks import Framework, Strength
from app.engine.stages import IN_PRODUCTION, Stage, has_reached
from app.engine.verdicts import run_check


class Status(StrEnum):
    met = "met"
    partial = "partial"
    not_met = "not_met"
    not_applicable = "not_applicable"
    exempt = "exempt"


class Source(StrEnum):
    """What decided a criterion's status: one vocabulary for the engine and the API."""

    check = "check"
    attestation = "attestation"
    exemption = "exemption"
    stage = "stage"
    unanswered = "unanswered"


class Level(StrEnum):
    not_ready = "not_ready"
    pilot_ready = "pilot_ready"
    production_ready = "production_ready"
    scale_ready = "scale_ready"


class Aggregation(StrEnum):
    weighted_mean = "weighted_mean"
    min_section = "min_section"


# The level thresholds, and the only place they live.
PILOT_READY_SCORE = 50.0
PRODUCTION_READY_SCORE = 75.0
SCALE_READY_SECTION_SCORE = 75.0
SCALING_SECTION = "scaling"

CREDIT = {Status.met: 1.0, Status.partial: 0.5, Status.not_met: 0.0}


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    weight: float = 1.0


@dataclass(frozen=True)
class Reference:
    """Where a criterion corresponds to a governance framework, e.g. `nist-ai-rmf` `MANAGE 4.1`.

    `framework` is a `Framework` slug in every version published since they were introduced;
    older versions keep the names they were published with."""

    framework: str
    id: str
    title: str | None = None
    strength: Strength | None = None
    why: str | None = None
    note: str | None = None  # e.g. that an EU AI Act article binds only high-risk AI systems
    # The obligation binds only high-risk AI systems: framework views count it for projects classified high.
    high_risk_only: bool = False


@dataclass(frozen=True)
class Criterion:
    key: str
    section: str
    title: str
    guidance: str = ""
    weight: float = 1.0
    gate: bool = False
    applies_from: Stage = Stage.idea
    check: Check | None = None
    references: tuple[Reference, ...] = ()
    # A `met` or `partial` attestation of it must cite evidence the service holds.
    evidence_required: bool = False


@dataclass(frozen=True)
class Rubric:
    key: str
    version: int
    sections: tuple[Section, ...]
    criteria: tuple[Criterion, ...]
    aggregation: Aggregation = Aggregation.weighted_mean


@dataclass(frozen=True)
class Answer:
    """An attestation: what a person tells about a criterion that no check can see."""

    status: Literal["met", "partial", "not_met", "not_applicable"]
    evidence_url: str | None = None
    note: str | None = None
    attested_by: str | None = None
    attested_at: datetime | None = None
    expires_at: datetime | None = None
    evidence_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Exemption:
    justification: str
    expires_at: datetime


@dataclass(frozen=True)
class CriterionResult:
    key: str
    section: str
    title: str
    gate: bool
    status: Status
    source: Source
    reason: str
    observed: dict[str, Any]
    evidence_url: str | None = None
    attestation: Answer | None = None  # the attestation that decided the status, if one did


@dataclass(frozen=True)
class SectionScore:
    key: str
    title: str
    score: float | None  # 0–100; None when nothing in the section counts


@dataclass(frozen=True)
class Blocker:
    criterion: str
    title: str
    status: Status
    reason: str


@dataclass(frozen=True, kw_only=True)
class Weighing:
    """What the criteria's results weigh up to under a rubric: scores, level and gate."""

    sections: tuple[SectionScore, ...]
    score: float
    weakest_section: str | None
    level: Level
    gate_passed: bool
    blockers: tuple[Blocker, ...]
    deadlines: tuple[Deadline, ...] = ()

    @property
    def recommendation(self) -> Literal["go", "no_go"]:
        return "go" if self.gate_passed else "no_go"

    @property
    def changes_at(self) -> datetime | None:
        """The earliest moment this result could change with time alone."""
        return self.deadlines[0].at if self.deadlines else None


@dataclass(frozen=True, kw_only=True)
class Evaluation(Weighing):
    criteria: tuple[CriterionResult, ...]


def judge(
    criterion: Criterion,
    project: ProjectSnapshot,
    answer: Answer | None,
    exemption: Exemption | None,
    now: datetime,
    deadlines: list[Deadline] | None = None,
) -> CriterionResult:
    """One criterion's status, where it came from, and why. Moments at which the status could
    change with time alone are appended to `deadlines`."""
    # One function: the order of the sources (exemption, stage, check, attestation) is the rule that
    # decides a criterion, and reads best as one sequence.
    found: list[Deadline] = [] if deadlines is None else deadlines

    def result(status: Status, source: Source, reason: str, observed: dict[str, Any] | None = None) -> CriterionResult:
        attestation = answer if source == Source.attestation else None
        return CriterionResult(
            criterion.key,
            criterion.section,
            criterion.title,
            criterion.gate,
            status,
            source,
            reason,
            observed or {},
            attestation.evidence_url if attestation else None,
            attestation,
        )

    if exemption is not None and exemption.expires_at > now:
        found.append(Deadline(exemption.expires_at, f"exemption of {criterion.key} expired"))
        until = exemption.expires_at.date().isoformat()
        return result(Status.exempt, Source.exemption, f"exempt until {until}: {exemption.justification}")
    if not criterion.gate and not has_reached(project.stage, criterion.applies_from):
        return result(
            Status.not_applicable,
            Source.stage,
            f"applies from {criterion.applies_from.value}; the project is in {project.stage.value}",
        )
    observed: dict[str, Any] = {}
    no_data_reason = ""
    if criterion.check is not None:
        checked = run_check(criterion.check, project, now)
        found.extend(checked.deadlines)
        if checked.status != CheckStatus.no_data:
            return result(Status(checked.status.value), Source.check, checked.reason, checked.observed)
        observed, no_data_reason = checked.observed, f"{checked.reason}; "
    expires = answer.expires_at if answer is not None else None
    if expires is not None:
        if expires <= now:
            answer = None
        else:
            found.append(Deadline(expires, f"attestation of {criterion.key} expired"))
    if answer is None:
        return result(Status.not_met, Source.unanswered, f"{no_data_reason}not answered", observed)
    note = f": {answer.note}" if answer.note else ""
    by = f" by {answer.attested_by}" if answer.attested_by else ""
    if answer.status == "not_applicable" and criterion.gate:
        return result(
            Status.not_met,
            Source.attestation,
            f"{no_data_reason}attested not applicable{by}, which does not clear a go-live gate; only an exemption does",
            observed,
        )
    return result(
        Status(answer.status), Source.attestation, f"{no_data_reason}attested {answer.status}{by}{note}", observed
    )


def section_scores(rubric: Rubric, statuses: Mapping[str, Status]) -> tuple[SectionScore, ...]:
    """Criterion-weighted mean within each section: met 1, partial 0.5, not_met 0; the rest left out."""
    # One pass over the criteria: a re-score weighs every project of a portfolio.
    totals: dict[str, list[float]] = {section.key: [0, 0] for section in rubric.sections}
    for criterion in rubric.criteria:
        status, sums = statuses.get(criterion.key), totals.get(criterion.section)
        credit = CREDIT.get(status) if status is not None else None
        if credit is not None and sums is not None:
            sums[0] += criterion.weight
            sums[1] += criterion.weight * credit
    return tuple(
        SectionScore(section.key, section.title, 100 * weighed / total if total > 0 else None)
        for section in rubric.sections
        for total, weighed in [totals[section.key]]
    )


def overall(rubric: Rubric, sections: tuple[SectionScore, ...]) -> float:
    """`weighted_mean`: the section-weighted mean of section scores; `min_section`: the weakest one."""
    weights = {section.key: section.weight for section in rubric.sections}
    scored = [(weights[s.key], s.score) for s in sections if s.score is not None]
    if not scored:
        return 0.0
    if rubric.aggregation == Aggregation.min_section:
        return min(score for _, score in scored)
    return sum(weight * score for weight, score in scored) / sum(weight for weight, _ in scored)


def level(score: float, gate_passed: bool, stage: Stage, sections: Mapping[str, float | None]) -> Level:
    scaling = sections.get(SCALING_SECTION)
    if gate_passed and score >= PRODUCTION_READY_SCORE:
        if stage in IN_PRODUCTION and scaling is not None and scaling >= SCALE_READY_SECTION_SCORE:
            return Level.scale_ready
        return Level.production_ready
    if score >= PILOT_READY_SCORE:
        return Level.pilot_ready
    return Level.not_ready


Judged = dict[str, tuple[CriterionResult, tuple[Deadline, ...]]]


def evaluate(
    rubric: Rubric,
    project: ProjectSnapshot,
    answers: Mapping[str, Answer],
    exemptions: Mapping[str, Exemption],
    now: datetime,
    judged: Judged | None = None,
) -> Evaluation:
    """Score the project against the rubric, with the attestations and exemptions by criterion key.

    `judged` holds criteria already judged for this project at this moment, by key, with the
    deadlines each found; they are taken as they are, and every criterion judged here is added.
    Scoring one project against two versions of a rubric, the second reuses the results of the
    criteria both decide alike (`decided_alike`)."""
    if judged is None:
        deadlines: list[Deadline] = []
        results = tuple(
            judge(criterion, project, answers.get(criterion.key), exemptions.get(criterion.key), now, deadlines)
            for criterion in rubric.criteria
        )
        return aggregate(rubric, project.stage, results, deadlines)
    found = []
    for criterion in rubric.criteria:
        known = judged.get(criterion.key)
        if known is None:
            own: list[Deadline] = []
            result = judge(criterion, project, answers.get(criterion.key), exemptions.get(criterion.key), now, own)
            known = judged[criterion.key] = (result, tuple(own))
        found.append(known)
    return aggregate(rubric, project.stage, tuple(result for result, _ in found), [d for _, own in found for d in own])


def aggregate(
    rubric: Rubric, stage: Stage, results: tuple[CriterionResult, ...], deadlines: list[Deadline] | tuple[Deadline, ...]
) -> Evaluation:
    """The scores, level and gate that follow from the criteria's results under this rubric."""
    blockers = tuple(
        Blocker(r.key, r.title, r.status, r.reason)
        for r in results
        if r.gate and r.status not in (Status.met, Status.exempt)
    )
    weighed = weigh(rubric, stage, {r.key: r.status for r in results}, blockers, deadlines)
    return Evaluation(criteria=results, **vars(weighed))


def weigh(
    rubric: Rubric,
    stage: Stage,
    statuses: Mapping[str, Status],
    blockers: tuple[Blocker, ...],
    deadlines: list[Deadline] | tuple[Deadline, ...],
) -> Weighing:
    """The scores and level of criteria with these statuses by key, and the gate these blockers
    leave: what a rubric version changing only weights changes of a stored result."""
    sections = section_scores(rubric, statuses)
    score = round(overall(rubric, sections), 2)
    scored = [s for s in sections if s.score is not None]
    weakest = min(scored, key=lambda s: s.score or 0.0).key if scored else None
    gate_passed = not blockers
    return Weighing(
        sections=tuple(
            SectionScore(s.key, s.title, round(s.score, 2) if s.score is not None else None) for s in sections
        ),
        score=score,
        weakest_section=weakest,
        level=level(score, gate_passed, stage, {s.key: s.score for s in sections}),
        gate_passed=gate_passed,
        blockers=blockers,
        deadlines=tuple(sorted(deadlines, key=lambda deadline: deadline.at)),
    )


def decided_by(criterion: Criterion) -> tuple[Any, ...]:
    """What a criterion's result depends on besides the project: not its weight, guidance or references."""
    return (criterion.key, criterion.section, criterion.title, criterion.gate, criterion.applies_from, criterion.check)


def decided_alike(before: Rubric, after: Rubric) -> frozenset[str]:
    """The keys of the criteria whose results are the same under both rubrics, whatever the project."""
    earlier = {criterion.key: decided_by(criterion) for criterion in before.criteria}
    return frozenset(c.key for c in after.criteria if earlier.get(c.key) == decided_by(c))


def same_statuses(before: Rubric, after: Rubric) -> bool:
    """Whether every project's criteria have the same results under both versions: they may differ
    in weights and aggregation only, which move scores and levels but decide no criterion."""

    def deciding(rubric: Rubric) -> tuple[Any, ...]:
        return (
            tuple((section.key, section.title) for section in rubric.sections),
            tuple(decided_by(c) for c in rubric.criteria),
        )

    return before.key == after.key and deciding(before) == deciding(after)


def rubric_problems(rubric: Rubric) -> list[str]:
    """What keeps a rubric from being published; empty when it is sound."""
    problems = []
    section_keys = [section.key for section in rubric.sections]
    criterion_keys = [criterion.key for criterion in rubric.criteria]
    for key in {k for k in section_keys if section_keys.count(k) > 1}:
        problems.append(f"section {key!r} is defined twice")
    for key in {k for k in criterion_keys if criterion_keys.count(k) > 1}:
        problems.append(f"criterion {key!r} is defined twice")
    for section in rubric.sections:
        if section.weight <= 0:
            problems.append(f"section {section.key!r}: weight must be positive")
        if not any(criterion.section == section.key for criterion in rubric.criteria):
            problems.append(f"section {section.key!r} has no criteria")
    for criterion in rubric.criteria:
        if criterion.section not in section_keys:
            problems.append(f"criterion {criterion.key!r}: unknown section {criterion.section!r}")
        if criterion.weight <= 0:
            problems.append(f"criterion {criterion.key!r}: weight must be positive")
        if criterion.applies_from == Stage.retired:
            problems.append(f"criterion {criterion.key!r}: applies_from cannot be retired")
        if criterion.check is not None:
            problems.extend(f"criterion {criterion.key!r}: {p}" for p in check_problems(criterion.check))
        problems.extend(f"criterion {criterion.key!r}: {p}" for p in reference_problems(criterion.references))
    return sorted(problems)


def reference_problems(references: tuple[Reference, ...]) -> list[str]:
    """What keeps references from being published: a framework the views cannot file them under,
    an identifier that points nowhere, or no strength."""
    known = ", ".join(framework.value for framework in Framework)
    problems = []
    for reference in references:
        if reference.framework not in Framework._value2member_map_:
            problems.append(f"reference framework {reference.framework!r} is not one of {known}")
        if not reference.id.strip():
            problems.append(f"a {reference.framework} reference has an empty identifier")
        if reference.strength is None:
            problems.append(
                f"reference {reference.framework} {reference.id!r} needs a strength: strong, moderate or weak"
            )
    return problems
