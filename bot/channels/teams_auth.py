"""Microsoft sign-in for the Teams channel, kept off the event loop and bounded in time.

botbuilder 4.17 does two blocking things on the event loop (issue 9, item 2):

- every outgoing activity builds new `MicrosoftAppCredentials`, whose msal application
  (and its token cache) is new too, so each reply fetches a fresh Microsoft token with a
  synchronous HTTP call: 40 Teams messages held a Slack acknowledgement for 7 s.
- checking an inbound token fetches the Bot Framework's OpenID metadata and signing keys
  with `requests.get` and no timeout, triggerable by anyone who sends a token whose
  issuer looks right: one forged token while the key endpoint was slow froze every route.

`CachedCredentialsFactory` replaces botbuilder's password credentials factory: it asks
Microsoft for a client-credentials token with aiohttp (no thread, a timeout), keeps it
per scope until five minutes before it expires, lets one request refresh while the
others wait, and hands botbuilder credentials that only return the cached token.

`install_timed_key_fetching` puts `TimedOpenIdMetadata` into botbuilder's process-wide
metadata cache (`JwtTokenExtractor.metadataCache`, keyed by the library's own URLs):
the same refresh rules as botbuilder (daily, or hourly for an unknown key id) but the
fetch runs in a thread, with a requests timeout and an overall `wait_for`, and after a
failure nothing is fetched again for `FAILURE_BACKOFF` seconds. A refresh that fails or
times out raises `KeysUnavailable`, which the channel answers with 503 for that request
only; the loop never waits on Microsoft.

`quicken_msrest_retry_policy` removes the largest CPU cost of a Teams turn: msrest's
`ClientRetryPolicy()` lists the codes to retry by testing 999 status codes against a
500-item *list* (about 6 ms), and botbuilder builds two clients, so two policies, for
every activity: 42% of a turn in issue 9's profile. The same codes in a frozenset give
the identical policy in microseconds (tests/test_teams_microsoft.py checks the list).
`quicken_msrest_serializer` does the same for the next largest: msrest copies a value
typed `object` (an Adaptive Card) node by node, calling `eval` for every number, about
1.5 ms for a 2 KB card, a quarter of a turn. A tree of plain JSON types comes out of
msrest's copy unchanged, so it is passed through as it is; anything else still goes the
library's way (a test compares the two on cards and odd values).

`ReusingAuthentication` is botbuilder's `ConfigurationBotFrameworkAuthentication` with
one change: the clients it makes for a turn are kept and reused. botbuilder builds a
new `ConnectorClient` (with its own HTTP session, so a new TCP connection for every
reply) and a new `UserTokenClient` for every activity, a sixth of a Teams turn's CPU.
A client is reused for at most `CLIENT_REUSE_SECONDS`, less than `REFRESH_MARGIN`: the
token a client was built with (from `CachedCredentialsFactory`, always at least
`REFRESH_MARGIN` from expiry) is still valid for as long as the client is used, so
reuse never sends an expired token and needs no hook into msrest's credentials.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any, TypeVar

import aiohttp
import requests
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    ClaimsIdentity,
    ConnectorFactory,
    GovernmentConstants,
    MicrosoftAppCredentials,
    ServiceClientCredentialsFactory,
    UserTokenClient,
)
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor
from jwt.algorithms import RSAAlgorithm
from msrest import Serializer
from msrest.authentication import Authentication
from msrest.universal_http.requests import ClientRetryPolicy

TOKEN_TIMEOUT = 10.0  # seconds for one token request to Microsoft's login endpoint
KEYS_TIMEOUT = 10.0  # seconds for the OpenID metadata and key set together
FAILURE_BACKOFF = 30.0  # seconds without retrying after a failed key fetch
TOKEN_BACKOFF = 5.0  # seconds of failing fast after a failed token request
REFRESH_MARGIN = 300.0  # a token is renewed this long before it expires
CLIENT_REUSE_SECONDS = 240.0  # < REFRESH_MARGIN: a reused client's token never expires
CLIENTS_KEPT = 32  # service URLs (Teams has a few per region) and token clients
C = TypeVar("C")


class MicrosoftUnavailable(Exception):
    """Microsoft did not answer in time or sensibly: 503 for this request, retry later."""


class KeysUnavailable(MicrosoftUnavailable):
    """The Bot Framework's signing keys could not be fetched in time."""


