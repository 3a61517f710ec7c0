"""The running scheduler fires at 09:00 London time, GMT or BST, and skips bank holidays.

These drive the real AsyncIOScheduler on the test's event loop with the wall clock
moved by time-machine (ticking, so the loop's timers run for real, a few seconds).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
import time_machine

from bot.scheduler import DigestScheduler
from tests.digest_fixture import LONDON, Recorder, open_sample

AUDIENCES = 6  # five directorates and the strategy group


def london(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


async def wait_for(condition, seconds: float = 6.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.05)
    return condition()


class UtcClock:
    def __call__(self) -> datetime:
        return datetime.now(UTC)  # moved by time-machine


async def started(tmp_path, recorder):
    repo = await open_sample(tmp_path / "data", UtcClock())
    scheduler = DigestScheduler(repo, recorder, sweep_minutes=0, chart_dir=tmp_path / "charts")
    await scheduler.start()
    await scheduler.catch_up_task
    return repo, scheduler


@pytest.mark.parametrize(
    ("monday", "utc_hour"),
    [("2026-01-12", 9), ("2026-06-29", 8)],
    ids=["GMT week", "BST week"],
)
async def test_digest_fires_at_nine_london_time(tmp_path, monday, utc_hour):
    recorder = Recorder()
    with time_machine.travel(london(f"{monday} 08:59:58"), tick=True):
        repo, scheduler = await started(tmp_path, recorder)
        job = scheduler._scheduler.get_job("digests 0 9 * * mon")
        assert job.next_run_time == london(f"{monday} 09:00")
        assert job.next_run_time.astimezone(UTC).hour == utc_hour
        assert recorder.sent == []  # nothing before 09:00
        assert await wait_for(lambda: len(recorder.sent) == AUDIENCES)
        await scheduler.stop()
    for _, _, at in recorder.sent:
        assert at.strftime("%a %H:%M") == "Mon 09:00" and at.second < 3
        assert at.astimezone(UTC).hour == utc_hour
    assert recorder.recipients()[-1] == "strategy-group"  # after the directorates
    repo.close()


async def test_schedule_made_in_gmt_fires_at_nine_bst_after_the_clocks_change(tmp_path):
    recorder = Recorder()
    with time_machine.travel(london("2026-03-27 12:00"), tick=True) as traveller:  # GMT
        repo, scheduler = await started(tmp_path, recorder)
        job = scheduler._scheduler.get_job("digests 0 9 * * mon")
        assert job.next_run_time.astimezone(UTC) == datetime(2026, 3, 30, 8, tzinfo=UTC)
        traveller.move_to(london("2026-03-30 08:59:59"))  # BST since Sunday
        scheduler._scheduler.wakeup()  # re-arm the loop timer after the jump
        assert await wait_for(lambda: len(recorder.sent) == AUDIENCES)
        await scheduler.stop()
    assert {at.strftime("%H:%M") for _, _, at in recorder.sent} == {"09:00"}
    repo.close()


async def test_bank_holiday_monday_digest_goes_out_on_tuesday(tmp_path):
    recorder = Recorder()
    with time_machine.travel(london("2026-05-22 12:00"), tick=True) as traveller:
        repo, scheduler = await started(tmp_path, recorder)
        job = scheduler._scheduler.get_job("digests 0 9 * * mon")
        assert job.next_run_time == london("2026-05-26 09:00")  # Spring bank holiday 25 May
        traveller.move_to(london("2026-05-25 08:59:59"))
        scheduler._scheduler.wakeup()
        assert not await wait_for(lambda: recorder.sent, seconds=2.5)  # quiet on the holiday
        traveller.move_to(london("2026-05-26 08:59:59"))
        scheduler._scheduler.wakeup()
        assert await wait_for(lambda: len(recorder.sent) == AUDIENCES)
        await scheduler.stop()
    assert {at.strftime("%a %d %H:%M") for _, _, at in recorder.sent} == {"Tue 26 09:00"}
    assert repo.meta("digest/strategy-group/2026-05-25T09:00")["state"] == "sent"
    repo.close()


async def test_nudges_fire_thursday_ten(tmp_path):
    recorder = Recorder()
    with time_machine.travel(london("2026-10-15 09:59:58"), tick=True):
        repo, scheduler = await started(tmp_path, recorder)
        assert scheduler._scheduler.get_job("nudges").next_run_time == london("2026-10-15 10:00")
        # the strategy was loaded just now, so nothing is stale yet: nobody is nudged
        await asyncio.sleep(2.5)
        await scheduler.stop()
    assert recorder.sent == []
    assert repo.meta("nudge-last")["week"] == "2026-W42"
    repo.close()
