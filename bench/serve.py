"""`python -m bench serve`: Slack and Teams end to end, beside anchors on the same fakes.

For each store size a fixture store is built (bench.fixture), then three servers run
in turn as real processes on 127.0.0.1, each against this process's fake Slack Web API:
the bot (`python -m bot serve`), a bare aiohttp app posting a canned reply, and a bare
slack_bolt AsyncApp echo (bench/anchors.py). Each gets signed `app_mention` events
(an officer's update of their own objective) at concurrency 1, 10 and 50; a message's
latency runs from sending the request to the fake receiving the reply in its thread.
Reported: p50/p99 per concurrency, messages/s at 50 (saturation) and the server's CPU
time (user + system, from /proc) per message over the whole run.

Teams (teams2, issue 9): the bot in Emulator mode (no token checks, as the anchor has
none) gets message activities from an officer whose Entra id the fixture's strategy is
given; the same fake answers as the Bot Framework connector, and a message's latency
runs to the reply's POST carrying its replyToId. The anchor is a bare botbuilder
CloudAdapter echo bot. A last run sends Slack and Teams at once to one server and
reports each channel's acknowledgement p50/p99 (Slack allows 3 s).
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
from collections.abc import Awaitable, Callable
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
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self.activity)
        app.router.add_post("/v3/conversations/{cid}/activities", self.activity)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/api/"
        self.service_url = f"http://127.0.0.1:{port}/"

    async def activity(self, request: web.Request) -> web.Response:
        """The Bot Framework connector: a Teams reply resolves the waiter for its replyToId."""
        await request.read()
        waiter = self.waiting.pop(request.match_info.get("aid", ""), None)
        if waiter and not waiter.done():
            waiter.set_result(time.perf_counter())
        return web.json_response({"id": uuid.uuid4().hex})

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


def slack_sender(
    fake: FakeSlack, port: int, user: str, objective: str
) -> Callable[[aiohttp.ClientSession, int], Awaitable[tuple[float, float]]]:
    """One signed app_mention: (ack ms, reply ms) from sending it."""
    url = f"http://127.0.0.1:{port}/slack/events"

    async def one(http: aiohttp.ClientSession, n: int) -> tuple[float, float]:
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
        return await timed(fake, ts, http.post(url, data=body, headers=signed(body)))

    return one


def teams_sender(
    fake: FakeSlack, port: int, aad: str, objective: str
) -> Callable[[aiohttp.ClientSession, int], Awaitable[tuple[float, float]]]:
    """One Teams message activity (Emulator mode: no token): (ack ms, reply ms)."""
    url = f"http://127.0.0.1:{port}/api/messages"

    async def one(http: aiohttp.ClientSession, n: int) -> tuple[float, float]:
        activity_id = f"bench-{uuid.uuid4().hex}"
        activity = {
            "type": "message", "id": activity_id, "channelId": "msteams",
            "serviceUrl": fake.service_url, "text": f"update {objective} on track 60% t{n}",
            "from": {"id": "29:bench", "name": "Bench", "aadObjectId": aad},
            "conversation": {"id": "a:bench", "conversationType": "personal"},
            "recipient": {"id": "28:bot", "name": "Strategy Tracker"},
        }  # fmt: skip
        return await timed(fake, activity_id, http.post(url, json=activity))

    return one


async def timed(fake: FakeSlack, key: str, post: Any) -> tuple[float, float]:
    waiter = asyncio.get_running_loop().create_future()
    fake.waiting[key] = waiter
    began = time.perf_counter()
    async with post as response:
        assert response.status in (200, 201), response.status
    acked = time.perf_counter()
    replied = await asyncio.wait_for(waiter, 30)
    return (acked - began) * 1000, (replied - began) * 1000


async def phase(
    http: aiohttp.ClientSession, one: Any, first: int, concurrency: int, count: int
) -> tuple[list[tuple[float, float]], float]:
    numbers = iter(range(first, first + count))
    results: list[tuple[float, float]] = []

    async def worker() -> None:
        for n in numbers:
            results.append(await one(http, n))

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results, time.perf_counter() - began


def p99(values: list[float]) -> float:
    values = sorted(values)
    return round(values[max(0, int(len(values) * 0.99) - 1)], 2)


async def drive(one: Any, pid: int, messages: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    sent = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as http:
        await phase(http, one, 0, 5, 20)  # warm-up: imports, caches, the first connection
        sent = 20
        cpu_before, total = cpu_seconds(pid), 0
        for concurrency in CONCURRENCY:
            count = messages if concurrency > 1 else max(20, messages // 3)
            results, elapsed = await phase(http, one, sent, concurrency, count)
            sent += count
            total += count
            latencies = [reply for _, reply in results]
            figures[f"c{concurrency}_p50_ms"] = round(statistics.median(latencies), 2)
            figures[f"c{concurrency}_p99_ms"] = p99(latencies)
            if concurrency == CONCURRENCY[-1]:
                figures["per_s"] = round(count / elapsed, 1)
        figures["cpu_ms_per_msg"] = round((cpu_seconds(pid) - cpu_before) * 1000 / total, 2)
    return figures


async def drive_mixed(slack: Any, teams: Any, messages: int) -> dict[str, Any]:
    """Slack and Teams at 25 concurrent each, at once: each channel's ack p50/p99."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as http:
        (slack_results, elapsed), (teams_results, _) = await asyncio.gather(
            phase(http, slack, 10_000_000, 25, messages),
            phase(http, teams, 10_000_000, 25, messages),
        )
    slack_acks = [ack for ack, _ in slack_results]
    teams_acks = [ack for ack, _ in teams_results]
    return {
        "slack_ack_p50_ms": round(statistics.median(slack_acks), 2),
        "slack_ack_p99_ms": p99(slack_acks),
        "teams_ack_p50_ms": round(statistics.median(teams_acks), 2),
        "teams_ack_p99_ms": p99(teams_acks),
        "both_per_s": round(2 * messages / elapsed, 1),
    }


