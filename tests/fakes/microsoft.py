"""A fake of Microsoft's login and Bot Framework key endpoints, on its own thread.

It runs in a separate thread with its own event loop, so a bot that blocked its loop
waiting for Microsoft (as botbuilder 4.17 did) shows up as a slow answer in a test,
not as a deadlock. `sign()` makes a Bot Framework channel token the fake's published
key verifies; `delay_token` / `delay_keys` make the endpoints slow.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time
import uuid
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

CHANNEL_ISSUER = "https://api.botframework.com"


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class FakeMicrosoft:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex
        self.token_requests = 0
        self.key_requests = 0
        self.delay_token = 0.0
        self.delay_keys = 0.0
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeMicrosoft:
        self._thread.start()
        self._ready.wait(10)
        return self

    def close(self) -> None:
        loop = self._loop
        if loop is None:
            return
        runner = self._runner
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_post("/tenant/oauth2/v2.0/token", self._token)
        app.router.add_get("/openid", self._openid)
        app.router.add_get("/keys", self._keys)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)  # slow handlers: do not wait
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # aiohttp keeps the bound socket here only
        self._ready.set()
        self._loop.run_forever()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_endpoint(self) -> str:
        return self.base + "/tenant/oauth2/v2.0/token"

    @property
    def openid_url(self) -> str:
        return self.base + "/openid"

    # ------------------------------------------------------------------ tokens
    def sign(self, *, app_id: str, service_url: str, issuer: str = CHANNEL_ISSUER) -> str:
        """A Bot Framework channel token for `app_id`, as Teams would send it."""
        now = int(time.time())
        claims = {"iss": issuer, "aud": app_id, "serviceurl": service_url,
                  "nbf": now - 10, "exp": now + 3600}  # fmt: skip
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})

    # ------------------------------------------------------------------ handlers
    async def _token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        form = await request.post()
        await asyncio.sleep(self.delay_token)
        if form.get("grant_type") != "client_credentials" or not form.get("client_secret"):
            return web.json_response({"error": "invalid_request"}, status=400)
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": 3599,
                "access_token": f"fake-token-{self.token_requests}",
            }
        )

    async def _openid(self, request: web.Request) -> web.Response:
        self.key_requests += 1
        await asyncio.sleep(self.delay_keys)
        return web.json_response({"issuer": CHANNEL_ISSUER, "jwks_uri": self.base + "/keys"})

    async def _keys(self, request: web.Request) -> web.Response:
        numbers = self.key.public_key().public_numbers()
        jwk: dict[str, Any] = {"kty": "RSA", "use": "sig", "kid": self.kid,
                               "n": _b64(numbers.n), "e": _b64(numbers.e),
                               "endorsements": ["msteams"]}  # fmt: skip
        return web.json_response({"keys": [jwk]})
