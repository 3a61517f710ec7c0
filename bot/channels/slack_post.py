"""chat.postMessage, the one Slack Web API call on every message's path, made directly.

Why not slack_sdk's AsyncWebClient here (it still makes every other call: users.info,
conversations.open, file uploads, auth.test): per call it builds request, retry-state and
response objects, re-encodes the body with the standard json and checks for deprecated
arguments. Measured with `python -m bench serve`, that cost about 0.2 ms of CPU per
message, a quarter of the whole channel's, against issue 9's target of at most 1.5x a
bare Bolt echo (docs/performance.md). This makes the same call on the channel's one
aiohttp session: the JSON body (orjson, None values left out as slack_sdk does), the
bearer token, and the retries the client was configured with: a dropped or refused
connection once, and HTTP 429 twice, each after the Retry-After Slack sends (plus up
to a quarter second, so workers held back together do not return together).

Failure modes, all as `Undeliverable` with what failed and never the token: Slack's
`ok: false` names Slack's error code ("Slack refused to post to C1: channel_not_found",
and "ratelimited" for a 429 after the retries); no connection after the retry, a
timeout, or an answer that is not Slack's JSON says Slack could not be reached.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin

import aiohttp
import orjson

from bot.channels.common import Undeliverable

# Every call to Slack, through slack_sdk's client (slack.py) or this module, uses these.
TIMEOUT_SECONDS = 15
CONNECTION_RETRIES = 1  # a dropped or refused connection
RATE_LIMIT_RETRIES = 2  # HTTP 429, each after Retry-After
JITTER_SECONDS = 0.25
_RETRIED_ERRORS = (
    aiohttp.ServerConnectionError,  # includes ServerDisconnectedError
    aiohttp.ClientOSError,  # connection reset, refused
)


class MessagePoster:
    """Posts messages through one aiohttp session (the channel's; or one per call)."""

    def __init__(self, api_url: str, token: str) -> None:
        self.url = urljoin(api_url, "chat.postMessage")  # as slack_sdk joins base_url
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json; charset=utf-8",
        }

    async def post(
        self, session: aiohttp.ClientSession | None, action: str, message: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """Send `message` (chat.postMessage's arguments); Slack's answer when `ok`."""
        body = orjson.dumps({k: v for k, v in message.items() if v is not None})
        if session is None:
            async with aiohttp.ClientSession() as own:
                return await self._post(own, action, body)
        return await self._post(session, action, body)

    async def _post(
        self, session: aiohttp.ClientSession, action: str, body: bytes
    ) -> Mapping[str, Any]:
        connection_retries, rate_limit_retries = CONNECTION_RETRIES, RATE_LIMIT_RETRIES
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
        while True:
            try:
                async with session.post(
                    self.url, data=body, headers=self._headers, timeout=timeout
                ) as response:
                    if response.status == 429 and rate_limit_retries:
                        rate_limit_retries -= 1
                        await asyncio.sleep(
                            _retry_after(response.headers) + random.uniform(0, JITTER_SECONDS)
                        )
                        continue
                    raw = await response.read()
                    status = response.status
            except _RETRIED_ERRORS as error:
                if not connection_retries:
                    raise Undeliverable(f"could not reach Slack to {action}: {error}") from error
                connection_retries -= 1
                continue
            except (aiohttp.ClientError, OSError, TimeoutError) as error:
                raise Undeliverable(f"could not reach Slack to {action}: {error!r}") from error
            return _answer(action, status, raw)


def _retry_after(headers: Mapping[str, str]) -> float:
    try:
        return max(0.0, float(headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def _answer(action: str, status: int, raw: bytes) -> Mapping[str, Any]:
    try:
        answer = orjson.loads(raw)
    except orjson.JSONDecodeError:
        answer = None
    if not isinstance(answer, dict):
        raise Undeliverable(f"could not reach Slack to {action}: HTTP {status}, not Slack's JSON")
    if not answer.get("ok"):
        error = answer.get("error") or f"HTTP {status}"
        raise Undeliverable(f"Slack refused to {action}: {error}")
    return answer
