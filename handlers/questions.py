"""Answering questions about the strategy in plain words.

Every answer leads with the one line a busy lead or Member wants ("6 objectives: 2 on
track, 1 at risk...") and then lists the items behind it, worst first.
"""

from __future__ import annotations

import re

from handlers.context import Context
from handlers.format import change_item, name_of, objective_item, risk_item, show_value
from handlers.reader import read_named_periods
from handlers.reply import Item, Kind, Reply
from handlers.report import LAST_REPORT_WORDS, previous_report_at
from handlers.resolve import find_directorate, find_objective, find_theme, objective_ranges
from handlers.router import command
from tracker.dates import LONDON, DateNotUnderstood, format_date, parse_since, parse_window
from tracker.model import Objective, Status, Theme
from tracker.progress import STATUS_ORDER, due_between, headline, overdue, tally

OID = r"(?P<oid>\d{1,2}\.\d{1,3})"
_ASK = (
    r"(?:what(?:'s|\s+is)\s+(?:the\s+)?|how(?:'s|\s+is|\s+are)\s+|show\s+(?:me\s+)?|tell\s+me\s+)?"
)


def _rank(objective: Objective) -> tuple[int, str]:
    return STATUS_ORDER.index(objective.status), objective.id


def _objective_list(ctx: Context, objectives: list[Objective]) -> list[Item]:
    return [objective_item(ctx.repo, o, ctx.today) for o in objectives]


def _unknown_directorate(ctx: Context, where: str) -> Reply:
    names = ", ".join(d.name for d in ctx.repo.directorates())
    return Reply(
        title=f"I don't know the directorate “{where}”.",
        lines=[f"Directorates are {names}."],
        kind=Kind.ERROR,
    )


def group_reply(ctx: Context, title: str, objectives: list[Objective]) -> Reply:
    counts = tally(objectives)
    reply = Reply(title=title, lines=[counts.headline()])
    if counts.total:
        reply.lines.append(counts.achievement().capitalize() + ".")
    late = overdue(objectives, ctx.today)
    if late:
        reply.lines.append(f"{len(late)} overdue.")
    return reply.section("Objectives", _objective_list(ctx, sorted(objectives, key=_rank)))


@command(
    "theme status",
    _ASK + r"(?:the\s+)?(?:status|progress)\s+(?:of|on|for)\s+(?P<theme>(?:the\s+)?.*\btheme\b.*)",
    _ASK + r"(?P<theme>theme\s+\S+)(?:\s+(?:doing|going|status|progress))?",
    _ASK + r"(?P<theme>(?:the\s+)?.+?\s+theme)(?:\s+(?:doing|going|status|progress))?",
    group="Questions",
    examples=("status of theme 3", "how is theme three doing", "status of the new HQ theme"),
    summary="How one theme is doing, objective by objective.",
)
async def theme_status(ctx: Context, match: re.Match[str]) -> Reply:
    wanted = match.group("theme")
    found = find_theme(ctx.repo, wanted)
    if found.match is None:
        themes = "; ".join(f"{t.number}: {t.title}" for t in ctx.repo.themes())
        if found.candidates:
            themes = "; ".join(f"{t.number}: {t.title}" for t in found.candidates)
        return Reply(
            title=f"Which theme is “{wanted.strip()}”?",
            lines=[f"Themes are {themes}.", "Ask e.g. `status of theme 3`."],
            kind=Kind.QUESTION,
        )
    return theme_reply(ctx, found.match)


def theme_reply(ctx: Context, theme: Theme) -> Reply:
    """One theme, objective by objective (a plain helper other commands call)."""
    objectives = [o for o in ctx.repo.objectives() if o.theme == theme.number]
    return group_reply(ctx, f"Theme {theme.number}: {theme.title}", objectives)


