"""Proactive Slack messages: DMs to people (by id or e-mail), posts to channels, files."""

from __future__ import annotations

import io
import json

import pytest

from bot.channels.slack import SlackChannel, SlackSettings
from bot.delivery import Delivery, Target
from handlers.front_door import FrontDoor
from handlers.reply import Item, Rag, Reply
from tests.fakes.harness import SIGNING_SECRET, open_repo, slack_id
from tests.fakes.slack_api import FakeSlackApi


@pytest.fixture
async def slack(tmp_path):
    api = await FakeSlackApi(users={"UFOUND": {"email": "mo.khan@example.gov.uk"}}).start()
    repo = await open_repo(tmp_path, skip=("mkhan",))  # Mo has only an e-mail address
    channel = SlackChannel(
        SlackSettings(api.token, SIGNING_SECRET, api.api_url), FrontDoor(repo), repo
    )
    yield api, repo, channel
    await api.close()
    repo.close()


def nudge() -> Reply:
    reply = Reply(title="Objectives waiting for an update", lines=["<!channel> is just text"])
    reply.section("Overdue", [Item("3.3 Unified communications", Rag.RED)])
    return reply


async def test_message_to_a_person_opens_a_dm_and_arrives(slack):
    api, repo, channel = slack
    result = await Delivery(repo, slack=channel).send("jmorris", nudge())

    assert result.delivered and result.channel == "slack"
    [opened] = api.of("conversations.open")
    assert opened["users"] == slack_id("jmorris")
    [posted] = api.of("chat.postMessage")
    assert posted["channel"] == "D" + slack_id("jmorris")[1:]
    assert posted["blocks"][0]["text"]["text"] == "Objectives waiting for an update"
    assert ":red_circle:" in json.dumps(posted["blocks"])
    assert "<!channel>" not in posted["text"] + json.dumps(posted["blocks"])


async def test_person_without_a_slack_id_is_found_by_email(slack):
    api, repo, channel = slack
    (await Delivery(repo, slack=channel).send("mkhan", nudge())).raise_for_failure()
    assert api.of("users.lookupByEmail")[0]["email"] == "mo.khan@example.gov.uk"
    assert api.of("conversations.open")[0]["users"] == "UFOUND"
    assert len(api.of("chat.postMessage")) == 1


async def test_message_to_a_channel_target(slack):
    api, repo, channel = slack
    result = await Delivery(repo, slack=channel).send(Target.parse("slack:C0CITSG"), nudge())
    assert result.delivered
    [posted] = api.of("chat.postMessage")
    assert posted["channel"] == "C0CITSG" and api.of("conversations.open") == []


async def test_images_are_uploaded_to_the_same_conversation(slack, tmp_path):
    api, repo, channel = slack
    chart = tmp_path / "risk-heatmap.png"
    chart.write_bytes(b"\x89PNG\r\n\x1a\nheatmap")
    reply = Reply(title="Risk heat map", images=[chart])
    (
        await Delivery(repo, slack=channel).send(Target.parse("slack:C0CITSG"), reply)
    ).raise_for_failure()

    assert api.of("files.getUploadURLExternal")[0]["filename"] == "risk-heatmap.png"
    assert list(api.uploads.values()) == [chart.read_bytes()]
    [completed] = api.of("files.completeUploadExternal")
    assert completed["channel_id"] == "C0CITSG"
    assert str(chart) not in api.of("chat.postMessage")[0]["text"]  # no server paths


async def test_slack_refusals_are_reported(slack):
    api, repo, channel = slack
    api.failures["chat.postMessage"] = "channel_not_found"
    result = await Delivery(repo, slack=channel).send(Target.parse("slack:C0GONE"), nudge())
    assert not result.delivered and "channel_not_found" in result.detail

    api.failures.clear()
    nobody = await Delivery(repo, slack=channel).send("mkhan", nudge())
    assert nobody.delivered  # sanity: the e-mail route works when Slack is healthy
    api.users.clear()
    channel._dm_channels.clear()
    lost = await Delivery(repo, slack=channel).send("mkhan", nudge())
    assert not lost.delivered and "users_not_found" in lost.detail


async def test_console_prints(slack):
    _, repo, _ = slack
    out = io.StringIO()
    result = await Delivery(repo, console=out).send("jmorris", nudge())
    assert result.delivered and result.channel == "console"
    assert out.getvalue().startswith("--- to Jo Morris (jmorris) ---\nObjectives waiting")
