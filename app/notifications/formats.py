"""A `Message` in the format each place expects: an email (plain text with an HTML alternative,
composed by the standard library), or the JSON body each chat service's incoming webhook takes.

- Slack: `text` (the notification's fallback) and `blocks` (Block Kit: sections in mrkdwn, links
  as `<url|label>`).
- Microsoft Teams: a `message` whose attachment is an Adaptive Card (1.4), which Teams incoming
  webhooks and Workflows webhooks both accept.
- Mattermost: `text` in Markdown.
- Google Chat: `text`, with its own `<url|label>` links and `*bold*`.
"""

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from html import escape
from typing import Any

import pydantic_core

from app.core.db import utcnow
from app.notifications.messages import Message
from app.notifications.schemas import ChannelKind

FOOTER = "Sent by the AI Readiness Service."


def _text(message: Message) -> str:
    parts = ["\n".join(message.lines)]
    for section in message.sections:
        items = "\n".join(f"  - {item}" for item in section.items)
        parts.append(f"{section.heading}\n{items}" + (f"\n  {section.link}" if section.link else ""))
    if message.link:
        parts.append(f"{message.link_label}: {message.link}")
    parts.append(f"-- \n{FOOTER}")
    return "\n\n".join(parts) + "\n"


def _html(message: Message) -> str:
    body = "".join(f"<p>{escape(line)}</p>" for line in message.lines)
    for section in message.sections:
        heading = escape(section.heading)
        if section.link:
            heading = f'<a href="{escape(section.link)}">{heading}</a>'
        body += f"<h3>{heading}</h3><ul>" + "".join(f"<li>{escape(item)}</li>" for item in section.items) + "</ul>"
    if message.link:
        body += f'<p><a href="{escape(message.link)}">{escape(message.link_label)}</a></p>'
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(message.title)}</title></head>'
        f'<body>{body}<p style="color:#666;font-size:small">{escape(FOOTER)}</p></body></html>'
    )


def email(message: Message, *, sender: str, recipient: str, attachments: list[tuple[str, bytes]] | None = None) -> str:
    """The whole email as the relay receives it (RFC 5322)."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = recipient
    mail["Subject"] = message.title
    mail["Date"] = format_datetime(utcnow())
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(_text(message))
    mail.add_alternative(_html(message), subtype="html")
    for filename, content in attachments or []:
        mail.add_attachment(content, maintype="application", subtype="pdf", filename=filename)
    return mail.as_string()


def _slack_text(message: Message) -> str:
    lines = list(message.lines)
    for section in message.sections:
        heading = f"<{section.link}|{section.heading}>" if section.link else section.heading
        lines.append(f"*{heading}*\n" + "\n".join(f"• {item}" for item in section.items))
    if message.link:
        lines.append(f"<{message.link}|{message.link_label}>")
    return "\n".join(lines)


def slack(message: Message) -> dict[str, Any]:
    return {
        "text": f"{message.title}: {' '.join(message.lines)}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _slack_text(message)[:3000]}},
        ],
    }


def teams(message: Message) -> dict[str, Any]:
    body: list[dict[str, Any]] = [{"type": "TextBlock", "text": message.title, "weight": "Bolder", "wrap": True}]
    body += [{"type": "TextBlock", "text": line, "wrap": True} for line in message.lines]
    for section in message.sections:
        body.append({"type": "TextBlock", "text": section.heading, "weight": "Bolder", "wrap": True})
        body += [{"type": "TextBlock", "text": f"- {item}", "wrap": True} for item in section.items]
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if message.link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": message.link_label, "url": message.link}]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def mattermost(message: Message) -> dict[str, Any]:
    lines = [f"**{message.title}**", *message.lines]
    for section in message.sections:
        heading = f"[{section.heading}]({section.link})" if section.link else section.heading
        lines.append(f"**{heading}**\n" + "\n".join(f"- {item}" for item in section.items))
    if message.link:
        lines.append(f"[{message.link_label}]({message.link})")
    return {"text": "\n".join(lines)}


def google_chat(message: Message) -> dict[str, Any]:
    lines = [f"*{message.title}*", *message.lines]
    for section in message.sections:
        heading = f"<{section.link}|{section.heading}>" if section.link else section.heading
        lines.append(f"*{heading}*\n" + "\n".join(f"• {item}" for item in section.items))
    if message.link:
        lines.append(f"<{message.link}|{message.link_label}>")
    return {"text": "\n".join(lines)}


CHAT = {
    ChannelKind.slack: slack,
    ChannelKind.teams: teams,
    ChannelKind.mattermost: mattermost,
    ChannelKind.google_chat: google_chat,
}


def chat(kind: ChannelKind, message: Message) -> str:
    """The JSON body the chat service's incoming webhook takes, as sent."""
    return pydantic_core.to_json(CHAT[kind](message)).decode()