@command(
    "objective status",
    _ASK + rf"(?:the\s+)?(?:status|progress)\s+(?:of|on|for)\s+(?:objective\s+)?{OID}",
    _ASK + rf"(?:objective\s+)?{OID}(?:\s+(?:doing|going|status|progress))?",
    _ASK + r"(?:the\s+)?(?:status|progress)\s+(?:of|on|for)\s+(?P<title>.+)",
    _ASK + r"(?:the\s+)?(?P<title>.+?)\s+(?:doing|going|getting\s+on)",
    group="Questions",
    examples=("status of 3.2", "3.2", "how is the thin client rollout going"),
    summary="One objective: status, progress, due date, owner and its latest updates.",
)
async def objective_status(ctx: Context, match: re.Match[str]) -> Reply | None:
    groups = match.groupdict()
    if groups.get("oid"):
        objective = ctx.repo.objective(groups["oid"])
        if objective is None:
            return Reply(
                title=f"There is no objective {groups['oid']}.",
                kind=Kind.ERROR,
                lines=[f"Objectives are {objective_ranges(ctx.repo)}."],
            )
    else:
        found = find_objective(ctx.repo, groups["title"])
        if found.match is None:
            if found.candidates:
                return Reply(title="Which one did you mean?", kind=Kind.QUESTION).section(
                    "Ask about one of these",
                    [Item(f"status of {o.id}  ({o.title})") for o in found.candidates],
                )
            return None
        objective = found.match
    return objective_reply(ctx, objective)


def objective_reply(ctx: Context, objective: Objective) -> Reply:
    """One objective in full, with its latest updates and open risks."""
    theme = ctx.repo.theme(objective.theme)
    directorate = ctx.repo.directorate(objective.directorate)
    reply = Reply(title=f"{objective.id} {objective.title}")
    reply.fields += [
        ("Status", f"{objective.status.value} ({objective.status.rag.label})"),
        ("Progress", show_value(ctx.repo, "progress", objective.progress)),
        (
            "Due",
            (format_date(objective.due) if objective.due else "not set")
            + (" — overdue" if objective.is_overdue(ctx.today) else ""),
        ),
        ("Owner", name_of(ctx.repo, objective.owner)),
        ("Directorate", directorate.name if directorate else objective.directorate),
        ("Theme", f"{objective.theme}: {theme.title}" if theme else str(objective.theme)),
    ]
    updates = [u for u in ctx.repo.updates_for(objective.id, latest=6) if not u.undone][-3:]
    reply.section("Latest updates", [change_item(ctx.repo, u) for u in reversed(updates)])
    risks = [r for r in ctx.repo.risks() if r.objective == objective.id]
    reply.section("Open risks", [risk_item(ctx.repo, r) for r in risks])
    if not updates:
        reply.lines.append("No updates recorded yet.")
    return reply


@command(
    "overdue",
    r"(?:what(?:'s|\s+is|\s+are)\s+|which\s+objectives\s+are\s+|show\s+(?:me\s+)?|list\s+)?"
    r"(?:the\s+)?(?:overdue|late)(?:\s+objectives)?(?:\s+(?:in|for)\s+(?P<where>.+))?",
    r"(?:anything|what)\s+(?:overdue|late)",
    group="Questions",
    examples=("what's overdue?", "overdue in resources"),
    summary="Open objectives past their due date, longest overdue first.",
)
async def show_overdue(ctx: Context, match: re.Match[str]) -> Reply:
    objectives = ctx.repo.objectives()
    where = (match.groupdict().get("where") or "").strip()
    label = ""
    theme = find_theme(ctx.repo, where).match if re.search(r"\btheme\b", where, re.I) else None
    if theme:
        objectives = [o for o in objectives if o.theme == theme.number]
        label = f" in theme {theme.number}"
    elif where:
        directorate = find_directorate(ctx.repo, where).match
        if directorate is None:
            return _unknown_directorate(ctx, where)
        objectives = [o for o in objectives if o.directorate == directorate.id]
        label = f" in {directorate.name}"
    late = overdue(objectives, ctx.today)
    if not late:
        return Reply(
            title=f"Nothing is overdue{label}.",
            lines=[f"Checked {len(objectives)} objectives against {format_date(ctx.today)}."],
        )
    return Reply(
        title=f"{len(late)} overdue objective{'s' if len(late) != 1 else ''}{label}"
    ).section("Longest overdue first", _objective_list(ctx, late))


