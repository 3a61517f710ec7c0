"""Export the store as JSON (everything, for re-import), CSV or Excel (for officers).

JSON holds every table with every document and its id exactly as stored, so
`import_json` into an empty store gives back the same data. CSV (one file per table)
and XLSX (one sheet per table) are for people: readable column headings, one row per
objective / update / risk / audit entry, dates as dates and times in UK local time.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from storage.engine import DocumentStore
from storage.files import JOURNAL_NAME, SNAPSHOT_NAME, StoreError, write_atomically
from storage.journal import write_store
from tracker.calendar import LONDON
from tracker.model import risk_band

EXPORT_FORMAT = "strategy-tracker-export"
EXPORT_VERSION = 1
UK = LONDON  # times in exports are UK time (tracker.calendar)

TEXT, NUMBER, DATE, TIME, BOOL = "text", "number", "date", "time", "bool"


@dataclass(frozen=True)
class Column:
    header: str
    get: Callable[[Mapping[str, Any]], Any]
    kind: str = TEXT
    uses: tuple[str, ...] = ()  # document fields this column shows (the rest get own columns)


def field_col(header: str, name: str, kind: str = TEXT) -> Column:
    return Column(header, lambda d: d.get(name), kind, (name,))


def change_col(header: str, name: str, side: int, kind: str = TEXT) -> Column:
    def get(doc: Mapping[str, Any]) -> Any:
        pair = (doc.get("changes") or {}).get(name)
        return pair[side] if isinstance(pair, list) and len(pair) == 2 else None

    return Column(header, get, kind, ("changes",))


def _changes_text(doc: Mapping[str, Any]) -> str:
    parts = []
    for name, pair in (doc.get("changes") or {}).items():
        before, after = pair if isinstance(pair, list) and len(pair) == 2 else (None, pair)
        parts.append(f"{name}: {_plain(before)} → {_plain(after)}")
    return "; ".join(parts)


def _plain(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _score(doc: Mapping[str, Any]) -> int | None:
    try:
        return int(doc["likelihood"]) * int(doc["impact"])
    except (KeyError, TypeError, ValueError):
        return None


def _band(doc: Mapping[str, Any]) -> str | None:
    score = _score(doc)
    return None if score is None else risk_band(score)[0]


# Sheets in the order an officer reads them; other tables (meta, conversations) are
# internal bookkeeping and go to the JSON export only.
LAYOUTS: dict[str, tuple[str, list[Column]]] = {
    "objectives": ("Objectives", [
        field_col("ID", "key"),
        field_col("Theme", "theme", NUMBER),
        field_col("Title", "title"),
        field_col("Directorate", "directorate"),
        field_col("Owner", "owner"),
        field_col("Due", "due", DATE),
        field_col("Status", "status"),
        field_col("Progress %", "progress", NUMBER),
        field_col("Last update (UK time)", "last_update", TIME),
    ]),
    "updates": ("Updates", [
        field_col("Update no.", "_id", NUMBER),
        field_col("When (UK time)", "at", TIME),
        field_col("Objective", "objective_id"),
        Column("Objective title", lambda d: d.get("_objective_title"), TEXT, ()),
        field_col("Author", "author"),
        change_col("Status before", "status", 0),
        change_col("Status after", "status", 1),
        change_col("Progress before %", "progress", 0, NUMBER),
        change_col("Progress after %", "progress", 1, NUMBER),
        change_col("Due before", "due", 0, DATE),
        change_col("Due after", "due", 1, DATE),
        Column("Other changes", lambda d: _changes_text({"changes": {
            k: v for k, v in (d.get("changes") or {}).items()
            if k not in ("status", "progress", "due")}}), TEXT, ("changes",)),
        field_col("Note", "note"),
        field_col("Message as sent", "text"),
        field_col("Channel", "channel"),
        field_col("Message id", "message_id"),
        field_col("Undone", "undone", BOOL),
    ]),
    "risks": ("Risks", [
        field_col("ID", "key"),
        field_col("Title", "title"),
        field_col("Likelihood (1-5)", "likelihood", NUMBER),
        field_col("Impact (1-5)", "impact", NUMBER),
        Column("Score", _score, NUMBER, ()),
        Column("Band", _band, TEXT, ()),
        field_col("Open", "open", BOOL),
        field_col("Owner", "owner"),
        field_col("Mitigation", "mitigation"),
        field_col("Theme", "theme", NUMBER),
        field_col("Objective", "objective"),
        field_col("Review date", "review", DATE),
        field_col("Logged (UK time)", "created_at", TIME),
        field_col("Logged by", "created_by"),
        field_col("Last changed (UK time)", "updated_at", TIME),
    ]),
    "audit": ("Audit trail", [
        field_col("Entry no.", "_id", NUMBER),
        field_col("When (UK time)", "at", TIME),
        field_col("Who", "actor"),
        field_col("Action", "action"),
        field_col("What", "entity"),
        Column("Changes", _changes_text, TEXT, ("changes",)),
        field_col("Note", "note"),
        field_col("Message as sent", "text"),
        field_col("Channel", "channel"),
        field_col("Message id", "message_id"),
        field_col("Undone", "undone", BOOL),
    ]),
    "people": ("People", [
        field_col("ID", "key"),
        field_col("Name", "name"),
        field_col("Role", "role"),
        field_col("Directorate", "directorate"),
        field_col("Email", "email"),
        field_col("Slack user id", "slack_id"),
        field_col("Teams user id", "teams_id"),
        field_col("Strategy group", "strategy_group", BOOL),
    ]),
    "themes": ("Themes", [
        field_col("Theme", "number", NUMBER),
        field_col("Title", "title"),
    ]),
    "directorates": ("Directorates", [
        field_col("ID", "key"),
        field_col("Name", "name"),
        field_col("Lead", "lead"),
    ]),
}  # fmt: skip
HIDDEN = {"themes": ("key",)}  # duplicates of a shown column


# ----------------------------------------------------------------------- values
def _to_date(value: Any) -> date | Any:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return value


def _to_time(value: Any) -> datetime | Any:
    """An ISO timestamp as naive UK local time (Excel has no time zones)."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UK).replace(tzinfo=None)
    return value


