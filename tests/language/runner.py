"""Running the language corpus: one case in through the front door, a verdict out.

Shared by `tests/language/test_corpus.py` (every case must pass) and `python -m bench
language` (accuracy per family, time per message). Each case gets a fresh store loaded
from the sample strategy and the fixed clock Mon 23 Nov 2026 10:00 Europe/London; the
format is in CORPUS_FORMAT (tests/language/corpus/*.yaml, see the README there).

The no-silent-loss check is written independently of the reader (its own simple patterns
for status words, percentages and dates), so a reader bug cannot hide itself: for every
message taken as a change, each such phrase must either show in the stored result or be
named in the reply as not applied.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from bot.settings import SAMPLE_STRATEGY
from handlers.front_door import FrontDoor
from handlers.message import IncomingMessage, Sender
from handlers.reply import Kind, Reply
from storage.repository import Repository, Source
from tracker.dates import LONDON
from tracker.model import STATUS_SYNONYMS
from tracker.strategy_file import load_strategy

CORPUS = Path(__file__).parent / "corpus"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=LONDON)  # Monday
DEFAULT_SPEAKER = "tcarter"
CHANGES = {"update", "due_date", "owner", "add_objective", "risk_add", "risk_change",
           "risk_close", "undo"}  # fmt: skip
UNTOUCHED = {"refuse", "ask", "question", "help"}

_PERCENT = re.compile(r"(?<![\w.])(\d{1,3})\s*(?:%|percent\b|per\s+cent\b)", re.I)
_STATUS = re.compile(
    r"(?<![\w-])("
    + "|".join(map(re.escape, sorted(STATUS_SYNONYMS, key=len, reverse=True)))
    + r")(?![\w-])",
    re.I,
)
_DATE = re.compile(
    r"\b(?:\d{1,2}/\d{1,2}(?:/\d{2,4})?|\d{1,2}(?:st|nd|rd|th)?\s+(?:jan|feb|mar|apr|may|jun|"
    r"jul|aug|sep|oct|nov|dec)[a-z]*|(?:end|start)\s+of\s+(?:jan|feb|mar|apr|may|jun|jul|aug|"
    r"sep|oct|nov|dec)[a-z]*|q[1-4](?:\s+20\d\d)?)\b",
    re.I,
)


@dataclasses.dataclass
class Case:
    text: str
    intent: str
    family: str
    speaker: str
    expect: dict[str, Any]
    source: str


@dataclasses.dataclass
class Verdict:
    case: Case
    ok: bool
    reason: str
    reply: str
    seconds: float = 0.0


def load_cases(directory: Path = CORPUS) -> list[Case]:
    cases = []
    for path in sorted(directory.glob("*.yaml")):
        for i, raw in enumerate(yaml.safe_load(path.read_text(encoding="utf-8")) or []):
            cases.append(
                Case(
                    text=str(raw["text"]),
                    intent=raw["intent"],
                    family=raw.get("family", raw["intent"]),
                    speaker=raw.get("as", DEFAULT_SPEAKER),
                    expect=raw.get("expect") or {},
                    source=f"{path.name}#{i + 1}",
                )
            )
    return cases


def snapshot(repo: Repository) -> dict[str, Any]:
    return {
        "objectives": {o.id: dataclasses.asdict(o) for o in repo.objectives()},
        "risks": {r.id: _risk(r) for r in repo.risks(include_closed=True)},
        "updates": {o.id: len(repo.updates_for(o.id)) for o in repo.objectives()},
    }


def _risk(risk: Any) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(risk).items() if k not in ("doc_id",)}


class Store:
    """A fresh sample store for one case; the directory goes when it closes."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory()
        self.repo = Repository.open(Path(self._dir.name) / "data", clock=lambda: NOW)
        self.tracker = FrontDoor(self.repo, clock=lambda: NOW)

    async def load(self) -> None:
        await self.repo.load_strategy(load_strategy(SAMPLE_STRATEGY), Source("system", "test"))

    def close(self) -> None:
        self.repo.close()
        self._dir.cleanup()


async def say(tracker: FrontDoor, text: str, speaker: str) -> Reply:
    sender = Sender(channel="test", person_id=speaker)
    return await tracker.handle(IncomingMessage(text, sender, message_id="corpus"))


async def run_case(case: Case) -> Verdict:
    import time

    store = Store()
    try:
        await store.load()
        before = snapshot(store.repo)
        started = time.perf_counter()
        reply = await say(store.tracker, case.text, case.speaker)
        seconds = time.perf_counter() - started
        after = snapshot(store.repo)
        problems = list(judge(case, reply, before, after, store.repo))
        text = reply.as_text()
        return Verdict(case, not problems, "; ".join(problems), text, seconds)
    finally:
        store.close()


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(actual, date):
        actual = actual.isoformat()
    if isinstance(expected, date):
        expected = expected.isoformat()
    if hasattr(actual, "value"):
        actual = actual.value
    return str(expected).strip().lower() == str(actual).strip().lower()


