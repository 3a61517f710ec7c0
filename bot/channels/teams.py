"""Microsoft Teams (and the Bot Framework Emulator) through botbuilder's CloudAdapter.

This is the only module that imports botbuilder, which Microsoft archived at the end
of 2025 (its successor is the Microsoft 365 Agents SDK): swapping SDKs means rewriting
this file and nothing else. Rendering lives in `teams_render` as plain dicts.

`POST /api/messages` takes Bot Framework activities. Authentication comes from
MICROSOFT_APP_ID / MICROSOFT_APP_PASSWORD / MICROSOFT_APP_TENANT_ID / MICROSOFT_APP_TYPE
through `ConfigurationBotFrameworkAuthentication`: every request must carry a JWT
signed by the Bot Framework for this app id, or it gets 401. Without an app id the
endpoint only exists in explicit local Emulator mode (`--emulator` / BOT_EMULATOR=1),
where nothing is authenticated, so there replies are only ever sent to loopback
service URLs and the server refuses to listen on anything but loopback.

When a tenant id is configured (or TEAMS_ALLOWED_TENANTS lists some), activities from
any other Microsoft 365 tenant are ignored: a multi-tenant bot registration would
otherwise accept people from organisations that are not the council.

What happens to a message: its conversation reference is stored (so digests can reach
the person or channel later), the bot's @mention is stripped, the sender becomes a
`Sender(channel="teams", user_id=<Entra object id>, email=..., display_name=...)`, the
FrontDoor answers, and the Reply goes back as an Adaptive Card or plain text.

Exactly once, across crashes: a message activity is written to the store's inbox
(storage/inbox.py, `begin`) before its turn runs, and marked done after the reply.
A repeat of the same activity id (Bot Framework's retry, a replay) is answered 2xx
and ignored. If the process dies mid-turn, Bot Framework got no 2xx; at the next
start the inbox hands the activity to `_recover`, which answers it proactively in
its conversation, or, if its change was already stored (`recorded_message`), says
so instead of storing it twice; the platform's retry meanwhile finds the key and is
ignored. Other activities (installs, members added) only need the replay key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, TypeVar

import orjson
from aiohttp import web
from botbuilder.core import ActivityHandler, TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationReference,
)
from botframework.connector.auth import AuthenticationConstants

from bot.channels import teams_render
from bot.channels.common import (
    Undeliverable,
    is_loopback_url,
    read_body,
    recorded_before_restart,
    sorry,
    teams_conversation_key,
    teams_email_key,
    teams_user_key,
)
from bot.channels.teams_auth import (
    KEYS_TIMEOUT,
    CachedCredentialsFactory,
    MicrosoftUnavailable,
    ReusingAuthentication,
    install_timed_key_fetching,
    quicken_msrest_retry_policy,
    quicken_msrest_serializer,
)
from handlers.message import FrontDoorLike, IncomingMessage, Sender
from handlers.reply import Reply
from storage.inbox import Inbox, Item
from storage.repository import Repository

log = logging.getLogger(__name__)

MESSAGES_PATH = "/api/messages"
MAX_BODY_BYTES = 256 * 1024
T = TypeVar("T")
MESSAGE_KIND = "teams:message"  # the inbox's name for a Teams message turn
TRUE_WORDS = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class TeamsSettings:
    app_id: str = ""
    app_password: str = ""
    tenant_id: str = ""
    app_type: str = "MultiTenant"
    emulator: bool = False  # explicit anonymous local mode (Bot Framework Emulator)
    allowed_tenants: frozenset[str] = field(default_factory=frozenset)
    # Where Microsoft is reached; empty means botbuilder's public-cloud addresses.
    # Tests point these at fakes on 127.0.0.1 (tests/fakes/microsoft.py).
    token_endpoint: str = ""  # OAuth 2.0 token URL for the bot's own replies
    openid_metadata_url: str = ""  # the Bot Framework's OpenID document (signing keys)
    microsoft_timeout: float = KEYS_TIMEOUT  # seconds for any one call to Microsoft

    @property
    def anonymous(self) -> bool:
        return not self.app_id

    @property
    def trusts_email(self) -> bool:
        """E-mail addresses identify people only when the tenant is pinned.

        Any organisation's administrator can give their own users any e-mail address in
        their directory, so a bot open to every tenant matches people by Entra object id
        (`teams_id`) alone; with the council's tenant configured, e-mail is safe too.
        """
        return bool(self.allowed_tenants)

    @classmethod
    def from_env(cls, env: Mapping[str, str], emulator: bool = False) -> TeamsSettings | None:
        """Settings when MICROSOFT_APP_ID is set or Emulator mode is asked for, else None."""
        app_id = (env.get("MICROSOFT_APP_ID") or "").strip()
        emulator = emulator or (env.get("BOT_EMULATOR") or "").strip().lower() in TRUE_WORDS
        if not app_id and not emulator:
            return None
        tenant = (env.get("MICROSOFT_APP_TENANT_ID") or "").strip()
        allowed = {t.strip() for t in (env.get("TEAMS_ALLOWED_TENANTS") or "").split(",")}
        allowed.discard("")
        if tenant and not allowed:
            allowed = {tenant}
        return cls(
            app_id=app_id,
            app_password=(env.get("MICROSOFT_APP_PASSWORD") or "").strip(),
            tenant_id=tenant,
            app_type=(env.get("MICROSOFT_APP_TYPE") or "").strip() or "MultiTenant",
            emulator=emulator and not app_id,
            allowed_tenants=frozenset(allowed),
        )

    def configuration(self) -> SimpleNamespace:
        """The configuration object botbuilder's factories read (APP_ID, APP_PASSWORD...)."""
        return SimpleNamespace(
            APP_ID=self.app_id or None,
            APP_PASSWORD=self.app_password or None,
            APP_TENANTID=self.tenant_id or None,
            APP_TYPE=self.app_type,
        )


