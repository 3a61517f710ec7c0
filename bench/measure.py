"""The measurements, each run in a fresh process by `python -m bench` (see __main__).

`measure_bot` times what users feel, through the whole handler (`FrontDoor.handle`: text
in, durable write, reply out), on a store built by `bench.fixture`. `measure_baselines`
times, on the same documents, plain TinyDB with its default JSONStorage and the floor
of any durable design: one JSON line appended and fsynced.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import json
import os
import resource
import statistics
import time
from pathlib import Path
from typing import Any

UPDATES_MEASURED = 1000
QUERIES_MEASURED = 200
QUESTIONS = {
    "status_theme": "status of theme 3",
    "overdue": "what's overdue?",
    "summary": "summary",
}


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


async def _digests_all(app: Any, directory: Path) -> dict[str, float] | None:
    """Every directorate digest plus the strategy group's with its chart, built as
    bot/scheduler.py builds them for sending (None while no digest module exists)."""
    if importlib.util.find_spec("handlers.digest_content") is None:
        return None
    from datetime import datetime, timedelta

    from handlers import digest_content as digest
    from tracker.chart import save_status_chart  # imported at start-up by the scheduler
    from tracker.dates import LONDON

    repo = app.repo
    now = datetime.now(LONDON)
    since = now - timedelta(days=7)
    started = time.perf_counter()
    for directorate in repo.directorates():
        digest.directorate_digest(repo, directorate.id, now, since).as_text()
    reply = digest.strategy_digest(repo, now, since, digest.undelivered_since(repo, since))
    reply.as_text()
    text_s = time.perf_counter() - started
    save_status_chart(repo.themes(), repo.objectives(), directory, now.date())
    return {
        "digests_all_s": round(time.perf_counter() - started, 3),
        "digests_text_only_s": round(text_s, 3),
    }


def _reports(app: Any) -> dict[str, float]:
    """The committee report as `python -m bot report` makes it: content built from the
    store, then each format rendered (DOCX, HTML, tagged PDF), timed separately."""
    from datetime import datetime, timedelta

    from handlers.report import FORMATS, build_report, render
    from tracker.dates import LONDON

    now = datetime.now(LONDON)
    started = time.perf_counter()
    report = build_report(app.repo, now, now - timedelta(days=91))
    built = time.perf_counter() - started
    figures = {"report_build_s": round(built, 3)}
    for fmt in FORMATS:
        began = time.perf_counter()
        render(report, fmt)
        figures[f"report_{fmt}_s"] = round(built + time.perf_counter() - began, 3)
    return figures


async def _measure_bot(directory: Path) -> dict[str, Any]:
    from bot.app import open_app
    from bot.settings import Settings
    from handlers.message import IncomingMessage, Sender
    from handlers.reply import Kind

    data = directory / "data"
    result: dict[str, Any] = {"store_mb": round(folder_mb(data), 1)}
    gc.collect()
    started = time.perf_counter()
    app = await open_app(Settings(data, directory / "strategy.yaml"))
    result["startup_s"] = round(time.perf_counter() - started, 3)
    try:
        repo, tracker = app.repo, app.tracker
        objectives = repo.objectives()
        admin = next(p.id for p in repo.people() if p.role.value == "admin")
        result["updates_in_store"] = repo.store.count("updates")

        async def say(text: str, who: str, number: int) -> Any:
            sender = Sender(channel="slack", person_id=who)
            return await tracker.handle(IncomingMessage(text, sender, message_id=f"b{number}"))

        # Updates, one at a time as officers send them: each waits for its fsync.
        timings = []
        for number in range(UPDATES_MEASURED):
            objective = objectives[(number * 37) % len(objectives)]
            who = objective.owner or admin
            text = (
                f"update {objective.id} on track {number % 100}% supplier workshop held, "
                f"{number % 17} of 20 sites surveyed"
            )
            began = time.perf_counter()
            reply = await say(text, who, number)
            timings.append((time.perf_counter() - began) * 1000)
            assert reply.kind is Kind.CONFIRMATION, reply.as_text()
        result["first_update_ms"] = round(timings[0], 3)
        result["update_p50_ms"] = round(statistics.median(timings), 3)
        result["update_p99_ms"] = round(percentile(timings, 99), 3)
        result["update_max_ms"] = round(max(timings), 3)

        for key, question in QUESTIONS.items():
            timings = []
            for number in range(QUERIES_MEASURED):
                began = time.perf_counter()
                reply = await say(question, admin, number)
                timings.append((time.perf_counter() - began) * 1000)
                assert reply.kind is Kind.ANSWER, reply.as_text()
            result[f"{key}_p50_ms"] = round(statistics.median(timings), 3)
            result[f"{key}_p99_ms"] = round(percentile(timings, 99), 3)

        result.update(await _digests_all(app, directory) or {"digests_all_s": None})
        result.update(_reports(app))
        result.update(await _compaction(repo))
    finally:
        app.repo.close()
    result["rss_mb"] = round(peak_rss_mb(), 1)
    return result


async def _compaction(repo: Any) -> dict[str, float]:
    """How long a compaction takes, and the longest the event loop stalls meanwhile
    (every message waits that long): it runs on the writer thread, but holds the GIL."""
    stalls: list[float] = []
    running = True

    async def ticker() -> None:
        while running:
            began = time.perf_counter()
            await asyncio.sleep(0.001)
            stalls.append((time.perf_counter() - began) * 1000 - 1)

    task = asyncio.ensure_future(ticker())
    await asyncio.sleep(0.05)
    began = time.perf_counter()
    await repo.store.compact()
    took = time.perf_counter() - began
    running = False
    await task
    return {"compact_s": round(took, 3), "compact_loop_stall_ms": round(max(stalls), 1)}


def measure_bot(directory: Path) -> dict[str, Any]:
    return asyncio.run(_measure_bot(directory))


def measure_baselines(directory: Path, budget_s: float = 4.0) -> dict[str, Any]:
    """The fsync floor, then plain TinyDB (JSONStorage) holding the same documents.

    The floor goes first: TinyDB rewrites the whole file on every insert, and that
    writeback would otherwise be competing with the fsyncs being timed.
    """
    from tinydb import TinyDB

    from storage.files import SNAPSHOT_NAME, encode_line

    snapshot = json.loads((directory / "data" / SNAPSHOT_NAME).read_bytes())
    sample = next(iter(snapshot["tables"]["updates"].values()), {"note": "x"})
    line = encode_line({"seq": 1, "at": time.time(), "ops": [["i", "updates", 1, sample]]})
    path = directory / "fsync-floor.jsonl"
    timings: list[float] = []
    with open(path, "ab") as handle:
        for _ in range(500):
            began = time.perf_counter()
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
            timings.append((time.perf_counter() - began) * 1000)
    path.unlink()
    result: dict[str, Any] = {"fsync_append_p50_ms": round(statistics.median(timings), 3)}

    naive = directory / "naive-tinydb.json"
    naive.write_text(json.dumps(snapshot["tables"]), encoding="utf-8")
    del snapshot
    db = TinyDB(naive)  # TinyDB's default: JSONStorage, the whole file per operation
    updates = db.table("updates")
    timings = []
    spent = time.perf_counter()
    while len(timings) < 50 and (len(timings) < 5 or time.perf_counter() - spent < budget_s):
        began = time.perf_counter()
        updates.insert(dict(sample))
        timings.append((time.perf_counter() - began) * 1000)
    db.close()
    naive.unlink()
    result["naive_tinydb_insert_p50_ms"] = round(statistics.median(timings), 3)
    result["naive_tinydb_inserts"] = len(timings)
    return result
