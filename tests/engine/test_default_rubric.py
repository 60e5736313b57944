"""The default rubric, criterion by criterion, exactly as RUBRIC.md specifies it."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.engine.checks import (
    AdjacentInDomainCheck,
    CheckStatus,
    FactObservation,
    ProjectSnapshot,
    RelatedProject,
    ReplicasOnPlatformCheck,
)
from app.engine.default_rubric import DEFAULT_RUBRIC
from app.engine.frameworks import Framework
from app.engine.kpi import KpiCategory
from app.engine.roi import ProjectCosts
from app.engine.scoring import Aggregation, rubric_problems
from app.engine.stages import Stage
from app.engine.verdicts import run_check
from tests.engine.snapshots import NOW, facts, kpi, snapshot

CRITERIA = {criterion.key: criterion for criterion in DEFAULT_RUBRIC.criteria}


def status_of(key: str, project: ProjectSnapshot) -> CheckStatus:
    check = CRITERIA[key].check
    assert check is not None
    return run_check(check, project, NOW).status


def test_sections_weights_and_criteria_are_those_of_the_rubric() -> None:
    assert [(s.key, s.weight) for s in DEFAULT_RUBRIC.sections] == [
        ("stakeholders", 1),
        ("infrastructure", 1),
        ("value", 1),
        ("go_live", 2),
        ("scaling", 1),
    ]
    assert DEFAULT_RUBRIC.aggregation == Aggregation.weighted_mean
    assert rubric_problems(DEFAULT_RUBRIC) == []
    assert all(criterion.weight == 1 for criterion in DEFAULT_RUBRIC.criteria)
    expected = {
        "stakeholders.business_owner": ("idea", False),
        "stakeholders.steering_committee": ("poc", False),
        "stakeholders.security_in_architecture": ("poc", False),
        "stakeholders.weekly_sync": ("poc", False),
        "stakeholders.go_no_go_point": ("poc", False),
        "infrastructure.same_runtime": ("poc", False),
        "infrastructure.private_deployment": ("poc", False),
        "infrastructure.observability_in_pilot": ("pilot", False),
        "infrastructure.sovereign_ready": ("poc", False),
        "value.business_kpi": ("idea", False),
        "value.targets_dated": ("poc", False),
        "value.measured_recently": ("pilot", False),
        "value.positive_roi": ("pilot", False),
        "go_live.kpis_defined": ("pilot", True),
        "go_live.security_review": ("pilot", True),
        "go_live.monitoring_alerting": ("pilot", True),
        "go_live.rollback_tested": ("pilot", True),
        "go_live.ops_trained": ("pilot", True),
        "go_live.performance_benchmarks": ("pilot", True),
        "scaling.runbooks_documented": ("production", False),
        "scaling.support_trained": ("production", False),
        "scaling.adjacent_use_cases": ("production", False),
        "scaling.same_infrastructure": ("production", False),
    }
    assert {k: (c.applies_from.value, c.gate) for k, c in CRITERIA.items()} == expected
    assert CRITERIA["scaling.adjacent_use_cases"].check == AdjacentInDomainCheck()
    assert CRITERIA["scaling.same_infrastructure"].check == ReplicasOnPlatformCheck()


def test_titles_keep_the_playbooks_words() -> None:
    assert CRITERIA["go_live.monitoring_alerting"].title == "Monitoring, alerting, and escalation paths in place"
    assert CRITERIA["go_live.rollback_tested"].title == "Rollback procedure tested and documented"
    assert CRITERIA["stakeholders.business_owner"].title == "A business owner is accountable for production outcomes"


def test_references_are_the_crosswalk_and_only_where_the_match_is_honest() -> None:
    referenced = {k: [(r.framework, r.id) for r in c.references] for k, c in CRITERIA.items() if c.references}

    assert DEFAULT_RUBRIC.version == 4
    assert sum(len(found) for found in referenced.values()) == 43
    assert len(referenced) == 18
    assert set(CRITERIA) - set(referenced) == {
        "infrastructure.private_deployment",
        "infrastructure.sovereign_ready",
        "value.targets_dated",
        "scaling.adjacent_use_cases",
        "scaling.same_infrastructure",
    }
    assert referenced["value.business_kpi"][0] == (Framework.nist_ai_rmf, "MAP 1.4")
    assert (Framework.nist_ai_rmf, "MANAGE 4.1") in referenced["go_live.monitoring_alerting"]
    assert (Framework.ml_test_score, "Monitor 1–7") in referenced["go_live.monitoring_alerting"]


def test_every_eu_ai_act_article_but_art_4_says_it_binds_only_high_risk_systems() -> None:
    articles = [r for c in DEFAULT_RUBRIC.criteria for r in c.references if r.framework == Framework.eu_ai_act]

    assert len(articles) == 8
    for article in articles:
        if article.id == "Art. 4":
            assert article.note is None
            assert article.high_risk_only is False
        else:
            assert article.note is not None
            assert "high-risk" in article.note
            assert article.high_risk_only is True
    others = [r for c in DEFAULT_RUBRIC.criteria for r in c.references if r.framework != Framework.eu_ai_act]
    assert not any(reference.high_risk_only for reference in others)


OWNER = {"name": "Ana", "email": "ana@example.com"}


@pytest.mark.parametrize(
    ("key", "fields", "expected"),
    [
        ("stakeholders.business_owner", {"business_owner": OWNER}, CheckStatus.met),
        ("stakeholders.business_owner", {"business_owner": None}, CheckStatus.not_met),
        ("stakeholders.weekly_sync", {"sync_cadence_days": 7}, CheckStatus.met),
        ("stakeholders.weekly_sync", {"sync_cadence_days": 14}, CheckStatus.partial),
        ("stakeholders.weekly_sync", {"sync_cadence_days": 15}, CheckStatus.not_met),
        ("stakeholders.weekly_sync", {}, CheckStatus.no_data),
        ("stakeholders.go_no_go_point", {"decision_date": "2027-03-31"}, CheckStatus.met),
        ("stakeholders.go_no_go_point", {}, CheckStatus.not_met),
        ("infrastructure.same_runtime", {"deployment.same_runtime_as_production": True}, CheckStatus.met),
        ("infrastructure.same_runtime", {"deployment.same_runtime_as_production": False}, CheckStatus.not_met),
        ("infrastructure.same_runtime", {}, CheckStatus.no_data),
        ("infrastructure.private_deployment", {"deployment.target": "vpc"}, CheckStatus.met),
        ("infrastructure.private_deployment", {"deployment.target": "on_prem"}, CheckStatus.met),
        ("infrastructure.private_deployment", {"deployment.target": "notebook"}, CheckStatus.not_met),
        ("infrastructure.private_deployment", {}, CheckStatus.not_met),
        ("infrastructure.sovereign_ready", {"deployment.sovereign": True}, CheckStatus.met),
        ("infrastructure.sovereign_ready", {"deployment.target": "air_gapped"}, CheckStatus.met),
        (
            "infrastructure.sovereign_ready",
            {"deployment.target": "vpc", "deployment.sovereign": False},
            CheckStatus.not_met,
        ),
        ("infrastructure.sovereign_ready", {}, CheckStatus.not_met),
    ],
)
def test_project_field_checks(key: str, fields: dict[str, Any], expected: CheckStatus) -> None:
    assert status_of(key, snapshot(fields=fields)) == expected


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ({"business", "engineering", "security", "legal"}, CheckStatus.met),
        ({"business", "engineering", "security", "legal", "operations"}, CheckStatus.met),
        ({"business", "engineering", "security"}, CheckStatus.partial),
        ({"business", "legal"}, CheckStatus.partial),
        ({"business", "data_science", "operations"}, CheckStatus.not_met),
        (set(), CheckStatus.not_met),
    ],
)
def test_steering_committee_counts_the_four_roles(roles: set[str], expected: CheckStatus) -> None:
    assert status_of("stakeholders.steering_committee", snapshot(stakeholder_roles=frozenset(roles))) == expected


@pytest.mark.parametrize(
    ("key", "posted", "expected"),
    [
        (
            "stakeholders.security_in_architecture",
            {"governance__security_in_architecture_reviews": True},
            CheckStatus.met,
        ),
        (
            "stakeholders.security_in_architecture",
            {"governance__security_in_architecture_reviews": False},
            CheckStatus.not_met,
        ),
        ("stakeholders.security_in_architecture", {}, CheckStatus.no_data),
        (
            "infrastructure.observability_in_pilot",
            {"ops__logging_enabled": True, "ops__monitoring_enabled": True},
            CheckStatus.met,
        ),
        (
            "infrastructure.observability_in_pilot",
            {"ops__logging_enabled": True, "ops__monitoring_enabled": False},
            CheckStatus.partial,
        ),
        ("infrastructure.observability_in_pilot", {"ops__monitoring_enabled": True}, CheckStatus.partial),
        (
            "infrastructure.observability_in_pilot",
            {"ops__logging_enabled": False, "ops__monitoring_enabled": False},
            CheckStatus.not_met,
        ),
        ("infrastructure.observability_in_pilot", {}, CheckStatus.no_data),
        (
            "go_live.security_review",
            {"security__review_completed": True, "compliance__review_completed": True},
            CheckStatus.met,
        ),
        ("go_live.security_review", {"security__review_completed": True}, CheckStatus.partial),
        (
            "go_live.security_review",
            {"security__review_completed": False, "compliance__review_completed": False},
            CheckStatus.not_met,
        ),
        ("go_live.security_review", {}, CheckStatus.no_data),
        (
            "go_live.monitoring_alerting",
            {
                "ops__monitoring_enabled": True,
                "ops__alerting_enabled": True,
                "ops__escalation_path": "pagerduty:claims",
            },
            CheckStatus.met,
        ),
        (
            "go_live.monitoring_alerting",
            {"ops__monitoring_enabled": True, "ops__alerting_enabled": True, "ops__escalation_path": ""},
            CheckStatus.partial,
        ),
        (
            "go_live.monitoring_alerting",
            {"ops__monitoring_enabled": False, "ops__alerting_enabled": False},
            CheckStatus.not_met,
        ),
        ("go_live.monitoring_alerting", {}, CheckStatus.no_data),
        (
            "go_live.ops_trained",
            {"ops__team_trained": True, "ops__runbook_url": "https://r.example.com"},
            CheckStatus.met,
        ),
        (
            "go_live.ops_trained",
            {"ops__team_trained": False, "ops__runbook_url": "https://r.example.com"},
            CheckStatus.partial,
        ),
        ("go_live.ops_trained", {"ops__team_trained": False}, CheckStatus.not_met),
        ("go_live.ops_trained", {}, CheckStatus.no_data),
        ("go_live.performance_benchmarks", {"perf__benchmarks_tracked": True}, CheckStatus.met),
        ("go_live.performance_benchmarks", {"perf__benchmarks_tracked": False}, CheckStatus.not_met),
        ("go_live.performance_benchmarks", {}, CheckStatus.no_data),
        ("scaling.support_trained", {"support__team_trained": True}, CheckStatus.met),
        ("scaling.support_trained", {"support__team_trained": False}, CheckStatus.not_met),
        ("scaling.support_trained", {}, CheckStatus.no_data),
    ],
)
def test_fact_checks(key: str, posted: dict[str, Any], expected: CheckStatus) -> None:
    assert status_of(key, snapshot(facts=facts(**posted))) == expected


def _rollback(tested_days_ago: int | None, url: str | None) -> dict[str, FactObservation]:
    posted: dict[str, FactObservation] = {}
    if tested_days_ago is not None:
        tested_at = (NOW - timedelta(days=tested_days_ago)).isoformat()
        posted["ops.rollback_tested_at"] = FactObservation(tested_at, NOW)
    if url is not None:
        posted["ops.rollback_procedure_url"] = FactObservation(url, NOW)
    return posted


@pytest.mark.parametrize(
    ("tested_days_ago", "url", "expected"),
    [
        (10, "https://wiki.example.com/rollback", CheckStatus.met),
        (180, "https://wiki.example.com/rollback", CheckStatus.met),
        (10, None, CheckStatus.partial),
        (181, "https://wiki.example.com/rollback", CheckStatus.not_met),
        (None, "https://wiki.example.com/rollback", CheckStatus.no_data),
        (None, None, CheckStatus.no_data),
    ],
)
def test_rollback_must_be_tested_within_180_days_and_documented(
    tested_days_ago: int | None, url: str | None, expected: CheckStatus
) -> None:
    assert status_of("go_live.rollback_tested", snapshot(facts=_rollback(tested_days_ago, url))) == expected


def test_a_rollback_timestamp_that_is_not_a_timestamp_is_not_met() -> None:
    posted = {"ops.rollback_tested_at": FactObservation("last week", NOW)}

    assert status_of("go_live.rollback_tested", snapshot(facts=posted)) == CheckStatus.not_met


ACCURACY = kpi("f1", category=KpiCategory.model_accuracy)


@pytest.mark.parametrize(
    ("key", "kpis", "expected"),
    [
        ("value.business_kpi", (kpi(),), CheckStatus.met),
        ("value.business_kpi", (kpi(category=KpiCategory.risk),), CheckStatus.met),
        ("value.business_kpi", (ACCURACY,), CheckStatus.not_met),
        ("value.business_kpi", (), CheckStatus.not_met),
        ("value.targets_dated", (kpi("a"), kpi("b")), CheckStatus.met),
        ("value.targets_dated", (kpi("a"), kpi("b", target_date=None)), CheckStatus.partial),
        ("value.targets_dated", (kpi("a", target_date=None),), CheckStatus.not_met),
        ("value.targets_dated", (ACCURACY,), CheckStatus.not_met),
        ("value.measured_recently", (kpi("a"), kpi("b")), CheckStatus.met),
        (
            "value.measured_recently",
            (kpi("a"), kpi("b", latest_measured_at=NOW - timedelta(days=31))),
            CheckStatus.partial,
        ),
        ("value.measured_recently", (kpi("a", latest_measured_at=None),), CheckStatus.not_met),
        ("value.measured_recently", (), CheckStatus.not_met),
        ("go_live.kpis_defined", (kpi(),), CheckStatus.met),
        ("go_live.kpis_defined", (kpi(latest_measured_at=None, latest_value=None),), CheckStatus.not_met),
        ("go_live.kpis_defined", (kpi(baseline=None),), CheckStatus.not_met),
        ("go_live.kpis_defined", (kpi("a", target=None), kpi("b")), CheckStatus.met),
        ("go_live.kpis_defined", (ACCURACY,), CheckStatus.not_met),
    ],
)
def test_kpi_checks(key: str, kpis: tuple[Any, ...], expected: CheckStatus) -> None:
    assert status_of(key, snapshot(kpis=kpis)) == expected


@pytest.mark.parametrize(
    ("kpis", "costs", "expected"),
    [
        ((kpi(),), ProjectCosts(Decimal(120000), Decimal(4000), "EUR"), CheckStatus.met),
        ((kpi(target=39.0),), ProjectCosts(Decimal(120000), Decimal(4000), "EUR"), CheckStatus.not_met),
        ((kpi(),), ProjectCosts(None, None, "EUR"), CheckStatus.no_data),
        ((kpi(value_per_unit=None),), ProjectCosts(Decimal(120000), None, "EUR"), CheckStatus.no_data),
    ],
)
def test_projected_roi_must_be_positive(kpis: tuple[Any, ...], costs: ProjectCosts, expected: CheckStatus) -> None:
    assert status_of("value.positive_roi", snapshot(kpis=kpis, costs=costs)) == expected


RUNBOOK = facts(ops__runbook_url="https://runbooks.example.com/claims")


@pytest.mark.parametrize(
    ("stage", "days_in_production", "posted", "expected"),
    [
        (Stage.production, 30, RUNBOOK, CheckStatus.met),
        (Stage.scaling, 90, RUNBOOK, CheckStatus.met),
        (Stage.production, 29, RUNBOOK, CheckStatus.partial),
        (Stage.production, 45, {}, CheckStatus.partial),
        (Stage.pilot, None, RUNBOOK, CheckStatus.partial),
        (Stage.production, 10, {}, CheckStatus.not_met),
    ],
)
def test_runbooks_documented_needs_a_runbook_and_30_days_in_production(
    stage: Stage, days_in_production: int | None, posted: dict[str, FactObservation], expected: CheckStatus
) -> None:
    since = NOW - timedelta(days=days_in_production) if days_in_production is not None else None
    project = snapshot(stage=stage, production_since=since, facts=posted)

    assert status_of("scaling.runbooks_documented", project) == expected


def test_reasons_name_what_the_check_saw() -> None:
    check = CRITERIA["go_live.rollback_tested"].check
    assert check is not None
    result = run_check(check, snapshot(facts=_rollback(200, None)), NOW)

    assert "ops.rollback_tested_at" in result.reason
    assert f"{(NOW - timedelta(days=200)).date().isoformat()} (limit 180 days, expired" in result.reason
    assert result.observed["ops.rollback_tested_at"] == (NOW - timedelta(days=200)).isoformat()


def test_a_rollback_dated_in_the_future_is_not_met_until_its_date_comes() -> None:
    criterion = CRITERIA["go_live.rollback_tested"]
    assert criterion.check is not None
    project = snapshot(facts=_rollback(-40, "https://wiki.example.com/rollback"))
    tested_at = NOW + timedelta(days=40)

    found = run_check(criterion.check, project, NOW)
    once_it_came = run_check(criterion.check, project, tested_at + timedelta(days=1))

    assert found.status == CheckStatus.not_met
    assert "in the future" in found.reason
    assert [deadline.at for deadline in found.deadlines] == [tested_at - timedelta(minutes=5)]
    assert once_it_came.status == CheckStatus.met


def replica(key: str, platform: str | None, region: str = "apac") -> RelatedProject:
    return RelatedProject(key, "claims", region, platform, "claims")


@pytest.mark.parametrize(
    ("platform", "replicas", "expected"),
    [
        ("claims-vpc", (replica("a", "claims-vpc"), replica("b", "claims-vpc", "americas")), CheckStatus.met),
        ("claims-vpc", (replica("a", "claims-vpc"), replica("b", "legacy-dc", "americas")), CheckStatus.partial),
        ("claims-vpc", (replica("a", "legacy-dc"), replica("b", None, "americas")), CheckStatus.not_met),
        ("claims-vpc", (), CheckStatus.no_data),
        (None, (replica("a", "claims-vpc"),), CheckStatus.no_data),
    ],
)
def test_same_infrastructure_compares_each_replicas_platform_with_its_own(
    platform: str | None, replicas: tuple[RelatedProject, ...], expected: CheckStatus
) -> None:
    project = snapshot(stage=Stage.production, platform=platform, replicas=replicas)

    assert status_of("scaling.same_infrastructure", project) == expected


def test_a_replica_elsewhere_is_named_with_both_platforms() -> None:
    check = CRITERIA["scaling.same_infrastructure"].check
    assert check is not None
    replicas = (replica("claims-triage-americas", "claims-vpc", "americas"), replica("claims-triage-apac", "apac-dc"))

    result = run_check(check, snapshot(platform="claims-vpc", replicas=replicas), NOW)

    assert result.status == CheckStatus.partial
    assert result.reason == (
        "1 of 2 replicas run on its platform claims-vpc (claims-triage-americas (claims, americas)); "
        "claims-triage-apac (claims, apac) runs on apac-dc"
    )
    assert result.observed["replicas"][1] == {
        "key": "claims-triage-apac",
        "department": "claims",
        "region": "apac",
        "platform": "apac-dc",
    }


@pytest.mark.parametrize(
    ("domain", "adjacent", "expected"),
    [
        ("claims", (RelatedProject("home-claims", "claims", "emea", None, "claims"),), CheckStatus.met),
        ("claims", (RelatedProject("pricing", "claims", "emea", None, "underwriting"),), CheckStatus.no_data),
        ("claims", (), CheckStatus.no_data),
        (None, (RelatedProject("home-claims", "claims", "emea", None, None),), CheckStatus.no_data),
    ],
)
def test_adjacent_use_cases_count_the_projects_adjacent_to_it_in_its_domain(
    domain: str | None, adjacent: tuple[RelatedProject, ...], expected: CheckStatus
) -> None:
    project = snapshot(stage=Stage.production, domain=domain, adjacent=adjacent)

    assert status_of("scaling.adjacent_use_cases", project) == expected