def strategy_with_teams_ids(directory: Path) -> Path:
    """The fixture's strategy with a Teams (Entra) id for everyone who has a Slack id."""
    raw = yaml.safe_load((directory / "strategy.yaml").read_text(encoding="utf-8"))
    for person in raw["people"]:
        if person.get("slack_id"):
            person["teams_id"] = f"aad-{person['slack_id']}"
    path = directory / "strategy-teams.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


async def healthz_after_start(command: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning `serve` to its first `/healthz` 200 (issue 9: at most 2 s)."""
    port = free_port()
    began = time.perf_counter()
    process = await start([*command, str(port)], port, env)  # listening
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return round(time.perf_counter() - began, 2)
                await asyncio.sleep(0.02)
        raise SystemExit("serve never answered /healthz with 200")
    finally:
        process.terminate()
        await process.wait()


async def listening_after_start(command: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning an anchor to its accepting connections: how fast this machine
    starts a Python server with the same SDKs, beside the bot's /healthz time."""
    port = free_port()
    began = time.perf_counter()
    process = await start([*command, str(port)], port, env)
    elapsed = round(time.perf_counter() - began, 2)
    process.terminate()
    await process.wait()
    return elapsed


async def run_target(command: list[str], env: dict[str, str], measure_with: Any) -> Any:
    port = free_port()
    process = await start([*command, str(port)], port, env)
    try:
        return await measure_with(port, process.pid)
    finally:
        process.terminate()
        await process.wait()


async def measure(directory: Path, messages: int) -> dict[str, dict[str, Any]]:
    fake = FakeSlack()
    await fake.start()
    user, objective = sender_and_objective(directory)
    aad = f"aad-{user}"
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.url, "BOT_EMULATOR": "1",
    }  # fmt: skip
    bot = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1",
           "--data", str(directory / "data"),
           "--strategy", str(strategy_with_teams_ids(directory)), "--port"]  # fmt: skip
    anchor = [sys.executable, "-m", "bench.anchors"]

    def slack(port: int, pid: int) -> Awaitable[dict[str, Any]]:
        return drive(slack_sender(fake, port, user, objective), pid, messages)

    def teams(port: int, pid: int) -> Awaitable[dict[str, Any]]:
        return drive(teams_sender(fake, port, aad, objective), pid, messages)

    def mixed(port: int, pid: int) -> Awaitable[dict[str, Any]]:
        return drive_mixed(
            slack_sender(fake, port, user, objective),
            teams_sender(fake, port, aad, objective),
            messages,
        )

    runs = {
        "Slack: strategy tracker": (bot, slack),
        "Slack: bare aiohttp": ([*anchor, "aiohttp", "--api", fake.url, "--port"], slack),
        "Slack: bare bolt": ([*anchor, "bolt", "--api", fake.url, "--port"], slack),
        "Teams: strategy tracker": (bot, teams),
        "Teams: bare botbuilder": ([*anchor, "botbuilder", "--api", fake.url, "--port"], teams),
        "mixed": (bot, mixed),
    }
    results: dict[str, dict[str, Any]] = {}
    try:
        results["start"] = {
            "healthz_s": await healthz_after_start(bot, env),
            "echo_listening_s": await listening_after_start(
                [*anchor, "botbuilder", "--api", fake.url, "--port"], env
            ),
        }
        for name, (command, measure_with) in runs.items():
            results[name] = await run_target(command, env, measure_with)
    finally:
        assert fake.runner
        await fake.runner.cleanup()
    return results


