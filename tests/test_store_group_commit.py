"""Group commit: one fsync serves every transaction written before it; nothing leaves the
process before it is durable; a failed fsync undoes every change that was not.

The store's `sync` fault point stands for the fsync: a counting action shows how many
ran, a blocking one holds an fsync open (as a slow disk does), an EIO one fails it.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import threading

import pytest

from handlers.reply import Kind
from storage import faults
from storage.files import StoreUnwritable
from storage.repository import Repository, Source
from tests.store_helpers import OBJECTIVES, journal_records, seeded


def counting(calls: list[int]):
    def action(**_: object) -> None:
        calls.append(1)

    return action


def held(release: threading.Event, started: threading.Event):
    """An fsync that waits (on the flusher thread) until the test releases it."""

    def action(**_: object) -> None:
        started.set()
        assert release.wait(10), "the test never released the fsync"

    return action


def io_error(**_: object) -> None:
    raise OSError(errno.EIO, os.strerror(errno.EIO))


async def test_concurrent_updates_share_fsyncs_and_each_is_on_disk_when_confirmed(tmp_path):
    repo = await seeded(tmp_path)
    fsyncs: list[int] = []
    confirmed_on_disk: list[bool] = []

    async def update(n: int) -> None:
        await repo.record_update(
            OBJECTIVES[n % 20], Source("mkhan", "console", f"u {n}"), progress=n
        )
        # Confirmed: the line is in the journal file, read back from disk.
        on_disk = json.dumps(journal_records(tmp_path))
        confirmed_on_disk.append(f'"u {n}"' in on_disk)

    with faults.armed("sync", counting(fsyncs)):
        await asyncio.gather(*(update(n) for n in range(50)))
    assert confirmed_on_disk == [True] * 50
    assert 1 <= len(fsyncs) <= 3  # one today; one per transaction would be 50
    repo.close()
    again = Repository.open(tmp_path)
    assert sorted(c.text for oid in OBJECTIVES for c in again.updates_for(oid)) == sorted(
        f"u {n}" for n in range(50)
    )
    again.close()


async def test_a_failed_fsync_undoes_every_change_not_yet_durable(tmp_path):
    repo = await seeded(tmp_path)
    await repo.record_update("3.2", Source("mkhan", "console", "kept"), progress=40)
    journal = repo.store_files[1]
    size = journal.stat().st_size
    with faults.armed("sync", io_error):
        results = await asyncio.gather(
            repo.record_update("3.2", Source("mkhan", "console", "lost a"), progress=64),
            repo.record_update("1.1", Source("mkhan", "console", "lost b"), progress=70),
            return_exceptions=True,
        )
        assert all(isinstance(r, StoreUnwritable) for r in results), results
        assert "Input/output error" in str(results[0]) and "Nothing was recorded" in str(results[0])
    await repo.refresh()  # as every message does first: the undo (already begun) is done
    # Memory and the files agree again: neither change, the earlier one kept.
    assert repo.objective("3.2").progress == 40
    assert [c.text for c in repo.updates_for("3.2")][-1] == "kept"
    assert not any(c.text.startswith("lost") for c in repo.updates_for("1.1"))
    assert journal.stat().st_size == size
    assert repo.health() == {"ok": True}
    await repo.record_update("3.2", Source("mkhan", "console", "after"), progress=45)
    repo.close()
    again = Repository.open(tmp_path)
    assert [c.text for c in again.updates_for("3.2")][-2:] == ["kept", "after"]
    assert not again.warnings
    again.close()


async def test_a_question_is_not_answered_with_a_change_before_it_is_durable(say, repo):
    release, started = threading.Event(), threading.Event()
    with faults.armed("sync", held(release, started)):
        update = asyncio.create_task(say("update 3.2 on track 64% kit ordered", as_="mkhan"))
        await asyncio.to_thread(started.wait, 5)  # its line is written, its fsync held
        assert repo.objective("3.2").progress == 64  # in memory, not yet on disk
        question = asyncio.create_task(say("status of 3.2", as_="tcarter"))
        await asyncio.sleep(0.2)
        assert not question.done() and not update.done()  # neither reply may leave yet
        release.set()
        answer, confirmation = await question, await update
    assert confirmation.kind is Kind.CONFIRMATION
    assert "64%" in answer.as_text()  # sent once the change it shows was durable


async def test_a_question_waiting_on_a_failed_fsync_is_not_answered(say, repo):
    release, started = threading.Event(), threading.Event()
    hold = held(release, started)

    def hold_then_fail(**context: object) -> None:
        hold(**context)
        io_error()

    with faults.armed("sync", hold_then_fail):
        update = asyncio.create_task(say("update 3.2 on track 64%", as_="mkhan"))
        await asyncio.to_thread(started.wait, 5)
        question = asyncio.create_task(say("status of 3.2", as_="tcarter"))
        await asyncio.sleep(0.1)
        release.set()
        confirmation, answer = await update, await question
    assert confirmation.kind is Kind.ERROR
    assert confirmation.title.startswith("Nothing was recorded: the server's disk reported")
    assert answer.kind is Kind.ERROR and "64%" not in answer.as_text()
    assert answer.title.startswith("I can't answer that just now: the server's disk reported")
    assert "Nothing was changed" in answer.as_text()
    assert "64%" not in (await say("status of 3.2", as_="tcarter")).as_text()
    assert repo.objective("3.2").progress != 64


async def test_a_saved_change_is_confirmed_when_a_later_ones_fsync_fails(say, repo):
    """Mo's update is durable (its fsync returned); Tina's, written while Mo's fsync ran,
    fails with the next fsync. Mo's reply must not say his was lost, nor hers kept."""
    release, started = threading.Event(), threading.Event()
    calls: list[int] = []

    def first_holds_then_second_fails(**_: object) -> None:
        calls.append(1)
        if len(calls) == 1:
            started.set()
            assert release.wait(10)
        else:
            io_error()

    with faults.armed("sync", first_holds_then_second_fails):
        mine = asyncio.create_task(say("update 3.2 on track 64% kit ordered", as_="mkhan"))
        await asyncio.to_thread(started.wait, 5)  # Mo's line written, its fsync running
        theirs = asyncio.create_task(say("update 1.1 at risk 30% supplier late", as_="tcarter"))
        await asyncio.sleep(0.1)  # Tina's line written after that fsync began
        release.set()
        mo, tina = await mine, await theirs
    assert mo.kind is Kind.CONFIRMATION and "64%" in mo.as_text()
    assert tina.kind is Kind.ERROR and tina.title.startswith("Nothing was recorded: ")
    await repo.refresh()
    assert repo.objective("3.2").progress == 64 and repo.objective("1.1").progress != 30
    repo.close()
    again = Repository.open(repo.data_dir)
    try:
        assert again.objective("3.2").progress == 64 and again.objective("1.1").progress != 30
    finally:
        again.close()


@pytest.mark.parametrize("step", ["compact", "backup"])
async def test_compaction_and_backup_wait_for_the_fsync_under_way(tmp_path, step):
    """Both replace or copy the journal: neither may start while an fsync is on it."""
    repo = await seeded(tmp_path)
    release, started = threading.Event(), threading.Event()
    with faults.armed("sync", held(release, started)):
        update = asyncio.create_task(
            repo.record_update("3.2", Source("mkhan", "console", "in flight"), progress=64)
        )
        await asyncio.to_thread(started.wait, 5)
        work = repo.store.compact() if step == "compact" else repo.store.backup(tmp_path / "b")
        other = asyncio.create_task(work)
        await asyncio.sleep(0.2)
        assert not other.done() and not update.done()
        release.set()
        await update
        await other
    repo.close()
    for folder in (tmp_path, tmp_path / "b") if step == "backup" else (tmp_path,):
        again = Repository.open(folder)
        assert [c.text for c in again.updates_for("3.2")][-1] == "in flight"
        assert not again.warnings
        again.close()
