"""Teams over HTTP: Bot Framework activities to /api/messages, replies to a fake connector.

The bot's aiohttp application runs on 127.0.0.1; each activity names the fake
connector (also on loopback) as its serviceUrl, so the reply travels back over HTTP
through botbuilder's CloudAdapter and connector client exactly as it would to Teams.
These run in Emulator (anonymous) mode; test_teams_auth.py covers authentication.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from bot.channels.teams import TeamsChannel, TeamsSettings
from bot.channels.teams_render import CARD_CONTENT_TYPE
from bot.server import Channels, create_app
from handlers.front_door import FrontDoor
from tests.fakes.connector import FakeConnector
from tests.fakes.harness import (
    bf_message,
    bot_mention_entity,
    open_repo,
    serve,
    snapshot,
    teams_id,
)

MO_AAD = teams_id("mkhan")
MO_MEMBER = {
    "id": "29:mo",
    "name": "Mo Khan",
    "aadObjectId": MO_AAD,
    "email": "mo.khan@example.gov.uk",
    "userPrincipalName": "mo.khan@example.gov.uk",
}


async def start(tmp_path, settings=None, **repo_options):
    connector = await FakeConnector(members={"29:mo": MO_MEMBER}).start()
    repo = await open_repo(tmp_path, **repo_options)
    settings = settings or TeamsSettings(emulator=True, allowed_tenants=frozenset({"tenant-1"}))
    channel = TeamsChannel(settings, FrontDoor(repo), repo)
    client = await serve(create_app(repo, channels=Channels(teams=channel)))

    async def close():
        await client.close()
        await connector.close()
        repo.close()

    return SimpleNamespace(
        connector=connector, repo=repo, channel=channel, client=client, close=close
    )


@pytest.fixture
async def teams(tmp_path):
    env = await start(tmp_path)
    yield env
    await env.close()


def walk(node):
    """Every dict inside a card, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def card_of(sent) -> dict:
    [attachment] = [
        a for a in sent.activity.get("attachments", []) if a["contentType"] == CARD_CONTENT_TYPE
    ]
    return attachment["content"]


async def test_status_question_is_answered_with_an_adaptive_card(teams):
    activity = bf_message(
        "status of theme 3",
        service_url=teams.connector.service_url,
        user="29:mo",
        aad=MO_AAD,
        name="Mo Khan",
    )
    response = await teams.client.post("/api/messages", json=activity)
    assert response.status in (200, 201)

    [sent] = teams.connector.sent
    assert sent.conversation_id == "a:personal-1"
    assert sent.reply_to == activity["id"]  # a reply to the user's message
    assert sent.activity["type"] == "message"
    card = card_of(sent)
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    texts = [n["text"] for n in walk(card) if n.get("type") == "TextRun"]
    assert texts[0].startswith("Theme 3")
    assert any("3.3 Unified communications" in t for t in texts)
    colours = {n.get("color") for n in walk(card) if n.get("type") == "TextRun"}
    assert {"Good", "Attention"} <= colours  # RAG, with the word as well as the colour
    assert any(t.startswith("● RED") for t in texts)
    assert "3.3 Unified communications" in card["fallbackText"]  # text fallback


async def test_message_stores_the_conversation_reference(teams):
    activity = bf_message(
        "summary", service_url=teams.connector.service_url, user="29:mo", aad=MO_AAD
    )
    await teams.client.post("/api/messages", json=activity)
    stored = teams.repo.conversation(f"teams:user:{MO_AAD}")
    assert stored["scope"] == "personal"
    reference = stored["reference"]
    assert reference["serviceUrl"] == teams.connector.service_url
    assert reference["conversation"]["id"] == "a:personal-1"
    assert reference["user"]["aadObjectId"] == MO_AAD
    assert "activityId" not in reference  # proactive messages start afresh
    # the e-mail from Teams' member API is a second way to find the same reference
    assert teams.repo.conversation("teams:email:mo.khan@example.gov.uk") == stored


