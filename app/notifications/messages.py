"""What a notification says, as a colleague would write it: what changed, in words, for which
project, why, and the link to the project's page. Formats for email and each chat service are
drawn from the same `Message` (`formats.py`).

Each event type the service knows has its wording, keyed by type name; one it does not know (a
newer release's, a type added elsewhere) still reads sensibly: its type in words, the project
and the link.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from app.engine.default_rubric import DEFAULT_RUBRIC
from app.readiness.document import cause_summary

CRITERION_TITLES = {criterion.key: criterion.title for criterion in DEFAULT_RUBRIC.criteria}
STAGE_WORDS = {"idea": "idea", "poc": "proof of concept", "pilot": "pilot", "production": "production"}


@dataclass(frozen=True)
class Project:
    """The project a message is about, as the message names it."""

    key: str
    name: str
    link: str


@dataclass(frozen=True)
class Message:
    """A message for people: a title (the email's subject, a chat message's first line), its
    sentences, and where to look."""

    title: str
    lines: list[str]
    link: str | None = None
    link_label: str = "Open it in the dashboard"
    # Sections of a digest: a heading, its items, and each item's link.
    sections: list["Section"] = field(default_factory=list)


@dataclass(frozen=True)
class Section:
    heading: str
    items: list[str]
    link: str | None = None


def project_link(public_url: str, key: str) -> str:
    return f"{public_url}/ui/projects/{key}"


def words(value: object) -> str:
    """`pilot_ready` as `pilot ready`; a stage as people say it."""
    text = str(value)
    return STAGE_WORDS.get(text, text.replace("_", " "))


def criterion(key: str) -> str:
    return CRITERION_TITLES.get(key, key)


def _listed(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _why_one(kind: str, name: str) -> str:
    match kind:
        case "fact":
            return f"the fact {name} was reported"
        case "measurement":
            return "a batch of KPI measurements arrived" if name == "batch" else f"KPI {name} was measured"
        case "kpi":
            return f"KPI {name} was defined or changed"
        case "project":
            return "the project's details were edited"
        case "stage":
            return f"it moved to {words(name)}"
        case "attestation":
            return f"“{criterion(name)}” was attested"
        case "exemption":
            return f"an exemption for “{criterion(name)}” changed"
        case "rubric":
            return f"the rubric changed ({name})"
        case "time":
            return f"time passed: {name}"
        case _:
            return f"{kind} {name}".strip()


def cause_in_words(cause: list[dict[str, str]]) -> str:
    """`the fact security.review_completed was reported and time passed: ...`."""
    phrases = [_why_one(item.get("kind", ""), item.get("name", "")) for item in cause]
    return _listed(phrases) if phrases else cause_summary(cause)


def _readiness_changed(data: Mapping[str, Any], project: Project) -> Message:
    after, before = data["after"], data.get("before")
    score = f"{after['score']:.0f}"
    if before is None:
        title = f"{project.name} has its first readiness score: {score}"
        lines = [f"{project.name} was scored for the first time: {score} out of 100, {words(after['level'])}."]
    else:
        moved = (
            "dropped" if after["score"] < before["score"] else "rose" if after["score"] > before["score"] else "changed"
        )
        title = f"{project.name}: readiness {moved} to {score}"
        lines = [f"The readiness of {project.name} {moved} from {before['score']:.0f} to {score} out of 100."]
        if before["level"] != after["level"]:
            lines.append(f"Its level went from {words(before['level'])} to {words(after['level'])}.")
    blockers = [criterion(key) for key in after.get("blockers", [])]
    if blockers:
        lines.append(f"Go-live is blocked by: {_listed(blockers)}.")
    elif before is not None and not before.get("gate_passed") and after.get("gate_passed"):
        lines.append("The go-live gate now passes.")
    lines.append(f"Why: {cause_in_words(data.get('cause', []))}.")
    return Message(title, lines, project.link)


def _stage_changed(data: Mapping[str, Any], project: Project) -> Message:
    to = words(data["to"])
    lines = [f"{project.name} moved from {words(data['from'])} to {to}."]
    if data.get("reason"):
        lines.append(f"Reason given: {data['reason']}")
    return Message(f"{project.name} moved to {to}", lines, project.link)


def _decision_recorded(data: Mapping[str, Any], project: Project) -> Message:
    decision = "go" if data["decision"] == "go" else "no-go"
    lines = [f"A {decision} decision was recorded for {project.name}."]
    if data.get("override_reason"):
        blockers = [criterion(key) for key in data.get("gate_blockers") or []]
        lines.append(
            f"It overrode a failing gate ({_listed(blockers) or 'blockers not recorded'}): {data['override_reason']}"
        )
    return Message(f"{project.name}: {decision} decision recorded", lines, project.link)


def _decision_due(data: Mapping[str, Any], project: Project) -> Message:
    day = date.fromisoformat(str(data["decision_date"]))
    left = int(data.get("days_left", 0))
    when = "today" if left == 0 else "tomorrow" if left == 1 else f"in {left} days"
    lines = [
        f"The go/no-go decision on {project.name} is planned for {day.isoformat()}, {when}.",
        "Check that its evaluation is current and the go-live gate's blockers are dealt with.",
    ]
    return Message(f"{project.name}: go/no-go decision due {day.isoformat()}", lines, project.link)


def _decision_overdue(data: Mapping[str, Any], project: Project) -> Message:
    day = str(data["decision_date"])
    lines = [f"The go/no-go decision on {project.name} was planned for {day}, and none has been recorded since."]
    lines.append("Record the decision, or set a new date on the project.")
    return Message(f"{project.name}: go/no-go decision overdue since {day}", lines, project.link)


def _decision_requested(data: Mapping[str, Any], project: Project) -> Message:
    who = data.get("requested_by") or "someone"
    lines = [f"{who} asked the steering committee for a go/no-go decision on {project.name}."]
    if data.get("note"):
        lines.append(f"Their note: {data['note']}")
    return Message(f"{project.name}: decision requested", lines, project.link)


def _kpi_status_changed(data: Mapping[str, Any], project: Project) -> Message:
    after = words(data["after"])
    lines = [f"KPI {data['kpi']} of {project.name} is now {after} (it was {words(data['before'])})."]
    if data.get("cause") == "time":
        lines.append("Why: time passed without the progress its schedule expects.")
    else:
        lines.append("Why: a new measurement or a change to the KPI.")
    return Message(f"{project.name}: KPI {data['kpi']} is {after}", lines, project.link)


def _stall_risk_changed(data: Mapping[str, Any], project: Project) -> Message:
    after, before = data["after"], data["before"]
    reasons = [s["reason"] for s in data.get("signals", []) if s.get("pattern") == "stalled" and s.get("reason")]
    lines = [f"The stall risk of {project.name} went from {before} to {after}."]
    if reasons:
        lines.append(f"What points to a stall: {'; '.join(reasons)}.")
    return Message(f"{project.name}: stall risk {after}", lines, project.link)


def _evaluation_recorded(data: Mapping[str, Any], project: Project) -> Message:
    gate = "passes" if data.get("gate_passed") else "does not pass"
    lines = [
        f"{project.name} was evaluated against {data.get('rubric')}: {float(data.get('score', 0)):.0f} out of 100, "
        f"{words(data.get('level', ''))}; the go-live gate {gate}."
    ]
    return Message(f"{project.name} was evaluated", lines, project.link)


def _project_changed(verb: str) -> Callable[[Mapping[str, Any], Project], Message]:
    def compose(data: Mapping[str, Any], project: Project) -> Message:
        link = None if verb == "deleted" else project.link
        return Message(f"{project.name} was {verb}", [f"The project {project.name} was {verb}."], link)

    return compose


WORDING: dict[str, Callable[[Mapping[str, Any], Project], Message]] = {
    "readiness.changed": _readiness_changed,
    "project.stage_changed": _stage_changed,
    "decision.recorded": _decision_recorded,
    "decision.due": _decision_due,
    "decision.overdue": _decision_overdue,
    "decision.requested": _decision_requested,
    "kpi.status_changed": _kpi_status_changed,
    "project.stall_risk_changed": _stall_risk_changed,
    "evaluation.recorded": _evaluation_recorded,
    "project.created": _project_changed("created"),
    "project.updated": _project_changed("updated"),
    "project.deleted": _project_changed("deleted"),
}


def generic(event_type: str, project: Project) -> Message:
    """An event this release has no wording for: its type in words, the project and the link."""
    what = event_type.replace(".", " ").replace("_", " ")
    return Message(f"{project.name}: {what}", [f"News of {project.name}: {what}."], project.link)


def of_event(event_type: str, data: Mapping[str, Any], project: Project) -> Message:
    compose = WORDING.get(event_type)
    if compose is None:
        return generic(event_type, project)
    try:
        return compose(data, project)
    except (KeyError, TypeError, ValueError):
        # Data of another shape than this release's (an older or newer event): still news.
        return generic(event_type, project)


def of_rubric(data: Mapping[str, Any], public_url: str) -> Message:
    rubric, version = data.get("rubric", "?"), data.get("version", "?")
    lines = [f"Version {version} of the rubric {rubric} was published; every project it governs is scored again."]
    return Message(f"Rubric {rubric} v{version} published", lines, f"{public_url}/ui/")


def of_initiative(event_type: str, data: Mapping[str, Any], public_url: str) -> Message:
    """An initiative's news: its own sentence (the event carries it, in words) and its page."""
    key = str(data.get("initiative", ""))
    name = str(data.get("name") or key or "An initiative")
    what = "complete" if event_type == "initiative.completed" else "overdue"
    lines = [str(data["summary"])] if data.get("summary") else [f"{name} is {what}."]
    return Message(f"{name}: {what}", lines, f"{public_url}/ui/initiatives/{key}", "Open the initiative")


def test_message(channel_name: str, public_url: str) -> Message:
    lines = [
        f"This is a test of the notification channel “{channel_name}”.",
        "If you can read it, news of AI projects will reach you here.",
    ]
    return Message(f"Test of “{channel_name}”", lines, f"{public_url}/ui/", "Open the dashboard")
