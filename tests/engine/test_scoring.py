from dataclasses import fields, replace
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.engine.checks import FieldCheck
from app.engine.default_rubric import DEFAULT_RUBRIC
from app.engine.scoring import (
    Aggregation,
    Answer,
    Criterion,
    Exemption,
    Level,
    Rubric,
    Section,
    Source,
    Status,
    Weighing,
    aggregate,
    evaluate,
    level,
    rubric_problems,
    same_statuses,
    weigh,
)
from app.engine.stages import Stage
from tests.engine.snapshots import NOW, facts, kpi, snapshot

TWO_SECTIONS = Rubric(
    "custom",
    1,
    (Section("a", "A", 1), Section("b", "B", 3)),
    (
        Criterion("a.one", "a", "A one"),
        Criterion("a.two", "a", "A two", weight=3),
        Criterion("b.one", "b", "B one"),
        Criterion("b.gate", "b", "B gate", gate=True, applies_from=Stage.production),
    ),
)


def answers(**statuses: str) -> dict[str, Answer]:
    return {key.replace("__", "."): Answer(status) for key, status in statuses.items()}  # type: ignore[arg-type]


def test_section_scores_are_criterion_weighted_and_the_score_section_weighted() -> None:
    result = evaluate(
        TWO_SECTIONS, snapshot(), answers(a__one="met", a__two="partial", b__one="met", b__gate="met"), {}, NOW
    )

    sections = {s.key: s.score for s in result.sections}
    assert sections == {"a": pytest.approx(100 * (1 + 3 * 0.5) / 4), "b": 100}
    assert result.score == pytest.approx((1 * 62.5 + 3 * 100) / 4, abs=0.01)
    assert result.weakest_section == "a"


def test_min_section_aggregation_scores_the_weakest_section() -> None:
    weakest = Rubric("custom", 1, TWO_SECTIONS.sections, TWO_SECTIONS.criteria, Aggregation.min_section)

    result = evaluate(
        weakest, snapshot(), answers(a__one="met", a__two="partial", b__one="met", b__gate="met"), {}, NOW
    )

    assert result.score == 62.5


def test_unanswered_criteria_are_not_met_and_gate_criteria_apply_at_every_stage() -> None:
    result = evaluate(TWO_SECTIONS, snapshot(stage=Stage.idea), {}, {}, NOW)

    by_key = {c.key: c for c in result.criteria}
    assert by_key["a.one"].status == Status.not_met
    assert by_key["a.one"].source == Source.unanswered
    assert by_key["b.gate"].status == Status.not_met
    assert not result.gate_passed
    assert [b.criterion for b in result.blockers] == ["b.gate"]
    assert result.recommendation == "no_go"


def test_criteria_before_their_stage_are_not_applicable_and_left_out() -> None:
    staged = Rubric(
        "staged",
        1,
        (Section("a", "A"),),
        (Criterion("a.now", "a", "Now"), Criterion("a.later", "a", "Later", applies_from=Stage.production)),
    )

    result = evaluate(staged, snapshot(stage=Stage.pilot), answers(a__now="met"), {}, NOW)

    assert {c.key: c.status for c in result.criteria} == {"a.now": Status.met, "a.later": Status.not_applicable}
    assert result.score == 100


def test_a_check_with_data_overrides_an_attested_answer_and_without_data_the_answer_counts() -> None:
    checked = Rubric(
        "checked",
        1,
        (Section("a", "A"),),
        (Criterion("a.sync", "a", "Sync", check=FieldCheck("sync_cadence_days", "at_most", at_most=7)),),
    )

    with_data = evaluate(checked, snapshot(fields={"sync_cadence_days": 30}), answers(a__sync="met"), {}, NOW)
    without = evaluate(checked, snapshot(fields={}), answers(a__sync="partial"), {}, NOW)

    assert (with_data.criteria[0].status, with_data.criteria[0].source) == (Status.not_met, Source.check)
    assert (without.criteria[0].status, without.criteria[0].source) == (Status.partial, Source.attestation)
    assert "sync_cadence_days is not set" in without.criteria[0].reason


