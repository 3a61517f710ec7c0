"""The one error wrapper for CLI subcommands: a clear line on stderr and an exit status.

Every subcommand's `run` calls `report_errors(lambda: ...)`, so a damaged store, a bad
strategy file or a bad `digests:` section reads the same from every command (exit 1),
a usage problem (`UsageError`) exits 2, and Ctrl-C exits 130 without a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from storage.repository import StoreError
from tracker.schedule import ScheduleConfigError
from tracker.strategy_file import StrategyFileError

# What the store and the files report, each already a sentence fit to print as it is.
EXPECTED = (StoreError, StrategyFileError, ScheduleConfigError)


class UsageError(Exception):
    """The command was asked for something that does not exist (exit status 2)."""


def fail(error: BaseException | str, status: int = 1) -> int:
    print(f"error: {error}", file=sys.stderr)
    return status


def report_errors(main: Callable[[], int], *, usage: tuple[type[Exception], ...] = ()) -> int:
    """Run `main`; print expected errors as `error: ...` and return their exit status.

    `usage` names further exception types that mean a usage problem (exit 2), printed
    with their first argument (e.g. LookupError's message without its quotes).
    """
    try:
        return main()
    except EXPECTED as error:
        return fail(error)
    except (UsageError, *usage) as error:  # type: ignore[misc]  # mypy cannot see a starred tuple of classes
        return fail(error.args[0] if error.args else error, 2)
    except KeyboardInterrupt:
        return 130
