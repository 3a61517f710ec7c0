"""Strategy YAML and objective CSV: every problem reported with its line, nothing half-loaded."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.settings import SAMPLE_STRATEGY
from storage.repository import Source
from tracker.strategy_file import StrategyFileError, load_strategy, read_objectives_csv


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def test_sample_strategy_is_valid_and_york_shaped():
    strategy = load_strategy(SAMPLE_STRATEGY)
    assert len(strategy.themes) == 5
    assert len(strategy.objectives) == 20
    assert len({o["directorate"] for o in strategy.objectives}) == 5
    assert len(strategy.risks) == 5
    assert strategy.info["group_short"] == "CITSG"
    assert strategy.first_admin == "tcarter"


BROKEN = """
strategy: {name: Broken}
strategy_group: {name: Group, members: [admin, ghost]}
directorates:
  - {id: resources, name: Resources, lead: admin}
people:
  - {id: admin, name: Admin, role: admin, directorate: resources}
  - {id: bob, name: Bob, role: wizard}
themes:
  - {number: 1, title: One}
objectives:
  - {id: "1.1", title: Fine, directorate: resources, due: 2027-03-31}
  - {id: "1.1", title: Duplicate, directorate: resources}
  - {id: "1.2", title: Bad directorate, directorate: resourses}
  - {id: "1.3", title: Bad date, directorate: resources, due: 31/02/2027}
  - {id: "2.1", title: No theme, directorate: resources}
  - {id: "1.4", title: Bad progress, directorate: resources, progress: 140}
risks:
  - {title: Unscored, likelihood: 7, impact: 2}
"""


def test_every_problem_is_reported_with_its_line(tmp_path):
    with pytest.raises(StrategyFileError) as raised:
        load_strategy(write(tmp_path, "broken.yaml", BROKEN))
    problems = "\n".join(raised.value.problems)
    for expected in (
        "line 7 (person bob): unknown role 'wizard'",
        "strategy_group: member 'ghost' is not in people",
        "line 12 (objective 1.1): duplicate objective id 1.1",
        "line 13 (objective 1.2): objective 1.2: unknown directorate 'resourses'",
        "line 14 (objective 1.3): objective 1.3: due '31/02/2027' is not a date",
        "line 15 (objective 2.1): objective 2.1 is under theme 2",
        "line 16 (objective 1.4): objective 1.4: progress must be 0-100",
        "line 18 (risk): risk likelihood must be 1-5",
    ):
        assert expected in problems, problems
    assert "nothing was loaded" in str(raised.value)


def test_invalid_yaml_reports_line(tmp_path):
    with pytest.raises(StrategyFileError) as raised:
        load_strategy(write(tmp_path, "bad.yaml", "themes:\n  - {number: 1\n"))
    assert raised.value.problems[0].startswith("line ")


CSV_HEADER = "id,title,directorate,owner,due,status,progress\n"


async def test_csv_import_adds_and_updates_all_or_nothing(tmp_path, repo):
    def known():
        return (
            {t.number for t in repo.themes()},
            {d.id for d in repo.directorates()},
            {p.id for p in repo.people()},
        )

    good = write(
        tmp_path,
        "plan.csv",
        CSV_HEADER
        + "1.5,Paperless committee papers,resources,mkhan,31/03/2027,not started,\n"
        + "3.2,Thin client rollout for hot-desking staff,resources,rgrant,31/03/2027,"
        "on track,60\n",
    )
    rows = read_objectives_csv(good, *known())
    counts = await repo.import_objectives(rows, Source("tcarter", "import"))
    assert counts == {"added": 1, "updated": 1, "unchanged": 0}
    assert repo.objective("1.5").due.isoformat() == "2027-03-31"
    assert repo.objective("3.2").owner == "rgrant"

    bad = write(
        tmp_path,
        "bad.csv",
        CSV_HEADER
        + "1.6,Fine row,resources,,,,\n"
        + "1.7,,resources,,,,\n"
        + "1.8,Bad date,resources,,32/13/2027,,\n"
        + "1.9,Ghost owner,resources,ghost,,,\n",
    )
    with pytest.raises(StrategyFileError) as raised:
        read_objectives_csv(bad, *known())
    problems = "\n".join(raised.value.problems)
    assert "row 3" in problems and "no title" in problems
    assert "row 4" in problems and "not a date" in problems
    assert "row 5" in problems and "owner 'ghost'" in problems
    assert repo.objective("1.6") is None


def test_csv_missing_columns(tmp_path):
    path = write(tmp_path, "cols.csv", "ref,name\n1.1,x\n")
    with pytest.raises(StrategyFileError) as raised:
        read_objectives_csv(path, {1}, {"resources"}, set())
    assert "missing column(s) id, title, directorate" in raised.value.problems[0]


async def test_restart_never_rolls_back_chat_updates(repo, say):
    await say("3.2 off track 10%")
    await repo.load_strategy(load_strategy(SAMPLE_STRATEGY), Source("system", "startup"))
    assert repo.objective("3.2").progress == 10