def test_attested_not_applicable_does_not_clear_a_gate_but_an_exemption_does() -> None:
    attested = evaluate(TWO_SECTIONS, snapshot(), answers(b__gate="not_applicable"), {}, NOW)
    exempt = evaluate(
        TWO_SECTIONS,
        snapshot(),
        {},
        {"b.gate": Exemption("vendor certification covers it", NOW + timedelta(days=30))},
        NOW,
    )

    assert {c.key: c.status for c in attested.criteria}["b.gate"] == Status.not_met
    assert not attested.gate_passed
    assert {c.key: c.status for c in exempt.criteria}["b.gate"] == Status.exempt
    assert exempt.gate_passed


def test_attested_not_applicable_leaves_an_ordinary_criterion_out_of_the_score() -> None:
    result = evaluate(TWO_SECTIONS, snapshot(), answers(a__one="not_applicable", a__two="met"), {}, NOW)

    assert {s.key: s.score for s in result.sections}["a"] == 100


def test_a_partial_gate_criterion_blocks() -> None:
    result = evaluate(TWO_SECTIONS, snapshot(), answers(b__gate="partial"), {}, NOW)

    assert not result.gate_passed


@pytest.mark.parametrize(
    ("score", "gate", "stage", "scaling", "expected"),
    [
        (49.99, True, Stage.pilot, None, Level.not_ready),
        (50, False, Stage.pilot, None, Level.pilot_ready),
        (90, False, Stage.pilot, None, Level.pilot_ready),
        (75, True, Stage.pilot, None, Level.production_ready),
        (74.99, True, Stage.pilot, None, Level.pilot_ready),
        (80, True, Stage.production, 75, Level.scale_ready),
        (80, True, Stage.scaling, 100, Level.scale_ready),
        (80, True, Stage.production, 74.9, Level.production_ready),
        (80, True, Stage.pilot, 100, Level.production_ready),
        (80, True, Stage.production, None, Level.production_ready),
    ],
)
def test_levels(score: float, gate: bool, stage: Stage, scaling: float | None, expected: Level) -> None:
    assert level(score, gate, stage, {"scaling": scaling}) == expected


def test_a_ready_pilot_on_the_default_rubric_passes_the_gate() -> None:
    ready = snapshot(
        stage=Stage.pilot,
        fields={
            "business_owner": {"name": "Ana", "email": "ana@example.com"},
            "sync_cadence_days": 7,
            "decision_date": "2027-03-31",
            "deployment.target": "vpc",
            "deployment.same_runtime_as_production": True,
            "deployment.sovereign": True,
        },
        stakeholder_roles=frozenset({"business", "engineering", "security", "legal"}),
        kpis=(kpi(),),
        facts={
            **facts(
                governance__security_in_architecture_reviews=True,
                ops__logging_enabled=True,
                ops__monitoring_enabled=True,
                ops__alerting_enabled=True,
                ops__escalation_path="pagerduty:claims",
                security__review_completed=True,
                compliance__review_completed=True,
                ops__rollback_procedure_url="https://wiki.example.com/rollback",
                ops__team_trained=True,
                ops__runbook_url="https://runbooks.example.com/claims",
                perf__benchmarks_tracked=True,
            ),
            **facts(ops__rollback_tested_at=(NOW - timedelta(days=20)).isoformat()),
        },
    )

    result = evaluate(DEFAULT_RUBRIC, ready, {}, {}, NOW)

    assert result.gate_passed, result.blockers
    assert result.score == 100
    assert result.level == Level.production_ready
    assert {s.key: s.score for s in result.sections}["scaling"] is None


def test_rubric_problems_are_reported() -> None:
    broken = Rubric(
        "broken",
        1,
        (Section("a", "A"), Section("a", "A again"), Section("empty", "Empty", 0)),
        (
            Criterion("a.one", "a", "One"),
            Criterion("a.one", "a", "One again"),
            Criterion("x.two", "nowhere", "Two", check=FieldCheck("salary", "present")),
        ),
    )

    problems = rubric_problems(broken)

    assert "section 'a' is defined twice" in problems
    assert "criterion 'a.one' is defined twice" in problems
    assert "criterion 'x.two': unknown section 'nowhere'" in problems
    assert "criterion 'x.two': unknown project field 'salary'" in problems
    assert "section 'empty': weight must be positive" in problems
    assert "section 'empty' has no criteria" in problems


