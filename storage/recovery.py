"""`python -m bot recover`: rebuild a store from whatever of it can still be read.

Used when opening the store stopped with a StoreError (damaged or truncated snapshot,
a journal damaged in the middle, a missing header, files from a newer version). It
never deletes: the original snapshot and journal end up in `damaged-<time>/` (hard
links taken before anything is replaced, so a crash half-way leaves the originals in
place), and the store is rewritten as a new snapshot plus an empty journal from

* the snapshot, if it parses and this version can read it;
* the journal's entries, in order, up to its first damaged line.

It runs under the store's flock, so a bot still running on the directory waits for it
and then reloads the rebuilt store before its next write.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storage.engine import DocumentStore
from storage.files import (
    JOURNAL_NAME,
    LOCK_NAME,
    SNAPSHOT_NAME,
    StoreError,
    check_format,
    check_snapshot,
    decode_line,
    encode_line,
    encode_snapshot,
    free_name,
    fsync_directory,
    journal_header,
    well_formed,
    write_atomically,
)
from storage.migrations import migrate

Tables = dict[str, dict[str, dict[str, Any]]]


@dataclass
class RecoveryReport:
    directory: Path
    healthy: bool = False
    aside: Path | None = None
    kept: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    generation: int = 0
    seq: int = 0

    def lines(self) -> list[str]:
        out = [f"Store in {self.directory}:"]
        out += [f"  kept:    {line}" for line in self.kept]
        out += [f"  dropped: {line}" for line in self.dropped]
        if self.healthy:
            out.append("Nothing to recover: every file reads cleanly. Nothing was changed.")
            return out
        out.append(f"Originals moved to {self.aside}/ (nothing was deleted).")
        out.append(
            f"Rebuilt {SNAPSHOT_NAME} (generation {self.generation}, up to entry {self.seq}) "
            f"and an empty {JOURNAL_NAME}; it opens cleanly and holds: {describe(self.counts)}."
        )
        return out


def describe(counts: dict[str, int]) -> str:
    shown = [f"{n} {table}" for table, n in sorted(counts.items()) if n]
    return ", ".join(shown) or "no documents"


def _counts(tables: Tables) -> dict[str, int]:
    return {name: len(docs) for name, docs in tables.items()}


@dataclass
class _Plan:
    tables: Tables
    generation: int
    seq: int
    damaged: bool


def _apply(tables: Tables, op: list[Any]) -> None:
    kind, table, key = op[0], op[1], str(int(op[2]))
    docs = tables.setdefault(table, {})
    if kind == "i":
        docs[key] = dict(op[3])
    elif kind == "u" and key in docs:
        docs[key] = {**docs[key], **op[3]}
    elif kind == "r":
        docs.pop(key, None)


def _read_snapshot(path: Path, report: RecoveryReport) -> tuple[int, int, Tables] | None:
    if not path.exists():
        return None
    try:
        content = json.loads(path.read_bytes())
        if not isinstance(content, dict):
            raise StoreError(f"{path} is not a snapshot")
        version = check_format(content, path)
        generation, seq, tables = check_snapshot(migrate(content, version), path)
    except (ValueError, UnicodeDecodeError, StoreError) as error:
        reason = (
            str(error).split(". ")[0].replace(f"{path} ", "")
            if isinstance(error, StoreError)
            else f"{type(error).__name__}: {error}"
        )
        report.dropped.append(f"{SNAPSHOT_NAME}: cannot be read ({reason}); nothing taken from it")
        raise _Unreadable from None
    report.kept.append(
        f"{SNAPSHOT_NAME}: generation {generation}, entries up to {seq}: "
        f"{describe(_counts(tables))}"
    )
    return generation, seq, tables


class _Unreadable(Exception):
    pass


def _plan(directory: Path, report: RecoveryReport) -> _Plan:
    """What can be kept: the snapshot if readable, then the journal's usable entries."""
    damaged = False
    try:
        snapshot = _read_snapshot(directory / SNAPSHOT_NAME, report)
    except _Unreadable:
        snapshot, damaged = None, True
    snap_generation, seq, tables = snapshot or (0, 0, {})
    plan = _Plan(tables, max(snap_generation, 1), seq, damaged)
    journal_path = directory / JOURNAL_NAME
    if not journal_path.exists():
        return plan
    lines = journal_path.read_bytes().split(b"\n")
    complete = [line + b"\n" for line in lines[:-1]]
    tail = lines[-1]  # bytes after the last newline: a torn last write, if any
    try:
        header = _journal_header(complete, journal_path, plan, report)
    except _Unreadable:
        plan.damaged = True
        return plan
    journal_generation = header.get("generation") if header is not None else None
    if snapshot and isinstance(journal_generation, int) and journal_generation < snap_generation:
        report.kept.append(
            f"{JOURNAL_NAME}: nothing needed (older than the snapshot, which already holds "
            f"its entries: a compaction was interrupted)"
        )
        return plan
    applied = _replay(plan, complete, tail, snapshot is not None, report)
    if not applied and header is not None:
        report.kept.append(f"{JOURNAL_NAME}: no entries after the snapshot")
    return plan


