"""The reader: what an officer's message means, found in stages instead of by racing regexes.

Officers do not learn a syntax: they type `2.2 amber still, 45% - testing delayed`,
`4.1 slipping to end of May, contractor ill` or `@channel the thin client rollout 80%`.
The reader works in four explicit steps, each a plain function with one job:

1. `normalise`   case-insensitive cleaning: chat mention markup and leading mentions,
                 missing apostrophes ("whats" -> "what's"), polite filler ("can you tell
                 me", "please"), so the rest of the bot sees one spelling;
2. references    objective ids, then titles and parts of titles (any word order,
                 plurals, acronyms, aliases and the built-in synonyms in `resolve`);
3. fields        statuses (qualifiers such as still/now/back/gone, RAG words, one-edit
                 typos in the leading position), percentages anywhere, dates after the
                 verbs officers use (due, deadline, go-live, moved, slipped, extended...),
                 relative moves (`back 3 weeks`), and the leftover text as the note;
4. intent        every candidate intent gets a score; ties are settled by `PRECEDENCE`,
                 the one place that says which reading wins.

Changes are then applied by `handlers.updates.apply_reading`, which keeps the permission
check and the single-transaction write. Everything else goes to the command table in
`handlers.router`, tried in its explicit `ROUTE_ORDER`.

The hard rule (issue 10): a change never hides a field. Every status word, percentage and
date phrase in a message taken as a change is either applied or listed in the reply as
*not applied*, with the exact message that would apply it; a value that is clearly wrong
(`1e3%`, `-5%`, `150 percent`) or a date phrase that cannot be read refuses the whole
message, leaving the store untouched. Status words inside the note ("survey complete")
are never applied: only a status in the leading run of fields, or one introduced by a
qualifier ("now amber", "gone red", "still at risk"), sets the status.

Cost: a handful of compiled regexes and at most one rapidfuzz pass over the objective
titles (a few dozen strings), so reading is independent of how many updates are stored.
"""

from __future__ import annotations

import functools
import re
from calendar import monthrange
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TypeVar

from rapidfuzz.distance import OSA

from handlers.context import Context
from handlers.resolve import NUMBER_WORDS, WORK_NOUNS, _stem, find_objective_in_text, fold, known
from tracker.dates import DateNotUnderstood, ParsedDate, format_date, parse_due_date
from tracker.model import STATUS_SYNONYMS, Objective, Status

R = TypeVar("R")

# --- 1. normalise ------------------------------------------------------------------------
_LEADING_MENTION = re.compile(
    r"^(?:\s*(?:@[\w.\-]+(?:\s+(?:bot|tracker)\b)?|<[@!#][^>]*>|<at>[^<]{0,80}</at>)[\s,:]*)+",
    re.IGNORECASE,
)
_APOSTROPHES = {
    "whats": "what's",
    "wheres": "where's",
    "hows": "how's",
    "whens": "when's",
    "whos": "who's",
    "thats": "that's",
    "isnt": "isn't",
    "wont": "won't",
    "cant": "can't",
    "didnt": "didn't",
    "doesnt": "doesn't",
    "im": "I'm",
    "waht": "what",
    "whta": "what",
    "hwo": "how",
    "staus": "status",
    "stauts": "status",
    "satus": "status",
    "upate": "update",
    "udpate": "update",
    "thx": "thanks",
    "wats": "what's",
    "wat": "what",
    "overdeu": "overdue",
    "ovedue": "overdue",
    "overdu": "overdue",
    "statsu": "status",
    "upcomming": "upcoming",
    "deadine": "deadline",
}
_APOSTROPHE_RE = re.compile(r"\b(" + "|".join(_APOSTROPHES) + r")\b", re.IGNORECASE)
_FILLER_START = re.compile(
    r"^(?:(?:hi|hello|hey|morning|afternoon|good\s+(?:morning|afternoon)|ok|okay|so|right)"
    r"(?:\s+(?:all|team|everyone|folks|both|guys|there))?\b[\s,!]*)?"
    r"(?:(?:can|could|would)\s+(?:you|someone|anyone|somebody)\s+(?:please\s+)?(?:tell\s+me|"
    r"let\s+me\s+know|show\s+me|give\s+me)\s+|(?:does\s+anyone|do\s+you)\s+know\s+|"
    r"please\s+|pls\s+|plz\s+|quick\s+(?:q|question)[:,]?\s+|just\s+)*",
    re.IGNORECASE,
)
_FILLER_END = re.compile(r"[\s,]+(?:please|pls|plz|thanks|thank\s+you|ta|cheers)[\s.!]*$", re.I)
_FILLER_END_WORDS = ("please", "pls", "plz", "thanks", "you", "ta", "cheers")


_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
         "seventy": 70, "eighty": 80, "ninety": 90}  # fmt: skip
_UNITS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
          "eight": 8, "nine": 9, "ten": 10, "fifteen": 15}  # fmt: skip
_WORD_PERCENT = re.compile(
    r"\b(?:(?P<hundred>(?:a|one)\s+hundred)|(?P<tens>" + "|".join(_TENS) + r")"
    r"(?:[\s-](?P<unit>" + "|".join(list(_UNITS)[:9]) + r"))?|(?P<small>" + "|".join(_UNITS) + r"))"
    r"(?=\s*(?:%|percent\b|per\s*cent\b))",
    re.IGNORECASE,
)
_RISK_STATUS = re.compile(
    r"^\s*(?:(?:status|details|info)\s+(?:of|on|for)?\s*)?(r\d{1,3})\s*(?:status|details|info|score)?\s*\??\s*$",
    re.IGNORECASE,
)  # "R2 status", "status of R2": the risk's card
# RAG emoji as Slack writes them (`:red_circle:`) or as typed (🔴): the colour's word
# (blue, BRAG's complete: achieved).
_RAG_EMOJI = {
    "red": r":(?:large_)?red_circle:|🔴",
    "amber": r":(?:large_)?(?:orange|yellow)_circle:|🟠|🟡",
    "green": r":(?:large_)?green_circle:|🟢",
    "achieved": r":(?:large_)?blue_circle:|🔵",  # blue: complete, as the bot's own replies show it
}
_RAG_EMOJI_RE = re.compile("|".join(f"(?P<{k}>{v})" for k, v in _RAG_EMOJI.items()))
_IDIOMS = re.compile(r"\bdone\s+(?:and|&|n)\s+dusted\b", re.IGNORECASE)


# A bare figure straight after the word "progress" is a percentage ("progress 85",
# "progress: 85", "progress now at 85"), unless something follows that it counts ("85 sites").
_PROGRESS_FIGURE = re.compile(
    r"(?P<lead>\bprogress(?:\s*[:=-]\s*|\s+(?:is\s+|now\s+|currently\s+){0,2}(?:at\s+)?))"
    r"(?P<n>\d{1,3})(?=\s*(?:$|[,;.!)\-–—]|\s(?:and|but|with|as|so)\b))",
    re.IGNORECASE,
)


# A RAG rating given as a letter or as blue (BRAG's "complete"): "RAG: A", "RAG status G",
# "RAG blue". Capital letters only, so "rag a" in passing is not a rating.
_RAG_RATING = re.compile(
    r"(?P<lead>\b(?i:rag|b?rag\s+status|rating)\s*(?:[:=-]\s*|(?i:is|now)\s+)?)"
    r"(?P<c>[RAGB]|(?i:blue))\b(?![’'.]\w)"
)
_RAG_WORDS = {"r": "red", "a": "amber", "g": "green", "b": "achieved", "blue": "achieved"}


def _number(match: re.Match[str]) -> str:
    if match.group("hundred"):
        return "100"
    if match.group("small"):
        return str(_UNITS[match.group("small").lower()])
    unit = match.group("unit")
    return str(_TENS[match.group("tens").lower()] + (_UNITS[unit.lower()] if unit else 0))


_RAG_TWICE = re.compile(r"\b(red|amber|green)\s+\1,", re.IGNORECASE)


_WORD_BEFORE_PERCENT = re.compile(r"[^\W\d_]\s*%")  # a letter, then "%": "ninety %"


