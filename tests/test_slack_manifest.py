"""The Slack app manifest asks for what the code uses, and points at the right URL."""

from __future__ import annotations

import yaml

from bot.channels.slack import EVENTS_PATH, SlackSettings
from bot.settings import PROJECT_ROOT

MANIFEST = yaml.safe_load((PROJECT_ROOT / "config" / "slack-manifest.yaml").read_text())


def test_events_and_command_go_to_the_one_endpoint():
    settings = MANIFEST["settings"]
    assert settings["event_subscriptions"]["request_url"].endswith(EVENTS_PATH)
    assert set(settings["event_subscriptions"]["bot_events"]) == {"app_mention", "message.im"}
    [command] = MANIFEST["features"]["slash_commands"]
    assert command["url"].endswith(EVENTS_PATH)
    assert command["command"] == SlackSettings("x", "y").command
    assert settings["socket_mode_enabled"] is False


def test_scopes_cover_what_the_bot_calls():
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    needed = {
        "app_mentions:read",  # app_mention events
        "im:history",  # message.im events
        "chat:write",  # chat.postMessage
        "im:write",  # conversations.open
        "commands",  # /strategy
        "files:write",  # files_upload_v2
        "users:read",  # users.info
        "users:read.email",  # e-mail in users.info, users.lookupByEmail
    }
    assert needed <= scopes
    assert MANIFEST["features"]["app_home"]["messages_tab_enabled"] is True
