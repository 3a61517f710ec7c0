"""The committee report as a tagged, accessible PDF (PDF/UA-1), typeset by Typst.

report.typ is the layout; typst_data.py turns the report's content (content.py, the
same model the DOCX and HTML are rendered from) into JSON that the layout reads from
`sys.inputs`, so no officer's text is ever parsed as markup. Typst comes as a wheel
(`typst` on PyPI) with the compiler inside: no system libraries. It replaced
WeasyPrint, which printed the HTML report in 7–15 s at council scale (~40 pages, see
docs/performance.md); Typst sets the same paper in well under the 3 s target.

Failure modes: without a wheel for the platform, importing `typst` fails and
`render_pdf` raises `PdfUnavailable` (DOCX and HTML still work). Without
`fonts-liberation` the text is set in Typst's embedded Libertinus Serif and columns are
sized by estimate (content.py); nothing fails for a missing font. Typst refuses to
write a PDF/UA-1 file that breaks the standard (say, an image without alt text): that
is a bug in report.typ, raised as `typst.TypstError` and caught by the tests.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from handlers.report.content import FONT_DIR, Report
from handlers.report.typst_data import report_data

log = logging.getLogger(__name__)
LAYOUT = Path(__file__).with_name("report.typ")


class PdfUnavailable(RuntimeError):
    """The Typst compiler (the `typst` wheel) cannot be loaded on this machine."""


def render_pdf(report: Report) -> bytes:
    try:
        import typst  # imported here: the compiler is an 80 MB extension module
    except ImportError as error:
        raise PdfUnavailable(
            f"PDF needs the typst package (pip install -r requirements.txt): {error}"
        ) from None
    pdf, warnings = typst.compile_with_warnings(
        LAYOUT,
        format="pdf",
        pdf_standards=["ua-1"],
        ignore_system_fonts=True,  # the same fonts on every machine, and no font scan
        font_paths=[FONT_DIR] if FONT_DIR.is_dir() else [],
        sys_inputs={"report": json.dumps(report_data(report))},
        timestamp=int(report.now.timestamp()),  # the PDF is dated when the report was made
    )
    for warning in warnings:
        log.warning("report PDF: %s", warning.message)
    return pdf
