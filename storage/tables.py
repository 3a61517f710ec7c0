"""The store's tables in memory, with their indexes: what every read sees.

TinyDB keeps its `Table` (documents, ids, reads) apart from its `Storage` (the file);
so does this store. `Tables` holds every document in TinyDB's layout, {table: {id as a
string: document}}, and hands them out as `tinydb.table.Document`s with their `doc_id`.
It knows nothing of files, locks or threads: `storage/journal.py` decides what is on
disk, and `storage/engine.py` decides when a change reaches these tables (only after
its journal line is durable) and on which thread (the event loop's, so a read never
sees a change half-applied).

Why not TinyDB's own `Table` and query layer: a `search` is a linear scan, and every
read the bot makes is a lookup by an indexed value (`lookup`), a read by id (`get`) or
an ordered scan that stops early (`iterate`, `newest`); at 100,000 updates a scan per
message would cost more than the reply.

Two shapes make those reads cheap:
- append-only ("log") tables are held as fixed-size chunks of `CHUNK_SIZE` ids
  (`updates#00003`), so "newest first" walks the last chunk and stops, and the chunk
  of any id is arithmetic;
- secondary indexes map a field's value to the sorted ids holding it (updates by
  objective, audit by entity, every other table by `key`), kept current by `apply`.

Failure modes: an operation of a kind this version does not know raises StoreError
naming `source` (the journal it came from), before anything is changed; an update of
a document that no longer exists is skipped, as a replay must be (the journal
records what happened, in order). Reads share nested values with memory: callers
never change a document in place, they write a transaction.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from tinydb.table import Document

from storage.files import StoreError

CHUNK_SIZE = 2000

Chunks = dict[str, dict[str, dict[str, Any]]]  # table or chunk name -> {id: document}
Op = list[Any]  # ["i", table, id, doc] | ["u", table, id, fields] | ["r", table, id]


class Tables:
    """Every table of one store in memory; changed only through `apply` and `replace`."""

    def __init__(
        self,
        log_tables: Iterable[str],
        indexes: Mapping[str, Iterable[str]],
        source: Path,
    ) -> None:
        self.log_tables = frozenset(log_tables)
        self.index_fields = {t: tuple(f) for t, f in indexes.items()}
        self.source = source  # named in errors about the operations applied
        self._chunks: Chunks = {}
        self._indexes: dict[tuple[str, str], dict[Any, list[int]]] = {}
        self._next_ids: dict[str, int] = {}
        self._changes: dict[str, int] = {}  # table -> operations applied to it
        self._loads = 0  # tables replaced wholesale (start-up, another process compacted)

    # ----------------------------------------------------------------- reads
    def version(self, table: str) -> tuple[int, int]:
        """Changes whenever `table` does (and only then, but for a wholesale reload):
        what a cache of one table's documents is keyed on, so a write to `updates`
        does not throw away what was built from `people`."""
        return self._loads, self._changes.get(table, 0)

    def get(self, table: str, doc_id: int) -> Document | None:
        doc = self._chunks.get(self._physical(table, doc_id), {}).get(str(doc_id))
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

    def iterate(self, table: str) -> Iterator[Document]:
        for name in self._chunk_names(table):
            for key, doc in self._chunks.get(name, {}).items():
                yield Document(doc, int(key))

    def newest(self, table: str) -> Iterator[Document]:
        """Documents of a table newest first (log tables are append-only, so id order is time)."""
        for name in reversed(self._chunk_names(table)):
            chunk = self._chunks.get(name, {})
            for key in reversed(chunk):
                yield Document(chunk[key], int(key))

    def count(self, table: str) -> int:
        return sum(len(self._chunks.get(n, {})) for n in self._chunk_names(table))

    def next_id(self, table: str) -> int:
        return self._next_ids.get(table, 1)

    def logical(self) -> dict[str, list[dict[str, dict[str, Any]]]]:
        """Every table as its list of chunks (one for plain tables), empty ones left out:
        what a snapshot or a backup is written from, without copying any document."""
        logical: dict[str, list[dict[str, dict[str, Any]]]] = {}
        for name, chunk in self._chunks.items():
            if chunk:
                logical.setdefault(self._logical(name), []).append(chunk)
        return logical

    def export(self) -> dict[str, list[dict[str, Any]]]:
        """Every table as a list of documents with their ids (deep copies), for export."""
        names = {self._logical(n) for n in self._chunks}
        return {
            name: [{"_id": d.doc_id, **copy.deepcopy(dict(d))} for d in self.iterate(name)]
            for name in sorted(names)
        }

    # ----------------------------------------------------------------- changes
    def apply(self, op: Op) -> None:
        """Apply one operation of a durable journal entry, keeping indexes and ids current."""
        self._apply(self._chunks, op, live=True)
        self._changes[op[1]] = self._changes.get(op[1], 0) + 1

    def chunked(self, tables: Chunks) -> Chunks:
        """A snapshot's tables as held in memory: log tables split into chunks.

        For a load, off the live tables (on the writer thread): `replay` the journal's
        entries into the result, then `replace` the live tables with it.
        """
        chunks: Chunks = {}
        for name, docs in tables.items():
            if name not in self.log_tables:
                chunks[name] = docs
                continue
            numbered: dict[int, dict[str, Any]] = {}
            for key, doc in docs.items():
                number = (int(key) - 1) // CHUNK_SIZE
                chunk = numbered.get(number)
                if chunk is None:
                    chunk = numbered[number] = {}
                chunk[key] = doc
            for number in sorted(numbered):
                chunks[f"{name}#{number:05d}"] = numbered[number]
        return chunks

    def replay(self, chunks: Chunks, op: Op) -> None:
        """Apply one operation to tables being loaded (no indexes yet: `replace` builds them)."""
        self._apply(chunks, op, live=False)

    def replace(self, chunks: Chunks) -> None:
        """Make freshly loaded tables the live ones; recompute next ids and every index."""
        self._chunks = chunks
        self._loads += 1
        self._next_ids = {}
        for name, chunk in chunks.items():
            if chunk:
                logical = self._logical(name)
                top = max(map(int, chunk)) + 1
                self._next_ids[logical] = max(self._next_ids.get(logical, 1), top)
        self._indexes = {}
        for table, fields in self.index_fields.items():
            of_table = [chunks.get(name, {}) for name in self._chunk_names(table)]
            for field_name in fields:
                self._indexes[(table, field_name)] = _index(of_table, field_name)

    # ----------------------------------------------------------------- internals
    def _apply(self, chunks: Chunks, op: Op, *, live: bool) -> None:
        kind, table, doc_id = op[0], op[1], int(op[2])
        if kind not in ("i", "u", "r"):
            raise StoreError(f"{self.source} holds an unknown operation {kind!r}.")
        chunk = chunks.setdefault(self._physical(table, doc_id), {})
        key = str(doc_id)
        old = chunk.get(key)
        new: dict[str, Any] | None
        if kind == "i":
            new = chunk[key] = dict(op[3])
            if live:  # a load recomputes the counters in `replace`
                self._next_ids[table] = max(self._next_ids.get(table, 1), doc_id + 1)
        elif kind == "u":
            if old is None:
                return
            new = chunk[key] = {**old, **op[3]}
        else:
            new = None
            chunk.pop(key, None)
        if live:
            self._reindex(table, doc_id, old, new)

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


def _index(chunks: list[dict[str, dict[str, Any]]], field_name: str) -> dict[Any, list[int]]:
    """value -> ids of the documents holding it, in id order."""
    index: defaultdict[Any, list[int]] = defaultdict(list)
    for chunk in chunks:
        for key, doc in chunk.items():
            value = doc.get(field_name)
            if value is not None:
                index[value].append(int(key))
    for ids in index.values():
        ids.sort()  # already in order for log tables (timsort: linear then)
    return dict(index)
