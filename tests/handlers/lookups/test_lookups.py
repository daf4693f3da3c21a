"""`/papers search|show|top|filter|help`, their buttons, and the same asked by @mention and in a DM, through the
bot's real signed HTTP endpoint with the loopback Slack, Hugging Face and arXiv, on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from storage.lookups import remember_privacy
from storage.models import ChannelPrivacy, Paper, Post, Reaction, utcnow
from storage.papers import get_papers
from tests.fakes.arxiv import FakeArxiv
from tests.fakes.hf import FakeHF
from tests.fakes.slack import BOT_USER_ID, TEAM_ID, FakeSlack, SlackSender
from tests.handlers.lookups.world import PRIVATE, PUBLIC, REPLICA, TRANSFORMER, shown
from tests.running import RunningBot


def papers(sender: SlackSender, slack: FakeSlack, text: str, *, channel: str = PUBLIC) -> dict[str, Any]:
    """Run `/papers <text>` and return the answer: the ack's own body, or what was sent to the response_url."""
    key = f"cmd-{len(slack.responses)}-{len(slack.calls)}"
    response = sender.command(text, channel=channel, response_url=slack.response_url(key))
    assert response.status_code == 200, response.text
    if response.content:
        body: dict[str, Any] = response.json()
        return body
    found: dict[str, Any] = slack.wait_for(lambda: next((r for r in slack.responses if r["key"] == key), None))
    return found


