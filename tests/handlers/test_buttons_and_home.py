"""The digest's buttons and the Home tab, clicked through the bot's real HTTP endpoint."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from slack_bolt import BoltContext
from sqlalchemy import func, select

from bot import blocks
from bot.deps import make_client
from bot.sources.sample import sample_records
from handlers.home import home_opened
from storage.models import Post, Reaction, Reply, SavedPaper
from storage.papers import upsert_papers
from tests.fakes.slack import BOT_TOKEN, TEAM_ID, FakeSlack, SlackSender
from tests.running import RunningBot

DAY = date(2026, 11, 24)
PAPER = "2410.13732"  # "Reducing the Transformer Architecture to a Minimum", in the bundled sample


@pytest.fixture(autouse=True)
def papers(bot: RunningBot) -> None:
    with bot.deps.sessions.begin() as session:
        upsert_papers(session=session, records=sample_records(DAY))


def click(sender: SlackSender, slack: FakeSlack, action: str, value: str, *, user: str = "U0001") -> dict[str, Any]:
    """Click a button and return the private reply the bot sent to the click's response_url."""
    key = f"{action}-{value}-{user}-{len(slack.responses)}"
    response = sender.action(action, value, user=user, response_url=slack.response_url(key))
    assert response.status_code == 200  # acked
    return slack.wait_for(lambda: next((r for r in slack.responses if r["key"] == key), None))


def saved_count(bot: RunningBot, user: str = "U0001") -> int:
    with bot.deps.sessions.begin() as session:
        return session.scalar(select(func.count()).select_from(SavedPaper).where(SavedPaper.user_id == user)) or 0


def test_save_puts_the_paper_on_my_list_once(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    first = click(sender, slack, blocks.SAVE_ACTION, PAPER)
    assert first["response_type"] == "ephemeral" and first["replace_original"] is False
    assert "Saved" in first["text"] and "Reducing the Transformer" in first["text"]
    second = click(sender, slack, blocks.SAVE_ACTION, PAPER)
    assert "already on your reading list" in json.dumps(second["blocks"])
    assert saved_count(bot) == 1


def test_show_details_has_the_abstract_and_the_teams_activity(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    with bot.deps.sessions.begin() as session:
        session.add(Post(team_id=TEAM_ID, channel_id="C0001", ts="1.1", arxiv_id=PAPER, kind="digest"))
        for user, emoji in [("U1", "+1"), ("U1", "fire"), ("U2", "fire"), ("U3", "eyes")]:
            session.add(
                Reaction(
                    team_id=TEAM_ID, channel_id="C0001", message_ts="1.1", user_id=user, emoji=emoji, arxiv_id=PAPER
                )
            )
        session.add(
            Reply(
                team_id=TEAM_ID,
                channel_id="C0001",
                thread_ts="1.1",
                ts="1.2",
                user_id="U2",
                text="nice",
                arxiv_id=PAPER,
            )
        )
        session.add(
            Reply(
                team_id=TEAM_ID,
                channel_id="C0001",
                thread_ts="1.1",
                ts="1.3",
                user_id="U3",
                text="gone",
                deleted=True,
                arxiv_id=PAPER,
            )
        )
    reply = click(sender, slack, blocks.DETAILS_ACTION, PAPER)
    shown = json.dumps(reply["blocks"])
    assert reply["response_type"] == "ephemeral"
    assert "saving up to 90% of parameters" in shown  # the abstract's last sentence: the whole abstract
    assert "Team: 2 votes" in shown  # U1 and U2 voted; U3's :eyes: is not a vote emoji
    assert "1 reply" in shown  # the deleted reply does not count
    assert "<#C0001>" in shown
    blocks.validate({k: reply[k] for k in ("text", "blocks")})


def test_buttons_for_an_unknown_paper_answer_kindly(sender: SlackSender, slack: FakeSlack, bot: RunningBot) -> None:
    for action in (blocks.SAVE_ACTION, blocks.DETAILS_ACTION):
        reply = click(sender, slack, action, "9999.99999")
        assert "I don't know the paper 9999.99999" in reply["text"]
    assert saved_count(bot) == 0


def test_home_tab_lists_saved_papers_and_remove_redraws_it(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    click(sender, slack, blocks.SAVE_ACTION, PAPER)
    sender.event({"type": "app_home_opened", "user": "U0001", "channel": "D0001", "tab": "home"})
    published = slack.wait_for(lambda: slack.calls_to("views.publish"))
    view = published[0].params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert published[0].params["user_id"] == "U0001"
    assert "Reducing the Transformer Architecture" in json.dumps(view["blocks"])

    sender.action(blocks.UNSAVE_ACTION, PAPER, user="U0001")
    again = slack.wait_for(lambda: calls if len(calls := slack.calls_to("views.publish")) >= 2 else None)
    view = again[1].params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert "Nothing saved yet" in json.dumps(view["blocks"])
    assert saved_count(bot) == 0


def test_messages_tab_publishes_nothing(bot: RunningBot, slack: FakeSlack) -> None:
    # Called directly (synchronously) so "nothing happened" is not a race with Bolt's worker threads.
    client = make_client(bot.deps.settings, BOT_TOKEN)
    home_opened(
        event={"type": "app_home_opened", "user": "U0001", "tab": "messages"},
        body={"team_id": TEAM_ID},
        client=client,
        context=BoltContext(deps=bot.deps),
    )
    assert slack.calls_to("views.publish") == []
    home_opened(
        event={"type": "app_home_opened", "user": "U0001", "tab": "home"},
        body={"team_id": TEAM_ID},
        client=client,
        context=BoltContext(deps=bot.deps),
    )
    assert len(slack.calls_to("views.publish")) == 1