@command(
    "due soon",
    r"(?:what(?:'s|\s+is|\s+are)\s+|which\s+objectives\s+are\s+|show\s+(?:me\s+)?)?"
    r"(?:objectives\s+)?(?:coming\s+)?(?:due|deadlines)\s+(?P<window>.+)",
    r"(?:what(?:'s|\s+is)\s+|anything\s+)?(?:upcoming|coming\s+up)(?:\s+(?:soon|next))?(?P<window>)",
    group="Questions",
    examples=("what's due in the next 2 weeks?", "due this month", "due before end of March"),
    summary="Open objectives due in a period.",
)
async def due_soon(ctx: Context, match: re.Match[str]) -> Reply | None:
    text = match.group("window").strip() or "in the next 14 days"
    text, read_as = read_named_periods(text)
    try:
        start, end = parse_window(text, ctx.now, ctx.calendar)
    except DateNotUnderstood as error:
        if re.search(r"\b(?:for|in|date|soon|owned)\b", text):
            return None  # "due soon in Resources": the question reader combines filters
        return Reply(
            title=f"I couldn't read “{text}” as a period.",
            kind=Kind.ERROR,
            lines=[error.hint, "Try `due in the next 2 weeks` or `due this month`."],
        )
    start = max(start, ctx.today)  # what is already late belongs to "what's overdue?"
    found = due_between(ctx.repo.objectives(), start, end)
    period = f"{format_date(start)} to {format_date(end)}"
    if not found:
        return Reply(title=f"Nothing is due {period}.", lines=read_as)
    return Reply(
        title=f"{len(found)} objective{'s' if len(found) != 1 else ''} due {period}",
        lines=read_as,
    ).section("Soonest first", _objective_list(ctx, found))


@command(
    "exceptions",
    r"(?:what(?:'s|\s+is|\s+are)\s+|which\s+objectives\s+are\s+|show\s+(?:me\s+)?|list\s+)?"
    r"(?:the\s+)?(?P<which>at\s+risk(?:\s+or\s+off\s+track)?|off\s+track|red|amber|in\s+trouble|"
    r"exceptions|slipping|problems)(?:\s+objectives)?",
    group="Questions",
    examples=("what's at risk?", "off track", "exceptions"),
    summary="Objectives at risk (amber) or off track (red).",
)
async def exceptions(ctx: Context, match: re.Match[str]) -> Reply:
    which = " ".join(match.group("which").lower().split())
    wanted = {Status.AT_RISK, Status.OFF_TRACK}
    if which in ("off track", "red"):
        wanted = {Status.OFF_TRACK}
    elif which in ("amber", "at risk", "slipping"):
        wanted = {Status.AT_RISK}
    found = sorted((o for o in ctx.repo.objectives() if o.status in wanted), key=_rank)
    label = " or ".join(s.value for s in sorted(wanted, key=STATUS_ORDER.index))
    if not found:
        return Reply(title=f"No objectives are {label}.")
    return Reply(title=f"{len(found)} objective{'s' if len(found) != 1 else ''} {label}").section(
        "Worst first", _objective_list(ctx, found)
    )


