"""The strategy file's bank-holiday region reaches due dates typed in chat.

A Scottish council's digests skip Scottish bank holidays; its "due next week" and
working-day sums must skip the same days (St Andrew's Day, 2 January), not England's.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import yaml

from handlers.front_door import FrontDoor
from handlers.message import IncomingMessage, Sender
from handlers.reply import Kind
from storage.repository import Repository, Source
from tests.conftest import SAMPLE_STRATEGY, Clock
from tracker.dates import LONDON
from tracker.strategy_file import StrategyFileError, load_strategy


def strategy_file(tmp_path: Path, region: str | None) -> Path:
    raw = yaml.safe_load(Path(SAMPLE_STRATEGY).read_text(encoding="utf-8"))
    if region is not None:
        raw["digests"] = {"bank_holidays": region}
    path = tmp_path / "strategy.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


async def due_after(tmp_path: Path, region: str | None, now: datetime, text: str) -> str:
    clock = Clock(now)
    repo = Repository.open(tmp_path / "data", clock=clock)
    try:
        await repo.load_strategy(load_strategy(strategy_file(tmp_path, region)), Source("t"))
        tracker = FrontDoor(repo, clock=clock)
        reply = await tracker.handle(IncomingMessage(text, Sender("test", person_id="tcarter")))
        assert reply.kind is Kind.CONFIRMATION, reply.as_text()
        return repo.objective("3.2").due.isoformat()
    finally:
        repo.close()


@pytest.mark.parametrize(
    ("now", "text", "region", "expected"),
    [
        # Week of 26 Nov 2029: Friday 30 Nov is St Andrew's Day in Scotland only.
        (datetime(2029, 11, 20, 10, tzinfo=LONDON), "3.2 due next week", "Scotland", "2029-11-29"),
        (datetime(2029, 11, 20, 10, tzinfo=LONDON), "3.2 due next week", None, "2029-11-30"),
        # Week of 29 Dec 2025: 1 and 2 January are both Scottish bank holidays.
        (datetime(2025, 12, 24, 10, tzinfo=LONDON), "3.2 due next week", "Scotland", "2025-12-31"),
        (datetime(2025, 12, 24, 10, tzinfo=LONDON), "3.2 due next week", "England and Wales",
         "2026-01-02"),
        # Working-day sums from Thu 26 Nov 2026 skip Monday 30 Nov in Scotland.
        (datetime(2026, 11, 26, 10, tzinfo=LONDON), "3.2 due in 2 working days", "Scotland",
         "2026-12-01"),
        (datetime(2026, 11, 26, 10, tzinfo=LONDON), "3.2 due in 2 working days", None,
         "2026-11-30"),
    ],
)  # fmt: skip
async def test_due_dates_honour_the_strategy_files_bank_holidays(
    tmp_path, now, text, region, expected
):
    assert await due_after(tmp_path, region, now, text) == expected


async def test_a_questions_window_in_working_days_honours_the_region(tmp_path):
    clock = Clock(datetime(2026, 11, 26, 10, tzinfo=LONDON))
    repo = Repository.open(tmp_path / "data", clock=clock)
    try:
        await repo.load_strategy(load_strategy(strategy_file(tmp_path, "Scotland")), Source("t"))
        tracker = FrontDoor(repo, clock=clock)
        reply = await tracker.handle(
            IncomingMessage(
                "what's due in the next 2 working days?", Sender("test", person_id="tcarter")
            )
        )
        assert "Tue 1 Dec 2026" in reply.as_text(), reply.as_text()
    finally:
        repo.close()


def test_an_unknown_region_is_refused_with_the_choices(tmp_path):
    with pytest.raises(StrategyFileError, match="bank_holidays: unknown region 'Wessex'"):
        load_strategy(strategy_file(tmp_path, "Wessex"))
