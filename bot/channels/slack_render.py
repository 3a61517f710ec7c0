"""Render a channel-neutral Reply as a Slack message: Block Kit blocks plus a text fallback.

Every string in a Reply is raw text, some of it typed by users (notes, mitigations,
risk titles). Slack reads `<...>` as links and mentions (`<!channel>` pings a whole
channel) and `&` as the start of an entity, so all of it is escaped here before it
reaches any `mrkdwn` text, and every mrkdwn object is marked `verbatim` so Slack does
not go on to auto-link names such as `@channel` or `#general` either. Header blocks are
`plain_text`, which Slack does not parse for mentions, but they are escaped as well:
Slack's guidance is to escape the three characters in every text object, and it
decodes them for display.

Slack's limits are enforced here rather than discovered in production: 50 blocks per
message, 3000 characters per section text, 10 fields per section (2000 characters
each), 150 characters per header; a longer reply is shortened with a note saying so
(the text fallback, used for notifications and screen readers, keeps everything).
"""

from __future__ import annotations

from typing import Any

from handlers.reply import Kind, Rag, Reply

RAG_EMOJI = {
    Rag.GREEN: ":large_green_circle:",
    Rag.AMBER: ":large_orange_circle:",
    Rag.RED: ":red_circle:",
    Rag.BLUE: ":large_blue_circle:",
    Rag.GREY: ":white_circle:",
}
KIND_EMOJI = {Kind.ERROR: ":warning:", Kind.QUESTION: ":grey_question:"}

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_HEADER = 150
MAX_TEXT = 39_000  # chat.postMessage accepts 40,000 characters of `text`


def escape(text: str) -> str:
    """Escape the three characters Slack treats as markup: `&`, `<`, `>`."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _chunks(lines: list[str], limit: int = MAX_SECTION_TEXT) -> list[str]:
    """Join lines into texts of at most `limit` characters, splitting only between lines."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        line = _cut(line, limit)
        if current and len(current) + 1 + len(line) > limit:
            chunks.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return chunks


def _badge(rag: Rag | None) -> str:
    return f"{RAG_EMOJI[rag]} " if rag else ""


def render_text(reply: Reply) -> str:
    """The plain fallback (notifications, screen readers, clients without blocks), escaped."""
    out: list[str] = []
    if reply.title:
        out.append(f"*{escape(reply.title)}*")
    out.extend(escape(line) for line in reply.lines)
    out.extend(f"{escape(label)}: {escape(value)}" for label, value in reply.fields)
    for section in reply.sections:
        out.append("")
        out.append(f"{escape(section.heading)}:")
        out.extend(f"• {_badge(item.rag)}{escape(item.text)}" for item in section.items)
    if reply.footer:
        out.append("")
        out.append(escape(reply.footer))
    text = "\n".join(out).strip() or " "
    prefix = KIND_EMOJI.get(reply.kind)
    if prefix:
        text = f"{prefix} {text}"
    return _cut(text, MAX_TEXT)


def render_blocks(reply: Reply) -> list[dict[str, Any]]:
    """Block Kit blocks: header, paragraphs, label/value fields, itemised sections, footer."""
    blocks: list[dict[str, Any]] = []
    prefix = KIND_EMOJI.get(reply.kind)
    if reply.title:
        title = f"{prefix} {reply.title}" if prefix else reply.title
        blocks.append(
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": _cut(escape(title), MAX_HEADER),
                    "emoji": True,
                },
            }
        )
        prefix = None
    if reply.lines:
        lines = [escape(line) for line in reply.lines]
        if prefix:
            lines[0] = f"{prefix} {lines[0]}"
            prefix = None
        blocks.extend({"type": "section", "text": _mrkdwn(c)} for c in _chunks(lines))
    for start in range(0, len(reply.fields), MAX_FIELDS):
        fields = reply.fields[start : start + MAX_FIELDS]
        blocks.append(
            {
                "type": "section",
                "fields": [
                    _mrkdwn(_cut(f"*{escape(label)}*\n{escape(value)}", MAX_FIELD_TEXT))
                    for label, value in fields
                ],
            }
        )
    for section in reply.sections:
        lines = [f"*{escape(section.heading)}*"]
        lines += [f"• {_badge(item.rag)}{escape(item.text)}" for item in section.items]
        blocks.extend({"type": "section", "text": _mrkdwn(c)} for c in _chunks(lines))
    if reply.footer:
        footer = _cut(escape(reply.footer), MAX_SECTION_TEXT)
        blocks.append({"type": "context", "elements": [_mrkdwn(footer)]})
    if prefix:  # an error or question with nothing but a footer: still flag it
        blocks.insert(0, {"type": "section", "text": _mrkdwn(prefix)})
    if len(blocks) > MAX_BLOCKS:
        hidden = len(blocks) - (MAX_BLOCKS - 1)
        blocks = blocks[: MAX_BLOCKS - 1]
        note = f"(shortened to fit Slack: {hidden} more part(s) not shown; ask for less)"
        blocks.append({"type": "context", "elements": [_mrkdwn(note)]})
    return blocks


def render(reply: Reply) -> dict[str, Any]:
    """Arguments for chat.postMessage (and response_url): text, blocks, no auto-parsing."""
    return {
        "text": render_text(reply),
        "blocks": render_blocks(reply),
        "unfurl_links": False,
        "unfurl_media": False,
    }
