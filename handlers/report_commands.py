"""Chat: `report`, `progress report for scrutiny`, `report for Resources since 1 October`.

The answer is the headline figures (the same computation as digests and the dashboard)
and where to get the document: with a public URL (`PUBLIC_URL`, the server's address),
links to the dashboard's download route, which asks the reader to sign in, so a link
pasted into the wrong channel shows nobody any data; in the console, the Word document
written into the data directory's `reports/` folder, with its path. Writing a document
makes it "the last report", the default start of the next one's changes.

"for X" names a directorate when X is one, otherwise the meeting the paper is for
("scrutiny", "Cabinet"); a known meeting name from the strategy file is used in full.
"""

from __future__ import annotations

import os
import re

from handlers.context import Context
from handlers.dashboard import EXPORT_CSV, EXPORT_XLSX, public_url
from handlers.reply import Kind, Reply
from handlers.report import (
    FORMATS,
    LAST_REPORT_WORDS,
    build_report,
    previous_report_at,
    report_link,
    save_report,
)
from handlers.report.content import long_date
from handlers.resolve import find_directorate, fold
from handlers.router import command
from tracker.dates import LONDON, DateNotUnderstood, format_date, parse_since

GROUP = "Reports"
_BODIES = re.compile(
    r"\b(?:committee|commission|board|group|cabinet|executive|panel|council|team|meeting|"
    r"members|forum|cmt|sg)\b",
    re.IGNORECASE,
)
_FORMAT_WORDS = {"word": "docx", "docx": "docx", "html": "html", "web": "html", "pdf": "pdf"}


@command(
    "report",
    r"(?:(?:make|write|create|generate|produce|get|give\s+me|download|send\s+me)\s+)?(?:me\s+)?"
    r"(?:an?\s+|the\s+)?"
    r"(?:(?P<fmt_first>word|docx|html|web|pdf)\s+)?"
    r"(?:(?:committee|progress|strategy|quarterly)\s+)*(?:progress\s+)?report"
    r"(?:\s+(?:for|to)\s+(?:the\s+)?(?P<for>.+?))?"
    r"(?:\s+since\s+(?P<since>.+?))?"
    r"(?:\s+(?:as|in)\s+(?:a\s+)?(?P<fmt>word|docx|html|web|pdf)(?:\s+(?:file|document))?)?",
    group=GROUP,
    examples=(
        "report",
        "progress report for scrutiny",
        "report for Resources since 1 October",
        "pdf report for cabinet",
        "report for scrutiny as a word document",
    ),
    summary="The committee progress report: headline figures and the document to download.",
)
async def report(ctx: Context, match: re.Match[str]) -> Reply:
    info = ctx.repo.strategy_info()
    settings = info.get("report") or {}
    directorate, meeting = None, None
    where = (match.group("for") or "").strip()
    if where:
        known = _known_meeting(where, settings.get("meeting"), info)
        found = find_directorate(ctx.repo, where) if known is None else None
        if found and found.match:
            directorate = found.match
        else:
            meeting = known or _meeting(where)
    since = None
    if match.group("since"):
        try:
            since = parse_since(match.group("since").strip(), ctx.now)
        except DateNotUnderstood as error:
            return Reply(
                title=f"I couldn't read “{match.group('since').strip()}” as a date.",
                lines=[error.hint, "Try `report since 1 October` or `report since 01/10/2026`."],
                kind=Kind.ERROR,
            )
        if since >= ctx.now:
            return Reply(
                title="“Since” must be in the past.",
                lines=["Try `report since 1 October`."],
                kind=Kind.ERROR,
            )
    said = match.group("fmt") or match.group("fmt_first") or "docx"  # "pdf report" too
    fmt = _FORMAT_WORDS.get(said.lower(), "docx")
    made = build_report(
        ctx.repo, ctx.now, since, directorate.id if directorate else None, meeting=meeting
    )
    reply = Reply(title=made.title, lines=made.summary_lines())
    reply.fields.append(("For", made.meeting))
    reply.fields.append(("Changes since", long_date(made.since)))
    public_url = os.environ.get("PUBLIC_URL", "").strip()
    if public_url and ctx.message.sender.channel != "console":
        links = [
            f"{name}: {report_link(public_url, f, made.since, made.directorate)}"
            for f, name in (("docx", "Word"), ("pdf", "PDF"), ("html", "Web page"))
            if f in FORMATS
        ]
        reply.section("Download (sign in with `dashboard` if asked)", links)
    else:
        path = await save_report(ctx.repo, made, fmt)
        reply.section("Saved", [str(path)])
    return reply


@command(
    "last report",
    r"(?:when\s+was\s+)?" + LAST_REPORT_WORDS + r"(?:\s+(?:written|made|done|produced))?\??",
    group=GROUP,
    examples=("when was the last report?",),
    summary="When the last committee report was written: the next one's changes start there.",
)
async def last_report(ctx: Context, match: re.Match[str]) -> Reply:
    at = previous_report_at(ctx.repo)
    if at is None:
        return Reply(
            title="No report has been written yet.",
            lines=["`report` writes one; its changes start three months back."],
        )
    when = at.astimezone(LONDON)
    return Reply(
        title=f"The last report was written on {format_date(when.date())} at {when:%H:%M}.",
        lines=[
            "The next report's changes start there: ask `what changed since the last report?` "
            "to see them."
        ],
    )


@command(
    "export",
    r"(?:(?:can|could)\s+i\s+(?:have|get)\s+|give\s+me\s+|send\s+me\s+|get\s+|i\s+need\s+)?"
    r"(?:an?\s+|the\s+)?(?:export|download|spreadsheet|excel(?:\s+(?:file|export|spreadsheet))?"
    r"|csv(?:\s+files?)?)(?:\s+(?:of\s+)?(?:the\s+|all\s+(?:the\s+)?)?(?:data|tracker|everything"
    r"|objectives|risks|updates))?(?:\s+(?:to|as|in)\s+(?:an?\s+)?(?:excel|xlsx|csv"
    r"|(?:a\s+)?spreadsheet))?(?:\s+please)?\??",
    group=GROUP,
    examples=("export to excel",),
    summary="The tracker's data as a spreadsheet (Excel or CSV) from the dashboard.",
)
async def export(ctx: Context, match: re.Match[str]) -> Reply:
    base = public_url()
    reply = Reply(
        title="The data as a spreadsheet",
        lines=[
            f"Excel, one sheet per table: {base}{EXPORT_XLSX}",
            f"CSV, one file per table (a zip): {base}{EXPORT_CSV}",
            "Sign in with `dashboard` if the page asks.",
        ],
    )
    if ctx.message.sender.channel == "console":
        reply.lines.append("Or in a terminal: `python -m bot export --format xlsx`.")
    return reply


def _known_meeting(where: str, configured: str | None, info: dict) -> str | None:
    """The configured meeting or the strategy group, when "for X" names one of them."""
    wanted = fold(re.sub(r"^the\s+", "", where.strip(), flags=re.I))
    group = info.get("group_name") or "Strategy group"
    if configured and wanted and wanted in fold(configured):
        return configured
    names = {"strategy group", "group", fold(group), fold(info.get("group_short") or "")}
    return group if wanted in names - {""} else None


def _meeting(where: str) -> str:
    """A meeting named in "report for X": "scrutiny" becomes "Scrutiny Committee"."""
    words = where.strip()
    words = words[:1].upper() + words[1:]
    return words if _BODIES.search(words) else f"{words} Committee"
