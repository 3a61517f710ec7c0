"""Who may change what, and that every refusal says why and changes nothing."""

from __future__ import annotations

import pytest

from handlers.reply import Kind


@pytest.mark.parametrize(
    ("person", "objective", "allowed"),
    [
        ("mkhan", "3.2", True),  # officer, owns it
        ("mkhan", "3.3", True),  # officer, same directorate (resources)
        ("mkhan", "2.2", False),  # officer, another directorate
        ("jmorris", "2.2", True),  # lead of neighbourhoods
        ("jmorris", "4.2", True),  # lead, own directorate, not owner
        ("jmorris", "3.2", False),  # lead of another directorate
        ("rgrant", "2.4", True),  # strategy group: anything
        ("tcarter", "5.3", True),  # admin: anything
    ],
)
async def test_objective_update_permissions(say, repo, person, objective, allowed):
    before = repo.objective(objective)
    reply = await say(f"update {objective} 42% checked", as_=person)
    if allowed:
        assert reply.kind is Kind.CONFIRMATION
        assert repo.objective(objective).progress == 42
    else:
        assert reply.kind is Kind.ERROR
        assert "can't change" in reply.as_text() and "belongs to" in reply.as_text()
        assert repo.objective(objective) == before
        assert repo.updates_for(objective) == []


async def test_officer_cannot_add_objectives(say, repo):
    reply = await say("add objective 3.9: Something, directorate resources", as_="mkhan")
    assert (
        reply.kind is Kind.ERROR
        and "Only strategy group members and admins" in reply.title + reply.as_text()
    )
    assert repo.objective("3.9") is None


async def test_risk_owner_may_change_own_risk_but_not_others(say, repo):
    await say("risk: laptops delayed, likelihood 3 impact 2", as_="lbrown")
    assert (await say("R6 likelihood 4", as_="lbrown")).kind is Kind.CONFIRMATION
    refused = await say("R2 likelihood 1", as_="lbrown")
    assert refused.kind is Kind.ERROR and "owned by Iain Floyd" in refused.as_text()
    assert repo.risk("R2").likelihood == 4


async def test_unknown_user_is_told_how_to_get_added_and_changes_nothing(tracker, repo):
    from handlers.message import IncomingMessage, Sender

    stranger = Sender(channel="slack", user_id="U999")
    for text in ("update 3.2 done", "summary", "risk: x, likelihood 2 impact 2"):
        reply = await tracker.handle(IncomingMessage(text, stranger))
        assert reply.kind is Kind.ERROR
        assert "Tina Carter" in reply.as_text() and "U999" in reply.as_text()
    assert repo.updates_for("3.2") == [] and len(repo.risks()) == 5
    helped = await tracker.handle(IncomingMessage("help", stranger))
    assert helped.kind is Kind.ANSWER


async def test_people_are_matched_by_chat_identity(tracker, repo):
    from handlers.message import IncomingMessage, Sender

    by_email = Sender(channel="teams", user_id="aad-1", email="MO.KHAN@example.gov.uk")
    reply = await tracker.handle(IncomingMessage("who am i", by_email))
    assert reply.title == "You are Mo Khan (mkhan)"
