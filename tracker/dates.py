"""Turn the dates council officers type in chat into real calendar dates.

Why this module exists: officers write due dates the way they speak ("end of March", "Q3",
"2026/27", "next Friday", "31/3/27"), and a wrong reading silently moves a strategy deadline.
General-purpose parsers get UK usage wrong in ways that matter here: dateparser 1.5 reads
"03/04/2026" month first unless told otherwise, returns nothing for "end of March" or "Q3",
reads "Q3 2026" as August, "3.2" as 2 March and "60%" as the year 2060. So every form we promise
to understand is handled by an explicit, tested rule below, and dateparser is only a guarded
fallback for the long tail of written phrasings ("April the 3rd", "2 weeks from now").

Conventions, chosen to match how a UK council officer means things:

* Numeric dates are always day first (DD/MM/YYYY), whatever the numbers.
* Due dates prefer the future ("31 March" typed in November means next March); "since" dates
  prefer the past ("since 1 November" typed in October means last November).
* "Q3" on its own is a calendar quarter. A quarter is financial only when a financial year is
  written ("Q3 2026/27", "Q3 FY26/27"); UK financial years run 1 April to 31 March.
* Weeks run Monday to Sunday. A week-based due date ("next week", "end of the week") lands on
  the last working day of that week: Friday, or earlier when Friday is a bank holiday, because
  nobody is in the office to meet a deadline on Good Friday. Bank holidays are those of the
  council's region (``tracker.calendar``; England and Wales unless the strategy file's
  ``digests: bank_holidays:`` says Scotland or Northern Ireland), passed in as ``calendar``.
* All day arithmetic is on Europe/London calendar dates, so "tomorrow" typed at 00:30 BST is the
  next local day even though UTC still says the previous day.

Every due date comes back with an ``understood`` sentence so the bot can echo its reading and an
officer can catch a misunderstanding (wrong year, calendar vs financial quarter) before saving.
Nothing here does I/O or keeps state beyond cached constants; ``now`` is always passed in so
callers and tests control the clock.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Literal

from tracker.calendar import (
    ENGLAND_AND_WALES,
    LONDON,
    MONTH_ABBR,
    WorkingCalendar,
    format_date,
)

__all__ = [
    "LONDON",
    "DateNotUnderstood",
    "ParsedDate",
    "end_of_month",
    "format_date",
    "parse_due_date",
    "parse_since",
    "parse_window",
]

# Years outside this range are almost certainly typos ("31/03/0227") in a strategy tracker, and
# capping them keeps offset arithmetic ("in 9999 years") away from datetime's limits.
MIN_YEAR = 1990
MAX_YEAR = 2099

# Past this much non-date wording, the "date" is really a sentence and guessing is dangerous.
_MAX_NOISE_CHARS = 60
_MAX_TEXT_CHARS = 200

_DUE_EXAMPLES = "31/03/2027, 31 March, end of March, next Friday, in 2 weeks, Q3 2027 or 2026/27"
_SINCE_EXAMPLES = "Monday, this week, last month, the last 7 days, yesterday or 1 Nov 2026"
_WINDOW_EXAMPLES = "the next 14 days, this week, next month, this quarter, by end of March or by Q3"

Prefer = Literal["future", "past"]


@dataclass(frozen=True)
class ParsedDate:
    """A due date plus the reading we took, so the bot can confirm it back to the officer."""

    value: date
    understood: str
    is_past: bool


class DateNotUnderstood(ValueError):
    """Raised instead of guessing, so the bot can ask again rather than store a wrong date.

    ``text`` is what the user typed; ``hint`` is a friendly sentence with accepted examples,
    fit to be posted straight back into the chat.
    """

    def __init__(self, text: str, hint: str) -> None:
        super().__init__(hint)
        self.text = text
        self.hint = hint


class _Reject(Exception):
    """Internal signal carrying a hint; converted to DateNotUnderstood with the original text."""

    def __init__(self, hint: str) -> None:
        super().__init__(hint)
        self.hint = hint


@dataclass(frozen=True)
class _Span:
    """A calendar period (or single day) we recognised, before choosing a day within it."""

    start: date
    end: date
    kind: Literal["day", "week", "month", "quarter", "year", "fy"]
    label: str


# ---------------------------------------------------------------------------------------------
# Public helpers
# ---------------------------------------------------------------------------------------------


def end_of_month(year: int, month: int) -> date:
    """Last day of a month; most council deadlines are month ends, so this is used everywhere."""
    return date(year, month, calendar.monthrange(year, month)[1])


# ---------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    """Space-separated vocabulary lists stay readable as prose."""
    return text.split()


_DAY_FULL = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_FULL = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_MONTH_NUM = {m[:3].lower(): i for i, m in enumerate(_MONTH_FULL, start=1)}
_WEEKDAY_NUM = {d[:3].lower(): i for i, d in enumerate(_DAY_FULL)}

_ORDINAL_WORDS: dict[str, int] = {
    w: i
    for i, w in enumerate(
        _words(
            "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
            "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth"
        ),
        start=1,
    )
}
_ORDINAL_WORDS.update(
    {f"twenty {w}": 20 + i for w, i in list(_ORDINAL_WORDS.items())[:9]}
    | {"thirtieth": 30, "thirty first": 31}
)

_COUNT_WORDS: dict[str, int] = {
    w: i
    for i, w in enumerate(
        _words(
            "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
            "fifteen sixteen seventeen eighteen nineteen twenty"
        ),
        start=1,
    )
}
_COUNT_WORDS.update(
    {"a": 1, "an": 1, "a couple of": 2, "couple of": 2, "thirty": 30, "sixty": 60, "ninety": 90}
)
_VAGUE_COUNTS = ("a few", "few", "several", "some", "a number of", "many")

_MONTH_RE = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_WEEKDAY_RE = (
    r"(?:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:s|nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?"
    r"|sat(?:urday)?|sun(?:day)?)\.?"
)
_ORDINAL_RE = "|".join(sorted(_ORDINAL_WORDS, key=len, reverse=True))
_COUNT_RE = "|".join([r"\d{1,4}", *sorted([*_COUNT_WORDS, *_VAGUE_COUNTS], key=len, reverse=True)])
_UNIT_RE = (
    r"(?:working|business)\s(?:days?)|days?|weeks?|wks?|fortnights?|months?|mths?|years?|yrs?"
    r"|hours?|hrs?"
)
_ANCHOR_RE = r"end|close|start|beginning|middle|mid|early|late"

# Words that may appear in a date phrase; anything else counts as noise for the fallback.
_DATEISH_WORDS = frozenset(
    [m.lower() for m in _MONTH_FULL]
    + list(_MONTH_NUM)
    + ["sept"]
    + [d.lower() for d in _DAY_FULL]
    + list(_WEEKDAY_NUM)
    + _words(
        "tues weds thur thurs today tomorrow yesterday tonight day days week weeks month months "
        "year years fortnight fortnights hour hours ago"
    )
)
_DATE_WORDS = (
    _DATEISH_WORDS
    | frozenset(w for phrase in _ORDINAL_WORDS for w in phrase.split())
    | frozenset(w for phrase in _COUNT_WORDS for w in phrase.split())
    | frozenset(
        _words(
            "next this last coming following previous past in on of the a an from now after "
            "before time end start beginning mid middle early late and at by quarter fy "
            "financial fiscal working business noon midday morning afternoon evening st nd rd th"
        )
    )
)

_VAGUE_WORDS = frozenset(
    _words(
        "soon asap a.s.a.p later tbc tbd tba ongoing never n/a na none whenever eventually "
        "someday shortly imminently now immediately urgent urgently rolling bau continuous"
    )
)
_SEASON_RE = re.compile(
    r"(?:(?:early|late|mid|end of|start of)\s)?(?:the\s)?"
    r"(?:spring|summer|autumn|fall|winter|easter|christmas|xmas|new year)(?:\s\d{4})?"
)


# ---------------------------------------------------------------------------------------------
# Small date helpers
# ---------------------------------------------------------------------------------------------


def _local_now(now: datetime) -> datetime:
    """Bring ``now`` to London time; a naive ``now`` is taken to already be London time."""
    if now.tzinfo is None:
        return now.replace(tzinfo=LONDON)
    return now.astimezone(LONDON)


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise _Reject(
            f"{year} looks like a typo for the year — I only take dates between {MIN_YEAR} "
            f"and {MAX_YEAR}."
        )


def _add_months(d: date, months: int) -> date:
    """Calendar month arithmetic that clamps to month end (31 Jan + 1 month = 28/29 Feb)."""
    index = d.year * 12 + (d.month - 1) + months
    year, month0 = divmod(index, 12)
    _check_year(year)
    return date(year, month0 + 1, min(d.day, calendar.monthrange(year, month0 + 1)[1]))


def _short(d: date) -> str:
    return f"{d.day} {MONTH_ABBR[d.month - 1]}"


def _week_span(today: date, offset: int) -> _Span:
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=offset)
    sunday = monday + timedelta(days=6)
    name = {0: "this week", 1: "next week", -1: "last week", 2: "the week after next"}.get(
        offset, f"the week of {_short(monday)}"
    )
    return _Span(monday, sunday, "week", f"{name}, Mon {_short(monday)} – Sun {_short(sunday)}")


def _month_span(year: int, month: int) -> _Span:
    _check_year(year)
    return _Span(
        date(year, month, 1), end_of_month(year, month), "month", f"{_MONTH_FULL[month - 1]} {year}"
    )


def _quarter_span(year: int, q: int) -> _Span:
    _check_year(year)
    first, last = 3 * q - 2, 3 * q
    months = f"{MONTH_ABBR[first - 1]}–{MONTH_ABBR[last - 1]}"
    return _Span(
        date(year, first, 1), end_of_month(year, last), "quarter", f"calendar Q{q} {year}, {months}"
    )


def _fy_name(start_year: int) -> str:
    return f"{start_year}/{(start_year + 1) % 100:02d}"


def _fy_span(start_year: int) -> _Span:
    _check_year(start_year)
    label = f"financial year {_fy_name(start_year)}, Apr {start_year}–Mar {start_year + 1}"
    return _Span(date(start_year, 4, 1), date(start_year + 1, 3, 31), "fy", label)


def _fy_quarter_span(start_year: int, q: int) -> _Span:
    _check_year(start_year)
    start = _add_months(date(start_year, 4, 1), 3 * (q - 1))
    end_month = _add_months(start, 2)
    end = end_of_month(end_month.year, end_month.month)
    months = f"{MONTH_ABBR[start.month - 1]}–{MONTH_ABBR[end.month - 1]} {end.year}"
    label = f"Q{q} of financial year {_fy_name(start_year)}, {months}"
    return _Span(start, end, "quarter", label)


def _year_span(year: int) -> _Span:
    _check_year(year)
    return _Span(date(year, 1, 1), date(year, 12, 31), "year", str(year))


def _day_span(d: date, label: str) -> _Span:
    return _Span(d, d, "day", label)


def _fy_start_year(d: date) -> int:
    return d.year if d.month >= 4 else d.year - 1


def _relative_span(unit: str, offset: int, today: date) -> _Span:
    if unit == "week":
        return _week_span(today, offset)
    if unit == "month":
        first = _add_months(today.replace(day=1), offset)
        return _month_span(first.year, first.month)
    if unit == "quarter":
        index = today.year * 4 + (today.month - 1) // 3 + offset
        return _quarter_span(index // 4, index % 4 + 1)
    if unit == "year":
        return _year_span(today.year + offset)
    return _fy_span(_fy_start_year(today) + offset)


def _choose_year(
    make: Callable[[int], _Span], today: date, prefer: Prefer, pick: Callable[[_Span], date]
) -> _Span:
    """Pick the year for a year-less phrase: nearest one not in the past (or not in the future).

    ``make`` may raise ValueError for years where the date does not exist (29 February).
    """
    if prefer == "future":
        years = range(today.year - 1, today.year + 9)
    else:
        years = range(today.year + 1, today.year - 9, -1)
    for year in years:
        try:
            span = make(year)
        except ValueError:
            continue
        chosen = pick(span)
        if (chosen >= today) if prefer == "future" else (chosen <= today):
            return span
    raise _Reject("I couldn't place that in a year — please add the year.")


def _valid_date(year: int, month: int, day: int, shown: str, year_given: bool = True) -> date:
    """Build a date, or explain exactly what is wrong with it (officers fix typos faster)."""
    if not 1 <= month <= 12:
        if 1 <= day <= 12 and 13 <= month <= 31:
            swapped = f"{month}/{day}" + (f"/{year}" if year_given else "")
            raise _Reject(
                f"“{shown}” would be month {month}, which doesn't exist — I read dates day "
                f"first (DD/MM/YYYY). Did you mean {swapped}?"
            )
        raise _Reject(
            f"“{shown}” isn't a date: there is no month {month}. I read dates day first "
            f"(DD/MM/YYYY), e.g. 31/03/2027."
        )
    _check_year(year)
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        if month == 2 and day == 29:
            raise _Reject(f"29 February {year} isn't a date — {year} isn't a leap year.")
        raise _Reject(
            f"{day} {_MONTH_FULL[month - 1]} isn't a date — {_MONTH_FULL[month - 1]} "
            f"{year} has {last} days."
        )
    return date(year, month, day)


def _check_weekday(token: str | None, d: date) -> None:
    """A weekday typed alongside a date must agree with it, or one of the two is a typo."""
    if token and _WEEKDAY_NUM[token[:3]] != d.weekday():
        said = _DAY_FULL[_WEEKDAY_NUM[token[:3]]]
        raise _Reject(
            f"{format_date(d)} is a {_DAY_FULL[d.weekday()]}, not a {said} — which did you mean?"
        )


def _two_digit_year(token: str) -> int:
    token = token.lstrip("'")
    return 2000 + int(token) if len(token) == 2 else int(token)


def _count(token: str) -> int:
    token = token.strip()
    if token in _VAGUE_COUNTS:
        raise _Reject(f"“{token}” is too vague — how many exactly? e.g. in 3 weeks.")
    return int(token) if token.isdigit() else _COUNT_WORDS[token]


def _unit(token: str) -> str:
    """Canonical unit name: day, workday, week, fortnight, month, year or hour."""
    if token.startswith(("working", "business")):
        return "workday"
    for prefix, unit in (
        ("d", "day"),
        ("w", "week"),
        ("f", "fortnight"),
        ("mo", "month"),
        ("mt", "month"),
        ("y", "year"),
        ("h", "hour"),
    ):
        if token.startswith(prefix):
            return unit
    raise AssertionError(token)


def _shift(today: date, n: int, unit: str, cal: WorkingCalendar) -> date:
    """Move ``n`` units from today (``n`` may be negative); hours are handled by callers."""
    if unit == "day":
        return today + timedelta(days=n)
    if unit == "workday":
        return cal.add_working_days(today, n)
    if unit in ("week", "fortnight"):
        return today + timedelta(weeks=n * (2 if unit == "fortnight" else 1))
    if unit == "month":
        return _add_months(today, n)
    return _add_months(today, 12 * n)


def _plural(n: int, unit: str) -> str:
    name = "working day" if unit == "workday" else unit
    return f"{n} {name}{'' if n == 1 else 's'}"


# ---------------------------------------------------------------------------------------------
# Text clean-up
# ---------------------------------------------------------------------------------------------

_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": " ",
        "\u201d": " ",
        '"': " ",
        "\u2013": "-",
        "\u2014": "-",
        "\u00a0": " ",
        ",": " ",
        "(": " ",
        ")": " ",
        "[": " ",
        "]": " ",
    }
)
_PERCENT_RE = re.compile(r"\d\s*%|\bper\s?cent\b")
_LETTER_HYPHEN_RE = re.compile(r"(?<=[a-z])-(?=[a-z])")
_SPACES_RE = re.compile(r"\s+")
_FILLER_PREFIX_RE = re.compile(
    r"^(?:(?:approx|approximately|around|about|roughly|circa|hopefully|ideally)\.?\s)+"
)
_FILLER_SUFFIX_RE = re.compile(
    r"(?:\s(?:at the latest|latest|please|pls|tbc|tbd|approx|approximately|or so|ish"
    r"|hopefully|ideally|if possible))+$"
)
_TIME_SUFFIX_RE = re.compile(
    r"(?:\s(?:at|@|by|before))?\s(?:\d{1,2}(?::\d{2})?\s?(?:am|pm)|\d{1,2}:\d{2}|noon|midday"
    r"|midnight|eod|cob|close of (?:business|play)|end of (?:the )?day|end of play|first thing)$"
)
_EOD_PREFIX_RE = re.compile(
    r"^(?:eod|cob|close of (?:business|play)|end of (?:the )?day|end of play|first thing|noon"
    r"|midday|\d{1,2}(?::\d{2})?\s?(?:am|pm))"
    r"\s(?:on\s)?(?=\S)"
)
_DUE_PREFIX_RE = re.compile(
    r"^(?:(?:due(?: date)?|deadline|target|by|on|before|for|until|till|til|'til|to|at|is"
    r"|no later than|not later than|the):?\s)+"
)
_SINCE_PREFIX_RE = re.compile(r"^(?:(?:since|from|as of|after|starting(?: from)?):?\s)+")


def _normalise(text: str) -> str:
    """Lower-case, unify punctuation and spacing, and reject things that are plainly not dates."""
    if not text or not text.strip():
        raise _Reject("")  # replaced by a context-specific hint
    if len(text) > _MAX_TEXT_CHARS:
        raise _Reject("That's a long message — please send just the date part, e.g. 31/03/2027.")
    s = text.strip().lower().translate(_TRANSLATE)
    if _PERCENT_RE.search(s):
        raise _Reject(f"“{text.strip()}” looks like a percentage, not a date.")
    s = _LETTER_HYPHEN_RE.sub(" ", s)
    s = _SPACES_RE.sub(" ", s).strip(" .!?;:")
    return s


def _strip_fillers(s: str) -> str:
    """Drop politeness, hedges and times of day: a due date is a day, not a moment."""
    previous = None
    while previous != s:
        previous = s
        s = _FILLER_PREFIX_RE.sub("", s)
        s = _FILLER_SUFFIX_RE.sub("", s)
        s = _TIME_SUFFIX_RE.sub("", s)
        s = _EOD_PREFIX_RE.sub("", s)
        s = s.strip(" .!?;:")
    return s


def _reject_vague(s: str, shown: str) -> None:
    if s in _VAGUE_WORDS:
        raise _Reject(
            f"“{shown}” isn't a specific date — give the date you're aiming for, "
            f"e.g. next Friday, end of March or 31/03/2027."
        )
    if re.fullmatch(r"(?:the\s)?year\send|ye|y/e", s):
        raise _Reject(
            "“Year end” could mean 31 December or 31 March — say “end of the year” or "
            "“end of the financial year”."
        )
    if _SEASON_RE.fullmatch(s):
        raise _Reject(
            f"“{shown}” is too vague for a due date — try a month or quarter, e.g. "
            f"end of May 2027 or Q2 2027."
        )


# ---------------------------------------------------------------------------------------------
# Day-level phrases (shared by all three entry points)
# ---------------------------------------------------------------------------------------------

_KEYWORD_DAYS = {
    "today": (0, "today"),
    "tonight": (0, "today"),
    "this morning": (0, "today"),
    "this afternoon": (0, "today"),
    "eod": (0, "today, end of day"),
    "cob": (0, "today, close of business"),
    "end of day": (0, "today, end of day"),
    "end of the day": (0, "today, end of day"),
    "end of play": (0, "today, end of play"),
    "close of play": (0, "today, close of play"),
    "close of business": (0, "today, close of business"),
    "tomorrow": (1, "tomorrow"),
    "tmrw": (1, "tomorrow"),
    "tmw": (1, "tomorrow"),
    "tomorow": (1, "tomorrow"),
    "tommorow": (1, "tomorrow"),
    "tommorrow": (1, "tomorrow"),
    "day after tomorrow": (2, "the day after tomorrow"),
    "yesterday": (-1, "yesterday"),
    "day before yesterday": (-2, "the day before yesterday"),
}

_WD_PREFIX = rf"(?:(?P<wd>{_WEEKDAY_RE})\s(?:the\s)?)?"
_DAY_TOKEN = rf"(?:(?P<day>\d{{1,2}})(?:st|nd|rd|th)?|(?P<dayw>{_ORDINAL_RE}))"
_ISO_RE = re.compile(
    rf"{_WD_PREFIX}(?P<year>\d{{4}})(?P<sep>[-/.])(?P<month>\d{{1,2}})(?P=sep)(?P<day>\d{{1,2}})"
)
_DMY_RE = re.compile(
    rf"{_WD_PREFIX}(?P<day>\d{{1,2}})(?P<sep>[-/.])(?P<month>\d{{1,2}})(?P=sep)"
    rf"(?P<year>\d{{4}}|\d{{2}})"
)
_DM_RE = re.compile(rf"{_WD_PREFIX}(?P<day>\d{{1,2}})/(?P<month>\d{{1,2}})")
_WRITTEN_DMY_RE = re.compile(
    rf"{_WD_PREFIX}{_DAY_TOKEN}(?:\sof)?[\s-](?P<month>{_MONTH_RE})"
    rf"(?:[\s-](?P<year>\d{{4}}|'?\d{{2}}))?"
)
_WRITTEN_MDY_RE = re.compile(
    rf"{_WD_PREFIX}(?P<month>{_MONTH_RE})\s(?:the\s)?{_DAY_TOKEN}(?:\s(?P<year>\d{{4}}|'\d{{2}}))?"
)
_DAY_ONLY_RE = re.compile(
    rf"(?:on\s)?(?:the\s)?(?P<day>\d{{1,2}})(?:st|nd|rd|th)|(?:on\s)?the\s(?P<dayw>{_ORDINAL_RE})"
)
_WEEKDAY_PHRASE_RE = re.compile(
    rf"(?:(?P<rel>this coming|this|next|coming|last|on)\s)?(?P<wd>{_WEEKDAY_RE})"
    rf"(?:\s(?P<suffix>this week|next week|last week|week|after next))?"
)
_N_WEEKS_ON_RE = re.compile(
    rf"(?P<n>{_COUNT_RE})\s(?P<unit>weeks?|fortnights?)\s"
    rf"(?:(?P<kw>today|tomorrow)|on\s(?P<wd>{_WEEKDAY_RE}))"
)
_OFFSET_RE = re.compile(
    rf"(?:in\s)?(?:the\s)?(?P<n>{_COUNT_RE})\s(?P<unit>{_UNIT_RE})(?:'s|s'|')?"
    rf"(?:\s(?P<tail>time|from now|from today|later|away|ago|back|before))?"
)
_FORTNIGHT_RE = re.compile(r"(?:in\s)?(?:a\s)?fortnight(?:'s)?(?:\s(?:time|from now|from today))?")


def _ordinal_day(m: re.Match[str]) -> int:
    return int(m["day"]) if m["day"] else _ORDINAL_WORDS[m["dayw"]]


def _year_less_day(
    day: int, month: int, wd: str | None, today: date, prefer: Prefer, shown: str
) -> tuple[date, str]:
    """Resolve "31 March" to the next (or previous) 31 March, checking it exists at all."""
    if not 1 <= month <= 12:
        _valid_date(today.year, month, day, shown, year_given=False)  # explains the month
    if not 1 <= day <= (29 if month == 2 else calendar.monthrange(2001, month)[1]):
        raise _Reject(f"{day} {_MONTH_FULL[month - 1]} isn't a date.")
    span = _choose_year(
        lambda y: _day_span(date(y, month, day), ""), today, prefer, lambda sp: sp.start
    )
    _check_weekday(wd, span.start)
    which = "next" if prefer == "future" else "most recent"
    return span.start, f"the {which} {day} {_MONTH_FULL[month - 1]}, as no year was given"


def _match_numeric_date(s: str, today: date, prefer: Prefer) -> tuple[date, str] | None:
    if m := _ISO_RE.fullmatch(s):
        d = _valid_date(int(m["year"]), int(m["month"]), int(m["day"]), s)
        _check_weekday(m["wd"], d)
        return d, "as written (year-month-day)"
    if m := _DMY_RE.fullmatch(s):
        year = _two_digit_year(m["year"])
        day, month = int(m["day"]), int(m["month"])
        d = _valid_date(year, month, day, s)
        _check_weekday(m["wd"], d)
        if day <= 12 and month <= 12 and day != month:
            return d, f"read day first: {day} {_MONTH_FULL[month - 1]} {year}"
        return d, "as written"
    if m := _DM_RE.fullmatch(s):
        day, month = int(m["day"]), int(m["month"])
        if month > 12 and month == day + 1:
            raise _Reject(
                f"“{s}” isn't a date. For a financial year write it in full, "
                f"e.g. 20{day:02d}/{month:02d} or FY{day:02d}/{month:02d}."
            )
        d, note = _year_less_day(day, month, m["wd"], today, prefer, s)
        return d, f"read day first as {note}"
    return None


def _match_written_date(s: str, today: date, prefer: Prefer) -> tuple[date, str] | None:
    m = _WRITTEN_DMY_RE.fullmatch(s) or _WRITTEN_MDY_RE.fullmatch(s)
    if m is None:
        return None
    day, month = _ordinal_day(m), _MONTH_NUM[m["month"][:3]]
    if m["year"]:
        d = _valid_date(_two_digit_year(m["year"]), month, day, s)
        _check_weekday(m["wd"], d)
        return d, "as written"
    return _year_less_day(day, month, m["wd"], today, prefer, s)


def _match_day_only(s: str, today: date, prefer: Prefer) -> tuple[date, str] | None:
    """Resolve "the 15th" to the next (or last) month that actually has that day."""
    m = _DAY_ONLY_RE.fullmatch(s)
    if m is None:
        return None
    day = _ordinal_day(m)
    if not 1 <= day <= 31:
        raise _Reject(f"No month has a day {day}.")
    first = today.replace(day=1)
    step = 1 if prefer == "future" else -1
    for i in range(13):
        month = _add_months(first, i * step)
        if day <= calendar.monthrange(month.year, month.month)[1]:
            d = month.replace(day=day)
            if (d >= today) if prefer == "future" else (d <= today):
                which = "next" if prefer == "future" else "most recent"
                return d, f"the {which} {day}{_ordinal_suffix(day)} of the month"
    return None  # pragma: no cover - every 13-month run contains a fitting month


def _ordinal_suffix(n: int) -> str:
    if 11 <= n % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _match_weekday(s: str, today: date, prefer: Prefer) -> tuple[date, str] | None:
    if m := _N_WEEKS_ON_RE.fullmatch(s):
        weeks = _count(m["n"]) * (2 if m["unit"].startswith("f") else 1)
        if m["kw"]:
            base = today + timedelta(days=1 if m["kw"] == "tomorrow" else 0)
            return base + timedelta(weeks=weeks), f"{_plural(weeks, 'week')} from {m['kw']}"
        target = _WEEKDAY_NUM[m["wd"][:3]]
        coming = today + timedelta(days=(target - today.weekday()) % 7)
        note = f"{_plural(weeks, 'week')} after this coming {_DAY_FULL[target]}"
        return coming + timedelta(weeks=weeks), note
    m = _WEEKDAY_PHRASE_RE.fullmatch(s)
    if m is None:
        return None
    target = _WEEKDAY_NUM[m["wd"][:3]]
    name = _DAY_FULL[target]
    rel, suffix = m["rel"], m["suffix"]
    coming = today + timedelta(days=(target - today.weekday()) % 7)
    latest = today - timedelta(days=(today.weekday() - target) % 7)
    if suffix in ("week", "after next"):
        # UK usage: "Friday week" / "Friday after next" is a week after this coming Friday.
        return coming + timedelta(weeks=1), f"a week after this coming {name}"
    if rel == "last" or suffix == "last week":
        if suffix == "last week":
            d = _week_span(today, -1).start + timedelta(days=target)
            return d, f"{name} last week"
        d = latest if latest < today else latest - timedelta(weeks=1)
        return d, f"last {name}"
    if rel == "next" or suffix == "next week":
        # "Next Friday" is ambiguous in British English; we take Friday of next week (matching
        # "next week") and tell the officer how to ask for the other reading.
        d = _week_span(today, 1).start + timedelta(days=target)
        note = f"{name} next week"
        if d != coming:
            note += f"; say “this {name}” for {format_date(coming)}"
        return d, note
    if prefer == "past" and rel != "this coming" and rel != "coming":
        return latest, "today" if latest == today else f"the most recent {name}"
    return coming, "today" if coming == today else f"this coming {name}"


def _match_offset(
    s: str, now: datetime, today: date, cal: WorkingCalendar
) -> tuple[date, str] | None:
    if _FORTNIGHT_RE.fullmatch(s):
        return today + timedelta(weeks=2), "a fortnight from today"
    m = _OFFSET_RE.fullmatch(s)
    if m is None:
        return None
    n, unit = _count(m["n"]), _unit(m["unit"])
    sign = -1 if m["tail"] in ("ago", "back", "before") else 1
    if unit == "hour":
        d = (now.astimezone(UTC) + timedelta(hours=sign * n)).astimezone(LONDON).date()
    else:
        d = _shift(today, sign * n, unit, cal)
    direction = "ago" if sign < 0 else ("from now" if unit == "hour" else "from today")
    return d, f"{_plural(n, unit)} {direction}"


def _match_day(
    s: str, now: datetime, today: date, prefer: Prefer, cal: WorkingCalendar
) -> tuple[date, str] | None:
    """Any phrase naming a single day: keywords, dates, weekdays and offsets."""
    if s in _KEYWORD_DAYS:
        offset, note = _KEYWORD_DAYS[s]
        return today + timedelta(days=offset), note
    for matcher in (_match_numeric_date, _match_written_date, _match_day_only, _match_weekday):
        found = matcher(s, today, prefer)
        if found:
            return found
    return _match_offset(s, now, today, cal)


# ---------------------------------------------------------------------------------------------
# Period phrases: weeks, months, quarters, years, financial years
# ---------------------------------------------------------------------------------------------

_ANCHORED_RE = re.compile(
    rf"(?:the\s)?(?:(?P<anchor>{_ANCHOR_RE})(?:\sof)?\s)?(?:the\s)?(?P<rest>.+)"
)
_REL_PERIOD_RE = re.compile(
    r"(?:(?P<which>this|the|current|next|following|coming|last|previous|prev)\s)?"
    r"(?P<unit>week|month|quarter|qtr|year|financial year|fiscal year|fy)"
    r"(?:\s(?P<after>after next|but one))?"
)
_FY_END_RE = re.compile(
    r"(?:(?P<which>this|the|current|next|last)\s)?(?:financial|fiscal|fy)(?:\syear)?\send|fye"
)
_SHORT_ANCHORS = {"eow": "week", "eom": "month", "eoq": "quarter", "eoy": "year"}
_WHICH_OFFSET = {"next": 1, "following": 1, "coming": 1, "last": -1, "previous": -1, "prev": -1}

_Q = (
    r"(?:q\s?(?P<q>[1-4])|quarter\s(?P<qn>[1-4])"
    r"|(?P<qo>first|second|third|fourth|1st|2nd|3rd|4th)\squarter)"
)
_FY = (
    r"(?:(?P<fyp>fy|financial year|fiscal year)\s?)?(?P<fy1>\d{4}|\d{2})\s?[/-]\s?"
    r"(?P<fy2>\d{4}|\d{2})"
)
_FY_WORDS = r"(?:fy|financial year|fiscal year|financial|fiscal)"
# Python's re forbids repeating a group name, so "Q3 2026/27" and "2026/27 Q3" are two patterns.
_FY_QUARTER_RES = (
    re.compile(rf"{_Q}\s(?:of\s)?(?:the\s)?{_FY}(?:\s(?:financial year|fy))?"),
    re.compile(rf"{_FY}\s{_Q}"),
)
_FY_QUARTER_NO_YEAR_RE = re.compile(
    rf"(?P<pre>{_FY_WORDS}\s)?{_Q}(?P<post>\s(?:of\s)?(?:the\s)?(?:this\s)?{_FY_WORDS})?"
)
_CAL_QUARTER_RES = (
    re.compile(rf"{_Q}(?:[\s/-]*(?:of\s|in\s)?(?P<year>\d{{4}}|'?\d{{2}}))?"),
    re.compile(rf"(?P<year>\d{{4}})\s?{_Q}"),
)
_FY_RE = re.compile(rf"{_FY}(?:\s(?:financial year|fy))?")
_FY_AMBIGUOUS_RE = re.compile(r"fy\s?'?(?P<y>\d{2}|\d{4})")
_MONTH_YEAR_RE = re.compile(
    rf"(?:in\s)?(?P<month>{_MONTH_RE})(?:\s?[-'/]\s?(?P<y2>\d{{2}})|[\s-](?P<y4>\d{{4}}))?"
    rf"|(?P<mnum>\d{{1,2}})/(?P<y4n>\d{{4}})"
)
_YEAR_RE = re.compile(r"(?:(?:the\s)?year\s)?(?P<year>\d{4})")
_QUARTER_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4}


def _quarter_number(m: re.Match[str]) -> int:
    if m["q"]:
        return int(m["q"])
    if m["qn"]:
        return int(m["qn"])
    return _QUARTER_ORDINALS.get(m["qo"]) or int(m["qo"][0])


def _fy_start(m: re.Match[str]) -> int | None:
    """Start year of a written financial year, or None if the text isn't clearly one."""
    first, second = m["fy1"], m["fy2"]
    if m["fyp"] is None and len(first) == 2:
        return None  # "26/27" alone is too easily a mistyped date
    start = int(first) if len(first) == 4 else 2000 + int(first)
    end = int(second) if len(second) == 4 else start // 100 * 100 + int(second)
    if end != start + 1:
        raise _Reject(
            f"{first}/{second} isn't a financial year — UK financial years run April to March, "
            f"so write it like {_fy_name(start)}."
        )
    return start


