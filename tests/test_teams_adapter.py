"""The ActivityHandler itself, driven by botbuilder's TestAdapter (no HTTP)."""

from __future__ import annotations

from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity, ChannelAccount, ConversationAccount, Mention

from bot.channels.teams import TeamsChannel, TeamsSettings, strip_bot_mention
from bot.channels.teams_render import CARD_CONTENT_TYPE
from handlers.front_door import FrontDoor
from tests.fakes.harness import open_repo, teams_id

MO_AAD = teams_id("mkhan")


def text_of(activity: Activity) -> str:
    """A reply's words: its text, or its Adaptive Card's fallback text."""
    if activity.text:
        return activity.text
    return "\n".join(a.content["fallbackText"] for a in activity.attachments or [])


def template(user: ChannelAccount) -> Activity:
    return Activity(
        channel_id="test",
        service_url="https://test.example",
        from_property=user,
        recipient=ChannelAccount(id="bot", name="Strategy Tracker"),
        conversation=ConversationAccount(id="Convo1", conversation_type="personal"),
    )


async def test_activity_handler_routes_messages_to_the_tracker_and_replies(tmp_path):
    repo = await open_repo(tmp_path)
    try:
        channel = TeamsChannel(TeamsSettings(emulator=True), FrontDoor(repo), repo)
        mo = ChannelAccount(id="29:mo", name="Mo Khan", aad_object_id=MO_AAD)
        adapter = TestAdapter(channel.bot.on_turn, template(mo))

        def confirmed(activity, description=None):
            [attachment] = activity.attachments
            assert attachment.content_type == CARD_CONTENT_TYPE
            assert "Recorded update on 3.2" in attachment.content["fallbackText"]

        flow = await adapter.send("update 3.2 on track 55% via the adapter")
        await flow.assert_reply(confirmed)
        assert repo.objective("3.2").progress == 55
        assert repo.updates_for("3.2")[0].actor == "mkhan"
        assert repo.conversation(f"teams:user:{MO_AAD}")["reference"]["channelId"] == "test"

        def identified(activity, description=None):
            assert text_of(activity).startswith("You are Mo Khan (mkhan)")

        await (await adapter.send("who am i")).assert_reply(identified)
    finally:
        repo.close()


async def test_strangers_are_told_how_to_get_added(tmp_path):
    repo = await open_repo(tmp_path)
    try:
        channel = TeamsChannel(TeamsSettings(emulator=True), FrontDoor(repo), repo)
        stranger = ChannelAccount(id="29:x", name="Stranger", aad_object_id="aad-unknown")
        adapter = TestAdapter(channel.bot.on_turn, template(stranger))

        def told(activity, description=None):
            assert "I don't know you yet" in text_of(activity)
            assert "aad-unknown" in text_of(activity)

        await (await adapter.send("update 3.2 done")).assert_reply(told)
        assert repo.updates_for("3.2") == []
    finally:
        repo.close()


def mention_activity(text: str, bot_name: str, mention_text: str | None = None) -> Activity:
    entity = Mention(
        mentioned=ChannelAccount(id="bot", name=bot_name),
        text=mention_text or f"<at>{bot_name}</at>",
        type="mention",
    )
    return Activity(
        type="message",
        text=text,
        recipient=ChannelAccount(id="bot", name=bot_name),
        entities=[Activity().deserialize({"entities": [entity.serialize()]}).entities[0]],
    )


def test_mentions_are_stripped_even_with_awkward_bot_names():
    name = "Strategy (ICT)+ Bot."
    activity = mention_activity(f"<at>{name}</at> status of 3.2", name)
    assert strip_bot_mention(activity) == "status of 3.2"
    activity = mention_activity(f"hey <at>{name}</at>&nbsp;help", name)
    assert strip_bot_mention(activity) == "hey help"


def test_other_peoples_mentions_become_their_names():
    activity = mention_activity(
        "<at>Strategy Tracker</at> 3.2 owner is <at>Tina Carter</at>", "Strategy Tracker"
    )
    assert strip_bot_mention(activity) == "3.2 owner is Tina Carter"


def test_a_mention_without_an_entity_is_still_stripped():
    activity = Activity(
        type="message",
        text="<at>Strategy Tracker</at> summary",
        recipient=ChannelAccount(id="bot", name="Strategy Tracker"),
    )
    assert strip_bot_mention(activity) == "summary"


def test_tenant_is_read_from_channel_data_or_the_conversation():
    from bot.channels.teams import tenant_of

    both = Activity().deserialize(
        {"channelData": {"tenant": {"id": "t-data"}}, "conversation": {"tenantId": "t-conv"}}
    )
    assert tenant_of(both) == "t-data"
    only_conversation = Activity().deserialize({"conversation": {"id": "c", "tenantId": "t-conv"}})
    assert tenant_of(only_conversation) == "t-conv"
    assert tenant_of(Activity().deserialize({"conversation": {"id": "c"}})) is None
