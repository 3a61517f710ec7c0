"""The tracker's repository: domain reads and audited writes over the document store.

Handlers, channels and digests talk to this class only; nothing outside `storage/`
knows about TinyDB, tables or journal lines. Every write method runs in one store
transaction, re-reads what it depends on inside it (so concurrent messages, or a
second process, never overwrite each other), and returns only once the change is
durable, so a confirmation shown to a user is always a promise kept.

History is never overwritten: an objective update is a new `updates` document that
records the before and after of every field it changed; every other change adds an
`audit` document with the same shape. `undo` is itself such a change.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from tinydb.table import Document

from storage.engine import DocumentStore, Transaction, watching_commits
from storage.files import JOURNAL_NAME, SNAPSHOT_NAME
from storage.files import StoreError as StoreError  # re-exported: upper layers import it here
from storage.files import StoreUnwritable as StoreUnwritable  # (and nothing else of storage/)
from tracker.model import (
    Directorate,
    Objective,
    Person,
    Risk,
    Role,
    Status,
    Theme,
)

T = TypeVar("T")

LOG_TABLES = ("updates", "audit")
INDEXES = {
    "updates": ("objective_id", "author"),
    "audit": ("entity", "actor"),
    "objectives": ("key",),
    "risks": ("key",),
    "people": ("key",),
    "directorates": ("key",),
    "themes": ("key",),
    "meta": ("key",),
    "conversations": ("key",),
}

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _journal_order(doc: Mapping[str, Any]) -> tuple[int, str]:
    """Sort key of a change in the order the journal wrote it (see `last_change_by`)."""
    return doc.get("seq") or 0, doc["at"]


class NotFound(LookupError):
    """The thing a command names does not exist (the message says what does)."""


class Conflict(RuntimeError):
    """A change cannot be made as asked because of what is stored now."""


@dataclass(frozen=True)
class Source:
    """Who made a change and the message that made it: the audit trail's 'who and why'."""

    actor: str
    channel: str = "console"
    text: str = ""
    message_id: str | None = None


@dataclass(frozen=True)
class Change:
    """One stored change (an update or an audit entry), as history shows it."""

    table: str
    doc_id: int
    at: datetime
    actor: str
    action: str
    entity: str
    changes: dict[str, list[Any]]
    note: str | None
    text: str
    undone: bool = False


def _date_or_none(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Status | Role):
        return value.value
    return value


