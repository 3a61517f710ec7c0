"""The committee progress report: content (content.py) and its renderers.

    report = build_report(repo, now, since=None, directorate=None)
    render_docx(report) -> bytes;  render_html(report) -> str;  render_pdf(report) -> bytes

`render(report, fmt)` picks one by name ("docx", "html", "pdf") and returns bytes, for
callers (the CLI, chat, the dashboard's download route) that just write or serve a file.
"""

from __future__ import annotations

from handlers.report.content import (
    LAST_REPORT,
    LAST_REPORT_WORDS,
    Report,
    build_report,
    previous_report_at,
    remember_report,
)
from handlers.report.delivery import report_link, report_query, save_report
from handlers.report.html import render_html
from handlers.report.pdf import PdfUnavailable, render_pdf
from handlers.report.rendering import FORMATS, MEDIA_TYPES, render, render_docx

__all__ = [
    "FORMATS",
    "LAST_REPORT",
    "LAST_REPORT_WORDS",
    "MEDIA_TYPES",
    "PdfUnavailable",
    "Report",
    "build_report",
    "previous_report_at",
    "remember_report",
    "render",
    "render_docx",
    "render_html",
    "render_pdf",
    "report_link",
    "report_query",
    "save_report",
]