@command(
    "my objectives",
    r"(?:what\s+(?:do\s+i\s+own|am\s+i\s+responsible\s+for)|(?:show\s+|list\s+)?my\s+"
    r"(?:objectives|actions|work)|mine)",
    group="Questions",
    examples=("my objectives",),
    summary="The objectives you own.",
)
async def my_objectives(ctx: Context, match: re.Match[str]) -> Reply:
    person = ctx.person
    mine = [o for o in ctx.repo.objectives() if o.owner == person.id]
    if not mine:
        return Reply(
            title="You don't own any objectives.",
            lines=["Ask `objectives` to see them all, or `who owns 3.2`."],
        )
    return group_reply(ctx, f"Objectives owned by {person.name}", mine)


_LAST_REPORT = re.compile(LAST_REPORT_WORDS + r"\s*\??", re.IGNORECASE)


@command(
    "what changed",
    r"(?:(?:any|anything|have\s+there\s+been\s+any)\s+(?:new\s+|recent\s+)?)?"
    r"(?:what(?:'s|\s+has)?\s+(?:changed|happened|new|moved)|changes|updates|what's\s+new|"
    r"anything\s+new|"
    r"recent\s+(?:changes|updates)|activity)(?:\s+(?P<since>(?:since|this|last|in|over|today|"
    r"yesterday|past).*))?",
    group="Questions",
    examples=(
        "what changed this week?",
        "changes since 1 November",
        "updates since Monday",
        "what changed since the last report?",
    ),
    summary="Updates and changes over a period (this week unless you say).",
)
async def what_changed(ctx: Context, match: re.Match[str]) -> Reply:
    text = (match.group("since") or "this week").strip()
    cleaned = re.sub(r"^(?:since|in|over)\s+(?:the\s+)?", "", text, flags=re.I) or "this week"
    if _LAST_REPORT.fullmatch(cleaned):
        since = previous_report_at(ctx.repo)
        if since is None:
            return Reply(
                title="No report has been written yet, so there is no last report to count from.",
                lines=["Try `what changed this week`, or write one with `report`."],
            )
        label = f"since the last report ({format_date(since.astimezone(LONDON).date())})"
    else:
        try:
            since = parse_since(cleaned, ctx.now, ctx.calendar)
        except DateNotUnderstood as error:
            return Reply(
                title=f"I couldn't read “{text}” as a time.",
                kind=Kind.ERROR,
                lines=[
                    error.hint,
                    "Try `what changed this week`, `changes since 1 November` or "
                    "`changes since the last report`.",
                ],
            )
        label = f"since {format_date(since.astimezone(LONDON).date())}"
    changes = [c for c in ctx.repo.changes_since(since) if c.action != "load strategy"]
    if not changes:
        return Reply(title=f"No changes {label}.")
    shown = changes[:30]
    reply = Reply(title=f"{len(changes)} change{'s' if len(changes) != 1 else ''} {label}")
    reply.section("Newest first", [change_item(ctx.repo, c) for c in shown])
    if len(changes) > len(shown):
        reply.footer = f"Showing the latest {len(shown)}; ask about one objective for its history."
    return reply


@command(
    "summary",
    r"(?:overall\s+)?(?:summary|overview|status|progress|dashboard)",  # "report": report_commands
    r"(?:give\s+me\s+(?:a|the)\s+)?(?:overall\s+)?(?:summary|overview)"
    r"(?:\s+of\s+the\s+strategy)?",
    r"how\s+(?:are\s+we|is\s+the\s+strategy)\s+(?:doing|going)",
    group="Questions",
    examples=("summary", "how are we doing?"),
    summary="The whole strategy: % achieved and status counts overall and per theme.",
)
async def summary(ctx: Context, match: re.Match[str]) -> Reply:
    return summary_reply(ctx)


