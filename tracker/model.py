"""The strategy's vocabulary: statuses as officers say them, roles, and risk scoring.

Kept free of storage and chat so digests, handlers and importers share one meaning
of "at risk" or "high risk".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class Rag(StrEnum):
    """Traffic-light colours councils use in progress reports (plus blue for done)."""

    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    BLUE = "blue"
    GREY = "grey"

    @property
    def label(self) -> str:
        return self.value.upper()


class Status(StrEnum):
    NOT_STARTED = "not started"
    ON_TRACK = "on track"
    AT_RISK = "at risk"
    OFF_TRACK = "off track"
    ACHIEVED = "achieved"
    PARTLY_ACHIEVED = "partly achieved"
    DEFERRED = "deferred"
    DROPPED = "dropped"

    @property
    def rag(self) -> Rag:
        return STATUS_RAG[self]

    @property
    def is_closed(self) -> bool:
        """Closed objectives are never overdue, stale or nudged."""
        return self in (Status.ACHIEVED, Status.DROPPED, Status.DEFERRED)


STATUS_RAG = {
    Status.NOT_STARTED: Rag.GREY,
    Status.ON_TRACK: Rag.GREEN,
    Status.AT_RISK: Rag.AMBER,
    Status.OFF_TRACK: Rag.RED,
    Status.ACHIEVED: Rag.BLUE,
    Status.PARTLY_ACHIEVED: Rag.AMBER,
    Status.DEFERRED: Rag.GREY,
    Status.DROPPED: Rag.GREY,
}

# Words officers actually use, longest first so "not on track" wins over "on track".
STATUS_SYNONYMS: dict[str, Status] = {
    "not yet started": Status.NOT_STARTED,
    "not started": Status.NOT_STARTED,
    "yet to start": Status.NOT_STARTED,
    "not begun": Status.NOT_STARTED,
    "not on track": Status.OFF_TRACK,
    "off track": Status.OFF_TRACK,
    "off-track": Status.OFF_TRACK,
    "red": Status.OFF_TRACK,
    "blocked": Status.OFF_TRACK,
    "stalled": Status.OFF_TRACK,
    "failing": Status.OFF_TRACK,
    "on track": Status.ON_TRACK,
    "on-track": Status.ON_TRACK,
    "green": Status.ON_TRACK,
    "in progress": Status.ON_TRACK,
    "underway": Status.ON_TRACK,
    "under way": Status.ON_TRACK,
    "at risk": Status.AT_RISK,
    "at-risk": Status.AT_RISK,
    "amber": Status.AT_RISK,
    "slipping": Status.AT_RISK,
    "behind": Status.AT_RISK,
    "delayed": Status.AT_RISK,
    "running late": Status.AT_RISK,
    "partly achieved": Status.PARTLY_ACHIEVED,
    "partially achieved": Status.PARTLY_ACHIEVED,
    "part achieved": Status.PARTLY_ACHIEVED,
    "partly done": Status.PARTLY_ACHIEVED,
    "partly complete": Status.PARTLY_ACHIEVED,
    "partially complete": Status.PARTLY_ACHIEVED,
    "fully achieved": Status.ACHIEVED,
    "achieved": Status.ACHIEVED,
    "done": Status.ACHIEVED,
    "complete": Status.ACHIEVED,
    "completed": Status.ACHIEVED,
    "delivered": Status.ACHIEVED,
    "finished": Status.ACHIEVED,
    "deferred": Status.DEFERRED,
    "postponed": Status.DEFERRED,
    "on hold": Status.DEFERRED,
    "paused": Status.DEFERRED,
    "dropped": Status.DROPPED,
    "cancelled": Status.DROPPED,
    "canceled": Status.DROPPED,
    "withdrawn": Status.DROPPED,
    "abandoned": Status.DROPPED,
}
_SYNONYM_PATTERN = re.compile(
    r"(?<![\w-])("
    + "|".join(re.escape(k) for k in sorted(STATUS_SYNONYMS, key=len, reverse=True))
    + r")(?![\w-])",
    re.IGNORECASE,
)


def parse_status(text: str) -> Status | None:
    """The status a whole phrase names ("Green", "done"), or None."""
    return STATUS_SYNONYMS.get(" ".join(text.lower().split()))


def find_status(text: str) -> tuple[Status, int, int] | None:
    """The first status word inside free text, with its span, so the rest can be the note."""
    match = _SYNONYM_PATTERN.search(text)
    if not match:
        return None
    return STATUS_SYNONYMS[match.group(1).lower()], match.start(), match.end()


class Role(StrEnum):
    OFFICER = "officer"
    DIRECTORATE_LEAD = "directorate lead"
    STRATEGY_GROUP = "strategy group"
    ADMIN = "admin"

    @classmethod
    def parse(cls, text: str) -> Role | None:
        key = text.strip().lower().replace("_", " ").replace("-", " ")
        aliases = {
            "lead": cls.DIRECTORATE_LEAD,
            "strategy group member": cls.STRATEGY_GROUP,
            "member": cls.STRATEGY_GROUP,
            "administrator": cls.ADMIN,
        }
        return next((r for r in cls if r.value == key), None) or aliases.get(key)


# --- risks: the usual local-government 5 x 5 matrix --------------------------------
RISK_BANDS = (("low", 1, 4, Rag.GREEN), ("medium", 5, 12, Rag.AMBER), ("high", 15, 25, Rag.RED))

LEVEL_WORDS = {
    "very low": 1,
    "rare": 1,
    "negligible": 1,
    "insignificant": 1,
    "low": 2,
    "unlikely": 2,
    "minor": 2,
    "medium": 3,
    "moderate": 3,
    "possible": 3,
    "possibly": 3,
    "high": 4,
    "likely": 4,
    "major": 4,
    "significant": 4,
    "probable": 4,
    "very high": 5,
    "almost certain": 5,
    "certain": 5,
    "severe": 5,
    "critical": 5,
    "extreme": 5,
}


def risk_band(score: int) -> tuple[str, Rag]:
    """Band of a likelihood x impact score; the gaps (13, 14) cannot occur as products."""
    for name, low, high, rag in RISK_BANDS:
        if low <= score <= high:
            return name, rag
    return ("high", Rag.RED) if score > 12 else ("medium", Rag.AMBER)


@dataclass(frozen=True)
class Theme:
    number: int
    title: str
    aliases: tuple[str, ...] = ()  # other names officers use, from the strategy file


@dataclass(frozen=True)
class Directorate:
    id: str
    name: str
    lead: str | None = None


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    role: Role
    directorate: str | None = None
    slack_id: str | None = None
    teams_id: str | None = None
    email: str | None = None
    strategy_group: bool = False


@dataclass(frozen=True)
class Objective:
    id: str
    theme: int
    title: str
    directorate: str
    owner: str | None
    due: date | None
    status: Status = Status.NOT_STARTED
    progress: int | None = None
    last_update: str | None = None  # ISO time of the latest update, for staleness
    doc_id: int | None = field(default=None, compare=False)
    aliases: tuple[str, ...] = field(default=(), compare=False)  # from the strategy file

    def is_overdue(self, today: date) -> bool:
        return (
            self.due is not None
            and self.due < today
            and not self.status.is_closed
            and (self.status != Status.PARTLY_ACHIEVED)
        )


@dataclass(frozen=True)
class Risk:
    id: str
    title: str
    likelihood: int
    impact: int
    owner: str | None = None
    mitigation: str | None = None
    theme: int | None = None
    objective: str | None = None
    review: date | None = None
    open: bool = True
    created_at: str | None = None
    doc_id: int | None = field(default=None, compare=False)

    @property
    def score(self) -> int:
        return self.likelihood * self.impact

    @property
    def band(self) -> str:
        return risk_band(self.score)[0]

    @property
    def rag(self) -> Rag:
        return risk_band(self.score)[1]
