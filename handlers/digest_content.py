"""What the weekly digests and update nudges say: pure builders from the store to a Reply.

Nothing here sends, schedules or writes: given a repository, the moment now and the
moment of the previous digest ("since"), each builder returns the channel-neutral
Reply a person would read. The scheduler, the chat previews and the CLI preview all
call the same builders, so a preview is exactly what will be sent.

Rules every digest follows:
- concise: an objective or risk is listed once, in the first section it belongs to,
  with anything else worth knowing (overdue, due soon, no recent update) as a tag;
- empty sections are left out (`Reply.section` skips them);
- a week with nothing to report says so in one line.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from handlers.reply import Item, Rag, Reply
from storage.repository import Change, Repository
from tracker import progress
from tracker.calendar import LONDON, short_day
from tracker.chart import save_status_chart
from tracker.model import Directorate, Objective, Person, Risk, Status
from tracker.schedule import STRATEGY_GROUP, Schedule, Slot

log = logging.getLogger(__name__)

DUE_SOON_DAYS = 14
TOP_RISKS = 5
NOTE_CHARS = 120
TITLE_CHARS = 60
THEME_TITLE_CHARS = 48
TRACKED_FIELDS = ("status", "progress", "due")


# ----------------------------------------------------------------- small wording helpers
day = short_day  # "Mon 9 Nov", the year only when not this year's (tracker.calendar)


def short(text: str, limit: int) -> str:
    """Text cut to `limit` characters at a word boundary, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if text[limit - 1] != " " and " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]  # do not end inside a word
    return cut.rstrip(" ,;:-") + "…"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def people(count: int) -> str:
    return "1 person" if count == 1 else f"{count} people"


def name_of(repo: Repository, person_id: str | None) -> str:
    person = repo.person(person_id) if person_id else None
    return person.name if person else (person_id or "no owner")


