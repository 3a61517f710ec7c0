"""The strategy group's chart: a valid PNG with one stacked bar per theme, in RAG colours."""

from __future__ import annotations

from datetime import date

import pytest
from matplotlib.colors import to_hex
from PIL import Image

from tests.digest_fixture import build_history
from tracker.chart import COLOURS, save_status_chart, status_figure
from tracker.model import Status


@pytest.fixture
async def repo(tmp_path):
    repo, _ = await build_history(tmp_path / "data")
    yield repo
    repo.close()


async def test_chart_is_a_valid_png(repo, tmp_path):
    path = save_status_chart(repo.themes(), repo.objectives(), tmp_path / "charts",
                             date(2026, 11, 16))  # fmt: skip
    assert path == tmp_path / "charts" / "status-by-theme-2026-11-16.png"
    with Image.open(path) as image:
        image.verify()  # raises on a truncated or corrupt file
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert width > 600 and height > 300
    assert not list((tmp_path / "charts").glob("*.tmp"))


async def test_one_bar_per_theme_segments_add_up_to_its_objectives(repo):
    themes, objectives = repo.themes(), repo.objectives()
    figure = status_figure(themes, objectives, "Objectives by theme")
    [axes] = figure.axes
    assert len(axes.get_yticks()) == len(themes) == 5
    assert axes.get_yticklabels()[0].get_text().startswith("1. Use technology")
    # one bar container per status present, each with exactly one bar per theme
    statuses = {o.status for o in objectives}
    assert len(axes.containers) == len(statuses)
    for container in axes.containers:
        assert len(container.patches) == len(themes)
    # per theme, the stacked widths add up to its number of objectives
    for row, theme in enumerate(themes):
        width = sum(c.patches[row].get_width() for c in axes.containers)
        assert width == sum(1 for o in objectives if o.theme == theme.number)


async def test_segments_use_rag_colours(repo):
    figure = status_figure(repo.themes(), repo.objectives(), "t")
    [axes] = figure.axes
    colours = {c.get_label(): to_hex(c.patches[0].get_facecolor()) for c in axes.containers}
    assert colours["off track"] == COLOURS[Status.OFF_TRACK] == "#c8102e"
    assert colours["at risk"] == COLOURS[Status.AT_RISK]
    assert colours["on track"] == COLOURS[Status.ON_TRACK]
    assert colours["achieved"] == COLOURS[Status.ACHIEVED]
    legend = [t.get_text() for t in axes.get_legend().get_texts()]
    assert legend[:3] == ["achieved", "partly achieved", "on track"]
