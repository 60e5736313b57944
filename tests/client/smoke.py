"""An integration written as a new user would write it, against the client generated from the contract.

`mypy --strict` checks it against the generated package (see test_generated_client.py), so a
contract that loses a type breaks it before it runs; then it runs against a live service.
"""

from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import TypeVar

from readiness_client import AuthenticatedClient
from readiness_client.api.api_keys import create_api_key
from readiness_client.api.evaluations import create_decision, create_evaluation
from readiness_client.api.facts import put_facts_batch
from readiness_client.api.kpis import add_measurements_batch, create_kpi, get_roi, put_kpi
from readiness_client.api.portfolio import portfolio_readiness, portfolio_stalled, portfolio_summary
from readiness_client.api.projects import (
    create_project,
    get_project,
    list_projects,
    replace_project,
    update_project,
    upsert_projects,
)
from readiness_client.models import (
    ApiKeyCreate,
    ApiKeyCreated,
    Costs,
    DecisionCreate,
    DecisionCreateDecision,
    DecisionRead,
    Direction,
    EvaluationCreate,
    EvaluationRead,
    FactBatch,
    FactBatchItem,
    FactBatchResult,
    KpiCategory,
    KpiCreate,
    KpiPut,
    KpiRead,
    MeasurementBatch,
    MeasurementBatchItem,
    MeasurementBatchResult,
    PagePortfolioRow,
    PageProjectRead,
    PageStalledRow,
    Person,
    PortfolioReadinessSort,
    PortfolioRow,
    ProjectBatch,
    ProjectBatchItemResultResult,
    ProjectBatchResult,
    ProjectCreate,
    ProjectPatch,
    ProjectRead,
    ProjectReplace,
    RoiRead,
    Role,
    SummaryRead,
)

T = TypeVar("T")
PROJECTS = ("claims-triage", "fraud-scoring", "invoice-matching")


def expect(kind: type[T], answer: object) -> T:
    """The parsed answer, which must be of the documented success type (a Problem is a failure)."""
    assert isinstance(answer, kind), answer
    return answer


def client(base_url: str, secret: str) -> AuthenticatedClient:
    return AuthenticatedClient(base_url=base_url, token=secret, raise_on_unexpected_status=True)


def create_and_upsert_projects(admin: AuthenticatedClient) -> None:
    created = expect(
        ProjectRead,
        create_project.sync(
            client=admin,
            body=ProjectCreate(
                key=PROJECTS[0],
                name="Claims triage",
                department="claims",
                workflow="Route incoming claims to the right adjuster",
                business_owner=Person(name="Ana Lopez", email="ana@example.com"),
                costs=Costs(build_cost=120_000.5, run_cost_per_month=2_500.25, currency="EUR"),
            ),
        ),
    )
    assert created.costs.build_cost == 120_000.5
    for key in PROJECTS[1:]:
        first = replace_project.sync_detailed(key, client=admin, body=ProjectReplace(name=key.replace("-", " ")))
        assert first.status_code == HTTPStatus.CREATED
        again = replace_project.sync_detailed(key, client=admin, body=ProjectReplace(name=key.replace("-", " ")))
        assert again.status_code == HTTPStatus.OK

    # Money comes back as the number it went in as: a GET, edit, PUT round trip needs no conversion.
    read = get_project.sync_detailed(PROJECTS[0], client=admin)
    replacement = ProjectReplace.from_dict(expect(ProjectRead, read.parsed).to_dict())
    replacement.name = "Claims triage (EU)"
    replaced = expect(
        ProjectRead, replace_project.sync(PROJECTS[0], client=admin, body=replacement, if_match=read.headers["etag"])
    )
    assert replaced.costs.run_cost_per_month == 2_500.25

    patched = expect(ProjectRead, update_project.sync(PROJECTS[0], client=admin, body=ProjectPatch(region="EU")))
    assert (patched.name, patched.region) == ("Claims triage (EU)", "EU")
    page = expect(PageProjectRead, list_projects.sync(client=admin, limit=2))
    assert [project.key for project in page.items] == list(PROJECTS[:2])
    assert page.next_cursor is not None


def conditional_get(admin: AuthenticatedClient) -> None:
    first = get_project.sync_detailed(PROJECTS[0], client=admin)
    assert first.status_code == HTTPStatus.OK
    unchanged = get_project.sync_detailed(PROJECTS[0], client=admin, if_none_match=first.headers["etag"])
    assert unchanged.status_code == HTTPStatus.NOT_MODIFIED
    assert unchanged.headers["etag"] == first.headers["etag"]


