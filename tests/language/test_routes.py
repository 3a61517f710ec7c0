"""Docs tests in the datasette manner: help and the README cannot drift from the code.

Every example `help` shows must reach the command it illustrates (so the route order in
`handlers.router.ROUTE_ORDER` and the reader's `PRECEDENCE` cannot quietly send it
elsewhere). The README's table, subcommands and settings are checked in
tests/test_docs_readme.py.
"""

from __future__ import annotations

import pytest

from handlers.front_door import FrontDoor
from handlers.message import IncomingMessage, Sender
from handlers.router import REGISTRY, ROUTE_ORDER, ordered
from tracker.dates import LONDON

EXAMPLES = [(cmd.name, example) for cmd in ordered() for example in cmd.examples]


def test_every_command_has_a_place_in_the_route_order() -> None:
    assert sorted(c.name for c in REGISTRY) == sorted(ROUTE_ORDER)


async def route_name(tracker: FrontDoor, text: str, clock) -> str | None:
    """The registered command the front door's routing picks for `text` (None: not understood)."""
    from handlers.context import Context
    from handlers.reader import normalise

    message = IncomingMessage(text, Sender("test", person_id="tcarter"))
    person = tracker.identify(message.sender)
    context = Context(tracker.repo, message, person, clock().astimezone(LONDON))
    found = await tracker._route(context, normalise(text))
    return found[0].name if found else None


@pytest.mark.parametrize(("name", "example"), EXAMPLES, ids=[e for _, e in EXAMPLES])
async def test_every_help_example_reaches_its_own_command(tracker, clock, name, example) -> None:
    assert await route_name(tracker, example, clock) == name
