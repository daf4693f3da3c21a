"""Catch-up after downtime (bot.reconcile): the loopback Slack holds reactions and replies the bot never heard of,
and reconciliation makes the stored state exactly Slack's, on both databases."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot import reconcile as reconciling
from bot.cli import cli
from bot.deps import Deps
from bot.reconcile import ReconcileReport, reconcile
from storage import votes
from storage.models import Post, Reaction, ReconcileRun, Reply, utcnow
from storage.papers import upsert_papers
from storage.posts import mark_post_deleted, record_post
from storage.reconcile import Changes
from storage.records import PaperRecord
from storage.votes import Activity, paper_activity
from tests.fakes.slack import BOT_ID, BOT_TOKEN, BOT_USER_ID, TEAM_ID, FakeSlack
from tests.running import bot_settings

CHANNEL, PRIVATE = "C0001", "G0001"
PAPERS = ("2410.13732", "2411.00001", "2411.00002")
FAST = 60_000  # calls a minute: pacing that costs the tests ~1 ms a call


@pytest.fixture
def deps(db_url: str, sessions: sessionmaker[Session], slack: FakeSlack) -> Deps:
    with sessions.begin() as session:
        upsert_papers(session=session, records=[PaperRecord(arxiv_id=a, title=f"Paper {a}") for a in PAPERS])
    return Deps.of(bot_settings(db_url, slack, reconcile_calls_per_minute=FAST), sessions)


def post(
    deps: Deps, slack: FakeSlack, arxiv_id: str = PAPERS[0], channel: str = CHANNEL, age: timedelta | None = None
) -> str:
    """A digest post of the paper, in Slack (by the bot) and in the database; its ts."""
    ts = slack.next_ts()
    slack.add_message(channel, ts, user=BOT_USER_ID, bot_id=BOT_ID, text=f"paper {arxiv_id}")
    with deps.sessions.begin() as session:
        row = record_post(session=session, team_id=TEAM_ID, channel_id=channel, ts=ts, arxiv_id=arxiv_id, kind="digest")
        if age is not None:
            row.created_at = utcnow() - age
    return ts


def seen(deps: Deps, arxiv_id: str = PAPERS[0]) -> Activity:
    with deps.sessions.begin() as session:
        return paper_activity(session=session, team_id=TEAM_ID, arxiv_id=arxiv_id, vote_emoji=deps.settings.vote_emoji)


def replies(deps: Deps) -> dict[str, tuple[str, bool, bool]]:
    """ts → (text, edited, deleted) of every stored reply."""
    with deps.sessions.begin() as session:
        return {r.ts: (r.text, r.edited, r.deleted) for r in session.scalars(select(Reply))}


def run(deps: Deps, **kwargs: Any) -> ReconcileReport:
    return reconcile(deps, token=BOT_TOKEN, **kwargs)


def test_missed_reactions_and_replies_are_caught_up_exactly_and_a_second_run_changes_nothing(
    deps: Deps, slack: FakeSlack
) -> None:
    ts = post(deps, slack)
    for user, emoji in [("U1", "+1"), ("U2", "+1"), ("U2", "fire"), ("U3", "+1::skin-tone-2"), (BOT_USER_ID, "+1")]:
        slack.react(CHANNEL, ts, user, emoji)
    first = slack.reply(CHANNEL, ts, "U1", "great paper")
    slack.reply(CHANNEL, ts, "U2", "agreed", subtype="thread_broadcast")
    slack.reply(CHANNEL, ts, BOT_USER_ID, "the bot's own note", bot_id=BOT_ID)
    slack.reply(CHANNEL, ts, "U9", "another bot", bot_id="B999", subtype="bot_message")
    secret = post(deps, slack, PAPERS[1], channel=PRIVATE)  # a private channel the bot is in counts too
    slack.react(PRIVATE, secret, "U4", "heart")

    report = run(deps)
    assert (
        report.summary()
        == "reconciled 2 posts in 2 channels: +5 reactions, -0 reactions, +2 replies, 0 edited, 0 deleted"
    )
    shown = seen(deps)
    assert (shown.votes, shown.reactions, shown.replies) == (3, {"+1": 3, "fire": 1}, 2)
    assert seen(deps, PAPERS[1]).votes == 1
    assert replies(deps)[first] == ("great paper", False, False)
    assert all(c.params.get("full") in ("true", "1", True) for c in slack.calls_to("reactions.get"))

    again = run(deps)
    assert again.changes == Changes() and again.posts == 2
    assert seen(deps) == shown


def test_what_changed_in_slack_while_down_is_removed_edited_and_deleted(deps: Deps, slack: FakeSlack) -> None:
    ts = post(deps, slack)
    slack.react(CHANNEL, ts, "U1", "+1")
    slack.react(CHANNEL, ts, "U2", "+1")
    kept, edited, gone = (
        slack.reply(CHANNEL, ts, user, text) for user, text in [("U1", "a"), ("U2", "b"), ("U3", "c")]
    )
    run(deps)
    with deps.sessions.begin() as session:  # a vote the bot heard of long ago that Slack no longer has
        key = votes.ReactionKey(TEAM_ID, CHANNEL, ts, "U5", "fire")
        votes.add_reaction(session=session, key=key, arxiv_id=PAPERS[0], event_ts="1700000000.000100")

    slack.unreact(CHANNEL, ts, "U2", "+1")
    slack.edit(CHANNEL, edited, "b, revised")
    slack.delete(CHANNEL, gone)
    report = run(deps)

    assert (
        report.summary()
        == "reconciled 1 post in 1 channel: +0 reactions, -2 reactions, +0 replies, 1 edited, 1 deleted"
    )
    shown = seen(deps)
    assert (shown.votes, shown.reactions, shown.replies) == (1, {"+1": 1}, 2)
    assert replies(deps) == {kept: ("a", False, False), edited: ("b, revised", True, False), gone: ("", False, True)}


def test_every_page_of_a_long_thread_is_read(deps: Deps, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconciling, "REPLIES_PAGE", 2)
    ts = post(deps, slack)
    for n in range(5):
        slack.reply(CHANNEL, ts, f"U{n}", f"reply {n}")
    assert run(deps).changes.replies_added == 5
    pages = slack.calls_to("conversations.replies")
    assert [c.params.get("cursor") for c in pages] == [None, "2", "4"]
    assert seen(deps).replies == 5


def test_a_429_is_waited_out_for_as_long_as_slack_asks(deps: Deps, slack: FakeSlack) -> None:
    ts = post(deps, slack)
    slack.react(CHANNEL, ts, "U1", "+1")
    slack.fail_next("reactions.get", status=429, retry_after=7)
    waits: list[float] = []
    assert run(deps, sleep=waits.append).changes.reactions_added == 1
    assert len(slack.calls_to("reactions.get")) == 2  # the limited call, then its retry
    assert 7.0 in waits and all(w <= 7.0 for w in waits)


def test_calls_are_paced_to_the_configured_rate(deps: Deps, slack: FakeSlack) -> None:
    for paper in PAPERS:
        post(deps, slack, paper)
    slow = Deps.of(deps.settings.model_copy(update={"reconcile_calls_per_minute": 30.0}), deps.sessions)
    waits: list[float] = []
    assert run(slow, sleep=waits.append).posts == 3
    # Two methods, three calls each: every call after a method's first waits its turn (up to 2 s at 30 a minute).
    assert len([w for w in waits if w > 1.0]) == 4


def test_an_interrupted_run_resumes_where_it_stopped(deps: Deps, slack: FakeSlack) -> None:
    posts = [post(deps, slack, paper) for paper in PAPERS]
    for ts in posts:
        slack.react(CHANNEL, ts, "U1", "+1")

    def fail_after_first(done: int, total: int) -> None:
        if done == 1:
            slack.fail_next("reactions.get", error="fatal_error")

    with pytest.raises(Exception, match="fatal_error"):
        run(deps, on_post=fail_after_first)
    assert seen(deps, PAPERS[0]).votes == 1 and seen(deps, PAPERS[1]).votes == 0
    asked_before = len(slack.calls_to("reactions.get"))

    report = run(deps)
    assert report.resumed and report.posts == 2  # the first post is not asked about again
    assert [c.params["timestamp"] for c in slack.calls_to("reactions.get")[asked_before:]] == posts[1:]
    assert [seen(deps, paper).votes for paper in PAPERS] == [1, 1, 1]
    assert not run(deps).resumed  # a finished run: the next starts over


def test_a_run_interrupted_long_ago_starts_over(deps: Deps, slack: FakeSlack) -> None:
    for paper in PAPERS:
        post(deps, slack, paper)
    run(deps)
    with deps.sessions.begin() as session:  # a run that stopped after its first post, two hours ago
        first = session.scalars(select(Post.id).order_by(Post.id)).first()
        session.execute(
            update(ReconcileRun).values(cursor=first, finished_at=None, heartbeat_at=utcnow() - timedelta(hours=2))
        )
    report = run(deps)
    assert not report.resumed and report.posts == 3


def test_a_post_slack_no_longer_has_is_skipped_and_the_rest_goes_on(deps: Deps, slack: FakeSlack) -> None:
    gone, kept = post(deps, slack), post(deps, slack, PAPERS[1])
    slack.delete(CHANNEL, gone)
    slack.react(CHANNEL, kept, "U1", "+1")
    report = run(deps)
    assert report.summary().endswith("(1 post Slack would not show skipped; 1 deleted post marked deleted)")
    assert report.posts == 1 and seen(deps, PAPERS[1]).votes == 1


def test_only_posts_of_the_last_days_are_reconciled(deps: Deps, slack: FakeSlack) -> None:
    old = post(deps, slack, age=timedelta(days=20))
    slack.react(CHANNEL, old, "U1", "+1")
    assert run(deps).posts == 0  # the default 14 days
    assert run(deps, days=30).posts == 1
    assert seen(deps).votes == 1


def test_paperbot_reconcile_days_3_prints_one_line(
    deps: Deps, slack: FakeSlack, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    recent, old = post(deps, slack), post(deps, slack, PAPERS[1], age=timedelta(days=5))
    for ts in (recent, old):
        slack.react(CHANNEL, ts, "U1", "+1")
        slack.reply(CHANNEL, ts, "U2", "nice")
    env = {
        "DATABASE_URL": db_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": slack.url,
        "PAPERBOT_RECONCILE_CALLS_PER_MINUTE": str(FAST),
    }
    invoke: Callable[..., Any] = CliRunner().invoke
    result = invoke(cli, ["reconcile", "--days", "3"], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "reconciled 1 post in 1 channel: +1 reaction, -0 reactions, +1 reply, 0 edited, 0 deleted"
    )
    assert (seen(deps).votes, seen(deps, PAPERS[1]).votes) == (1, 0)

    slack.fail_next("auth.test", error="invalid_auth")
    refused = invoke(cli, ["reconcile"], env=env)
    assert refused.exit_code == 1 and "paperbot:" in refused.output and "Traceback" not in refused.output


def test_a_stop_request_ends_the_run_after_its_current_post_and_the_next_run_resumes(
    deps: Deps, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconciling, "_stopping", threading.Event())  # SIGTERM in `serve` sets the process's one
    for paper in PAPERS:
        slack.react(CHANNEL, post(deps, slack, paper), "U1", "+1")
    first = run(deps, on_post=lambda done, total: reconciling.request_stop())
    assert first.posts == 1
    reconciling._stopping.clear()
    second = run(deps)
    assert second.resumed and second.posts == 2
    assert [seen(deps, paper).votes for paper in PAPERS] == [1, 1, 1]


def stored_rows(deps: Deps) -> tuple[int, int]:
    """(reactions, replies) stored, whether they count or not."""
    with deps.sessions.begin() as session:
        return (
            session.scalar(select(func.count()).select_from(Reaction)) or 0,
            session.scalar(select(func.count()).select_from(Reply)) or 0,
        )


def test_a_post_deleted_while_the_bot_was_down_is_marked_deleted_and_keeps_its_rows(
    deps: Deps, slack: FakeSlack
) -> None:
    ts = post(deps, slack)
    slack.react(CHANNEL, ts, "U1", "+1")
    slack.reply(CHANNEL, ts, "U2", "nice")
    assert run(deps).posts == 1 and (seen(deps).votes, seen(deps).replies) == (1, 1)
    slack.delete(CHANNEL, ts)  # e.g. a digest message someone deleted: Bolt drops that event (the bot's own)
    report = run(deps)
    assert report.summary().endswith("(1 post Slack would not show skipped; 1 deleted post marked deleted)")
    shown = seen(deps)
    assert (shown.votes, shown.replies, shown.channels) == (0, 0, [])
    assert stored_rows(deps) == (1, 1)  # nothing destroyed
    with deps.sessions.begin() as session:
        assert session.scalars(select(Post.deleted).where(Post.ts == ts)).one() is True


def test_a_deleted_post_is_never_read_again_nor_brought_back(deps: Deps, slack: FakeSlack) -> None:
    ts = post(deps, slack)
    slack.react(CHANNEL, ts, "U1", "+1")
    run(deps)
    with deps.sessions.begin() as session:
        assert mark_post_deleted(session=session, team_id=TEAM_ID, channel_id=CHANNEL, ts=ts)
    slack.unreact(CHANNEL, ts, "U1", "+1")  # what Slack shows of it now would empty its stored reactions
    slack.react(CHANNEL, ts, "U3", "+1")
    calls = len(slack.calls_to("reactions.get"))
    report = run(deps)
    assert report.posts == 0 and report.changes == Changes()
    assert len(slack.calls_to("reactions.get")) == calls
    assert seen(deps).votes == 0 and stored_rows(deps) == (1, 0)
