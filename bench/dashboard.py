"""`python -m bench dashboard [--size 100000] [--requests 200]`: dashboard page latency.

Builds the benchmark store (bench.fixture, the same council-scale strategy as
`python -m bench`) with SIZE updates, serves the dashboard on 127.0.0.1 exactly as
`python -m bot serve` does (bot.web.add_dashboard), signs in with a session cookie and
requests every page REQUESTS times, one at a time, through a real HTTP client. Alongside,
in the same run and process, the anchor: a bare aiohttp handler returning a static page
of the overview's size, so the figures say how much the dashboard adds to the floor.
Target: every page p99 <= 100 ms at 100,000 updates.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import aiohttp
from aiohttp import web

from bench.fixture import NOW, build
from bench.measure import percentile
from bot.web import DashboardSettings, add_dashboard
from handlers.dashboard import sign
from storage.repository import Repository
from tracker.dates import LONDON

SECRET = b"bench-secret"
TARGET_MS = 100.0


async def _measure(directory: Path, requests: int) -> list[tuple[str, float, float, int]]:
    repo = Repository.open(directory / "data")
    try:
        objective = repo.objectives()[len(repo.objectives()) // 2]
        theme = repo.themes()[0].number
        directorate = repo.directorates()[0].id
        owner = objective.owner or ""
        person = repo.people()[0].id
        now = NOW.astimezone(LONDON)
        app = web.Application()
        add_dashboard(app, repo, DashboardSettings(SECRET, "http://127.0.0.1", lambda: now))
        static_page = b""

        async def anchor(request: web.Request) -> web.Response:
            return web.Response(body=static_page, content_type="text/html")

        app.router.add_get("/anchor", anchor)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]  # the port the OS picked for port 0
        base = f"http://127.0.0.1:{port}"
        cookie = sign(SECRET, person, "session", now + timedelta(hours=1))
        pages = [
            ("/", "overview"),
            ("/objectives", "objectives (all)"),
            (f"/objectives?directorate={directorate}&status=on+track", "objectives (filtered)"),
            (f"/objectives?owner={owner}", "objectives (owner)"),
            (f"/objectives/{objective.id}", "objective + history"),
            (f"/themes/{theme}", "theme"),
            (f"/directorates/{directorate}", "directorate"),
            ("/risks", "risk register"),
            ("/changes", "recent changes"),
            ("/accessibility", "accessibility"),
        ]
        results = []
        async with aiohttp.ClientSession(cookies={"strategy_dashboard": cookie}) as client:
            async with client.get(base + "/") as first:
                assert first.status == 200, await first.text()
                static_page = await first.read()
            for path, label in [("/anchor", "ANCHOR: static page, bare handler"), *pages]:
                samples = []
                size = 0
                for _ in range(requests):
                    started = time.perf_counter()
                    async with client.get(base + path) as response:
                        body = await response.read()
                    samples.append((time.perf_counter() - started) * 1000)
                    if response.status != 200:
                        raise SystemExit(f"{path}: HTTP {response.status}")
                    size = len(body)
                results.append((label, percentile(samples, 50), percentile(samples, 99), size))
        await runner.cleanup()
        return results
    finally:
        repo.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench dashboard", description=__doc__)
    parser.add_argument("--size", type=int, default=100_000, help="updates in the store")
    parser.add_argument("--requests", type=int, default=200, help="requests per page")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="strategy-bench-dash-") as folder:
        directory = Path(folder) / "store"
        started = time.perf_counter()
        build(directory, args.size)
        built = time.perf_counter() - started
        results = asyncio.run(_measure(directory, args.requests))
    width = max(len(label) for label, *_ in results)
    print(f"dashboard pages at {args.size:,} updates, {args.requests} requests each "
          f"(store built in {built:.1f} s)")  # fmt: skip
    print(f"{'page'.ljust(width)} | p50 ms | p99 ms |  bytes | p99 <= {TARGET_MS:.0f} ms")
    for label, p50, p99, size in results:
        verdict = "" if label.startswith("ANCHOR") else ("yes" if p99 <= TARGET_MS else "NO")
        print(f"{label.ljust(width)} | {p50:6.2f} | {p99:6.2f} | {size:6,} | {verdict}")
    print(f"\n{platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs; one request at a time over 127.0.0.1.")  # fmt: skip
    worst = max(p99 for label, _, p99, _ in results if not label.startswith("ANCHOR"))
    return 0 if worst <= TARGET_MS else 1
