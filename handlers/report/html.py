"""The committee report as one self-contained, accessible HTML file.

Everything is inline (styles, the chart as SVG) so the file can be mailed or attached to
a committee system as is. Accessibility: one h1, sections as h2 with their number, theme
sub-headings as h3, tables with captions and `scope`d header cells, the chart with a
`role="img"` title and description plus its data as a table, RAG written in words. The
print stylesheet keeps table headers repeating and avoids breaking a row across pages
when a browser prints it. The tagged PDF is typeset by Typst from the same content
(pdf.py), with this module's chart SVG and content.py's column widths.
"""

from __future__ import annotations

from html import escape

from handlers.report.content import (
    Chart,
    Heading,
    Paragraph,
    Report,
    Table,
    column_widths,
    long_date,
)
from tracker.chart import COLOURS
from tracker.model import Status

# The digest chart's colours (tracker/chart.py), so the report and the digest look alike;
# every segment is labelled with its count and the legend names each status in words.
LIGHT = {Status.NOT_STARTED, Status.PARTLY_ACHIEVED, Status.AT_RISK}  # dark text on these


STYLE = """
body { font-family: Arial, "Liberation Sans", Helvetica, sans-serif; font-size: 11pt;
       line-height: 1.4; color: #0b0c0c; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 .5rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #b1b4b6; }
h3 { font-size: 1.05rem; margin-top: 1.25rem; }
.title-block { border: 2px solid #0b0c0c; padding: .75rem 1rem; margin-bottom: 1.5rem; }
.title-block dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem;
                  margin: .5rem 0 0; }
.title-block dt { font-weight: bold; }
.title-block dd { margin: 0; }
p.numbered { padding-left: 3rem; margin: .5rem 0; }
p.numbered .num { font-weight: bold; display: inline-block; width: 3rem; margin-left: -3rem; }
table { border-collapse: collapse; width: 100%; margin: .75rem 0 1.25rem; font-size: 9.5pt;
        table-layout: fixed; }
caption { text-align: left; font-weight: bold; padding: .25rem 0; }
th, td { border: 1px solid #b1b4b6; padding: .3rem .4rem; text-align: left;
         vertical-align: top; overflow-wrap: break-word; }
thead th { background: #f3f2f1; }
figure { margin: 1rem 0; }
figcaption { font-weight: bold; }
@media screen { .table-wrap { overflow-x: auto; } }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  table { font-size: 8pt; }
  caption { break-after: avoid; }
  thead { display: table-header-group; }
  tr, p.numbered, figure { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
}
@page { size: A4; margin: 16mm 12mm;
        @bottom-right { content: "Page " counter(page) " of " counter(pages);
                        font-family: Arial, "Liberation Sans", sans-serif; font-size: 9pt; } }
"""


def render_html(report: Report) -> str:
    e = escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en-GB">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(report.title)}</title>",
        f'<meta name="author" content="{e(report.report_of)}">',
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        "<main>",
        '<header class="title-block">',
        f"<p>{e(report.council)}</p>" if report.council else "",
        f"<h1>{e(report.title)}</h1>",
        "<dl>",
        f"<dt>Meeting</dt><dd>{e(report.meeting)}</dd>",
        f"<dt>Date</dt><dd>{e(long_date(report.date))}</dd>",
        f"<dt>Report of</dt><dd>{e(report.report_of)}</dd>",
        f"<dt>Period</dt><dd>{e(long_date(report.since))} to {e(long_date(report.date))}</dd>",
        "</dl>",
        "</header>",
    ]
    for section in report.sections:
        out.append(f'<section aria-labelledby="s{section.number}">')
        out.append(f'<h2 id="s{section.number}">{section.number}. {e(section.heading)}</h2>')
        for block in section.blocks:
            out.append(_block(block))
        out.append("</section>")
    out += ["</main>", "</body>", "</html>"]
    return "\n".join(line for line in out if line) + "\n"


def _block(block: object) -> str:
    e = escape
    if isinstance(block, Paragraph):
        return (
            f'<p class="numbered"><span class="num">{e(block.number)}</span>'
            f"<span>{e(block.text)}</span></p>"
        )
    if isinstance(block, Heading):
        return f"<h3>{e(block.text)}</h3>"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Chart):
        return _chart(block)
    raise TypeError(f"unknown report block {block!r}")


def _table(table: Table) -> str:
    e = escape
    head = "".join(f'<th scope="col">{e(h)}</th>' for h in table.header)
    # A4 less the print margins (2 × 12 mm) and the body's padding (2 × 1rem): 17.7 cm of
    # 8 pt print text
    widths = column_widths(table, 17.7, pt=8.0)
    cols = "".join(f'<col style="width:{100 * w / sum(widths):.1f}%">' for w in widths)
    rows = "".join(
        "<tr>"
        + f'<th scope="row">{e(row[0])}</th>'
        + "".join(f"<td>{e(cell)}</td>" for cell in row[1:])
        + "</tr>"
        for row in table.rows
    )
    return (
        # a region that may scroll sideways on a phone, so it takes keyboard focus
        f'<div class="table-wrap" role="region" tabindex="0" aria-label="{e(table.caption)}">'
        f"<table><caption>{e(table.caption)}</caption><colgroup>{cols}</colgroup>"
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"
    )


def _chart(chart: Chart) -> str:
    e = escape
    return f"<figure><figcaption>{e(chart.title)}</figcaption>{chart_svg(chart)}</figure>" + _table(
        chart.table
    )


def chart_svg(chart: Chart) -> str:
    """Horizontal stacked bars, one per theme, each segment labelled with its count: one
    SVG for the HTML (inline, with a title and description) and the PDF (an image with
    the same description as its alt text)."""
    e = escape
    label_w, bar_w, row_h, legend_h = 90, 460, 30, 26 * ((len(chart.statuses) + 2) // 3)
    most = max((sum(b.values()) for _, b in chart.bars), default=1) or 1
    height = row_h * len(chart.bars) + legend_h + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {label_w + bar_w + 20} '
        f'{height}" width="100%" aria-labelledby="chart-title chart-desc">',
        f'<title id="chart-title">{e(chart.title)}</title>',
        f'<desc id="chart-desc">{e(chart.alt)}</desc>',
    ]
    for i, (label, counts) in enumerate(chart.bars):
        y = i * row_h + 4
        parts.append(
            f'<text x="0" y="{y + 17}" font-size="12" font-family="Arial, sans-serif">'
            f"{e(label)}</text>"
        )
        x = float(label_w)
        for status in chart.statuses:
            n = counts.get(status, 0)
            if not n:
                continue
            w = bar_w * n / most
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="22" '
                f'fill="{COLOURS[status]}" stroke="#fff"/>'
            )
            if w >= 14:
                parts.append(
                    f'<text x="{x + w / 2:.1f}" y="{y + 16}" font-size="11" '
                    f'fill="{"#0b0c0c" if status in LIGHT else "#fff"}" '
                    f'text-anchor="middle" font-family="Arial, sans-serif">{n}</text>'
                )
            x += w
    top = row_h * len(chart.bars) + 8
    for j, status in enumerate(chart.statuses):
        lx, ly = (j % 3) * 180, top + (j // 3) * 26
        parts.append(f'<rect x="{lx}" y="{ly}" width="14" height="14" fill="{COLOURS[status]}"/>')
        parts.append(
            f'<text x="{lx + 20}" y="{ly + 12}" font-size="12" font-family="Arial, sans-serif">'
            f"{e(status.value.capitalize())}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
