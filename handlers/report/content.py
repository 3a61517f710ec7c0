"""The committee report's content: what the paper says, built once, rendered many ways.

A UK committee paper (York's report to the Executive, a county's ICT strategy progress
report to its Scrutiny Commission, Harrow's Cabinet report with its risk register) is a
title block followed by numbered sections whose paragraphs are numbered 1.1, 1.2...
`build_report` turns the store into that shape: a `Report` of `Section`s holding
`Paragraph`s, `Table`s and a `Chart`, with no markup. DOCX, HTML and PDF renderers walk
the same structure, so the three formats can never disagree, and the headline figures
come from `tracker.progress.headline`, the computation the digests and dashboard use.

RAG is always given in words ("Amber (at risk)"), never by colour alone. Officers'
commentary is quoted as they wrote it; renderers escape it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from PIL import ImageFont

from handlers import digest_content as digest
from storage.repository import Repository
from tracker import progress
from tracker.chart import CHART_ORDER
from tracker.dates import LONDON
from tracker.model import Objective, Risk, Status, Theme

LAST_REPORT = "report-last"  # meta key: when the previous report was generated
DEFAULT_PERIOD_DAYS = 91  # without a previous report, "since" is a quarter ago
DEFAULTS = {
    "author": "Head of ICT and Digital",
    "recommendation": "The {meeting} is asked to NOTE this report.",
}


@dataclass(frozen=True)
class Paragraph:
    number: str  # "3.1"
    text: str


@dataclass(frozen=True)
class Table:
    caption: str
    header: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]


@dataclass(frozen=True)
class Chart:
    """Status by theme, drawn as stacked bars; `table` carries the same data as text."""

    title: str
    alt: str
    statuses: tuple[Status, ...]
    bars: list[tuple[str, dict[Status, int]]]  # (theme label, count per status)
    table: Table
    themes: list[Theme] = field(default_factory=list)  # for tracker.chart's PNG (DOCX)
    objectives: list[Objective] = field(default_factory=list)


@dataclass(frozen=True)
class Heading:
    text: str  # a sub-heading inside a section (a theme)


Block = Paragraph | Table | Chart | Heading


@dataclass
class Section:
    number: int
    heading: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Report:
    council: str
    title: str
    meeting: str
    date: date
    report_of: str
    strategy: str
    since: datetime
    now: datetime
    directorate: str | None
    headline: progress.Headline
    previous: progress.Headline
    sections: list[Section] = field(default_factory=list)

    @property
    def filename(self) -> str:
        scope = f"-{self.directorate}" if self.directorate else ""
        return f"strategy-progress-report{scope}-{self.date.isoformat()}"

    def summary_lines(self) -> list[str]:
        """The figures a chat answer gives alongside the download link."""
        h = self.headline
        counts = ", ".join(f"{n} {s.value}" for s, n, _ in h.status_counts() if n)
        return [f"{h.sentence}.", f"By status: {counts}.", f"By RAG: {h.rag_line()}.",
                f"Overdue: {h.overdue}."]  # fmt: skip


# ----------------------------------------------------------------- layout and wording
# Table text is Arial (Liberation Sans where Arial is missing: the same widths). Column
# widths are measured with the font itself (Pillow reads its metrics), so no column is
# narrower than its longest word and Word, a browser or Typst never breaks "Medium" as
# "Mediu m". The PDF is set in Liberation Sans itself when installed (typst_data.py).
FONT_DIR = Path("/usr/share/fonts/truetype/liberation")  # Debian's fonts-liberation
CELL_PADDING_CM = 0.45  # Word's default cell margins (2 × 0.19 cm) or the print CSS's, plus slack
TABLE_PT = (9.0, 8.0, 7.0)  # DOCX and PDF table text size, smaller only when a table needs it


@lru_cache(maxsize=2)
def _font(bold: bool) -> ImageFont.FreeTypeFont | None:
    name = "LiberationSans-Bold.ttf" if bold else "LiberationSans-Regular.ttf"
    try:
        return ImageFont.truetype(
            str(FONT_DIR / name), size=100, layout_engine=ImageFont.Layout.BASIC
        )
    except OSError:
        return None  # no font file: estimate from the number of characters instead


@lru_cache(maxsize=1 << 16)  # a report measures the same few thousand words many times
def _width_at_100pt(text: str, bold: bool) -> float:
    font = _font(bold)
    if font is None:
        return len(text) * (60.0 if bold else 55.0)  # a wide average: 0.55–0.6 em
    return float(font.getlength(text))


def text_cm(text: str, pt: float, bold: bool = False) -> float:
    """How wide `text` is set in Arial at `pt` points, in cm."""
    return _width_at_100pt(text, bold) * pt / 100 / 72 * 2.54


def _line_cm(text: str, pt: float, bold: bool = False) -> float:
    """`text` on one line: its words' widths (each measured once) and the spaces between."""
    words = text.split()
    return sum(text_cm(w, pt, bold) for w in words) + text_cm(" ", pt, bold) * (len(words) - 1)


