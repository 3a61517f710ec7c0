"""The read-only web dashboard, served by the same aiohttp application as the bot.

`add_dashboard(app, repo, settings)` adds every route; nothing else in bot/ needs to know
about it. Pages are server-rendered Jinja2 templates (templates/) styled with GOV.UK
Frontend's compiled CSS (static/), with no JavaScript at all, so they work in any
browser, by keyboard and with a screen reader, and a strict Content-Security-Policy
(`default-src 'self'`) costs nothing.

Access (bot/web/auth.py): known people only. A person asks the bot `dashboard` in chat
and gets a personal link valid 12 hours (handlers/dashboard.py signs it); following it
sets an HttpOnly, SameSite=Lax session cookie (Secure when PUBLIC_URL is https) and
redirects to `/`. Every request re-checks the signature, the expiry and that the person
is still in the store; anything else gets the "how to get a link" page and no data.
Rotating the secret (DASHBOARD_SECRET, or deleting `dashboard-secret` in the data
directory) revokes every link and session.

Figures come from tracker/progress.py's `headline` (the computation the report, the digests
and the chat `summary` use; tests/test_one_view.py compares all of them);
bot/web/views.py turns the store into what each template shows.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aiohttp import web

from handlers.dashboard import load_secret, public_url
from storage.repository import Repository
from tracker.dates import LONDON

STATIC = Path(__file__).resolve().parent / "static"
TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class DashboardSettings:
    secret: bytes
    public_url: str
    clock: Callable[[], datetime] | None = None  # tests move time; default: now in London

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.lower().startswith("https://")

    @classmethod
    def from_env(cls, data_dir: Path, env: Mapping[str, str] | None = None) -> DashboardSettings:
        env = os.environ if env is None else env
        return cls(load_secret(data_dir, env), public_url(env))


def add_dashboard(
    app: web.Application,
    repo: Repository,
    settings: DashboardSettings | None = None,
) -> None:
    """Add the dashboard's routes to `app` (settings default to the environment)."""
    from bot.web.routes import Dashboard  # keeps Jinja2 out of processes that never serve

    settings = settings or DashboardSettings.from_env(repo.data_dir)
    clock = settings.clock or (lambda: datetime.now(LONDON))
    Dashboard(repo, settings, clock).add_routes(app)
