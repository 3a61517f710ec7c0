"""Shared by the tests/test_store_*.py proofs: a seeded store, child processes, checks."""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage.files import JOURNAL_NAME, SNAPSHOT_NAME, decode_line
from storage.repository import Repository, Source
from tracker.strategy_file import load_strategy

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "config" / "strategy.sample.yaml"
CHILD = ROOT / "tests" / "store_child.py"
OBJECTIVES = [f"{t}.{n}" for t in range(1, 6) for n in range(1, 5)]


class StepClock:
    """A clock that moves one second per reading, so stores built twice are identical."""

    def __init__(self, start: datetime = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


async def seeded(data: Path, **options) -> Repository:
    """A store holding the sample strategy (20 objectives, 12 people, 5 risks)."""
    repo = Repository.open(data, **options)
    await repo.load_strategy(load_strategy(SAMPLE), Source("tcarter", "console", "load"))
    return repo


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hashes(data: Path) -> dict[str, str]:
    return {p.name: sha256(p) for p in sorted(data.iterdir()) if p.is_file()}


def journal_records(data: Path) -> list[dict]:
    """Every entry of the journal, asserting each line is whole and the numbering unbroken."""
    lines = (data / JOURNAL_NAME).read_bytes().splitlines(keepends=True)
    header = decode_line(lines[0])
    assert header is not None and header["format"] == "strategy-tracker-store"
    records = [decode_line(line) for line in lines[1:]]
    assert all(r is not None for r in records), "a journal line is damaged or torn"
    seqs = [r["seq"] for r in records]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) if seqs else True, seqs
    return records


def child(*args: str, **popen) -> subprocess.Popen:
    """Start tests/store_child.py with the given arguments (stdout piped, line-buffered)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(CHILD), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def store_files(data: Path) -> tuple[Path, Path]:
    return data / SNAPSHOT_NAME, data / JOURNAL_NAME


def cli(*argv: str) -> int:
    """Run one of the store subcommands in-process, as `python -m bot ...` would."""
    from bot.subcommands import store

    parser = argparse.ArgumentParser()
    store.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.func(args)
