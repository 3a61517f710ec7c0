"""What a channel hands the core: the text, who sent it and where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from handlers.reply import Reply


@dataclass(frozen=True)
class Sender:
    """A chat identity as the channel knows it; the core maps it to a person.

    `person_id` is set by channels that already know the person (the console's --as);
    Slack fills `user_id`, Teams fills `user_id` (Entra object id) and `email` when known.
    """

    channel: str
    user_id: str | None = None
    email: str | None = None
    display_name: str | None = None
    person_id: str | None = None


@dataclass(frozen=True)
class IncomingMessage:
    text: str
    sender: Sender
    message_id: str | None = None
    conversation_id: str | None = None


class FrontDoorLike(Protocol):
    """What a channel needs from the core (the front door, `handlers.front_door.FrontDoor`):
    one message in, one channel-neutral Reply out. The one definition channels share."""

    async def handle(self, message: IncomingMessage) -> Reply: ...
