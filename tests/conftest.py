"""Shared fixtures: a real store in a temp dir, the sample strategy, a fixed clock.

Tests talk to the bot the way users do (text in, reply out) and then look at what
the store holds, through the repository's public reads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path

import pytest

from bot.settings import SAMPLE_STRATEGY
from handlers.front_door import FrontDoor
from handlers.message import IncomingMessage, Sender
from handlers.reply import Reply
from storage.repository import Repository, Source
from tracker.dates import LONDON
from tracker.strategy_file import load_strategy

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=LONDON)  # a Sunday


class Clock:
    """A clock tests can move; the store and the tracker share it."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def repo(tmp_path: Path, clock: Clock) -> AsyncIterator[Repository]:
    repository = Repository.open(tmp_path / "data", clock=clock)
    await repository.load_strategy(load_strategy(SAMPLE_STRATEGY), Source("system", "test"))
    yield repository
    repository.close()


@pytest.fixture
def tracker(repo: Repository, clock: Clock) -> FrontDoor:
    return FrontDoor(repo, clock=clock)


Say = Callable[..., "AsyncIterator[Reply]"]


@pytest.fixture
def say(tracker: FrontDoor) -> Callable[..., object]:
    """`await say("1.4 done", as_="mkhan")` -> Reply; default speaker is the admin."""
    counter = iter(range(1, 10_000))

    async def _say(text: str, as_: str | None = "tcarter", **sender: str) -> Reply:
        who = Sender(channel=sender.pop("channel", "test"), person_id=as_, **sender)
        return await tracker.handle(IncomingMessage(text, who, message_id=f"m{next(counter)}"))

    return _say
