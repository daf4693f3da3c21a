"""Link unfurls through the bot's real signed endpoint, on both databases: a `link_shared` event is answered with
`chat.unfurl` cards carrying the team's history (as the link's conversation may see it), unknown papers are
fetched first, several links get one card each, a retried event is unfurled once, and what papers and people
wrote is escaped. The world: tests/handlers/lookups/world.py (the replica paper discussed in a public channel,
2 votes and 1 reply, and in a private one, 3 votes and 2 replies)."""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

import pytest

from bot.blocks import validate
from bot.lanes import EVENTS, UNFURLS, lane_of
from storage.models import Paper, Reply
from storage.papers import get_paper
from tests.fakes.arxiv import FakeArxiv
from tests.fakes.hf import FakeHF
from tests.fakes.slack import TEAM_ID, FakeSlack, SlackSender
from tests.handlers.lookups.world import PRIVATE, PUBLIC, REPLICA, TRANSFORMER
from tests.running import RunningBot

MESSAGE_TS = "1764160000.000100"


def shared(
    sender: SlackSender,
    urls: list[str],
    *,
    channel: str = PUBLIC,
    event_id: str | None = None,
    retry_num: int | None = None,
    **extra: Any,
) -> str:
    """Send a link_shared event for a message holding `urls` (a retry of `event_id`, with `retry_num`); its id."""
    event_id = event_id or f"Ev{uuid.uuid4().hex[:10].upper()}"
    event = {
        "type": "link_shared",
        "channel": channel,
        "user": "U0001",
        "message_ts": MESSAGE_TS,
        "unfurl_id": f"{channel}.{MESSAGE_TS}.{uuid.uuid4().hex}",
        "source": "conversations_history",
        "links": [{"domain": url.split("/")[2].removeprefix("www."), "url": url} for url in urls],
        **extra,
    }
    response = sender.event(event, event_id=event_id, retry_num=retry_num)
    assert response.status_code == 200
    return event_id


def unfurled(slack: FakeSlack, count: int = 1) -> list[dict[str, Any]]:
    """The first `count` chat.unfurl calls Slack accepted (waited for), every card checked against Block Kit."""
    calls = slack.wait_for(lambda: slack.unfurled[:count] if len(slack.unfurled) >= count else None)
    for call in calls:
        for card in call["unfurls"].values():
            validate({"text": "paper card", "blocks": card["blocks"]})
    return calls


def shown(card: dict[str, Any]) -> str:
    return json.dumps(card["blocks"], ensure_ascii=False)


