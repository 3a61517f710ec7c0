"""The document store: TinyDB's document model over a durable journal.

Plain TinyDB rewrites and re-reads the whole JSON file on every operation, in place,
so each write costs O(database) and a crash mid-write corrupts the file. Here the
tables are held in memory as TinyDB's layout ({table: {id: document}}, documents
returned as `tinydb.table.Document` with their `doc_id`), and every change goes
through a transaction that is appended to a journal as one checksummed line and
fsynced *before* it is applied in memory and confirmed. Start-up loads the last
snapshot and replays the journal; compaction writes a new snapshot atomically.

TinyDB's query layer (`Query()`, `search`) is not used: every read the bot makes is an
index lookup (`lookup`), a read by id (`get`) or an ordered scan (`iterate`, `newest`),
which a linear `search` over 100,000 documents could only make slower.

Write cost is one small append + fsync, independent of the store's size. Append-only
tables (updates, audit) are split into fixed-size TinyDB tables ("chunks") so a query
over recent history never scans years of it, and secondary indexes answer the
lookups the bot makes on every message (updates of one objective, a risk by id).

Concurrency: one asyncio lock orders writers in this process and a single writer
thread does the file I/O, so the event loop never blocks on fsync. An exclusive
flock on `store.lock` orders writers across processes; before each transaction the
writer reads whatever other processes appended (or reloads, when another process
compacted), so a second process on the same data directory always writes against
current state. In-memory state is only ever changed on the event loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import fcntl
import gc
import json
import logging
import os
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from tinydb.table import Document

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
    journal_header,
    snapshot_pieces,
    well_formed,
    write_atomically,
)
from storage.migrations import migrate

log = logging.getLogger(__name__)

CHUNK_SIZE = 2000
DEFAULT_COMPACT_BYTES = 2 * 1024 * 1024  # bounds start-up replay (see docs/performance.md)

Tables = dict[str, dict[str, dict[str, Any]]]
Op = list[Any]  # ["i", table, id, doc] | ["u", table, id, fields] | ["r", table, id]
FileKey = tuple[int, int, int] | None  # (inode, size, mtime_ns) of a file, None if missing
Fresh = Any  # what a catch-up read found: a whole reload (_Loaded) or new records


def _file_key(path: Path) -> FileKey:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Bulk loading creates millions of objects that all live on; letting the cyclic GC
    rescan them again and again while they are created costs a third of start-up.

    The loaded documents are then frozen (`gc.freeze()` in `_install`): they hold no
    reference cycles, so reference counting still frees them when they are replaced, and
    the cyclic collector never again walks 100,000 documents in the middle of a message.
    Collecting first keeps any pending garbage out of the frozen set.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
class Transaction:
    """The changes one command makes; they become durable together or not at all."""

    store: DocumentStore
    ops: list[Op] = field(default_factory=list)
    _next_ids: dict[str, int] = field(default_factory=dict)

    def insert(self, table: str, doc: Mapping[str, Any], doc_id: int | None = None) -> int:
        """Add a document; its id is the table's next one unless given (imports keep ids)."""
        if doc_id is None:
            doc_id = self._next_ids.get(table) or self.store.next_id(table)
        self._next_ids[table] = max(self._next_ids.get(table, 1), doc_id + 1)
        self.ops.append(["i", table, doc_id, dict(doc)])
        return doc_id

    def update(self, table: str, doc_id: int, fields: Mapping[str, Any]) -> None:
        self.ops.append(["u", table, doc_id, dict(fields)])

    def remove(self, table: str, doc_id: int) -> None:
        self.ops.append(["r", table, doc_id])

    @property
    def seq(self) -> int:
        """The journal entry number this transaction will be written as (exact: the
        transaction holds the locks and has caught up with every other process)."""
        return self.store.seq + 1


@dataclass
class _Loaded:
    tables: Tables
    generation: int
    seq: int
    offset: int
    inode: int
    snapshot_key: FileKey
    warnings: list[str]


