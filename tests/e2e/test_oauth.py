"""Multi-workspace installs (OAuth v2), through the real HTTP endpoint and the loopback Slack, on both databases.

A workspace installs paperbot with "Add to Slack" (`GET /slack/install`, then Slack's redirect to
`/slack/oauth_redirect` with a code that oauth.v2.access exchanges for the workspace's bot token); its requests
are then answered with its own token, its activity stays its own, and uninstalling stops its digests and (with
PAPERBOT_PURGE_ON_UNINSTALL) deletes its data. One-workspace mode (SLACK_BOT_TOKEN) ignores other workspaces."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlalchemy import func, select

from bot.deps import make_client
from bot.installs import BOT_SCOPES
from bot.scheduler import install_context, job_id, run_scheduled_digest, start_scheduler
from storage.channels import update_channel
from storage.models import InboxEvent, Post, Reaction
from storage.papers import upsert_papers
from storage.posts import record_post
from storage.records import PaperRecord
from tests.fakes.slack import BOT_TOKEN, BOT_USER_ID, TEAM_ID, FakeSlack, SlackSender
from tests.running import RunningBot, bot_settings, running_bot

OTHER = "T0002"
OTHER_TOKEN = "xoxb-other-workspace"
CLIENT_ID = "1111.2222"
PAPER = "2501.00001"
CHANNEL = "C0001"


def oauth_settings(db_url: str, slack: FakeSlack, **overrides: object) -> Any:
    return bot_settings(
        db_url,
        slack,
        slack_bot_token=None,
        slack_client_id=CLIENT_ID,
        slack_client_secret="client-secret",
        slack_authorize_url="https://slack.example/oauth/v2/authorize",
        **overrides,
    )


@pytest.fixture
def multi(db_url: str, slack: FakeSlack) -> Iterator[RunningBot]:
    with running_bot(oauth_settings(db_url, slack)) as running:
        yield running


def install(bot: RunningBot, slack: FakeSlack, team_id: str, token: str, code: str = "code-1") -> httpx.Response:
    """Someone clicks "Add to Slack", approves in Slack, and Slack sends the browser back with a code."""
    browser = httpx.Client(base_url=bot.url, follow_redirects=False)
    page = browser.get("/slack/install")
    assert page.status_code == 200, page.text
    link = re.search(r'href="(https://slack\.example/oauth/v2/authorize\?[^"]+)"', page.text)
    assert link, page.text
    query = parse_qs(urlparse(link.group(1).replace("&amp;", "&")).query)
    assert query["client_id"] == [CLIENT_ID]
    assert set(query["scope"][0].split(",")) == set(BOT_SCOPES)
    slack.installable(code, team_id=team_id, token=token)
    # The state cookie is `Secure` (production is https): the browser sends it back, which httpx won't over http.
    cookie = page.headers["set-cookie"].split(";")[0]
    assert cookie.startswith("slack-app-oauth-state=")
    back = browser.get(
        "/slack/oauth_redirect", params={"code": code, "state": query["state"][0]}, headers={"Cookie": cookie}
    )
    browser.close()
    return back


def sender_for(bot: RunningBot, team_id: str) -> SlackSender:
    return SlackSender(bot.url + "/slack/events", team_id=team_id)


def vote(sender: SlackSender, user: str, ts: str = "1700000000.000100") -> None:
    event = {
        "type": "reaction_added",
        "user": user,
        "reaction": "+1",
        "item": {"type": "message", "channel": CHANNEL, "ts": ts},
        "item_user": BOT_USER_ID,
        "event_ts": "1700000100.000100",
    }
    assert sender.event(event).status_code == 200


def response_for(slack: FakeSlack, key: str) -> dict[str, Any] | None:
    return next((r for r in slack.responses if r["key"] == key), None)


def seed_post(bot: RunningBot, team_id: str, ts: str = "1700000000.000100") -> None:
    with bot.deps.sessions.begin() as session:
        upsert_papers(session=session, records=[PaperRecord(arxiv_id=PAPER, title="Shared Paper")])
        record_post(session=session, team_id=team_id, channel_id=CHANNEL, ts=ts, arxiv_id=PAPER, kind="digest")


def test_install_stores_the_workspace_token_and_its_requests_are_answered_with_it(
    multi: RunningBot, slack: FakeSlack
) -> None:
    back = install(multi, slack, OTHER, OTHER_TOKEN)
    assert back.status_code == 200, back.text
    assert multi.deps.installs is not None and multi.deps.installs.token(OTHER) == OTHER_TOKEN
    assert [c.params.get("code") for c in slack.calls_to("oauth.v2.access")] == ["code-1"]
    sender = sender_for(multi, OTHER)
    try:
        assert sender.command("help").status_code == 200
        assert sender.event({"type": "app_home_opened", "user": "U0001", "channel": "D0001", "tab": "home"}).is_success
        published = slack.wait_for(lambda: slack.calls_to("views.publish"))
    finally:
        sender.close()
    assert [call.token for call in published] == [OTHER_TOKEN]


def test_a_replayed_or_forged_redirect_installs_nothing(multi: RunningBot, slack: FakeSlack) -> None:
    slack.installable("code-2", team_id=OTHER, token=OTHER_TOKEN)
    forged = httpx.get(multi.url + "/slack/oauth_redirect", params={"code": "code-2", "state": "made-up"})
    assert forged.status_code >= 400
    assert multi.deps.installs is not None and multi.deps.installs.token(OTHER) is None
    assert not slack.calls_to("oauth.v2.access")


def test_a_workspace_that_never_installed_gets_no_answer_and_nothing_is_stored(
    multi: RunningBot, slack: FakeSlack
) -> None:
    stranger = sender_for(multi, "T0STRANGER")
    try:
        vote(stranger, "U0001")
        reply = stranger.command("help", response_url=slack.response_url("stranger"))
    finally:
        stranger.close()
    assert reply.status_code == 200 and "/papers digest" not in reply.text
    said = slack.wait_for(partial(response_for, slack, "stranger"))
    assert "reinstall this app" in said["text"]
    multi.workers.drain()
    with multi.deps.sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(Reaction)) == 0


def test_two_workspaces_never_see_each_others_votes(multi: RunningBot, slack: FakeSlack) -> None:
    assert install(multi, slack, TEAM_ID, BOT_TOKEN, code="code-a").status_code == 200
    assert install(multi, slack, OTHER, OTHER_TOKEN, code="code-b").status_code == 200
    seed_post(multi, TEAM_ID)
    seed_post(multi, OTHER)
    ours, theirs = sender_for(multi, TEAM_ID), sender_for(multi, OTHER)
    try:
        for user in ("U0001", "U0002", "U0003"):
            vote(ours, user)
        vote(theirs, "U0009")
        multi.workers.drain()
        answers = {}
        for team, sender in (("ours", ours), ("theirs", theirs)):
            acked = sender.command(f"show {PAPER}", response_url=slack.response_url(team))
            # in the ack itself when it is ready in time (bot.lanes.answer_in_ack), else at the response_url
            answers[team] = acked.json() if acked.content else slack.wait_for(partial(response_for, slack, team))
    finally:
        ours.close()
        theirs.close()
    assert "3 votes" in str(answers["ours"]) and "1 vote" not in str(answers["ours"])
    assert "1 vote" in str(answers["theirs"]) and "3 votes" not in str(answers["theirs"])


@pytest.mark.parametrize("purge", [False, True])
def test_uninstall_forgets_the_token_stops_its_digests_and_purges_per_the_setting(
    db_url: str, slack: FakeSlack, purge: bool
) -> None:
    settings = oauth_settings(db_url, slack, purge_on_uninstall=purge)
    with running_bot(settings) as bot:
        assert install(bot, slack, OTHER, OTHER_TOKEN).status_code == 200
        assert install(bot, slack, TEAM_ID, BOT_TOKEN, code="code-ours").status_code == 200
        seed_post(bot, OTHER)
        seed_post(bot, TEAM_ID)
        with bot.deps.sessions.begin() as session:
            for team in (OTHER, TEAM_ID):
                update_channel(session=session, team_id=team, channel_id=CHANNEL, digest_enabled=True)
        scheduler = start_scheduler(deps=bot.deps, client=make_client(settings), start_paused=True)
        try:
            assert scheduler.get_job(job_id(OTHER, CHANNEL)) is not None
            leaving = sender_for(bot, OTHER)
            try:
                vote(leaving, "U0001")
                bot.workers.drain()
                assert leaving.event({"type": "app_uninstalled"}).status_code == 200
            finally:
                leaving.close()
            installs = bot.deps.installs
            assert installs is not None
            # Acked first, applied on the events' pool: wait for its effect.
            slack.wait_for(lambda: True if scheduler.get_job(job_id(OTHER, CHANNEL)) is None else None)
            assert installs.token(OTHER) is None and installs.token(TEAM_ID) == BOT_TOKEN
            assert scheduler.get_job(job_id(TEAM_ID, CHANNEL)) is not None
        finally:
            scheduler.shutdown(wait=False)
            install_context(None)
        with bot.deps.sessions.begin() as session:
            theirs = session.scalar(select(func.count()).select_from(Post).where(Post.team_id == OTHER))
            ours = session.scalar(select(func.count()).select_from(Post).where(Post.team_id == TEAM_ID))
            their_events = session.scalar(
                select(func.count()).select_from(InboxEvent).where(InboxEvent.team_id == OTHER)
            )
    assert ours == 1
    assert (theirs, their_events == 0) == ((0, True) if purge else (1, False))


def test_one_workspace_mode_ignores_requests_from_other_workspaces(bot: RunningBot, slack: FakeSlack) -> None:
    seed_post(bot, TEAM_ID)
    stranger = sender_for(bot, OTHER)
    try:
        vote(stranger, "U0001")
        reply = stranger.command("help")
    finally:
        stranger.close()
    assert reply.status_code == 200 and not reply.content
    bot.workers.drain()
    with bot.deps.sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(Reaction)) == 0
        assert session.scalar(select(func.count()).select_from(InboxEvent)) == 0


def test_a_digest_for_a_workspace_whose_token_slack_refuses_counts_as_an_uninstall(
    db_url: str, slack: FakeSlack
) -> None:
    """The app_uninstalled event was lost (no replica up): the next digest finds the token dead and cleans up."""
    settings = oauth_settings(db_url, slack)
    with running_bot(settings) as bot:
        assert install(bot, slack, OTHER, OTHER_TOKEN).status_code == 200
        with bot.deps.sessions.begin() as session:
            update_channel(session=session, team_id=OTHER, channel_id=CHANNEL, digest_enabled=True)
        scheduler = start_scheduler(deps=bot.deps, client=make_client(settings), start_paused=True)
        try:
            assert scheduler.get_job(job_id(OTHER, CHANNEL)) is not None
            slack.tokens.discard(OTHER_TOKEN)  # removed from the workspace while nobody listened
            status = run_scheduled_digest(OTHER, CHANNEL)
            assert scheduler.get_job(job_id(OTHER, CHANNEL)) is None
        finally:
            scheduler.shutdown(wait=False)
            install_context(None)
        assert bot.deps.installs is not None and bot.deps.installs.token(OTHER) is None
    assert status == f"workspace {OTHER} uninstalled paperbot: its digest jobs are removed"
    assert not slack.calls_to("chat.postMessage")