def _word_floors(table: Table, pt: float) -> list[float]:
    floors = []
    for i, head in enumerate(table.header):
        words = [(w, True) for w in head.split()]
        words += [(w, False) for row in table.rows for w in row[i].split()]
        floors.append(max((text_cm(w, pt, b) for w, b in words), default=0.0) + CELL_PADDING_CM)
    return floors


def table_pt(table: Table, total_cm: float) -> float:
    """The largest of TABLE_PT at which every column fits its longest word."""
    for pt in TABLE_PT:
        if sum(_word_floors(table, pt)) <= total_cm:
            return pt
    return TABLE_PT[-1]


def column_widths(table: Table, total_cm: float, pt: float = 9.0) -> list[float]:
    """Column widths in cm for a page `total_cm` wide with text at `pt` points, shared by
    DOCX and HTML/PDF: each column fits its longest word (no word broken mid-way), and the
    rest of the width goes to the columns with the most to say (objective, risk,
    commentary)."""
    floors = _word_floors(table, pt)
    wants = [
        max([_line_cm(head, pt, True), *(_line_cm(row[i], pt) for row in table.rows)])
        + CELL_PADDING_CM
        for i, head in enumerate(table.header)
    ]
    spare = max(total_cm - sum(floors), 0.0)
    extra = [max(w - f, 0.0) for w, f in zip(wants, floors, strict=True)]
    share = spare / sum(extra) if sum(extra) > spare else 1.0
    widths = [f + e * share for f, e in zip(floors, extra, strict=True)]
    scale = total_cm / sum(widths) if sum(widths) > total_cm else 1.0
    return [w * scale for w in widths]


def long_date(value: date | datetime) -> str:
    """ "16 November 2026", as committee papers write dates."""
    if isinstance(value, datetime):
        value = value.astimezone(LONDON).date()
    return f"{value.day} {value:%B %Y}"


def short_date(value: date) -> str:
    """ "4 Dec 2026", for table cells where space is tight."""
    return f"{value.day} {value:%b %Y}"


def rag_words(status: Status) -> str:
    """ "Amber (at risk)": RAG in words, never colour alone."""
    return f"{status.rag.value.capitalize()} ({status.value})"


def plural(count: int, noun: str) -> str:
    return digest.plural(count, noun)


class _Numberer:
    """Paragraph numbers within one section: 3.1, 3.2..."""

    def __init__(self, section: Section) -> None:
        self.section = section
        self.count = 0

    def para(self, text: str) -> Paragraph:
        self.count += 1
        paragraph = Paragraph(f"{self.section.number}.{self.count}", text)
        self.section.blocks.append(paragraph)
        return paragraph

    def add(self, block: Block) -> None:
        self.section.blocks.append(block)


# ----------------------------------------------------------------- the builder
# How officers name it, in "when was the last report?" and "what changed since the last
# report?": one pattern for both commands.
LAST_REPORT_WORDS = r"(?:the\s+)?(?:last|previous|latest)\s+report"


def previous_report_at(repo: Repository) -> datetime | None:
    record = repo.meta(LAST_REPORT)
    return datetime.fromisoformat(record["at"]) if record else None


async def remember_report(repo: Repository, report: Report) -> None:
    """Record this report's time so the next one's "changes since" starts here."""
    await repo.set_meta(LAST_REPORT, {"at": report.now.isoformat()})


