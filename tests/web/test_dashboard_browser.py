"""The dashboard in a real headless Chromium: sign in from chat, every page, filters, axe-core.

Debian's Chromium (/usr/bin/chromium) driven by Playwright for Python; Playwright never
downloads a browser (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1, executable_path). axe-core
(tests/web/assets/axe.min.js, MPL-2.0, from `npm pack axe-core`) runs on every page
against WCAG 2.2 A and AA; any violation fails the test with its rule and the elements.

Without Chromium these tests skip on a developer machine but FAIL when CI=true, so CI
never passes without running them (.ci/run installs the package first).

Set DASHBOARD_SCREENSHOTS=DIR to save a full-page screenshot of every page at desktop
(1280) and phone (375) widths, for looking at. At the phone's width no status tag may be
cut off (CLIPPED_TAGS).
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest

from tests.fakes.harness import direct_message, slack_event, slack_headers, slack_id
from tests.web.site import chat_link, dashboard_site, during_a_failed_fsync
from tracker import progress

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = Path(__file__).parent / "assets" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PAGES = {
    "/": "ICT Strategy 2025-2029",
    "/objectives": "Objectives",
    "/objectives?directorate=resources&status=on+track": "Objectives",
    "/objectives?status=at-risk": "Objectives",  # a stale link: the error summary
    "/objectives/3.2": "3.2 Thin client rollout for hot-desking staff",
    "/themes/3": "Theme 3: Develop our IT infrastructure to support the move to the new HQ",
    "/directorates/resources": "Resources",
    "/risks": "Risk register",
    "/changes": "Recent changes",
    "/downloads": "Report and export",
    "/accessibility": "Accessibility statement for the Strategy Tracker dashboard",
    "/objectives/9.9": "Page not found",
}
DATA_WORDS = ("Thin client rollout", "A lack of resources", "Of 20 objectives")
# Status and level tags whose words do not fit their own box, or that a table's scroll
# region cuts in two at its right edge (half a "Partly achieved" on a phone); a tag wholly
# beyond the edge is fine, it scrolls into view.
CLIPPED_TAGS = """() => [...document.querySelectorAll('.govuk-tag')].filter(tag => {
  const box = tag.getBoundingClientRect();
  const region = tag.closest('.app-table-wrap');
  const edge = region ? region.getBoundingClientRect().right : innerWidth;
  return tag.scrollWidth > tag.clientWidth || (box.left < edge && box.right > edge + 0.5);
}).map(tag => tag.textContent)"""

if not CHROMIUM.exists():
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise RuntimeError("CI=true but /usr/bin/chromium is missing: .ci/run must install it")
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True
    )

from playwright.async_api import Browser, Page, async_playwright  # noqa: E402


@pytest.fixture
async def site(tmp_path, monkeypatch):
    async with dashboard_site(tmp_path, monkeypatch) as running:
        yield running


@pytest.fixture
async def browser():
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def new_page(browser: Browser, width: int = 1280) -> Page:
    context = await browser.new_context(viewport={"width": width, "height": 900})
    return await context.new_page()


async def assert_accessible(page: Page) -> None:
    """axe-core on the page as it is now: zero WCAG 2.2 A/AA violations."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text(encoding="utf-8"))  # evaluate is not subject to CSP
    result = await page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    problems = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
    ]
    assert not problems, f"{page.url}: " + "; ".join(problems)
    assert result["passes"], "axe ran no checks"


async def say(site, person: str, text: str) -> None:
    body = slack_event(direct_message(slack_id(person), text))
    response = await site.client.post("/slack/events", data=body, headers=slack_headers(body))
    assert response.status == 200
    await site.slack.drain()


async def test_every_page_signed_in_through_chat_is_accessible_and_shows_the_figures(site, browser):
    await say(site, "mkhan", "update 3.2 at risk 65% supplier late")
    page = await new_page(browser)
    link = await chat_link(site, "mkhan")
    await page.goto(link)
    assert page.url == site.base + "/"  # the token is gone from the address bar
    shots = os.environ.get("DASHBOARD_SCREENSHOTS")
    for path, heading in PAGES.items():
        response = await page.goto(site.base + path)
        assert response is not None
        assert response.status == (404 if path.endswith("9.9") else 200), path
        assert (await page.locator("h1").inner_text()).strip() == heading, path
        assert await page.locator("main#main-content").count() == 1
        await assert_accessible(page)
        await page.set_viewport_size({"width": 375, "height": 812})  # a small phone
        await assert_accessible(page)
        assert await page.evaluate(CLIPPED_TAGS) == [], path
        if shots:
            name = re.sub(r"\W+", "-", path).strip("-") or "overview"
            await page.screenshot(path=f"{shots}/{name}-375.png", full_page=True)
            await page.set_viewport_size({"width": 1280, "height": 900})
            await page.screenshot(path=f"{shots}/{name}-1280.png", full_page=True)
        await page.set_viewport_size({"width": 1280, "height": 900})

    # The overview's figures are tracker/progress.py's tally of the store.
    tally = progress.tally(site.repo.objectives())
    await page.goto(site.base + "/")
    assert await page.locator('[data-figure="total"]').inner_text() == str(tally.total)
    for status in progress.STATUS_ORDER:
        cell = page.locator(f'td[data-status="{status.value}"]')
        assert await cell.inner_text() == str(tally.by_status.get(status, 0)), status
    assert await page.locator("svg[role=img] desc").count() == 1  # the chart's text
    # The objective's full history, in the officer's words.
    await page.goto(site.base + "/objectives/3.2")
    history = await page.locator(".app-history").inner_text()
    assert "supplier late" in history and "Mo Khan" in history
    assert "At risk" in await page.locator('[data-figure="status"]').inner_text()
    # Heat map cells say their count and level in words.
    await page.goto(site.base + "/risks")
    cell = page.locator('td[data-likelihood="4"][data-impact="4"]')
    assert " ".join((await cell.inner_text()).split()) == "1 risk High, score 16"


