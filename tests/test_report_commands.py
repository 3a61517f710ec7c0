"""The report from chat and the CLI, and the strategy file's `report:` section (the
figures agreeing with the dashboard, digest and chat are tests/test_one_view.py's)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from docx import Document

from bot.cli import main
from handlers.front_door import FrontDoor
from handlers.message import IncomingMessage, Sender
from handlers.reply import Kind
from handlers.report import LAST_REPORT, report_link, report_query
from tests.digest_fixture import NOW, SAMPLE, build_history
from tracker import progress
from tracker.strategy_file import StrategyFileError, load_strategy


@pytest.fixture
async def chat(tmp_path, monkeypatch):
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    repo, clock = await build_history(tmp_path / "data")
    tracker = FrontDoor(repo, clock=clock)

    async def say(text: str, as_: str = "tcarter", channel: str = "console"):
        return await tracker.handle(IncomingMessage(text, Sender(channel, person_id=as_)))

    yield say, repo
    repo.close()


# ----------------------------------------------------------------- chat
async def test_report_in_the_console_writes_the_word_document(chat):
    say, repo = chat
    reply = await say("report")
    text = reply.as_text()
    assert reply.kind is Kind.ANSWER
    assert "Of the 20 objectives, 20% are fully achieved and 5% partly achieved." in text
    assert "By RAG: 2 red, 4 amber, 7 green, 4 blue, 3 grey." in text
    assert "Overdue: 2." in text
    path = Path(reply.sections[-1].items[0].text)
    assert path.parent == Path(repo.store.directory) / "reports" and path.suffix == ".docx"
    assert any("Of the 20 objectives" in p.text for p in Document(path).paragraphs)
    assert repo.meta(LAST_REPORT)["at"] == NOW.isoformat()


async def test_report_for_scrutiny_names_the_meeting(chat):
    say, _ = chat
    reply = await say("progress report for scrutiny")
    assert ("For", "Scrutiny Committee") in reply.fields
    path = Path(reply.sections[-1].items[0].text)
    paragraphs = [p.text for p in Document(path).paragraphs]
    assert "8.1\tThe Scrutiny Committee is asked to NOTE this report." in paragraphs


async def test_when_was_the_last_report_and_what_changed_since(tmp_path, monkeypatch):
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    repo, clock = await build_history(tmp_path / "data")
    tracker = FrontDoor(repo, clock=clock)

    async def say(text: str, as_: str = "tcarter") -> str:
        reply = await tracker.handle(IncomingMessage(text, Sender("console", person_id=as_)))
        assert reply.kind is not Kind.ERROR, reply.as_text()
        return reply.as_text()

    try:
        assert "No report has been written yet." in await say("when was the last report?")
        assert "no last report" in await say("what changed since the last report?")
        await say("report")
        last = await say("when was the last report?")
        assert "The last report was written on Mon 16 Nov 2026 at 09:00." in last
        clock.advance(hours=2)
        await say("update 3.2 on track 65% after the paper went out", as_="mkhan")
        changed = await say("what changed since the last report?")
        assert changed.startswith("1 change since the last report (Mon 16 Nov 2026)")
        assert "after the paper went out" in changed and "EDRMS pilot" not in changed
    finally:
        repo.close()


@pytest.mark.parametrize(
    ("text", "suffix"),
    [("report as pdf", ".pdf"), ("pdf report", ".pdf"), ("a PDF progress report for scrutiny",
     ".pdf"), ("word report", ".docx"), ("html report for Resources", ".html"),
     ("download the report", ".docx"), ("send me the report as pdf", ".pdf")],
)  # fmt: skip
async def test_the_format_can_be_named_before_or_after_report(chat, text, suffix):
    say, _ = chat
    reply = await say(text)
    assert reply.kind is Kind.ANSWER, reply.as_text()
    assert Path(reply.sections[-1].items[0].text).suffix == suffix


async def test_a_second_report_the_same_day_does_not_replace_the_first(chat):
    """The strategy group's paper, then Scrutiny's: both files stay, each as generated."""
    say, _ = chat
    first = Path((await say("report")).sections[-1].items[0].text)
    second = Path((await say("progress report for scrutiny")).sections[-1].items[0].text)
    assert second != first and second.name == first.stem + "-2.docx"
    assert "Scrutiny Committee" not in " ".join(p.text for p in Document(first).paragraphs)
    assert "Scrutiny Committee" in " ".join(p.text for p in Document(second).paragraphs)


@pytest.mark.parametrize("text", ["report for the strategy group", "report for CITSG"])
async def test_report_for_the_strategy_group_is_the_whole_strategy(chat, text):
    say, _ = chat
    reply = await say(text)
    assert ("For", "Corporate IT Strategy Group") in reply.fields
    assert not reply.title.endswith(")") and "Of the 20 objectives" in reply.lines[0]


async def test_report_for_a_directorate_since_a_date(chat):
    say, repo = chat
    reply = await say("report for Resources since 1 October")
    assert reply.title.endswith("(Resources)")
    assert ("Changes since", "1 October 2026") in reply.fields
    resources = [o for o in repo.objectives() if o.directorate == "resources"]
    h = progress.headline(resources, NOW.date())
    assert f"Of the {h.total} objectives, {h.achieved_percent}%" in reply.lines[0]
    assert h.total < 20


async def test_report_with_a_public_url_links_to_the_dashboard_download(chat, monkeypatch):
    say, repo = chat
    monkeypatch.setenv("PUBLIC_URL", "https://tracker.example.gov.uk/")
    reply = await say("report for Resources since 1 October", channel="slack")
    links = [i.text for s in reply.sections for i in s.items]
    assert links[0] == (
        "Word: https://tracker.example.gov.uk/report.docx?since=2026-10-01&directorate=resources"
    )
    assert any(link.startswith("PDF: https://tracker.example.gov.uk/report.pdf?") for link in links)
    assert repo.meta(LAST_REPORT) is None  # nothing was written, so no "last report"
    since, directorate = report_query({"since": "2026-10-01", "directorate": "resources"})
    assert (since.date().isoformat(), directorate) == ("2026-10-01", "resources")


@pytest.mark.parametrize("text", ["report since next week", "report since the fourth of never"])
async def test_a_since_the_bot_cannot_read_is_refused_and_nothing_is_written(chat, text):
    say, repo = chat
    reply = await say(text)
    assert reply.kind is Kind.ERROR and "report since 1 October" in reply.as_text()
    assert repo.meta(LAST_REPORT) is None
    assert not (Path(repo.store.directory) / "reports").exists()


def test_report_link_round_trips():
    link = report_link("http://127.0.0.1:3978", "pdf", NOW - timedelta(days=3), None)
    assert link == "http://127.0.0.1:3978/report.pdf?since=2026-11-13"


# ----------------------------------------------------------------- CLI
def test_cli_writes_each_format_and_remembers_the_last_report(tmp_path, capsys):
    data = tmp_path / "data"
    out = tmp_path / "paper.html"
    assert main(["report", "--format", "html", "--to", str(out), "--data", str(data),
                 "--since", "01/10/2026", "--strategy", str(SAMPLE)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert f"Wrote {out}" in printed and "Of the 20 objectives" in printed
    html = out.read_text(encoding="utf-8")
    assert "between 1 October 2026 and" in html and "<h2" in html
    assert main(["report", "--directorate", "Resources", "--data", str(data)]) == 0
    written = re.search(r"Wrote (\S+)", capsys.readouterr().out).group(1)
    assert written.endswith(".docx") and "/reports/strategy-progress-report-resources-" in written
    paragraphs = [p.text for p in Document(written).paragraphs]
    # the default "since" is the previous report, just written
    assert not any("between 1 October 2026" in p for p in paragraphs)


def test_cli_takes_the_format_from_the_file_name_and_refuses_a_contradiction(tmp_path, capsys):
    """`--to paper.pdf` alone wrote a Word document named .pdf."""
    data, paper = tmp_path / "data", tmp_path / "paper.pdf"
    common = ["--data", str(data), "--strategy", str(SAMPLE)]
    assert main(["report", "--to", str(paper), *common]) == 0
    assert paper.read_bytes().startswith(b"%PDF-")
    web = tmp_path / "paper.HTM"
    assert main(["report", "--to", str(web), *common]) == 0
    assert web.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    capsys.readouterr()
    clash = tmp_path / "clash.pdf"
    assert main(["report", "--format", "docx", "--to", str(clash), *common]) == 2
    assert "--format docx but --to" in capsys.readouterr().err and not clash.exists()


def test_cli_refuses_an_unknown_directorate_or_date(tmp_path, capsys):
    data = str(tmp_path / "data")
    assert main(["report", "--directorate", "planning", "--data", data]) == 2
    assert "no directorate 'planning'" in capsys.readouterr().err
    assert main(["report", "--since", "the 45th", "--data", data]) == 2
    assert not (tmp_path / "data" / "reports").exists()


# ----------------------------------------------------------------- strategy file
def _with_report(tmp_path: Path, section: str) -> Path:
    path = tmp_path / "strategy.yaml"
    path.write_text(SAMPLE.read_text(encoding="utf-8") + "\n" + section, encoding="utf-8")
    return path


def test_report_section_sets_the_wording(tmp_path, capsys):
    path = _with_report(tmp_path, """report:
  author: Chief Digital Officer
  meeting: Overview and Scrutiny Committee
  recommendation: The Committee is asked to NOTE progress and COMMENT on the exceptions.
  officers:
    - {name: Tina Carter, role: Head of ICT, email: tina.carter@example.gov.uk, phone: 01904 551234}
""")  # fmt: skip
    assert load_strategy(path).info["report"]["author"] == "Chief Digital Officer"
    out = tmp_path / "paper.docx"
    data = str(tmp_path / "data")
    assert main(["report", "--to", str(out), "--data", data, "--strategy", str(path)]) == 0
    texts = [p.text for p in Document(out).paragraphs]
    assert "8.1\tThe Committee is asked to NOTE progress and COMMENT on the exceptions." in texts
    assert ("9.1\tTina Carter, Head of ICT, tina.carter@example.gov.uk, 01904 551234") in texts
    cells = [c.text for c in Document(out).tables[0].columns[1].cells]
    assert cells[:1] == ["Overview and Scrutiny Committee"] and "Chief Digital Officer" in cells


def test_report_section_problems_are_listed_with_their_line(tmp_path):
    path = _with_report(tmp_path, "report:\n  autor: Head of ICT\n  officers: [{role: CDO}]\n")
    with pytest.raises(StrategyFileError) as error:
        load_strategy(path)
    problems = "\n".join(error.value.problems)
    assert "unknown report setting 'autor'" in problems
    assert "each report officer needs a name" in problems
    assert re.search(r"line \d+ \(report\)", problems)
