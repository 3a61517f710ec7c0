"""Pick a renderer by format name; every format returns bytes ready to write or serve."""

from __future__ import annotations

from handlers.report.content import Report
from handlers.report.html import render_html
from handlers.report.pdf import render_pdf

FORMATS = ("docx", "html", "pdf")
MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}


def render_docx(report: Report) -> bytes:
    """The Word document. python-docx (with lxml) is imported with the first report, not
    with the server: a tenth of a second of every start-up, before `/healthz` answers."""
    from handlers.report.word import render_docx as word_document

    return word_document(report)


def render(report: Report, fmt: str) -> bytes:
    if fmt == "docx":
        return render_docx(report)
    if fmt == "html":
        return render_html(report).encode("utf-8")
    if fmt == "pdf":
        return render_pdf(report)
    raise ValueError(f"unknown report format {fmt!r} (use {', '.join(FORMATS)})")