def _relative_period(rest: str, today: date) -> _Span | None:
    if m := _FY_END_RE.fullmatch(rest):
        return _relative_span("fy", _WHICH_OFFSET.get(m["which"] or "", 0), today)
    m = _REL_PERIOD_RE.fullmatch(rest)
    if m is None:
        return None
    unit = m["unit"]
    unit = {"qtr": "quarter", "financial year": "fy", "fiscal year": "fy"}.get(unit, unit)
    offset = _WHICH_OFFSET.get(m["which"] or "", 0)
    if m["after"]:
        offset = 2 if offset >= 0 else -2
    return _relative_span(unit, offset, today)


def _named_period(
    rest: str, today: date, prefer: Prefer, pick: Callable[[_Span], date]
) -> _Span | None:
    """Months, quarters, financial years and years, resolving a missing year by preference."""
    span = _quarter_period(rest, today, prefer, pick) or _fy_period(rest)
    if span is None:
        span = _month_period(rest, today, prefer, pick)
    if span is None and (m := _YEAR_RE.fullmatch(rest)):
        span = _year_span(int(m["year"]))
    return span


def _quarter_period(
    rest: str, today: date, prefer: Prefer, pick: Callable[[_Span], date]
) -> _Span | None:
    """Financial quarters ("Q3 2026/27", "Q3 of the financial year"), then calendar ones."""
    for pattern in _FY_QUARTER_RES:
        if m := pattern.fullmatch(rest):
            start = _fy_start(m)
            if start is not None:
                return _fy_quarter_span(start, _quarter_number(m))
    if (m := _FY_QUARTER_NO_YEAR_RE.fullmatch(rest)) and (m["pre"] or m["post"]):
        q = _quarter_number(m)
        return _choose_year(lambda y: _fy_quarter_span(y, q), today, prefer, pick)
    for pattern in _CAL_QUARTER_RES:
        if m := pattern.fullmatch(rest):
            q = _quarter_number(m)
            if m["year"]:
                return _quarter_span(_two_digit_year(m["year"]), q)
            return _choose_year(partial(_quarter_span, q=q), today, prefer, pick)
    return None