# Tag patterns with bounded repetition and no lazy scan to a closing tag: each match
# attempt costs at most ~100 characters, so text full of unclosed `<at` stays linear.
_AT_OPEN = re.compile(r"<at\b[^<>]{0,100}>", re.IGNORECASE)
_AT_CLOSE = re.compile(r"</at>", re.IGNORECASE)
MAX_MENTION_TEXT = 20_000  # longer text is refused as too long anyway: skip the patterns


def strip_bot_mention(activity: Activity) -> str:
    """The message text without the bot's @mention (and without leftover `<at>` tags).

    Written here rather than using TurnContext.remove_recipient_mention, which feeds the
    bot's display name to re.sub as a pattern (so names with `(`, `+`, `.` misbehave).
    """
    text = activity.text or ""
    if len(text) > MAX_MENTION_TEXT:  # the FrontDoor answers "too long"; no regex on it
        return text
    bot_id = activity.recipient.id if activity.recipient else None
    bot_name = (activity.recipient.name or "") if activity.recipient else ""
    for entity in activity.entities or []:
        if (entity.type or "").lower() != "mention":
            continue
        props = getattr(entity, "additional_properties", None) or {}
        mentioned = props.get("mentioned") or {}
        if mentioned.get("id") != bot_id:
            continue
        mention_text = props.get("text") or f"<at>{mentioned.get('name', '')}</at>"
        text = text.replace(mention_text, " ")
    if bot_name:  # a mention the entities did not describe (some clients, the Emulator)
        text = re.sub(
            rf"<at\b[^<>]{{0,100}}>[ \t]{{0,10}}{re.escape(bot_name[:100])}[ \t]{{0,10}}</at>",
            " ",
            text,
            flags=re.I,
        )
    text = _AT_CLOSE.sub("", _AT_OPEN.sub("", text))  # others' mentions: keep the name
    return " ".join(text.replace("&nbsp;", " ").split())


def tenant_of(activity: Activity) -> str | None:
    """The Microsoft 365 tenant an activity comes from.

    Teams puts it in channelData.tenant.id and conversation.tenantId; botbuilder 4.17
    maps the latter from "tenantID", so it lands in additional_properties instead.
    """
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = (data.get("tenant") or {}).get("id")
    conversation = activity.conversation
    if not tenant and conversation is not None:
        extra = getattr(conversation, "additional_properties", None) or {}
        tenant = conversation.tenant_id or extra.get("tenantId")
    return tenant


def base_conversation_id(conversation_id: str) -> str:
    """A Teams channel thread's id is `<channel id>;messageid=<root>`: keep the channel."""
    return conversation_id.split(";messageid=")[0]


