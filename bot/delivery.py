"""Proactive messages: one channel-neutral `send(recipient, reply)` for digests and nudges.

A recipient is either a person id from the strategy file or a channel target:

- a **person**: reached where they last talked to the bot, else wherever they can be
  reached: Teams through the conversation reference stored when they last messaged
  the bot (or installed it), Slack by opening a DM with their Slack user id (looked
  up by e-mail when the strategy file has no `slack_id`); the console prints;
- a **target** such as the strategy group's channel, written `slack:C0123ABCD`,
  `teams:19:abc...@thread.tacv2` (a Teams conversation the bot is installed in) or
  `console` (see docs/channels.md for where to find those ids).

Nothing is silently dropped: `send` returns a `DeliveryResult` saying where the message
went or, when it could not be delivered, why (`result.raise_for_failure()` turns that
into `Undeliverable`), and logs a warning for every undelivered message.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from bot.channels.common import (
    Undeliverable,
    slack_user_key,
    teams_conversation_key,
    teams_email_key,
    teams_user_key,
)
from handlers.reply import Reply
from storage.repository import Repository
from tracker.schedule import STRATEGY_GROUP  # the recipient name digests use for the group

if TYPE_CHECKING:
    from bot.channels.slack import SlackChannel
    from bot.channels.teams import TeamsChannel

log = logging.getLogger(__name__)

CHANNELS = ("slack", "teams", "console")


@dataclass(frozen=True)
class Target:
    """A place rather than a person: a Slack channel, a Teams conversation, the console."""

    channel: str
    address: str = ""
    thread: str | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        """`slack:C0123`, `teams:19:...@thread.tacv2`, `console` (raises ValueError)."""
        channel, _, address = text.strip().partition(":")
        channel = channel.lower()
        if channel not in CHANNELS or (channel != "console" and not address.strip()):
            raise ValueError(
                f"{text!r} is not a channel target: write slack:CHANNEL_ID, "
                "teams:CONVERSATION_ID or console"
            )
        return cls(channel, address.strip())

    def __str__(self) -> str:
        return f"{self.channel}:{self.address}" if self.address else self.channel


@dataclass
class DeliveryResult:
    recipient: str
    delivered: bool
    channel: str | None = None
    detail: str = ""
    attempts: list[str] = field(default_factory=list)

    def raise_for_failure(self) -> DeliveryResult:
        if not self.delivered:
            raise Undeliverable(f"could not reach {self.recipient}: {self.detail}")
        return self


Route = tuple[str, str, Callable[[], Awaitable[None]]]  # channel, description, action


class Delivery:
    """Sends replies to people and places over whichever channels this process runs."""

    def __init__(
        self,
        repo: Repository,
        *,
        slack: SlackChannel | None = None,
        teams: TeamsChannel | None = None,
        console: TextIO | None = None,
    ) -> None:
        self.repo = repo
        self.slack = slack
        self.teams = teams
        self.console = console

    async def send(self, recipient: str | Target, reply: Reply) -> DeliveryResult:
        await self.repo.settled()  # a digest shows only what is durable (group commit)
        if recipient == STRATEGY_GROUP:
            return await self._send_to_group(reply)
        if isinstance(recipient, Target):
            routes = self._target_routes(recipient, reply)
            name = str(recipient)
        else:
            person = self.repo.person(recipient)
            if person is None:
                return self._failed(str(recipient), f"there is no person {recipient!r}", [])
            name = f"{person.name} ({person.id})"
            routes = await self._person_routes(person, reply)
        attempts: list[str] = []
        for channel, where, action in routes:
            try:
                await action()
            except Undeliverable as error:
                attempts.append(f"{channel}: {error}")
                log.info("delivery to %s via %s failed: %s", name, channel, error)
                continue
            return DeliveryResult(name, True, channel, where, attempts)
        detail = "; ".join(attempts) if routes else self._why_no_route(recipient)
        return self._failed(name, detail, attempts)

    async def _send_to_group(self, reply: Reply) -> DeliveryResult:
        """The strategy group's channel when the strategy file names one, else each member."""
        channel = self.repo.strategy_info().get("group_channel")
        if channel:
            try:
                target = Target.parse(str(channel))
            except ValueError as error:
                return self._failed(STRATEGY_GROUP, f"strategy_group.channel: {error}", [])
            return await self.send(target, reply)
        members = [p for p in self.repo.people() if p.strategy_group]
        if not members:
            return self._failed(STRATEGY_GROUP, "the strategy group has no members", [])
        results = [await self.send(member.id, reply) for member in members]
        missed = [f"{r.recipient}: {r.detail}" for r in results if not r.delivered]
        if missed:
            return self._failed(STRATEGY_GROUP, "; ".join(missed), missed)
        return DeliveryResult(STRATEGY_GROUP, True, "members", f"{len(members)} members")

    def _failed(self, name: str, detail: str, attempts: list[str]) -> DeliveryResult:
        log.warning("message to %s not delivered: %s", name, detail)
        return DeliveryResult(name, False, None, detail, attempts)

    # ------------------------------------------------------------------ targets
    def _target_routes(self, target: Target, reply: Reply) -> list[Route]:
        if target.channel == "console":
            return [self._console_route(str(target), reply)] if self.console else []
        if target.channel == "slack" and self.slack:
            slack = self.slack

            async def to_slack() -> None:
                address = target.address
                if address[:1] in ("U", "W"):  # a user id: open the DM
                    address = await slack.open_dm(address)
                await slack.post(address, reply, thread_ts=target.thread)

            return [("slack", f"Slack {target.address}", to_slack)]
        if target.channel == "teams" and self.teams:
            teams = self.teams

            async def to_teams() -> None:
                reference = self.repo.conversation(teams_conversation_key(target.address))
                if reference is None:
                    raise Undeliverable(
                        "the bot has not been added to that Teams conversation yet (add it "
                        "to the team or chat, or mention it there once)"
                    )
                await teams.send(reference, reply)

            return [("teams", f"Teams {target.address}", to_teams)]
        return []

    # ------------------------------------------------------------------ people
    async def _person_routes(self, person, reply: Reply) -> list[Route]:
        found: list[tuple[str, Route]] = []  # (last seen, route)
        if self.teams:
            reference = None
            if person.teams_id:
                reference = self.repo.conversation(teams_user_key(person.teams_id))
            if reference is None and person.email:
                reference = self.repo.conversation(teams_email_key(person.email))
            if reference is not None:
                teams, ref = self.teams, reference

                async def to_teams() -> None:
                    await teams.send(ref, reply)

                found.append(
                    (reference.get("last_seen", ""), ("teams", "Teams personal chat", to_teams))
                )
        if self.slack and (person.slack_id or person.email):
            slack = self.slack
            stored = self.repo.conversation(slack_user_key(person.slack_id or "")) or {}

            async def to_slack() -> None:
                user = person.slack_id or await slack.user_by_email(person.email)
                await slack.send_to_user(user, reply)

            found.append((stored.get("last_seen", ""), ("slack", "Slack DM", to_slack)))
        found.sort(key=lambda pair: pair[0], reverse=True)  # most recently used first
        routes = [route for _, route in found]
        if self.console:
            routes.append(self._console_route(f"{person.name} ({person.id})", reply))
        return routes

    def _console_route(self, name: str, reply: Reply) -> Route:
        console = self.console or sys.stdout

        async def to_console() -> None:
            console.write(f"--- to {name} ---\n{reply.as_text()}\n")
            console.flush()

        return ("console", "printed", to_console)

    def _why_no_route(self, recipient: str | Target) -> str:
        if isinstance(recipient, Target):
            running = {"slack": self.slack, "teams": self.teams, "console": self.console}
            if not running.get(recipient.channel):
                return f"the {recipient.channel} channel is not configured in this process"
            return "no way to reach it"
        parts = []
        if not (self.slack or self.teams):
            parts.append("neither Slack nor Teams is configured")
        else:
            if self.teams:
                parts.append("they have not messaged the bot in Teams yet")
            if self.slack:
                parts.append("the strategy file has no Slack id or e-mail for them")
        return "; ".join(parts)


class ConsoleDelivery:
    """Prints each message; for `chat --digests` and tests."""

    def __init__(self, repo: Repository | None = None, stream: TextIO | None = None) -> None:
        self.repo = repo
        self.stream = stream

    async def send(self, recipient: str, reply: Reply) -> DeliveryResult:
        person = self.repo.person(recipient) if self.repo else None
        label = person.name if person else recipient
        stream = self.stream or sys.stdout
        print(f"\n──── to {label} ({recipient}) ────", file=stream)
        print(reply.as_text(), file=stream)  # includes "(chart saved to ...)"
        stream.flush()
        return DeliveryResult(recipient, True, "console")
