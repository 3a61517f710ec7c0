"""Digest commands: preview a digest now, follow a directorate's digest, ask when the next is.

Previews are built by the scheduler's own composer (`compose_digest`) over the same
period (`digest_since`: since the previous digest, else the slot before the next one),
so what you see is what will go out. The schedule shown is the one the running
scheduler stored in the data directory, so a console on the same store answers for
the server; without one, the defaults apply.
"""

from __future__ import annotations

import re
from datetime import datetime

from handlers import digest_content as digest
from handlers.context import Context
from handlers.permissions import led_directorates
from handlers.reply import Item, Kind, Reply
from handlers.resolve import find_directorate, fold
from handlers.router import command
from tracker.dates import LONDON
from tracker.model import Directorate
from tracker.schedule import STRATEGY_GROUP, ScheduleConfig, nudge_schedule, schedules

GROUP = "Digests"
_SUFFIX = r"(?:\s*(?:'s)?\s+(?:weekly\s+)?digests?)?"


def schedule_config(ctx: Context) -> tuple[ScheduleConfig, bool]:
    """The schedule the scheduler runs with (stored at its start), or the defaults."""
    stored = ctx.repo.meta("digest_schedule")
    if stored:
        try:
            return ScheduleConfig.from_mapping(stored), True
        except ValueError:
            pass
    return ScheduleConfig(), False


def when(moment: datetime, ctx: Context | None = None) -> str:
    local = moment.astimezone(LONDON)
    return f"{digest.day(local, ctx.today if ctx else None)} at {local:%H:%M}"


def next_fire(ctx: Context, audience: str) -> datetime | None:
    config, _ = schedule_config(ctx)
    schedule = schedules(config, [audience]).get(audience)
    slot = schedule.next(ctx.now) if schedule else None
    return slot.fire if slot else None


def _is_group(ctx: Context, text: str) -> bool:
    info = ctx.repo.strategy_info()
    names = {"strategy group", "the strategy group", "strategy", "group", STRATEGY_GROUP}
    names |= {fold(str(info.get(k) or "")) for k in ("group_short", "group_name")}
    return fold(text) in {fold(n) for n in names if n}


def _find(ctx: Context, text: str) -> Directorate | Reply:
    found = find_directorate(ctx.repo, text)
    if found.match:
        return found.match
    if found.candidates:
        names = " or ".join(d.name for d in found.candidates)
        return Reply(title=f"Which directorate did you mean: {names}?", kind=Kind.QUESTION)
    names = ", ".join(d.name for d in ctx.repo.directorates())
    return Reply(
        title=f"I don't know the directorate “{text.strip()}”.",
        lines=[f"Directorates are {names}; or say `strategy digest` for the strategy group's."],
        kind=Kind.ERROR,
    )


def _since(ctx: Context, audience: str) -> datetime:
    """The period the next scheduled digest will cover (`digest_since`, the scheduler's rule)."""
    config, _ = schedule_config(ctx)
    schedule = schedules(config, [audience]).get(audience)
    return digest.digest_since(ctx.repo, audience, ctx.now, schedule)


def _preview_note(ctx: Context, reply: Reply, audience: str) -> Reply:
    nxt = next_fire(ctx, audience)
    note = "Preview: nothing was sent."
    if nxt:
        note += f" The next one goes out {when(nxt, ctx)}."
    reply.footer = f"{reply.footer}\n{note}" if reply.footer else note
    return reply


async def preview(ctx: Context, audience: str) -> Reply:
    """What `audience` would get now, built by the scheduler's composer; nothing is sent."""
    charts = ctx.repo.data_dir / "charts"
    reply = await digest.compose_digest(ctx.repo, audience, ctx.now, _since(ctx, audience), charts)
    return _preview_note(ctx, reply, audience)


async def directorate_preview(ctx: Context, directorate: Directorate) -> Reply:
    return await preview(ctx, directorate.id)


async def strategy_preview(ctx: Context) -> Reply:
    return await preview(ctx, STRATEGY_GROUP)


def _own_directorate(ctx: Context) -> str | None:
    person = ctx.person
    if person is None:
        return None
    led = sorted(led_directorates(ctx.repo, person))
    return led[0] if led else person.directorate


