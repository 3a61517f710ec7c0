"""`python -m bot digest --audience NAME --dry-run`: prints, sends nothing, records nothing."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from storage.repository import Repository
from tests.digest_fixture import build_history

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def data(tmp_path):
    async def build():
        repo, _ = await build_history(tmp_path / "data")
        repo.close()

    asyncio.run(build())  # the CLI runs its own event loop, so these tests are synchronous
    return tmp_path / "data"


def journal_size(data_dir: Path) -> int:
    return (data_dir / "journal.jsonl").stat().st_size


def test_directorate_preview_from_the_data_directory(data, capsys):
    before = journal_size(data)
    code = main(["digest", "--audience", "Resources", "--dry-run", "--data", str(data),
                 "--at", "2026-11-16 09:00"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("Resources: weekly digest, Mon 16 Nov 2026\n")
    assert "3.2 Thin client rollout for hot-desking staff — on track → at risk" in out
    assert "(Dry run: nothing was sent or recorded. Next scheduled: Mon 23 Nov 2026 09:00.)" in out
    assert journal_size(data) == before  # nothing recorded
    repo = Repository.open(data)
    assert repo.meta("digest-last/resources") is None
    repo.close()


def test_strategy_group_preview_saves_the_chart_where_asked(data, tmp_path, capsys):
    charts = tmp_path / "charts"
    code = main(["digest", "--audience", "strategy-group", "--dry-run", "--data", str(data),
                 "--at", "2026-11-16 09:00", "--chart-dir", str(charts)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("CITSG weekly digest: ICT Strategy 2025-2029, Mon 16 Nov 2026")
    assert f"(chart saved to {charts / 'status-by-theme-2026-11-16.png'})" in out
    assert (charts / "status-by-theme-2026-11-16.png").exists()


def test_empty_data_directory_previews_the_strategy_file_and_creates_nothing(tmp_path, capsys):
    missing = tmp_path / "nothing-here"
    code = main(["digest", "--audience", "neighbourhoods", "--dry-run", "--data", str(missing),
                 "--at", "2026-11-16 09:00"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("Neighbourhood Services: weekly digest, Mon 16 Nov 2026")
    assert "previewing" in out and "strategy.sample.yaml alone" in out
    assert not missing.exists()


def test_unknown_audience_and_missing_dry_run_are_refused(tmp_path, capsys):
    assert main(["digest", "--audience", "planning", "--dry-run", "--data", str(tmp_path)]) == 2
    assert "no audience 'planning'; audiences: strategy-group, city-strategy" in (
        capsys.readouterr().err
    )
    assert main(["digest", "--audience", "resources", "--data", str(tmp_path)]) == 2
    assert "use --dry-run" in capsys.readouterr().err


def test_runs_as_a_module(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "digest", "--audience", "strategy-group", "--dry-run",
         "--data", str(tmp_path / "d"), "--chart-dir", str(tmp_path / "c")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "weekly digest" in result.stdout and "(chart saved to" in result.stdout
