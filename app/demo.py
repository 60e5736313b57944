"""A realistic portfolio for newcomers, built through the service's own API on a simulated clock.

Nothing is inserted behind the rules' back: every project, KPI, measurement, fact, evaluation,
decision and stage transition goes through the public API, so scores, gates, stall diagnoses and
histories are what the service itself makes of them. The service's clock is moved back
`HISTORY_DAYS` and forward step by step, one project at a time, so each project's history spreads
over months; a project is played out whole before the next begins, which keeps the stretch during
which a concurrently serving process sees it half-built (and "in the past") short.
"""

import random
import warnings
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import ApiKey
from app.auth.service import create_api_key, rotate_api_key
from app.core.clock import clock
from app.core.db import Database, make_engine
from app.core.identity import SYSTEM, Role
from app.core.settings import Settings
from app.main import create_app

with warnings.catch_warnings():
    # Starlette recommends httpx2, which is not a dependency; httpx still drives its test client.
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`", UserWarning)
    from starlette.testclient import TestClient

HISTORY_DAYS = 270
LAST_DAY = HISTORY_DAYS - 1
API = "/api/v1"
ADMIN_KEY_NAME = "demo-admin"
# A dashboard session opened with the previous run's key keeps working for a day.
ADMIN_ROTATION_GRACE = timedelta(days=1)
WRITER, RISK_OFFICE, STEERING = "demo-feeds", "demo-risk-office", "demo-steering-committee"
HELPER_ROLES = {WRITER: Role.writer, RISK_OFFICE: Role.approver, STEERING: Role.approver}
MEASUREMENT_EVERY_DAYS = 7
MEASUREMENTS_PER_DELIVERY = 2
EVALUATION_EVERY_DAYS = 45
ROLLBACK_RETEST_EVERY_DAYS = 90
CURRENCY = {"emea": "EUR", "americas": "USD", "apac": "EUR"}
# The hour of its first day at which a project is recorded.
CREATED_AT = 0.375


class DemoError(RuntimeError):
    """The service refused a step of the demo: the rules changed under it."""


@dataclass(frozen=True)
class KpiSpec:
    key: str
    name: str
    category: str
    unit: str
    direction: str
    baseline: float
    target: float
    value_per_unit: float | None = None
    # How far from the baseline towards the target the readings get by today: above 1 overshoots,
    # below 0 moves the wrong way.
    reach: float = 0.8


@dataclass(frozen=True)
class Move:
    day: int
    to: str
    reason: str | None = None


@dataclass(frozen=True)
class Spec:
    key: str
    name: str
    department: str
    region: str
    workflow: str | None
    kpis: tuple[KpiSpec, ...]
    path: tuple[Move, ...] = ()
    start: int = 0
    description: str | None = None
    business_owner: str | None = None
    technical_owner: str | None = None
    stakeholders: tuple[str, ...] = ("business", "engineering")
    vendor_led: bool = False
    target: str | None = "vpc"
    same_runtime: bool | None = True
    sovereign: bool = False
    sync_days: int | None = 7
    decision_in_days: int | None = 120
    build_cost: int = 150_000
    run_cost: int = 5_000
    # After this day nobody measures or evaluates the project any more.
    active_until: int = LAST_DAY
    missing_facts: frozenset[str] = frozenset()
    false_facts: frozenset[str] = frozenset()
    retest_rollback: bool = True
    attestations: tuple[tuple[int, str, str, str], ...] = ()
    no_go: tuple[int, str] | None = None
    # Scaling what works: the platform it runs on, its business domain, the use case it replicates
    # or expands, and its EU AI Act risk tier with the rationale the risk office records.
    platform: str | None = None
    domain: str | None = None
    replica_of: str | None = None
    adjacent_to: str | None = None
    risk: tuple[str, str] | None = None

    def entered(self, stage: str) -> int | None:
        return next((move.day for move in self.path if move.to == stage), None)

    def left(self, day: int) -> int:
        """The day the project leaves the stage it entered on `day` (or today)."""
        return next((move.day for move in self.path if move.day > day), LAST_DAY)

    @property
    def end(self) -> int:
        retired = self.entered("retired")
        return min(self.active_until, retired if retired is not None else LAST_DAY)


Action = Callable[["Callers"], None]


@dataclass(frozen=True)
class Event:
    at: float
    act: Action


@dataclass
class Story:
    """A project's life as dated calls, played in order of date."""

    events: list[Event] = field(default_factory=list)

    def on(self, day: float, act: Action) -> None:
        if day <= LAST_DAY:
            self.events.append(Event(day, act))


class Callers:
    """One client, several keys: the systems that post state, the risk office that attests and
    retires, and the steering committee that decides, so that four eyes hold."""

    def __init__(self, client: TestClient, secrets: dict[str, str]) -> None:
        self.client = client
        self.secrets = secrets

    def call(self, who: str, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.secrets[who]}"}
        if method == "PATCH":
            headers["Content-Type"] = "application/merge-patch+json"
        response = self.client.request(method, API + path, json=body, headers=headers)
        if response.status_code >= 300:
            raise DemoError(f"{method} {path}: {response.status_code} {response.text}")
        return dict(response.json()) if response.content else {}


PEOPLE = (
    "Ana Souza", "Bo Lee", "Carla Mendes", "Deniz Kaya", "Erik Lund", "Fatima Haddad", "Gil Cohen",
    "Hana Sato", "Ivan Petrov", "Julia Weber", "Kofi Mensah", "Lena Novak", "Marco Rossi", "Nina Berg",
    "Omar Farouk", "Priya Nair", "Quentin Roux", "Rosa Alvarez", "Sven Olsen", "Tara Singh",
    "Uma Patel", "Victor Dubois", "Wen Zhao", "Yusuf Demir", "Zoe Martin",
)  # fmt: skip


def _person(name: str) -> dict[str, str]:
    return {"name": name, "email": name.lower().replace(" ", ".") + "@example.com"}


# How far the story's last day lies from today: none, unless `build` is given another day.
_shift = {"days": timedelta()}


def _date(day: int) -> str:
    return (datetime.now(UTC) + _shift["days"] + timedelta(days=day - HISTORY_DAYS)).date().isoformat()


def _move_clock(day: float) -> None:
    clock.reset()
    clock.advance(_shift["days"] + timedelta(days=day - HISTORY_DAYS))


def _project_body(spec: Spec) -> dict[str, Any]:
    rng = random.Random(zlib.crc32(spec.key.encode()))
    people = rng.sample(PEOPLE, len(spec.stakeholders))
    poc = spec.entered("poc")
    return {
        "name": spec.name,
        "description": spec.description,
        "workflow": spec.workflow,
        "department": spec.department,
        "region": spec.region,
        "tags": ["demo", spec.department],
        "business_owner": _person(spec.business_owner) if spec.business_owner else None,
        "technical_owner": _person(spec.technical_owner) if spec.technical_owner else None,
        "vendor_led": spec.vendor_led,
        "stakeholders": [{"role": role, **_person(name)} for role, name in zip(spec.stakeholders, people, strict=True)],
        "deployment": {
            "target": spec.target,
            "same_runtime_as_production": spec.same_runtime,
            "sovereign": spec.sovereign,
        },
        "sync_cadence_days": spec.sync_days,
        "platform": spec.platform,
        "domain": spec.domain,
        "replica_of": spec.replica_of,
        "adjacent_to": spec.adjacent_to,
        "decision_date": _date((poc or spec.start) + spec.decision_in_days) if spec.decision_in_days else None,
        "costs": {
            "build_cost": spec.build_cost,
            "run_cost_per_month": spec.run_cost,
            "currency": CURRENCY[spec.region],
        },
    }


def _kpi_body(spec: Spec, kpi: KpiSpec) -> dict[str, Any]:
    return {
        "name": kpi.name,
        "category": kpi.category,
        "unit": kpi.unit,
        "direction": kpi.direction,
        "baseline": kpi.baseline,
        "target": kpi.target,
        "target_date": _date(spec.start + 365),
        "value_per_unit": kpi.value_per_unit,
    }


def _reading(kpi: KpiSpec, share: float, rng: random.Random) -> float:
    """Quick early gains that level off, with some week-to-week noise."""
    span = kpi.target - kpi.baseline
    value: float = kpi.baseline + span * kpi.reach * share**0.7 + rng.uniform(-1, 1) * abs(span) * 0.05
    return round(value, 3 if abs(span) < 1 else 1)


# Each fact with who posts it; gate facts arrive over the pilot in the order teams usually get
# them done: observability first, reviews midway, rollback, runbook and training last.
FACT_SOURCES = {
    "governance.security_in_architecture_reviews": "security-portal",
    "ops.logging_enabled": "grafana",
    "ops.monitoring_enabled": "grafana",
    "perf.benchmarks_tracked": "ci",
    "security.review_completed": "security-portal",
    "compliance.review_completed": "grc-tool",
    "ops.alerting_enabled": "pagerduty",
    "ops.escalation_path": "pagerduty",
    "ops.rollback_tested_at": "ci",
    "ops.rollback_procedure_url": "wiki",
    "ops.team_trained": "lms",
    "ops.runbook_url": "wiki",
    "support.team_trained": "lms",
}
PILOT_FACTS = (
    (0.05, ("ops.logging_enabled", "ops.monitoring_enabled")),
    (0.3, ("security.review_completed", "perf.benchmarks_tracked")),
    (0.6, ("compliance.review_completed", "ops.alerting_enabled", "ops.escalation_path")),
    (0.85, ("ops.rollback_tested_at", "ops.rollback_procedure_url", "ops.team_trained", "ops.runbook_url")),
)


def _fact_value(spec: Spec, name: str) -> bool | str:
    if name in spec.false_facts:
        return False
    if name == "ops.rollback_tested_at":
        return clock.now().isoformat()
    if name == "ops.escalation_path":
        return f"pagerduty: {spec.department}-ai-oncall"
    if name.endswith("_url"):
        return f"https://wiki.example.com/ai/{spec.key}/{name.removeprefix('ops.').removesuffix('_url')}"
    return True


Body = dict[str, Any] | Callable[[], dict[str, Any]]


def _send(who: str, method: str, path: str, body: Body | None = None) -> Action:
    """A call made when the story reaches it; a body given as a function is built then, on the
    simulated clock."""

    def send(callers: Callers) -> None:
        callers.call(who, method, path, body() if callable(body) else body)

    return send


def _decide(spec: Spec, decision: str, rationale: str) -> Action:
    def decide(callers: Callers) -> None:
        evaluation = callers.call(WRITER, "POST", f"/projects/{spec.key}/evaluations", {"evaluator": "go/no-go review"})
        body = {
            "evaluation_id": evaluation["id"],
            "decision": decision,
            "on_behalf_of": f"{spec.department.replace('-', ' ').capitalize()} steering committee",
            "rationale": rationale,
        }
        callers.call(STEERING, "POST", f"/projects/{spec.key}/decisions", body)

    return decide


def story(spec: Spec) -> Story:
    """The dated calls that make up the project's life; the hour within a day keeps their order."""
    s = Story()
    project = f"/projects/{spec.key}"
    s.on(spec.start + CREATED_AT, _send(WRITER, "PUT", project, lambda: _project_body(spec)))
    for kpi in spec.kpis:
        s.on(spec.start + 3.4, _send(WRITER, "PUT", f"{project}/kpis/{kpi.key}", _kpi_body(spec, kpi)))
    for move in spec.path:
        if move.to == "production":
            s.on(move.day + 0.45, _decide(spec, "go", "The gate passes and the business owner accepts the targets."))
        who = RISK_OFFICE if move.to == "retired" else WRITER
        s.on(move.day + 0.5, _send(who, "POST", f"{project}/stage-transitions", {"to": move.to, "reason": move.reason}))
    if spec.no_go is not None:
        s.on(spec.no_go[0] + 0.45, _decide(spec, "no_go", spec.no_go[1]))
    if spec.risk is not None:
        tier, rationale = spec.risk
        body = {"risk_tier": tier, "risk_rationale": rationale}
        s.on(spec.start + 1.5, _send(RISK_OFFICE, "PATCH", project, body))
    for day, criterion, status, note in spec.attestations:
        evidence = f"https://wiki.example.com/ai/{spec.key}/steering"
        body = {"status": status, "note": note, "evidence_url": evidence}
        s.on(day + 0.6, _send(RISK_OFFICE, "PUT", f"{project}/attestations/{criterion}", body))
    _facts(s, spec)
    _activity(s, spec)
    return s


def _facts(s: Story, spec: Spec) -> None:
    def post(day: float, name: str) -> None:
        if name not in spec.missing_facts:
            body = lambda: {"value": _fact_value(spec, name), "source": FACT_SOURCES[name]}  # noqa: E731
            s.on(day, _send(WRITER, "PUT", f"/projects/{spec.key}/facts/{name}", body))

    poc = spec.entered("poc")
    if poc is not None:
        post(poc + 2.4, "governance.security_in_architecture_reviews")
    pilot = spec.entered("pilot")
    if pilot is None:
        return
    span = spec.left(pilot) - pilot
    for share, names in PILOT_FACTS:
        for name in names:
            post(pilot + round(span * share) + 0.4, name)
    production = spec.entered("production")
    if production is None:
        return
    post(production + 20.4, "support.team_trained")
    if spec.retest_rollback:
        first = pilot + round(span * 0.85)
        for day in range(first + ROLLBACK_RETEST_EVERY_DAYS, spec.end, ROLLBACK_RETEST_EVERY_DAYS):
            post(day + 0.4, "ops.rollback_tested_at")


def _activity(s: Story, spec: Spec) -> None:
    """Weekly measurements, which the data warehouse sends every other week, and regular reviews,
    from the POC on, while somebody still cares."""
    poc = spec.entered("poc")
    if poc is None or not spec.kpis:
        return
    first = poc + MEASUREMENT_EVERY_DAYS
    rng = random.Random(zlib.crc32(spec.key.encode()))
    weeks: list[tuple[int, tuple[float, ...]]] = []
    for day in range(first, spec.end + 1, MEASUREMENT_EVERY_DAYS):
        share = (day - first) / max(LAST_DAY - first, 1)
        weeks.append((day, tuple(_reading(kpi, share, rng) for kpi in spec.kpis)))
    for start in range(0, len(weeks), MEASUREMENTS_PER_DELIVERY):
        delivery = weeks[start : start + MEASUREMENTS_PER_DELIVERY]
        s.on(delivery[-1][0] + 0.3, _send(WRITER, "POST", "/measurements:batch", _delivery(spec, delivery)))
    for day in range(poc + 21, spec.end + 1, EVALUATION_EVERY_DAYS):
        s.on(day + 0.42, _send(WRITER, "POST", f"/projects/{spec.key}/evaluations", {"evaluator": "steering review"}))


def _delivery(spec: Spec, weeks: list[tuple[int, tuple[float, ...]]]) -> Callable[[], dict[str, Any]]:
    """The measurements of a few weeks, dated back from the moment they are sent."""

    def body() -> dict[str, Any]:
        sent = weeks[-1][0]
        items = [
            {
                "project": spec.key,
                "kpi": kpi.key,
                "value": value,
                "measured_at": (clock.now() - timedelta(days=sent - day)).isoformat(),
                "source": "data-warehouse",
            }
            for day, values in weeks
            for kpi, value in zip(spec.kpis, values, strict=True)
        ]
        return {"items": items}

    return body


def _cost(key: str, name: str, unit: str, baseline: float, target: float, value: float, reach: float) -> KpiSpec:
    return KpiSpec(key, name, "cost", unit, "decrease", baseline, target, value, reach)


def _time(key: str, name: str, unit: str, baseline: float, target: float, value: float | None, reach: float) -> KpiSpec:
    return KpiSpec(key, name, "time", unit, "decrease", baseline, target, value, reach)


# The last stretch before go-live that stopped projects never reach.
NOT_READY_FOR_GO_LIVE = frozenset(
    {"ops.rollback_tested_at", "ops.rollback_procedure_url", "ops.team_trained", "ops.runbook_url"}
)
STEERING_COMMITTEE = ("business", "engineering", "security", "legal", "data_science")
CLAIMS_PLATFORM = "claims-vpc"
PLATFORMS = (
    {
        "key": CLAIMS_PLATFORM,
        "name": "Claims VPC platform",
        "deployment": {"target": "vpc", "same_runtime_as_production": True, "sovereign": True},
        "owner": _person("Gil Cohen"),
    },
)

# The playbook's two stories first, then a portfolio around them: every stage and department,
# some vendor-led, some with KPIs off track, some quietly abandoned.
PORTFOLIO: tuple[Spec, ...] = (
    Spec(
        "claims-triage",
        "Claims triage",
        "claims",
        "emea",
        workflow="Route incoming motor claims to the right handler",
        description="A narrow, high-value workflow owned jointly by the claims business and engineering.",
        business_owner="Ana Souza",
        technical_owner="Bo Lee",
        stakeholders=STEERING_COMMITTEE,
        sovereign=True,
        build_cost=180_000,
        run_cost=6_000,
        kpis=(
            _cost("handling-cost", "Handling cost per claim", "EUR per claim", 42, 28, 3_000, 0.95),
            _time("time-to-assign", "Time to assign a claim", "minutes", 180, 30, None, 1.05),
        ),
        path=(Move(14, "poc"), Move(75, "pilot"), Move(160, "production")),
        platform=CLAIMS_PLATFORM,
        domain="claims",
        risk=("minimal", "Routes claims to handlers; no decision about a natural person's access to a service."),
    ),
    # Once validated, claims triage is replicated to two regions on the same platform and expanded to
    # the neighbouring home-claims workflow: the playbook's section 5.
    Spec(
        "claims-triage-americas",
        "Claims triage, Americas",
        "claims",
        "americas",
        workflow="Route incoming motor claims to the right handler",
        description="Claims triage replicated for the Americas on the claims platform.",
        business_owner="Julia Weber",
        technical_owner="Bo Lee",
        stakeholders=STEERING_COMMITTEE,
        sovereign=True,
        build_cost=60_000,
        run_cost=4_000,
        start=163,
        kpis=(_cost("handling-cost", "Handling cost per claim", "USD per claim", 45, 30, 2_500, 0.9),),
        path=(Move(165, "poc"), Move(172, "pilot"), Move(185, "production")),
        platform=CLAIMS_PLATFORM,
        domain="claims",
        replica_of="claims-triage",
    ),
    Spec(
        "claims-triage-apac",
        "Claims triage, APAC",
        "claims",
        "apac",
        workflow="Route incoming motor claims to the right handler",
        description="Claims triage replicated for Asia-Pacific on the claims platform.",
        business_owner="Hana Sato",
        technical_owner="Bo Lee",
        stakeholders=STEERING_COMMITTEE,
        sovereign=True,
        build_cost=60_000,
        run_cost=4_000,
        start=168,
        kpis=(_cost("handling-cost", "Handling cost per claim", "EUR per claim", 40, 27, 2_000, 0.85),),
        path=(Move(170, "poc"), Move(180, "pilot"), Move(195, "production")),
        platform=CLAIMS_PLATFORM,
        domain="claims",
        replica_of="claims-triage",
    ),
    Spec(
        "home-claims-triage",
        "Home claims triage",
        "claims",
        "emea",
        workflow="Route incoming home insurance claims to the right handler",
        description="The adjacent workflow: home claims, by the team that runs motor claims triage.",
        business_owner="Ana Souza",
        technical_owner="Deniz Kaya",
        stakeholders=STEERING_COMMITTEE,
        start=205,
        kpis=(_time("time-to-assign", "Time to assign a home claim", "minutes", 240, 45, 800, 0.5),),
        path=(Move(215, "poc"), Move(245, "pilot")),
        platform=CLAIMS_PLATFORM,
        domain="claims",
        adjacent_to="claims-triage",
    ),
    Spec(
        "churn-prediction",
        "Churn prediction",
        "marketing",
        "emea",
        workflow=None,
        description="Predict which customers will churn, with the best model we can build.",
        technical_owner="Ivan Petrov",
        stakeholders=("engineering", "data_science"),
        target="notebook",
        same_runtime=False,
        sync_days=30,
        decision_in_days=None,
        build_cost=90_000,
        run_cost=2_000,
        kpis=(KpiSpec("auc", "Model AUC", "model_accuracy", "AUC", "increase", 0.71, 0.85, None, 0.9),),
        path=(Move(40, "poc"),),
        active_until=130,
        false_facts=frozenset({"governance.security_in_architecture_reviews"}),
    ),
    Spec(
        "claims-fraud-flags",
        "Claims fraud flags",
        "claims",
        "emea",
        workflow="Flag suspicious claims for the special investigations unit",
        business_owner="Carla Mendes",
        technical_owner="Deniz Kaya",
        stakeholders=STEERING_COMMITTEE,
        sovereign=True,
        build_cost=220_000,
        run_cost=7_000,
        kpis=(KpiSpec("fraud-leakage", "Fraud leakage", "risk", "kEUR per month", "decrease", 310, 220, 1_000, 1.0),),
        path=(Move(5, "poc"), Move(40, "pilot"), Move(110, "production"), Move(200, "scaling")),
        domain="claims",
        attestations=(
            (195, "scaling.adjacent_use_cases", "met", "Extended from motor to home and travel claims."),
            (195, "scaling.same_infrastructure", "met", "Nordics claims run on the same VPC platform."),
        ),
    ),
    Spec(
        "claims-document-extraction",
        "Claims document extraction",
        "claims",
        "americas",
        workflow="Read repair invoices and police reports attached to claims",
        business_owner="Erik Lund",
        stakeholders=("business", "engineering", "security"),
        vendor_led=True,
        target="public_cloud",
        kpis=(_time("minutes-per-claim", "Data entry time per claim", "minutes", 25, 8, 1_500, 0.55),),
        path=(Move(60, "poc"), Move(150, "pilot")),
        missing_facts=frozenset({"ops.rollback_tested_at", "ops.rollback_procedure_url", "ops.team_trained"}),
    ),
    Spec(
        "subrogation-recovery",
        "Subrogation recovery",
        "claims",
        "emea",
        workflow="Spot claims where a third party should pay",
        business_owner="Fatima Haddad",
        technical_owner="Gil Cohen",
        start=235,
        kpis=(
            KpiSpec(
                "recovered", "Recovered from third parties", "revenue", "kEUR per month", "increase", 120, 180, 1_000
            ),
        ),
    ),
    Spec(
        "claims-first-notice",
        "First notice of loss summaries",
        "claims",
        "emea",
        workflow="Summarise first-notice-of-loss calls for the claims handler",
        business_owner="Ines Duarte",
        technical_owner="Kofi Mensah",
        stakeholders=STEERING_COMMITTEE,
        kpis=(_time("handling-minutes", "Handling time per first notice", "minutes", 14, 8, 1_200, 0.9),),
        path=(Move(20, "poc"), Move(50, "pilot"), Move(85, "production")),
        # The rollback was tested once before go-live and never since: the gate lapses with time alone.
        retest_rollback=False,
    ),
    Spec(
        "underwriting-risk-scoring",
        "Underwriting risk scoring",
        "underwriting",
        "americas",
        workflow="Score commercial property submissions before an underwriter opens them",
        business_owner="Hana Sato",
        technical_owner="Julia Weber",
        stakeholders=STEERING_COMMITTEE,
        kpis=(KpiSpec("loss-ratio", "Loss ratio", "risk", "%", "decrease", 68, 62, 40_000, 0.6),),
        path=(Move(10, "poc"), Move(45, "pilot"), Move(95, "production")),
        # Nobody re-tested the rollback since the pilot: the gate lapses with time alone.
        retest_rollback=False,
    ),
    Spec(
        "submission-intake",
        "Submission intake",
        "underwriting",
        "emea",
        workflow="Extract broker submissions into the underwriting workbench",
        business_owner="Kofi Mensah",
        technical_owner="Lena Novak",
        stakeholders=("business", "engineering", "security"),
        kpis=(_time("quote-turnaround", "Quote turnaround", "hours", 48, 12, 800, 0.3),),
        path=(Move(50, "poc"), Move(170, "pilot")),
        missing_facts=frozenset({"compliance.review_completed"}),
    ),
    Spec(
        "property-image-risk",
        "Property image risk",
        "underwriting",
        "apac",
        workflow="Assess roof condition from aerial images",
        business_owner="Marco Rossi",
        technical_owner="Nina Berg",
        target="public_cloud",
        start=170,
        kpis=(
            KpiSpec("inspections-avoided", "Site inspections avoided", "cost", "per month", "increase", 0, 300, 150),
        ),
        path=(Move(200, "poc"),),
    ),
    Spec(
        "cyber-risk-pricing",
        "Cyber risk pricing",
        "underwriting",
        "americas",
        workflow="Price cyber cover for small businesses",
        business_owner="Omar Farouk",
        technical_owner="Priya Nair",
        kpis=(KpiSpec("hit-ratio", "Quote hit ratio", "revenue", "%", "increase", 18, 25, 5_000, 0.1),),
        path=(Move(20, "poc"), Move(150, "retired", "Data licensing costs more than the expected margin.")),
    ),
    Spec(
        "next-best-offer",
        "Next best offer",
        "marketing",
        "americas",
        workflow="Suggest the next product to offer when an agent renews a policy",
        business_owner="Quentin Roux",
        technical_owner="Rosa Alvarez",
        stakeholders=("business", "engineering", "legal"),
        kpis=(KpiSpec("cross-sell", "Cross-sell rate", "revenue", "%", "increase", 4, 6.5, 12_000, 0.7),),
        path=(Move(30, "poc"), Move(120, "pilot")),
        missing_facts=frozenset({"perf.benchmarks_tracked"}),
    ),
    Spec(
        "campaign-copy-genai",
        "Campaign copy generation",
        "marketing",
        "emea",
        workflow=None,
        description="Use generative AI across marketing.",
        business_owner="Sven Olsen",
        stakeholders=("business",),
        vendor_led=True,
        target="external_api",
        same_runtime=None,
        sync_days=None,
        decision_in_days=None,
        start=150,
        kpis=(KpiSpec("copy-quality", "Copy quality rating", "quality", "1-5", "increase", 3, 4.2),),
    ),
    Spec(
        "lead-scoring",
        "Lead scoring",
        "marketing",
        "apac",
        workflow="Rank inbound leads for the broker channel",
        business_owner="Tara Singh",
        technical_owner="Uma Patel",
        kpis=(KpiSpec("conversion", "Lead conversion", "revenue", "%", "increase", 9, 12, 6_000, -0.15),),
        path=(
            Move(15, "poc"),
            Move(90, "pilot"),
            Move(200, "retired", "No uplift over rules-based scoring after three months."),
        ),
        missing_facts=NOT_READY_FOR_GO_LIVE,
    ),
    Spec(
        "invoice-matching",
        "Invoice matching",
        "finance",
        "emea",
        workflow="Match supplier invoices to purchase orders and receipts",
        business_owner="Victor Dubois",
        technical_owner="Wen Zhao",
        stakeholders=STEERING_COMMITTEE,
        target="private_cloud",
        kpis=(
            _cost("cost-per-invoice", "Processing cost per invoice", "EUR", 6.5, 2.5, 20_000, 1.0),
            _time("cycle-time", "Invoice cycle time", "days", 9, 3, None, 0.9),
        ),
        path=(Move(0, "poc"), Move(35, "pilot"), Move(100, "production"), Move(180, "scaling")),
        attestations=(
            (175, "scaling.adjacent_use_cases", "met", "Credit notes next, same accounts payable team."),
            (175, "scaling.same_infrastructure", "met", "DACH entities onboarded on the same platform."),
        ),
    ),
    Spec(
        "expense-anomaly-detection",
        "Expense anomaly detection",
        "finance",
        "americas",
        workflow="Flag unusual employee expense claims before reimbursement",
        business_owner="Yusuf Demir",
        technical_owner="Zoe Martin",
        stakeholders=("business", "engineering", "security", "legal"),
        kpis=(KpiSpec("leakage", "Expense leakage", "risk", "kUSD per month", "decrease", 85, 50, 1_000, 0.8),),
        path=(Move(60, "poc"), Move(120, "pilot"), Move(210, "production")),
    ),
    Spec(
        "cash-flow-forecasting",
        "Cash-flow forecasting",
        "finance",
        "emea",
        workflow="Forecast 13-week cash positions for treasury",
        business_owner="Ana Souza",
        technical_owner="Erik Lund",
        kpis=(KpiSpec("forecast-error", "Forecast error (MAPE)", "quality", "%", "decrease", 14, 6, None, 0.6),),
        path=(Move(190, "poc"),),
        start=160,
    ),
    Spec(
        "revenue-reconciliation",
        "Revenue reconciliation",
        "finance",
        "apac",
        workflow="Reconcile premium receipts against policy ledgers",
        business_owner="Hana Sato",
        technical_owner="Gil Cohen",
        start=250,
        kpis=(_time("close-days", "Days to close", "days", 6, 3, 10_000, 0),),
    ),
    Spec(
        "it-ticket-routing",
        "IT ticket routing",
        "operations",
        "emea",
        workflow="Route service-desk tickets to the right resolver group",
        business_owner="Lena Novak",
        technical_owner="Marco Rossi",
        stakeholders=("business", "engineering", "security", "legal"),
        kpis=(_time("resolution-time", "Mean time to resolve", "hours", 20, 12, 2_500, 0.9),),
        path=(Move(25, "poc"), Move(70, "pilot"), Move(150, "production")),
    ),
    Spec(
        "predictive-maintenance",
        "Predictive maintenance",
        "operations",
        "americas",
        workflow="Predict HVAC failures in branch offices",
        business_owner="Nina Berg",
        technical_owner="Omar Farouk",
        kpis=(_cost("repair-cost", "Emergency repair cost", "kUSD per month", 40, 25, 1_000, 0.4),),
        path=(Move(20, "poc"), Move(90, "pilot"), Move(180, "poc", "The sensor data pipeline has to be rebuilt.")),
        missing_facts=NOT_READY_FOR_GO_LIVE,
    ),
    Spec(
        "supplier-risk-monitor",
        "Supplier risk monitor",
        "operations",
        "apac",
        workflow="Warn procurement about suppliers in financial distress",
        business_owner="Priya Nair",
        start=60,
        kpis=(KpiSpec("disruptions", "Supply disruptions", "risk", "per quarter", "decrease", 12, 6, 5_000),),
    ),
    Spec(
        "procurement-spend-analytics",
        "Procurement spend analytics",
        "operations",
        "emea",
        workflow=None,
        business_owner="Quentin Roux",
        start=30,
        kpis=(),
        path=(Move(90, "retired", "Duplicates the finance spend-cube initiative."),),
    ),
    Spec(
        "email-triage",
        "Customer email triage",
        "customer-service",
        "emea",
        workflow="Classify and route inbound customer emails",
        business_owner="Rosa Alvarez",
        technical_owner="Sven Olsen",
        stakeholders=STEERING_COMMITTEE,
        kpis=(_time("first-response", "Time to first response", "hours", 26, 4, 1_200, 0.95),),
        path=(Move(40, "poc"), Move(100, "pilot"), Move(190, "production")),
    ),
    Spec(
        "agent-assist",
        "Agent assist",
        "customer-service",
        "americas",
        workflow="Suggest answers to contact-centre agents during calls",
        business_owner="Tara Singh",
        stakeholders=("business", "engineering"),
        vendor_led=True,
        kpis=(_time("handle-time", "Average handle time", "minutes", 9.5, 7, 4_000, -0.1),),
        path=(Move(30, "poc"), Move(140, "pilot")),
        missing_facts=frozenset({"ops.rollback_tested_at", "ops.rollback_procedure_url"}),
        no_go=(240, "Handle time is not improving; the vendor must show a rollback before we widen the pilot."),
        risk=("limited", "Art. 50(1): callers interact with AI-suggested answers; they are told so."),
    ),
    Spec(
        "voice-of-customer",
        "Voice of the customer",
        "customer-service",
        "apac",
        workflow="Summarise complaint themes for the weekly service review",
        business_owner="Uma Patel",
        technical_owner="Victor Dubois",
        kpis=(
            KpiSpec("complaints", "Complaints per 1,000 policies", "risk", "per 1,000", "decrease", 8, 5, 2_000, 0.2),
        ),
        path=(Move(100, "poc"),),
        active_until=170,
    ),
    Spec(
        "chatbot-faq",
        "FAQ chatbot",
        "customer-service",
        "emea",
        workflow="Answer policy FAQs on the customer portal",
        business_owner="Wen Zhao",
        technical_owner="Yusuf Demir",
        start=215,
        kpis=(KpiSpec("deflection", "Contacts deflected", "cost", "per month", "increase", 0, 4_000, 3),),
    ),
    # A department that opens new proofs of concept while its first deployment, live for under 30
    # days and its support team not trained yet, is not stable: the focus signal.
    Spec(
        "hr-policy-assistant",
        "HR policy assistant",
        "hr",
        "emea",
        workflow="Answer employees' questions on HR policies in the intranet",
        business_owner="Lena Novak",
        technical_owner="Wen Zhao",
        stakeholders=STEERING_COMMITTEE,
        start=180,
        kpis=(_time("answer-time", "Time to answer a policy question", "hours", 24, 2, 300, 0.9),),
        path=(Move(185, "poc"), Move(205, "pilot"), Move(250, "production")),
        risk=("limited", "Art. 50(1): employees chat with it and are told that it is an AI system."),
    ),
    Spec(
        "hr-cv-screening",
        "CV screening",
        "hr",
        "emea",
        workflow="Shortlist applications for graduate roles",
        business_owner="Lena Novak",
        technical_owner="Omar Farouk",
        stakeholders=("business", "engineering", "legal"),
        start=245,
        kpis=(_time("time-to-shortlist", "Time to shortlist", "days", 12, 3, 1_500, 0.3),),
        path=(Move(255, "poc"),),
        risk=("high", "Annex III point 4(a): it analyses and filters job applications."),
    ),
    Spec(
        "hr-attrition-risk",
        "Attrition risk",
        "hr",
        "emea",
        workflow="Flag teams at risk of attrition for HR business partners",
        business_owner="Priya Nair",
        start=262,
        kpis=(),
    ),
)


@dataclass(frozen=True)
class Outcome:
    built: list[str]
    existing: list[str]
    admin_secret: str


def _sign_in_secret(session: Session) -> str:
    """The demo's admin key: issued on the first run and given a new secret on later ones, since only
    a hash of a secret is kept."""
    existing = session.scalar(select(ApiKey).where(ApiKey.name == ADMIN_KEY_NAME))
    if existing is None:
        _, secret = create_api_key(
            session, name=ADMIN_KEY_NAME, role=Role.admin, departments=None, expires_at=None, actor=SYSTEM
        )
        return secret
    _, secret = rotate_api_key(session, key_id=existing.id, grace=ADMIN_ROTATION_GRACE, actor=SYSTEM)
    return secret


def _helper_secrets(client: TestClient, admin_secret: str) -> dict[str, str]:
    """Keys for the demo's callers, issued by the admin (or re-issued: their secrets are not kept)."""
    admin = {"Authorization": f"Bearer {admin_secret}"}
    known: dict[str, str] = {}
    cursor: str | None = None
    while True:
        page = client.get(
            f"{API}/api-keys", params={"limit": 500, **({"cursor": cursor} if cursor else {})}, headers=admin
        )
        page.raise_for_status()
        known |= {item["name"]: item["id"] for item in page.json()["items"]}
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    secrets = {}
    for name, role in HELPER_ROLES.items():
        if name in known:
            response = client.post(
                f"{API}/api-keys/{known[name]}:rotate", json={"grace_period_seconds": 0}, headers=admin
            )
        else:
            response = client.post(f"{API}/api-keys", json={"name": name, "role": role.value}, headers=admin)
        if response.status_code >= 300:
            raise DemoError(f"issuing the key {name!r}: {response.status_code} {response.text}")
        secrets[name] = str(response.json()["secret"])
    return secrets


def _families(specs: list[Spec]) -> list[list[Spec]]:
    """Projects that replicate or expand another play out with it, their stories interleaved by
    date, so that the origin's history records each replica when it came."""
    families: dict[str, list[Spec]] = {}
    for spec in specs:
        origin = spec.replica_of or spec.adjacent_to
        if origin is not None and origin in families:
            families[origin].append(spec)
        else:
            families[spec.key] = [spec]
    return list(families.values())


def _play(callers: Callers, family: list[Spec]) -> None:
    """Play the projects' stories on the simulated clock, settling the readiness of each project
    that exists after each moment, so that its history records when each change happened; then
    settle them again today."""
    events = sorted((event for spec in family for event in story(spec).events), key=lambda event: event.at)
    try:
        for moment, group in _moments(events):
            _move_clock(moment)
            for event in group:
                event.act(callers)
            for spec in family:
                if spec.start + CREATED_AT <= moment:
                    callers.call(WRITER, "GET", f"/projects/{spec.key}/readiness")
    finally:
        clock.reset()
    for spec in family:
        callers.call(WRITER, "GET", f"/projects/{spec.key}/readiness")


def _platforms(client: TestClient, admin_secret: str) -> None:
    """The platforms the demo's projects run on, created once, as from the start of its history."""
    admin = {"Authorization": f"Bearer {admin_secret}"}
    try:
        _move_clock(0)
        for body in PLATFORMS:
            if client.get(f"{API}/platforms/{body['key']}", headers=admin).status_code == 404:
                created = client.post(f"{API}/platforms", json=body, headers=admin)
                if created.status_code >= 300:
                    raise DemoError(f"creating the platform {body['key']!r}: {created.status_code} {created.text}")
    finally:
        clock.reset()


def _moments(events: list[Event]) -> Iterator[tuple[float, list[Event]]]:
    group: list[Event] = []
    for event in events:
        if group and event.at != group[0].at:
            yield group[0].at, group
            group = []
        group.append(event)
    if group:
        yield group[0].at, group


def build(
    settings: Settings, *, progress: Callable[[str], None] = lambda _line: None, last_day: date | None = None
) -> Outcome:
    """Fill the configured database (migrated) with the demo portfolio; projects already there are
    left as they are. The story ends today, or on `last_day` (a past day, so that a report over a
    fixed period can be checked against it)."""
    _shift["days"] = timedelta(days=(last_day - datetime.now(UTC).date()).days) if last_day else timedelta()
    keys = Database(make_engine(settings.database_url, pool_size=1), threads=1)
    try:
        admin_secret = keys.work(_sign_in_secret, write=True)()
    finally:
        keys.dispose()
    # Re-scoring is settled by the demo's own reads at each simulated moment; a background
    # re-scorer would score on whatever the clock says when it wakes.
    local = settings.model_copy(
        update={"rescorer": False, "dispatcher": False, "rate_limit": 0, "bootstrap_admin_key": None}
    )
    built: list[str] = []
    with TestClient(create_app(local)) as client:
        admin = {"Authorization": f"Bearer {admin_secret}"}
        pending: list[Spec] = []
        existing: list[Spec] = []
        for spec in PORTFOLIO:
            found = client.get(f"{API}/projects/{spec.key}", headers=admin).status_code == 200
            (existing if found else pending).append(spec)
        callers = Callers(client, _helper_secrets(client, admin_secret) if pending else {})
        if pending:
            _platforms(client, admin_secret)
        for family in _families(pending):
            _play(callers, family)
            for spec in family:
                built.append(spec.key)
                progress(f"{spec.key}: built ({spec.path[-1].to if spec.path else 'idea'})")
        if client.get(f"{API}/initiatives/{INITIATIVE['key']}", headers=admin).status_code == 404:
            _initiative(client, admin)
            progress(f"{INITIATIVE['key']}: the programme over the claims projects in production")
    return Outcome(built, [spec.key for spec in existing], admin_secret)


# A programme over the portfolio: the claims department's production projects pass the go-live
# gate by a date, followed since the demo's history starts.
INITIATIVE = {
    "key": "claims-go-live-gate",
    "name": "Gate criteria met for production projects in claims",
    "description": "Every claims project in production keeps passing its go-live gate.",
    "owner": {"name": "Ana Souza", "email": "ana.souza@example.com"},
    "goal": {"gate": True},
    "scope": {"department": "claims", "stage": "production"},
}
INITIATIVE_TARGET_DAYS = 60


def _initiative(client: TestClient, admin: dict[str, str]) -> None:
    body = {
        **INITIATIVE,
        "starts_at": (clock.now() - timedelta(days=HISTORY_DAYS)).isoformat(),
        "target_date": (clock.now() + timedelta(days=INITIATIVE_TARGET_DAYS)).date().isoformat(),
    }
    response = client.post(f"{API}/initiatives", json=body, headers=admin)
    if response.status_code >= 300:
        raise DemoError(f"creating the initiative: {response.status_code} {response.text}")
