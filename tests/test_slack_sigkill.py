"""SIGKILL `python -m bot serve` ten times during bursts of Slack updates (issue 9).

Each round starts the real server on the same data directory, fires 200 signed Slack
updates at it (app mentions and slash commands, 20 at a time) and kills it with
SIGKILL part-way through. After a last start, every update Slack got a 200 for must
be stored exactly once and answered (a reply in its thread, or on its response_url);
nothing may be stored twice, acknowledged or not.
"""

from __future__ import annotations

import asyncio
import random
import signal
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

from storage.repository import Repository
from tests.fakes.harness import SIGNING_SECRET, mention, slack_event, slack_headers, slack_id
from tests.fakes.slack_api import FakeSlackApi
from tests.test_server_serve import base_env, start_server

ROUNDS, BURST, AT_ONCE = 10, 200, 20
MO = slack_id("mkhan")


def _request(api: FakeSlackApi, round_: int, i: int) -> tuple[str, str, bytes, str]:
    """(note, reply key, body, content type): events and commands, mixed."""
    note = f"crash{round_}x{i}"
    text = f"update 3.2 on track 60% {note}"
    if i % 4 == 3:
        rid = f"r{round_}x{i}"
        form = {
            "command": "/strategy", "text": text, "user_id": MO, "team_id": "T1",
            "channel_id": "C0STRATEGY", "trigger_id": f"trig{round_}x{i}",
            "response_url": api.response_url(rid),
        }  # fmt: skip
        return note, rid, urlencode(form).encode(), "application/x-www-form-urlencoded"
    ts = f"1700{round_:03d}.{i:06d}"
    return note, ts, slack_event(mention(MO, text, ts=ts)), "application/json"


async def test_every_acknowledged_update_survives_ten_sigkills_exactly_once(tmp_path):
    rng = random.Random(9)
    api = await FakeSlackApi(users={MO: {"email": "mo.khan@example.gov.uk"}}).start()
    env = {
        **base_env(),
        "SLACK_BOT_TOKEN": api.token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api.api_url,
    }
    acknowledged: dict[str, str] = {}  # note -> where its reply goes
    timeout = aiohttp.ClientTimeout(total=5)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http:
            for round_ in range(ROUNDS):
                process, url = await start_server(tmp_path, env)
                limit = asyncio.Semaphore(AT_ONCE)
                # Kill after a random number of this round's acknowledgements, so the
                # SIGKILL lands mid-burst however fast the server is on this machine.
                kill_after, acked = rng.randint(10, BURST - 40), []
                killing = asyncio.Event()

                async def send(
                    note: str, key: str, body: bytes, kind: str, url=url, limit=limit,
                    kill_after=kill_after, acked=acked, killing=killing,
                ) -> None:  # fmt: skip
                    async with limit:
                        headers = slack_headers(body, content_type=kind)
                        async with http.post(
                            f"{url}/slack/events", data=body, headers=headers
                        ) as r:
                            if r.status == 200:
                                acknowledged[note] = key
                                acked.append(note)
                                if len(acked) >= kill_after:
                                    killing.set()

                burst = [
                    asyncio.ensure_future(send(*_request(api, round_, i))) for i in range(BURST)
                ]
                await asyncio.wait_for(killing.wait(), 30)
                process.send_signal(signal.SIGKILL)
                await process.wait()
                await asyncio.gather(*burst, return_exceptions=True)

            process, url = await start_server(tmp_path, env)  # recovery
            try:
                for _ in range(300):
                    answered = {c.get("thread_ts") for c in api.of("chat.postMessage")}
                    answered |= set(api.response_ids)
                    if set(acknowledged.values()) <= answered:
                        break
                    await asyncio.sleep(0.1)
            finally:
                process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(process.wait(), 20)
    finally:
        await api.close()

    assert len(acknowledged) > BURST  # the kills really landed mid-burst, many times
    assert len(acknowledged) < ROUNDS * BURST
    missing = set(acknowledged.values()) - answered
    assert not missing, f"{len(missing)} acknowledged updates never answered"
    assert_stored_once(tmp_path / "data", set(acknowledged))


def assert_stored_once(data: Path, notes_sent: set[str]) -> None:
    """Every one of these notes is on 3.2 exactly once, and nothing is there twice."""
    repo = Repository.open(data)
    try:
        notes = [u.note for u in repo.updates_for("3.2")]
    finally:
        repo.close()
    doubled = {n for n in notes if notes.count(n) > 1}
    assert not doubled, f"stored twice: {sorted(doubled)[:5]}"
    lost = notes_sent - set(notes)
    assert not lost, f"{len(lost)} acknowledged updates not stored: {sorted(lost)[:5]}"
