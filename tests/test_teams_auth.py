"""Bot Framework authentication: with an app id configured, unsigned requests get 401."""

from __future__ import annotations

import pytest

from bot.channels.teams import TeamsChannel, TeamsSettings
from bot.server import Channels, create_app
from handlers.front_door import FrontDoor
from tests.fakes.connector import FakeConnector
from tests.fakes.harness import bf_message, open_repo, serve, snapshot, teams_id

APP = TeamsSettings(
    app_id="00000000-0000-0000-0000-00000000b07a",
    app_password="not-a-real-secret",
    tenant_id="council-tenant",
    app_type="SingleTenant",
    allowed_tenants=frozenset({"council-tenant"}),
)


@pytest.fixture
async def secured(tmp_path):
    connector = await FakeConnector().start()
    repo = await open_repo(tmp_path)
    channel = TeamsChannel(APP, FrontDoor(repo), repo)
    client = await serve(create_app(repo, channels=Channels(teams=channel)))
    yield connector, repo, client
    await client.close()
    await connector.close()
    repo.close()


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Basic dXNlcjpwYXNz"])
async def test_requests_without_a_valid_token_are_rejected(secured, authorization):
    connector, repo, client = secured
    before = snapshot(repo)
    activity = bf_message(
        "update 3.2 on track 60% forged",
        service_url=connector.service_url,
        aad=teams_id("tcarter"),
        tenant="council-tenant",
    )
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await client.post("/api/messages", json=activity, headers=headers)
    assert response.status == 401
    assert snapshot(repo) == before
    assert repo.conversation(f"teams:user:{teams_id('tcarter')}") is None
    assert connector.sent == []


def test_settings_come_from_the_environment():
    env = {
        "MICROSOFT_APP_ID": " app-id ",
        "MICROSOFT_APP_PASSWORD": "pw",
        "MICROSOFT_APP_TENANT_ID": "tid",
        "MICROSOFT_APP_TYPE": "SingleTenant",
    }
    settings = TeamsSettings.from_env(env)
    assert settings.app_id == "app-id" and not settings.anonymous
    assert settings.allowed_tenants == {"tid"}  # the app's own tenant by default
    assert settings.configuration().APP_TENANTID == "tid"
    assert TeamsSettings.from_env({}) is None  # no app id: no Teams route at all ...
    local = TeamsSettings.from_env({"BOT_EMULATOR": "1"})  # ... unless asked for
    assert local.anonymous and local.emulator
    widened = TeamsSettings.from_env({**env, "TEAMS_ALLOWED_TENANTS": "a, b"})
    assert widened.allowed_tenants == {"a", "b"}
