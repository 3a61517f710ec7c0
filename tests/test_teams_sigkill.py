"""SIGKILL `python -m bot serve` during bursts of mixed Slack and Teams updates (issue 9).

Teams turns are handled inline: botbuilder's CloudAdapter runs the whole turn (the
update stored durably, the reply posted to the connector) before `/api/messages`
answers, so a Teams 2xx is only ever sent for an activity already handled. Slack work
goes through the durable inbox (tests/test_slack_sigkill.py). Here both share a server
that is killed part-way through each burst, after a random count of acknowledgements;
after a last start every Slack 200 and every Teams 2xx must be stored exactly once and
answered, and nothing may be stored twice, acknowledged or not.

Bot Framework retries an activity that got no 2xx. So after the last start every Teams
activity that was cut off is sent again: a turn the kill interrupted after its durable
replay key (and perhaps after its change) must be neither lost nor stored twice; every
Teams activity sent must end up stored exactly once and answered.
"""

from __future__ import annotations

import asyncio
import random
import signal

import aiohttp

from tests.fakes.connector import FakeConnector
from tests.fakes.harness import SIGNING_SECRET, bf_message, slack_headers, teams_id
from tests.fakes.slack_api import FakeSlackApi
from tests.test_server_serve import base_env, start_server
from tests.test_slack_sigkill import MO, _request, assert_stored_once

ROUNDS, BURST, AT_ONCE = 10, 200, 20


async def test_acknowledged_slack_and_teams_updates_survive_sigkills_exactly_once(tmp_path):
    rng = random.Random(11)
    api = await FakeSlackApi(users={MO: {"email": "mo.khan@example.gov.uk"}}).start()
    connector = await FakeConnector().start()
    env = {**base_env(), "SLACK_BOT_TOKEN": api.token, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
           "SLACK_API_URL": api.api_url, "BOT_EMULATOR": "1"}  # fmt: skip
    slack_acked: dict[str, str] = {}  # note -> where its reply goes
    teams_acked: dict[str, str] = {}  # note -> activity id (the reply's replyToId)
    teams_cut: dict[str, dict] = {}  # note -> an activity that got no 2xx (to retry)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            for round_ in range(ROUNDS):
                process, url = await start_server(tmp_path, env)
                limit, acked, killing = asyncio.Semaphore(AT_ONCE), [], asyncio.Event()
                kill_after = rng.randint(10, BURST - 30)

                def count(note: str, acked=acked, killing=killing, kill_after=kill_after):
                    acked.append(note)
                    if len(acked) >= kill_after:
                        killing.set()

                async def slack(i: int, round_=round_, url=url, limit=limit, count=count):
                    note, key, body, kind = _request(api, round_, i)
                    headers = slack_headers(body, content_type=kind)
                    async with (
                        limit,
                        http.post(f"{url}/slack/events", data=body, headers=headers) as r,
                    ):
                        if r.status == 200:
                            slack_acked[note] = key
                            count(note)

                async def teams(i: int, round_=round_, url=url, limit=limit, count=count):
                    note, activity_id = f"tcrash{round_}x{i}", f"act{round_}x{i}"
                    activity = bf_message(
                        f"update 3.2 on track 60% {note}",
                        service_url=connector.service_url,
                        aad=teams_id("mkhan"),
                        activity_id=activity_id,
                    )
                    teams_cut[note] = activity
                    async with limit, http.post(f"{url}/api/messages", json=activity) as r:
                        if 200 <= r.status < 300:
                            teams_acked[note] = activity_id
                            del teams_cut[note]
                            count(note)

                burst = [
                    asyncio.ensure_future(teams(i) if i % 2 else slack(i)) for i in range(BURST)
                ]
                await asyncio.wait_for(killing.wait(), 30)
                process.send_signal(signal.SIGKILL)
                await process.wait()
                await asyncio.gather(*burst, return_exceptions=True)

            process, url = await start_server(tmp_path, env)  # recovery
            try:
                for note, activity in teams_cut.items():  # Bot Framework's retries
                    async with http.post(f"{url}/api/messages", json=activity) as r:
                        assert 200 <= r.status < 300, (note, r.status)
                for _ in range(300):
                    answered = {c.get("thread_ts") for c in api.of("chat.postMessage")}
                    answered |= set(api.response_ids)
                    replied_to = {s.reply_to for s in connector.sent}
                    teams_all = set(teams_acked.values()) | {a["id"] for a in teams_cut.values()}
                    if set(slack_acked.values()) <= answered and teams_all <= replied_to:
                        break
                    await asyncio.sleep(0.1)
            finally:
                process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(process.wait(), 20)
    finally:
        await connector.close()
        await api.close()

    assert slack_acked and teams_acked  # both channels were acknowledged in bursts ...
    assert len(slack_acked) + len(teams_acked) < ROUNDS * BURST  # ... and kills cut them
    missing = set(slack_acked.values()) - answered
    assert not missing, f"{len(missing)} acknowledged Slack updates never answered"
    unanswered = teams_all - replied_to
    assert not unanswered, f"{len(unanswered)} Teams updates never answered"
    assert_stored_once(tmp_path / "data", set(slack_acked) | set(teams_acked) | set(teams_cut))
