"""Roles decide what a person may change, whichever channel they use.

One server with both channels enabled, as in production; each case is said over Slack
(a signed DM event) and over Teams (a Bot Framework activity), and checked both in the
reply that reaches the fake Slack / connector and in what the store then holds.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tests.fakes.harness import (
    bf_message,
    direct_message,
    slack_event,
    slack_headers,
    slack_id,
    snapshot,
    teams_id,
    two_channel_bot,
)


@pytest.fixture
async def bot(tmp_path):
    async with two_channel_bot(tmp_path) as env:
        api, connector, client, slack = env.api, env.connector, env.client, env.slack
        counter = iter(range(1, 1000))

        async def say_slack(user: str, text: str) -> str:
            n = next(counter)
            body = slack_event(direct_message(user, text, ts=f"1700000000.{n:06d}"))
            response = await client.post("/slack/events", data=body, headers=slack_headers(body))
            assert response.status == 200
            await slack.drain()
            return api.of("chat.postMessage")[-1]["text"]

        async def say_teams(user: str, text: str) -> str:
            activity = bf_message(
                text, service_url=connector.service_url, user=f"29:{user}", aad=user
            )
            response = await client.post("/api/messages", json=activity)
            assert response.status in (200, 201)
            sent = connector.sent[-1].activity
            return sent.get("text") or sent["attachments"][0]["content"]["fallbackText"]

        async def say(channel: str, person: str | None, text: str, *, stranger: str = "") -> str:
            if channel == "slack":
                return await say_slack(slack_id(person) if person else stranger, text)
            return await say_teams(teams_id(person) if person else stranger, text)

        yield SimpleNamespace(repo=env.repo, say=say)


CHANNELS = ["slack", "teams"]


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(
    ("person", "objective", "allowed"),
    [
        ("mkhan", "3.2", True),  # officer: an objective they own
        ("mkhan", "3.3", True),  # officer: their directorate's objective
        ("mkhan", "2.2", False),  # officer: another directorate's
        ("jmorris", "4.2", True),  # directorate lead: their directorate, not the owner
        ("jmorris", "3.2", False),  # directorate lead: another directorate
        ("rgrant", "2.4", True),  # strategy group member: anything
        ("tcarter", "5.3", True),  # admin: anything
    ],
)
async def test_objective_updates_follow_roles(bot, channel, person, objective, allowed):
    before = bot.repo.objective(objective)
    text = await bot.say(channel, person, f"update {objective} 41% checked")
    if allowed:
        assert f"Recorded update on {objective}" in text
        assert bot.repo.objective(objective).progress == 41
        [update] = bot.repo.updates_for(objective)
        assert update.actor == person
    else:
        assert "can't change" in text and "belongs to" in text  # and says why
        assert bot.repo.objective(objective) == before
        assert bot.repo.updates_for(objective) == []


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(
    ("person", "allowed"),
    [("mkhan", False), ("jmorris", False), ("rgrant", True), ("tcarter", True)],
)
async def test_only_the_strategy_group_and_admins_close_risks(bot, channel, person, allowed):
    text = await bot.say(channel, person, "close R1")
    risk = bot.repo.risk("R1")
    if allowed:
        assert not risk.open
    else:
        assert risk.open
        assert "Only strategy group members and admins" in text


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(("person", "allowed"), [("mkhan", False), ("tcarter", True)])
async def test_only_the_strategy_group_and_admins_add_objectives(bot, channel, person, allowed):
    await bot.say(channel, person, "add objective 3.9: Door entry system, directorate resources")
    assert (bot.repo.objective("3.9") is not None) is allowed


@pytest.mark.parametrize("channel", CHANNELS)
async def test_anyone_known_may_ask(bot, channel):
    text = await bot.say(channel, "lbrown", "status of theme 3")
    assert "Theme 3" in text and "3.2 Thin client rollout" in text


@pytest.mark.parametrize("channel", CHANNELS)
async def test_strangers_change_nothing_and_are_told_how_to_get_added(bot, channel):
    stranger = "UNOBODY" if channel == "slack" else "aad-nobody"

    def records() -> dict:  # delivery addresses and replay-guard keys are bookkeeping
        tables = {k: v for k, v in snapshot(bot.repo).items() if k != "conversations"}
        tables["meta"] = [m for m in tables.get("meta", []) if not m["key"].startswith("teams:")]
        return tables

    before = records()
    for text in ("update 3.2 done", "close R1", "summary"):
        reply = await bot.say(channel, None, text, stranger=stranger)
        assert "I don't know you yet" in reply and stranger in reply and "Tina Carter" in reply
    after = records()
    assert json.dumps(after, sort_keys=True) == json.dumps(before, sort_keys=True)