def build_report(
    repo: Repository,
    now: datetime,
    since: datetime | None = None,
    directorate: str | None = None,
    meeting: str | None = None,
) -> Report:
    """The committee report as at `now`, with changes since `since` (default: last report)."""
    now = now.astimezone(LONDON)
    today = now.date()
    if since is None:
        since = previous_report_at(repo)
        if since is None or since >= now:
            since = now - timedelta(days=DEFAULT_PERIOD_DAYS)
    info = repo.strategy_info()
    settings: dict[str, Any] = dict(info.get("report") or {})
    group = info.get("group_name") or "Strategy group"
    meeting = meeting or settings.get("meeting") or group
    strategy = info.get("name") or "ICT Strategy"
    directorate_obj = repo.directorate(directorate) if directorate else None
    if directorate and directorate_obj is None:
        raise LookupError(f"no directorate {directorate!r}")

    objectives = [o for o in repo.objectives() if not directorate or o.directorate == directorate]
    win = digest.window(repo, since, now)
    win.objectives = {k: v for k, v in win.objectives.items() if k in {o.id for o in objectives}}
    before = [replace(o, status=digest.status_at_start(win, o)) for o in objectives]
    risks = [
        r
        for r in repo.risks()
        if not directorate or digest.directorate_of_risk(repo, r) == directorate
    ]
    title = settings.get("title") or f"{strategy}: implementation progress report"
    if directorate_obj:
        title += f" ({directorate_obj.name})"
    report = Report(
        council=info.get("council") or "",
        title=title,
        meeting=meeting,
        date=today,
        report_of=settings.get("author") or DEFAULTS["author"],
        strategy=strategy,
        since=since,
        now=now,
        directorate=directorate,
        headline=progress.headline(objectives, today),
        previous=progress.headline(before, since.astimezone(LONDON).date()),
    )
    scope = f" for the {directorate_obj.name} directorate" if directorate_obj else ""
    _purpose(report, repo, info, scope)
    _overall(report, repo, objectives, today)
    _themes(report, repo, objectives, today)
    _exceptions(report, repo, objectives, today)
    _risks(report, repo, risks, win)
    _changes(report, repo, win)
    recommendation = settings.get("recommendation") or DEFAULTS["recommendation"]
    section = _section(report, "Recommendation")
    section.para(recommendation.replace("{meeting}", meeting))
    _officers(report, repo, settings)
    return report


def _section(report: Report, heading: str) -> _Numberer:
    section = Section(len(report.sections) + 1, heading)
    report.sections.append(section)
    return _Numberer(section)


def _purpose(report: Report, repo: Repository, info: dict[str, Any], scope: str) -> None:
    s = _section(report, "Purpose of the report")
    period = info.get("period") or ""
    period = f" ({period})" if period and period not in report.strategy else ""
    s.para(
        f"This report updates the {report.meeting} on progress in delivering the "
        f"{report.strategy}{period}{scope} between {long_date(report.since)} and "
        f"{long_date(report.date)}."
    )
    s = _section(report, "Background")
    themes = repo.themes()
    s.para(
        f"The {report.strategy} sets out {plural(len(themes), 'theme')} and "
        f"{plural(len(repo.objectives()), 'objective')}, each owned by a directorate and "
        f"a named officer with a due date."
    )
    group, short = info.get("group_name"), info.get("group_short")
    if group:
        named = f"{group} ({short})" if short and short != group else group
        s.para(
            f"Delivery is overseen by the {named}, which reviews progress, exceptions and "
            "the risk register and receives a weekly digest of officers' updates."
        )
    s.para(
        "Officers report progress as it happens; the figures and commentary in this report "
        f"are as recorded at {report.now:%H:%M} on {long_date(report.date)}, and commentary "
        "is quoted in the officers' own words."
    )


