"""200 updates from 12 officers posted at once to POST /api/messages on a real server.

Every message must be answered at the fake connector, stored exactly once, and each
objective's history must be an unbroken chain (each update's "before" is the previous
update's "after"): the store's writer serialises concurrent turns correctly.
"""

from __future__ import annotations

import asyncio

from bot.channels.teams import TeamsChannel, TeamsSettings
from bot.server import Channels, create_app
from handlers.front_door import FrontDoor
from tests.fakes.connector import FakeConnector
from tests.fakes.harness import bf_message, open_repo, serve, teams_id

OWN_OBJECTIVE = {
    "tcarter": "1.1", "ifloyd": "1.2", "lbrown": "1.3", "jmorris": "2.2", "dnowak": "2.4",
    "mkhan": "3.2", "rgrant": "3.3", "aokafor": "3.4", "hdavies": "4.3", "pwilson": "4.4",
    "spatel": "5.1", "sobrien": "5.3",
}  # fmt: skip
MESSAGES = 200


async def test_200_concurrent_teams_updates_are_each_stored_once(tmp_path):
    connector = await FakeConnector().start()
    repo = await open_repo(tmp_path)
    settings = TeamsSettings(emulator=True, allowed_tenants=frozenset({"tenant-1"}))
    client = await serve(create_app(repo, channels=Channels(
        teams=TeamsChannel(settings, FrontDoor(repo), repo))))  # fmt: skip
    people = list(OWN_OBJECTIVE)
    try:

        async def post(i: int) -> int:
            person = people[i % len(people)]
            activity = bf_message(
                f"update {OWN_OBJECTIVE[person]} {i % 97 + 1}% note-{i}",
                service_url=connector.service_url,
                user=f"29:{person}",
                aad=teams_id(person),
                conversation=f"a:personal-{person}",
            )
            response = await client.post("/api/messages", json=activity)
            return response.status

        statuses = await asyncio.gather(*(post(i) for i in range(MESSAGES)))
        assert set(statuses) <= {200, 201}
        sent = await connector.wait_for(MESSAGES, timeout=60)
        assert len(sent) == MESSAGES
        assert all("Recorded update" in str(s.activity) for s in sent)

        notes = [u.note for o in set(OWN_OBJECTIVE.values()) for u in repo.updates_for(o)]
        assert sorted(notes) == sorted(f"note-{i}" for i in range(MESSAGES))
        for objective in set(OWN_OBJECTIVE.values()):
            updates = repo.updates_for(objective)
            current = None
            for update in updates:
                if "progress" in update.changes:
                    before, after = update.changes["progress"]
                    assert current is None or before == current
                    current = after
            assert repo.objective(objective).progress == current
    finally:
        await client.close()
        await connector.close()
        repo.close()
