"""The committee report as a tagged, accessible PDF (PDF/UA-1), typeset by Typst.

report.typ is the layout; typst_data.py turns the report's content (content.py, the
same model the DOCX and HTML are rendered from) into JSON that the layout reads from
`sys.inputs`, so no officer's text is ever parsed as markup; typst_worker.py runs the
compiler in a short-lived process of its own (why: see there). Typst comes as a wheel
(`typst` on PyPI) with the compiler inside: no system libraries. It replaced
WeasyPrint, which printed the HTML report in 7–17 s at bench scale (~40 pages, see
docs/performance.md); Typst sets the same paper in about 1.5 s.

Failure modes: without a typst wheel for the platform, the worker cannot import it and
`render_pdf` raises `PdfUnavailable` (DOCX and HTML still work). Without
`fonts-liberation` the text is set in Typst's embedded Libertinus Serif and columns are
sized by estimate (content.py); nothing fails for a missing font, and characters no
font has are named instead (typst_data.py). Typst refuses to write a PDF/UA-1 file
that breaks the standard (an image without alt text, say): that is a bug in
report.typ, raised as `PdfFailed` with Typst's message, as is a compile that takes
longer than TIMEOUT_S.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

from handlers.report.content import FONT_DIR, Report
from handlers.report.typst_data import report_data
from handlers.report.typst_worker import NO_TYPST

log = logging.getLogger(__name__)
LAYOUT = Path(__file__).with_name("report.typ")
WORKER = Path(__file__).with_name("typst_worker.py")
TIMEOUT_S = 120  # ~1.5 s for the bench's 34 pages


class PdfUnavailable(RuntimeError):
    """The Typst compiler (the `typst` wheel) cannot be loaded on this machine."""


class PdfFailed(PdfUnavailable):
    """Typst would not make the PDF (report.typ broke a rule, or it took too long).

    A kind of `PdfUnavailable`, so every caller that offers the other formats instead
    (the CLI's error line, the dashboard's 503 page) handles both."""


def render_pdf(report: Report) -> bytes:
    job = {
        "layout": str(LAYOUT),
        "fonts": [str(FONT_DIR)] if FONT_DIR.is_dir() else [],
        "report": json.dumps(report_data(report)),
        "timestamp": int(report.now.timestamp()),  # the PDF is dated when the report was made
    }
    try:
        done = subprocess.run(
            [sys.executable, "-I", str(WORKER)],  # -I: nothing from this folder shadows stdlib
            input=json.dumps(job).encode(),
            capture_output=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PdfFailed(f"Typst took over {TIMEOUT_S} s to make the PDF") from None
    said = done.stderr.decode(errors="replace").strip()
    if done.returncode == NO_TYPST:
        raise PdfUnavailable(
            f"PDF needs the typst package (pip install -r requirements.txt): {said}"
        )
    if done.returncode != 0:
        raise PdfFailed(f"Typst could not make the PDF: {said or done.returncode}")
    for warning in said.splitlines():
        log.warning("report PDF: %s", warning)
    return done.stdout
