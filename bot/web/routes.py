"""The dashboard's routes: pages, sign-in, downloads and static files.

Every data page and download goes through `_page`/`_person`, which turns an anonymous
request into the "how to get a link" page (401) before any data is read. Responses carry
a strict Content-Security-Policy (no scripts at all), `no-store` caching and
`Referrer-Policy: no-referrer`, so a sign-in link in the address bar never leaks.
"""

from __future__ import annotations

import asyncio
import io
import logging
import tempfile
import zipfile
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from bot.web import STATIC, TEMPLATES, DashboardSettings, auth, views
from handlers import report as committee_report
from handlers.dashboard import EXPORT_CSV, EXPORT_XLSX
from storage.export import export_csv, export_xlsx
from storage.repository import Repository, StoreUnwritable
from tracker.calendar import short_day as day
from tracker.dates import LONDON
from tracker.model import Person, Status

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
REPORT_TYPES = committee_report.MEDIA_TYPES
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Handler = Callable[[web.Request, Person], Awaitable[web.StreamResponse]]


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["day"] = lambda value: day(value) if value else "none"
    env.filters["when"] = lambda moment: moment.astimezone(LONDON).strftime("%-d %b %Y %H:%M")
    return env


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={**SECURITY_HEADERS, "Location": location})


class Dashboard:
    def __init__(
        self, repo: Repository, settings: DashboardSettings, clock: Callable[[], datetime]
    ) -> None:
        self.repo = repo
        self.settings = settings
        self.clock = clock
        self.templates = _environment()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self._page(self.overview))
        app.router.add_get("/objectives", self._page(self.objectives))
        app.router.add_get("/objectives/{id}", self._page(self.objective))
        app.router.add_get("/themes/{number}", self._page(self.theme))
        app.router.add_get("/directorates/{id}", self._page(self.directorate))
        app.router.add_get("/risks", self._page(self.risks))
        app.router.add_get("/changes", self._page(self.changes))
        app.router.add_get("/downloads", self._page(self.downloads))
        app.router.add_get("/report.{format:docx|html|pdf}", self._page(self.report))
        app.router.add_get(EXPORT_XLSX, self._page(self.export_xlsx))
        app.router.add_get(EXPORT_CSV, self._page(self.export_csv))
        app.router.add_get("/accessibility", self.accessibility)
        app.router.add_get("/signin/{token}", self.sign_in)
        app.router.add_post("/signout", self.sign_out)
        app.router.add_static("/static/", STATIC, append_version=False)

    # ------------------------------------------------------------------ plumbing
    def render(
        self, template: str, person: Person | None, status: int = 200, **values: Any
    ) -> web.Response:
        info = self.repo.strategy_info() if person else {}
        values.setdefault("nav", "")
        html = self.templates.get_template(template).render(
            person=person, strategy=info, Status=Status, **values
        )
        return web.Response(
            text=html, status=status, content_type="text/html", headers=SECURITY_HEADERS
        )

    def _page(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def page(request: web.Request) -> web.StreamResponse:
            await self.repo.refresh()
            person = auth.signed_in(request, self.repo, self.settings.secret, self.clock())
            if person is None:
                return self.render("anonymous.html", None, status=401)
            response = await handler(request, person)
            try:
                await self.repo.settled()  # what the page shows is durable before it is sent
            except StoreUnwritable as failure:  # an fsync failed: the page may show lost changes
                busy = self.render("busy.html", person, status=503, reason=failure.reason)
                busy.headers["Retry-After"] = "5"
                return busy
            return response

        return page

    def not_found(self, person: Person, what: str) -> web.Response:
        return self.render("not_found.html", person, status=404, what=what)

    @property
    def today(self) -> date:
        return self.clock().date()

    # ------------------------------------------------------------------ pages
    async def overview(self, request: web.Request, person: Person) -> web.Response:
        objectives = self.repo.objectives()
        risks = self.repo.risks()
        return self.render(
            "overview.html",
            person,
            nav="overview",
            head=views.headline(objectives, risks, self.today),
            chart=views.chart(self.repo, objectives),
            themes=self.repo.themes(),
            directorates=self.repo.directorates(),
        )

    async def objectives(self, request: web.Request, person: Person) -> web.Response:
        everything = self.repo.objectives()
        names = views.names(self.repo)
        owners = sorted({o.owner for o in everything if o.owner})
        options = {
            "directorate": [(d.id, d.name) for d in self.repo.directorates()],
            "theme": [(str(t.number), f"{t.number} {t.title}") for t in self.repo.themes()],
            "status": [(s.value, s.value.capitalize()) for s in views.progress.STATUS_ORDER],
            "owner": [(o, names.get(o, o)) for o in owners],
        }
        filters, problems = views.Filters.from_query(request.query).known(
            {name: [value for value, _ in pairs] for name, pairs in options.items()}
        )
        chosen = filters.apply(everything)
        return self.render(
            "objectives.html",
            person,
            nav="objectives",
            filters=filters,
            problems=problems,
            head=views.headline(chosen, [], self.today),
            rows=views.objective_rows(self.repo, chosen, self.today),
            directorates_options=options["directorate"],
            themes_options=options["theme"],
            statuses_options=options["status"],
            owners=options["owner"],
        )

    async def objective(self, request: web.Request, person: Person) -> web.Response:
        objective = self.repo.objective(request.match_info["id"])
        if objective is None:
            return self.not_found(person, f"objective {request.match_info['id']}")
        names = views.names(self.repo)
        history = [
            views.describe_change(c, names)
            for c in reversed(self.repo.history(f"objective:{objective.id}"))
        ]
        risks = [r for r in self.repo.risks() if r.objective == objective.id]
        return self.render(
            "objective.html",
            person,
            nav="objectives",
            row=views.objective_rows(self.repo, [objective], self.today)[0],
            theme=self.repo.theme(objective.theme),
            history=history,
            risks=views.risk_rows(self.repo, risks, self.today),
        )

    async def theme(self, request: web.Request, person: Person) -> web.Response:
        raw = request.match_info["number"]
        theme = self.repo.theme(int(raw)) if raw.isdigit() and len(raw) < 4 else None
        if theme is None:
            return self.not_found(person, f"theme {raw}")
        objectives = [o for o in self.repo.objectives() if o.theme == theme.number]
        risks = [r for r in self.repo.risks() if r.theme == theme.number]
        return self.render(
            "group.html",
            person,
            nav="overview",
            heading=f"Theme {theme.number}: {theme.title}",
            caption="Theme",
            head=views.headline(objectives, risks, self.today),
            rows=views.objective_rows(self.repo, objectives, self.today),
            risks=views.risk_rows(self.repo, risks, self.today),
        )

    async def directorate(self, request: web.Request, person: Person) -> web.Response:
        directorate = self.repo.directorate(request.match_info["id"])
        if directorate is None:
            return self.not_found(person, f"directorate {request.match_info['id']}")
        objectives = [o for o in self.repo.objectives() if o.directorate == directorate.id]
        risks = views.risks_of_directorate(self.repo, directorate.id)
        lead = self.repo.person(directorate.lead) if directorate.lead else None
        return self.render(
            "group.html",
            person,
            nav="overview",
            heading=directorate.name,
            caption=f"Directorate{f', led by {lead.name}' if lead else ''}",
            head=views.headline(objectives, risks, self.today),
            rows=views.objective_rows(self.repo, objectives, self.today),
            risks=views.risk_rows(self.repo, risks, self.today),
        )

    async def risks(self, request: web.Request, person: Person) -> web.Response:
        risks = self.repo.risks()
        return self.render(
            "risks.html",
            person,
            nav="risks",
            rows=views.risk_rows(self.repo, risks, self.today),
            heat=views.heat_map(risks),
        )

    async def changes(self, request: web.Request, person: Person) -> web.Response:
        return self.render(
            "changes.html",
            person,
            nav="changes",
            days=views.CHANGES_DAYS,
            limit=views.CHANGES_LIMIT,
            changes=views.recent_changes(self.repo, self.clock()),
        )

    async def downloads(self, request: web.Request, person: Person) -> web.Response:
        return self.render(
            "downloads.html", person, nav="downloads", xlsx=EXPORT_XLSX, csv=EXPORT_CSV
        )

    async def accessibility(self, request: web.Request) -> web.Response:
        person = auth.signed_in(request, self.repo, self.settings.secret, self.clock())
        return self.render("accessibility.html", person, nav="accessibility")

    # ------------------------------------------------------------------ sign in and out
    async def sign_in(self, request: web.Request) -> web.StreamResponse:
        await self.repo.refresh()
        now = self.clock()
        person = auth.person_of_link(
            request.match_info["token"], self.repo, self.settings.secret, now
        )
        if person is None:
            return self.render("anonymous.html", None, status=401, bad_link=True)
        response = _see_other("/")
        auth.start_session(
            response, person, self.settings.secret, now, secure=self.settings.secure_cookies
        )
        return response

    async def sign_out(self, request: web.Request) -> web.StreamResponse:
        response = _see_other("/")
        auth.end_session(response, secure=self.settings.secure_cookies)
        return response

    # ------------------------------------------------------------------ downloads
    async def report(self, request: web.Request, person: Person) -> web.StreamResponse:
        """The committee report, built from the store now; the query is `report_link`'s."""
        fmt = request.match_info["format"]
        try:
            since, directorate = committee_report.report_query(dict(request.query))
        except ValueError:
            what = "date in that link's since= (use YYYY-MM-DD)"
            return self.render("not_found.html", person, status=400, what=what)
        try:
            report = committee_report.build_report(self.repo, self.clock(), since, directorate)
        except LookupError:
            return self.render("not_found.html", person, status=404, what="that directorate")
        try:
            data = await asyncio.to_thread(committee_report.render, report, fmt)
        except committee_report.PdfUnavailable as error:  # also PdfFailed
            log.warning("dashboard: no PDF report: %s", error)
            return self.render("unavailable.html", person, status=503, what=f"{fmt} report")
        name = f"{report.filename}.{fmt}"
        return web.Response(
            body=data,
            content_type=REPORT_TYPES[fmt].split(";")[0],
            headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
        )

    async def export_xlsx(self, request: web.Request, person: Person) -> web.Response:
        tables = self.repo.export_tables()

        def build() -> bytes:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "export.xlsx"
                export_xlsx(tables, path)
                return path.read_bytes()

        return self._attachment(await asyncio.to_thread(build), XLSX, "xlsx")

    async def export_csv(self, request: web.Request, person: Person) -> web.Response:
        tables = self.repo.export_tables()

        def build() -> bytes:
            buffer = io.BytesIO()
            with tempfile.TemporaryDirectory() as folder, zipfile.ZipFile(buffer, "w") as out:
                for path in export_csv(tables, Path(folder)):
                    out.write(path, path.name)
            return buffer.getvalue()

        return self._attachment(await asyncio.to_thread(build), "application/zip", "zip")

    def _attachment(self, data: bytes, content_type: str, ext: str) -> web.Response:
        name = f"strategy-tracker-{self.today.isoformat()}.{ext}"
        return web.Response(
            body=data,
            content_type=content_type,
            headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
        )
