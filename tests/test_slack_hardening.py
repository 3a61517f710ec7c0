"""Issue 9, Slack's half: bodies in pieces, malformed input, slow regexes, Slack Connect
strangers, replays after a restart, acknowledged work surviving a crash, /healthz.

All through the real server on 127.0.0.1 against the fake Slack Web API.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from bot.channels import common
from bot.channels.slack import SlackChannel, SlackSettings
from bot.server import Channels, create_app
from handlers.front_door import FrontDoor
from handlers.reply import Reply
from storage import faults
from storage.inbox import Inbox
from storage.repository import Repository
from tests.fakes.harness import (
    SIGNING_SECRET,
    direct_message,
    half_a_body,
    open_repo,
    serve,
    slack_event,
    slack_headers,
    slack_id,
    snapshot,
    teams_id,
)
from tests.fakes.slack_api import FakeSlackApi

MO = slack_id("mkhan")
MO_EMAIL = "mo.khan@example.gov.uk"


class Bot:
    """One server on a data directory; `restart` is a new process on the same directory."""

    def __init__(self, tmp_path, api, tracker_of=FrontDoor, **app_options):
        self.tmp_path, self.api, self.tracker_of = tmp_path, api, tracker_of
        self.app_options = app_options

    async def start(self, repo=None):
        self.repo = repo or Repository.open(self.tmp_path / "data")
        settings = SlackSettings(self.api.token, SIGNING_SECRET, api_url=self.api.api_url)
        self.channel = SlackChannel(settings, self.tracker_of(self.repo), self.repo)
        app = create_app(self.repo, channels=Channels(slack=self.channel), **self.app_options)
        self.client = await serve(app)
        return self

    async def post(self, body: bytes, **headers):
        merged = {**slack_headers(body), **headers}
        return await self.client.post("/slack/events", data=body, headers=merged)

    async def stop(self):
        await self.client.close()
        self.repo.close()


@pytest.fixture
async def api():
    api = await FakeSlackApi(users={MO: {"email": MO_EMAIL}}).start()
    yield api
    await api.close()


@pytest.fixture
async def bot(tmp_path, api):
    bot = await Bot(tmp_path, api).start(await open_repo(tmp_path))
    yield bot
    await bot.stop()


# ------------------------------------------------------------------ item 1: the body
async def test_a_signed_body_arriving_in_several_reads_is_accepted(bot):
    body = slack_event(direct_message(MO, "update 3.2 on track 61% " + "x" * 1500))

    async def pieces():
        for start in range(0, len(body), 700):
            yield body[start : start + 700]
            await asyncio.sleep(0.05)  # separate TCP reads on the server

    response = await bot.client.post("/slack/events", data=pieces(), headers=slack_headers(body))
    assert response.status == 200
    await bot.channel.drain()
    assert len(bot.api.of("chat.postMessage")) == 1


async def test_an_oversize_chunked_body_is_413_not_401(bot):
    body = b"{" + b" " * 300_000 + b"}"

    async def pieces():
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    response = await bot.client.post("/slack/events", data=pieces(), headers=slack_headers(body))
    assert response.status == 413


async def test_a_body_that_stops_half_way_gets_408_and_frees_the_connection(bot, monkeypatch):
    monkeypatch.setattr(common, "BODY_TIMEOUT_SECONDS", 0.3)
    body = slack_event(direct_message(MO, "update 3.2 on track 62%"))
    before = snapshot(bot.repo)
    status = await half_a_body(bot.client, "/slack/events", body, slack_headers(body))
    assert status == "HTTP/1.1 408 Request Timeout"
    assert snapshot(bot.repo) == before and bot.api.of("chat.postMessage") == []


async def test_when_the_disk_is_full_slack_gets_500_and_its_retry_is_handled(bot):
    """Nothing is acknowledged that is not in the inbox: Slack is told to retry (500), and
    the retry, once the disk takes writes again, is handled once."""
    body = slack_event(direct_message(MO, "update 3.2 on track 63% disk full first"))
    before = snapshot(bot.repo)
    with faults.armed("append", faults.disk_full(partial=True)):
        response = await bot.post(body)
        await bot.channel.drain()
    assert response.status == 500
    assert snapshot(bot.repo) == before and bot.api.of("chat.postMessage") == []
    retried = await bot.post(body, **{"X-Slack-Retry-Num": "1"})
    again = await bot.post(body, **{"X-Slack-Retry-Num": "2"})
    await bot.channel.drain()
    assert retried.status == again.status == 200
    assert [u for u in bot.repo.updates_for("3.2") if u.text.endswith("disk full first")]
    assert len(bot.api.of("chat.postMessage")) == 1


# ------------------------------------------------------------------ item 11: malformed input
@pytest.mark.parametrize(
    "make",
    [
        lambda: (b"{}", {"X-Slack-Signature": "v0=\u00e9\u00e9"}, 401),
        lambda: (b"\xff\xfe not utf-8", {"Content-Type": "application/x-www-form-urlencoded"}, 400),
        lambda: (b"\xff\xfe", {}, 400),
        lambda: (b"[1, 2]", {}, 400),
        lambda: (json.dumps({"type": "event_callback", "event": "x"}).encode(), {}, 400),
        lambda: (
            json.dumps(
                {
                    "type": "event_callback",
                    "event": {
                        "type": "message",
                        "channel_type": "im",
                        "user": ["U1"],
                        "channel": 5,
                        "text": {},
                    },
                }
            ).encode(),
            {},
            200,
        ),
        # half a character (a lone surrogate escape): was 500 "could not store", retried
        lambda: (slack_event(direct_message(MO, "update 3.2 done \ud83d")), {}, 400),
    ],
    ids=[
        "non-ASCII signature",
        "non-UTF-8 form",
        "non-UTF-8 JSON",
        "JSON list",
        "event not an object",
        "odd field types",
        "lone surrogate",
    ],
)
async def test_malformed_input_is_refused_without_a_traceback(bot, make, caplog):
    body, extra, status = make()
    headers = slack_headers(body, content_type=extra.pop("Content-Type", "application/json"))
    headers = {k: v.encode("utf-8").decode("latin-1") for k, v in {**headers, **extra}.items()}
    before = snapshot(bot.repo)
    with caplog.at_level(logging.INFO):
        response = await bot.client.post("/slack/events", data=body, headers=headers)
        await bot.channel.drain()
    assert response.status == status
    assert snapshot(bot.repo) == before
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


# ------------------------------------------------------------------ item 7: regexes
async def test_forty_thousand_mentions_do_not_block_the_server(bot):
    body = slack_event(direct_message(MO, "<@" * 40_000))
    started = time.monotonic()
    assert (await bot.post(body)).status == 200
    await bot.channel.drain(timeout=5)
    health = await bot.client.get("/healthz")
    assert health.status == 200
    assert time.monotonic() - started < 2.0  # 21 s before the fix
    [posted] = bot.api.of("chat.postMessage")
    assert "too long" in posted["text"]


# ------------------------------------------------------------------ item 4: Slack identity
async def test_slack_connect_user_from_another_org_is_a_stranger_even_with_a_matching_email(
    tmp_path,
):
    api = await FakeSlackApi(users={"UOTHER": {"email": MO_EMAIL}}, teams={"UOTHER": "T9"}).start()
    bot = await Bot(tmp_path, api).start(await open_repo(tmp_path, skip=("mkhan",)))
    try:
        event = {**direct_message("UOTHER", "update 3.2 done"), "user_team": "T9"}
        assert (await bot.post(slack_event(event))).status == 200
        await bot.channel.drain()
        assert bot.repo.updates_for("3.2") == []
        [posted] = api.of("chat.postMessage")
        assert "I don't know you yet" in posted["text"]
    finally:
        await bot.stop()
        await api.close()


async def test_a_slack_id_equal_to_someones_teams_id_is_not_them(bot):
    await bot.post(slack_event(direct_message(teams_id("mkhan"), "update 3.2 done")))
    await bot.channel.drain()
    assert bot.repo.updates_for("3.2") == []
    [posted] = bot.api.of("chat.postMessage")
    assert "I don't know you yet" in posted["text"]


# ------------------------------------------------------------------ items 3 + 5: durable inbox
async def test_a_signed_request_replayed_after_a_restart_is_not_processed_again(tmp_path, api):
    bot = await Bot(tmp_path, api).start(await open_repo(tmp_path))
    body = slack_event(direct_message(MO, "update 3.2 on track 63% replay"))
    headers = slack_headers(body)
    assert (await bot.client.post("/slack/events", data=body, headers=headers)).status == 200
    await bot.channel.drain()
    await bot.stop()

    again = await Bot(tmp_path, api).start()
    try:
        response = await again.client.post("/slack/events", data=body, headers=headers)
        assert response.status == 200
        await again.channel.drain()
        assert len(again.repo.updates_for("3.2")) == 1
        assert len(api.of("chat.postMessage")) == 1
    finally:
        await again.stop()


async def test_acknowledged_work_left_by_a_crash_is_done_at_start_up(tmp_path, api):
    stuck = asyncio.Event()

    class Stuck:
        def __init__(self, repo):
            pass

        async def handle(self, message):
            await stuck.wait()  # the process "dies" here
            return Reply(lines=["never"])

    crashed = await Bot(tmp_path, api, tracker_of=Stuck).start(await open_repo(tmp_path))
    body = slack_event(direct_message(MO, "update 3.2 on track 64% survived"))
    assert (await crashed.post(body)).status == 200
    for task in crashed.channel.inbox._workers:  # SIGKILL: no shutdown, no finish
        task.cancel()
    crashed.channel.inbox._workers = []
    await crashed.stop()
    assert api.of("chat.postMessage") == []

    bot = await Bot(tmp_path, api).start()
    try:
        await bot.channel.drain(timeout=5)
        [update] = bot.repo.updates_for("3.2")
        assert update.note == "survived"
        assert len(api.of("chat.postMessage")) == 1
        assert (await bot.post(body)).status == 200  # Slack's late retry: ignored
        await bot.channel.drain()
        assert len(bot.repo.updates_for("3.2")) == 1
    finally:
        await bot.stop()


async def test_dedupe_keys_hold_across_two_processes_and_expire_after_a_day(tmp_path):
    one = await open_repo(tmp_path)
    two = Repository.open(tmp_path / "data")
    now = [1_000_000.0]
    first, second = Inbox(one, clock=lambda: now[0]), Inbox(two, clock=lambda: now[0])
    try:
        assert await first.first_time("teams:activity:1")
        assert not await second.first_time("teams:activity:1")
        assert await two.claim("seen:teams:2", {"any": "value"})
        now[0] += 24 * 3600 + 1
        assert await second.expire() >= 1
        assert await first.first_time("teams:activity:1")  # expired: new again
    finally:
        one.close()
        two.close()


# ------------------------------------------------------------------ item 12: /healthz
async def test_healthz_tells_anonymous_callers_only_ok(tmp_path, api):
    bot = await Bot(tmp_path, api, healthz_token="s3cret").start(await open_repo(tmp_path))
    try:
        proxied = {"X-Forwarded-For": "203.0.113.9"}
        response = await bot.client.get("/healthz", headers=proxied)
        assert response.status == 200 and await response.json() == {"status": "ok"}
        wrong = await bot.client.get("/healthz", headers={**proxied, "Authorization": "Bearer x"})
        assert await wrong.json() == {"status": "ok"}
        right = await bot.client.get(
            "/healthz", headers={**proxied, "Authorization": "Bearer s3cret"}
        )
        assert "store" in await right.json()
        assert "store" in await (await bot.client.get("/healthz")).json()  # direct loopback
    finally:
        await bot.stop()


# ------------------------------------------------------------------ replies reuse a connection
async def test_replies_reuse_one_connection_to_slack(bot):
    for n in range(3):
        body = slack_event(direct_message(MO, "summary", ts=f"1700.0{n}"))
        assert (await bot.post(body)).status == 200
        await bot.channel.drain()
    peers = {c.peer for c in bot.api.calls if c.method == "chat.postMessage"}
    assert len([c for c in bot.api.calls if c.method == "chat.postMessage"]) == 3
    assert len(peers) == 1  # one keep-alive connection, not one per reply


async def test_a_burst_of_events_shares_inbox_writes_and_each_is_handled_once(bot, tmp_path):
    """Group commit: events acknowledged while an inbox write is under way go into the
    next write together (fewer fsyncs under load), each still durable before its 200,
    and a retry arriving in the same batch as its original is still ignored."""
    from tests.store_helpers import journal_records

    def event(n: int) -> bytes:
        text = f"update 3.2 on track {n}% burst {n}"
        return slack_event(direct_message(MO, text, ts=f"1700.{n:04d}"), event_id=f"EvB{n:03d}")

    bodies = [event(n) for n in range(40)]
    retries = [bodies[7]] * 4  # Slack retrying one event while the burst is arriving
    responses = await asyncio.gather(*(bot.post(body) for body in bodies + retries))
    assert [r.status for r in responses] == [200] * 44
    await bot.channel.drain()

    replies = [c for c in bot.api.calls if c.method == "chat.postMessage"]
    assert len(replies) == 40  # one per event: the four retries were ignored
    stored = [c.text for c in bot.repo.updates_for("3.2") if "burst" in (c.text or "")]
    assert sorted(stored) == sorted(f"update 3.2 on track {n}% burst {n}" for n in range(40))
    inbox_lines = [
        r for r in journal_records(tmp_path / "data")
        if any(op[0] == "i" and str(op[3].get("key", "")).startswith("inbox:") for op in r["ops"])
    ]  # fmt: skip
    assert len(inbox_lines) < 40  # shared: the burst did not cost one fsync per event