def normalise(text: str) -> str:
    """One spelling for the rest of the bot; the officer's own text stays in the audit.

    Percentages in words become figures ("ninety percent" -> "90 percent"), so a
    percentage is never left unread in the note."""
    # Runs of spaces first: several patterns below try each split of a long run, which
    # costs seconds at 12,000 spaces (the FrontDoor collapses them already; this keeps
    # normalise linear for any caller).
    # Each pattern below runs only when the text holds what it needs (a word it must find,
    # a "%" or a ","): most messages need few of them, and each costs a pass over the text.
    text = " ".join(text.split())
    text = _LEADING_MENTION.sub("", text)
    folded = text.casefold()
    if "per" in folded or _WORD_BEFORE_PERCENT.search(text):
        text = _WORD_PERCENT.sub(_number, text)  # a word right before "%", or "percent"
    if "progress" in folded:
        text = _PROGRESS_FIGURE.sub(r"\g<lead>\g<n>%", text)  # "progress now at 85": 85%
    if "rag" in folded or "rating" in folded:
        text = _RAG_RATING.sub(lambda m: m.group("lead") + _RAG_WORDS[m.group("c").lower()], text)
    if "dusted" in folded:
        text = _IDIOMS.sub("done", text)
    if ":" in text or not text.isascii():
        text = _RAG_EMOJI_RE.sub(lambda m: f" {m.lastgroup}, ", text)  # status, not "red tape"
    if "," in text:
        text = _RAG_TWICE.sub(r"\1,", text)
    text = _RISK_STATUS.sub(r"show \1", text)
    text = _APOSTROPHE_RE.sub(lambda m: _APOSTROPHES[m.group(1).lower()], text)
    previous = None
    while previous != text:
        previous = text
        text = _FILLER_START.sub("", text.strip())
        if text.rstrip(" .!").casefold().endswith(_FILLER_END_WORDS):
            text = _FILLER_END.sub("", text)
    return " ".join(text.split())


# Named periods officers use that have one meaning; "year end" and "Easter" do not (the
# date reader refuses them with what to write instead).
_NAMED_DAYS = re.compile(r"\b(?:christmas(?:\s+day)?|xmas)\b", re.IGNORECASE)


def read_named_periods(text: str) -> tuple[str, list[str]]:
    """`before Christmas` -> `before 25 December`, with the line that says how it was read."""
    found = _NAMED_DAYS.search(text)
    if not found:
        return text, []
    said = f"I read “{found.group(0)}” as 25 December."
    return _NAMED_DAYS.sub("25 December", text), [said]


# --- 3. fields -----------------------------------------------------------------------------
OID_RE = re.compile(r"(?<![\w./])(?:objective\s+|obj\s+|#)?(\d{1,2}\.\d{1,3})(?![\w/%]|\.\d)", re.I)
_NUMBER = r"[-+−]?\d+(?:[.,]\d+)?(?:e[-+]?\d+)?"
PERCENT_RE = re.compile(
    r"(?<![\w.])(?:(?:approx(?:imately|\.)?|about|around|roughly|circa|nearly|almost|c\.|ca\.|~|"
    r"just\s+(?:over|under))\s*)?"
    # "90ish%", "90%-ish", "90% ish": about 90, as "about 90%" is (single spaces: bounded)
    rf"(?P<num>{_NUMBER})(?:\s?-?\s?ish)?\s*(?:%|pct\b|pc\b|percent\b|per\s*cent\b)(?:\s?-?\s?ish\b)?"
    r"(?:\s+(?P<suffix>complete|completed|done|through|finished|there|in|achieved))?",
    re.IGNORECASE,
)
_QUALIFIER_WORDS = (
    r"is|are|was|now|still|currently|remains?|remaining|stays?|staying|back|gone|going|"
    r"moved|moving|turned|turning|went|status|rag|rated|rating|showing|set|to|as|mark|marked|"
    r"should\s+be|has\s+gone|have\s+gone|is\s+now"
)
_QUALIFIER_WORD = rf"(?:(?:{_QUALIFIER_WORDS})\s+|(?:status|rag)\s*[:=-]\s*)"
# Everyday phrases the reader also takes as statuses, beside the model's synonyms.
_SYNONYMS = {
    **STATUS_SYNONYMS,
    "on target": Status.ON_TRACK,
    "back on target": Status.ON_TRACK,
    "ahead of schedule": Status.ON_TRACK,
    "behind schedule": Status.AT_RISK,
    "running behind": Status.AT_RISK,
}
_STATUS_WORDS = sorted(_SYNONYMS, key=len, reverse=True)
_STATUS_RE = re.compile(
    r"(?<![\w-])(" + "|".join(re.escape(w) for w in _STATUS_WORDS) + r")(?![\w-])", re.I
)
_INTRO_STATUS = re.compile(
    r"(?<![\w-])(?:now|still|remains?|gone|going|back\s+to|back|moved\s+to|turned|status|"
    r"rag|rated|should\s+be)\s+(?:is\s+|to\s+|at\s+|as\s+)?("
    + "|".join(re.escape(w) for w in _STATUS_WORDS)
    + r")(?![\w-])",
    re.IGNORECASE,
)
DATE_VERBS = (
    r"due(?:\s+date)?|dead?l[ie]{1,2}ne?|dealine|deadlien|target(?:\s+date)?|go[\s-]?live|golive|completion(?:\s+date)?|"
    r"end\s+date|new\s+date|revised(?:\s+date)?|moved|moving|move|push(?:ed)?|slipp(?:ed|ing)|"
    r"slip|extended|extend|extension|deferred|delayed|rescheduled|put\s+back"
)
_GLUE = (
    r"is|now|date|back|out|forward|on|again|be|been|being|has|have|had|was|will|should|"
    r"changed|revised|moved|extended|pushed|agreed|set|completion|go[\s-]?live|for|of|the|"
    r"still|slipped|slipping|slid|delayed|put\s+back"
)
DATE_RE = re.compile(
    rf"(?<![\w-])(?P<verb>(?:new\s+|revised\s+)?(?:{DATE_VERBS}))\b"
    rf"(?:\s*(?:(?:{_GLUE})\b|[:=-](?!\d)))*"
    r"\s*(?P<prep>to|until|till|til|into|by|at|as|from)?\b\s*"
    r"(?P<date>[^,;()]+)",
    re.IGNORECASE,
)
_CLAUSE_END = re.compile(
    r"\s+(?:-|–|—)\s+|\.\s+|\s+(?:because|as|due\s+to|after|since|while|but|and|so|with|"
    r"following|pending|waiting|awaiting|cos|coz|owing)\b|"
    # a comma ends the date unless a year or a day and month follow ("Thursday, 12 March"):
    # "12 March, 45 percent" must never be read as 12 March 2045
    r"\s*\|\s*|[,;:]\s*(?!\d{4}\b|\d{1,2}(?:st|nd|rd|th)?\s+[a-z]{3})|"
    r"\s+(?=[a-z]+\s+(?:due|deadline)\b)",  # "12 March licences due 4 Dec": another date
    re.IGNORECASE,
)
_UNIT_DAYS = {"day": 1, "week": 7, "fortnight": 14}
RELATIVE_RE = re.compile(
    r"(?<![\w-])(?P<dir>back|forward|out|on|later|earlier|by|\+|another|a\s+further|further|"
    r"an\s+extra|extra)?\s*(?:by\s+)?"
    r"(?P<n>\d{1,2}|a|an|one|two|three|four|five|six|seven|eight|nine|ten|couple\s+of|"
    r"a\s+couple\s+of|another)[\s-]+(?P<unit>day|week|fortnight|month)s?"
    r"(?:\s+(?P<after>back|later|forward|earlier|out|delay|slip|slippage|extension))?"
    r"(?![\w-])(?!\s+of\b)",  # "another 2 weeks of testing" is a note
    re.IGNORECASE,
)
_RELATIVE_AMOUNT = re.compile(
    r"(?:by\s+)?(?:\d{1,2}|a|an|one|two|three|four|five|six|seven|eight|nine|ten|"
    r"(?:a\s+)?couple\s+of)\s+(?:more\s+|extra\s+|further\s+)?(?:day|week|fortnight|month)s?\b"
    r"(?!\s+(?:from|after|before|time))",
    re.IGNORECASE,
)
_RELATIVE_VERB = re.compile(
    r"(?<![\w-])(?:push(?:ed)?|move[ds]?|moving|slip(?:ped|s)?|slipping|delay(?:ed)?|"
    r"extend(?:ed)?|put|bring|brought|pull(?:ed)?)\b",
    re.IGNORECASE,
)
_DATEISH = re.compile(
    r"\b(?:\d{1,2}[/.-]\d{1,2}(?:[/.-]\d{2,4})?|\d{4}-\d{2}-\d{2}|q[1-4]|20\d\d/\d\d|"
    r"(?:in|by|to|until|till|end\s+of)\s+20\d\d|"
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|monday|tuesday|wednesday|"
    r"thursday|friday|christmas|xmas|easter|year\s+end|financial\s+year|next\s+week|"
    r"next\s+month|next\s+year|this\s+year|sometime|half[\s-]term|end\s+of\s+\w+|tomorrow)\b",
    re.IGNORECASE,
)
_TYPO_TARGETS = [w for w in _STATUS_WORDS if len(w.replace(" ", "")) >= 5]
_NOT_TYPOS = {
    "gone",
    "going",
    "none",
    "dine",
    "down",
    "dong",
    "later",
    "bound",
    "behold",
    "competed",
    "completes",
    "delay",
    "delays",
    "paid",
    "reed",
    "read",
    "greet",
    "greens",
}
_CONNECTIVE = re.compile(
    r"^(?:(?:(?:and|but|so|also|plus|with|note|notes|comment|comments|update|progress|re|"
    r"please|status|by|to|as|at|is|cos|because|then|yet|again|overall)(?=[\s:;,.!?]|$)|"
    # "still achievable" keeps its meaning; a dangling "still," or "now -" is a leftover
    r"(?:now|still|currently)(?=\s*(?:[:;,.!?\-–—]|$))|"
    r"(?:-+>|=>|→|=|-|–|—|:|;|,|\.|!|\?|\||/|\)|\])(?![\w]))\s*)+",
    re.IGNORECASE,
)
UPDATE_VERB = re.compile(
    # "report on 3.2: ..." reports progress; "report for scrutiny" asks for the committee report
    r"^(?:update|progress|report(?!\s+(?:for|to)\b)|status\s+update|progress\s+update|quick\s+update|"
    r"latest|news)\s*(?:on|for|re|about)?\b\s*(?::|-|–)?\s*",
    re.IGNORECASE,
)


