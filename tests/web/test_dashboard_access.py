"""Dashboard access and figures over real HTTP (no browser): links, sessions, downloads.

The browser tests (test_dashboard_browser.py) cover pages, accessibility and keyboard;
these cover the security edges cheaply: every way of not being signed in sees no data.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta

import docx
import pytest
from openpyxl import load_workbook

from bot.web import DashboardSettings
from handlers.dashboard import load_secret, sign
from handlers.digest_content import strategy_digest
from tests.fakes.harness import direct_message, slack_event, slack_headers, slack_id
from tests.web.site import SECRET, chat_link, dashboard_site, during_a_failed_fsync

DATA_PAGES = (
    "/",
    "/objectives",
    "/objectives/3.2",
    "/themes/3",
    "/directorates/resources",
    "/risks",
    "/changes",
    "/downloads",
    "/export.xlsx",
    "/export-csv.zip",
    "/report.docx",
)
SECRET_WORDS = ("Thin client rollout", "A lack of resources", "Mo Khan", "Resources")


@pytest.fixture
async def site(tmp_path, monkeypatch):
    async with dashboard_site(tmp_path, monkeypatch) as running:
        yield running


async def sign_in(site, link: str):
    path = link[len(site.base) :]
    return await site.client.get(path, allow_redirects=False)


async def assert_no_data(site, cookies: dict[str, str] | None = None) -> None:
    for path in DATA_PAGES:
        response = await site.client.get(path, cookies=cookies or {}, allow_redirects=False)
        body = await response.text()
        assert response.status == 401, path
        assert "dashboard" in body and "12 hours" in body, path  # how to get a link
        for word in SECRET_WORDS:
            assert word not in body, (path, word)


async def test_chat_link_signs_in_with_a_safe_cookie_and_a_clean_redirect(site):
    link = await chat_link(site)
    response = await sign_in(site, link)
    assert response.status == 303 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert response.headers["Referrer-Policy"] == "no-referrer"
    page = await site.client.get("/")
    assert page.status == 200
    assert "Signed in as Mo Khan" in await page.text()


async def test_https_public_url_makes_the_cookie_secure(site):
    settings = DashboardSettings(SECRET, "https://tracker.example.gov.uk")
    assert settings.secure_cookies
    from aiohttp import web

    from bot.web import add_dashboard
    from tests.fakes.harness import serve

    app = web.Application()
    add_dashboard(app, site.repo, settings)
    client = await serve(app)
    try:
        token = sign(SECRET, "mkhan", "link", datetime.now(UTC) + timedelta(hours=1))
        response = await client.get(f"/signin/{token}", allow_redirects=False)
        assert response.status == 303 and "Secure" in response.headers["Set-Cookie"]
    finally:
        await client.close()


async def test_anonymous_visitors_are_told_how_to_get_a_link_and_see_no_data(site):
    await assert_no_data(site)
    statement = await site.client.get("/accessibility")
    assert statement.status == 200 and "Accessibility statement" in await statement.text()


async def test_tampered_and_forged_links_and_cookies_see_no_data(site):
    link = await chat_link(site)
    payload, signature = link.rsplit("/", 1)[1].split(".")
    forged_payload = sign(SECRET, "tcarter", "link", datetime.now(UTC) + timedelta(hours=1))
    tampered = [
        f"{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}",
        f"{forged_payload.split('.')[0]}.{signature}",  # someone else's name, Mo's signature
        sign(b"another secret", "mkhan", "link", datetime.now(UTC) + timedelta(hours=1)),
        sign(SECRET, "mkhan", "session", datetime.now(UTC) + timedelta(hours=1)),  # wrong kind
        sign(SECRET, "nobody", "link", datetime.now(UTC) + timedelta(hours=1)),  # not a person
        "not-a-token",
    ]
    for token in tampered:
        response = await site.client.get(f"/signin/{token}", allow_redirects=False)
        assert response.status == 401, token
        assert "Set-Cookie" not in response.headers
        assert "expired or is not valid" in await response.text()
    a_link_as_cookie = link.rsplit("/", 1)[1]
    await assert_no_data(site, {"strategy_dashboard": a_link_as_cookie})
    for person in ("nobody", "mkhan"):
        bad = sign(b"another secret", person, "session", datetime.now(UTC) + timedelta(hours=1))
        await assert_no_data(site, {"strategy_dashboard": bad})
    gone = sign(SECRET, "nobody", "session", datetime.now(UTC) + timedelta(hours=1))
    await assert_no_data(site, {"strategy_dashboard": gone})


async def test_links_and_sessions_expire_after_12_hours(site):
    link = await chat_link(site)
    site.clock.offset = timedelta(hours=12, minutes=1)
    assert (await sign_in(site, link)).status == 401
    site.clock.offset = timedelta()
    assert (await sign_in(site, link)).status == 303
    assert (await site.client.get("/")).status == 200
    site.clock.offset = timedelta(hours=12, minutes=1)
    await assert_no_data(site)


async def test_signing_out_ends_the_session(site):
    assert (await sign_in(site, await chat_link(site))).status == 303
    response = await site.client.post("/signout", allow_redirects=False)
    assert response.status == 303
    await assert_no_data(site)


def test_a_generated_secret_is_kept_private_and_rotating_it_revokes_links(tmp_path):
    first = load_secret(tmp_path, {})
    path = tmp_path / "dashboard-secret"
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_secret(tmp_path, {}) == first  # generated once
    assert load_secret(tmp_path, {"DASHBOARD_SECRET": "configured"}) == b"configured"
    from handlers.dashboard import verify

    now = datetime.now(UTC)
    token = sign(first, "mkhan", "session", now + timedelta(hours=1))
    assert verify(first, token, "session", now)
    path.unlink()
    rotated = load_secret(tmp_path, {})
    assert rotated != first and verify(rotated, token, "session", now) is None


async def test_dashboard_headline_figures_match_the_weekly_digest(site):
    await chat_link(site)  # a real update first, so the figures are not just the file's
    digest = strategy_digest(site.repo, datetime.now(UTC), datetime.now(UTC) - timedelta(7))
    assert (await sign_in(site, await chat_link(site))).status == 303
    page = await (await site.client.get("/")).text()
    achievement, counts = digest.lines[0], digest.lines[1]
    assert f'data-figure="achievement">{achievement}</p>' in page
    assert f'data-figure="counts">{counts}</p>' in page


async def test_downloads_give_the_data_and_the_committee_report(site):
    assert (await sign_in(site, await chat_link(site))).status == 303
    xlsx = await site.client.get("/export.xlsx")
    assert xlsx.status == 200 and "attachment" in xlsx.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(await xlsx.read()))
    cells = [str(c.value) for sheet in book for row in sheet.iter_rows() for c in row]
    assert any("Thin client rollout" in c for c in cells)
    archive = zipfile.ZipFile(io.BytesIO(await (await site.client.get("/export-csv.zip")).read()))
    assert "objectives.csv" in archive.namelist()
    report = await site.client.get("/report.docx")
    assert report.status == 200 and report.headers["Content-Disposition"].endswith('.docx"')
    paper = docx.Document(io.BytesIO(await report.read()))
    assert any(
        "Thin client rollout" in c.text for t in paper.tables for r in t.rows for c in r.cells
    )


def test_cli_prints_a_link_that_signs_in(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PUBLIC_URL": "https://tracker.example.gov.uk/"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "dashboard-link", "--as", "Mo Khan", "--data",
         str(tmp_path / "data")],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    link = done.stdout.strip()
    assert link.startswith("https://tracker.example.gov.uk/signin/")
    from handlers.dashboard import verify

    secret = load_secret(tmp_path / "data", {})
    found = verify(secret, link.rsplit("/", 1)[1], "link", datetime.now(UTC))
    assert found and found.person == "mkhan"
    unknown = subprocess.run(
        [sys.executable, "-m", "bot", "dashboard-link", "--as", "Nobody", "--data",
         str(tmp_path / "data")],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert unknown.returncode == 2 and "no person" in unknown.stderr


async def test_strangers_get_no_link_and_known_people_get_their_own(say):
    stranger = await say("dashboard", as_=None, user_id="U999", channel="slack")
    assert "/signin/" not in stranger.as_text() and "don't know you" in stranger.as_text()
    asked = ("dashboard", "send me a dashboard link", "sign in link",
             "can I have the dashboard link?", "dashboard link please",
             "where is the dashboard?", "how do I open the dashboard")  # fmt: skip
    for text in asked:
        reply = await say(text, as_="mkhan")
        assert "/signin/" in reply.as_text() and "Mo Khan" in reply.as_text(), text


async def test_a_filter_value_that_does_not_exist_is_named_not_shown_as_none(site):
    assert (await sign_in(site, await chat_link(site))).status == 303
    response = await site.client.get("/objectives?status=at-risk&directorate=<b>x</b>")
    page = await response.text()
    assert response.status == 200
    assert "There is no status “at-risk”: choose one from the list." in page
    assert "There is no directorate “&lt;b&gt;x&lt;/b&gt;”" in page  # escaped, not markup
    assert "<b>x</b>" not in page
    assert "Thin client rollout" in page  # the unknown filters were dropped, not applied
    good = await (await site.client.get("/objectives?status=on+track")).text()
    assert "Some filters were not used" not in good


async def test_a_risk_without_a_review_date_says_not_set_as_the_report_does(site):
    """Was "none" on the dashboard and "Not set" in the committee report."""
    body = slack_event(direct_message(slack_id("mkhan"), "risk 3.2: supplier fails, L4 I5"))
    assert (await site.client.post("/slack/events", data=body, headers=slack_headers(body))).ok
    await site.slack.drain()
    assert (await sign_in(site, await chat_link(site))).status == 303
    page = await (await site.client.get("/risks")).text()
    row = page[page.index("supplier fails") :]
    row = row[: row.index("</tr>")]
    assert "not set" in row and ">none<" not in row


async def test_export_in_chat_links_to_the_downloads_a_signed_in_person_gets(site):
    body = slack_event(direct_message(slack_id("mkhan"), "can I have a spreadsheet of the data?"))
    assert (await site.client.post("/slack/events", data=body, headers=slack_headers(body))).ok
    await site.slack.drain()
    said = site.api.of("chat.postMessage")[-1]["text"]
    links = re.findall(r"https?://\S+?/export[\w.-]*\.(?:xlsx|zip)", said)
    assert len(links) == 2, said
    assert (await site.client.get(links[0][len(site.base) :], allow_redirects=False)).status == 401
    assert (await sign_in(site, await chat_link(site))).status == 303
    for link in links:
        response = await site.client.get(link[len(site.base) :])
        assert response.status == 200, link
        assert zipfile.is_zipfile(io.BytesIO(await response.read()))  # xlsx is a zip too


async def test_a_page_is_not_sent_while_what_it_shows_is_lost_to_a_failed_fsync(site):
    """Group commit: a page read while an update's fsync was under way waits for it; when
    that fsync fails, the page (which may show the lost update) is not sent."""
    response = await sign_in(site, await chat_link(site))
    cookies = {k: v.value for k, v in response.cookies.items()}
    response = await during_a_failed_fsync(
        site, site.client.get("/objectives/3.2", cookies=cookies)
    )
    body = await response.text()
    assert response.status == 503 and response.headers["Retry-After"] == "5"
    assert "can't be shown just now" in body and "64%" not in body
    again = await site.client.get("/objectives/3.2", cookies=cookies)
    assert again.status == 200 and "64%" not in await again.text()
