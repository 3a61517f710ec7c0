"""No call to Microsoft stalls the server (issue 9, item 2), over real HTTP.

The bot runs with Slack and an authenticated Teams channel; Microsoft's login endpoint
and the Bot Framework's OpenID keys are a fake on its own thread (tests/fakes/
microsoft.py), the connector and Slack's Web API the usual fakes. botbuilder 4.17
fetched a token for every reply and the keys with `requests.get`, both on the event
loop: these tests failed there (40 token requests; Slack acknowledgements held for the
fake's whole delay).
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import pytest

from bot.channels.slack import SlackChannel, SlackSettings
from bot.channels.teams import TeamsChannel, TeamsSettings
from bot.server import Channels, create_app
from handlers.front_door import FrontDoor
from tests.fakes.connector import FakeConnector
from tests.fakes.harness import (
    SIGNING_SECRET,
    bf_message,
    mention,
    open_repo,
    serve,
    slack_event,
    slack_headers,
    slack_id,
    teams_id,
)
from tests.fakes.microsoft import FakeMicrosoft
from tests.fakes.slack_api import FakeSlackApi

APP_ID = "00000000-0000-0000-0000-00000000b07a"
TENANT = "council-tenant"


@pytest.fixture
async def bot(tmp_path):
    microsoft = FakeMicrosoft().start()
    api = await FakeSlackApi().start()
    connector = await FakeConnector().start()
    repo = await open_repo(tmp_path)
    tracker = FrontDoor(repo)
    settings = TeamsSettings(
        app_id=APP_ID,
        app_password="not-a-real-secret",
        tenant_id=TENANT,
        app_type="SingleTenant",
        allowed_tenants=frozenset({TENANT}),
        token_endpoint=microsoft.token_endpoint,
        openid_metadata_url=microsoft.openid_url,
        microsoft_timeout=2.0,
    )
    teams = TeamsChannel(settings, tracker, repo)
    slack = SlackChannel(SlackSettings(api.token, SIGNING_SECRET, api.api_url), tracker, repo)
    client = await serve(create_app(repo, channels=Channels(slack=slack, teams=teams)))
    yield SimpleNamespace(microsoft=microsoft, api=api, connector=connector, repo=repo,
                          client=client)  # fmt: skip
    await client.close()
    await connector.close()
    await api.close()
    repo.close()
    microsoft.close()


async def post_teams(bot, text: str, token: str | None = None):
    activity = bf_message(
        text,
        service_url=bot.connector.service_url,
        aad=teams_id("tcarter"),
        tenant=TENANT,
    )
    token = token or bot.microsoft.sign(app_id=APP_ID, service_url=bot.connector.service_url)
    return await bot.client.post(
        "/api/messages", json=activity, headers={"Authorization": f"Bearer {token}"}
    )


async def timed_slack_ack(bot, text: str) -> tuple[int, float]:
    body = slack_event(mention(slack_id("tcarter"), text))
    started = time.monotonic()
    response = await bot.client.post("/slack/events", data=body, headers=slack_headers(body))
    return response.status, time.monotonic() - started


async def test_forty_teams_messages_fetch_a_token_once(bot):
    responses = await asyncio.gather(
        *(post_teams(bot, f"how is 3.2 going? ({n})") for n in range(40))
    )
    assert all(r.status < 300 for r in responses)
    sent = await bot.connector.wait_for(40, timeout=30)
    assert all(s.authorization == "Bearer fake-token-1" for s in sent)
    assert bot.microsoft.token_requests <= 2  # once, plus at most one for another scope


async def test_replies_reuse_one_client_and_connection_to_the_connector(bot):
    """botbuilder builds a ConnectorClient, with its own HTTP session, per activity: a
    new TCP connection for every reply. Kept clients (teams_auth.ReusingAuthentication)
    reuse one."""
    for n in range(4):
        assert (await post_teams(bot, f"how is 3.2 going? ({n})")).status < 300
        await bot.connector.wait_for(n + 1)
    assert len({s.peer for s in bot.connector.sent}) == 1
    assert all(s.authorization == "Bearer fake-token-1" for s in bot.connector.sent)


def test_kept_clients_are_rebuilt_before_their_token_could_expire():
    from bot.channels.teams_auth import CLIENT_REUSE_SECONDS, REFRESH_MARGIN, ReusedClients

    now = [0.0]
    clients = ReusedClients(clock=lambda: now[0])
    made = iter(range(100))

    async def build():
        return next(made)

    async def get(key):
        return await clients.get(key, build)

    assert asyncio.run(get("a")) == asyncio.run(get("a")) == 0
    assert asyncio.run(get("b")) == 1  # another service URL, another client
    now[0] = CLIENT_REUSE_SECONDS + 1
    assert asyncio.run(get("a")) == 2  # its token was fresh for REFRESH_MARGIN at most
    assert CLIENT_REUSE_SECONDS < REFRESH_MARGIN


async def test_a_forged_token_with_slow_keys_does_not_hold_slack_or_healthz(bot):
    bot.microsoft.delay_keys = 10.0
    forged = bot.microsoft.sign(app_id=APP_ID, service_url=bot.connector.service_url)
    forged = forged[:-8] + ("A" * 8 if not forged.endswith("A" * 8) else "B" * 8)
    began = time.monotonic()
    teams = asyncio.ensure_future(post_teams(bot, "update 3.2 done 100% forged", forged))
    await asyncio.sleep(0.2)  # the key fetch is under way
    status, _ = await timed_slack_ack(bot, "how is 3.2 going?")
    assert status == 200 and time.monotonic() - began < 1.2  # from before the forged post
    started = time.monotonic()
    health = await bot.client.get("/healthz")
    assert health.status in (200, 503) and time.monotonic() - started < 1.0
    response = await asyncio.wait_for(teams, 5)  # the key fetch times out after 2 s
    assert response.status == 503
    assert bot.connector.sent == []
    # back-off: the next token does not start another 10-second fetch
    started = time.monotonic()
    assert (await post_teams(bot, "again", forged)).status == 503
    assert time.monotonic() - started < 1.0 and bot.microsoft.key_requests == 1


async def test_a_slow_token_endpoint_leaves_slack_acks_fast(bot):
    bot.microsoft.delay_token = 10.0  # no token cached yet: every Teams turn needs one
    waiting = [asyncio.ensure_future(post_teams(bot, f"how is 3.{n} going?")) for n in range(5)]
    await asyncio.sleep(0.2)
    for _ in range(5):
        status, seconds = await timed_slack_ack(bot, "how is 3.2 going?")
        assert status == 200 and seconds < 1.0
    statuses = [r.status for r in await asyncio.wait_for(asyncio.gather(*waiting), 8)]
    assert statuses == [503] * 5  # after the 2-second timeout, not the fake's 10
    assert bot.microsoft.token_requests <= 5


def test_quickened_msrest_retry_policy_retries_the_same_codes_as_msrest():
    """botbuilder builds two msrest clients per Teams turn; each built its retry policy
    by scanning a list (~6 ms). The frozenset must give msrest's own policy, unchanged."""
    from msrest.universal_http.requests import ClientRetryPolicy

    from bot.channels.teams_auth import quicken_msrest_retry_policy

    quicken_msrest_retry_policy()
    assert isinstance(ClientRetryPolicy.safe_codes, frozenset)
    policy = ClientRetryPolicy().policy
    # msrest's definition: retry 408 and every 5xx-9xx except 501 and 505
    assert policy.status_forcelist == [408] + [c for c in range(500, 999) if c not in (501, 505)]
    assert (policy.total, policy.connect, policy.read, policy.backoff_factor) == (3, 3, 3, 0.8)