class TokenUnavailable(MicrosoftUnavailable):
    """Microsoft's login endpoint gave no token in time (the reply cannot be sent)."""


def token_url(login_endpoint: str, tenant_id: str) -> str:
    """The OAuth 2.0 token endpoint for botbuilder's `login_endpoint` and our tenant.

    Public cloud: `https://login.microsoftonline.com/<tenant or botframework.com>`,
    as botbuilder's own credentials would use; anything else (a private cloud, a test's
    fake) is taken as the authority itself.
    """
    endpoint = (login_endpoint or AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL).rstrip("/")
    for prefix in (
        AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX,
        GovernmentConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX,
    ):
        if endpoint.lower().startswith(prefix):
            endpoint = prefix + (tenant_id or AuthenticationConstants.DEFAULT_CHANNEL_AUTH_TENANT)
    return endpoint + "/oauth2/v2.0/token"


class FixedTokenCredentials(MicrosoftAppCredentials):
    """Credentials that hand msrest a token fetched earlier (never a network call)."""

    def __init__(self, app_id: str, token: str) -> None:
        super().__init__(app_id, "")
        self._token = token

    def get_access_token(self, force_refresh: bool = False) -> str:
        return self._token


class CachedCredentialsFactory(ServiceClientCredentialsFactory):
    """App id + password credentials whose tokens are fetched asynchronously and reused."""

    def __init__(
        self,
        app_id: str,
        password: str,
        tenant_id: str = "",
        *,
        token_endpoint: str = "",
        timeout: float = TOKEN_TIMEOUT,
    ) -> None:
        self.app_id = app_id
        self.password = password
        self.tenant_id = tenant_id
        self.token_endpoint = token_endpoint  # overrides the URL derived from botbuilder's
        self.timeout = timeout
        self._tokens: dict[str, tuple[str, float]] = {}  # scope -> (token, expires at)
        self._lock: asyncio.Lock | None = None
        self._failed_until = 0.0  # after a failure, callers fail fast for a few seconds
        self.requests_made = 0

    async def is_valid_app_id(self, app_id: str) -> bool:
        return app_id == self.app_id

    async def is_authentication_disabled(self) -> bool:
        return not self.app_id

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> Authentication:
        if not self.app_id:
            return MicrosoftAppCredentials.empty()
        if app_id != self.app_id:
            raise PermissionError("Invalid app_id")
        scope = oauth_scope or AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
        token = await self.token(
            scope, self.token_endpoint or token_url(login_endpoint, self.tenant_id)
        )
        return FixedTokenCredentials(self.app_id, token)

    async def token(self, scope: str, url: str) -> str:
        cached = self._fresh(scope)
        if cached:
            return cached
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one refresh at a time; the rest reuse its result
            cached = self._fresh(scope)
            if cached:
                return cached
            if time.monotonic() < self._failed_until:  # the one before us just failed
                raise TokenUnavailable("no Microsoft token: login endpoint failing, backing off")
            try:
                token, lifetime = await self._fetch(scope, url)
            except TokenUnavailable:
                self._failed_until = time.monotonic() + TOKEN_BACKOFF
                raise
            self._tokens[scope] = (token, time.monotonic() + lifetime)
            return token

    def _fresh(self, scope: str) -> str | None:
        token, expires = self._tokens.get(scope, ("", 0.0))
        return token if token and time.monotonic() < expires - REFRESH_MARGIN else None

    async def _fetch(self, scope: str, url: str) -> tuple[str, float]:
        full_scope = scope if scope.endswith("/.default") else scope + "/.default"
        form = {
            "grant_type": "client_credentials",
            "client_id": self.app_id,
            "client_secret": self.password,
            "scope": full_scope,
        }
        self.requests_made += 1
        try:
            timeout = aiohttp.ClientTimeout(total=self.timeout)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(url, data=form) as response,
            ):
                body = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as error:
            raise TokenUnavailable(
                f"no Microsoft token: {type(error).__name__} from the login endpoint"
            ) from error
        if not isinstance(body, dict) or "access_token" not in body:
            code = body.get("error") if isinstance(body, dict) else None
            raise TokenUnavailable(f"no Microsoft token: {code or 'unexpected answer'}")
        return str(body["access_token"]), float(body.get("expires_in") or 3600)