def _cell(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == DATE:
        return _to_date(value)
    if kind == TIME:
        return _to_time(value)
    if kind == BOOL:
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def table_rows(
    name: str, docs: list[dict[str, Any]], extras: Mapping[str, Any] | None = None
) -> tuple[list[str], list[str], list[list[Any]]]:
    """(headers, kinds, rows) of one table as people read it; unknown fields get columns."""
    _, columns = LAYOUTS[name]
    used = {"_id", *HIDDEN.get(name, ())}
    for column in columns:
        used.update(column.uses)
    other = sorted({k for d in docs for k in d if k not in used and not k.startswith("_")})
    all_columns = columns + [field_col(k, k) for k in other]
    rows = []
    for doc in docs:
        if extras and name == "updates":
            doc = {**doc, "_objective_title": extras.get(doc.get("objective_id", ""))}
        rows.append([_cell(c.get(doc), c.kind) for c in all_columns])
    return [c.header for c in all_columns], [c.kind for c in all_columns], rows


def readable_tables(
    tables: Mapping[str, list[dict[str, Any]]],
) -> list[tuple[str, str, list[str], list[str], list[list[Any]]]]:
    """(table, sheet title, headers, kinds, rows) for every table officers read."""
    titles = {d["key"]: d.get("title") for d in tables.get("objectives", []) if "key" in d}
    out = []
    for name, (title, _) in LAYOUTS.items():
        headers, kinds, rows = table_rows(name, tables.get(name, []), titles)
        out.append((name, title, headers, kinds, rows))
    return out


# ----------------------------------------------------------------------- writers
def export_json(tables: Mapping[str, list[dict[str, Any]]], path: Path, seq: int) -> None:
    content = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seq": seq,
        "tables": tables,
    }
    data = json.dumps(content, ensure_ascii=False, indent=1).encode("utf-8")
    write_atomically(path, data + b"\n")


def export_csv(tables: Mapping[str, list[dict[str, Any]]], folder: Path) -> list[Path]:
    """One UTF-8 (with BOM, so Excel reads accents) CSV file per table."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, _, headers, kinds, rows in readable_tables(tables):
        path = folder / f"{name}.csv"
        with open(path, "w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.writer(handle)
            writer.writerow(headers)
            for row in rows:
                writer.writerow([_csv_value(v, k) for v, k in zip(row, kinds, strict=True)])
        written.append(path)
    return written


def _csv_value(value: Any, kind: str) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else value


def export_xlsx(tables: Mapping[str, list[dict[str, Any]]], path: Path) -> None:
    """One sheet per table: bold frozen header row, filters, dates as dates, fitted widths."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    bold = Font(bold=True)
    fill = PatternFill("solid", start_color="DDEBF7")
    formats = {DATE: "dd/mm/yyyy", TIME: "dd/mm/yyyy hh:mm"}
    for _, title, headers, kinds, rows in readable_tables(tables):
        sheet = book.create_sheet(title)
        for number, width in enumerate(_widths(headers, kinds, rows), start=1):
            sheet.column_dimensions[get_column_letter(number)].width = width
        sheet.freeze_panes = "A2"
        last = f"{get_column_letter(len(headers))}{len(rows) + 1}"
        sheet.auto_filter.ref = f"A1:{last}"
        header_cells = []
        for text in headers:
            cell = WriteOnlyCell(sheet, value=text)
            cell.font, cell.fill = bold, fill
            cell.alignment = Alignment(vertical="top")
            header_cells.append(cell)
        sheet.append(header_cells)
        dated = [i for i, k in enumerate(kinds) if k in formats]
        for row in rows:
            if dated:
                row = list(row)
                for i in dated:
                    if isinstance(row[i], date):
                        cell = WriteOnlyCell(sheet, value=row[i])
                        cell.number_format = formats[kinds[i]]
                        row[i] = cell
            sheet.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    book.save(tmp)
    tmp.replace(path)