def _overall(report: Report, repo: Repository, objectives: list[Objective], today: date) -> None:
    s = _section(report, "Overall progress")
    h, was = report.headline, report.previous
    sentence = f"{h.sentence}."
    if (was.achieved_percent, was.partly_percent) != (h.achieved_percent, h.partly_percent):
        sentence += (
            f" At the previous report ({long_date(report.since)}) the figures were "
            f"{was.achieved_percent}% and {was.partly_percent}%."
        )
    else:
        sentence += f" These are unchanged since the previous report ({long_date(report.since)})."
    s.para(sentence)
    s.para("The objectives by status, and the change since the previous report:")
    s.add(
        Table(
            "Objectives by status",
            ("Status", "RAG", "Objectives", "Per cent", "Change since previous report"),
            [
                (st.value.capitalize(), st.rag.value.capitalize(), str(n), f"{pct}%",
                 _signed(n - was.by_status.get(st, 0)))
                for st, n, pct in h.status_counts()
            ],
        )
    )  # fmt: skip
    s.para(f"By RAG rating: {h.rag_line() if h.total else 'no objectives'}.")
    if h.overdue:
        s.para(
            f"{plural(h.overdue, 'objective')} {'is' if h.overdue == 1 else 'are'} past "
            "their due date and not yet achieved; they are listed under Exceptions."
        )
    themes = [t for t in repo.themes() if any(o.theme == t.number for o in objectives)]
    bars = [
        (f"Theme {t.number}", dict(progress.tally(o for o in objectives if o.theme == t.number)
                                   .by_status))
        for t in themes
    ]  # fmt: skip
    shown = tuple(st for st in CHART_ORDER if any(b.get(st) for _, b in bars))
    table = Table(
        "Objectives by theme and status",
        ("Theme", *(st.value.capitalize() for st in shown), "Total"),
        [(label, *(str(b.get(st, 0)) for st in shown), str(sum(b.values()))) for label, b in bars],
    )
    alt = "; ".join(
        f"{label}: " + ", ".join(f"{b[st]} {st.value}" for st in shown if b.get(st))
        for label, b in bars
    )
    s.para("The chart shows each theme's objectives by status; the table beneath gives its data.")
    s.add(Chart("Objectives by theme and status", f"Bar chart. {alt}.", shown, bars, table,
                themes, objectives))  # fmt: skip


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def _signed(change: int) -> str:
    return "no change" if change == 0 else f"{change:+d}".replace("-", "−")


def _latest(repo: Repository, objective: Objective) -> tuple[str, str]:
    """The officer's latest words on an objective and who/when, or ("", "")."""
    for change in reversed(repo.updates_for(objective.id, latest=5)):
        if change.note and not change.undone:
            when = change.at.astimezone(LONDON).date()
            return change.note, f"{digest.name_of(repo, change.actor)}, {short_date(when)}"
    return "", ""


def _themes(report: Report, repo: Repository, objectives: list[Objective], today: date) -> None:
    s = _section(report, "Progress by theme")
    names = {d.id: d.name for d in repo.directorates()}
    for theme in repo.themes():
        mine = [o for o in objectives if o.theme == theme.number]
        if not mine:
            continue
        s.add(Heading(f"Theme {theme.number}: {theme.title}"))
        t = progress.tally(mine)
        s.para(f"{t.headline()}; {t.percent(Status.ACHIEVED)}% fully achieved and "
               f"{t.percent(Status.PARTLY_ACHIEVED)}% partly achieved.")  # fmt: skip
        rows = []
        for o in mine:
            note, said = _latest(repo, o)
            due = short_date(o.due) if o.due else "none"
            if o.is_overdue(today):
                due += f" (overdue by {plural(progress.days_late(o, today), 'day')})"
            rows.append(
                (o.id, o.title, rag_words(o.status),
                 f"{o.progress}%" if o.progress is not None else "not given", due,
                 digest.name_of(repo, o.owner), names.get(o.directorate, o.directorate),
                 f"“{note}” ({said})" if note else "No update recorded yet.")
            )  # fmt: skip
        s.add(
            Table(
                f"Theme {theme.number} objectives",
                ("Ref", "Objective", "Status (RAG)", "Progress", "Due", "Owner", "Directorate",
                 "Latest commentary"),
                rows,
            )
        )  # fmt: skip


def _exceptions(report: Report, repo: Repository, objectives: list[Objective], today: date) -> None:
    s = _section(report, "Exceptions")
    wanted = [
        o
        for o in objectives
        if o.status in (Status.OFF_TRACK, Status.AT_RISK) or o.is_overdue(today)
    ]
    wanted.sort(key=lambda o: (progress.STATUS_ORDER.index(o.status), o.due or today))
    if not wanted:
        s.para("No objective is off track, at risk or overdue.")
        return
    s.para(
        f"{plural(len(wanted), 'objective')} {'is' if len(wanted) == 1 else 'are'} off track, "
        "at risk or overdue. For each, what the responsible officer last said:"
    )
    for o in wanted:
        state = [rag_words(o.status)]
        if o.is_overdue(today) and o.due:
            state.append(
                f"overdue by {plural(progress.days_late(o, today), 'day')} (due {long_date(o.due)})"
            )
        note, said = _latest(repo, o)
        last = f" Last said: “{note}” ({said})." if note else " No update has been recorded."
        s.para(f"{o.id} {o.title}: {', '.join(state)}; owner {digest.name_of(repo, o.owner)}."
               + last)  # fmt: skip


