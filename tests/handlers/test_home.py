"""The Home tab through the bot's real signed endpoint, on both databases: opened (app_home_opened) and redrawn in
place by its buttons (block_actions from the view), each drawing checked as valid Block Kit for a Home view."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot import blocks
from storage.channels import update_channel
from storage.models import Paper, Post, Reaction, Reply, SavedPaper, utcnow
from storage.subscriptions import add_subscription
from tests.fakes.slack import TEAM_ID, FakeSlack, SlackSender
from tests.running import RunningBot

ME, MEMBER = "U0001", "U0002"
PUBLIC, PRIVATE = "CPUB0001", "GPRIV001"


def views_for(slack: FakeSlack, user: str) -> list[dict[str, Any]]:
    """Every view published to `user`'s Home tab, oldest first."""
    views = []
    for call in slack.calls_to("views.publish"):
        if call.params.get("user_id") == user:
            view = call.params["view"]
            views.append(json.loads(view) if isinstance(view, str) else view)
    return views


def next_view(slack: FakeSlack, user: str, before: int) -> dict[str, Any]:
    """The view published to `user` after the `before` they had, checked valid for Slack."""
    view = slack.wait_for(lambda: v[before] if len(v := views_for(slack, user)) > before else None)
    blocks.validate_view(view)
    return view


def open_home(sender: SlackSender, slack: FakeSlack, user: str = ME) -> dict[str, Any]:
    before = len(views_for(slack, user))
    response = sender.event({"type": "app_home_opened", "user": user, "channel": "D0001", "tab": "home"})
    assert response.status_code == 200
    return next_view(slack, user, before)


def press(
    sender: SlackSender, slack: FakeSlack, view: dict[str, Any], action_id: str, value: str, user: str = ME
) -> dict[str, Any]:
    """Press a button on a published Home view, as Slack sends it (the view, with its private_metadata)."""
    before = len(views_for(slack, user))
    payload = {
        "type": "block_actions",
        "user": {"id": user, "team_id": TEAM_ID},
        "team": {"id": TEAM_ID, "domain": "fake"},
        "api_app_id": "A0001",
        "container": {"type": "view", "view_id": "V1"},
        "trigger_id": "1.2.3",
        "view": {"id": "V1", "type": "home", "private_metadata": view["private_metadata"], "blocks": view["blocks"]},
        "actions": [{"action_id": action_id, "block_id": "b", "value": value, "type": "button", "action_ts": "1"}],
    }
    response = sender.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")
    assert response.status_code == 200
    return next_view(slack, user, before)


