"""Slack over HTTP: signed requests to the real server on 127.0.0.1, replies to a fake Slack.

Every test drives the bot's aiohttp application through a socket, with the real
FrontDoor and store behind it and the fake Slack Web API (tests/fakes/slack_api.py)
answering the bot's slack_sdk client, pointed at it through SLACK_API_URL.
"""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest

from bot.channels.common import Undeliverable
from bot.channels.slack import SlackChannel, SlackSettings
from bot.server import Channels, create_app
from handlers.front_door import FrontDoor
from handlers.reply import Reply
from tests.fakes.harness import (
    SIGNING_SECRET,
    direct_message,
    mention,
    open_repo,
    serve,
    slack_event,
    slack_headers,
    slack_id,
    snapshot,
)
from tests.fakes.slack_api import FakeSlackApi

MO = slack_id("mkhan")


@pytest.fixture
async def slack(tmp_path):
    api = await FakeSlackApi(users={MO: {"email": "mo.khan@example.gov.uk"}}).start()
    repo = await open_repo(tmp_path)
    tracker = FrontDoor(repo)
    settings = SlackSettings(api.token, SIGNING_SECRET, api_url=api.api_url)
    channel = SlackChannel(settings, tracker, repo)
    client = await serve(create_app(repo, channels=Channels(slack=channel)))

    async def post(body: bytes, **headers):
        merged = {**slack_headers(body), **headers}
        return await client.post("/slack/events", data=body, headers=merged)

    yield SimpleNamespace(api=api, repo=repo, channel=channel, client=client, post=post)
    await client.close()
    await api.close()
    repo.close()


async def test_url_verification_answers_the_challenge(slack):
    body = json.dumps({"type": "url_verification", "challenge": "abc123"}).encode()
    response = await slack.post(body)
    assert response.status == 200
    assert (await response.json()) == {"challenge": "abc123"}


async def test_mention_is_answered_in_its_thread_with_block_kit(slack):
    response = await slack.post(slack_event(mention(MO, "status of theme 3", ts="1700.01")))
    assert response.status == 200
    await slack.channel.drain()

    [posted] = slack.api.of("chat.postMessage")
    assert posted["channel"] == "C0STRATEGY"
    assert posted["thread_ts"] == "1700.01"  # in the thread of the mention
    blocks = posted["blocks"]
    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"].startswith("Theme 3")
    everything = json.dumps(blocks)
    assert ":red_circle:" in everything and ":large_green_circle:" in everything
    assert "3.3 Unified communications" in posted["text"]  # the text fallback
    # the sender was asked for by id, and their reference kept for proactive messages
    stored = slack.repo.conversation(f"slack:user:{MO}")
    assert stored["user_id"] == MO and stored["team_id"] == "T1"


async def test_mention_inside_a_thread_is_answered_in_that_thread(slack):
    event = mention(MO, "who owns 3.2?", ts="1700.09", thread_ts="1700.02")
    await slack.post(slack_event(event))
    await slack.channel.drain()
    [posted] = slack.api.of("chat.postMessage")
    assert posted["thread_ts"] == "1700.02"


async def test_direct_message_update_is_recorded_and_confirmed_in_the_dm(slack):
    event = direct_message(MO, "update 3.2 on track 62% survey complete")
    assert (await slack.post(slack_event(event))).status == 200
    await slack.channel.drain()

    objective = slack.repo.objective("3.2")
    assert objective.progress == 62
    [update] = slack.repo.updates_for("3.2")
    assert update.actor == "mkhan" and update.note == "survey complete"
    [posted] = slack.api.of("chat.postMessage")
    assert posted["channel"] == event["channel"]
    assert "thread_ts" not in posted  # a top-level DM is answered in the DM itself
    assert "Recorded update on 3.2" in posted["text"]
    stored = slack.repo.conversation(f"slack:user:{MO}")
    assert stored["dm_channel"] == event["channel"]


