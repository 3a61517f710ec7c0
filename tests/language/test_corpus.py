"""Every corpus message through the front door (`FrontDoor.handle`), checked on reply and store.

The corpus (tests/language/corpus/*.yaml) is written as officers type; `runner.judge`
holds what each expectation means, including the no-silent-loss rule for changes.
"""

from __future__ import annotations

import pytest

from tests.language.runner import load_cases, run_case

CASES = load_cases()


def test_the_corpus_is_big_enough() -> None:
    """Issue 10's floor: 400 messages, 60 refused or asked back, 60 with a status, % or date
    word in the note that must not be applied."""
    assert len(CASES) >= 400
    assert sum(c.intent in ("refuse", "ask") for c in CASES) >= 60
    assert sum(c.family.startswith("notes/") for c in CASES) >= 60


@pytest.mark.parametrize("case", CASES, ids=[c.source for c in CASES])
async def test_case(case) -> None:
    verdict = await run_case(case)
    assert verdict.ok, f"{case.text!r}: {verdict.reason}\n--- reply ---\n{verdict.reply}"