def summary_reply(ctx: Context) -> Reply:
    """The whole strategy: counts, % achieved, overdue, per theme and risks."""
    objectives = ctx.repo.objectives()
    figures = headline(objectives, ctx.today)  # the report's, dashboard's and digest's
    counts = figures.tally
    info = ctx.repo.strategy_info()
    reply = Reply(
        title=info.get("name") or "Strategy summary",
        lines=[counts.headline(), counts.achievement().capitalize() + "."],
    )
    reply.lines.append(f"By RAG rating: {figures.rag_line()}.")
    if figures.overdue:
        reply.lines.append(f"{figures.overdue} overdue; ask `what's overdue?`.")
    items = []
    for theme in ctx.repo.themes():
        group = tally(o for o in objectives if o.theme == theme.number)
        worst = next((s for s in STATUS_ORDER if group.by_status.get(s)), None)
        items.append(
            Item(
                f"Theme {theme.number} {theme.title} — {group.headline()}",
                worst.rag if worst else None,
            )
        )
    reply.section("By theme", items)
    open_risks = ctx.repo.risks()
    high = [r for r in open_risks if r.band == "high"]
    reply.fields.append(("Open risks", f"{len(open_risks)} ({len(high)} high)"))
    return reply


@command(
    "who owns",
    rf"who\s+(?:owns|is\s+responsible\s+for|is\s+the\s+owner\s+of|leads)\s+(?:objective\s+)?{OID}",
    rf"(?:the\s+)?owner\s+of\s+(?:objective\s+)?{OID}",
    r"who\s+(?:owns|is\s+responsible\s+for)\s+(?P<title>.+)",
    group="Questions",
    examples=("who owns 3.2?",),
    summary="Who owns an objective and who leads its directorate.",
)
async def who_owns(ctx: Context, match: re.Match[str]) -> Reply:
    groups = match.groupdict()
    found = find_objective(ctx.repo, groups.get("oid") or groups.get("title") or "")
    if found.match is None:
        return Reply(
            title="I couldn't tell which objective you mean.",
            kind=Kind.ERROR,
            lines=[f"Objectives are {objective_ranges(ctx.repo)}; ask e.g. `who owns 3.2`."],
        )
    objective = found.match
    directorate = ctx.repo.directorate(objective.directorate)
    owner = ctx.repo.person(objective.owner)
    lead = ctx.repo.person(directorate.lead) if directorate else None
    reply = Reply(
        title=f"{objective.id} {objective.title} is owned by "
        f"{owner.name if owner else 'nobody yet'}"
    )
    if directorate:
        reply.fields.append(("Directorate", directorate.name))
    if lead:
        reply.fields.append(("Directorate lead", lead.name))
    return reply


@command(
    "history",
    r"(?:show\s+)?(?:the\s+)?(?:history|audit|log)\s+(?:of|for|on)\s+(?:objective\s+|risk\s+)?"
    r"(?P<what>\d{1,2}\.\d{1,3}|R\d{1,4})",
    r"(?:objective\s+|risk\s+)?(?P<what>\d{1,2}\.\d{1,3}|R\d{1,4})\s+(?:history|audit|log)",
    group="Questions",
    examples=("history of 3.2", "history of R2"),
    summary="Every recorded change to an objective or risk, with who said what.",
)
async def history(ctx: Context, match: re.Match[str]) -> Reply:
    what = match.group("what").upper()
    if what.startswith("R"):
        if ctx.repo.risk(what) is None:
            return Reply(title=f"There is no risk {what}.", kind=Kind.ERROR)
        entity, label = f"risk:{what}", f"risk {what}"
    else:
        objective = ctx.repo.objective(what)
        if objective is None:
            return Reply(
                title=f"There is no objective {what}.",
                kind=Kind.ERROR,
                lines=[f"Objectives are {objective_ranges(ctx.repo)}."],
            )
        entity, label = f"objective:{what}", f"{what} {objective.title}"
    changes = ctx.repo.history(entity)
    if not changes:
        return Reply(title=f"No changes recorded for {label} yet.")
    items = []
    for change in changes:
        item = change_item(ctx.repo, change)
        if change.text and change.action != "load strategy":
            item = Item(f"{item.text} — said: “{change.text}”")
        items.append(item)
    return Reply(title=f"History of {label} ({len(changes)} changes)").section(
        "Oldest first", items
    )