def _widths(headers: list[str], kinds: list[str], rows: list[list[Any]]) -> list[float]:
    """Column widths from the header and the first 500 rows, within 8-60 characters."""
    widths: list[float] = []
    for i, header in enumerate(headers):
        if kinds[i] == TIME:
            longest = 16
        elif kinds[i] == DATE:
            longest = 10
        else:
            longest = max((len(str(r[i])) for r in rows[:500] if r[i] is not None), default=0)
        widths.append(min(max(len(header), longest, 6) + 2, 60))
    return widths


# ----------------------------------------------------------------------- import
def read_export(path: Path) -> dict[str, dict[int, dict[str, Any]]]:
    """The tables of a JSON export as {table: {id: document}}, checked, or StoreError."""
    try:
        content = json.loads(Path(path).read_bytes())
    except FileNotFoundError:
        raise StoreError(f"{path} does not exist.") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise StoreError(f"{path} is not valid JSON ({error}). Nothing was imported.") from None
    if not isinstance(content, dict) or content.get("format") != EXPORT_FORMAT:
        raise StoreError(
            f"{path} is not a Strategy Tracker JSON export (make one with "
            f"`python -m bot export --format json`). Nothing was imported."
        )
    if not isinstance(content.get("version"), int) or content["version"] > EXPORT_VERSION:
        raise StoreError(
            f"{path} was exported by a newer Strategy Tracker (export format "
            f"{content.get('version')}; this version reads {EXPORT_VERSION}). Nothing was imported."
        )
    tables: dict[str, dict[int, dict[str, Any]]] = {}
    raw = content.get("tables")
    if not isinstance(raw, dict):
        raise StoreError(f"{path} has no tables. Nothing was imported.")
    for name, docs in raw.items():
        if not isinstance(docs, list):
            raise StoreError(f"{path}: table {name} is not a list. Nothing was imported.")
        table: dict[int, dict[str, Any]] = {}
        for number, doc in enumerate(docs, start=1):
            doc_id = doc.get("_id") if isinstance(doc, dict) else None
            if not isinstance(doc_id, int) or doc_id < 1 or doc_id in table:
                raise StoreError(
                    f"{path}: document {number} of table {name} has no valid, unique _id. "
                    f"Nothing was imported."
                )
            table[doc_id] = {k: v for k, v in doc.items() if k != "_id"}
        tables[name] = table
    return tables


def import_json(
    path: Path, directory: Path, *, log_tables: Iterable[str] = (), indexes: Any = None
) -> dict[str, int]:
    """Load a JSON export into an empty store (new folder, or a store with no documents).

    All or nothing: a new folder gets its snapshot in one atomic write; an existing empty
    store gets one transaction. Returns the number of documents per table.
    """
    tables = read_export(path)
    directory = Path(directory)
    if not (directory / SNAPSHOT_NAME).exists() and not (directory / JOURNAL_NAME).exists():
        write_store(directory, tables)
    else:
        store = DocumentStore.open(directory, log_tables=log_tables, indexes=indexes)
        try:
            held = {n: len(d) for n, d in store.export_tables().items() if d}
            if held:
                listing = ", ".join(f"{v} {k}" for k, v in held.items())
                raise StoreError(
                    f"{directory} already holds data ({listing}); import only into an empty "
                    f"folder. Nothing was imported."
                )
            _import_into(store, tables)
        finally:
            store.close()
    return {name: len(docs) for name, docs in tables.items()}


def _import_into(store: DocumentStore, tables: Mapping[str, Mapping[int, dict[str, Any]]]) -> None:
    import asyncio

    async def run() -> None:
        async with store.transaction() as tx:
            for name, docs in tables.items():
                for doc_id, doc in sorted(docs.items()):
                    tx.insert(name, doc, doc_id=doc_id)

    asyncio.run(run())
