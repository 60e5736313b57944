from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.engine.kpi import KpiCategory
from app.engine.stages import Stage
from app.engine.stall import (
    DEFAULT_STAGE_LIMITS_DAYS,
    Deployment,
    Pattern,
    ProjectProfile,
    Risk,
    diagnose,
    focus,
    focus_ends,
    quiet_from,
    risk_when,
    static_signals,
)

NOW = datetime(2026, 11, 26, tzinfo=UTC)
HEALTHY = ProjectProfile(
    stage=Stage.pilot,
    stage_entered_at=NOW - timedelta(days=20),
    workflow="Route incoming motor claims",
    has_business_owner=True,
    has_technical_owner=True,
    vendor_led=False,
    stakeholder_roles=frozenset({"business", "engineering"}),
    deployment_target="vpc",
    same_runtime_as_production=True,
    kpi_categories=(KpiCategory.cost,),
    last_measured_at=NOW - timedelta(days=2),
    last_evaluated_at=NOW - timedelta(days=5),
)


def signals_of(project: ProjectProfile) -> dict[str, Pattern]:
    return {signal.dimension: signal.pattern for signal in diagnose(project, NOW).signals}


def test_a_healthy_project_follows_the_successful_teams() -> None:
    diagnosis = diagnose(HEALTHY, NOW)

    assert diagnosis.risk == Risk.low
    assert set(signals_of(HEALTHY).values()) == {Pattern.successful}


def test_accuracy_alone_no_business_owner_and_a_notebook_is_high_risk_with_reasons() -> None:
    project = replace(
        HEALTHY,
        kpi_categories=(KpiCategory.model_accuracy,),
        has_business_owner=False,
        stakeholder_roles=frozenset({"data_science"}),
        deployment_target="notebook",
        same_runtime_as_production=None,
    )

    diagnosis = diagnose(project, NOW)
    reasons = {s.dimension: s.reason for s in diagnosis.signals if s.pattern == Pattern.stalled}

    assert diagnosis.risk == Risk.high
    assert reasons == {
        "success_metric": "measured by model accuracy alone, no business KPI",
        "ownership": "IT-only: no business owner or business stakeholder",
        "infrastructure": "built on a notebook, a separate POC environment",
    }


@pytest.mark.parametrize(
    ("change", "dimension", "pattern"),
    [
        ({"workflow": None}, "scope", Pattern.stalled),
        ({"workflow": "   "}, "scope", Pattern.stalled),
        ({"kpi_categories": ()}, "success_metric", Pattern.stalled),
        ({"kpi_categories": (KpiCategory.adoption,)}, "success_metric", Pattern.stalled),
        ({"kpi_categories": (KpiCategory.model_accuracy, KpiCategory.risk)}, "success_metric", Pattern.successful),
        ({"vendor_led": True}, "ownership", Pattern.stalled),
        ({"has_technical_owner": False, "stakeholder_roles": frozenset({"business"})}, "ownership", Pattern.unknown),
        (
            {"has_business_owner": False, "stakeholder_roles": frozenset({"business", "data_science"})},
            "ownership",
            Pattern.successful,
        ),
        ({"deployment_target": "external_api"}, "infrastructure", Pattern.stalled),
        ({"same_runtime_as_production": False}, "infrastructure", Pattern.stalled),
        ({"deployment_target": "public_cloud"}, "infrastructure", Pattern.unknown),
        ({"deployment_target": None}, "infrastructure", Pattern.unknown),
        ({"stage_entered_at": NOW - timedelta(days=121)}, "inactivity", Pattern.stalled),
        ({"last_measured_at": NOW - timedelta(days=31)}, "inactivity", Pattern.stalled),
        ({"last_evaluated_at": NOW - timedelta(days=91)}, "inactivity", Pattern.stalled),
        ({"stage": Stage.production, "stage_entered_at": NOW - timedelta(days=900)}, "inactivity", Pattern.successful),
    ],
)
def test_each_signal(change: dict[str, object], dimension: str, pattern: Pattern) -> None:
    assert signals_of(replace(HEALTHY, **change))[dimension] == pattern  # type: ignore[arg-type]


def test_stage_limits_are_configurable() -> None:
    project = replace(HEALTHY, stage=Stage.idea, stage_entered_at=NOW - timedelta(days=45))

    assert signals_of(project)["inactivity"] == Pattern.successful
    assert diagnose(project, NOW, {Stage.idea: 30}).signals[-1].pattern == Pattern.stalled


def test_an_idea_is_not_expected_to_measure_or_be_evaluated() -> None:
    idea = replace(
        HEALTHY,
        stage=Stage.idea,
        stage_entered_at=NOW - timedelta(days=40),
        last_measured_at=None,
        last_evaluated_at=None,
    )

    assert signals_of(idea)["inactivity"] == Pattern.successful
    assert quiet_from(idea) is None


