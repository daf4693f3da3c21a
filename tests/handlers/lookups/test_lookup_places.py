"""Every lookup subcommand asked by @mention (answered in the mention's thread) and in a DM to the bot (answered in
the DM), through the bot's real signed endpoint on both databases; a private channel's discussion shows only in
that channel's own threads."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.blocks import validate
from storage.models import Subscription
from tests.fakes.slack import BOT_USER_ID, FakeSlack, SlackSender
from tests.handlers.lookups.world import PRIVATE, PUBLIC, REPLICA, TRANSFORMER, shown
from tests.running import RunningBot

DM = "D0002"
_ts = itertools.count(1)


def _answered(slack: FakeSlack, channel: str, thread_ts: str | None, before: int) -> dict[str, Any]:
    """The bot's first new message in `channel` (in the thread `thread_ts`, or at the top level), checked against
    Block Kit's limits."""

    def found() -> dict[str, Any] | None:
        new = slack.posted(channel)[before:]
        return next((m for m in new if m.get("thread_ts") == thread_ts), None)

    message = slack.wait_for(found)
    validate({"text": message["text"], "blocks": message["blocks"]})
    return message


def mention(
    sender: SlackSender, slack: FakeSlack, text: str, *, channel: str = PUBLIC, thread_ts: str | None = None
) -> dict[str, Any]:
    """`@paperbot <text>` in a channel (or in a thread there); the answer posted in the mention's thread."""
    ts = f"1764170000.{next(_ts):06d}"
    event = {
        "type": "app_mention",
        "user": "U0002",
        "channel": channel,
        "text": f"<@{BOT_USER_ID}> {text}",
        "ts": ts,
        "event_ts": ts,
        **({"thread_ts": thread_ts} if thread_ts else {}),
    }
    before = len(slack.posted(channel))
    assert sender.event(event).status_code == 200
    return _answered(slack, channel, thread_ts or ts, before)


def dm(sender: SlackSender, slack: FakeSlack, text: str, *, user: str = "U0002", **extra: Any) -> dict[str, Any]:
    """A DM to the bot (with `extra` fields, such as a subtype); the answer posted at the top level of the DM."""
    ts = f"1764180000.{next(_ts):06d}"
    event = {
        "type": "message",
        "channel_type": "im",
        "user": user,
        "channel": DM,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        **extra,
    }
    before = len(slack.posted(DM))
    assert sender.event(event).status_code == 200
    return _answered(slack, DM, None, before)


def private_shown(message: dict[str, Any]) -> bool:
    """True when the private channel's discussion (its thread, its 3 votes and 2 replies) is in the message."""
    seen = shown(message)
    return f"<#{PRIVATE}>" in seen or "5 votes" in seen or "3 replies" in seen


