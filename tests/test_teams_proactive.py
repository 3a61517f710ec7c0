"""Proactive Teams messages: to a person and to a channel, through stored references."""

from __future__ import annotations

import base64

import pytest

from bot.channels.teams import TeamsChannel, TeamsSettings
from bot.channels.teams_render import CARD_CONTENT_TYPE
from bot.delivery import Delivery, Target, Undeliverable
from bot.server import Channels, create_app
from handlers.front_door import FrontDoor
from handlers.reply import Item, Rag, Reply
from tests.fakes.connector import FakeConnector
from tests.fakes.harness import bf_message, open_repo, serve, teams_id

MO_AAD = teams_id("mkhan")


@pytest.fixture
async def teams(tmp_path):
    connector = await FakeConnector().start()
    repo = await open_repo(tmp_path)
    channel = TeamsChannel(TeamsSettings(emulator=True), FrontDoor(repo), repo)
    client = await serve(create_app(repo, channels=Channels(teams=channel)))
    yield connector, repo, channel, client
    await client.close()
    await connector.close()
    repo.close()


def digest() -> Reply:
    reply = Reply(title="Your weekly digest", lines=["Two objectives need an update."])
    reply.section("Due soon", [Item("3.2 Thin client rollout", Rag.GREEN)])
    return reply


async def test_message_to_a_person_arrives_through_their_stored_reference(teams):
    connector, repo, channel, client = teams
    hello = bf_message("who am i", service_url=connector.service_url, user="29:mo", aad=MO_AAD)
    await client.post("/api/messages", json=hello)
    connector.sent.clear()

    result = await Delivery(repo, teams=channel).send("mkhan", digest())

    assert result.delivered and result.channel == "teams"
    [sent] = connector.sent
    assert sent.conversation_id == "a:personal-1"
    assert sent.reply_to is None  # a new message, not a reply to anything
    assert sent.activity["recipient"]["id"] == "29:mo"
    [card] = sent.activity["attachments"]
    assert card["contentType"] == CARD_CONTENT_TYPE
    assert "Your weekly digest" in card["content"]["fallbackText"]


async def test_message_to_a_channel_target_uses_the_install_reference(teams):
    connector, repo, channel, client = teams
    installed = {
        "type": "conversationUpdate",
        "id": "cu-1",
        "channelId": "msteams",
        "serviceUrl": connector.service_url,
        "from": {"id": "29:mo"},
        "recipient": {"id": "28:bot-app-id", "name": "Strategy Tracker"},
        "conversation": {"id": "19:citsg@thread.tacv2", "conversationType": "channel"},
        "membersAdded": [{"id": "28:bot-app-id"}],
    }
    await client.post("/api/messages", json=installed)
    connector.sent.clear()

    target = Target.parse("teams:19:citsg@thread.tacv2")
    result = await Delivery(repo, teams=channel).send(target, digest())
    assert result.delivered
    [sent] = connector.sent
    assert sent.conversation_id == "19:citsg@thread.tacv2" and sent.reply_to is None


async def test_images_travel_as_inline_attachments(teams, tmp_path):
    connector, repo, channel, client = teams
    await client.post(
        "/api/messages",
        json=bf_message("hi", service_url=connector.service_url, user="29:mo", aad=MO_AAD),
    )
    connector.sent.clear()
    chart = tmp_path / "chart.png"
    chart.write_bytes(b"\x89PNG\r\n\x1a\nfake-png-bytes")
    reply = Reply(title="Progress chart", lines=["As of today."], images=[chart])

    (await Delivery(repo, teams=channel).send("mkhan", reply)).raise_for_failure()

    [sent] = connector.sent
    [image] = sent.activity["attachments"]
    assert image["contentType"] == "image/png" and image["name"] == "chart.png"
    prefix = "data:image/png;base64,"
    assert base64.b64decode(image["contentUrl"].removeprefix(prefix)) == chart.read_bytes()
    assert str(chart) not in sent.activity.get("text", "")  # no server paths in chat


async def test_unreachable_people_and_places_are_reported_not_dropped(teams):
    connector, repo, channel, _ = teams
    delivery = Delivery(repo, teams=channel)

    never_spoke = await delivery.send("lbrown", digest())
    assert not never_spoke.delivered
    assert "not messaged the bot in Teams yet" in never_spoke.detail
    with pytest.raises(Undeliverable, match="Lucy Brown"):
        never_spoke.raise_for_failure()

    unknown = await delivery.send("nobody", digest())
    assert not unknown.delivered and "no person 'nobody'" in unknown.detail

    not_installed = await delivery.send(Target.parse("teams:19:nowhere@thread.tacv2"), digest())
    assert not not_installed.delivered and "not been added" in not_installed.detail
    assert connector.sent == []


async def test_a_reference_teams_refuses_is_reported(teams):
    connector, repo, channel, client = teams
    await client.post(
        "/api/messages",
        json=bf_message("hi", service_url=connector.service_url, user="29:mo", aad=MO_AAD),
    )
    connector.fail_with = 403  # e.g. the user uninstalled the app

    result = await Delivery(repo, teams=channel).send("mkhan", digest())
    assert not result.delivered
    assert result.attempts and result.attempts[0].startswith("teams:")


async def test_a_person_s_reference_follows_them_to_a_new_service_url(teams):
    """Teams may move a conversation to another service URL; the stored reference (and so
    the next digest) must follow, however many unchanged messages came before."""
    connector, repo, channel, client = teams
    moved = await FakeConnector().start()
    try:
        for url in (connector.service_url, connector.service_url, moved.service_url):
            hello = bf_message("who am i", service_url=url, user="29:mo", aad=MO_AAD)
            assert (await client.post("/api/messages", json=hello)).status < 300
        result = await Delivery(repo, teams=channel).send("mkhan", digest())
        assert result.delivered
        assert [s.conversation_id for s in moved.sent][-1] == "a:personal-1"
        assert not [s for s in connector.sent if s.reply_to is None]  # not the old URL
    finally:
        await moved.close()
