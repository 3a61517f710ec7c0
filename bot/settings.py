"""Run-time settings: command-line options over environment variables over defaults.

The defaults are the quick start: a `./data` store next to where you run the bot and
the sample strategy shipped in `config/`, so `python -m bot chat` works on a fresh
checkout with no configuration at all.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_STRATEGY = PROJECT_ROOT / "config" / "strategy.sample.yaml"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    strategy_file: Path | None

    @classmethod
    def from_args(cls, data: str | None = None, strategy: str | None = None) -> Settings:
        data_dir = Path(data or os.environ.get("STRATEGY_DATA_DIR") or "data")
        chosen = strategy or os.environ.get("STRATEGY_FILE")
        if chosen and chosen.lower() == "none":
            return cls(data_dir, None)
        return cls(data_dir, Path(chosen) if chosen else SAMPLE_STRATEGY)


def add_store_options(parser: argparse.ArgumentParser, *, strategy: bool = True) -> None:
    """--data and --strategy, shared by every subcommand that opens the store."""
    parser.add_argument(
        "--data", metavar="DIR", help="data directory (default ./data, or $STRATEGY_DATA_DIR)"
    )
    if strategy:
        parser.add_argument(
            "--strategy",
            metavar="FILE",
            help="strategy YAML file (default: the sample strategy, or $STRATEGY_FILE; "
            "'none' to use only what the store holds)",
        )
