"""Messages that change, sent into the bot's real HTTP endpoint as Slack sends them (signed, retried with the same
event_id): an edit that adds a paper link makes a share (once), a deleted share stops counting everywhere people
look (show, top, the export) while its rows stay stored, and a thread_broadcast is one reply."""

from __future__ import annotations

import io
import json
from typing import Any

from sqlalchemy import func, select

from bot.export.collect import write_export
from bot.export.records import ExportOptions
from storage.models import Post, Reaction, Reply
from storage.papers import upsert_papers
from storage.records import PaperRecord
from tests.fakes.slack import BOT_ID, BOT_USER_ID, TEAM_ID, FakeSlack, SlackSender
from tests.handlers import test_events
from tests.handlers.lookups.test_lookups import papers
from tests.handlers.test_events import (
    CHANNEL,
    PAPER,
    POST_TS,
    later,
    message,
    ok,
    reaction,
    seen,
    settle,
    share_post_now,
)
from tests.running import RunningBot

settings, posted = test_events.settings, test_events.posted  # the events tests' fixtures
SHARED = "2502.00042"  # a paper known to the bot, shared by a person


def changed(new: dict[str, Any], old: dict[str, Any], *, edited: bool = True) -> dict[str, Any]:
    """A message_changed event: `old` became `new` (`edited` False: Slack's own change, e.g. a reply count)."""
    inner = {**new, "edited": {"user": new.get("user"), "ts": later()}} if edited else new
    return {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": CHANNEL,
        "ts": later(),
        "message": inner,
        "previous_message": old,
        "event_ts": later(),
        "channel_type": "channel",
    }


def deleted(old: dict[str, Any]) -> dict[str, Any]:
    """A message_deleted event of `old`."""
    return {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "channel": CHANNEL,
        "ts": later(),
        "deleted_ts": old["ts"],
        "previous_message": old,
        "event_ts": later(),
        "channel_type": "channel",
    }


def read(answer: dict[str, Any]) -> str:
    """What a person reads of an answer (its blocks and text), as one string."""
    return json.dumps(answer, ensure_ascii=False)


def count(bot: RunningBot, model: type[Post] | type[Reaction] | type[Reply]) -> int:
    settle(bot)
    with bot.deps.sessions.begin() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_an_edit_that_adds_a_paper_link_makes_a_share_once(posted: RunningBot, sender: SlackSender) -> None:
    plain = message("worth a read, link below", thread_ts=None, user="U0005")
    ok(sender.event(plain))
    settle(posted)
    assert share_post_now(posted, plain["ts"]) is None

    linked = {**plain, "text": "worth a read: arxiv.org/abs/2410.13732v2"}
    edit = changed(linked, plain)
    ok(sender.event(edit, event_id="EvEditAddsLink"))
    ok(sender.event(edit, event_id="EvEditAddsLink", retry_num=1, retry_reason="http_timeout"))
    settle(posted)
    post = share_post_now(posted, plain["ts"])
    assert post is not None and (post.kind, post.arxiv_id, post.user_id) == ("share", PAPER, "U0005")

    # Edited again (another event): still the one share; Slack's own change (no `edited`) is no edit either.
    ok(sender.event(changed({**linked, "text": linked["text"] + " (fixed)"}, linked), event_id="EvEditAgain"))
    ok(sender.event(changed({**linked, "reply_count": 1}, linked, edited=False), event_id="EvReplyCount"))
    assert count(posted, Post) == 2  # the digest's post and this share

    ok(sender.event(reaction(True, ts=plain["ts"])))  # votes on the share are the paper's votes
    ok(sender.event(message("agreed", thread_ts=plain["ts"])))
    shown = seen(posted)
    assert (shown.votes, shown.replies) == (1, 1)


def test_an_edit_of_a_reply_adding_a_link_is_no_share(posted: RunningBot, sender: SlackSender) -> None:
    reply = message("see the appendix", ts=later())
    ok(sender.event(reply))
    ok(sender.event(changed({**reply, "text": "see arxiv.org/abs/2502.00042"}, reply)))
    assert count(posted, Post) == 1 and seen(posted).replies == 1


def test_an_edit_that_removes_the_link_leaves_the_share_as_it_is(posted: RunningBot, sender: SlackSender) -> None:
    shared = message("arxiv.org/abs/2410.13732 is good", thread_ts=None, user="U0005")
    ok(sender.event(shared))
    ok(sender.event(reaction(True, ts=shared["ts"])))
    ok(sender.event(changed({**shared, "text": "never mind"}, shared)))
    settle(posted)
    post = share_post_now(posted, shared["ts"])
    assert post is not None and not post.deleted
    assert seen(posted).votes == 1  # the vote was given to the paper; deleting the message withdraws it