class TimedOpenIdMetadata:
    """botbuilder's `_OpenIdMetadata`, fetched in a thread with timeouts and back-off."""

    def __init__(self, url: str, fetch_url: str = "", timeout: float = KEYS_TIMEOUT) -> None:
        self.url = url  # the library's key for this metadata
        self.fetch_url = fetch_url or url
        self.timeout = timeout
        self.keys: list[dict[str, Any]] = []
        self.last_updated = 0.0  # time.monotonic() of the last good refresh
        self.retry_after = 0.0
        self.fetches = 0

    async def get(self, key_id: str | None) -> Any:
        now = time.monotonic()
        if not self.keys or now - self.last_updated > 86_400:
            await self._refresh()
        key = self._find(key_id)
        if key is None and time.monotonic() - self.last_updated > 3_600:
            await self._refresh()  # an unknown key id: refresh at most hourly
            key = self._find(key_id)
        return key

    async def _refresh(self) -> None:
        if time.monotonic() < self.retry_after:
            raise KeysUnavailable("Bot Framework signing keys unavailable (backing off)")
        self.fetches += 1
        try:
            keys = await asyncio.wait_for(asyncio.to_thread(self._download), self.timeout)
        except Exception as error:  # timeouts, HTTP errors, odd JSON: all the same to us
            self.retry_after = time.monotonic() + FAILURE_BACKOFF
            raise KeysUnavailable(
                f"Bot Framework signing keys unavailable: {type(error).__name__}"
            ) from error
        self.keys = keys
        self.last_updated = time.monotonic()

    def _download(self) -> list[dict[str, Any]]:
        limit = (min(self.timeout, 5.0), self.timeout)  # (connect, read) seconds
        response = requests.get(self.fetch_url, timeout=limit)
        response.raise_for_status()
        keys_url = response.json()["jwks_uri"]
        response = requests.get(keys_url, timeout=limit)
        response.raise_for_status()
        keys = response.json()["keys"]
        if not isinstance(keys, list):
            raise ValueError("keys is not a list")
        return [k for k in keys if isinstance(k, dict)]

    def _find(self, key_id: str | None) -> Any:
        from botframework.connector.auth.jwt_token_extractor import _OpenIdConfig

        for key in self.keys:
            if key.get("kid") == key_id:
                public_key = RSAAlgorithm.from_jwk(json.dumps(key))
                return _OpenIdConfig(public_key, key.get("endorsements", []))
        return None


LIBRARY_METADATA_URLS = (
    AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL,
    AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
    GovernmentConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL,
    GovernmentConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
)


def install_timed_key_fetching(
    overrides: Mapping[str, str] | None = None, timeout: float = KEYS_TIMEOUT
) -> dict[str, TimedOpenIdMetadata]:
    """Replace botbuilder's key fetching for every metadata URL it uses by default.

    `overrides` maps a library URL to where its document is actually fetched (tests
    point the channel's at a fake on 127.0.0.1). The cache is process-wide, as it is in
    botbuilder; installing again (a new channel) replaces the objects.
    """
    installed = {}
    for url in LIBRARY_METADATA_URLS:
        metadata = TimedOpenIdMetadata(url, (overrides or {}).get(url, ""), timeout)
        JwtTokenExtractor.metadataCache[url] = metadata
        installed[url] = metadata
    return installed


