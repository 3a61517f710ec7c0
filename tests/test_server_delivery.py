"""Channel-neutral delivery: choosing a route, falling back, and never dropping silently."""

from __future__ import annotations

import io
import logging

import pytest

from bot.delivery import Delivery, Target, Undeliverable
from handlers.reply import Reply
from tests.fakes.harness import (
    bf_message,
    slack_id,
    teams_id,
    two_channel_bot,
)


@pytest.fixture
async def both(tmp_path):
    async with two_channel_bot(tmp_path) as bot:
        hello = bf_message(
            "who am i", service_url=bot.connector.service_url, user="29:mo",
            aad=teams_id("mkhan"),
        )  # fmt: skip
        await bot.client.post("/api/messages", json=hello)  # Mo has a Teams reference now
        bot.connector.sent.clear()
        yield bot.api, bot.connector, bot.repo, bot.slack, bot.teams


async def set_last_seen(repo, key: str, day: str) -> None:
    value = repo.conversation(key) or {"channel": "slack", "user_id": key.rsplit(":", 1)[1]}
    await repo.save_conversation(key, {**value, "last_seen": day})


async def test_the_channel_used_most_recently_wins(both):
    api, connector, repo, slack, teams = both
    delivery = Delivery(repo, slack=slack, teams=teams)
    await set_last_seen(repo, f"teams:user:{teams_id('mkhan')}", "2026-11-01")
    await set_last_seen(repo, f"slack:user:{slack_id('mkhan')}", "2026-11-20")
    assert (await delivery.send("mkhan", Reply(title="hi"))).channel == "slack"

    await set_last_seen(repo, f"teams:user:{teams_id('mkhan')}", "2026-11-21")
    assert (await delivery.send("mkhan", Reply(title="hi"))).channel == "teams"
    assert len(connector.sent) == 1 and len(api.of("chat.postMessage")) == 1


async def test_a_failing_channel_falls_back_to_the_next(both):
    _api, connector, repo, slack, teams = both
    connector.fail_with = 403
    result = await Delivery(repo, slack=slack, teams=teams).send("mkhan", Reply(title="hi"))
    assert result.delivered and result.channel == "slack"
    assert result.attempts[0].startswith("teams: ")  # the failure is still on record


async def test_console_is_the_last_resort_when_configured(both):
    api, _connector, repo, slack, _teams = both
    api.failures["conversations.open"] = "user_disabled"
    out = io.StringIO()
    result = await Delivery(repo, slack=slack, console=out).send("jmorris", Reply(title="hi"))
    assert result.channel == "console" and "user_disabled" in result.attempts[0]
    assert "--- to Jo Morris (jmorris) ---" in out.getvalue()


async def test_undelivered_messages_are_logged_and_raised_on_request(both, caplog):
    _api, _connector, repo, _slack, teams = both
    with caplog.at_level(logging.WARNING, logger="bot.delivery"):
        result = await Delivery(repo).send("mkhan", Reply(title="hi"))
    assert not result.delivered
    assert "neither Slack nor Teams is configured" in result.detail
    assert "not delivered" in caplog.text and "Mo Khan" in caplog.text
    with pytest.raises(Undeliverable):
        result.raise_for_failure()

    off = await Delivery(repo, teams=teams).send(Target.parse("slack:C1"), Reply(title="hi"))
    assert not off.delivered and "slack channel is not configured" in off.detail


async def test_slack_targets_may_name_a_user(both):
    api, _connector, repo, slack, _teams = both
    target = Target.parse(f"slack:{slack_id('lbrown')}")
    assert (await Delivery(repo, slack=slack).send(target, Reply(title="hi"))).delivered
    assert api.of("conversations.open")[0]["users"] == slack_id("lbrown")


def test_targets_parse_and_print():
    assert Target.parse("slack:C0123") == Target("slack", "C0123")
    assert Target.parse(" Teams:19:abc@thread.tacv2 ") == Target("teams", "19:abc@thread.tacv2")
    assert str(Target.parse("teams:19:abc@thread.tacv2")) == "teams:19:abc@thread.tacv2"
    assert Target.parse("console") == Target("console")
    for bad in ("", "slack:", "email:x@y", "C0123"):
        with pytest.raises(ValueError, match="not a channel target"):
            Target.parse(bad)
