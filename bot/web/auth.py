"""Who is looking: the session cookie, checked on every request.

A request is signed in only if its cookie is a session token signed with the current
secret, not expired, and names a person who is still in the store. Anything else
(no cookie, a tampered or expired one, a rotated secret, a removed person) is anonymous.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from handlers.dashboard import SESSION_LIFETIME, sign, verify
from storage.repository import Repository
from tracker.model import Person

COOKIE = "strategy_dashboard"


def signed_in(
    request: web.Request, repo: Repository, secret: bytes, now: datetime
) -> Person | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    found = verify(secret, token, "session", now)
    return repo.person(found.person) if found else None


def person_of_link(token: str, repo: Repository, secret: bytes, now: datetime) -> Person | None:
    found = verify(secret, token, "link", now)
    return repo.person(found.person) if found else None


def start_session(
    response: web.StreamResponse, person: Person, secret: bytes, now: datetime, *, secure: bool
) -> None:
    response.set_cookie(
        COOKIE,
        sign(secret, person.id, "session", now + SESSION_LIFETIME),
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="Lax",
        secure=secure,
    )


def end_session(response: web.StreamResponse, *, secure: bool) -> None:
    response.del_cookie(COOKIE, path="/", secure=secure, httponly=True, samesite="Lax")
