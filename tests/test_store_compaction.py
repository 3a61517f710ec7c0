"""Compaction changes the files, never the data; other open stores follow it."""

from __future__ import annotations

import contextlib
from pathlib import Path

from storage.files import JOURNAL_NAME
from storage.repository import Conflict, Repository, Source
from tests.store_helpers import OBJECTIVES, StepClock, child, journal_records, seeded
from tracker.model import Status


async def workload(repo: Repository, tag: str, count: int) -> None:
    for n in range(count):
        await repo.record_update(
            OBJECTIVES[n % 20],
            Source(f"{tag}{n % 4}", "console", f"{tag} {n}"),
            progress=n % 101,
            status=Status.AT_RISK if n % 5 == 0 else None,
            note="ü" * (n % 13),
        )
        if n % 10 == 3:
            risk = await repo.add_risk({"title": f"risk {n}", "likelihood": 2, "impact": 3},
                                       Source(tag))  # fmt: skip
            await repo.change_risk(risk.id, {"impact": 4}, Source(tag), "change impact")
        if n % 17 == 0:
            with contextlib.suppress(Conflict):  # someone else changed it since: refused
                await repo.undo_last(Source(f"{tag}{n % 4}"))


async def test_forced_compaction_keeps_the_data_identical(tmp_path: Path) -> None:
    tiny = await seeded(tmp_path / "tiny", clock=StepClock(), compact_bytes=2048)
    plain = await seeded(tmp_path / "plain", clock=StepClock())
    await workload(tiny, "u", 120)
    await workload(plain, "u", 120)
    assert tiny.store.generation > 20 and plain.store.generation == 1
    assert tiny.store.export_tables() == plain.store.export_tables()
    assert (tmp_path / "tiny" / JOURNAL_NAME).stat().st_size <= 2048 + 2000
    expected = plain.store.export_tables()
    tiny.close()
    plain.close()
    reopened = Repository.open(tmp_path / "tiny")
    assert reopened.store.export_tables() == expected
    assert reopened.history("objective:3.2") and reopened.risks()
    reopened.close()
    journal_records(tmp_path / "tiny")


async def test_an_open_store_follows_another_stores_compactions(tmp_path: Path) -> None:
    a = await seeded(tmp_path, compact_bytes=2048)  # compacts every few writes
    b = Repository.open(tmp_path)  # a second process (its own lock file description)
    for round_ in range(5):
        await workload(a, f"a{round_}-", 15)
        await b.refresh()  # sees a's compactions without writing
        assert b.store.export_tables() == a.store.export_tables()
        await workload(b, f"b{round_}-", 5)  # and writes on top of them
        await a.refresh()
        assert a.store.export_tables() == b.store.export_tables()
    assert a.store.generation > 10
    expected = a.store.export_tables()
    a.close()
    b.close()
    fresh = Repository.open(tmp_path)
    assert fresh.store.export_tables() == expected
    assert len(fresh.store.all("updates")) == 5 * 20
    fresh.close()


async def test_a_process_keeps_working_while_another_process_compacts(tmp_path: Path) -> None:
    repo = await seeded(tmp_path)
    generation = repo.store.generation
    proc = child(str(tmp_path), "other", "0", "150", "2048")
    assert proc.stdout.readline().strip() == "ready"
    for round_ in range(6):  # interleaved with the child's writes and compactions
        for _ in range(10):
            proc.stdout.readline()
        await workload(repo, f"mine{round_}-", 10)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    await repo.refresh()
    assert repo.store.generation > generation + 5
    texts = {c.text for oid in OBJECTIVES for c in repo.updates_for(oid)}
    assert {f"other {n} progress {n % 101}" for n in range(150)} <= texts
    assert {f"mine{r}- {n}" for r in range(6) for n in range(10)} <= texts
    expected = repo.store.export_tables()
    repo.close()
    fresh = Repository.open(tmp_path)
    assert fresh.store.export_tables() == expected
    fresh.close()
