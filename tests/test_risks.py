"""The risk register through chat: logging, scoring, changing, closing, listing."""

from __future__ import annotations

import pytest

from handlers.reply import Kind


async def test_log_risk_with_numbers(say, repo):
    reply = await say("risk: no PM capacity, theme 1, likelihood 4 impact 3", as_="mkhan")
    assert reply.kind is Kind.CONFIRMATION
    assert reply.title == "Logged risk R6: no PM capacity"
    risk = repo.risk("R6")
    assert (risk.theme, risk.likelihood, risk.impact, risk.score, risk.band) == (
        1,
        4,
        3,
        12,
        "medium",
    )
    assert risk.owner == "mkhan"  # the person logging it, unless they name an owner
    assert [c.action for c in repo.history("risk:R6")] == ["add risk"]


async def test_log_risk_with_words_owner_mitigation_review(say, repo):
    await say(
        "new risk: supplier insolvency on 3.2, high likelihood, major impact, "
        "owner Mo Khan, mitigation: second supplier, escrow, review end of January"
    )
    risk = repo.risk("R6")
    assert risk.title == "supplier insolvency"
    assert (risk.objective, risk.theme, risk.likelihood, risk.impact) == ("3.2", 3, 4, 4)
    assert risk.band == "high"
    assert risk.owner == "mkhan"
    assert risk.mitigation == "second supplier, escrow"
    assert risk.review.isoformat() == "2027-01-31"


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("risk: bad weather", "likelihood and impact"),
        ("risk: bad weather, likelihood 4", "impact"),
        ("risk: bad weather, likelihood 9 impact 2", "likelihood must be 1–5"),
        ("risk: bad weather, theme 9, likelihood 2 impact 2", "no theme"),
        ("risk: bad weather on 7.7, likelihood 2 impact 2", "no objective 7.7"),
    ],
)
async def test_incomplete_risk_is_not_logged(say, repo, text, missing):
    reply = await say(text)
    assert reply.kind is Kind.ERROR
    assert missing in reply.as_text()
    assert "I understood" in reply.as_text()
    assert len(repo.risks()) == 5


async def test_change_risk_fields_and_score(say, repo):
    reply = await say("R2 likelihood 5", as_="ifloyd")
    assert ("Likelihood", "4 → 5") in reply.fields
    await say("R2 impact high; mitigation: weekly supplier calls", as_="ifloyd")
    risk = repo.risk("R2")
    assert (risk.likelihood, risk.impact, risk.score) == (5, 4, 20)
    assert risk.mitigation == "weekly supplier calls"
    await say("R2 review end of January", as_="ifloyd")
    assert repo.risk("R2").review.isoformat() == "2027-01-31"
    actions = [c.action for c in repo.history("risk:R2")]
    assert actions == ["change risk"] * 3


async def test_close_and_reopen_risk_needs_strategy_group(say, repo):
    refused = await say("close R2", as_="jmorris")
    assert refused.kind is Kind.ERROR and "strategy group" in refused.as_text()
    assert repo.risk("R2").open
    reply = await say("close R2: mitigated by new contract", as_="rgrant")
    assert reply.kind is Kind.CONFIRMATION
    assert not repo.risk("R2").open
    assert "R2" not in [r.id for r in repo.risks()]
    await say("reopen R2", as_="rgrant")
    assert repo.risk("R2").open


async def test_top_risks_sorted_by_score(say):
    reply = await say("top 3 risks")
    ids = [item.text.split()[0] for item in reply.sections[0].items]
    assert ids == ["R2", "R5", "R3"]  # 16, 12, 9


async def test_risks_for_theme_and_objective(say):
    theme = await say("risks for theme 3")
    assert [i.text.split()[0] for i in theme.sections[0].items] == ["R5"]
    objective = await say("risks on 3.2")
    assert [i.text.split()[0] for i in objective.sections[0].items] == ["R5"]


async def test_unknown_risk(say):
    reply = await say("R99 likelihood 2")
    assert reply.kind is Kind.ERROR and "R1" in reply.as_text()


async def test_undo_risk_creation_removes_it(say, repo):
    await say("risk: flooding of the data centre, likelihood 2 impact 5", as_="mkhan")
    assert repo.risk("R6")
    reply = await say("undo", as_="mkhan")
    assert reply.kind is Kind.CONFIRMATION
    assert repo.risk("R6") is None
    await say("risk: another, likelihood 2 impact 2", as_="mkhan")
    assert repo.risk("R7") is not None  # ids are never reused


async def test_undo_refuses_to_remove_a_risk_someone_else_changed_since(say, repo):
    await say("risk: flooding of the data centre, likelihood 2 impact 5", as_="mkhan")
    assert (await say("R6 likelihood 4", as_="tcarter")).kind is Kind.CONFIRMATION
    reply = await say("undo", as_="mkhan")
    assert reply.kind is Kind.ERROR
    assert (
        "changed since you added it" in reply.as_text() and "Nothing was changed" in reply.as_text()
    )
    risk = repo.risk("R6")
    assert risk is not None and risk.likelihood == 4
    assert [c.action for c in repo.history("risk:R6")][-1] != "undo"


@pytest.mark.parametrize(
    "text",
    [
        "add risk to 3.2: supplier fails, likelihood 4 impact 5",
        "log a risk against 3.2 - supplier fails, L4 I5",
        "new risk affecting objective 3.2: supplier fails, likelihood 4, impact 5",
        "risk 3.2: supplier fails, L4 I5",
        "risk for 3.2 - supplier fails (L4, I5)",
    ],
)
async def test_risk_names_its_objective_with_any_preposition(say, repo, text):
    reply = await say(text, as_="mkhan")
    assert reply.title == "Logged risk R6: supplier fails"
    risk = repo.risk("R6")
    assert (risk.objective, risk.theme, risk.likelihood, risk.impact) == ("3.2", 3, 4, 5)
