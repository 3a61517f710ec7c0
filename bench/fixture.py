"""A council-scale store, built directly in the store's format (no 100k transactions).

The sample strategy scaled up: 130 objectives in 5 themes and 20 directorates, a lead
and five officers per directorate, a strategy group, ~300 risks with their audit
trail, and N updates spread over four years of weekly reporting, with the notes and
messages officers actually send. Every document has exactly the shape the repository
writes, objectives end in the state their last update left them, and the strategy
file is written next to the store so start-up applies it as the bot does.

The newest updates go to the journal, as `record_update` writes them, until it is just
under the compaction threshold: the worst case for start-up, which must replay it.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from storage.engine import DEFAULT_COMPACT_BYTES
from storage.files import JOURNAL_NAME, encode_line, journal_header
from storage.journal import write_store
from tracker.model import Status
from tracker.strategy_file import Strategy

NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
YEARS = 4
OBJECTIVES = 130
RISKS = 300

THEMES = [
    "Use technology to improve the efficiency and effectiveness of council services",
    "Make services easy to access, high quality and responsive to customers",
    "Develop our IT infrastructure to support the move to the new HQ",
    "Use technology to make the council a more sustainable organisation",
    "Forge stronger working with partners through sharing information",
]
DIRECTORATES = [
    "Resources", "Neighbourhood Services", "City Strategy", "Children's Services",
    "Adult Social Care", "Housing", "Public Health", "Highways and Transport", "Planning",
    "Waste and Recycling", "Libraries and Culture", "Revenues and Benefits",
    "Legal and Democratic Services", "HR and Organisational Development", "Finance",
    "Customer Services", "Property and Facilities", "Economic Development",
    "Environmental Health", "Communities and Equalities",
]  # fmt: skip
FIRST = ["Tina", "Ravi", "Iain", "Jo", "Ade", "Hannah", "Sunita", "Mo", "Lucy", "Pete",
         "Siobhán", "Dorota", "Gareth", "Priya", "Owen", "Fatima", "Callum", "Aisha"]  # fmt: skip
LAST = ["Carter", "Grant", "Floyd", "Morris", "Okafor", "Davies", "Patel", "Khan", "Brown",
        "Wilson", "O'Brien", "Nowak", "Evans", "Shah", "Hughes", "Begum", "Reid"]  # fmt: skip
WORKS = [
    "Electronic document and records management", "Mobile working for field officers",
    "Online payments and bookings", "Customer contact centre and CRM",
    "Self-service portal", "Wireless network", "Thin client rollout",
    "Unified communications migration", "Server virtualisation", "Print management",
    "Carbon reporting dashboard", "Information sharing protocol", "Shared case management",
    "GIS mapping for partners", "Cloud backup", "Cyber security awareness training",
    "Microsoft 365 migration", "Data warehouse", "Robotic process automation",
    "Digital inclusion programme", "Open data publication", "Contract management system",
]  # fmt: skip
NOTES = [
    "Supplier workshop held; {n} of {m} sites surveyed",
    "Waiting on procurement sign-off from {board}",
    "Pilot with the {team} team went live, feedback positive",
    "Data migration {p}% complete, cut-over planned for {day}",
    "Delayed by {reason}; revised plan goes to {board}",
    "Business case approved at {board}",
    "Training booked for {n} staff across {m} teams",
    "Testing found {n} defects, {m} fixed so far",
    "Vendor demo on {day}; comparing {m} quotes",
    "Budget confirmed for {year}/{next}, recruitment under way",
    "No change this week",
    "Go-live moved to {day} after {reason}",
]
BOARDS = ["CMT", "the CITSG", "Cabinet", "the programme board", "the S151 officer"]
TEAMS = ["revenues", "benefits", "planning", "housing", "waste", "libraries", "highways"]
REASONS = ["supplier resourcing", "a data quality issue", "the pre-election period",
           "network works at the depot", "staff sickness", "a licensing query"]  # fmt: skip
RISK_TITLES = [
    "A lack of senior management support", "A lack of resources to deliver all projects",
    "Expected efficiency improvements are not achieved", "Supplier fails to deliver on time",
    "Data protection breach during migration", "Key staff leave the programme",
    "Legacy system support ends before replacement", "Budget pressures cut the programme",
    "Low take-up of online services by residents", "Cyber attack disrupts services",
]  # fmt: skip
OPEN_STATUSES = [Status.ON_TRACK] * 6 + [Status.AT_RISK] * 3 + [Status.OFF_TRACK]


def slug(name: str) -> str:
    return name.lower().replace("'", "").replace(",", "").replace(" and ", "-").replace(" ", "-")


def scaled_strategy(rng: random.Random) -> Strategy:
    directorates = [{"id": slug(n), "name": n} for n in DIRECTORATES]
    people: list[dict[str, Any]] = []

    def person(role: str, directorate: str, group: bool = False) -> str:
        number = len(people)
        first, last = FIRST[number % len(FIRST)], LAST[(number * 7) % len(LAST)]
        pid = f"{first[0].lower()}{slug(last).replace('-', '')}{number}"
        people.append({
            "id": pid, "name": f"{first} {last}", "role": role, "directorate": directorate,
            "slack_id": f"U{number:06d}", "teams_id": None,
            "email": f"{pid}@example.gov.uk", "strategy_group": group,
        })  # fmt: skip
        return pid

    person("admin", directorates[0]["id"], group=True)
    for _ in range(3):
        person("strategy group", directorates[0]["id"], group=True)
    officers: dict[str, list[str]] = {}
    for directorate in directorates:
        directorate["lead"] = person("directorate lead", directorate["id"])
        officers[directorate["id"]] = [person("officer", directorate["id"]) for _ in range(5)]
    objectives = []
    for number in range(OBJECTIVES):
        theme = number % 5 + 1
        directorate = directorates[number % len(directorates)]["id"]
        work = WORKS[number % len(WORKS)]
        phase = number // len(WORKS) + 1
        objectives.append({
            "id": f"{theme}.{number // 5 + 1}",
            "theme": theme,
            "title": f"{work} ({DIRECTORATES[number % 20]}, phase {phase})",
            "directorate": directorate,
            "owner": rng.choice(officers[directorate]),
            "due": (date(2025, 1, 31) + timedelta(days=rng.randint(0, 5 * 365))).isoformat(),
            "status": Status.NOT_STARTED.value,
            "progress": None,
        })  # fmt: skip
    info = {
        "name": "ICT Strategy 2025-2029", "council": "City of Example Council",
        "period": "2025-2029", "group_name": "Corporate IT Strategy Group",
        "group_short": "CITSG", "group_channel": None,
    }  # fmt: skip
    return Strategy(
        info=info,
        themes=[{"number": n + 1, "title": t} for n, t in enumerate(THEMES)],
        directorates=directorates,
        people=people,
        objectives=objectives,
        risks=[],
    )


def strategy_yaml(strategy: Strategy) -> str:
    """The strategy as the YAML file a council would keep (read back by start-up)."""
    members = [p["id"] for p in strategy.people if p["strategy_group"]]
    group = {"name": strategy.info["group_name"], "short_name": strategy.info["group_short"]}
    content = {
        "strategy": {k: strategy.info[k] for k in ("name", "council", "period")},
        "strategy_group": {**group, "members": members},
        "directorates": strategy.directorates,
        "people": [
            {k: v for k, v in p.items() if v is not None and k != "strategy_group"}
            for p in strategy.people
        ],
        "themes": strategy.themes,
        "objectives": [{k: v for k, v in o.items() if v is not None} for o in strategy.objectives],
    }
    return yaml.safe_dump(content, allow_unicode=True, sort_keys=False)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _next_state(rng: random.Random, objective: dict[str, Any]) -> tuple[Status, int]:
    """An officer's next report on `objective`: mostly steady, sometimes a new status."""
    status = Status(objective["status"])
    if status is Status.ACHIEVED:  # the next phase of the work starts
        return Status.ON_TRACK, 5
    new_status = status if rng.random() < 0.8 else rng.choice(OPEN_STATUSES)
    progress = min(100, (objective["progress"] or 0) + rng.choice((0, 0, 0, 1, 2, 5)))
    return (Status.ACHIEVED if progress == 100 else new_status), progress


