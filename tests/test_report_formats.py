"""The committee report in each format, read back with the format's own reader.

One fixture store (ten weeks of chat, tests/digest_fixture.py) is rendered to DOCX,
HTML and PDF; python-docx, an HTML parser and pypdf then check what a reader of each
file would find: York's headline sentence and figures, every theme, every exception,
the risk register, and paragraphs numbered the way committee papers number them. The
PDF's tags (its structure tree) are read as a screen reader would meet them.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from html.parser import HTMLParser

import pytest
from docx import Document
from docx.oxml.ns import qn
from pypdf import PdfReader

from handlers.report import build_report, render_docx, render_html, render_pdf
from handlers.report.content import Chart, Paragraph, Table, text_cm
from tests.digest_fixture import NOW, SINCE, build_history
from tracker.model import Status

SECTIONS = [
    "1. Purpose of the report",
    "2. Background",
    "3. Overall progress",
    "4. Progress by theme",
    "5. Exceptions",
    "6. Risk register",
    "7. Changes since the last report",
    "8. Recommendation",
    "9. Officers to contact",
]
RISK_HEADER = ["Ref", "Risk", "Likelihood", "Impact", "Score", "Level", "Owner", "Mitigation",
               "Review date", "Since last report"]  # fmt: skip


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    """The report and what it must contain, computed from the store independently."""
    import asyncio

    async def make():
        repo, _ = await build_history(tmp_path_factory.mktemp("report") / "data")
        report = build_report(repo, NOW, SINCE)
        today = NOW.date()
        objectives = repo.objectives()
        expected = {
            "themes": [f"Theme {t.number}: {t.title}" for t in repo.themes()],
            "exceptions": sorted(
                o.id
                for o in objectives
                if o.status in (Status.OFF_TRACK, Status.AT_RISK) or o.is_overdue(today)
            ),
            "risks": sorted(r.id for r in repo.risks()),
            "objectives": [o.id for o in objectives],
        }
        repo.close()
        return report, expected

    return asyncio.run(make())


def test_the_headline_is_yorks_sentence_from_the_store(story):
    report, expected = story
    # 20 objectives, 4 achieved, 1 partly achieved at NOW (5.4 achieved this week)
    assert report.headline.sentence == (
        "Of the 20 objectives, 20% are fully achieved and 5% partly achieved"
    )
    assert len(expected["exceptions"]) >= 4 and "3.3" in expected["exceptions"]


# ----------------------------------------------------------------- DOCX
def test_docx_has_word_headings_numbered_paragraphs_and_header_rows(story):
    report, expected = story
    document = Document(io.BytesIO(render_docx(report)))
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
    assert headings == SECTIONS
    subheadings = [p.text for p in document.paragraphs if p.style.name == "Heading 2"]
    assert subheadings == expected["themes"]
    assert document.paragraphs[1].style.name == "Title"
    paragraphs = [p.text for p in document.paragraphs]
    numbered = [t.split("\t")[0] for t in paragraphs if re.match(r"\d+\.\d+\t", t)]
    for section in range(1, 10):
        mine = [n for n in numbered if n.startswith(f"{section}.")]
        assert mine == [f"{section}.{i}" for i in range(1, len(mine) + 1)], section
    assert any(report.headline.sentence in t for t in paragraphs)
    exceptions = "\n".join(t for t in paragraphs if t.startswith("5."))
    for oid in expected["exceptions"]:
        assert f"\t{oid} " in exceptions
    tables = document.tables
    for table in tables[1:]:  # every data table's first row is a repeating header
        flag = table.rows[0]._tr.trPr.find(qn("w:tblHeader"))
        assert flag is not None and flag.get(qn("w:val")) == "true"
    risk = next(t for t in tables if [c.text for c in t.rows[0].cells] == RISK_HEADER)
    assert sorted(row.cells[0].text for row in risk.rows[1:]) == expected["risks"]
    r2 = next(row for row in risk.rows if row.cells[0].text == "R2")
    assert [c.text for c in r2.cells[2:6]] == ["5", "4", "20", "High"]
    assert r2.cells[9].text == "Score up from 16"
    status = next(t for t in tables if t.rows[0].cells[0].text == "Status")
    counts = {row.cells[0].text: row.cells[2].text for row in status.rows[1:]}
    assert counts["Achieved"] == "4" and counts["Partly achieved"] == "1"
    objective_rows = [
        row.cells[0].text
        for t in tables
        if t.rows[0].cells[0].text == "Ref" and t.rows[0].cells[1].text == "Objective"
        for row in t.rows[1:]
    ]
    assert objective_rows == expected["objectives"]
    assert any(s._inline.docPr.get("descr", "").startswith("Bar chart.")
               for s in document.inline_shapes)  # fmt: skip


def test_docx_columns_are_wide_enough_for_their_longest_word(story):
    """Word and LibreOffice break a word that does not fit its column ("Mediu m"); every
    column's width in the file must hold its longest word at the table's font size."""
    report, _ = story
    document = Document(io.BytesIO(render_docx(report)))
    word_margins_cm = 2 * 0.19
    checked = 0
    for table in document.tables[1:]:  # the title block is plain text
        grid = table._tbl.tblGrid.findall(qn("w:gridCol"))
        widths = [int(col.get(qn("w:w"))) / 567 for col in grid]  # twips -> cm
        assert sum(widths) <= 17.0 + 0.01  # A4 less 2 cm margins
        size = table.rows[0].cells[0].paragraphs[0].runs[0].font.size.pt
        for i, width in enumerate(widths):
            column = [row.cells[i].text for row in table.rows]
            header = max((text_cm(w, size, True) for w in column[0].split()), default=0)
            body = max((text_cm(w, size) for t in column[1:] for w in t.split()), default=0)
            assert max(header, body) + word_margins_cm <= width, (column[0], width)
            checked += 1
    assert checked >= 40
    changes = [p.text for p in document.paragraphs if p.text.startswith("7.")]
    assert any("due Wed 31 Mar 2027 → due Wed 30 Jun 2027" in t for t in changes)
    assert not any("due due" in t for t in changes)


# ----------------------------------------------------------------- HTML
class Outline(HTMLParser):
    """Headings, numbered paragraphs, tables (caption + rows) and the chart's text."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.h1: list[str] = []
        self.h2: list[str] = []
        self.h3: list[str] = []
        self.numbered: list[str] = []
        self.tables: list[dict] = []
        self.svg_title = self.svg_desc = ""
        self.lang = None
        self._text: list[str] = []
        self._row: list[str] | None = None
        self.th_scopes: set[str | None] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.lang = attrs.get("lang")
        if tag == "table":
            self.tables.append({"caption": "", "rows": []})
        if tag == "tr":
            self._row = []
        if tag == "th":
            self.th_scopes.add(attrs.get("scope"))
        if tag in ("h1", "h2", "h3", "caption", "th", "td", "title", "desc", "span"):
            self._text = []
        self.stack.append(tag)

    def handle_endtag(self, tag):
        text = " ".join("".join(self._text).split())
        if tag in ("h1", "h2", "h3"):
            getattr(self, tag).append(text)
        elif tag == "caption":
            self.tables[-1]["caption"] = text
        elif tag in ("th", "td") and self._row is not None:
            self._row.append(text)
        elif tag == "tr" and self._row is not None:
            self.tables[-1]["rows"].append(self._row)
            self._row = None
        elif tag == "title" and "svg" in self.stack:
            self.svg_title = text
        elif tag == "desc":
            self.svg_desc = text
        elif tag == "span" and re.fullmatch(r"\d+\.\d+", text):
            self.numbered.append(text)
        while self.stack and self.stack.pop() != tag:
            pass

    def handle_data(self, data):
        self._text.append(data)


