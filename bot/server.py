"""The bot's one aiohttp application: Bot Framework, Slack and a health check.

Routes exist only for the channels that are configured:

- `POST /api/messages`: Teams / Bot Framework, when MICROSOFT_APP_ID is set or Emulator
  mode is explicitly asked for (see bot/channels/teams.py);
- `POST /slack/events`: Slack events and the slash command, when SLACK_BOT_TOKEN and
  SLACK_SIGNING_SECRET are both set (see bot/channels/slack.py);
- `GET /healthz`: always; 200 when the store answers and the scheduler (if any) says
  it is healthy, 503 otherwise. Anonymous callers get only `{"status": "ok"}` or
  `{"status": "unhealthy", "reason": "store"}`; the details (each part's health, the
  channels) go only to a caller presenting `Authorization: Bearer $HEALTHZ_TOKEN`, or
  to one on the loopback interface that did not come through a proxy (no
  `X-Forwarded-For`): host names, process ids and schedules are not for the internet.

`create_app` takes already-built parts so tests and `python -m bot serve` assemble the
same thing; `build_channels` reads the environment.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import inspect
import json
import logging
import resource
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from bot.channels.common import is_loopback
from bot.delivery import Delivery
from bot.logs import RateLimitedLogger
from handlers.message import FrontDoorLike
from storage.repository import Repository

log = logging.getLogger(__name__)
_limits = RateLimitedLogger(log)
_dumps = functools.partial(json.dumps, default=str)

CHANNELS_KEY = web.AppKey("channels", object)
DELIVERY_KEY = web.AppKey("delivery", Delivery)


class HasHealth(Protocol):
    def health(self) -> Any: ...


@dataclass
class Channels:
    slack: Any = None  # bot.channels.slack.SlackChannel
    teams: Any = None  # bot.channels.teams.TeamsChannel

    def describe(self) -> dict[str, str]:
        out = {}
        if self.slack:
            out["slack"] = "enabled"
        if self.teams:
            out["teams"] = (
                "emulator (unauthenticated)" if self.teams.settings.anonymous else "enabled"
            )
        return out


def build_channels(
    env: Mapping[str, str], tracker: FrontDoorLike, repo: Repository, *, emulator: bool = False
) -> Channels:
    """The channels the environment configures; logs what is on, what is off and why."""
    channels = Channels()
    from bot.channels.slack import SlackChannel, SlackSettings  # imported only when needed

    slack_settings = SlackSettings.from_env(env)
    if slack_settings:
        channels.slack = SlackChannel(slack_settings, tracker, repo)
        log.info("Slack enabled at /slack/events (API %s)", slack_settings.api_url)
    elif env.get("SLACK_BOT_TOKEN") or env.get("SLACK_SIGNING_SECRET"):
        log.warning("Slack is OFF: set both SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET")

    from bot.channels.teams import TeamsChannel, TeamsSettings

    teams_settings = TeamsSettings.from_env(env, emulator=emulator)
    if teams_settings:
        channels.teams = TeamsChannel(teams_settings, tracker, repo)
        if teams_settings.anonymous:
            log.warning(
                "Bot Framework endpoint /api/messages is running WITHOUT authentication "
                "(no MICROSOFT_APP_ID): Emulator mode for local testing only. Anyone who "
                "can reach it can speak as any user; replies go to loopback addresses only."
            )
        else:
            log.info("Teams enabled at /api/messages: %s", channels.teams.describe())
            if not teams_settings.trusts_email:
                log.warning(
                    "Teams accepts every Microsoft 365 tenant (no MICROSOFT_APP_TENANT_ID or "
                    "TEAMS_ALLOWED_TENANTS), so people are matched by teams_id only, not by "
                    "e-mail address"
                )
    return channels


async def _health_of(part: HasHealth) -> tuple[bool, Any]:
    try:
        result = part.health()
        if inspect.isawaitable(result):
            result = await result
    except Exception as error:
        return False, {"ok": False, "error": type(error).__name__}
    if isinstance(result, Mapping):
        return bool(result.get("ok", True)), dict(result)
    return bool(result), {"ok": bool(result)}


def create_app(
    repo: Repository,
    *,
    channels: Channels | None = None,
    scheduler: HasHealth | None = None,
    delivery: Delivery | None = None,
    healthz_token: str | None = None,
    dashboard: Any = None,  # bot.web.DashboardSettings; default from the environment
) -> web.Application:
    channels = channels or Channels()
    app = web.Application(client_max_size=512 * 1024)
    app[CHANNELS_KEY] = channels
    app[DELIVERY_KEY] = delivery or Delivery(repo, slack=channels.slack, teams=channels.teams)

    async def healthz(request: web.Request) -> web.Response:
        store: dict[str, bool | str] = {"ok": True}  # the reason, when not ok, is text
        store_ok = True
        try:
            await repo.refresh()  # reads what other processes appended: the store answers
            repo.strategy_info()
        except Exception as error:
            log.exception("health check: store failed")
            store_ok, store = False, {"ok": False, "error": type(error).__name__}
        else:
            store = repo.health()  # {"ok": False, "reason": ...} while the disk refuses writes
            store_ok = bool(store["ok"])
        if scheduler is None:
            sched_ok, sched = True, {"ok": True, "running": False, "note": "no scheduler"}
        else:
            sched_ok, sched = await _health_of(scheduler)
        ok = store_ok and sched_ok
        if not _may_see_details(request, healthz_token):
            reason = ", ".join(
                n for n, good in (("store", store_ok), ("scheduler", sched_ok)) if not good
            )
            short = {"status": "ok"} if ok else {"status": "unhealthy", "reason": reason}
            return web.json_response(short, status=200 if ok else 503)
        body = {
            "status": "ok" if ok else "unhealthy",
            "store": store,
            "scheduler": sched,
            "channels": channels.describe(),
        }
        return web.json_response(body, status=200 if ok else 503, dumps=_dumps)

    app.router.add_get("/healthz", healthz)
    from bot.web import add_dashboard  # the read-only dashboard: bot/web/

    add_dashboard(app, repo, dashboard)
    for channel in (channels.teams, channels.slack):
        if channel:
            _add_channel(app, channel)
    return app


def _add_channel(app: web.Application, channel: Any) -> None:
    """A channel's routes; its inbox starts with the server (crash-left work first) and
    drains at shutdown."""
    channel.add_routes(app)

    async def start(_app: web.Application) -> None:
        await channel.start()

    async def close(_app: web.Application) -> None:
        await channel.close()

    app.on_startup.append(start)
    app.on_shutdown.append(close)


def _may_see_details(request: web.Request, token: str | None) -> bool:
    """A caller with the health token, or a direct (not proxied) loopback caller."""
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    return is_loopback(request.remote)  # a Unix socket or unknown peer: anonymous


# ----------------------------------------------------------------------- limits
HEADER_TIMEOUT_SECONDS = 10  # a connection that has not sent a whole request head is closed
FILES_HELD_BACK = 64  # the store, the log, outbound calls to Slack and Microsoft
ACCEPT_BACKLOG = 64  # asyncio accepts up to this many sockets before any protocol runs


def connection_cap() -> int:
    """How many client connections to hold at once: well below the open-file limit.

    Room is left for the files the server itself opens and for one accept burst
    (asyncio accepts up to the listen backlog before the cap is consulted).
    """
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 4096
    return max(16, min(4096, soft - FILES_HELD_BACK - ACCEPT_BACKLOG))


def make_runner(app: web.Application) -> web.AppRunner:
    """An AppRunner whose connections must send a request within HEADER_TIMEOUT_SECONDS.

    aiohttp's keep-alive timer starts when a connection opens and closes it while the
    handler waits for a request head, so it is the header timeout (and the idle one).
    """
    return web.AppRunner(app, keepalive_timeout=HEADER_TIMEOUT_SECONDS)


class CappedSite(web.TCPSite):
    """A TCPSite that never holds more than `cap` client connections.

    At the cap, a new connection makes room by closing the oldest connection that is
    not in the middle of a request (a slow client still sending its head, or an idle
    keep-alive); if every connection is busy, the new one is closed instead. So the
    server never runs out of file descriptors ("Too many open files" in a loop), and a
    flood of slow connections cannot keep a real request out.
    """

    def __init__(self, runner: web.AppRunner, host: str, port: int, *, cap: int) -> None:
        super().__init__(runner, host, port, backlog=ACCEPT_BACKLOG)
        self.cap = cap

    async def start(self) -> None:
        self._runner._reg_site(self)
        server = self._runner.server
        assert server is not None

        def factory() -> Any:
            connections = server.connections
            if len(connections) >= self.cap:
                idle = [c for c in connections if not getattr(c, "_request_in_progress", False)]
                if idle:
                    idle[0].force_close()
                    _limits.warning("connection cap (%d) reached: closed an idle one", self.cap)
                else:
                    _limits.warning("connection cap (%d) reached: refusing a new one", self.cap)
                    return _Refused()
            return server()

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            factory, self._host, self._port, backlog=self._backlog, reuse_address=True
        )
        self._bound_port = self._server.sockets[0].getsockname()[1]


class _Refused(asyncio.Protocol):
    """Closes a connection at once (over the cap with every slot busy)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()
