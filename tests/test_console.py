"""The console channel as a user meets it: `python -m bot chat`, scripted through a pipe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import NOW

ROOT = Path(__file__).resolve().parent.parent


# `python -m bot chat` with the clock at the tests' "now" (Sunday 22 Nov 2026, 10:00 London) and
# ticking: the sample strategy's due dates and "next Friday" mean the same whenever CI runs.
PINNED_BOT = (
    "import runpy, sys, time_machine; "
    f"time_machine.travel({NOW.isoformat()!r}, tick=True).start(); "
    "sys.argv[0] = 'bot'; runpy.run_module('bot', run_name='__main__', alter_sys=True)"
)


def chat(data: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PINNED_BOT, "chat", "--data", str(data), *args],
        input=script,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_scripted_conversation_and_second_process_sees_changes(tmp_path):
    data = tmp_path / "data"
    first = chat(
        data,
        "update 3.2 at risk 65% supplier late\n"
        "risk: no PM capacity, theme 1, likelihood 4 impact 3\n"
        "3.2 due end of March\n",
        "--as",
        "Mo Khan",
    )
    assert first.returncode == 0, first.stderr
    replies = first.stdout.strip().split("\n\n")
    assert replies[0].startswith("Recorded update on 3.2 Thin client rollout")
    assert "Status: on track → at risk" in first.stdout
    assert "Logged risk R6: no PM capacity" in first.stdout
    assert "3.2 was already due Wed 31 Mar 2027" in first.stdout

    second = chat(data, "status of 3.2\nhistory of 3.2\nshow R6\n")
    assert second.returncode == 0, second.stderr
    assert "Status: at risk (AMBER)" in second.stdout
    assert "Progress: 65%" in second.stdout
    assert "Mo Khan updated 3.2" in second.stdout
    assert "R6: no PM capacity" in second.stdout


def test_defaults_to_first_admin_and_unknown_as_is_an_error(tmp_path):
    result = chat(tmp_path / "d", "who am i\n")
    assert "You are Tina Carter (tcarter)" in result.stdout
    wrong = chat(tmp_path / "d", "help\n", "--as", "Nobody")
    assert wrong.returncode == 2
    assert "no person “Nobody”" in wrong.stderr and "Mo Khan (mkhan)" in wrong.stderr


def test_bad_strategy_file_stops_with_clear_message(tmp_path):
    bad = tmp_path / "s.yaml"
    bad.write_text("themes: [{number: x}]\n")
    result = chat(tmp_path / "d", "help\n", "--strategy", str(bad))
    assert result.returncode == 1
    assert "theme number must be a whole number" in result.stderr
    assert not (tmp_path / "d").exists() or not any((tmp_path / "d").iterdir())


def test_import_command(tmp_path):
    csv = tmp_path / "plan.csv"
    csv.write_text(
        "id,title,directorate,owner,due\n1.5,Paperless meetings,resources,mkhan,end of March\n"
    )
    bad = subprocess.run(
        [sys.executable, "-m", "bot", "import", str(csv), "--data", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert bad.returncode == 1 and "row 2" in bad.stderr and "not a date" in bad.stderr
    csv.write_text(
        "id,title,directorate,owner,due\n1.5,Paperless meetings,resources,mkhan,31/03/2027\n"
    )
    good = subprocess.run(
        [sys.executable, "-m", "bot", "import", str(csv), "--data", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert good.returncode == 0, good.stderr
    assert "1 added" in good.stdout
    shown = chat(tmp_path / "d", "status of 1.5\n")
    assert "Paperless meetings" in shown.stdout


def read_script(path: Path) -> list[tuple[str, list[str]]]:
    steps: list[tuple[str, list[str]]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("> "):
            steps.append((line[2:], []))
        elif line.strip() and not line.startswith("#"):
            steps[-1][1].append(line)
    return steps


def test_scripted_conversation_covering_every_command(tmp_path):
    """tests/conversation.txt: every reply holds what a user would expect, in order."""
    steps = read_script(ROOT / "tests" / "conversation.txt")
    result = chat(tmp_path / "data", "".join(f"{text}\n" for text, _ in steps), "--as", "tcarter")
    assert result.returncode == 0, result.stderr
    position = 0
    for text, expected in steps:
        for fragment in expected:
            found = result.stdout.find(fragment, position)
            assert found >= 0, f"after “{text}”: missing “{fragment}”\n{result.stdout[position:]}"
            position = found + len(fragment)
    misunderstood = result.stdout.count("I didn't understand")
    assert misunderstood == 1  # only the deliberate "wibble wobble"


async def test_a_message_that_fails_unexpectedly_gets_sorry_and_the_session_goes_on(caplog):
    """A bug in one command ended `python -m bot chat` with a traceback."""
    import io
    from types import SimpleNamespace

    from bot.channels.console import run_console
    from handlers.reply import Reply

    class Tracker:
        repo = SimpleNamespace(person=lambda _id: None)

        async def handle(self, message):
            if message.text == "boom":
                raise IndexError("no such group")
            return Reply(title=f"You said {message.text}")

    out = io.StringIO()
    code = await run_console(Tracker(), "tcarter", io.StringIO("boom\nsummary\n"), out)
    assert code == 0
    assert out.getvalue().startswith("Sorry, something went wrong on my side")
    assert "You said summary" in out.getvalue()
    assert any(r.exc_info for r in caplog.records)  # the traceback is logged, not lost
