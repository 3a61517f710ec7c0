"""Reading a council's strategy file (YAML) and objective spreadsheets (CSV).

Both are validated completely before anything is stored: every problem is reported
with its line or row, and a file with any problem stores nothing, so a council never
ends up with half an action plan imported.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from tracker.calendar import DEFAULT_REGION, parse_region
from tracker.model import Role, parse_status

OBJECTIVE_ID = re.compile(r"^(\d{1,2})\.(\d{1,3})$")
PERSON_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")

CSV_COLUMNS = ("id", "title", "directorate", "owner", "due", "status", "progress")
CSV_REQUIRED = ("id", "title", "directorate")


class StrategyFileError(ValueError):
    """Carries every problem found, each already prefixed with its line or row."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} problem(s), nothing was loaded:\n{listing}")


_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: str | Path) -> Any:
    """A YAML file, safely, with libyaml's C parser when built (ten times PyYAML's own:
    a council's strategy file is read twice at start-up, which `/healthz` waits for)."""
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_BaseLoader)


class _LineLoader(_BaseLoader):  # libyaml's C parser when built
    """A SafeLoader that remembers each mapping's line, so errors can point at it."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _date(value: Any) -> date | None:
    """Dates in the file are ISO (2027-03-31) or UK day-first (31/03/2027)."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d %B %Y", "%d %b %Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"'{text}' is not a date (use 31/03/2027 or 2027-03-31)")


@dataclass
class Strategy:
    """A validated strategy, ready for `Repository.load_strategy`."""

    info: dict[str, Any]
    themes: list[dict[str, Any]] = field(default_factory=list)
    directorates: list[dict[str, Any]] = field(default_factory=list)
    people: list[dict[str, Any]] = field(default_factory=list)
    objectives: list[dict[str, Any]] = field(default_factory=list)
    risks: list[dict[str, Any]] = field(default_factory=list)

    def theme_docs(self) -> list[dict[str, Any]]:
        return [{"key": str(t["number"]), **t} for t in self.themes]

    def directorate_docs(self) -> list[dict[str, Any]]:
        return [
            {"key": d["id"], "name": d["name"], "lead": d.get("lead")} for d in self.directorates
        ]

    def people_docs(self) -> list[dict[str, Any]]:
        return [{"key": p.pop("id"), **p} for p in (dict(p) for p in self.people)]

    def objective_docs(self) -> list[dict[str, Any]]:
        return [{"key": o.pop("id"), **o} for o in (dict(o) for o in self.objectives)]

    def risk_docs(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.risks]

    @property
    def first_admin(self) -> str | None:
        return next((p["id"] for p in self.people if p["role"] == Role.ADMIN.value), None)


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")


def _where(item: Any, label: str) -> str:
    line = item.get("__line__") if isinstance(item, dict) else None
    return f"line {line} ({label})" if line else label


