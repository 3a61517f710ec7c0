"""When digests and nudges go out: cron expressions per audience, in the council's calendar.

Settings come from an optional `digests:` section of the strategy file (see
docs/digests.md); everything has a default, so a strategy file without the section
gets Monday 09:00 digests and Thursday 10:00 nudges, Europe/London, England and Wales
bank holidays, and a 24 hour catch-up grace.

The schedule maths lives here too, free of the scheduler, so the scheduler, the
`when is the next digest?` command and the tests agree on what "due" means:

- a *slot* is a time the cron expression names (Monday 09:00 local); it identifies the
  period, so "the strategy group digest of 2026-05-25T09:00" is sent at most once;
- its *fire time* is the slot, moved to the next working day at the same local time
  when the slot falls on a bank holiday (Monday 25 May → Tuesday 26 May 09:00);
- a slot is *due* once its fire time has passed, until the grace runs out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from tracker.calendar import DEFAULT_REGION, LONDON, WorkingCalendar, parse_region
from tracker.strategy_file import read_yaml

STRATEGY_GROUP = "strategy-group"
DEFAULT_TIMEZONE = LONDON.key  # "Europe/London"
DEFAULT_DIGEST_CRON = "0 9 * * mon"
DEFAULT_NUDGE_CRON = "0 10 * * thu"
DEFAULT_GRACE_HOURS = 24.0
OFF = {"off", "none", "never", "no", "false", ""}
# The longest run of bank holidays and weekend days after a slot: Christmas on a
# Friday moves to Tuesday; a week covers any real calendar.
MAX_SHIFT = timedelta(days=7)


class ScheduleConfigError(ValueError):
    """Carries every problem found in the `digests:` settings."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("digest schedule: " + "; ".join(problems))


def parse_cron(expression: str, timezone: ZoneInfo) -> CronTrigger:
    """A five-field crontab expression as an APScheduler trigger, refusing weekday numbers.

    APScheduler 3 numbers weekdays from Monday = 0 while crontab uses Sunday = 0, so
    "0 9 * * 1" would silently mean Tuesday. Names (mon, tue, mon-fri) mean the same
    to both, so only names are accepted.
    """
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"{expression!r} needs five fields (minute hour day month weekday), e.g. '0 9 * * mon'"
        )
    if re.search(r"\d", fields[4]):
        raise ValueError(
            f"{expression!r}: write the weekday as a name (mon, tue ... sun, or mon-fri): "
            "APScheduler counts weekdays from Monday = 0, crontab from Sunday = 0"
        )
    return CronTrigger.from_crontab(expression, timezone=timezone)


@dataclass(frozen=True)
class ScheduleConfig:
    """Digest and nudge timing; build with `from_mapping` / `from_strategy_file`."""

    digest_cron: str | None = DEFAULT_DIGEST_CRON  # every audience without its own; None: off
    audiences: Mapping[str, str | None] = field(default_factory=dict)  # None: no digest
    nudge_cron: str | None = DEFAULT_NUDGE_CRON
    timezone: str = DEFAULT_TIMEZONE
    grace_hours: float = DEFAULT_GRACE_HOURS
    bank_holidays: str | None = DEFAULT_REGION  # ENG, WLS, SCT, NIR, or None
    enabled: bool = True

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def grace(self) -> timedelta:
        return timedelta(hours=self.grace_hours)

    def cron_for(self, audience: str) -> str | None:
        """The audience's own expression if it has one, else the default; None when off."""
        if audience in self.audiences:
            return self.audiences[audience]
        return self.digest_cron

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> ScheduleConfig:
        """Validate a `digests:` section (all problems at once) into a config."""
        data = dict(data or {})
        problems: list[str] = []
        known = {"enabled", "timezone", "schedule", "audiences", "nudges", "grace_hours",
                 "bank_holidays"}  # fmt: skip
        for key in sorted(set(data) - known):
            problems.append(f"unknown setting {key!r} (known: {', '.join(sorted(known))})")

        timezone = str(data.get("timezone") or DEFAULT_TIMEZONE)
        try:
            tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"unknown timezone {timezone!r} (e.g. Europe/London)")
            tz = ZoneInfo(DEFAULT_TIMEZONE)

        def cron(value: Any, where: str) -> str | None:
            if value is None or value is False or str(value).strip().lower() in OFF:
                return None
            text = " ".join(str(value).split())
            try:
                parse_cron(text, tz)
            except ValueError as error:
                problems.append(f"{where}: {error}")
            return text

        digest_cron = cron(data.get("schedule", DEFAULT_DIGEST_CRON), "schedule")
        audiences_raw = data.get("audiences") or {}
        audiences: dict[str, str | None] = {}
        if not isinstance(audiences_raw, Mapping):
            problems.append("audiences: expected 'audience: cron expression' lines")
        else:
            for name, value in audiences_raw.items():
                audiences[str(name)] = cron(value, f"audiences.{name}")
        nudge_cron = cron(data.get("nudges", DEFAULT_NUDGE_CRON), "nudges")

        grace_raw = data.get("grace_hours", DEFAULT_GRACE_HOURS)
        try:
            grace_hours = float(grace_raw)
            if grace_hours < 0:
                raise ValueError
        except (TypeError, ValueError):
            problems.append(f"grace_hours: expected a number of hours, got {grace_raw!r}")
            grace_hours = DEFAULT_GRACE_HOURS

        region: str | None = DEFAULT_REGION
        try:
            region = parse_region(data.get("bank_holidays", DEFAULT_REGION))
        except ValueError as error:
            problems.append(f"bank_holidays: {error}")
        if problems:
            raise ScheduleConfigError(problems)
        return cls(
            digest_cron=digest_cron,
            audiences=audiences,
            nudge_cron=nudge_cron,
            timezone=timezone,
            grace_hours=grace_hours,
            bank_holidays=region,
            enabled=bool(data.get("enabled", True)),
        )

    @classmethod
    def from_strategy_file(cls, path: str | Path | None) -> ScheduleConfig:
        """The `digests:` section of a strategy file; defaults when absent or no file."""
        if path is None or not Path(path).exists():
            return cls()
        raw = read_yaml(path) or {}
        return cls.from_mapping(raw.get("digests") if isinstance(raw, Mapping) else None)

    def as_dict(self) -> dict[str, Any]:
        """What `from_mapping` reads back: stored so other processes can answer questions."""
        return {
            "enabled": self.enabled,
            "timezone": self.timezone,
            "schedule": self.digest_cron or "off",
            "audiences": {k: v or "off" for k, v in self.audiences.items()},
            "nudges": self.nudge_cron or "off",
            "grace_hours": self.grace_hours,
            "bank_holidays": self.bank_holidays or "none",
        }


