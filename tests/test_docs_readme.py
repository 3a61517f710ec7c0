"""Docs tests in the datasette manner: the README cannot drift from the code.

- Every phrase in the README's "What it understands" table reaches a registered command
  of the kind its row names (a phrase in the "log and manage risks" row must reach a risk
  command, not just be understood somehow), through the real front door's routing.
- Every `@command` shows up in that table: one of its help examples (or, for a command
  with no examples, its name) is a phrase there, so nothing the bot does is undocumented.
- Every `python -m bot` subcommand is shown in a `python -m bot ...` line.
- Every setting the code reads from the environment is in the README's settings table.

A failure names what is missing, so the fix is to document it (or remove the phrase).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from bot.cli import build_parser
from handlers.router import REGISTRY
from tests.language.test_routes import route_name

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")

# Which registered commands each row of the table may reach, by help group or by name.
ROW_REACHES: dict[str, set[str]] = {
    "record progress": {"update", "update by title"},
    "name an objective by its title": {"update by title"},
    "change a due date": {"change due date", "update", "update by title"},
    "change an owner / add an objective": {"change owner", "add objective"},
    "log and manage risks": {"group:Risks"},
    "ask": {"group:Questions"},
    "get digests, reports and the dashboard": {"group:Digests", "group:Reports", "dashboard"},
    "fix a mistake": {"undo"},
    "get help": {"group:Help"},
}


def table_rows() -> dict[str, list[str]]:
    """The "What it understands" table: row label -> the phrases in backticks."""
    table = README.split("What it understands", 1)[1].split("\n\n", 2)[1]
    rows: dict[str, list[str]] = {}
    for line in table.splitlines()[2:]:
        cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
        label, said = cells[0].strip(), "|".join(cells[1:])
        rows[label] = [p.replace("\\|", "|") for p in re.findall(r"`([^`]+)`", said)]
    return rows


ROWS = table_rows()
PHRASES = [(label, phrase) for label, phrases in ROWS.items() for phrase in phrases]


def _allowed(label: str, name: str) -> bool:
    group = next(c.group for c in REGISTRY if c.name == name)
    return name in ROW_REACHES[label] or f"group:{group}" in ROW_REACHES[label]


def test_every_row_of_the_table_says_which_commands_it_reaches() -> None:
    assert set(ROWS) == set(ROW_REACHES)
    assert len(PHRASES) >= 60


@pytest.mark.parametrize(("label", "phrase"), PHRASES, ids=[p for _, p in PHRASES])
async def test_every_readme_phrase_reaches_a_command_of_its_row(
    tracker, clock, label, phrase
) -> None:
    name = await route_name(tracker, phrase, clock)
    assert name is not None, f"{phrase!r} is not understood"
    assert _allowed(label, name), f"{phrase!r} ({label}) reached {name!r}"


def test_every_command_is_in_the_readme_table() -> None:
    shown = {p for _, p in PHRASES}
    missing = [
        c.name for c in REGISTRY if not (set(c.examples) & shown if c.examples else c.name in shown)
    ]
    assert not missing, f"commands with no example in the README's table: {missing}"


def test_every_subcommand_is_in_the_readme() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    lines = [line for line in README.splitlines() if "python -m bot" in line]
    missing = [
        name
        for name in subparsers.choices
        if not any(re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", line) for line in lines)
    ]
    assert not missing, f"`python -m bot` subcommands missing from the README: {missing}"


_ENV_READ = re.compile(r"\b(?:env|environ)(?:\.get\(\s*|\[\s*)\"([A-Z][A-Z0-9_]+)\"")


def settings_in_code() -> set[str]:
    found: set[str] = set()
    for package in ("bot", "handlers", "storage", "tracker"):
        for path in (ROOT / package).rglob("*.py"):
            found |= set(_ENV_READ.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_setting_is_in_the_readme() -> None:
    settings = settings_in_code()
    assert {"STRATEGY_DATA_DIR", "SLACK_BOT_TOKEN", "MICROSOFT_APP_ID"} <= settings
    table = README.split("### Every setting", 1)[1].split("\n## ", 1)[0]
    missing = sorted(s for s in settings if f"`{s}`" not in table)
    assert not missing, f"settings the code reads but the README's table lacks: {missing}"
