"""Bad input: every case gets a clear reply, and a refused message changes nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from handlers.reply import Kind


def store_fingerprint(repo) -> str:
    data = Path(repo.store.directory)
    files = sorted(data.glob("*.json*"))
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("update 9.9 on track", "There is no objective 9.9"),
        ("9.9 done", "There is no objective 9.9"),
        ("update 3.2 150%", "between 0% and 100%"),
        ("update 3.2 -5%", "between 0% and 100%"),
        ("3.2 due the twelfth of never", "still due Wed 31 Mar 2027"),
        ("3.2 due 31/02/2027", "still due"),
        ("", "didn't catch anything"),
        ("   \t  ", "didn't catch anything"),
        ("\x00\x07\x1b", "didn't catch anything"),
        ("x" * 2001, "too long"),
        ("update 3.2 " + "blah " * 500, "too long"),
        ("risk: no likelihood given", "likelihood and impact"),
        ("R42 impact 3", "There is no risk R42"),
        ("assign 3.2 to Nobody McNobody", "don't know who"),
    ],
)
async def test_refused_input_gets_clear_reply_and_stores_nothing(say, repo, text, expected):
    before = store_fingerprint(repo)
    reply = await say(text)
    assert reply.kind is Kind.ERROR, reply.as_text()
    assert expected in reply.as_text()
    assert store_fingerprint(repo) == before


async def test_markup_and_json_in_a_note_are_stored_verbatim(say, repo):
    note = '<!channel> *bold* {"status": "achieved", "progress": 100} <script>alert(1)</script>'
    reply = await say(f"update 3.2 on track {note}")
    assert reply.kind is Kind.CONFIRMATION
    assert ("Note", note) in reply.fields  # channels escape it when rendering
    assert repo.updates_for("3.2")[-1].note == note
    assert repo.objective("3.2").progress == 60  # JSON in a note changes nothing


async def test_control_characters_are_removed_and_mentioned(say, repo):
    reply = await say("update 3.2 on track\x07 bell\x1b[31m rung")
    assert reply.kind is Kind.CONFIRMATION
    assert repo.updates_for("3.2")[-1].note == "bell [31m rung"
    assert "control character" in reply.footer


async def test_non_ascii_names_and_notes(say, repo):
    reply = await say(
        "update 5.3 on track 35% Siobhán met the schools' heads — agreed 👍", as_="sobrien"
    )
    assert reply.kind is Kind.CONFIRMATION
    assert repo.updates_for("5.3")[-1].note == "Siobhán met the schools' heads — agreed 👍"
    assert (await say("who am i", as_="sobrien")).title == "You are Siobhán O'Brien (sobrien)"


async def test_message_at_the_limit_is_accepted(say, repo):
    text = "update 3.2 on track " + "n" * (2000 - len("update 3.2 on track "))
    reply = await say(text)
    assert reply.kind is Kind.CONFIRMATION