def test_html_is_one_accessible_file_with_chart_and_its_data(story):
    report, expected = story
    html = render_html(report)
    outline = Outline()
    outline.feed(html)
    assert outline.lang == "en-GB"
    assert outline.h1 == [report.title]
    assert outline.h2 == SECTIONS
    assert outline.h3 == expected["themes"]
    assert report.headline.sentence in html
    for section in range(1, 10):
        mine = [n for n in outline.numbered if n.startswith(f"{section}.")]
        assert mine == [f"{section}.{i}" for i in range(1, len(mine) + 1)] and mine
    by_caption = {t["caption"]: t["rows"] for t in outline.tables}
    assert by_caption["Risk register"][0] == RISK_HEADER
    assert sorted(r[0] for r in by_caption["Risk register"][1:]) == expected["risks"]
    chart_rows = by_caption["Objectives by theme and status"]
    assert [r[0] for r in chart_rows[1:]] == [f"Theme {n}" for n in range(1, 6)]
    assert outline.svg_title == "Objectives by theme and status"
    assert outline.svg_desc.startswith("Bar chart. Theme 1: ")
    assert 'role="img"' in html and "@media print" in html
    assert outline.th_scopes == {"col", "row"}
    assert "<script" not in html and "http" not in html.replace("http://www.w3.org", "")
    exception_text = html.split('id="s5"')[1].split('id="s6"')[0]
    for oid in expected["exceptions"]:
        assert f"<span>{oid} " in exception_text
    # RAG in words next to every objective, never colour alone
    assert "Red (off track)" in html and "Amber (at risk)" in html


