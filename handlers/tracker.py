"""The core's front door: one chat message in, one channel-neutral reply out.

Channels call `Tracker.handle`. It cleans the text (length cap, control characters),
works out who is speaking, turns away strangers with instructions instead of
silence, routes the message to a command, and converts refusals and mistakes into
friendly replies. Commands raise `NotAllowed` for permission refusals; anything a
command raises leaves the store untouched, because writes happen in one transaction
at the end of a command.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from datetime import datetime

from handlers import (  # noqa: F401  (registers commands)
    basics,
    dashboard,
    digest_commands,
    questions,
    risks,
    updates,
)
from handlers.context import Context
from handlers.message import IncomingMessage, Sender
from handlers.permissions import NotAllowed
from handlers.reply import Kind, Reply
from handlers.router import dispatch, suggestions
from storage.repository import NotFound, Repository
from tracker.dates import LONDON
from tracker.model import Person

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f]")
_QUESTION_ONLY = {"help", "who am i"}


def clean_text(text: str) -> tuple[str, int]:
    """NFC-normalised text without control/invisible characters; returns how many went."""
    text = unicodedata.normalize("NFC", text)
    cleaned, removed = _CONTROL.subn(" ", text)
    cleaned = cleaned.replace("\t", " ").replace("\r", " ").replace("\n", " ")
    cleaned = re.sub(r"[“”]", '"', re.sub(r"[‘’]", "'", cleaned))
    return " ".join(cleaned.split()), removed


class Tracker:
    """The channel-neutral bot. Create one per process and share it between channels."""

    def __init__(self, repo: Repository, clock: Callable[[], datetime] | None = None) -> None:
        self.repo = repo
        self.clock = clock or (lambda: datetime.now(LONDON))

    def identify(self, sender: Sender) -> Person | None:
        if sender.person_id:
            return self.repo.person(sender.person_id)
        return self.repo.person_by_chat(user_id=sender.user_id, email=sender.email)

    async def handle(self, message: IncomingMessage) -> Reply:
        await self.repo.refresh()
        if len(message.text) > MAX_MESSAGE_CHARS:
            return Reply(
                title="That message is too long for me.",
                lines=[
                    f"It has {len(message.text):,} characters; I take up to "
                    f"{MAX_MESSAGE_CHARS:,}. Please shorten the note (a link to a document "
                    "works well). Nothing was saved."
                ],
                kind=Kind.ERROR,
            )
        text, removed = clean_text(message.text)
        if not text:
            return Reply(
                title="I didn't catch anything there.",
                lines=["Try `help`, `summary` or `update 3.2 on track 60% survey done`."],
                kind=Kind.ERROR,
            )
        message = IncomingMessage(text, message.sender, message.message_id, message.conversation_id)
        person = self.identify(message.sender)
        now = self.clock().astimezone(LONDON)
        context = Context(self.repo, message, person, now)
        if person is None and text.lower() not in _QUESTION_ONLY:
            return self._stranger(message.sender)
        try:
            found = await dispatch(context, text)
        except NotAllowed as refusal:
            return Reply(title="Not changed.", lines=[str(refusal)], kind=Kind.ERROR)
        except NotFound as missing:
            return Reply(title=f"I couldn't find {missing}.", kind=Kind.ERROR)
        if found is None:
            return self._not_understood(text)
        command, reply = found
        if person is None and command.name != "help":
            return self._stranger(message.sender)
        if removed:
            note = f"(I ignored {removed} invisible or control character{'s' * (removed > 1)}.)"
            reply.footer = f"{reply.footer}\n{note}" if reply.footer else note
        return reply

    def _stranger(self, sender: Sender) -> Reply:
        admins = [p.name for p in self.repo.people() if p.role.value == "admin"]
        ident = sender.user_id or sender.email or "your chat account"
        return Reply(
            title="I don't know you yet, so I can't show or change the strategy.",
            lines=[
                f"Ask {' or '.join(admins) if admins else 'your strategy administrator'} to add "
                f"you to the strategy file with your {sender.channel} id ({ident}). "
                "Until then, `help` shows what I can do."
            ],
            kind=Kind.ERROR,
        )

    def _not_understood(self, text: str) -> Reply:
        closest = suggestions(text)
        shown = text if len(text) <= 80 else text[:77] + "..."
        return Reply(
            title=f"Sorry, I didn't understand “{shown}”.",
            lines=["Did you mean " + " or ".join(f"`{s}`" for s in closest) + "?"]
            if closest
            else [],
            footer="Say `help` for everything I understand. Nothing was changed.",
            kind=Kind.ERROR,
        )
