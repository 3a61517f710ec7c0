"""The document store: TinyDB's document and query model over a durable journal.

Plain TinyDB rewrites and re-reads the whole JSON file on every operation, in place,
so each write costs O(database) and a crash mid-write corrupts the file. Here TinyDB
only ever reads: its storage hands it the tables held in memory, and every change
goes through a transaction that is appended to a journal as one checksummed line and
fsynced *before* it is applied in memory and confirmed. Start-up loads the last
snapshot and replays the journal; compaction writes a new snapshot atomically.

Write cost is one small append + fsync, independent of the store's size. Append-only
tables (updates, audit) are split into fixed-size TinyDB tables ("chunks") so a query
over recent history never scans years of it, and secondary indexes answer the
lookups the bot makes on every message (updates of one objective, a risk by id).

Concurrency: one asyncio lock orders writers in this process and a single writer
thread does the file I/O, so the event loop never blocks on fsync. An exclusive
flock on `store.lock` orders writers across processes; before each transaction the
writer reads whatever other processes appended, so a second process on the same
data directory always writes against current state.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import fcntl
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document, Table

from storage.files import (
    JOURNAL_NAME,
    LOCK_NAME,
    SNAPSHOT_NAME,
    StoreError,
    check_format,
    decode_line,
    encode_line,
    fsync_directory,
    journal_header,
    write_atomically,
)
from storage.migrations import migrate

log = logging.getLogger(__name__)

CHUNK_SIZE = 2000
DEFAULT_COMPACT_BYTES = 32 * 1024 * 1024

Tables = dict[str, dict[str, dict[str, Any]]]
Op = list[Any]  # ["i", table, id, doc] | ["u", table, id, fields] | ["r", table, id]


class ReadOnlyStorage(Storage):
    """Hands TinyDB the in-memory tables; writes must go through a transaction."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables

    def read(self) -> Tables:
        return self.tables

    def write(self, data: Tables) -> None:
        raise RuntimeError("write through DocumentStore.transaction(), not TinyDB directly")


@dataclass
class Transaction:
    """The changes one command makes; they become durable together or not at all."""

    store: DocumentStore
    ops: list[Op] = field(default_factory=list)
    _next_ids: dict[str, int] = field(default_factory=dict)

    def insert(self, table: str, doc: Mapping[str, Any]) -> int:
        doc_id = self._next_ids.get(table) or self.store.next_id(table)
        self._next_ids[table] = doc_id + 1
        self.ops.append(["i", table, doc_id, dict(doc)])
        return doc_id

    def update(self, table: str, doc_id: int, fields: Mapping[str, Any]) -> None:
        self.ops.append(["u", table, doc_id, dict(fields)])

    def remove(self, table: str, doc_id: int) -> None:
        self.ops.append(["r", table, doc_id])


