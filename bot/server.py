"""The bot's one aiohttp application: Bot Framework, Slack and a health check.

Routes exist only for the channels that are configured:

- `POST /api/messages`: Teams / Bot Framework, when MICROSOFT_APP_ID is set or Emulator
  mode is explicitly asked for (see bot/channels/teams.py);
- `POST /slack/events`: Slack events and the slash command, when SLACK_BOT_TOKEN and
  SLACK_SIGNING_SECRET are both set (see bot/channels/slack.py);
- `GET /healthz`: always; 200 when the store answers and the scheduler (if any) says
  it is healthy, 503 otherwise, with a small JSON body saying which part is unwell.
  It reveals no data, only the health of the parts, for load balancers and monitors.

`create_app` takes already-built parts so tests and `python -m bot serve` assemble the
same thing; `build_channels` reads the environment.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from bot.delivery import Delivery
from storage.repository import Repository

log = logging.getLogger(__name__)
_dumps = functools.partial(json.dumps, default=str)

CHANNELS_KEY = web.AppKey("channels", object)
DELIVERY_KEY = web.AppKey("delivery", Delivery)


class HasHealth(Protocol):
    def health(self) -> Any: ...


class TrackerLike(Protocol):
    async def handle(self, message: Any) -> Any: ...


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
    env: Mapping[str, str], tracker: TrackerLike, repo: Repository, *, emulator: bool = False
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
    dashboard: Any = None,  # bot.web.DashboardSettings; default from the environment
) -> web.Application:
    channels = channels or Channels()
    app = web.Application(client_max_size=512 * 1024)
    app[CHANNELS_KEY] = channels
    app[DELIVERY_KEY] = delivery or Delivery(repo, slack=channels.slack, teams=channels.teams)

    async def healthz(request: web.Request) -> web.Response:
        store_ok, store = True, {"ok": True}
        try:
            await repo.refresh()  # reads what other processes appended: the store answers
            repo.strategy_info()
        except Exception as error:
            log.exception("health check: store failed")
            store_ok, store = False, {"ok": False, "error": type(error).__name__}
        if scheduler is None:
            sched_ok, sched = True, {"ok": True, "running": False, "note": "no scheduler"}
        else:
            sched_ok, sched = await _health_of(scheduler)
        ok = store_ok and sched_ok
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
    if channels.teams:
        channels.teams.add_routes(app)
    if channels.slack:
        channels.slack.add_routes(app)

        async def close_slack(app: web.Application) -> None:
            await channels.slack.close()

        app.on_shutdown.append(close_slack)
    return app
