"""Render a channel-neutral Reply as a Teams / Bot Framework message, as plain dicts.

Structured replies (anything with fields or sections: status, lists, summaries) become
an Adaptive Card with a text fallback; short replies (a confirmation, a refusal) are a
plain-text message. No botbuilder import here: `bot/channels/teams.py` turns the dict
into an Activity, so this module survives a move to the Microsoft 365 Agents SDK.

Safety: Teams renders markdown in TextBlock and in FactSet titles and values, so text
typed by users could otherwise inject links (`[click](https://...)`) or formatting.
Every string from a Reply is therefore placed in a `TextRun` inside a `RichTextBlock`,
which Adaptive Cards never parse as markdown, and plain messages are sent with
`textFormat: plain`. A mention needs an `msteams.entities` entry, which is never
generated, so `<at>...</at>` in user text stays inert text.

Size: Teams refuses a message over about 40 KB and cards over 28 KB, so long lists are
shortened (with a note saying how many items are not shown) until the card fits.
"""

from __future__ import annotations

import base64
import json
import mimetypes
from dataclasses import replace
from pathlib import Path
from typing import Any

from handlers.reply import Kind, Rag, Reply

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.4"  # RichTextBlock needs 1.2; Teams renders up to 1.5
MAX_CARD_CHARS = 24_000
MAX_INLINE_IMAGE_BYTES = 1024 * 1024  # Teams' limit for inline (base64) images

RAG_COLOUR = {
    Rag.GREEN: "Good",
    Rag.AMBER: "Warning",
    Rag.RED: "Attention",
    Rag.BLUE: "Accent",
    Rag.GREY: "Default",
}
KIND_COLOUR = {Kind.ERROR: "Attention", Kind.QUESTION: "Accent"}


def plain_text(reply: Reply) -> str:
    """The reply as plain text, without as_text's notes on where chart files were saved."""
    return replace(reply, images=[]).as_text() if reply.images else reply.as_text()


def _run(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextRun", "text": text, **style}


def _rich(*runs: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"type": "RichTextBlock", "inlines": list(runs), **props}


def needs_card(reply: Reply) -> bool:
    return bool(reply.fields or reply.sections)


def render_card(reply: Reply, max_items: int | None = None) -> dict[str, Any]:
    """The Adaptive Card (as a dict) for a structured reply."""
    body: list[dict[str, Any]] = []
    if reply.title:
        colour = KIND_COLOUR.get(reply.kind, "Default")
        body.append(_rich(_run(reply.title, size="Large", weight="Bolder", color=colour)))
    body.extend(_rich(_run(line)) for line in reply.lines)
    if reply.fields:
        body.append(
            {
                "type": "Container",
                "spacing": "Medium",
                "items": [
                    {
                        "type": "ColumnSet",
                        "spacing": "Small",
                        "columns": [
                            {
                                "type": "Column",
                                "width": 1,
                                "items": [_rich(_run(label, weight="Bolder"))],
                            },
                            {"type": "Column", "width": 2, "items": [_rich(_run(value))]},
                        ],
                    }
                    for label, value in reply.fields
                ],
            }
        )
    for section in reply.sections:
        items = list(section.items)
        shown = items if max_items is None else items[:max_items]
        container: list[dict[str, Any]] = [
            _rich(_run(section.heading, weight="Bolder", size="Medium"))
        ]
        for item in shown:
            runs = []
            if item.rag:
                runs.append(
                    _run(f"● {item.rag.label} ", weight="Bolder", color=RAG_COLOUR[item.rag])
                )
            runs.append(_run(item.text))
            container.append(_rich(*runs, spacing="Small"))
        if len(shown) < len(items):
            note = f"…and {len(items) - len(shown)} more not shown (ask for a narrower list)"
            container.append(_rich(_run(note, isSubtle=True, italic=True), spacing="Small"))
        body.append(
            {"type": "Container", "separator": True, "spacing": "Medium", "items": container}
        )
    if reply.footer:
        body.append(_rich(_run(reply.footer, isSubtle=True, size="Small"), spacing="Medium"))
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "fallbackText": plain_text(reply),
        "msteams": {"width": "Full"},
        "body": body,
    }


def _fitting_card(reply: Reply) -> dict[str, Any]:
    card = render_card(reply)
    longest = max((len(s.items) for s in reply.sections), default=0)
    limit = longest
    while len(json.dumps(card, ensure_ascii=False)) > MAX_CARD_CHARS and limit > 1:
        limit //= 2
        card = render_card(reply, max_items=limit)
    if len(json.dumps(card, ensure_ascii=False)) > MAX_CARD_CHARS:
        card["fallbackText"] = card["fallbackText"][: MAX_CARD_CHARS // 4]
    return card


def image_attachment(path: Path) -> dict[str, Any]:
    """An inline image attachment (base64 data URI), as Teams accepts from bots."""
    data = Path(path).read_bytes()
    if len(data) > MAX_INLINE_IMAGE_BYTES:
        raise ValueError(f"{path.name} is {len(data)} bytes; Teams inline images must be ≤1 MB")
    content_type = mimetypes.guess_type(path.name)[0] or "image/png"
    encoded = base64.b64encode(data).decode("ascii")
    return {
        "contentType": content_type,
        "contentUrl": f"data:{content_type};base64,{encoded}",
        "name": path.name,
    }


def _summary(reply: Reply) -> str:
    first = reply.title or next(iter(reply.lines), "") or plain_text(reply)
    return first[:200]


def render(reply: Reply) -> dict[str, Any]:
    """The message activity (Bot Framework JSON field names) for a reply."""
    activity: dict[str, Any] = {"type": "message", "summary": _summary(reply)}
    attachments: list[dict[str, Any]] = []
    if needs_card(reply):
        attachments.append({"contentType": CARD_CONTENT_TYPE, "content": _fitting_card(reply)})
    else:
        activity["text"] = plain_text(reply)
        activity["textFormat"] = "plain"
    attachments.extend(image_attachment(image) for image in reply.images)
    if attachments:
        activity["attachments"] = attachments
    return activity