def text_of(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def add_paper(bot: RunningBot, arxiv_id: str, title: str, thumbnail: str | None = None) -> None:
    with bot.deps.sessions.begin() as session:
        session.add(Paper(arxiv_id=arxiv_id, title=title, authors=["Ada Lovelace"], thumbnail=thumbnail))


def post(
    bot: RunningBot, channel: str, ts: str, arxiv_id: str, voters: list[str], *, ago: timedelta | None = None
) -> None:
    """A paper's post in a channel (made `ago` ago) with a :+1: from each voter."""
    with bot.deps.sessions.begin() as session:
        created = utcnow() - (ago or timedelta(hours=1))
        session.add(
            Post(team_id=TEAM_ID, channel_id=channel, ts=ts, arxiv_id=arxiv_id, kind="digest", created_at=created)
        )
        for user in voters:
            session.add(
                Reaction(
                    team_id=TEAM_ID, channel_id=channel, message_ts=ts, user_id=user, emoji="+1", arxiv_id=arxiv_id
                )
            )


def save(bot: RunningBot, arxiv_id: str, user: str = ME, at: datetime | None = None) -> None:
    with bot.deps.sessions.begin() as session:
        session.add(SavedPaper(team_id=TEAM_ID, user_id=user, arxiv_id=arxiv_id, created_at=at or utcnow()))


def read_at(bot: RunningBot, arxiv_id: str, user: str = ME) -> datetime | None:
    with bot.deps.sessions.begin() as session:
        return session.scalar(
            select(SavedPaper.read_at).where(SavedPaper.user_id == user, SavedPaper.arxiv_id == arxiv_id)
        )


def test_mark_read_and_unread_flip_persist_and_redraw_in_place(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    add_paper(bot, "2401.00001", "A paper to read")
    save(bot, "2401.00001")
    view = open_home(sender, slack)
    assert "A paper to read" in text_of(view) and ":new: unread" in text_of(view) and "1 unread" in text_of(view)

    view = press(sender, slack, view, blocks.READ_ACTION, "2401.00001")
    assert read_at(bot, "2401.00001") is not None
    assert ":white_check_mark: read" in text_of(view) and "0 unread" in text_of(view)
    assert blocks.UNREAD_ACTION in text_of(view) and blocks.READ_ACTION not in text_of(view)
    assert "0 unread" in text_of(open_home(sender, slack))  # stored, not just drawn

    view = press(sender, slack, view, blocks.UNREAD_ACTION, "2401.00001")
    assert read_at(bot, "2401.00001") is None and "1 unread" in text_of(view)

    view = press(sender, slack, view, blocks.READ_ACTION, "2401.99999")  # not on the list: nothing changes
    assert "1 unread" in text_of(view) and read_at(bot, "2401.00001") is None


def test_my_recent_votes_are_listed_and_nobody_elses(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    add_paper(bot, "2401.00001", "I voted on this")
    add_paper(bot, "2401.00002", "Someone else voted on this")
    post(bot, PUBLIC, "1.1", "2401.00001", [ME])
    post(bot, PUBLIC, "1.2", "2401.00002", [MEMBER])
    view = open_home(sender, slack)
    votes = part(view, "Your recent votes")
    assert ":+1: *<https://huggingface.co/papers/2401.00001|I voted on this>" not in votes  # not bold there
    assert ":+1: <https://huggingface.co/papers/2401.00001|I voted on this>" in votes and f"<#{PUBLIC}>" in votes
    assert "Someone else voted on this" not in votes


def part(view: dict[str, Any], heading: str) -> str:
    """The blocks of the view's part under the heading holding `heading` (up to the next heading), as text."""
    found, inside = [], False
    for block in view["blocks"]:
        if block["type"] == "header":
            inside = heading in block["text"]["text"]
            continue
        if inside:
            found.append(json.dumps(block, ensure_ascii=False))
    return "\n".join(found)


def test_top_this_week_counts_a_private_channel_only_for_its_members(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    slack.private_channels.add(PRIVATE)
    slack.channel_members[PRIVATE] = {MEMBER}
    add_paper(bot, "2401.00001", "Secret favourite")
    add_paper(bot, "2401.00002", "Public pick")
    add_paper(bot, "2401.00003", "Old news")
    post(bot, PRIVATE, "1.1", "2401.00001", ["U1", "U2", "U3"])
    post(bot, PUBLIC, "1.2", "2401.00002", ["U1"])
    post(bot, PUBLIC, "1.3", "2401.00003", ["U1", "U2", "U3", "U4"], ago=timedelta(days=8))
    with bot.deps.sessions.begin() as session:
        session.add(
            Reply(
                team_id=TEAM_ID,
                channel_id=PRIVATE,
                thread_ts="1.1",
                ts="1.9",
                user_id="U5",
                text="!",
                arxiv_id="2401.00001",
            )
        )
        update_channel(session=session, team_id=TEAM_ID, channel_id=PRIVATE, digest_enabled=True)

    outsider = part(open_home(sender, slack, ME), "top papers")
    assert "Public pick" in outsider and "1 vote · 0 replies" in outsider
    assert "Secret favourite" not in outsider and "Old news" not in outsider
    assert PRIVATE not in text_of(views_for(slack, ME)[-1])  # nor its digest, nor anything else of it

    member_view = open_home(sender, slack, MEMBER)
    member = part(member_view, "top papers")
    assert "Secret favourite" in member and "3 votes · 1 reply" in member and "Public pick" in member
    assert member.index("Secret favourite") < member.index("Public pick")  # ranked by votes
    assert f"<#{PRIVATE}> · next digest" in text_of(member_view)


def test_subscriptions_and_digest_channels_with_their_next_time(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    with bot.deps.sessions.begin() as session:
        add_subscription(
            session=session, team_id=TEAM_ID, user_id=ME, text="diffusion", filters={"keywords": ["diffusion"]}
        )
        update_channel(
            session=session,
            team_id=TEAM_ID,
            channel_id=PUBLIC,
            digest_enabled=True,
            digest_time="07:30",
            timezone="Asia/Tokyo",
            include_weekends=True,
        )
        update_channel(session=session, team_id=TEAM_ID, channel_id="COFF0001", digest_enabled=False)
    before = time.time()
    view = open_home(sender, slack)
    shown = text_of(view)
    assert "Your subscriptions" in shown and "1. `diffusion`" in shown
    assert "COFF0001" not in shown
    line = re.search(rf"<#{PUBLIC}> · next digest <!date\^(\d+)\^", shown)
    assert line is not None
    when = datetime.fromtimestamp(int(line.group(1)), ZoneInfo("Asia/Tokyo"))
    assert (when.hour, when.minute) == (7, 30)  # the channel's own clock, every day (weekends wanted)
    assert before - 60 < when.timestamp() <= before + 86400 + 60  # the next one: within a day
    assert "Asia/Tokyo" in shown


def test_a_person_with_no_subscriptions_sees_no_such_part(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    assert "Your subscriptions" not in text_of(open_home(sender, slack))


def test_a_long_reading_list_is_paged_and_buttons_keep_the_page(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    start = utcnow()
    for i in range(120):
        add_paper(bot, f"2401.{i:05d}", f"Saved paper number {i}")
        save(bot, f"2401.{i:05d}", at=start - timedelta(minutes=i))  # 0 is the newest
    first = open_home(sender, slack)
    assert len(first["blocks"]) <= 100 and "Page 1 of" in text_of(first)
    second = press(sender, slack, first, blocks.NEXT_ACTION, "1")
    assert second["private_metadata"] == "1" and "Page 2 of" in text_of(second)
    on_second = re.findall(r"Saved paper number (\d+)", text_of(second))
    assert on_second and not set(on_second) & set(re.findall(r"Saved paper number (\d+)", text_of(first)))

    marked = on_second[0]
    again = press(sender, slack, second, blocks.READ_ACTION, f"2401.{int(marked):05d}")
    assert again["private_metadata"] == "1"  # redrawn in place, on the page it was pressed on
    assert read_at(bot, f"2401.{int(marked):05d}") is not None
    back = press(sender, slack, again, blocks.PREVIOUS_ACTION, "0")
    assert back["private_metadata"] == "0" and "0" in re.findall(r"Saved paper number (\d+)", text_of(back))


def test_a_hostile_title_is_escaped_and_pictures_are_https_only(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    add_paper(bot, "2401.00001", "<!channel> & <https://evil.test|win> now", thumbnail="https://cdn.test/evil.png")
    add_paper(bot, "2401.00002", "Plain picture", thumbnail="http://cdn.test/plain.png")
    add_paper(bot, "2401.00003", "No picture")
    for n in (1, 2, 3):
        save(bot, f"2401.0000{n}")
    post(bot, PUBLIC, "1.1", "2401.00001", [ME])
    view = open_home(sender, slack)
    mrkdwn = [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]
    assert not any("<!channel>" in t or "<https://evil.test" in t for t in mrkdwn)
    assert any("&lt;!channel&gt; &amp;" in t for t in mrkdwn)
    images = [b["accessory"] for b in view["blocks"] if b.get("accessory", {}).get("type") == "image"]
    assert images and {i["image_url"] for i in images} == {"https://cdn.test/evil.png"}  # the top paper and the list
    assert len(images) == 2


@pytest.mark.parametrize("value", ["", "x" * 200, "not-a-paper"])
def test_an_odd_button_value_just_redraws(bot: RunningBot, sender: SlackSender, slack: FakeSlack, value: str) -> None:
    view = open_home(sender, slack)
    for action in (blocks.READ_ACTION, blocks.UNREAD_ACTION, blocks.NEXT_ACTION):
        view = press(sender, slack, view, action, value)
        assert "Your reading list" in text_of(view)
