"""Backups taken while another process writes are consistent; exports round-trip."""

from __future__ import annotations

import asyncio
import csv
import json
import re
import signal
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from storage.engine import DocumentStore
from storage.repository import Repository, Source
from tests.store_helpers import OBJECTIVES, StepClock, child, cli, hashes, journal_records, seeded
from tracker.model import Status

TEXT = re.compile(r"^bk (\d+) progress (\d+)$")


def check_backup(target: Path) -> int:
    """A backup opens through the normal path and is one consistent moment of the store."""
    journal_records(target)
    repo = Repository.open(target)
    try:
        assert not repo.warnings
        numbers, newest = [], {}
        for oid in OBJECTIVES:
            for change in repo.updates_for(oid):
                number, progress = map(int, TEXT.match(change.text).groups())
                numbers.append(number)
                newest[oid] = progress
        assert sorted(numbers) == list(range(len(numbers)))  # a prefix of the writes
        for oid, progress in newest.items():
            assert repo.objective(oid).progress == progress  # no half transaction
        return len(numbers)
    finally:
        repo.close()


def test_backups_taken_during_writes_by_another_process(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    data = tmp_path / "data"
    asyncio.run(seeded(data)).close()
    writer = child(str(data), "bk", "0", "0", "16384")
    try:
        assert writer.stdout.readline().strip() == "ready"
        sizes = []
        for number in range(5):
            for _ in range(40):  # let some writes happen between backups
                writer.stdout.readline()
            target = tmp_path / f"backup{number}"
            assert cli("backup", "--data", str(data), "--to", str(target)) == 0
            assert "Verified" in capsys.readouterr().out
            sizes.append(check_backup(target))
        assert sizes == sorted(sizes) and sizes[-1] > sizes[0] >= 40
    finally:
        writer.send_signal(signal.SIGTERM)
        writer.communicate()


def test_backup_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    asyncio.run(seeded(tmp_path / "data")).close()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    assert cli("backup", "--data", str(tmp_path / "data"), "--to", str(tmp_path / "full")) == 1


async def history(data: Path) -> None:
    """A store with everything an export must carry: updates, risks, undo, meta."""
    repo = await seeded(data, clock=StepClock(datetime(2026, 7, 1, 8, 0, tzinfo=UTC)))
    said = Source("mkhan", "slack", "update 3.2 on track 65%")
    await repo.record_update("3.2", said, status=Status.ON_TRACK, progress=65, note="survey done")
    said = Source("dnowak", "teams", "2.4 due 31/03/2028")
    await repo.record_update("2.4", said, due=date(2028, 3, 31), note='{"json": "<b>x</b>"}')
    said = Source("spatel", "console", "5.1 is red")
    await repo.record_update("5.1", said, status=Status.OFF_TRACK)
    risk = await repo.add_risk(
        {"title": "Supplier insolvency", "likelihood": 3, "impact": 5, "objective": "3.2",
         "owner": "rgrant", "review": date(2026, 12, 1)}, Source("rgrant", "console", "add risk"),
    )  # fmt: skip
    await repo.change_risk(risk.id, {"likelihood": 4}, Source("rgrant"), "change likelihood")
    await repo.undo_last(Source("spatel", "console", "undo"))
    await repo.save_conversation("teams:spatel", {"conversation": {"id": "a:1"}})
    repo.close()


def export_tables(path: Path) -> dict:
    return json.loads(path.read_bytes())["tables"]


def test_export_json_then_import_into_an_empty_store_gives_the_same_data(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    data, copy = tmp_path / "data", tmp_path / "copy"
    asyncio.run(history(data))
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert cli("export", "--data", str(data), "--format", "json", "--to", str(first)) == 0
    assert cli("import-json", str(first), "--data", str(copy)) == 0
    assert cli("export", "--data", str(copy), "--format", "json", "--to", str(second)) == 0
    assert export_tables(first) == export_tables(second)
    every = {"objectives", "updates", "risks", "audit", "people", "themes", "directorates"}
    assert set(export_tables(first)) >= every | {"meta", "conversations"}
    # The same answers come out of the repository, history and undo state included.
    a, b = Repository.open(data), Repository.open(copy)
    try:
        assert a.objectives() == b.objectives() and a.risks() == b.risks()
        assert a.history("objective:5.1") == b.history("objective:5.1")
        assert a.history("risk:R6") == b.history("risk:R6")
        assert b.last_change_by("spatel") == a.last_change_by("spatel")
        assert b.store.next_id("updates") == a.store.next_id("updates")
    finally:
        a.close()
        b.close()


def test_import_refuses_a_store_that_holds_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    asyncio.run(history(data))
    export = tmp_path / "e.json"
    assert cli("export", "--data", str(data), "--format", "json", "--to", str(export)) == 0
    before = hashes(data)
    assert cli("import-json", str(export), "--data", str(data)) == 1
    assert hashes(data) == before


def test_import_into_an_opened_but_empty_store(tmp_path: Path) -> None:
    data, empty = tmp_path / "data", tmp_path / "empty"
    asyncio.run(history(data))
    DocumentStore.open(empty).close()  # a journal header, no documents
    export = tmp_path / "e.json"
    assert cli("export", "--data", str(data), "--format", "json", "--to", str(export)) == 0
    assert cli("import-json", str(export), "--data", str(empty)) == 0
    again = tmp_path / "again.json"
    assert cli("export", "--data", str(empty), "--format", "json", "--to", str(again)) == 0
    assert export_tables(export) == export_tables(again)


def test_import_rejects_files_that_are_not_exports(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"_default": {}}')
    assert cli("import-json", str(bad), "--data", str(tmp_path / "d")) == 1
    assert not (tmp_path / "d").exists()


def test_xlsx_is_what_an_officer_would_open(tmp_path: Path) -> None:
    data, path = tmp_path / "data", tmp_path / "tracker.xlsx"
    asyncio.run(history(data))
    assert cli("export", "--data", str(data), "--format", "xlsx", "--to", str(path)) == 0
    book = load_workbook(path)
    assert book.sheetnames == ["Objectives", "Updates", "Risks", "Audit trail", "People",
                               "Themes", "Directorates"]  # fmt: skip
    for sheet in book:
        assert sheet.freeze_panes == "A2"
        assert all(cell.font.bold for cell in sheet[1])
        assert sheet.column_dimensions["A"].width >= len(str(sheet["A1"].value))
    objectives = book["Objectives"]
    headers = [c.value for c in objectives[1]]
    assert headers[:7] == ["ID", "Theme", "Title", "Directorate", "Owner", "Due", "Status"]
    assert objectives.max_row == 21
    due = objectives.cell(row=2, column=headers.index("Due") + 1)
    assert isinstance(due.value, datetime) and due.number_format == "dd/mm/yyyy"
    updates = book["Updates"]
    uh = [c.value for c in updates[1]]
    rows = [dict(zip(uh, (c.value for c in row), strict=True)) for row in updates.iter_rows(2)]
    first = next(r for r in rows if r["Objective"] == "3.2")
    assert first["Objective title"] == "Thin client rollout for hot-desking staff"
    assert first["Progress before %"] == 60 and first["Progress after %"] == 65
    assert first["Note"] == "survey done"
    # Stored in UTC; shown in UK time (BST in July: one hour ahead), as a real date-time.
    assert first["When (UK time)"].hour == 9 and first["When (UK time)"].month == 7
    assert next(r for r in rows if r["Objective"] == "5.1")["Undone"] == "yes"
    risks = [c.value for c in book["Risks"][1]]
    r6 = next(row for row in book["Risks"].iter_rows(2, values_only=True) if row[0] == "R6")
    assert r6[risks.index("Score")] == 20 and r6[risks.index("Band")] == "high"
    audit = [row for row in book["Audit trail"].iter_rows(2, values_only=True)]
    assert any("likelihood: 3 → 4" in (row[5] or "") for row in audit)


def test_csv_is_one_file_per_table(tmp_path: Path) -> None:
    data, folder = tmp_path / "data", tmp_path / "csv"
    asyncio.run(history(data))
    assert cli("export", "--data", str(data), "--format", "csv", "--to", str(folder)) == 0
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(f"{t}.csv" for t in ("objectives", "updates", "risks", "audit",
                                                "people", "themes", "directorates"))  # fmt: skip
    assert (folder / "people.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8
    with open(folder / "people.csv", encoding="utf-8-sig", newline="") as handle:
        people = list(csv.DictReader(handle))
    assert any(p["Name"] == "Siobhán O'Brien" for p in people)
    with open(folder / "updates.csv", encoding="utf-8-sig", newline="") as handle:
        updates = list(csv.DictReader(handle))
    assert len(updates) == 3
    assert updates[1]["Note"] == '{"json": "<b>x</b>"}'
    assert updates[1]["Due after"] == "2028-03-31"