async def test_channel_mention_is_stripped_and_update_recorded(teams):
    activity = bf_message(
        "<at>Strategy Tracker</at> update 3.2 on track 58% survey complete",
        service_url=teams.connector.service_url,
        user="29:mo",
        aad=MO_AAD,
        conversation="19:general@thread.tacv2;messageid=1700",
        conversation_type="channel",
        entities=[bot_mention_entity()],
    )
    await teams.client.post("/api/messages", json=activity)

    [update] = teams.repo.updates_for("3.2")
    assert update.actor == "mkhan" and update.note == "survey complete"
    assert teams.repo.objective("3.2").progress == 58
    [sent] = teams.connector.sent
    assert sent.conversation_id == "19:general@thread.tacv2;messageid=1700"  # in the thread
    assert "Recorded update on 3.2" in card_of(sent)["fallbackText"]
    stored = teams.repo.conversation("teams:conversation:19:general@thread.tacv2")
    assert stored["scope"] == "channel"
    assert stored["reference"]["conversation"]["id"] == "19:general@thread.tacv2"


async def test_person_known_only_by_email_is_recognised(tmp_path):
    env = await start(tmp_path, skip=("mkhan",))  # no teams_id for Mo in the strategy file
    try:
        activity = bf_message(
            "who am i", service_url=env.connector.service_url, user="29:mo", aad=MO_AAD
        )
        await env.client.post("/api/messages", json=activity)
        [sent] = env.connector.sent
        assert "You are Mo Khan (mkhan)" in json.dumps(sent.activity)
        assert env.connector.member_lookups == ["29:mo"]
        # and the lookup is cached: a second message does not ask Teams again
        await env.client.post("/api/messages", json={**activity, "id": "second"})
        assert env.connector.member_lookups == ["29:mo"]
    finally:
        await env.close()


async def test_email_is_not_trusted_when_every_tenant_is_accepted(tmp_path):
    env = await start(tmp_path, settings=TeamsSettings(emulator=True), skip=("mkhan",))
    try:
        activity = bf_message(
            "update 3.2 done", service_url=env.connector.service_url, user="29:mo", aad=MO_AAD
        )
        await env.client.post("/api/messages", json=activity)
        assert env.connector.member_lookups == []  # e-mail not even asked for
        assert "I don't know you yet" in json.dumps(env.connector.sent[0].activity)
        assert env.repo.updates_for("3.2") == []
    finally:
        await env.close()


async def test_user_text_cannot_inject_markdown_or_mentions(teams):
    note = "[click me](https://evil.example) **urgent** <at>Tina Carter</at>"
    activity = bf_message(
        f"update 3.2 57% {note}", service_url=teams.connector.service_url, user="29:mo", aad=MO_AAD
    )
    await teams.client.post("/api/messages", json=activity)
    # a Teams mention of someone else reads as their name in the stored note
    note = note.replace("<at>Tina Carter</at>", "Tina Carter")
    assert teams.repo.updates_for("3.2")[0].note == note

    [sent] = teams.connector.sent
    card = card_of(sent)
    assert "entities" not in sent.activity and "entities" not in card.get("msteams", {})
    # Markdown is only parsed in TextBlock and FactSet; the card uses neither, and the
    # note travels only inside TextRun elements, which are never parsed.
    kinds = {n.get("type") for n in walk(card)}
    assert "TextBlock" not in kinds and "FactSet" not in kinds
    holders = [n for n in walk(card) if isinstance(n.get("text"), str) and note in n["text"]]
    assert holders and all(n["type"] == "TextRun" for n in holders)


async def test_plain_replies_are_sent_as_plain_text(teams):
    activity = bf_message(
        "close R1", service_url=teams.connector.service_url, user="29:mo", aad=MO_AAD
    )
    await teams.client.post("/api/messages", json=activity)
    [sent] = teams.connector.sent
    assert sent.activity["textFormat"] == "plain"
    assert "Only strategy group members and admins can close risks" in sent.activity["text"]
    assert not sent.activity.get("attachments")


