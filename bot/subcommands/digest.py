"""`python -m bot digest --audience NAME --dry-run`: print a digest without sending it.

The audience is `strategy-group` or a directorate (id or name, loosely matched). The
digest is built exactly as the scheduler would build it now (or `--at` a given time)
from the data directory, and nothing is written to it: no digest is recorded as sent.
An empty or missing data directory previews the strategy file alone, from a
throwaway copy. The strategy group's chart is saved to `--chart-dir` (default: a new
temporary directory) and its path printed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bot.settings import Settings, add_store_options
from bot.subcommands.errors import report_errors
from handlers import digest_content as digest
from handlers.resolve import find_directorate
from storage.repository import Repository, Source
from tracker.dates import LONDON
from tracker.schedule import STRATEGY_GROUP, ScheduleConfig, schedules
from tracker.strategy_file import load_strategy


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "digest",
        help="preview a weekly digest (--dry-run: nothing sent or recorded)",
        description="Print the digest an audience would get now. See docs/digests.md.",
    )
    parser.add_argument(
        "--audience",
        required=True,
        metavar="NAME",
        help="'strategy-group', or a directorate id or name (e.g. resources)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the digest without sending it or recording it as sent",
    )
    parser.add_argument(
        "--at",
        metavar="WHEN",
        help="preview as at this UK time, e.g. '2026-11-16 09:00' (default: now)",
    )
    parser.add_argument(
        "--chart-dir", metavar="DIR", help="where to save the strategy group's chart"
    )
    add_store_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.dry_run:
        print(
            "error: the running bot sends digests on schedule; use --dry-run to preview one",
            file=sys.stderr,
        )
        return 2
    try:
        now = _moment(args.at)
    except ValueError:
        print(f"error: --at {args.at!r} is not a time like '2026-11-16 09:00'", file=sys.stderr)
        return 2
    settings = Settings.from_args(args.data, args.strategy)

    def main() -> int:
        print(asyncio.run(preview(settings, args, now)))
        return 0

    return report_errors(main, usage=(LookupError,))


def _moment(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=LONDON)


async def preview(settings: Settings, args: argparse.Namespace, now: datetime) -> str:
    config = ScheduleConfig.from_strategy_file(settings.strategy_file)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="digest-preview-") as scratch:
        repo = None
        if Repository.holds_store(settings.data_dir):
            repo = Repository.open(settings.data_dir)
            if repo.is_empty():
                repo.close()
                repo = None
        if repo is None:
            if settings.strategy_file is None:
                raise LookupError(f"{settings.data_dir} holds no strategy and --strategy is none")
            repo = Repository.open(Path(scratch) / "data", clock=lambda: now)
            await repo.load_strategy(load_strategy(settings.strategy_file), Source("preview"))
            notes.append(
                f"(No data in {settings.data_dir}: previewing {settings.strategy_file} alone.)"
            )
        try:
            audience = _audience(repo, args.audience)
            schedule = schedules(config, [audience]).get(audience)
            since = digest.digest_since(repo, audience, now, schedule)
            charts = Path(args.chart_dir or "")
            if audience == STRATEGY_GROUP and not args.chart_dir:
                charts = Path(tempfile.mkdtemp(prefix="digest-chart-"))
            reply = await digest.compose_digest(repo, audience, now, since, charts)
            slot = schedule.next(now) if schedule else None
            notes.append(
                "(Dry run: nothing was sent or recorded."
                + (f" Next scheduled: {digest.day(slot.fire)} "
                   f"{slot.fire.astimezone(LONDON):%H:%M}.)" if slot else ")")
            )  # fmt: skip
        finally:
            repo.close()
    return "\n".join([reply.as_text(), "", *notes])


def _audience(repo: Repository, name: str) -> str:
    wanted = name.strip().lower()
    if wanted in (STRATEGY_GROUP, "strategy group", "strategy", "group"):
        return STRATEGY_GROUP
    found = find_directorate(repo, name)
    if found.match:
        return found.match.id
    known = ", ".join([STRATEGY_GROUP, *(d.id for d in repo.directorates())])
    if found.candidates:
        options = " or ".join(d.id for d in found.candidates)
        raise LookupError(f"audience {name!r} could be {options}; audiences: {known}")
    raise LookupError(f"no audience {name!r}; audiences: {known}")
