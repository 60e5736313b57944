"""The default rubric, `ai-production-readiness` version 1, built from the playbook.

Each title keeps the playbook's own words. Published versions never change: a change to this
rubric is a new version, published by a migration of its own.
"""

from app.engine.checks import (
    AllOfCheck,
    AnyOfCheck,
    FactCheck,
    FactCondition,
    FactsCheck,
    FieldCheck,
    KpiCoverageCheck,
    KpiExistsCheck,
    RoiCheck,
    StageDurationCheck,
    StakeholderRolesCheck,
)
from app.engine.deployment import PRIVATE_TARGETS
from app.engine.kpi import BUSINESS_CATEGORIES, KpiCategory
from app.engine.scoring import Aggregation, Criterion, Reference, Rubric, Section
from app.engine.stages import Stage

KEY = "ai-production-readiness"
NAME = "AI production readiness"
DESCRIPTION = (
    "From proof of concept to production: stakeholders aligned early, production infrastructure from "
    "day one, ROI measured beyond accuracy, the go-live checklist, and scaling what works."
)
BUSINESS = tuple(category for category in KpiCategory if category in BUSINESS_CATEGORIES)

SECTIONS = (
    Section("stakeholders", "Aligning Stakeholders Early", 1),
    Section("infrastructure", "Infrastructure Decisions Matter Early", 1),
    Section("value", "Measuring ROI Beyond Accuracy", 1),
    Section("go_live", "Production Readiness Checklist: go-live criteria", 2),
    Section("scaling", "Scaling What Works", 1),
)