def _fy_period(rest: str) -> _Span | None:
    """A whole financial year ("2026/27"); "FY27" alone is refused as ambiguous."""
    if m := _FY_RE.fullmatch(rest):
        start = _fy_start(m)
        if start is not None:
            return _fy_span(start)
    if m := _FY_AMBIGUOUS_RE.fullmatch(rest):
        y = _two_digit_year(m["y"])
        raise _Reject(
            f"“{rest.upper()}” is ambiguous — write the financial year in full, "
            f"e.g. {_fy_name(y - 1)} or {_fy_name(y)}."
        )
    return None


def _month_period(
    rest: str, today: date, prefer: Prefer, pick: Callable[[_Span], date]
) -> _Span | None:
    """A month, with or without its year ("March", "03/2027", "March 27")."""
    m = _MONTH_YEAR_RE.fullmatch(rest)
    if m is None:
        return None
    if m["mnum"]:
        month, year = int(m["mnum"]), int(m["y4n"])
        if not 1 <= month <= 12:
            raise _Reject(f"“{rest}” isn't a date: there is no month {month}.")
        return _month_span(year, month)
    month = _MONTH_NUM[m["month"][:3]]
    if m["y2"] or m["y4"]:
        return _month_span(_two_digit_year(m["y2"] or m["y4"]), month)
    return _choose_year(lambda y: _month_span(y, month), today, prefer, pick)


