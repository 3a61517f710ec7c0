"""A fake Bot Framework connector (the Teams / Emulator side of a bot's replies)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class Sent:
    conversation_id: str
    reply_to: str | None
    activity: dict[str, Any]
    authorization: str | None
    peer: Any = None  # (host, port) the reply came from: one per TCP connection


@dataclass
class FakeConnector:
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # member id -> account
    sent: list[Sent] = field(default_factory=list)
    member_lookups: list[str] = field(default_factory=list)
    fail_with: int | None = None  # answer every send with this status (e.g. 403)
    delay: float = 0.0  # seconds before answering a send (a connector that hangs)
    server: TestServer | None = None

    async def start(self) -> FakeConnector:
        app = web.Application()
        app.router.add_post("/v3/conversations/{cid}/activities", self._send)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._send)
        app.router.add_get("/v3/conversations/{cid}/members/{mid}", self._member)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return self

    async def close(self) -> None:
        if self.server:
            await self.server.close()

    @property
    def service_url(self) -> str:
        assert self.server
        return str(self.server.make_url("")).rstrip("/") + "/"

    async def wait_for(self, count: int = 1, timeout: float = 5) -> list[Sent]:
        async def poll() -> list[Sent]:
            while len(self.sent) < count:
                await asyncio.sleep(0.01)
            return self.sent

        return await asyncio.wait_for(poll(), timeout)

    async def _send(self, request: web.Request) -> web.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_with:
            return web.json_response(
                {
                    "error": {
                        "code": "BotNotInConversationRoster",
                        "message": "The bot is not part of the conversation roster.",
                    }
                },
                status=self.fail_with,
            )
        self.sent.append(
            Sent(
                conversation_id=request.match_info["cid"],
                reply_to=request.match_info.get("aid"),
                activity=await request.json(),
                authorization=request.headers.get("Authorization"),
                peer=request.transport.get_extra_info("peername") if request.transport else None,
            )
        )
        return web.json_response({"id": f"reply-{len(self.sent)}"})

    async def _member(self, request: web.Request) -> web.Response:
        member_id = request.match_info["mid"]
        self.member_lookups.append(member_id)
        if member_id not in self.members:
            return web.json_response({"error": {"code": "NotFound"}}, status=404)
        return web.json_response(self.members[member_id])
