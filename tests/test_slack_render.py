"""Block Kit rendering: structure, RAG emoji, escaping and Slack's size limits."""

from __future__ import annotations

import json

from bot.channels.slack import to_plain
from bot.channels.slack_render import escape, render, render_blocks, render_text
from handlers.reply import Item, Kind, Rag, Reply


def status_reply() -> Reply:
    reply = Reply(
        title="Theme 3: new HQ",
        lines=["4 objectives: 1 off track"],
        fields=[("Owner", "Mo Khan"), ("Due", "31 Mar 2027")],
        footer="Say `help` for more.",
    )
    reply.section(
        "Objectives",
        [Item("3.3 Telephony — off track", Rag.RED), Item("3.2 Thin client", Rag.GREEN), "plain"],
    )
    return reply


def test_blocks_have_header_fields_lists_and_footer():
    blocks = render_blocks(status_reply())
    assert [b["type"] for b in blocks] == ["header", "section", "section", "section", "context"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": "Theme 3: new HQ", "emoji": True}
    assert blocks[2]["fields"][0]["text"] == "*Owner*\nMo Khan"
    listing = blocks[3]["text"]["text"]
    assert listing.splitlines() == [
        "*Objectives*",
        "• :red_circle: 3.3 Telephony — off track",
        "• :large_green_circle: 3.2 Thin client",
        "• plain",
    ]


def test_text_fallback_has_everything():
    text = render_text(status_reply())
    for part in ("*Theme 3: new HQ*", "Owner: Mo Khan", ":red_circle: 3.3", "Say `help`"):
        assert part in text


def test_user_text_is_escaped_everywhere():
    evil = "<!channel> <@U123> <https://evil|gov.uk> & more"
    reply = Reply(title=evil, lines=[evil], fields=[(evil, evil)], footer=evil)
    reply.section(evil, [Item(evil, Rag.AMBER)])
    rendered = render(reply)
    wire = rendered["text"] + json.dumps(rendered["blocks"])
    assert "<!channel>" not in wire and "<@U123>" not in wire and "<https" not in wire
    assert escape(evil) == "&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil|gov.uk&gt; &amp; more"
    assert rendered["blocks"][0]["text"]["type"] == "plain_text"  # escaped all the same
    assert rendered["unfurl_links"] is False


def test_errors_and_questions_are_flagged():
    error = Reply(title="Not changed.", lines=["Officers can't close risks."], kind=Kind.ERROR)
    assert render_blocks(error)[0]["text"]["text"] == ":warning: Not changed."
    assert render_text(error).startswith(":warning: ")
    question = Reply(lines=["Which one: 3.2 or 3.4?"], kind=Kind.QUESTION)
    assert render_blocks(question)[0]["text"]["text"].startswith(":grey_question: Which one")


def test_long_replies_respect_slack_limits():
    reply = Reply(title="x" * 400, fields=[(f"f{i}", "v" * 3000) for i in range(23)])
    reply.section("Many", [Item(f"item {i} " + "y" * 200, Rag.GREY) for i in range(600)])
    blocks = render_blocks(reply)
    assert len(blocks) <= 50
    assert len(blocks[0]["text"]["text"]) <= 150
    for block in blocks:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
        for field in block.get("fields", []):
            assert len(field["text"]) <= 2000
        assert len(block.get("fields", [])) <= 10
    assert "shortened" in blocks[-1]["elements"][0]["text"]
    assert len(render_text(reply)) <= 39_000


def test_empty_reply_still_has_text():
    assert render(Reply())["text"].strip() == ""
    assert render(Reply())["text"] == " "


def test_slack_wire_text_becomes_what_the_user_typed():
    wire = (
        "<@UBOT> update 3.2: &lt;b&gt; &amp; <@U42|jo> in <#C1|general> <!here> "
        "<mailto:a@b.c|a@b.c>"
    )
    assert to_plain(wire, "UBOT") == "update 3.2: <b> & @jo in #general @here a@b.c"
    assert to_plain("see <https://x.example/a?b=1>") == "see https://x.example/a?b=1"
    assert to_plain("   ") == ""
