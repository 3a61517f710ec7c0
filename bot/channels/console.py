"""The console channel: chat with the bot in a terminal, or script it through a pipe.

At a terminal it prompts; otherwise it reads one message per line, prints each reply
followed by a blank line, and exits at end of input, so a conversation can be a file.
A message whose handling fails unexpectedly gets the channels' one "Sorry" (the
traceback goes to the log, on stderr) and the session carries on, as in Slack and Teams.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TextIO

from bot.channels.common import sorry
from handlers.front_door import FrontDoor
from handlers.message import IncomingMessage, Sender
from handlers.reply import Reply

log = logging.getLogger(__name__)


def render(reply: Reply) -> str:
    return reply.as_text()


async def run_console(
    tracker: FrontDoor,
    person_id: str,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    interactive = stdin.isatty()
    person = tracker.repo.person(person_id)
    if interactive:
        name = person.name if person else person_id
        stdout.write(f"Strategy Tracker. You are {name}. Type `help`, or Ctrl-D to leave.\n")
    count = 0
    while True:
        if interactive:
            stdout.write("you> ")
            stdout.flush()
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            break
        count += 1
        message = IncomingMessage(
            text=line.rstrip("\n"),
            sender=Sender(channel="console", person_id=person_id),
            message_id=f"console-{count}",
        )
        try:
            reply = await tracker.handle(message)
        except Exception:
            log.exception("console message %d failed", count)
            reply = sorry()
        stdout.write(render(reply) + "\n\n")
        stdout.flush()
    if interactive:
        stdout.write("\n")
    return 0
