"""A separate process writing to a store, for the crash and concurrency proofs.

    python tests/store_child.py DATA TAG START COUNT COMPACT_BYTES

Records updates TAG-START, TAG-START+1, ... (COUNT of them; 0 = forever) through
Repository.record_update, cycling over the sample's 20 objectives, and prints
"ok N" (flushed) only after each update has been confirmed, i.e. is durable.
Prints "ready" once the store is open. Each update asks for progress N % 101, and its
text says so, so the parent can check an objective always matches its newest update.
"""

from __future__ import annotations

import asyncio
import sys

from storage.repository import Repository, Source

OBJECTIVES = [f"{t}.{n}" for t in range(1, 6) for n in range(1, 5)]


async def main(data: str, tag: str, start: int, count: int, compact_bytes: int) -> None:
    repo = Repository.open(data, compact_bytes=compact_bytes)
    print("ready", flush=True)
    number = start
    while count == 0 or number < start + count:
        progress = number % 101
        padding = "x" * (number * 37 % 300)  # lines of varied length
        await repo.record_update(
            OBJECTIVES[number % len(OBJECTIVES)],
            Source(f"{tag}-officer-{number % 7}", "console", f"{tag} {number} progress {progress}"),
            progress=progress,
            note=f"note {number} {padding}",
        )
        print(f"ok {number}", flush=True)
        number += 1
    repo.close()


if __name__ == "__main__":
    data, tag, start, count, compact = sys.argv[1:6]
    asyncio.run(main(data, tag, int(start), int(count), int(compact)))
