"""Named fault points: where tests make the store's file work fail on purpose.

The store calls `point("append")` (and the other names in `POINTS`) at the moments a
crash, a full disk or an I/O error matters. In production no fault is armed and a point costs
one dictionary lookup. A test arms one by name:

    with faults.armed("append", faults.disk_full(partial=True)):
        ...  # the next journal append writes half a line, then fails with ENOSPC

Naming the moment ("after-append", "between-renames") instead of counting calls keeps a
crash test true when the code around it changes.

Points, in the order a store meets them:
- `open`: a store is about to be opened (`directory`);
- `append`: a journal line is about to be written (`fd`, `offset`, `line`);
- `after-append`: the line is written, not yet fsynced (`fd`);
- `sync`: the journal is about to be fsynced, on the flusher thread (`fd`); one fsync
  makes every line written before it durable;
- `set-aside`: a torn line left by a crash is about to be saved (`fd`);
- `probe`: the health check tries a small write after a failed one (`fd`);
- `snapshot-copy`: a backup is about to be written (`target`);
- `snapshot`: a compaction is about to write the new snapshot;
- `before-rename`: a file written whole to `.tmp` is about to replace `path`;
- `between-renames`: the new snapshot is in place, the new journal not yet.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Iterator
from typing import Any

Action = Callable[..., None]

POINTS = (
    "open",
    "append",
    "after-append",
    "sync",
    "set-aside",
    "probe",
    "snapshot-copy",
    "snapshot",
    "before-rename",
    "between-renames",
)

_armed: dict[str, Action] = {}


def point(name: str, **context: Any) -> None:
    """Run the action armed at `name`, if any (it may raise or write, as a failure would)."""
    action = _armed.get(name)
    if action is not None:
        action(**context)


@contextlib.contextmanager
def armed(name: str, action: Action) -> Iterator[None]:
    """Arm `action` at the point `name` for the duration of the block.

    An unknown name is refused: a misspelt point would never fire, and the test arming
    it would pass without testing anything.
    """
    if name not in POINTS:
        raise ValueError(f"no fault point {name!r}; the points are {', '.join(POINTS)}")
    previous = _armed.get(name)
    _armed[name] = action
    try:
        yield
    finally:
        if previous is None:
            _armed.pop(name, None)
        else:
            _armed[name] = previous


def disk_full(*, partial: bool = False) -> Action:
    """An action that fails as a full disk does: ENOSPC, after writing part of the line
    at the `append` point when `partial` (as a write that ran out of space half-way)."""

    def fail(fd: int | None = None, offset: int = 0, line: bytes = b"", **_: Any) -> None:
        if partial and fd is not None and line:
            os.pwrite(fd, line[: len(line) // 2], offset)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    return fail


def read_only() -> Action:
    """An action that fails as a read-only filesystem does (EROFS): for tests run as root,
    whom `chmod` does not stop."""

    def fail(**_: Any) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    return fail