@dataclass(frozen=True)
class Slot:
    """One scheduled occurrence: the period it stands for and when it really goes out."""

    audience: str
    at: datetime  # the cron time (local), naming the period
    fire: datetime  # `at`, moved past bank holidays

    @property
    def key(self) -> str:
        """Period id: the local cron time to the minute, e.g. 2026-05-25T09:00."""
        return self.at.strftime("%Y-%m-%dT%H:%M")

    @property
    def moved(self) -> bool:
        return self.fire != self.at


class Schedule:
    """One cron expression in one calendar: slots, fire times, and what is due."""

    def __init__(self, audience: str, expression: str, calendar: WorkingCalendar) -> None:
        self.audience = audience
        self.expression = expression
        self.calendar = calendar
        self.trigger = parse_cron(expression, calendar.tz)

    def slots(self, start: datetime, end: datetime, limit: int = 10_000) -> Iterator[Slot]:
        """Slots whose cron time is in [start, end], oldest first."""
        at = self.trigger.get_next_fire_time(None, start.astimezone(self.calendar.tz))
        for _ in range(limit):
            if at is None or at > end:
                return
            yield Slot(self.audience, at, self.calendar.shift(at))
            at = self.trigger.get_next_fire_time(at, at + timedelta(microseconds=1))

    def due(self, now: datetime, grace: timedelta) -> Slot | None:
        """The latest slot whose fire time has passed, if that was at most `grace` ago."""
        found = None
        for slot in self.slots(now - grace - MAX_SHIFT, now):
            if slot.fire <= now and now - slot.fire <= grace:
                found = slot if found is None or slot.fire >= found.fire else found
        return found

    def previous(self, before: datetime, lookback: timedelta = timedelta(days=35)) -> Slot | None:
        """The latest slot that fired strictly before `before`, within `lookback`."""
        found = None
        for slot in self.slots(before - lookback - MAX_SHIFT, before):
            if slot.fire < before:
                found = slot
        return found

    def next(self, now: datetime) -> Slot | None:
        """The first slot still to fire after `now`."""
        for slot in self.slots(now - MAX_SHIFT, now + timedelta(days=400)):
            if slot.fire > now:
                return slot
        return None


def schedules(config: ScheduleConfig, audiences: list[str]) -> dict[str, Schedule]:
    """Each audience that gets digests, with its schedule (audiences switched off left out)."""
    calendar = WorkingCalendar(config.bank_holidays, config.tz)
    found: dict[str, Schedule] = {}
    if not config.enabled:
        return found
    for audience in audiences:
        expression = config.cron_for(audience)
        if expression:
            found[audience] = Schedule(audience, expression, calendar)
    return found


def nudge_schedule(config: ScheduleConfig) -> Schedule | None:
    if not config.nudge_cron:
        return None
    return Schedule("nudges", config.nudge_cron, WorkingCalendar(config.bank_holidays, config.tz))
