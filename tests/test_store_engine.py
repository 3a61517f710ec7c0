"""The engine's crash windows, forced deterministically at the store's named fault points."""

from __future__ import annotations

import asyncio
import json
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

import storage.files as files
from storage import faults
from storage.engine import DocumentStore
from storage.files import JOURNAL_NAME, SNAPSHOT_NAME, StoreError, decode_line
from storage.repository import Repository, Source
from tests.store_helpers import OBJECTIVES, journal_records, seeded


class Crash(BaseException):
    """Stands for the process dying at this point (nothing after it runs)."""


async def add_updates(repo: Repository, tag: str, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        await repo.record_update(
            OBJECTIVES[n % 20], Source(f"{tag}{n % 3}", "console", f"{tag} {n}"), progress=n % 101
        )


def texts(repo: Repository) -> list[str]:
    return sorted(c.text for oid in OBJECTIVES for c in repo.updates_for(oid))


def crash_at(name: str, file: str | None = None):
    """Arm the store's named fault point `name` (only for `file`, if given) to crash."""

    def action(path: Path | None = None, **_: object) -> None:
        if file is None or (path is not None and path.name == file):
            raise Crash(name)

    return faults.armed(name, action)


@pytest.mark.parametrize("point", ["before-rename", "between-renames"])
async def test_crash_inside_compaction_loses_nothing(tmp_path: Path, point: str) -> None:
    repo = await seeded(tmp_path)
    await add_updates(repo, "u", 30)
    before = repo.store.export_tables()
    # before-rename: the new snapshot is written to .tmp but never renamed;
    # between-renames: the snapshot is renamed, the journal not replaced yet.
    only = SNAPSHOT_NAME if point == "before-rename" else None
    with crash_at(point, only), pytest.raises(Crash):
        await repo.store.compact()
    # The process is gone; a new one opens the directory.
    reopened = Repository.open(tmp_path)
    assert reopened.store.export_tables() == before
    await add_updates(reopened, "v", 3)
    reopened.close()
    again = Repository.open(tmp_path)
    assert len(texts(again)) == 33
    again.close()
    journal_records(tmp_path)


async def test_live_process_notices_another_crashed_mid_compaction(tmp_path: Path) -> None:
    """B dies between its two renames; A, still running, must not write into the old journal.

    (A journal older than the snapshot is discarded on the next start-up, since the
    snapshot already holds its entries; an update A appended there would be lost.)
    """
    a = await seeded(tmp_path)
    await add_updates(a, "a", 5)
    b = Repository.open(tmp_path)
    with crash_at("between-renames"), pytest.raises(Crash):
        await b.store.compact()
    await add_updates(a, "a", 5, start=5)  # confirmed to the user
    a.close()
    fresh = Repository.open(tmp_path)
    assert texts(fresh) == sorted(f"a {n}" for n in range(10))
    fresh.close()


async def test_crash_after_the_line_is_written_before_its_fsync(tmp_path: Path) -> None:
    """The line is in the file, unconfirmed: a new process keeps it whole, or nothing."""
    repo = await seeded(tmp_path)
    await add_updates(repo, "u", 3)
    with crash_at("after-append"), pytest.raises(Crash):
        await repo.record_update("3.2", Source("mkhan", "console", "in flight"), progress=64)
    # The process is gone (the kernel still had the line); a new one opens the directory.
    reopened = Repository.open(tmp_path)
    assert texts(reopened) == ["in flight", "u 0", "u 1", "u 2"]
    assert reopened.objective("3.2").progress == 64  # the update and its objective together
    assert not reopened.warnings
    reopened.close()
    journal_records(tmp_path)


def test_a_misspelt_fault_point_is_refused() -> None:
    """Arming a name the store never calls would make a crash test pass untested."""
    with pytest.raises(ValueError, match="between-renames"), crash_at("after-snapshot-rename"):
        pass


async def test_disk_full_on_append_saves_nothing_and_recovers(tmp_path: Path) -> None:
    repo = await seeded(tmp_path)
    await add_updates(repo, "u", 3)
    journal = tmp_path / JOURNAL_NAME
    size = journal.stat().st_size
    full = faults.armed("after-append", faults.disk_full())  # the whole line written, no fsync
    with full, pytest.raises(StoreError, match=r"No space left on device.*Nothing was recorded"):
        await repo.record_update("3.2", Source("mkhan", "console", "lost"), progress=99)
    assert journal.stat().st_size == size  # the partial line was taken back
    assert repo.objective("3.2").progress != 99 and "lost" not in texts(repo)
    await add_updates(repo, "u", 1, start=3)  # the store carries on
    repo.close()
    again = Repository.open(tmp_path)
    assert texts(again) == ["u 0", "u 1", "u 2", "u 3"]
    again.close()
    journal_records(tmp_path)


async def test_torn_line_left_by_a_dead_process_is_set_aside_before_the_next_write(
    tmp_path: Path,
) -> None:
    repo = await seeded(tmp_path)
    await add_updates(repo, "u", 2)
    journal = tmp_path / JOURNAL_NAME
    torn = b"0badc0de " + b'{"seq":99,"ops":[' + b"x" * 3000  # a long line cut short
    with open(journal, "ab") as handle:
        handle.write(torn)
    await add_updates(repo, "u", 1, start=2)
    assert any("torn" in w for w in repo.warnings)
    [aside] = tmp_path.glob("journal.torn-*")
    assert aside.read_bytes() == torn
    repo.close()
    journal_records(tmp_path)  # whole lines only: nothing of the torn bytes is left
    again = Repository.open(tmp_path)
    assert texts(again) == ["u 0", "u 1", "u 2"] and not again.warnings
    again.close()


async def test_damage_appearing_at_run_time_stops_writes_with_the_recovery_command(
    tmp_path: Path,
) -> None:
    repo = await seeded(tmp_path)
    other = Repository.open(tmp_path)
    await add_updates(other, "b", 3)
    other.close()
    journal = tmp_path / JOURNAL_NAME
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[-2] = lines[-2].replace(b"b 1", b"b 7")  # CRC no longer matches; a line follows
    journal.write_bytes(b"".join(lines))
    with pytest.raises(StoreError) as error:
        await add_updates(repo, "a", 1)
    assert str(journal) in str(error.value)
    assert f"python -m bot recover --data {tmp_path}" in str(error.value)
    repo.close()


async def test_memory_holds_exactly_what_a_replay_gives(tmp_path: Path) -> None:
    store = DocumentStore.open(tmp_path)
    async with store.transaction() as tx:
        doc_id = tx.insert("things", {"pair": (1, 2), 3: "three", "nested": {"a": [1]}})
    live = dict(store.get("things", doc_id))
    assert live == {"pair": [1, 2], "3": "three", "nested": {"a": [1]}}
    store.close()
    replayed = DocumentStore.open(tmp_path)
    assert dict(replayed.get("things", doc_id)) == live
    replayed.close()


async def test_insert_with_explicit_ids_keeps_them_and_moves_the_counter(tmp_path: Path) -> None:
    store = DocumentStore.open(tmp_path, log_tables=["log"])
    async with store.transaction() as tx:
        tx.insert("log", {"n": 1}, doc_id=4001)
        tx.insert("log", {"n": 2})
    assert store.get("log", 4001)["n"] == 1 and store.get("log", 4002)["n"] == 2
    assert [d["n"] for d in store.newest("log")] == [2, 1]
    store.close()


async def test_snapshot_bytes_refuses_the_event_loop_and_is_consistent_from_a_thread(
    tmp_path: Path,
) -> None:
    repo = await seeded(tmp_path, compact_bytes=4096)
    with pytest.raises(RuntimeError, match="backup"):
        repo.store.snapshot_bytes()
    writing = asyncio.ensure_future(add_updates(repo, "u", 200))
    copies = []
    while not writing.done() or len(copies) < 2:
        copies.append(await asyncio.to_thread(repo.store.snapshot_bytes))
    await writing
    assert len(copies) > 1
    for number, (snapshot, journal) in enumerate(copies):
        target = tmp_path.parent / f"copy{number}"
        target.mkdir()
        if snapshot:  # b"" means the store has not been compacted yet: no snapshot file
            (target / SNAPSHOT_NAME).write_bytes(snapshot)
        (target / JOURNAL_NAME).write_bytes(journal)
        copy = Repository.open(target)
        numbers = sorted(int(t.split()[1]) for t in texts(copy))
        assert numbers == list(range(len(numbers)))  # a prefix: consistent
        copy.close()
    repo.close()


def test_journal_line_format() -> None:
    line = files.encode_line({"seq": 1, "ops": [], "text": "Siobhán\nO'Brien"})
    assert line[8:9] == b" " and line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode_line(line)["text"] == "Siobhán\nO'Brien"
    assert decode_line(line[:-1]) is None  # torn: no newline
    assert decode_line(line[:20] + b"X" + line[21:]) is None  # damaged: CRC


def test_lines_are_the_json_the_standard_library_wrote_and_old_lines_still_read() -> None:
    record = {"seq": 7, "at": 1796487861.6769805, "ops": [["i", "notes", 3, {"n": "Siobhán 🙂"}]]}
    standard = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert files.encode_line(record)[9:-1] == standard  # the same bytes as before orjson
    # json.dumps wrote a float NaN as NaN, which orjson alone refuses: such a line in a
    # store written before the change is read, not reported as damage.
    old = json.dumps({"seq": 8, "at": float("nan"), "ops": []}, separators=(",", ":")).encode()
    decoded = decode_line(b"%08x " % zlib.crc32(old) + old + b"\n")
    assert decoded is not None and decoded["seq"] == 8
    with pytest.raises(TypeError):  # what JSON cannot hold is refused, not stringified
        files.encode_line({"seq": 9, "at": datetime.now(UTC), "ops": []})


def test_snapshot_written_in_pieces_is_the_same_json() -> None:
    tables = {
        "updates": {str(n): {"note": f"ü {n}", "n": n} for n in range(1, 4501)},
        "risks": {"1": {"key": "R1"}},
        "empty": {},
    }
    chunked = {
        "updates": [
            {k: v for k, v in tables["updates"].items() if (int(k) - 1) // 2000 == c}
            for c in range(3)
        ],
        "risks": [tables["risks"]],
        "empty": [{}],
    }
    whole = files.encode_snapshot(tables, 3, 99)
    assert b"".join(files.snapshot_pieces(chunked, 3, 99)) == whole
    assert json.loads(whole)["tables"] == tables


async def test_compaction_runs_after_the_reply_and_close_mid_way_is_safe(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    repo = await seeded(tmp_path, compact_bytes=5_000)  # loading the strategy (10 KB) crosses it
    assert repo.store.generation == 1  # the write returned without waiting for it
    for _ in range(100):
        await asyncio.sleep(0.01)
        if repo.store.generation > 1:
            break
    assert repo.store.generation == 2
    while (tmp_path / JOURNAL_NAME).stat().st_size < 5_000:
        await add_updates(repo, "v", 1)
    assert repo.store.generation == 2  # the write that crossed it scheduled one...
    repo.close()  # ...and the bot stops at once
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    again = Repository.open(tmp_path)
    assert "v 0" in texts(again)
    again.close()
    journal_records(tmp_path)
