"""One view of the data (issue 11, section 3): the same headline figures everywhere.

One fixture store (ten weeks of chat, tests/digest_fixture.py) is read back the way each
audience reads it: the committee report as DOCX (python-docx) and as HTML (an HTML
parser), the dashboard's strategy page over real HTTP after signing in with a link the
bot gave in chat, the strategy group's weekly digest, and the chat `summary` answer.
From each, the test parses the headline figures out of the words and tables a reader
sees (number of objectives, % fully and partly achieved, counts by status and by RAG,
overdue), and checks that all five agree with each other and with a count made here
directly from the objectives.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from html.parser import HTMLParser

import pytest
from aiohttp import web
from docx import Document

from bot.web import DashboardSettings, add_dashboard
from handlers import digest_content as digest
from handlers.front_door import FrontDoor
from handlers.message import IncomingMessage, Sender
from handlers.report import build_report, render_docx, render_html
from tests.digest_fixture import NOW, SINCE, build_history
from tests.fakes.harness import serve
from tracker.model import Rag, Status

SECRET = "one-view-dashboard-secret-0123456789"
STATUS_WORDS = "|".join(re.escape(s.value) for s in Status)
RAG_WORDS = "|".join(r.value for r in Rag)


# ----------------------------------------------------------------- reading the figures
def figures(text: str, status_rows: dict[str, str] | None = None) -> dict[str, object]:
    """The headline figures as a reader finds them in `text` (and a status table's rows,
    status name -> count, where the figures are tabled rather than written out)."""
    text = " ".join(text.split())
    sentence = re.search(
        r"Of (?:the )?(\d+) objectives?, (\d+)% (?:are fully )?achieved(?:,| and) "
        r"(\d+)% partly achieved",
        text,
    )
    assert sentence, text[:500]
    if status_rows is None:
        listed = re.search(rf"\d+ objectives: ((?:\d+ (?:{STATUS_WORDS})(?:, )?)+)", text)
        assert listed, text[:500]
        status_rows = {s: n for n, s in re.findall(rf"(\d+) ({STATUS_WORDS})", listed[1])}
    by_status = {Status(s.lower()): int(n) for s, n in status_rows.items() if int(n)}
    rag = re.search(rf"By RAG(?: rating)?: ((?:\d+ (?:{RAG_WORDS})(?:, )?)+)", text)
    assert rag, text[:500]
    by_rag = {Rag(c): int(n) for n, c in re.findall(rf"(\d+) ({RAG_WORDS})", rag[1])}
    late = re.findall(r"(\d+) (?:objectives? (?:is|are) past their due date|overdue\b)", text)
    assert len(set(late)) == 1, late  # said once, or said the same way each time
    return {
        "total": int(sentence[1]),
        "achieved %": int(sentence[2]),
        "partly %": int(sentence[3]),
        "by status": by_status,
        "by RAG": by_rag,
        "overdue": int(late[0]),
    }


class PageText(HTMLParser):
    """A page's visible text (scripts, styles and the chart's SVG text left out) and its
    tables as rows of cell texts."""

    SKIP = frozenset({"style", "script", "title", "svg"})

    def __init__(self, html: str) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.tables: list[list[list[str]]] = []
        self.skipping = 0
        self.cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []
        elif tag in ("p", "li", "div", "span", "h1", "h2", "h3", "br"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping -= 1
        elif tag in ("td", "th") and self.cell is not None and self.tables:
            self.tables[-1][-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        self.parts.append(data)
        if self.cell is not None:
            self.cell.append(data)

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _status_table(tables: list[list[list[str]]]) -> dict[str, str]:
    """The report's "Objectives by status" table: status -> count (third column)."""
    found = [t for t in tables if t and t[0][:3] == ["Status", "RAG", "Objectives"]]
    assert len(found) == 1
    return {row[0]: row[2] for row in found[0][1:]}


# ----------------------------------------------------------------- the five views
@pytest.fixture
async def store(tmp_path, monkeypatch):
    repo, clock = await build_history(tmp_path / "data")
    yield repo, clock
    repo.close()


def from_docx(repo) -> dict[str, object]:
    document = Document(io.BytesIO(render_docx(build_report(repo, NOW, SINCE))))
    text = "\n".join(p.text for p in document.paragraphs)
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in document.tables]
    return figures(text, _status_table(tables))


def from_html(repo) -> dict[str, object]:
    page = PageText(render_html(build_report(repo, NOW, SINCE)))
    return figures(page.text, _status_table(page.tables))


async def from_dashboard(repo, clock, monkeypatch) -> dict[str, object]:
    """The strategy page over HTTP, signed in with the link `dashboard` gives in chat."""
    app = web.Application()
    add_dashboard(app, repo, DashboardSettings(SECRET.encode(), "http://127.0.0.1", clock))
    client = await serve(app)
    try:
        base = str(client.make_url("/")).rstrip("/")
        monkeypatch.setenv("DASHBOARD_SECRET", SECRET)
        monkeypatch.setenv("PUBLIC_URL", base)
        reply = await FrontDoor(repo, clock=clock).handle(
            IncomingMessage("dashboard", Sender("console", person_id="tcarter"))
        )
        link = re.search(r"/signin/\S+", reply.as_text())
        assert link, reply.as_text()
        assert (await client.get("/")).status == 401  # no data before signing in
        signed_in = await client.get(link[0], allow_redirects=False)
        assert signed_in.status == 303
        response = await client.get("/")
        assert response.status == 200
        page = PageText(await response.text())
    finally:
        await client.close()
    table = next(t for t in page.tables if t and t[0][0] == "Theme")
    whole = next(row for row in table if row[0] == "All themes")
    status_rows = dict(zip(table[0][1:-1], whole[1:-1], strict=True))
    shown = figures(page.text, status_rows)
    assert shown["by status"] == figures(page.text)["by status"]  # table and sentence agree
    assert int(whole[-1]) == shown["total"]
    return shown


def from_digest(repo) -> dict[str, object]:
    return figures(digest.strategy_digest(repo, NOW, SINCE).as_text())


async def from_chat(repo, clock) -> dict[str, object]:
    reply = await FrontDoor(repo, clock=clock).handle(
        IncomingMessage("summary", Sender("console", person_id="mkhan"))
    )
    return figures(reply.as_text())


async def test_report_dashboard_digest_and_chat_show_the_same_figures(store, monkeypatch):
    repo, clock = store
    objectives = repo.objectives()
    statuses = Counter(o.status for o in objectives)
    expected = {
        "total": len(objectives),
        "achieved %": round(100 * statuses[Status.ACHIEVED] / len(objectives)),
        "partly %": round(100 * statuses[Status.PARTLY_ACHIEVED] / len(objectives)),
        "by status": dict(statuses),
        "by RAG": dict(Counter(o.status.rag for o in objectives)),
        "overdue": sum(1 for o in objectives if o.is_overdue(NOW.date())),
    }
    # The story gives every kind of figure something to show.
    assert expected["total"] == 20 and expected["overdue"] >= 1
    assert len(expected["by RAG"]) == 5 and len(expected["by status"]) >= 6

    views = {
        "DOCX report": from_docx(repo),
        "HTML report": from_html(repo),
        "dashboard": await from_dashboard(repo, clock, monkeypatch),
        "weekly digest": from_digest(repo),
        "chat summary": await from_chat(repo, clock),
    }
    for name, shown in views.items():
        assert shown == expected, name
