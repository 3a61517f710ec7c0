"""Slow clients against `python -m bot serve` at a lowered open-file limit (issue 9, item 6).

The server runs as a real process with RLIMIT_NOFILE at 256; 2,000 connections that
send half a request head and then nothing are held open against it. /healthz and a
signed Slack request must still be answered, and the log must stay small.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import sys

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
from tests.test_server_serve import ROOT, base_env, free_port

FILE_LIMIT = 256
SLOW_CONNECTIONS = 2000


def _lower_file_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT))


async def _slow_client(port: int, held: list) -> None:
    with contextlib.suppress(OSError, TimeoutError):
        _reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # never ends
        held.append(writer)


async def test_health_and_slack_are_answered_while_2000_slow_connections_are_held(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))  # this test's own side
    api = await FakeSlackApi().start()
    port = free_port()
    env = {
        **base_env(),
        "SLACK_BOT_TOKEN": api.token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api.api_url,
    }
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--data", str(tmp_path / "data"), "--strategy", str(strategy_with_chat_ids(tmp_path)),
            cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=log,
            preexec_fn=_lower_file_limit,
        )  # fmt: skip
    held: list[asyncio.StreamWriter] = []
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert b"listening on" in line, log_path.read_bytes()[-2000:]
        for _batch in range(0, SLOW_CONNECTIONS, 500):  # bounded: 4 rounds of at most 1 s
            await asyncio.gather(*(_slow_client(port, held) for _ in range(500)))
        assert len(held) >= FILE_LIMIT  # more than the server could ever hold open

        timeout = aiohttp.ClientTimeout(total=15)  # a busy 2-core CI machine
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
            body = slack_event(direct_message(slack_id("mkhan"), "summary"))
            url = f"http://127.0.0.1:{port}/slack/events"
            async with session.post(url, data=body, headers=slack_headers(body)) as response:
                assert response.status == 200
        await api.wait_for("chat.postMessage", timeout=10)
        assert process.returncode is None
        assert log_path.stat().st_size < 200_000  # rate-limited, not hundreds of MB
    finally:
        for writer in held:
            writer.close()
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), 15)
        await api.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
