"""The default rubric, `ai-production-readiness` version 4, built from the playbook.

Each title keeps the playbook's own words. Published versions never change: a change to this
rubric is a new version, published by a migration of its own that carries a copy of the data
(`migrations/data/`), so that this module can move on without rewriting history. Version 2 is
version 1 with the crosswalk to governance frameworks (`CROSSWALK.md`) as references. Version 3
turns the two scaling criteria that were attested only into checks over the projects' relations
(replicas and their platforms, adjacent use cases in the domain), and marks the EU AI Act
references that bind high-risk AI systems only as such. Version 4 requires evidence the service
holds for every go-live gate criterion attested `met` or `partial`: the committee's go cites what it
read, not a link that can change after the decision.
"""

from app.engine.checks import (
    AdjacentInDomainCheck,
    AllOfCheck,
    AnyOfCheck,
    FactCheck,
    FactCondition,
    FactsCheck,
    FieldCheck,
    KpiCoverageCheck,
    KpiExistsCheck,
    ReplicasOnPlatformCheck,
    RoiCheck,
    StageDurationCheck,
    StakeholderRolesCheck,
)
from app.engine.deployment import PRIVATE_TARGETS
from app.engine.frameworks import Framework, Strength
from app.engine.kpi import BUSINESS_CATEGORIES, KpiCategory
from app.engine.scoring import Aggregation, Criterion, Reference, Rubric, Section
from app.engine.stages import Stage

KEY = "ai-production-readiness"
VERSION = 4
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

HIGH_RISK_PROVIDERS = "Binds providers of high-risk AI systems only."
HIGH_RISK_DEPLOYERS = "Binds deployers of high-risk AI systems only."


def nist(identifier: str, strength: Strength, why: str) -> Reference:
    # NIST AI RMF subcategories have no short titles: the identifier is the reference.
    return Reference(Framework.nist_ai_rmf, identifier, None, strength, why)


def iso(identifier: str, title: str, strength: Strength, why: str) -> Reference:
    return Reference(Framework.iso_42001, identifier, title, strength, why)


def eu(identifier: str, title: str, strength: Strength, why: str, note: str | None = None) -> Reference:
    # The notes that say an article binds only high-risk AI systems are also said as a field, which
    # the framework views read.
    high_risk_only = note in (HIGH_RISK_PROVIDERS, HIGH_RISK_DEPLOYERS)
    return Reference(Framework.eu_ai_act, identifier, title, strength, why, note, high_risk_only)


def ml_test_score(identifier: str, title: str, strength: Strength, why: str) -> Reference:
    return Reference(Framework.ml_test_score, identifier, title, strength, why)


