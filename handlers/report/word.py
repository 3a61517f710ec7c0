"""The committee report as a Word document (python-docx), for democratic services.

Built from Word's own structure, not look-alike formatting, so it pastes cleanly into a
council's committee template: the title is the Title style, sections are Heading 1
("3. Overall progress"), theme sub-headings Heading 2, paragraphs keep their 3.1
numbers as text (templates renumber differently; the numbers must survive a paste),
and every table's first row is a real header row marked to repeat on each page. The
chart's figures are given as a table (the HTML and PDF also draw the bars).
"""

from __future__ import annotations

import io

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from handlers.report.content import Chart, Heading, Paragraph, Report, Table, long_date
from tracker.chart import status_figure


def render_docx(report: Report) -> bytes:
    document = Document()
    section = document.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)  # A4, as councils print
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Cm(2.0))
    normal = document.styles["Normal"]
    normal.font.name = "Arial"
    normal.font.size = Pt(11)
    props = document.core_properties
    props.title, props.author, props.language = report.title, report.report_of, "en-GB"
    props.subject = f"{report.meeting}, {long_date(report.date)}"

    if report.council:
        document.add_paragraph(report.council).runs[0].bold = True
    document.add_heading(report.title, level=0)
    block = document.add_table(rows=0, cols=2)
    block.style = "Table Grid"
    for label, value in (
        ("Meeting", report.meeting),
        ("Date", long_date(report.date)),
        ("Report of", report.report_of),
        ("Period", f"{long_date(report.since)} to {long_date(report.date)}"),
    ):
        cells = block.add_row().cells
        cells[0].text, cells[1].text = label, value
        cells[0].paragraphs[0].runs[0].bold = True

    for part in report.sections:
        document.add_heading(f"{part.number}. {part.heading}", level=1)
        for item in part.blocks:
            if isinstance(item, Paragraph):
                _numbered(document, item)
            elif isinstance(item, Heading):
                document.add_heading(item.text, level=2)
            elif isinstance(item, Table):
                _table(document, item)
            elif isinstance(item, Chart):
                _chart(document, item)
                _table(document, item.table)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _chart(document, chart: Chart) -> None:  # type: ignore[no-untyped-def]
    """The digest's chart (tracker/chart.py) as a PNG, with the chart's text as alt text."""
    figure = status_figure(chart.themes, chart.objectives, chart.title)
    image = io.BytesIO()
    figure.savefig(image, format="png")
    image.seek(0)
    shape = document.add_picture(image, width=Cm(16))
    shape._inline.docPr.set("descr", chart.alt)  # Word's "alt text"
    shape._inline.docPr.set("title", chart.title)


def _numbered(document, paragraph: Paragraph) -> None:  # type: ignore[no-untyped-def]
    """ "3.1<tab>text" with a hanging indent, as committee papers set numbered paragraphs."""
    p = document.add_paragraph()
    p.paragraph_format.left_indent = Cm(1.25)
    p.paragraph_format.first_line_indent = Cm(-1.25)
    p.paragraph_format.tab_stops.add_tab_stop(Cm(1.25))
    p.paragraph_format.space_before = Pt(6)
    p.add_run(paragraph.number).bold = True
    p.add_run("\t" + paragraph.text)


def _table(document, table: Table) -> None:  # type: ignore[no-untyped-def]
    document.add_paragraph(table.caption, style="Caption")
    grid = document.add_table(rows=1, cols=len(table.header))
    grid.style = "Table Grid"
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    header = grid.rows[0]
    _repeat_header(header)
    for cell, text in zip(header.cells, table.header, strict=True):
        cell.text = text
        cell.paragraphs[0].runs[0].bold = True
    for row in table.rows:
        cells = grid.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = text
    grid.autofit = False
    widths = _widths(table)
    for column, width in zip(grid.columns, widths, strict=True):
        column.width = width  # the grid LibreOffice reads
    for row in grid.rows:
        for cell, width in zip(row.cells, widths, strict=True):  # the cells Word reads
            cell.width = width
            for p in cell.paragraphs:
                for run in p.runs:
                    run.font.size = Pt(9)


def _widths(table: Table, total_cm: float = 17.0) -> list[Cm]:
    """Column widths: each fits its longest word (no words broken mid-way), and the rest
    of the page goes to the columns with the most to say (objective, risk, commentary)."""
    char_cm, padding_cm = 0.21, 0.4  # 9 pt Arial, plus the cell margins
    floors, wants = [], []
    for i, head in enumerate(table.header):
        cells = [head, *(row[i] for row in table.rows)]
        word = max(len(w) for text in cells for w in (text.split() or [""]))
        floors.append(word * char_cm + padding_cm)
        wants.append(max(len(text) for text in cells))
    spare = max(total_cm - sum(floors), 0.0)
    extra = [max(w * char_cm + padding_cm - f, 0.0) for w, f in zip(wants, floors, strict=True)]
    share = spare / sum(extra) if sum(extra) > spare else 1.0
    widths = [f + e * share for f, e in zip(floors, extra, strict=True)]
    scale = total_cm / sum(widths) if sum(widths) > total_cm else 1.0
    return [Cm(w * scale) for w in widths]


def _repeat_header(row) -> None:  # type: ignore[no-untyped-def]
    """Mark a row as the table's header (w:tblHeader): Word repeats it and reads it as one."""
    properties = row._tr.get_or_add_trPr()
    flag = OxmlElement("w:tblHeader")
    flag.set(qn("w:val"), "true")
    properties.append(flag)