async def test_user_text_is_escaped_so_nobody_is_pinged(slack):
    # What Slack sends when a user types `<!channel> & <b>` literally, plus a real
    # @channel mention and a link with a misleading label.
    text = (
        "update 3.2 61% &lt;!channel&gt; &amp; &lt;b&gt; <!channel> <https://evil.example|gov.uk>"
    )
    await slack.post(slack_event(direct_message(MO, text)))
    await slack.channel.drain()

    [update] = slack.repo.updates_for("3.2")
    assert update.note == "<!channel> & <b> @channel gov.uk (https://evil.example)"
    [posted] = slack.api.of("chat.postMessage")
    outgoing = posted["text"] + json.dumps(posted["blocks"])
    assert "<!channel>" not in outgoing and "<b>" not in outgoing and "<https" not in outgoing
    assert "&lt;!channel&gt; &amp; &lt;b&gt;" in posted["text"]
    assert posted["parse"] == "none" and posted["link_names"] in (False, 0, "0", "false")
    for block in posted["blocks"]:
        for text_object in [block.get("text"), *block.get("fields", [])]:
            if text_object and text_object["type"] == "mrkdwn":
                assert text_object["verbatim"] is True


async def test_slash_command_acknowledges_then_answers_privately(slack):
    form = urlencode(
        {
            "command": "/strategy",
            "text": "status of 3.2",
            "user_id": MO,
            "team_id": "T1",
            "channel_id": "C0STRATEGY",
            "response_url": slack.api.response_url("cmd1"),
            "trigger_id": "trig-1",
        }
    ).encode()
    headers = slack_headers(form, content_type="application/x-www-form-urlencoded")
    response = await slack.client.post("/slack/events", data=form, headers=headers)
    assert response.status == 200 and (await response.text()) == ""
    await slack.channel.drain()

    [answer] = slack.api.responses
    assert answer["response_type"] == "ephemeral"
    assert "3.2" in answer["text"] and answer["blocks"]
    assert slack.api.of("chat.postMessage") == []


async def test_slack_is_acknowledged_before_the_work_is_done(tmp_path):
    """Slack's 3-second limit: the HTTP answer must not wait for the FrontDoor."""
    release = asyncio.Event()

    class SlowTracker:
        async def handle(self, message):
            await release.wait()
            return Reply(lines=["done at last"])

    api = await FakeSlackApi().start()
    repo = await open_repo(tmp_path)
    settings = SlackSettings(api.token, SIGNING_SECRET, api_url=api.api_url)
    channel = SlackChannel(settings, SlowTracker(), repo)
    client = await serve(create_app(repo, channels=Channels(slack=channel)))
    try:
        body = slack_event(direct_message(MO, "summary"))
        started = time.monotonic()
        response = await client.post("/slack/events", data=body, headers=slack_headers(body))
        assert response.status == 200
        assert time.monotonic() - started < 1.0
        assert api.of("chat.postMessage") == [] and not channel.inbox.idle  # still working
        release.set()
        await channel.drain(timeout=5)
        [posted] = api.of("chat.postMessage")
        assert posted["text"] == "done at last"
    finally:
        await client.close()
        await api.close()
        repo.close()


def _bad_signature(body):
    return slack_headers(body, secret="not-the-secret")


def _stale(body):
    return slack_headers(body, timestamp=int(time.time()) - 5 * 60 - 30)


def _future(body):
    return slack_headers(body, timestamp=int(time.time()) + 5 * 60 + 30)


def _missing_signature(body):
    headers = slack_headers(body)
    del headers["X-Slack-Signature"]
    return headers


def _missing_timestamp(body):
    headers = slack_headers(body)
    del headers["X-Slack-Request-Timestamp"]
    return headers


def _garbage_timestamp(body):
    return {**slack_headers(body), "X-Slack-Request-Timestamp": "yesterday"}


def _tampered(body):
    return slack_headers(body.replace(b"62%", b"12%"))  # signed a different body


