"""The core's front door: one chat message in, one channel-neutral reply out.

Channels call `FrontDoor.handle`. It cleans the text (length cap, control characters),
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
    report_commands,
    risks,
    updates,
)
from handlers.basics import help_reply
from handlers.context import Context
from handlers.message import IncomingMessage, Sender
from handlers.permissions import NotAllowed
from handlers.reader import normalise, read
from handlers.reader_questions import answer, read_question
from handlers.reply import Kind, Reply
from handlers.router import Command, dispatch, find_command, suggestions
from handlers.updates import apply_reading
from storage.repository import NotFound, Repository, StoreUnwritable
from tracker.dates import LONDON
from tracker.model import Person

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f]")


def clean_text(text: str) -> tuple[str, int]:
    """NFC-normalised text without control/invisible characters; returns how many went."""
    text = unicodedata.normalize("NFC", text)
    cleaned, removed = _CONTROL.subn(" ", text)
    cleaned = cleaned.replace("\t", " ").replace("\r", " ").replace("\n", " ")
    cleaned = re.sub(r"[“”]", '"', re.sub(r"[‘’]", "'", cleaned))
    return " ".join(cleaned.split()), removed


class FrontDoor:
    """The channel-neutral bot. Create one per process and share it between channels."""

    def __init__(self, repo: Repository, clock: Callable[[], datetime] | None = None) -> None:
        self.repo = repo
        self.clock = clock or (lambda: datetime.now(LONDON))

    def identify(self, sender: Sender) -> Person | None:
        if sender.person_id:
            return self.repo.person(sender.person_id)
        return self.repo.person_by_chat(
            user_id=sender.user_id, email=sender.email, channel=sender.channel
        )

    async def handle(self, message: IncomingMessage) -> Reply:
        """The reply to one message; sent only once all it could have read is durable.

        If that fails (an fsync failed, so changes made at the same moment are undone),
        a reply confirming this message's own saved change stands (that change was
        durable before the failure), and so does a refusal ("Nothing was recorded: ...").
        Any other reply might show what was lost, so it is replaced by one saying so."""
        with self.repo.watching_commits() as saved:
            reply = await self._handle(message)
        try:
            await self.repo.settled()
        except StoreUnwritable as failure:
            if saved or reply.kind is Kind.ERROR:
                return reply
            return Reply(
                title=f"I can't answer that just now: {failure.reason}.",
                lines=["Nothing was changed. Please try again in a moment."],
                kind=Kind.ERROR,
            )
        return reply

    async def _handle(self, message: IncomingMessage) -> Reply:
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
        text = normalise(text) or text
        person = self.identify(message.sender)
        now = self.clock().astimezone(LONDON)
        if person is None:
            # The stranger check: before any command runs, so every Context has a person.
            if text.lower().strip(" ?!.") == "help":
                return help_reply(self.repo)
            return self._stranger(message.sender)
        context = Context(self.repo, message, person, now)
        try:
            found = await self._route(context, text)
        except NotAllowed as refusal:
            return Reply(title="Not changed.", lines=[str(refusal)], kind=Kind.ERROR)
        except NotFound as missing:
            return Reply(title=f"I couldn't find {missing}.", kind=Kind.ERROR)
        except StoreUnwritable as failure:  # disk full or read-only: said plainly, not "Sorry"
            return Reply(title=f"Nothing was recorded: {failure.reason}.", kind=Kind.ERROR)
        if found is None:
            return self._not_understood(text)
        _command, reply = found
        if removed:
            note = f"(I ignored {removed} invisible or control character{'s' * (removed > 1)}.)"
            reply.footer = f"{reply.footer}\n{note}" if reply.footer else note
        return reply

    async def _route(self, context: Context, text: str) -> tuple[Command, Reply] | None:
        """The reader first (is this a change to an objective?), then the command table."""
        reading = read(context, text)
        if reading.intent in ("change", "refuse", "ask"):
            only_date = reading.status is None and reading.progress is None and not reading.note
            name = "change due date" if only_date and (reading.due or reading.move) else "update"
            if name == "update" and reading.ref_text and not reading.ref_text[0].isdigit():
                name = "update by title"
            return find_command(name), await apply_reading(context, reading)
        found = await dispatch(context, text)
        if found is None:
            question = read_question(context, text)
            if question is not None:
                return find_command("question"), answer(context, question)
        return found

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
