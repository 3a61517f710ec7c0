"""`python -m bot dashboard-link --as PERSON`: print a personal dashboard sign-in link.

For an administrator helping someone who cannot use chat, or for testing. The link is
the same as the chat command `dashboard` gives (signed, valid 12 hours, based on
PUBLIC_URL); only a person in the store can have one.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime

from bot.app import running_app
from bot.settings import Settings, add_store_options
from handlers.dashboard import LINK_LIFETIME, load_secret, public_url, sign_in_link
from handlers.resolve import find_person
from storage.repository import StoreError
from tracker.dates import LONDON
from tracker.strategy_file import StrategyFileError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dashboard-link",
        help="print a dashboard sign-in link for a person",
        description="Print a personal sign-in link to the web dashboard, valid for "
        f"{int(LINK_LIFETIME.total_seconds() // 3600)} hours. The base address is $PUBLIC_URL.",
    )
    parser.add_argument(
        "--as", dest="person", metavar="PERSON", required=True, help="a person's name or id"
    )
    add_store_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_link(args))
    except (StoreError, StrategyFileError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


async def _link(args: argparse.Namespace) -> int:
    async with running_app(Settings.from_args(args.data, args.strategy)) as app:
        found = find_person(app.repo, args.person)
        if found.match is None:
            names = ", ".join(f"{p.name} ({p.id})" for p in app.repo.people())
            print(f"error: no person “{args.person}”. People: {names}", file=sys.stderr)
            return 2
        secret = load_secret(app.settings.data_dir)
        print(sign_in_link(secret, public_url(), found.match.id, datetime.now(LONDON)))
        return 0