def _anchor(span: _Span, anchor: str | None, working: WorkingCalendar | None) -> tuple[date, str]:
    """Pick the day within a period that the officer means; periods default to their end.

    With a `working` calendar, a week lands on its first or last working day.
    """
    if span.kind == "day":
        return span.start, span.label
    if span.kind == "week" and working and anchor in (None, "end", "close", "start"):
        days = [span.start + timedelta(days=i) for i in range(5)]
        open_days = [d for d in days if working.is_working_day(d)] or days
        if anchor == "start":
            d, edge, where = open_days[0], days[0], "first working day"
        else:
            d, edge, where = open_days[-1], days[-1], "last working day"
        note = f"{where} of {span.label}"
        if d != edge:
            note += f"; {format_date(edge)} is {working.holiday(edge)}"
        return d, note
    if anchor in (None, "end", "close"):
        return span.end, f"end of {span.label}"
    if anchor in ("start", "beginning"):
        return span.start, f"start of {span.label}"
    if span.kind != "month":
        raise _Reject(
            f"“{anchor}” only works with a month (e.g. {anchor} March) — for a longer period "
            f"say “start of” or “end of”."
        )
    if anchor in ("mid", "middle"):
        return span.start.replace(day=15), f"mid {span.label}, read as the 15th"
    if anchor == "early":
        return span.start.replace(day=7), f"early {span.label}, read as the 7th"
    return span.end, f"late {span.label}, read as the last day"