CRITERIA = (
    Criterion(
        "stakeholders.business_owner",
        "stakeholders",
        "A business owner is accountable for production outcomes",
        "Define a business owner who is accountable for production outcomes, not only for the demo.",
        applies_from=Stage.idea,
        check=FieldCheck("business_owner", "present", when_missing="not_met"),
    ),
    Criterion(
        "stakeholders.steering_committee",
        "stakeholders",
        "A steering committee includes business, engineering, security and legal from the start",
        "Record the committee as stakeholders with the roles business, engineering, security and legal.",
        applies_from=Stage.poc,
        check=StakeholderRolesCheck(("business", "engineering", "security", "legal"), partial_at_least=2),
    ),
    Criterion(
        "stakeholders.security_in_architecture",
        "stakeholders",
        "Security and compliance are included in architecture reviews from day one",
        "Post the fact governance.security_in_architecture_reviews.",
        applies_from=Stage.poc,
        check=FactCheck("governance.security_in_architecture_reviews", "is_true"),
    ),
    Criterion(
        "stakeholders.weekly_sync",
        "stakeholders",
        "Data science and the business domain team hold a weekly sync",
        "Set sync_cadence_days: 7 or less is met, up to 14 is partial.",
        applies_from=Stage.poc,
        check=FieldCheck("sync_cadence_days", "at_most", at_most=7, partial_at_most=14),
    ),
    Criterion(
        "stakeholders.go_no_go_point",
        "stakeholders",
        "A clear go/no-go decision point with defined criteria is set",
        "Set the planned decision_date; this rubric is the defined criteria.",
        applies_from=Stage.poc,
        check=FieldCheck("decision_date", "present", when_missing="not_met"),
    ),
    Criterion(
        "infrastructure.same_runtime",
        "infrastructure",
        "The same runtime environment serves the POC and production",
        "Avoid the painful migration from a notebook or an external API: build on the production runtime.",
        applies_from=Stage.poc,
        check=FieldCheck("deployment.same_runtime_as_production", "is_true"),
    ),
    Criterion(
        "infrastructure.private_deployment",
        "infrastructure",
        "Deployed inside your VPC or private cloud from the start",
        "deployment.target vpc, private_cloud, on_prem or air_gapped.",
        applies_from=Stage.poc,
        check=FieldCheck("deployment.target", "in", values=PRIVATE_TARGETS, when_missing="not_met"),
    ),
    Criterion(
        "infrastructure.observability_in_pilot",
        "infrastructure",
        "Logging and monitoring are implemented during the pilot, not after",
        "Post the facts ops.logging_enabled and ops.monitoring_enabled.",
        applies_from=Stage.pilot,
        check=FactsCheck(
            (FactCondition("ops.logging_enabled", "is_true"), FactCondition("ops.monitoring_enabled", "is_true"))
        ),
    ),
    Criterion(
        "infrastructure.sovereign_ready",
        "infrastructure",
        "The platform supports sovereign, air-gapped deployment",
        "deployment.sovereign true, or deployment.target air_gapped.",
        applies_from=Stage.poc,
        check=AnyOfCheck(
            (
                FieldCheck("deployment.sovereign", "is_true"),
                FieldCheck("deployment.target", "in", values=("air_gapped",), when_missing="not_met"),
            )
        ),
    ),
    Criterion(
        "value.business_kpi",
        "value",
        "Success is measured by a business KPI (cost, time, revenue, risk), not model accuracy alone",
        "Frame the project in cost reduction, time savings, revenue generation or risk mitigation.",
        applies_from=Stage.idea,
        check=KpiExistsCheck(BUSINESS),
        references=(Reference("NIST AI RMF", "MAP 1.3"),),
    ),
    Criterion(
        "value.targets_dated",
        "value",
        "Every business KPI has a baseline, a target and a target date",
        "Give every business KPI a target_date.",
        applies_from=Stage.poc,
        check=KpiCoverageCheck(BUSINESS, require=("target_date",)),
    ),
    Criterion(
        "value.measured_recently",
        "value",
        "Business KPIs are measured, the latest within 30 days",
        "Post measurements of every business KPI at least monthly.",
        applies_from=Stage.pilot,
        check=KpiCoverageCheck(BUSINESS, measured_within_days=30),
    ),
    Criterion(
        "value.positive_roi",
        "value",
        "Projected 12-month ROI is positive",
        "Record the project's costs and each KPI's value_per_unit.",
        applies_from=Stage.pilot,
        check=RoiCheck("projected", horizon_months=12, above_pct=0),
    ),
    Criterion(
        "go_live.kpis_defined",
        "go_live",
        "Business KPIs defined and measurable",
        "A business KPI with a baseline, a target and at least one measurement.",
        gate=True,
        applies_from=Stage.pilot,
        check=KpiExistsCheck(BUSINESS, require=("baseline", "target", "measurement")),
    ),
    Criterion(
        "go_live.security_review",
        "go_live",
        "Security and compliance review completed",
        "Post the facts security.review_completed and compliance.review_completed.",
        gate=True,
        applies_from=Stage.pilot,
        check=FactsCheck(
            (
                FactCondition("security.review_completed", "is_true"),
                FactCondition("compliance.review_completed", "is_true"),
            )
        ),
    ),
    Criterion(
        "go_live.monitoring_alerting",
        "go_live",
        "Monitoring, alerting, and escalation paths in place",
        "Post the facts ops.monitoring_enabled, ops.alerting_enabled and ops.escalation_path.",
        gate=True,
        applies_from=Stage.pilot,
        check=FactsCheck(
            (
                FactCondition("ops.monitoring_enabled", "is_true"),
                FactCondition("ops.alerting_enabled", "is_true"),
                FactCondition("ops.escalation_path", "non_empty"),
            )
        ),
        references=(Reference("ML Test Score", "Monitor 1–7"), Reference("NIST AI RMF", "MANAGE 4.1")),
    ),
    Criterion(
        "go_live.rollback_tested",
        "go_live",
        "Rollback procedure tested and documented",
        "Post ops.rollback_tested_at (a timestamp within 180 days) and ops.rollback_procedure_url.",
        gate=True,
        applies_from=Stage.pilot,
        check=FactCheck(
            "ops.rollback_tested_at",
            "within_days",
            value=180,
            also=(FactCondition("ops.rollback_procedure_url", "non_empty"),),
        ),
    ),
    Criterion(
        "go_live.ops_trained",
        "go_live",
        "Operations team trained and runbook available",
        "Post the facts ops.team_trained and ops.runbook_url.",
        gate=True,
        applies_from=Stage.pilot,
        check=FactsCheck((FactCondition("ops.team_trained", "is_true"), FactCondition("ops.runbook_url", "non_empty"))),
    ),
    Criterion(
        "go_live.performance_benchmarks",
        "go_live",
        "Performance benchmarks established and tracked",
        "Post the fact perf.benchmarks_tracked.",
        gate=True,
        applies_from=Stage.pilot,
        check=FactCheck("perf.benchmarks_tracked", "is_true"),
    ),
    Criterion(
        "scaling.runbooks_documented",
        "scaling",
        "The first production deployment is stable and its runbooks are documented",
        "ops.runbook_url set, and in production (or scaling) for at least 30 days.",
        applies_from=Stage.production,
        check=AllOfCheck(
            (
                FactCheck("ops.runbook_url", "non_empty"),
                StageDurationCheck((Stage.production, Stage.scaling), at_least_days=30),
            )
        ),
    ),
    Criterion(
        "scaling.support_trained",
        "scaling",
        "Operations and support teams are trained on the new workflow",
        "Post the fact support.team_trained.",
        applies_from=Stage.production,
        check=FactCheck("support.team_trained", "is_true"),
    ),
    Criterion(
        "scaling.adjacent_use_cases",
        "scaling",
        "Expansion goes to adjacent use cases within the same domain",
        "Attested: resist jumping to entirely new use cases before the first one is stable.",
        applies_from=Stage.production,
    ),
    Criterion(
        "scaling.same_infrastructure",
        "scaling",
        "Replication across departments or geographies uses the same infrastructure",
        "Attested.",
        applies_from=Stage.production,
    ),
)

DEFAULT_RUBRIC = Rubric(KEY, 1, SECTIONS, CRITERIA, Aggregation.weighted_mean)
