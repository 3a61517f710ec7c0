"""`dashboard` in chat: a personal sign-in link to the read-only web dashboard.

Links and session cookies are the same kind of token, `<payload>.<signature>`: the
payload is base64url JSON `{"p": person id, "e": expiry (unix seconds), "k": kind}` and
the signature an HMAC-SHA256 of it under the dashboard secret, checked with
`hmac.compare_digest`. A link (kind "link") lives 12 hours; following it gives a session
(kind "session") of the same length. Nothing is stored per link, so:

- the secret is the only thing to protect: `DASHBOARD_SECRET`, or else a random one
  generated once into the data directory as `dashboard-secret` (mode 0600);
- rotating the secret (change the variable, or delete the file) revokes every link and
  session at once;
- a token names a person, and every request checks that person is still in the store,
  so removing someone from the strategy file locks them out too.

The web side (bot/web/) verifies with the same functions; this module lives in handlers/
because the chat command needs it and handlers must not import bot/.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from handlers.context import Context
from handlers.reply import Reply
from handlers.router import command

LINK_LIFETIME = timedelta(hours=12)
SESSION_LIFETIME = timedelta(hours=12)
SECRET_FILE = "dashboard-secret"
DEFAULT_PUBLIC_URL = "http://localhost:3978"


@dataclass(frozen=True)
class Token:
    person: str
    expires: int  # unix seconds
    kind: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest())


def sign(secret: bytes, person: str, kind: str, expires: datetime) -> str:
    fields = {"p": person, "e": int(expires.timestamp()), "k": kind}
    body = json.dumps(fields, separators=(",", ":"))
    payload = _b64(body.encode("utf-8"))
    return f"{payload}.{_signature(secret, payload)}"


def verify(secret: bytes, token: str, kind: str, now: datetime) -> Token | None:
    """The token's contents if the signature is right, the kind matches and it is in date."""
    payload, dot, signature = token.partition(".")
    if not dot or not re.fullmatch(r"[A-Za-z0-9_-]{1,400}", payload):
        return None
    if not hmac.compare_digest(_signature(secret, payload).encode(), signature.encode()):
        return None
    try:
        data = json.loads(_unb64(payload))
        found = Token(str(data["p"]), int(data["e"]), str(data["k"]))
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    if found.kind != kind or found.expires <= now.timestamp():
        return None
    return found


def load_secret(data_dir: Path, env: Mapping[str, str] | None = None) -> bytes:
    """DASHBOARD_SECRET, else the data directory's generated secret (created once, 0600)."""
    env = os.environ if env is None else env
    configured = (env.get("DASHBOARD_SECRET") or "").strip()
    if configured:
        return configured.encode("utf-8")
    path = Path(data_dir) / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip().encode("ascii")
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secrets.token_urlsafe(48) + "\n")
        out.flush()
        os.fsync(out.fileno())
    return path.read_text(encoding="ascii").strip().encode("ascii")


def public_url(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return (env.get("PUBLIC_URL") or DEFAULT_PUBLIC_URL).strip().rstrip("/")


# The dashboard's data downloads, spelt once: the routes (bot/web/routes.py), the
# downloads page and the chat `export` answer all use these.
EXPORT_XLSX = "/export.xlsx"
EXPORT_CSV = "/export-csv.zip"


def sign_in_link(secret: bytes, base_url: str, person: str, now: datetime) -> str:
    return f"{base_url}/signin/{sign(secret, person, 'link', now + LINK_LIFETIME)}"


@command(
    "dashboard",
    r"(?:the |open |open the |show (?:me )?the )?dashboard(?: link)?(?: please)?",
    r"(?:(?:please )?(?:can|could|may) i (?:have|get) |give me |send me |get |i need )?"
    r"(?:a |my |the )?(?:dashboard|sign[- ]?in) link(?: please)?\??",
    r"(?:where(?:'s| is) |how do i (?:get to|open|see|find|use) )(?:the |my )?dashboard\??",
    group="Questions",
    examples=("dashboard",),
    summary="A personal link to the read-only web dashboard, valid for 12 hours.",
)
async def dashboard_link(ctx: Context, match: object) -> Reply | None:
    if ctx.person is None:
        return None
    secret = load_secret(ctx.repo.data_dir)
    link = sign_in_link(secret, public_url(), ctx.person.id, ctx.now)
    expires = (ctx.now + LINK_LIFETIME).strftime("%a %-d %b at %H:%M")
    return Reply(
        title="Your dashboard link",
        lines=[
            link,
            f"It signs you in as {ctx.person.name} and works until {expires}. "
            "Don't forward it: anyone with it can read the dashboard as you.",
        ],
    )
