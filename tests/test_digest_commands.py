"""Digest commands in chat: previews, subscriptions and "when is the next digest?"."""

from __future__ import annotations

import pytest

from bot.scheduler import DigestScheduler
from handlers.front_door import FrontDoor
from handlers.message import IncomingMessage, Sender
from handlers.reply import Kind
from tests.digest_fixture import Recorder, build_history


@pytest.fixture
async def chat(tmp_path):
    repo, clock = await build_history(tmp_path / "data")
    tracker = FrontDoor(repo, clock=clock)

    async def say(text: str, as_: str = "tcarter"):
        return await tracker.handle(IncomingMessage(text, Sender("test", person_id=as_)))

    yield say, repo, clock
    repo.close()


async def test_digest_previews_my_directorate_without_sending(chat):
    say, repo, _ = chat
    reply = await say("digest", as_="ifloyd")
    assert reply.title == "Resources: weekly digest, Mon 16 Nov 2026"
    assert any(s.heading == "What changed since Mon 9 Nov" for s in reply.sections)
    assert reply.footer.endswith(
        "Preview: nothing was sent. The next one goes out Mon 23 Nov at 09:00."
    )
    assert repo.meta("digest-last/resources") is None  # a preview records nothing


async def test_a_lead_sees_the_directorate_they_lead(chat):
    say, _, _ = chat
    reply = await say("show me my digest", as_="spatel")  # leads adult social care
    assert reply.title.startswith("Housing and Adult Social Services: weekly digest")


async def test_digest_for_a_directorate_by_loose_name(chat):
    say, _, _ = chat
    reply = await say("digest for neighbourhood services", as_="mkhan")
    assert reply.title.startswith("Neighbourhood Services: weekly digest")
    reply = await say("digest for childrens", as_="mkhan")
    assert reply.title.startswith("Learning, Culture and Children's Services")


async def test_digest_for_an_unknown_directorate_lists_them(chat):
    say, _, _ = chat
    reply = await say("digest for planning", as_="mkhan")
    assert reply.kind is Kind.ERROR
    assert "Neighbourhood Services" in reply.as_text() and "strategy digest" in reply.as_text()


@pytest.mark.parametrize("text", ["strategy digest", "strategy group digest", "digest for CITSG"])
async def test_strategy_digest_preview_comes_with_its_chart(chat, text):
    say, _, _ = chat
    reply = await say(text, as_="rgrant")
    assert reply.title == "CITSG weekly digest: ICT Strategy 2025-2029, Mon 16 Nov 2026"
    [chart] = reply.images
    assert chart.exists() and chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"(chart saved to {chart})" in reply.as_text()


async def test_subscribe_and_the_subscriber_gets_the_digest(chat, tmp_path):
    say, repo, clock = chat
    reply = await say("subscribe to City Strategy", as_="mkhan")
    assert reply.kind is Kind.CONFIRMATION
    assert reply.title == (
        "Subscribed: you'll get the City Strategy digest. The next one is Mon 23 Nov at 09:00."
    )
    assert repo.subscribers("city-strategy") == ["mkhan"]
    again = await say("subscribe me to the city strategy digest", as_="mkhan")
    assert again.title.startswith("You're already subscribed")
    assert repo.subscribers("city-strategy") == ["mkhan"]
    # the scheduler sends it to the lead and to the subscriber
    recorder = Recorder()
    scheduler = DigestScheduler(repo, recorder, clock=clock, sweep_minutes=0,
                                chart_dir=tmp_path / "charts")  # fmt: skip
    run = await scheduler.run_digest("city-strategy")
    assert run.sent == ["aokafor", "mkhan"]


async def test_a_lead_needs_no_subscription(chat):
    say, repo, _ = chat
    reply = await say("subscribe to neighbourhoods", as_="jmorris")
    assert reply.title.startswith("You lead Neighbourhood Services, so you already get its digest")
    assert repo.subscribers("neighbourhoods") == []


async def test_unsubscribe_from_one_or_all(chat):
    say, repo, _ = chat
    await say("subscribe to City Strategy", as_="mkhan")
    await say("subscribe to Neighbourhood Services", as_="mkhan")
    reply = await say("unsubscribe from city strategy", as_="mkhan")
    assert reply.title == "Unsubscribed from the City Strategy digest."
    assert repo.subscriptions() == {"neighbourhoods": ["mkhan"]}
    await say("subscribe to City Strategy", as_="mkhan")
    reply = await say("unsubscribe", as_="mkhan")
    assert reply.title == "Unsubscribed from the City Strategy and Neighbourhood Services digests."
    assert repo.subscriptions() == {}
    reply = await say("unsubscribe", as_="mkhan")
    assert reply.title == "You weren't subscribed to any directorate's digest."


@pytest.mark.parametrize("text", ["stop sending me digests", "no more digests please"])
async def test_stop_sending_me_digests_is_unsubscribe(chat, text):
    say, repo, _ = chat
    await say("subscribe to City Strategy", as_="mkhan")
    reply = await say(text, as_="mkhan")
    assert reply.title == "Unsubscribed from the City Strategy digest."
    assert repo.subscriptions() == {}


async def test_subscriptions_are_not_undone_by_undo(chat):
    say, repo, _ = chat
    await say("update 1.1 64% scanning contract signed", as_="mkhan")
    await say("subscribe to City Strategy", as_="mkhan")
    reply = await say("undo", as_="mkhan")
    assert "1.1" in reply.as_text()  # undo reverts the update, not the subscription
    assert repo.objective("1.1").progress == 62
    assert repo.subscribers("city-strategy") == ["mkhan"]


@pytest.mark.parametrize("question", ["when is the next digest?", "who gets the digests?"])
async def test_when_is_the_next_digest(chat, question):
    say, _, _ = chat
    await say("subscribe to City Strategy", as_="mkhan")
    reply = await say(question, as_="mkhan")
    assert reply.title == "The next digests go out Mon 23 Nov at 09:00."
    [yours] = [s for s in reply.sections if s.heading == "Your digests"]
    assert [i.text for i in yours.items] == ["City Strategy: Mon 23 Nov at 09:00 — you subscribed"]
    assert (
        "Reminders to update objectives with no update for 4 weeks go out Thu 19 Nov at 10:00."
        in (reply.lines)
    )
    assert "CITSG (strategy group): Mon 23 Nov at 09:00" in reply.as_text()
    assert "Default schedule" in reply.footer


async def test_next_digest_follows_the_running_schedule_and_bank_holidays(chat, tmp_path):
    say, repo, clock = chat
    clock.set("2026-05-21 12:00")  # the Thursday before the Spring bank holiday
    from tracker.schedule import ScheduleConfig

    config = ScheduleConfig.from_mapping({"audiences": {"strategy-group": "0 8 * * mon"}})
    scheduler = DigestScheduler(repo, Recorder(), config, clock=clock, sweep_minutes=0,
                                chart_dir=tmp_path)  # fmt: skip
    await scheduler.start(catch_up=False)
    await scheduler.stop()
    reply = await say("when's the next digest", as_="ifloyd")
    text = reply.as_text()
    assert "Resources: Tue 26 May at 09:00 (moved from Mon 25 May for Spring Bank Holiday)" in text
    assert "CITSG (strategy group): Tue 26 May at 08:00 (moved from Mon 25 May" in text
    assert "Default schedule" not in reply.footer
