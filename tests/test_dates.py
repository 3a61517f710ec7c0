"""Tests for tracker.dates: UK council due dates, "since" questions and "due within" windows.

The reference clock is Sunday 22 November 2026, 10:00 London time, chosen because it sits late in
the year (so year-less dates roll into 2027), after Q3 (so "Q3" must mean 2027) and on a weekend
(so "end of the week" must not land on Friday just gone). Extra clocks cover the BST change and
New Year's Eve, where UTC and local dates disagree.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest

import tracker.dates as dates_module
from tracker.dates import (
    LONDON,
    DateNotUnderstood,
    ParsedDate,
    end_of_month,
    format_date,
    parse_due_date,
    parse_since,
    parse_window,
)

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=LONDON)  # Sunday
# 00:30 on the morning the clocks go forward (01:00 GMT): still GMT, Sunday 28 March 2027.
BST_CHANGE = datetime(2027, 3, 28, 0, 30, tzinfo=LONDON)
# 23:30 UTC on 28 March 2027 is already 00:30 BST on Monday 29 March in London.
BST_LATE_UTC = datetime(2027, 3, 28, 23, 30, tzinfo=UTC)
YEAR_END = datetime(2026, 12, 31, 23, 30, tzinfo=LONDON)  # Thursday
WEDNESDAY = datetime(2026, 11, 25, 9, 0, tzinfo=LONDON)


def d(year: int, month: int, day: int) -> date:
    return date(year, month, day)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (d(2027, 3, 31), "Wed 31 Mar 2027"),
        (d(2026, 11, 22), "Sun 22 Nov 2026"),
        (d(2027, 1, 1), "Fri 1 Jan 2027"),
    ],
)
def test_format_date_is_uk_style_with_weekday(value: date, expected: str) -> None:
    assert format_date(value) == expected


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        (2027, 2, d(2027, 2, 28)),
        (2028, 2, d(2028, 2, 29)),
        (2026, 11, d(2026, 11, 30)),
        (2026, 12, d(2026, 12, 31)),
    ],
)
def test_end_of_month(year: int, month: int, expected: date) -> None:
    assert end_of_month(year, month) == expected


# ---------------------------------------------------------------------------------------------
# parse_due_date: accepted forms on 22 Nov 2026
# ---------------------------------------------------------------------------------------------

DUE_CASES: list[tuple[str, date, tuple[str, ...]]] = [
    # Numeric dates are always day first.
    ("31/03/2027", d(2027, 3, 31), ("Wed 31 Mar 2027",)),
    ("31/3/27", d(2027, 3, 31), ("31 Mar 2027",)),
    ("3/4/2027", d(2027, 4, 3), ("Sat 3 Apr 2027", "day first")),
    ("03/04/2027", d(2027, 4, 3), ("3 April",)),
    ("31-03-2027", d(2027, 3, 31), ()),
    ("31.03.2027", d(2027, 3, 31), ()),
    ("2027-03-31", d(2027, 3, 31), ()),
    ("3/4", d(2027, 4, 3), ("day first",)),
    ("Wed 31/03/2027", d(2027, 3, 31), ()),
    # Written dates.
    ("31 March 2027", d(2027, 3, 31), ()),
    ("31st March", d(2027, 3, 31), ("no year",)),
    ("March 31st", d(2027, 3, 31), ()),
    ("3rd of April", d(2027, 4, 3), ()),
    ("first of April", d(2027, 4, 1), ()),
    ("April the 3rd", d(2027, 4, 3), ()),
    ("31-Mar-27", d(2027, 3, 31), ()),
    ("3 April, 2027", d(2027, 4, 3), ()),
    ("Fri 25 Dec", d(2026, 12, 25), ()),
    # Future preference when no year is given.
    ("31 March", d(2027, 3, 31), ("next 31 March",)),
    ("25 December", d(2026, 12, 25), ()),
    ("1 November", d(2027, 11, 1), ()),
    ("22 November", d(2026, 11, 22), ()),  # today is not the past
    ("29 Feb", d(2028, 2, 29), ()),
    ("the 15th", d(2026, 12, 15), ("15th",)),
    ("the 31st", d(2026, 12, 31), ()),
    # Relative days and offsets.
    ("today", d(2026, 11, 22), ("today",)),
    ("tomorrow", d(2026, 11, 23), ("tomorrow",)),
    ("the day after tomorrow", d(2026, 11, 24), ()),
    ("Friday", d(2026, 11, 27), ("this coming Friday",)),
    ("next Friday", d(2026, 11, 27), ("Friday next week",)),
    ("this Friday", d(2026, 11, 27), ()),
    ("Friday week", d(2026, 12, 4), ()),
    ("a week on Friday", d(2026, 12, 4), ()),
    ("in 2 weeks", d(2026, 12, 6), ("2 weeks from today",)),
    ("2 weeks from now", d(2026, 12, 6), ()),
    ("in 2 weeks' time", d(2026, 12, 6), ()),
    ("in three months", d(2027, 2, 22), ("3 months",)),
    ("in 10 days", d(2026, 12, 2), ()),
    ("a fortnight", d(2026, 12, 6), ("fortnight",)),
    ("in a fortnight", d(2026, 12, 6), ()),
    ("in a year", d(2027, 11, 22), ()),
    ("in 10 working days", d(2026, 12, 4), ("working days",)),
    ("a week today", d(2026, 11, 29), ()),
    # Weeks land on the last working day; typed on a Sunday, "this week" is over.
    ("next week", d(2026, 11, 27), ("last working day of next week",)),
    ("end of next week", d(2026, 11, 27), ()),
    ("end of this week", d(2026, 11, 27), ("working days are over",)),
    ("end of the week", d(2026, 11, 27), ()),
    ("the week after next", d(2026, 12, 4), ()),
    ("start of next week", d(2026, 11, 23), ("first working day",)),
    # Months.
    ("next month", d(2026, 12, 31), ("end of December 2026",)),
    ("end of next month", d(2026, 12, 31), ()),
    ("end of the month", d(2026, 11, 30), ("end of November 2026",)),
    ("end of this month", d(2026, 11, 30), ()),
    ("next month but one", d(2027, 1, 31), ()),
    ("end of March", d(2027, 3, 31), ("end of March 2027",)),
    ("the end of March", d(2027, 3, 31), ()),
    ("March", d(2027, 3, 31), ("end of March 2027",)),
    ("in March", d(2027, 3, 31), ()),
    ("end of November", d(2026, 11, 30), ("November 2026",)),
    ("March 2027", d(2027, 3, 31), ()),
    ("end of March 2027", d(2027, 3, 31), ()),
    ("Mar-27", d(2027, 3, 31), ()),
    ("03/2027", d(2027, 3, 31), ()),
    ("mid March", d(2027, 3, 15), ("15th",)),
    ("mid-March", d(2027, 3, 15), ()),
    ("middle of March", d(2027, 3, 15), ()),
    ("start of March", d(2027, 3, 1), ("start of March 2027",)),
    ("beginning of March", d(2027, 3, 1), ()),
    ("early March", d(2027, 3, 7), ("7th",)),
    ("late March", d(2027, 3, 31), ("last day",)),
    ("start of November", d(2027, 11, 1), ()),  # 1 Nov 2026 has passed
    # Calendar quarters.
    ("Q3", d(2027, 9, 30), ("calendar Q3 2027", "Jul–Sep")),
    ("Q4", d(2026, 12, 31), ("calendar Q4 2026", "Oct–Dec")),
    ("Q3 2027", d(2027, 9, 30), ("end of calendar Q3 2027, Jul–Sep",)),
    ("end of Q3 2027", d(2027, 9, 30), ()),
    ("Q3 of 2027", d(2027, 9, 30), ()),
    ("by Q1 2027", d(2027, 3, 31), ("calendar Q1 2027", "Jan–Mar")),
    ("start of Q3 2027", d(2027, 7, 1), ("start of calendar Q3 2027",)),
    ("start of Q3", d(2027, 7, 1), ()),
    ("third quarter 2027", d(2027, 9, 30), ()),
    ("this quarter", d(2026, 12, 31), ("calendar Q4 2026",)),
    ("end of next quarter", d(2027, 3, 31), ()),
    # Financial quarters, only when a financial year is written.
    ("Q3 2026/27", d(2026, 12, 31), ("Q3 of financial year 2026/27", "Oct–Dec 2026")),
    ("Q3 FY26/27", d(2026, 12, 31), ("financial year 2026/27",)),
    ("Q4 2026/27", d(2027, 3, 31), ("Jan–Mar 2027",)),
    ("Q1 2027/28", d(2027, 6, 30), ("Apr–Jun 2027",)),
    ("FY27/28 Q2", d(2027, 9, 30), ("Jul–Sep 2027",)),
    ("FY Q3", d(2026, 12, 31), ("financial year 2026/27",)),
    # Financial years.
    ("2026/27", d(2027, 3, 31), ("end of financial year 2026/27", "Apr 2026–Mar 2027")),
    ("2026-27", d(2027, 3, 31), ()),
    ("FY2026/27", d(2027, 3, 31), ()),
    ("FY 26/27", d(2027, 3, 31), ()),
    ("2026/2027", d(2027, 3, 31), ()),
    ("end of 2026/27", d(2027, 3, 31), ()),
    ("end of the financial year", d(2027, 3, 31), ("financial year 2026/27",)),
    ("end of this financial year", d(2027, 3, 31), ()),
    ("financial year end", d(2027, 3, 31), ()),
    ("end of next financial year", d(2028, 3, 31), ("financial year 2027/28",)),
    ("start of next financial year", d(2027, 4, 1), ()),
    # Years.
    ("end of 2027", d(2027, 12, 31), ("end of 2027",)),
    ("end of the year", d(2026, 12, 31), ("end of 2026",)),
    ("end of next year", d(2027, 12, 31), ()),
    ("2027", d(2027, 12, 31), ()),
    ("start of 2027", d(2027, 1, 1), ()),
    # Chat decoration that should not change the date.
    ("by 31 March", d(2027, 3, 31), ()),
    ("due by the end of March", d(2027, 3, 31), ()),
    ("31 March please", d(2027, 3, 31), ()),
    ("31 March (tbc)", d(2027, 3, 31), ()),
    ("  END OF MARCH!  ", d(2027, 3, 31), ()),
    ("Friday 5pm", d(2026, 11, 27), ()),
    ("eod tomorrow", d(2026, 11, 23), ()),
    ("31/03/2027 17:00", d(2027, 3, 31), ()),
    ("31 Mar. 2027", d(2027, 3, 31), ()),
]


@pytest.mark.parametrize(
    ("text", "expected", "fragments"), DUE_CASES, ids=[c[0] for c in DUE_CASES]
)
def test_parse_due_date_accepts(text: str, expected: date, fragments: tuple[str, ...]) -> None:
    result = parse_due_date(text, NOW)
    assert isinstance(result, ParsedDate)
    assert result.value == expected
    assert result.understood.startswith(format_date(expected))
    for fragment in fragments:
        assert fragment in result.understood
    assert result.is_past is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("31/03/2020", d(2020, 3, 31)),
        ("03/04/2026", d(2026, 4, 3)),  # dateparser without DMY would say 4 March
        ("Q3 2026", d(2026, 9, 30)),  # dateparser says 1 August 2026
        ("yesterday", d(2026, 11, 21)),
        ("last Friday", d(2026, 11, 20)),
        ("end of last month", d(2026, 10, 31)),
        ("2 days ago", d(2026, 11, 20)),
    ],
)
def test_past_dates_are_returned_and_flagged(text: str, expected: date) -> None:
    result = parse_due_date(text, NOW)
    assert result.value == expected
    assert result.is_past is True
    assert "passed" in result.understood


def test_quarter_understood_names_kind_and_months() -> None:
    calendar_q = parse_due_date("Q3 2027", NOW).understood
    financial_q = parse_due_date("Q3 2026/27", NOW).understood
    assert "calendar" in calendar_q and "Jul–Sep" in calendar_q
    assert "financial year" in financial_q and "Oct–Dec" in financial_q
    assert "calendar" not in financial_q


def test_next_friday_midweek_is_friday_of_next_week_and_says_so() -> None:
    result = parse_due_date("next Friday", WEDNESDAY)
    assert result.value == d(2026, 12, 4)
    assert "this Friday" in result.understood and "Fri 27 Nov 2026" in result.understood
    assert parse_due_date("this Friday", WEDNESDAY).value == d(2026, 11, 27)
    assert parse_due_date("Friday", WEDNESDAY).value == d(2026, 11, 27)


def test_weekday_on_that_day_is_today() -> None:
    friday = datetime(2026, 11, 27, 15, 0, tzinfo=LONDON)
    result = parse_due_date("Friday", friday)
    assert result.value == d(2026, 11, 27)
    assert "today" in result.understood


def test_end_of_week_midweek_is_this_friday() -> None:
    result = parse_due_date("end of the week", WEDNESDAY)
    assert result.value == d(2026, 11, 27)
    assert "working days are over" not in result.understood


@pytest.mark.parametrize(
    ("text", "now", "expected", "holiday"),
    [
        # Good Friday 26 Mar 2027: "next week" from the week before is the Thursday.
        ("next week", datetime(2027, 3, 21, 9, tzinfo=LONDON), d(2027, 3, 25), "Good Friday"),
        # Easter Monday 29 Mar 2027: the first working day of that week is Tuesday.
        (
            "start of next week",
            datetime(2027, 3, 24, 9, tzinfo=LONDON),
            d(2027, 3, 30),
            "Easter Monday",
        ),
        # Christmas Day 2026 is a Friday.
        ("end of the week", datetime(2026, 12, 21, 9, tzinfo=LONDON), d(2026, 12, 24), "Christmas"),
    ],
)
def test_week_due_dates_skip_bank_holidays(
    text: str, now: datetime, expected: date, holiday: str
) -> None:
    result = parse_due_date(text, now)
    assert result.value == expected
    assert holiday in result.understood


def test_working_days_skip_weekends_and_bank_holidays() -> None:
    # From Mon 21 Dec 2026: 22, 23, 24, (25 Xmas, 26-27 weekend, 28 Boxing Day observed), 29, 30.
    monday = datetime(2026, 12, 21, 9, tzinfo=LONDON)
    assert parse_due_date("in 5 working days", monday).value == d(2026, 12, 30)


def test_naive_now_is_treated_as_london_time() -> None:
    naive = datetime(2026, 11, 22, 10, 0)
    assert parse_due_date("tomorrow", naive).value == d(2026, 11, 23)


# ---------------------------------------------------------------------------------------------
# parse_due_date: rejections
# ---------------------------------------------------------------------------------------------

LONG_NOISE = (
    "31 March 2027 assuming the procurement framework is signed off by the cabinet member "
    "and the supplier has capacity"
)

DUE_REJECTS: list[tuple[str, str]] = [
    ("3.2", "number"),
    ("60%", "percentage"),
    ("60 %", "percentage"),
    ("about 60 per cent done by March", "percentage"),
    ("", "due date"),
    ("   ", "due date"),
    ("soon", "isn't a specific date"),
    ("asap", "isn't a specific date"),
    ("ASAP!", "isn't a specific date"),
    ("banana", "couldn't read"),
    ("32/13/2027", "no month 13"),
    ("31/02/2027", "31 February isn't a date"),
    ("29/02/2027", "isn't a leap year"),
    ("31 April", "31 April isn't a date"),
    ("31 February", "31 February isn't a date"),
    ("12/31/2027", "31/12/2027"),  # US order: suggest the UK reading
    ("26/27", "financial year"),
    ("2026/28", "isn't a financial year"),
    ("FY27", "ambiguous"),
    ("year end", "31 December or 31 March"),
    ("spring 2027", "too vague"),
    ("Christmas", "too vague"),
    ("a few weeks", "too vague"),
    ("Fri 31 March 2027", "is a Wednesday, not a Friday"),
    ("Mon 25 Dec", "is a Friday, not a Monday"),
    ("mid Q3", "only works with a month"),
    ("31/03/0227", "typo"),
    ("in 9999 years", "typo"),
    ("2", "number"),
    ("3-2", "number"),
    ("31.03", "number"),
    ("£5000", "number"),
    ("12 12", "number"),
    ("3 of 4", "couldn't read"),
    ("phase 2", "couldn't read"),
    (LONG_NOISE, "aren't a date"),
    ("x" * 300, "long"),
]


@pytest.mark.parametrize(("text", "fragment"), DUE_REJECTS, ids=[r[0][:30] for r in DUE_REJECTS])
def test_parse_due_date_rejects(text: str, fragment: str) -> None:
    with pytest.raises(DateNotUnderstood) as info:
        parse_due_date(text, NOW)
    error = info.value
    assert isinstance(error, ValueError)
    assert error.text == text
    assert error.hint.strip()
    assert fragment in error.hint
    assert str(error) == error.hint


def test_rejection_hint_for_unknown_text_gives_examples() -> None:
    with pytest.raises(DateNotUnderstood) as info:
        parse_due_date("banana", NOW)
    assert "31/03/2027" in info.value.hint and "Q3 2027" in info.value.hint


# ---------------------------------------------------------------------------------------------
# Clock edge cases: BST change and New Year's Eve
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "now", "expected"),
    [
        ("today", BST_CHANGE, d(2027, 3, 28)),
        ("tomorrow", BST_CHANGE, d(2027, 3, 29)),
        ("end of the month", BST_CHANGE, d(2027, 3, 31)),
        ("next month", BST_CHANGE, d(2027, 4, 30)),
        ("end of the financial year", BST_CHANGE, d(2027, 3, 31)),
        ("Q1", BST_CHANGE, d(2027, 3, 31)),
        # UTC still says 28 March; London is on 29 March, so "today" is the 29th.
        ("today", BST_LATE_UTC, d(2027, 3, 29)),
        ("tomorrow", BST_LATE_UTC, d(2027, 3, 30)),
        ("in 2 days", BST_LATE_UTC, d(2027, 3, 31)),
        ("next week", BST_LATE_UTC, d(2027, 4, 9)),
        ("end of the financial year", BST_LATE_UTC, d(2027, 3, 31)),
        ("Friday", BST_LATE_UTC, d(2027, 4, 2)),
        ("today", datetime(2026, 6, 30, 23, 30, tzinfo=UTC), d(2026, 7, 1)),
        ("Q3", datetime(2026, 6, 30, 23, 30, tzinfo=UTC), d(2026, 9, 30)),
        # New Year's Eve, 23:30.
        ("tomorrow", YEAR_END, d(2027, 1, 1)),
        ("end of the year", YEAR_END, d(2026, 12, 31)),
        ("next year", YEAR_END, d(2027, 12, 31)),
        ("Q4", YEAR_END, d(2026, 12, 31)),
        ("Q1", YEAR_END, d(2027, 3, 31)),
        ("31 December", YEAR_END, d(2026, 12, 31)),
        ("1 January", YEAR_END, d(2027, 1, 1)),
        ("next month", YEAR_END, d(2027, 1, 31)),
        ("next week", YEAR_END, d(2027, 1, 8)),
        ("end of March", YEAR_END, d(2027, 3, 31)),
        ("in a month", YEAR_END, d(2027, 1, 31)),
    ],
)
def test_due_dates_use_london_calendar_days(text: str, now: datetime, expected: date) -> None:
    result = parse_due_date(text, now)
    assert result.value == expected
    assert result.is_past is False


def test_month_offsets_clamp_to_month_end() -> None:
    jan_31 = datetime(2027, 1, 31, 12, tzinfo=LONDON)
    assert parse_due_date("in a month", jan_31).value == d(2027, 2, 28)


# ---------------------------------------------------------------------------------------------
# parse_since
# ---------------------------------------------------------------------------------------------

SINCE_CASES: list[tuple[str, datetime]] = [
    ("this week", datetime(2026, 11, 16, tzinfo=LONDON)),
    ("since this week", datetime(2026, 11, 16, tzinfo=LONDON)),
    ("last week", datetime(2026, 11, 9, tzinfo=LONDON)),
    ("this month", datetime(2026, 11, 1, tzinfo=LONDON)),
    ("last month", datetime(2026, 10, 1, tzinfo=LONDON)),
    ("since the start of the month", datetime(2026, 11, 1, tzinfo=LONDON)),
    ("today", datetime(2026, 11, 22, tzinfo=LONDON)),
    ("yesterday", datetime(2026, 11, 21, tzinfo=LONDON)),
    ("the last 7 days", datetime(2026, 11, 15, tzinfo=LONDON)),
    ("past 7 days", datetime(2026, 11, 15, tzinfo=LONDON)),
    ("in the last 7 days", datetime(2026, 11, 15, tzinfo=LONDON)),
    ("last 2 weeks", datetime(2026, 11, 8, tzinfo=LONDON)),
    ("the past week", datetime(2026, 11, 15, tzinfo=LONDON)),
    ("past week", datetime(2026, 11, 15, tzinfo=LONDON)),  # rolling, unlike "last week"
    ("past month", datetime(2026, 10, 22, tzinfo=LONDON)),
    ("last fortnight", datetime(2026, 11, 8, tzinfo=LONDON)),
    ("the last month", datetime(2026, 10, 22, tzinfo=LONDON)),
    ("3 days ago", datetime(2026, 11, 19, tzinfo=LONDON)),
    ("a week ago", datetime(2026, 11, 15, tzinfo=LONDON)),
    ("Monday", datetime(2026, 11, 16, tzinfo=LONDON)),
    ("since Monday", datetime(2026, 11, 16, tzinfo=LONDON)),
    ("since Friday", datetime(2026, 11, 20, tzinfo=LONDON)),
    ("since last Friday", datetime(2026, 11, 20, tzinfo=LONDON)),
    ("Sunday", datetime(2026, 11, 22, tzinfo=LONDON)),  # today is Sunday
    ("1 November", datetime(2026, 11, 1, tzinfo=LONDON)),
    ("since 1 December", datetime(2025, 12, 1, tzinfo=LONDON)),  # past-preferring
    ("01/11/2026", datetime(2026, 11, 1, tzinfo=LONDON)),
    ("1 Nov 2026", datetime(2026, 11, 1, tzinfo=LONDON)),
    ("since March", datetime(2026, 3, 1, tzinfo=LONDON)),
    ("since Q3", datetime(2026, 7, 1, tzinfo=LONDON)),
    ("this quarter", datetime(2026, 10, 1, tzinfo=LONDON)),
    ("this financial year", datetime(2026, 4, 1, tzinfo=LONDON)),
    ("this year", datetime(2026, 1, 1, tzinfo=LONDON)),
    ("last 24 hours", datetime(2026, 11, 21, 10, 0, tzinfo=LONDON)),
]


@pytest.mark.parametrize(("text", "expected"), SINCE_CASES, ids=[c[0] for c in SINCE_CASES])
def test_parse_since(text: str, expected: datetime) -> None:
    result = parse_since(text, NOW)
    assert result == expected
    assert result.tzinfo is not None
    assert result.astimezone(LONDON).replace(tzinfo=None) == expected.replace(tzinfo=None)


def test_since_midnights_carry_the_right_utc_offset_across_bst() -> None:
    monday_after = datetime(2027, 3, 29, 9, 0, tzinfo=LONDON)  # first BST Monday
    today = parse_since("today", monday_after)
    yesterday = parse_since("yesterday", monday_after)
    assert today.utcoffset() == timedelta(hours=1)
    assert yesterday.utcoffset() == timedelta(0)
    assert yesterday.astimezone(UTC) == datetime(2027, 3, 28, 0, 0, tzinfo=UTC)
    assert parse_since("this week", BST_LATE_UTC) == datetime(2027, 3, 29, tzinfo=LONDON)
    assert parse_since("this week", BST_CHANGE) == datetime(2027, 3, 22, tzinfo=LONDON)


def test_since_hours_are_real_elapsed_time_across_bst() -> None:
    noon_bst = datetime(2027, 3, 28, 12, 0, tzinfo=LONDON)  # 11:00 UTC
    assert parse_since("last 24 hours", noon_bst).astimezone(UTC) == datetime(
        2027, 3, 27, 11, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("since 1 Dec 2026", "future"),
        ("tomorrow", "future"),
        ("banana", "Monday"),
        ("", "Since when"),
        ("60%", "percentage"),
        ("31/02/2026", "isn't a date"),
    ],
)
def test_parse_since_rejects(text: str, fragment: str) -> None:
    with pytest.raises(DateNotUnderstood) as info:
        parse_since(text, NOW)
    assert info.value.hint.strip()
    assert fragment in info.value.hint


# ---------------------------------------------------------------------------------------------
# parse_window
# ---------------------------------------------------------------------------------------------

WINDOW_CASES: list[tuple[str, date, date]] = [
    ("in the next 14 days", d(2026, 11, 22), d(2026, 12, 6)),
    ("next 14 days", d(2026, 11, 22), d(2026, 12, 6)),
    ("next 2 weeks", d(2026, 11, 22), d(2026, 12, 6)),
    ("the next week", d(2026, 11, 22), d(2026, 11, 29)),
    ("next fortnight", d(2026, 11, 22), d(2026, 12, 6)),
    ("within a month", d(2026, 11, 22), d(2026, 12, 22)),
    ("within the next 3 months", d(2026, 11, 22), d(2027, 2, 22)),
    ("in 10 working days", d(2026, 11, 22), d(2026, 12, 4)),
    ("this week", d(2026, 11, 16), d(2026, 11, 22)),
    ("next week", d(2026, 11, 23), d(2026, 11, 29)),
    ("this month", d(2026, 11, 1), d(2026, 11, 30)),
    ("next month", d(2026, 12, 1), d(2026, 12, 31)),
    ("this quarter", d(2026, 10, 1), d(2026, 12, 31)),
    ("next quarter", d(2027, 1, 1), d(2027, 3, 31)),
    ("this financial year", d(2026, 4, 1), d(2027, 3, 31)),
    ("before end of March", d(2026, 11, 22), d(2027, 3, 31)),
    ("by end of March", d(2026, 11, 22), d(2027, 3, 31)),
    ("by the end of the month", d(2026, 11, 22), d(2026, 11, 30)),
    ("by Q3 2027", d(2026, 11, 22), d(2027, 9, 30)),
    ("by Friday", d(2026, 11, 22), d(2026, 11, 27)),
    ("in March", d(2027, 3, 1), d(2027, 3, 31)),
    ("during Q3 2027", d(2027, 7, 1), d(2027, 9, 30)),
    ("Q3 2026/27", d(2026, 10, 1), d(2026, 12, 31)),
    ("today", d(2026, 11, 22), d(2026, 11, 22)),
    ("between 1 Dec and 31 Jan", d(2026, 12, 1), d(2027, 1, 31)),
    ("from December to March", d(2026, 12, 1), d(2027, 3, 31)),
]


@pytest.mark.parametrize(("text", "start", "end"), WINDOW_CASES, ids=[c[0] for c in WINDOW_CASES])
def test_parse_window(text: str, start: date, end: date) -> None:
    assert parse_window(text, NOW) == (start, end)


def test_window_this_quarter_is_calendar_quarter_at_bst_change() -> None:
    assert parse_window("this quarter", BST_LATE_UTC) == (d(2027, 1, 1), d(2027, 3, 31))
    assert parse_window("this week", BST_LATE_UTC) == (d(2027, 3, 29), d(2027, 4, 4))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("by last month", "already passed"),
        ("between March and January 2026", "earlier date first"),
        ("banana", "time window"),
        ("soon", "time window"),
        ("", "Due when"),
        ("60%", "percentage"),
    ],
)
def test_parse_window_rejects(text: str, fragment: str) -> None:
    with pytest.raises(DateNotUnderstood) as info:
        parse_window(text, NOW)
    assert info.value.hint.strip()
    assert fragment in info.value.hint


# ---------------------------------------------------------------------------------------------
# dateparser is a guarded fallback, not the main path
# ---------------------------------------------------------------------------------------------

FAST_PATH = [
    "31/03/2027",
    "3/4/2027",
    "2027-03-31",
    "31 March 2027",
    "31st March",
    "March 31st",
    "3rd of April",
    "tomorrow",
    "next Friday",
    "Friday",
    "in 2 weeks",
    "in three months",
    "a fortnight",
    "next week",
    "next month",
    "end of the month",
    "end of this week",
    "end of March",
    "March",
    "mid March",
    "Q3",
    "Q3 2027",
    "start of Q3 2027",
    "Q3 2026/27",
    "Q3 FY26/27",
    "2026/27",
    "FY 26/27",
    "end of the financial year",
    "end of next financial year",
    "end of 2027",
    "2027",
    "31/03/2020",
    "the 15th",
    "in 10 working days",
    "early March",
    "end of next year",
    "Friday week",
    "by Q1 2027",
    "end of November",
    "1 November",
]


def test_supported_forms_never_reach_dateparser(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object) -> None:
        raise AssertionError(f"dateparser called for {args[0]!r}")

    monkeypatch.setattr(dates_module, "_dateparser_parse", forbidden)
    for text in FAST_PATH:
        parse_due_date(text, NOW)
    for text in ("this week", "last month", "the last 7 days", "Monday", "1 Nov 2026"):
        parse_since(text, NOW)
    for text in ("next 14 days", "this quarter", "by end of March"):
        parse_window(text, NOW)


def test_rejections_never_reach_dateparser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        dates_module, "_dateparser_parse", lambda *a: pytest.fail("dateparser called")
    )
    for text, _ in DUE_REJECTS:
        if text != "phase 2":
            with pytest.raises(DateNotUnderstood):
                parse_due_date(text, NOW)


def test_fallback_uses_dateparser_for_long_tail_and_says_to_check() -> None:
    result = parse_due_date("in 1 week and 2 days", NOW)
    assert result.value == d(2026, 12, 1)
    assert "please check" in result.understood


def test_fallback_passes_uk_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def fake_parse(text: str, languages: list[str], settings: dict[str, object]) -> datetime:
        seen.update(settings, languages=languages)
        return datetime(2027, 1, 5)

    import dateparser

    monkeypatch.setattr(dateparser, "parse", fake_parse)
    at_half_past_midnight = datetime(2026, 11, 22, 0, 30, tzinfo=LONDON)
    assert parse_due_date("in 1 week and 2 days", at_half_past_midnight).value == d(2027, 1, 5)
    assert seen["languages"] == ["en"]
    assert seen["DATE_ORDER"] == "DMY"
    assert seen["PREFER_DATES_FROM"] == "future"
    assert seen["RELATIVE_BASE"] == datetime(2026, 11, 22, 0, 30)  # naive London time
    assert "timestamp" not in seen["PARSERS"]  # type: ignore[operator]


# ---------------------------------------------------------------------------------------------
# Speed: the regex paths must stay cheap because every chat message may be parsed
# ---------------------------------------------------------------------------------------------


def mean_call_ms(phrases: list[str], rounds: int = 5) -> float:
    """Mean milliseconds per parse_due_date call over ``len(phrases) * rounds`` calls.

    Test-only helper; run ``pytest -s tests/test_dates.py -k speed`` to see the figures.
    """
    for text in phrases:  # warm caches (bank holidays, regexes) first
        parse_due_date(text, NOW)
    calls = phrases * rounds
    started = time.perf_counter()
    for text in calls:
        parse_due_date(text, NOW)
    return (time.perf_counter() - started) * 1000 / len(calls)


def test_speed_of_prehandled_forms() -> None:
    assert len(FAST_PATH) * 5 == 200
    mean = mean_call_ms(FAST_PATH)
    print(f"\nparse_due_date: {mean:.3f} ms/call over 200 pre-handled phrases")
    assert mean < 2.0
