"""Wording shared by replies: one way to show an objective, a risk, a change or a date."""

from __future__ import annotations

from datetime import date
from typing import Any

from handlers.reply import Item, Rag
from storage.repository import Change, Repository
from tracker.dates import LONDON, format_date
from tracker.model import Objective, Risk, Status

FIELD_LABELS = {
    "status": "Status",
    "progress": "Progress",
    "due": "Due",
    "owner": "Owner",
    "likelihood": "Likelihood",
    "impact": "Impact",
    "mitigation": "Mitigation",
    "review": "Review date",
    "open": "Status",
    "closing_note": "Reason",
    "reopening_note": "Reason",
    "title": "Title",
    "theme": "Theme",
    "objective": "Objective",
    "directorate": "Directorate",
}


def name_of(repo: Repository, person_id: str | None) -> str:
    person = repo.person(person_id) if person_id else None
    return person.name if person else (person_id or "nobody")


def show_value(repo: Repository, field: str, value: Any) -> str:
    if value is None or value == "":
        return "none"
    if field == "progress":
        return f"{value}%"
    if field in ("due", "review"):
        return format_date(date.fromisoformat(value) if isinstance(value, str) else value)
    if field == "owner":
        return name_of(repo, value)
    if field == "open":
        return "open" if value else "closed"
    return str(value.value if isinstance(value, Status) else value)


def change_lines(repo: Repository, changes: dict[str, list[Any]]) -> list[tuple[str, str]]:
    """Field-by-field before → after, so the officer can spot a misunderstanding."""
    skip = {"key", "created_at", "created_by", "last_update", "updated_at"}
    return [
        (
            FIELD_LABELS.get(f, f.capitalize()),
            f"{show_value(repo, f, old)} → {show_value(repo, f, new)}"
            if old is not None
            else show_value(repo, f, new),
        )
        for f, (old, new) in changes.items()
        if f not in skip
    ]


def objective_item(repo: Repository, objective: Objective, today: date) -> Item:
    parts = [objective.status.value]
    if objective.progress is not None:
        parts.append(f"{objective.progress}%")
    if objective.due:
        late = objective.is_overdue(today)
        parts.append(
            f"{'was due' if late else 'due'} {format_date(objective.due)}"
            + (f" ({(today - objective.due).days} days late)" if late else "")
        )
    parts.append(name_of(repo, objective.owner))
    return Item(f"{objective.id} {objective.title} — {', '.join(parts)}", objective.status.rag)


def risk_item(repo: Repository, risk: Risk) -> Item:
    link = f", theme {risk.theme}" if risk.theme else ""
    link += f", objective {risk.objective}" if risk.objective else ""
    state = "" if risk.open else " (closed)"
    return Item(
        f"{risk.id} {risk.title} — score {risk.score} {risk.band} (likelihood {risk.likelihood}"
        f" × impact {risk.impact}){link}, owner {name_of(repo, risk.owner)}{state}",
        risk.rag if risk.open else Rag.GREY,
    )


def change_item(repo: Repository, change: Change) -> Item:
    when = change.at.astimezone(LONDON).strftime("%a %d %b %H:%M")
    what = "; ".join(
        f"{label.lower()} {value}" for label, value in change_lines(repo, change.changes)
    )
    subject = change.entity.partition(":")[2] or change.entity
    if change.action.startswith("add") and "title" in change.changes:
        what = f"“{change.changes['title'][1]}”"
    elif change.action == "update" and not what and not change.note:
        what = "confirmed, no change"
    note = f" — “{change.note}”" if change.note and change.action != "undo" else ""
    verb = "updated" if change.action == "update" else change.action
    undone = " (undone)" if change.undone else ""
    return Item(
        f"{when} {name_of(repo, change.actor)} {verb} {subject}"
        f"{': ' + what if what else ''}{note}{undone}"
    )
