"""Exactly once: restarts, late starts, re-runs and a second process never double a digest."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.delivery import ConsoleDelivery
from bot.scheduler import DigestScheduler
from storage.repository import Repository
from tests.digest_fixture import LONDON, NOW, Recorder, build_history
from tracker.schedule import ScheduleConfig

ROOT = Path(__file__).resolve().parent.parent
AUDIENCES = ["city-strategy", "adult-social-care", "childrens", "neighbourhoods", "resources",
             "strategy-group"]  # fmt: skip
LEADS = ["aokafor", "spatel", "hdavies", "jmorris", "ifloyd", "strategy-group"]


def london(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


@pytest.fixture
async def store(tmp_path):
    repo, clock = await build_history(tmp_path / "data")
    repo.close()
    return tmp_path / "data", clock


def scheduler_on(data_dir, clock, delivery, tmp_path) -> DigestScheduler:
    repo = Repository.open(data_dir, clock=clock)
    return DigestScheduler(repo, delivery, clock=clock, sweep_minutes=0,
                           chart_dir=tmp_path / "charts")  # fmt: skip


async def test_restart_after_sending_does_not_resend(store, tmp_path):
    data_dir, clock = store
    recorder = Recorder()
    clock.now = NOW.astimezone(UTC)  # Mon 16 Nov 09:00
    first = scheduler_on(data_dir, clock, recorder, tmp_path)
    runs = await first.catch_up()
    assert [r.state for r in runs] == ["sent"] * 6
    assert sorted(recorder.recipients()) == sorted(LEADS)
    first.repo.close()  # the bot restarts half an hour later, on the same data directory
    clock.set("2026-11-16 09:30")
    second = scheduler_on(data_dir, clock, recorder, tmp_path)
    await second.start()
    await second.catch_up_task
    await second.stop()
    assert sorted(recorder.recipients()) == sorted(LEADS)  # nothing new
    assert [r.state for r in await second.catch_up()] == ["already sent"] * 6
    record = second.repo.meta("digest/resources/2026-11-16T09:00")
    assert record["state"] == "sent" and record["sent"] == ["ifloyd"]
    second.repo.close()


async def test_bot_down_at_nine_sends_once_on_start_up(store, tmp_path):
    data_dir, clock = store
    recorder = Recorder()
    clock.set("2026-11-16 11:40")  # down from Sunday night until 11:40
    scheduler = scheduler_on(data_dir, clock, recorder, tmp_path)
    await scheduler.start()
    await scheduler.catch_up_task
    assert sorted(recorder.recipients()) == sorted(LEADS)
    # the periodic sweep and another start-up within the grace find nothing left to send
    clock.set("2026-11-16 11:50")
    await scheduler.catch_up()
    await scheduler.stop()
    await scheduler.start()
    await scheduler.catch_up_task
    await scheduler.stop()
    assert len(recorder.sent) == 6
    # its window starts where the previous digest would have (no earlier digest recorded)
    resources = recorder.to("ifloyd")[0]
    assert any(s.heading == "What changed since Mon 9 Nov" for s in resources.sections)
    scheduler.repo.close()


async def test_start_up_after_the_grace_sends_nothing_and_reports_it(store, tmp_path):
    data_dir, clock = store
    recorder = Recorder()
    clock.set("2026-11-17 09:30")  # 24.5 hours late, grace 24 hours
    scheduler = scheduler_on(data_dir, clock, recorder, tmp_path)
    assert await scheduler.catch_up() == []
    assert recorder.sent == []
    health = scheduler.health()
    assert sorted(health["missed"]) == sorted(f"{a} 2026-11-16T09:00" for a in AUDIENCES)
    longer = DigestScheduler(scheduler.repo, recorder, ScheduleConfig(grace_hours=48),
                             clock=clock, sweep_minutes=0, chart_dir=tmp_path)  # fmt: skip
    assert len(await longer.catch_up()) == 6
    scheduler.repo.close()


async def test_two_schedulers_on_one_store_send_once(store, tmp_path):
    data_dir, clock = store
    clock.set("2026-11-16 09:00")
    recorder = Recorder()
    a = scheduler_on(data_dir, clock, recorder, tmp_path)
    b = scheduler_on(data_dir, clock, recorder, tmp_path)
    runs = await asyncio.gather(a.catch_up(), b.catch_up(), a.catch_up(), b.catch_up())
    assert sorted(recorder.recipients()) == sorted(LEADS)
    states = sorted(r.state for batch in runs for r in batch)
    assert states.count("sent") == 6 and states.count("already sent") == 18
    a.repo.close()
    b.repo.close()


WORKER = textwrap.dedent(
    """
    import asyncio, json, os, sys
    from datetime import datetime
    sys.path.insert(0, sys.argv[1])
    from bot.delivery import DeliveryResult
    from bot.scheduler import DigestScheduler
    from storage.repository import Repository

    class FileDelivery:
        async def send(self, recipient, reply):
            with open(sys.argv[3], "a") as out:
                out.write(json.dumps([os.getpid(), recipient]) + "\\n")
            return DeliveryResult(recipient, True)

    async def main():
        moment = datetime.fromisoformat(sys.argv[4])
        repo = Repository.open(sys.argv[2], clock=lambda: moment)
        scheduler = DigestScheduler(repo, FileDelivery(), clock=lambda: moment, sweep_minutes=0)
        await scheduler.start()
        await scheduler.catch_up_task
        await scheduler.stop()
        repo.close()

    asyncio.run(main())
    """
)


async def test_two_processes_on_one_store_send_once(store, tmp_path):
    data_dir, _ = store
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    log = tmp_path / "sent.jsonl"
    moment = london("2026-11-16 09:00:30").isoformat()
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, str(script), str(ROOT), str(data_dir), str(log), moment
        )
        for _ in range(3)
    ]
    assert [await p.wait() for p in processes] == [0, 0, 0]
    sent = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(r for _, r in sent) == sorted(LEADS)


async def test_unreachable_recipient_is_logged_reported_and_the_rest_still_sent(
    store, tmp_path, caplog
):
    data_dir, clock = store
    clock.set("2026-11-16 09:00")
    recorder = Recorder(unreachable={"jmorris"})
    scheduler = scheduler_on(data_dir, clock, recorder, tmp_path)
    await scheduler.repo.subscribe("lbrown", "neighbourhoods")
    with caplog.at_level(logging.WARNING, logger="bot.scheduler"):
        runs = {r.audience: r for r in await scheduler.catch_up()}
    assert "could not deliver the neighbourhoods digest to jmorris" in caplog.text
    assert runs["neighbourhoods"].state == "sent"
    assert runs["neighbourhoods"].failed == ["jmorris"]
    assert runs["neighbourhoods"].sent == ["lbrown"]  # the subscriber still gets it
    record = scheduler.repo.meta("digest/neighbourhoods/2026-11-16T09:00")
    assert record["state"] == "sent" and record["failed"] == ["jmorris"]
    [group] = recorder.to("strategy-group")
    [problems] = [s for s in group.sections if s.heading == "Could not be delivered"]
    assert [i.text for i in problems.items] == [
        "neighbourhoods digest to Jo Morris on Mon 16 Nov: no Slack or Teams identity"
    ]
    assert group.images and group.images[0].exists()  # the chart goes with it
    # nothing is retried or resent
    assert all(r.state == "already sent" for r in await scheduler.catch_up())
    scheduler.repo.close()


async def test_delivery_that_raises_counts_as_unreachable(store, tmp_path):
    data_dir, clock = store
    clock.set("2026-11-16 09:00")

    class Broken(Recorder):
        async def send(self, recipient, reply):
            if recipient == "ifloyd":
                raise ConnectionError("Slack said channel_not_found")
            return await super().send(recipient, reply)

    recorder = Broken()
    scheduler = scheduler_on(data_dir, clock, recorder, tmp_path)
    runs = {r.audience: r for r in await scheduler.catch_up()}
    assert runs["resources"].failed == ["ifloyd"] and runs["resources"].state == "sent"
    group = recorder.to("strategy-group")[0].as_text()
    assert "resources digest to Iain Floyd on Mon 16 Nov: Slack said channel_not_found" in group
    scheduler.repo.close()


async def test_next_window_starts_at_the_previous_digest(store, tmp_path):
    data_dir, clock = store
    recorder = Recorder()
    clock.set("2026-11-16 09:00")
    scheduler = scheduler_on(data_dir, clock, recorder, tmp_path)
    await scheduler.catch_up()
    clock.set("2026-11-23 09:00")
    await scheduler.catch_up()
    second = recorder.to("ifloyd")[1]
    assert "since Mon 16 Nov" in second.as_text()
    assert "Records retention schedule agreed" not in second.as_text()  # reported last week
    scheduler.repo.close()


async def test_console_delivery_prints_text_and_chart_path(store, tmp_path, capsys):
    data_dir, clock = store
    clock.set("2026-11-16 09:00")
    repo = Repository.open(data_dir, clock=clock)
    scheduler = DigestScheduler(repo, ConsoleDelivery(repo), clock=clock, sweep_minutes=0,
                                chart_dir=tmp_path / "charts")  # fmt: skip
    await scheduler.run_digest("strategy-group")
    out = capsys.readouterr().out
    assert "──── to strategy-group (strategy-group) ────" in out
    assert "CITSG weekly digest" in out
    assert f"(chart saved to {tmp_path / 'charts' / 'status-by-theme-2026-11-16.png'})" in out
    repo.close()


async def test_health_reports_jobs_and_last_runs(store, tmp_path):
    data_dir, clock = store
    clock.set("2026-11-16 09:05")
    scheduler = scheduler_on(data_dir, clock, Recorder(), tmp_path)
    await scheduler.start(catch_up=False)
    health = scheduler.health()
    assert health["running"] and health["missed"] == []
    assert {j["id"] for j in health["jobs"]} == {"digests 0 9 * * mon", "nudges"}
    assert health["audiences"]["resources"]["last_state"] is None
    await scheduler.catch_up()
    health = scheduler.health()
    assert health["ok"] and health["audiences"]["resources"]["last_state"] == "sent"
    assert health["audiences"]["resources"]["next"] == "2026-11-23T09:00:00+00:00"
    await scheduler.stop()
    assert not scheduler.health()["running"]
    scheduler.repo.close()


async def test_crash_between_claim_and_send_is_not_resent_and_shows_in_health(store, tmp_path):
    data_dir, clock = store
    clock.set("2026-11-16 09:00")
    recorder = Recorder()
    scheduler = scheduler_on(data_dir, clock, recorder, tmp_path)
    # what a process that died mid-send leaves behind: the claim, never completed
    await scheduler.repo.claim(
        "digest/resources/2026-11-16T09:00",
        {"state": "sending", "by": "other:1", "claimed_at": "2026-11-16T09:00:00+00:00"},
    )
    clock.set("2026-11-16 10:30")
    await scheduler.catch_up()
    assert "ifloyd" not in recorder.recipients()  # never doubled...
    health = scheduler.health()
    assert health["stuck"] == ["resources 2026-11-16T09:00"]  # ...and never silent
    assert not health["ok"]
    scheduler.repo.close()
