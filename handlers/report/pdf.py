"""The committee report as a tagged, accessible PDF (PDF/UA-1), rendered by WeasyPrint.

The PDF is the HTML report (html.py) printed with its print stylesheet, so the two never
differ. WeasyPrint is pure Python but needs Pango (>= 1.44) from the system: Debian's
`libpango-1.0-0` and `libpangoft2-1.0-0`, plus a font such as `fonts-liberation`. If
those are missing, importing WeasyPrint fails; `render_pdf` then raises
`PdfUnavailable` with what to install, and the other formats still work.
"""

from __future__ import annotations

from handlers.report.content import Report
from handlers.report.html import render_html


class PdfUnavailable(RuntimeError):
    """WeasyPrint or its system libraries (Pango) are not installed."""


def render_pdf(report: Report) -> bytes:
    try:
        from weasyprint import HTML  # imported here: loading Pango costs ~0.3 s
    except (ImportError, OSError) as error:
        raise PdfUnavailable(
            "PDF needs WeasyPrint and Pango (apt-get install libpango-1.0-0 "
            f"libpangoft2-1.0-0 fonts-liberation): {error}"
        ) from None
    document = HTML(string=render_html(report))
    return document.write_pdf(pdf_variant="pdf/ua-1", pdf_identifier=False) or b""
