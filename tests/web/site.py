"""The dashboard as it runs in production, on 127.0.0.1, with a chat front door to get links.

One aiohttp application (bot.server.create_app) with the Slack channel pointed at the
fake Slack API and the dashboard on a clock the test can move. `chat_link` asks for a
link the way a person does: a signed Slack direct message `dashboard`, then the link is
taken from the reply the bot posted to (fake) Slack.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import threading
from collections.abc import AsyncIterator, Awaitable
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import TypeVar

import pytest

from bot.channels.slack import SlackChannel, SlackSettings
from bot.server import Channels, create_app
from bot.web import DashboardSettings
from handlers.front_door import FrontDoor
from storage import faults
from storage.repository import Source, StoreUnwritable
from tests.fakes.harness import (
    SIGNING_SECRET,
    direct_message,
    open_repo,
    serve,
    slack_event,
    slack_headers,
    slack_id,
)
from tests.fakes.slack_api import FakeSlackApi
from tracker.dates import LONDON

T = TypeVar("T")

LINK = re.compile(r"https?://[^\s<>|]+/signin/[A-Za-z0-9_.-]+")
SECRET = b"test-dashboard-secret-0123456789abcdef"


class MovableClock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(LONDON) + self.offset


@contextlib.asynccontextmanager
async def dashboard_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator:
    api = await FakeSlackApi().start()
    repo = await open_repo(tmp_path)
    tracker = FrontDoor(repo)
    slack = SlackChannel(SlackSettings(api.token, SIGNING_SECRET, api.api_url), tracker, repo)
    clock = MovableClock()
    monkeypatch.setenv("DASHBOARD_SECRET", SECRET.decode())
    settings = DashboardSettings(SECRET, "http://127.0.0.1", clock)
    app = create_app(repo, channels=Channels(slack=slack), dashboard=settings)
    client = await serve(app)
    base = str(client.make_url("/")).rstrip("/")
    monkeypatch.setenv("PUBLIC_URL", base)
    site = SimpleNamespace(api=api, repo=repo, slack=slack, client=client, base=base, clock=clock)
    try:
        yield site
    finally:
        await client.close()
        await api.close()
        repo.close()


async def chat_link(site: SimpleNamespace, person: str = "mkhan") -> str:
    """Send `dashboard` as a Slack DM and return the link from the bot's reply."""
    before = len(site.api.of("chat.postMessage"))
    body = slack_event(direct_message(slack_id(person), "dashboard"))
    response = await site.client.post("/slack/events", data=body, headers=slack_headers(body))
    assert response.status == 200
    await site.slack.drain()
    posted = site.api.of("chat.postMessage")[before:]
    assert posted, "the bot did not reply"
    found = LINK.search(posted[-1]["text"])
    assert found, posted[-1]["text"]
    assert found.group(0).startswith(site.base + "/signin/")
    return found.group(0)


async def during_a_failed_fsync(site: SimpleNamespace, fetch: Awaitable[T]) -> T:
    """`fetch` (a page) started while Mo's update of 3.2 to 64% waits on an fsync that
    then fails: asserts the fetch waited for it, and that the update was refused."""
    release, started = threading.Event(), threading.Event()

    def held_then_fails(**_: object) -> None:
        started.set()
        assert release.wait(10)
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    with faults.armed("sync", held_then_fails):
        update = asyncio.create_task(
            site.repo.record_update("3.2", Source("mkhan", "console", "lost"), progress=64)
        )
        await asyncio.to_thread(started.wait, 5)
        fetching = asyncio.ensure_future(fetch)
        await asyncio.sleep(0.2)
        assert not fetching.done()  # the page waits for the fsync under way
        release.set()
        result = await fetching
        with pytest.raises(StoreUnwritable, match="Input/output error"):
            await update
    return result
