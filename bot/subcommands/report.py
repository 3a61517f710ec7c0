"""`python -m bot report`: write the committee progress report as DOCX, HTML or PDF.

Opens the store like `chat` does (applying the strategy file, so its `report:` section
is current), builds the report as at now, writes it to `--to` (default: the data
directory's `reports/` folder) and remembers it as the latest report, the default
start of the next report's "changes since". Prints the path and the headline figures.

The format is `--format`, else what `--to` ends in (`paper.pdf` is a PDF, not a Word
file with the wrong name), else DOCX; a `--format` that contradicts `--to`'s ending is
refused before anything is written.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.app import running_app
from bot.settings import Settings, add_store_options
from handlers.report import FORMATS, PdfUnavailable, build_report, save_report
from handlers.resolve import find_directorate
from storage.files import StoreError
from tracker.dates import LONDON, DateNotUnderstood, parse_since
from tracker.strategy_file import StrategyFileError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write the committee progress report (docx, html or pdf)",
        description="Write the committee progress report. See README 'Reports and dashboard'.",
    )
    parser.add_argument(
        "--format", choices=FORMATS, help="default: --to's ending (.docx, .html, .pdf), else docx"
    )
    parser.add_argument("--to", metavar="FILE", help="where to write it (default DATA/reports/)")
    parser.add_argument(
        "--since",
        metavar="DATE",
        help="changes since this date, e.g. 01/10/2026 or '1 October' (default: last report)",
    )
    parser.add_argument("--directorate", metavar="ID", help="only this directorate (id or name)")
    parser.add_argument("--meeting", metavar="NAME", help="the meeting it is for")
    add_store_options(parser)
    parser.set_defaults(func=run)


def chosen_format(fmt: str | None, to: str | None) -> str:
    """The format asked for, or the one `to`'s ending names; ValueError when they differ."""
    ending = Path(to).suffix.lower().lstrip(".") if to else ""
    ending = {"htm": "html"}.get(ending, ending)
    if ending in FORMATS and fmt and fmt != ending:
        raise ValueError(f"--format {fmt} but --to {to} ends in .{ending}: give one of them")
    return fmt or (ending if ending in FORMATS else "docx")


def run(args: argparse.Namespace) -> int:
    try:
        args.format = chosen_format(args.format, args.to)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    now = datetime.now(UTC).astimezone(LONDON)
    since = None
    if args.since:
        try:
            since = parse_since(args.since, now)
        except DateNotUnderstood as error:
            print(f"error: --since {args.since!r}: {error.hint}", file=sys.stderr)
            return 2
    try:
        return asyncio.run(_write(Settings.from_args(args.data, args.strategy), args, now, since))
    except (StoreError, StrategyFileError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except PdfUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


async def _write(
    settings: Settings, args: argparse.Namespace, now: datetime, since: datetime | None
) -> int:
    async with running_app(settings) as app:
        repo = app.repo
        directorate = None
        if args.directorate:
            found = find_directorate(repo, args.directorate)
            if not found.match:
                known = ", ".join(d.id for d in repo.directorates())
                print(
                    f"error: no directorate {args.directorate!r} (known: {known})", file=sys.stderr
                )
                return 2
            directorate = found.match.id
        report = build_report(repo, now, since, directorate, meeting=args.meeting)
        target = Path(args.to) if args.to else None
        path = await save_report(repo, report, args.format, target)
    print(f"Wrote {path}")
    print("\n".join(report.summary_lines()))
    return 0