def _match_period(
    s: str, today: date, prefer: Prefer, pick_for: Callable[[str | None], Callable[[_Span], date]]
) -> tuple[_Span, str | None, bool] | None:
    """Find a period phrase with an optional anchor ("end of", "mid", ...).

    Returns the span, the anchor and whether the span was relative to today ("next month")
    rather than named ("March"), because callers treat "this week" on a weekend specially.
    """
    if s in _SHORT_ANCHORS:
        return _relative_span(_SHORT_ANCHORS[s], 0, today), "end", True
    m = _ANCHORED_RE.fullmatch(s)
    if m is None:  # pragma: no cover - the pattern accepts any non-empty text
        return None
    anchor, rest = m["anchor"], m["rest"]
    if anchor == "close":
        anchor = "end"
    if anchor == "middle":
        anchor = "mid"
    span = _relative_period(rest, today)
    if span is not None:
        return span, anchor, True
    span = _named_period(rest, today, prefer, pick_for(anchor))
    if span is not None:
        return span, anchor, False
    return None


# ---------------------------------------------------------------------------------------------
# dateparser fallback
# ---------------------------------------------------------------------------------------------

_NUMBERISH_RE = re.compile(r"[\d\s.,:/'£$€+-]+")
_WORD_RE = re.compile(r"[a-z]+")
_NUMBER_OF_NUMBER_RE = re.compile(r"\d+\s(?:of|out of)\s\d+")


