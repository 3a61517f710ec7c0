"""Names both chat channels and proactive delivery share, in one place.

`bot/delivery.py` sends through the channels and the channels raise `Undeliverable` back
to it; keeping the shared names here (below both) means neither imports the other. The
store keys for conversation references are written by the channels and read by delivery,
so their spelling lives here once. `is_loopback` is the one loopback check (Emulator
mode's serviceUrl guard and `serve`'s refusal to listen on a public address).
`recorded_before_restart` is what both channels say when work acknowledged before a
crash turns out to have been stored already (storage/inbox.py's recovery). `read_body`
is how both read a request body: to its end however many TCP reads it takes (a signature
is over the whole body), refused with 413 past the size limit and with 408 when a client
stops sending half-way, so a body that never completes holds nothing for long.
"""

from __future__ import annotations

import asyncio
import ipaddress
from urllib.parse import urlsplit

from aiohttp import web

from handlers.reply import Kind, Reply

BODY_TIMEOUT_SECONDS = 10.0  # from the end of the headers to the end of the body


async def read_body(request: web.Request, limit: int) -> bytes | web.Response:
    """The whole body, or the response refusing it: 413 when its declared or actual size
    passes `limit`, 408 when it is not complete within BODY_TIMEOUT_SECONDS."""
    if request.content_length is not None and request.content_length > limit:
        return web.Response(status=413, text="request too large")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
            async for chunk in request.content.iter_any():
                size += len(chunk)
                if size > limit:
                    return web.Response(status=413, text="request too large")
                chunks.append(chunk)
    except TimeoutError:
        return web.Response(status=408, text="request body too slow")
    return b"".join(chunks)


def sorry() -> Reply:
    """What every channel says when handling a message failed in a way nobody foresaw (the
    traceback goes to the log): the same words in the console, Slack and Teams."""
    return Reply(
        lines=[
            "Sorry, something went wrong on my side while handling that. Please try again; "
            "if it keeps happening, tell the strategy administrator."
        ],
        kind=Kind.ERROR,
    )


class Undeliverable(RuntimeError):
    """A message could not reach its recipient; the message says why."""


def teams_user_key(user_id: str) -> str:
    return f"teams:user:{user_id}"


def teams_email_key(email: str) -> str:
    return f"teams:email:{email.strip().lower()}"


def teams_conversation_key(conversation_id: str) -> str:
    return f"teams:conversation:{conversation_id}"


def slack_user_key(user_id: str) -> str:
    return f"slack:user:{user_id}"


def is_loopback(host: str | None) -> bool:
    """True for `localhost` and loopback IP addresses (a bare host, not a URL)."""
    host = (host or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str | None) -> bool:
    return is_loopback(urlsplit(url or "").hostname)


def recorded_before_restart() -> Reply:
    """The answer to work a crash interrupted after its change was stored."""
    return Reply(
        lines=[
            "Recorded: I stored this before the bot restarted, so I have not stored it "
            "again. Ask about the objective to see it in its history."
        ]
    )