def share_with_activity(bot: RunningBot, sender: SlackSender) -> dict[str, Any]:
    """A person shares SHARED; two people vote on it and one replies in its thread. The share's message."""
    with bot.deps.sessions.begin() as session:
        upsert_papers(session=session, records=[PaperRecord(arxiv_id=SHARED, title="Deletable Findings")])
    shared = message(f"read https://arxiv.org/abs/{SHARED}", thread_ts=None, user="U0005")
    ok(sender.event(shared))
    settle(bot)
    for user in ("U0001", "U0002"):
        ok(sender.event(reaction(True, user=user, ts=shared["ts"])))
    ok(sender.event(message("the ablations are thin", thread_ts=shared["ts"], user="U0003")))
    return shared


def exported(bot: RunningBot) -> list[dict[str, Any]]:
    out = io.StringIO()
    write_export(
        bot.deps.sessions,
        ExportOptions(team_id=TEAM_ID),
        out,
        vote_emoji=bot.deps.settings.vote_emoji,
        timezone=bot.deps.settings.timezone,
    )
    records: list[dict[str, Any]] = json.loads(out.getvalue())
    return records


def test_a_deleted_share_stops_counting_in_show_top_and_export_and_keeps_its_rows(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    shared = share_with_activity(bot, sender)
    assert (seen(bot, SHARED).votes, seen(bot, SHARED).replies) == (2, 1)
    assert "2 votes (people) · 1 reply" in read(papers(sender, slack, f"show {SHARED}", channel=CHANNEL))
    assert "Deletable Findings" in read(papers(sender, slack, "top all", channel=CHANNEL))
    [before] = exported(bot)
    assert (before["votes"], before["replies"]) == (2, 1) and "deleted" not in before["posts"][0]

    gone = deleted(shared)
    ok(sender.event(gone, event_id="EvDeleteShare"))
    ok(sender.event(gone, event_id="EvDeleteShare", retry_num=1))
    shown = seen(bot, SHARED)
    assert (shown.votes, shown.reactions, shown.replies, shown.channels) == (0, {}, 0, [])
    show = read(papers(sender, slack, f"show {SHARED}", channel=CHANNEL))
    assert "Deletable Findings" in show and "2 votes" not in show and "1 reply" not in show
    assert "Deletable Findings" not in read(papers(sender, slack, "top all", channel=CHANNEL))
    [after] = exported(bot)  # the record stays, marked; nothing on it counts
    assert (after["votes"], after["reactions"], after["replies"]) == (0, {}, 0)
    assert after["posts"] == [
        {"team": TEAM_ID, "channel": CHANNEL, "ts": shared["ts"], "kind": "share", "deleted": True}
    ]

    assert (count(bot, Post), count(bot, Reaction), count(bot, Reply)) == (1, 2, 1)  # nothing destroyed
    post = share_post_now(bot, shared["ts"])
    assert post is not None and post.deleted
    # A late edit or a retried share of the deleted message does not bring it back.
    ok(sender.event(changed({**shared, "text": shared["text"] + "!"}, shared)))
    ok(sender.event(shared, retry_num=2))
    assert seen(bot, SHARED).votes == 0 and count(bot, Post) == 1


def test_a_delete_of_the_bots_own_digest_message_is_left_to_the_reconciliation(
    posted: RunningBot, sender: SlackSender
) -> None:
    ok(sender.event(reaction(True)))
    digest = message("Thinking LLMs", thread_ts=None, user=BOT_USER_ID, bot_id=BOT_ID, ts=POST_TS)
    ok(sender.event(deleted(digest)))  # Bolt drops events about the bot's own messages (IgnoringSelfEvents)
    assert seen(posted).votes == 1  # until the reconciliation finds it gone (tests/bot/test_reconcile.py)


def test_a_thread_broadcast_is_one_reply(posted: RunningBot, sender: SlackSender) -> None:
    broadcast = message("also sent to the channel: arxiv.org/abs/2502.00042", subtype="thread_broadcast")
    ok(sender.event(broadcast, event_id="EvBroadcast"))
    ok(sender.event(broadcast, event_id="EvBroadcast", retry_num=1))
    parent = message("Thinking LLMs", thread_ts=POST_TS, ts=POST_TS, user=BOT_USER_ID, bot_id=BOT_ID)
    ok(sender.event(changed({**parent, "reply_count": 1}, parent, edited=False)))  # Slack's count update
    assert seen(posted).replies == 1
    assert (count(posted, Reply), count(posted, Post)) == (1, 1)  # a reply, not a share of the linked paper