def _dateparser_parse(s: str, base: datetime, prefer: Prefer) -> datetime | None:
    """Call dateparser with UK settings; isolated so tests can prove the fast path skips it."""
    import dateparser  # lazy: importing and warming dateparser costs ~0.3 s

    settings = {
        "DATE_ORDER": "DMY",
        "PREFER_LOCALE_DATE_ORDER": False,
        "PREFER_DATES_FROM": prefer,
        "RELATIVE_BASE": base,
        "RETURN_AS_TIMEZONE_AWARE": False,
        # Without a day and a month, dateparser invents them ("2027" -> today's day in 2027).
        "REQUIRE_PARTS": ["day", "month"],
        # Timestamps and no-space digit runs turn ordinary numbers into dates.
        "PARSERS": ["relative-time", "absolute-time"],
    }
    return dateparser.parse(s, languages=["en"], settings=settings)


def _fallback(s: str, now: datetime, prefer: Prefer, examples: str) -> tuple[date, str]:
    """Last resort for written long-tail phrasings; guarded against dateparser's misreadings."""
    words = _WORD_RE.findall(s)
    noise = sum(len(w) for w in words if w not in _DATE_WORDS)
    if noise > _MAX_NOISE_CHARS:
        raise _Reject(
            f"There are a lot of words there that aren't a date — please send just the date, "
            f"e.g. {examples}."
        )
    if _NUMBERISH_RE.fullmatch(s):
        raise _Reject(
            f"“{s}” looks like a number rather than a date. Try a full date such as 03/02/2027 "
            f"or 3 Feb 2027, or one of: {examples}."
        )
    if not any(w in _DATEISH_WORDS for w in words) or _NUMBER_OF_NUMBER_RE.search(s):
        raise _Reject(f"I couldn't read “{s}” as a date. Try {examples}.")
    result = _dateparser_parse(s, now.replace(tzinfo=None), prefer)
    if result is None:
        raise _Reject(f"I couldn't read “{s}” as a date. Try {examples}.")
    _check_year(result.year)
    return result.date(), f"read loosely from “{s}” — please check"


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


