"""A fake Slack Web API: records every call; answers like Slack for the methods we use."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from aiohttp.test_utils import TestServer

BOT_USER_ID = "UBOT"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str | None
    peer: Any = None  # the bot's (host, port): one per TCP connection


@dataclass
class FakeSlackApi:
    token: str = "xoxb-test-token"
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> profile
    teams: dict[str, str] = field(default_factory=dict)  # id -> home team (default T1)
    failures: dict[str, str] = field(default_factory=dict)  # method -> Slack error code
    throttled: dict[str, int] = field(default_factory=dict)  # method -> 429s to answer first
    dropped: dict[str, int] = field(default_factory=dict)  # method -> connections to drop first
    calls: list[Call] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)
    responses: list[dict[str, Any]] = field(default_factory=list)  # response_url posts
    response_ids: list[str] = field(default_factory=list)  # which response_url each went to
    server: TestServer | None = None

    async def start(self) -> FakeSlackApi:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/response/{id}", self._response)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return self

    async def close(self) -> None:
        if self.server:
            await self.server.close()

    @property
    def base(self) -> str:
        assert self.server
        return str(self.server.make_url("")).rstrip("/")

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self, name: str = "r1") -> str:
        return f"{self.base}/response/{name}"

    def of(self, method: str) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == method]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5) -> list[dict]:
        async def poll() -> list[dict]:
            while len(self.of(method)) < count:
                await asyncio.sleep(0.01)
            return self.of(method)

        return await asyncio.wait_for(poll(), timeout)

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST":
            raw = await request.read()
            if request.content_type == "application/json":
                params.update(json.loads(raw or b"{}"))
            else:
                params.update({k: v[0] for k, v in parse_qs(raw.decode()).items()})
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") or params.get("token")
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.calls.append(Call(method, params, token, peer))
        if self.dropped.get(method):
            self.dropped[method] -= 1
            assert request.transport
            request.transport.abort()  # the bot sees the connection go, with no answer
            return web.Response()
        if self.throttled.get(method):
            self.throttled[method] -= 1
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "0"}
            )
        if token != self.token:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if method in self.failures:
            return web.json_response({"ok": False, "error": self.failures[method]})
        return web.json_response(self._answer(method, params))

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "user_id": BOT_USER_ID, "bot_id": "B1", "team_id": "T1"}
        if method == "chat.postMessage":
            ts = f"1700000000.{len(self.calls):06d}"
            return {"ok": True, "channel": params.get("channel"), "ts": ts}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(params.get("users"))[1:]}}
        if method == "users.info":
            user = params.get("user")
            if user not in self.users:
                return {"ok": False, "error": "user_not_found"}
            team = self.teams.get(user, "T1")
            return {"ok": True, "user": {"id": user, "team_id": team, "profile": self.users[user]}}
        if method == "users.lookupByEmail":
            for user, profile in self.users.items():
                if profile.get("email", "").lower() == str(params.get("email")).lower():
                    return {"ok": True, "user": {"id": user, "profile": profile}}
            return {"ok": False, "error": "users_not_found"}
        if method == "files.getUploadURLExternal":
            file_id = f"F{len(self.uploads) + 1}"
            return {"ok": True, "file_id": file_id, "upload_url": f"{self.base}/upload/{file_id}"}
        if method == "files.completeUploadExternal":
            files = json.loads(params.get("files", "[]"))
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}
        return {"ok": True}

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["file_id"]] = await request.read()
        return web.Response(text="OK")

    async def _response(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        self.response_ids.append(request.match_info["id"])
        return web.Response(text="ok")