def _journal_header(
    complete: list[bytes], path: Path, plan: _Plan, report: RecoveryReport
) -> dict[str, Any] | None:
    """The journal's header, or None if it is damaged (its entries are still tried).

    Raises _Unreadable when the file is not one this version may read: another program's,
    or a newer version's; then nothing is taken from it.
    """
    header = decode_line(complete[0]) if complete else None
    if header is None:
        plan.damaged = True
        report.dropped.append(f"{JOURNAL_NAME}: line 1 (the header) is damaged")
        return None
    try:
        check_format(header, path)
    except StoreError as error:
        report.dropped.append(
            f"{JOURNAL_NAME}: all of it ({str(error).split('. ')[0]}); nothing taken from it"
        )
        raise _Unreadable from None
    generation = header.get("generation")
    if isinstance(generation, int):
        plan.generation = max(plan.generation, generation)
    return header


def _replay(
    plan: _Plan, complete: list[bytes], tail: bytes, had_snapshot: bool, report: RecoveryReport
) -> bool:
    """Apply the journal's entries after the snapshot, in order, up to the first damage;
    True if any was applied."""
    applied: list[int] = []
    gap_before: int | None = None
    for number, line in enumerate(complete[1:], start=2):
        record = decode_line(line)
        if record is None or not well_formed(record):
            last = len(complete)
            extra = f" and {len(tail)} bytes of an unfinished line" if tail else ""
            report.dropped.append(
                f"{JOURNAL_NAME}: lines {number}-{last}{extra} (the first damaged line is "
                f"{number}; everything from it on is set aside unread)"
            )
            plan.damaged, tail = True, b""
            break
        if record["seq"] <= plan.seq:
            continue
        if record["seq"] != plan.seq + 1:
            if applied or had_snapshot:
                report.dropped.append(
                    f"{JOURNAL_NAME}: lines {number}-{len(complete)} (entry {plan.seq + 1} is "
                    f"missing before entry {record['seq']} on line {number})"
                )
                plan.damaged, tail = True, b""
                break
            gap_before, plan.damaged = record["seq"], True
        for op in record["ops"]:
            _apply(plan.tables, op)
        plan.seq = record["seq"]
        applied.append(number)
    if tail:
        report.dropped.append(
            f"{JOURNAL_NAME}: a torn last line ({len(tail)} bytes, never confirmed)"
        )
    if applied:
        report.kept.append(
            f"{JOURNAL_NAME}: {len(applied)} entries, up to entry {plan.seq} "
            f"(lines {applied[0]}-{applied[-1]})"
        )
    if gap_before is not None:
        report.dropped.append(
            f"entries 1-{gap_before - 1}, which only the unreadable snapshot held: the "
            f"journal's entries were applied to what remains, so documents they changed may be "
            f"missing. Restore a backup if you have one"
        )
    return bool(applied)


def _healthy(directory: Path) -> bool:
    """True when the store opens as it is (a torn last line is normal; open repairs it)."""
    try:
        DocumentStore.open(directory).close()
    except StoreError:
        return False
    return True


def _preserve(path: Path, aside: Path) -> None:
    """Keep `path` under `aside/` before it is replaced: a hard link, or a copy if need be."""
    target = aside / path.name
    try:
        os.link(path, target)
    except OSError:
        shutil.copy2(path, target)
        with open(target, "rb+") as handle:
            os.fsync(handle.fileno())


def recover(directory: str | Path) -> RecoveryReport:
    """Rebuild the store in `directory` from what can be read; see the module docstring."""
    directory = Path(directory)
    names = [n for n in (SNAPSHOT_NAME, JOURNAL_NAME) if (directory / n).exists()]
    if not names:
        raise StoreError(f"{directory} holds no store ({SNAPSHOT_NAME} or {JOURNAL_NAME}).")
    if _healthy(directory):
        # Opening repaired whatever a crash can leave (a torn last line, a journal older
        # than the snapshot) in the normal way; describe the store and change nothing.
        report = RecoveryReport(directory, healthy=True)
        with open(directory / LOCK_NAME, "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            _plan(directory, report)
        return report
    report = RecoveryReport(directory)
    with open(directory / LOCK_NAME, "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        plan = _plan(directory, report)
        generation = plan.generation + 1
        aside = free_name(directory / f"damaged-{time.strftime('%Y%m%dT%H%M%S')}")
        aside.mkdir()
        for name in names:
            _preserve(directory / name, aside)
        fsync_directory(aside)
        fsync_directory(directory)
        write_atomically(
            directory / SNAPSHOT_NAME, encode_snapshot(plan.tables, generation, plan.seq)
        )
        write_atomically(directory / JOURNAL_NAME, encode_line(journal_header(generation)))
    report.aside = aside
    report.generation, report.seq = generation, plan.seq
    store = DocumentStore.open(directory)  # the proof: it opens, through the normal path
    try:
        report.counts = {name: len(docs) for name, docs in store.export_tables().items()}
    finally:
        store.close()
    return report


__all__ = ["RecoveryReport", "describe", "recover"]
