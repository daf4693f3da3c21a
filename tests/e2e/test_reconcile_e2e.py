"""Reconciliation next to events sent into the bot's real signed endpoint: events the bot heard, events it missed
(only the loopback Slack has them), late and repeated deliveries, and events arriving while a run is going on.
Whatever the order, every reaction and reply counts once and the stored state ends as Slack's."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from sqlalchemy import select

from bot.reconcile import ReconcileReport, reconcile
from storage.models import Reaction, Reply
from storage.papers import upsert_papers
from storage.posts import record_post
from storage.reconcile import Changes
from storage.records import PaperRecord
from storage.votes import paper_activity
from tests.fakes.slack import BOT_ID, BOT_TOKEN, BOT_USER_ID, TEAM_ID, FakeSlack, SlackSender
from tests.running import RunningBot

CHANNEL = "C0001"
PAPER = "2410.13732"
OLD = "1764160000.{:06d}"  # event times before any reconciliation of these tests (Slack's clock of 2025)


def now_ts(ahead: float = 0.0) -> str:
    """A Slack timestamp of the present (plus `ahead` seconds)."""
    return f"{time.time() + ahead:.6f}"


def settle(bot: RunningBot) -> None:
    """Wait until the inbox's workers applied every stored event that is due (Slack was answered before)."""
    bot.workers.drain()


def post(bot: RunningBot, slack: FakeSlack) -> str:
    ts = slack.next_ts()
    slack.add_message(CHANNEL, ts, user=BOT_USER_ID, bot_id=BOT_ID, text="a paper")
    with bot.deps.sessions.begin() as session:
        upsert_papers(session=session, records=[PaperRecord(arxiv_id=PAPER, title="Thinking LLMs")])
        record_post(session=session, team_id=TEAM_ID, channel_id=CHANNEL, ts=ts, arxiv_id=PAPER, kind="digest")
    return ts


def reaction(ts: str, user: str, added: bool, event_ts: str) -> dict[str, Any]:
    return {
        "type": "reaction_added" if added else "reaction_removed",
        "user": user,
        "reaction": "+1",
        "item": {"type": "message", "channel": CHANNEL, "ts": ts},
        "item_user": BOT_USER_ID,
        "event_ts": event_ts,
    }


def reply_event(thread: str, ts: str, user: str, text: str) -> dict[str, Any]:
    return {"type": "message", "channel": CHANNEL, "user": user, "text": text, "ts": ts, "thread_ts": thread}


def edit_event(thread: str, ts: str, user: str, text: str, edited_ts: str) -> dict[str, Any]:
    inner = {**reply_event(thread, ts, user, text), "edited": {"user": user, "ts": edited_ts}}
    return {"type": "message", "subtype": "message_changed", "hidden": True, "channel": CHANNEL, "message": inner}


