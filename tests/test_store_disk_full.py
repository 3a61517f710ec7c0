"""Disk full and read-only data folders: what docs/architecture.md promises, through chat,
/healthz and the command line.

A full disk is simulated with the store's named fault points (no root tricks): the
`append` point writes half the journal line and then fails with ENOSPC, as a write that
runs out of space half-way does; `probe` keeps the health check's trial write failing.
A read-only folder is a real `chmod` when the tests run as an ordinary user, and the
`open` fault point (EROFS) otherwise, since root ignores permission bits.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.cli import main
from bot.server import create_app
from handlers.reply import Kind
from storage import faults
from storage.repository import Repository
from tests.fakes.harness import serve

FULL = "Nothing was recorded: the server's disk is full."


def torn_files(data: Path) -> list[str]:
    return sorted(p.name for p in data.iterdir() if p.name.startswith("journal.torn"))


async def test_disk_full_cuts_the_line_back_answers_questions_and_recovers(say, repo):
    journal = repo.store_files[1]
    size = journal.stat().st_size
    progress = repo.objective("3.2").progress
    partial = faults.disk_full(partial=True)
    with faults.armed("append", partial), faults.armed("probe", faults.disk_full()):
        for _ in range(3):
            reply = await say("update 3.2 on track 65% kit ordered", as_="mkhan")
            assert reply.kind is Kind.ERROR and reply.title == FULL
            assert journal.stat().st_size == size  # the half-written line was cut back
            assert torn_files(repo.data_dir) == []
        assert repo.health() == {"ok": False, "reason": "the server's disk is full"}
        question = await say("status of 3.2", as_="mkhan")  # answered from memory
        assert question.kind is not Kind.ERROR and "3.2" in question.as_text()
    # Space is back: healthy again and the next update is kept, without a restart.
    assert repo.health() == {"ok": True}
    reply = await say("update 3.2 on track 65% kit ordered", as_="mkhan")
    assert reply.kind is Kind.CONFIRMATION
    assert repo.objective("3.2").progress == 65 != progress
    reopened = Repository.open(repo.data_dir)
    try:
        assert reopened.warnings == []  # nothing torn was left in the journal
        assert [c.text for c in reopened.updates_for("3.2")][-1].endswith("kit ordered")
        assert len(reopened.updates_for("3.2")) == len(repo.updates_for("3.2"))
    finally:
        reopened.close()


async def test_healthz_reports_a_full_disk_with_its_reason_then_recovers(say, repo):
    client = await serve(create_app(repo))
    try:
        with faults.armed("append", faults.disk_full()), faults.armed("probe", faults.disk_full()):
            assert (await say("3.2 70%", as_="mkhan")).title == FULL
            response = await client.get("/healthz")
            body = await response.json()
            assert response.status == 503
            assert body["store"] == {"ok": False, "reason": "the server's disk is full"}
        response = await client.get("/healthz")
        assert response.status == 200 and (await response.json())["store"] == {"ok": True}
    finally:
        await client.close()


async def test_a_torn_line_that_cannot_be_set_aside_leaves_no_empty_file(say, repo):
    # Another process died mid-write, then the disk filled: no empty journal.torn-* file,
    # questions still answered, and the torn line set aside once space returns.
    journal = repo.store_files[1]
    with open(journal, "ab") as handle:
        handle.write(b'0badc0de {"seq":')
    with faults.armed("set-aside", faults.disk_full()), faults.armed("probe", faults.disk_full()):
        assert (await say("3.2 70%", as_="mkhan")).title == FULL
        assert (await say("status of 3.2", as_="mkhan")).kind is not Kind.ERROR
        assert torn_files(repo.data_dir) == []
        assert repo.health()["ok"] is False
    assert (await say("3.2 70%", as_="mkhan")).kind is Kind.CONFIRMATION
    assert len(torn_files(repo.data_dir)) == 1


def one_line_error(capsys: pytest.CaptureFixture, code: int) -> str:
    out, err = capsys.readouterr()
    assert code != 0
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture
def read_only_store(tmp_path: Path, repo: Repository):
    """A data folder holding a store, then made read-only for real (or by EROFS as root)."""
    data = repo.data_dir
    repo.close()
    if os.geteuid() != 0:
        os.chmod(data, 0o555)
        for path in data.iterdir():
            os.chmod(path, 0o444)
        yield data
        os.chmod(data, 0o755)
        for path in data.iterdir():
            os.chmod(path, 0o644)
    else:
        with faults.armed("open", faults.read_only()):
            yield data


@pytest.mark.parametrize("command", ["export --format json --to {tmp}/out.json", "backup"])
def test_export_and_backup_on_a_read_only_store_print_one_line(
    command, read_only_store, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    argv = [*command.format(tmp=tmp_path).split(), "--data", str(read_only_store)]
    line = one_line_error(capsys, main(argv))
    assert "read-only" in line and str(read_only_store) in line


def test_serve_on_a_read_only_store_prints_one_line(read_only_store, capsys, monkeypatch):
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    line = one_line_error(capsys, main(["serve", "--data", str(read_only_store), "--port", "0"]))
    assert "read-only" in line


def test_backup_onto_a_full_disk_prints_one_line(repo, tmp_path, capsys):
    data = repo.data_dir
    repo.close()

    def full(**_: object) -> None:
        raise OSError(28, "No space left on device")

    with faults.armed("snapshot-copy", full):
        code = main(["backup", "--data", str(data), "--to", str(tmp_path / "copy")])
    assert "the server's disk is full" in one_line_error(capsys, code)