def test_one_stalled_signal_is_medium_three_unknowns_are_medium_two_stalled_are_high() -> None:
    one = replace(HEALTHY, workflow=None)
    unknowns = replace(
        HEALTHY,
        has_technical_owner=False,
        stakeholder_roles=frozenset({"business"}),
        deployment_target=None,
        kpi_categories=(KpiCategory.cost,),
    )
    two = replace(HEALTHY, workflow=None, vendor_led=True)

    assert diagnose(one, NOW).risk == Risk.medium
    assert sum(p == Pattern.unknown for p in signals_of(unknowns).values()) == 2
    assert diagnose(replace(unknowns, deployment_target="public_cloud", same_runtime_as_production=None), NOW).risk == (
        Risk.low
    )
    assert diagnose(two, NOW).risk == Risk.high


def test_a_retired_project_is_not_stalling() -> None:
    retired = replace(HEALTHY, stage=Stage.retired, workflow=None, vendor_led=True)

    assert diagnose(retired, NOW).risk == Risk.low


moments = st.integers(min_value=0, max_value=400).map(lambda days: NOW - timedelta(days=days))


@given(
    stage=st.sampled_from(list(Stage)),
    entered=moments,
    measured=st.none() | moments,
    evaluated=st.none() | moments,
    workflow=st.sampled_from([None, "Claims"]),
    vendor=st.booleans(),
    later=st.integers(min_value=0, max_value=400),
)
def test_the_stored_form_gives_the_same_risk_as_the_diagnosis_at_any_later_time(
    stage: Stage,
    entered: datetime,
    measured: datetime | None,
    evaluated: datetime | None,
    workflow: str | None,
    vendor: bool,
    later: int,
) -> None:
    """What a status row stores (static signals, quiet_from, risk either way) settles to the risk
    `diagnose` computes, whenever it is read."""
    project = replace(
        HEALTHY,
        stage=stage,
        stage_entered_at=entered,
        last_measured_at=measured,
        last_evaluated_at=evaluated,
        workflow=workflow,
        vendor_led=vendor,
    )
    read_at = NOW + timedelta(days=later)
    limit = DEFAULT_STAGE_LIMITS_DAYS.get(stage)
    overdue = limit is not None and project.stage_entered_at < read_at - timedelta(days=limit)
    quiet = quiet_from(project)
    inactive = overdue or (quiet is not None and quiet < read_at)
    signals = static_signals(project)

    stored = risk_when(signals, inactive=inactive, retired=stage == Stage.retired)

    assert stored == diagnose(project, read_at).risk


# Focus: "resist the temptation to jump to entirely new use cases before the first one is stable".
FRESH = Deployment("claims-triage", NOW - timedelta(days=10))
SETTLED = Deployment("fraud-flags", NOW - timedelta(days=200))
UNTRAINED = Deployment("fraud-flags", NOW - timedelta(days=200), ("scaling.support_trained",))
NEW_POC = replace(HEALTHY, stage=Stage.poc, department_deployments=(FRESH,))


def test_a_poc_in_a_department_whose_deployment_is_ten_days_old_is_told_to_focus() -> None:
    diagnosis = diagnose(NEW_POC, NOW)
    found = focus(NEW_POC, NOW)

    assert found is not None
    assert found.pattern == Pattern.stalled
    assert found.reason == (
        "resist the temptation to jump to entirely new use cases before the first one is stable: "
        "claims-triage in production since 2026-11-16 (30 days on 2026-12-16)"
    )
    assert [s.dimension for s in diagnosis.signals][-2:] == ["focus", "inactivity"]
    assert diagnosis.risk == Risk.medium
    assert focus_ends(NEW_POC, NOW) == FRESH.since + timedelta(days=30)


def test_focus_ends_thirty_days_after_the_deployment_entered_production() -> None:
    later = FRESH.since + timedelta(days=30)

    assert focus(NEW_POC, later - timedelta(seconds=1)) is not None
    assert focus(NEW_POC, later) is None
    assert focus_ends(NEW_POC, later) is None


def test_unmet_runbooks_or_support_keep_a_deployment_unstable_however_old_it_is() -> None:
    project = replace(NEW_POC, department_deployments=(SETTLED, UNTRAINED))

    found = focus(project, NOW)

    assert found is not None
    assert "fraud-flags in production since 2026-05-10 (30 days on 2026-06-09), operations and support not trained" in (
        found.reason
    )
    assert focus_ends(project, NOW) is None


@pytest.mark.parametrize(
    "change",
    [
        {"stage": Stage.pilot},
        {"stage": Stage.production},
        {"department_deployments": ()},
        {"department_deployments": (SETTLED,)},
        {"replicates": True},
        {"expands": SETTLED},
    ],
)
def test_no_focus_signal_past_the_poc_in_a_settled_department_for_replicas_and_adjacent_expansions(
    change: dict[str, object],
) -> None:
    project = replace(NEW_POC, **change)  # type: ignore[arg-type]

    assert focus(project, NOW) is None
    assert "focus" not in signals_of(project)


def test_expanding_a_deployment_that_is_not_stable_yet_is_no_exemption_until_it_is() -> None:
    project = replace(NEW_POC, department_deployments=(UNTRAINED,), expands=FRESH)

    assert focus(project, NOW) is not None
    assert focus_ends(project, NOW) == FRESH.since + timedelta(days=30)
    assert focus(project, FRESH.since + timedelta(days=30)) is None