@dataclass
class Field:
    """One thing the reader took from the text, with where it stood."""

    kind: str  # status | progress | due | move
    text: str
    start: int
    end: int
    value: object = None


@dataclass
class Reading:
    """What one message says, before anything is written."""

    text: str
    objective: Objective | None = None
    candidates: list[Objective] = field(default_factory=list)
    ref_text: str = ""
    ref_end: int = 0
    explicit_verb: bool = False
    other_command: bool = False  # the text names another command ("history", "risks"...)
    status: Status | None = None
    progress: int | None = None
    due: ParsedDate | None = None
    move: tuple[int, str] | None = None
    fields: list[Field] = field(default_factory=list)
    not_applied: list[tuple[str, str]] = field(default_factory=list)  # (words, how to apply)
    problem: str | None = None
    ask: bool = False
    problem_lines: list[str] = field(default_factory=list)
    note: str | None = None
    intent: str = "route"

    def ask_back(self, problem: str, *lines: str) -> None:
        """Ask instead of recording: what is unclear, and the exact message(s) to send."""
        self.problem = problem
        self.problem_lines = list(lines)
        self.ask = True

    @property
    def has_change(self) -> bool:
        return any(
            v is not None for v in (self.status, self.progress, self.due, self.move)
        ) or bool(self.note)


def _percent(raw: str) -> float | None:
    cleaned = raw.replace("−", "-").replace(",", ".")
    if "e" in cleaned.lower() or cleaned.startswith(("+", "-")):
        return None
    try:
        return float(cleaned)
    except ValueError:
        return None


def _cached_when_short(function: Callable[[str], R]) -> Callable[[str], R]:
    """Remember answers for short texts (words, clauses: they recur from message to
    message); a long one is worked out each time, so the cache stays small (a few
    hundred KB) however long the messages people send."""
    cached = functools.lru_cache(maxsize=2048)(function)

    @functools.wraps(function)
    def call(text: str) -> R:
        return cached(text) if len(text) <= 64 else function(text)

    return call


@_cached_when_short
def _typo_status(word_text: str) -> Status | None:
    """A status word within one edit (insert, delete, swap, replace): 'compelte', 'ambre'."""
    folded = word_text.lower()
    if len(folded.replace(" ", "")) < 4 or folded in _NOT_TYPOS:
        return None
    for target in _TYPO_TARGETS:
        if abs(len(target) - len(folded)) <= 1 and OSA.distance(folded, target) <= 1:
            return _SYNONYMS[target]
    return None


_QUALIFIER_WORD_RE = re.compile(_QUALIFIER_WORD, re.IGNORECASE)
_ONE_OR_TWO_WORDS = re.compile(r"([a-z]+)(\s+[a-z]+)?", re.IGNORECASE)


@_cached_when_short
def _leading_status(rest: str) -> tuple[Status, int, int] | None:
    """A status at the start of `rest` (after qualifiers), exact or one edit away."""
    offset = 0
    while True:
        exact = _STATUS_RE.match(rest, offset)
        if exact:
            return _SYNONYMS[exact.group(1).lower()], offset, exact.end()
        qualifier = _QUALIFIER_WORD_RE.match(rest, offset)
        if not qualifier:
            break
        offset = qualifier.end()
    tail = rest[offset:]
    words = _ONE_OR_TWO_WORDS.match(tail)
    if not words:
        return None
    if words.group(2):
        pair = " ".join(words.group(0).lower().split())
        for target in _TYPO_TARGETS:
            if " " in target and OSA.distance(pair, target) <= 1 and pair not in _NOT_TYPOS:
                return _SYNONYMS[target], offset, offset + words.end()
    one = _typo_status(words.group(1))
    if one:
        return one, offset, offset + words.end(1)
    return None


