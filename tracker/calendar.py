"""The council's calendar: one place for UK time, UK date wording and bank holidays.

Why one module: due dates ("next week" lands on the last working day), digest slots
(a bank holiday Monday moves to Tuesday) and exports (times in UK time) must agree on
what day it is in London and which days nobody is in the office. They used to work
that out separately, and a Scottish council's digests honoured Scottish holidays while
its "due next week" used England's.

- `LONDON` is the time zone every date officers type or read is in.
- `format_date` / `short_day` are the UK wordings ("Mon 9 Nov 2026", "Mon 9 Nov"),
  built by hand so they never depend on the server's locale.
- `WorkingCalendar` is one UK region's bank holidays (England and Wales, Scotland,
  Northern Ireland, or none) from the offline `holidays` package; the region comes
  from the strategy file's `digests: bank_holidays:` setting (`parse_region`), so the
  scheduler and the date parser read it the same way.

Failure modes: an unknown region name is refused by `parse_region` (ValueError) rather
than falling back silently; the `holidays` package is imported lazily (it costs about
0.1 s), so a process that never asks about a working day never pays for it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")

DEFAULT_REGION = "ENG"  # England and Wales share their bank holidays
REGIONS = {
    "eng": "ENG",
    "england": "ENG",
    "wls": "WLS",
    "wales": "WLS",
    "england and wales": "ENG",
    "england & wales": "ENG",
    "sct": "SCT",
    "scotland": "SCT",
    "nir": "NIR",
    "northern ireland": "NIR",
}
REGION_NAMES = {"ENG": "England and Wales", "WLS": "England and Wales", "SCT": "Scotland",
                "NIR": "Northern Ireland"}  # fmt: skip
NO_REGION = {"off", "none", "never", "no", "false", ""}

DAY_ABBR = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# ----------------------------------------------------------------- UK date wording
def format_date(d: date) -> str:
    """ "Mon 9 Nov 2026": the UK way, with the weekday officers check a deadline against."""
    return f"{DAY_ABBR[d.weekday()]} {d.day} {MONTH_ABBR[d.month - 1]} {d.year}"


def short_day(value: date | datetime, today: date | None = None) -> str:
    """ "Mon 9 Nov", with the year only when it is not this year's (local date for times)."""
    if isinstance(value, datetime):
        value = value.astimezone(LONDON).date()
    text = f"{DAY_ABBR[value.weekday()]} {value.day} {MONTH_ABBR[value.month - 1]}"
    if today is None or value.year != today.year:
        text += f" {value.year}"
    return text


# ----------------------------------------------------------------- bank holidays
def parse_region(value: object) -> str | None:
    """A `bank_holidays:` setting as a region code (ENG, WLS, SCT, NIR) or None for none.

    Raises ValueError naming the choices for anything else.
    """
    if value is None or value is False or str(value).strip().lower() in NO_REGION:
        return None
    region = REGIONS.get(str(value).strip().lower())
    if region is None:
        raise ValueError(
            f"unknown region {value!r} (England and Wales, Scotland, Northern Ireland, or none)"
        )
    return region


@lru_cache(maxsize=256)
def _holidays(region: str, year: int) -> dict[date, str]:
    import holidays  # lazy: the package costs ~0.1 s to import

    return dict(holidays.country_holidays("GB", subdiv=region, years=year).items())


class WorkingCalendar:
    """Bank holidays of one UK region (None: no bank holidays), in one time zone."""

    def __init__(self, region: str | None = DEFAULT_REGION, tz: ZoneInfo = LONDON) -> None:
        self.region = region
        self.tz = tz

    def __repr__(self) -> str:
        return f"WorkingCalendar({self.region!r}, {self.tz.key!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WorkingCalendar) and (self.region, self.tz.key) == (
            other.region,
            other.tz.key,
        )

    def __hash__(self) -> int:
        return hash((self.region, self.tz.key))

    def holiday(self, day: date) -> str | None:
        """The bank holiday's name, or None on an ordinary day."""
        if self.region is None:
            return None
        return _holidays(self.region, day.year).get(day)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and self.holiday(day) is None

    def add_working_days(self, day: date, n: int) -> date:
        """`n` working days after `day` (before it when `n` is negative)."""
        step = 1 if n >= 0 else -1
        remaining = abs(n)
        while remaining:
            day += timedelta(days=step)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def shift(self, slot: datetime) -> datetime:
        """The slot, or the next working day at the same local time if it is a bank holiday.

        Only bank holidays move a slot: a schedule deliberately set for a Saturday stays
        on Saturday. Re-localising the wall-clock time keeps 09:00 at 09:00 when the
        move crosses a BST/GMT change.
        """
        local = slot.astimezone(self.tz)
        day = local.date()
        if self.holiday(day) is None:
            return local
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        wall = time(local.hour, local.minute, local.second)
        return datetime.combine(day, wall, tzinfo=self.tz)


ENGLAND_AND_WALES = WorkingCalendar(DEFAULT_REGION)


def calendar_for(region: str | None, tz: ZoneInfo = LONDON) -> WorkingCalendar:
    """The working calendar of a region code as stored (ENG, SCT, NIR, WLS or None)."""
    return WorkingCalendar(region, tz)
