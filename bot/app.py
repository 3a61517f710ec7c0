"""Wiring: open the store, apply the strategy file, build the FrontDoor.

Every entry point (console, server, CLI commands) starts here, so they all see the
same store the same way and report a damaged store or a bad strategy file with the
same clear message.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bot.settings import Settings
from handlers.front_door import FrontDoor
from storage.repository import Repository, Source
from tracker.strategy_file import Strategy, load_strategy

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    repo: Repository
    tracker: FrontDoor
    strategy: Strategy | None

    def default_person(self) -> str | None:
        """Who the console speaks as without --as: the strategy file's first admin."""
        if self.strategy and self.strategy.first_admin:
            return self.strategy.first_admin
        admins = [p for p in self.repo.people() if p.role.value == "admin"]
        return admins[0].id if admins else None


async def open_app(settings: Settings) -> App:
    """Raises StrategyFileError or StoreError with a message fit to print as it is."""
    strategy = load_strategy(settings.strategy_file) if settings.strategy_file else None
    repo = Repository.open(settings.data_dir)
    try:
        for warning in repo.warnings:
            log.warning(warning)
        if strategy:
            counts = await repo.load_strategy(strategy, Source("system", "startup"))
            if any(counts.values()):
                log.info("strategy file applied: %s", counts)
    except BaseException:
        repo.close()
        raise
    return App(settings, repo, FrontDoor(repo), strategy)


@contextlib.asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[App]:
    app = await open_app(settings)
    try:
        yield app
    finally:
        app.repo.close()