statuses = st.sampled_from(["met", "partial", "not_met", "not_applicable"])


@given(st.lists(statuses, min_size=4, max_size=4), st.sampled_from(list(Aggregation)))
def test_the_score_stays_within_0_and_100(picked: list[str], aggregation: Aggregation) -> None:
    rubric = Rubric("r", 1, TWO_SECTIONS.sections, TWO_SECTIONS.criteria, aggregation)
    keys = [c.key for c in rubric.criteria]

    result = evaluate(rubric, snapshot(), {k: Answer(s) for k, s in zip(keys, picked, strict=True)}, {}, NOW)  # type: ignore[arg-type]

    assert 0 <= result.score <= 100


@given(st.lists(statuses, min_size=4, max_size=4), st.integers(min_value=0, max_value=3))
def test_meeting_one_more_criterion_never_lowers_the_score(picked: list[str], index: int) -> None:
    keys = [c.key for c in TWO_SECTIONS.criteria]
    before = {k: Answer(s) for k, s in zip(keys, picked, strict=True)}  # type: ignore[arg-type]
    if picked[index] == "not_applicable":
        return
    after = {**before, keys[index]: Answer("met")}

    assert (
        evaluate(TWO_SECTIONS, snapshot(), after, {}, NOW).score
        >= evaluate(TWO_SECTIONS, snapshot(), before, {}, NOW).score
    )


@given(st.lists(statuses, min_size=4, max_size=4), st.sets(st.sampled_from([c.key for c in TWO_SECTIONS.criteria])))
def test_exempt_criteria_never_block_the_gate(picked: list[str], exempt: set[str]) -> None:
    keys = [c.key for c in TWO_SECTIONS.criteria]
    result = evaluate(
        TWO_SECTIONS,
        snapshot(),
        {k: Answer(s) for k, s in zip(keys, picked, strict=True)},  # type: ignore[arg-type]
        dict.fromkeys(exempt, Exemption("exempt", NOW + timedelta(days=30))),
        NOW,
    )

    assert not {b.criterion for b in result.blockers} & exempt
    assert result.gate_passed == ("b.gate" in exempt or picked[3] == "met")


def _reweighed(rubric: Rubric) -> Rubric:
    return replace(
        rubric,
        version=rubric.version + 1,
        aggregation=Aggregation.min_section,
        sections=tuple(replace(section, weight=section.weight + 2) for section in rubric.sections),
        criteria=tuple(replace(criterion, weight=criterion.weight * 3, guidance="") for criterion in rubric.criteria),
    )


def test_a_version_changing_only_weights_and_aggregation_decides_every_criterion_alike() -> None:
    assert same_statuses(DEFAULT_RUBRIC, _reweighed(DEFAULT_RUBRIC))


@pytest.mark.parametrize(
    "change",
    [
        {"title": "Renamed"},
        {"gate": True},
        {"applies_from": Stage.production},
        {"section": "scaling"},
        {"check": FieldCheck("description", "present")},
    ],
)
def test_a_version_changing_what_decides_a_criterion_or_what_it_shows_is_scored_afresh(change: dict[str, Any]) -> None:
    first, *rest = DEFAULT_RUBRIC.criteria
    changed = replace(DEFAULT_RUBRIC, criteria=(replace(first, **change), *rest))

    assert not same_statuses(DEFAULT_RUBRIC, changed)


def test_reweighing_stored_results_gives_what_a_fresh_evaluation_gives() -> None:
    project = snapshot(
        production_since=NOW - timedelta(days=90),
        stage=Stage.production,
        facts=facts(security__review_completed=True, ops__monitoring_enabled=True),
    )
    before = evaluate(DEFAULT_RUBRIC, project, {}, {}, NOW)
    after = _reweighed(DEFAULT_RUBRIC)
    fresh = evaluate(after, project, {}, {}, NOW)

    assert aggregate(after, project.stage, before.criteria, before.deadlines) == fresh
    statuses = {result.key: result.status for result in before.criteria}
    weighed = weigh(after, project.stage, statuses, before.blockers, before.deadlines)
    assert weighed == Weighing(**{field.name: getattr(fresh, field.name) for field in fields(Weighing)})
    assert weighed.score != before.score
