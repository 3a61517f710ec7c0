"""`python -m bot serve`: run the Slack / Teams server (one aiohttp application).

Which channels run is decided by the environment (see docs/channels.md and
.env.example): Slack when SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are set, Teams when
MICROSOFT_APP_ID is set, or `--emulator` for the Bot Framework Emulator on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Mapping

from bot.app import running_app
from bot.channels.common import is_loopback
from bot.delivery import Delivery
from bot.logs import install as install_log_limits
from bot.scheduler import scheduler_for
from bot.server import CappedSite, build_channels, connection_cap, create_app, make_runner
from bot.settings import Settings, add_store_options
from bot.subcommands.errors import report_errors

DEFAULT_PORT = 3978  # the Bot Framework's customary port


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the Slack / Teams server",
        description="Serve Slack (/slack/events), Teams (/api/messages) and /healthz "
        "from one web server. Channels are configured by environment variables: see "
        "docs/channels.md.",
    )
    parser.add_argument(
        "--host",
        help="address to listen on (default: $HOST, else 0.0.0.0; 127.0.0.1 with --emulator)",
    )
    parser.add_argument(
        "--port", type=int, help=f"port to listen on (default: $PORT, else {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--emulator",
        action="store_true",
        help="enable /api/messages WITHOUT authentication for the Bot Framework Emulator "
        "(only when MICROSOFT_APP_ID is not set; loopback addresses only)",
    )
    add_store_options(parser)
    parser.set_defaults(func=run)


def choose_address(
    args: argparse.Namespace, env: Mapping[str, str], emulator: bool
) -> tuple[str, int]:
    host = args.host or env.get("HOST") or ("127.0.0.1" if emulator else "0.0.0.0")
    port = args.port if args.port is not None else int(env.get("PORT") or DEFAULT_PORT)
    return host, port


def run(args: argparse.Namespace) -> int:
    # ValueError: a bad PORT, or a bad setting the channels refused (exit 2).
    return report_errors(lambda: asyncio.run(serve(args, os.environ)), usage=(ValueError,))


async def serve(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    async with running_app(Settings.from_args(args.data, args.strategy)) as app:
        channels = build_channels(env, app.tracker, app.repo, emulator=args.emulator)
        anonymous = bool(channels.teams and channels.teams.settings.anonymous)
        host, port = choose_address(args, env, anonymous)
        if anonymous and not is_loopback(host):
            print(
                f"error: Emulator mode has no authentication, so it only listens on this "
                f"machine (127.0.0.1), not {host}. Set MICROSOFT_APP_ID and "
                "MICROSOFT_APP_PASSWORD to serve Teams on a network.",
                file=sys.stderr,
            )
            return 2
        delivery = Delivery(app.repo, slack=channels.slack, teams=channels.teams)
        scheduler = scheduler_for(app.repo, app.settings, delivery)
        web_app = create_app(
            app.repo,
            channels=channels,
            scheduler=scheduler,
            delivery=delivery,
            healthz_token=(env.get("HEALTHZ_TOKEN") or "").strip() or None,
        )
        install_log_limits()  # a flood of bad requests must not fill the disk
        scheduler.attach(web_app)  # started with the server, stopped with it
        runner = make_runner(web_app)  # header timeout
        await runner.setup()
        try:
            site = CappedSite(runner, host, port, cap=connection_cap())
            await site.start()
            bound = [a[:2] for a in runner.addresses if isinstance(a, tuple)]
            where = ", ".join(f"http://{h}:{p}" for h, p in bound) or f"http://{host}:{port}"
            print(f"Strategy Tracker listening on {where}", flush=True)
            for line in _describe(channels):
                print(f"  {line}", flush=True)
            await _until_stopped()
        finally:
            await runner.cleanup()
    return 0


def _describe(channels) -> list[str]:
    lines = ["GET  /healthz: health of the store and scheduler"]
    if channels.slack:
        lines.append(f"POST /slack/events: Slack (API {channels.slack.settings.api_url})")
    else:
        lines.append("Slack: off (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET)")
    if channels.teams:
        lines.append(f"POST /api/messages: {channels.teams.describe()}")
    else:
        lines.append("Teams: off (set MICROSOFT_APP_ID etc., or --emulator for local testing)")
    return lines


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