@command(
    "digest",
    r"(?:show\s+(?:me\s+)?|preview\s+)?(?:my\s+|our\s+)?(?:weekly\s+)?digest(?:\s+preview)?",
    group=GROUP,
    examples=("digest",),
    summary="Preview your directorate's weekly digest now (nothing is sent).",
)
async def my_digest(ctx: Context, match: re.Match[str]) -> Reply:
    own = _own_directorate(ctx)
    directorate = ctx.repo.directorate(own) if own else None
    if directorate is None:
        return Reply(
            title="You're not in a directorate, so there's no digest of your own.",
            lines=["Try `digest for Resources` or `strategy digest`."],
        )
    return await directorate_preview(ctx, directorate)


@command(
    "digest for",
    r"(?:show\s+(?:me\s+)?|preview\s+)?(?:the\s+)?(?:weekly\s+)?digest\s+(?:for|of)\s+(?P<where>.+)",
    group=GROUP,
    examples=("digest for Resources", "digest for neighbourhood services"),
    summary="Preview any directorate's weekly digest.",
)
async def digest_for(ctx: Context, match: re.Match[str]) -> Reply:
    where = match.group("where")
    if _is_group(ctx, where):
        return await strategy_preview(ctx)
    found = _find(ctx, where)
    return found if isinstance(found, Reply) else await directorate_preview(ctx, found)


@command(
    "strategy digest",
    r"(?:show\s+(?:me\s+)?|preview\s+)?(?:the\s+)?(?:strategy(?:\s+group)?|group|\w+sg)"
    r"(?:'s)?\s+(?:weekly\s+)?digest",
    group=GROUP,
    examples=("strategy digest",),
    summary="Preview the strategy group's weekly digest, with its chart.",
)
async def strategy_digest(ctx: Context, match: re.Match[str]) -> Reply:
    return await strategy_preview(ctx)


@command(
    "subscribe",
    r"subscribe(?:\s+me)?\s+to\s+(?:the\s+)?(?P<where>.+?)" + _SUFFIX,
    r"follow\s+(?:the\s+)?(?P<where>.+?)" + _SUFFIX,
    group=GROUP,
    examples=("subscribe to City Strategy",),
    summary="Also get another directorate's weekly digest.",
)
async def subscribe(ctx: Context, match: re.Match[str]) -> Reply:
    assert ctx.person is not None
    found = _find(ctx, match.group("where"))
    if isinstance(found, Reply):
        return found
    nxt = next_fire(ctx, found.id)
    schedule = f" The next one is {when(nxt, ctx)}." if nxt else ""
    if found.lead == ctx.person.id:
        return Reply(title=f"You lead {found.name}, so you already get its digest.{schedule}")
    added = await ctx.repo.subscribe(ctx.person.id, found.id)
    return Reply(
        title=(
            f"Subscribed: you'll get the {found.name} digest.{schedule}"
            if added
            else f"You're already subscribed to the {found.name} digest.{schedule}"
        ),
        lines=[f"Say `unsubscribe from {found.name}` to stop."],
        kind=Kind.CONFIRMATION,
    )


@command(
    "unsubscribe",
    r"unsubscribe(?:\s+me)?(?:\s+from\s+(?:the\s+)?(?P<where>.+?)" + _SUFFIX + r")?",
    r"(?:unfollow|stop\s+following)\s+(?:the\s+)?(?P<where>.+?)" + _SUFFIX,
    # "stop sending me digests", "no more digests please": everything subscribed to
    r"(?:please\s+)?(?:stop\s+(?:sending\s+(?:me\s+)?)?(?:the\s+)?|no\s+more\s+)"
    r"(?:weekly\s+)?digests?(?:\s+please)?",
    group=GROUP,
    examples=("unsubscribe from City Strategy", "unsubscribe"),
    summary="Stop getting a directorate's digest (or all you subscribed to).",
)
async def unsubscribe(ctx: Context, match: re.Match[str]) -> Reply:
    assert ctx.person is not None
    where = match.groupdict().get("where")  # "stop sending me digests" names none
    directorate_id = None
    if where and fold(where) not in ("all", "everything", "all digests"):
        found = _find(ctx, where)
        if isinstance(found, Reply):
            return found
        directorate_id = found.id
    dropped = await ctx.repo.unsubscribe(ctx.person.id, directorate_id)
    names = [d.name for d in ctx.repo.directorates() if d.id in dropped]
    led = [d.name for d in ctx.repo.directorates() if d.lead == ctx.person.id]
    lines = [f"You still get the {', '.join(led)} digest as its lead."] if led else []
    if not names:
        what = "that digest" if directorate_id else "any directorate's digest"
        return Reply(title=f"You weren't subscribed to {what}.", lines=lines)
    return Reply(
        title=f"Unsubscribed from the {' and '.join(names)} digest{'s' * (len(names) > 1)}.",
        lines=lines,
        kind=Kind.CONFIRMATION,
    )


