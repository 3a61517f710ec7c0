"""`python -m bot serve` end to end: a real process, real sockets, the fakes on loopback."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from tests.fakes.harness import (
    SIGNING_SECRET,
    direct_message,
    slack_event,
    slack_headers,
    slack_id,
    strategy_with_chat_ids,
)
from tests.fakes.slack_api import FakeSlackApi

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_server(tmp_path: Path, env: dict[str, str], *args: str):
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--data", str(tmp_path / "data"), "--strategy", str(strategy_with_chat_ids(tmp_path)),
        *args,
        cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    assert b"listening on" in line, line + await process.stderr.read()
    return process, f"http://127.0.0.1:{port}"


def base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "PYTHONPATH", "SYSTEMROOT", "TMPDIR")
    return {k: v for k, v in os.environ.items() if k in keep}


async def test_serve_runs_slack_and_health_and_stops_cleanly(tmp_path):
    api = await FakeSlackApi().start()
    env = {
        **base_env(),
        "SLACK_BOT_TOKEN": api.token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api.api_url,
    }
    process, url = await start_server(tmp_path, env)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/healthz") as response:
                assert response.status == 200
                body = await response.json()
                assert body["channels"] == {"slack": "enabled"}
            async with http.post(f"{url}/api/messages", json={}) as response:
                assert response.status == 404  # Teams is not configured
            event = slack_event(direct_message(slack_id("mkhan"), "update 3.2 on track 66% e2e"))
            async with http.post(
                f"{url}/slack/events", data=event, headers=slack_headers(event)
            ) as response:
                assert response.status == 200
        [posted] = await api.wait_for("chat.postMessage", timeout=20)
        assert "Recorded update on 3.2" in posted["text"]
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
        await api.close()


async def test_emulator_mode_refuses_to_listen_beyond_this_machine(tmp_path):
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", "--emulator", "--host", "0.0.0.0",
        "--data", str(tmp_path / "data"),
        cwd=ROOT, env=base_env(), stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert b"only listens on this machine" in err