def _due(text: str, now: datetime, today: date, cal: WorkingCalendar) -> tuple[date, str]:
    try:
        s = _normalise(text)
    except _Reject as exc:
        raise _Reject(exc.hint or f"Please give a due date, e.g. {_DUE_EXAMPLES}.") from None
    s = _strip_fillers(_DUE_PREFIX_RE.sub("", _strip_fillers(s)))
    if not s:
        raise _Reject(f"Please give a due date, e.g. {_DUE_EXAMPLES}.")
    _reject_vague(s, text.strip())

    found = _match_day(s, now, today, "future", cal)
    if found:
        return found

    def pick_for(anchor: str | None) -> Callable[[_Span], date]:
        return lambda span: _anchor(span, anchor, cal)[0]

    period = _match_period(s, today, "future", pick_for)
    if period:
        span, anchor, relative = period
        d, note = _anchor(span, anchor, cal)
        if span.kind == "week" and relative and d < today and span.start <= today <= span.end:
            # Typed at the weekend, "end of the week" means the coming one, not yesterday.
            d, note = _anchor(_week_span(today, 1), anchor, cal)
            note = f"this week's working days are over, so the {note}"
        return d, note
    return _fallback(s, now, "future", _DUE_EXAMPLES)


def parse_due_date(
    text: str, now: datetime, calendar: WorkingCalendar = ENGLAND_AND_WALES
) -> ParsedDate:
    """Read a due date the way a UK council officer means it.

    Future-preferring: a date with no year is the next one still to come. Dates in the past
    are returned with ``is_past=True`` rather than rejected, because officers do record work
    that is already overdue; the caller decides whether to warn.

    Week-based dates and working days skip `calendar`'s bank holidays (the council's region).
    Raises DateNotUnderstood (with a hint) rather than guessing when the text is not a date.
    """
    local = _local_now(now)
    today = local.date()
    try:
        value, note = _due(text, local, today, calendar)
        _check_year(value.year)
    except _Reject as exc:
        raise DateNotUnderstood(text, exc.hint) from None
    is_past = value < today
    if is_past:
        note += "; that date has already passed"
    return ParsedDate(value, f"{format_date(value)} ({note})", is_past)


_ROLLING_SINCE_RE = re.compile(
    rf"(?:(?P<lead>in|over|during|for|within)\s)?(?P<the>the\s)?"
    rf"(?P<dir>last|past|previous|prior)\s(?:(?P<n>{_COUNT_RE})\s)?(?P<unit>{_UNIT_RE})"
)
_AGO_RE = re.compile(rf"(?P<n>{_COUNT_RE})\s(?P<unit>{_UNIT_RE})\s(?:ago|back)")


