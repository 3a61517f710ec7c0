"""Store maintenance: `recover`, `backup`, `export` and `import-json`.

    python -m bot recover [--data DIR]
    python -m bot backup [--data DIR] [--to DIR]
    python -m bot export [--data DIR] --format json|csv|xlsx [--to PATH]
    python -m bot import-json FILE [--data EMPTYDIR]

`backup` and `export` are safe while the bot runs: they take the store's lock only
long enough to catch up with it, then work from their own consistent copy in memory.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from bot.settings import Settings, add_store_options
from bot.subcommands.errors import fail
from storage.engine import DocumentStore
from storage.export import export_csv, export_json, export_xlsx, import_json
from storage.files import free_name
from storage.recovery import describe, recover
from storage.repository import INDEXES, LOG_TABLES, StoreError


def _data(args: argparse.Namespace) -> Path:
    """--data, else $STRATEGY_DATA_DIR, else ./data (the same rule as every subcommand)."""
    return Settings.from_args(args.data, "none").data_dir


def _stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


def _open(data: Path) -> DocumentStore:
    if not data.is_dir():
        raise StoreError(f"{data} does not exist; point --data at the bot's data folder.")
    return DocumentStore.open(data, log_tables=LOG_TABLES, indexes=INDEXES)


# ---------------------------------------------------------------------- recover
def run_recover(args: argparse.Namespace) -> int:
    try:
        report = recover(_data(args))
    except StoreError as error:
        return fail(error)
    print("\n".join(report.lines()))
    return 0


# ---------------------------------------------------------------------- backup
def run_backup(args: argparse.Namespace) -> int:
    target = Path(args.to) if args.to else free_name(Path("backups") / _stamp())
    if target.exists() and any(target.iterdir()):
        return fail(StoreError(f"{target} is not empty; back up into a new folder."))
    try:
        store = _open(_data(args))
    except StoreError as error:
        return fail(error)
    try:
        summary = asyncio.run(store.backup(target))
        expected = store.export_tables()
    except StoreError as error:
        return fail(error)
    finally:
        store.close()
    copy = DocumentStore.open(target, log_tables=LOG_TABLES, indexes=INDEXES)
    try:
        same = copy.export_tables() == expected and copy.seq == summary["seq"]
    finally:
        copy.close()
    if not same:
        return fail(StoreError(f"the backup in {target} does not match the store; try again."))
    size = sum(p.stat().st_size for p in target.iterdir()) / 1e6
    print(
        f"Backed up {_data(args)} to {target} ({size:.1f} MB, up to entry {summary['seq']}): "
        f"{describe(summary['counts'])}. Verified: the copy opens and matches."
    )
    print(f"To restore: stop the bot, then run it with --data {target} (or copy the folder back).")
    return 0


# ---------------------------------------------------------------------- export
def run_export(args: argparse.Namespace) -> int:
    fmt = args.format
    default = Path("exports") / f"strategy-tracker-{_stamp()}{'' if fmt == 'csv' else '.' + fmt}"
    target = Path(args.to) if args.to else free_name(default)
    try:
        store = _open(_data(args))
    except StoreError as error:
        return fail(error)
    try:
        tables = store.export_tables()
        seq = store.seq
    finally:
        store.close()
    if fmt == "json":
        export_json(tables, target, seq)
    elif fmt == "csv":
        export_csv(tables, target)
    else:
        export_xlsx(tables, target)
    print(f"Exported {describe({k: len(v) for k, v in tables.items()})} to {target}.")
    return 0


# ---------------------------------------------------------------------- import
def run_import_json(args: argparse.Namespace) -> int:
    try:
        counts = import_json(Path(args.file), _data(args), log_tables=LOG_TABLES, indexes=INDEXES)
    except StoreError as error:
        return fail(error)
    print(f"Imported {describe(counts)} into {_data(args)}.")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    def data_option(parser: argparse.ArgumentParser) -> None:
        add_store_options(parser, strategy=False)

    p = subparsers.add_parser(
        "recover",
        help="rebuild a damaged store from what can be read",
        description="Move the store's files into DATA/damaged-<time>/ and rebuild it from the "
        "snapshot (if readable) and the journal up to its first damaged line. Nothing is deleted.",
    )
    data_option(p)
    p.set_defaults(func=run_recover)

    p = subparsers.add_parser(
        "backup",
        help="copy the store consistently, even while the bot runs",
        description="Write a consistent copy of the store, then open it to check it.",
    )
    data_option(p)
    p.add_argument("--to", type=Path, help="new folder for the copy (default: ./backups/<time>/)")
    p.set_defaults(func=run_backup)

    p = subparsers.add_parser(
        "export",
        help="export objectives, updates, risks and audit as json, csv or xlsx",
        description="json: every table, re-importable with import-json. csv: one file per table "
        "in a folder. xlsx: one sheet per table, for Excel.",
    )
    data_option(p)
    p.add_argument("--format", required=True, choices=("json", "csv", "xlsx"))
    p.add_argument("--to", type=Path, help="output file (folder for csv); default: ./exports/")
    p.set_defaults(func=run_export)

    p = subparsers.add_parser(
        "import-json",
        help="load a json export into an empty store",
        description="Load a `python -m bot export --format json` file into an empty data folder.",
    )
    p.add_argument("file", help="the .json export")
    data_option(p)
    p.set_defaults(func=run_import_json)