def is_plain_json(value: Any) -> bool:
    """Whether `value` is made only of dict (str keys), list, str, int, float, bool, None."""
    kind = type(value)
    if kind is dict:
        return all(type(k) is str and is_plain_json(v) for k, v in value.items())
    if kind is list:
        return all(is_plain_json(v) for v in value)
    return value is None or kind in (str, int, float, bool)


def quicken_msrest_serializer() -> None:
    """Pass plain JSON `object` values through msrest untouched (see the module docstring)."""
    library = Serializer.serialize_object
    if getattr(library, "quickened", False):
        return

    def serialize_object(self: Serializer, attr: Any, **kwargs: Any) -> Any:
        if type(attr) in (dict, list) and is_plain_json(attr):
            return attr  # what msrest's copy would be, node for node
        return library(self, attr, **kwargs)

    serialize_object.quickened = True  # type: ignore[attr-defined]
    serialize_object.library = library  # type: ignore[attr-defined]
    Serializer.serialize_object = serialize_object  # type: ignore[method-assign]


def quicken_msrest_retry_policy() -> None:
    """Make msrest's retry policy cheap to build, same policy (see the module docstring)."""
    # msrest declares a list but only tests membership (`i not in self.safe_codes`).
    ClientRetryPolicy.safe_codes = frozenset(ClientRetryPolicy.safe_codes)  # type: ignore[assignment]


class ReusedClients:
    """Clients kept by key for `CLIENT_REUSE_SECONDS`, the least recently used dropped."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._kept: OrderedDict[Hashable, tuple[Any, float]] = OrderedDict()
        self.built = 0

    async def get(self, key: Hashable, build: Callable[[], Awaitable[C]]) -> C:
        kept = self._kept.get(key)
        if kept is not None and self.clock() < kept[1]:
            self._kept.move_to_end(key)
            return kept[0]
        client = await build()
        self.built += 1
        self._kept[key] = (client, self.clock() + CLIENT_REUSE_SECONDS)
        self._kept.move_to_end(key)
        while len(self._kept) > CLIENTS_KEPT:
            self._kept.popitem(last=False)
        return client


class _ReusingConnectorFactory(ConnectorFactory):
    def __init__(self, inner: ConnectorFactory, clients: ReusedClients, app_id: str) -> None:
        self.inner = inner
        self.clients = clients
        self.app_id = app_id

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        key = ("connector", self.app_id, service_url, audience)
        return await self.clients.get(key, lambda: self.inner.create(service_url, audience))


class ReusingAuthentication(ConfigurationBotFrameworkAuthentication):
    """botbuilder's configuration authentication, its per-turn clients reused (see above)."""

    def __init__(self, configuration: Any, **options: Any) -> None:
        super().__init__(configuration, **options)
        self.clients = ReusedClients()

    def _reusing(self, inner: ConnectorFactory, claims: ClaimsIdentity | None) -> ConnectorFactory:
        return _ReusingConnectorFactory(inner, self.clients, _app_id_of(claims))

    async def authenticate_request(
        self, activity: Activity, auth_header: str
    ) -> AuthenticateRequestResult:
        result = await super().authenticate_request(activity, auth_header)
        if result.connector_factory is not None:
            result.connector_factory = self._reusing(
                result.connector_factory, result.claims_identity
            )
        return result

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        inner = super().create_connector_factory(claims_identity)
        return self._reusing(inner, claims_identity)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        build = super().create_user_token_client
        key = ("user tokens", _app_id_of(claims_identity))
        return await self.clients.get(key, lambda: build(claims_identity))


def _app_id_of(claims: ClaimsIdentity | None) -> str:
    """The app id a turn acts as (botbuilder's own rule: audience, else appid/azp)."""
    if claims is None:
        return ""
    for claim in (AuthenticationConstants.AUDIENCE_CLAIM, AuthenticationConstants.APP_ID_CLAIM):
        if claims.get_claim_value(claim):
            return str(claims.get_claim_value(claim))
    return ""