def ok(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text


def voters(bot: RunningBot) -> set[str]:
    settle(bot)
    with bot.deps.sessions.begin() as session:
        return set(session.scalars(select(Reaction.user_id)))


def counted(bot: RunningBot) -> tuple[int, int]:
    settle(bot)
    with bot.deps.sessions.begin() as session:
        shown = paper_activity(session=session, team_id=TEAM_ID, arxiv_id=PAPER, vote_emoji=("+1",))
    return shown.votes, shown.replies


def run(bot: RunningBot) -> ReconcileReport:
    settle(bot)
    return reconcile(bot.deps, token=BOT_TOKEN)


def test_heard_and_missed_reactions_count_once_and_late_old_events_change_nothing(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    ts = post(bot, slack)
    ok(sender.event(reaction(ts, "U1", True, OLD.format(1)), event_id="EvU1"))  # heard
    ok(sender.event(reaction(ts, "U3", True, OLD.format(2))))  # heard; its removal was missed
    slack.react(CHANNEL, ts, "U1", "+1")
    slack.react(CHANNEL, ts, "U2", "+1")  # missed
    assert voters(bot) == {"U1", "U3"}

    assert run(bot).changes == Changes(reactions_added=1, reactions_removed=1)
    assert voters(bot) == {"U1", "U2"}

    ok(sender.event(reaction(ts, "U1", True, OLD.format(1)), event_id="EvU1", retry_num=3))  # Slack's retry
    ok(sender.event(reaction(ts, "U2", True, OLD.format(3))))  # the missed add, delivered at last
    ok(sender.event(reaction(ts, "U2", False, OLD.format(4))))  # an old removal, older than Slack's answer
    ok(sender.event(reaction(ts, "U3", True, OLD.format(5))))  # an old add of the vote Slack no longer has
    assert voters(bot) == {"U1", "U2"}

    slack.unreact(CHANNEL, ts, "U1", "+1")  # a change after the run: its event wins
    ok(sender.event(reaction(ts, "U1", False, now_ts())))
    assert voters(bot) == {"U2"}
    assert run(bot).changes == Changes()


def test_replies_heard_missed_edited_and_deleted_count_once(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    ts = post(bot, slack)
    heard = slack.reply(CHANNEL, ts, "U1", "first")
    ok(sender.event(reply_event(ts, heard, "U1", "first")))
    missed = slack.reply(CHANNEL, ts, "U2", "second")
    old_edit = slack.edit(CHANNEL, heard, "first, edited once")
    slack.edit(CHANNEL, heard, "first, edited twice")  # both edits were missed
    assert counted(bot) == (0, 1)

    assert run(bot).changes == Changes(replies_added=1, replies_edited=1)
    ok(sender.event(reply_event(ts, missed, "U2", "second")))  # the missed reply, delivered late
    ok(sender.event(edit_event(ts, heard, "U1", "first, edited once", old_edit)))  # an older edit, late
    settle(bot)
    with bot.deps.sessions.begin() as session:
        texts = {r.ts: (r.text, r.deleted) for r in session.scalars(select(Reply))}
    assert texts == {heard: ("first, edited twice", False), missed: ("second", False)}
    assert counted(bot) == (0, 2)

    slack.delete(CHANNEL, missed)
    assert run(bot).changes == Changes(replies_deleted=1)
    ok(sender.event(reply_event(ts, missed, "U2", "second")))  # a late copy cannot bring it back
    assert counted(bot) == (0, 1)
    assert run(bot).changes == Changes()


def test_events_arriving_while_a_run_goes_on_never_double_count(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    posts = [post(bot, slack)] + [slack.next_ts() for _ in range(3)]
    for extra in posts[1:]:  # three more posts of the same paper, so the run takes a while
        slack.add_message(CHANNEL, extra, user=BOT_USER_ID, bot_id=BOT_ID, text="a paper")
        with bot.deps.sessions.begin() as session:
            record_post(session=session, team_id=TEAM_ID, channel_id=CHANNEL, ts=extra, arxiv_id=PAPER, kind="share")
    missed = [f"UM{n}" for n in range(10)]
    for n, user in enumerate(missed):
        slack.react(CHANNEL, posts[n % 4], user, "+1")

    reconciling = threading.Thread(target=lambda: [reconcile(bot.deps, token=BOT_TOKEN) for _ in range(3)])
    reconciling.start()
    for n in range(20):  # people keep reacting, and some take back a vote the bot never heard of
        target = posts[n % 4]
        slack.react(CHANNEL, target, f"UE{n}", "+1")
        ok(sender.event(reaction(target, f"UE{n}", True, now_ts())))
        if n % 4 == 0:
            gone = missed[n // 4]
            where = posts[(n // 4) % 4]
            slack.unreact(CHANNEL, where, gone, "+1")
            ok(sender.event(reaction(where, gone, False, now_ts())))
    reconciling.join()
    run(bot)

    in_slack = {
        (message["ts"], user)
        for message in slack.messages[CHANNEL]
        for entry in message.get("reactions", [])
        for user in entry["users"]
    }
    settle(bot)
    with bot.deps.sessions.begin() as session:
        stored = [(r.message_ts, r.user_id) for r in session.scalars(select(Reaction))]
    assert len(stored) == len(set(stored)) and set(stored) == in_slack
    assert counted(bot) == (len({user for _, user in in_slack}), 0)
    assert run(bot).changes == Changes()
