"""Who sees what (docs/privacy.md), through the bot's real signed endpoint on both databases: a private channel's
posts, votes, replies and threads show only in answers given inside it; `export all` elsewhere holds public
channels only; the Home tab counts a private channel only for its members."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import func, select

from bot import blocks
from storage.models import Post, Reaction, Reply
from tests.fakes.slack import FakeSlack, SlackSender
from tests.handlers.lookups.world import PRIVATE, PUBLIC, REPLICA, TRANSFORMER, ask, shown
from tests.running import RunningBot

DM = "D0007"
# What would give the private channel away: its id, its 3 votes (5 with the public 2), its 2 replies (3 with
# the public one), its thread's permalink (the loopback Slack's permalinks name the channel).
GIVEAWAYS = (PRIVATE, "5 votes", "3 replies", "3 votes", "2 replies")


def leaked(text: str) -> list[str]:
    return [word for word in GIVEAWAYS if word in text]


def exported(sender: SlackSender, slack: FakeSlack, text: str, *, channel: str) -> list[dict[str, Any]]:
    """Run `/papers export <text>` in `channel` and read the JSON file it uploaded there."""
    before = len(slack.shared_files(channel))
    key = uuid.uuid4().hex
    assert sender.command(f"export {text}", channel=channel, response_url=slack.response_url(key)).status_code == 200
    slack.wait_for(lambda: next((r for r in slack.responses if r["key"] == key), None))
    file = slack.shared_files(channel)[before]
    assert file.content is not None
    papers: list[dict[str, Any]] = json.loads(file.content)
    return papers


def test_export_all_from_a_public_channel_holds_no_private_content(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    (paper,) = exported(sender, slack, "all json", channel=PUBLIC)
    assert paper["arxiv_id"] == REPLICA
    assert [p["channel"] for p in paper["posts"]] == [PUBLIC]
    assert (paper["votes"], paper["replies"]) == (2, 1)  # the public channel's alone
    assert leaked(json.dumps(paper)) == []


def test_export_all_from_a_dm_holds_no_private_content(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    (paper,) = exported(sender, slack, "all json", channel=DM)
    assert [p["channel"] for p in paper["posts"]] == [PUBLIC]
    assert (paper["votes"], paper["replies"]) == (2, 1)


def test_export_all_inside_the_private_channel_includes_it(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    (paper,) = exported(sender, slack, "all json", channel=PRIVATE)
    assert sorted(p["channel"] for p in paper["posts"]) == sorted([PUBLIC, PRIVATE])
    assert (paper["votes"], paper["replies"]) == (5, 3)


def test_a_channel_slack_will_not_describe_counts_as_private_in_export_all(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    slack.private_channels.discard(PRIVATE)
    slack.unknown_channels.add(PRIVATE)
    (paper,) = exported(sender, slack, "all json", channel=PUBLIC)
    assert [p["channel"] for p in paper["posts"]] == [PUBLIC]


def test_lookups_from_a_public_channel_and_a_dm_leave_the_private_channel_out(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    for channel in (PUBLIC, DM):
        for text in (f"show {REPLICA}", "top all", "search replica symmetry breaking", "filter votes:>=1"):
            answer = ask(sender, slack, text, channel=channel).answer
            assert "Replica symmetry" in shown(answer), (channel, text)
            assert leaked(shown(answer)) == [], (channel, text)
    inside = ask(sender, slack, f"show {REPLICA}", channel=PRIVATE).answer
    assert "5 votes" in shown(inside) and f"archives/{PRIVATE}/" in shown(inside)  # the test can fail


def test_show_details_pressed_elsewhere_leaves_the_private_channel_out(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    def details(channel: str) -> str:
        key = uuid.uuid4().hex
        sender.action(blocks.DETAILS_ACTION, REPLICA, channel=channel, response_url=slack.response_url(key))
        reply = slack.wait_for(lambda: next((r for r in slack.responses if r["key"] == key), None))
        return shown(reply)

    outside = details(PUBLIC)
    assert "2 votes" in outside and leaked(outside) == []
    inside = details(PRIVATE)
    assert "5 votes" in inside and f"<#{PRIVATE}>" in inside


def home_after_saving(sender: SlackSender, slack: FakeSlack, user: str) -> str:
    """Save the discussed paper from the private channel, then open the Home tab: the view published."""
    key = uuid.uuid4().hex
    sender.action(blocks.SAVE_ACTION, REPLICA, user=user, channel=PRIVATE, response_url=slack.response_url(key))
    slack.wait_for(lambda: any(r["key"] == key for r in slack.responses))
    before = len(slack.calls_to("views.publish"))
    sender.event({"type": "app_home_opened", "user": user, "channel": "D0001", "tab": "home"})
    return json.dumps(slack.wait_for(lambda: slack.calls_to("views.publish")[before:])[0].params)


def test_the_home_tab_counts_a_private_channel_only_for_its_members(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    slack.channel_members[PRIVATE] = {"U0004", "U3", "U4", "U5"}
    for user in ("U0003", "U0008"):  # U0003 saved the paper from the private channel, then left; U0008 is in none
        view = home_after_saving(sender, slack, user)
        assert "Replica symmetry" in view  # their own saved paper, and the public channel's 2 votes
        assert "2 votes \\u00b7 1 reply" in view and leaked(view) == []
    member = home_after_saving(sender, slack, "U0004")
    assert "5 votes \\u00b7 3 replies" in member  # the test can fail: a member's tab counts the private channel


def test_a_share_votes_and_a_reply_arriving_as_events_stay_in_the_private_channel(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    def event(n: int, **fields: Any) -> dict[str, Any]:
        ts = f"1764190000.{n:06d}"
        return {"channel": PRIVATE, "channel_type": "group", "ts": ts, "event_ts": ts, **fields}

    shared = event(1, type="message", user="U0005", text=f"read this: https://arxiv.org/abs/{TRANSFORMER}")
    events = [
        shared,
        *(
            {
                "type": "reaction_added",
                "user": user,
                "reaction": "+1",
                "event_ts": f"1764190001.00000{n}",
                "item": {"type": "message", "channel": PRIVATE, "ts": shared["ts"]},
                "item_user": "U0005",
            }
            for n, user in enumerate(("U0006", "U0007"))
        ),
        event(4, type="message", user="U0006", text="our secret plan", thread_ts=shared["ts"]),
    ]
    for n, one in enumerate(events, start=1):
        assert sender.event(one).status_code == 200
        applied(slack, bot, n)  # before the next one: a vote must not overtake its share

    outside = shown(ask(sender, slack, f"show {TRANSFORMER}", channel=PUBLIC).answer)
    assert "Reducing the Transformer" in outside and "not posted or discussed here yet" in outside
    assert leaked(outside) == [] and "2 votes" not in outside
    assert TRANSFORMER not in [p["arxiv_id"] for p in exported(sender, slack, "all json", channel=PUBLIC)]
    inside = {p["arxiv_id"]: p for p in exported(sender, slack, "all json", channel=PRIVATE)}[TRANSFORMER]
    assert (inside["votes"], inside["replies"], inside["posts"][0]["channel"]) == (2, 1, PRIVATE)
    assert "secret plan" not in json.dumps(inside)  # exports count replies; their text never leaves the database


def stored_activity(bot: RunningBot) -> int:
    """Share posts, reactions and replies stored for the Transformer paper (events apply after the ack)."""
    with bot.deps.sessions.begin() as session:
        return sum(
            session.scalar(select(func.count()).select_from(model).where(model.arxiv_id == TRANSFORMER)) or 0
            for model in (Post, Reaction, Reply)
        )


def applied(slack: FakeSlack, bot: RunningBot, n: int) -> None:
    slack.wait_for(lambda: stored_activity(bot) >= n)