def push_facts_kpis_and_measurements(admin: AuthenticatedClient) -> None:
    facts = expect(
        FactBatchResult,
        put_facts_batch.sync(
            client=admin,
            body=FactBatch(
                items=[
                    FactBatchItem(project=key, name="ops.alerting_enabled", value=True, source="ci") for key in PROJECTS
                ]
            ),
        ),
    )
    assert facts.stored == len(PROJECTS)

    kpi = expect(
        KpiRead,
        create_kpi.sync(
            PROJECTS[0],
            client=admin,
            body=KpiCreate(
                key="cost-per-claim",
                name="Cost per claim",
                category=KpiCategory.COST,
                direction=Direction.DECREASE,
                unit="EUR per claim",
                baseline=12.0,
                target=8.0,
                value_per_unit=1_000.25,
            ),
        ),
    )
    assert kpi.value_per_unit == 1_000.25

    now = datetime.now(UTC)
    measured = expect(
        MeasurementBatchResult,
        add_measurements_batch.sync(
            client=admin,
            body=MeasurementBatch(
                items=[
                    MeasurementBatchItem(
                        project=PROJECTS[0], kpi=kpi.key, value=value, measured_at=now - timedelta(days=days)
                    )
                    for days, value in ((14, 11.0), (7, 10.0))
                ]
            ),
        ),
    )
    assert measured.stored == 2
    # Sent again, as a CI job re-running its push would: every point is already there.
    again = expect(
        MeasurementBatchResult,
        add_measurements_batch.sync(
            client=admin,
            body=MeasurementBatch(
                items=[
                    MeasurementBatchItem(
                        project=PROJECTS[0], kpi=kpi.key, value=value, measured_at=now - timedelta(days=days)
                    )
                    for days, value in ((14, 11.0), (7, 10.0))
                ]
            ),
        ),
    )
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)

    roi = expect(RoiRead, get_roi.sync(PROJECTS[0], client=admin))
    assert roi.currency == "EUR"
    assert roi.realized.monthly_benefit == 2_000.5


def rerun_upstream_pushes(admin: AuthenticatedClient) -> None:
    """What an upstream system sends on every run: its projects and KPIs by key, changing nothing twice."""
    batch = ProjectBatch(
        items=[ProjectCreate(key=f"batch-{n}", name=f"Batch {n}", department="claims") for n in range(3)]
    )
    first = expect(ProjectBatchResult, upsert_projects.sync(client=admin, body=batch))
    second = expect(ProjectBatchResult, upsert_projects.sync(client=admin, body=batch))
    assert first.created == 3
    assert second.unchanged == 3
    assert second.items[0].result == ProjectBatchItemResultResult.UNCHANGED

    body = KpiPut(name="Handling time", category=KpiCategory.TIME, direction=Direction.DECREASE, baseline=30.0)
    created = put_kpi.sync_detailed("batch-0", "handling-time", client=admin, body=body)
    replaced = put_kpi.sync_detailed("batch-0", "handling-time", client=admin, body=body)
    assert created.status_code == HTTPStatus.CREATED
    assert replaced.status_code == HTTPStatus.OK
    assert expect(KpiRead, replaced.parsed).key == "handling-time"


def evaluate_and_decide(admin: AuthenticatedClient, base_url: str) -> None:
    evaluation = expect(EvaluationRead, create_evaluation.sync(PROJECTS[0], client=admin, body=EvaluationCreate()))
    assert evaluation.id is not None

    key = expect(
        ApiKeyCreated, create_api_key.sync(client=admin, body=ApiKeyCreate(name="steering", role=Role.APPROVER))
    )
    assert key.secret is not None
    decision = expect(
        DecisionRead,
        create_decision.sync(
            PROJECTS[0],
            client=client(base_url, key.secret),
            body=DecisionCreate(
                evaluation_id=evaluation.id,
                decision=DecisionCreateDecision.NO_GO,
                on_behalf_of="Steering committee",
                rationale="Not ready: the go-live criteria are open.",
            ),
        ),
    )
    assert (decision.decided_by, decision.on_behalf_of) == ("steering", "Steering committee")


def read_the_portfolio(admin: AuthenticatedClient) -> None:
    rows: list[PortfolioRow] = []
    cursor: str | None = None
    while True:
        page = expect(
            PagePortfolioRow,
            portfolio_readiness.sync(client=admin, sort=PortfolioReadinessSort.SCORE_DESC, limit=2, cursor=cursor),
        )
        rows += page.items
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(row.key for row in rows) == sorted(PROJECTS)
    scores = [row.score or 0.0 for row in rows]
    assert scores == sorted(scores, reverse=True)

    summary = expect(SummaryRead, portfolio_summary.sync(client=admin))
    assert summary.overall.projects == len(PROJECTS)
    expect(PageStalledRow, portfolio_stalled.sync(client=admin))

    # CSV is the same operation's other representation: the generated client has no switch for
    # `Accept`, so it goes through the client's own HTTP connection.
    csv = admin.get_httpx_client().get("/api/v1/portfolio/readiness", headers={"Accept": "text/csv"})
    assert csv.status_code == HTTPStatus.OK
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.splitlines()
    assert lines[0].startswith("key,")
    assert len(lines) == 1 + len(PROJECTS)


def run(base_url: str, admin_secret: str) -> None:
    """The whole integration, in the order a new user would try it."""
    with client(base_url, admin_secret) as admin:
        create_and_upsert_projects(admin)
        conditional_get(admin)
        push_facts_kpis_and_measurements(admin)
        evaluate_and_decide(admin, base_url)
        read_the_portfolio(admin)
        rerun_upstream_pushes(admin)
