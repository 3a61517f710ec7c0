"""The reader in the officer's words: the issue's own examples, aliases and mentions.

The corpus (test_corpus.py) is the broad check; these pin the behaviours issue 10 names
one by one, so a regression says exactly which promise broke.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.settings import SAMPLE_STRATEGY
from handlers.reply import Kind
from storage.repository import Repository, Source
from tracker.model import Status
from tracker.strategy_file import StrategyFileError, load_strategy


async def test_status_and_percent_after_a_colon_are_both_recorded(say, repo):
    reply = await say("Update on 4.3: still at risk, 20%, waiting on procurement")
    assert reply.kind is Kind.CONFIRMATION
    objective = repo.objective("4.3")
    assert (objective.status, objective.progress) == (Status.AT_RISK, 20)
    assert repo.updates_for("4.3")[-1].note == "waiting on procurement"


async def test_slipping_to_a_date_moves_status_and_due_date(say, repo):
    await say("4.1 slipping to end of May, contractor ill")
    objective = repo.objective("4.1")
    assert (objective.status, objective.due) == (Status.AT_RISK, date(2027, 5, 31))
    assert repo.updates_for("4.1")[-1].note == "contractor ill"


@pytest.mark.parametrize(
    ("text", "oid", "progress"),
    [
        ("telephony: 2nd floor cut over, 65%", "3.3", 65),
        ("the thin client rollout is 80% done", "3.2", 80),
        ("@channel 3.2 on track 70%", "3.2", 70),
        ("<@U123ABC> 3.2 70%", "3.2", 70),
    ],
)
async def test_titles_and_leading_mentions(say, repo, text, oid, progress):
    reply = await say(text)
    assert reply.kind is Kind.CONFIRMATION, reply.as_text()
    assert repo.objective(oid).progress == progress


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("4.4 go-live now 30/06/2027", date(2027, 6, 30)),
        ("2.3 extended until 29 January", date(2027, 1, 29)),
        ("push 1.2 back 3 weeks", date(2027, 1, 8)),
    ],
)
async def test_dates_after_any_verb_and_relative_moves(say, repo, text, due):
    reply = await say(text)
    assert reply.kind is Kind.CONFIRMATION, reply.as_text()
    assert repo.objective(text.split()[1] if text.startswith("push") else text[:3]).due == due


async def test_a_field_word_in_the_note_is_named_not_applied(say, repo):
    reply = await say("4.2 72% - printer fleet cut by 30%")
    assert repo.objective("4.2").progress == 72
    assert "Not applied: “30%”" in reply.as_text()
    assert repo.updates_for("4.2")[-1].note == "printer fleet cut by 30%"


@pytest.mark.parametrize("text", ["update 3.2 1e3%", "update 3.2 -5%", "update 3.2 150 percent"])
async def test_clearly_wrong_percentages_are_refused(say, repo, text):
    reply = await say(text)
    assert reply.kind is Kind.ERROR
    assert repo.updates_for("3.2") == []


async def test_two_statuses_ask_instead_of_guessing(say, repo):
    reply = await say("3.2 on track at risk")
    assert reply.kind is Kind.QUESTION
    assert repo.updates_for("3.2") == []


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("anything amber?", "1.2"),
        ("when's 5.3 due", "28 May 2027"),
        ("is 3.3 overdue", "overdue by"),
        ("which risks are high?", "R2"),
        ("how many objectives in theme 1", "4 objectives"),
        ("the carbon theme", "4.4"),
    ],
)
async def test_everyday_questions(say, repo, text, wanted):
    reply = await say(text)
    assert reply.kind is Kind.ANSWER, reply.as_text()
    assert wanted in reply.as_text()


def _with_aliases(tmp_path: Path, objective_line: str) -> Path:
    text = Path(SAMPLE_STRATEGY).read_text(encoding="utf-8")
    text = text.replace(
        '  - {id: "1.1", title: Electronic document and records management across directorates,',
        objective_line,
    )
    path = tmp_path / "strategy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def test_strategy_file_aliases_name_an_objective(tmp_path, clock):
    from handlers.front_door import FrontDoor
    from handlers.message import IncomingMessage, Sender

    path = _with_aliases(
        tmp_path,
        '  - {id: "1.1", aliases: [EDRMS, document management, "records system"], '
        "title: Electronic document and records management across directorates,",
    )
    repo = Repository.open(tmp_path / "data", clock=clock)
    try:
        await repo.load_strategy(load_strategy(path), Source("system", "test"))
        assert repo.objective("1.1").aliases == ("EDRMS", "document management", "records system")
        reply = await FrontDoor(repo, clock=clock).handle(
            IncomingMessage("records system 61%", Sender("test", person_id="tcarter"))
        )
        assert reply.kind is Kind.CONFIRMATION, reply.as_text()
        assert repo.objective("1.1").progress == 61
    finally:
        repo.close()


def test_bad_aliases_are_reported_like_any_other_mistake(tmp_path):
    path = _with_aliases(
        tmp_path,
        '  - {id: "1.1", aliases: {a: 1}, '
        "title: Electronic document and records management across directorates,",
    )
    with pytest.raises(StrategyFileError) as error:
        load_strategy(path)
    assert "aliases must be a list" in str(error.value)
