"""The channel-neutral reply: what the bot says, structured so each channel can render it.

Handlers never write Slack Block Kit, Adaptive Cards or terminal text. They return a
Reply with a title, short paragraphs, label/value fields and itemised sections, each
item optionally carrying a RAG colour; `bot/channels/*` turn that into their own
markup and `as_text()` gives the plain-text fallback every channel also sends.
All strings here are plain text as the user typed them: renderers escape them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from tracker.model import Rag  # the domain's colours; re-exported for channels and handlers

__all__ = ["Item", "Kind", "Rag", "Reply", "Section"]


class Kind(StrEnum):
    """Why the bot is speaking; channels may style a refusal differently from an answer."""

    ANSWER = "answer"
    CONFIRMATION = "confirmation"
    QUESTION = "question"  # the bot needs the user to choose or clarify
    ERROR = "error"  # input was not understood or not allowed; nothing was changed


@dataclass(frozen=True)
class Item:
    text: str
    rag: Rag | None = None


@dataclass(frozen=True)
class Section:
    heading: str
    items: tuple[Item, ...]


@dataclass
class Reply:
    title: str | None = None
    lines: list[str] = field(default_factory=list)
    fields: list[tuple[str, str]] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    footer: str | None = None
    kind: Kind = Kind.ANSWER
    images: list[Path] = field(default_factory=list)

    def section(self, heading: str, items: list[Item] | list[str]) -> Reply:
        """Add a section unless it is empty: digests and lists never show empty headings."""
        if items:
            self.sections.append(
                Section(heading, tuple(i if isinstance(i, Item) else Item(i) for i in items))
            )
        return self

    def as_text(self) -> str:
        """Plain text for the console and as every channel's notification fallback."""
        out: list[str] = []
        if self.title:
            out.append(self.title)
        out.extend(self.lines)
        out.extend(f"{label}: {value}" for label, value in self.fields)
        for section in self.sections:
            out.append("")
            out.append(f"{section.heading}:")
            for item in section.items:
                badge = f"[{item.rag.label}] " if item.rag else ""
                out.append(f"  - {badge}{item.text}")
        if self.footer:
            out.append("")
            out.append(self.footer)
        out.extend(f"(chart saved to {image})" for image in self.images)
        return "\n".join(out)