@pytest.mark.parametrize(
    "forge",
    [
        _bad_signature,
        _stale,
        _future,
        _missing_signature,
        _missing_timestamp,
        _garbage_timestamp,
        _tampered,
    ],
)
async def test_unverified_requests_are_refused_and_store_nothing(slack, forge):
    before = snapshot(slack.repo)
    body = slack_event(direct_message(MO, "update 3.2 on track 62% forged"))
    response = await slack.client.post("/slack/events", data=body, headers=forge(body))
    assert response.status == 401
    await slack.channel.drain()
    assert snapshot(slack.repo) == before
    assert slack.repo.conversation(f"slack:user:{MO}") is None
    assert slack.repo.updates_for("3.2") == []
    assert slack.api.calls == []  # not even a reply


async def test_forged_slash_command_is_refused(slack):
    before = snapshot(slack.repo)
    form = urlencode(
        {
            "command": "/strategy",
            "text": "update 3.2 done",
            "user_id": MO,
            "response_url": slack.api.response_url(),
        }
    ).encode()
    headers = slack_headers(form, secret="wrong", content_type="application/x-www-form-urlencoded")
    response = await slack.client.post("/slack/events", data=form, headers=headers)
    assert response.status == 401
    await slack.channel.drain()
    assert snapshot(slack.repo) == before and slack.api.responses == []


