"""Update nudges: owners of stale objectives, once per objective per week."""

from __future__ import annotations

import asyncio

import pytest

from bot.scheduler import DigestScheduler
from storage.repository import Repository, Source
from tests.digest_fixture import Recorder, build_history
from tracker.model import Status

FIRST_NUDGE = {
    "ifloyd": ["1.2"],
    "pwilson": ["1.4", "4.4"],
    "dnowak": ["2.4", "5.2"],
    "rgrant": ["3.3"],
    "aokafor": ["3.4"],
    "hdavies": ["4.3"],
    "spatel": ["5.1"],
    "sobrien": ["5.3"],
}


@pytest.fixture
async def bot(tmp_path):
    repo, clock = await build_history(tmp_path / "data")
    recorder = Recorder()
    scheduler = DigestScheduler(repo, recorder, clock=clock, sweep_minutes=0,
                                chart_dir=tmp_path / "charts")  # fmt: skip
    yield scheduler, clock, recorder
    repo.close()


async def test_owners_of_stale_objectives_get_one_reminder_each(bot):
    scheduler, clock, recorder = bot
    clock.set("2026-11-19 10:00")  # Thursday
    run = await scheduler.run_nudges()
    assert run.week == "2026-W47"
    assert run.nudged == FIRST_NUDGE
    assert sorted(recorder.recipients()) == sorted(FIRST_NUDGE)
    [reply] = recorder.to("dnowak")
    text = reply.as_text()
    assert reply.title == "Reminder: 2 objectives need an update"
    assert text.splitlines()[1] == "Hi Dorota, no update has been recorded for 4 weeks or more on:"
    # the exact message to send for each objective
    assert "Send: update 2.4 off track 15% <what has happened>" in text
    assert "Send: update 5.2 not started <what has happened>" in text
    assert "weekly digest on Mon 23 Nov at 09:00" in text
    assert "3.3" not in text  # only their own objectives


async def test_nobody_is_nudged_twice_for_an_objective_in_one_week(bot):
    scheduler, clock, recorder = bot
    clock.set("2026-11-19 10:00")
    await scheduler.run_nudges()
    clock.set("2026-11-19 15:00")  # a restart, the sweep, a re-run
    again = await scheduler.run_nudges()
    assert again.nudged == {}
    assert len(recorder.sent) == len(FIRST_NUDGE)


async def test_objective_updated_since_the_nudge_drops_out(bot):
    scheduler, clock, recorder = bot
    clock.set("2026-11-19 10:00")
    await scheduler.run_nudges()
    clock.set("2026-11-20 11:00")
    await scheduler.repo.record_update(
        "2.4", Source("dnowak", text="update 2.4 20% portal supplier appointed"), progress=20,
        note="Portal supplier appointed",
    )  # fmt: skip
    clock.set("2026-11-26 10:00")  # next Thursday
    run = await scheduler.run_nudges()
    assert run.week == "2026-W48"
    assert run.nudged["dnowak"] == ["5.2"]
    assert "2.4" not in recorder.to("dnowak")[-1].as_text()


async def test_late_catch_up_skips_objectives_updated_after_the_nudge_time(bot):
    scheduler, clock, recorder = bot
    clock.set("2026-11-19 12:00")  # the bot was down at 10:00; Ravi updates at noon
    await scheduler.repo.record_update(
        "3.3", Source("rgrant", text="3.3 new cutover date"), status=Status.AT_RISK,
        note="New cutover date agreed for January",
    )  # fmt: skip
    clock.set("2026-11-19 14:00")
    await scheduler.start()
    await scheduler.catch_up_task
    await scheduler.stop()
    assert "rgrant" not in recorder.recipients()
    assert sorted(recorder.recipients()) == sorted(set(FIRST_NUDGE) - {"rgrant"})


async def test_no_nudges_before_their_time_or_after_the_grace(bot):
    scheduler, clock, recorder = bot
    clock.set("2026-11-19 09:59")
    assert await scheduler.run_nudges() is None
    clock.set("2026-11-20 10:01")
    assert await scheduler.run_nudges() is None
    assert recorder.sent == []


async def test_two_schedulers_nudge_each_objective_once(bot, tmp_path):
    scheduler, clock, recorder = bot
    clock.set("2026-11-19 10:00")
    other = DigestScheduler(Repository.open(tmp_path / "data", clock=clock), recorder,
                            clock=clock, sweep_minutes=0)  # fmt: skip
    await asyncio.gather(scheduler.run_nudges(), other.run_nudges(), scheduler.run_nudges())
    nudged: dict[str, list[str]] = {}
    for person, reply, _ in recorder.sent:
        for section in reply.sections:
            nudged.setdefault(person, []).extend(i.text.split()[0] for i in section.items)
    assert {p: sorted(ids) for p, ids in nudged.items()} == FIRST_NUDGE
    other.repo.close()


async def test_nudges_can_be_switched_off(tmp_path):
    from tracker.schedule import ScheduleConfig

    repo, clock = await build_history(tmp_path / "data")
    clock.set("2026-11-19 10:00")
    config = ScheduleConfig.from_mapping({"nudges": "off"})
    scheduler = DigestScheduler(repo, Recorder(), config, clock=clock, sweep_minutes=0)
    assert await scheduler.run_nudges() is None
    assert "nudges" not in scheduler.next_runs()
    repo.close()


async def test_the_suggested_message_records_an_update_and_ends_the_nudges(bot):
    from handlers.front_door import FrontDoor
    from handlers.message import IncomingMessage, Sender

    scheduler, clock, recorder = bot
    clock.set("2026-11-19 10:00")
    await scheduler.run_nudges()
    [reply] = recorder.to("ifloyd")
    [item] = reply.sections[0].items
    suggested = item.text.split("Send: ")[1]
    assert suggested == "update 1.2 at risk 45% <what has happened>"
    clock.set("2026-11-19 11:00")
    message = suggested.replace("<what has happened>", "consultation closed, structure agreed")
    tracker = FrontDoor(scheduler.repo, clock=clock)
    answer = await tracker.handle(IncomingMessage(message, Sender("test", person_id="ifloyd")))
    assert answer.title.startswith("Recorded update on 1.2")
    clock.set("2026-11-26 10:00")
    run = await scheduler.run_nudges()
    assert "ifloyd" not in run.nudged