_GAP_WORDS = re.compile(
    r"[\s,;:.\-–—/|!()&=>→]+|\b(?:and|but|is|are|now|still|currently|progress|remains?|at|it's|"
    rf"its|it|we're|we|with|status|rag|new|revised|overall|the|has|have|been|as|to|be|"
    rf"{_QUALIFIER_WORDS})\b",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(r"[,;:.!?|]\s|\s[-–—|]\s|[,;:|]$")


# Words that name what a field is about ("CRM build 50%", "3.2 deadline extended by 2 weeks").
_DATE_NOUNS = frozenset(
    {"deadline", "date", "target", "go", "live", "golive", "completion", "timescale", "timescales"}
)


_PUNCTUATION = re.compile(r"[,;:.\-–—|]")


def _placed(body: str, ref_start: int, ref_end: int, pos: int, title: str = "") -> bool:
    """Is a field at `pos` where officers put fields: before the reference (the command
    words), in the run of fields right after it, or at the start of its own clause?
    Anywhere else ("VPN licences due 4 Dec", "cut by 30%") it is part of the note."""
    if pos < ref_start:
        return True
    gap = PERCENT_RE.sub(" ", body[ref_end:pos])
    gap = _STATUS_RE.sub(" ", gap)
    unnamed = _GAP_WORDS.sub(" ", gap).split()
    if not unnamed:
        return True
    naming = set(fold(title).split()) | WORK_NOUNS | _DATE_NOUNS
    left = [w for w in unnamed if fold(w) not in naming]
    if not left:
        return True
    rest = " ".join(_PUNCTUATION.sub(" ", PERCENT_RE.sub(" ", body[ref_end:pos])).split())
    typo = _leading_status(rest) if len(rest.split()) <= 3 else None
    if typo and not rest[typo[2] :].strip():
        return True
    typo_left = " ".join(unnamed)  # "CRM | of track | now 45%": only a misspelt status between
    typo = _leading_status(typo_left) if len(unnamed) <= 3 else None
    if typo and typo[2] == len(typo_left):
        return True
    last = 0
    for sep in _SEPARATOR.finditer(body, ref_end, pos):
        last = sep.end()
    clause = body[max(last, ref_end) : pos] if last else ""
    return bool(last) and not _GAP_WORDS.sub(" ", clause).strip()


def _date_span(text: str, start: int) -> tuple[int, int]:
    """The date phrase from `start` to the end of its clause."""
    tail = text[start:]
    stop = _CLAUSE_END.search(tail)
    end = start + (stop.start() if stop else len(tail))
    while end > start and text[end - 1] in " .!?":
        end -= 1
    return start, end


_DATE_END = re.compile(
    r"(?:\d{4}|\d{1,2}(?:st|nd|rd|th)|q[1-4]|20\d\d(?:/\d\d)?|\d{1,2}/\d{1,2}(?:/\d{2,4})?|"
    r"jan\w*|feb\w*|mar\w*|apr\w*|may|jun\w*|jul\w*|aug\w*|sep\w*|oct\w*|nov\w*|dec\w*|"
    r"\w+day|week|weeks|month|months|year|years|quarter|fortnight|tomorrow|today|easter|"
    r"christmas|xmas|term|end)[.,]?",
    re.IGNORECASE,
)


_WORD = re.compile(r"\S+")


def _read_date(text: str, start: int, end: int, ctx: Context) -> tuple[ParsedDate, int] | None:
    """The longest prefix of text[start:end] that the date reader accepts.

    Only prefixes ending in a word a date can end with are tried (at most two), because
    each attempt may reach dateparser, which costs a millisecond or more.
    """
    words = list(_WORD.finditer(text, start, end))
    tried = 0
    for count in range(len(words), 0, -1):
        if count < len(words) and not _DATE_END.fullmatch(words[count - 1].group(0)):
            continue
        tried += 1
        if tried > 2:
            break
        stop = words[count - 1].end()
        try:
            return parse_due_date(text[start:stop].strip(" ,.;:"), ctx.now, ctx.calendar), stop
        except DateNotUnderstood:
            continue
    return None


def _add_months(d: date, months: int) -> date:
    month = d.month - 1 + months
    year, month = d.year + month // 12, month % 12 + 1
    return date(year, month, min(d.day, monthrange(year, month)[1]))


def moved_date(due: date, n: int, unit: str) -> date:
    """`due` moved by n units (negative n brings it forward)."""
    if unit == "month":
        return _add_months(due, n)
    return due + timedelta(days=n * _UNIT_DAYS[unit])


def _count(raw: str) -> int:
    raw = raw.lower()
    if raw.isdigit():
        return int(raw)
    if "couple" in raw:
        return 2
    return {"a": 1, "an": 1, **NUMBER_WORDS}.get(raw, 1)


class _Spans:
    """Which characters of the body have been taken as fields (the rest is the note)."""

    def __init__(self, size: int) -> None:
        self.taken = bytearray(size)  # 1 where taken

    def take(self, start: int, end: int) -> None:
        if end > start:
            self.taken[start:end] = b"\x01" * (end - start)

    def free(self, start: int, end: int) -> bool:
        return self.taken.find(1, start, end) == -1

    def free_runs(self) -> Iterator[tuple[int, int]]:
        """(start, end) of each run of characters nobody took."""
        for run in _FREE_RUN.finditer(self.taken):
            yield run.start(), run.end()


_FREE_RUN = re.compile(rb"\x00+")


def _apply_hint(oid: str, what: str, value: str) -> str:
    return {
        "status": f"update {oid} {value}",
        "progress": f"update {oid} {value}",
        "due": f"{oid} due {value}",
    }[what]


@dataclass
class _Scan:
    """One message's body being read: where the reference stands and what is taken."""

    body: str
    ctx: Context
    ref_start: int
    ref_end: int
    oid: str
    title: str
    spans: _Spans

    def placed(self, pos: int) -> bool:
        return _placed(self.body, self.ref_start, self.ref_end, pos, self.title)

    def still_due(self, reading: Reading) -> str:
        due = reading.objective.due if reading.objective else None
        return f"{self.oid} is still due {format_date(due) if due else 'with no date'}."


_TITLE_ECHO = re.compile(r"\s*(?:\([^()%\d]{1,60}\)|\[[^\[\]%\d]{1,60}\])")


_DASH_ECHO = re.compile(r"\s*(?:[-–—:]\s*)(?P<title>[^-–—:,;%\d]{3,80}?)\s*(?=\s[-–—]\s|:)")


def _dash_echo(reading: Reading, body: str, ref_end: int) -> re.Match[str] | None:
    """`Objective 3.2 – Thin client rollout – 65%`: the title repeated after the id."""
    echo = _DASH_ECHO.match(body, ref_end)
    if not echo or reading.objective is None:
        return None
    if _leading_status(echo.group("title")):
        return None  # "4.3 - of track - 45%": a (misspelt) status, not the title again
    small = {"of", "the", "and", "for", "to", "on", "in", "a", "an", "with", "out"}
    title = set(fold(reading.objective.title).split()) - small
    said = set(fold(echo.group("title")).split()) - small
    return echo if said and len(said & title) >= max(1, len(said) - 1) else None


def read_fields(reading: Reading, body: str, ctx: Context, ref_start: int, ref_end: int) -> None:
    """Fill status, progress, due date, move and note; the reference is body[ref_start:ref_end].

    Fields are looked for everywhere; the status only right after the reference (or after
    a qualifier); words before the reference ("Hi all, update on objective") are preamble,
    never the note. Each step stops the reading when it sets a problem.
    """
    scan = _Scan(
        body,
        ctx,
        ref_start,
        ref_end,
        reading.objective.id if reading.objective else "3.2",
        reading.objective.title if reading.objective else "",
        _Spans(len(body)),
    )
    echo = _TITLE_ECHO.match(body, ref_end) or _dash_echo(reading, body, ref_end)
    if echo:  # "1.1 (EDRMS) on track 60%": the brackets name the objective again
        ref_end = scan.ref_end = echo.end()
    scan.spans.take(ref_start, ref_end)
    for step in (_ask_bare_number, _ask_percent_range, _read_percentages, _read_dates):
        step(reading, scan)
        if reading.problem:
            return
    if reading.due is None:
        _read_move(reading, scan)
    _read_status(reading, body, scan.spans, ref_end)
    if reading.problem:
        return
    _status_from_move(reading, scan.oid)
    prefix_words = [(m.group(0), m.start()) for m in _STATUS_RE.finditer(body[:ref_start])]
    if _prefix_status(reading, scan, prefix_words):
        # "survey complete on 3.2, moving on": the words before are the officer's note.
        tail = _PREFIX_TAIL.search(body[:ref_start])
        scan.spans.take(tail.start() if tail else 0, ref_start)
    else:
        scan.spans.take(0, ref_start)
    _note(reading, body, scan.spans, scan.oid)
    _exact_date_hints(reading, scan)
    _ask_if_note_ends_in_status(reading, scan.oid)


_BARE_NUMBER = re.compile(r"[\s:,\-–—]*(\d{1,3})[\s.!]*")


def _ask_bare_number(reading: Reading, scan: _Scan) -> None:
    """`3.2 40` or `update 3.2 - 40`: probably a percentage, but asked, never guessed."""
    bare = _BARE_NUMBER.fullmatch(scan.body, scan.ref_end)
    if bare and not scan.body[: scan.ref_start].strip(" :,-"):
        reading.ask_back(
            f"Did you mean {bare.group(1)}%? Say `update {scan.oid} {bare.group(1)}%` to record it."
        )


_PERCENT_RANGE = re.compile(r"\b(\d{1,3})\s*(?:-|–|to)\s*(\d{1,3})\s*(?:%|percent)", re.I)


def _ask_percent_range(reading: Reading, scan: _Scan) -> None:
    """`60-70%` is two figures: asked back."""
    rng = _PERCENT_RANGE.search(scan.body)
    if rng:
        reading.ask_back(
            f"Is {scan.oid} at {rng.group(1)}% or {rng.group(2)}%? Send one figure, e.g. "
            f"`update {scan.oid} {rng.group(2)}%`."
        )


_PERCENT_OF = re.compile(
    r"\s+(?:of(?!\s+track)|over|under|more|less|cheaper|up|down|higher|lower)\b", re.IGNORECASE
)


_WAS_PERCENT = re.compile(
    r"(?:(?:up|down)\s+)?(?:from\s+(?P<old>\d{1,3}\s*%)\s+(?:to|->|→|=>)|"
    r"(?P<old2>\d{1,3}\s*%)\s*(?:->|→|=>))\s*(?P<new>\d{1,3}\s*%)|"
    r"(?P<new2>\d{1,3}\s*%)\s*[(,]?\s*(?:was|previously|(?:up\s+|down\s+)?from)\s+"
    r"(?P<old3>\d{1,3}\s*%)\)?",
    re.IGNORECASE,
)


def _read_percentages(reading: Reading, scan: _Scan) -> None:
    """Percentages anywhere; only one placed as a field is the progress (others are note).

    A clearly wrong value (`1e3%`, `-5%`, `150 percent`) refuses the message; two
    different placed values are asked back.
    """
    values: list[tuple[float, re.Match[str]]] = []
    # "from 60% to 65%", "65% (was 60%)": two % signs at least
    was = (
        _WAS_PERCENT.search(scan.body, scan.ref_end)
        if scan.body.count("%", scan.ref_end) > 1
        else None
    )
    old = next((g for g in ("old", "old2", "old3") if was and was.group(g)), None)
    was_at = was.start(old) if was and old else -1
    for match in PERCENT_RE.finditer(scan.body):
        if was and match.start() == was_at:
            # "from 70% to 75%", "65% (was 60%)": the old figure, part of the field
            taken = (
                (was.start(), was.start("new")) if old != "old3" else (was.end("new2"), was.end())
            )
            scan.spans.take(*taken)
            continue
        value = _percent(match.group("num"))
        anchor = (
            was.start()
            if was and old != "old3" and match.start() == was.start("new")
            else match.start()
        )
        placed = scan.placed(anchor) and not _PERCENT_OF.match(scan.body, match.end())
        if not placed and value is not None and 0 <= value <= 100:
            shown = match.group(0).strip()
            reading.not_applied.append((f"“{shown}”", f"update {scan.oid} {shown}"))
            continue
        if value is None or not 0 <= value <= 100:
            reading.problem = (
                f"Progress must be between 0% and 100%; you wrote “{match.group(0).strip()}”. "
                f"Send it again as e.g. `update {scan.oid} 40%`."
            )
            return
        values.append((value, match))
    if not values:
        return
    first_value, first = values[0]
    if len({round(v) for v, _ in values}) > 1:
        shown = " and ".join(m.group(0).strip() for _, m in values)
        reading.ask_back(
            f"I found more than one percentage ({shown}), so I don't know which is the "
            f"progress. Send one, e.g. `update {scan.oid} {round(first_value)}%`."
        )
        return
    reading.progress = round(first_value)
    suffix = (first.group("suffix") or "").lower()
    if reading.progress == 100 and suffix in ("achieved", "complete", "completed", "done"):
        reading.status = Status.ACHIEVED
    for _, match in values:
        scan.spans.take(match.start(), match.end())
    reading.fields.append(Field("progress", first.group(0), first.start(), first.end()))


_STARTS_DATEISH = re.compile(
    r"(?!\d{1,3}\s*(?:%|pc\b|percent|per\s*cent))(?:\d|q[1-4]\b|next|this|end|start|mid|early|late|in\b|the\s+end|sometime|"
    r"after|before|half|xmas|christmas|easter|year|tomorrow|today|"
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri)[a-z]*\b)",
    re.IGNORECASE,
)
_STRONG_DATE_VERB = re.compile(r"(?:new\s+)?(?:due|dead|target|go|completion|end)", re.I)
_YEAR_END = re.compile(r"\byear[\s-]?end\b", re.IGNORECASE)
_WHICH_YEAR = re.compile(r"financial|calendar", re.IGNORECASE)
_TO_NEXT = re.compile(r"\s*to\b", re.IGNORECASE)
_TIME_WORD = re.compile(r"\b(?:in|next|end|week|month|quarter|year|today|tomorrow)\b", re.I)


