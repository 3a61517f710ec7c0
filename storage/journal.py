"""The store's files: the journal and the snapshot, read, written and fsynced.

TinyDB's `Storage` half of the store (`storage/tables.py` is the `Table` half). Every
change is one journal line written at the end of what this process has read, unbuffered
(`pwrite`, `write`), and fsynced (`sync`) before anyone is told it was saved; the engine
applies it in memory between the two and lets one fsync serve many lines. A snapshot
holds the whole store as of one journal entry; start-up loads it and the journal's
entries after it. Compaction writes a new snapshot, then a new empty journal, each whole
to `.tmp`, fsync, rename, fsync the directory. The line and file formats, and the atomic
replace, are in `storage/files.py`.

Its file work runs with the flock held: `write` on the event loop, `sync` on the
engine's flusher thread, everything else (catch-up, compaction, reloads) on its writer
thread, or, before the store is shared, on the opening thread.
It holds where this process has read up to (`offset`, and the identity of both files),
so `read_new` can tell "another process appended" (read just the new lines) from
"another process compacted" (load again). The event loop only advances `offset` as it
applies entries and calls `adopt` after a load, both between file steps (the engine's
asyncio lock orders them); `nothing_new` reads the position without any lock, and a
stale answer costs one needless catch-up, or defers one to the next call (every write
catches up under the flock anyway).

Failure modes (a file is repaired only where a crash or a refused write explains it):
- a torn last line (a crash mid-append; never fsynced, so never confirmed) is saved
  as `journal.torn-<time>`, then cut off; on a full disk it stays where it is
  (StoreUnwritable) and is never read, until a later write can set it aside;
- a journal of an older generation than the snapshot (a crash between compaction's two
  renames) holds nothing the snapshot lacks, so it is replaced by an empty one;
- a failed write (disk full, I/O error) is cut back at once (truncating works on a
  full disk), so the journal never keeps half an entry: StoreUnwritable; a failed fsync
  is cut back by the engine to the last one that succeeded (`cut_back`);
- anything else unreadable (a damaged line with entries after it, entries missing, a
  header that is missing or newer, a damaged snapshot) raises StoreError naming the
  file and `python -m bot recover`, and touches nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from storage import faults
from storage.files import (
    JOURNAL_NAME,
    LOCK_NAME,
    SNAPSHOT_NAME,
    StoreError,
    StoreUnwritable,
    check_format,
    check_snapshot,
    decode_line,
    encode_line,
    free_name,
    from_json,
    journal_header,
    snapshot_pieces,
    well_formed,
    write_atomically,
)
from storage.migrations import migrate
from storage.tables import Chunks

log = logging.getLogger(__name__)

FileKey = tuple[int, int, int] | None  # (inode, size, mtime_ns) of a file, None if missing
Entry = tuple[dict[str, Any], int]  # a decoded journal entry and its length in bytes


def _file_key(path: Path) -> FileKey:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def _sync_path(path: Path) -> None:
    """fsync a file this process did not write, so what it reads from it is durable;
    best effort (a read-only mount has nothing to write back)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_store(
    directory: str | Path,
    tables: Mapping[str, Any],
    *,
    seq: int = 0,
    generation: int = 1,
) -> None:
    """Create a new store from whole tables in one atomic step.

    `tables` maps each table to {id: document}, or to a list of such dicts (chunks).

    For imports, backups and benchmark fixtures: the snapshot is written directly, so a
    store of 100,000 documents takes one write instead of 100,000 transactions. Refuses a
    directory that already holds a store.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / LOCK_NAME, "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        for name in (SNAPSHOT_NAME, JOURNAL_NAME):
            if (directory / name).exists():
                raise StoreError(
                    f"{directory / name} already exists: a store can only be created in an "
                    f"empty folder. Nothing was written."
                )
        chunked = {
            name: docs if isinstance(docs, list) else [{str(k): d for k, d in docs.items()}]
            for name, docs in tables.items()
        }
        write_atomically(directory / SNAPSHOT_NAME, snapshot_pieces(chunked, generation, seq))
        write_atomically(directory / JOURNAL_NAME, encode_line(journal_header(generation)))


@dataclass
class OnDisk:
    """What a load read: the snapshot's tables and the journal's entries after it."""

    tables: Chunks  # {table: {id: document}}, as the snapshot holds them
    records: list[dict[str, Any]]  # entries numbered after the snapshot's, in order
    seq: int  # the last entry's number (the snapshot's if there are none)
    generation: int
    offset: int  # where the last whole entry ends
    inode: int  # of the journal
    snapshot_key: FileKey


class Journal:
    """The snapshot and journal files of one store directory (caller holds the flock)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.journal_path = directory / JOURNAL_NAME
        self.snapshot_path = directory / SNAPSHOT_NAME
        self.warnings: list[str] = []  # one per torn line set aside, for the operator
        self.generation = 1
        self.offset = 0  # bytes of the journal read and applied in memory
        self._inode = 0
        self._snapshot_key: FileKey = None
        self._handle: BinaryIO | None = None  # appended to with os.pwrite, unbuffered

    def close(self) -> None:
        if self._handle:
            self._handle.close()
            self._handle = None

    # ----------------------------------------------------------------- reading
    def load(self) -> OnDisk:
        """Read the snapshot and the journal's entries after it.

        Repairs only what a crash can leave: a journal older than the snapshot is
        replaced, a torn last line is set aside and cut off (see the module docstring).
        """
        snapshot_key = _file_key(self.snapshot_path)
        generation, seq = 1, 0
        tables: Chunks = {}
        if snapshot_key is not None:
            generation, seq, tables = self._read_snapshot()
        if not self.journal_path.exists():
            write_atomically(self.journal_path, encode_line(journal_header(generation)))
        data = self.journal_path.read_bytes()
        offset, journal_generation = self._read_header(data, generation)
        records: list[dict[str, Any]] = []
        if journal_generation < generation:
            # A crash between the snapshot's rename and the journal's: every entry of this
            # older journal is already in the snapshot.
            fresh = encode_line(journal_header(generation))
            write_atomically(self.journal_path, fresh)
            offset = len(fresh)
            log.info("replaced %s, older than the snapshot (interrupted compaction)", JOURNAL_NAME)
        else:
            entries, torn_at = self._scan(data[offset:], offset, first_line=2)
            for number, (record, size) in enumerate(entries, start=2):
                if record["seq"] > seq:
                    self._check_next(record, seq, number)
                    records.append(record)
                    seq = record["seq"]
                offset += size
            if torn_at is not None:
                self._set_aside_torn(data[offset:], offset)
        inode = os.stat(self.journal_path).st_ino
        _sync_path(self.journal_path)  # lines a process wrote and died before fsyncing
        return OnDisk(tables, records, seq, generation, offset, inode, snapshot_key)

    def adopt(self, disk: OnDisk) -> None:
        """Carry on from what `disk` read: append after it, catch up from there."""
        self.generation = disk.generation
        self.offset = disk.offset
        self._inode = disk.inode
        self._snapshot_key = disk.snapshot_key
        self._reopen()

    def nothing_new(self, *, missing_is_new: bool = False) -> bool:
        """True when neither file changed since we last read them (cheap, no flock).

        A journal missing this instant is being replaced by a compaction: a refresh may
        leave that to the next write (the default), a writer must catch up first."""
        try:
            stat = os.stat(self.journal_path)
        except FileNotFoundError:
            return not missing_is_new
        unchanged = stat.st_ino == self._inode and stat.st_size == self.offset
        return unchanged and _file_key(self.snapshot_path) == self._snapshot_key

    def read_new(self) -> list[Entry] | None:
        """What other processes appended since we last looked, or None: load again.

        None when another process compacted (the snapshot or the journal file was
        replaced), including one that crashed half-way through. Nobody else can be
        writing while we hold the flock, so an incomplete last line is torn by a crash:
        it is set aside and cut off, never merged.
        """
        if _file_key(self.snapshot_path) != self._snapshot_key:
            return None
        try:
            stat = os.stat(self.journal_path)
        except FileNotFoundError:
            return None
        if stat.st_ino != self._inode or stat.st_size < self.offset:
            return None
        if stat.st_size == self.offset:
            return []
        with open(self.journal_path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        entries, torn_at = self._scan(data, self.offset, first_line=None)
        if torn_at is not None:
            self._set_aside_torn(data[torn_at:], self.offset + torn_at)
        return entries

    def copy_bytes(self) -> tuple[bytes, bytes]:
        """(snapshot, journal up to its last whole line), for a backup."""
        snap = self.snapshot_path.read_bytes() if self.snapshot_path.exists() else b""
        with open(self.journal_path, "rb") as handle:
            data = handle.read()
        return snap, data[: data.rfind(b"\n") + 1]

    # ----------------------------------------------------------------- writing
    def write(self, line: bytes) -> None:
        """Write one line at the end of what we have read; durable only after `sync`.

        On failure (StoreUnwritable) whatever part of the line reached the file is cut
        back, so the next write starts clean. Runs on the event loop (a write into the
        page cache, microseconds); the fsync is `sync`'s, on the engine's flusher thread.
        """
        assert self._handle is not None, "write before the journal was loaded"
        fd = self._handle.fileno()  # unbuffered: a failed write leaves nothing queued
        try:
            faults.point("append", fd=fd, offset=self.offset, line=line)
            done = 0
            while done < len(line):  # a short write means the disk ran out mid-line
                done += os.pwrite(fd, line[done:], self.offset + done)
            os.ftruncate(fd, self.offset + len(line))  # nothing may follow the newest line
            faults.point("after-append", fd=fd)
        except OSError as error:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, self.offset)
            raise StoreUnwritable.from_os_error(error, "save to", self.journal_path) from None

    def sync(self) -> None:
        """fsync the journal: every line written before this call is durable after it."""
        assert self._handle is not None, "sync before the journal was loaded"
        fd = self._handle.fileno()
        try:
            faults.point("sync", fd=fd)
            os.fsync(fd)
        except OSError as error:
            raise StoreUnwritable.from_os_error(error, "save to", self.journal_path) from None

    def cut_back(self, offset: int) -> None:
        """Remove everything after `offset` (lines whose fsync failed) and make that durable."""
        assert self._handle is not None, "cut_back before the journal was loaded"
        try:
            os.ftruncate(self._handle.fileno(), offset)
            os.fsync(self._handle.fileno())
        except OSError as error:
            raise StoreUnwritable.from_os_error(error, "save to", self.journal_path) from None

    def compact(self, tables: Mapping[str, list[dict[str, dict[str, Any]]]], seq: int) -> None:
        """Replace snapshot and journal by a snapshot of `tables` as of entry `seq`.

        Snapshot first, then a new empty journal, each by write-temp, fsync, rename,
        fsync-directory. A crash between the two renames leaves a journal older than the
        snapshot, which the next load recognises by its generation and replaces.
        """
        generation = self.generation + 1
        faults.point("snapshot")
        write_atomically(self.snapshot_path, snapshot_pieces(tables, generation, seq))
        faults.point("between-renames")
        header = encode_line(journal_header(generation))
        write_atomically(self.journal_path, header)
        self.generation = generation
        self.offset = len(header)
        self._inode = os.stat(self.journal_path).st_ino
        self._snapshot_key = _file_key(self.snapshot_path)
        self._reopen()
        log.info("compacted the store into %s (generation %d)", SNAPSHOT_NAME, generation)

    def takes_writes(self) -> bool:
        """Whether the data folder takes a small write and fsync now (the health probe)."""
        probe = self.directory / "store.probe"
        try:
            with open(probe, "wb") as handle:
                faults.point("probe", fd=handle.fileno())
                handle.write(b"\0" * 4096)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError:
            return False
        finally:
            with contextlib.suppress(OSError):
                probe.unlink()
        return True

    # ----------------------------------------------------------------- internals
    def _reopen(self) -> None:
        self.close()
        self._handle = open(self.journal_path, "r+b")  # noqa: SIM115 - held until replaced

    def _read_snapshot(self) -> tuple[int, int, Chunks]:
        path = self.snapshot_path
        try:
            content = from_json(path.read_bytes())
        except (ValueError, UnicodeDecodeError) as error:
            raise StoreError(
                f"{path} cannot be read ({error.__class__.__name__}: the file is truncated or "
                f"damaged). The file was left untouched. Restore it from a backup "
                f"(`python -m bot backup` makes them) or run `python -m bot recover --data "
                f"{path.parent}` to rebuild what can be read."
            ) from None
        if not isinstance(content, dict):
            raise StoreError(
                f"{path} is not a Strategy Tracker snapshot. The file was left untouched. Run "
                f"`python -m bot recover --data {path.parent}`."
            )
        version = check_format(content, path)
        return check_snapshot(migrate(content, version), path)

    def _read_header(self, data: bytes, generation: int) -> tuple[int, int]:
        """(where the journal's entries start, its generation), refusing a journal this
        version cannot read or one newer than the snapshot of `generation`."""
        header_end = data.find(b"\n") + 1
        header = decode_line(data[:header_end]) if header_end else None
        if header is None:
            raise StoreError(
                f"{self.journal_path} has no readable header (the file is damaged or not a "
                f"journal). The file was left untouched. Run `python -m bot recover --data "
                f"{self.directory}`."
            )
        check_format(header, self.journal_path)
        journal_generation = header.get("generation")
        if not isinstance(journal_generation, int) or journal_generation > generation:
            raise StoreError(
                f"{self.journal_path} is newer than {self.snapshot_path} (the snapshot is "
                f"missing or old). The files were left untouched. Run `python -m bot recover "
                f"--data {self.directory}`, or restore a backup."
            )
        return header_end, journal_generation

    def _check_next(self, record: dict[str, Any], seq: int, line: int) -> None:
        if record["seq"] != seq + 1:
            raise StoreError(
                f"{self.journal_path} is missing entries before entry {record['seq']} (line "
                f"{line}). The file was left untouched. Run `python -m bot recover --data "
                f"{self.directory}`."
            )

    def _scan(
        self, data: bytes, base: int, first_line: int | None
    ) -> tuple[list[Entry], int | None]:
        """Decode journal lines; returns the entries and where a torn last line starts.

        A bad line followed by anything else is damage, not a torn write (each line is
        fsynced before the next is written), so it stops with a StoreError.
        """
        entries: list[Entry] = []
        start = 0
        number = first_line
        while start < len(data):
            end = data.find(b"\n", start)
            end = len(data) if end < 0 else end + 1
            line = data[start:end]
            record = decode_line(line)
            if record is None or not well_formed(record):
                if end >= len(data):
                    return entries, start
                where = f"line {number}" if number else f"byte {base + start}"
                keep = f"every entry before {where}"
                raise StoreError(
                    f"{self.journal_path} is damaged at {where} and has more entries after "
                    f"it, so it is not a torn last write. The file was left untouched. Run "
                    f"`python -m bot recover --data {self.directory}` to keep {keep}, or "
                    f"restore a backup."
                )
            entries.append((record, len(line)))
            start = end
            number = number + 1 if number else None
        return entries, None

    def _set_aside_torn(self, torn: bytes, good_end: int) -> None:
        """Save a torn last line next to the journal, then cut it off."""
        stamp = time.strftime("%Y%m%dT%H%M%S")
        aside = free_name(self.directory / f"journal.torn-{stamp}")
        try:
            with open(aside, "wb") as handle:
                faults.point("set-aside", fd=handle.fileno())
                handle.write(torn)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as error:
            # Never leave an empty or partial copy behind; the torn line stays until a
            # later write can set it aside (it was never confirmed, and is never read).
            with contextlib.suppress(OSError):
                aside.unlink()
            raise StoreUnwritable.from_os_error(error, "set aside a torn line in", aside) from None
        with open(self.journal_path, "r+b") as handle:
            handle.truncate(good_end)
            os.fsync(handle.fileno())
        message = (
            f"Dropped a torn last entry ({len(torn)} bytes) from {self.journal_path}, left by "
            f"an interrupted write; it was never confirmed. Saved to {aside}."
        )
        log.warning(message)
        self.warnings.append(message)
