"""Slack channel: Events API (app mentions, direct messages) and the `/strategy` command.

Built on slack_sdk directly (SignatureVerifier + AsyncWebClient; replies are posted by
slack_post.py, which makes that one hot call without the client), mounted on the bot's
one aiohttp server at `/slack/events`, which takes both event callbacks (JSON) and the
slash command (form-encoded), so an administrator configures a single request URL.

Each request is handled in this order, and nothing is stored or run before step 2:

1. Size and shape, then the signature. The whole body is read (however many TCP reads
   it takes, within common.BODY_TIMEOUT_SECONDS, else 408); over MAX_BODY_BYTES is 413, a
   body that is not UTF-8 is 400. `X-Slack-Signature` must be the HMAC-SHA256 of
   `v0:{timestamp}:{body}` under the signing secret (compared in constant time) and
   `X-Slack-Request-Timestamp` within five minutes of now. Anything else gets 401;
   refusals are logged at a limited rate (bot/logs.py), never with a traceback.
2. Durable acceptance (storage/inbox.py): an event is written to the store under its
   `event_id`, a slash command under its `trigger_id`, *before* Slack hears 200. An id
   already accepted (a Slack retry, a replayed request, even after a restart: the keys
   live in the store for a day) is acknowledged and ignored. If the store cannot be
   written the answer is 500 and Slack retries later.
3. Acknowledge with 200 at once (Slack allows 3 seconds); the inbox's workers then
   store the user's channel ids for proactive messages, ask the FrontDoor and post the
   reply (in the message's thread; ephemerally for the command). Work acknowledged
   but not finished when the process died is done at the next start; if its change
   was already stored (`Repository.recorded_message`), it is not stored again.

Identity: the sender's Slack id and e-mail count only when Slack says the user belongs
to this workspace (SLACK_TEAM_ID, else the team the events come from): a Slack Connect
user from another organisation is a stranger whatever their e-mail. Slack ids are
matched against people's `slack_id` only. Message text is parsed only up to
MAX_RAW_TEXT characters, with patterns that cannot backtrack across a `<`.

This module only translates: who is asking (Slack user id, and e-mail when the app may
read it) and what they said go to `FrontDoor.handle`; the Reply that comes back goes to
`slack_render`. Identity resolution, permissions and wording belong to the FrontDoor.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
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

import aiohttp
import orjson
from aiohttp import web
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.channels import slack_render
from bot.channels.common import Undeliverable, read_body, recorded_before_restart, sorry
from bot.channels.slack_post import (
    CONNECTION_RETRIES,
    RATE_LIMIT_RETRIES,
    TIMEOUT_SECONDS,
    MessagePoster,
)
from bot.logs import RateLimitedLogger
from handlers.message import FrontDoorLike, IncomingMessage, Sender
from handlers.reply import Reply
from storage.inbox import Inbox, Item
from storage.repository import Repository

log = logging.getLogger(__name__)
# Refusals are what a flood produces: logged at most a few times a second (bot/logs.py).
_refusals = RateLimitedLogger(log)

DEFAULT_API_URL = "https://slack.com/api/"
EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 256 * 1024
# Slack's own limit for a message is 40,000 characters; markup (mentions, links, entities)
# adds to what the user typed. Text longer than this is not parsed: the FrontDoor refuses it.
MAX_RAW_TEXT = 12_000
EVENT_KIND = "slack:event"
COMMAND_KIND = "slack:command"
REPLAY_WINDOW_SECONDS = 5 * 60
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
    team_id: str | None = None  # the workspace; when unset, the one the events come from

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
            team_id=(env.get("SLACK_TEAM_ID") or "").strip() or None,
        )


# No class below can cross a `<`: Slack escapes a typed `<` as `&lt;`, so markup never
# nests, and a failed match stops at the next `<` (linear, even on `<@` x 40,000).
_MENTION = re.compile(r"<([@#!])([^<>|]*)(?:\|([^<>]*))?>")
_LEADING_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^<>]*)?>")
_LINK = re.compile(r"<((?:https?|mailto|tel):[^<>|]*)(?:\|([^<>]*))?>")


def to_plain(text: str, bot_user_id: str | None = None) -> str:
    """Slack's wire format to what the user typed: mentions and links read as text.

    `<@U123>` becomes `@U123` (the bot's own mention is removed), `<#C1|general>`
    `#general`, `<!here>` `@here`, `<https://x|label>` `label (https://x)`, and the
    entities Slack adds for `&`, `<`, `>` are decoded, so a note is stored as typed.
    Text over MAX_RAW_TEXT is returned untouched (the FrontDoor refuses it as too long).
    """
    if len(text) > MAX_RAW_TEXT:
        return text

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
        tracker: FrontDoorLike,
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
            timeout=TIMEOUT_SECONDS,
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(max_retry_count=CONNECTION_RETRIES),
                AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
            ],
        )
        self.poster = MessagePoster(settings.api_url, settings.bot_token)
        self.verifier = SignatureVerifier(settings.signing_secret, clock=_Clock(clock))
        self.inbox = Inbox(repo)
        self.inbox.handlers[EVENT_KIND] = self._work_event
        self.inbox.handlers[COMMAND_KIND] = self._work_command
        self.tasks: set[asyncio.Task[None]] = set()
        self.session: aiohttp.ClientSession | None = None
        self._bot_user_id: str | None = None
        self._team_id: str | None = settings.team_id
        self._users: OrderedDict[str, tuple[str | None, str | None]] = OrderedDict()
        self._dm_channels: dict[str, str] = {}

    # ------------------------------------------------------------------ http
    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(EVENTS_PATH, self.handle_request)

    async def handle_request(self, request: web.Request) -> web.Response:
        body = await read_body(request, MAX_BODY_BYTES)
        if isinstance(body, web.Response):
            return body  # 413 or 408
        try:
            text = body.decode("utf-8")  # Slack sends UTF-8; the signature is over text too
        except UnicodeDecodeError:
            return web.Response(status=400, text="body is not UTF-8")
        refusal = self._refusal(body, request.headers)
        if refusal:
            if _is_ssl_check(request, body):
                return web.Response(status=200)  # Slack's unsigned URL probe: nothing to do
            _refusals.warning("Slack request refused: %s", refusal)
            return web.Response(status=401, text=refusal)

        content_type = request.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            try:
                payload = orjson.loads(body)  # strict: a lone surrogate (half a character)
            except ValueError:  # is refused here, not at the store; not JSON, or not UTF-8
                return web.Response(status=400, text="body is not JSON")
            if not isinstance(payload, dict):
                return web.Response(status=400, text="body is not a JSON object")
            return await self._on_json(payload, request.headers)
        form = {k: v[0] for k, v in parse_qs(text).items()}
        if form.get("ssl_check"):
            return web.Response(status=200)
        if form.get("command"):
            return await self._on_command(form, request.headers["X-Slack-Signature"])
        return web.Response(status=200)  # interactivity and others: not used by this app

    def _refusal(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        timestamp = headers.get("X-Slack-Request-Timestamp")
        signature = headers.get("X-Slack-Signature")
        if not timestamp or not signature:
            return "missing signature headers"
        if not (timestamp.isascii() and signature.isascii()):
            return "malformed signature headers"
        try:
            sent_at = int(timestamp)
        except ValueError:
            return "malformed timestamp"
        if abs(self.clock() - sent_at) > REPLAY_WINDOW_SECONDS:
            return "stale timestamp (more than five minutes from now)"
        if not self.verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
            return "bad signature"
        return None

    async def _on_json(self, payload: dict[str, Any], headers: Mapping[str, str]) -> web.Response:
        kind = payload.get("type")
        if kind == "url_verification":
            return web.json_response({"challenge": str(payload.get("challenge", ""))})
        if kind != "event_callback":
            return web.Response(status=200)
        event = payload.get("event")
        if not isinstance(event, dict):
            return web.Response(status=400, text="event is not an object")
        event_id = payload.get("event_id") or f"{event.get('channel')}/{event.get('ts')}"
        if not self._is_for_us(event):
            return web.Response(status=200)
        work = {  # only what the worker needs, so the inbox line stays small
            "team_id": payload.get("team_id"),
            "authorizations": payload.get("authorizations"),
            "event": event,
        }
        if not await self._accept(f"slack:event:{event_id}", EVENT_KIND, work):
            retry = headers.get("X-Slack-Retry-Num")
            log.info("Slack event %s already handled; ignoring (retry %s)", event_id, retry)
            return web.Response(status=200, headers={"X-Slack-No-Retry": "1"})
        return web.Response(status=200)

    async def _accept(self, key: str, kind: str, work: dict[str, Any]) -> bool:
        """Durably queue the work (raises web.HTTPInternalServerError if the store cannot)."""
        try:
            return await self.inbox.accept(key, kind, work)
        except Exception as error:  # not on disk: say so, and Slack will retry
            log.error("Slack work %s not accepted, store failed: %s", key, error)
            raise web.HTTPInternalServerError(text="could not store the request") from None

    def _is_for_us(self, event: Mapping[str, Any]) -> bool:
        if event.get("bot_id") or event.get("subtype") not in USER_SUBTYPES:
            return False  # bots (ourselves included), edits, joins...
        if not isinstance(event.get("user"), str) or not isinstance(event.get("channel"), str):
            return False
        if not isinstance(event.get("text", ""), str):
            return False
        if event.get("type") == "app_mention":
            return True
        return event.get("type") == "message" and event.get("channel_type") == "im"

    async def _on_command(self, form: dict[str, str], signature: str) -> web.Response:
        if form.get("command") != self.settings.command:
            return web.json_response(
                {"response_type": "ephemeral", "text": f"I only answer {self.settings.command}."}
            )
        # Each invocation has its own trigger_id; a request without one can still only
        # be replayed byte for byte, which repeats its signature.
        trigger = form.get("trigger_id") or signature
        if not await self._accept(f"slack:command:{trigger}", COMMAND_KIND, form):
            log.info("Slack command %s already handled; ignoring", trigger)
            return web.Response(status=200)
        return web.Response(status=200)

    async def _work_event(self, item: Item) -> None:
        work = item.payload
        event = work["event"]
        if item.recovered and self.repo.recorded_message(
            "slack", event.get("ts"), item.accepted_at
        ):
            log.info("Slack event %s was recorded before a restart; not again", item.key)
            is_dm = event.get("channel_type") == "im"
            thread = event.get("thread_ts") or (None if is_dm else event.get("ts"))
            await self.post(event["channel"], recorded_before_restart(), thread_ts=thread)
            return
        await self._on_message(work, event)

    async def _work_command(self, item: Item) -> None:
        form = item.payload
        if item.recovered and self.repo.recorded_message(
            "slack", form.get("trigger_id"), item.accepted_at
        ):
            log.info("Slack command %s was recorded before a restart; not again", item.key)
            reply = recorded_before_restart()
            await self.respond(form.get("response_url", ""), reply, user=form.get("user_id"))
            return
        await self._on_slash(form)

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
        await self.inbox.drain(timeout)
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=timeout)

    async def start(self) -> None:
        """Open one HTTP session for every call to Slack (slack_sdk otherwise opens a new
        session, and a new connection, per call), then start the inbox workers: what a
        crash left acknowledged but unfinished runs first."""
        if self.session is None:
            timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
            self.session = aiohttp.ClientSession(timeout=timeout)
            self.client.session = self.session
        await self.inbox.start()

    async def close(self) -> None:
        await self.inbox.close(timeout=10)
        await self.drain(timeout=10)
        if self.session is not None:
            await self.session.close()
            self.client.session = self.session = None
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
            reply = await self._ask(
                text,
                user,
                message_id=ts,
                conversation_id=channel,
                team_hint=payload.get("team_id"),
                user_team=event.get("user_team"),
            )
            await self.post(channel, reply, thread_ts=thread)
        except Exception:
            log.exception("Slack message %s/%s failed", channel, ts)
            with contextlib.suppress(Exception):
                await self.post(channel, sorry(), thread_ts=thread)

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
                team_hint=form.get("team_id"),
                user_team=form.get("user_team"),
            )
        except Exception:
            log.exception("Slack command from %s failed", user)
            reply = sorry()
        await self.respond(response_url, reply, user=user)

    async def _ask(
        self,
        text: str,
        user: str,
        *,
        message_id: str | None,
        conversation_id: str | None,
        team_hint: str | None = None,
        user_team: str | None = None,
    ) -> Reply:
        email, team = await self._profile(user)
        team = user_team if isinstance(user_team, str) and user_team else team
        workspace = self._team_id or team_hint
        if team and workspace and team != workspace:
            # Slack Connect: someone from another organisation. Their e-mail and id are
            # vouched for by their own workspace, not ours: a stranger whatever they match.
            sender = Sender(channel="slack", user_id=f"{team}:{user}")
        else:
            sender = Sender(channel="slack", user_id=user, email=email)
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

    async def _profile(self, user: str) -> tuple[str | None, str | None]:
        """The user's e-mail (if the app has users:read.email) and home team (cached)."""
        if user in self._users:
            self._users.move_to_end(user)
            return self._users[user]
        email = team = None
        try:
            response = await self.client.users_info(user=user)
            found = response.get("user") or {}
            email = (found.get("profile") or {}).get("email")
            team = found.get("team_id")
        except SlackClientError as error:
            log.info("Slack users.info for %s gave no e-mail: %s", user, error)
        self._users[user] = (email, team)
        while len(self._users) > 5000:
            self._users.popitem(last=False)
        return email, team

    async def email_of(self, user: str) -> str | None:
        return (await self._profile(user))[0]

    async def post(self, channel: str, reply: Reply, thread_ts: str | None = None) -> str | None:
        """Post a reply (and its images) to a channel or DM; returns the message ts."""
        message = {"channel": channel, "thread_ts": thread_ts, "link_names": False, "parse": "none"}
        response = await self.poster.post(
            self.session, f"post to {channel}", {**message, **slack_render.render(reply)}
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
        response = await AsyncWebhookClient(
            response_url, timeout=TIMEOUT_SECONDS, session=self.session
        ).send_dict(body)
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


class _Clock(Clock):
    """Adapts a `() -> float` to slack_sdk's Clock (so tests can move time)."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


def _is_ssl_check(request: web.Request, body: bytes) -> bool:
    return request.headers.get("Content-Type", "").startswith(
        "application/x-www-form-urlencoded"
    ) and parse_qs(body.decode("utf-8", "replace")).get("ssl_check") == ["1"]
