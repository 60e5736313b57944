"""What a message says, for each kind of news, including news this release has no wording for."""

from app.notifications import formats, messages
from app.notifications.schemas import ChannelKind

PROJECT = messages.Project("claims-triage", "Claims triage", "https://readiness.example.com/ui/projects/claims-triage")


def test_a_readiness_change_says_what_moved_what_blocks_and_why_in_words() -> None:
    data = {
        "after": {"score": 64.0, "level": "pilot_ready", "gate_passed": False, "blockers": ["go_live.rollback_tested"]},
        "before": {"score": 82.0, "level": "production_ready", "gate_passed": True, "blockers": []},
        "cause": [{"kind": "time", "name": "fact ops.rollback_tested_at older than 180 days"}],
    }

    message = messages.of_event("readiness.changed", data, PROJECT)

    assert message.title == "Claims triage: readiness dropped to 64"
    assert message.lines == [
        "The readiness of Claims triage dropped from 82 to 64 out of 100.",
        "Its level went from production ready to pilot ready.",
        "Go-live is blocked by: Rollback procedure tested and documented.",
        "Why: time passed: fact ops.rollback_tested_at older than 180 days.",
    ]
    assert message.link == PROJECT.link


def test_a_decision_request_has_its_own_wording() -> None:
    data = {"project": "claims-triage", "note": "Gate passes since Monday", "requested_by": "Bo"}

    message = messages.of_event("decision.requested", data, PROJECT)

    assert message.title == "Claims triage: decision requested"
    assert message.lines == [
        "Bo asked the steering committee for a go/no-go decision on Claims triage.",
        "Their note: Gate passes since Monday",
    ]


def test_news_of_an_unknown_type_or_shape_still_names_the_type_the_project_and_the_link() -> None:
    for event_type, data in (("model.retrained", {"model": "v3"}), ("readiness.changed", {"after": 1})):
        message = messages.of_event(event_type, data, PROJECT)
        assert PROJECT.name in message.title
        assert message.link == PROJECT.link
    assert messages.of_event("model.retrained", {}, PROJECT).lines == ["News of Claims triage: model retrained."]


def test_every_format_carries_the_title_the_words_and_the_link() -> None:
    message = messages.of_event("decision.overdue", {"decision_date": "2026-12-06"}, PROJECT)
    for kind in (ChannelKind.slack, ChannelKind.teams, ChannelKind.mattermost, ChannelKind.google_chat):
        body = formats.chat(kind, message)
        assert "Claims triage: go/no-go decision overdue since 2026-12-06" in body
        assert PROJECT.link in body
    mail = formats.email(message, sender="readiness@example.com", recipient="ana@example.com")
    assert "Subject: Claims triage: go/no-go decision overdue since 2026-12-06" in mail
    assert "text/html" in mail


def test_an_initiative_says_its_own_summary_and_links_to_its_page() -> None:
    data = {
        "initiative": "monitoring",
        "name": "Monitoring in claims",
        "summary": "Monitoring in claims is complete: all 2 projects in scope meet its goal.",
    }

    message = messages.of_initiative("initiative.completed", data, "https://readiness.example.com")

    assert message.title == "Monitoring in claims: complete"
    assert message.lines == [data["summary"]]
    assert message.link == "https://readiness.example.com/ui/initiatives/monitoring"
    overdue = messages.of_initiative("initiative.overdue", {"initiative": "q3"}, "https://r.example.com")
    assert (overdue.title, overdue.lines) == ("q3: overdue", ["q3 is overdue."])