def ago(moment: datetime, now: datetime) -> str:
    days = (now - moment).days
    if days < 14:
        return plural(max(days, 0), "day") + " ago"
    return plural(days // 7, "week") + " ago"


def brief_value(field_name: str, value: Any, today: date) -> str:
    if value is None or value == "":
        return "none"
    if field_name == "progress":
        return f"{value}%"
    if field_name == "due":
        return "due " + day(date.fromisoformat(value) if isinstance(value, str) else value, today)
    return str(value)


def _current(objective: Objective, field_name: str) -> Any:
    value = getattr(objective, field_name)
    if isinstance(value, Status):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    return value


# ----------------------------------------------------------------- what happened in a window
@dataclass
class ObjectiveActivity:
    """An objective's changes since the previous digest, reduced to what a reader needs."""

    objective: Objective
    changes: list[Change] = field(default_factory=list)  # oldest first

    def was(self, field_name: str) -> Any:
        """The field's value at the start of the window (undone changes cancel out)."""
        for change in self.changes:
            if field_name in change.changes:
                return change.changes[field_name][0]
        return _current(self.objective, field_name)

    @property
    def is_new(self) -> bool:
        return any(c.action == "add objective" for c in self.changes)

    def net(self) -> dict[str, tuple[Any, Any]]:
        return {
            f: (self.was(f), _current(self.objective, f))
            for f in TRACKED_FIELDS
            if self.was(f) != _current(self.objective, f)
        }

    def notes(self) -> list[Change]:
        return [c for c in self.changes if c.note and not c.undone and c.action == "update"]

    def updates(self) -> list[Change]:
        return [c for c in self.changes if c.action == "update" and not c.undone]


@dataclass
class Window:
    """Everything recorded between `since` and `now`, grouped by what it was about."""

    since: datetime
    now: datetime
    objectives: dict[str, ObjectiveActivity]
    risks: dict[str, list[Change]]

    @property
    def today(self) -> date:
        return self.now.astimezone(LONDON).date()

    def updates(self) -> list[Change]:
        return [c for a in self.objectives.values() for c in a.updates()]


def window(repo: Repository, since: datetime, now: datetime) -> Window:
    objectives = {o.id: o for o in repo.objectives()}
    by_objective: dict[str, ObjectiveActivity] = {}
    by_risk: dict[str, list[Change]] = defaultdict(list)
    for change in reversed(repo.changes_since(since)):  # oldest first
        if change.at > now:
            continue
        kind, _, key = change.entity.partition(":")
        if kind == "objective" and key in objectives:
            activity = by_objective.setdefault(key, ObjectiveActivity(objectives[key]))
            activity.changes.append(change)
        elif kind == "risk":
            by_risk[key].append(change)
    return Window(since, now, by_objective, dict(by_risk))


DIGEST_LAST = "digest-last/"  # meta key prefix: when each audience last got its digest
UNDELIVERED = "undelivered"  # meta key: recent messages that could not be delivered


def previous_digest_at(repo: Repository, audience: str) -> datetime | None:
    """When the audience's last digest was sent (the start of the next one's window)."""
    record = repo.meta(DIGEST_LAST + audience)
    return datetime.fromisoformat(record["at"]) if record else None


def undelivered_since(repo: Repository, since: datetime) -> list[dict[str, Any]]:
    return [e for e in repo.meta(UNDELIVERED) or [] if datetime.fromisoformat(e["at"]) >= since]


def tracking_started(repo: Repository) -> datetime | None:
    """When the strategy was first loaded: never-updated objectives are stale from then."""
    loads = repo.history("strategy")
    return loads[0].at if loads else None


def stale_objectives(repo: Repository, objectives: Iterable[Objective], now: datetime):
    return progress.stale(objectives, now, tracked_since=tracking_started(repo))


# ----------------------------------------------------------------- risks
@dataclass
class RiskNews:
    risk: Risk
    new: bool
    score_was: int | None  # set when the score went up in the window
    review_passed: bool

    @property
    def high(self) -> bool:
        return self.risk.band == "high"

    @property
    def newsworthy(self) -> bool:
        return self.new or self.score_was is not None or self.high or self.review_passed

    def tags(self, today: date) -> list[str]:
        tags = []
        if self.new:
            tags.append("new")
        if self.score_was is not None:
            tags.append(f"score up from {self.score_was}")
        if self.review_passed and self.risk.review:
            tags.append(f"review was due {day(self.risk.review, today)}")
        return tags


def risk_news(risk: Risk, win: Window) -> RiskNews:
    changes = win.risks.get(risk.id, [])
    # New means logged in the window; risks loaded with the strategy file are the register.
    new = any(c.action == "add risk" for c in changes)

    def was(field_name: str, current: int) -> int:
        for change in changes:
            if field_name in change.changes and change.changes[field_name][0] is not None:
                return int(change.changes[field_name][0])
        return current

    old_score = was("likelihood", risk.likelihood) * was("impact", risk.impact)
    score_was = old_score if not new and old_score < risk.score else None
    review_passed = risk.review is not None and risk.review < win.today
    return RiskNews(risk, new, score_was, review_passed)


def risk_line(repo: Repository, news: RiskNews, today: date, *, owner: bool = True) -> Item:
    risk = news.risk
    text = (
        f"{risk.id} {short(risk.title, TITLE_CHARS)} — score {risk.score} {risk.band} "
        f"({risk.likelihood}×{risk.impact})"
    )
    if owner:
        text += f", {name_of(repo, risk.owner)}"
    tags = news.tags(today)
    if tags:
        text += f" [{', '.join(tags)}]"
    return Item(text, risk.rag)


def directorate_of_risk(repo: Repository, risk: Risk) -> str | None:
    """A risk belongs to its objective's directorate, else to its owner's."""
    if risk.objective:
        objective = repo.objective(risk.objective)
        if objective:
            return objective.directorate
    owner = repo.person(risk.owner)
    return owner.directorate if owner else None


# ----------------------------------------------------------------- objective lines
def _objective_state(objective: Objective, today: date) -> str:
    parts = [objective.status.value]
    if objective.progress is not None:
        parts.append(f"{objective.progress}%")
    return ", ".join(parts)


def _due_tag(objective: Objective, today: date) -> str | None:
    if objective.is_overdue(today):
        return f"overdue by {plural(progress.days_late(objective, today), 'day')}"
    soon = today + timedelta(days=DUE_SOON_DAYS)
    if objective.due and not objective.status.is_closed and today <= objective.due <= soon:
        return f"due {day(objective.due, today)}"
    return None


def _last_update_text(objective: Objective, now: datetime, today: date) -> str:
    if not objective.last_update:
        return "no update recorded yet"
    last = datetime.fromisoformat(objective.last_update)
    return f"last update {day(last, today)}, {ago(last, now)}"


def objective_line(
    repo: Repository, objective: Objective, today: date, detail: str, *, with_owner: bool = True
) -> Item:
    text = f"{objective.id} {short(objective.title, TITLE_CHARS)} — {detail}"
    if with_owner:
        text += f" ({name_of(repo, objective.owner)})"
    return Item(text, objective.status.rag)


def activity_line(repo: Repository, activity: ObjectiveActivity, today: date) -> Item | None:
    """ "3.2 Thin client rollout — on track → at risk, 60% → 65%; Mo Khan, Thu 12 Nov: “…”"."""
    objective = activity.objective
    net = activity.net()
    notes = activity.notes()
    if not net and not notes and not activity.is_new:
        return None  # e.g. an update that was undone
    if activity.is_new:
        what = f"new objective, {_objective_state(objective, today)}"
    elif net:
        what = ", ".join(
            f"{brief_value(f, old, today)} → {brief_value(f, new, today)}"
            for f, (old, new) in net.items()
        )
    else:
        what = f"still {_objective_state(objective, today)}"
    tag = _due_tag(objective, today)
    if tag:
        what += f" [{tag}]"
    said = [
        f"{name_of(repo, c.actor)}, {day(c.at, today)}: “{short(c.note or '', NOTE_CHARS)}”"
        for c in notes[-2:]
    ]
    if len(notes) > 2:
        said.insert(0, f"{len(notes) - 2} earlier note(s)")
    if not said:
        authors = sorted({name_of(repo, c.actor) for c in activity.changes if not c.undone})
        said = [f"by {', '.join(authors)}"] if authors else []
    text = f"{objective.id} {short(objective.title, TITLE_CHARS)} — {what}"
    if said:
        text += "; " + "; ".join(said)
    return Item(text, objective.status.rag)


# ----------------------------------------------------------------- directorate digest
def directorate_digest(
    repo: Repository, directorate_id: str, now: datetime, since: datetime
) -> Reply:
    """The weekly digest for one directorate's lead and subscribers."""
    directorate = repo.directorate(directorate_id)
    if directorate is None:
        raise LookupError(f"no directorate {directorate_id!r}")
    win = window(repo, since, now)
    today = win.today
    mine = [o for o in repo.objectives() if o.directorate == directorate_id]
    listed: set[str] = set()

    reply = Reply(title=f"{directorate.name}: weekly digest, {day(today)}")
    reply.lines.append(progress.tally(mine).headline())

    changed = []
    for objective in mine:
        activity = win.objectives.get(objective.id)
        item = activity_line(repo, activity, today) if activity else None
        if item:
            changed.append(item)
            listed.add(objective.id)
    updates = [c for o in mine if o.id in win.objectives for c in win.objectives[o.id].updates()]
    if updates:
        authors = {c.actor for c in updates}
        reply.lines.append(
            f"Since {day(since, today)}: {plural(len(updates), 'update')} "
            f"from {people(len(authors))}."
        )
    reply.section(f"What changed since {day(since, today)}", changed)

    stale_ids = {o.id for o in stale_objectives(repo, mine, now)}

    def remaining(candidates: Iterable[Objective]) -> list[Objective]:
        found = [o for o in candidates if o.id not in listed]
        listed.update(o.id for o in found)
        return found

    def with_stale(objective: Objective, detail: str) -> str:
        if objective.id in stale_ids:
            detail += f" [{_last_update_text(objective, now, today)}]"
        return detail

    overdue = remaining(progress.overdue(mine, today))
    reply.section(
        "Overdue",
        [
            objective_line(
                repo, o, today,
                with_stale(o, f"{_objective_state(o, today)}, was due {day(o.due, today)} "
                              f"({plural(progress.days_late(o, today), 'day')} late)"),
            )
            for o in overdue if o.due
        ],
    )  # fmt: skip
    horizon = today + timedelta(days=DUE_SOON_DAYS)
    due_soon = remaining(progress.due_between(mine, today, horizon))
    reply.section(
        f"Due by {day(horizon, today)}",
        [
            objective_line(
                repo, o, today,
                with_stale(o, f"{_objective_state(o, today)}, due {day(o.due, today)}"),
            )
            for o in due_soon if o.due
        ],
    )  # fmt: skip
    stale = remaining(o for o in mine if o.id in stale_ids)
    reply.section(
        f"No update for {progress.STALE_AFTER_DAYS // 7} weeks or more",
        [
            objective_line(
                repo, o, today,
                f"{_objective_state(o, today)}, {_last_update_text(o, now, today)}",
            )
            for o in stale
        ],
    )  # fmt: skip

    risks = [
        news
        for news in (risk_news(r, win) for r in repo.risks())
        if news.newsworthy and directorate_of_risk(repo, news.risk) == directorate_id
    ]
    risks.sort(key=lambda n: (not n.new and n.score_was is None, -n.risk.score, n.risk.id))
    reply.section("Risks to watch", [risk_line(repo, n, today) for n in risks])

    if not reply.sections:
        reply.lines.append(
            f"Quiet week: no updates since {day(since, today)}, and nothing overdue, "
            f"due in the next {DUE_SOON_DAYS} days, without a recent update or at risk."
        )
    elif not updates:
        reply.lines.append(f"No updates since {day(since, today)}.")
    if overdue or stale:
        example = (overdue or stale)[0]
        reply.footer = f"To update, send e.g.: {update_example(example)}"
    return reply


def update_example(objective: Objective) -> str:
    """The exact message that records an update on this objective."""
    parts = ["update", objective.id, objective.status.value]
    if objective.progress is not None:
        parts.append(f"{objective.progress}%")
    parts.append("<what has happened>")
    return " ".join(parts)


# ----------------------------------------------------------------- strategy group digest
def status_at_start(win: Window, objective: Objective) -> Status:
    activity = win.objectives.get(objective.id)
    if activity is None:
        return objective.status
    was = activity.was("status")
    return Status(was) if was else objective.status


def _delta(before: progress.Tally, after: progress.Tally) -> str:
    parts = []
    for status in progress.STATUS_ORDER:
        change = after.by_status.get(status, 0) - before.by_status.get(status, 0)
        if change:
            parts.append(f"{status.value} {change:+d}".replace("-", "−"))
    return ", ".join(parts)


def _worst_rag(objectives: list[Objective]) -> Rag:
    statuses = {o.status for o in objectives}
    if Status.OFF_TRACK in statuses:
        return Rag.RED
    if Status.AT_RISK in statuses:
        return Rag.AMBER
    if statuses and statuses <= {Status.ACHIEVED, Status.DROPPED, Status.DEFERRED}:
        return Rag.BLUE
    return Rag.GREEN


def _theme_items(repo: Repository, win: Window, objectives: list[Objective]) -> list[Item]:
    """Per theme: counts by status, % achieved / partly achieved, change since last week."""
    theme_items = []
    for theme in repo.themes():
        in_theme = [o for o in objectives if o.theme == theme.number]
        if not in_theme:
            continue
        now_tally = progress.tally(in_theme)
        was_tally = progress.tally(replace(o, status=status_at_start(win, o)) for o in in_theme)
        text = (
            f"{theme.number} {short(theme.title, THEME_TITLE_CHARS)} — {now_tally.headline()}; "
            f"{now_tally.percent(Status.ACHIEVED)}% achieved, "
            f"{now_tally.percent(Status.PARTLY_ACHIEVED)}% partly"
        )
        delta = _delta(was_tally, now_tally)
        if delta:
            text += f" [since last week: {delta}]"
        theme_items.append(Item(text, _worst_rag(in_theme)))
    return theme_items


def _exception_items(
    repo: Repository, win: Window, objectives: list[Objective], names: dict[str, str]
) -> list[Item]:
    """Off track, newly at risk, overdue — each objective once, off track first."""
    today = win.today
    exceptions = []
    for objective in objectives:
        was = status_at_start(win, objective)
        tags = []
        if objective.status is Status.OFF_TRACK:
            tags.append("off track" + (" (new)" if was is not Status.OFF_TRACK else ""))
        elif objective.status is Status.AT_RISK and was is not Status.AT_RISK:
            tags.append(f"newly at risk, was {was.value}")
        if objective.is_overdue(today):
            tags.append(f"overdue by {plural(progress.days_late(objective, today), 'day')}")
        if tags:
            exceptions.append((objective, tags))
    exceptions.sort(key=lambda e: (e[0].status is not Status.OFF_TRACK, e[0].id))
    return [
        Item(
            f"{o.id} {short(o.title, TITLE_CHARS)} — {', '.join(tags)} "
            f"({names.get(o.directorate, o.directorate)}, {name_of(repo, o.owner)})",
            o.status.rag,
        )
        for o, tags in exceptions
    ]


def _silent_directorates(
    repo: Repository, win: Window, objectives: list[Objective], directorates: list[Directorate]
) -> list[str]:
    """Directorates with open objectives and no update in the window."""
    today = win.today
    silent = []
    for directorate in directorates:
        own = [o for o in objectives if o.directorate == directorate.id]
        open_own = [o for o in own if not o.status.is_closed]
        if not open_own or any(win.objectives.get(o.id, None) and
                               win.objectives[o.id].updates() for o in own):  # fmt: skip
            continue
        last = max((o.last_update for o in own if o.last_update), default=None)
        when = "no updates yet"
        if last:
            when = f"last update {day(datetime.fromisoformat(last), today)}"
        silent.append(
            f"{directorate.name} (lead {name_of(repo, directorate.lead)}): "
            f"{plural(len(open_own), 'open objective')}, {when}"
        )
    return silent


def strategy_digest(
    repo: Repository,
    now: datetime,
    since: datetime,
    undelivered: Iterable[dict[str, Any]] = (),
) -> Reply:
    """The weekly digest for the strategy group's channel (the chart is attached by the caller)."""
    info = repo.strategy_info()
    win = window(repo, since, now)
    today = win.today
    objectives = repo.objectives()
    before = progress.tally(replace(o, status=status_at_start(win, o)) for o in objectives)
    figures = progress.headline(objectives, today)  # the report's, dashboard's and chat's
    after = figures.tally
    group = info.get("group_short") or info.get("group_name") or "Strategy group"
    strategy = info.get("name") or "the strategy"
    reply = Reply(title=f"{group} weekly digest: {strategy}, {day(today)}")

    whole = after.achievement().capitalize()
    if before.by_status != after.by_status:
        whole += (
            f" (last week {before.percent(Status.ACHIEVED)}% and "
            f"{before.percent(Status.PARTLY_ACHIEVED)}%)"
        )
    reply.lines.append(whole + ".")
    reply.lines.append(after.headline() + ".")
    reply.lines.append(f"By RAG rating: {figures.rag_line()}; {figures.overdue} overdue.")
    updates = win.updates()
    directorates = repo.directorates()
    if updates:
        objective_dir = {o.id: o.directorate for o in objectives}
        active = {objective_dir.get(c.entity.partition(":")[2]) for c in updates}
        reply.lines.append(
            f"Since {day(since, today)}: {plural(len(updates), 'update')} from "
            f"{people(len({c.actor for c in updates}))} "
            f"in {len(active)} of {len(directorates)} directorates."
        )
    else:
        reply.lines.append(
            f"Quiet week: no updates from any directorate since {day(since, today)}."
        )

    reply.section("By theme", _theme_items(repo, win, objectives))

    names = {d.id: d.name for d in directorates}
    reply.section("Exceptions", _exception_items(repo, win, objectives, names))

    top = progress.top_risks(repo.risks(), TOP_RISKS)
    reply.section(
        f"Top {len(top)} open risks" if len(top) > 1 else "Top open risk",
        [risk_line(repo, risk_news(r, win), today) for r in top],
    )

    if updates:
        reply.section(
            f"No update from these directorates since {day(since, today)}",
            _silent_directorates(repo, win, objectives, directorates),
        )

    problems = [
        f"{entry.get('what', 'message')} to {name_of(repo, entry.get('recipient'))} on "
        f"{day(datetime.fromisoformat(entry['at']), today)}: "
        f"{entry.get('detail') or 'not delivered'}"
        for entry in undelivered
    ]
    reply.section("Could not be delivered", problems)
    return reply


# ----------------------------------------------------------------- nudges
def nudge(
    repo: Repository,
    person: Person,
    objectives: list[Objective],
    now: datetime,
    next_digest: datetime | None = None,
) -> Reply:
    """A short reminder to one owner: their objectives without a recent update."""
    today = now.astimezone(LONDON).date()
    first = person.name.split()[0] if person.name else person.id
    count = plural(len(objectives), "objective")
    reply = Reply(title=f"Reminder: {count} need{'s' if len(objectives) == 1 else ''} an update")
    weeks = progress.STALE_AFTER_DAYS // 7
    reply.lines.append(f"Hi {first}, no update has been recorded for {weeks} weeks or more on:")
    reply.section(
        "No recent update",
        [
            objective_line(
                repo, o, today,
                f"{_objective_state(o, today)}, {_last_update_text(o, now, today)}. "
                f"Send: {update_example(o)}",
                with_owner=False,
            )
            for o in objectives
        ],
    )  # fmt: skip
    when = ""
    if next_digest:
        when = f" on {day(next_digest, today)} at {next_digest.astimezone(LONDON):%H:%M}"
    reply.footer = (
        f"Change the status or % in the message to match. An update before the weekly "
        f"digest{when} keeps your directorate's report current."
    )
    return reply


# ----------------------------------------------------------------- the one composer
def digest_since(
    repo: Repository,
    audience: str,
    now: datetime,
    schedule: Schedule | None,
    slot: Slot | None = None,
) -> datetime:
    """The start of the period a digest covers: one rule for sends and previews alike.

    Since the audience's previous digest was sent; for its first digest, since the slot
    before the digest's own slot (`slot` when sending; for a preview, the next slot to
    fire); with no schedule (digests off for it), the last 7 days.
    """
    last = previous_digest_at(repo, audience)
    if last is not None and last < now:
        return last
    own = slot or (schedule.next(now - timedelta(microseconds=1)) if schedule else None)
    previous = schedule.previous(own.fire) if schedule and own else None
    return previous.fire if previous else now - timedelta(days=7)


async def compose_digest(
    repo: Repository, audience: str, now: datetime, since: datetime, chart_dir: Path
) -> Reply:
    """The digest an audience gets, chart included: what the scheduler sends and previews show.

    The chart is drawn in a worker thread; one that cannot be drawn is logged and left
    out, and the digest still goes out.
    """
    if audience != STRATEGY_GROUP:
        return directorate_digest(repo, audience, now, since)
    reply = strategy_digest(repo, now, since, undelivered_since(repo, since))
    try:
        today = now.astimezone(LONDON).date()
        path = await asyncio.to_thread(
            save_status_chart, repo.themes(), repo.objectives(), chart_dir, today
        )
        reply.images.append(path)
    except Exception:  # the digest still goes out, without its chart
        log.exception("could not draw the status chart")
    return reply