class TeamsChannel:
    """The Bot Framework endpoint and Teams' half of proactive delivery."""

    def __init__(
        self,
        settings: TeamsSettings,
        tracker: FrontDoorLike,
        repo: Repository,
        *,
        today: Callable[[], str] = lambda: datetime.now(UTC).date().isoformat(),
        strategy_name: Callable[[], str] | None = None,
    ) -> None:
        self.settings = settings
        self.tracker = tracker
        self.repo = repo
        # Message turns begun and done, replay keys; both expire after a day.
        self.inbox = Inbox(repo, workers=1)
        self.inbox.handlers[MESSAGE_KIND] = self._recover
        self.today = today
        self.strategy_name = strategy_name or (
            lambda: repo.strategy_info().get("name") or "ICT strategy"
        )
        if (
            settings.app_id
            and not settings.app_password
            and settings.app_type.lower() != "userassignedmsi"
        ):
            raise ValueError(
                "MICROSOFT_APP_ID is set but MICROSOFT_APP_PASSWORD is not: the bot could "
                "not sign its replies (see docs/channels.md)."
            )
        self.credentials: CachedCredentialsFactory | None = None
        if settings.app_id and settings.app_password:
            self.credentials = CachedCredentialsFactory(
                settings.app_id,
                settings.app_password,
                settings.tenant_id,
                token_endpoint=settings.token_endpoint,
                timeout=settings.microsoft_timeout,
            )
        channel_keys = AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
        quicken_msrest_retry_policy()
        quicken_msrest_serializer()
        self.keys = install_timed_key_fetching(
            {channel_keys: settings.openid_metadata_url} if settings.openid_metadata_url else None,
            timeout=settings.microsoft_timeout,
        )
        try:
            self.auth = ReusingAuthentication(
                settings.configuration(), credentials_factory=self.credentials
            )
        except Exception as error:  # botbuilder raises bare Exception for missing settings
            raise ValueError(
                f"Teams settings are incomplete: {error}. MICROSOFT_APP_TYPE=SingleTenant "
                "needs MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD and MICROSOFT_APP_TENANT_ID "
                "(see docs/channels.md)."
            ) from error
        self.adapter = CloudAdapter(self.auth)
        self.adapter.on_turn_error = self._on_turn_error
        self.bot = StrategyBot(self)
        self._emails: OrderedDict[str, str | None] = OrderedDict()
        self._remembered: OrderedDict[str, str] = OrderedDict()  # keys -> request fields
        self._bodies: dict[int, dict[str, Any]] = {}  # id(activity) -> its request's JSON

    def describe(self) -> str:
        if self.settings.anonymous:
            return "Bot Framework Emulator mode (NO authentication; loopback only)"
        return f"Bot Framework app {self.settings.app_id} ({self.settings.app_type})"

    # ------------------------------------------------------------------ http
    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(MESSAGES_PATH, self.handle_request)

    async def handle_request(self, request: web.Request) -> web.Response:
        """Check the request before botbuilder sees it: type, size, shape, channel, replay.

        Every refusal is a 4xx with a short reason and one log line, never a traceback:
        the checks run on unauthenticated input. Emulator mode has no authentication, so
        any web page could post to it from a developer's browser: it takes only an exact
        JSON content type (no form posts dressed up as JSON) and no `Origin` header.
        """
        if request.content_type != "application/json":
            return web.Response(status=415, text="expected application/json")
        if self.settings.anonymous and "Origin" in request.headers:
            log.warning("Emulator mode: refused a cross-site request (Origin header)")
            return web.Response(status=403, text="cross-site requests are refused")
        body = await read_body(request, MAX_BODY_BYTES)
        if isinstance(body, web.Response):
            return body  # 413 or 408
        try:
            raw = orjson.loads(body)  # strict: refuses half a character (a lone surrogate)
        except ValueError:  # and non-UTF-8 bytes, which no store could write back
            return web.Response(status=400, text="body is not JSON")
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
            return web.Response(status=400, text="expected an activity")
        refusal = self.refuse_channel(raw)
        if refusal:
            log.warning("Bot Framework request refused: %s", refusal)
            return web.Response(status=403, text=refusal)
        try:
            activity = Activity().deserialize(raw)
        except Exception:  # msrest raises its own DeserializationError family
            return web.Response(status=400, text="expected an activity")
        self._bodies[id(activity)] = raw  # the inbox keeps the JSON as it came (`once`)
        try:
            return await self._process(request.headers.get("Authorization", ""), activity)
        finally:
            del self._bodies[id(activity)]

    async def _process(self, auth_header: str, activity: Activity) -> web.Response:
        """botbuilder's authentication and the turn, its failures as short answers."""
        try:
            response = await self.adapter.process_activity(auth_header, activity, self.bot.on_turn)
        except MicrosoftUnavailable as error:  # Microsoft slow or down: this request only
            log.warning("Bot Framework request not handled: %s", error)
            return web.Response(status=503, text="Microsoft sign-in unavailable, retry later")
        except (web.HTTPUnauthorized, PermissionError) as error:
            log.warning("Bot Framework request refused: not authenticated (%s)", error)
            return web.Response(status=401, text="unauthorized")
        except Exception as error:  # a bad token can make the JWT library raise anything
            if self.settings.anonymous:
                raise
            log.warning("Bot Framework request refused: %s", type(error).__name__)
            return web.Response(status=401, text="unauthorized")
        if response:
            return web.json_response(response.body, status=response.status)
        return web.Response(status=201)

    def refuse_channel(self, raw: Mapping[str, Any]) -> str | None:
        """Why an activity may not come in here, or None.

        Only Teams speaks for the council's people: Web Chat or Direct Line activities
        carry a `from.id` the client chose. The Emulator is accepted only in Emulator
        mode, and then only with a loopback serviceUrl.
        """
        channel = raw.get("channelId")
        if self.settings.anonymous:
            if channel not in ("msteams", "emulator"):
                return f"channel {str(channel)[:40]!r} is not accepted"
            if not is_loopback_url(str(raw.get("serviceUrl") or "")):
                return "Emulator mode answers loopback only"
            return None
        if channel != "msteams":
            return f"channel {str(channel)[:40]!r} is not accepted (Teams only)"
        return None

    # ------------------------------------------------------------------ turns
    def tenant_allowed(self, activity: Activity) -> bool:
        if not self.settings.allowed_tenants:
            return True
        return tenant_of(activity) in self.settings.allowed_tenants

    async def once(self, turn_context: TurnContext, turn: Callable[[TurnContext], Any]) -> None:
        """Run `turn` unless this activity was handled already (retries, replays).

        The key is durable before the turn runs, in the store, so it holds across
        restarts and across processes sharing the data directory; it expires after a
        day with the Slack inbox's keys (storage/inbox.py). A message's key carries the
        activity until the turn is done, so a crash mid-turn is recovered at start-up.
        """
        activity = turn_context.activity
        if not activity.id:
            await turn(turn_context)
            return
        key = f"teams:{activity.id[:256]}"
        if activity.type != ActivityTypes.message:
            if await self.inbox.first_time(key):
                await turn(turn_context)
            else:
                log.info("ignored a repeated Teams activity %s", activity.id)
            return
        payload = self._bodies.get(id(activity)) or activity.serialize()
        if not await self.inbox.begin(key, MESSAGE_KIND, payload):
            log.info("ignored a repeated Teams activity %s", activity.id)
            return
        try:
            await turn(turn_context)
        except asyncio.CancelledError:
            raise  # shutting down mid-turn: left pending, recovered at the next start
        except Exception:
            await self.inbox.done(key)  # failed turns are answered "Sorry", not retried
            raise
        await self.inbox.done(key)

    async def _recover(self, item: Item) -> None:
        """A message turn a crash interrupted: answer it now, in its conversation."""
        activity = Activity().deserialize(item.payload)
        already = self.repo.recorded_message("teams", activity.id, item.accepted_at)

        async def callback(turn_context: TurnContext) -> None:
            turn_context.activity = activity  # the turn is the original message's
            if already:
                await self._call(turn_context.send_activity(to_activity(recorded_before_restart())))
            else:
                await self.answer(turn_context)

        log.info("answering Teams activity %s left by a restart", activity.id)
        reference = TurnContext.get_conversation_reference(activity)
        await self.adapter.continue_conversation(
            reference, callback, bot_app_id=self.settings.app_id or None
        )

    async def start(self) -> None:
        """Answer what a crash left mid-turn; expire old keys."""
        await self.inbox.start()

    async def close(self) -> None:
        await self.inbox.close(timeout=10)

    async def remember(self, turn_context: TurnContext, email: str | None = None) -> None:
        """Store this conversation's reference (durably) so the bot can write later."""
        activity = turn_context.activity
        reference = TurnContext.get_conversation_reference(activity)
        reference.activity_id = None  # proactive messages start a new message, not a reply
        conversation_type = getattr(activity.conversation, "conversation_type", None)
        if conversation_type in ("channel", "groupChat"):
            reference.conversation.id = base_conversation_id(reference.conversation.id)
            reference.user = None  # a channel is reached as the channel, not as a member
            keys = [teams_conversation_key(reference.conversation.id)]
        else:
            user = activity.from_property
            user_id = getattr(user, "aad_object_id", None) or (user.id if user else None)
            if not user_id or (activity.recipient and user.id == activity.recipient.id):
                return
            keys = [teams_user_key(user_id)]
            if email:
                keys.append(teams_email_key(email))
        seen = self._seen_before(activity, keys, email)
        if seen is None:
            return  # this very reference was stored today already: no msrest, no lookup
        value = {
            "channel": "teams",
            "scope": conversation_type or "personal",
            "reference": reference.serialize(),
            "last_seen": self.today(),  # a date, so a chatty user costs one write a day
        }
        for key in keys:
            if self.repo.conversation(key) != value:
                await self.repo.save_conversation(key, value)
        seen()

    def _seen_before(
        self, activity: Activity, keys: list[str], email: str | None
    ) -> Callable[[], None] | None:
        """None when the same request fields (all a reference is made of) were stored
        under the same keys today; else a callback that notes them once stored.

        Serialising a reference with msrest costs more than the rest of a turn's
        bookkeeping, and a chatty user's reference rarely changes within a day."""
        raw = self._bodies.get(id(activity))
        if raw is None:  # proactive and recovered turns: no request body to compare
            return lambda: None
        fields = ("serviceUrl", "channelId", "conversation", "from", "recipient", "locale")
        fingerprint = json.dumps(
            [self.today(), email, *(raw.get(name) for name in fields)], sort_keys=True
        )
        cache_key = "\n".join(keys)
        if self._remembered.get(cache_key) == fingerprint:
            return None

        def stored() -> None:
            self._remembered[cache_key] = fingerprint
            self._remembered.move_to_end(cache_key)
            while len(self._remembered) > 5000:
                self._remembered.popitem(last=False)

        return stored

    async def _remember_safely(self, turn_context: TurnContext, email: str | None = None) -> None:
        try:
            await self.remember(turn_context, email=email)
        except Exception:  # not being able to write later must not stop the answer now
            log.exception("could not store the Teams conversation reference")

    async def sender_of(self, turn_context: TurnContext) -> Sender:
        activity = turn_context.activity
        user = activity.from_property or ChannelAccount()
        # Teams vouches for the Entra object id; `from.id` is only trusted from the local
        # Emulator (Emulator mode), where nothing is authenticated anyway.
        user_id = getattr(user, "aad_object_id", None)
        if activity.channel_id == "emulator" and self.settings.anonymous:
            user_id = user_id or user.id
        return Sender(
            channel="teams",
            user_id=user_id,
            email=await self.email_of(turn_context),
            display_name=user.name,
        )

    async def email_of(self, turn_context: TurnContext) -> str | None:
        """The sender's e-mail from Teams' member API (cached); None outside Teams."""
        activity = turn_context.activity
        user = activity.from_property
        if activity.channel_id != "msteams" or not user or not user.id:
            return None
        if not self.settings.trusts_email:
            return None
        if user.id in self._emails:
            self._emails.move_to_end(user.id)
            return self._emails[user.id]
        email = None
        try:
            member = await self._call(TeamsInfo.get_member(turn_context, user.id))
            email = member.email or member.user_principal_name
        except Exception as error:  # the member API failing must not lose the message
            log.info("Teams member lookup for %s failed: %s", user.id, error)
            return None
        self._emails[user.id] = email
        while len(self._emails) > 5000:
            self._emails.popitem(last=False)
        return email

    async def answer(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        sender = await self.sender_of(turn_context)
        await self._remember_safely(turn_context, email=sender.email)
        message = IncomingMessage(
            text=strip_bot_mention(activity),
            sender=sender,
            message_id=activity.id,
            conversation_id=activity.conversation.id if activity.conversation else None,
        )
        reply = await self.tracker.handle(message)
        await self._call(turn_context.send_activity(to_activity(reply)))

    async def welcome(self, turn_context: TurnContext, members: list[ChannelAccount]) -> None:
        activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        await self._remember_safely(turn_context)
        added_bot = any(m.id == bot_id for m in members)
        people = [m for m in members if m.id != bot_id]
        if not added_bot and not people:
            return
        welcome = self.welcome_reply(None if added_bot else [p.name for p in people if p.name])
        await self._call(turn_context.send_activity(to_activity(welcome)))

    def welcome_reply(self, names: list[str] | None = None) -> Reply:
        greeting = f"Welcome, {', '.join(names)}!" if names else "Hello!"
        return Reply(
            title=f"{greeting} I'm the Strategy Tracker.",
            lines=[
                f"I keep track of the {self.strategy_name()}: tell me what has happened on "
                "an objective, log a risk, or ask how things are going.",
                'To start, say "help" (in a channel, @mention me first). For example: '
                '"my objectives", or "update 3.2 on track 60% survey complete".',
                "If I don't know you yet, I'll tell you how to get added.",
            ],
        )

    async def _on_turn_error(self, turn_context: TurnContext, error: Exception) -> None:
        if isinstance(error, Undeliverable):  # the reply could not go; a "Sorry" cannot either
            log.warning("Teams reply not delivered: %s", error)
            return
        log.error("Teams turn failed", exc_info=error)
        if turn_context.activity and turn_context.activity.type == ActivityTypes.message:
            try:
                await self._call(turn_context.send_activity(to_activity(sorry())))
            except Exception as failure:  # the connector itself may be what failed
                log.warning("could not tell the Teams user about the failure: %s", failure)

    async def _call(self, work: Awaitable[T]) -> T:
        """One call to the Bot Framework connector (a reply, a member lookup), bounded.

        msrest would wait up to 100 s for a connector that accepts the connection and
        never answers; a Teams turn runs inline, so that would hold the request (and its
        connection) as long. Past `microsoft_timeout` the call is abandoned: a reply that
        could not be sent is an `Undeliverable` (logged; the change itself is stored)."""
        try:
            return await asyncio.wait_for(work, self.settings.microsoft_timeout)
        except TimeoutError as error:
            raise Undeliverable(
                f"the Bot Framework connector did not answer within "
                f"{self.settings.microsoft_timeout:g} s"
            ) from error

    # ------------------------------------------------------------------ proactive
    async def send(self, stored: Mapping[str, Any], reply: Reply) -> None:
        """Send a reply into a stored conversation (raises Undeliverable on failure)."""
        try:
            reference = ConversationReference().deserialize(stored["reference"])
        except (KeyError, TypeError, ValueError) as error:
            raise Undeliverable(f"the stored Teams reference is unusable: {error}") from error
        failures: list[Exception] = []

        async def callback(turn_context: TurnContext) -> None:
            # The continuation event carries a made-up id that would otherwise become the
            # message's replyToId; a proactive message is a new message, not a reply.
            turn_context.activity.id = None
            try:
                await self._call(turn_context.send_activity(to_activity(reply)))
            except Exception as error:  # reported to the caller below
                failures.append(error)

        try:
            await self.adapter.continue_conversation(
                reference, callback, bot_app_id=self.settings.app_id or None
            )
        except Exception as error:
            raise Undeliverable(f"Teams did not accept the message: {error}") from error
        if failures:
            raise Undeliverable(f"Teams did not accept the message: {failures[0]}")


class StrategyBot(ActivityHandler):
    """Routes Bot Framework activities to the channel: messages, installs, new members."""

    def __init__(self, channel: TeamsChannel) -> None:
        self.channel = channel

    async def on_turn(self, turn_context: TurnContext) -> None:
        if not self.channel.tenant_allowed(turn_context.activity):
            log.warning("ignored an activity from tenant outside TEAMS_ALLOWED_TENANTS")
            return
        await self.channel.once(turn_context, super().on_turn)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await self.channel.answer(turn_context)

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        await self.channel.welcome(turn_context, members_added)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        await self.channel.remember(turn_context)


def to_activity(reply: Reply) -> Activity:
    """The reply as botbuilder's Activity, built field by field from `teams_render`'s JSON.

    Not `Activity().deserialize(...)`: msrest would walk every node of the Adaptive
    Card (typed `object`) to copy it, a third of a Teams turn's own work; the card
    dict is handed over as it is, and serialised once, when the reply is sent."""
    rendered = teams_render.render(reply)
    unknown = set(rendered) - {"type", "summary", "text", "textFormat", "attachments"}
    if unknown:  # teams_render grew a field: map it here too, or it would be dropped
        raise ValueError(f"to_activity does not map {sorted(unknown)}")
    attachments = [
        Attachment(
            content_type=item["contentType"],
            content=item.get("content"),
            content_url=item.get("contentUrl"),
            name=item.get("name"),
        )
        for item in rendered.get("attachments", ())
    ]
    return Activity(
        type=rendered["type"],
        summary=rendered.get("summary"),
        text=rendered.get("text"),
        text_format=rendered.get("textFormat"),
        attachments=attachments or None,
    )
