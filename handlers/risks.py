"""The risk register in chat: log, score, change, close and list risks.

Risks are scored on the usual local-government 5 x 5 matrix (likelihood x impact,
banded low / medium / high). Officers give levels as numbers or words ("high
likelihood", "impact major"); a risk is only logged once both are known, because an
unscored risk sorts wrongly in every report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from handlers.context import Context
from handlers.format import change_lines, name_of, risk_item
from handlers.permissions import check_manager, check_new_risk, check_risk
from handlers.reply import Kind, Reply
from handlers.resolve import NUMBER_WORDS, find_person, find_theme
from handlers.router import command
from tracker.dates import DateNotUnderstood, parse_due_date
from tracker.model import LEVEL_WORDS, Risk
from tracker.progress import top_risks

RID = r"(?P<rid>R\d{1,4})"
UNDO_HINT = "Not right? Say `undo` to reverse it."
_LEVEL = r"(?:[0-9]+|" + "|".join(sorted(map(re.escape, LEVEL_WORDS), key=len, reverse=True)) + ")"
_LEVEL_PATTERNS = {
    name: (
        re.compile(
            rf"\b(?:{words})\s*(?:(?:is|of|=|:|to|now|down|up|raised|reduced|lowered|"
            rf"increased|decreased|goes|gone|went|moved|from\s+\d\s+to)\s*)*(?P<v>{_LEVEL})\b",
            re.IGNORECASE,
        ),
        re.compile(rf"\b(?P<v>{_LEVEL})\s+(?:{words})\b", re.IGNORECASE),
        re.compile(rf"(?<![\w'’]){letter}\s*[:=]?\s*(?P<v>[0-9])\b", re.IGNORECASE),
    )
    for name, words, letter in (
        ("likelihood", r"likelihood|likeliness|probability", "L"),
        ("impact", r"impact|severity", "I"),
    )
}
_THEME = re.compile(r"\b(?:for\s+|under\s+|on\s+)?theme\s+(?P<v>\d{1,2}|[a-z]+)\b", re.IGNORECASE)
_OBJECTIVE = re.compile(  # "on 3.2", "to 3.2:", "against objective 3.2", a clause "3.2: ..."
    r"(?:^|\b(?:(?:for|on|to|against|about|affecting|under|re|objective)\s+)+)"
    r"(?:objective\s+)?(?P<v>\d{1,2}\.\d{1,3})\b",
    re.IGNORECASE,
)
_KEYED = re.compile(
    r"^(?P<key>owner|owned\s+by|mitigation|mitigations|mitigate(?:d)?\s+by|mitigating|"
    r"review(?:\s+date)?(?:\s+by)?|review\s+on|next\s+review)\s*(?:is|:|-|=|to)?\s*(?P<v>.*)$",
    re.IGNORECASE,
)


@dataclass
class RiskText:
    title: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _level(raw: str, name: str, result: RiskText) -> None:
    raw = raw.lower()
    value = LEVEL_WORDS.get(raw) if not raw.isdigit() else int(raw)
    if value is None or not 1 <= value <= 5:
        result.problems.append(
            f"{name} must be 1–5 (or a word such as low, medium, high); you wrote “{raw}”"
        )
    else:
        result.values[name] = value


def read_risk(ctx: Context, body: str) -> RiskText:
    """Split "no PM capacity, theme 1, likelihood 4 impact 3, owner Mo" into fields."""
    result = RiskText()
    current: str | None = None
    title_parts: list[str] = []
    for clause in re.split(
        r"\s*[,;]\s*|\s+\band\b\s+(?=(?:likelihood|impact|owner|review))", body.strip()
    ):
        clause = clause.strip()
        keyed = _KEYED.match(clause)
        if keyed:
            key = keyed.group("key").lower()
            value = keyed.group("v").strip()
            current = "owner" if "own" in key else "mitigation" if "mitig" in key else "review"
            result.values[current] = value
            continue
        clause = _take_levels(clause, result)
        if _took_bare_level(clause, result):
            continue
        clause = _take_objective(ctx, _take_theme(ctx, clause, result), result)
        if not clause:
            continue
        if current == "mitigation":
            result.values["mitigation"] += ", " + clause
        else:
            title_parts.append(clause)
    title = re.sub(r"\(\s*[,;]?\s*\)", "", ", ".join(title_parts))  # "(L4, I5)" taken
    result.title = re.sub(r"\s{2,}", " ", title).strip(" :-–")
    _resolve_people_and_dates(ctx, result)
    return result


def _cut(clause: str, match: re.Match[str]) -> str:
    return (clause[: match.start()] + " " + clause[match.end() :]).strip()


def _take_levels(clause: str, result: RiskText) -> str:
    """ "likelihood 4", "L4 I5", "impact high": record each, return the clause without it."""
    for name, patterns in _LEVEL_PATTERNS.items():
        for pattern in patterns:
            match = pattern.search(clause)
            if match:
                _level(match.group("v"), name, result)
                clause = _cut(clause, match)
                break
    return clause


def _took_bare_level(clause: str, result: RiskText) -> bool:
    """A clause that is only a level word ("high"): likelihood first, then impact."""
    bare = clause.lower().strip(" .")
    if bare not in LEVEL_WORDS or bare.isdigit():
        return False
    name = "likelihood" if "likelihood" not in result.values else "impact"
    if name in result.values:
        return False
    _level(bare, name, result)
    return True


def _take_theme(ctx: Context, clause: str, result: RiskText) -> str:
    theme = _THEME.search(clause)
    if not theme:
        return clause
    raw = theme.group("v").lower()
    number = int(raw) if raw.isdigit() else NUMBER_WORDS.get(raw)
    if number is None or ctx.repo.theme(number) is None:
        themes = ", ".join(str(t.number) for t in ctx.repo.themes())
        result.problems.append(f"there is no theme “{raw}” (themes are {themes})")
    else:
        result.values["theme"] = number
    return _cut(clause, theme)


def _take_objective(ctx: Context, clause: str, result: RiskText) -> str:
    objective = _OBJECTIVE.search(clause)
    if not objective:
        return clause
    oid = objective.group("v")
    if ctx.repo.objective(oid) is None:
        result.problems.append(f"there is no objective {oid}")
    else:
        result.values["objective"] = oid
        result.values.setdefault("theme", int(oid.split(".")[0]))
    return _cut(clause, objective)


def _resolve_people_and_dates(ctx: Context, result: RiskText) -> None:
    if "owner" in result.values:
        who = result.values["owner"]
        found = find_person(ctx.repo, who)
        if found.match is None:
            result.problems.append(f"I don't know who “{who}” is (say `people` to list everyone)")
            del result.values["owner"]
        else:
            result.values["owner"] = found.match.id
    if "review" in result.values:
        text = result.values["review"]
        try:
            result.values["review"] = parse_due_date(text, ctx.now, ctx.calendar).value
        except DateNotUnderstood as error:
            result.problems.append(f"the review date “{text}”: {error.hint}")
            del result.values["review"]
    if "mitigation" in result.values and not result.values["mitigation"]:
        result.problems.append("the mitigation is empty")
        del result.values["mitigation"]


def _risk_reply(ctx: Context, title: str, risk: Risk) -> Reply:
    reply = Reply(title=title, kind=Kind.CONFIRMATION, footer=UNDO_HINT)
    reply.fields += [
        (
            "Score",
            f"{risk.score} ({risk.band}: likelihood {risk.likelihood} × impact {risk.impact})",
        ),
        ("Owner", name_of(ctx.repo, risk.owner)),
    ]
    if risk.theme:
        reply.fields.append(("Theme", str(risk.theme)))
    if risk.objective:
        reply.fields.append(("Objective", risk.objective))
    if risk.mitigation:
        reply.fields.append(("Mitigation", risk.mitigation))
    return reply


def _no_risk(ctx: Context, rid: str) -> Reply:
    known = ", ".join(r.id for r in ctx.repo.risks(include_closed=True)) or "none yet"
    return Reply(
        title=f"There is no risk {rid.upper()}.",
        kind=Kind.ERROR,
        lines=[f"Risks are {known}. Nothing was changed."],
    )


@command(
    "add risk",
    r"(?:new\s+|add\s+(?:a\s+)?|log\s+(?:a\s+)?|raise\s+(?:a\s+)?)?(?:risk|rsik|riks|rsk)\s*"
    r"(?::|-|–)\s*(?P<body>.+)",
    r"(?:add|log|raise|new)\s+(?:a\s+)?(?:risk|rsik|riks|rsk)\s+(?P<body>.+)",
    r"(?:new\s+)?risk\s+(?P<body>(?:on|for|against)\s+(?:objective\s+)?\d{1,2}\.\d{1,3}\b.+)",
    r"(?:new\s+)?risk\s+(?P<body>(?:objective\s+)?\d{1,2}\.\d{1,3}\s*[:\-–]\s*\w.+)",
    r"(?P<oid>\d{1,2}\.\d{1,3})\s*[:\-–]?\s*(?:new\s+)?(?:risk|rsik|riks|rsk)\s*[:\-–]\s*(?P<body>\w.+)",
    group="Risks",
    examples=(
        "risk: no PM capacity, theme 1, likelihood 4 impact 3",
        "new risk: supplier insolvency on 3.2, high likelihood, major impact, owner Mo Khan, "
        "mitigation: second supplier, review end of January",
    ),
    summary="Log a risk with likelihood and impact (1–5 or words), theme or objective, owner, "
    "mitigation and review date. Officers log risks on objectives they report on and own them; "
    "leads and the strategy group may name any owner.",
)
async def add_risk(ctx: Context, match: re.Match[str]) -> Reply:
    body = match.group("body")
    if match.groupdict().get("oid"):  # "3.2 risk: ...": the objective comes first
        body = f"{match.group('oid')}, {body}"
    parsed = read_risk(ctx, body)
    missing = [n for n in ("likelihood", "impact") if n not in parsed.values]
    if not parsed.title:
        parsed.problems.append("what the risk is (start with a short description)")
    if missing:
        parsed.problems.append(f"its {' and '.join(missing)} (1–5, or low / medium / high)")
    if parsed.problems:
        understood = [f"title “{parsed.title}”"] if parsed.title else []
        understood += [f"{k} {v}" for k, v in parsed.values.items()]
        return Reply(
            title="I haven't logged that risk yet.",
            lines=[
                f"I still need {'; '.join(parsed.problems)}.",
                f"I understood: {', '.join(understood) or 'nothing yet'}.",
                "For example: `risk: no PM capacity, theme 1, likelihood 4 impact 3`. "
                "Nothing was saved.",
            ],
            kind=Kind.ERROR,
        )
    fields = {"title": parsed.title, **parsed.values}
    fields.setdefault("owner", ctx.person.id)
    check_new_risk(
        ctx.repo, ctx.person, fields.get("objective"), fields.get("theme"), fields["owner"]
    )
    risk = await ctx.repo.add_risk(fields, ctx.source)
    return _risk_reply(ctx, f"Logged risk {risk.id}: {risk.title}", risk)


@command(
    "change risk",
    rf"(?:(?:set|update|change|amend|adjust|bump|lower|raise|reduce|increase|drop|move)\s+)?"
    rf"(?:risk\s+)?{RID}\b\s*[:,\-–]?\s*(?P<body>\w.*)",
    # "review R2 by end of January": the verb first, read as "R2 review by end of January"
    rf"(?P<review>review)\s+(?:risk\s+)?{RID}\s+(?P<body>(?:by|on|in|at|before)\b.*)",
    group="Risks",
    examples=(
        "R2 likelihood 5",
        "R2 impact high",
        "R2 mitigation: weekly supplier calls",
        "R2 owner Mo Khan",
        "R2 review end of January",
    ),
    summary="Change a risk's likelihood, impact, mitigation, owner or review date (its owner, "
    "the lead of its objective's directorate, or the strategy group).",
)
async def change_risk(ctx: Context, match: re.Match[str]) -> Reply | None:
    body = match.group("body").strip()
    if match.groupdict().get("review"):
        body = f"review {body}"
    if re.fullmatch(r"(?:is\s+)?(?:closed|close|reopen(?:ed)?|history|details?)\b.*", body, re.I):
        return None
    risk = ctx.repo.risk(match.group("rid"))
    if risk is None:
        return _no_risk(ctx, match.group("rid"))
    parsed = read_risk(ctx, body)
    if parsed.title and not parsed.values:
        return Reply(
            title=f"I couldn't tell what to change on {risk.id}.",
            lines=[
                "Say which field: likelihood, impact, mitigation, owner or review date, e.g. "
                f"`{risk.id} likelihood 3` or `{risk.id} mitigation: weekly calls`. "
                "Nothing was changed."
            ],
            kind=Kind.ERROR,
        )
    if parsed.problems:
        return Reply(
            title=f"I couldn't change {risk.id}.",
            kind=Kind.ERROR,
            lines=[f"Problem: {'; '.join(parsed.problems)}. Nothing was changed."],
        )
    check_risk(ctx.repo, ctx.person, risk, parsed.values.get("owner"))
    changes = await ctx.repo.change_risk(risk.id, parsed.values, ctx.source, "change risk")
    updated = ctx.repo.risk(risk.id) or risk  # just written in this process: always there
    reply = _risk_reply(ctx, f"Updated risk {risk.id}: {risk.title}", updated)
    reply.fields[:0] = change_lines(ctx.repo, changes)
    if not changes:
        reply.title = f"Nothing changed on {risk.id}: it already says that."
    return reply


@command(
    "close risk",
    rf"close\s+(?:risk\s+)?{RID}\b\s*[:,\-–]?\s*(?P<note>.*)",
    rf"(?:risk\s+)?{RID}\s+(?:is\s+)?(?:now\s+)?closed\b\s*[:,\-–]?\s*(?P<note>.*)",
    rf"(?P<reopen>reopen)\s+(?:risk\s+)?{RID}\b\s*[:,\-–]?\s*(?P<note>.*)",
    group="Risks",
    examples=("close R2: mitigated by new contract", "reopen R2"),
    summary="Strategy group and admins: close (or reopen) a risk.",
)
async def close_risk(ctx: Context, match: re.Match[str]) -> Reply:
    risk = ctx.repo.risk(match.group("rid"))
    if risk is None:
        return _no_risk(ctx, match.group("rid"))
    reopen = bool(match.groupdict().get("reopen"))
    check_manager(ctx.person, "reopen risks" if reopen else "close risks")
    note = match.group("note").strip() or None
    fields: dict[str, Any] = {"open": reopen}
    if note:
        fields["closing_note" if not reopen else "reopening_note"] = note
    changes = await ctx.repo.change_risk(
        risk.id, fields, ctx.source, "reopen risk" if reopen else "close risk"
    )
    verb = "Reopened" if reopen else "Closed"
    if not changes:
        return Reply(title=f"{risk.id} is already {'open' if reopen else 'closed'}.")
    reply = Reply(
        title=f"{verb} risk {risk.id}: {risk.title}", kind=Kind.CONFIRMATION, footer=UNDO_HINT
    )
    if note:
        reply.fields.append(("Reason", note))
    return reply


@command(
    "show risk",
    rf"(?:show\s+(?:me\s+)?|details\s+(?:of|for)\s+|what(?:'s|\s+is|\s+about)\s+"
    rf"(?:the\s+)?(?:score\s+(?:on|of|for)\s+|latest\s+on\s+|status\s+of\s+)?|"
    rf"tell\s+me\s+about\s+|how(?:'s|\s+is)\s+)?(?:risk\s+)?{RID}(?:\s+(?:score|details|doing))?",
    group="Risks",
    examples=("show R2",),
    summary="One risk in full.",
)
async def show_risk(ctx: Context, match: re.Match[str]) -> Reply:
    risk = ctx.repo.risk(match.group("rid"))
    if risk is None:
        return _no_risk(ctx, match.group("rid"))
    reply = _risk_reply(ctx, f"{risk.id}: {risk.title}", risk)
    reply.kind, reply.footer = Kind.ANSWER, None
    reply.fields.append(("Status", "open" if risk.open else "closed"))
    if risk.review:
        from tracker.dates import format_date

        overdue = " (review overdue)" if risk.open and risk.review < ctx.today else ""
        reply.fields.append(("Review", format_date(risk.review) + overdue))
    return reply


@command(
    "top risks",
    r"(?:what\s+are\s+(?:the\s+)?|show\s+(?:me\s+)?(?:the\s+)?)?(?:top|highest|biggest|worst|high)"
    r"(?:\s+(?P<n>\d{1,2}))?\s+risks",
    group="Questions",
    examples=("top risks", "top 3 risks"),
    summary="The open risks with the highest scores.",
)
async def show_top_risks(ctx: Context, match: re.Match[str]) -> Reply:
    limit = int(match.group("n") or 5)
    risks = top_risks(ctx.repo.risks(), limit)
    reply = Reply(title=f"Top {len(risks)} open risks by score" if risks else "No open risks.")
    return reply.section("Risks", [risk_item(ctx.repo, r) for r in risks])


@command(
    "list risks",
    r"(?:list\s+|show\s+(?:me\s+)?|what\s+are\s+(?:the\s+)?)?(?P<which>all\s+|open\s+|closed\s+)?"
    r"(?:the\s+)?(?:risks|risk\s+register)"
    r"(?:\s+(?:for|on|in|under|of)\s+(?P<scope>.+))?",
    r"(?P<scope>(?:theme\s+\S+|\d{1,2}\.\d{1,3}))\s+risks",
    group="Questions",
    examples=("risks", "risks for theme 1", "risks on 3.2", "closed risks"),
    summary="The risk register, or the risks of one theme or objective.",
)
async def list_risks(ctx: Context, match: re.Match[str]) -> Reply:
    which = (match.groupdict().get("which") or "open").strip()
    risks = ctx.repo.risks(include_closed=which != "open")
    if which == "closed":
        risks = [r for r in risks if not r.open]
    label = f"{which} risks".capitalize()
    scope = (match.groupdict().get("scope") or "").strip()
    if scope:
        oid = re.fullmatch(r"(?:objective\s+)?(\d{1,2}\.\d{1,3})", scope)
        if oid:
            risks = [r for r in risks if r.objective == oid.group(1)]
            label += f" on objective {oid.group(1)}"
        else:
            found = find_theme(ctx.repo, scope)
            if found.match is None:
                return Reply(
                    title=f"I couldn't find the theme “{scope}”.",
                    kind=Kind.ERROR,
                    lines=["Say e.g. `risks for theme 1`."],
                )
            number = found.match.number
            risks = [
                r
                for r in risks
                if r.theme == number or (r.objective or "").startswith(f"{number}.")
            ]
            label += f" for theme {number}: {found.match.title}"
    risks.sort(key=lambda r: (-r.score, int(r.id[1:])))
    if not risks:
        return Reply(title=f"{label}: none.")
    return Reply(title=f"{label} ({len(risks)})").section(
        "Highest score first", [risk_item(ctx.repo, r) for r in risks]
    )
