"""`python -m bot import FILE.csv` and `python -m bot check FILE.yaml`.

Councils keep action plans in spreadsheets; importing one validates every row first
and stores all of it or none of it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.app import running_app
from bot.settings import Settings, add_store_options
from bot.subcommands.errors import report_errors
from storage.repository import Source
from tracker.strategy_file import StrategyFileError, load_strategy, read_objectives_csv


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import",
        help="import objectives from a CSV file (all rows or none)",
        description="Columns: id, title, directorate, owner, due, status, progress "
        "(id, title and directorate required). See README 'Importing objectives'.",
    )
    parser.add_argument("file", help="CSV file, UTF-8, first row the column names")
    add_store_options(parser)
    parser.set_defaults(func=run_import)

    check = subparsers.add_parser("check", help="validate a strategy YAML file, store nothing")
    check.add_argument("file")
    check.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    try:
        strategy = load_strategy(args.file)
    except StrategyFileError as error:
        print(error, file=sys.stderr)
        return 1
    print(
        f"{args.file}: OK — {len(strategy.themes)} themes, {len(strategy.objectives)} "
        f"objectives, {len(strategy.directorates)} directorates, {len(strategy.people)} "
        f"people, {len(strategy.risks)} risks."
    )
    return 0


def run_import(args: argparse.Namespace) -> int:
    return report_errors(lambda: asyncio.run(_import(args)))


async def _import(args: argparse.Namespace) -> int:
    async with running_app(Settings.from_args(args.data, args.strategy)) as app:
        repo = app.repo
        rows = read_objectives_csv(
            args.file,
            themes={t.number for t in repo.themes()},
            directorates={d.id for d in repo.directorates()},
            people={p.id for p in repo.people()},
        )
        source = Source(
            actor=app.default_person() or "system", channel="import", text=f"import {args.file}"
        )
        counts = await repo.import_objectives(rows, source)
        print(
            f"Imported {args.file}: {counts['added']} added, {counts['updated']} updated, "
            f"{counts['unchanged']} unchanged. Stored in {app.settings.data_dir}."
        )
        return 0