COLUMNS = [
    ("p50 c1", "c1_p50_ms"), ("p99 c1", "c1_p99_ms"), ("p50 c10", "c10_p50_ms"),
    ("p99 c10", "c10_p99_ms"), ("p50 c50", "c50_p50_ms"), ("p99 c50", "c50_p99_ms"),
    ("msgs/s", "per_s"), ("CPU ms/msg", "cpu_ms_per_msg"),
]  # fmt: skip


def ratio_line(results: dict[str, dict[str, Any]], ours: str, anchor: str) -> str:
    bot = results.get(ours, {}).get("cpu_ms_per_msg")
    base = results.get(anchor, {}).get("cpu_ms_per_msg")
    if not (bot and base):
        return ""
    return f"{ours} CPU per message: {bot / base:.2f}x {anchor} (target <= 1.5x)"


def table(size: int, results: dict[str, dict[str, Any]]) -> str:
    rows = [[f"{size:,} updates", *(title for title, _ in COLUMNS)]]
    for name, figures in results.items():
        if name not in ("mixed", "start"):
            rows.append([name, *(str(figures.get(key, "n/a")) for _, key in COLUMNS)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "-|-".join("-" * w for w in widths))
    lines.append(ratio_line(results, "Slack: strategy tracker", "Slack: bare bolt"))
    lines.append(ratio_line(results, "Teams: strategy tracker", "Teams: bare botbuilder"))
    mixed = results.get("mixed")
    if mixed:
        lines.append(
            "Mixed load (Slack and Teams, 25 concurrent each, one server): "
            f"Slack ack p50/p99 {mixed['slack_ack_p50_ms']}/{mixed['slack_ack_p99_ms']} ms, "
            f"Teams ack p50/p99 {mixed['teams_ack_p50_ms']}/{mixed['teams_ack_p99_ms']} ms, "
            f"{mixed['both_per_s']} msgs/s together"
        )
    start = results.get("start")
    if start:
        lines.append(
            f"serve answered /healthz {start['healthz_s']} s after start (target <= 2 s); "
            f"the bare botbuilder echo was listening {start['echo_listening_s']} s after start"
        )
    return "\n".join(line for line in lines if line)


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