def _risks(report: Report, repo: Repository, risks: list[Risk], win: digest.Window) -> None:
    s = _section(report, "Risk register")
    open_risks = progress.top_risks(risks, limit=len(risks) or 1)
    if not open_risks:
        s.para("There are no open risks on the register.")
        return
    news = {r.id: digest.risk_news(r, win) for r in open_risks}
    high = sum(1 for r in open_risks if r.band == "high")
    s.para(
        f"The register holds {plural(len(open_risks), 'open risk')}, {high} of them high. "
        "Risks are scored likelihood × impact on a 5 × 5 matrix: 1–4 low, 5–12 medium, "
        "15–25 high."
    )
    rows = []
    for r in open_risks:
        tags = news[r.id].tags(report.date)
        rows.append(
            (r.id, r.title, str(r.likelihood), str(r.impact), str(r.score), r.band.capitalize(),
             digest.name_of(repo, r.owner), r.mitigation or "None recorded",
             short_date(r.review) if r.review else "Not set",
             _sentence_case("; ".join(tags)))
        )  # fmt: skip
    s.add(
        Table(
            "Risk register",
            ("Ref", "Risk", "Likelihood", "Impact", "Score", "Level", "Owner", "Mitigation",
             "Review date", "Since last report"),
            rows,
        )
    )  # fmt: skip
    for label, chosen in (
        ("New since the last report", [r for r in open_risks if news[r.id].new]),
        ("Rising", [r for r in open_risks if news[r.id].score_was is not None]),
        ("Past their review date", [r for r in open_risks if news[r.id].review_passed]),
    ):
        if chosen:
            listed = "; ".join(
                f"{r.id} {r.title} (score {r.score}"
                + (f", up from {news[r.id].score_was}" if news[r.id].score_was else "")
                + (f", review was due {long_date(r.review)}" if news[r.id].review_passed
                   and r.review else "")
                + ")"
                for r in chosen
            )  # fmt: skip
            s.para(f"{label}: {listed}.")


def _changes(report: Report, repo: Repository, win: digest.Window) -> None:
    s = _section(report, "Changes since the last report")
    updates = [c for a in win.objectives.values() for c in a.updates()]
    if not updates and not any(a.net() for a in win.objectives.values()):
        s.para(f"No updates have been recorded since {long_date(report.since)}.")
        return
    s.para(
        f"Since {long_date(report.since)}, {plural(len(updates), 'update')} "
        f"{'was' if len(updates) == 1 else 'were'} recorded by "
        f"{plural(len({c.actor for c in updates}), 'officer')}."
    )
    for activity in sorted(win.objectives.values(), key=lambda a: _order(a.objective.id)):
        net = activity.net()
        if not net and not activity.is_new:
            continue
        parts = ["added" if activity.is_new else ""]
        for name, (was, now) in net.items():
            show = digest.brief_value  # the digest's wording for status, % and dates
            label = "" if name == "due" else f"{name} "  # brief_value says "due ..." itself
            parts.append(f"{label}{show(name, was, report.date)} → {show(name, now, report.date)}")
        o = activity.objective
        s.para(f"{o.id} {o.title}: {'; '.join(p for p in parts if p)}.")


def _order(objective_id: str) -> tuple[int, ...]:
    return tuple(int(p) for p in objective_id.split(".") if p.isdigit())


def _officers(report: Report, repo: Repository, settings: dict[str, Any]) -> None:
    s = _section(report, "Officers to contact")
    officers = settings.get("officers") or []
    if not officers:
        admins = [p for p in repo.people() if p.role.value == "admin"]
        officers = [{"name": p.name, "role": report.report_of, "email": p.email or ""}
                    for p in admins[:1]]  # fmt: skip
    for officer in officers:
        details = [officer.get(k) for k in ("role", "email", "phone") if officer.get(k)]
        s.para(", ".join([officer["name"], *details]))