def _read_dates(reading: Reading, scan: _Scan) -> None:
    """Dates after the verbs officers use (due, deadline, go-live, moved, extended...)."""
    position = 0
    while match := DATE_RE.search(scan.body, position):
        _read_date_phrase(reading, scan, match)
        if reading.problem:
            return
        position = match.end("verb")  # "slipping at 45% target date 31/05/27": the next verb


def _refuse_date(reading: Reading, scan: _Scan, shown: str) -> None:
    """A date phrase the date reader cannot read refuses the message, with its hint."""
    try:
        parse_due_date(shown, scan.ctx.now, scan.ctx.calendar)
        hint = ""
    except DateNotUnderstood as error:
        hint = error.hint
    reading.problem = f"I couldn't read “{shown}” as a date."
    reading.problem_lines = [hint, scan.still_due(reading)]


_FROM_TO = re.compile(r"\s+(?:to|until|till)\s+", re.IGNORECASE)
_PAST_DATE = re.compile(
    r"\b(?:was|were|originally|previously|formerly)\s+(?:originally\s+|previously\s+)?$",
    re.IGNORECASE,
)


def _read_date_phrase(reading: Reading, scan: _Scan, match: re.Match[str]) -> None:
    """One verb + date phrase: applied, named as not applied, or the message refused."""
    body, verb = scan.body, match.group("verb").lower()
    if not scan.spans.free(match.start("verb"), match.end("verb")):
        return
    reason = verb.startswith("due") and _TO_NEXT.match(body, match.end("verb"))
    if reason and not _DATEISH.search(match.group("date")):
        return  # "due to supplier delays" is a reason, not a date
    start, end = _date_span(body, match.start("date"))
    if start >= end or _RELATIVE_AMOUNT.match(body[start:end]):
        return
    if (match.group("prep") or "").lower() == "from":
        new = _FROM_TO.search(body, start, end)  # "moved from 29 Jan to 26 Feb": the new one
        start = new.end() if new else start
    starts_dateish = bool(_STARTS_DATEISH.match(body[start:end].strip()))
    if _PAST_DATE.search(body, 0, match.start("verb")):
        starts_dateish = False  # "was due end of March": the old date, named, never applied
    leading = not body[scan.ref_end : match.start("verb")].strip(" ,:;-–")
    insists = leading and bool(_STRONG_DATE_VERB.match(verb))
    # Each _read_date may reach dateparser (a millisecond or more): only where needed.
    if insists and not starts_dateish and _read_date(body, start, end, scan.ctx) is None:
        _refuse_date(reading, scan, body[start:end].strip())
        return
    if not scan.placed(match.start("verb")) or not starts_dateish:
        _name_unplaced_date(reading, scan, match, (start, end), starts_dateish)
        return
    if _YEAR_END.search(body[start:end]) and not _WHICH_YEAR.search(body, start, end):
        reading.problem = f"Which year end do you mean for {scan.oid}?"
        reading.problem_lines = [
            f"Say `{scan.oid} due end of the financial year` (31 March) or "
            f"`{scan.oid} due end of December`."
        ]
        return
    found = _read_date(body, start, end, scan.ctx)
    if found is None:
        if (_DATEISH.search(body[start:end]) and verb not in ("now", "move", "moving")) or insists:
            _refuse_date(reading, scan, body[start:end].strip())
        return
    _take_date(reading, scan, match, *found)


def _name_unplaced_date(
    reading: Reading, scan: _Scan, match: re.Match[str], span: tuple[int, int], dateish: bool
) -> None:
    """A date phrase that is not a field ("VPN licences due 4 Dec") is named, not applied."""
    body, (start, end) = scan.body, span
    if not dateish and DATE_RE.search(body, match.end("verb"), end):
        return  # a later verb in the phrase reads its own date
    if _DATEISH.search(body[start:end]):
        shown = " ".join(body[match.start("verb") : end].split())
        found = _read_date(body, start, end, scan.ctx) if dateish else None
        when = format_date(found[0].value) if found else "<date>"
        reading.not_applied.append((f"“{shown}”", f"{scan.oid} due {when}"))


def _take_date(
    reading: Reading, scan: _Scan, match: re.Match[str], parsed: ParsedDate, stop: int
) -> None:
    body, verb = scan.body, match.group("verb").lower()
    start = match.start("date")
    if (
        verb == "now"
        and stop < _date_span(body, start)[1]
        and not _DATEISH.search(body[start:stop])
    ):
        return
    if not _DATEISH.search(body[start:stop]) and not _TIME_WORD.search(body[start:stop]):
        return
    if reading.due is not None and parsed.value != reading.due.value:
        reading.problem = (
            f"I found two dates ({format_date(reading.due.value)} and "
            f"{format_date(parsed.value)}), so I don't know which is the due date. "
            f"Send one, e.g. `{scan.oid} due {format_date(parsed.value)}`."
        )
        return
    reading.due = parsed
    verb_start = match.start("verb")
    # "slipping to end of May" both sets the status and moves the date.
    if verb in ("slipping", "slipped", "delayed", "deferred"):
        verb_start = match.start("prep") if match.group("prep") else start
    scan.spans.take(verb_start, stop)
    shown = " ".join(body[verb_start:stop].split())
    reading.fields.append(Field("due", shown, verb_start, stop))


_DATE_NOUN_BEFORE = re.compile(
    r"\b(?:the\s+)?(?:deadline|due\s+date|go[\s-]?live(?:\s+date)?|target(?:\s+date)?|"
    r"end\s+date|completion(?:\s+date)?|timescales?)\s+(?:has\s+been\s+|have\s+been\s+|is\s+|"
    r"was\s+|being\s+)?$",
    re.IGNORECASE,
)


def _read_move(reading: Reading, scan: _Scan) -> None:
    """Relative moves of the current due date: "back 3 weeks", "forward a month"."""
    body = scan.body
    folded = body.casefold()
    if not any(unit in folded for unit in ("day", "week", "fortnight", "month")):
        return  # every move names its unit
    for match in RELATIVE_RE.finditer(body):
        direction = (match.group("dir") or match.group("after") or "").lower()
        begin = match.start("dir") if match.group("dir") else match.start("n")
        verb = _RELATIVE_VERB.search(body[:begin])
        if not verb and direction in ("", "by"):
            continue
        if not scan.spans.free(begin, match.end()):
            continue
        if not scan.placed(verb.start() if verb else begin):
            shown, n, unit = (
                body[begin : match.end()],
                _count(match.group("n")),
                match.group("unit"),
            )
            how = f"push {scan.oid} back {n} {unit.lower()}{'s' * (n != 1)}"
            reading.not_applied.append((f"“{shown}”", how))
            continue
        n = _count(match.group("n"))
        if direction in ("forward", "earlier") or (
            verb and verb.group(0).lower().startswith(("bring", "brought", "pull"))
        ):
            n = -n
        reading.move = (n, match.group("unit").lower())
        start = verb.start() if verb and verb.start() >= begin - 30 else begin
        if verb and not scan.spans.free(verb.start(), verb.end()):
            start = begin
        noun = _DATE_NOUN_BEFORE.search(body, 0, start)
        if noun and scan.spans.free(noun.start(), start):
            start = noun.start()  # "deadline extended by 2 weeks": all of it is the field
        scan.spans.take(start, match.end())
        reading.fields.append(Field("move", body[start : match.end()], start, match.end()))
        return


