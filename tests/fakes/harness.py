"""Shared set-up for channel tests: a store with chat identities, servers on loopback.

Everything runs for real: the bot's aiohttp application on 127.0.0.1 (aiohttp's
TestServer), the real FrontDoor and Repository on a temporary data directory, and the
fakes in this package standing in for Slack and the Bot Framework connector.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.settings import SAMPLE_STRATEGY
from handlers.front_door import FrontDoor
from storage.inbox import EXPIRING_PREFIXES
from storage.repository import Repository, Source
from tracker.strategy_file import load_strategy

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def slack_id(person: str) -> str:
    return f"U{person.upper()}"


def teams_id(person: str) -> str:
    """A stable Entra object id (a GUID) for a person of the sample strategy."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://example.gov.uk/{person}"))


def strategy_with_chat_ids(tmp_path: Path, *, skip: tuple[str, ...] = ()) -> Path:
    """The sample strategy with a Slack id and a Teams object id for each person."""
    raw = yaml.safe_load(SAMPLE_STRATEGY.read_text(encoding="utf-8"))
    for person in raw["people"]:
        if person["id"] not in skip:
            person["slack_id"] = slack_id(person["id"])
            person["teams_id"] = teams_id(person["id"])
    path = tmp_path / "strategy.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


async def open_repo(tmp_path: Path, **kwargs: Any) -> Repository:
    repo = Repository.open(tmp_path / "data")
    strategy = load_strategy(strategy_with_chat_ids(tmp_path, **kwargs))
    await repo.load_strategy(strategy, Source("system", "test"))
    return repo


def make_tracker(repo: Repository) -> FrontDoor:
    return FrontDoor(repo)


def snapshot(repo: Repository) -> dict[str, Any]:
    """Everything the store holds, to prove a refused request stored nothing.

    The inbox's bookkeeping (acknowledged work, deduplication keys: storage/inbox.py)
    is left out: it records that a message arrived, not anything the message asked for.
    """
    tables = json.loads(json.dumps(repo.store.export_tables(), sort_keys=True, default=str))
    if "meta" in tables:
        tables["meta"] = [
            d for d in tables["meta"] if not str(d.get("key", "")).startswith(EXPIRING_PREFIXES)
        ]
    return tables


@contextlib.asynccontextmanager
async def two_channel_bot(tmp_path: Path) -> AsyncIterator[SimpleNamespace]:
    """One server with Slack and Teams both on, as in production, and both fakes running."""
    from bot.channels.slack import SlackChannel, SlackSettings
    from bot.channels.teams import TeamsChannel, TeamsSettings
    from bot.server import Channels, create_app
    from tests.fakes.connector import FakeConnector
    from tests.fakes.slack_api import FakeSlackApi

    api = await FakeSlackApi().start()
    connector = await FakeConnector().start()
    repo = await open_repo(tmp_path)
    tracker = FrontDoor(repo)
    slack = SlackChannel(SlackSettings(api.token, SIGNING_SECRET, api.api_url), tracker, repo)
    teams = TeamsChannel(TeamsSettings(emulator=True), tracker, repo)
    client = await serve(create_app(repo, channels=Channels(slack=slack, teams=teams)))
    try:
        yield SimpleNamespace(api=api, connector=connector, repo=repo, slack=slack,
                              teams=teams, client=client)  # fmt: skip
    finally:
        await client.close()
        await connector.close()
        await api.close()
        repo.close()


async def serve(app: web.Application) -> TestClient:
    """The bot's application on a real socket on 127.0.0.1, with a client for it."""
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


async def half_a_body(client: TestClient, path: str, body: bytes, headers: dict[str, str]) -> str:
    """POST `body` declaring twice its length, then stop sending: the status line we get."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}Content-Length: {2 * len(body)}"
        f"\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    try:
        return (await asyncio.wait_for(reader.readline(), 5)).decode().strip()
    finally:
        writer.close()


# ----------------------------------------------------------------------- Slack
def slack_headers(
    body: bytes,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    content_type: str = "application/json",
) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    base = f"v0:{timestamp}:".encode() + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature,
    }


def slack_event(event: dict[str, Any], *, event_id: str | None = None, team: str = "T1") -> bytes:
    payload = {
        "token": "unused",
        "team_id": team,
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team, "user_id": "UBOT", "is_bot": True}],
        "event": event,
    }
    return json.dumps(payload).encode()


def mention(
    user: str,
    text: str,
    *,
    channel: str = "C0STRATEGY",
    ts: str = "1700000001.000100",
    thread_ts: str | None = None,
) -> dict[str, Any]:
    event = {
        "type": "app_mention",
        "user": user,
        "text": f"<@UBOT> {text}",
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def direct_message(
    user: str, text: str, *, channel: str | None = None, ts: str = "1700000002.000200"
) -> dict[str, Any]:
    return {
        "type": "message",
        "channel_type": "im",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel or "D" + user[1:],
        "event_ts": ts,
    }


# ----------------------------------------------------------------------- Bot Framework
def bf_message(
    text: str,
    *,
    service_url: str,
    user: str = "29:user",
    aad: str | None = None,
    name: str = "Someone",
    conversation: str = "a:personal-1",
    conversation_type: str = "personal",
    channel_id: str = "msteams",
    tenant: str = "tenant-1",
    entities: list[dict[str, Any]] | None = None,
    activity_id: str | None = None,
) -> dict[str, Any]:
    activity = {
        "type": "message",
        "id": activity_id or uuid.uuid4().hex,
        "timestamp": "2026-11-22T10:00:00.000Z",
        "channelId": channel_id,
        "serviceUrl": service_url,
        "from": {"id": user, "name": name, **({"aadObjectId": aad} if aad else {})},
        "conversation": {
            "id": conversation,
            "conversationType": conversation_type,
            "tenantId": tenant,
        },
        "recipient": {"id": "28:bot-app-id", "name": "Strategy Tracker"},
        "text": text,
        "textFormat": "plain",
        "locale": "en-GB",
        "channelData": {"tenant": {"id": tenant}},
    }
    if entities:
        activity["entities"] = entities
    return activity


def bot_mention_entity(text: str = "<at>Strategy Tracker</at>") -> dict[str, Any]:
    return {
        "type": "mention",
        "text": text,
        "mentioned": {"id": "28:bot-app-id", "name": "Strategy Tracker"},
    }
