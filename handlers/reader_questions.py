"""Questions in everyday forms: find the filters, then answer from one place.

Officers ask "anything amber?", "when's 5.3 due", "is 1.1 late?", "what's Mo got that's
due before end of March", "which risks are high?", "how many objectives in theme 1".
Rather than one pattern per phrasing, this reader picks out what the question is
*about* (an objective, a theme, a directorate, a person, a status, overdue, a due
window, risks) and what it *wants* (a due date, a count, a percentage, a list), and
answers with the same replies the specific commands give. It runs after the command
table (`router.ROUTE_ORDER`), so every phrasing the table knows keeps its answer; a
message with no recognisable filter is left to "didn't understand" with suggestions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from handlers.context import Context
from handlers.digest_content import tracking_started
from handlers.format import change_item, objective_item, risk_item
from handlers.questions import group_reply, objective_reply, summary_reply, theme_reply
from handlers.reader import OID_RE, read_named_periods
from handlers.reply import Kind, Reply
from handlers.resolve import (
    NUMBER_WORDS,
    SYNONYMS,
    _stem,
    find_objective_in_text,
    fold,
    known,
)
from handlers.router import command
from tracker.dates import DateNotUnderstood, format_date, parse_since, parse_window
from tracker.model import Objective, Person, Status, Theme
from tracker.progress import STALE_AFTER_DAYS, STATUS_ORDER, due_between, stale, tally

QUESTION = re.compile(
    r"^(?:what|what's|when|when's|where|where's|who|who's|which|how|how's|is|are|any|"
    r"anything|show|list|tell|give|status|rag|deadline|due|overdue|late|my|at\s+risk|red|"
    r"amber|green|not\s+started|risks?|latest|news|update\s+on|objectives)\b|\?$|"
    r"\bobjectives\b|\btheme\b|\brisks\b|\b(?:at\s+risk|overdue|off\s+track)$",
    re.IGNORECASE,
)
_NOT_YET_ACHIEVED = set(Status) - {Status.ACHIEVED, Status.DROPPED}
_STATUS_FILTERS = (
    (
        r"\b(?:behind(?!\s+(?:on|with)\s+(?:their\s+|the\s+|my\s+)?(?:updates?|reporting))|"
        r"struggling|in\s+trouble|problems?|attention|concern(?:s|ing)?|worr(?:y|ied))\b",
        {Status.AT_RISK, Status.OFF_TRACK},
    ),
    (r"\b(?:at\s+risk|amber|slipping)\b", {Status.AT_RISK, Status.PARTLY_ACHIEVED}),
    (r"\b(?:off\s+track|red)\b", {Status.OFF_TRACK}),
    (r"\b(?:on\s+track|green)\b", {Status.ON_TRACK}),
    (r"\b(?:not\s+started|hasn't\s+started|haven't\s+started|not\s+begun)\b", {Status.NOT_STARTED}),
    (r"(?<!not\s)(?<!not\syet\s)\b(?:achieved|done|complete[d]?|delivered)\b", {Status.ACHIEVED}),
    (  # everything not yet delivered: "what's outstanding for Resources?"
        r"\b(?:outstanding|incomplete|still\s+(?:open|to\s+do|to\s+deliver)|"
        r"not\s+(?:yet\s+)?(?:done|achieved|complete[d]?|delivered))\b",
        _NOT_YET_ACHIEVED,
    ),
)
_GENERIC_PLACE = {"services", "service", "and", "of", "the", "strategy", "learning", "culture"}


@dataclass
class Question:
    text: str
    objective: Objective | None = None
    theme: Theme | None = None
    directorate_id: str | None = None
    directorate_name: str = ""
    person: Person | None = None
    statuses: set[Status] = field(default_factory=set)
    share_of: set[Status] = field(default_factory=set)  # "what % are green?": a share, not a filter
    overdue: bool = False
    window: tuple[str, str] | None = None
    read_as: list[str] = field(default_factory=list)  # how a named period was read
    risks: bool = False
    stale_days: int | None = None  # "no update for 4 weeks"
    wants: str = "list"  # list | due | count | percent | summary | owner | said


def _theme(ctx: Context, text: str) -> Theme | None:
    number = re.search(r"\btheme\s+(\d{1,2}|[a-z]+)\b", text)
    if number:
        raw = number.group(1)
        value = int(raw) if raw.isdigit() else NUMBER_WORDS.get(raw)
        if value:
            return ctx.repo.theme(value)
    named = re.search(r"(?:the\s+)?((?:[\w'-]+\s+){0,2}?[\w'-]+)\s+theme\b", text)
    if not named:
        return None
    wanted = {_stem(w) for w in fold(named.group(1)).split() if len(w) > 1 and w != "the"}
    for group in SYNONYMS:
        stems = {_stem(w) for w in group}
        if wanted & stems:
            wanted |= stems
    best, score = None, 0
    for theme in ctx.repo.themes():
        words = {_stem(w) for w in fold(" ".join((theme.title, *theme.aliases))).split()}
        words |= {w[:7] for w in words if len(w) > 7}
        hits = len(wanted & words) + len({w[:7] for w in wanted if len(w) > 7} & words)
        if hits > score:
            best, score = theme, hits
    return best


def _directorate(ctx: Context, text: str) -> tuple[str, str] | None:
    words = {_stem(w) for w in fold(text).split() if len(w) > 2}
    for directorate in known(ctx.repo)[2]:
        own = {_stem(w) for w in fold(directorate.name).split() if len(w) > 2} - _GENERIC_PLACE
        own |= {_stem(fold(directorate.id))}
        if directorate.name.lower().startswith("city"):
            if "city" in words:
                return directorate.id, directorate.name
            continue
        if own & words:
            return directorate.id, directorate.name
    return None


_ME = re.compile(
    r"\b(?:my|mine|i\s+own|(?<!show\s)(?<!tell\s)(?<!give\s)(?<!let\s)(?<!remind\s)me|"
    r"i\s+(?:say|said|post(?:ed)?|report(?:ed)?|write|wrote|put|update[d]?|have|own)|"
    r"(?:have|has)\s+i\s+got|i've\s+got)\b"
)


def _person(ctx: Context, text: str) -> Person | None:
    """Someone named by first or full name, else the asker when they say my / me / I said."""
    words = set(fold(text).split())
    for person in known(ctx.repo)[1]:
        first = fold(person.name).split()[0]
        if first in words and len(first) > 1:
            return person
    return ctx.person if _ME.search(text) else None


def read_question(ctx: Context, text: str) -> Question | None:
    """What the question is about and what it wants, or None when it names nothing."""
    lowered = text.lower().strip()
    if not QUESTION.search(lowered):
        return None
    q = Question(lowered)
    ident = OID_RE.search(lowered)
    if ident:
        q.objective = ctx.repo.objective(ident.group(1))
    q.risks = bool(re.search(r"(?<!\bat\s)\brisks?\b", lowered))  # not "at risk"
    q.theme = _theme(ctx, lowered)
    place = _directorate(ctx, lowered) if not q.theme else None
    if place:
        q.directorate_id, q.directorate_name = place
    q.person = _person(ctx, lowered)
    _read_filters(q, lowered)
    q.stale_days = _stale_days(ctx, lowered)
    q.wants = _wants(q, lowered)
    asks_for_people = q.stale_days and _PEOPLE_LATE.match(lowered)  # not a title's "officers"
    if q.objective is None and not (q.theme or place or q.risks or asks_for_people):
        _objective_by_title(ctx, q, lowered)
    named = (q.objective, q.theme, place, q.person, q.statuses, q.overdue, q.window, q.risks,
             q.stale_days)  # fmt: skip
    if not any(named) and q.wants not in ("count", "percent"):
        if not _SUMMARY.search(lowered):
            return None
        q.wants = "summary"
    return q


_PEOPLE_LATE = re.compile(r"(?:who|which\s+(?:officers?|people|staff|colleagues))\b")
_SUMMARY = re.compile(
    r"\b(?:how(?:'s|\s+is|\s+are)\s+(?:it|things|we|the\s+strategy|everything)|"
    r"overall|position|going|looking)\b"
)
_TITLE_LEAD = re.compile(
    r"^(?:what's|what\s+is|when's|when\s+is|when\s+does|how's|how\s+is|any|"
    r"anything|where\s+are\s+we\s+(?:on|with)|where's|who's|who\s+is|due\s+date\s+for|"
    r"latest\s+on|news\s+on|status\s+of|update\s+on)\s+(?:the\s+)?(?:news\s+on\s+)?"
)


_STALE = re.compile(
    r"\b(?:no\s+(?:recent\s+)?updates?|not\s+(?:been\s+)?updated|without\s+(?:an?\s+)?updates?|"
    r"(?:hasn't|haven't|has\s+not|have\s+not)\s+(?:been\s+updated|had\s+(?:an?\s+)?updates?)|"
    r"not\s+had\s+(?:an?\s+)?updates?|stale|gone\s+quiet|gone\s+dark|quiet|"
    # people late with their reporting: "who hasn't updated?", "who is behind on updates?"
    r"(?:hasn't|haven't|has\s+not|have\s+not|not)\s+(?:updated|reported)|"
    r"behind\s+(?:on|with)\s+(?:their\s+|the\s+|my\s+)?(?:updates?|reporting))\b"
)
_PERIOD = re.compile(
    r"\b(?:for|in|over|since)\s+(?:the\s+(?:last|past)\s+)?(?:(?P<n>\d{1,2}|a|an|one|two|three|"
    r"four|five|six|eight|twelve)\s+)?(?P<unit>day|week|fortnight|month)s?\b"
)
_UNIT_DAYS = {"day": 1, "week": 7, "fortnight": 14, "month": 28}


def _days_since(ctx: Context, lowered: str) -> int | None:
    """`no updates since October`: the days from that date to now."""
    since = re.search(r"\bsince\s+(.+?)\??$", lowered)
    if not since:
        return None
    try:
        when = parse_since(since.group(1), ctx.now, ctx.calendar)
    except DateNotUnderstood:
        return None
    return max((ctx.now - when).days, 1)


def _stale_days(ctx: Context, lowered: str) -> int | None:
    """`no update for 6 weeks`, `not updated in a month`, `stale`: days without an update."""
    if not _STALE.search(lowered):
        return None
    period = _PERIOD.search(lowered)
    if not period:
        return _days_since(ctx, lowered) or STALE_AFTER_DAYS
    raw = period.group("n") or "1"
    n = int(raw) if raw.isdigit() else {"a": 1, "an": 1, "twelve": 12, **NUMBER_WORDS}[raw]
    return n * _UNIT_DAYS[period.group("unit")]


def _read_filters(q: Question, lowered: str) -> None:
    """Status, overdue and due-window filters; statuses named in a % question are the
    share asked for ("what % are on track?"), not a filter on which objectives count."""
    named: set[Status] = set()
    for pattern, statuses in _STATUS_FILTERS:  # "anything red or amber?": both
        if re.search(pattern, lowered):
            named |= statuses
    if re.search(r"%|\bpercent", lowered):
        q.share_of = named
    else:
        q.statuses = named
    q.overdue = bool(re.search(r"\b(?:overdue|late|past\s+(?:their|its)\s+due)\b", lowered))
    due = re.search(r"\bdue\s+((?:soon|this|next|in|before|by|within|over)\b.*)", lowered)
    if due and not q.objective:
        phrase = re.split(
            r"\s+(?:for|owned|in\s+(?!the\s+next|\d|\w+\s+(?:days?|weeks?|months?)\b))\b",
            due.group(1),
        )[0].strip(" ?")
        phrase, q.read_as = read_named_periods(phrase)
        q.window = (phrase.replace("soon", "in the next 14 days"), due.group(1))


def _wants(q: Question, lowered: str) -> str:
    if re.search(r"\bhow\s+many\b", lowered):
        return "count"
    if re.search(r"\bwhat\s+%|\bwhat\s+percent|\bpercentage\b", lowered):
        return "percent"
    if q.objective and re.search(r"\b(?:when|due|deadline|late|overdue|go\s+live)\b", lowered):
        return "due"
    if q.objective and q.person and _SAID.search(lowered):
        return "said"
    return q.wants


_SAID = re.compile(
    r"\b(?:say|said|says|report(?:ed)?|write|wrote|post(?:ed)?|put|mention(?:ed)?)\b"
)


_ABOUT = re.compile(r"\b(?:with|on|about|for|of|is|are)\s+(?=\S)")


def _objective_by_title(ctx: Context, q: Question, lowered: str) -> None:
    """`when's the intranet refresh due`, `are we on track with the website?`: the
    objective named by its title, at the start or after with / on / about."""
    found = find_objective_in_text(ctx.repo, _TITLE_LEAD.sub("", lowered))
    for about in _ABOUT.finditer(lowered) if not (found and found.match) else ():
        found = find_objective_in_text(ctx.repo, lowered[about.end() :])
        if found and found.match:
            break
    if not (found and found.match):
        return
    q.objective = found.match
    if q.person and _SAID.search(lowered):
        q.wants = "said"
    elif re.search(r"\b(?:when|due|deadline|go\s+live|late|overdue)\b", lowered):
        q.wants = "due"
    elif re.search(r"\bwho(?:'s|\s+is)?\s+(?:responsible|owns|leads)\b", lowered):
        q.wants = "owner"


def _objectives(ctx: Context, q: Question) -> tuple[list[Objective], str]:
    found = ctx.repo.objectives()
    labels = []
    if q.theme:
        found = [o for o in found if o.theme == q.theme.number]
        labels.append(f"theme {q.theme.number}")
    if q.directorate_id:
        found = [o for o in found if o.directorate == q.directorate_id]
        labels.append(q.directorate_name)
    if q.person:
        found = [o for o in found if o.owner == q.person.id]
        labels.append(f"owned by {q.person.name}")
    if q.statuses:
        found = [o for o in found if o.status in q.statuses]
        labels.insert(0, _status_label(q.statuses))
    if q.overdue:
        found = [o for o in found if o.is_overdue(ctx.today)]
        labels.insert(0, "overdue")
    if q.stale_days is not None:
        found = stale(found, ctx.now, q.stale_days, tracked_since=tracking_started(ctx.repo))
        labels.append(f"no update for {_period(q.stale_days)}")
    if q.window:
        start, end = parse_window(q.window[0], ctx.now, ctx.calendar)
        start = max(start, ctx.today)
        found = due_between(found, start, end)
        labels.append(f"due {format_date(start)} to {format_date(end)}")
    return found, ", ".join(labels)


def _period(days: int) -> str:
    if days % 7 == 0:
        return f"{days // 7} week{'s' * (days != 7)}"
    return f"{days} day{'s' * (days != 1)}"


def _said(ctx: Context, objective: Objective, person: Person) -> Reply:
    """What one person last said about one objective, in their words."""
    theirs = [u for u in ctx.repo.updates_for(objective.id) if u.actor == person.id]
    if not theirs:
        return Reply(
            title=f"{person.name} hasn't posted an update on {objective.id} {objective.title}.",
            lines=[f"Say `history of {objective.id}` for everyone's updates."],
        )
    last = theirs[-1]
    reply = Reply(title=f"{person.name} last updated {objective.id} {objective.title}")
    return reply.section("Their latest update", [change_item(ctx.repo, last)])


def _risks(ctx: Context, q: Question) -> Reply:
    risks = ctx.repo.risks()
    labels = []
    if re.search(r"\b(?:high|red|top|biggest|worst)\b", q.text):
        risks = [r for r in risks if r.band == "high"]
        labels.append("high")
    if re.search(r"\b(?:review|overdue|late)\b", q.text):
        risks = [r for r in risks if r.review and r.review < ctx.today]
        labels.append("past their review date")
    if q.person:
        risks = [r for r in risks if r.owner == q.person.id]
        labels.append(f"owned by {q.person.name}")
    if q.theme:
        risks = [r for r in risks if r.theme == q.theme.number]
        labels.append(f"theme {q.theme.number}")
    label = " ".join(labels)
    title = f"{len(risks)} open risk{'s' * (len(risks) != 1)}" + (f" {label}" if label else "")
    risks.sort(key=lambda r: (-r.score, r.id))
    return Reply(title=title).section(
        "Highest score first", [risk_item(ctx.repo, r) for r in risks]
    )


def _about_objective(ctx: Context, q: Question, o: Objective) -> Reply:
    """One objective: when it is due, who owns it, what someone said, or all of it."""
    if q.wants == "due":
        if o.due is None:
            return Reply(title=f"{o.id} {o.title} has no due date yet.")
        late = o.is_overdue(ctx.today)
        state = f"overdue by {(ctx.today - o.due).days} days" if late else "not overdue"
        return Reply(
            title=f"{o.id} {o.title} is due {format_date(o.due)}",
            lines=[f"It is {state}; status {o.status.value}."],
        )
    if q.wants == "said" and q.person:
        return _said(ctx, o, q.person)
    if q.wants == "owner":
        owner = ctx.repo.person(o.owner)
        return Reply(title=f"{o.id} {o.title} is owned by {owner.name if owner else 'nobody yet'}")
    return objective_reply(ctx, o)


def _status_label(statuses: set[Status]) -> str:
    if statuses == _NOT_YET_ACHIEVED:
        return "not yet achieved"
    return " or ".join(s.value for s in sorted(statuses, key=STATUS_ORDER.index))


def _percent_answer(ctx: Context, q: Question) -> Reply:
    """The share in the statuses asked about ("what % are on track?"), else % achieved."""
    base, label = _objectives(ctx, q)
    counts = tally(base)
    asked = q.share_of
    if not asked or not base or asked == {Status.ACHIEVED}:
        return Reply(title=counts.achievement().capitalize() + ".", lines=[counts.headline()])
    named = _status_label(asked)
    share = sum(1 for o in base if o.status in asked)
    scope = f" ({label})" if label else ""
    return Reply(
        title=f"{round(100 * share / len(base))}% are {named}: {share} of the {len(base)} "
        f"objectives{scope}.",
        lines=[counts.headline()],
    )


def answer(ctx: Context, q: Question) -> Reply:
    if q.wants == "summary":
        return summary_reply(ctx)
    if q.objective and not q.risks:
        return _about_objective(ctx, q, q.objective)
    if q.risks:
        return _risks(ctx, q)
    if q.wants == "percent":
        return _percent_answer(ctx, q)
    try:
        found, label = _objectives(ctx, q)
    except DateNotUnderstood as error:
        return Reply(title="I couldn't read that period.", lines=[error.hint], kind=Kind.ERROR)
    if q.wants == "count":
        reply = Reply(
            title=f"{len(found)} objective{'s' * (len(found) != 1)}"
            + (f" ({label})" if label else ""),
            lines=[tally(found).headline()],
        )
        return reply.section("Objectives", [objective_item(ctx.repo, o, ctx.today) for o in found])
    if q.theme and not (q.statuses or q.overdue or q.window or q.person or q.stale_days):
        return theme_reply(ctx, q.theme)
    title = f"{len(found)} objective{'s' * (len(found) != 1)}" + (f": {label}" if label else "")
    if not found:
        return Reply(title=f"No objectives{': ' + label if label else ''}.", lines=q.read_as)
    reply = group_reply(ctx, title, found)
    reply.lines.extend(q.read_as)
    return reply


@command(
    "question",
    group="Questions",
    examples=(
        "anything amber?",
        "when's 5.3 due",
        "is 1.1 late?",
        "which risks are high?",
        "how many objectives in theme 1",
        "what's Mo got that's due before end of March",
        "who's behind",
        "what has had no update for 4 weeks",
        "what did Mo last say about 3.2",
    ),
    summary="Questions in everyday words: filters combine (overdue, due soon, at risk, red, "
    "behind, no update for N weeks, by directorate, theme or owner), counts and % achieved, "
    "due dates, what someone last said, risks past review.",
)
async def question(ctx: Context, match: re.Match[str]) -> Reply | None:
    """Registered for help and route order; the front door calls `read_question` itself."""
    found = read_question(ctx, match.string)
    return answer(ctx, found) if found else None
