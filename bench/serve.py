"""`python -m bench serve`: the Slack endpoint end to end, beside anchors on the same fakes.

For each store size a fixture store is built (bench.fixture), then three servers run
in turn as real processes on 127.0.0.1, each against this process's fake Slack Web API:
the bot (`python -m bot serve`), a bare aiohttp app posting a canned reply, and a bare
slack_bolt AsyncApp echo (bench/anchors.py). Each gets signed `app_mention` events
(an officer's update of their own objective) at concurrency 1, 10 and 50; a message's
latency runs from sending the request to the fake receiving the reply in its thread.
Reported: p50/p99 per concurrency, messages/s at 50 (saturation) and the server's CPU
time (user + system, from /proc) per message over the whole run.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import socket
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"
CONCURRENCY = (1, 10, 50)


class FakeSlack:
    """Answers the Web API like Slack; resolves a waiter when a reply lands in its thread."""

    def __init__(self) -> None:
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/{method}", self.api)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/api/"

    async def api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw = await request.read()
        if method == "chat.postMessage":
            if request.content_type == "application/json":
                params = json.loads(raw or b"{}")
            else:
                from urllib.parse import parse_qs

                params = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            waiter = self.waiting.pop(str(params.get("thread_ts")), None)
            if waiter and not waiter.done():
                waiter.set_result(time.perf_counter())
            return web.json_response({"ok": True, "ts": f"{time.time():.6f}"})
        if method == "auth.test":
            return web.json_response(
                {"ok": True, "user_id": "UBOT", "bot_id": "B1", "team_id": "T1"}
            )
        if method == "users.info":
            return web.json_response({"ok": False, "error": "user_not_found"})
        return web.json_response({"ok": True})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sender_and_objective(directory: Path) -> tuple[str, str]:
    strategy = yaml.safe_load((directory / "strategy.yaml").read_text(encoding="utf-8"))
    people = {p["id"]: p for p in strategy["people"]}
    for objective in strategy["objectives"]:
        owner = people.get(objective.get("owner"))
        if owner and owner.get("slack_id") and owner.get("role") == "officer":
            return owner["slack_id"], str(objective["id"])
    raise SystemExit("no officer with a Slack id owns an objective in the fixture")


def signed(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }


async def start(command: list[str], port: int, env: dict[str, str]) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(600):
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return process
        except OSError:
            await asyncio.sleep(0.05)
    process.kill()
    raise SystemExit(f"{command[:4]} did not start")


async def drive(
    fake: FakeSlack, port: int, user: str, objective: str, pid: int, messages: int
) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/slack/events"
    figures: dict[str, Any] = {}
    sent = 0
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one(n: int) -> float:
            ts = f"{int(time.time())}.{n:06d}"
            event = {
                "type": "app_mention", "user": user, "channel": "CBENCH", "ts": ts,
                "event_ts": ts, "text": f"<@UBOT> update {objective} on track 60% bench{n}",
            }  # fmt: skip
            payload = {
                "type": "event_callback", "team_id": "T1", "api_app_id": "A1",
                "event_id": f"Ev{uuid.uuid4().hex[:12]}", "event_time": int(time.time()),
                "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}],
                "event": event,
            }  # fmt: skip
            body = json.dumps(payload).encode()
            waiter = asyncio.get_running_loop().create_future()
            fake.waiting[ts] = waiter
            began = time.perf_counter()
            async with http.post(url, data=body, headers=signed(body)) as response:
                assert response.status == 200, response.status
            return (await asyncio.wait_for(waiter, 30) - began) * 1000

        async def phase(concurrency: int, count: int) -> tuple[list[float], float]:
            nonlocal sent
            numbers = iter(range(sent, sent + count))
            sent += count
            latencies: list[float] = []

            async def worker() -> None:
                for n in numbers:
                    latencies.append(await one(n))

            began = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return latencies, time.perf_counter() - began

        await phase(5, 20)  # warm-up: imports, caches, the first connection
        cpu_before, total = cpu_seconds(pid), 0
        for concurrency in CONCURRENCY:
            count = messages if concurrency > 1 else max(20, messages // 3)
            latencies, elapsed = await phase(concurrency, count)
            total += count
            latencies.sort()
            figures[f"c{concurrency}_p50_ms"] = round(statistics.median(latencies), 2)
            figures[f"c{concurrency}_p99_ms"] = round(latencies[int(len(latencies) * 0.99) - 1], 2)
            if concurrency == CONCURRENCY[-1]:
                figures["per_s"] = round(count / elapsed, 1)
        figures["cpu_ms_per_msg"] = round((cpu_seconds(pid) - cpu_before) * 1000 / total, 2)
    return figures


async def measure(directory: Path, messages: int) -> dict[str, dict[str, Any]]:
    fake = FakeSlack()
    await fake.start()
    user, objective = sender_and_objective(directory)
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.url,
    }  # fmt: skip
    results: dict[str, dict[str, Any]] = {}
    targets = {
        "strategy tracker": [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1",
                             "--data", str(directory / "data"),
                             "--strategy", str(directory / "strategy.yaml"), "--port"],
        "bare aiohttp": [sys.executable, "-m", "bench.anchors", "aiohttp", "--api", fake.url,
                         "--port"],
        "bare bolt": [sys.executable, "-m", "bench.anchors", "bolt", "--api", fake.url, "--port"],
    }  # fmt: skip
    try:
        for name, command in targets.items():
            port = free_port()
            process = await start([*command, str(port)], port, env)
            try:
                results[name] = await drive(fake, port, user, objective, process.pid, messages)
            finally:
                process.terminate()
                await process.wait()
    finally:
        assert fake.runner
        await fake.runner.cleanup()
    return results


COLUMNS = [
    ("p50 c1", "c1_p50_ms"), ("p99 c1", "c1_p99_ms"), ("p50 c10", "c10_p50_ms"),
    ("p99 c10", "c10_p99_ms"), ("p50 c50", "c50_p50_ms"), ("p99 c50", "c50_p99_ms"),
    ("msgs/s", "per_s"), ("CPU ms/msg", "cpu_ms_per_msg"),
]  # fmt: skip


def table(size: int, results: dict[str, dict[str, Any]]) -> str:
    rows = [[f"Slack, {size:,} updates", *(title for title, _ in COLUMNS)]]
    for name, figures in results.items():
        rows.append([name, *(str(figures.get(key, "n/a")) for _, key in COLUMNS)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "-|-".join("-" * w for w in widths))
    bot = results.get("strategy tracker", {}).get("cpu_ms_per_msg")
    bolt = results.get("bare bolt", {}).get("cpu_ms_per_msg")
    if bot and bolt:
        lines.append(f"CPU per message: {bot / bolt:.2f}x the bare Bolt echo (target <= 1.5x)")
    return "\n".join(lines)


def run(sizes: list[int], messages: int, base: Path) -> dict[str, Any]:
    from bench.__main__ import worker

    out: dict[str, Any] = {}
    for size in sizes:
        directory = base / f"serve-{size}"
        print(f"{size:>7,} updates: building...", end="", flush=True, file=sys.stderr)
        worker("build", directory, size)
        print(" measuring...", end="", flush=True, file=sys.stderr)
        out[str(size)] = asyncio.run(measure(directory, messages))
        print(" done", file=sys.stderr)
        print(table(size, out[str(size)]), flush=True)
        print(flush=True)
    return out