@command(
    "next digest",
    r"when(?:'s|\s+is|\s+are|\s+will)\s+(?:the\s+|my\s+|our\s+)?next\s+digests?(?:\s+(?:be|go\s+out|due|sent))?",
    r"(?:when\s+)?next\s+digests?",
    r"digest\s+schedule",
    r"who\s+(?:gets|receives|is\s+sent)\s+(?:the\s+)?(?:weekly\s+)?digests?\??",
    group=GROUP,
    examples=("when is the next digest?",),
    summary="When your digests, the strategy group's and the update reminders go out.",
)
async def next_digest(ctx: Context, match: re.Match[str]) -> Reply:
    config, running = schedule_config(ctx)
    person = ctx.person
    mine: list[tuple[str, str]] = []  # (audience, why)
    if person:
        for directorate in ctx.repo.directorates():
            if directorate.lead == person.id:
                mine.append((directorate.id, "you lead it"))
            elif person.id in ctx.repo.subscribers(directorate.id):
                mine.append((directorate.id, "you subscribed"))
    audiences = [d.id for d in ctx.repo.directorates()] + [STRATEGY_GROUP]
    found = schedules(config, audiences)
    names = {d.id: d.name for d in ctx.repo.directorates()}
    names[STRATEGY_GROUP] = (
        f"{ctx.repo.strategy_info().get('group_short') or 'Strategy group'} (strategy group)"
    )

    def item(audience: str, why: str = "") -> Item:
        schedule = found.get(audience)
        slot = schedule.next(ctx.now) if schedule else None
        if slot is None:
            return Item(f"{names[audience]}: switched off")
        text = f"{names[audience]}: {when(slot.fire, ctx)}"
        if slot.moved and schedule is not None:
            holiday = schedule.calendar.holiday(slot.at.date()) or "a bank holiday"
            text += f" (moved from {digest.day(slot.at, ctx.today)} for {holiday})"
        last = digest.previous_digest_at(ctx.repo, audience)
        if last:
            text += f"; last sent {when(last, ctx)}"
        return Item(text + (f" — {why}" if why else ""))

    upcoming = [slot for s in found.values() if (slot := s.next(ctx.now)) is not None]
    first = min((slot.fire for slot in upcoming), default=None)
    title = f"The next digests go out {when(first, ctx)}." if first else "Digests are off."
    reply = Reply(title=title)
    reply.section("Your digests", [item(a, why) for a, why in mine])
    reply.section(
        "Everyone's",
        [item(a) for a in audiences if a not in {m for m, _ in mine}],
    )
    nudges = nudge_schedule(config)
    slot = nudges.next(ctx.now) if nudges else None
    if slot:
        reply.lines.append(
            "Reminders to update objectives with no update for 4 weeks go out "
            f"{when(slot.fire, ctx)}."
        )
    if not running:
        reply.footer = (
            "(Default schedule: no scheduler has run on this data yet. Times are UK time; "
            "bank holidays move a digest to the next working day.)"
        )
    else:
        reply.footer = "Times are UK time; bank holidays move a digest to the next working day."
    if person and not mine:
        reply.lines.append("Say `subscribe to <directorate>` to get a directorate's digest.")
    return reply
