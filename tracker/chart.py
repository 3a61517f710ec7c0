"""The strategy group digest's chart: status of each theme's objectives as stacked bars.

Drawn with matplotlib's object-oriented API on the Agg canvas (no display, no pyplot
global state, safe off the event loop in a worker thread). Colours follow the RAG
convention councils use in progress reports, with blue for achieved.

matplotlib (with numpy) is imported when the first chart is drawn, not with this module:
it is 0.7 s of the server's start-up, and `serve` must answer `/healthz` within 2 s at
100,000 updates (issue 9).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from tracker.model import Objective, Status, Theme

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Stacked left to right: done first, then the live RAG, then the parked.
CHART_ORDER = (
    Status.ACHIEVED,
    Status.PARTLY_ACHIEVED,
    Status.ON_TRACK,
    Status.AT_RISK,
    Status.OFF_TRACK,
    Status.NOT_STARTED,
    Status.DEFERRED,
    Status.DROPPED,
)
COLOURS = {
    Status.ACHIEVED: "#1f5fa8",  # blue
    Status.PARTLY_ACHIEVED: "#8db4e2",  # pale blue: part done
    Status.ON_TRACK: "#2e8b3a",  # green
    Status.AT_RISK: "#f2a900",  # amber
    Status.OFF_TRACK: "#c8102e",  # red
    Status.NOT_STARTED: "#c9c9c9",  # light grey
    Status.DEFERRED: "#9a9a9a",
    Status.DROPPED: "#6b6b6b",
}


def status_figure(themes: list[Theme], objectives: Iterable[Objective], title: str) -> Figure:
    """One horizontal stacked bar per theme, one segment per status present."""
    from matplotlib.figure import Figure  # Agg canvas by default: no display needed
    from matplotlib.ticker import MaxNLocator

    objectives = list(objectives)
    counts = {
        status: [
            sum(1 for o in objectives if o.theme == t.number and o.status is status) for t in themes
        ]
        for status in CHART_ORDER
    }
    height = 1.2 + 0.55 * max(len(themes), 1)
    figure = Figure(figsize=(8.5, height), dpi=110, layout="constrained")
    axes = figure.add_subplot()
    rows = list(range(len(themes)))
    left = [0] * len(themes)
    for status in CHART_ORDER:
        values = counts[status]
        if not any(values):
            continue
        bars = axes.barh(
            rows, values, left=left, color=COLOURS[status], label=status.value,
            edgecolor="white", linewidth=0.8,
        )  # fmt: skip
        labels = [str(v) if v else "" for v in values]
        light = status in (Status.NOT_STARTED, Status.PARTLY_ACHIEVED)
        text_colour = "black" if light else "white"
        axes.bar_label(bars, labels=labels, label_type="center", fontsize=8, color=text_colour)
        left = [a + b for a, b in zip(left, values, strict=True)]
    axes.set_yticks(rows, [_label(t) for t in themes], fontsize=8)
    axes.invert_yaxis()  # theme 1 at the top, as in the strategy document
    axes.set_xlabel("objectives", fontsize=8)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_title(title, fontsize=10, loc="left")
    axes.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.18 if len(themes) > 3 else -0.3),
        ncols=4, fontsize=7, frameon=False,
    )  # fmt: skip
    return figure


def _label(theme: Theme) -> str:
    """ "3. Develop our IT infrastructure\nto support the move to the new…": two lines at most."""
    lines = textwrap.wrap(f"{theme.number}. {theme.title}", 34, max_lines=2, placeholder="…")
    return "\n".join(lines)


def save_status_chart(
    themes: list[Theme], objectives: Iterable[Objective], directory: Path, today: date,
    title: str = "Objectives by theme and status",
) -> Path:  # fmt: skip
    """Draw the chart to `directory/status-by-theme-YYYY-MM-DD.png` and return the path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"status-by-theme-{today.isoformat()}.png"
    figure = status_figure(themes, objectives, f"{title}, {today:%-d %b %Y}")
    tmp = path.with_suffix(".png.tmp")
    figure.savefig(tmp, format="png")
    tmp.replace(path)
    return path
