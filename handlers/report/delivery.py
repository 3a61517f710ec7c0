"""Where a finished report goes: a file in the data directory, or a dashboard link.

The download route is served by the dashboard (bot/web/) behind its sign-in session:
`{PUBLIC_URL}/report.{fmt}?since=YYYY-MM-DD&directorate=ID`. `report_link` is the one
place that spells it, and `report_query` the one place that reads it back, so chat and
the server cannot drift apart. Without a public URL (the console), the report is written
to `<data dir>/reports/` and its path given instead.
"""

from __future__ import annotations

import asyncio
import os
from datetime import date, datetime, time
from pathlib import Path
from urllib.parse import urlencode

from handlers.report.content import Report, remember_report
from handlers.report.rendering import render
from storage.repository import Repository
from tracker.dates import LONDON

REPORTS_DIR = "reports"
ROUTE = "/report.{fmt}"


def report_link(
    public_url: str, fmt: str, since: datetime | None = None, directorate: str | None = None
) -> str:
    query: dict[str, str] = {}
    if since is not None:
        query["since"] = since.astimezone(LONDON).date().isoformat()
    if directorate:
        query["directorate"] = directorate
    link = public_url.rstrip("/") + ROUTE.format(fmt=fmt)
    return f"{link}?{urlencode(query)}" if query else link


def report_query(params: dict[str, str]) -> tuple[datetime | None, str | None]:
    """(since, directorate) from a download link's query; ValueError if malformed."""
    since = None
    if params.get("since"):
        since = datetime.combine(date.fromisoformat(params["since"]), time(), LONDON)
    return since, params.get("directorate") or None


async def save_report(
    repo: Repository, report: Report, fmt: str, target: Path | None = None
) -> Path:
    """Render and write the report durably, then remember it as the latest report.

    Without a `target`, the file goes in `<data dir>/reports/` under the report's name;
    a second report the same day (for another meeting, say) gets `-2`, `-3`... rather
    than replacing the first, which may already be on its way to a committee. A
    `target` the user named is written as asked."""
    if target is None:
        target = _unused(repo.data_dir / REPORTS_DIR, report.filename, fmt)
    data = await asyncio.to_thread(render, report, fmt)
    await asyncio.to_thread(_write, target, data)
    await remember_report(repo, report)
    return target


def _unused(folder: Path, stem: str, fmt: str) -> Path:
    candidate, number = folder / f"{stem}.{fmt}", 1
    while candidate.exists():
        number += 1
        candidate = folder / f"{stem}-{number}.{fmt}"
    return candidate


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    with open(partial, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    partial.replace(target)
