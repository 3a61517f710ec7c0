"""A durable inbox: chat work is written to the store before the platform hears "200".

Why: Slack never resends an event it was told we received. If the work only lived in
memory, a crash between the acknowledgement and the reply lost it (issue 9: 1,722 of
1,800 acknowledged events lost to SIGKILLs). So a channel calls `accept(key, kind,
payload)` *before* answering: one journal line (a `meta` document keyed
`inbox:<key>`) that is durable when `accept` returns. Workers then take the work, and
`finish(key)` marks it done (dropping the payload, keeping the key for deduplication).
At start-up `pending()` lists what was acknowledged but never finished.

Deduplication comes free: `accept` returns False when the key was already accepted,
so a Slack retry, or a signed request replayed after a restart (within its 5 minutes),
is acknowledged and ignored. The store's transaction holds the data directory's
flock and catches up with other processes first, so this holds across restarts and
across two processes on one data directory. Keys expire after `ttl` (a day): `expire()`
removes finished inbox keys and `seen:` keys older than that.

`first_time(key)` is the plain "have I seen this key?" for work that runs inline
(Teams activity ids). `Repository.claim(key, value)` with a key starting `seen:` is
the same thing and expires the same way.

Group commit: work offered while an inbox write is under way waits and goes into the
next write, all of it in one transaction (one journal line, one fsync). Quiet, that is
one write per item as before; in a burst, dozens of acknowledgements share one, which
is what makes the durable inbox affordable at saturation (issue 9's throughput).

Failure modes: if the store cannot be written, `accept` raises and the channel answers
500, so the platform retries later: nothing is acknowledged that is not on disk (a
failed group write fails every caller in it). A
crash after the work's own write but before `finish` re-runs the work at start-up;
the worker is told (`recovered=True`) so it can check for the earlier write. Under
load, finished items are marked done in batches of up to FINISH_BATCH (one fsync
instead of one each), so a crash can re-run up to that many finished items: a change
is never stored twice (the check above), but a question may be answered twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from storage.repository import Repository

log = logging.getLogger(__name__)

DAY_SECONDS = 24 * 60 * 60
INBOX_PREFIX = "inbox:"
SEEN_PREFIX = "seen:"
EXPIRING_PREFIXES = (INBOX_PREFIX, SEEN_PREFIX)
FINISH_BATCH = 32  # at most this many finished items wait to be marked done


@dataclass(frozen=True)
class Item:
    """One acknowledged piece of work: its key, which handler takes it, what it carries."""

    key: str
    kind: str
    payload: Any
    accepted_at: float
    recovered: bool = False


Handler = Callable[[Item], Awaitable[None]]
Unwritten = tuple[str, dict[str, Any], "asyncio.Future[bool]"]  # key, value, told when durable


class Inbox:
    """Durable acknowledged work, fair worker pool, expiring deduplication keys."""

    def __init__(
        self,
        repo: Repository,
        *,
        ttl: float = DAY_SECONDS,
        workers: int = 4,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.repo = repo
        self.ttl = ttl
        self.clock = clock
        self.size = workers
        self.handlers: dict[str, Handler] = {}
        self._queues: dict[str, deque[Item]] = {}  # one per kind, served in turn
        self._order: deque[str] = deque()
        self._ready = asyncio.Event()
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._workers: list[asyncio.Task[None]] = []
        self._last_expiry = 0.0
        self._finished: list[str] = []  # done, not yet marked in the store
        self._inline = 0  # work begun by callers (`begin`) and not yet `done`
        self._unwritten: list[Unwritten] = []  # offered while a write was under way
        self._writing: asyncio.Future[None] | None = None  # the group-commit writer

    # ------------------------------------------------------------------ store
    def _live(self, key: str) -> bool:
        docs = self.repo.store.lookup("meta", "key", key)
        if not docs:
            return False
        value = docs[0].get("value")
        at = (value.get("at") if isinstance(value, dict) else None) or docs[0].get("at")
        return not at or self.clock() - at <= self.ttl

    async def accept(self, key: str, kind: str, payload: Any) -> bool:
        """Durably record new work under `key` for the workers; False (nothing written) if seen."""
        now = await self._record(key, kind, payload)
        if now is None:
            return False
        self._enqueue(Item(key, kind, payload, now))
        return True

    async def begin(self, key: str, kind: str, payload: Any) -> bool:
        """Durably record work the caller runs itself, now; False (nothing written) if seen.

        For work answered inline (a Teams turn: the 2xx follows the reply). The caller
        calls `done(key)` when it has finished; if the process dies first, the item is in
        `pending()` and a worker for `kind` runs it at the next start, with
        `recovered=True`, exactly like queued work."""
        if await self._record(key, kind, payload) is None:
            return False
        self._inline += 1
        return True

    async def done(self, key: str) -> None:
        """Inline work under `key` has finished: marked in the store, batched under load."""
        self._inline -= 1
        self._finished.append(key)
        if len(self._finished) >= FINISH_BATCH or not (self._inline or self._busy):
            await self._mark_finished()

    async def _record(self, key: str, kind: str, payload: Any) -> float | None:
        """Durably record new work; None if `key` was seen. Group commit: work offered
        while a write is under way goes into the next one, together, so under load many
        acknowledgements share one journal line and one fsync (one each when quiet)."""
        now = self.clock()
        value = {"kind": kind, "payload": payload, "at": now, "done": False}
        written: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._unwritten.append((INBOX_PREFIX + key, value, written))
        if self._writing is None:
            self._writing = asyncio.ensure_future(self._write_unwritten())
        return now if await written else None

    async def _write_unwritten(self) -> None:
        """Write what `_record` queued, a batch per transaction, until nothing is left."""
        try:
            while self._unwritten:
                batch, self._unwritten = self._unwritten, []
                try:
                    fresh = await self._write_batch(batch)
                except BaseException as error:  # each caller hears it: none is acknowledged
                    for *_, written in batch:
                        if not written.done():
                            written.set_exception(error)
                    if isinstance(error, asyncio.CancelledError):
                        raise
                    continue
                for (*_, written), first in zip(batch, fresh, strict=True):
                    if not written.done():
                        written.set_result(first)
        finally:
            self._writing = None

    async def _write_batch(self, batch: list[Unwritten]) -> list[bool]:
        """One transaction for the batch; per item, whether it was new (not seen before,
        in the store or earlier in the same batch)."""
        fresh: list[bool] = []
        taken: set[str] = set()
        async with self.repo.transaction() as tx:
            for key, value, _ in batch:
                new = key not in taken and not self._live(key)
                if new:
                    taken.add(key)
                    self._put(tx, key, value)
                fresh.append(new)
        return fresh

    async def first_time(self, key: str) -> bool:
        """True the first time `key` is offered (in any process, within `ttl`); durable."""
        async with self.repo.transaction() as tx:
            if self._live(SEEN_PREFIX + key):
                return False
            self._put(tx, SEEN_PREFIX + key, {"at": self.clock()})
        return True

    def _put(self, tx: Any, key: str, value: Any) -> None:
        doc = self.repo.store.lookup("meta", "key", key)
        if doc:
            tx.update("meta", doc[0].doc_id, {"value": value})
        else:
            tx.insert("meta", {"key": key, "value": value})

    async def finish(self, *keys: str) -> None:
        """Mark work done: the payload goes, the key stays (for deduplication) until expiry.

        Several keys share one transaction (one fsync): under load the workers mark
        what they finished in batches (see `_work`)."""
        async with self.repo.transaction() as tx:
            for key in keys:
                value = self.repo.meta(INBOX_PREFIX + key)
                if isinstance(value, dict) and not value.get("done"):
                    done = {"kind": value.get("kind"), "at": value.get("at"), "done": True}
                    self._put(tx, INBOX_PREFIX + key, done)

    def pending(self) -> list[Item]:
        """Acknowledged work never finished (after a crash), oldest first.

        Only the kinds this inbox has handlers for: each channel keeps its own inbox on
        the one store, and one channel must not take (or drop) another's work."""
        items = []
        for doc in self.repo.store.iterate("meta"):
            key, value = doc.get("key", ""), doc.get("value")
            if not (key.startswith(INBOX_PREFIX) and isinstance(value, dict)):
                continue
            if not value.get("done") and value.get("kind") in self.handlers:
                items.append(
                    Item(
                        key[len(INBOX_PREFIX) :],
                        value["kind"],
                        value.get("payload"),
                        value.get("at", 0),
                        recovered=True,
                    )
                )
        return sorted(items, key=lambda i: i.accepted_at)

    async def expire(self) -> int:
        """Remove finished or `seen:` keys older than `ttl`; returns how many went."""
        cutoff = self.clock() - self.ttl
        self._last_expiry = self.clock()
        old = []
        for doc in self.repo.store.iterate("meta"):
            key, value = doc.get("key", ""), doc.get("value")
            if not key.startswith(EXPIRING_PREFIXES):
                continue
            value = value if isinstance(value, dict) else {}
            at = value.get("at") or doc.get("at")  # Repository.claim stamps the document
            done = value.get("done") or key.startswith(SEEN_PREFIX)
            if at is not None and at < cutoff and done:
                old.append(doc.doc_id)
        if old:
            async with self.repo.transaction() as tx:
                for doc_id in old:
                    tx.remove("meta", doc_id)
        return len(old)

    # ------------------------------------------------------------------ workers
    def _enqueue(self, item: Item) -> None:
        if item.kind not in self._queues:
            self._queues[item.kind] = deque()
            self._order.append(item.kind)
        self._queues[item.kind].append(item)
        self._idle.clear()
        self._ready.set()

    def _next(self) -> Item | None:
        for _ in range(len(self._order)):
            kind = self._order[0]
            self._order.rotate(-1)  # round robin: each kind (channel) in turn
            if self._queues[kind]:
                return self._queues[kind].popleft()
        return None

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing being worked on."""
        return self._idle.is_set()

    def _outstanding(self) -> int:
        return sum(len(q) for q in self._queues.values())

    async def start(self) -> None:
        """Queue what a crash left unfinished, expire old keys, start the workers."""
        left = self.pending()
        for item in left:
            self._enqueue(item)
        if left:
            log.warning("inbox: %d acknowledged item(s) left unfinished; processing", len(left))
        try:
            await self.expire()
        except Exception as error:  # expiry is housekeeping; never stop the server for it
            log.warning("inbox: could not expire old keys: %s", error)
        loop = asyncio.get_running_loop()
        self._workers = [loop.create_task(self._work()) for _ in range(self.size)]

    async def _work(self) -> None:
        while True:
            item = self._next()
            if item is None:
                if not self._busy:
                    self._idle.set()
                self._ready.clear()
                await self._ready.wait()
                continue
            self._busy += 1
            try:
                try:
                    await self.handlers[item.kind](item)
                except asyncio.CancelledError:
                    raise
                except Exception:  # marked done all the same: never retry a poison message
                    log.exception("inbox: %s item %s failed", item.kind, item.key)
                self._finished.append(item.key)
                if len(self._finished) >= FINISH_BATCH or not self._outstanding():
                    await self._mark_finished()
            finally:
                self._busy -= 1
                if not self._busy and not self._outstanding() and not self._finished:
                    self._idle.set()
            if self.clock() - self._last_expiry > 3600:
                try:
                    await self.expire()
                except Exception as error:
                    log.warning("inbox: could not expire old keys: %s", error)

    async def _mark_finished(self) -> None:
        keys, self._finished = self._finished, []
        if not keys:
            return
        try:
            await self.finish(*keys)
        except Exception as error:  # they run again after a restart; the work checks
            log.warning("inbox: could not mark %d item(s) done: %s", len(keys), error)

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until every queued item is handled (tests; graceful shutdown)."""
        if not self._workers:
            return
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            log.warning(
                "inbox: %d item(s) queued, %d running at shutdown", self._outstanding(), self._busy
            )

    async def close(self, timeout: float = 10) -> None:
        await self.drain(timeout)
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._workers = []
