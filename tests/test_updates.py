"""Recording objective updates in the phrasings officers use, and what gets stored."""

from __future__ import annotations

import pytest

from handlers.reply import Kind
from tracker.model import Status


async def test_full_update_records_status_progress_and_note(say, repo):
    reply = await say("update 3.2 at risk 65% survey done", as_="mkhan")
    assert reply.kind is Kind.CONFIRMATION
    assert ("Status", "on track → at risk") in reply.fields
    assert ("Progress", "60% → 65%") in reply.fields
    assert ("Note", "survey done") in reply.fields
    assert "undo" in reply.footer
    objective = repo.objective("3.2")
    assert (objective.status, objective.progress) == (Status.AT_RISK, 65)
    [update] = repo.updates_for("3.2")
    assert update.actor == "mkhan"
    assert update.note == "survey done"
    assert update.text == "update 3.2 at risk 65% survey done"
    assert update.changes == {"status": ["on track", "at risk"], "progress": [60, 65]}


@pytest.mark.parametrize(
    ("text", "status", "progress", "note"),
    [
        ("3.2 is at risk: supplier late", Status.AT_RISK, 60, "supplier late"),
        ("3.2 red - supplier gone bust", Status.OFF_TRACK, 60, "supplier gone bust"),
        ("1.4 done", Status.ACHIEVED, 100, None),
        ("progress on 1.4: 75%", Status.NOT_STARTED, 75, None),
        ("3.2 is 70% complete", Status.ON_TRACK, 70, None),
        ("update 3.2: slipping, waiting for kit", Status.AT_RISK, 60, "waiting for kit"),
        ("Update 3.2 GREEN 61%", Status.ON_TRACK, 61, None),
        ("update 3.2 survey complete", Status.ON_TRACK, 60, "survey complete"),
        ("update on the thin client rollout: 40%", Status.ON_TRACK, 40, None),
        (
            "Update 3.2: amber. Scanning contractor delayed",
            Status.AT_RISK,
            60,
            "Scanning contractor delayed",
        ),
        ("3.2 - on track, 70%, pilot went well", Status.ON_TRACK, 70, "pilot went well"),
    ],
)
async def test_update_phrasings(say, repo, text, status, progress, note):
    reply = await say(text)
    assert reply.kind is Kind.CONFIRMATION, reply.as_text()
    objective_id = "1.4" if "1.4" in text else "3.2"
    objective = repo.objective(objective_id)
    assert (objective.status, objective.progress) == (status, progress)
    assert repo.updates_for(objective_id)[-1].note == note


async def test_note_words_never_change_status(say, repo):
    """'survey complete' in a note must not mark the objective achieved."""
    await say("update 3.2 on track 60% survey complete")
    assert repo.objective("3.2").status is Status.ON_TRACK


async def test_ambiguous_title_lists_candidates_with_commands(say, repo):
    reply = await say("update on online: 40%")
    assert reply.kind is Kind.QUESTION
    text = reply.as_text()
    assert "update 2.1 40%" in text and "update 2.3 40%" in text
    assert repo.updates_for("2.1") == [] and repo.updates_for("2.3") == []


@pytest.mark.parametrize(
    ("text", "objective_id", "expected"),
    [
        ("3.2 due end of March", "3.2", "2027-03-31"),
        ("push 5.1 to Q3 2027", "5.1", "2027-09-30"),
        ("move 4.2 to next Friday", "4.2", "2026-11-27"),
        ("3.3 now due 31/03/2027", "3.3", "2027-03-31"),
        ("3.3 due 03/04/2027", "3.3", "2027-04-03"),
        ("push 1.2 to end of 2026/27", "1.2", "2027-03-31"),
        ("set the due date of 2.2 to Q3 2026/27", "2.2", "2026-12-31"),
    ],
)
async def test_due_date_changes_in_uk_terms(say, repo, text, objective_id, expected):
    reply = await say(text)
    assert reply.kind is Kind.CONFIRMATION, reply.as_text()
    assert repo.objective(objective_id).due.isoformat() == expected
    assert "I read" in reply.lines[0]  # says how the date was understood


async def test_due_date_past_is_accepted_with_warning(say, repo):
    reply = await say("3.2 due 01/01/2020")
    assert repo.objective("3.2").due.isoformat() == "2020-01-01"
    assert "in the past" in reply.as_text()


async def test_unreadable_due_date_changes_nothing(say, repo):
    before = repo.objective("3.2")
    reply = await say("3.2 due whenever the supplier feels like it")
    assert reply.kind is Kind.ERROR
    assert "Nothing was saved" in reply.as_text()
    assert repo.objective("3.2") == before
    assert repo.updates_for("3.2") == []


async def test_assign_owner_accepts_accent_free_names(say, repo):
    reply = await say("assign 3.2 to siobhan")
    assert reply.kind is Kind.CONFIRMATION
    assert repo.objective("3.2").owner == "sobrien"
    assert [c.action for c in repo.history("objective:3.2")] == ["change owner"]


async def test_add_objective_by_strategy_group(say, repo):
    reply = await say(
        "add objective 3.5: Digital signage in the HQ, directorate resources, "
        "owner Mo Khan, due end of June"
    )
    assert reply.kind is Kind.CONFIRMATION, reply.as_text()
    objective = repo.objective("3.5")
    assert (objective.title, objective.owner, objective.due.isoformat()) == (
        "Digital signage in the HQ",
        "mkhan",
        "2027-06-30",
    )


async def test_undo_reverts_last_update_and_is_audited(say, repo):
    await say("update 3.2 off track 20% supplier gone", as_="mkhan")
    reply = await say("undo", as_="mkhan")
    assert reply.kind is Kind.CONFIRMATION
    assert ("Status", "off track → on track") in reply.fields
    objective = repo.objective("3.2")
    assert (objective.status, objective.progress) == (Status.ON_TRACK, 60)
    actions = [(c.action, c.undone) for c in repo.history("objective:3.2")]
    assert actions == [("update", True), ("undo", False)]
    assert (await say("undo", as_="mkhan")).kind is Kind.ERROR  # nothing left to undo


async def test_undo_refuses_to_overwrite_someone_elses_later_change(say, repo):
    await say("3.2 60% kit ordered", as_="mkhan")
    await say("3.2 70%", as_="mkhan")
    await say("3.2 80%", as_="ifloyd")
    reply = await say("undo", as_="mkhan")
    assert reply.kind is Kind.ERROR
    assert repo.objective("3.2").progress == 80


async def test_undo_is_per_person(say, repo):
    await say("3.2 65%", as_="mkhan")
    await say("1.1 at risk", as_="ifloyd")
    await say("undo", as_="mkhan")
    assert repo.objective("3.2").progress == 60
    assert repo.objective("1.1").status is Status.AT_RISK


async def test_undo_reverts_the_later_of_two_changes_in_the_same_second(say, repo, clock):
    # The fixed clock puts both changes in the same second: journal order decides.
    likelihood = repo.risk("R1").likelihood
    await say("3.2 65%", as_="tcarter")
    assert (
        await say(f"R1 likelihood {likelihood % 5 + 1}", as_="tcarter")
    ).kind is Kind.CONFIRMATION
    reply = await say("undo", as_="tcarter")
    assert reply.kind is Kind.CONFIRMATION and "R1" in reply.title
    assert repo.risk("R1").likelihood == likelihood
    assert repo.objective("3.2").progress == 65
