"""/healthz, and which routes exist for which configuration."""

from __future__ import annotations

import logging

import pytest

from bot.server import Channels, build_channels, create_app
from handlers.front_door import FrontDoor
from tests.fakes.harness import open_repo, serve


@pytest.fixture
async def repo(tmp_path):
    repository = await open_repo(tmp_path)
    yield repository
    repository.close()


class Scheduler:
    def __init__(self, result):
        self.result = result

    def health(self):
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


async def get_health(app):
    client = await serve(app)
    try:
        response = await client.get("/healthz")
        return response.status, await response.json()
    finally:
        await client.close()


async def test_healthy_without_a_scheduler(repo):
    status, body = await get_health(create_app(repo))
    assert status == 200
    assert body["status"] == "ok" and body["store"] == {"ok": True}
    assert body["scheduler"]["running"] is False and body["channels"] == {}


async def test_scheduler_health_is_reported(repo):
    healthy = Scheduler({"ok": True, "jobs": 2, "next_run": "2026-11-23T08:00:00+00:00"})
    status, body = await get_health(create_app(repo, scheduler=healthy))
    assert status == 200 and body["scheduler"]["jobs"] == 2

    status, body = await get_health(create_app(repo, scheduler=Scheduler({"ok": False})))
    assert status == 503 and body["status"] == "unhealthy"

    status, body = await get_health(create_app(repo, scheduler=Scheduler(RuntimeError("x"))))
    assert status == 503 and body["scheduler"] == {"ok": False, "error": "RuntimeError"}


async def test_async_scheduler_health_is_awaited(repo):
    class AsyncScheduler:
        async def health(self):
            return {"ok": True, "running": True}

    status, body = await get_health(create_app(repo, scheduler=AsyncScheduler()))
    assert status == 200 and body["scheduler"]["running"] is True


async def test_store_failure_is_unhealthy(repo):
    async def broken():
        raise OSError("disk gone")

    repo.refresh = broken
    status, body = await get_health(create_app(repo))
    assert status == 503 and body["store"] == {"ok": False, "error": "OSError"}


async def test_channel_routes_exist_only_when_configured(repo):
    client = await serve(create_app(repo, channels=Channels()))
    try:
        assert (await client.post("/slack/events", data=b"{}")).status == 404
        assert (await client.post("/api/messages", json={})).status == 404
    finally:
        await client.close()


def test_build_channels_reads_the_environment(repo, caplog):
    tracker = FrontDoor(repo)
    assert build_channels({}, tracker, repo) == Channels()

    with caplog.at_level(logging.WARNING):
        half = build_channels({"SLACK_BOT_TOKEN": "xoxb-1"}, tracker, repo)
    assert half.slack is None and "SLACK_SIGNING_SECRET" in caplog.text

    env = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s3cret",
        "SLACK_API_URL": "https://slack.example.gov.uk/api/",
        "MICROSOFT_APP_ID": "app",
        "MICROSOFT_APP_PASSWORD": "pw",
    }
    both = build_channels(env, tracker, repo)
    assert both.slack.settings.api_url == "https://slack.example.gov.uk/api/"
    assert both.slack.client.base_url == "https://slack.example.gov.uk/api/"
    assert both.teams.settings.app_id == "app" and not both.teams.settings.anonymous
    assert both.describe() == {"slack": "enabled", "teams": "enabled"}

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        local = build_channels({}, tracker, repo, emulator=True)
    assert local.teams.settings.anonymous
    assert "WITHOUT authentication" in caplog.text

    with pytest.raises(ValueError, match="MICROSOFT_APP_PASSWORD"):
        build_channels({"MICROSOFT_APP_ID": "app"}, tracker, repo)


def test_port_comes_from_the_option_then_the_environment():
    from argparse import Namespace

    from bot.subcommands.serve import DEFAULT_PORT, choose_address

    none = Namespace(host=None, port=None)
    assert choose_address(none, {}, emulator=False) == ("0.0.0.0", DEFAULT_PORT)
    assert choose_address(none, {"PORT": "8080"}, emulator=False) == ("0.0.0.0", 8080)
    assert choose_address(none, {"PORT": "8080"}, emulator=True) == ("127.0.0.1", 8080)
    given = Namespace(host="127.0.0.2", port=9000)
    assert choose_address(given, {"PORT": "8080", "HOST": "::"}, emulator=False) == (
        "127.0.0.2",
        9000,
    )
