"""The committee report as the JSON that report.typ lays out (pdf.py compiles the two).

Officers' text never becomes Typst markup: it travels as JSON strings in
`sys.inputs`, and report.typ sets strings as plain text, so nothing needs escaping and
nothing typed can be read as a command. What is decided here rather than in Typst is
what the other formats decide too, from the same place: column widths and table text
size from the font's metrics (content.column_widths, content.table_pt, as word.py
uses them), the chart's SVG (html.chart_svg) and its alt text.

One thing only the PDF needs: PDF/UA-1 forbids a character that no font can draw, and
Typst then refuses the whole document. So a character the report's font lacks (an
emoji from Teams, a CJK name) is written as its Unicode name, "[slightly smiling
face]", and control characters are dropped; the DOCX and HTML keep the original.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any

from handlers.report import content
from handlers.report.content import Report
from handlers.report.html import chart_svg

FONT = "Liberation Sans"  # Arial's metrics, what content.py measures columns with
FONT_FILE = content.FONT_DIR / "LiberationSans-Regular.ttf"
MARGINS_CM = {"x": 1.2, "top": 1.6, "bottom": 1.8}  # A4's margins in report.typ
TEXT_WIDTH_CM = 21.0 - 2 * MARGINS_CM["x"]
# A table row moves whole to the next page rather than split (report.typ), unless it
# may be too tall for any page: such a row would run off the page's foot, so it splits.
LONG_ROW_CM = (29.7 - MARGINS_CM["top"] - MARGINS_CM["bottom"]) / 3


# Without Liberation Sans, Typst sets text in its embedded fonts (Libertinus Serif and
# its fallbacks), which draw all of these (tests/test_report_formats.py checks).
EMBEDDED_SAFE = frozenset([*range(0x20, 0x7F), *range(0xA0, 0x180), *map(ord, "‘’‚“”„–—…•→×−€")])


@lru_cache(maxsize=1)
def drawable() -> frozenset[int]:
    """The characters the report's font has (its cmap, read with fontTools)."""
    if not FONT_FILE.exists():
        return EMBEDDED_SAFE
    from fontTools.ttLib import TTFont  # matplotlib's dependency; only needed here

    return frozenset(TTFont(str(FONT_FILE), lazy=True).getBestCmap())


def settable(text: str) -> str:
    """`text` with every character the font cannot draw named or dropped (see above)."""
    if text.isascii() and text.isprintable():
        return text  # the common case, and always drawable
    text = unicodedata.normalize("NFC", text)  # "e" + combining accent -> "é"
    can = drawable()
    out = []
    for ch in text:
        if ord(ch) in can:
            out.append(ch)
        elif ch.isspace():
            out.append(" ")  # a newline or tab in a note reads as a space, as in the HTML
        elif unicodedata.category(ch)[0] not in "CMZ" and unicodedata.category(ch) != "Sk":
            name = unicodedata.name(ch, "")
            out.append(f"[{name.lower()}]" if name else "")
        # else a control, format or combining character, or an emoji modifier: dropped
    return "".join(out)


def report_data(report: Report) -> dict[str, Any]:
    """Everything report.typ prints, as plain JSON-able values, its text settable."""
    return _settable_all(_data(report))


def _settable_all(value: Any) -> Any:
    if isinstance(value, str):
        return settable(value)
    if isinstance(value, dict):
        # the chart's SVG is markup, not text, and drawn from our own labels
        return {k: v if k == "svg" else _settable_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_settable_all(v) for v in value]
    return value


def _data(report: Report) -> dict[str, Any]:
    period = f"{content.long_date(report.since)} to {content.long_date(report.date)}"
    return {
        "title": report.title,
        "author": report.report_of,
        "subject": f"{report.meeting}, {content.long_date(report.date)}",
        "council": report.council,
        "font": FONT if FONT_FILE.exists() else None,  # else Typst's own (Libertinus Serif)
        "margins": MARGINS_CM,
        "facts": [
            ("Meeting", report.meeting),
            ("Date", content.long_date(report.date)),
            ("Report of", report.report_of),
            ("Period", period),
        ],
        "sections": [
            {
                "heading": f"{section.number}. {section.heading}",
                "blocks": [_block(block) for block in section.blocks],
            }
            for section in report.sections
        ],
    }


def _block(block: object) -> dict[str, Any]:
    if isinstance(block, content.Paragraph):
        return {"kind": "paragraph", "number": block.number, "text": block.text}
    if isinstance(block, content.Heading):
        return {"kind": "heading", "text": block.text}
    if isinstance(block, content.Table):
        return _table(block)
    if isinstance(block, content.Chart):
        return {
            "kind": "chart",
            "title": block.title,
            "alt": block.alt,
            "svg": chart_svg(block),
            "table": _table(block.table),
        }
    raise TypeError(f"unknown report block {block!r}")


def _table(table: content.Table) -> dict[str, Any]:
    pt = content.table_pt(table, TEXT_WIDTH_CM)
    widths = content.column_widths(table, TEXT_WIDTH_CM, pt)
    return {
        "kind": "table",
        "caption": table.caption,
        "size": pt,
        "widths": [round(w, 3) for w in widths],
        "header": list(table.header),
        "rows": [list(row) for row in table.rows],
        "long": [i for i, row in enumerate(table.rows) if _row_cm(row, widths, pt) > LONG_ROW_CM],
    }


def _row_cm(row: tuple[str, ...], widths: list[float], pt: float) -> float:
    """A generous estimate of how tall a row is set: its tallest cell's lines, each as long
    as the text's width over the column's, 30% over for ragged line ends."""
    line_cm = pt * 1.3 / 72 * 2.54
    lines = max(
        (content.text_cm(cell, pt) / max(width - content.CELL_PADDING_CM, 0.3) * 1.3 + 1
         for cell, width in zip(row, widths, strict=True)),
        default=1.0,
    )  # fmt: skip
    return lines * line_cm
