"""Proof: SIGKILL at any moment loses no confirmed update and leaves nothing half-written.

A child process records updates in a loop and prints each one only once
Repository.record_update has returned (the bot's promise to the user). The parent
kills it with SIGKILL at random moments, at start-up, mid-write and mid-compaction
(the child compacts every ~4 KB so kills land in compactions too), then opens the store
and checks it after every kill.
"""

from __future__ import annotations

import random
import re
import signal
import time
from pathlib import Path

from storage.repository import Repository
from tests.store_helpers import OBJECTIVES, child, journal_records, seeded

KILLS = 30
TEXT = re.compile(r"^crash (\d+) progress (\d+)$")


def check_store(data: Path, confirmed: set[int], start: int = 0) -> int:
    """Open the store and check it; returns the highest update number stored.

    `start` is where this child began: everything below it was checked after the last
    kill (and may end in one durable but unconfirmed update of that round)."""
    repo = Repository.open(data)
    try:
        # A SIGKILL landing inside write() can leave a short last line (Linux stops a write
        # between pages on a fatal signal): it was never fsynced, so never confirmed, and
        # must be dropped with a warning. Any other warning is a failure.
        assert all("torn last entry" in w for w in repo.warnings), repo.warnings
        numbers: list[int] = []
        newest: dict[str, tuple[int, int]] = {}
        for oid in OBJECTIVES:
            for change in repo.updates_for(oid):
                match = TEXT.match(change.text)
                assert match, change.text
                number, progress = int(match[1]), int(match[2])
                numbers.append(number)
                newest[oid] = (number, progress)
        # Every confirmed update is there, each exactly once.
        assert len(numbers) == len(set(numbers)), "an update was stored twice"
        missing = confirmed - set(numbers)
        assert not missing, f"confirmed updates lost: {sorted(missing)[:10]}"
        # Writes are sequential, so what is stored is 0..top with no holes, and at most the
        # one in flight when this child died (durable but not yet confirmed) goes beyond
        # what was confirmed or stored before it started.
        top = max(numbers, default=-1)
        assert sorted(numbers) == list(range(top + 1))
        assert top <= max(max(confirmed, default=-1), start - 1) + 1
        # Nothing half-written: the update and the objective's new state land together.
        for oid, (number, progress) in newest.items():
            objective = repo.objective(oid)
            assert objective is not None and objective.progress == progress, (oid, number)
        assert repo.store.count("updates") == len(numbers)
    finally:
        repo.close()
    journal_records(data)  # every line whole, entries numbered without a gap
    return top


async def test_sigkill_at_random_moments_loses_nothing_confirmed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (await seeded(data)).close()
    rng = random.Random(20260105)
    confirmed: set[int] = set()
    start, kills, compactions_seen = 0, 0, 0
    deadline = time.monotonic() + 40
    while kills < KILLS:
        assert time.monotonic() < deadline, "crash test too slow"
        proc = child(str(data), "crash", str(start), "0", "4096")
        assert proc.stdout is not None
        if kills % 4 == 0:
            time.sleep(rng.uniform(0.0, 0.25))  # often lands during start-up or replay
        else:
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
            wanted = rng.randint(1, 120)
            for line in proc.stdout:  # let it confirm some updates, then a little more
                if line.startswith("ok "):
                    confirmed.add(int(line.split()[1]))
                    if int(line.split()[1]) >= start + wanted:
                        break
            time.sleep(rng.uniform(0, 0.01))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # Read what is left through the same buffered reader (communicate() would skip
        # lines it has already buffered); the pipe is at EOF now that the child is dead.
        out, err = proc.stdout.read(), proc.stderr.read()
        assert proc.returncode == -signal.SIGKILL, err
        for line in out.splitlines():
            if line.startswith("ok "):
                confirmed.add(int(line.split()[1]))
        kills += 1
        generation_before = compactions_seen
        top = check_store(data, confirmed, start)
        repo = Repository.open(data)
        compactions_seen = repo.store.generation
        repo.close()
        assert compactions_seen >= generation_before
        start = top + 1
    assert kills >= 20
    assert len(confirmed) > 500, len(confirmed)
    assert compactions_seen > 5, "kills should have run across several compactions"
