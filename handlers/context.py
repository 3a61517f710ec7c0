"""Everything a command needs to answer one message, passed explicitly (no globals)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from handlers.message import IncomingMessage
from storage.repository import Repository, Source
from tracker.calendar import DEFAULT_REGION, LONDON, WorkingCalendar, calendar_for
from tracker.model import Person


@dataclass
class Context:
    repo: Repository
    message: IncomingMessage
    person: Person  # never None: the front door turns strangers away before any command
    now: datetime  # aware, Europe/London

    @property
    def today(self) -> date:
        return self.now.astimezone(LONDON).date()

    @property
    def calendar(self) -> WorkingCalendar:
        """The council's working calendar: bank holidays of the strategy file's region."""
        return calendar_for(self.repo.strategy_info().get("bank_holidays", DEFAULT_REGION))

    @property
    def source(self) -> Source:
        """The audit trail's record of who said what, where."""
        return Source(
            actor=self.person.id,
            channel=self.message.sender.channel,
            text=self.message.text,
            message_id=self.message.message_id,
        )
