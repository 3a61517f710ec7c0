"""The seam between digests and channels: the real Delivery under the real scheduler.

A digest that could not reach someone must be reported as failed, never counted as
sent, and the strategy group's digest goes to its channel or, without one, its members.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from bot.delivery import STRATEGY_GROUP, Delivery
from bot.scheduler import DigestScheduler
from handlers.reply import Reply

MONDAY_0905 = datetime(2026, 11, 23, 9, 5, tzinfo=UTC)  # GMT: 09:05 London


async def test_unreachable_people_are_failures_not_sends(repo):
    delivery = Delivery(repo)  # neither Slack nor Teams configured in this process
    result = await delivery.send("mkhan", Reply(title="hello"))
    assert not result.delivered and "neither Slack nor Teams" in result.detail
    group = await delivery.send(STRATEGY_GROUP, Reply(title="hello"))
    assert not group.delivered and "Tina Carter" in group.detail


async def test_strategy_group_without_channel_goes_to_each_member(repo):
    console = io.StringIO()
    result = await Delivery(repo, console=console).send(STRATEGY_GROUP, Reply(title="Weekly"))
    assert result.delivered
    printed = console.getvalue()
    for name in ("Tina Carter", "Ravi Grant", "Iain Floyd", "Sunita Patel"):
        assert f"to {name}" in printed
    assert "Mo Khan" not in printed


async def test_scheduler_with_real_delivery_reports_failed_recipients(repo, tmp_path):
    scheduler = DigestScheduler(
        repo, Delivery(repo), clock=lambda: MONDAY_0905, chart_dir=tmp_path / "charts"
    )
    run = await scheduler.run_digest("resources")
    assert run is not None and run.state == "sent"
    assert run.failed == ["ifloyd"] and run.sent == []
    group = await scheduler.run_digest(STRATEGY_GROUP)
    assert group.failed == [STRATEGY_GROUP]
    assert scheduler.health(MONDAY_0905)["undelivered_last_7_days"] >= 2
    again = await scheduler.run_digest("resources")
    assert again.state == "already sent"  # failures are reported, never resent twice