def load_strategy(path: str | Path) -> Strategy:
    """Parse and validate a strategy YAML file, raising StrategyFileError with every problem."""
    path = Path(path)
    raw = _read_yaml(path)
    check = _Checker()
    group = raw.get("strategy_group") or {}
    strategy = Strategy(info=_info(raw, group, check))
    themes = _themes(raw, strategy, check)
    directorate_ids = {str(d.get("id")) for d in raw.get("directorates") or [] if d}
    people_ids = _people(raw, group, directorate_ids, strategy, check)
    seen_directorates = _directorates(raw, people_ids, strategy, check)
    objective_ids = _objectives(raw, themes, seen_directorates, people_ids, strategy, check)
    for item in raw.get("risks") or []:
        risk = _risk_row(item, themes, objective_ids, people_ids, _where(item, "risk"), check)
        if risk:
            strategy.risks.append(risk)
    if not any(p["role"] == Role.ADMIN.value for p in strategy.people):
        check.fail("people", "nobody has role admin; name at least one administrator")
    if check.problems:
        raise StrategyFileError(path, check.problems)
    return strategy


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)
    except FileNotFoundError:
        raise StrategyFileError(path, ["file not found"]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "file"
        problem = getattr(error, "problem", None) or str(error)
        raise StrategyFileError(path, [f"{where}: not valid YAML ({problem})"]) from None
    if not isinstance(raw, dict):
        raise StrategyFileError(path, ["file: expected sections strategy, themes, objectives..."])
    return raw


def _info(raw: dict[str, Any], group: dict[str, Any], check: _Checker) -> dict[str, Any]:
    """The strategy's names, its group's channel and the council's bank-holiday region.

    The region (`digests: bank_holidays:`) is kept with the strategy so that due dates
    typed in chat skip the same bank holidays as the digest schedule does.
    """
    info_raw = raw.get("strategy") or {}
    digests = raw.get("digests")
    region: str | None = DEFAULT_REGION
    if isinstance(digests, dict):
        try:
            region = parse_region(digests.get("bank_holidays", DEFAULT_REGION))
        except ValueError as error:
            check.fail(_where(digests, "digests"), f"bank_holidays: {error}")
    return {
        "name": str(info_raw.get("name") or "ICT Strategy"),
        "council": str(info_raw.get("council") or ""),
        "period": str(info_raw.get("period") or ""),
        "group_name": str(group.get("name") or "Strategy group"),
        "group_short": str(group.get("short_name") or group.get("name") or "Strategy group"),
        "group_channel": group.get("channel"),
        "bank_holidays": region,
        "report": _report_section(raw.get("report"), check),
    }


def _themes(raw: dict[str, Any], strategy: Strategy, check: _Checker) -> dict[int, str]:
    themes: dict[int, str] = {}
    for item in raw.get("themes") or []:
        where = _where(item, "theme")
        number, title = item.get("number"), str(item.get("title") or "").strip()
        if not isinstance(number, int) or not 1 <= number <= 99:
            check.fail(where, f"theme number must be a whole number 1-99, got {number!r}")
            continue
        if number in themes:
            check.fail(where, f"duplicate theme number {number}")
        if not title:
            check.fail(where, f"theme {number} has no title")
        themes[number] = title
        theme_doc: dict[str, Any] = {"number": number, "title": title}
        aliases = _aliases(item, where, f"theme {number}", check)
        if aliases:
            theme_doc["aliases"] = aliases
        strategy.themes.append(theme_doc)
    return themes


def _people(
    raw: dict[str, Any],
    group: dict[str, Any],
    directorate_ids: set[str],
    strategy: Strategy,
    check: _Checker,
) -> set[str]:
    people_ids: set[str] = set()
    members = {str(m) for m in group.get("members") or []}
    for item in raw.get("people") or []:
        person = _person_row(item, people_ids, directorate_ids, members, check)
        if person:
            strategy.people.append(person)
    for member in sorted(members - people_ids):
        check.fail("strategy_group", f"member {member!r} is not in people")
    return people_ids


def _person_row(
    item: dict[str, Any],
    people_ids: set[str],
    directorate_ids: set[str],
    members: set[str],
    check: _Checker,
) -> dict[str, Any] | None:
    where = _where(item, f"person {item.get('id', '?')}")
    pid = str(item.get("id") or "")
    if not PERSON_ID.match(pid):
        check.fail(where, f"person id {pid!r} must be lower-case letters, digits, . _ -")
        return None
    if pid in people_ids:
        check.fail(where, f"duplicate person id {pid}")
    people_ids.add(pid)
    role = Role.parse(str(item.get("role") or "officer"))
    if role is None:
        check.fail(
            where,
            f"unknown role {item.get('role')!r} (use officer, directorate lead, "
            f"strategy group or admin)",
        )
        return None
    directorate = item.get("directorate")
    if directorate is not None and str(directorate) not in directorate_ids:
        check.fail(
            where,
            f"unknown directorate {directorate!r} (known: {', '.join(sorted(directorate_ids))})",
        )
    return {
        "id": pid,
        "name": str(item.get("name") or pid),
        "role": role.value,
        "directorate": directorate,
        "slack_id": item.get("slack_id"),
        "teams_id": item.get("teams_id"),
        "email": item.get("email"),
        "strategy_group": pid in members or role is Role.STRATEGY_GROUP,
    }


def _directorates(
    raw: dict[str, Any], people_ids: set[str], strategy: Strategy, check: _Checker
) -> set[str]:
    seen: set[str] = set()
    for item in raw.get("directorates") or []:
        where = _where(item, f"directorate {item.get('id', '?')}")
        did = str(item.get("id") or "")
        if not PERSON_ID.match(did):
            check.fail(where, f"directorate id {did!r} must be lower-case letters, digits, . _ -")
            continue
        if did in seen:
            check.fail(where, f"duplicate directorate id {did}")
        seen.add(did)
        lead = item.get("lead")
        if lead is not None and str(lead) not in people_ids:
            check.fail(where, f"lead {lead!r} is not in people")
        strategy.directorates.append(
            {"id": did, "name": str(item.get("name") or did), "lead": lead}
        )
    return seen


def _objectives(
    raw: dict[str, Any],
    themes: dict[int, str],
    directorates: set[str],
    people_ids: set[str],
    strategy: Strategy,
    check: _Checker,
) -> set[str]:
    objective_ids: set[str] = set()
    for item in raw.get("objectives") or []:
        where = _where(item, f"objective {item.get('id', '?')}")
        row = _objective_row(item, themes, directorates, people_ids, where, check)
        if row is None:
            continue
        if row["id"] in objective_ids:
            check.fail(where, f"duplicate objective id {row['id']}")
        objective_ids.add(row["id"])
        strategy.objectives.append(row)
    return objective_ids


MAX_ALIASES = 10


def _aliases(item: dict[str, Any], where: str, what: str, check: _Checker) -> list[str] | None:
    """Optional `aliases: [HQ, headquarters]`: other names officers use (reader issue 10).

    A list of up to 10 short, non-empty names; anything else is reported like every other
    mistake in the file, and None is returned so the item is left out.
    """
    raw = item.get("aliases")
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [raw]
    names = [str(a).strip() for a in raw] if isinstance(raw, list) else []
    if (
        not isinstance(raw, list)
        or not all(names)
        or len(names) > MAX_ALIASES
        or any(len(n) > 60 for n in names)
    ):
        check.fail(
            where,
            f"{what}: aliases must be a list of up to {MAX_ALIASES} short names, "
            f"e.g. [HQ, headquarters]; got {raw!r}",
        )
        return None
    return names


REPORT_TEXT_KEYS = ("author", "meeting", "recommendation", "title")


def _report_section(raw: Any, check: _Checker) -> dict[str, Any]:
    """The optional `report:` section (committee report wording); blanks use defaults."""
    if raw is None:
        return {}
    where = _where(raw, "report")
    if not isinstance(raw, dict):
        check.fail(where, "report must be a section with author, meeting, officers...")
        return {}
    section: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "__line__":
            continue
        if key in REPORT_TEXT_KEYS:
            if not isinstance(value, str | int | float) or not str(value).strip():
                check.fail(where, f"report {key} must be text")
            else:
                section[key] = str(value).strip()
        elif key == "officers":
            officers = []
            for officer in value if isinstance(value, list) else [value]:
                if not isinstance(officer, dict) or not officer.get("name"):
                    check.fail(where, "each report officer needs a name (and role, email, phone)")
                    continue
                officers.append(
                    {
                        k: str(officer[k])
                        for k in ("name", "role", "email", "phone")
                        if officer.get(k)
                    }
                )
            section["officers"] = officers
        else:
            known = ", ".join((*REPORT_TEXT_KEYS, "officers"))
            check.fail(where, f"unknown report setting {key!r} (known: {known})")
    return section


def _objective_row(
    item: dict[str, Any],
    themes: dict[int, str],
    directorates: set[str],
    people: set[str],
    where: str,
    check: _Checker,
) -> dict[str, Any] | None:
    oid = str(item.get("id") or "").strip()
    match = OBJECTIVE_ID.match(oid)
    if not match:
        check.fail(where, f"objective id {oid!r} must look like 3.2 (theme.number)")
        return None
    theme = int(match.group(1))
    ok = True
    if themes and theme not in themes:
        check.fail(where, f"objective {oid} is under theme {theme}, which is not in themes")
        ok = False
    title = str(item.get("title") or "").strip()
    if not title:
        check.fail(where, f"objective {oid} has no title")
        ok = False
    directorate = str(item.get("directorate") or "").strip()
    if directorate not in directorates:
        check.fail(
            where,
            f"objective {oid}: unknown directorate {directorate!r} (known: "
            f"{', '.join(sorted(directorates)) or 'none'})",
        )
        ok = False
    owner = item.get("owner")
    if owner is not None and people and str(owner) not in people:
        check.fail(where, f"objective {oid}: owner {owner!r} is not in people")
        ok = False
    try:
        due = _date(item.get("due"))
    except ValueError as error:
        check.fail(where, f"objective {oid}: due {error}")
        ok = False
        due = None
    status = parse_status(str(item.get("status") or "not started"))
    if status is None:
        check.fail(where, f"objective {oid}: unknown status {item.get('status')!r}")
        ok = False
    progress = item.get("progress")
    if progress not in (None, ""):
        try:
            progress = int(str(progress).rstrip("%"))
            if not 0 <= progress <= 100:
                raise ValueError
        except ValueError:
            check.fail(where, f"objective {oid}: progress must be 0-100, got {progress!r}")
            ok = False
    else:
        progress = None
    aliases = _aliases(item, where, f"objective {oid}", check)
    if not ok or aliases is None or status is None:
        return None
    return {
        **({"aliases": aliases} if aliases else {}),
        "id": oid,
        "theme": theme,
        "title": title,
        "directorate": directorate,
        "owner": str(owner) if owner else None,
        "due": due.isoformat() if due else None,
        "status": status.value,
        "progress": progress,
    }


def _risk_row(
    item: dict[str, Any],
    themes: dict[int, str],
    objectives: set[str],
    people: set[str],
    where: str,
    check: _Checker,
) -> dict[str, Any] | None:
    title = str(item.get("title") or "").strip()
    ok = bool(title)
    if not ok:
        check.fail(where, "risk has no title")
    levels = {}
    for key in ("likelihood", "impact"):
        value = item.get(key)
        if not isinstance(value, int) or not 1 <= value <= 5:
            check.fail(where, f"risk {key} must be 1-5, got {value!r}")
            ok = False
        levels[key] = value
    theme = item.get("theme")
    if theme is not None and theme not in themes:
        check.fail(where, f"risk theme {theme!r} is not in themes")
        ok = False
    objective = item.get("objective")
    if objective is not None and str(objective) not in objectives:
        check.fail(where, f"risk objective {objective!r} is not in objectives")
        ok = False
    owner = item.get("owner")
    if owner is not None and str(owner) not in people:
        check.fail(where, f"risk owner {owner!r} is not in people")
        ok = False
    try:
        review = _date(item.get("review"))
    except ValueError as error:
        check.fail(where, f"risk review {error}")
        ok = False
        review = None
    if not ok:
        return None
    return {
        "title": title,
        **levels,
        "theme": theme,
        "objective": str(objective) if objective else None,
        "owner": owner,
        "mitigation": item.get("mitigation"),
        "review": review.isoformat() if review else None,
    }


def read_objectives_csv(
    path: str | Path, themes: set[int], directorates: set[str], people: set[str]
) -> list[dict[str, Any]]:
    """Objectives from a spreadsheet export; row numbers in errors match the spreadsheet."""
    path = Path(path)
    check = _Checker()
    rows: list[dict[str, Any]] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip().lower() for h in reader.fieldnames or []]
            missing = [c for c in CSV_REQUIRED if c not in header]
            if missing:
                problem = (
                    f"row 1: missing column(s) {', '.join(missing)}; "
                    f"columns are {', '.join(CSV_COLUMNS)}"
                )
                raise StrategyFileError(path, [problem])
            seen: set[str] = set()
            for number, raw in enumerate(reader, start=2):
                item = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
                item = {k: (v or None) for k, v in item.items()}
                where = f"row {number}"
                row = _objective_row(
                    item, {t: "" for t in themes}, directorates, people, where, check
                )
                if row is None:
                    continue
                if row["id"] in seen:
                    check.fail(where, f"duplicate objective id {row['id']}")
                seen.add(row["id"])
                rows.append({"key": row.pop("id"), **row})
    except FileNotFoundError:
        raise StrategyFileError(path, ["file not found"]) from None
    except UnicodeDecodeError:
        raise StrategyFileError(path, ["file is not UTF-8 text (save it as CSV UTF-8)"]) from None
    if check.problems:
        raise StrategyFileError(path, check.problems)
    if not rows:
        raise StrategyFileError(path, ["no objectives found"])
    return rows