def build(
    directory: Path, updates: int, seed: int = 5, journal_bytes: int = DEFAULT_COMPACT_BYTES - 4096
) -> dict[str, int]:
    """Write the store (snapshot + journal) and strategy.yaml into `directory`."""
    rng = random.Random(seed)
    strategy = scaled_strategy(rng)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "strategy.yaml").write_text(strategy_yaml(strategy), encoding="utf-8")
    data = directory / "data"
    tables: dict[str, dict[int, dict[str, Any]]] = {}

    def table(name: str, docs: list[dict[str, Any]]) -> None:
        tables[name] = {n: doc for n, doc in enumerate(docs, start=1)}

    start = NOW - timedelta(days=365 * YEARS)
    table("themes", strategy.theme_docs())
    table("directorates", strategy.directorate_docs())
    table("people", strategy.people_docs())
    objectives = strategy.objective_docs()
    initial = [dict(o) for o in objectives]
    table("objectives", objectives)
    leads = {d["id"]: d["lead"] for d in strategy.directorates}
    admin = strategy.people[0]["id"]

    # Updates: weekly reporting spread evenly over four years, oldest first.
    step = (NOW - start) / max(updates, 1)
    docs = []
    moves: list[tuple[int, dict[str, Any]]] = []  # (objective doc id, fields set) per update
    for number in range(updates):
        objective = objectives[rng.randrange(len(objectives))]
        at = start + step * number
        author = objective["owner"] if rng.random() < 0.8 else leads[objective["directorate"]]
        new_status, progress = _next_state(rng, objective)
        note = rng.choice(NOTES).format(
            n=rng.randint(2, 40), m=rng.randint(2, 12), p=progress, board=rng.choice(BOARDS),
            team=rng.choice(TEAMS), reason=rng.choice(REASONS),
            day=(at + timedelta(days=rng.randint(7, 90))).strftime("%d %B"),
            year=at.year, next=(at.year + 1) % 100,
        )  # fmt: skip
        changes = {}
        if new_status.value != objective["status"]:
            changes["status"] = [objective["status"], new_status.value]
        if progress != objective["progress"]:
            changes["progress"] = [objective["progress"], progress]
        words = f" {new_status.value}" if "status" in changes else ""
        text = f"update {objective['key']}{words} {progress}% {note}"
        docs.append({
            "objective_id": objective["key"], "author": author, "at": iso(at),
            "changes": changes, "note": note, "text": text,
            "channel": "slack" if number % 3 else "teams", "message_id": f"m{number}",
        })  # fmt: skip
        fields = {k: after for k, (_, after) in changes.items()}
        objective.update(**fields, last_update=iso(at))
        moves.append((objectives.index(objective) + 1, {**fields, "last_update": iso(at)}))

    # The newest updates become journal lines (the objective's change in the same line).
    def journal_line(seq: int, number: int) -> bytes:
        oid, fields = moves[number]
        ops = [["i", "updates", number + 1, docs[number]], ["u", "objectives", oid, fields]]
        at = datetime.fromisoformat(docs[number]["at"]).timestamp()
        return encode_line({"seq": seq, "at": at, "ops": ops})

    size, cut = len(encode_line(journal_header(1))), len(docs)
    while cut > 0 and size + len(journal_line(len(docs), cut - 1)) <= journal_bytes:
        size += len(journal_line(len(docs), cut - 1))
        cut -= 1
    lines = [journal_line(seq, number) for seq, number in enumerate(range(cut, len(docs)), 1)]
    if lines:  # the snapshot holds objectives as they were before the journal's updates
        objectives[:] = initial
        for oid, fields in moves[:cut]:
            objectives[oid - 1].update(fields)
        table("objectives", objectives)
    table("updates", docs[:cut])

    # Risks logged across the period, a third of them closed since, each audited.
    risks, audit = [], []
    for number in range(1, RISKS + 1):
        created = start + (NOW - start) * (number / (RISKS + 1))
        objective = objectives[rng.randrange(len(objectives))]
        owner = leads[objective["directorate"]]
        risk = {
            "title": f"{RISK_TITLES[number % len(RISK_TITLES)]} ({objective['key']})",
            "likelihood": rng.randint(1, 5), "impact": rng.randint(1, 5),
            "objective": objective["key"], "theme": objective["theme"], "owner": owner,
            "mitigation": "Monthly review with the supplier and the programme board",
            "review": (created + timedelta(days=rng.randint(30, 400))).date().isoformat(),
            "key": f"R{number}", "open": True, "created_at": iso(created), "created_by": owner,
        }  # fmt: skip
        audit.append({
            "at": iso(created), "actor": owner, "action": "add risk", "entity": f"risk:R{number}",
            "changes": {k: [None, v] for k, v in risk.items()}, "note": None,
            "text": f"add risk {risk['title']}", "channel": "slack", "message_id": None,
        })  # fmt: skip
        if rng.random() < 0.33:
            closed = created + timedelta(days=rng.randint(30, 300))
            risk.update(open=False, updated_at=iso(closed))
            audit.append({
                "at": iso(closed), "actor": admin, "action": "close risk",
                "entity": f"risk:R{number}", "changes": {"open": [True, False]}, "note": None,
                "text": f"close R{number}", "channel": "teams", "message_id": None,
            })  # fmt: skip
        risks.append(risk)
    table("risks", risks)
    audit.sort(key=lambda d: d["at"])
    table("audit", audit)
    table("meta", [
        {"key": "strategy", "value": strategy.info},
        {"key": "risk_counter", "value": RISKS},
    ])  # fmt: skip
    write_store(data, tables)
    with open(data / JOURNAL_NAME, "ab") as handle:  # entries 1.. follow the snapshot's seq 0
        handle.writelines(lines)
    counts = {name: len(docs) for name, docs in tables.items()}
    counts["updates"] = len(docs)
    counts["journal_entries"] = len(lines)
    return counts