def test_a_discussed_paper_unfurls_with_its_history_and_a_permalink(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    url = f"https://arxiv.org/abs/{REPLICA}v2"
    shared(sender, [url])
    (call,) = unfurled(slack)
    assert (call["channel"], call["ts"]) == (PUBLIC, MESSAGE_TS)
    card = shown(call["unfurls"][url])
    assert "Replica symmetry breaking in dense neural networks" in card
    assert f"discussed 1 time — last in <#{PUBLIC}>" in card and "· 2 votes · 1 reply" in card
    assert f"https://fake.slack.test/archives/{PUBLIC}/p10" in card  # the thread's permalink
    assert "“x” — <@U9>" in card  # the thread's opening reply


def test_a_private_channels_history_shows_only_in_that_channel(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    with bot.deps.sessions.begin() as session:  # the private thread (3 votes) opens with a take of its own
        session.add(
            Reply(
                team_id=TEAM_ID,
                channel_id=PRIVATE,
                thread_ts="2.0",
                ts="2.001",
                user_id="U5",
                text="secret take",
                arxiv_id=REPLICA,
            )
        )
    url = f"https://huggingface.co/papers/{REPLICA}"
    shared(sender, [url], channel=PUBLIC)
    outside = shown(unfurled(slack)[0]["unfurls"][url])
    assert "2 votes" in outside and PRIVATE not in outside and "5 votes" not in outside
    assert "secret take" not in outside and "“x” — <@U9>" in outside
    shared(sender, [url], channel=PRIVATE)
    inside = shown(unfurled(slack, 2)[1]["unfurls"][url])
    assert "discussed 2 times" in inside and "· 5 votes · 4 replies" in inside
    assert f"archives/{PRIVATE}/p20" in inside and f"archives/{PUBLIC}/p10" in inside
    assert "“secret take” — <@U5>" in inside  # the most voted thread's opening reply


def test_a_dm_and_the_composer_see_public_history_only(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    url = f"https://hf.co/papers/{REPLICA}"
    shared(sender, [url], channel="D0042")
    in_dm = shown(unfurled(slack)[0]["unfurls"][url])
    assert "2 votes" in in_dm and PRIVATE not in in_dm
    shared(sender, [url], channel="COMPOSER", source="composer")
    composing = unfurled(slack, 2)[1]
    assert composing["source"] == "composer" and composing["unfurl_id"].startswith("COMPOSER.")
    assert "channel" not in composing and PRIVATE not in shown(composing["unfurls"][url])


def test_the_message_being_unfurled_is_not_its_own_history(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    """A share is recorded from the message event, maybe before its link_shared: it is not "discussed once"."""
    sender.event(
        {
            "type": "message",
            "channel": PUBLIC,
            "channel_type": "channel",
            "user": "U0002",
            "ts": MESSAGE_TS,
            "text": f"<https://arxiv.org/abs/{TRANSFORMER}>",
        }
    )
    bot.workers.drain()
    url = f"https://arxiv.org/abs/{TRANSFORMER}"
    shared(sender, [url])
    card = shown(unfurled(slack)[0]["unfurls"][url])
    assert "Reducing the Transformer" in card and "discussed" not in card


def test_unknown_papers_are_fetched_from_hugging_face_then_arxiv_stored_and_unfurled(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack, hf: FakeHF, fake_arxiv: FakeArxiv
) -> None:
    hf.set_paper("2502.00001", {"id": "2502.00001", "title": "Fresh From The Hub", "authors": [{"name": "Ada L."}]})
    fake_arxiv.add_paper("hep-th/9901001", "Strings, Old Style")
    urls = [
        "https://huggingface.co/papers/2502.00001",
        "https://arxiv.org/pdf/hep-th/9901001v2",
        "https://arxiv.org/abs/2502.99999",
    ]
    shared(sender, urls)
    (call,) = unfurled(slack)
    assert sorted(call["unfurls"]) == sorted(urls[:2])  # nobody has 2502.99999: no card, nothing else breaks
    assert "Fresh From The Hub" in shown(call["unfurls"][urls[0]])
    assert "Strings, Old Style" in shown(call["unfurls"][urls[1]]) and "discussed" not in shown(
        call["unfurls"][urls[1]]
    )
    with bot.deps.sessions.begin() as session:
        stored = [get_paper(session=session, arxiv_id=i) for i in ("2502.00001", "hep-th/9901001")]
        assert [p.title for p in stored if p is not None] == ["Fresh From The Hub", "Strings, Old Style"]


def test_several_links_get_one_card_each_known_papers_first(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack, hf: FakeHF
) -> None:
    hf.set_paper("2502.00003", {"id": "2502.00003", "title": "Fetched Later"})
    urls = [
        f"https://arxiv.org/abs/{REPLICA}",
        f"https://www.alphaxiv.org/overview/{TRANSFORMER}",
        f"https://hf.co/papers/{REPLICA}",  # the same paper again: its own card
        "https://huggingface.co/models/some-org/some-model",  # not a paper: no card
        "https://arxiv.org/abs/2502.00003",
    ]
    shared(sender, urls)
    known, fetched = unfurled(slack, 2)
    assert list(known["unfurls"]) == [urls[0], urls[1], urls[2]]
    assert list(fetched["unfurls"]) == [urls[4]]
    assert "discussed 1 time" in shown(known["unfurls"][urls[2]])


def test_at_most_five_papers_a_message(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    ids = ["2410.13732", "2306.00356", "2111.12997", "2310.11366", "2402.04051", "2507.01131"]
    shared(sender, [f"https://arxiv.org/abs/{i}" for i in ids])
    (call,) = unfurled(slack)
    assert [url.rsplit("/", 1)[1] for url in call["unfurls"]] == ids[:5]


def test_a_retried_event_is_unfurled_once(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"https://arxiv.org/abs/{REPLICA}"
    with caplog.at_level(logging.INFO, logger="bot.unfurls"):
        event_id = shared(sender, [url])
        unfurled(slack)
        shared(sender, [url], event_id=event_id, retry_num=1)
        shared(sender, [url], event_id=event_id, retry_num=2)
        slack.wait_for(lambda: sum("unfurled already" in r.getMessage() for r in caplog.records) >= 2)
    assert len(slack.unfurled) == 1


def test_hostile_titles_and_replies_are_escaped(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    with bot.deps.sessions.begin() as session:
        paper = session.get(Paper, TRANSFORMER)
        assert paper is not None
        paper.title = "<!channel> *Win* <https://evil.example|click> & more"
        session.add(
            Reply(
                team_id=TEAM_ID,
                channel_id=PUBLIC,
                thread_ts="1.0",
                ts="1.005",
                user_id="U7",
                text="<!here> look <https://evil.example|here>",
                arxiv_id=REPLICA,
            )
        )
    shared(sender, [f"https://arxiv.org/abs/{TRANSFORMER}", f"https://arxiv.org/abs/{REPLICA}"])
    (call,) = unfurled(slack)
    everything = json.dumps(call["unfurls"])
    # The picture's alt text is plain text (never parsed for links or mentions), its brackets neutralised too.
    alts = re.findall(r'"alt_text": ("(?:[^"\\]|\\.)*")', everything)
    assert alts and all("<" not in json.loads(alt) and ">" not in json.loads(alt) for alt in alts)
    everything = re.sub(r'"alt_text": "(?:[^"\\]|\\.)*"', "", everything)
    assert "<!channel>" not in everything and "<!here>" not in everything and "evil.example|" not in everything
    assert "&lt;!channel&gt;" in shown(call["unfurls"][f"https://arxiv.org/abs/{TRANSFORMER}"])
    assert "“@here look here” — <@U7>" in shown(call["unfurls"][f"https://arxiv.org/abs/{REPLICA}"])


def test_a_slow_fetch_holds_up_neither_other_unfurls_nor_other_events(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack, hf: FakeHF
) -> None:
    hf.set_paper("2502.00005", {"id": "2502.00005", "title": "Slow To Arrive"})
    hf.delay_next(3)
    slow, fast = "https://arxiv.org/abs/2502.00005", f"https://arxiv.org/abs/{REPLICA}"
    shared(sender, [slow])
    slack.wait_for(lambda: any("2502.00005" in path for path in hf.paths()))  # its fetch is under way
    shared(sender, [fast], channel="C0002")
    sender.event({"type": "app_home_opened", "user": "U0001", "channel": "D0001", "tab": "home"})
    first, second = unfurled(slack, 2)
    assert list(first["unfurls"]) == [fast] and list(second["unfurls"]) == [slow]
    (home,) = slack.calls_to("views.publish")
    (slow_call,) = [c for c in slack.calls_to("chat.unfurl") if slow in json.dumps(c.params)]
    assert home.at < slow_call.at


def test_link_shared_runs_on_the_unfurl_lane() -> None:
    body = {"type": "event_callback", "event": {"type": "link_shared", "links": []}}
    assert lane_of(body) == UNFURLS
    assert lane_of({"type": "event_callback", "event": {"type": "app_mention"}}) == EVENTS
