"""Recording progress on objectives: status, percentage, note, due date and owner.

Officers phrase updates many ways ("update 3.2 on track 60% survey done", "3.2 is at
risk: supplier late", "1.4 done", "progress on 1.4: 75%"). What a message says is found
by the reader (`handlers/reader.py`); this module writes it: `apply_reading` checks
permission and records status, %, due date and note in one transaction, and lists any
field word it did not apply, so a confirmation never hides a dropped field. Owners, new
objectives and due dates given as "push 5.1 to Q3 2027" are commands of their own here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from handlers.context import Context
from handlers.format import change_lines, name_of
from handlers.permissions import check_manager, check_objective
from handlers.reader import Reading, moved_date, read
from handlers.reply import Item, Kind, Reply
from handlers.resolve import find_objective_in_text, find_person, objective_ranges
from handlers.router import command
from storage.repository import Conflict
from tracker.dates import DateNotUnderstood, format_date, parse_due_date
from tracker.model import Objective, Status

OID = r"(?P<oid>\d{1,2}\.\d{1,3})"
UNDO_HINT = "Not right? Say `undo` to reverse it."


@dataclass
class UpdateText:
    status: Status | None = None
    progress: int | None = None
    note: str | None = None


def _missing_objective(ctx: Context, name: str) -> Reply:
    return Reply(
        title=f"There is no objective {name}.",
        lines=[
            f"Objectives are {objective_ranges(ctx.repo)}. "
            "Say `objectives` to list them. Nothing was saved."
        ],
        kind=Kind.ERROR,
    )


def _ambiguous(ctx: Context, text: str, candidates: list[Objective], example: str) -> Reply:
    return Reply(
        title=f"“{text}” could be more than one objective.",
        lines=["Which did you mean? Send it again with the objective's number. Nothing was saved."],
        sections=[],
        kind=Kind.QUESTION,
    ).section(
        "Send one of these", [Item(example.format(oid=o.id) + f"  ({o.title})") for o in candidates]
    )


async def _record(
    ctx: Context, objective: Objective, update: UpdateText, due: date | None = None
) -> Reply:
    if update.status is None and update.progress is None and not update.note and due is None:
        return Reply(
            title=f"What's the update on {objective.id}?",
            lines=[
                f"For example: `update {objective.id} on track 60% survey done`, "
                f"`{objective.id} is at risk: supplier late` or `{objective.id} done`."
            ],
            kind=Kind.QUESTION,
        )
    check_objective(ctx.repo, ctx.person, objective)
    progress = update.progress
    if update.status is Status.ACHIEVED and progress is None:
        progress = 100
    change = await ctx.repo.record_update(
        objective.id, ctx.source, status=update.status, progress=progress, due=due, note=update.note
    )
    reply = Reply(
        title=f"Recorded update on {objective.id} {objective.title}",
        kind=Kind.CONFIRMATION,
        footer=UNDO_HINT,
    )
    reply.fields.extend(change_lines(ctx.repo, change.changes))
    if update.status and not change.changes.get("status"):
        reply.fields.append(("Status", f"{update.status.value} (unchanged)"))
    if update.progress is not None and not change.changes.get("progress"):
        reply.fields.append(("Progress", f"{update.progress}% (unchanged)"))
    if update.note:
        reply.fields.append(("Note", update.note))
    return reply


@command(
    "update",
    rf"(?:update|progress|report)\s+(?:on\s+|for\s+)?(?:objective\s+)?{OID}\b\s*(?:[:,–]|-(?!\d))?\s*(?P<rest>.*)",
    rf"(?:objective\s+)?{OID}\s*(?:[:,\-–]\s*)?(?P<rest>(?:is\s+|now\s+|currently\s+)*"
    rf"(?:\d{{1,4}}(?:\.\d+)?\s*(?:%|percent|per\s*cent)|[a-z]).*)",
    group="Updating objectives",
    examples=(
        "update 3.2 on track 60% survey done",
        "3.2 is at risk: supplier late",
        "1.4 done",
        "progress on 1.4: 75%",
        "2.2 amber still, 45% - testing delayed",
        "3.2 65% (was 60%)",
    ),
    summary="Record progress: status (on track, at risk, off track, done...), % and a note.",
)
async def update_by_id(ctx: Context, match: re.Match[str]) -> Reply | None:
    """Reached only when the reader declined; the reader still reads the fields, so this
    path keeps the no-silent-loss rule too."""
    reading = read(ctx, match.string)
    if reading.intent == "route" and not reading.problem:
        return None  # "3.2 history", "is 3.2 late?": not a change; let the questions try
    return await apply_reading(ctx, reading)


@command(
    "update by title",
    r"(?:update|progress|report)\s+(?:on|for)\s+(?P<title>[^:]+?)\s*[:\-–—]\s*(?P<rest>.+)",
    r"(?:update|progress|report)\s+(?:on|for)\s+(?P<title>.+?)\s+(?P<rest>(?:is\s+)?"
    r"(?:\d{1,3}\s*%|on track|at risk|off track|done|complete|achieved|green|amber|red).*)",
    group="Updating objectives",
    examples=(
        "update on the thin client rollout: 40%",
        "the thin client rollout is 80% done",
        "CRM at risk, 40%",
        "EDRMS 60%, migration of finance files started",
    ),
    summary="Name the objective by its title when you don't know the number.",
)
async def update_by_title(ctx: Context, match: re.Match[str]) -> Reply | None:
    """Like `update_by_id`: the reader reads it, so fields are never dropped."""
    reading = read(ctx, match.string)
    if reading.intent == "route" and not reading.problem:
        return None
    return await apply_reading(ctx, reading)


DATE_VERBS = r"(?:push|move|delay|extend|reschedule|defer|bring|put)"


@command(
    "change due date",
    rf"(?:objective\s+)?{OID}\s+(?:is\s+)?(?:now\s+)?(?:due|deadline)\s*(?:date\s*)?"
    rf"(?:is\s+|now\s+)?(?:on\s+|by\s+|for\s+|at\s+)?[:\-]?\s*(?P<date>.+)",
    rf"{DATE_VERBS}\s+(?:objective\s+)?{OID}\s+(?:back\s+|forward\s+|out\s+|on\s+)?"
    rf"(?:to|until|till|into)\s+(?P<date>.+)",
    rf"(?:set|change|move)\s+(?:the\s+)?(?:due\s+date|deadline)\s+(?:of|for|on)\s+"
    rf"(?:objective\s+)?{OID}\s+to\s+(?P<date>.+)",
    group="Updating objectives",
    examples=(
        "3.2 due end of March",
        "push 5.1 to Q3 2027",
        "move 4.2 to next Friday",
        "3.3 now due 31/03/2027",
        "4.4 go-live now 30/06/2027",
        "push 1.2 back 3 weeks",
    ),
    summary="Change a due date: dates like 31/03/2027, end of March, next Friday, Q3, 2026/27, "
    "or move it (back 3 weeks, forward a month).",
)
async def change_due_date(ctx: Context, match: re.Match[str]) -> Reply:
    objective = ctx.repo.objective(match.group("oid"))
    if objective is None:
        return _missing_objective(ctx, match.group("oid"))
    text = match.group("date").strip()
    try:
        parsed = parse_due_date(text, ctx.now, ctx.calendar)
    except DateNotUnderstood as error:
        return Reply(
            title=f"I couldn't read “{text}” as a date.",
            lines=[
                error.hint,
                f"{objective.id} is still due "
                f"{format_date(objective.due) if objective.due else 'with no date'}. "
                "Nothing was saved.",
            ],
            kind=Kind.ERROR,
        )
    check_objective(ctx.repo, ctx.person, objective)
    change = await ctx.repo.record_update(objective.id, ctx.source, due=parsed.value)
    reply = Reply(
        title=f"{objective.id} {objective.title} is now due {format_date(parsed.value)}",
        lines=[f"I read “{text}” as {parsed.understood}."],
        kind=Kind.CONFIRMATION,
        footer=UNDO_HINT,
    )
    if not change.changes:
        reply.title = f"{objective.id} was already due {format_date(parsed.value)}"
    reply.fields.extend(change_lines(ctx.repo, change.changes))
    if parsed.is_past:
        reply.lines.append("Note: that date is in the past, so the objective now shows as overdue.")
    return reply


_TITLE = r"(?:the\s+)?(?P<title>[a-z][\w' -]{2,60}?)"


@command(
    "change owner",
    rf"(?:assign|give|hand(?:\s+over)?|reassign)\s+(?:objective\s+)?{OID}\s+(?:over\s+)?to\s+(?P<who>.+)",
    rf"(?:objective\s+)?{OID}\s*(?:owner|is\s+owned\s+by|owned\s+by)\s*[:\-–]?\s*(?:is\s+|now\s+)*(?P<who>.+)",
    rf"(?:change|set)\s+(?:the\s+)?owner\s+(?:of|for)\s+(?:objective\s+)?{OID}\s+to\s+(?P<who>.+)",
    rf"new\s+owner\s+(?:of|for)\s+(?:objective\s+)?{OID}\s*[:\-–]?\s*(?:is\s+)?(?P<who>.+)",
    rf"(?:can\s+you\s+)?make\s+(?P<who>.+?)\s+(?:the\s+)?owner\s+(?:of|for)\s+(?:objective\s+)?{OID}",
    rf"(?:assign|give|hand(?:\s+over)?|reassign)\s+{_TITLE}\s+(?:over\s+)?to\s+(?P<who>.+)",
    rf"{_TITLE}\s+(?:owner|is\s+owned\s+by|owned\s+by)\s*[:\-–]?\s*(?:is\s+|now\s+)*(?P<who>.+)",
    group="Updating objectives",
    examples=("assign 3.2 to Mo Khan", "new owner for 1.4: Ade Okafor"),
    summary="Change who owns an objective (by number or by title).",
)
async def change_owner(ctx: Context, match: re.Match[str]) -> Reply | None:
    groups = match.groupdict()
    if groups.get("oid"):
        objective = ctx.repo.objective(groups["oid"])
        if objective is None:
            return _missing_objective(ctx, groups["oid"])
    else:
        found = find_objective_in_text(ctx.repo, groups["title"])
        if found is None or found.match is None:
            return None
        objective = found.match
    who = match.group("who").strip()
    found_person = find_person(ctx.repo, who)
    if found_person.match is None:
        options = (
            ", ".join(p.name for p in found_person.candidates) or "say `people` to list everyone"
        )
        return Reply(
            title=f"I don't know who “{who}” is.",
            kind=Kind.ERROR,
            lines=[f"Did you mean: {options}? Nothing was saved."],
        )
    person = found_person.match
    check_objective(ctx.repo, ctx.person, objective)
    changes = await ctx.repo.change_objective(
        objective.id, {"owner": person.id}, ctx.source, "change owner"
    )
    reply = Reply(
        title=f"{objective.id} {objective.title} is now owned by {person.name}",
        kind=Kind.CONFIRMATION,
        footer=UNDO_HINT,
    )
    reply.fields.extend(change_lines(ctx.repo, changes))
    if not changes:
        reply.title = f"{person.name} already owns {objective.id}"
    return reply


@command(
    "add objective",
    rf"(?:add|new|create)\s+objective\s+{OID}\s*[:\-–]?\s*(?P<title>.+?)"
    rf"(?:\s*,\s*(?:directorate\s+)?(?P<directorate>[^,]+?))?"
    rf"(?:\s*,\s*(?:owner|owned\s+by)\s+(?P<owner>[^,]+?))?"
    rf"(?:\s*,\s*due\s+(?P<due>.+))?",
    group="Updating objectives",
    examples=(
        "add objective 3.5: Digital signage in the HQ, directorate resources, owner Mo Khan, "
        "due end of June",
    ),
    summary="Strategy group and admins: add a new objective.",
)
async def add_objective(ctx: Context, match: re.Match[str]) -> Reply:
    from handlers.resolve import find_directorate, find_theme

    check_manager(ctx.person, "add objectives")
    oid = match.group("oid")
    theme_number = int(oid.split(".")[0])
    if find_theme(ctx.repo, str(theme_number)).match is None:
        themes = ", ".join(str(t.number) for t in ctx.repo.themes())
        return Reply(
            title=f"There is no theme {theme_number}.",
            kind=Kind.ERROR,
            lines=[f"Themes are {themes}. Nothing was saved."],
        )
    if ctx.repo.objective(oid):
        return Reply(
            title=f"Objective {oid} already exists.",
            kind=Kind.ERROR,
            lines=["Pick an unused number. Nothing was saved."],
        )
    problems = []
    directorate = None
    if match.group("directorate"):
        directorate = find_directorate(ctx.repo, match.group("directorate")).match
    if directorate is None:
        names = ", ".join(d.name for d in ctx.repo.directorates())
        problems.append(f"which directorate it belongs to (one of: {names})")
    owner = None
    if match.group("owner"):
        owner = find_person(ctx.repo, match.group("owner")).match
        if owner is None:
            problems.append(f"who “{match.group('owner')}” is")
    due = None
    if match.group("due"):
        try:
            due = parse_due_date(match.group("due"), ctx.now, ctx.calendar)
        except DateNotUnderstood as error:
            problems.append(f"the due date: {error.hint}")
    if problems or directorate is None:
        return Reply(
            title="I need a little more to add that objective.",
            lines=[
                f"I couldn't tell {'; '.join(problems)}.",
                "For example: `add objective 3.5: Digital signage, directorate Resources, "
                "owner Mo Khan, due end of June`. Nothing was saved.",
            ],
            kind=Kind.ERROR,
        )
    try:
        objective = await ctx.repo.add_objective(
            {
                "key": oid,
                "theme": theme_number,
                "title": match.group("title").strip(),
                "directorate": directorate.id,
                "owner": owner.id if owner else None,
                "due": due.value if due else None,
                "status": Status.NOT_STARTED,
            },
            ctx.source,
        )
    except Conflict:
        return Reply(title=f"Objective {oid} already exists.", kind=Kind.ERROR)
    reply = Reply(
        title=f"Added objective {objective.id} {objective.title}",
        kind=Kind.CONFIRMATION,
        footer=UNDO_HINT,
    )
    reply.fields += [
        ("Directorate", directorate.name),
        ("Owner", name_of(ctx.repo, objective.owner)),
        ("Due", format_date(objective.due) if objective.due else "not set"),
    ]
    return reply


def _not_applied_lines(reading: Reading) -> list[str]:
    return [
        f"Not applied: {words} stayed in the note. To apply it, say `{how}`."
        for words, how in reading.not_applied
    ]


def _refusal(ctx: Context, reading: Reading) -> Reply | None:
    """The reply when the reading cannot be recorded as it stands (ask or refuse), else None."""
    if reading.objective is None and reading.candidates:
        parts = [
            reading.status.value if reading.status else "",
            f"{reading.progress}%" if reading.progress is not None else "",
            f"due {format_date(reading.due.value)}" if reading.due else "",
            reading.note or "",
        ]
        rest = " ".join(p for p in parts if p)
        return _ambiguous(ctx, reading.ref_text, list(reading.candidates), "update {oid} " + rest)
    if reading.problem:
        if reading.objective is None and reading.ask:
            return Reply(
                title=reading.problem,
                lines=[
                    f"Objectives are {objective_ranges(ctx.repo)}; say `objectives` to list "
                    "them, then send it again with the number, e.g. `update 3.2 40%`. "
                    "Nothing was saved."
                ],
                kind=Kind.QUESTION,
            )
        if reading.objective is None:
            return _missing_objective(ctx, reading.ref_text)
        lines = [line for line in reading.problem_lines if line] + ["Nothing was saved."]
        kind = Kind.QUESTION if reading.ask else Kind.ERROR
        return Reply(title=reading.problem, lines=lines, kind=kind)
    if reading.objective is None:
        return _missing_objective(ctx, reading.ref_text)
    return None


async def apply_reading(ctx: Context, reading: Reading) -> Reply:
    """Write what the reader found on one objective, in one transaction, or say why not.

    Every field the reader found is either in the confirmation's changes or listed as
    not applied (the no-silent-loss rule); a problem refuses the whole message.
    """
    refused = _refusal(ctx, reading)
    if refused is not None or reading.objective is None:
        return refused or _missing_objective(ctx, reading.ref_text)
    objective = reading.objective
    due = reading.due.value if reading.due else None
    old_due = objective.due
    if reading.move:
        if old_due is None:
            return Reply(
                title=f"{objective.id} has no due date to move.",
                lines=[
                    f"Give the date instead, e.g. `{objective.id} due end of March`. "
                    "Nothing was saved."
                ],
                kind=Kind.ERROR,
            )
        due = moved_date(old_due, *reading.move)
    if due is not None and reading.status is None and reading.progress is None and not reading.note:
        return await _record_due(ctx, objective, due, reading)
    update = UpdateText(status=reading.status, progress=reading.progress, note=reading.note)
    reply = await _record(ctx, objective, update, due=due)
    if reply.kind is Kind.CONFIRMATION:
        if reading.due and reading.due.value == old_due:
            reply.lines.append(
                f"I read the date as {reading.due.understood}; {objective.id} was already due then."
            )
        elif reading.due:
            reply.lines.append(f"I read the date as {reading.due.understood}.")
        elif reading.move and due and old_due:
            n, unit = reading.move
            way = "back" if n > 0 else "forward"
            reply.lines.append(
                f"Moved {way} {abs(n)} {unit}{'s' * (abs(n) != 1)} from "
                f"{format_date(old_due)} to {format_date(due)}."
            )
        reply.lines.extend(_not_applied_lines(reading))
    return reply


async def _record_due(ctx: Context, objective: Objective, due: date, reading: Reading) -> Reply:
    check_objective(ctx.repo, ctx.person, objective)
    change = await ctx.repo.record_update(objective.id, ctx.source, due=due)
    reply = Reply(
        title=f"{objective.id} {objective.title} is now due {format_date(due)}",
        kind=Kind.CONFIRMATION,
        footer=UNDO_HINT,
    )
    if reading.due:
        reply.lines.append(
            f"I read “{reading.fields[-1].text if reading.fields else ''}” as "
            f"{reading.due.understood}."
        )
        if reading.due.is_past:
            reply.lines.append(
                "Note: that date is in the past, so the objective now shows as overdue."
            )
    elif reading.move and objective.due:
        n, unit = reading.move
        reply.lines.append(
            f"Moved {'back' if n > 0 else 'forward'} {abs(n)} {unit}{'s' * (abs(n) != 1)} "
            f"from {format_date(objective.due)}."
        )
    if not change.changes:
        reply.title = f"{objective.id} was already due {format_date(due)}"
    reply.fields.extend(change_lines(ctx.repo, change.changes))
    reply.lines.extend(_not_applied_lines(reading))
    return reply