async def test_retries_of_a_handled_event_are_ignored(slack):
    body = slack_event(direct_message(MO, "update 3.2 on track 63% first"), event_id="Ev0001")
    assert (await slack.post(body)).status == 200
    await slack.channel.drain()
    assert len(slack.repo.updates_for("3.2")) == 1
    after_first = snapshot(slack.repo)

    # Slack retries the same event (new signature and timestamp, same event_id) ...
    retry = await slack.post(
        body, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    # ... and an attacker replays the original request byte for byte.
    replay = await slack.post(body)
    assert retry.status == 200 and replay.status == 200
    await slack.channel.drain()
    assert snapshot(slack.repo) == after_first
    assert len(slack.repo.updates_for("3.2")) == 1
    assert len(slack.api.of("chat.postMessage")) == 1


async def test_replayed_slash_command_runs_once(slack):
    form = urlencode(
        {
            "command": "/strategy",
            "text": "update 3.2 64% once",
            "user_id": MO,
            "team_id": "T1",
            "channel_id": "C1",
            "trigger_id": "trig-9",
            "response_url": slack.api.response_url(),
        }
    ).encode()
    for _ in range(2):
        headers = slack_headers(form, content_type="application/x-www-form-urlencoded")
        assert (await slack.client.post("/slack/events", data=form, headers=headers)).status == 200
    await slack.channel.drain()
    assert len(slack.repo.updates_for("3.2")) == 1
    assert len(slack.api.responses) == 1


@pytest.mark.parametrize(
    "event",
    [
        {**direct_message(MO, "update 3.2 10% from a bot"), "bot_id": "B1"},
        {**direct_message(MO, "update 3.2 10% edited"), "subtype": "message_changed"},
        {**direct_message(MO, "update 3.2 10% in a channel"), "channel_type": "channel"},
    ],
    ids=["bot message", "edit", "channel chatter without a mention"],
)
async def test_messages_not_addressed_to_the_bot_are_ignored(slack, event):
    before = snapshot(slack.repo)
    assert (await slack.post(slack_event(event))).status == 200
    await slack.channel.drain()
    assert snapshot(slack.repo) == before and slack.api.of("chat.postMessage") == []


async def test_unknown_slack_user_is_told_how_to_get_added_and_changes_nothing(slack):
    await slack.post(slack_event(direct_message("USTRANGER", "update 3.2 done")))
    await slack.channel.drain()
    assert slack.repo.updates_for("3.2") == []
    [posted] = slack.api.of("chat.postMessage")
    assert "I don't know you yet" in posted["text"] and "USTRANGER" in posted["text"]


async def test_a_tracker_failure_still_gets_an_answer(tmp_path):
    class BrokenTracker:
        async def handle(self, message):
            raise RuntimeError("boom")

    api = await FakeSlackApi().start()
    repo = await open_repo(tmp_path)
    channel = SlackChannel(
        SlackSettings(api.token, SIGNING_SECRET, api.api_url), BrokenTracker(), repo
    )
    client = await serve(create_app(repo, channels=Channels(slack=channel)))
    try:
        body = slack_event(mention(MO, "summary"))
        await client.post("/slack/events", data=body, headers=slack_headers(body))
        await channel.drain()
        [posted] = api.of("chat.postMessage")
        assert "something went wrong" in posted["text"]
        assert posted["thread_ts"] == "1700000001.000100"
    finally:
        await client.close()
        await api.close()
        repo.close()


async def test_errors_are_flagged_in_slack(slack):
    await slack.post(slack_event(direct_message(MO, "close R1")))  # officers can't
    await slack.channel.drain()
    [posted] = slack.api.of("chat.postMessage")
    assert posted["text"].startswith(":warning:")
    assert "Only strategy group members and admins" in posted["text"]


async def test_slash_command_charts_go_to_the_users_dm_not_the_channel(tmp_path):
    chart = tmp_path / "chart.png"
    chart.write_bytes(b"\x89PNG\r\n\x1a\nchart")

    class ChartTracker:
        async def handle(self, message):
            return Reply(title="Progress", images=[chart])

    api = await FakeSlackApi().start()
    repo = await open_repo(tmp_path)
    channel = SlackChannel(
        SlackSettings(api.token, SIGNING_SECRET, api.api_url), ChartTracker(), repo
    )
    client = await serve(create_app(repo, channels=Channels(slack=channel)))
    try:
        form = urlencode(
            {"command": "/strategy", "text": "chart", "user_id": MO, "channel_id": "C0PUBLIC",
             "trigger_id": "t-chart", "response_url": api.response_url()}
        ).encode()  # fmt: skip
        headers = slack_headers(form, content_type="application/x-www-form-urlencoded")
        await client.post("/slack/events", data=form, headers=headers)
        await channel.drain()
        assert api.responses[0]["text"] == "*Progress*"
        [completed] = api.of("files.completeUploadExternal")
        assert completed["channel_id"] == "D" + MO[1:]  # the DM, not C0PUBLIC
    finally:
        await client.close()
        await api.close()
        repo.close()


# --- posting the reply (bot/channels/slack_post.py) ------------------------------------------
async def test_a_rate_limited_reply_is_posted_after_slacks_retry_after(slack):
    slack.api.throttled["chat.postMessage"] = 2  # Slack's 429, twice
    await slack.post(slack_event(mention(MO, "who owns 3.2?", ts="1700.31")))
    await slack.channel.drain()
    tries = slack.api.of("chat.postMessage")
    assert len(tries) == 3 and tries[-1]["thread_ts"] == "1700.31"
    assert "3.2" in tries[-1]["text"]
    assert slack.channel.inbox.idle  # finished, not left for a retry at the next start


async def test_a_dropped_connection_to_slack_is_retried_once(slack):
    slack.api.dropped["chat.postMessage"] = 1
    await slack.post(slack_event(mention(MO, "who owns 3.2?", ts="1700.32")))
    await slack.channel.drain()
    assert len(slack.api.of("chat.postMessage")) == 2  # the dropped one, then the reply


async def test_a_reply_slack_refuses_says_why_and_never_shows_the_token(slack):
    reply = Reply(title="hi")
    slack.api.failures["chat.postMessage"] = "channel_not_found"
    with pytest.raises(Undeliverable, match="Slack refused to post to C404: channel_not_found"):
        await slack.channel.post("C404", reply)

    del slack.api.failures["chat.postMessage"]
    slack.api.throttled["chat.postMessage"] = 3  # more than the two retries
    with pytest.raises(Undeliverable, match="Slack refused to post to C1: ratelimited"):
        await slack.channel.post("C1", reply)

    slack.api.dropped["chat.postMessage"] = 2  # more than the one retry
    with pytest.raises(Undeliverable, match="could not reach Slack to post to C1") as caught:
        await slack.channel.post("C1", reply)
    assert slack.api.token not in str(caught.value)
    assert (await slack.channel.post("C1", reply)) is not None  # and it works again after
