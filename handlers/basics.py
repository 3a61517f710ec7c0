"""Help and undo: the two commands every other command's replies point people to."""

from __future__ import annotations

import re

from handlers.context import Context
from handlers.format import change_lines
from handlers.reply import Item, Kind, Reply
from handlers.router import command, ordered
from storage.repository import Conflict, NotFound, Repository


@command(
    "help",
    r"help(?:\s+(?:me|with|on)?\s*(?P<topic>.+))?|\?|what\s+can\s+you\s+do|commands|hello|hi|hey",
    group="Help",
    examples=("help", "help risks"),
    summary="What the bot understands, with an example of every command.",
)
async def show_help(ctx: Context, match: re.Match[str]) -> Reply:
    return help_reply(ctx.repo, (match.groupdict().get("topic") or "").strip().lower())


def help_reply(repo: Repository, topic: str = "") -> Reply:
    """Help built from the registry (in route order), for one topic or everything."""
    groups: dict[str, list[Item]] = {}
    for cmd in ordered():
        if topic and topic.rstrip("s") not in (cmd.group + " " + cmd.name).lower():
            continue
        examples = " · ".join(f"`{e}`" for e in cmd.examples)
        if examples:
            groups.setdefault(cmd.group, []).append(Item(f"{examples} — {cmd.summary}"))
    if not groups:
        return help_reply(repo)
    info = repo.strategy_info()
    reply = Reply(
        title=f"Strategy Tracker{' for ' + info['council'] if info.get('council') else ''}",
        lines=[
            "Tell me about progress and risks, or ask how the strategy is going, in plain "
            "words. Objectives are numbered theme.number, e.g. 3.2; risks R1, R2..."
        ],
    )
    for group, items in groups.items():
        reply.section(group, items)
    reply.footer = "Every change is kept with who made it. Made a mistake? Say `undo`."
    return reply


@command(
    "undo",
    r"undo(?:\s+(?:that|my\s+last(?:\s+change)?|last(?:\s+change)?))?|revert(?:\s+that)?",
    group="Help",
    examples=("undo",),
    summary="Reverse your last change (the undo itself is kept in the history).",
)
async def undo(ctx: Context, match: re.Match[str]) -> Reply:
    try:
        change, reverted = await ctx.repo.undo_last(ctx.source)
    except NotFound:
        return Reply(title="You have no changes to undo.", kind=Kind.ERROR)
    except Conflict as error:
        return Reply(
            title="I can't undo that safely.",
            kind=Kind.ERROR,
            lines=[
                f"{str(error).capitalize()}. Nothing was changed; make the "
                "correction as a new update instead."
            ],
        )
    subject = change.entity.partition(":")[2]
    verb = "update" if change.action == "update" else change.action
    reply = Reply(title=f"Undone: your {verb} of {subject}", kind=Kind.CONFIRMATION)
    if change.action in ("add risk", "add objective"):
        reply.lines.append(f"{subject} has been removed; its details stay in the history.")
    else:
        reply.fields.extend(change_lines(ctx.repo, reverted))
    if change.text:
        reply.fields.append(("You had said", change.text))
    return reply


@command(
    "thanks",
    r"(?:thanks|thank\s+you|thankyou|ta|cheers|many\s+thanks)(?:\s+\w+)?",
    group="Help",
    summary="",
)
async def thanks(ctx: Context, match: re.Match[str]) -> Reply:
    return Reply(title="You're welcome.", lines=["Say `help` any time to see what I can do."])
