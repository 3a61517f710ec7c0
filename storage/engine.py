"""The document store: locks, transactions, catch-up, compaction and backup.

Plain TinyDB rewrites and re-reads the whole JSON file on every operation, in place,
so each write costs O(database) and a crash mid-write corrupts the file. This store
keeps TinyDB's split of table from storage, in three parts:

- `storage/tables.py`: the tables in memory with their indexes (every read);
- `storage/journal.py`: the journal and snapshot files (every write, start-up,
  compaction), worked on one writer thread;
- this module: `DocumentStore`, which decides when each of those runs.

A change is a `Transaction`: its ops become one checksummed journal line, appended and
fsynced *before* they are applied in memory and the caller is told; so memory always
equals a replay of the files, and a confirmation is a promise kept. Write cost is one
small append + fsync, independent of the store's size; when the journal passes
`compact_bytes` a background task folds it into a new snapshot, which bounds start-up.

Concurrency: one asyncio lock orders writers in this process, and the single writer
thread does the file I/O, so the event loop never blocks on fsync. An exclusive flock on
`store.lock` orders writers across processes; before each transaction the writer reads
whatever other processes appended (or reloads, when another process compacted), so a
second process on the same data directory always writes against current state. In the
common case (the flock free, nothing new on disk, the writer thread idle) a transaction
begins on the loop itself with a non-blocking flock and two stat calls, so it costs one
hand-over to the writer thread (the append) instead of two. The tables are only ever
changed on the event loop's thread, between a writer's awaits.

Failure modes: a failed append (disk full, read-only, I/O error) raises StoreUnwritable,
changes nothing in memory, and marks the store unhealthy until a probe write or the next
append succeeds; damage found on disk raises StoreError with the way out; a task
cancelled half-way still releases the flock (the unlock is queued on the writer thread
behind the steps it follows); a failed background compaction is logged and retried
after a later write, the files untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tinydb.table import Document

from storage import faults
from storage.files import LOCK_NAME, StoreError, StoreUnwritable, encode_line, from_json
from storage.journal import Entry, Journal, OnDisk, write_store
from storage.tables import Chunks, Op, Tables

R = TypeVar("R")

log = logging.getLogger(__name__)

DEFAULT_COMPACT_BYTES = 2 * 1024 * 1024  # bounds start-up replay (see docs/performance.md)


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
    """A whole store read from disk, its tables built, not yet the live one."""

    chunks: Chunks
    disk: OnDisk


Fresh = _Loaded | list[Entry]  # what a catch-up found: a whole reload, or new entries


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
        self.compact_bytes = compact_bytes
        self._files = Journal(directory)
        self._tables = Tables(log_tables, indexes, source=self._files.journal_path)
        self.warnings = self._files.warnings  # torn lines set aside, for the operator
        self._lock = asyncio.Lock()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        self._lock_file = open(directory / LOCK_NAME, "a+b")  # noqa: SIM115 - held for life
        self._seq = 0
        self._compaction: asyncio.Task[None] | None = None
        self._closed = False
        self._unwritable: str | None = None  # why the last write failed, until one succeeds
        self._writer_jobs = 0  # handed to the writer thread and not yet seen finished

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
                store._install(store._load())
                if store._files.offset > compact_bytes:
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
        self._files.close()
        self._lock_file.close()

    # ----------------------------------------------------------------- reads
    def get(self, table: str, doc_id: int) -> Document | None:
        return self._tables.get(table, doc_id)

    def lookup(
        self, table: str, field_name: str, value: Any, latest: int | None = None
    ) -> list[Document]:
        """Documents whose indexed field equals value, oldest first, without scanning."""
        return self._tables.lookup(table, field_name, value, latest)

    def index_keys(self, table: str, field_name: str) -> list[Any]:
        return self._tables.index_keys(table, field_name)

    def all(self, table: str) -> list[Document]:
        return list(self._tables.iterate(table))

    def iterate(self, table: str) -> Iterator[Document]:
        return self._tables.iterate(table)

    def newest(self, table: str) -> Iterator[Document]:
        """Documents of a table newest first (log tables are append-only, so id order is time)."""
        return self._tables.newest(table)

    def count(self, table: str) -> int:
        return self._tables.count(table)

    def next_id(self, table: str) -> int:
        return self._tables.next_id(table)

    def version(self, table: str) -> tuple[int, int]:
        """Moves on every change to `table`, in this process or caught up from another."""
        return self._tables.version(table)

    def export_tables(self) -> dict[str, list[dict[str, Any]]]:
        """Every logical table as a list of documents with their ids, for export."""
        return self._tables.export()

    @property
    def seq(self) -> int:
        """Number of the last transaction applied (journal entries are numbered 1, 2, ...)."""
        return self._seq

    @property
    def generation(self) -> int:
        """How many times the store has been compacted, plus one."""
        return self._files.generation

    async def refresh(self) -> None:
        """Pick up changes other processes appended since we last looked; cheap when none."""
        if self._lock.locked():
            return  # a writer of ours is catching up anyway
        if self._files.nothing_new():
            return
        async with self._lock:
            try:
                fresh = await self._on_writer(self._read_fresh_locked)
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
            if not self._files.takes_writes():
                return {"ok": False, "reason": self._unwritable}
            self._unwritable = None
        return {"ok": True}

    # ----------------------------------------------------------------- writes
    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """Yield a transaction; on clean exit its ops are durable, then applied in memory.

        Reads made inside the block see every change committed before it, by any process.
        """
        async with self._lock:
            begin = None if self._begin_here() else self._on_writer(self._begin_locked)
            tx = Transaction(self)
            unlocked = False
            try:
                if begin is not None:
                    self._apply_fresh(await asyncio.shield(begin))
                yield tx
                if tx.ops:
                    record = {"seq": self._seq + 1, "at": time.time(), "ops": tx.ops}
                    line = encode_line(record)
                    await asyncio.shield(self._on_writer(self._append_and_unlock, line))
                    unlocked = True
                    # Apply what was written, decoded, so memory always equals a replay.
                    self._apply_record(from_json(line[9:-1]), len(line))
            finally:
                # Queued behind `begin` (and any append) on the single writer thread, so the
                # flock is always released, even when this task is cancelled half-way.
                if not unlocked:
                    await asyncio.shield(self._on_writer(self._unlock))
        if tx.ops and self._files.offset > self.compact_bytes and self._compaction is None:
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
            try:
                self._apply_fresh(await asyncio.shield(self._on_writer(self._begin_locked)))
                await asyncio.shield(self._on_writer(self._compact_locked))
            finally:
                await asyncio.shield(self._on_writer(self._unlock))

    # ----------------------------------------------------------------- backups
    async def backup(self, target: str | Path) -> dict[str, Any]:
        """Write a consistent copy of the whole store into the empty folder `target`.

        Catches up with every process under the flock, then writes the in-memory state
        as a fresh snapshot while other processes carry on (this one's writers wait).
        Returns {"seq": ..., "counts": {table: documents}}.
        """
        async with self._lock:
            try:
                self._apply_fresh(await asyncio.shield(self._on_writer(self._begin_locked)))
            finally:
                await asyncio.shield(self._on_writer(self._unlock))
            try:
                return await self._on_writer(self._write_copy, Path(target))
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
            return self._files.copy_bytes()

    def _write_copy(self, target: Path) -> dict[str, Any]:
        """Write the in-memory state as a new store in `target` (caller holds the writer lock)."""
        tables = self._tables.logical()
        faults.point("snapshot-copy", target=target)
        write_store(target, tables, seq=self._seq, generation=self._files.generation)
        counts = {name: sum(map(len, chunks)) for name, chunks in tables.items()}
        return {"seq": self._seq, "counts": counts}

    # ----------------------------------------------------------------- locking
    @contextlib.contextmanager
    def _flock(self) -> Iterator[None]:
        fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)

    def _on_writer(self, work: Callable[..., R], *args: Any) -> asyncio.Future[R]:
        """Run `work` on the writer thread, counted until the loop has seen it finish."""
        self._writer_jobs += 1
        future = asyncio.get_running_loop().run_in_executor(self._writer, work, *args)
        future.add_done_callback(self._writer_job_done)  # before any awaiter's wake-up
        return future

    def _writer_job_done(self, _future: asyncio.Future[Any]) -> None:
        self._writer_jobs -= 1

    def _begin_here(self) -> bool:
        """Begin a transaction without a trip to the writer thread, when that is safe.

        True when the flock was free (no other process writing) and nothing new is on
        disk: the common case, which then costs two stat calls on the loop instead of a
        hand-over each way. Only while the writer thread has nothing queued: an unlock
        left queued by a cancelled transaction must run first, as the flock belongs to
        the open file, not the thread, and would otherwise release this one. Anything
        else (another process holds the flock, or wrote) goes the writer thread's way,
        which waits for the flock and catches up off the loop."""
        if self._writer_jobs:
            return False
        fd = self._lock_file.fileno()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held by another process (or flock refused): wait on the writer
            return False
        if self._files.nothing_new(missing_is_new=True):
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False

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
            self._files.append(line)
        except StoreUnwritable as failure:
            self._unwritable = failure.reason
            raise
        else:
            self._unwritable = None
        finally:
            self._unlock()

    def _read_fresh_locked(self) -> Fresh:
        with self._flock():
            return self._read_fresh()

    def _compact_locked(self) -> None:
        """Fold the journal into a new snapshot (caller holds the flock and the writer lock)."""
        self._files.compact(self._tables.logical(), self._seq)

    # ----------------------------------------------------------------- catching up
    def _read_fresh(self) -> Fresh:
        """Under the flock: other processes' new entries, or the whole store again when
        another process compacted (see `Journal.read_new`)."""
        entries = self._files.read_new()
        return self._load() if entries is None else entries

    def _load(self) -> _Loaded:
        """Read the files and build tables from them (caller holds the flock)."""
        gc.collect()  # cheap: frozen documents are not scanned, and nothing else is large
        with _gc_paused():
            disk = self._files.load()
            chunks = self._tables.chunked(disk.tables)
            for record in disk.records:
                for op in record["ops"]:
                    self._tables.replay(chunks, op)
            return _Loaded(chunks, disk)

    def _install(self, loaded: _Loaded) -> None:
        """Make a freshly loaded store the live one (start-up or reload)."""
        with _gc_paused():
            self._tables.replace(loaded.chunks)
            self._files.adopt(loaded.disk)
            self._seq = loaded.disk.seq
        gc.freeze()

    def _apply_fresh(self, fresh: Fresh) -> None:
        if isinstance(fresh, _Loaded):
            self._install(fresh)
            return
        for record, size in fresh:
            self._apply_record(record, size)

    def _apply_record(self, record: dict[str, Any], size: int) -> None:
        if record.get("seq") != self._seq + 1:
            raise StoreError(
                f"{self._files.journal_path} is out of sequence at entry {record.get('seq')} "
                f"(expected {self._seq + 1}). Run `python -m bot recover --data {self.directory}`."
            )
        for op in record["ops"]:
            self._tables.apply(op)
        self._seq = record["seq"]
        self._files.offset += size
