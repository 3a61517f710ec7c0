"""Log rate limiting: a flood of bad requests must not fill the disk with log lines.

`RateLimitFilter` lets through at most `burst` records per logger and level in any
`period` seconds (per logger, not per message: asyncio formats its errors into the
message, so every one is "new") and counts the rest; the next record that passes says how many were
dropped. Install it on the handlers of a long-running server (`install`), or wrap a
logger whose warnings an attacker can provoke (`RateLimitedLogger`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class RateLimitFilter(logging.Filter):
    def __init__(
        self, burst: int = 10, period: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.burst, self.period, self.clock = burst, period, clock
        self._windows: dict[tuple[str, str], tuple[float, int, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.levelno))
        now = self.clock()
        start, passed, dropped = self._windows.get(key, (now, 0, 0))
        if now - start > self.period:
            start, passed = now, 0
        if passed >= self.burst:
            self._windows[key] = (start, passed, dropped + 1)
            return False
        if dropped:
            record.msg = f"{record.msg} [{dropped} like this dropped]"
        self._windows[key] = (start, passed + 1, 0)
        if len(self._windows) > 10_000:  # many distinct messages: forget the old windows
            self._windows.clear()
        return True


class RateLimitedLogger:
    """A logger's warning/info with a RateLimitFilter in front."""

    def __init__(self, logger: logging.Logger, burst: int = 10, period: float = 1.0) -> None:
        self.logger = logger
        self.limit = RateLimitFilter(burst, period)

    def _log(self, level: int, msg: str, *args: object) -> None:
        if not self.logger.isEnabledFor(level):
            return
        record = self.logger.makeRecord(self.logger.name, level, "(slack)", 0, msg, args, None)
        if self.limit.filter(record):
            self.logger.handle(record)

    def warning(self, msg: str, *args: object) -> None:
        self._log(logging.WARNING, msg, *args)

    def info(self, msg: str, *args: object) -> None:
        self._log(logging.INFO, msg, *args)


def install(burst: int = 5, period: float = 1.0) -> None:
    """Rate-limit every handler of the root logger (the server's log, accept() errors too)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(RateLimitFilter(burst, period))
