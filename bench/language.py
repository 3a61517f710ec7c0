"""`python -m bench language`: how well and how fast the reader understands officers.

Accuracy: every case in tests/language/corpus/*.yaml through `FrontDoor.handle` on a fresh
sample store, judged exactly as tests/language/test_corpus.py judges it, reported per
family ("update", "due", "question"...) and overall.

Speed: the same messages against the 100k-update store that `bench.fixture` builds (the
one `python -m bench` uses), timed two ways: the reader alone (normalise, references,
fields, intent, and the question reader where it runs), which is what the reader adds to
each message, and the whole front door (`FrontDoor.handle`, including any durable write).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.measure import percentile


async def accuracy() -> tuple[dict[str, tuple[int, int]], list[Any]]:
    from tests.language.runner import load_cases, run_case

    per: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    failures = []
    for case in load_cases():
        verdict = await run_case(case)
        family = case.family.split("/")[0]
        per[family][1] += 1
        per[family][0] += int(verdict.ok)
        if not verdict.ok:
            failures.append(verdict)
    return {k: (v[0], v[1]) for k, v in sorted(per.items())}, failures


async def speed(directory: Path, rounds: int) -> dict[str, float]:
    from bot.app import open_app
    from bot.settings import Settings
    from handlers.context import Context
    from handlers.message import IncomingMessage, Sender
    from handlers.reader import normalise, read
    from handlers.reader_questions import read_question
    from tests.language.runner import load_cases

    texts = [c.text for c in load_cases()]
    app = await open_app(Settings(directory / "data", directory / "strategy.yaml"))
    try:
        repo, tracker = app.repo, app.tracker
        admin = next(p for p in repo.people() if p.role.value == "admin")
        stored = repo.store.count("updates")
        reader_ms, handle_ms = [], []
        for text in texts:  # warm-up: the first date read imports dateparser's data
            context = Context(repo, IncomingMessage(text, Sender("slack")), admin, tracker.clock())
            read(context, normalise(text))
        for number in range(rounds):
            for i, text in enumerate(texts):
                message = IncomingMessage(text, Sender("slack", person_id=admin.id), f"l{i}")
                began = time.perf_counter()
                clean = normalise(text)
                context = Context(repo, message, admin, tracker.clock())
                reading = read(context, clean)
                if reading.intent == "route":
                    read_question(context, clean)
                reader_ms.append((time.perf_counter() - began) * 1000)
                if number == 0:
                    began = time.perf_counter()
                    await tracker.handle(message)
                    handle_ms.append((time.perf_counter() - began) * 1000)
    finally:
        app.repo.close()
    return {
        "stored_updates": stored,
        "messages": len(texts),
        "reader_p50_ms": statistics.median(reader_ms),
        "reader_p99_ms": percentile(reader_ms, 99),
        "handle_p50_ms": statistics.median(handle_ms),
        "handle_p99_ms": percentile(handle_ms, 99),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench language", description=__doc__)
    parser.add_argument("--size", type=int, default=100_000, help="updates in the timed store")
    parser.add_argument("--rounds", type=int, default=5, help="passes of the reader timing")
    parser.add_argument("--failures", action="store_true", help="list the cases that fail")
    args = parser.parse_args(argv)

    per, failures = asyncio.run(accuracy())
    total_ok = sum(ok for ok, _ in per.values())
    total = sum(n for _, n in per.values())
    print("family      | right | cases | accuracy")
    print("------------|-------|-------|---------")
    for family, (ok, n) in per.items():
        print(f"{family:<11} | {ok:>5} | {n:>5} | {100 * ok / n:7.1f}%")
    print(f"{'overall':<11} | {total_ok:>5} | {total:>5} | {100 * total_ok / max(total, 1):7.1f}%")
    if args.failures:
        for verdict in failures:
            print(f"  FAIL {verdict.case.source} {verdict.case.text!r}: {verdict.reason}")

    from bench.fixture import build

    base = Path(tempfile.mkdtemp(prefix="strategy-bench-language-"))
    try:
        print(f"\nbuilding a store with {args.size:,} updates...", file=sys.stderr, flush=True)
        build(base, args.size)
        figures = asyncio.run(speed(base, args.rounds))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(
        f"\ntime per message at {figures['stored_updates']:,} stored updates "
        f"({figures['messages']} corpus messages):"
    )
    print(f"  reader alone      p50 {figures['reader_p50_ms']:.3f} ms   "
          f"p99 {figures['reader_p99_ms']:.3f} ms   (budget: p99 <= 5 ms)")  # fmt: skip
    print(f"  FrontDoor.handle    p50 {figures['handle_p50_ms']:.3f} ms   "
          f"p99 {figures['handle_p99_ms']:.3f} ms   (anchor: front door incl. writes)")  # fmt: skip
    return 0
