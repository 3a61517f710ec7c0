"""`python -m bot SUBCOMMAND`: one entry point, each subcommand registered by its own module.

A module joins the CLI by exposing `register(subparsers)` that adds its parser and sets
`func=` to a function taking the parsed args and returning an exit code; list it in
COMMAND_MODULES. That keeps this file a table of contents, not a tangle of options.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

COMMAND_MODULES = (
    "bot.subcommands.chat",
    "bot.subcommands.serve",
    "bot.subcommands.strategy",
    "bot.subcommands.teams_package",
    "bot.subcommands.digest",
    "bot.subcommands.store",
    "bot.subcommands.report",
    "bot.subcommands.dashboard_link",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Strategy Tracker: a chat bot that tracks a council's ICT strategy.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
