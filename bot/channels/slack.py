"""Slack channel: Events API (app mentions, direct messages) and the `/strategy` command.

Built on slack_sdk directly (SignatureVerifier + AsyncWebClient), mounted on the bot's
one aiohttp server at `/slack/events`, which takes both event callbacks (JSON) and the
slash command (form-encoded), so an administrator configures a single request URL.

Each request is handled in this order, and nothing is stored or run before step 2:

1. Size check, then the signature: `X-Slack-Signature` must be the HMAC-SHA256 of
   `v0:{timestamp}:{body}` under the signing secret (compared in constant time) and
   `X-Slack-Request-Timestamp` within five minutes of now. Anything else gets 401.
2. Duplicates: an event whose `event_id` was already accepted (Slack retries, marked
   `X-Slack-Retry-Num`, or a replayed request) and a slash command whose `trigger_id`
   was already accepted are acknowledged and ignored. The ids live in memory, bounded
   and expiring after an hour (Slack retries within minutes). After a restart a retry
   is processed once: Slack only retries what was not acknowledged, which after a
   crash is exactly the work that may not have happened.
3. Acknowledge with 200 at once (Slack allows 3 seconds), and do the work in a
   background task: store the user's channel ids for proactive messages, ask the
   Tracker, post the reply (in the message's thread; ephemerally for the command).

This module only translates: who is asking (Slack user id, and e-mail when the app may
read it) and what they said go to `Tracker.handle`; the Reply that comes back goes to
`slack_render`. Identity resolution, permissions and wording belong to the Tracker.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import web
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.channels import slack_render
from bot.channels.common import Undeliverable
from handlers.message import IncomingMessage, Sender, TrackerLike
from handlers.reply import Kind, Reply
from storage.repository import Repository

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 256 * 1024
REPLAY_WINDOW_SECONDS = 5 * 60
SEEN_TTL_SECONDS = 60 * 60
SEEN_MAX = 10_000
# Message subtypes that are still a person talking to the bot; edits, joins, bot
# messages and the rest are not commands.
USER_SUBTYPES = {None, "file_share", "thread_broadcast"}
SLACK_HOSTS = ("slack.com", "slack-gov.com")


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str
    signing_secret: str
    api_url: str = DEFAULT_API_URL
    command: str = "/strategy"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SlackSettings | None:
        """Settings when both SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are set, else None."""
        token = (env.get("SLACK_BOT_TOKEN") or "").strip()
        secret = (env.get("SLACK_SIGNING_SECRET") or "").strip()
        if not (token and secret):
            return None
        return cls(
            bot_token=token,
            signing_secret=secret,
            api_url=(env.get("SLACK_API_URL") or "").strip() or DEFAULT_API_URL,
            command=(env.get("SLACK_COMMAND") or "").strip() or "/strategy",
        )


class SeenIds:
    """A bounded, expiring set of ids: remembers at most `size` ids for `ttl` seconds."""

    def __init__(
        self, size: int = SEEN_MAX, ttl: float = SEEN_TTL_SECONDS, clock=time.monotonic
    ) -> None:
        self.size = size
        self.ttl = ttl
        self.clock = clock
        self._ids: OrderedDict[str, float] = OrderedDict()

    def add(self, key: str) -> bool:
        """Remember `key`; True if it was new, False if seen within the last `ttl`."""
        now = self.clock()
        while self._ids:
            oldest, at = next(iter(self._ids.items()))
            if now - at <= self.ttl and len(self._ids) < self.size:
                break
            self._ids.pop(oldest)
        if key in self._ids:
            return False
        self._ids[key] = now
        return True

    def __contains__(self, key: str) -> bool:
        at = self._ids.get(key)
        return at is not None and self.clock() - at <= self.ttl

    def __len__(self) -> int:
        return len(self._ids)


_MENTION = re.compile(r"<([@#!])([^>|]*)(?:\|([^>]*))?>")
_LEADING_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>")
_LINK = re.compile(r"<((?:https?|mailto|tel):[^>|]*)(?:\|([^>]*))?>")


def to_plain(text: str, bot_user_id: str | None = None) -> str:
    """Slack's wire format to what the user typed: mentions and links read as text.

    `<@U123>` becomes `@U123` (the bot's own mention is removed), `<#C1|general>`
    `#general`, `<!here>` `@here`, `<https://x|label>` `label (https://x)`, and the
    entities Slack adds for `&`, `<`, `>` are decoded, so a note is stored as typed.
    """

    def mention(match: re.Match[str]) -> str:
        sigil, target, label = match.groups()
        if sigil == "@":
            return "" if target == bot_user_id else f"@{label or target}"
        if sigil == "#":
            return f"#{label or target}"
        return f"@{label or target.split('^')[0]}"

    def link(match: re.Match[str]) -> str:
        url, label = match.groups()
        if url.startswith("mailto:") and label:
            return label
        return f"{label} ({url})" if label and label != url else url

    text = _LINK.sub(link, text)
    text = _MENTION.sub(mention, text)
    return " ".join(html.unescape(text).split()) if text.strip() else ""


class SlackChannel:
    """The Slack endpoint and Slack's half of proactive delivery."""

    def __init__(
        self,
        settings: SlackSettings,
        tracker: TrackerLike,
        repo: Repository,
        *,
        clock: Callable[[], float] = time.time,
        today: Callable[[], str] = lambda: datetime.now(UTC).date().isoformat(),
    ) -> None:
        self.settings = settings
        self.tracker = tracker
        self.repo = repo
        self.clock = clock
        self.today = today
        self.client = AsyncWebClient(
            token=settings.bot_token,
            base_url=settings.api_url,
            timeout=15,
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(max_retry_count=1),
                AsyncRateLimitErrorRetryHandler(max_retry_count=2),
            ],
        )
        self.verifier = SignatureVerifier(settings.signing_secret, clock=_Clock(clock))
        self.seen = SeenIds()
        self.tasks: set[asyncio.Task[None]] = set()
        self._bot_user_id: str | None = None
        self._emails: OrderedDict[str, str | None] = OrderedDict()
        self._dm_channels: dict[str, str] = {}

    # ------------------------------------------------------------------ http
    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(EVENTS_PATH, self.handle_request)

    async def handle_request(self, request: web.Request) -> web.Response:
        if request.content_length and request.content_length > MAX_BODY_BYTES:
            return web.Response(status=413, text="request too large")
        body = await request.content.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            return web.Response(status=413, text="request too large")
        refusal = self._refusal(body, request.headers)
        if refusal:
            if _is_ssl_check(request, body):
                return web.Response(status=200)  # Slack's unsigned URL probe: nothing to do
            log.warning("Slack request refused: %s", refusal)
            return web.Response(status=401, text=refusal)

        content_type = request.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            try:
                payload = json.loads(body)
            except ValueError:
                return web.Response(status=400, text="body is not JSON")
            return self._on_json(payload, request.headers)
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if form.get("ssl_check"):
            return web.Response(status=200)
        if form.get("command"):
            return self._on_command(form, request.headers["X-Slack-Signature"])
        return web.Response(status=200)  # interactivity and others: not used by this app

    def _refusal(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        timestamp = headers.get("X-Slack-Request-Timestamp")
        signature = headers.get("X-Slack-Signature")
        if not timestamp or not signature:
            return "missing signature headers"
        try:
            sent_at = int(timestamp)
        except ValueError:
            return "malformed timestamp"
        if abs(self.clock() - sent_at) > REPLAY_WINDOW_SECONDS:
            return "stale timestamp (more than five minutes from now)"
        if not self.verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
            return "bad signature"
        return None

    def _on_json(self, payload: dict[str, Any], headers: Mapping[str, str]) -> web.Response:
        kind = payload.get("type")
        if kind == "url_verification":
            return web.json_response({"challenge": payload.get("challenge", "")})
        if kind != "event_callback":
            return web.Response(status=200)
        event = payload.get("event") or {}
        event_id = payload.get("event_id") or f"{event.get('channel')}/{event.get('ts')}"
        retry = headers.get("X-Slack-Retry-Num")
        if not self.seen.add(f"event:{event_id}"):
            log.info("Slack event %s already handled; ignoring (retry %s)", event_id, retry)
            return web.Response(status=200, headers={"X-Slack-No-Retry": "1"})
        if self._is_for_us(event):
            self._spawn(self._on_message(payload, event))
        return web.Response(status=200)

    def _is_for_us(self, event: Mapping[str, Any]) -> bool:
        if event.get("bot_id") or event.get("subtype") not in USER_SUBTYPES:
            return False  # bots (ourselves included), edits, joins...
        if not event.get("user") or not event.get("channel"):
            return False
        if event.get("type") == "app_mention":
            return True
        return event.get("type") == "message" and event.get("channel_type") == "im"

    def _on_command(self, form: dict[str, str], signature: str) -> web.Response:
        if form.get("command") != self.settings.command:
            return web.json_response(
                {"response_type": "ephemeral", "text": f"I only answer {self.settings.command}."}
            )
        # Each invocation has its own trigger_id; a request without one can still only
        # be replayed byte for byte, which repeats its signature.
        trigger = form.get("trigger_id") or signature
        if not self.seen.add(f"command:{trigger}"):
            log.info("Slack command %s already handled; ignoring", trigger)
            return web.Response(status=200)
        self._spawn(self._on_slash(form))
        return web.Response(status=200)

    # ------------------------------------------------------------------ work
    def _spawn(self, work) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception():
            log.error("Slack work failed", exc_info=task.exception())

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for acknowledged work to finish (tests; graceful shutdown)."""
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=timeout)

    async def close(self) -> None:
        await self.drain(timeout=10)
        for task in list(self.tasks):
            task.cancel()

    async def _on_message(self, payload: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        user, channel, ts = event["user"], event["channel"], event.get("ts")
        is_dm = event.get("channel_type") == "im"
        bot_id = await self.bot_user_id(payload)
        raw = event.get("text") or ""
        if event.get("type") == "app_mention" and not bot_id:
            raw = _LEADING_MENTION.sub("", raw)  # auth.test failed: the mention leads
        text = to_plain(raw, bot_id)
        try:
            await self._remember(
                user, payload.get("team_id"), dm_channel=channel if is_dm else None
            )
        except Exception:  # not being able to write later must not stop the answer now
            log.exception("could not store the Slack ids of %s", user)
        # In a channel the reply goes in the thread under the mention; in a DM, in the
        # thread only if the user wrote in one (a DM is already a private conversation).
        thread = event.get("thread_ts") or (None if is_dm else ts)
        try:
            reply = await self._ask(text, user, message_id=ts, conversation_id=channel)
            await self.post(channel, reply, thread_ts=thread)
        except Exception:
            log.exception("Slack message %s/%s failed", channel, ts)
            with contextlib.suppress(Exception):
                await self.post(channel, _sorry(), thread_ts=thread)

    async def _on_slash(self, form: Mapping[str, str]) -> None:
        user, channel = form.get("user_id", ""), form.get("channel_id")
        response_url = form.get("response_url", "")
        try:
            await self._remember(user, form.get("team_id"))
        except Exception:
            log.exception("could not store the Slack ids of %s", user)
        try:
            reply = await self._ask(
                to_plain(form.get("text", "")),
                user,
                message_id=form.get("trigger_id"),
                conversation_id=channel,
            )
        except Exception:
            log.exception("Slack command from %s failed", user)
            reply = _sorry()
        await self.respond(response_url, reply, user=user)

    async def _ask(
        self, text: str, user: str, *, message_id: str | None, conversation_id: str | None
    ) -> Reply:
        sender = Sender(channel="slack", user_id=user, email=await self.email_of(user))
        message = IncomingMessage(text, sender, message_id, conversation_id)
        return await self.tracker.handle(message)

    async def _remember(self, user: str, team: str | None, dm_channel: str | None = None) -> None:
        """Store how to reach this user later (their DM channel once known); durable."""
        key = f"slack:user:{user}"
        stored = self.repo.conversation(key) or {}
        reference = {
            "channel": "slack",
            "user_id": user,
            "team_id": team or stored.get("team_id"),
            "dm_channel": dm_channel or stored.get("dm_channel"),
            "last_seen": self.today(),  # a date, so this writes at most once a day
        }
        if reference != stored:
            await self.repo.save_conversation(key, reference)
        if reference["dm_channel"]:
            self._dm_channels[user] = reference["dm_channel"]

    # ------------------------------------------------------------------ slack api
    async def bot_user_id(self, payload: Mapping[str, Any] | None = None) -> str | None:
        if self._bot_user_id:
            return self._bot_user_id
        for auth in (payload or {}).get("authorizations") or []:
            if auth.get("is_bot") and auth.get("user_id"):
                self._bot_user_id = auth["user_id"]
                return self._bot_user_id
        try:
            self._bot_user_id = (await self.client.auth_test()).get("user_id")
        except SlackClientError as error:
            log.warning("Slack auth.test failed: %s", error)
        return self._bot_user_id

    async def email_of(self, user: str) -> str | None:
        """The user's e-mail, if the app has users:read.email (cached; None otherwise)."""
        if user in self._emails:
            self._emails.move_to_end(user)
            return self._emails[user]
        email = None
        try:
            response = await self.client.users_info(user=user)
            email = ((response.get("user") or {}).get("profile") or {}).get("email")
        except SlackClientError as error:
            log.info("Slack users.info for %s gave no e-mail: %s", user, error)
        self._emails[user] = email
        while len(self._emails) > 5000:
            self._emails.popitem(last=False)
        return email

    async def post(self, channel: str, reply: Reply, thread_ts: str | None = None) -> str | None:
        """Post a reply (and its images) to a channel or DM; returns the message ts."""
        with _slack_errors(f"post to {channel}"):
            response = await self.client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                link_names=False,
                parse="none",
                **slack_render.render(reply),
            )
        for image in reply.images:
            await self.upload(channel, Path(image), thread_ts=thread_ts)
        return response.get("ts")

    async def upload(self, channel: str, path: Path, thread_ts: str | None = None) -> None:
        with _slack_errors(f"upload {path.name}"):
            await self.client.files_upload_v2(
                channel=channel,
                file=str(path),
                filename=path.name,
                title=path.stem,
                thread_ts=thread_ts,
            )

    async def respond(self, response_url: str, reply: Reply, user: str | None = None) -> None:
        """Answer a slash command privately through its response_url.

        Ephemeral messages cannot carry files, so charts go to the user's DM with the
        bot rather than to the channel, where everyone would see them.
        """
        if not self._trusted_response_url(response_url):
            log.warning("Slack response_url %r is not Slack's; not answering", response_url)
            return
        body = {"response_type": "ephemeral", **slack_render.render(reply)}
        response = await AsyncWebhookClient(response_url, timeout=15).send_dict(body)
        if response.status_code != 200:
            log.warning("Slack response_url answered %s: %s", response.status_code, response.body)
        if reply.images and user:
            try:
                dm = await self.open_dm(user)
                for image in reply.images:
                    await self.upload(dm, Path(image))
            except Undeliverable as error:
                log.warning("could not send %s the chart(s): %s", user, error)

    def _trusted_response_url(self, url: str) -> bool:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        slack_host = any(host == h or host.endswith("." + h) for h in SLACK_HOSTS)
        if parts.scheme == "https" and slack_host:
            return True
        api = urlsplit(self.settings.api_url)  # GovSlack, tests: same origin as the API
        return (parts.scheme, parts.netloc) == (api.scheme, api.netloc)

    async def open_dm(self, user: str) -> str:
        if user in self._dm_channels:
            return self._dm_channels[user]
        with _slack_errors(f"open a DM with {user}"):
            response = await self.client.conversations_open(users=user)
        channel = (response.get("channel") or {}).get("id")
        if not channel:
            raise Undeliverable(f"Slack gave no DM channel for {user}")
        self._dm_channels[user] = channel
        return channel

    async def user_by_email(self, email: str | None) -> str:
        """The Slack user id for an e-mail address (needs users:read.email)."""
        if not email:
            raise Undeliverable("no Slack id or e-mail address to find them by")
        with _slack_errors(f"find the user with e-mail {email}"):
            response = await self.client.users_lookupByEmail(email=email)
        user = (response.get("user") or {}).get("id")
        if not user:
            raise Undeliverable(f"Slack found no user with e-mail {email}")
        return user

    async def send_to_user(self, user: str, reply: Reply) -> str | None:
        return await self.post(await self.open_dm(user), reply)


@contextlib.contextmanager
def _slack_errors(action: str) -> Iterator[None]:
    """Turn Slack API and network failures into Undeliverable, saying what failed."""
    try:
        yield
    except SlackApiError as error:
        raise Undeliverable(f"Slack refused to {action}: {error.response.get('error')}") from error
    except (SlackClientError, OSError, TimeoutError) as error:
        raise Undeliverable(f"could not reach Slack to {action}: {error}") from error


class _Clock:
    """Adapts a `() -> float` to slack_sdk's Clock (so tests can move time)."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


def _is_ssl_check(request: web.Request, body: bytes) -> bool:
    return request.headers.get("Content-Type", "").startswith(
        "application/x-www-form-urlencoded"
    ) and parse_qs(body.decode("utf-8", "replace")).get("ssl_check") == ["1"]


def _sorry() -> Reply:
    return Reply(
        lines=[
            "Sorry, something went wrong on my side while handling that. Please try "
            "again; if it keeps happening, tell the strategy administrator."
        ],
        kind=Kind.ERROR,
    )
