"""Digests: per recipient of an email channel, what needs their attention among the channel's
projects: the go-live gate's blockers (in every stage), KPIs off track or unmeasured (a project
with no KPI counts as unmeasured), go/no-go decisions due within 14 days or overdue, and stalled
projects with the playbook's reasons. An `owners` channel tells each owner only their projects;
nobody with nothing to report is sent anything.

Scheduled digests go out every Monday at 08:00 (weekly) or on the 1st at 08:00 (monthly) in
READINESS_TIMEZONE, once per period and channel: the channel's row records the period sent, and the
worker that changes it (row locked, others skipping it) is the one that sends.
"""

import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.decisions.models import Decision
from app.engine.stages import Stage
from app.kpis.models import Kpi
from app.notifications.messages import Message, Section, criterion, project_link
from app.notifications.models import Channel
from app.portfolio import service as portfolio
from app.projects.models import Project
from app.readiness.models import ProjectReadiness

DUE_WITHIN = timedelta(days=14)
SEND_AT = time(8, 0)
STALLED_READ = 10_000
NEEDS_ATTENTION = {"off_track": "is off track", "no_data": "has no data (unmeasured, or no baseline or target)"}

# The steering report as a PDF, for channels that mail it: registered by the reports layer when
# the app is built (reports read notifications' layer, not the other way round).
ReportPdf = Callable[[Session, date, date, list[str] | None], bytes]
_report_pdf: list[ReportPdf] = []


def attach_report_with(render: ReportPdf) -> None:
    _report_pdf[:] = [render]


def report_pdf(session: Session, first: date, last: date, departments: list[str] | None) -> bytes | None:
    return _report_pdf[0](session, first, last, departments) if _report_pdf else None


@dataclass
class ProjectNews:
    key: str
    name: str
    owners: set[str]
    items: list[str] = field(default_factory=list)


def period_start(kind: str, now: datetime, zone: ZoneInfo) -> datetime:
    """The start of the digest period `now` falls in: the latest Monday 08:00 (weekly) or 1st at
    08:00 (monthly) at or before it, in the zone."""
    local = now.astimezone(zone)
    if kind == "weekly":
        day = local.date() - timedelta(days=local.weekday())
        start = datetime.combine(day, SEND_AT, tzinfo=zone)
        return start if start <= local else datetime.combine(day - timedelta(days=7), SEND_AT, tzinfo=zone)
    day = local.date().replace(day=1)
    start = datetime.combine(day, SEND_AT, tzinfo=zone)
    if start <= local:
        return start
    previous = (day - timedelta(days=1)).replace(day=1)
    return datetime.combine(previous, SEND_AT, tzinfo=zone)


def period_key(kind: str, start: datetime) -> str:
    if kind == "weekly":
        year, week, _ = start.date().isocalendar()
        return f"{year}-W{week:02d}"
    return start.strftime("%Y-%m")


def period_before(kind: str, start: datetime) -> tuple[date, date]:
    """The dates of the period that ended when this one started: the week or month before."""
    last = start.date() - timedelta(days=1)
    first = last - timedelta(days=6) if kind == "weekly" else last.replace(day=1)
    return first, last


def _decision_news(decision_date: date | None, decided_at: datetime | None, today: date, zone: ZoneInfo) -> str | None:
    if decision_date is None or decision_date > today + DUE_WITHIN:
        return None
    window_opened = datetime.combine(decision_date - DUE_WITHIN, time(), tzinfo=zone).astimezone(UTC)
    if decided_at is not None and decided_at >= window_opened:
        return None
    if decision_date < today:
        return f"The go/no-go decision planned for {decision_date.isoformat()} is overdue."
    return f"The go/no-go decision is due on {decision_date.isoformat()}."


