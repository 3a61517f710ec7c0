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


async def test_risk_permissions_follow_ownership_and_directorate_leads(say, repo):
    # R5 is rgrant's, linked to 3.2 (Resources, owned by the officer mkhan): the officer
    # who owns the objective may not change someone else's risk on it.
    reply = await say("R5 likelihood 1", as_="mkhan")
    assert reply.kind is Kind.ERROR and "Officers change risks they own" in reply.as_text()
    assert repo.risk("R5").likelihood != 1
    # An officer logs a risk on an objective of their directorate: they own it.
    assert (await say("risk: no cover, on 1.3, likelihood 2 impact 2", as_="lbrown")).kind is (
        Kind.CONFIRMATION
    )
    assert repo.risk("R6").owner == "lbrown"
    # Their directorate's lead may change it; a lead of another directorate may not.
    assert (await say("R6 impact 4", as_="jmorris")).kind is Kind.CONFIRMATION
    assert (await say("R6 impact 5", as_="hdavies")).kind is Kind.ERROR
    assert repo.risk("R6").impact == 4


async def test_officers_log_risks_only_where_they_report_and_only_for_themselves(say, repo):
    before = len(repo.risks(include_closed=True))
    elsewhere = await say("risk: late kit, on 3.2, likelihood 2 impact 2", as_="lbrown")
    assert elsewhere.kind is Kind.ERROR and "log a risk on 3.2" in elsewhere.as_text()
    other = repo.person("mkhan").name
    named = await say(f"risk: no cover, on 1.3, likelihood 2 impact 2, owner {other}", as_="lbrown")
    assert named.kind is Kind.ERROR and f"make {other} the owner" in named.as_text()
    theme = await say("risk: budget cut, theme 5, likelihood 3 impact 3", as_="lbrown")
    assert theme.kind is Kind.ERROR and "theme 5" in theme.as_text()
    assert len(repo.risks(include_closed=True)) == before  # nothing was logged
    # A directorate lead may name someone else as owner.
    lead = await say(
        f"risk: no cover, on 2.2, likelihood 2 impact 2, owner {repo.person('lbrown').name}",
        as_="jmorris",
    )
    assert lead.kind is Kind.CONFIRMATION and repo.risk("R6").owner == "lbrown"