def _midnight(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=LONDON)


def _since(text: str, now: datetime, today: date, cal: WorkingCalendar) -> datetime:
    try:
        s = _normalise(text)
    except _Reject as exc:
        raise _Reject(exc.hint or f"Since when? e.g. {_SINCE_EXAMPLES}.") from None
    s = _SINCE_PREFIX_RE.sub("", s)
    if not s:
        raise _Reject(f"Since when? e.g. {_SINCE_EXAMPLES}.")

    m = _ROLLING_SINCE_RE.fullmatch(s) or _AGO_RE.fullmatch(s)
    if m is not None:
        groups = m.groupdict()
        unit = _unit(m["unit"])
        rolling = (
            groups.get("dir") is None  # "3 days ago"
            or m["n"] is not None
            or groups.get("the") is not None
            or groups.get("lead") is not None
            or groups.get("dir") in ("past", "prior")
            or unit in ("day", "fortnight", "hour", "workday")
        )
        if rolling:
            n = _count(m["n"]) if m["n"] else 1
            if unit == "hour":
                return (now.astimezone(UTC) - timedelta(hours=n)).astimezone(LONDON)
            # Round down to midnight: a digest that repeats a few hours beats one that misses.
            return _midnight(_shift(today, -n, unit, cal))

    found = _match_day(s, now, today, "past", cal)
    if found is None:
        period = _match_period(s, today, "past", lambda anchor: lambda span: span.start)
        if period is not None:
            span, anchor, _ = period
            if anchor in (None, "start", "beginning"):
                found = span.start, ""
            else:
                found = _anchor(span, anchor, None)
    if found is None:
        found = _fallback(s, now, "past", _SINCE_EXAMPLES)
    d = found[0]
    _check_year(d.year)
    if d > today:
        raise _Reject(
            f"{format_date(d)} is in the future, so nothing can have changed since then yet."
        )
    return _midnight(d)


def parse_since(
    text: str, now: datetime, calendar: WorkingCalendar = ENGLAND_AND_WALES
) -> datetime:
    """Start of the period meant in "what changed since ...?" questions.

    Past-preferring, the opposite of due dates: "since 1 November" asked in October means last
    November. Calendar periods start at local midnight ("this week" is Monday 00:00); rolling
    ones ("the last 7 days") round down to midnight so a digest never misses a change.
    Returns an aware Europe/London datetime.
    """
    local = _local_now(now)
    try:
        return _since(text, local, local.date(), calendar)
    except _Reject as exc:
        raise DateNotUnderstood(text, exc.hint) from None


_ROLLING_WINDOW_RE = re.compile(
    rf"(?:(?P<lead>in|within|over|during|for)\s)?(?P<the>the\s)?"
    rf"(?:(?P<dir>next|coming|following)\s)?(?:(?P<n>{_COUNT_RE})\s)?(?P<unit>{_UNIT_RE})"
)
_BY_RE = re.compile(
    r"(?:by|before|until|till|til|'til|up to|up until|no later than|not later than|ending)"
    r"\s(?P<rest>.+)"
)
_BETWEEN_RE = re.compile(r"(?:between|from)\s(?P<a>.+?)\s(?:and|to|until|till|-)\s(?P<b>.+)")
_WINDOW_PREFIX_RE = re.compile(r"^(?:(?:due|in|during|for|over|within|across|on):?\s)+")


def _window_span(
    s: str, now: datetime, today: date, cal: WorkingCalendar
) -> tuple[date, date] | None:
    """A single phrase as a whole period ("March" is 1–31 March) or a single day."""
    s = _WINDOW_PREFIX_RE.sub("", s) or s
    period = _match_period(s, today, "future", lambda anchor: lambda span: span.end)
    if period is not None:
        span, anchor, _ = period
        if anchor is None:
            return span.start, span.end
        d = _anchor(span, anchor, cal)[0]
        return d, d
    found = _match_day(s, now, today, "future", cal)
    if found is not None:
        return found[0], found[0]
    return None


def _window(text: str, now: datetime, today: date, cal: WorkingCalendar) -> tuple[date, date]:
    try:
        s = _normalise(text)
    except _Reject as exc:
        raise _Reject(exc.hint or f"Due when? e.g. {_WINDOW_EXAMPLES}.") from None
    s = _strip_fillers(s)
    if s.startswith("due "):
        s = s[4:]

    if m := _BY_RE.fullmatch(s):
        end = _due(m["rest"], now, today, cal)[0]
        if end < today:
            raise _Reject(f"{format_date(end)} has already passed — try {_WINDOW_EXAMPLES}.")
        return today, end
    if m := _BETWEEN_RE.fullmatch(s):
        first, second = _window_span(m["a"], now, today, cal), _window_span(m["b"], now, today, cal)
        if first and second:
            if first[0] > second[1]:
                raise _Reject(
                    f"{format_date(first[0])} is after {format_date(second[1])} — "
                    f"put the earlier date first."
                )
            return first[0], second[1]

    if m := _ROLLING_WINDOW_RE.fullmatch(s):
        unit = _unit(m["unit"])
        # "next week" alone is the calendar week; "the next week"/"within a week" are rolling.
        calendar_unit = unit in ("week", "month", "year") and not (m["n"] or m["the"] or m["lead"])
        if not calendar_unit and (m["n"] or m["dir"] or m["the"] or m["lead"]):
            n = _count(m["n"]) if m["n"] else 1
            if unit == "hour":
                end = (now.astimezone(UTC) + timedelta(hours=n)).astimezone(LONDON).date()
            else:
                end = _shift(today, n, unit, cal)
            return today, end

    found = _window_span(s, now, today, cal)
    if found is not None:
        return found
    raise _Reject(f"I couldn't read “{text.strip()}” as a time window. Try {_WINDOW_EXAMPLES}.")


def parse_window(
    text: str, now: datetime, calendar: WorkingCalendar = ENGLAND_AND_WALES
) -> tuple[date, date]:
    """Inclusive (start, end) dates for "what's due ...?" questions.

    Rolling phrases ("the next 14 days", "within a month") and "by ..." phrases run from today;
    named periods ("this week", "next month", "this quarter", "March") cover the whole calendar
    period so anything already overdue within it is still shown. Quarters are calendar
    quarters unless a financial year is written.
    """
    local = _local_now(now)
    try:
        return _window(text, local, local.date(), calendar)
    except _Reject as exc:
        raise DateNotUnderstood(text, exc.hint) from None