def judge(
    case: Case, reply: Reply, before: dict[str, Any], after: dict[str, Any], repo: Repository
) -> Iterator[str]:
    """Every way the reply and the store differ from what the case expects."""
    text = reply.as_text()
    yield from _judge_reply_text(case, text.lower())
    if case.intent in UNTOUCHED:
        yield from _judge_untouched(case, reply, before, after)
        return
    if reply.kind is not Kind.CONFIRMATION:
        yield f"not confirmed ({reply.title})"
        return
    if case.expect.get("objective") is not None:
        yield from _judge_objective(case, text, before, after, repo)
    if case.intent in ("risk_add", "risk_change", "risk_close"):
        yield from _judge_risk(case, before, after)


def _judge_reply_text(case: Case, lowered: str) -> Iterator[str]:
    for wanted in case.expect.get("reply_has", []) or []:
        if str(wanted).lower() not in lowered:
            yield f"reply lacks {wanted!r}"
    for unwanted in case.expect.get("reply_lacks", []) or []:
        if str(unwanted).lower() in lowered:
            yield f"reply has {unwanted!r}"


def _judge_untouched(
    case: Case, reply: Reply, before: dict[str, Any], after: dict[str, Any]
) -> Iterator[str]:
    """Refusals, questions back, questions and help leave the store as it was."""
    if after != before:
        yield "store changed"
    if reply.kind is Kind.CONFIRMATION:
        yield "reply is a confirmation"
    if "didn't understand" in reply.as_text().lower() and case.intent != "refuse":
        yield "asked nothing back" if case.intent == "ask" else "not understood"


def _judge_objective(
    case: Case, text: str, before: dict[str, Any], after: dict[str, Any], repo: Repository
) -> Iterator[str]:
    """The objective changed exactly as expected, nothing else did, and nothing was lost."""
    expect, oid = case.expect, str(case.expect["objective"])
    old, new = before["objectives"].get(oid), after["objectives"].get(oid)
    if new is None:
        yield f"objective {oid} missing"
        return
    for key in ("status", "progress", "due"):
        if key not in expect:
            continue
        wanted = expect[key]
        if wanted == "unchanged":
            if old is not None and old[key] != new[key]:
                yield f"{key} changed {old[key]} -> {new[key]}"
        elif not _same(wanted, new[key]):
            yield f"{key} is {new[key]}, expected {wanted}"
    owner_case = "owner" in expect and case.intent in ("owner", "add_objective")
    if owner_case and not _same(expect["owner"], new["owner"]):
        yield f"owner is {new['owner']}, expected {expect['owner']}"
    if "note" in expect:
        updates = repo.updates_for(oid)
        note = updates[-1].note if updates else None
        if (note or "") != (expect["note"] or ""):
            yield f"note is {note!r}, expected {expect['note']!r}"
    others = {k: v for k, v in after["objectives"].items() if k != oid}
    if others != {k: v for k, v in before["objectives"].items() if k != oid}:
        yield "another objective changed"
    yield from _no_silent_loss(case.text, text, old or {}, new)


def _judge_risk(case: Case, before: dict[str, Any], after: dict[str, Any]) -> Iterator[str]:
    risks = after["risks"]
    if case.intent == "risk_add":
        added = [r for k, r in risks.items() if k not in before["risks"]]
        if len(added) != 1:
            yield f"{len(added)} risks added"
            return
        risk = added[0]
    else:
        risk = risks.get(str(case.expect.get("risk")))
        if risk is None:
            yield f"risk {case.expect.get('risk')} missing"
            return
    for key in ("likelihood", "impact", "owner", "objective"):
        if key in case.expect and not _same(case.expect[key], risk.get(key)):
            yield f"risk {key} is {risk[key]}, expected {case.expect[key]}"
    if case.intent == "risk_close" and risk["open"]:
        yield "risk still open"


def _no_silent_loss(
    message: str, reply: str, old: dict[str, Any], new: dict[str, Any]
) -> Iterator[str]:
    """Every status word, % and date phrase is applied or named as not applied."""
    named = reply.lower()
    flagged = "not applied" in named or "didn't apply" in named
    for match in _PERCENT.finditer(message):
        if int(match.group(1)) in (new.get("progress"), old.get("progress")):
            continue  # applied, or what was already stored ("from 70% to 75%")
        if not flagged:
            yield f"percentage {match.group(0)!r} neither applied nor named"
    for match in _STATUS.finditer(message):
        if re.search(r"(?:%|percent|per\s+cent)\s*$", message[: match.start()], re.I):
            continue  # "80% done" is the percentage, read as a whole
        status = STATUS_SYNONYMS[match.group(1).lower()]
        applied = status.value == str(new.get("status")) or (
            status.value == "achieved" and new.get("progress") == 100
        )
        if not applied and f"“{match.group(1).lower()}”" not in named:
            yield f"status word {match.group(1)!r} neither applied nor named"
    for match in _DATE.finditer(message):
        if old.get("due") == new.get("due") and not flagged and "already due" not in named:
            yield f"date {match.group(0)!r} neither applied nor named"