def _status_from_move(reading: Reading, oid: str) -> None:
    """`3.2 slipping by a month`, `4.3 delayed 6 weeks`: the verb is a status word too.

    Read like `slipping to end of May`: the status is set unless the message gave its
    own, in which case the verb is named as not applied (never dropped silently)."""
    move = next((f for f in reading.fields if f.kind == "move"), None)
    word = _STATUS_RE.search(move.text) if move else None
    if word is None:
        return
    status = _SYNONYMS[word.group(1).lower()]
    if reading.status is None:
        reading.status = status
    elif reading.status is not status:
        reading.not_applied.append((f"“{word.group(1)}”", f"update {oid} {status.value}"))


def _ask_if_note_ends_in_status(reading: Reading, oid: str) -> None:
    """`3.2 network complete`: is 3.2 complete, or the network? Asked, never guessed."""
    if any(v is not None for v in (reading.status, reading.progress, reading.due, reading.move)):
        return
    note = reading.note or ""
    ends = _STATUS_RE.search(note)
    if reading.explicit_verb or not ends or len(note.split()) > 4:
        return
    if ends.end() != len(note.rstrip(".!")):
        return
    status = _SYNONYMS[ends.group(1).lower()]
    reading.ask_back(
        f"Is {oid} itself {status.value}, or is that just a note?",
        f"To set the status say `update {oid} {status.value}: {note}`; "
        f"to keep it as a note only say `update {oid} note: {note}`.",
    )


_PREFIX_TAIL = re.compile(
    r"(?:[\s:,;\-–—]+|\b(?:on|for|re|about|with|to|of|in|objective|obj|update|progress)\b)*$",
    re.IGNORECASE,
)


def _prefix_status(reading: Reading, scan: _Scan, prefix_words: list[tuple[str, int]]) -> bool:
    """A status standing alone before the reference (`amber 2.2 48%`, `RED - 2.4 ...`) is
    applied when no other was given. True when other status words stand before it: those
    words are the officer's note (where `_note` names them as not applied)."""
    prefix = UPDATE_VERB.sub("", scan.body[: scan.ref_start])
    alone = not _GAP_WORDS.sub(" ", _STATUS_RE.sub(" ", prefix)).strip()
    if reading.status is None and len(prefix_words) == 1 and alone:
        word, at = prefix_words[0]
        reading.status = _SYNONYMS[word.lower()]
        reading.fields.append(Field("status", word, at, at + len(word), reading.status))
        return False
    return any(_SYNONYMS[word.lower()] is not reading.status for word, _ in prefix_words)


_SKIP = re.compile(
    r"[\s,;:.\-–—/|!()&=>→]+|(?:and|but|is|are|now|still|currently|progress|remains?|at|it's|all|"
    r"its|it|we're|we|are|with|status|rag|note)\b",
    re.I,
)
_NOT_A_LEADING_RAG = re.compile(
    r"(?:red|amber|green)\s+(?!(?:still|now|again|status|rag|at|"
    r"with|and|but|as|because|since|so|due|for|though|overall|"
    r"today|this|but|pending|awaiting|waiting|until|till|to|"
    r"after|from|[-–—]|\d))[a-z]",
    re.I,
)


def _read_status(reading: Reading, body: str, spans: _Spans, position: int) -> None:
    """Status: in the leading run of fields, or introduced by a qualifier anywhere."""
    _leading_status_run(reading, body, spans, position)
    if reading.problem or reading.status is not None:
        return
    _introduced_status(reading, body, spans)
    if reading.status is None:
        _status_clause(reading, body, spans, position)
    if reading.status is None and reading.due is not None:
        _status_verb_before_date(reading, body, spans)


_CLAUSE = re.compile(r"(?:^|[,;|]|\s[-–—]\s)\s*([^,;|]+?)\s*(?=$|[,;:|.!]|\s[-–—]\s)")


def _status_clause(reading: Reading, body: str, spans: _Spans, position: int) -> None:
    """A status that is a whole clause of its own (`3.2 waiting on legal; amber; 45%`,
    `CRM | of track | 45%`) is a field wherever the clause stands."""
    for clause in _CLAUSE.finditer(body, position):
        words = clause.group(1)
        if not spans.free(clause.start(1), clause.end(1)) or len(words.split()) > 4:
            continue
        found = _leading_status(words)
        if found and found[2] == len(words) and not _not_yet(body, clause.start(1), clause.end(1)):
            reading.status = found[0]
            spans.take(clause.start(1), clause.end(1))
            reading.fields.append(
                Field("status", words, clause.start(1), clause.end(1), reading.status)
            )
            return


def _leading_status_run(reading: Reading, body: str, spans: _Spans, position: int) -> None:
    """Walk the run of fields right after the reference; a status there is applied."""
    pending = position
    while position < len(body):
        chunk = body[position:]
        skip = _SKIP.match(chunk)
        if (
            skip
            and skip.end()
            # A status (or the qualifier before one) starts with a letter: anything else
            # is skipped without trying them.
            and (not chunk[0].isalpha() or not (_STATUS_RE.match(chunk) or _leading_status(chunk)))
        ):
            position += skip.end()
            continue
        if not spans.free(position, position + 1):
            spans.take(pending, position)
            while position < len(body) and not spans.free(position, position + 1):
                position += 1
            pending = position
            continue
        found = _leading_status(chunk) if reading.status is None else None
        if found and _NOT_A_LEADING_RAG.match(chunk[found[1] :]):
            found = None  # "green light from CMT", "red tape": not the status
        if found and _not_yet(body, position + found[1], position + found[2]):
            found = None  # "should be done by Friday": a forecast, left in the note
        if not found:
            return
        status, _, end = found
        if _ask_two_statuses(reading, status, chunk, end):
            return
        reading.status = status
        spans.take(pending, position + end)
        pending = position + end
        reading.fields.append(Field("status", chunk[:end], position, position + end, status))
        position += end


_OR_AND_TO = re.compile(r"[\s/,&]*(?:or\s+|and\s+|to\s+)?")


def _ask_two_statuses(reading: Reading, status: Status, chunk: str, end: int) -> bool:
    """`amber/red`, `on track or at risk`: two statuses side by side are asked back."""
    other = _OR_AND_TO.match(chunk, end)
    second = _STATUS_RE.match(chunk, other.end() if other else end)
    if not second or _SYNONYMS[second.group(1).lower()] is status:
        return False
    reading.ask_back(
        f"Is it {status.value} or {_SYNONYMS[second.group(1).lower()].value}?",
        "Send one status, e.g. `update 3.2 at risk`.",
    )
    return True


_FORECAST_BEFORE = re.compile(
    r"\b(?:should|will|would|could|might|must|hope(?:fully)?|expect(?:ed|ing)?|aim(?:ing)?|"
    r"plan(?:ned|ning)?|going|on\s+course|likely|due|want|need)\s+(?:to\s+)?(?:be\s+|get\s+)?"
    r"(?:fully\s+)?$",
    re.IGNORECASE,
)
_FORECAST_AFTER = re.compile(
    r"\s*(?:by|before|in\s+(?:the\s+)?(?:next|new|spring|summer|autumn|winter|\d)|within|"
    r"next|this\s+(?:week|month|year|quarter))\b",
    re.IGNORECASE,
)
_EXCEPT_AFTER = re.compile(
    r"\s*(?:apart\s+from|except(?:\s+for)?|other\s+than|bar|barring|but\s+for|save\s+for|"
    r"minus|excluding)\b",
    re.IGNORECASE,
)
_DONE_STATUSES = {Status.ACHIEVED, Status.PARTLY_ACHIEVED}


def _not_yet(body: str, start: int, end: int) -> bool:
    """Is the status word at body[start:end] a forecast or a partial claim, not the status?

    "should be done by Friday", "will be complete by March", "complete by end of May",
    "complete apart from police access": reading any of these as *achieved* would record
    the wrong thing, so the word stays in the note (and is named as not applied)."""
    if _FORECAST_BEFORE.search(body, 0, start):
        return True
    status = _SYNONYMS.get(" ".join(body[start:end].lower().split()))
    if status not in _DONE_STATUSES:
        return False
    return bool(_FORECAST_AFTER.match(body, end) or _EXCEPT_AFTER.match(body, end))


