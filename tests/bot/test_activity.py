"""bot.activity's own guard against the bot's reactions and messages, called directly: Bolt's IgnoringSelfEvents
middleware drops every event whose user (or bot_id) is the bot's before any listener runs, so the end-to-end tests
never reach it. It is what keeps the bot out should that middleware be turned off, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from bot import activity, shares
from bot.config import Settings
from bot.deps import Deps
from storage.db import make_sessions
from storage.models import Post, Reaction, Reply
from storage.papers import upsert_papers
from storage.posts import record_post
from storage.records import PaperRecord
from storage.votes import paper_activity

TEAM, CHANNEL, BOT, PERSON = "T1", "C1", "UBOT", "U1"
PAPER, POST_TS = "2410.13732", "1764150001.000001"


@pytest.fixture
def deps(engine: Engine, db_url: str) -> Deps:
    """What the listeners get, with one paper posted to CHANNEL."""
    sessions = make_sessions(engine)
    with sessions.begin() as session:
        upsert_papers(session=session, records=[PaperRecord(arxiv_id=PAPER, title="Thinking LLMs")])
        record_post(session=session, team_id=TEAM, channel_id=CHANNEL, ts=POST_TS, arxiv_id=PAPER, kind="digest")
    return Deps(
        settings=Settings(_env_file=None, database_url=db_url),
        engine=engine,
        sessions=sessions,
    )


def delivery(event_id: str) -> activity.Delivery:
    return activity.Delivery(team_id=TEAM, event_id=event_id, bot_user_id=BOT)


def count(deps: Deps, model: type[Reaction] | type[Reply] | type[Post]) -> int:
    with deps.sessions.begin() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_the_bots_own_reaction_is_not_stored(deps: Deps) -> None:
    for n, user in enumerate([BOT, PERSON]):
        change = activity.ReactionChange(
            channel_id=CHANNEL,
            message_ts=POST_TS,
            user_id=user,
            emoji="+1",
            event_ts=f"1764160000.00000{n}",
            added=True,
        )
        activity.record_reaction(deps, delivery(f"EvReact{n}"), change)
    with deps.sessions.begin() as session:
        assert session.scalars(select(Reaction.user_id)).all() == [PERSON]  # an export counts stored rows
        assert paper_activity(session=session, team_id=TEAM, arxiv_id=PAPER, vote_emoji=["+1"]).votes == 1


def test_the_bots_own_messages_without_a_bot_id_are_no_replies_and_no_shares(deps: Deps) -> None:
    # No bot_id, as a message the app posts with a user token looks: only the bot's user id tells it.
    reply = activity.Message(
        channel_id=CHANNEL,
        ts="1764160001.000001",
        thread_ts=POST_TS,
        user_id=BOT,
        text="Here is the abstract",
        from_bot=False,
    )
    share = activity.Message(
        channel_id=CHANNEL,
        ts="1764160002.000001",
        thread_ts=None,
        user_id=BOT,
        text="arxiv.org/abs/2410.13732",
        from_bot=False,
    )
    assert activity.message_posted(deps, delivery("EvReply"), reply) is activity.Outcome.IGNORED
    assert shares.message_posted(deps, delivery("EvShare"), share) is activity.Outcome.IGNORED
    assert shares.message_edited(deps, delivery("EvShareEdit"), share) is activity.Outcome.IGNORED
    assert (
        activity.message_edited(deps, delivery("EvEdit"), reply, edited_ts="1764160003.000001")
        is activity.Outcome.IGNORED
    )
    assert (count(deps, Reply), count(deps, Post)) == (0, 1)  # only the digest's post


def test_a_delete_that_overtakes_its_share_waits_for_it_and_then_marks_it(deps: Deps) -> None:
    shared = activity.Message(
        channel_id=CHANNEL,
        ts="1764160005.000001",
        thread_ts=None,
        user_id=PERSON,
        text="arxiv.org/abs/2410.13732",
        from_bot=False,
    )
    chatter = activity.Message(CHANNEL, "1764160006.000001", None, PERSON, "good morning", False)
    assert shares.message_deleted(deps, delivery("EvDelete"), shared) is activity.Outcome.NOT_KNOWN_YET
    assert shares.message_deleted(deps, delivery("EvDeleteChatter"), chatter) is activity.Outcome.IGNORED
    assert shares.message_posted(deps, delivery("EvShare"), shared) is activity.Outcome.CHANGED
    assert shares.message_deleted(deps, delivery("EvDelete"), shared) is activity.Outcome.CHANGED  # its retry
    assert shares.message_deleted(deps, delivery("EvDelete2"), shared) is activity.Outcome.UNCHANGED
    with deps.sessions.begin() as session:
        assert session.scalars(select(Post.deleted).where(Post.ts == shared.ts)).one() is True
