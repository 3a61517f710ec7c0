"""Digest content on a realistic fixture: the sample strategy and ten weeks of chat."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from handlers.digest_content import directorate_digest, short, strategy_digest
from handlers.reply import Rag
from tests.digest_fixture import LONDON, NOW, SINCE, MovingClock, build_history, open_sample


@pytest.fixture
async def history(tmp_path):
    repo, clock = await build_history(tmp_path / "data")
    yield repo, clock
    repo.close()


def section(reply, heading_start: str):
    found = [s for s in reply.sections if s.heading.startswith(heading_start)]
    assert len(found) <= 1
    return found[0] if found else None


def texts(reply, heading_start: str) -> list[str]:
    found = section(reply, heading_start)
    return [i.text for i in found.items] if found else []


def listed_ids(reply) -> list[str]:
    """Objective and risk ids at the start of each item, in order."""
    return [
        re.match(r"(\d+\.\d+|R\d+) ", item.text).group(1)
        for s in reply.sections
        for item in s.items
        if re.match(r"(\d+\.\d+|R\d+) ", item.text)
    ]


# ----------------------------------------------------------------- directorate digest
async def test_directorate_headline_counts_its_objectives(history):
    repo, _ = history
    reply = directorate_digest(repo, "resources", NOW, SINCE)
    assert reply.title == "Resources: weekly digest, Mon 16 Nov 2026"
    assert reply.lines[0] == "7 objectives: 1 off track, 2 at risk, 1 on track, 3 achieved"
    assert reply.lines[1] == "Since Mon 9 Nov: 3 updates from 2 people."


async def test_what_changed_shows_net_change_and_who_said_what(history):
    repo, _ = history
    changed = texts(directorate_digest(repo, "resources", NOW, SINCE), "What changed")
    assert len(changed) == 2
    thin_client = next(t for t in changed if t.startswith("3.2 "))
    # two updates this week, shown once: the net change of each field, then both notes
    assert "on track → at risk" in thin_client
    assert "60% → 65%" in thin_client
    assert "due Wed 31 Mar 2027 → due Wed 30 Jun 2027" in thin_client
    assert "Mo Khan, Tue 10 Nov: “Thin client hardware delivery slipped to January”" in thin_client
    assert "Iain Floyd, Thu 12 Nov: “Rollout re-planned" in thin_client
    edrms = next(t for t in changed if t.startswith("1.1 "))
    assert "58% → 62%" in edrms and "Records retention schedule agreed" in edrms


async def test_an_update_that_was_undone_is_not_reported(history):
    repo, _ = history
    reply = directorate_digest(repo, "resources", NOW, SINCE)
    assert "Wrong objective" not in reply.as_text()
    assert not any(t.startswith("1.2 ") for t in texts(reply, "What changed"))
    # 1.2's real last update was 12 Oct, so it is listed as stale instead
    stale = texts(reply, "No update for 4 weeks")
    assert any(t.startswith("1.2 ") and "last update Mon 12 Oct, 4 weeks ago" in t for t in stale)


async def test_overdue_section_says_how_late_and_flags_no_recent_update(history):
    repo, _ = history
    overdue = texts(directorate_digest(repo, "resources", NOW, SINCE), "Overdue")
    assert overdue == [
        "3.3 Unified communications and telephony migration — off track, 50%, was due "
        "Fri 16 Oct (31 days late) [last update Tue 29 Sep, 6 weeks ago] (Ravi Grant)"
    ]


async def test_due_soon_lists_objectives_due_in_the_next_14_days(history):
    repo, _ = history
    reply = directorate_digest(repo, "childrens", NOW, SINCE)
    due = section(reply, "Due by")
    assert due.heading == "Due by Mon 30 Nov"
    assert [i.text for i in due.items] == [
        "2.3 Online school admissions and free school meals applications — on track, 94%, "
        "due Fri 27 Nov (Siobhán O'Brien)"
    ]
    assert due.items[0].rag is Rag.GREEN


async def test_stale_lists_objectives_without_an_update_for_four_weeks(history):
    repo, _ = history
    reply = directorate_digest(repo, "adult-social-care", NOW, SINCE)
    stale = texts(reply, "No update for 4 weeks or more")
    assert [t.split()[0] for t in stale] == ["2.4", "5.1", "5.2"]
    assert all("no update recorded yet" in t for t in stale)
    assert reply.lines[1] == "No updates since Mon 9 Nov."
    assert reply.footer == "To update, send e.g.: update 2.4 off track 15% <what has happened>"


async def test_risks_new_score_up_high_and_review_passed(history):
    repo, _ = history
    risks = texts(directorate_digest(repo, "resources", NOW, SINCE), "Risks to watch")
    assert risks == [
        "R2 A lack of resources to deliver all projects — score 20 high (5×4), Iain Floyd "
        "[score up from 16]",
        "R6 Telephony supplier fails before the cutover — score 15 high (3×5), Ravi Grant [new]",
        "R4 Failure of the governance structure through lack of focus… — score 6 medium "
        "(2×3), Tina Carter [review was due Fri 6 Nov]",
    ]
    # a medium risk with nothing new about it (R5, 12) is not listed
    assert "R5 " not in "\n".join(risks)


async def test_nothing_is_listed_twice_and_empty_sections_are_left_out(history):
    repo, _ = history
    for directorate in repo.directorates():
        reply = directorate_digest(repo, directorate.id, NOW, SINCE)
        ids = listed_ids(reply)
        assert len(ids) == len(set(ids)), (directorate.id, ids)
        assert all(s.items for s in reply.sections)
    neighbourhoods = directorate_digest(repo, "neighbourhoods", NOW, SINCE)
    assert [s.heading for s in neighbourhoods.sections] == [
        "What changed since Mon 9 Nov",
        "Overdue",
    ]


async def test_updated_and_overdue_objective_is_listed_once_with_a_tag(tmp_path):
    clock = MovingClock(datetime(2026, 10, 1, 9, tzinfo=LONDON))
    repo = await open_sample(tmp_path / "data", clock)
    clock.set("2026-11-10 10:00")
    await repo.record_update("1.3", _src("lbrown"), progress=97, note="Final sign-off booked")
    reply = directorate_digest(repo, "neighbourhoods", NOW.astimezone(UTC), SINCE)
    assert listed_ids(reply).count("1.3") == 1
    [changed] = texts(reply, "What changed")
    assert changed.startswith("1.3 ") and "[overdue by 17 days]" in changed
    assert section(reply, "Overdue") is None
    repo.close()


async def test_quiet_week_is_one_line(tmp_path):
    clock = MovingClock(datetime(2026, 9, 7, 8, 30, tzinfo=LONDON))
    repo = await open_sample(tmp_path / "data", clock)
    now = datetime(2026, 9, 14, 9, tzinfo=LONDON)
    reply = directorate_digest(repo, "city-strategy", now, now - timedelta(days=7))
    assert reply.sections == []
    assert reply.as_text().splitlines() == [
        "City Strategy: weekly digest, Mon 14 Sep 2026",
        "4 objectives: 2 on track, 1 not started, 1 partly achieved",
        "Quiet week: no updates since Mon 7 Sep, and nothing overdue, due in the next 14 days, "
        "without a recent update or at risk.",
    ]
    repo.close()


async def test_a_new_strategy_is_not_stale_in_its_first_four_weeks(tmp_path):
    clock = MovingClock(datetime(2026, 9, 7, 8, 30, tzinfo=LONDON))
    repo = await open_sample(tmp_path / "data", clock)
    week_three = datetime(2026, 9, 28, 9, tzinfo=LONDON)
    reply = directorate_digest(repo, "adult-social-care", week_three, week_three - timedelta(7))
    assert section(reply, "No update for") is None
    week_five = datetime(2026, 10, 12, 9, tzinfo=LONDON)
    reply = directorate_digest(repo, "adult-social-care", week_five, week_five - timedelta(7))
    assert len(texts(reply, "No update for")) == 3
    repo.close()


# ----------------------------------------------------------------- strategy group digest
async def test_strategy_digest_whole_strategy_line_and_activity(history):
    repo, _ = history
    reply = strategy_digest(repo, NOW, SINCE)
    assert reply.title == "CITSG weekly digest: ICT Strategy 2025-2029, Mon 16 Nov 2026"
    assert reply.lines == [
        "Of 20 objectives, 20% achieved, 5% partly achieved (last week 15% and 10%).",
        "20 objectives: 2 off track, 3 at risk, 7 on track, 3 not started, 1 partly achieved, "
        "4 achieved.",
        "By RAG rating: 2 red, 4 amber, 7 green, 4 blue, 3 grey; 2 overdue.",
        "Since Mon 9 Nov: 5 updates from 4 people in 3 of 5 directorates.",
    ]


async def test_strategy_digest_per_theme_counts_percentages_and_change(history):
    repo, _ = history
    themes = texts(strategy_digest(repo, NOW, SINCE), "By theme")
    assert len(themes) == 5
    assert themes[2] == (
        "3 Develop our IT infrastructure to support the… — 4 objectives: 1 off track, "
        "1 at risk, 1 on track, 1 achieved; 25% achieved, 0% partly "
        "[since last week: at risk +1, on track −1]"
    )
    assert themes[4].endswith("[since last week: partly achieved −1, achieved +1]")
    assert "since last week" not in themes[0]  # theme 1 did not move


async def test_strategy_digest_exceptions_each_once(history):
    repo, _ = history
    exceptions = texts(strategy_digest(repo, NOW, SINCE), "Exceptions")
    assert [e.split()[0] for e in exceptions] == ["2.4", "3.3", "1.3", "3.2"]
    assert "off track, overdue by 31 days (Resources, Ravi Grant)" in exceptions[1]
    assert "newly at risk, was on track (Resources, Mo Khan)" in exceptions[3]
    # 1.2 stayed at risk all week (its off-track update was undone): not an exception
    assert not any(e.startswith("1.2 ") for e in exceptions)


async def test_strategy_digest_top_five_risks_by_score(history):
    repo, _ = history
    top = texts(strategy_digest(repo, NOW, SINCE), "Top 5 open risks")
    assert [t.split()[0] for t in top] == ["R2", "R6", "R5", "R3", "R1"]
    assert top[0].endswith("[score up from 16]") and top[1].endswith("[new]")


async def test_strategy_digest_names_directorates_that_posted_nothing(history):
    repo, _ = history
    silent = texts(strategy_digest(repo, NOW, SINCE), "No update from these directorates")
    assert silent == [
        "Housing and Adult Social Services (lead Sunita Patel): 3 open objectives, no updates yet",
        "Learning, Culture and Children's Services (lead Hannah Davies): 3 open objectives, "
        "last update Wed 4 Nov",
    ]


async def test_strategy_digest_reports_undelivered_messages(history):
    repo, _ = history
    entry = {
        "at": "2026-11-16T09:00:01+00:00",
        "recipient": "jmorris",
        "what": "neighbourhoods digest",
        "detail": "no Slack or Teams identity",
    }
    problems = texts(strategy_digest(repo, NOW, SINCE, [entry]), "Could not be delivered")
    assert problems == [
        "neighbourhoods digest to Jo Morris on Mon 16 Nov: no Slack or Teams identity"
    ]


async def test_strategy_digest_quiet_week(tmp_path):
    clock = MovingClock(datetime(2026, 9, 7, 8, 30, tzinfo=LONDON))
    repo = await open_sample(tmp_path / "data", clock)
    now = datetime(2026, 9, 14, 9, tzinfo=LONDON)
    reply = strategy_digest(repo, now, now - timedelta(days=7))
    assert "Quiet week: no updates from any directorate since Mon 7 Sep." in reply.lines
    assert section(reply, "No update from") is None  # the quiet line already says it
    assert all(s.items for s in reply.sections)
    assert "since last week" not in reply.as_text()
    repo.close()


def test_short_cuts_at_a_word():
    assert short("Use technology to improve the efficiency", 30) == "Use technology to improve the…"
    assert short("short", 30) == "short"


def _src(person):
    from storage.repository import Source

    return Source(actor=person, text="test")
