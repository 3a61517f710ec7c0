"""One rule for the period a digest covers, whoever builds it.

The chat preview, the CLI preview and the scheduler all call `digest_since`: since the
audience's previous digest, else since the slot before this digest's own slot. Before
issue 8 the previews said "the last 7 days" while the scheduler said "since the
previous slot", so a preview on Sunday showed a different week from Monday's digest.
"""

from __future__ import annotations

import re
from datetime import datetime

from bot.delivery import DeliveryResult
from bot.scheduler import DigestScheduler
from tracker.dates import LONDON

SINCE = re.compile(r"[Ss]ince (\w{3} \d{1,2} \w{3})")


class Recording:
    def __init__(self) -> None:
        self.sent: list = []

    async def send(self, recipient: str, reply) -> DeliveryResult:
        self.sent.append((recipient, reply))
        return DeliveryResult(recipient, True)


async def test_preview_and_scheduled_digest_cover_the_same_period(say, repo, clock, tmp_path):
    # Sunday 22 Nov 2026: the next digest is Monday 23 Nov 09:00, the previous slot 16 Nov.
    preview = (await say("digest for resources")).as_text()
    cli_like = (await say("strategy digest")).as_text()

    clock.now = datetime(2026, 11, 23, 9, 0, tzinfo=LONDON)
    delivery = Recording()
    scheduler = DigestScheduler(repo, delivery, clock=clock, chart_dir=tmp_path, sweep_minutes=0)
    run = await scheduler.run_digest("resources")
    group_run = await scheduler.run_digest("strategy-group")
    assert run is not None and run.state == "sent", run
    assert group_run is not None and group_run.state == "sent", group_run
    sent = {recipient: reply.as_text() for recipient, reply in delivery.sent}
    scheduled = next(text for who, text in sent.items() if who != "strategy-group")

    assert set(SINCE.findall(preview)) == {"Mon 16 Nov"}, preview
    assert set(SINCE.findall(scheduled)) == {"Mon 16 Nov"}, scheduled
    assert (
        set(SINCE.findall(cli_like)) == set(SINCE.findall(sent["strategy-group"])) == {"Mon 16 Nov"}
    )
    record = repo.meta("digest/resources/2026-11-23T09:00")
    assert record["since"].startswith("2026-11-16T09:00")