async def test_the_page_for_a_failed_fsync_is_accessible_and_shows_no_lost_data(site, browser):
    """The 503 shown when a page read a change whose fsync then failed (group commit)."""
    page = await new_page(browser)
    await page.goto(await chat_link(site, "tcarter"))
    response = await during_a_failed_fsync(site, page.goto(site.base + "/objectives/3.2"))
    assert response is not None and response.status == 503
    assert (await page.locator("h1").inner_text()).strip() == "This page can't be shown just now"
    assert "64%" not in await page.locator("main").inner_text()
    await assert_accessible(page)
    await page.set_viewport_size({"width": 375, "height": 812})
    await assert_accessible(page)
    shots = os.environ.get("DASHBOARD_SCREENSHOTS")
    if shots:
        await page.screenshot(path=f"{shots}/busy-375.png", full_page=True)
        await page.set_viewport_size({"width": 1280, "height": 900})
        await page.screenshot(path=f"{shots}/busy-1280.png", full_page=True)


async def test_filters_are_get_forms_that_narrow_the_objectives(site, browser):
    page = await new_page(browser, width=390)
    await page.goto(await chat_link(site, "tcarter"))
    await page.goto(site.base + "/objectives")
    await page.select_option("#directorate", "resources")
    await page.click("button:has-text('Apply filters')")
    assert page.url.endswith("/objectives?directorate=resources&theme=&status=&owner=")
    wanted = [o for o in site.repo.objectives() if o.directorate == "resources"]
    rows = page.locator("table tbody tr")
    assert await rows.count() == len(wanted)
    await page.select_option("#status", "on track")
    await page.click("button:has-text('Apply filters')")
    wanted = [o for o in wanted if o.status.value == "on track"]
    names = [" ".join(t.split()) for t in await page.locator("tbody th").all_inner_texts()]
    assert names == [f"{o.id} {o.title}" for o in wanted]
    assert await page.locator("#status").input_value() == "on track"  # the form remembers
    await assert_accessible(page)
    first = wanted[0]
    await page.goto(site.base + f"/objectives?owner={first.owner}&theme={first.theme}")
    expected = [
        o for o in site.repo.objectives() if o.owner == first.owner and o.theme == first.theme
    ]
    assert await page.locator("tbody th").count() == len(expected) >= 1


async def test_keyboard_reaches_the_skip_link_first_then_the_navigation(site, browser):
    page = await new_page(browser)
    await page.goto(await chat_link(site))
    order = []
    for _ in range(8):
        await page.keyboard.press("Tab")
        order.append(
            await page.evaluate(
                "() => [document.activeElement.textContent.trim(),"
                " document.activeElement.getAttribute('href')]"
            )
        )
    assert order[0] == ["Skip to main content", "#main-content"]
    nav = [href for _, href in order[1:]]
    assert nav[:7] == ["/", "/", "/", "/objectives", "/risks", "/changes", "/downloads"]
    # The skip link moves focus past the navigation into the main content.
    await page.keyboard.press("Shift+Tab")
    await page.goto(site.base + "/risks", wait_until="load")
    await page.keyboard.press("Tab")
    await page.wait_for_function(
        "() => document.activeElement.classList.contains('govuk-skip-link')", timeout=5000
    )
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/risks#main-content", timeout=5000)  # a slow CI box: wait
    outline = await page.evaluate(
        "() => { const a = document.querySelector('.govuk-skip-link'); a.focus();"
        " const s = getComputedStyle(a); return [s.outlineStyle, s.backgroundColor]; }"
    )
    assert outline != ["none", "rgba(0, 0, 0, 0)"]  # focus is visible


async def test_anonymous_expired_and_tampered_visitors_see_no_data(site, browser):
    page = await new_page(browser)
    link = await chat_link(site)

    async def assert_no_data(expected_heading: str) -> None:
        text = await page.locator("body").inner_text()
        for word in DATA_WORDS:
            assert word not in text
        assert (await page.locator("h1").inner_text()).strip() == expected_heading
        assert "dashboard" in text and "12 hours" in text
        await assert_accessible(page)

    for path in ("/", "/objectives/3.2", "/risks", "/changes"):
        response = await page.goto(site.base + path)
        assert response is not None and response.status == 401
        await assert_no_data("Sign in to the strategy dashboard")

    payload, signature = link.rsplit("/", 1)[1].split(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    await page.goto(f"{site.base}/signin/{payload}.{flipped}")
    await assert_no_data("This sign-in link has expired or is not valid")
    await page.goto(site.base + "/")
    await assert_no_data("Sign in to the strategy dashboard")

    site.clock.offset = timedelta(hours=12, seconds=1)
    await page.goto(link)
    await assert_no_data("This sign-in link has expired or is not valid")

    # Signed in now, then the session outlives its 12 hours.
    site.clock.offset = timedelta()
    await page.goto(link)
    assert "Of 20 objectives" in await page.locator("main").inner_text()
    site.clock.offset = timedelta(hours=12, seconds=1)
    await page.goto(site.base + "/")
    await assert_no_data("Sign in to the strategy dashboard")