def test_a_typo_d_search_finds_the_paper_with_the_teams_activity_and_buttons(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    reply = papers(sender, slack, "search replica symetry braking")
    assert reply["response_type"] == "ephemeral"
    first = reply["blocks"][1]["text"]["text"]
    assert "Replica symmetry breaking in dense neural networks" in first
    assert "2021" in first and "Linda Albanese" in first
    assert "team: 2 votes, 1 reply" in first  # the private channel's 3 votes and 2 replies stay there
    assert PRIVATE not in shown(reply)
    assert "https://fake.slack.test/archives/C0001/p10" in shown(reply)  # the thread's permalink
    actions = [e["action_id"] for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {"lookup_show", "lookup_share"} <= set(actions)


def test_inside_the_private_channel_its_discussion_counts(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    reply = papers(sender, slack, f"show {REPLICA}", channel=PRIVATE)
    assert "5 votes (people)" in shown(reply) and "3 replies" in shown(reply)
    assert f"<#{PRIVATE}>" in shown(reply), shown(reply)


def test_an_arxiv_id_or_link_goes_straight_to_the_card(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    for text in (f"search arXiv:{REPLICA}v2", f"show https://huggingface.co/papers/{REPLICA}", f"search {REPLICA}"):
        reply = papers(sender, slack, text)
        assert "Replica symmetry breaking" in shown(reply), text
        assert f"arxiv.org/pdf/{REPLICA}" in shown(reply)
        assert "2 votes (people)" in shown(reply)


def mrkdwn(reply: dict[str, Any]) -> str:
    """The mrkdwn a person reads in a reply's blocks (sections and context elements), one block a line."""
    texts = []
    for block in reply.get("blocks") or []:
        if block["type"] == "section":
            texts.append(block["text"]["text"])
        elif block["type"] == "context":
            texts += [e["text"] for e in block["elements"] if "text" in e]
    return "\n".join(texts)


def test_the_show_card_has_reactions_by_emoji_code_and_project_links_and_each_thread_s_place_and_day(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    posted = datetime(2026, 3, 14, 21, 30, tzinfo=UTC)
    with bot.deps.sessions.begin() as session:
        session.execute(
            update(Paper)
            .where(Paper.arxiv_id == REPLICA)
            .values(github_repo="replica-lab/dense-rsb", project_page="https://replica.example/rsb")
        )
        session.execute(update(Post).where(Post.channel_id == PUBLIC, Post.ts == "1.0").values(created_at=posted))
        for user, emoji in (("U1", "eyes"), ("U2", "eyes"), ("U3", "tada"), ("U4", "+1")):
            session.add(
                Reaction(
                    team_id=TEAM_ID, channel_id=PUBLIC, message_ts="1.0", user_id=user, emoji=emoji, arxiv_id=REPLICA
                )
            )
    card = mrkdwn(papers(sender, slack, f"show {REPLICA}"))
    assert "*Team:* 3 votes (people) · 1 reply  :+1: 3 :eyes: 2 :tada: 1" in card, card  # most used emoji first
    assert "<https://github.com/replica-lab/dense-rsb|Code>" in card
    assert "<https://replica.example/rsb|Project page>" in card
    day = f"<!date^{int(posted.timestamp())}^{{date_short}}|2026-03-14>"
    thread = f"• <https://fake.slack.test/archives/{PUBLIC}/p10|digest thread> in <#{PUBLIC}>, {day} · 1 reply"
    assert thread in card.splitlines(), card
    assert PRIVATE not in card

    inside = mrkdwn(papers(sender, slack, f"show {REPLICA}", channel=PRIVATE)).splitlines()
    threads = [line for line in inside if line.startswith("• ")]
    assert len(threads) == 2 and threads[1] == thread  # the private thread, posted just now, comes first
    assert f"in <#{PRIVATE}>, <!date^" in threads[0] and threads[0].endswith(" · 2 replies")


def test_no_hit_says_so_and_suggests_the_nearest_titles(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    # The index, not the database scan that answers while it loads (that scan ranks every title, near or not).
    slack.wait_for(lambda: bot.deps.search.settled or None)
    reply = papers(sender, slack, "search zzzqqq xxyyzz author:nobody")
    assert reply["text"].startswith("No paper matches")
    assert "Nearest titles" not in mrkdwn(reply) and "Try fewer or other words" in mrkdwn(reply)  # nothing is near
    # The words find a paper that the terms rule out: its title is named, best first, three at most.
    near = papers(sender, slack, "search replica symmetry dense author:nobody")
    assert near["text"].startswith("No paper matches")
    said = mrkdwn(near)
    assert "\nNearest titles: _Replica symmetry breaking in dense neural networks_; _" in said, said
    assert said.count("; _") == 2


def test_show_of_an_unknown_paper_is_fetched_from_hugging_face_then_arxiv(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack, hf: FakeHF, fake_arxiv: FakeArxiv
) -> None:
    hf.set_paper("2502.00001", {"id": "2502.00001", "title": "Fresh From The Hub", "authors": [{"name": "Ada L."}]})
    assert "Fresh From The Hub" in shown(papers(sender, slack, "show 2502.00001"))
    fake_arxiv.add_paper("2502.00002", "Only On arXiv")
    assert "Only On arXiv" in shown(papers(sender, slack, "show 2502.00002"))
    with bot.deps.sessions.begin() as session:  # both are stored now
        assert get_papers(session=session, arxiv_ids=["2502.00001", "2502.00002"]).keys() == {
            "2502.00001",
            "2502.00002",
        }
    unknown = papers(sender, slack, "show 2502.09999")
    assert unknown["text"].startswith("I could not find arXiv 2502.09999")


def test_top_ranks_by_the_teams_votes_as_the_channel_may_see_them(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    with bot.deps.sessions.begin() as session:
        session.add(Post(team_id=TEAM_ID, channel_id=PUBLIC, ts="3.0", arxiv_id=TRANSFORMER, kind="share"))
        for user in ("U1", "U2", "U3"):
            session.add(
                Reaction(
                    team_id=TEAM_ID,
                    channel_id=PUBLIC,
                    message_ts="3.0",
                    user_id=user,
                    emoji="fire",
                    arxiv_id=TRANSFORMER,
                )
            )
    public = shown(papers(sender, slack, "top week"))
    assert public.index("Reducing the Transformer") < public.index("Replica symmetry")  # 3 votes beat 2
    private = shown(papers(sender, slack, "top all 5", channel=PRIVATE))
    assert private.index("Replica symmetry") < private.index("Reducing the Transformer")  # 5 votes inside


def test_filter_terms_combine_and_a_bad_term_is_named(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    reply = papers(sender, slack, "filter author:Albanese")
    assert "Replica symmetry" in shown(reply) and "Reducing the Transformer" not in shown(reply)
    assert "Replica symmetry" in shown(papers(sender, slack, "filter votes:>=2 discussed:yes"))
    assert "Replica symmetry" not in shown(papers(sender, slack, "filter votes:>=3"))  # 3 voters are private
    bad = papers(sender, slack, "filter votes:lots")
    assert bad["response_type"] == "ephemeral" and "`votes:`" in bad["text"]
    typo = papers(sender, slack, "filter autor:Albanese")
    assert "did you mean `author:`" in typo["text"]


def test_a_search_of_terms_alone_is_a_filter_and_sort_orders_it(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    found = shown(papers(sender, slack, "search author:Albanese"))
    assert "Replica symmetry" in found and "Papers matching those terms" in found
    by_upvotes = shown(papers(sender, slack, "search equivariant sort:upvotes"))
    assert by_upvotes.index("Flow Equivariant Recurrent") < by_upvotes.index("Frame Averaging")  # 1 upvote first


def test_a_channel_term_names_the_channel_by_the_id_slack_sends(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    assert "Replica symmetry" in shown(papers(sender, slack, f"filter channel:<#{PUBLIC}|papers>"))
    assert "Replica symmetry" not in shown(papers(sender, slack, f"filter channel:<#{PRIVATE}|secret>"))
    inside = shown(papers(sender, slack, f"filter channel:<#{PRIVATE}|secret>", channel=PRIVATE))
    assert "Replica symmetry" in inside


def test_filter_pages_with_a_more_button(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    first = papers(sender, slack, "filter since:2001-01-01")
    more = [
        e for b in first["blocks"] if b["type"] == "actions" for e in b["elements"] if e["action_id"] == "lookup_more"
    ]
    assert len(more) == 1
    key = "more-page"
    assert sender.action("lookup_more", more[0]["value"], response_url=slack.response_url(key)).status_code == 200
    second = slack.wait_for(lambda: next((r for r in slack.responses if r["key"] == key), None))
    assert second["replace_original"] is True
    assert "(page 2)" in shown(second) and "11." in shown(second)


def test_share_to_channel_posts_a_lookup_post_whose_votes_count(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    key = "share"
    assert (
        sender.action("lookup_share", TRANSFORMER, channel=PUBLIC, response_url=slack.response_url(key)).status_code
        == 200
    )
    slack.wait_for(lambda: slack.posted(PUBLIC))
    card = slack.posted(PUBLIC)[-1]
    assert "Reducing the Transformer" in json.dumps(card)

    def lookup_post() -> tuple[str, str, str] | None:
        with bot.deps.sessions.begin() as session:
            post = session.scalars(select(Post).where(Post.kind == "lookup")).one_or_none()
            return (post.arxiv_id, post.channel_id, post.ts) if post else None

    assert slack.wait_for(lookup_post) == (TRANSFORMER, PUBLIC, card["ts"])
    event = {
        "type": "reaction_added",
        "user": "U7",
        "reaction": "+1",
        "item": {"type": "message", "channel": PUBLIC, "ts": card["ts"]},
        "event_ts": "1764160000.000001",
    }
    assert sender.event(event).status_code == 200
    reply = slack.wait_for(lambda: "1 vote (people)" in shown(papers(sender, slack, f"show {TRANSFORMER}")) or None)
    assert reply


def test_share_flag_posts_the_answer_in_the_channel(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    assert sender.command(f"show {REPLICA} --share", channel=PUBLIC).status_code == 200
    slack.wait_for(lambda: slack.posted(PUBLIC))
    assert "Replica symmetry" in json.dumps(slack.posted(PUBLIC)[-1])


def test_help_lists_every_subcommand_and_a_misspelt_one_gets_a_suggestion(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    help_text = shown(papers(sender, slack, "help"))
    for sub in (
        "search",
        "show",
        "top",
        "filter",
        "subscribe",
        "unsubscribe",
        "subscriptions",
        "digest",
        "config",
        "export",
    ):
        assert f"/papers {sub}" in help_text
    assert "/papers search" in shown(papers(sender, slack, "help search"))
    assert "did you mean `search`?" in papers(sender, slack, "serch diffusion")["text"]


def test_an_at_mention_is_answered_in_its_thread_and_a_single_paper_is_a_lookup_post(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    mention = {
        "type": "app_mention",
        "user": "U0002",
        "channel": PUBLIC,
        "text": f"<@{BOT_USER_ID}> show {TRANSFORMER}",
        "ts": "1764170000.000100",
        "event_ts": "1764170000.000100",
    }
    assert sender.event(mention).status_code == 200
    answer = slack.wait_for(
        lambda: next((m for m in slack.posted(PUBLIC) if m.get("thread_ts") == mention["ts"]), None)
    )
    assert "Reducing the Transformer" in json.dumps(answer)

    def kind() -> str | None:  # recorded right after Slack answered the post
        with bot.deps.sessions.begin() as session:
            return session.scalars(select(Post.kind).where(Post.ts == answer["ts"])).one_or_none()

    assert slack.wait_for(kind) == "lookup"


def test_a_dm_to_the_bot_is_answered_in_the_dm(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    dm = {
        "type": "message",
        "channel_type": "im",
        "user": "U0002",
        "channel": "D0001",
        "text": "search transformer architecture minimum",
        "ts": "1764170001.000100",
        "event_ts": "1764170001.000100",
    }
    assert sender.event(dm).status_code == 200
    answer = slack.wait_for(lambda: slack.posted("D0001"))
    assert "Reducing the Transformer" in json.dumps(answer[-1])
    assert "thread_ts" not in answer[-1] or answer[-1]["thread_ts"] in (None, "")
    assert PRIVATE not in json.dumps(answer[-1])


def test_a_channel_slack_will_not_describe_counts_as_private(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    slack.unknown_channels.add("CGONE")
    with bot.deps.sessions.begin() as session:
        session.add(Post(team_id=TEAM_ID, channel_id="CGONE", ts="9.0", arxiv_id=TRANSFORMER, kind="share"))
        remember_privacy(session=session, team_id=TEAM_ID, channel_id=PUBLIC, is_private=False)
    assert "CGONE" not in shown(papers(sender, slack, f"show {TRANSFORMER}"))
    papers(sender, slack, f"show {TRANSFORMER}")
    asked = [c for c in slack.calls_to("conversations.info") if c.params.get("channel") == "CGONE"]
    assert len(asked) == 1  # Slack's refusal is kept (as private): not asked again at every lookup


def test_a_public_channel_made_private_is_checked_again_after_a_day(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    assert f"<#{PUBLIC}>" in shown(papers(sender, slack, f"show {REPLICA}"))
    slack.private_channels.add(PUBLIC)  # someone makes the channel private
    with bot.deps.sessions.begin() as session:
        session.execute(update(ChannelPrivacy).values(checked_at=utcnow() - timedelta(days=2)))
    assert f"<#{PUBLIC}>" not in shown(papers(sender, slack, f"show {REPLICA}", channel=PRIVATE))


def test_a_busy_slack_is_asked_once_and_its_channel_stays_unknown_not_private(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    """Slack rate limiting (429) or failing (5xx) is no answer: the answer does not wait through retries for it
    (one call), the channel counts as private for now, and the next lookup asks again."""
    with bot.deps.sessions.begin() as session:
        session.add(Post(team_id=TEAM_ID, channel_id="CBUSY", ts="9.0", arxiv_id=TRANSFORMER, kind="share"))
        remember_privacy(session=session, team_id=TEAM_ID, channel_id=PUBLIC, is_private=False)
    slack.fail_all(status=429, retry_after=30, methods={"conversations.info"})
    assert "CBUSY" not in shown(papers(sender, slack, f"show {TRANSFORMER}"))
    asked = [c for c in slack.calls_to("conversations.info") if c.params.get("channel") == "CBUSY"]
    assert len(asked) == 1  # no retry after Retry-After: the answer went on without Slack's word
    slack.end_outages()
    assert "CBUSY" in shown(papers(sender, slack, f"show {TRANSFORMER}"))  # asked again: public after all