CRITERIA = (
    Criterion(
        "stakeholders.business_owner",
        "stakeholders",
        "A business owner is accountable for production outcomes",
        "Define a business owner who is accountable for production outcomes, not only for the demo.",
        applies_from=Stage.idea,
        check=FieldCheck("business_owner", "present", when_missing="not_met"),
        references=(
            nist(
                "GOVERN 2.1",
                Strength.moderate,
                (
                    "a named accountable owner is a documented role, but NIST scopes roles to AI risk, "
                    "not business outcomes"
                ),
            ),
            nist("GOVERN 2.3", Strength.moderate, "leadership-level accountability for the deployment decision"),
            iso(
                "A.3.2",
                "AI roles and responsibilities",
                Strength.moderate,
                "the control requires roles and responsibilities for AI to be defined and allocated",
            ),
        ),
    ),
    Criterion(
        "stakeholders.steering_committee",
        "stakeholders",
        "A steering committee includes business, engineering, security and legal from the start",
        "Record the committee as stakeholders with the roles business, engineering, security and legal.",
        applies_from=Stage.poc,
        check=StakeholderRolesCheck(("business", "engineering", "security", "legal"), partial_at_least=2),
        references=(
            nist(
                "MAP 1.2",
                Strength.moderate,
                "a documented cross-functional group (business, engineering, security, legal)",
            ),
            nist("GOVERN 3.1", Strength.moderate, "decisions informed by several disciplines"),
        ),
    ),
    Criterion(
        "stakeholders.security_in_architecture",
        "stakeholders",
        "Security and compliance are included in architecture reviews from day one",
        "Post the fact governance.security_in_architecture_reviews.",
        applies_from=Stage.poc,
        check=FactCheck("governance.security_in_architecture_reviews", "is_true"),
        references=(
            nist("MAP 1.6", Strength.moderate, "requirements (incl. security and privacy) taken into design decisions"),
            nist("GOVERN 1.1", Strength.moderate, "the compliance half of the criterion"),
        ),
    ),
    Criterion(
        "stakeholders.weekly_sync",
        "stakeholders",
        "Data science and the business domain team hold a weekly sync",
        "Set sync_cadence_days: 7 or less is met, up to 14 is partial.",
        applies_from=Stage.poc,
        check=FieldCheck("sync_cadence_days", "at_most", at_most=7, partial_at_most=14),
        references=(
            nist("MAP 1.2", Strength.weak, "collaboration between disciplines; no framework sets a meeting cadence"),
        ),
    ),
    Criterion(
        "stakeholders.go_no_go_point",
        "stakeholders",
        "A clear go/no-go decision point with defined criteria is set",
        "Set the planned decision_date; this rubric is the defined criteria.",
        applies_from=Stage.poc,
        check=FieldCheck("decision_date", "present", when_missing="not_met"),
        references=(
            nist(
                "MANAGE 1.1", Strength.strong, "an explicit proceed / do-not-proceed decision against stated objectives"
            ),
            iso(
                "A.6.2.5",
                "AI system deployment",
                Strength.moderate,
                (
                    "control statement asks for a documented deployment plan and that appropriate "
                    "requirements are met prior to deployment, i.e. defined release criteria"
                ),
            ),
        ),
    ),
    Criterion(
        "infrastructure.same_runtime",
        "infrastructure",
        "The same runtime environment serves the POC and production",
        "Avoid the painful migration from a notebook or an external API: build on the production runtime.",
        applies_from=Stage.poc,
        check=FieldCheck("deployment.same_runtime_as_production", "is_true"),
        references=(
            nist(
                "MEASURE 2.3",
                Strength.weak,
                (
                    "running the POC on the production runtime makes its results deployment-like; NIST "
                    "does not require one runtime"
                ),
            ),
        ),
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
        references=(
            nist("MEASURE 2.4", Strength.moderate, 'the monitoring half, but NIST says "in production", not pilot'),
            iso(
                "A.6.2.8",
                "AI system recording of event logs",
                Strength.strong,
                (
                    "the control has the organization decide at which life-cycle phases event logging "
                    'is enabled (at minimum while the system is in use), which is the "during the '
                    'pilot" point'
                ),
            ),
            eu(
                "Art. 12(1)",
                "Record-keeping",
                Strength.strong,
                (
                    '"High-risk AI systems shall technically allow for the automatic recording of '
                    'events (logs) over the lifetime of the system." (high-risk, provider)'
                ),
                note=HIGH_RISK_PROVIDERS,
            ),
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
        references=(
            nist("MAP 1.4", Strength.strong, "business value defined, not only model metrics"),
            nist("MAP 3.1", Strength.moderate, "benefits (cost, time, revenue, risk) documented"),
            ml_test_score(
                "Model 2",
                "Offline and online metrics correlate.",
                Strength.moderate,
                "ties model accuracy to the real impact metric",
            ),
        ),
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
        references=(
            nist(
                "MANAGE 2.2",
                Strength.moderate,
                "ongoing measurement of the value a deployed system delivers; no 30-day rule anywhere",
            ),
        ),
    ),
    Criterion(
        "value.positive_roi",
        "value",
        "Projected 12-month ROI is positive",
        "Record the project's costs and each KPI's value_per_unit.",
        applies_from=Stage.pilot,
        check=RoiCheck("projected", horizon_months=12, above_pct=0),
        references=(
            nist("MAP 3.1", Strength.moderate, "the benefit side of ROI"),
            nist(
                "MAP 3.2",
                Strength.moderate,
                "the cost side (NIST's costs are error and trust costs rather than build/run cost)",
            ),
        ),
    ),
    Criterion(
        "go_live.kpis_defined",
        "go_live",
        "Business KPIs defined and measurable",
        "A business KPI with a baseline, a target and at least one measurement.",
        gate=True,
        evidence_required=True,
        applies_from=Stage.pilot,
        check=KpiExistsCheck(BUSINESS, require=("baseline", "target", "measurement")),
        references=(
            nist(
                "MAP 1.4",
                Strength.moderate,
                'value clearly defined; "measurable" (baseline, target, a measurement) goes beyond it',
            ),
        ),
    ),
    Criterion(
        "go_live.security_review",
        "go_live",
        "Security and compliance review completed",
        "Post the facts security.review_completed and compliance.review_completed.",
        gate=True,
        evidence_required=True,
        applies_from=Stage.pilot,
        check=FactsCheck(
            (
                FactCondition("security.review_completed", "is_true"),
                FactCondition("compliance.review_completed", "is_true"),
            )
        ),
        references=(
            nist("MEASURE 2.7", Strength.strong, "the security review"),
            nist("GOVERN 1.1", Strength.moderate, "the compliance review"),
            eu(
                "Art. 43",
                "Conformity assessment",
                Strength.moderate,
                (
                    "the provider's pre-market check that the Chapter III Section 2 requirements (incl."
                    " Art. 15 cybersecurity) are met (Art. 16(f): before placing on the market or "
                    "putting into service); high-risk only"
                ),
                note=HIGH_RISK_PROVIDERS,
            ),
        ),
    ),
    Criterion(
        "go_live.monitoring_alerting",
        "go_live",
        "Monitoring, alerting, and escalation paths in place",
        "Post the facts ops.monitoring_enabled, ops.alerting_enabled and ops.escalation_path.",
        gate=True,
        evidence_required=True,
        applies_from=Stage.pilot,
        check=FactsCheck(
            (
                FactCondition("ops.monitoring_enabled", "is_true"),
                FactCondition("ops.alerting_enabled", "is_true"),
                FactCondition("ops.escalation_path", "non_empty"),
            )
        ),
        references=(
            nist("MANAGE 4.1", Strength.strong, "monitoring plan with incident response"),
            iso(
                "A.6.2.6",
                "AI system operation and monitoring",
                Strength.strong,
                (
                    "elements for ongoing operation, at minimum system and performance monitoring, "
                    "repairs, updates and support"
                ),
            ),
            eu(
                "Art. 26(5)",
                "Obligations of deployers of high-risk AI systems",
                Strength.moderate,
                (
                    "deployers monitor operation, inform the provider/market surveillance authority "
                    "without undue delay and suspend use on risk (an escalation path); the "
                    'provider-side duty is Art. 72 "Post-market monitoring"'
                ),
                note=HIGH_RISK_DEPLOYERS,
            ),
            ml_test_score(
                "Monitor 1–7", "Monitoring tests", Strength.strong, "the paper's monitoring-and-alerting section"
            ),
        ),
    ),
    Criterion(
        "go_live.rollback_tested",
        "go_live",
        "Rollback procedure tested and documented",
        "Post ops.rollback_tested_at (a timestamp within 180 days) and ops.rollback_procedure_url.",
        gate=True,
        evidence_required=True,
        applies_from=Stage.pilot,
        check=FactCheck(
            "ops.rollback_tested_at",
            "within_days",
            value=180,
            also=(FactCondition("ops.rollback_procedure_url", "non_empty"),),
        ),
        references=(
            nist("MANAGE 2.4", Strength.moderate, "a way to take a misbehaving version out of service"),
            eu(
                "Art. 15(4)",
                "Accuracy, robustness and cybersecurity",
                Strength.weak,
                (
                    '"The robustness of high-risk AI systems may be achieved through technical '
                    'redundancy solutions, which may include backup or fail-safe plans."'
                ),
                note=HIGH_RISK_PROVIDERS,
            ),
            ml_test_score("Infra 7", "Serving models can be rolled back.", Strength.strong, "same practice"),
        ),
    ),
    Criterion(
        "go_live.ops_trained",
        "go_live",
        "Operations team trained and runbook available",
        "Post the facts ops.team_trained and ops.runbook_url.",
        gate=True,
        evidence_required=True,
        applies_from=Stage.pilot,
        check=FactsCheck((FactCondition("ops.team_trained", "is_true"), FactCondition("ops.runbook_url", "non_empty"))),
        references=(
            nist(
                "MAP 3.4",
                Strength.strong,
                "operator and practitioner proficiency defined, assessed and documented: the training half",
            ),
            iso(
                "A.4.6",
                "Human resources",
                Strength.moderate,
                "document the people and competences used for deployment, operation, change management and maintenance",
            ),
            iso(
                "A.6.2.6",
                "AI system operation and monitoring",
                Strength.moderate,
                "the runbook half (documented elements for ongoing operation)",
            ),
            eu(
                "Art. 4",
                "AI literacy",
                Strength.moderate,
                (
                    'providers and deployers take measures for the AI literacy of "staff and other '
                    'persons dealing with the operation and use of AI systems on their behalf" (all AI '
                    "systems)"
                ),
            ),
        ),
    ),
    Criterion(
        "go_live.performance_benchmarks",
        "go_live",
        "Performance benchmarks established and tracked",
        "Post the fact perf.benchmarks_tracked.",
        gate=True,
        evidence_required=True,
        applies_from=Stage.pilot,
        check=FactCheck("perf.benchmarks_tracked", "is_true"),
        references=(
            nist("MEASURE 2.3", Strength.strong, "benchmarks set and documented"),
            eu(
                "Art. 15(1) and (3)",
                "Accuracy, robustness and cybersecurity",
                Strength.moderate,
                (
                    'appropriate accuracy "and that they perform consistently in those respects '
                    'throughout their lifecycle"; accuracy levels and metrics declared in the '
                    "instructions for use (high-risk)"
                ),
                note=HIGH_RISK_PROVIDERS,
            ),
            ml_test_score(
                "Monitor 6",
                "Computing performance has not regressed",
                Strength.strong,
                "when the benchmarks are latency, throughput or memory",
            ),
            ml_test_score(
                "Monitor 7",
                "Prediction quality has not regressed",
                Strength.strong,
                "when the benchmarks are prediction quality",
            ),
        ),
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
        references=(
            iso(
                "A.6.2.6",
                "AI system operation and monitoring",
                Strength.moderate,
                (
                    "documented elements for ongoing operation (monitoring, repairs, updates, support) "
                    "are what a runbook holds; stability for 30 days is not addressed"
                ),
            ),
            eu(
                "Art. 13(3)(e)",
                "Transparency and provision of information to deployers",
                Strength.weak,
                (
                    "the provider's instructions for use must state \"any necessary maintenance and care"
                    ' measures, including their frequency" (high-risk)'
                ),
                note=HIGH_RISK_PROVIDERS,
            ),
        ),
    ),
    Criterion(
        "scaling.support_trained",
        "scaling",
        "Operations and support teams are trained on the new workflow",
        "Post the fact support.team_trained.",
        applies_from=Stage.production,
        check=FactCheck("support.team_trained", "is_true"),
        references=(
            nist("MAP 3.4", Strength.moderate, "operator proficiency"),
            eu(
                "Art. 4",
                "AI literacy",
                Strength.moderate,
                "training measures for staff dealing with the operation and use of AI systems",
            ),
        ),
    ),
    Criterion(
        "scaling.adjacent_use_cases",
        "scaling",
        "Expansion goes to adjacent use cases within the same domain",
        (
            "Set domain on the project, and adjacent_to on the projects that expand it into a neighbouring "
            "workflow of the same domain; attested where none does. Resist jumping to entirely new use cases "
            "before the first one is stable."
        ),
        applies_from=Stage.production,
        check=AdjacentInDomainCheck(),
    ),
    Criterion(
        "scaling.same_infrastructure",
        "scaling",
        "Replication across departments or geographies uses the same infrastructure",
        (
            "Set platform on the project and on its replicas (the projects whose replica_of names it, in "
            "another department or region); attested where it has no replica or no platform."
        ),
        applies_from=Stage.production,
        check=ReplicasOnPlatformCheck(),
    ),
)

DEFAULT_RUBRIC = Rubric(KEY, VERSION, SECTIONS, CRITERIA, Aggregation.weighted_mean)