_CLAUSE_BREAK_BEFORE = re.compile(r"(?:[,;:.!?]|\s[-–—]|\band)\s*$")
_SLIPPED = re.compile(r"\b(slipping|slipped|delayed|deferred)\b", re.I)
_UNTIL = re.compile(r"\s+(?:to|until|till)\b", re.I)


def _introduced_status(reading: Reading, body: str, spans: _Spans) -> None:
    """A status introduced by a qualifier at the start of a clause: `..., now amber`."""
    for match in _INTRO_STATUS.finditer(body):
        clause_start = not body[: match.start()].strip() or _CLAUSE_BREAK_BEFORE.search(
            body, 0, match.start()
        )
        if _not_yet(body, match.start(1), match.end(1)):
            continue
        if spans.free(match.start(), match.end()) and clause_start:
            reading.status = _SYNONYMS[match.group(1).lower()]
            spans.take(match.start(), match.end())
            reading.fields.append(
                Field("status", match.group(0), match.start(), match.end(), reading.status)
            )
            return


def _status_verb_before_date(reading: Reading, body: str, spans: _Spans) -> None:
    """A status word used as the verb before a date ("slipping to end of May")."""
    for match in _SLIPPED.finditer(body):
        if spans.free(match.start(), match.end()) and _UNTIL.match(body, match.end()):
            word = match.group(1).lower()
            reading.status = _SYNONYMS.get(word, Status.AT_RISK)
            spans.take(match.start(), match.end())
            reading.fields.append(Field("status", word, match.start(), match.end(), reading.status))
            return


_AROUND_DATE = r"(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?)?{word}(?:\s+\d{{4}})?"


_A_DAY = re.compile(r"\w+day|tomorrow", re.IGNORECASE)


def _exact_date_hints(reading: Reading, scan: _Scan) -> None:
    """`3.4 due …` becomes `3.4 due Fri 15 Jan 2027` where the words can be read: the
    reply then gives the exact message that would apply the date, not a template."""
    for i, (words, how) in enumerate(reading.not_applied):
        if not how.endswith((" due …", " due <date>")):
            continue
        for match in _DATEISH.finditer(words):
            around = re.search(_AROUND_DATE.format(word=re.escape(match.group(0))), words)
            phrase = around.group(0) if around else match.group(0)
            if _A_DAY.fullmatch(phrase):
                continue  # "from Monday": which Monday is for the officer to say
            try:
                parsed = parse_due_date(phrase, scan.ctx.now, scan.ctx.calendar)
            except DateNotUnderstood:
                continue
            reading.not_applied[i] = (words, f"{scan.oid} due {format_date(parsed.value)}")
            break


_CLAUSES = re.compile(r"\s*[,;|.]\s*|\s+[-–—]\s+")


def _note(reading: Reading, body: str, spans: _Spans, oid: str) -> None:
    pieces = [body[start:end].strip() for start, end in spans.free_runs()]
    note = " ".join(p for p in pieces if p)
    note = _tidy_note(note)
    reading.note = note or None
    if not note:
        return
    # Field words left in the note are named, never applied silently.
    for match in _STATUS_RE.finditer(note):
        word = match.group(1)
        status = _SYNONYMS[word.lower()]
        if reading.status is None or reading.status is not status:
            reading.not_applied.append((f"“{word}”", _apply_hint(oid, "status", status.value)))
    for clause in _CLAUSES.split(note):
        typo = _leading_status(clause) if 1 <= len(clause.split()) <= 2 else None
        if typo and typo[2] == len(clause) and not _STATUS_RE.fullmatch(clause):
            # "...; of track; ..." in a later clause: a misspelt status, named
            reading.not_applied.append((f"“{clause}”", _apply_hint(oid, "status", typo[0].value)))
    for match in list(_DATEISH.finditer(note))[:3]:
        if any(match.group(0).lower() in words.lower() for words, _ in reading.not_applied):
            continue
        around = re.search(_AROUND_DATE.format(word=re.escape(match.group(0))), note)
        shown = around.group(0) if around else match.group(0)
        reading.not_applied.append((f"“{shown}”", f"{oid} due …"))


_TRAILING = re.compile(
    r"[\s,;:\-–—/|(\[→]+$|^[\s?!.,;:()\[\]]+$|^(?:for|of|on|in|the|with|from|and|to)$",
    re.IGNORECASE,
)
_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]")


_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([,;:.!?])")
_PUNCTUATION_RUN = re.compile(r"([,;:])(?:\s*[,;:])+")
_DANGLING_WORD = re.compile(
    r"(?:^|[\s,;:\-–—/|]+)(?:and|but|so|with|to|by|at|is|now|still|please|pls|thanks)$", re.I
)
_CLOSING_EMOJI = re.compile(r":[\w+-]+:$")


def _tidy_note(note: str) -> str:
    """No orphaned punctuation or connectives at the start, none dangling at the end."""
    note = _BRACKETS.sub("", note)
    note = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", note)
    note = _PUNCTUATION_RUN.sub(r"\1", note)
    previous = None
    while previous != note:
        previous = note
        note = _CONNECTIVE.sub("", note).strip()
        note = _DANGLING_WORD.sub("", note)
        if not _CLOSING_EMOJI.search(note):  # keep a closing :emoji: whole
            note = _TRAILING.sub("", note)
    if note.endswith(".") and not note.endswith(".."):
        note = note[:-1]  # a closing full stop, not an ellipsis
    return note.strip()


# --- 2. references + 4. intent -------------------------------------------------------------
_QUESTION_START = re.compile(
    r"^(?:what|what's|whats|when|when's|where|where's|who|who's|which|why|how|how's|is|are|"
    r"was|were|does|do|did|has|have|any|anything|show|list|tell|give|status\s+of|"
    r"history|summary|overview|owner\s+of|details)\b",
    re.IGNORECASE,
)
_OTHER_COMMANDS = re.compile(
    r"^(?:assign|give|hand|reassign|add|new|create|log|raise|close|undo|revert|help|subscribe|make|"
    r"follow|unsubscribe|unfollow|stop|set\s+(?:the\s+)?owner|change\s+(?:the\s+)?owner)\b|"
    r"^(?:\S+\s+)?(?:owner|owned\s+by|history|audit|log)\b(?!.*%)|^\s*(?:risk\b|r\d)|"
    # "3.2 risk: supplier may go bust, likelihood 3 impact 4" logs a risk, never a note
    r"^(?:objective\s+)?\d{1,2}\.\d{1,3}\s*(?:new\s+)?risk\b|\blikelihood\b.*\bimpact\b|"
    r"\bL[1-5]\s*I[1-5]\b",
    re.IGNORECASE,
)

_VERB_THEN_TITLE = re.compile(
    rf"(?:the\s+)?(?:{DATE_VERBS}|status|progress)\s+(?:for|of|on)\s+(?P<title>.+?)\s+"
    r"(?:is|are|has|have|now|moved|slipped|to)\b",
    re.IGNORECASE,
)
_VAGUE_UPDATE = re.compile(
    r"(?:the\s+|our\s+)?(?P<what>[a-z][a-z'’ -]{2,40}?)\s+(?:is\s+|are\s+|now\s+|at\s+)*"
    r"(?:(?:" + "|".join(re.escape(w) for w in _STATUS_WORDS) + r")\b|\d{1,3}\s*%)",
    re.IGNORECASE,
)

# The one place that says which reading wins when two score the same.
PRECEDENCE = ("refuse", "ask", "change", "route")


def _score(reading: Reading, text: str) -> dict[str, int]:
    """How strongly the message reads as each intent."""
    question = bool(_QUESTION_START.match(text)) or text.rstrip().endswith("?")
    found = reading.objective is not None or bool(reading.candidates)
    fields = [f for f in reading.fields]
    scores = {"route": 1, "change": 0, "ask": 0, "refuse": 0}
    if reading.other_command:
        scores["route"] += 5
    if found:
        scores["change"] += 2 + 2 * len(fields) + (3 if reading.explicit_verb else 0)
        id_led_note = (
            reading.objective is not None
            and reading.ref_text[:1].isdigit()
            and (len((reading.note or "").split()) >= 2)
        )
        if not fields and not reading.explicit_verb and not id_led_note:
            scores["change"] = 0  # "3.2" or "3.2 doing": a question
        if question and not reading.explicit_verb:
            scores["change"] -= 6
    if found and fields and text.rstrip().endswith("?") and not _QUESTION_START.match(text):
        # "2.2 90%?": a change with a question mark is asked back, never recorded.
        reading.problem = reading.problem or (
            f"Did you mean to record that on {reading.objective.id if reading.objective else 'it'}?"
        )
        reading.problem_lines = reading.problem_lines or [
            "Send it again without the question mark to record it."
        ]
        reading.ask = True
        question = False
    if reading.problem and (found or reading.ask) and not question:
        scores["ask" if reading.ask else "refuse"] = max(scores.values()) + 1
    if reading.ask and found and not question:
        scores["ask"] = max(scores.values()) + 1
    if reading.candidates and reading.objective is None and scores["change"] > scores["route"]:
        scores["ask"] = scores["change"] + 1
    return scores