def test_quickened_msrest_serializer_sends_what_msrest_would():
    """A reply's Adaptive Card is a plain JSON tree: passed through instead of copied node
    by node; anything else (tuples, models, dates, non-string keys) takes msrest's path."""
    import datetime
    from enum import Enum

    import botbuilder.schema as schema
    from msrest import Serializer

    from bot.channels import teams_auth
    from bot.channels.teams import to_activity
    from handlers.reply import Item, Rag, Reply

    class Colour(Enum):
        RED = "red"

    teams_auth.quicken_msrest_serializer()
    quickened = Serializer.serialize_object
    teams_auth.quicken_msrest_serializer()  # twice is once
    assert Serializer.serialize_object is quickened
    library = quickened.library  # msrest's own
    models = {k: v for k, v in vars(schema).items() if isinstance(v, type)}
    reply = Reply(title="3.2 Thin client", fields=[("Status", "on track"), ("Owner", "Mo")])
    reply.section("History", [Item("60% on 1 Nov", Rag.GREEN)])
    odd = {"t": (1, 2), "d": datetime.date(2026, 11, 22), 3: "int key", "e": Colour.RED,
           "n": None, "f": 1.5, "b": True, "l": [None, {"x": [1, "y"]}]}  # fmt: skip
    for value in (odd, [odd, 1], {"plain": [1, 2.5, "x", None, False]}):
        assert quickened(Serializer(models), value) == library(Serializer(models), value)
    activity = to_activity(reply)
    sent = Serializer(models).body(activity, "Activity")
    Serializer.serialize_object = library
    try:
        assert Serializer(models).body(activity, "Activity") == sent
    finally:
        Serializer.serialize_object = quickened


async def test_a_connector_that_never_answers_holds_a_teams_turn_only_so_long(bot):
    """msrest would wait 100 s for the reply; the turn gives up after microsoft_timeout
    (2 s here), the change is stored all the same, and the connection is released."""
    bot.connector.delay = 30.0
    started = time.monotonic()
    response = await post_teams(bot, "update 3.2 on track 65% connector hanging")
    assert time.monotonic() - started < 4.0
    assert response.status < 500
    assert [u.note for u in bot.repo.updates_for("3.2")][-1:] == ["connector hanging"]