class Repository:
    """Open with `Repository.open(data_dir)`; close when done."""

    def __init__(self, store: DocumentStore, clock: Clock = utc_now) -> None:
        self.store = store
        self.clock = clock
        self._memos: dict[str, tuple[tuple[int, int], Any]] = {}

    def _memo(self, name: str, table: str, build: Callable[[], T]) -> T:
        """`build()`'s result, rebuilt only after `table` (all `build` reads) changed.

        Every message identifies its sender and most questions read all objectives and
        risks; at 100k updates rebuilding them each time cost more than the reply. The
        table's version moves on every change to it, in this process or caught up from
        another, so a memo can never be stale; keyed on the table rather than the whole
        store, people and risks survive the stream of updates. The domain objects are
        frozen, and lists are copied on the way out.
        """
        version = self.store.version(table)
        hit = self._memos.get(name)
        if hit is None or hit[0] != version:
            hit = (version, build())
            self._memos[name] = hit
        return hit[1]

    @classmethod
    def open(
        cls, data_dir: str | Path, clock: Clock = utc_now, **engine_options: Any
    ) -> Repository:
        store = DocumentStore.open(
            data_dir, log_tables=LOG_TABLES, indexes=INDEXES, **engine_options
        )
        return cls(store, clock)

    @staticmethod
    def holds_store(data_dir: str | Path) -> bool:
        """Whether `data_dir` already holds a store (a snapshot or a journal); reads only."""
        return any((Path(data_dir) / name).exists() for name in (SNAPSHOT_NAME, JOURNAL_NAME))

    def close(self) -> None:
        self.store.close()

    @property
    def warnings(self) -> list[str]:
        return self.store.warnings

    @property
    def data_dir(self) -> Path:
        """The folder the store lives in (charts and other files go next to it)."""
        return self.store.directory

    def export_tables(self) -> dict[str, list[dict[str, Any]]]:
        """Every table as a list of documents with their ids (export, downloads)."""
        return self.store.export_tables()

    @property
    def store_files(self) -> tuple[Path, Path]:
        """(snapshot, journal): the files a backup or an operator looks at."""
        return self.data_dir / SNAPSHOT_NAME, self.data_dir / JOURNAL_NAME

    def health(self) -> dict[str, Any]:
        """{"ok": True}, or {"ok": False, "reason": "the server's disk is full"} while
        writes fail; recovers by itself once the disk takes writes again."""
        return self.store.health()

    async def refresh(self) -> None:
        await self.store.refresh()

    @staticmethod
    def watching_commits() -> contextlib.AbstractContextManager[list[int]]:
        """The journal numbers of what the current task commits inside the block."""
        return watching_commits()

    async def settled(self) -> None:
        """Wait until what the store holds in memory is durable: before anything read from
        it leaves the process (see DocumentStore.transaction, group commit)."""
        await self.store.settled()

    # =========================================================== reads: strategy
    def is_empty(self) -> bool:
        return self.store.count("objectives") == 0 and self.store.count("people") == 0

    def _one(self, table: str, key: Any) -> Document | None:
        docs = self.store.lookup(table, "key", key)
        return docs[0] if docs else None

    def strategy_info(self) -> dict[str, Any]:
        doc = self._one("meta", "strategy")
        return dict(doc["value"]) if doc else {}

    def themes(self) -> list[Theme]:
        docs = sorted(self.store.iterate("themes"), key=lambda d: d["number"])
        return [Theme(d["number"], d["title"], tuple(d.get("aliases") or ())) for d in docs]

    def theme(self, number: int) -> Theme | None:
        doc = self._one("themes", str(number))
        return Theme(doc["number"], doc["title"], tuple(doc.get("aliases") or ())) if doc else None

    def directorates(self) -> list[Directorate]:
        docs = sorted(self.store.iterate("directorates"), key=lambda d: d["name"])
        return [Directorate(d["key"], d["name"], d.get("lead")) for d in docs]

    def directorate(self, directorate_id: str) -> Directorate | None:
        doc = self._one("directorates", directorate_id)
        return Directorate(doc["key"], doc["name"], doc.get("lead")) if doc else None

    @staticmethod
    def _person(doc: Mapping[str, Any]) -> Person:
        return Person(
            id=doc["key"],
            name=doc["name"],
            role=Role(doc["role"]),
            directorate=doc.get("directorate"),
            slack_id=doc.get("slack_id"),
            teams_id=doc.get("teams_id"),
            email=doc.get("email"),
            strategy_group=bool(doc.get("strategy_group")),
        )

    def people(self) -> list[Person]:
        return list(self._memo("people", "people", self._build_people))

    def _build_people(self) -> list[Person]:
        return sorted((self._person(d) for d in self.store.iterate("people")), key=lambda p: p.name)

    def _chat_index(self) -> dict[tuple[str, str], Person]:
        """(field, value) -> person for slack_id, teams_id and lower-case email."""
        index: dict[tuple[str, str], Person] = {}
        for person in reversed(self.people()):  # the first by name wins a clash
            for name in ("slack_id", "teams_id"):
                if getattr(person, name):
                    index[(name, getattr(person, name))] = person
            if person.email:
                index[("email", person.email.lower())] = person
        return index

    def person(self, person_id: str | None) -> Person | None:
        doc = self._one("people", person_id) if person_id else None
        return self._person(doc) if doc else None

    def person_by_chat(
        self, user_id: str | None = None, email: str | None = None, channel: str | None = None
    ) -> Person | None:
        """Match a Slack user id, a Teams/Entra object id or an e-mail to a person.

        With `channel` ("slack"/"teams") a user id is matched only against that channel's
        field: a Teams id never matches someone's `slack_id`, and the other way round.
        """
        email = (email or "").strip().lower()
        fields = {"slack": ("slack_id",), "teams": ("teams_id",)}.get(
            channel or "", ("slack_id", "teams_id")
        )
        index = self._memo("chat index", "people", self._chat_index)
        for name in fields:
            if user_id and (name, user_id) in index:
                return index[(name, user_id)]
        return index.get(("email", email)) if email else None

    # =========================================================== reads: objectives
    @staticmethod
    def _objective(doc: Any) -> Objective:
        return Objective(
            id=doc["key"],
            theme=doc["theme"],
            title=doc["title"],
            directorate=doc["directorate"],
            owner=doc.get("owner"),
            due=_date_or_none(doc.get("due")),
            status=Status(doc.get("status", Status.NOT_STARTED.value)),
            progress=doc.get("progress"),
            last_update=doc.get("last_update"),
            doc_id=getattr(doc, "doc_id", None),
            aliases=tuple(doc.get("aliases") or ()),
        )

    def objectives(self) -> list[Objective]:
        return list(self._memo("objectives", "objectives", self._build_objectives))

    def _build_objectives(self) -> list[Objective]:
        def order(o: Objective) -> tuple[int, ...]:
            return tuple(int(p) if p.isdigit() else 0 for p in o.id.split("."))

        return sorted((self._objective(d) for d in self.store.iterate("objectives")), key=order)

    def objective(self, objective_id: str) -> Objective | None:
        doc = self._one("objectives", objective_id)
        return self._objective(doc) if doc else None

    # =========================================================== reads: risks
    @staticmethod
    def _risk(doc: Any) -> Risk:
        return Risk(
            id=doc["key"],
            title=doc["title"],
            likelihood=doc["likelihood"],
            impact=doc["impact"],
            owner=doc.get("owner"),
            mitigation=doc.get("mitigation"),
            theme=doc.get("theme"),
            objective=doc.get("objective"),
            review=_date_or_none(doc.get("review")),
            open=doc.get("open", True),
            created_at=doc.get("created_at"),
            doc_id=getattr(doc, "doc_id", None),
        )

    def risks(self, *, include_closed: bool = False) -> list[Risk]:
        every = self._memo("risks", "risks", self._build_risks)
        return [r for r in every if include_closed or r.open]

    def _build_risks(self) -> list[Risk]:
        risks = [self._risk(d) for d in self.store.iterate("risks")]
        return sorted(risks, key=lambda r: int(r.id[1:]) if r.id[1:].isdigit() else 0)

    def risk(self, risk_id: str) -> Risk | None:
        doc = self._one("risks", risk_id.upper())
        return self._risk(doc) if doc else None

    # =========================================================== reads: history
    @staticmethod
    def _change(table: str, doc: Any) -> Change:
        if table == "updates":
            return Change(
                table,
                doc.doc_id,
                parse_iso(doc["at"]),
                doc["author"],
                "update",
                f"objective:{doc['objective_id']}",
                doc.get("changes", {}),
                doc.get("note"),
                doc.get("text", ""),
                bool(doc.get("undone")),
            )
        return Change(
            table,
            doc.doc_id,
            parse_iso(doc["at"]),
            doc["actor"],
            doc["action"],
            doc["entity"],
            doc.get("changes", {}),
            doc.get("note"),
            doc.get("text", ""),
            bool(doc.get("undone")),
        )

    def updates_for(self, objective_id: str, latest: int | None = None) -> list[Change]:
        """Updates to one objective, oldest first (indexed: no scan); `latest` keeps the last N."""
        docs = self.store.lookup("updates", "objective_id", objective_id, latest=latest)
        return [self._change("updates", d) for d in docs]

    def history(self, entity: str) -> list[Change]:
        """Updates and audited changes of one entity ("objective:3.2", "risk:R4"), oldest first."""
        changes = [self._change("audit", d) for d in self.store.lookup("audit", "entity", entity)]
        kind, _, key = entity.partition(":")
        if kind == "objective":
            changes += self.updates_for(key)
        return sorted(changes, key=lambda c: (c.at, c.table == "audit", c.doc_id))

    def changes_since(self, since: datetime) -> list[Change]:
        """Updates and audited changes since a moment, newest first, reading only recent ones."""
        cutoff = iso(since)
        found: list[Change] = []
        for table in LOG_TABLES:
            for doc in self.store.newest(table):
                if doc["at"] < cutoff:
                    break
                found.append(self._change(table, doc))
        return sorted(found, key=lambda c: c.at, reverse=True)

    def last_change_by(self, person_id: str) -> Change | None:
        """The person's most recent change that has not been undone (what `undo` reverts).

        "Most recent" is journal order: every change records the number of the journal
        entry that wrote it (`seq`), so two changes in the same second are told apart.
        Entries written before `seq` was recorded sort by time, before any that have it.
        """
        candidates = []
        for table, field_name in (("updates", "author"), ("audit", "actor")):
            for doc in reversed(self.store.lookup(table, field_name, person_id)):
                if not doc.get("undone") and doc.get("action") != "undo":
                    candidates.append((_journal_order(doc), self._change(table, doc)))
                    break
        return max(candidates, key=lambda pair: pair[0], default=(None, None))[1]

    def _changed_since(self, change: Change, entity: str) -> list[Change]:
        """Changes to `entity` after `change` (journal order) that still stand."""
        found = []
        docs = [("audit", d) for d in self.store.lookup("audit", "entity", entity)]
        kind, _, key = entity.partition(":")
        if kind == "objective":
            docs += [("updates", d) for d in self.store.lookup("updates", "objective_id", key)]
        mine = (change.table, change.doc_id)
        order = None
        for table, doc in docs:
            if (table, doc.doc_id) == mine:
                order = _journal_order(doc)
        for table, doc in docs:
            if (table, doc.doc_id) == mine or doc.get("undone") or doc.get("action") == "undo":
                continue
            if order is None or _journal_order(doc) > order:
                found.append(self._change(table, doc))
        return found

    def recorded_message(self, channel: str, message_id: str | None, since: float) -> bool:
        """Whether a change from this chat message was stored at or after `since` (epoch)."""
        if not message_id:
            return False
        cutoff = iso(datetime.fromtimestamp(since - 1, UTC))
        for table in LOG_TABLES:
            for doc in self.store.newest(table):
                if doc["at"] < cutoff:
                    break
                if doc.get("message_id") == message_id and doc.get("channel") == channel:
                    return True
        return False

    # =========================================================== reads: meta
    def meta(self, key: str) -> Any:
        doc = self._one("meta", key)
        return doc["value"] if doc else None

    def conversation(self, key: str) -> dict[str, Any] | None:
        doc = self._one("conversations", key)
        return dict(doc["value"]) if doc else None

    # =========================================================== writes
    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self.store.transaction() as tx:
            yield tx

    def _audit(
        self,
        tx: Transaction,
        source: Source,
        action: str,
        entity: str,
        changes: Mapping[str, list[Any]],
        note: str | None = None,
        **extra: Any,
    ) -> int:
        return tx.insert(
            "audit",
            {
                "at": iso(self.clock()),
                "seq": tx.seq,
                "actor": source.actor,
                "action": action,
                "entity": entity,
                "changes": {k: [_jsonable(a), _jsonable(b)] for k, (a, b) in changes.items()},
                "note": note,
                "text": source.text,
                "channel": source.channel,
                "message_id": source.message_id,
                **extra,
            },
        )

    async def record_update(
        self,
        objective_id: str,
        source: Source,
        *,
        status: Status | None = None,
        progress: int | None = None,
        due: date | None = None,
        note: str | None = None,
    ) -> Change:
        """Add an update to an objective's history and move its current state on."""
        async with self.store.transaction() as tx:
            doc = self._one("objectives", objective_id)
            if doc is None:
                raise NotFound(objective_id)
            wanted = {"status": _jsonable(status), "progress": progress, "due": _jsonable(due)}
            changes = {
                k: [doc.get(k), v] for k, v in wanted.items() if v is not None and doc.get(k) != v
            }
            now = iso(self.clock())
            update = {
                "objective_id": objective_id,
                "author": source.actor,
                "at": now,
                "seq": tx.seq,
                "changes": changes,
                "note": note,
                "text": source.text,
                "channel": source.channel,
                "message_id": source.message_id,
            }
            doc_id = tx.insert("updates", update)
            tx.update(
                "objectives",
                doc.doc_id,
                {**{k: new for k, (_, new) in changes.items()}, "last_update": now},
            )
        return self._change("updates", Document(update, doc_id))

    async def add_objective(self, fields: Mapping[str, Any], source: Source) -> Objective:
        async with self.store.transaction() as tx:
            key = fields["key"]
            if self._one("objectives", key):
                raise Conflict(f"objective {key} already exists")
            doc = {k: _jsonable(v) for k, v in fields.items()}
            doc.setdefault("status", Status.NOT_STARTED.value)
            doc_id = tx.insert("objectives", doc)
            self._audit(
                tx,
                source,
                "add objective",
                f"objective:{key}",
                {k: [None, v] for k, v in doc.items()},
            )
        return self._objective(Document(doc, doc_id))

    async def change_objective(
        self, objective_id: str, fields: Mapping[str, Any], source: Source, action: str
    ) -> dict[str, list[Any]]:
        """Edit an objective's own fields (owner, title, directorate) with an audit entry."""
        async with self.store.transaction() as tx:
            doc = self._one("objectives", objective_id)
            if doc is None:
                raise NotFound(objective_id)
            new = {k: _jsonable(v) for k, v in fields.items()}
            changes = {k: [doc.get(k), v] for k, v in new.items() if doc.get(k) != v}
            if changes:
                tx.update("objectives", doc.doc_id, new)
                self._audit(tx, source, action, f"objective:{objective_id}", changes)
        return changes

    async def add_risk(self, fields: Mapping[str, Any], source: Source) -> Risk:
        """Log a new risk with the next free id (R1, R2, ...), safe under concurrency."""
        async with self.store.transaction() as tx:
            numbers = [int(k[1:]) for k in self.store.index_keys("risks", "key") if k[1:].isdigit()]
            counter = self.meta("risk_counter") or 0
            key = f"R{max([counter, *numbers]) + 1}"
            doc = {k: _jsonable(v) for k, v in fields.items() if v is not None}
            doc.update(key=key, open=True, created_at=iso(self.clock()), created_by=source.actor)
            doc_id = tx.insert("risks", doc)
            self._set_meta(tx, "risk_counter", int(key[1:]))
            self._audit(
                tx, source, "add risk", f"risk:{key}", {k: [None, v] for k, v in doc.items()}
            )
        return self._risk(Document(doc, doc_id))

    async def change_risk(
        self, risk_id: str, fields: Mapping[str, Any], source: Source, action: str
    ) -> dict[str, list[Any]]:
        async with self.store.transaction() as tx:
            doc = self._one("risks", risk_id.upper())
            if doc is None:
                raise NotFound(risk_id)
            new = {k: _jsonable(v) for k, v in fields.items()}
            changes = {k: [doc.get(k), v] for k, v in new.items() if doc.get(k) != v}
            if changes:
                tx.update("risks", doc.doc_id, {**new, "updated_at": iso(self.clock())})
                self._audit(tx, source, action, f"risk:{doc['key']}", changes)
        return changes

    async def undo_last(self, source: Source) -> tuple[Change, dict[str, list[Any]]]:
        """Revert the person's last change if nobody has changed those fields since."""
        async with self.store.transaction() as tx:
            change = self.last_change_by(source.actor)
            if change is None:
                raise NotFound("nothing to undo")
            kind, _, key = change.entity.partition(":")
            table = "objectives" if kind == "objective" else "risks"
            doc = self._one(table, key)
            if change.action in ("add risk", "add objective"):
                if doc is None:
                    raise Conflict(f"{key} no longer exists")
                later = self._changed_since(change, change.entity)
                if later:
                    who = sorted({c.actor for c in later})
                    raise Conflict(
                        f"{key} was changed since you added it (by {', '.join(who)}), so "
                        f"removing it would throw away their change"
                    )
                tx.remove(table, doc.doc_id)
                reverted = {k: [v, None] for k, v in doc.items()}
            else:
                if doc is None:
                    raise Conflict(f"{key} no longer exists")
                moved = [f for f, (_, new) in change.changes.items() if doc.get(f) != new]
                if moved:
                    raise Conflict(
                        f"{', '.join(moved)} of {key} changed again since your "
                        f"{change.action}, so undoing it would overwrite someone's later change"
                    )
                reverted = {f: [new, old] for f, (old, new) in change.changes.items()}
                restore = {f: old for f, (old, _) in change.changes.items()}
                if change.table == "updates":
                    earlier = [
                        u
                        for u in self.updates_for(key)
                        if not u.undone and u.doc_id != change.doc_id
                    ]
                    restore["last_update"] = iso(earlier[-1].at) if earlier else None
                if restore:
                    tx.update(table, doc.doc_id, restore)
            tx.update(change.table, change.doc_id, {"undone": True})
            self._audit(
                tx,
                source,
                "undo",
                change.entity,
                reverted,
                note=f"undid {change.action} of {iso(change.at)}",
                undoes=[change.table, change.doc_id],
            )
        return change, reverted

    def _set_meta(self, tx: Transaction, key: str, value: Any) -> None:
        doc = self._one("meta", key)
        if doc is None:
            tx.insert("meta", {"key": key, "value": value})
        else:
            tx.update("meta", doc.doc_id, {"value": value})

    async def set_meta(self, key: str, value: Any) -> None:
        async with self.store.transaction() as tx:
            self._set_meta(tx, key, value)

    async def claim(self, key: str, value: Any) -> bool:
        """Record `key` once: True for the first caller in any process, False ever after.

        Used for exactly-once work such as sending a digest: the claim is durable before
        the caller acts, and the flock + catch-up makes it exclusive across processes.
        Claims whose key starts `seen:` expire after a day (storage/inbox.py).
        """
        async with self.store.transaction() as tx:
            if self._one("meta", key) is not None:
                return False
            tx.insert("meta", {"key": key, "value": value, "at": time.time()})
            return True

    async def save_conversation(self, key: str, reference: Mapping[str, Any]) -> None:
        """Remember how to reach someone proactively (Teams reference, Slack ids)."""
        async with self.store.transaction() as tx:
            doc = self._one("conversations", key)
            if doc is None:
                tx.insert("conversations", {"key": key, "value": dict(reference)})
            elif doc["value"] != reference:
                tx.update("conversations", doc.doc_id, {"value": dict(reference)})

    async def load_strategy(self, strategy: Any, source: Source) -> dict[str, int]:
        """Apply a validated strategy file: sync configuration, add objectives not yet stored.

        People, directorates, themes and the strategy group are configuration and follow
        the file. Objectives already in the store keep what chat has recorded (status,
        progress, due date); the file only adds new ones, so restarting never rolls back
        an officer's update.
        """
        counts = {"themes": 0, "directorates": 0, "people": 0, "objectives": 0, "risks": 0}
        async with self.store.transaction() as tx:
            self._set_meta(tx, "strategy", strategy.info)
            for table, docs in (
                ("themes", strategy.theme_docs()),
                ("directorates", strategy.directorate_docs()),
                ("people", strategy.people_docs()),
            ):
                for doc in docs:
                    existing = self._one(table, doc["key"])
                    if existing is None:
                        tx.insert(table, doc)
                        counts[table] += 1
                    elif {k: existing.get(k) for k in doc} != doc:
                        tx.update(table, existing.doc_id, doc)
                        counts[table] += 1
            for doc in strategy.objective_docs():
                if self._one("objectives", doc["key"]) is None:
                    tx.insert("objectives", doc)
                    counts["objectives"] += 1
            if self.store.count("risks") == 0 and not self.meta("risk_counter"):
                for number, risk in enumerate(strategy.risk_docs(), start=1):
                    key = f"R{number}"
                    tx.insert(
                        "risks",
                        {
                            **risk,
                            "key": key,
                            "open": True,
                            "created_at": iso(self.clock()),
                            "created_by": source.actor,
                        },
                    )
                    counts["risks"] += 1
                if counts["risks"]:
                    self._set_meta(tx, "risk_counter", counts["risks"])
            if any(counts.values()):
                self._audit(
                    tx,
                    source,
                    "load strategy",
                    "strategy",
                    {k: [None, v] for k, v in counts.items() if v},
                )
        return counts

    async def import_objectives(
        self, rows: Iterable[Mapping[str, Any]], source: Source
    ) -> dict[str, int]:
        """Insert new objectives and update changed ones, all in one durable transaction."""
        counts = {"added": 0, "updated": 0, "unchanged": 0}
        async with self.store.transaction() as tx:
            for row in rows:
                doc = {k: _jsonable(v) for k, v in row.items() if v is not None}
                existing = self._one("objectives", doc["key"])
                if existing is None:
                    doc.setdefault("status", Status.NOT_STARTED.value)
                    tx.insert("objectives", doc)
                    counts["added"] += 1
                    changes = {k: [None, v] for k, v in doc.items()}
                else:
                    changes = {
                        k: [existing.get(k), v] for k, v in doc.items() if existing.get(k) != v
                    }
                    if not changes:
                        counts["unchanged"] += 1
                        continue
                    tx.update("objectives", existing.doc_id, doc)
                    counts["updated"] += 1
                self._audit(tx, source, "import objective", f"objective:{doc['key']}", changes)
        return counts

    # =========================================================== digests (issue 4)
    # Subscriptions live in one meta document, {directorate id: [person ids]}. They are
    # preferences, not strategy data, so they are not audited: an audit entry would
    # make `undo` try to revert a subscription as if it were an objective or risk.
    def subscriptions(self) -> dict[str, list[str]]:
        """Who follows which directorate's digest besides its lead."""
        return {k: list(v) for k, v in (self.meta("subscriptions") or {}).items()}

    def subscribers(self, directorate_id: str) -> list[str]:
        return self.subscriptions().get(directorate_id, [])

    async def subscribe(self, person_id: str, directorate_id: str) -> bool:
        """Add a subscription; False if the person already had it."""
        async with self.store.transaction() as tx:
            current = self.subscriptions()
            people = current.setdefault(directorate_id, [])
            if person_id in people:
                return False
            people.append(person_id)
            self._set_meta(tx, "subscriptions", current)
            return True

    async def unsubscribe(self, person_id: str, directorate_id: str | None = None) -> list[str]:
        """Drop one subscription, or all of the person's; returns the directorates dropped."""
        async with self.store.transaction() as tx:
            current = self.subscriptions()
            dropped = [d for d, people in current.items()
                       if person_id in people and directorate_id in (None, d)]  # fmt: skip
            for directorate in dropped:
                current[directorate].remove(person_id)
            if dropped:
                self._set_meta(tx, "subscriptions", {k: v for k, v in current.items() if v})
            return dropped

    async def append_meta(self, key: str, item: Any, keep: int = 500) -> None:
        """Append to a list kept under `key` (newest last, at most `keep`), atomically."""
        async with self.store.transaction() as tx:
            items = list(self.meta(key) or [])
            items.append(item)
            self._set_meta(tx, key, items[-keep:])