def gather(
    session: Session, *, departments: list[str] | None, now: datetime, zone: ZoneInfo, limits: Mapping[Stage, int]
) -> list[ProjectNews]:
    """Each live project of these departments (all when None) with what needs attention in it
    (maybe nothing), in a few set-based queries, whatever the number of projects."""
    # One function: the four kinds of news are read side by side and joined per project.
    today = now.astimezone(zone).date()
    query = (
        select(
            Project.id,
            Project.key,
            Project.name,
            Project.business_owner_email,
            Project.technical_owner_email,
            Project.decision_date,
            ProjectReadiness.blockers,
        )
        .outerjoin(ProjectReadiness, ProjectReadiness.project_id == Project.id)
        .where(Project.stage != Stage.retired.value)
        .order_by(Project.key)
    )
    if departments is not None:
        query = query.where(Project.department.in_(departments))
    rows = session.execute(query).all()
    ids = [row.id for row in rows]
    kpis: dict[uuid.UUID, list[tuple[str, str | None]]] = defaultdict(list)
    for project_id, key, told in session.execute(
        select(Kpi.project_id, Kpi.key, Kpi.told_status).where(Kpi.project_id.in_(ids)).order_by(Kpi.key)
    ):
        kpis[project_id].append((key, told))
    decided = dict(
        session.execute(
            select(Decision.project_id, func.max(Decision.decided_at))
            .where(Decision.project_id.in_(ids))
            .group_by(Decision.project_id)
        ).all()
    )
    stalled, _ = portfolio.stalled(
        session, filters=portfolio.Filters(), limit=STALLED_READ, cursor=None, now=now, limits=limits
    )
    stall_reasons = {row.key: [s.reason for s in row.signals if s.pattern == "stalled"] for row in stalled}
    found = []
    for row in rows:
        news = ProjectNews(
            row.key, row.name, {e.lower() for e in (row.business_owner_email, row.technical_owner_email) if e}
        )
        for criterion_key, _status in row.blockers or []:
            news.items.append(f"Go-live gate blocked: {criterion(criterion_key)}.")
        if not kpis[row.id]:
            news.items.append("No KPI is defined, so nothing is measured.")
        for kpi_key, told in kpis[row.id]:
            if told in NEEDS_ATTENTION:
                news.items.append(f"KPI {kpi_key} {NEEDS_ATTENTION[told]}.")
        decision = _decision_news(row.decision_date, decided.get(row.id), today, zone)
        if decision is not None:
            news.items.append(decision)
        if row.key in stall_reasons:
            reasons = "; ".join(stall_reasons[row.key]) or "several signals are unknown"
            news.items.append(f"Stalling: {reasons}.")
        found.append(news)
    return found


def per_recipient(channel: Channel, news: list[ProjectNews]) -> dict[str, list[ProjectNews]]:
    """Whom each project's news goes to: every fixed address, or the project's own owners."""
    mail: dict[str, list[ProjectNews]] = defaultdict(list)
    for project in news:
        if not project.items:
            continue
        recipients = sorted(project.owners) if channel.to_owners else (channel.to_addresses or [])
        for recipient in recipients:
            mail[recipient].append(project)
    return dict(mail)


def message(channel: Channel, projects: list[ProjectNews], *, public_url: str, label: str) -> Message:
    count = len(projects)
    noun = "project needs" if count == 1 else "projects need"
    lines = [
        f"Here is your {label} AI readiness digest from “{channel.name}”: {count} {noun} attention.",
        "Each project below links to its page in the dashboard.",
    ]
    sections = [Section(f"{p.name} ({p.key})", p.items, project_link(public_url, p.key)) for p in projects]
    return Message(
        f"{label.capitalize()} AI readiness digest: {count} {noun} attention", lines, None, sections=sections
    )


def all_recipients(channel: Channel, news: list[ProjectNews]) -> set[str]:
    """Everyone the channel could mail: for `owners`, the owners of its projects with or without news."""
    if not channel.to_owners:
        return set(channel.to_addresses or [])
    return {owner for project in news for owner in project.owners}
