"""Anchors for `python -m bench serve`: the least a Slack echo can do, on the same fakes.

`python -m bench.anchors aiohttp --port P --api URL`: a bare aiohttp app that answers
200 and posts a canned reply in the message's thread (one shared session).
`python -m bench.anchors bolt --port P --api URL`: a bare slack_bolt AsyncApp whose
app_mention listener says "ok" in the thread (Bolt's defaults, signature checks on).
Both read SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN from the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os

import aiohttp
from aiohttp import web


def bare_aiohttp(port: int, api: str, token: str) -> None:
    async def session_ctx(app: web.Application):
        app["session"] = aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"})
        yield
        await app["session"].close()

    async def reply(session: aiohttp.ClientSession, event: dict) -> None:
        body = {"channel": event["channel"], "thread_ts": event["ts"], "text": "ok"}
        async with session.post(f"{api}chat.postMessage", json=body) as response:
            await response.read()

    tasks: set[asyncio.Task] = set()

    async def events(request: web.Request) -> web.Response:
        payload = json.loads(await request.read())
        task = asyncio.create_task(reply(request.app["session"], payload["event"]))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return web.Response(status=200)

    app = web.Application()
    app.cleanup_ctx.append(session_ctx)
    app.router.add_post("/slack/events", events)
    web.run_app(app, host="127.0.0.1", port=port, print=lambda *_: print("listening", flush=True))


def bare_bolt(port: int, api: str, token: str, secret: str) -> None:
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    app = AsyncApp(
        token=token, signing_secret=secret, client=AsyncWebClient(token=token, base_url=api)
    )

    @app.event("app_mention")
    async def echo(event, say) -> None:
        await say(text="ok", thread_ts=event["ts"])

    print("listening", flush=True)
    app.start(port=port, path="/slack/events", host="127.0.0.1")


def bare_botbuilder(port: int) -> None:
    """A bare botbuilder echo bot (CloudAdapter, no app id: the Emulator's mode)."""
    from types import SimpleNamespace

    from botbuilder.core import ActivityHandler, TurnContext
    from botbuilder.integration.aiohttp import (
        CloudAdapter,
        ConfigurationBotFrameworkAuthentication,
    )

    config = SimpleNamespace(
        APP_ID=None, APP_PASSWORD=None, APP_TENANTID=None, APP_TYPE="MultiTenant"
    )
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(config))

    class Echo(ActivityHandler):
        async def on_message_activity(self, turn_context: TurnContext) -> None:
            await turn_context.send_activity("ok")

    bot = Echo()

    async def messages(request: web.Request) -> web.Response:
        response = await adapter.process(request, bot)
        return response or web.Response(status=201)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    web.run_app(app, host="127.0.0.1", port=port, print=lambda *_: print("listening", flush=True))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.anchors")
    parser.add_argument("kind", choices=("aiohttp", "bolt", "botbuilder"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api", required=True)
    args = parser.parse_args()
    if args.kind == "botbuilder":  # teams2: the Teams anchor
        bare_botbuilder(args.port)
        return
    token, secret = os.environ["SLACK_BOT_TOKEN"], os.environ["SLACK_SIGNING_SECRET"]
    if args.kind == "aiohttp":
        bare_aiohttp(args.port, args.api, token)
    else:
        bare_bolt(args.port, args.api, token, secret)


if __name__ == "__main__":
    main()
