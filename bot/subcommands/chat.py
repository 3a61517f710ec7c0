"""`python -m bot chat`: talk to the bot in the terminal (or pipe a script into it)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.app import running_app
from bot.channels.console import run_console
from bot.delivery import ConsoleDelivery
from bot.scheduler import scheduler_for
from bot.settings import Settings, add_store_options
from bot.subcommands.errors import report_errors
from handlers.resolve import find_person


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "chat",
        help="chat with the bot in this terminal",
        description="Chat in the terminal. Reads one message per line when piped.",
    )
    parser.add_argument(
        "--as",
        dest="person",
        metavar="PERSON",
        help="speak as this person (name or id); default: the first admin",
    )
    parser.add_argument(
        "--digests",
        action="store_true",
        help="also run the digest and nudge scheduler here, printing what it sends",
    )
    add_store_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return report_errors(lambda: asyncio.run(_chat(args)))


async def _chat(args: argparse.Namespace) -> int:
    async with running_app(Settings.from_args(args.data, args.strategy)) as app:
        person_id: str | None
        if args.person:
            found = find_person(app.repo, args.person)
            if found.match is None:
                names = ", ".join(f"{p.name} ({p.id})" for p in app.repo.people())
                print(f"error: no person “{args.person}”. People: {names}", file=sys.stderr)
                return 2
            person_id = found.match.id
        else:
            person_id = app.default_person()
            if person_id is None:
                print(
                    "error: nobody to speak as: the store has no admin; use --as", file=sys.stderr
                )
                return 2
        if not args.digests:
            return await run_console(app.tracker, person_id)
        # Opt-in: a scripted conversation on a Monday morning must not fill with digests.
        scheduler = scheduler_for(app.repo, app.settings, ConsoleDelivery(app.repo))
        async with scheduler.running():
            return await run_console(app.tracker, person_id)
