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
import re
from xml.sax.saxutils import escape

from docx import Document
from docx.document import Document as WordDocument
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from docx.shared import Cm, Pt

from handlers.report.content import (
    Chart,
    Heading,
    Paragraph,
    Report,
    Table,
    column_widths,
    long_date,
    table_pt,
)
from tracker.chart import status_figure

MARGIN_CM = 2.0
TEXT_WIDTH_CM = 21.0 - 2 * MARGIN_CM  # A4 less the margins


def render_docx(report: Report) -> bytes:
    document = Document()
    section = document.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)  # A4, as councils print
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Cm(MARGIN_CM))
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


def _chart(document: WordDocument, chart: Chart) -> None:
    """The digest's chart (tracker/chart.py) as a PNG, with the chart's text as alt text."""
    figure = status_figure(chart.themes, chart.objectives, chart.title)
    image = io.BytesIO()
    figure.savefig(image, format="png")
    image.seek(0)
    shape = document.add_picture(image, width=Cm(16))
    shape._inline.docPr.set("descr", chart.alt)  # Word's "alt text"
    shape._inline.docPr.set("title", chart.title)


def _numbered(document: WordDocument, paragraph: Paragraph) -> None:
    """ "3.1<tab>text" with a hanging indent, as committee papers set numbered paragraphs."""
    p = document.add_paragraph()
    p.paragraph_format.left_indent = Cm(1.25)
    p.paragraph_format.first_line_indent = Cm(-1.25)
    p.paragraph_format.tab_stops.add_tab_stop(Cm(1.25))
    p.paragraph_format.space_before = Pt(6)
    p.add_run(paragraph.number).bold = True
    p.add_run("\t" + paragraph.text)


def _table(document: WordDocument, table: Table) -> None:
    """A table as WordprocessingML built in one piece (python-docx's cell-by-cell API
    costs ~1 ms a cell: seconds for a 200-risk register). Style "Table Grid", a fixed
    grid (LibreOffice reads gridCol, Word reads tcW), 9 pt text (8 or 7 pt when a wide
    table needs it so that no word breaks), the header row bold and marked w:tblHeader
    so it repeats on every page and reads as the header."""
    document.add_paragraph(table.caption, style="Caption")
    pt = table_pt(table, TEXT_WIDTH_CM)
    widths = [int(Cm(w).twips) for w in column_widths(table, TEXT_WIDTH_CM, pt)]
    grid = "".join(f'<w:gridCol w:w="{w}"/>' for w in widths)
    size = round(pt * 2)  # half-points
    rows = [_row(table.header, widths, size, header=True)]
    rows += [_row(row, widths, size) for row in table.rows]
    xml = (
        f'<w:tbl {nsdecls("w")}><w:tblPr><w:tblStyle w:val="TableGrid"/>'
        f'<w:tblW w:w="{sum(widths)}" w:type="dxa"/><w:jc w:val="center"/>'
        '<w:tblLayout w:type="fixed"/><w:tblLook w:val="04A0" w:firstRow="1" '
        'w:lastRow="0" w:firstColumn="1" w:lastColumn="0" w:noHBand="0" w:noVBand="1"/>'
        f"</w:tblPr><w:tblGrid>{grid}</w:tblGrid>{''.join(rows)}</w:tbl>"
    )
    document.element.body._insert_tbl(parse_xml(xml))


_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """Text escaped for XML, without the control characters XML cannot hold."""
    return escape(_NOT_XML.sub("", text))


def _row(cells: tuple[str, ...], widths: list[int], size: int, header: bool = False) -> str:
    bold = "<w:b/>" if header else ""
    flag = '<w:tblHeader w:val="true"/>' if header else ""
    flag = f"<w:trPr><w:cantSplit/>{flag}</w:trPr>"  # a row never breaks across pages
    out = [f"<w:tr>{flag}"]
    for text, width in zip(cells, widths, strict=True):
        out.append(
            f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/></w:tcPr><w:p>'
            f'<w:pPr><w:spacing w:after="0"/></w:pPr><w:r><w:rPr>{bold}<w:sz w:val="{size}"/>'
            f'</w:rPr><w:t xml:space="preserve">{_xml_text(text)}</w:t></w:r></w:p></w:tc>'
        )
    out.append("</w:tr>")
    return "".join(out)
