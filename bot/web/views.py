"""What each dashboard page shows, computed from the store with tracker/progress.py.

Plain functions returning dicts for the templates, so the same figures the digests and
the committee report print (progress.tally, overdue, top_risks) appear here unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from handlers.digest_content import directorate_of_risk
from storage.repository import Change, Repository
from tracker import progress
from tracker.model import Objective, Risk, Status, risk_band

CHANGES_DAYS = 28
CHANGES_LIMIT = 200

# Fill colours of the chart and tags, with words always shown next to them.
STATUS_CLASS = {
    Status.OFF_TRACK: "red",
    Status.AT_RISK: "amber",
    Status.ON_TRACK: "green",
    Status.NOT_STARTED: "grey",
    Status.PARTLY_ACHIEVED: "yellow",
    Status.ACHIEVED: "blue",
    Status.DEFERRED: "grey",
    Status.DROPPED: "grey",
}
BAND_CLASS = {"low": "green", "medium": "amber", "high": "red"}


@dataclass(frozen=True)
class Filters:
    directorate: str = ""
    theme: str = ""
    status: str = ""
    owner: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Filters:
        keys = ("directorate", "theme", "status", "owner")
        return cls(*(str(query.get(k, ""))[:100] for k in keys))

    def apply(self, objectives: Iterable[Objective]) -> list[Objective]:
        found = []
        for o in objectives:
            if self.directorate and o.directorate != self.directorate:
                continue
            if self.theme and str(o.theme) != self.theme:
                continue
            if self.status and o.status.value != self.status:
                continue
            if self.owner and (o.owner or "") != self.owner:
                continue
            found.append(o)
        return found

    @property
    def active(self) -> bool:
        return any((self.directorate, self.theme, self.status, self.owner))

    def known(self, choices: Mapping[str, Iterable[str]]) -> tuple[Filters, list[str]]:
        """These filters without values that are not among `choices` (field -> values),
        and a sentence for each one dropped: a mistyped or stale link says so instead of
        showing "0 objectives" as if that were the answer."""
        kept, problems = {}, []
        for name in ("directorate", "theme", "status", "owner"):
            value = getattr(self, name)
            if value and value not in set(choices.get(name, ())):
                problems.append(f"There is no {name} “{value}”: choose one from the list.")
                value = ""
            kept[name] = value
        return Filters(**kept), problems


def names(repo: Repository) -> dict[str, str]:
    return {p.id: p.name for p in repo.people()}


def headline(objectives: list[Objective], risks: list[Risk], today: date) -> dict[str, Any]:
    """progress.headline's figures (the report's, digests' and chat's), with the CSS
    classes of the tags that show them."""
    h = progress.headline(objectives, today)
    open_risks = [r for r in risks if r.open]
    return {
        "h": h,
        "tally": h.tally,
        "achievement": h.tally.achievement().capitalize() + ".",
        "counts": h.tally.headline() + ".",
        "rag": h.rag_line() if h.total else "none",
        "statuses": [(s, n, pct, STATUS_CLASS[s]) for s, n, pct in h.status_counts()],
        "achieved_pct": h.achieved_percent,
        "partly_pct": h.partly_percent,
        "overdue": h.overdue,
        "open_risks": len(open_risks),
        "high_risks": sum(1 for r in open_risks if r.band == "high"),
    }


def chart(repo: Repository, objectives: list[Objective]) -> dict[str, Any]:
    """Status by theme: one stacked bar per theme (SVG) and the same data as a table."""
    width = 600
    rows = []
    for theme in repo.themes():
        in_theme = [o for o in objectives if o.theme == theme.number]
        tally = progress.tally(in_theme)
        x = 0.0
        segments = []
        for status in progress.STATUS_ORDER:
            count = tally.by_status.get(status, 0)
            if not count:
                continue
            w = width * count / tally.total
            segments.append(
                {
                    "x": round(x, 1),
                    "w": round(w, 1),
                    "status": status,
                    "count": count,
                    "css": STATUS_CLASS[status],
                }
            )
            x += w
        rows.append({"theme": theme, "tally": tally, "segments": segments})
    return {"rows": rows, "width": width, "height": 40 * len(rows) + 10}


def objective_rows(
    repo: Repository, objectives: Iterable[Objective], today: date
) -> list[dict[str, Any]]:
    people = names(repo)
    dirs = {d.id: d.name for d in repo.directorates()}
    return [
        {
            "o": o,
            "owner": people.get(o.owner or "", o.owner or "no owner"),
            "directorate": dirs.get(o.directorate, o.directorate),
            "css": STATUS_CLASS[o.status],
            "overdue": o.is_overdue(today),
        }
        for o in objectives
    ]


def risk_rows(repo: Repository, risks: Iterable[Risk], today: date) -> list[dict[str, Any]]:
    people = names(repo)
    return [
        {
            "r": r,
            "owner": people.get(r.owner or "", r.owner or "no owner"),
            "css": BAND_CLASS[r.band],
            "past_review": bool(r.review and r.review < today),
        }
        for r in progress.top_risks(risks, limit=10_000)
    ]


def heat_map(risks: Iterable[Risk]) -> list[dict[str, Any]]:
    """Rows impact 5 down to 1, columns likelihood 1 to 5, each cell its count and level."""
    counts = Counter((r.likelihood, r.impact) for r in risks if r.open)
    rows = []
    for impact in range(5, 0, -1):
        cells = []
        for likelihood in range(1, 6):
            band, _ = risk_band(likelihood * impact)
            cells.append(
                {
                    "likelihood": likelihood,
                    "impact": impact,
                    "score": likelihood * impact,
                    "band": band,
                    "css": BAND_CLASS[band],
                    "count": counts.get((likelihood, impact), 0),
                }
            )
        rows.append({"impact": impact, "cells": cells})
    return rows


def risks_of_directorate(repo: Repository, directorate_id: str) -> list[Risk]:
    return [r for r in repo.risks() if directorate_of_risk(repo, r) == directorate_id]


def describe_change(change: Change, people: Mapping[str, str]) -> dict[str, Any]:
    kind, _, key = change.entity.partition(":")
    parts = []
    for field_name, values in change.changes.items():
        before, after = [*values, None, None][:2]
        unit = "%" if field_name == "progress" else ""
        was, now = (_show(v) + (unit if v is not None else "") for v in (before, after))
        parts.append(f"{field_name.replace('_', ' ')}: {was} → {now}")
    return {
        "c": change,
        "who": people.get(change.actor, change.actor),
        "kind": kind,
        "key": key,
        "what": "; ".join(parts),
    }


def _show(value: Any) -> str:
    if value is None or value == "":
        return "none"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        try:
            return date.fromisoformat(text).strftime("%-d %b %Y")
        except ValueError:
            return text
    return text


def recent_changes(repo: Repository, now: datetime) -> list[dict[str, Any]]:
    people = names(repo)
    changes = repo.changes_since(now - timedelta(days=CHANGES_DAYS))[:CHANGES_LIMIT]
    return [describe_change(c, people) for c in changes]
