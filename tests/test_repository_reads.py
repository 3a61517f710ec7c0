"""Reads are remembered between writes, and never stale (Repository._memo).

The repository keeps people, objectives, risks and the chat-identity index between
messages; these tests change the store (here, and from a second process on the same data
directory) and check the next read shows the change.
"""

from __future__ import annotations

import dataclasses

import pytest

from storage.repository import Repository, Source
from tests.conftest import SAMPLE_STRATEGY
from tracker.model import Status
from tracker.strategy_file import load_strategy


async def test_a_change_from_another_process_is_seen_after_refresh(tmp_path, repo, say):
    assert repo.person_by_chat(email="mo.khan@example.gov.uk", channel="slack").id == "mkhan"
    assert repo.objective("3.2").status is Status.ON_TRACK
    other = Repository.open(tmp_path / "data")
    try:
        strategy = load_strategy(SAMPLE_STRATEGY)
        for person in strategy.people:
            if person["id"] == "mkhan":
                person["slack_id"] = "U0NEWMO"
        await other.load_strategy(strategy, Source("system", "test"))
        await other.record_update("3.2", Source("slack", "mkhan"), status=Status.AT_RISK)
    finally:
        other.close()
    await repo.refresh()
    assert {o.id: o.status for o in repo.objectives()}["3.2"] is Status.AT_RISK
    assert repo.person_by_chat(user_id="U0NEWMO", channel="slack").id == "mkhan"
    assert repo.person_by_chat(user_id="U0NEWMO", channel="teams") is None


async def test_a_change_here_is_seen_at_once_and_lists_are_the_callers(repo, say):
    before = repo.objectives()
    before.clear()  # a caller's list is its own: the next read is whole
    assert len(repo.objectives()) > 10
    reply = await say("update 3.2 at risk 65% supplier late")
    assert "3.2" in reply.as_text()
    changed = next(o for o in repo.objectives() if o.id == "3.2")
    assert (changed.status, changed.progress) == (Status.AT_RISK, 65)
    with pytest.raises(dataclasses.FrozenInstanceError):
        changed.progress = 10  # type: ignore[misc]


async def test_an_update_keeps_people_and_risks_but_their_own_changes_do_not(repo, say):
    """Memos are keyed on the table they read: the stream of updates does not rebuild
    people (every message identifies its sender) or risks, but changing them does."""
    people, risks = repo.people(), repo.risks()
    reply = await say("update 3.2 at risk 65% supplier late")
    assert "3.2" in reply.as_text()
    assert all(a is b for a, b in zip(repo.people(), people, strict=True))  # not rebuilt
    assert all(a is b for a, b in zip(repo.risks(), risks, strict=True))
    reply = await say("add risk to 3.2: supplier may go bust, likelihood 3 impact 4")
    assert "R" in reply.as_text()
    assert len(repo.risks()) == len(risks) + 1
    assert any("supplier may go bust" in r.title.lower() for r in repo.risks())
