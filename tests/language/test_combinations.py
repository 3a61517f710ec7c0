"""The hard rule across combinations: every reference x status x % x date x note x order.

The corpus holds messages as officers wrote them; this sweep holds the rule itself. Each
message names one objective (by id, title, part of a title or acronym), gives a status,
a percentage and a new due date in some order with some separator, plus a note that may
itself hold a status, % or date word. Every one must be confirmed with exactly the
status, % and date it gives applied to that objective (nothing else changed), and pass
the corpus runner's independent no-silent-loss check. Sampled with a fixed seed, so a
failure names a message that can be replayed in `python -m bot chat`.

It found: "12 March, 45 percent" read as 12 March 2045; "due end of May, 45 percent, on
track: ..." refused as an unreadable date; "slipping at 45% target date 31/05/27" losing
the target date; "the thin client rollout of track" losing the status.
"""

from __future__ import annotations

import itertools
import random

import pytest

from handlers.reply import Kind
from tests.language.runner import Store, _no_silent_loss, say, snapshot

REFERENCES = [
    ("3.2", "3.2"),
    ("update 3.2", "3.2"),
    ("Update on 4.3", "4.3"),
    ("<@U123> 3.2", "3.2"),
    ("Hi all, update on 3.2", "3.2"),
    ("the thin client rollout", "3.2"),
    ("EDRMS", "1.1"),
    ("CRM", "2.2"),
    ("telephony", "3.3"),
]
STATUSES = [
    ("amber", "at risk"),
    ("at risk", "at risk"),
    ("on track", "on track"),
    ("still green", "on track"),
    ("now red", "off track"),
    ("off track", "off track"),
    ("of track", "off track"),
    ("ambr", "at risk"),
    ("back on track", "on track"),
    ("RAG amber", "at risk"),
]
PERCENTS = [("45%", 45), ("45 percent", 45), ("now 45%", 45), ("45 per cent", 45), ("at 45%", 45)]
DATES = [
    ("due end of May", "2027-05-31"),
    ("go-live 30/06/2027", "2027-06-30"),
    ("deadline moved to Q3 2027", "2027-09-30"),
    ("new date 12 March", "2027-03-12"),
    ("target date 31/05/27", "2027-05-31"),
    ("slipped to end of May", "2027-05-31"),
    ("revised go live 30 June 2027", "2027-06-30"),
]
NOTES = [
    "supplier late",
    "waiting on legal",
    "survey complete on floor 2",
    "printer costs down 30%",
    "licences due 4 Dec",
    "phase 1 delivered, phase 2 next",
    "team behind on testing",
    "went live in 2 schools",
]
ORDERS = [
    "{r} {s}, {p}, {d}, {n}",
    "{r}: {p} {s}, {d} - {n}",
    "{r} - {s} - {p} - {d}",
    "{r} {s} {p} {d} {n}",
    "{r}, {d}, {p}, {s}: {n}",
    "{r} {n}; {s}; {p}; {d}",
    "{r} | {s} | {p} | {d} | {n}",
    "{r} {p} {s}, {n}, {d}",
]


def _sample(count: int, seed: int = 10) -> list[tuple[str, str, str, int, str | None]]:
    every = list(itertools.product(REFERENCES, STATUSES, PERCENTS, DATES, NOTES, ORDERS))
    picked = random.Random(seed).sample(every, count)
    cases = []
    for (ref, oid), (said, status), (pct, value), (date, due), note, order in picked:
        text = order.format(r=ref, s=said, p=pct, d=date, n=note)
        cases.append((text, oid, status, value, due if "{d}" in order else None))
    return cases


CASES = _sample(150)


@pytest.mark.parametrize(
    ("text", "oid", "status", "progress", "due"), CASES, ids=[c[0] for c in CASES]
)
async def test_every_field_is_applied_or_named(text, oid, status, progress, due) -> None:
    store = Store()
    try:
        await store.load()
        before = snapshot(store.repo)
        reply = await say(store.tracker, text, "tcarter")
        after = snapshot(store.repo)
    finally:
        store.close()
    shown = reply.as_text()
    assert reply.kind is Kind.CONFIRMATION, shown
    new = after["objectives"][oid]
    assert new["status"].value == status, shown
    assert new["progress"] == progress, shown
    if due:
        assert str(new["due"]) == due, shown
    assert not list(_no_silent_loss(text, shown, before["objectives"][oid], new)), shown
    others = {k: v for k, v in after["objectives"].items() if k != oid}
    assert others == {k: v for k, v in before["objectives"].items() if k != oid}, shown
