"""The alert DM and the replies to subscribe / unsubscribe / subscriptions: pure builders, checked without Slack."""

from __future__ import annotations

from datetime import date

from bot import blocks
from bot.alert_blocks import (
    ALERT_EVENT,
    MAX_PAPERS,
    AlertItem,
    alert_message,
    alert_post,
    subscribed,
    subscription_error,
    subscriptions_list,
    unsubscribed,
)
from storage.records import PaperRecord

DAY = date(2026, 11, 24)


def paper(n: int, **kw: object) -> PaperRecord:
    values: dict[str, object] = {"arxiv_id": f"2411.{n:05d}", "title": f"Paper {n}", "hf_upvotes": n, **kw}
    return PaperRecord(**values)  # type: ignore[arg-type]


def test_the_dm_lists_each_paper_with_its_link_authors_upvotes_and_the_subscription_it_matched() -> None:
    hostile = paper(1, title="<b>Bold</b> & | tricks", authors=["Ada Lovelace", "B", "C", "D"], hf_upvotes=1)
    items = [AlertItem(hostile, ['author:"Ada Lovelace"']), AlertItem(paper(2, hf_upvotes=1234), ["diffusion", "rl"])]
    message = alert_message(day=DAY, items=items)
    blocks.validate(message)
    assert message["blocks"][0]["text"]["text"] == "Your paper alert · 2026-11-24"
    first, second = (b["text"]["text"] for b in message["blocks"][2:4])
    assert first.startswith("*<https://huggingface.co/papers/2411.00001|&lt;b&gt;Bold&lt;/b&gt; &amp; ¦ tricks>*")
    assert "Ada Lovelace, B, C et al." in first and "▲ 1 upvote ·" in first
    assert 'matched `author:"Ada Lovelace"`' in first
    assert "▲ 1.2k upvotes" in second and "matched `diffusion`, `rl`" in second
    assert message["text"].startswith("Your paper alert for 2026-11-24: 2 papers match your subscriptions")


def test_a_long_alert_stays_within_slacks_limits_and_links_the_rest() -> None:
    items = [AlertItem(paper(n, title="word " * 200, authors=["x" * 500] * 5), ["t" * 400]) for n in range(60)]
    message = alert_message(day=DAY, items=items)
    blocks.validate(message)  # 50 blocks, 3,000-character sections, a 4,000-character fallback
    assert len(message["blocks"]) == MAX_PAPERS + 4
    assert "…and 20 more" in message["blocks"][-2]["text"]["text"]


def test_the_dm_carries_metadata_naming_the_day_and_the_person() -> None:
    payload = alert_message(day=DAY, items=[AlertItem(paper(1), ["a"])])
    post = alert_post("D1", payload, day=DAY, user_id="U1")
    assert post["channel"] == "D1" and post["blocks"] == payload["blocks"]
    assert post["metadata"] == {"event_type": ALERT_EVENT, "event_payload": {"day": "2026-11-24", "user": "U1"}}


def test_replies_to_the_subcommands() -> None:
    new = subscribed(text="diffusion", number=2, created=True, count=2)
    same = subscribed(text="diffusion", number=2, created=False, count=2)
    assert new["text"].startswith("Subscribed (2 of 2): `diffusion`.")
    assert "already have this subscription" in same["text"] and "nothing changed" in same["text"]
    listing = subscriptions_list(["diffusion", "a <b>"])
    assert "1. `diffusion`\n2. `a &lt;b&gt;`" in listing["text"]
    assert "no subscriptions" in subscriptions_list([])["text"]
    assert unsubscribed(removed=["x"], remaining=0)["text"] == "Unsubscribed from `x` (none left: no more alert DMs)."
    assert "nothing changed" in unsubscribed(removed=[], remaining=0)["text"]
    error = subscription_error("`autor:` is not a term <x>", "/pp")
    assert error["blocks"][0]["text"]["text"] == "`autor:` is not a term &lt;x&gt;"
    assert "`/pp subscribe diffusion`" in error["blocks"][1]["elements"][0]["text"]
    for reply in (new, same, listing, subscriptions_list([]), unsubscribed(removed=["x"], remaining=1), error):
        blocks.validate(reply)