def decide(scores: dict[str, int]) -> str:
    best = max(scores.values())
    return next(i for i in PRECEDENCE if scores[i] == best)


def _ask_if_several(ctx: Context, reading: Reading, text: str, oid: str) -> None:
    """`3.2 on track, 3.3 at risk`: one message, two objectives. Asked, never split or
    guessed (the second would otherwise end up in the first one's note)."""
    others = {m.group(1) for m in OID_RE.finditer(text)} - {oid}
    others = {o for o in others if ctx.repo.objective(o) is not None}
    if others and reading.problem is None:
        named = " and ".join(sorted({oid, *others}))
        reading.ask_back(
            f"That names {named}: which objective should I record it on?",
            f"Send one message per objective, e.g. `update {oid} on track` and then "
            f"`update {sorted(others)[0]} at risk`.",
        )


_FORM_LABEL = re.compile(
    r"(?:^|(?<=[\s:.,;]))[-•*]?\s*(?P<label>objective|status|rag(?:\s+status)?|progress|"
    r"%\s*complete|percent(?:age)?\s+complete|due(?:\s+date)?|revised\s+(?:due\s+)?date|"
    r"new\s+(?:due\s+)?date|target(?:\s+date)?|deadline|go[\s-]?live(?:\s+date)?|notes?|"
    r"comments?|commentary|next\s+steps)\s*:\s*",
    re.IGNORECASE,
)
_FORM_FIELDS = ("status", "progress", "due")


def _form_kind(label: str) -> str:
    label = label.lower()
    if label.startswith(("status", "rag")):
        return "status"
    if label.startswith(("progress", "%", "percent")):
        return "progress"
    if label.startswith(("note", "comment", "next")):
        return "note"
    return "objective" if label == "objective" else "due"


_UP_TO_3_DIGITS = re.compile(r"\d{1,3}")


def unform(text: str) -> str:
    """A filled-in template (`Status: Amber - Progress: 45% - Revised date: 26/02/2027 -
    Commentary: ...`, often pasted from Teams with its line breaks gone) as the one-line
    update the reader knows: `2.2 Amber, 45%, due 26/02/2027 - ...`. Anything else is
    returned as it was; the officer's own text stays in the audit."""
    labels = list(_FORM_LABEL.finditer(text))
    kinds = {_form_kind(m.group("label")) for m in labels}
    if len(labels) < 2 or not kinds & set(_FORM_FIELDS):
        return text
    values: dict[str, str] = {}
    for i, label in enumerate(labels):
        stop = labels[i + 1].start() if i + 1 < len(labels) else len(text)
        value = text[label.end() : stop].strip(" -•*;,.")
        kind = _form_kind(label.group("label"))
        if label.group("label").lower().startswith("next"):
            value = f"{label.group('label')}: {value}"  # "Next steps: ..." keeps its label
        values[kind] = f"{values[kind]}; {value}" if kind in values else value
    prefix = re.sub(
        r"\b(?:status\s+|progress\s+)?update(?:\s+(?:for|on))?[\s:.-]*$",
        "",
        text[: labels[0].start()],
    ).strip(" :-")
    progress = values.get("progress", "")
    if _UP_TO_3_DIGITS.fullmatch(progress):
        progress += "%"
    fields = [
        values.get("status", ""),
        progress,
        f"due {values['due']}" if values.get("due") else "",
    ]
    said = ", ".join(f for f in fields if f)
    note = f" - {values['note']}" if values.get("note") else ""
    return " ".join(p for p in (prefix, values.get("objective", ""), said) if p) + note


def _names_a_directorate(ctx: Context, words: str) -> bool:
    """Are the naming words a directorate's name rather than an objective's title?"""
    said = {_stem(w) for w in fold(words).split() if w not in ("the", "our")}
    for directorate in known(ctx.repo)[2]:
        name = {_stem(w) for w in fold(directorate.name).split()} | {_stem(fold(directorate.id))}
        if said and said <= name:
            return True
    return False


_PROMISE = re.compile(
    r"\b(?:will|i'll|ill|shall|going\s+to|gonna|need\s+to|needs\s+to|must|should|remember\s+to|"
    r"reminder\s+to|can\s+(?:you|someone|somebody)|could\s+(?:you|someone|somebody))\s+"
    r"(?:\w+\s+)?update\b",
    re.IGNORECASE,
)
_WHEN_ONLY = re.compile(
    r"(?:by\s+|before\s+|on\s+)?(?:today|tonight|tomorrow|later|soon|asap|shortly|"
    r"next\s+week|this\s+week|end\s+of\s+(?:the\s+)?(?:day|week)|eod|eow|\w+day)[.!]*",
    re.IGNORECASE,
)


def _ask_if_only_a_promise(reading: Reading, before: str) -> None:
    """`will update 3.2 tomorrow`, `please update 3.2 by Friday`: a plan or a request to
    update, not an update. Recording "tomorrow" as 3.2's latest news would be wrong, so
    when no field was given it is asked back instead."""
    if reading.problem or reading.objective is None:
        return
    fields = any(
        v is not None for v in (reading.status, reading.progress, reading.due, reading.move)
    )
    if fields:
        return
    note = reading.note or ""
    if _PROMISE.search(before) or (note and _WHEN_ONLY.fullmatch(note)):
        oid = reading.objective.id
        reading.ask_back(
            f"That sounds like a plan to update {oid}, not the update itself.",
            f"When you have it, send e.g. `update {oid} on track 60% survey done`.",
        )


_LATEST_OR_NEWS = re.compile(r"latest|news", re.IGNORECASE)
_COMMAND_WORD = re.compile(r"\b(?:update|progress|report|record|mark|set)\b", re.I)


def read(ctx: Context, text: str) -> Reading:
    """References, fields and the winning intent for one normalised message."""
    text = unform(text)
    reading = Reading(text)
    reading.other_command = bool(_OTHER_COMMANDS.search(text))
    if reading.other_command and not PERCENT_RE.search(text):
        return reading
    verb = UPDATE_VERB.match(text)
    body_start = 0
    if verb and verb.end():
        # "latest on 5.1" asks; "latest on 5.1: 70%" reports (its fields make it a change).
        # "update on 1.1?" asks too.
        reading.explicit_verb = not (_LATEST_OR_NEWS.match(text) or text.rstrip().endswith("?"))
        body_start = verb.end()
    ident = OID_RE.search(text)
    if ident and not _QUESTION_START.match(text[: ident.start()].strip() or "x"):
        reading.objective = ctx.repo.objective(ident.group(1))
        reading.ref_text = ident.group(1)
        if reading.objective is None:
            reading.problem = f"There is no objective {ident.group(1)}."
        start, end = ident.start(), ident.end()
        _ask_if_several(ctx, reading, text, ident.group(1))
        asked = text.rstrip().endswith("?")
        if not asked and _COMMAND_WORD.search(text, 0, start):
            reading.explicit_verb = True
    else:
        found = find_objective_in_text(ctx.repo, text[body_start:])
        named_after = _VERB_THEN_TITLE.match(text) if found is None else None
        if named_after:
            body_start = named_after.start("title")
            found = find_objective_in_text(ctx.repo, text[body_start : named_after.end("title")])
        if found is None:
            vague = _VAGUE_UPDATE.match(text[body_start:])
            if vague and not _QUESTION_START.match(text):
                reading.ref_text = vague.group("what")
                reading.ask_back(f"Which objective is “{vague.group('what')}”?")
                reading.intent = decide(_score(reading, text))
            return reading
        start, end = (body_start + found.span[0], body_start + found.span[1])
        if _names_a_directorate(ctx, text[start:end]):
            return reading  # "neighbourhoods at risk" asks about Neighbourhood Services
        reading.objective = found.match
        reading.candidates = list(found.candidates)
        reading.ref_text = text[start:end]
    body = text[:start] + " " * (end - start) + text[end:]
    if reading.problem is None:
        read_fields(reading, body, ctx, start, end)
    _ask_if_only_a_promise(reading, text[:start])
    reading.intent = decide(_score(reading, text))
    return reading