def test_html_escapes_what_officers_typed(story):
    report, _ = story
    section = report.sections[0]
    section.blocks.append(Paragraph("1.9", '<script>alert("x")</script> & <b>'))
    try:
        html = render_html(report)
    finally:
        section.blocks.pop()
    assert "<script>" not in html and "&lt;script&gt;" in html


# ----------------------------------------------------------------- PDF
def structure(node, found: Counter, alt: list[str], titles: dict[str, list[str]]) -> None:
    """Walk a PDF's structure tree: how many of each tag, figures' alt text, and the
    title (/T) of each heading."""
    node = node.get_object()
    tag = node.get("/S")
    if tag:
        found[tag] += 1
        if tag == "/Figure":
            alt.append(str(node.get("/Alt", "")))
        if tag in ("/H1", "/H2"):
            titles.setdefault(tag, []).append(str(node.get("/T", "")))
    kids = node.get("/K")
    for kid in kids if isinstance(kids, list) else [kids]:
        kid = kid.get_object() if hasattr(kid, "get_object") else kid
        if isinstance(kid, dict):
            structure(kid, found, alt, titles)


def pdf_text(pdf: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(pdf))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def test_pdf_is_tagged_and_reads_back(story):
    report, expected = story
    reader, text = pdf_text(render_pdf(report))
    root = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root and root["/MarkInfo"]["/Marked"]
    assert root["/Lang"] == "en-GB"
    flat = " ".join(text.split())
    assert report.headline.sentence in flat
    for heading in SECTIONS:
        assert heading in flat
    for theme in expected["themes"]:
        assert " ".join(theme.split()) in flat
    for rid in expected["risks"]:
        assert re.search(rf"\b{rid}\b", text)
    for oid in expected["exceptions"]:
        assert re.search(rf"5\.\d+ {re.escape(oid)} ", flat)
    assert re.search(r"^3\.1 Of the 20 objectives", text, re.M)
    assert "Likelihood" in flat and "Review" in flat
    at = 0  # every numbered paragraph starts a line, number first, in the report's order
    for paragraph in (b for s in report.sections for b in s.blocks if isinstance(b, Paragraph)):
        start = rf"^{re.escape(paragraph.number)} {re.escape(paragraph.text.split()[0])} "
        found = re.compile(start, re.M).search(text, at)
        assert found, paragraph
        at = found.end()
    pages = len(reader.pages)
    assert [f"Page {n} of {pages}" in reader.pages[n - 1].extract_text()
            for n in range(1, pages + 1)] == [True] * pages  # fmt: skip


def test_pdf_is_pdf_ua_1_with_title_headings_and_table_headers(story):
    """What PDF/UA-1 asks of the file, read from the file: the XMP metadata declares
    part 1, the title is set and shown in the viewer's title bar, sections are H1 and
    themes H2, tables have header cells (TH) in a THead, and the chart has alt text."""
    report, expected = story
    reader, _ = pdf_text(render_pdf(report))
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode("utf-8")
    assert re.search(r"<pdfuaid:part>1</pdfuaid:part>|pdfuaid:part=\"1\"", xmp)
    assert reader.metadata.title == report.title and f">{report.title}<" in xmp
    assert root["/ViewerPreferences"]["/DisplayDocTitle"]
    found: Counter = Counter()
    alt: list[str] = []
    titles: dict[str, list[str]] = {}
    structure(root["/StructTreeRoot"], found, alt, titles)
    assert titles["/H1"] == SECTIONS
    assert titles["/H2"] == expected["themes"]
    blocks = [b for s in report.sections for b in s.blocks]
    tables = [b for b in blocks if isinstance(b, Table)] + [b.table for b in blocks
                                                           if isinstance(b, Chart)]  # fmt: skip
    assert len(tables) == 2 + len(expected["themes"]) + 1  # status, chart, themes, risks
    assert found["/Table"] == found["/THead"] == len(tables)
    assert found["/TH"] == sum(len(t.header) for t in tables)  # every header cell is a TH
    assert found["/TD"] == sum(len(t.header) * len(t.rows) for t in tables)
    assert alt == [b.alt for b in blocks if isinstance(b, Chart)]


OFFICER_TYPED = [
    "#set text(fill: red) *bold* _it_ $x^2$ <label> @ref",
    "// not a comment /* nor this */ ] [ \\ `raw` ```",
    "= not a heading",
    '"quoted" and \\" a backslash-quote',
    '#import "x.typ": * #{1 + 1}',
]


