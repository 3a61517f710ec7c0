"""The document store: locks, transactions, catch-up, compaction and backup.

Plain TinyDB rewrites and re-reads the whole JSON file on every operation, in place,
so each write costs O(database) and a crash mid-write corrupts the file. This store
keeps TinyDB's split of table from storage, in three parts:

- `storage/tables.py`: the tables in memory with their indexes (every read);
- `storage/journal.py`: the journal and snapshot files (every write, start-up,
  compaction): lines written on the loop, fsynced on the flusher thread, the rest on
  the writer thread;
- this module: `DocumentStore`, which decides when each of those runs.

A change is a `Transaction`: its ops become one checksummed journal line, written to the
file and then applied in memory, so memory always equals a replay of the files; the
caller is told only once an fsync covering the line has returned, so a confirmation is a
promise kept. Group commit: the locks are released before that fsync, and one fsync
serves every transaction written before it began, so under load many share one instead
of each paying for its own. Memory may therefore hold a line for the length of one fsync
before it is durable: `settled()` waits until it is, and everything that sends what it
read out of the process (a reply, a page, a digest, a backup) waits for it first. Write
cost is one small write plus a share of an fsync, independent of the store's size; when
the journal passes `compact_bytes` a background task folds it into a new snapshot,
which bounds start-up.

Concurrency: one asyncio lock orders writers in this process. The line is written on the
loop (a `pwrite` into the page cache); the fsync runs on the flusher thread, and
catch-up, compaction and reloads on the writer thread, so the event loop never blocks on
fsync. An exclusive flock on
`store.lock` orders writers across processes; before each transaction the writer reads
whatever other processes appended (or reloads, when another process compacted), so a
second process on the same data directory always writes against current state. In the
common case (the flock free, nothing new on disk, the writer thread idle) a transaction
begins on the loop itself with a non-blocking flock and two stat calls, and its line is
written there too, so it costs no hand-over to the writer thread at all, only a share of
one to the flusher. The tables are only ever
changed on the event loop's thread, between a writer's awaits.

Failure modes: a failed write (disk full, read-only, I/O error) raises StoreUnwritable,
changes nothing in memory, and marks the store unhealthy until a probe write or the next
write succeeds; a failed fsync fails every transaction waiting on it (and `settled()`),
then cuts the journal back to the last fsync that succeeded and reloads memory from the
files, refusing every write until that is done; damage found on disk raises StoreError
with the way out; a task cancelled half-way still releases the flock (the unlock is
queued on the writer thread behind the steps it follows); a failed background compaction
is logged and retried after a later write, the files untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import fcntl
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Mapping
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

# The journal numbers of the transactions the current task committed, while watched.
_committed_here: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "committed_here", default=None
)


@contextlib.contextmanager
def watching_commits() -> Iterator[list[int]]:
    """Collect the journal numbers of the transactions this task commits (durably) inside
    the block: so a reply can tell its own saved change from others' lost ones."""
    seqs: list[int] = []
    token = _committed_here.set(seqs)
    try:
        yield seqs
    finally:
        _committed_here.reset(token)


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
        self._flusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-flusher")
        self._synced = 0  # journal offset known durable (every line before it fsynced)
        self._flush: asyncio.Task[None] | None = None  # the fsync under way, shared
        self._failed_flush: StoreUnwritable | None = None  # memory holds lost lines until undone
        self._undos = 0  # failed fsyncs whose lines were undone; the last one's reason:
        self._last_undone: StoreUnwritable | None = None
        self._tasks: set[asyncio.Task[None]] = set()
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
                store._synced = store._files.offset
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
        self._flusher.shutdown(wait=True)
        if self._failed_flush is None and self._synced < self._files.offset:
            with contextlib.suppress(StoreUnwritable, AssertionError):
                self._files.sync()  # nobody is waiting, but what was written stays written
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
        """Pick up changes other processes appended since we last looked, and undo ours
        whose fsync failed if that is not done yet; cheap when neither."""
        if self._failed_flush is not None:
            async with self._lock:
                if self._failed_flush is not None:
                    try:
                        await self._undo_lost_lines()
                    except StoreUnwritable as error:  # replies say so (`settled` raises)
                        log.warning("%s", error)
                        return
        if self._lock.locked():
            return  # a writer of ours is catching up anyway
        if self._files.nothing_new():
            return
        async with self._lock:
            try:
                await self._wait_synced(self._files.offset)  # a reload reopens the journal
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
        if self._failed_flush is not None:
            return {"ok": False, "reason": self._failed_flush.reason}
        if self._unwritable is not None:
            if not self._files.takes_writes():
                return {"ok": False, "reason": self._unwritable}
            self._unwritable = None
        return {"ok": True}

    # ----------------------------------------------------------------- writes
    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """Yield a transaction; on clean exit its ops are durable, and applied in memory.

        Reads made inside the block see every change committed before it, by any process.

        Group commit: the line is written (into the page cache) and applied while the locks
        are held; the locks are then released and the caller waits for an fsync on the
        flusher thread. One fsync makes every line written before it durable, so under
        load one serves many transactions instead of each paying for its own. The next
        transaction may build on this one before that fsync returns; it is told only
        after a later fsync, which covers both (one file, written in order). What leaves
        the process waits for `settled()`; a failed fsync undoes every line not yet
        durable (see `_undo_lost_lines`) and each waiting caller gets StoreUnwritable.
        """
        async with self._lock:
            if self._failed_flush is not None:
                await self._undo_lost_lines()
            here = self._begin_here()
            if not here:
                # Catching up may reload and reopen the journal: nothing may be fsyncing it.
                await self._wait_synced(self._files.offset)
            begin = None if here else self._on_writer(self._begin_locked)
            tx = Transaction(self)
            unlocked = False
            try:
                if begin is not None:
                    self._apply_fresh(await asyncio.shield(begin))
                yield tx
                if tx.ops:
                    record = {"seq": self._seq + 1, "at": time.time(), "ops": tx.ops}
                    line = encode_line(record)
                    try:
                        self._files.write(line)
                    except StoreUnwritable as failure:
                        self._unwritable = failure.reason
                        raise
                    self._unlock()
                    unlocked = True
                    # Apply what was written, decoded, so memory always equals a replay.
                    self._apply_record(from_json(line[9:-1]), len(line))
            finally:
                # Queued behind `begin` on the single writer thread, so the flock is
                # always released, even when this task is cancelled half-way.
                if not unlocked:
                    await asyncio.shield(self._on_writer(self._unlock))
            written, seq = self._files.offset, self._seq
        if tx.ops:
            await self._wait_synced(written)
            watched = _committed_here.get()
            if watched is not None:
                watched.append(seq)
            if self._files.offset > self.compact_bytes and self._compaction is None:
                # In the background: the message that crossed the threshold gets its reply
                # now; only a write arriving during the compaction waits for it.
                self._compaction = asyncio.get_running_loop().create_task(self._compact_soon())

    async def settled(self) -> None:
        """Wait until everything in memory is durable: before anything read from the store
        leaves the process (a reply, a page), since memory may hold lines written and not
        yet fsynced. Immediate when nothing is waiting for an fsync."""
        if self._synced < self._files.offset:
            await self._wait_synced(self._files.offset)

    async def _wait_synced(self, offset: int) -> None:
        """Until the journal is durable up to `offset`: joins the fsync under way, or starts
        one; StoreUnwritable when the fsync fails (the lines are then undone)."""
        generation, undos = self._files.generation, self._undos
        while self._synced < offset and self._files.generation == generation:
            if self._failed_flush is not None:
                raise self._failed_flush
            if self._undos != undos and self._last_undone is not None:
                raise self._last_undone  # lines undone meanwhile: ours may be among them
            if self._flush is None:
                self._flush = asyncio.get_running_loop().create_task(self._flush_once())
            await asyncio.shield(self._flush)

    async def _flush_once(self) -> None:
        target = self._files.offset  # every line written so far; later ones wait for the next
        try:
            await asyncio.get_running_loop().run_in_executor(self._flusher, self._files.sync)
        except StoreUnwritable as failure:
            if self._failed_flush is None:
                self._failed_flush = failure
                self._unwritable = failure.reason
                log.error("%s; undoing the changes not yet durable", failure)
                self._background(self._undo_soon())
            raise
        finally:
            self._flush = None
        self._synced = max(self._synced, target)
        self._unwritable = None

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _undo_soon(self) -> None:
        async with self._lock:
            if self._failed_flush is not None:
                with contextlib.suppress(StoreUnwritable):  # tried again at the next write
                    await self._undo_lost_lines()

    async def _undo_lost_lines(self) -> None:
        """After a failed fsync (caller holds the lock): cut the journal back to what is
        durable and reload, so memory again equals the files. Until this succeeds, every
        transaction is refused with the fsync's reason."""
        failure, synced = self._failed_flush, self._synced
        assert failure is not None
        if self._flush is not None:
            with contextlib.suppress(StoreUnwritable):
                await asyncio.shield(self._flush)
        try:
            loaded = await asyncio.shield(self._on_writer(self._cut_back_and_load, synced))
        except StoreUnwritable:
            raise failure from None
        self._install(loaded)
        self._synced = self._files.offset
        self._undos, self._last_undone = self._undos + 1, failure
        self._failed_flush = None
        log.warning("undid the changes whose fsync failed; the store is as last saved")

    def _cut_back_and_load(self, offset: int) -> _Loaded:
        with self._flock():
            self._files.cut_back(offset)
            return self._load()

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
            await self._wait_synced(self._files.offset)  # compaction replaces the journal
            try:
                self._apply_fresh(await asyncio.shield(self._on_writer(self._begin_locked)))
                await asyncio.shield(self._on_writer(self._compact_locked))
                self._synced = self._files.offset
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
            await self._wait_synced(self._files.offset)  # a backup holds only what is durable
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
        if entries:
            self._files.sync()  # what another process wrote may not be durable yet
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
        """Apply a catch-up (the caller holds the lock and nothing of ours awaits an fsync,
        or the catch-up's own fsync covered it: one file, fsynced whole)."""
        if isinstance(fresh, _Loaded):
            self._install(fresh)
        else:
            for record, size in fresh:
                self._apply_record(record, size)
        self._synced = self._files.offset

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