@command(
    "list objectives",
    r"(?:list\s+|show\s+(?:me\s+)?|all\s+)?(?:the\s+|all\s+)?objectives(?:\s+(?:in|for)\s+(?P<where>.+))?",
    group="Questions",
    examples=("objectives", "objectives in Resources"),
    summary="Every objective, or those of one directorate.",
)
async def list_objectives(ctx: Context, match: re.Match[str]) -> Reply:
    objectives = ctx.repo.objectives()
    where = (match.group("where") or "").strip()
    if where:
        theme = find_theme(ctx.repo, where).match if re.search(r"theme|\d", where) else None
        if theme:
            return theme_reply(ctx, theme)
        directorate = find_directorate(ctx.repo, where).match
        if directorate is None:
            return _unknown_directorate(ctx, where)
        return group_reply(
            ctx, directorate.name, [o for o in objectives if o.directorate == directorate.id]
        )
    reply = Reply(title=f"{len(objectives)} objectives", lines=[tally(objectives).headline()])
    for theme in ctx.repo.themes():
        reply.section(
            f"Theme {theme.number}: {theme.title}",
            _objective_list(ctx, [o for o in objectives if o.theme == theme.number]),
        )
    return reply


@command(
    "directorate status",
    _ASK + r"(?:the\s+)?(?:status|progress)\s+(?:of|on|for|in)\s+(?P<where>.+)",
    _ASK + r"(?P<where>.+?)\s+(?:doing|going)",
    group="Questions",
    examples=("how is Resources doing?",),
    summary="One directorate's objectives.",
)
async def directorate_status(ctx: Context, match: re.Match[str]) -> Reply | None:
    directorate = find_directorate(ctx.repo, match.group("where")).match
    if directorate is None:
        return None  # "how is the thin client rollout going": objective status answers
    objectives = [o for o in ctx.repo.objectives() if o.directorate == directorate.id]
    reply = group_reply(ctx, directorate.name, objectives)
    lead = ctx.repo.person(directorate.lead)
    if lead:
        reply.fields.append(("Directorate lead", lead.name))
    return reply


@command(
    "people",
    r"(?:who(?:'s|\s+is)\s+(?:here|who)|people|list\s+people|who\s+are\s+the\s+(?:leads|people))",
    group="Questions",
    examples=("people",),
    summary="Everyone the bot knows, with role and directorate.",
)
async def people(ctx: Context, match: re.Match[str]) -> Reply:
    items = []
    for person in ctx.repo.people():
        directorate = ctx.repo.directorate(person.directorate) if person.directorate else None
        group = ", strategy group" if person.strategy_group else ""
        items.append(
            Item(
                f"{person.name} ({person.id}) — {person.role.value}{group}"
                + (f", {directorate.name}" if directorate else "")
            )
        )
    return Reply(title=f"{len(items)} people").section("People", items)


@command(
    "who am i",
    r"who\s+am\s+i|whoami",
    group="Questions",
    examples=("who am i",),
    summary="How the bot knows you, and what you may change.",
)
async def who_am_i(ctx: Context, match: re.Match[str]) -> Reply:
    person = ctx.person
    directorate = ctx.repo.directorate(person.directorate) if person.directorate else None
    rights = {
        "officer": "objectives you own or of your directorate, and risks you own",
        "directorate lead": "any objective of the directorate you lead, and any risk on one",
        "strategy group": "anything, including adding objectives and closing risks",
        "admin": "anything, including adding objectives and closing risks",
    }[person.role.value]
    if person.strategy_group and person.role.value in ("officer", "directorate lead"):
        rights = rights + "; as a strategy group member, anything"
    return Reply(
        title=f"You are {person.name} ({person.id})",
        fields=[
            ("Role", person.role.value),
            ("Directorate", directorate.name if directorate else "none"),
            ("You can change", rights),
        ],
    )
