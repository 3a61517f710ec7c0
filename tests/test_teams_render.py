"""Adaptive Card rendering: structure, RAG colours, markdown safety and size."""

from __future__ import annotations

import json

from bot.channels.teams_render import (
    CARD_CONTENT_TYPE,
    MAX_CARD_CHARS,
    render,
    render_card,
)
from handlers.reply import Item, Kind, Rag, Reply


def walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def test_structured_replies_are_cards_with_fallback():
    reply = Reply(title="3.2 Thin client", fields=[("Status", "on track"), ("Owner", "Mo Khan")])
    reply.section("History", [Item("60% on 1 Nov", Rag.GREEN)])
    activity = render(reply)
    assert "text" not in activity and activity["summary"] == "3.2 Thin client"
    [attachment] = activity["attachments"]
    assert attachment["contentType"] == CARD_CONTENT_TYPE
    card = attachment["content"]
    assert card["fallbackText"] == reply.as_text()
    runs = [n for n in walk(card) if n.get("type") == "TextRun"]
    assert [r["text"] for r in runs][:5] == ["3.2 Thin client", "Status", "on track", "Owner",
                                             "Mo Khan"]  # fmt: skip
    badge = next(r for r in runs if r["text"].startswith("●"))
    assert badge == {"type": "TextRun", "text": "● GREEN ", "weight": "Bolder", "color": "Good"}


def test_simple_replies_are_plain_text():
    activity = render(Reply(title="Not changed.", lines=["Because."], kind=Kind.ERROR))
    assert activity == {
        "type": "message",
        "summary": "Not changed.",
        "text": "Not changed.\nBecause.",
        "textFormat": "plain",
    }


def test_no_markdown_element_ever_carries_reply_text():
    evil = "[x](https://evil.example) **b** <at>Tina</at>"
    reply = Reply(title=evil, lines=[evil], fields=[(evil, evil)], footer=evil)
    reply.section(evil, [Item(evil, Rag.RED)])
    card = render_card(reply)
    types = {n.get("type") for n in walk(card)}
    assert not types & {"TextBlock", "FactSet", "Fact"}
    assert all(n["type"] == "TextRun" for n in walk(card) if evil in str(n.get("text", "")))


def test_error_titles_are_coloured():
    reply = Reply(title="Not changed.", fields=[("Why", "x")], kind=Kind.ERROR)
    assert render_card(reply)["body"][0]["inlines"][0]["color"] == "Attention"


def test_huge_lists_are_shortened_to_fit_teams():
    reply = Reply(title="All updates")
    reply.section("Updates", [Item(f"update {i}: " + "z" * 150, Rag.AMBER) for i in range(2000)])
    card = render(reply)["attachments"][0]["content"]
    assert len(json.dumps(card, ensure_ascii=False)) <= MAX_CARD_CHARS
    notes = [
        n["text"]
        for n in walk(card)
        if n.get("type") == "TextRun" and "more not shown" in n["text"]
    ]
    assert notes and notes[0].startswith("…and ")


def test_the_activity_sent_carries_exactly_the_rendered_json(tmp_path):
    """`to_activity` hands botbuilder the rendered fields without an msrest round trip;
    what goes on the wire must still be the rendered JSON, field for field."""
    from bot.channels.teams import to_activity

    chart = tmp_path / "chart.png"
    chart.write_bytes(b"\x89PNG\r\n\x1a\n")
    card = Reply(title="3.2 Thin client", fields=[("Status", "on track")])
    card.section("History", [Item("60% on 1 Nov", Rag.GREEN)])
    plain = Reply(lines=["Recorded 3.2 at 60%."])
    with_image = Reply(title="Status by theme", lines=["Chart attached."], images=[chart])
    for reply in (card, plain, with_image):
        assert to_activity(reply).serialize() == render(reply)
