"""Questions in plain words, answered from the sample strategy on Sun 22 Nov 2026."""

from __future__ import annotations

import pytest

from handlers.reply import Kind, Rag


@pytest.mark.parametrize(
    "text",
    [
        "status of theme 3",
        "theme 3",
        "how is theme three doing?",
        "status of the new HQ theme",
        "how's the HQ theme going",
    ],
)
async def test_theme_status(say, text):
    reply = await say(text)
    assert reply.title.startswith("Theme 3:"), reply.as_text()
    assert reply.lines[0] == "4 objectives: 1 off track, 2 on track, 1 achieved"
    items = reply.sections[0].items
    assert items[0].text.startswith("3.3") and items[0].rag is Rag.RED  # worst first


async def test_objective_status(say):
    reply = await say("status of 3.2")
    fields = dict(reply.fields)
    assert fields["Status"] == "on track (GREEN)"
    assert fields["Progress"] == "60%"
    assert fields["Owner"] == "Mo Khan"
    assert fields["Due"] == "Wed 31 Mar 2027"
    assert [i.text.split()[0] for i in reply.sections[-1].items] == ["R5"]


async def test_objective_status_by_title(say):
    reply = await say("how is the thin client rollout going?")
    assert reply.title.startswith("3.2 ")


async def test_overdue(say):
    reply = await say("what's overdue?")
    assert reply.title == "2 overdue objectives"
    texts = [i.text for i in reply.sections[0].items]
    assert texts[0].startswith("3.3") and "37 days late" in texts[0]
    assert texts[1].startswith("1.3")
    scoped = await say("overdue in neighbourhood services")
    assert [i.text[:3] for i in scoped.sections[0].items] == ["1.3"]


async def test_due_within_period(say):
    reply = await say("what's due in the next 3 weeks?")
    assert [i.text[:3] for i in reply.sections[0].items] == ["2.3", "5.1"]


async def test_exceptions(say):
    reply = await say("what's off track?")
    assert sorted(i.text[:3] for i in reply.sections[0].items) == ["2.4", "3.3"]
    both = await say("exceptions")
    assert len(both.sections[0].items) == 5


async def test_summary_matches_committee_style(say):
    reply = await say("summary")
    assert "Of 20 objectives, 15% achieved, 10% partly achieved." in reply.lines
    assert len(reply.sections[0].items) == 5
    assert ("Open risks", "5 (1 high)") in reply.fields


async def test_my_objectives(say):
    reply = await say("my objectives", as_="mkhan")
    assert reply.title == "Objectives owned by Mo Khan"
    assert sorted(i.text[:3] for i in reply.sections[0].items) == ["1.1", "2.1", "3.2"]


async def test_what_changed_this_week_and_since(say, clock):
    from datetime import timedelta

    await say("3.2 65% kit arrived", as_="mkhan")
    clock.now += timedelta(days=8)
    await say("1.1 at risk: scanning backlog", as_="mkhan")
    week = await say("what changed this week?")
    assert next(i.text for i in week.sections[0].items).endswith("“scanning backlog”")
    assert len(week.sections[0].items) == 1
    since = await say("changes since 20 November")
    assert len(since.sections[0].items) == 2


async def test_who_owns_and_history(say):
    owner = await say("who owns 3.2?")
    assert owner.title.endswith("owned by Mo Khan")
    assert ("Directorate lead", "Iain Floyd") in owner.fields
    await say("3.2 65% kit arrived", as_="mkhan")
    history = await say("history of 3.2")
    [item] = history.sections[0].items
    assert "Mo Khan updated 3.2: progress 60% → 65%" in item.text
    assert "said: “3.2 65% kit arrived”" in item.text


async def test_help_lists_every_command_with_examples(say):
    from handlers.router import REGISTRY

    text = (await say("help")).as_text()
    for command in REGISTRY:
        for example in command.examples:
            assert f"`{example}`" in text


async def test_not_understood_suggests_closest_command(say):
    reply = await say("wot's overdoo")
    assert reply.kind is Kind.ERROR
    assert "what's overdue?" in reply.as_text()
    assert "help" in reply.footer


async def test_due_this_month_leaves_overdue_to_the_overdue_question(say):
    reply = await say("what is due this month?")
    assert [i.text[:3] for i in reply.sections[0].items] == ["2.3"]  # not 5.4, due 13 Nov
    assert reply.title.endswith("Sun 22 Nov 2026 to Mon 30 Nov 2026")


async def test_thanks_gets_a_polite_reply(say):
    assert (await say("thanks!")).title == "You're welcome."
