"""Attacks on /api/messages refused, over real HTTP (issue 9, Teams half).

Each test drives the real server on 127.0.0.1 with the fake connector as serviceUrl:
replays handled once, only Teams (or the Emulator in Emulator mode) let in, Teams ids
never matched against Slack ids, mention stripping linear on hostile text, Emulator
mode closed to web pages, and malformed input answered 4xx without a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from bot.channels import common
from tests.fakes.harness import bf_message, half_a_body, slack_id, snapshot, teams_id
from tests.test_teams_auth import secured  # noqa: F401  (fixture)
from tests.test_teams_messages import start


@pytest.fixture
async def teams(tmp_path):
    env = await start(tmp_path)
    yield env
    await env.close()


def updates(repo) -> list[dict]:
    return snapshot(repo).get("updates", [])


def no_tracebacks(caplog) -> bool:
    return not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


async def test_an_activity_sent_three_times_is_handled_once(teams):
    activity = bf_message(
        "update 3.2 on track 65% replay check",
        service_url=teams.connector.service_url,
        aad=teams_id("tcarter"),
        activity_id="1700000000001",
    )
    for _ in range(3):
        response = await teams.client.post("/api/messages", json=activity)
        assert response.status in (200, 201)
    await teams.connector.wait_for(1)
    await asyncio.sleep(0.2)
    assert len(teams.connector.sent) == 1
    assert len([u for u in updates(teams.repo) if "replay check" in str(u)]) == 1


@pytest.mark.parametrize("channel_id", ["webchat", "directline", "slack", ""])
async def test_other_bot_framework_channels_are_refused(teams, channel_id):
    before = snapshot(teams.repo)
    activity = bf_message(
        "update 3.2 done 100% as the admin",
        service_url=teams.connector.service_url,
        user=teams_id("tcarter"),  # a client-chosen from.id naming the admin
        aad=teams_id("tcarter"),
        channel_id=channel_id,
    )
    response = await teams.client.post("/api/messages", json=activity)
    assert response.status == 403
    assert snapshot(teams.repo) == before and teams.connector.sent == []


async def test_a_teams_id_is_never_matched_against_slack_ids(teams):
    before = updates(teams.repo)
    activity = bf_message(
        "update 3.2 done 100% via a slack id",
        service_url=teams.connector.service_url,
        user=slack_id("tcarter"),  # from.id equal to the admin's Slack id, no aadObjectId
    )
    response = await teams.client.post("/api/messages", json=activity)
    assert response.status in (200, 201)
    [sent] = await teams.connector.wait_for(1)
    assert "I don't know you yet" in str(sent.activity)
    assert updates(teams.repo) == before


async def test_teams_identity_is_the_entra_object_id_not_from_id(teams):
    activity = bf_message(
        "update 3.2 on track 70% from.id only",
        service_url=teams.connector.service_url,
        user=teams_id("tcarter"),  # from.id is chosen by the client; aadObjectId absent
    )
    await teams.client.post("/api/messages", json=activity)
    [sent] = await teams.connector.wait_for(1)
    assert "I don't know you yet" in str(sent.activity)
    assert not [u for u in updates(teams.repo) if "from.id only" in str(u)]


async def test_a_200_kb_activity_of_at_tags_does_not_block_the_server(teams):
    activity = bf_message(
        "<at>" * 50_000,
        service_url=teams.connector.service_url,
        aad=teams_id("tcarter"),
    )
    post = asyncio.ensure_future(teams.client.post("/api/messages", json=activity))
    # another route keeps answering meanwhile, and the hostile one finishes promptly
    health = await asyncio.wait_for(teams.client.get("/healthz"), 5)
    assert health.status in (200, 503)
    response = await asyncio.wait_for(post, 5)
    assert response.status in (200, 201)
    [sent] = await teams.connector.wait_for(1)
    assert "too long" in str(sent.activity)


async def test_unclosed_at_tags_below_the_limit_are_stripped_in_linear_time(teams):
    activity = bf_message(
        "<at " * 4_000 + "summary",
        service_url=teams.connector.service_url,
        aad=teams_id("tcarter"),
    )
    response = await asyncio.wait_for(teams.client.post("/api/messages", json=activity), 5)
    assert response.status in (200, 201)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/x-www-form-urlencoded; x=application/json",
        "text/plain; charset=application/json",
        "multipart/form-data; boundary=application/json",
    ],
)
async def test_emulator_mode_takes_only_a_json_content_type(teams, content_type):
    import json

    before = snapshot(teams.repo)
    activity = bf_message(
        "update 3.2 done 100% cross-site",
        service_url=teams.connector.service_url,
        aad=teams_id("tcarter"),
    )
    response = await teams.client.post(
        "/api/messages", data=json.dumps(activity), headers={"Content-Type": content_type}
    )
    assert response.status == 415
    assert snapshot(teams.repo) == before and teams.connector.sent == []


async def test_emulator_mode_refuses_requests_from_web_pages(teams):
    before = snapshot(teams.repo)
    activity = bf_message(
        "update 3.2 done 100% from a web page",
        service_url=teams.connector.service_url,
        aad=teams_id("tcarter"),
    )
    response = await teams.client.post(
        "/api/messages", json=activity, headers={"Origin": "https://evil.example"}
    )
    assert response.status == 403
    assert snapshot(teams.repo) == before and teams.connector.sent == []


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe not utf-8",
        b"[1, 2, 3]",
        b'{"type": 5}',
        b"{",
        b'"text"',
    ],
)
async def test_malformed_bodies_get_400_without_a_traceback(teams, caplog, body):
    caplog.set_level(logging.DEBUG)
    response = await teams.client.post(
        "/api/messages", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert no_tracebacks(caplog)


async def test_half_a_character_is_refused_before_anything_is_stored(teams, caplog):
    """A lone surrogate escape is valid JSON syntax but no text: no store can write it."""
    caplog.set_level(logging.DEBUG)
    activity = bf_message(
        "update 3.2 done 100% \ud83d", service_url=teams.connector.service_url,
        aad=teams_id("tcarter"),
    )  # fmt: skip
    body = json.dumps(activity).encode()
    assert b"\\ud83d" in body
    before = snapshot(teams.repo)
    response = await teams.client.post(
        "/api/messages", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert snapshot(teams.repo) == before and teams.connector.sent == []
    assert no_tracebacks(caplog)


async def test_a_body_that_stops_half_way_gets_408(teams, monkeypatch):
    """Was held open for as long as the client liked (no body timeout on /api/messages)."""
    monkeypatch.setattr(common, "BODY_TIMEOUT_SECONDS", 0.3)
    activity = bf_message(
        "update 3.2 done 100%", service_url=teams.connector.service_url, aad=teams_id("tcarter")
    )
    before = snapshot(teams.repo)
    body, headers = json.dumps(activity).encode(), {"Content-Type": "application/json"}
    status = await half_a_body(teams.client, "/api/messages", body, headers)
    assert status == "HTTP/1.1 408 Request Timeout"
    assert snapshot(teams.repo) == before and teams.connector.sent == []


async def test_an_oversized_chunked_body_gets_413(teams):
    async def chunks():
        for _ in range(40):
            yield b" " * 10_000
        yield b"{}"

    response = await teams.client.post(
        "/api/messages", data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status == 413


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not.a.jwt", "Bearer eyJhbGciOiJub25lIn0.e30.", "Bearer " + "A" * 5000],
)
async def test_forged_tokens_get_401_without_a_traceback(secured, caplog, authorization):  # noqa: F811
    connector, repo, client = secured
    caplog.set_level(logging.DEBUG)
    before = snapshot(repo)
    activity = bf_message(
        "update 3.2 done 100% forged",
        service_url=connector.service_url,
        aad=teams_id("tcarter"),
        tenant="council-tenant",
    )
    response = await client.post(
        "/api/messages", json=activity, headers={"Authorization": authorization}
    )
    assert response.status == 401
    assert snapshot(repo) == before and no_tracebacks(caplog)