@dataclass
class _Loaded:
    tables: Tables
    generation: int
    seq: int
    offset: int
    inode: int
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
        self._journal = None
        self._tables: Tables = {}
        self._indexes: dict[tuple[str, str], dict[Any, list[int]]] = {}
        self._next_ids: dict[str, int] = {}
        self._listeners: list[Callable[[list[Op]], None]] = []
        self._db = TinyDB(storage=ReadOnlyStorage, tables=self._tables)

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
        directory.mkdir(parents=True, exist_ok=True)
        store = cls(directory, log_tables, indexes or {}, compact_bytes)
        with store._flock():
            loaded = store._load(repair_tail=True)
            store._install(loaded)
            store.warnings.extend(loaded.warnings)
            if store._journal_size() > compact_bytes:
                store._compact_locked()
        return store

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        if self._journal:
            self._journal.close()
            self._journal = None
        self._lock_file.close()

    # ----------------------------------------------------------------- reads
    def table(self, name: str) -> Table:
        """A TinyDB table for queries (Query(), search, get) on a non-log table."""
        if name in self.log_tables:
            raise ValueError(f"{name} is a log table; use chunks(), lookup() or newest()")
        return self._db.table(name)

    def get(self, table: str, doc_id: int) -> Document | None:
        doc = self._tables.get(self._physical(table, doc_id), {}).get(str(doc_id))
        return None if doc is None else Document(doc, doc_id)

    def lookup(
        self, table: str, field_name: str, value: Any, latest: int | None = None
    ) -> list[Document]:
        """Documents whose indexed field equals value, oldest first, without scanning."""
        ids = self._indexes[(table, field_name)].get(value, ())
        if latest is not None:
            ids = ids[-latest:] if latest else []
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
        if stat.st_ino == self._inode and stat.st_size == self._offset:
            return
        async with self._lock:
            loop = asyncio.get_running_loop()
            self._apply_fresh(await loop.run_in_executor(self._writer, self._read_fresh_locked))

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
            try:
                self._apply_fresh(await asyncio.shield(begin))
                yield tx
                if tx.ops:
                    record = {"seq": self._seq + 1, "at": time.time(), "ops": tx.ops}
                    line = encode_line(record)
                    await asyncio.shield(loop.run_in_executor(self._writer, self._append, line))
                    self._apply_record(record, len(line))
            finally:
                # Queued behind `begin` on the single writer thread, so the flock is always
                # released, even when this task is cancelled half-way.
                await asyncio.shield(loop.run_in_executor(self._writer, self._unlock))
        if tx.ops and self._journal_size() > self.compact_bytes:
            await self.compact()

    async def compact(self) -> None:
        async with self._lock:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._writer, self._compact_with_lock)

    def snapshot_bytes(self) -> tuple[bytes, bytes]:
        """A consistent copy of (snapshot, journal) for backups, taken under the store lock."""
        with self._flock():
            snapshot = self.directory / SNAPSHOT_NAME
            snap = snapshot.read_bytes() if snapshot.exists() else b""
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
    def _begin_locked(self) -> _Loaded | list[tuple[dict[str, Any], int]]:
        fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX)
        try:
            return self._read_fresh()
        except BaseException:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            raise

    def _unlock(self) -> None:
        fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)

    def _append(self, line: bytes) -> None:
        assert self._journal is not None
        self._journal.seek(self._offset)
        self._journal.write(line)
        self._journal.flush()
        os.fsync(self._journal.fileno())

    def _read_fresh(self) -> _Loaded | list[tuple[dict[str, Any], int]]:
        """What other processes changed: new journal lines, or a whole reload after compaction."""
        stat = os.stat(self._journal_path)
        if stat.st_ino != self._inode:
            return self._load(repair_tail=False)
        if stat.st_size == self._offset:
            return []
        with open(self._journal_path, "rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        records = []
        for line in data.splitlines(keepends=True):
            record = decode_line(line)
            if record is None:
                break  # a line still being written, or a torn one; never merge it
            records.append((record, len(line)))
        return records

    def _apply_fresh(self, fresh: _Loaded | list[tuple[dict[str, Any], int]]) -> None:
        if isinstance(fresh, _Loaded):
            self._install(fresh)
            for listener in self._listeners:
                listener([])
            return
        for record, size in fresh:
            self._apply_record(record, size)

    def _read_fresh_locked(self) -> _Loaded | list[tuple[dict[str, Any], int]]:
        with self._flock():
            return self._read_fresh()

    def _apply_record(self, record: dict[str, Any], size: int) -> None:
        if record.get("seq") != self._seq + 1:
            raise StoreError(
                f"{self._journal_path} is out of sequence at entry {record.get('seq')} "
                f"(expected {self._seq + 1}). Run `python -m bot recover --data {self.directory}`."
            )
        touched: set[str] = set()
        for op in record["ops"]:
            touched.add(self._apply_op(self._tables, op, index=True))
        for name in touched:
            self._db.table(name).clear_cache()
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
        self._tables = loaded.tables
        self._db = TinyDB(storage=ReadOnlyStorage, tables=self._tables)  # fresh query caches
        self._generation = loaded.generation
        self._seq = loaded.seq
        self._offset = loaded.offset
        self._inode = loaded.inode
        if self._journal:
            self._journal.close()
        self._journal = open(self._journal_path, "r+b")  # noqa: SIM115 - held for life
        self._next_ids = {}
        for name, chunk in self._tables.items():
            if chunk:
                logical = self._logical(name)
                top = max(int(k) for k in chunk) + 1
                self._next_ids[logical] = max(self._next_ids.get(logical, 1), top)
        self._indexes = {(t, f): {} for t, fields in self.index_fields.items() for f in fields}
        for table, fields in self.index_fields.items():
            for doc in self.iterate(table):
                for field_name in fields:
                    value = doc.get(field_name)
                    if value is not None:
                        self._indexes[(table, field_name)].setdefault(value, []).append(doc.doc_id)

    def _load(self, *, repair_tail: bool) -> _Loaded:
        """Read snapshot + journal from disk (caller holds the flock)."""
        warnings: list[str] = []
        snapshot_path = self.directory / SNAPSHOT_NAME
        generation, seq, tables = 1, 0, {}
        if snapshot_path.exists():
            generation, seq, tables = self._read_snapshot(snapshot_path)
        if not self._journal_path.exists():
            write_atomically(self._journal_path, encode_line(journal_header(generation)))
        data = self._journal_path.read_bytes()
        lines = data.splitlines(keepends=True)
        header = decode_line(lines[0]) if lines else None
        if header is None:
            raise StoreError(
                f"{self._journal_path} has no readable header (the file is damaged or not a "
                f"journal). Run `python -m bot recover --data {self.directory}`."
            )
        check_format(header, self._journal_path)
        offset = len(lines[0])
        journal_generation = header.get("generation", 0)
        if journal_generation > generation:
            raise StoreError(
                f"{self._journal_path} is newer than {snapshot_path} (the snapshot is missing or "
                f"old). Run `python -m bot recover --data {self.directory}`."
            )
        stale = journal_generation < generation  # crash between snapshot and journal rewrite
        physical: Tables = {}
        for name, docs in tables.items():
            for key, doc in docs.items():
                physical.setdefault(self._physical(name, int(key)), {})[key] = doc
        good_end = offset
        bad_at: int | None = None
        for number, line in enumerate(lines[1:], start=2):
            record = decode_line(line)
            if record is None:
                bad_at = bad_at or number
                continue
            if bad_at is not None:
                raise StoreError(
                    f"{self._journal_path} is damaged at line {bad_at} and has good entries after "
                    f"it, so it is not a torn last write. The file was left untouched. Run "
                    f"`python -m bot recover --data {self.directory}` to keep every entry up to "
                    f"line {bad_at - 1}, or restore a backup."
                )
            good_end += len(line)
            if stale or record["seq"] <= seq:
                continue
            if record["seq"] != seq + 1:
                raise StoreError(
                    f"{self._journal_path} is missing entries before entry {record['seq']} "
                    f"(line {number}). Run `python -m bot recover --data {self.directory}`."
                )
            for op in record["ops"]:
                self._apply_op(physical, op, index=False)
            seq = record["seq"]
        if stale:
            write_atomically(self._journal_path, encode_line(journal_header(generation)))
            good_end = len(encode_line(journal_header(generation)))
        elif bad_at is not None and repair_tail:
            torn = data[good_end:]
            aside = self.directory / f"journal.torn-{time.strftime('%Y%m%dT%H%M%S')}"
            aside.write_bytes(torn)
            with open(self._journal_path, "r+b") as handle:
                handle.truncate(good_end)
                os.fsync(handle.fileno())
            message = (
                f"Dropped a torn last entry ({len(torn)} bytes) from {self._journal_path}, "
                f"left by an interrupted write; it was never confirmed. Saved to {aside}."
            )
            log.warning(message)
            warnings.append(message)
        inode = os.stat(self._journal_path).st_ino
        return _Loaded(physical, generation, seq, good_end, inode, warnings)

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
                f"{path} is not a Strategy Tracker snapshot. Run `python -m bot "
                f"recover --data {path.parent}`."
            )
        version = check_format(content, path)
        content = migrate(content, version)
        return int(content["generation"]), int(content["seq"]), content["tables"]

    def _compact_with_lock(self) -> None:
        with self._flock():
            fresh = self._read_fresh()
            self._apply_fresh(fresh)
            self._compact_locked()

    def _compact_locked(self) -> None:
        """Fold the journal into a new snapshot (caller holds the flock and the writer lock)."""
        generation = self._generation + 1
        logical: Tables = {}
        for name, chunk in self._tables.items():
            if chunk:
                logical.setdefault(self._logical(name), {}).update(chunk)
        content = {
            "format": journal_header(generation)["format"],
            "version": journal_header(generation)["version"],
            "generation": generation,
            "seq": self._seq,
            "tables": logical,
        }
        body = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        write_atomically(self.directory / SNAPSHOT_NAME, body)
        header = encode_line(journal_header(generation))
        write_atomically(self._journal_path, header)
        fsync_directory(self.directory)
        if self._journal:
            self._journal.close()
        self._journal = open(self._journal_path, "r+b")  # noqa: SIM115 - held for life
        self._generation = generation
        self._offset = len(header)
        self._inode = os.stat(self._journal_path).st_ino
        log.info("compacted the store into %s (generation %d)", SNAPSHOT_NAME, generation)
