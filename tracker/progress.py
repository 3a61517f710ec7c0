"""How the strategy is doing: counts, percentages and the lists reports are built from.

Pure functions over domain objects, shared by chat answers and digests, so "overdue"
or "45% achieved" means the same thing in a reply, a digest and an export.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tracker.model import Objective, Rag, Risk, Status

STALE_AFTER_DAYS = 28

# The order reports list statuses in: the good news last, like a committee paper's RAG table.
STATUS_ORDER = (
    Status.OFF_TRACK,
    Status.AT_RISK,
    Status.ON_TRACK,
    Status.NOT_STARTED,
    Status.PARTLY_ACHIEVED,
    Status.ACHIEVED,
    Status.DEFERRED,
    Status.DROPPED,
)


@dataclass(frozen=True)
class Tally:
    total: int
    by_status: dict[Status, int]

    def percent(self, status: Status) -> int:
        return round(100 * self.by_status.get(status, 0) / self.total) if self.total else 0

    def headline(self, noun: str = "objectives") -> str:
        """ "12 objectives: 7 on track, 3 at risk, 1 off track, 1 achieved"."""
        parts = [f"{self.by_status[s]} {s.value}" for s in STATUS_ORDER if self.by_status.get(s)]
        label = noun if self.total != 1 else noun.rstrip("s")
        return f"{self.total} {label}: {', '.join(parts)}" if parts else f"0 {noun}"

    def achievement(self, noun: str = "objectives") -> str:
        """The line Members ask for: "of 20 objectives, 45% achieved, 25% partly achieved"."""
        return (
            f"of {self.total} {noun}, {self.percent(Status.ACHIEVED)}% achieved, "
            f"{self.percent(Status.PARTLY_ACHIEVED)}% partly achieved"
        )


def tally(objectives: Iterable[Objective]) -> Tally:
    items = list(objectives)
    return Tally(len(items), dict(Counter(o.status for o in items)))


def overdue(objectives: Iterable[Objective], today: date) -> list[Objective]:
    return sorted((o for o in objectives if o.is_overdue(today)), key=lambda o: o.due or today)


def due_between(objectives: Iterable[Objective], start: date, end: date) -> list[Objective]:
    found = [o for o in objectives if o.due and start <= o.due <= end and not o.status.is_closed]
    return sorted(found, key=lambda o: o.due or start)


def stale(
    objectives: Iterable[Objective],
    now: datetime,
    days: int = STALE_AFTER_DAYS,
    *,
    tracked_since: datetime | None = None,
) -> list[Objective]:
    """Open objectives nobody has updated for `days` (never-updated ones included).

    `tracked_since` (when the strategy was loaded) keeps never-updated objectives out
    until they have been tracked for `days` too: a strategy loaded last week is not stale.
    """
    cutoff = now - timedelta(days=days)
    found = []
    for objective in objectives:
        if objective.status.is_closed or objective.status == Status.PARTLY_ACHIEVED:
            continue
        last = datetime.fromisoformat(objective.last_update) if objective.last_update else None
        if last is None and tracked_since is not None and tracked_since >= cutoff:
            continue
        if last is None or last < cutoff:
            found.append(objective)
    return found


def top_risks(risks: Iterable[Risk], limit: int = 5) -> list[Risk]:
    """Open risks by score, ties broken by impact (what hurts most first), then age."""
    open_risks = [r for r in risks if r.open]
    return sorted(open_risks, key=lambda r: (-r.score, -r.impact, r.created_at or ""))[:limit]


def days_late(objective: Objective, today: date) -> int:
    return (today - objective.due).days if objective.due else 0


# ----------------------------------------------------------------- headline figures
# One computation for the figures the committee report, the dashboard, the digests and the
# chat `summary` all show, so a Member never sees "63% achieved" in one place and "62%" in
# another (tests/test_one_view.py reads them back from each and compares).
RAG_ORDER = (Rag.RED, Rag.AMBER, Rag.GREEN, Rag.BLUE, Rag.GREY)


@dataclass(frozen=True)
class Headline:
    """York's sentence and the counts behind it: by status, by RAG colour, and overdue."""

    tally: Tally
    by_rag: dict[Rag, int]
    overdue: int  # open objectives past their due date

    @property
    def total(self) -> int:
        return self.tally.total

    @property
    def by_status(self) -> dict[Status, int]:
        return self.tally.by_status

    @property
    def achieved_percent(self) -> int:
        return self.tally.percent(Status.ACHIEVED)

    @property
    def partly_percent(self) -> int:
        return self.tally.percent(Status.PARTLY_ACHIEVED)

    @property
    def sentence(self) -> str:
        """ "Of the 20 objectives, 15% are fully achieved and 10% partly achieved"."""
        noun = "objective" if self.total == 1 else "objectives"
        return (
            f"Of the {self.total} {noun}, {self.achieved_percent}% are fully achieved and "
            f"{self.partly_percent}% partly achieved"
        )

    def status_counts(self) -> list[tuple[Status, int, int]]:
        """(status, count, percent) in report order, every status included."""
        return [(s, self.by_status.get(s, 0), self.percent(self.by_status.get(s, 0)))
                for s in STATUS_ORDER]  # fmt: skip

    def rag_counts(self) -> list[tuple[Rag, int, int]]:
        return [(r, self.by_rag.get(r, 0), self.percent(self.by_rag.get(r, 0)))
                for r in RAG_ORDER]  # fmt: skip

    def rag_line(self) -> str:
        """ "2 red, 3 amber, 10 green, 5 blue": the RAG counts in words, worst first."""
        return ", ".join(f"{n} {r.value}" for r, n, _ in self.rag_counts() if n) or "none"

    def percent(self, count: int) -> int:
        return round(100 * count / self.total) if self.total else 0


def headline(objectives: Iterable[Objective], today: date) -> Headline:
    items = list(objectives)
    counts = tally(items)
    by_rag: Counter[Rag] = Counter()
    for status, count in counts.by_status.items():
        by_rag[status.rag] += count
    return Headline(tally=counts, by_rag=dict(by_rag), overdue=len(overdue(items, today)))
