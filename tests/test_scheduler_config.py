"""Schedule settings and the calendar maths: cron per audience, bank holidays, BST/GMT."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.digest_fixture import LONDON
from tracker.schedule import (
    Schedule,
    ScheduleConfig,
    ScheduleConfigError,
    WorkingCalendar,
    schedules,
)


def london(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


def monday_digest(region: str | None = "ENG") -> Schedule:
    return Schedule("resources", "0 9 * * mon", WorkingCalendar(region, LONDON))


def test_defaults():
    config = ScheduleConfig()
    assert config.cron_for("resources") == "0 9 * * mon"
    assert config.nudge_cron == "0 10 * * thu"
    assert config.grace == timedelta(hours=24)
    assert config.bank_holidays == "ENG"
    assert config.timezone == "Europe/London"


@pytest.mark.parametrize(
    ("now", "fire", "utc_hour"),
    [
        ("2026-01-08 12:00", "2026-01-12 09:00", 9),  # GMT week
        ("2026-06-25 12:00", "2026-06-29 09:00", 8),  # BST week
        ("2026-03-27 12:00", "2026-03-30 09:00", 8),  # clocks go forward on Sun 29 Mar
        ("2026-10-23 12:00", "2026-10-26 09:00", 9),  # clocks go back on Sun 25 Oct
    ],
)
def test_next_digest_is_nine_local_in_gmt_and_bst(now, fire, utc_hour):
    slot = monday_digest().next(london(now))
    assert slot.fire == london(fire)
    assert slot.fire.astimezone(LONDON).hour == 9
    assert slot.fire.astimezone(UTC).hour == utc_hour


def test_bank_holiday_monday_moves_to_tuesday_same_period():
    slot = monday_digest().next(london("2026-05-22 12:00"))  # Spring bank holiday 25 May
    assert slot.at == london("2026-05-25 09:00")
    assert slot.fire == london("2026-05-26 09:00")
    assert slot.key == "2026-05-25T09:00" and slot.moved


def test_easter_monday_and_christmas_run_of_holidays():
    easter = monday_digest().next(london("2026-04-03 12:00"))
    assert easter.fire == london("2026-04-07 09:00")  # Easter Monday 6 Apr → Tue
    friday = Schedule("x", "0 9 * * fri", WorkingCalendar("ENG", LONDON))
    christmas = friday.next(london("2026-12-21 12:00"))
    # Fri 25 Dec; Mon 28 Dec is the substitute Boxing Day: Tue 29 Dec
    assert christmas.at == london("2026-12-25 09:00")
    assert christmas.fire == london("2026-12-29 09:00")


def test_region_decides_which_days_are_holidays():
    # 3 Aug 2026 is the summer bank holiday in Scotland, not in England and Wales
    scotland = monday_digest("SCT").next(london("2026-07-31 12:00"))
    england = monday_digest("ENG").next(london("2026-07-31 12:00"))
    assert scotland.fire == london("2026-08-04 09:00")
    assert england.fire == london("2026-08-03 09:00")
    none = monday_digest(None).next(london("2026-05-22 12:00"))
    assert none.fire == london("2026-05-25 09:00")


def test_due_within_grace_only():
    schedule = monday_digest()
    grace = timedelta(hours=24)
    assert schedule.due(london("2026-11-16 09:00"), grace).key == "2026-11-16T09:00"
    assert schedule.due(london("2026-11-17 08:59"), grace).key == "2026-11-16T09:00"
    assert schedule.due(london("2026-11-17 09:01"), grace) is None
    assert schedule.due(london("2026-11-16 08:59"), grace) is None  # last week's is past grace
    # a moved slot is due from its fire time: nothing on the bank holiday itself
    assert schedule.due(london("2026-05-25 10:00"), grace) is None
    assert schedule.due(london("2026-05-26 09:00"), grace).key == "2026-05-25T09:00"


def test_from_mapping_reads_every_setting():
    config = ScheduleConfig.from_mapping(
        {
            "timezone": "Europe/London",
            "schedule": "30 8 * * mon",
            "audiences": {"strategy-group": "0 9 * * tue", "childrens": "off"},
            "nudges": "0 14 * * wed",
            "grace_hours": 36,
            "bank_holidays": "Scotland",
        }
    )
    assert config.cron_for("resources") == "30 8 * * mon"
    assert config.cron_for("strategy-group") == "0 9 * * tue"
    assert config.cron_for("childrens") is None
    assert config.nudge_cron == "0 14 * * wed"
    assert config.grace == timedelta(hours=36)
    assert config.bank_holidays == "SCT"
    assert list(schedules(config, ["resources", "childrens", "strategy-group"])) == [
        "resources",
        "strategy-group",
    ]
    assert ScheduleConfig.from_mapping(config.as_dict()) == config


def test_bad_settings_are_all_reported():
    with pytest.raises(ScheduleConfigError) as caught:
        ScheduleConfig.from_mapping(
            {
                "schedule": "0 9 * * 1",
                "audiences": {"resources": "every monday"},
                "grace_hours": "a day",
                "bank_holidays": "Cornwall",
                "timezone": "Mars/Olympus",
                "colour": "blue",
            }
        )
    problems = "\n".join(caught.value.problems)
    assert "weekday as a name" in problems  # APScheduler 3 would read 1 as Tuesday
    assert "audiences.resources" in problems
    assert "grace_hours" in problems
    assert "Cornwall" in problems
    assert "Mars/Olympus" in problems
    assert "unknown setting 'colour'" in problems
    assert len(caught.value.problems) == 6


def test_strategy_file_section(tmp_path):
    path = tmp_path / "strategy.yaml"
    path.write_text("strategy: {name: X}\ndigests:\n  schedule: 0 8 * * mon\n  nudges: off\n")
    config = ScheduleConfig.from_strategy_file(path)
    assert config.digest_cron == "0 8 * * mon" and config.nudge_cron is None
    assert ScheduleConfig.from_strategy_file(tmp_path / "missing.yaml") == ScheduleConfig()
