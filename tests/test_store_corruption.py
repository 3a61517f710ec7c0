"""Damaged files: a clear StoreError naming the file and `recover`, the file untouched;
then `python -m bot recover` keeps what can be read and sets the originals aside."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storage.files import FORMAT_VERSION, JOURNAL_NAME, SNAPSHOT_NAME, StoreError, encode_line
from storage.repository import Repository, Source
from tests.store_helpers import OBJECTIVES, cli, hashes, journal_records, seeded


async def build(data: Path) -> None:
    """A realistic store: a snapshot with 10 updates, then 6 more in the journal."""
    repo = await seeded(data)
    for n in range(10):
        await repo.record_update(OBJECTIVES[n], Source("mk", "console", f"early {n}"), progress=n)
    await repo.store.compact()
    for n in range(6):
        await repo.record_update(OBJECTIVES[n], Source("lb", "console", f"late {n}"), progress=50)
    repo.close()


def update_texts(data: Path) -> list[str]:
    repo = Repository.open(data)
    try:
        return sorted(c.text for oid in OBJECTIVES for c in repo.updates_for(oid))
    finally:
        repo.close()


def assert_refused(data: Path, damaged: Path, *words: str) -> None:
    """Opening fails with a message naming the file and the recovery command; bytes kept."""
    before = hashes(data)
    with pytest.raises(StoreError) as error:
        Repository.open(data)
    message = str(error.value)
    assert str(damaged) in message, message
    assert f"python -m bot recover --data {data}" in message, message
    for word in words:
        assert word in message, message
    assert hashes(data) == before, "a refused file must be left exactly as it was"


def recover_and_check_aside(data: Path, capsys: pytest.CaptureFixture) -> str:
    before = hashes(data)
    assert cli("recover", "--data", str(data)) == 0
    out = capsys.readouterr().out
    [aside] = data.glob("damaged-*")
    for name in (SNAPSHOT_NAME, JOURNAL_NAME):
        if name in before:
            assert hashes(aside)[name] == before[name], "originals must be kept, byte for byte"
    journal_records(data)
    return out


async def test_truncated_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    await build(tmp_path)
    snapshot = tmp_path / SNAPSHOT_NAME
    snapshot.write_bytes(snapshot.read_bytes()[: snapshot.stat().st_size // 2])
    assert_refused(tmp_path, snapshot, "truncated or damaged", "left untouched")
    out = recover_and_check_aside(tmp_path, capsys)
    assert "snapshot.json: cannot be read" in out and "Restore a backup" in out
    # Only the journal's six late updates could be read back.
    assert update_texts(tmp_path) == [f"late {n}" for n in range(6)]


async def test_garbage_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    await build(tmp_path)
    snapshot = tmp_path / SNAPSHOT_NAME
    snapshot.write_bytes(bytes(range(256)) * 40)
    assert_refused(tmp_path, snapshot, "cannot be read")
    recover_and_check_aside(tmp_path, capsys)


async def test_snapshot_of_another_program(tmp_path: Path) -> None:
    await build(tmp_path)
    snapshot = tmp_path / SNAPSHOT_NAME
    snapshot.write_text(json.dumps({"_default": {"1": {"a": 1}}}))  # a plain TinyDB file
    assert_refused(tmp_path, snapshot, "not a Strategy Tracker store file")


async def test_journal_damaged_in_the_middle(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    await build(tmp_path)
    journal = tmp_path / JOURNAL_NAME
    lines = journal.read_bytes().splitlines(keepends=True)  # header + 6 entries
    lines[3] = lines[3].replace(b"late 2", b"late X")  # line 4 fails its CRC
    journal.write_bytes(b"".join(lines))
    assert_refused(tmp_path, journal, "damaged at line 4", "not a torn last write")
    out = recover_and_check_aside(tmp_path, capsys)
    assert "journal.jsonl: 2 entries" in out and "lines 4-7" in out
    early = [f"early {n}" for n in range(10)]
    assert update_texts(tmp_path) == sorted([*early, "late 0", "late 1"])
    # The rebuilt store works normally afterwards.
    repo = Repository.open(tmp_path)
    await repo.record_update("1.1", Source("mkhan", "console", "after"), progress=1)
    repo.close()
    assert "after" in update_texts(tmp_path)


async def test_journal_without_a_header(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    await build(tmp_path)
    journal = tmp_path / JOURNAL_NAME
    journal.write_bytes(journal.read_bytes()[:30])  # truncated inside the first line
    assert_refused(tmp_path, journal, "no readable header")
    recover_and_check_aside(tmp_path, capsys)
    assert update_texts(tmp_path) == [f"early {n}" for n in range(10)]


async def test_empty_journal(tmp_path: Path) -> None:
    await build(tmp_path)
    journal = tmp_path / JOURNAL_NAME
    journal.write_bytes(b"")
    assert_refused(tmp_path, journal, "no readable header")


@pytest.mark.parametrize("which", [SNAPSHOT_NAME, JOURNAL_NAME])
async def test_file_from_a_newer_version(
    tmp_path: Path, capsys: pytest.CaptureFixture, which: str
) -> None:
    await build(tmp_path)
    path = tmp_path / which
    if which == SNAPSHOT_NAME:
        content = json.loads(path.read_bytes())
        content["version"] = FORMAT_VERSION + 1
        path.write_text(json.dumps(content))
    else:
        lines = path.read_bytes().splitlines(keepends=True)
        header = json.loads(lines[0][9:])
        lines[0] = encode_line({**header, "version": FORMAT_VERSION + 1})
        path.write_bytes(b"".join(lines))
    assert_refused(tmp_path, path, "newer Strategy Tracker", f"store format {FORMAT_VERSION + 1}")
    out = recover_and_check_aside(tmp_path, capsys)
    assert "newer" in out


async def test_torn_last_line_is_dropped_with_a_warning(tmp_path: Path) -> None:
    await build(tmp_path)
    journal = tmp_path / JOURNAL_NAME
    whole = journal.read_bytes()
    last = whole.splitlines(keepends=True)[-1]
    journal.write_bytes(whole[: len(whole) - len(last) // 2])  # the last write cut in half
    repo = Repository.open(tmp_path)
    [warning] = repo.warnings
    assert "torn last entry" in warning and str(journal) in warning
    [aside] = tmp_path.glob("journal.torn-*")
    assert aside.read_bytes() == last[: len(last) - len(last) // 2]
    repo.close()
    assert update_texts(tmp_path) == sorted(
        [f"early {n}" for n in range(10)] + [f"late {n}" for n in range(5)]
    )
    journal_records(tmp_path)


async def test_truncated_journal_loses_only_the_unfinished_line(tmp_path: Path) -> None:
    await build(tmp_path)
    journal = tmp_path / JOURNAL_NAME
    whole = journal.read_bytes()
    cut = whole.rfind(b"\n", 0, len(whole) - 1) + 25  # 24 bytes into the last line
    journal.write_bytes(whole[:cut])
    repo = Repository.open(tmp_path)
    assert any("torn" in w for w in repo.warnings)
    repo.close()
    assert len(update_texts(tmp_path)) == 15


async def test_recover_on_a_healthy_store_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    await build(tmp_path)
    before = hashes(tmp_path)
    assert cli("recover", "--data", str(tmp_path)) == 0
    assert "Nothing to recover" in capsys.readouterr().out
    assert hashes(tmp_path) == before and not list(tmp_path.glob("damaged-*"))
