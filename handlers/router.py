"""Matching a message to a command: the bot's table of what it understands.

Each handler module registers its commands with `@command(...)`: regular expressions
that recognise the phrasing, the examples `help` shows, and the help group. The first
command whose pattern matches handles the message; a command may still decline (by
returning None) so a later, looser pattern can try. Nothing matching gets the closest
example as a suggestion, never silence. This mirrors opsdroid's skills + matchers and
errbot's plugins, without their plugin loaders: a command is a function in a module.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from handlers.context import Context
from handlers.reply import Reply

Handler = Callable[[Context, re.Match[str]], Awaitable[Reply | None]]


@dataclass(frozen=True)
class Command:
    name: str
    group: str
    patterns: tuple[re.Pattern[str], ...]
    examples: tuple[str, ...]
    summary: str
    handler: Handler


REGISTRY: list[Command] = []

# The route order, in one place: earlier names are tried first. Changes to objectives
# (updates, due dates by verb, moves) are read before this table by `handlers.reader`,
# whose `PRECEDENCE` says when a message is a change; these patterns handle the rest.
# Specific forms come before looser ones ("history of 3.2" before "status of <title>",
# "top risks" before "list risks", "change owner" before "update").
ROUTE_ORDER: tuple[str, ...] = (
    "help", "undo", "thanks",
    "digest", "digest for", "strategy digest", "subscribe", "unsubscribe", "next digest",
    "last report", "report", "dashboard", "export",
    "add objective", "change owner", "change due date",
    "add risk", "change risk", "close risk", "show risk", "top risks", "list risks",
    "history", "who owns", "theme status", "directorate status", "objective status",
    "overdue", "due soon", "exceptions", "my objectives", "what changed", "summary",
    "list objectives", "people", "who am i",
    "update", "update by title", "question",
)  # fmt: skip


def ordered() -> list[Command]:
    """The registry in ROUTE_ORDER; a registered command missing from it is a bug."""
    rank = {name: i for i, name in enumerate(ROUTE_ORDER)}
    missing = [c.name for c in REGISTRY if c.name not in rank]
    if missing:
        raise LookupError(f"commands missing from ROUTE_ORDER: {missing}")
    return sorted(REGISTRY, key=lambda c: rank[c.name])


def find_command(name: str) -> Command:
    return next(c for c in REGISTRY if c.name == name)


def command(
    name: str,
    *patterns: str,
    group: str,
    examples: tuple[str, ...] = (),
    summary: str = "",
) -> Callable[[Handler], Handler]:
    """Register a handler; patterns are matched in full against the normalised message."""

    def register(handler: Handler) -> Handler:
        compiled = tuple(re.compile(rf"^\s*(?:{p})\s*[.!?]*\s*$", re.IGNORECASE) for p in patterns)
        REGISTRY.append(Command(name, group, compiled, examples, summary, handler))
        return handler

    return register


async def dispatch(context: Context, text: str) -> tuple[Command, Reply] | None:
    for cmd in ordered():
        for pattern in cmd.patterns:
            match = pattern.match(text)
            if match:
                reply = await cmd.handler(context, match)
                if reply is not None:
                    return cmd, reply
    return None


def suggestions(text: str, limit: int = 2) -> list[str]:
    """The registered examples closest to what the user typed."""
    examples = [e for cmd in REGISTRY for e in cmd.examples]
    found = process.extract(text.lower(), examples, scorer=fuzz.WRatio, limit=limit * 3)
    seen: list[str] = []
    for example, _score, _ in found:
        if example not in seen:
            seen.append(example)
    return seen[:limit]
