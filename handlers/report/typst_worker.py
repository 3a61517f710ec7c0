"""Typst in a process of its own: a job as JSON on stdin, the PDF on stdout.

pdf.py runs this file as a script (`python -I typst_worker.py`) for each PDF instead of
calling the compiler in its own process: the typst binding keeps what it laid out for
its next ten compiles (comemo's cache, ~80 MB for the 34-page report at bench scale),
so a dashboard that had served ten different PDFs would hold ~1 GB from then on. A
process of its own gives all of it back when it exits, for ~0.1 s of start-up. It
imports nothing of the project, only the standard library and typst.

The job: {"layout": path of report.typ, "fonts": [font folders], "report": the JSON
report.typ reads as sys.inputs.report, "timestamp": Unix seconds for the PDF's dates}.
Exit status 0 with the PDF on stdout and any warnings on stderr, one a line; 1 with
Typst's error on stderr; 3 when the typst package cannot be imported.
"""

from __future__ import annotations

import json
import sys

NO_TYPST = 3


def main() -> int:
    try:
        import typst
    except ImportError as error:
        print(error, file=sys.stderr)
        return NO_TYPST
    job = json.load(sys.stdin)
    try:
        pdf, warnings = typst.compile_with_warnings(
            job["layout"],
            format="pdf",
            pdf_standards=["ua-1"],
            ignore_system_fonts=True,  # the same fonts on every machine, and no font scan
            font_paths=job["fonts"],
            sys_inputs={"report": job["report"]},
            timestamp=job["timestamp"],
        )
    except typst.TypstError as error:
        print("; ".join([error.message, *error.hints]), file=sys.stderr)
        return 1
    for warning in warnings:
        print(" ".join(warning.message.split()), file=sys.stderr)
    sys.stdout.buffer.write(pdf)
    return 0


if __name__ == "__main__":
    sys.exit(main())
