"""Upgrades of older snapshot formats, applied in memory at load time.

Each entry takes a snapshot of version N and returns one of version N + 1; the file on
disk is rewritten in the current format only by the next compaction, so an upgrade
never destroys the only copy of a council's data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from storage.files import FORMAT_VERSION

Snapshot = dict[str, Any]

MIGRATIONS: dict[int, Callable[[Snapshot], Snapshot]] = {
    # 1: upgrade_v1_to_v2,   <- add the next one here when the format changes
}


def migrate(content: Snapshot, version: int) -> Snapshot:
    while version < FORMAT_VERSION:
        content = MIGRATIONS[version](content)
        version += 1
        content["version"] = version
    return content