def test_search_by_mention_and_by_dm(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    public = mention(sender, slack, "search replica symmetry breaking")
    assert "Replica symmetry breaking" in shown(public) and "team: 2 votes, 1 reply" in shown(public)
    assert not private_shown(public)
    inside = mention(sender, slack, "search replica symmetry breaking", channel=PRIVATE)
    assert "team: 5 votes, 3 replies" in shown(inside)
    direct = dm(sender, slack, "search replica symmetry breaking")
    assert "team: 2 votes, 1 reply" in shown(direct) and not private_shown(direct)


def test_show_by_mention_in_a_thread_and_by_dm(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    in_thread = mention(sender, slack, f"show {REPLICA}", thread_ts="1764160000.000009")  # asked inside a thread
    assert "2 votes (people)" in shown(in_thread) and not private_shown(in_thread)
    inside = mention(sender, slack, f"show {REPLICA}", channel=PRIVATE)
    assert "5 votes (people)" in shown(inside) and f"<#{PRIVATE}>" in shown(inside)
    direct = dm(sender, slack, f"show arXiv:{REPLICA}v1")
    assert "2 votes (people)" in shown(direct) and not private_shown(direct)


def test_top_and_filter_by_mention_and_by_dm(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    assert "Replica symmetry" in shown(dm(sender, slack, "top all"))
    assert not private_shown(dm(sender, slack, "top all"))
    assert "Replica symmetry" not in shown(mention(sender, slack, "filter votes:>=3"))  # 3 voters are private
    assert "Replica symmetry" in shown(mention(sender, slack, "filter votes:>=3", channel=PRIVATE))
    assert "Replica symmetry" not in shown(dm(sender, slack, "filter replies:>=2"))
    bad = dm(sender, slack, "filter votes:lots")
    assert "`votes:`" in bad["text"]


@pytest.mark.parametrize(
    "question", ["top all", "filter votes:>=2", "filter discussed:yes sort:votes", "search replica votes:>=1"]
)
def test_a_dm_counts_public_channels_nobody_looked_up_from_yet(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack, question: str
) -> None:
    """A channel's privacy was learnt only for the papers already picked, so a ranking or a team term asked from
    anywhere but the discussion's own channel found nothing until someone had `show`n the paper."""
    answer = dm(sender, slack, question)
    assert "Replica symmetry" in shown(answer) and "2 votes" in shown(answer)
    assert not private_shown(answer)


def test_help_by_mention_and_by_dm(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    assert "/papers search" in shown(mention(sender, slack, "help"))
    assert "/papers show" in shown(dm(sender, slack, "help show"))
    assert "did you mean `search`?" in dm(sender, slack, "serch diffusion")["text"]


def test_subscribe_and_subscriptions_in_a_dm(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    assert dm(sender, slack, "subscribe diffusion")["text"].startswith("Subscribed (1 of 1): `diffusion`.")
    assert "1. `diffusion`" in dm(sender, slack, "subscriptions")["text"]
    with bot.deps.sessions.begin() as session:
        owners = session.execute(select(Subscription.user_id, func.count()).group_by(Subscription.user_id)).all()
    assert owners == [("U0002", 1)]
    assert "unsubscribe" in dm(sender, slack, "unsubscribe all")["text"].lower()


def test_digest_by_mention_answers_in_the_thread(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    answer = mention(sender, slack, "digest")
    assert f"<#{PUBLIC}>" in shown(answer) or "digest" in shown(answer).lower()
    assert "digest" in mention(sender, slack, "digest later")["text"]  # a usage reply, in the thread too


def test_a_private_channels_discussion_stays_out_of_other_threads_and_dms(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    """The same question asked in the private channel, then in a public thread and a DM: only the first shows it."""
    assert private_shown(mention(sender, slack, f"show {REPLICA}", channel=PRIVATE))
    for answer in (
        mention(sender, slack, f"show {REPLICA}"),
        mention(sender, slack, "search replica", channel="C0003"),
        dm(sender, slack, f"show {REPLICA}"),
        dm(sender, slack, "filter discussed:yes sort:votes"),
        dm(sender, slack, f"filter channel:<#{PRIVATE}|secret>"),
    ):
        assert not private_shown(answer), shown(answer)
    assert "Reducing the Transformer" in shown(dm(sender, slack, f"show {TRANSFORMER}"))


def test_a_lone_surrogate_in_a_dm_is_answered(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    """JSON may carry a lone surrogate (it has no UTF-8 form): the bot still answers in the DM."""
    answer = dm(sender, slack, "search replica\ud800 symmetry")
    assert "Replica symmetry" in shown(answer), shown(answer)
    echoed = dm(sender, slack, "search zzqqxx\ud800yy")  # the answer quotes the words back
    assert echoed["text"].startswith("No paper matches"), echoed["text"]


def test_a_dm_with_a_file_attached_is_answered(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    """A DM that carries a file (subtype file_share) or is sent to the DM from a thread (thread_broadcast) is still
    a person asking: it was dropped for having a subtype."""
    shared = dm(sender, slack, "search replica symmetry breaking", subtype="file_share", files=[{"id": "F1"}])
    assert "Replica symmetry breaking" in shown(shared)
    broadcast = dm(sender, slack, "search replica symmetry breaking", subtype="thread_broadcast")
    assert "Replica symmetry breaking" in shown(broadcast)


def test_a_bots_dm_and_a_changed_message_get_no_answer(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    before = len(slack.posted(DM))
    for extra in ({"subtype": "bot_message", "bot_id": "B1"}, {"subtype": "message_changed"}):
        event = {"type": "message", "channel_type": "im", "user": "U0002", "channel": DM, "text": "help", **extra}
        assert sender.event({**event, "ts": f"1764190000.{next(_ts):06d}"}).status_code == 200
    dm(sender, slack, "help")  # answered, and after the two above: had they been answered, they were by now
    assert len(slack.posted(DM)) == before + 1