def test_pdf_sets_what_officers_typed_verbatim(story):
    """Typst markup typed by an officer is printed as typed, in paragraphs and tables;
    what no font can draw under PDF/UA-1 (an emoji) is named, not fatal."""
    report, _ = story
    section = report.sections[0]
    added = [Paragraph(f"1.{90 + i}", t) for i, t in enumerate(OFFICER_TYPED)]
    added.append(
        Table("Typed", ("Ref", "Note"), [(str(i), t) for i, t in enumerate(OFFICER_TYPED)])
    )
    added.append(Paragraph("1.99", "Done 👍🏽 ✓\tnext\x00line"))
    section.blocks.extend(added)
    try:
        _, text = pdf_text(render_pdf(report))
    finally:
        del section.blocks[-len(added) :]
    for typed in OFFICER_TYPED:
        assert text.count(typed) == 2, typed  # once as a paragraph, once in the table
    assert "1.99 Done [thumbs up sign] [check mark] nextline" in text


def test_pdf_splits_a_row_too_tall_for_a_page(story):
    """Rows move whole to the next page, but one that cannot fit on any page splits
    rather than running off the page's foot."""
    report, _ = story
    note = " ".join(f"word{i}" for i in range(2500))
    section = report.sections[0]
    section.blocks.append(Table("Long", ("Ref", "Note"), [("1", "short"), ("2", note)]))
    try:
        reader, _ = pdf_text(render_pdf(report))
    finally:
        section.blocks.pop()
    pages = [page.extract_text() for page in reader.pages]
    first = next(i for i, p in enumerate(pages) if "word0 " in p)
    last = next(i for i, p in enumerate(pages) if "word2499" in p)
    assert last > first + 1  # the row runs over three or more pages, each with its footer
    assert all(f"Page {i + 1} of" in pages[i] for i in range(first, last + 1))


def test_pdf_without_liberation_sans_uses_typsts_own_fonts(story, monkeypatch):
    """No fonts-liberation: the PDF is still made, in Typst's embedded fonts, and every
    character typst_data.py lets through for them can be drawn."""
    report, _ = story
    from handlers.report import pdf, typst_data

    monkeypatch.setattr(pdf, "FONT_DIR", pdf.FONT_DIR / "missing")
    monkeypatch.setattr(typst_data, "FONT_FILE", pdf.FONT_DIR / "missing.ttf")
    typst_data.drawable.cache_clear()
    safe = "".join(chr(c) for c in sorted(typst_data.EMBEDDED_SAFE))
    report.sections[0].blocks.append(Paragraph("1.99", safe + " Ωπ"))
    try:
        reader, text = pdf_text(render_pdf(report))
    finally:
        report.sections[0].blocks.pop()
        typst_data.drawable.cache_clear()
    fonts = {
        str(font.get_object()["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"].get("/Font", {}).values()
    }
    assert fonts and not any("Liberation" in f for f in fonts), fonts
    assert report.headline.sentence in " ".join(text.split())
    assert "[greek capital letter omega][greek small letter pi]" in text


def test_pdf_failures_say_what_is_wrong(story, monkeypatch, tmp_path):
    """The worker without typst (an unsupported platform) gives PdfUnavailable, which
    the CLI and dashboard turn into "PDF needs the typst package"; a layout that breaks
    PDF/UA-1 gives PdfFailed with Typst's own words, not a PDF that claims conformance."""
    report, _ = story
    from handlers.report import pdf

    no_typst = tmp_path / "no_typst.py"  # the real worker, in a Python where typst is absent
    no_typst.write_text(
        "import sys\nsys.modules['typst'] = None\n__name__ = '__main__'\n"
        f"exec(open({str(pdf.WORKER)!r}).read())\n"
    )
    monkeypatch.setattr(pdf, "WORKER", no_typst)
    with pytest.raises(pdf.PdfUnavailable, match="PDF needs the typst package"):
        render_pdf(report)
    monkeypatch.undo()

    bad = tmp_path / "bad.typ"  # no document title: PDF/UA-1 requires one
    bad.write_text('#set text(lang: "en")\nHello')
    monkeypatch.setattr(pdf, "LAYOUT", bad)
    with pytest.raises(pdf.PdfFailed, match=r"Typst could not make the PDF: .*document title"):
        render_pdf(report)
    # the CLI and the dashboard catch PdfUnavailable: a refused layout is an error line
    # or a 503 page there, never a traceback
    assert issubclass(pdf.PdfFailed, pdf.PdfUnavailable)