async def test_bot_installed_sends_a_welcome_and_stores_the_channel(teams):
    update = {
        "type": "conversationUpdate",
        "id": "cu-1",
        "channelId": "msteams",
        "serviceUrl": teams.connector.service_url,
        "from": {"id": "29:mo", "aadObjectId": MO_AAD},
        "recipient": {"id": "28:bot-app-id", "name": "Strategy Tracker"},
        "conversation": {
            "id": "19:general@thread.tacv2",
            "conversationType": "channel",
            "tenantId": "tenant-1",
        },
        "membersAdded": [{"id": "28:bot-app-id"}],
        "channelData": {"tenant": {"id": "tenant-1"}, "eventType": "teamMemberAdded"},
    }
    response = await teams.client.post("/api/messages", json=update)
    assert response.status in (200, 201)
    [sent] = teams.connector.sent
    text = sent.activity["text"]
    assert "Strategy Tracker" in text and '"help"' in text and "ICT Strategy 2025-2029" in text
    assert teams.repo.conversation("teams:conversation:19:general@thread.tacv2")


async def test_new_member_is_welcomed_by_name(teams):
    update = {
        "type": "conversationUpdate",
        "id": "cu-2",
        "channelId": "msteams",
        "serviceUrl": teams.connector.service_url,
        "from": {"id": "29:admin"},
        "recipient": {"id": "28:bot-app-id", "name": "Strategy Tracker"},
        "conversation": {
            "id": "19:general@thread.tacv2",
            "conversationType": "channel",
            "tenantId": "tenant-1",
        },
        "membersAdded": [{"id": "29:new", "name": "Nia Jones"}],
    }
    await teams.client.post("/api/messages", json=update)
    [sent] = teams.connector.sent
    assert sent.activity["text"].startswith("Welcome, Nia Jones!")


async def test_install_event_stores_the_reference_without_a_message(teams):
    install = {
        "type": "installationUpdate",
        "action": "add",
        "id": "iu-1",
        "channelId": "msteams",
        "serviceUrl": teams.connector.service_url,
        "from": {"id": "29:mo", "aadObjectId": MO_AAD},
        "recipient": {"id": "28:bot-app-id", "name": "Strategy Tracker"},
        "conversation": {
            "id": "a:personal-9",
            "conversationType": "personal",
            "tenantId": "tenant-1",
        },
    }
    await teams.client.post("/api/messages", json=install)
    assert teams.connector.sent == []
    stored = teams.repo.conversation(f"teams:user:{MO_AAD}")
    assert stored["reference"]["conversation"]["id"] == "a:personal-9"


async def test_emulator_mode_only_answers_loopback_service_urls(teams):
    before = snapshot(teams.repo)
    activity = bf_message(
        "update 3.2 done", service_url="https://attacker.example/", user="29:mo", aad=MO_AAD
    )
    response = await teams.client.post("/api/messages", json=activity)
    assert response.status == 403
    assert snapshot(teams.repo) == before and teams.connector.sent == []


async def test_other_tenants_are_ignored(tmp_path):
    settings = TeamsSettings(emulator=True, allowed_tenants=frozenset({"council-tenant"}))
    env = await start(tmp_path, settings=settings)
    try:
        before = snapshot(env.repo)
        activity = bf_message(
            "update 3.2 done",
            service_url=env.connector.service_url,
            user="29:mo",
            aad=MO_AAD,
            tenant="someone-elses-tenant",
        )
        response = await env.client.post("/api/messages", json=activity)
        assert response.status in (200, 201)
        assert snapshot(env.repo) == before and env.connector.sent == []
        allowed = bf_message(
            "who am i",
            service_url=env.connector.service_url,
            user="29:mo",
            aad=MO_AAD,
            tenant="council-tenant",
        )
        await env.client.post("/api/messages", json=allowed)
        assert len(env.connector.sent) == 1
    finally:
        await env.close()


async def test_non_json_and_oversized_requests_are_refused(teams):
    response = await teams.client.post(
        "/api/messages", data=b"hello", headers={"Content-Type": "text/plain"}
    )
    assert response.status == 415
    huge = bf_message("x" * 600_000, service_url=teams.connector.service_url)
    response = await teams.client.post("/api/messages", json=huge)
    assert response.status == 413
    assert teams.connector.sent == []