class DocumentStore:
    """Durable, indexed document store; open with `DocumentStore.open(directory)`."""

    def __init__(
        self,
        directory: Path,
        log_tables: Iterable[str],
        indexes: Mapping[str, Iterable[str]],
        compact_bytes: int,
    ) -> None:
        self.directory = directory
        self.log_tables = frozenset(log_tables)
        self.index_fields = {t: tuple(f) for t, f in indexes.items()}
        self.compact_bytes = compact_bytes
        self.warnings: list[str] = []
        self._lock = asyncio.Lock()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        self._lock_file = open(directory / LOCK_NAME, "a+b")  # noqa: SIM115 - held for life
        self._journal_path = directory / JOURNAL_NAME
        self._snapshot_path = directory / SNAPSHOT_NAME
        self._journal: BinaryIO | None = None
        self._generation = 1
        self._seq = 0
        self._offset = 0
        self._inode = 0
        self._snapshot_key: FileKey = None
        self._tables: Tables = {}
        self._indexes: dict[tuple[str, str], dict[Any, list[int]]] = {}
        self._next_ids: dict[str, int] = {}
        self._listeners: list[Callable[[list[Op]], None]] = []
        self._compaction: asyncio.Task[None] | None = None
        self._closed = False
        self._unwritable: str | None = None  # why the last write failed, until one succeeds

    # ----------------------------------------------------------------- opening
    @classmethod
    def open(
        cls,
        directory: str | Path,
        *,
        log_tables: Iterable[str] = (),
        indexes: Mapping[str, Iterable[str]] | None = None,
        compact_bytes: int = DEFAULT_COMPACT_BYTES,
    ) -> DocumentStore:
        directory = Path(directory)
        try:
            faults.point("open", directory=directory)
            directory.mkdir(parents=True, exist_ok=True)
            store = cls(directory, log_tables, indexes or {}, compact_bytes)
        except OSError as error:
            raise StoreUnwritable.from_os_error(error, "open the store in", directory) from None
        try:
            with store._flock():
                loaded = store._load()
                store._install(loaded)
                store.warnings.extend(loaded.warnings)
                if store._journal_size() > compact_bytes:
                    store._compact_locked()
        except OSError as error:
            store.close()
            raise StoreUnwritable.from_os_error(error, "open the store in", directory) from None
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        self._closed = True
        if self._compaction is not None and not self._compaction.done():
            self._compaction.cancel()  # a file step under way still finishes (shutdown waits)
        self._writer.shutdown(wait=True)
        if self._journal:
            self._journal.close()
            self._journal = None
        self._lock_file.close()

    # ----------------------------------------------------------------- reads
    def get(self, table: str, doc_id: int) -> Document | None:
        doc = self._tables.get(self._physical(table, doc_id), {}).get(str(doc_id))
        return None if doc is None else Document(doc, doc_id)

    def lookup(
        self, table: str, field_name: str, value: Any, latest: int | None = None
    ) -> list[Document]:
        """Documents whose indexed field equals value, oldest first, without scanning."""
        ids: Sequence[int] = self._indexes[(table, field_name)].get(value, ())
        if latest is not None:
            ids = ids[-latest:] if latest else ()
        return [d for d in (self.get(table, i) for i in ids) if d is not None]

    def index_keys(self, table: str, field_name: str) -> list[Any]:
        return [k for k, ids in self._indexes[(table, field_name)].items() if ids]

    def all(self, table: str) -> list[Document]:
        return list(self.iterate(table))

    def iterate(self, table: str) -> Iterator[Document]:
        for name in self._chunk_names(table):
            for key, doc in self._tables.get(name, {}).items():
                yield Document(doc, int(key))

    def newest(self, table: str) -> Iterator[Document]:
        """Documents of a table newest first (log tables are append-only, so id order is time)."""
        for name in reversed(self._chunk_names(table)):
            chunk = self._tables.get(name, {})
            for key in reversed(chunk):
                yield Document(chunk[key], int(key))

    def count(self, table: str) -> int:
        return sum(len(self._tables.get(n, {})) for n in self._chunk_names(table))

    def next_id(self, table: str) -> int:
        return self._next_ids.get(table, 1)

    @property
    def seq(self) -> int:
        """Number of the last transaction applied (journal entries are numbered 1, 2, ...)."""
        return self._seq

    @property
    def generation(self) -> int:
        """How many times the store has been compacted, plus one."""
        return self._generation

    def add_listener(self, listener: Callable[[list[Op]], None]) -> None:
        """Called with the ops of every change applied in memory (ours or another process's)."""
        self._listeners.append(listener)

    async def refresh(self) -> None:
        """Pick up changes other processes appended since we last looked; cheap when none."""
        if self._lock.locked():
            return  # a writer of ours is catching up anyway
        try:
            stat = os.stat(self._journal_path)
        except FileNotFoundError:
            return
        unchanged = stat.st_ino == self._inode and stat.st_size == self._offset
        if unchanged and _file_key(self._snapshot_path) == self._snapshot_key:
            return
        async with self._lock:
            loop = asyncio.get_running_loop()
            try:
                fresh = await loop.run_in_executor(self._writer, self._read_fresh_locked)
            except StoreUnwritable as error:
                # Another process left a torn line we cannot set aside on a full disk:
                # questions are still answered from what is in memory.
                log.warning("%s", error)
                self._unwritable = error.reason
                return
            self._apply_fresh(fresh)

    def health(self) -> dict[str, Any]:
        """{"ok": True}, or {"ok": False, "reason": ...} while the disk refuses writes.

        After a failed write, each call checks whether the data folder takes a small
        write again, so the store reports healthy as soon as space returns, without a
        restart (the next transaction would succeed anyway).
        """
        if self._unwritable is not None:
            probe = self.directory / "store.probe"
            try:
                with open(probe, "wb") as handle:
                    faults.point("probe", fd=handle.fileno())
                    handle.write(b"\0" * 4096)
                    handle.flush()
                    os.fsync(handle.fileno())
            except OSError:
                return {"ok": False, "reason": self._unwritable}
            finally:
                with contextlib.suppress(OSError):
                    probe.unlink()
            self._unwritable = None
        return {"ok": True}

    # ----------------------------------------------------------------- writes
    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """Yield a transaction; on clean exit its ops are durable, then applied in memory.

        Reads made inside the block see every change committed before it, by any process.
        """
        async with self._lock:
            loop = asyncio.get_running_loop()
            begin = loop.run_in_executor(self._writer, self._begin_locked)
            tx = Transaction(self)
            unlocked = False
            try:
                self._apply_fresh(await asyncio.shield(begin))
                yield tx
                if tx.ops:
                    record = {"seq": self._seq + 1, "at": time.time(), "ops": tx.ops}
                    line = encode_line(record)
                    append = loop.run_in_executor(self._writer, self._append_and_unlock, line)
                    await asyncio.shield(append)
                    unlocked = True
                    # Apply what was written, decoded, so memory always equals a replay.
                    self._apply_record(json.loads(line[9:-1]), len(line))
            finally:
                # Queued behind `begin` (and any append) on the single writer thread, so the
                # flock is always released, even when this task is cancelled half-way.
                if not unlocked:
                    await asyncio.shield(loop.run_in_executor(self._writer, self._unlock))
        if tx.ops and self._journal_size() > self.compact_bytes and self._compaction is None:
            # In the background: the message that crossed the threshold gets its reply
            # now; only a write arriving during the compaction waits for it.
            self._compaction = asyncio.get_running_loop().create_task(self._compact_soon())

    async def _compact_soon(self) -> None:
        try:
            await self.compact()
        except Exception:
            if not self._closed:  # the store stays correct; the next write tries again
                log.exception("compacting %s failed", self.directory)
        finally:
            self._compaction = None

    async def compact(self) -> None:
        """Fold the journal into a new snapshot now (also done when it passes compact_bytes)."""
        async with self._lock:
            loop = asyncio.get_running_loop()
            try:
                self._apply_fresh(
                    await asyncio.shield(loop.run_in_executor(self._writer, self._begin_locked))
                )
                await asyncio.shield(loop.run_in_executor(self._writer, self._compact_locked))
            finally:
                await asyncio.shield(loop.run_in_executor(self._writer, self._unlock))

    async def backup(self, target: str | Path) -> dict[str, Any]:
        """Write a consistent copy of the whole store into the empty folder `target`.

        Catches up with every process under the flock, then writes the in-memory state
        as a fresh snapshot while other processes carry on (this one's writers wait).
        Returns {"seq": ..., "counts": {table: documents}}.
        """
        async with self._lock:
            loop = asyncio.get_running_loop()
            try:
                self._apply_fresh(
                    await asyncio.shield(loop.run_in_executor(self._writer, self._begin_locked))
                )
            finally:
                await asyncio.shield(loop.run_in_executor(self._writer, self._unlock))
            try:
                return await loop.run_in_executor(self._writer, self._write_copy, Path(target))
            except OSError as error:
                raise StoreUnwritable.from_os_error(error, "write the backup to", target) from None

    def snapshot_bytes(self) -> tuple[bytes, bytes]:
        """A consistent copy of (snapshot, journal) for backups, taken under the store lock.

        Blocking: call it from a thread or another process, never from inside a running
        event loop (it waits for this store's own writer); there, use `await backup()`.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError("snapshot_bytes() blocks; in async code use `await store.backup()`")
        # A lock of its own (a separate open file description), so it also excludes this
        # store's writer thread: the same-description flock would not, and unlocking it
        # would release the writer's lock.
        with open(self.directory / LOCK_NAME, "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            snap = self._snapshot_path.read_bytes() if self._snapshot_path.exists() else b""
            with open(self._journal_path, "rb") as handle:
                data = handle.read()
        end = data.rfind(b"\n") + 1
        return snap, data[:end]

    def export_tables(self) -> dict[str, list[dict[str, Any]]]:
        """Every logical table as a list of documents with their ids, for export."""
        names = {self._logical(n) for n in self._tables}
        return {
            name: [{"_id": d.doc_id, **copy.deepcopy(dict(d))} for d in self.iterate(name)]
            for name in sorted(names)
        }

    # ----------------------------------------------------------------- internals
    def _physical(self, table: str, doc_id: int) -> str:
        if table in self.log_tables:
            return f"{table}#{(doc_id - 1) // CHUNK_SIZE:05d}"
        return table

    @staticmethod
    def _logical(physical: str) -> str:
        return physical.split("#", 1)[0]

    def _chunk_names(self, table: str) -> list[str]:
        if table not in self.log_tables:
            return [table]
        last = self._next_ids.get(table, 1) - 1
        return [self._physical(table, i) for i in range(1, last + 1, CHUNK_SIZE)]

    @contextlib.contextmanager
    def _flock(self) -> Iterator[None]:
        fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)

    def _journal_size(self) -> int:
        return self._offset

    # Writer-thread steps of a transaction: lock, catch up, append, unlock.
    def _begin_locked(self) -> Fresh:
        fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX)
        try:
            return self._read_fresh()
        except BaseException:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            raise

    def _unlock(self) -> None:
        fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)

    def _append_and_unlock(self, line: bytes) -> None:
        """One trip to the writer thread for the append and the unlock (fewer thread
        hand-overs per message, which is what latency is made of on a busy machine)."""
        try:
            self._append(line)
        finally:
            self._unlock()

    def _append(self, line: bytes) -> None:
        """Append one line at the end of what we have read and make it durable (under flock)."""
        assert self._journal is not None
        fd = self._journal.fileno()  # unbuffered: a failed write leaves nothing queued
        try:
            faults.point("append", fd=fd, offset=self._offset, line=line)
            done = 0
            while done < len(line):  # a short write means the disk ran out mid-line
                done += os.pwrite(fd, line[done:], self._offset + done)
            os.ftruncate(fd, self._offset + len(line))  # nothing may follow the newest line
            faults.point("after-append", fd=fd)
            os.fsync(fd)
        except OSError as error:
            # Disk full or I/O error: take back whatever part of the line reached the file
            # (truncating frees space, so it works on a full disk), so the journal never
            # holds a half-written entry and the next write starts clean; tell the caller.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, self._offset)
                os.fsync(fd)
            failure = StoreUnwritable.from_os_error(error, "save to", self._journal_path)
            self._unwritable = failure.reason
            raise failure from None
        self._unwritable = None

    def _read_fresh(self) -> Fresh:
        """Under the flock: what other processes changed since we last looked.

        New journal lines, or a whole reload when another process compacted (the snapshot
        or the journal file was replaced), including one that crashed half-way through.
        Nobody else can be writing while we hold the flock, so an incomplete last line
        is torn by a crash: it is set aside and cut off, never merged.
        """
        if _file_key(self._snapshot_path) != self._snapshot_key:
            return self._load()
        try:
            stat = os.stat(self._journal_path)
        except FileNotFoundError:
            return self._load()
        if stat.st_ino != self._inode or stat.st_size < self._offset:
            return self._load()
        if stat.st_size == self._offset:
            return []
        with open(self._journal_path, "rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        records, torn_at = self._scan(data, self._offset, first_line=None)
        if torn_at is not None:
            self.warnings.append(self._set_aside_torn(data[torn_at:], self._offset + torn_at))
        return records

    def _scan(
        self, data: bytes, base: int, first_line: int | None
    ) -> tuple[list[tuple[dict[str, Any], int]], int | None]:
        """Decode journal lines; returns the records and where a torn last line starts.

        A bad line followed by anything else is damage, not a torn write (each line is
        fsynced before the next is written), so it stops with a StoreError.
        """
        records: list[tuple[dict[str, Any], int]] = []
        start = 0
        number = first_line
        while start < len(data):
            end = data.find(b"\n", start)
            end = len(data) if end < 0 else end + 1
            line = data[start:end]
            record = decode_line(line)
            if record is None or not well_formed(record):
                if end >= len(data):
                    return records, start
                where = f"line {number}" if number else f"byte {base + start}"
                keep = f"every entry before {where}"
                raise StoreError(
                    f"{self._journal_path} is damaged at {where} and has more entries after "
                    f"it, so it is not a torn last write. The file was left untouched. Run "
                    f"`python -m bot recover --data {self.directory}` to keep {keep}, or "
                    f"restore a backup."
                )
            records.append((record, len(line)))
            start = end
            number = number + 1 if number else None
        return records, None

    def _set_aside_torn(self, torn: bytes, good_end: int) -> str:
        """Save a torn last line next to the journal, then cut it off (caller holds flock)."""
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
        with open(self._journal_path, "r+b") as handle:
            handle.truncate(good_end)
            os.fsync(handle.fileno())
        message = (
            f"Dropped a torn last entry ({len(torn)} bytes) from {self._journal_path}, left by "
            f"an interrupted write; it was never confirmed. Saved to {aside}."
        )
        log.warning(message)
        return message

    def _apply_fresh(self, fresh: Fresh) -> None:
        if isinstance(fresh, _Loaded):
            self._install(fresh)
            for listener in self._listeners:
                listener([])
            return
        for record, size in fresh:
            self._apply_record(record, size)

    def _read_fresh_locked(self) -> Fresh:
        with self._flock():
            return self._read_fresh()

    def _apply_record(self, record: dict[str, Any], size: int) -> None:
        if record.get("seq") != self._seq + 1:
            raise StoreError(
                f"{self._journal_path} is out of sequence at entry {record.get('seq')} "
                f"(expected {self._seq + 1}). Run `python -m bot recover --data {self.directory}`."
            )
        for op in record["ops"]:
            self._apply_op(self._tables, op, index=True)
        self._seq = record["seq"]
        self._offset += size
        for listener in self._listeners:
            listener(record["ops"])

    def _apply_op(self, tables: Tables, op: Op, *, index: bool) -> str:
        kind, table, doc_id = op[0], op[1], int(op[2])
        name = self._physical(table, doc_id)
        chunk = tables.setdefault(name, {})
        key = str(doc_id)
        old = chunk.get(key)
        if kind == "i":
            new = dict(op[3])
            chunk[key] = new
            if index:  # live apply; a load recomputes the counters when it is installed
                self._next_ids[table] = max(self._next_ids.get(table, 1), doc_id + 1)
        elif kind == "u":
            if old is None:
                return name
            new = {**old, **op[3]}
            chunk[key] = new
        elif kind == "r":
            new = None
            chunk.pop(key, None)
        else:
            raise StoreError(f"{self._journal_path} holds an unknown operation {kind!r}.")
        if index:
            self._reindex(table, doc_id, old, new)
        return name

    def _reindex(self, table: str, doc_id: int, old: Mapping | None, new: Mapping | None) -> None:
        for field_name in self.index_fields.get(table, ()):
            before = None if old is None else old.get(field_name)
            after = None if new is None else new.get(field_name)
            if old is not None and new is not None and before == after:
                continue
            index = self._indexes[(table, field_name)]
            if old is not None and before is not None and doc_id in index.get(before, ()):
                index[before].remove(doc_id)
            if new is not None and after is not None:
                ids = index.setdefault(after, [])
                if ids and ids[-1] > doc_id:
                    ids.append(doc_id)
                    ids.sort()
                else:
                    ids.append(doc_id)

    def _install(self, loaded: _Loaded) -> None:
        """Replace the in-memory state with a freshly loaded one (start-up or reload)."""
        with _gc_paused():
            self._install_paused(loaded)
        gc.freeze()

    def _install_paused(self, loaded: _Loaded) -> None:
        self._tables = loaded.tables
        self._generation = loaded.generation
        self._seq = loaded.seq
        self._offset = loaded.offset
        self._inode = loaded.inode
        self._snapshot_key = loaded.snapshot_key
        if self._journal:
            self._journal.close()
        self._journal = open(self._journal_path, "r+b")  # noqa: SIM115 - held for life
        self._next_ids = {}
        for name, chunk in self._tables.items():
            if chunk:
                logical = self._logical(name)
                top = max(map(int, chunk)) + 1
                self._next_ids[logical] = max(self._next_ids.get(logical, 1), top)
        self._indexes = {}
        for table, fields in self.index_fields.items():
            chunks = [self._tables.get(name, {}) for name in self._chunk_names(table)]
            for field_name in fields:
                index: defaultdict[Any, list[int]] = defaultdict(list)
                for chunk in chunks:
                    for key, doc in chunk.items():
                        value = doc.get(field_name)
                        if value is not None:
                            index[value].append(int(key))
                for ids in index.values():
                    ids.sort()  # already in order for log tables (timsort: linear then)
                self._indexes[(table, field_name)] = dict(index)

    def _load(self) -> _Loaded:
        """Read snapshot + journal from disk (caller holds the flock).

        Repairs only what a crash can leave: a journal older than the snapshot (crash
        between the two renames of a compaction) is replaced, and a torn last line is
        set aside and cut off. Anything else unreadable raises StoreError, touching nothing.
        """
        gc.collect()  # cheap: frozen documents are not scanned, and nothing else is large
        with _gc_paused():
            return self._load_paused()

    def _load_paused(self) -> _Loaded:
        warnings: list[str] = []
        snapshot_key = _file_key(self._snapshot_path)
        generation, seq = 1, 0
        tables: Tables = {}
        if snapshot_key is not None:
            generation, seq, tables = self._read_snapshot(self._snapshot_path)
        if not self._journal_path.exists():
            write_atomically(self._journal_path, encode_line(journal_header(generation)))
        data = self._journal_path.read_bytes()
        header_end, journal_generation = self._read_header(data, generation)
        physical = self._chunked(tables)
        offset = header_end
        if journal_generation < generation:
            # A crash between the snapshot's rename and the journal's: every entry of this
            # older journal is already in the snapshot.
            fresh = encode_line(journal_header(generation))
            write_atomically(self._journal_path, fresh)
            offset = len(fresh)
            log.info("replaced %s, older than the snapshot (interrupted compaction)", JOURNAL_NAME)
        else:
            records, torn_at = self._scan(data[header_end:], header_end, first_line=2)
            for number, (record, size) in enumerate(records, start=2):
                if record["seq"] > seq:
                    if record["seq"] != seq + 1:
                        raise StoreError(
                            f"{self._journal_path} is missing entries before entry "
                            f"{record['seq']} (line {number}). The file was left untouched. "
                            f"Run `python -m bot recover --data {self.directory}`."
                        )
                    for op in record["ops"]:
                        self._apply_op(physical, op, index=False)
                    seq = record["seq"]
                offset += size
            if torn_at is not None:
                warnings.append(self._set_aside_torn(data[offset:], offset))
        inode = os.stat(self._journal_path).st_ino
        return _Loaded(physical, generation, seq, offset, inode, snapshot_key, warnings)

    def _read_header(self, data: bytes, generation: int) -> tuple[int, int]:
        """(where the journal's entries start, its generation), refusing a journal this
        version cannot read or one newer than the snapshot of `generation`."""
        header_end = data.find(b"\n") + 1
        header = decode_line(data[:header_end]) if header_end else None
        if header is None:
            raise StoreError(
                f"{self._journal_path} has no readable header (the file is damaged or not a "
                f"journal). The file was left untouched. Run `python -m bot recover --data "
                f"{self.directory}`."
            )
        check_format(header, self._journal_path)
        journal_generation = header.get("generation")
        if not isinstance(journal_generation, int) or journal_generation > generation:
            raise StoreError(
                f"{self._journal_path} is newer than {self._snapshot_path} (the snapshot is "
                f"missing or old). The files were left untouched. Run `python -m bot recover "
                f"--data {self.directory}`, or restore a backup."
            )
        return header_end, journal_generation

    def _chunked(self, tables: Tables) -> Tables:
        """A snapshot's logical tables as held in memory: log tables split into chunks."""
        physical: Tables = {}
        for name, docs in tables.items():
            if name not in self.log_tables:
                physical[name] = docs
                continue
            chunks: dict[int, dict[str, Any]] = {}
            for key, doc in docs.items():
                number = (int(key) - 1) // CHUNK_SIZE
                chunk = chunks.get(number)
                if chunk is None:
                    chunk = chunks[number] = {}
                chunk[key] = doc
            for number in sorted(chunks):
                physical[f"{name}#{number:05d}"] = chunks[number]
        return physical

    def _read_snapshot(self, path: Path) -> tuple[int, int, Tables]:
        try:
            content = json.loads(path.read_bytes())
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

    def _logical_tables(self) -> dict[str, list[dict[str, dict[str, Any]]]]:
        """Every logical table as its list of chunks (one for plain tables), empty ones left out."""
        logical: dict[str, list[dict[str, dict[str, Any]]]] = {}
        for name, chunk in self._tables.items():
            if chunk:
                logical.setdefault(self._logical(name), []).append(chunk)
        return logical

    def _compact_locked(self) -> None:
        """Fold the journal into a new snapshot (caller holds the flock and the writer lock).

        Snapshot first, then a new empty journal, each by write-temp, fsync, rename,
        fsync-directory. A crash between the two renames leaves a journal older than the
        snapshot, which the next load recognises by its generation and replaces.
        """
        generation = self._generation + 1
        pieces = snapshot_pieces(self._logical_tables(), generation, self._seq)
        faults.point("snapshot")
        write_atomically(self._snapshot_path, pieces)
        faults.point("between-renames")
        header = encode_line(journal_header(generation))
        write_atomically(self._journal_path, header)
        if self._journal:
            self._journal.close()
        self._journal = open(self._journal_path, "r+b")  # noqa: SIM115 - held for life
        self._generation = generation
        self._offset = len(header)
        self._inode = os.stat(self._journal_path).st_ino
        self._snapshot_key = _file_key(self._snapshot_path)
        log.info("compacted the store into %s (generation %d)", SNAPSHOT_NAME, generation)

    def _write_copy(self, target: Path) -> dict[str, Any]:
        """Write the in-memory state as a new store in `target` (caller holds the writer lock)."""
        tables = self._logical_tables()
        faults.point("snapshot-copy", target=target)
        write_store(target, tables, seq=self._seq, generation=self._generation)
        counts = {name: sum(map(len, chunks)) for name, chunks in tables.items()}
        return {"seq": self._seq, "counts": counts}
