"""`/papers show` cards carry the paper's Hugging Face thumbnail beside its title, through the signed endpoint;
a card shared to a channel whose picture Slack cannot fetch is posted without it (and still counts)."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Post
from tests.fakes.slack import FakeSlack, SlackSender
from tests.handlers.lookups.world import PUBLIC, TRANSFORMER, ask
from tests.running import RunningBot

PICTURE = f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{TRANSFORMER}.png"
TITLE = "Reducing the Transformer Architecture to a Minimum"


def test_a_show_card_carries_the_papers_picture(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    card = ask(sender, slack, f"show {TRANSFORMER}").answer  # ask() validates the Block Kit
    assert card["blocks"][0]["accessory"] == {"type": "image", "image_url": PICTURE, "alt_text": TITLE}


def test_a_shared_card_whose_picture_slack_cannot_fetch_is_posted_without_it(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    slack.unfetchable_images.add(PICTURE)
    response = sender.action("lookup_share", TRANSFORMER, channel=PUBLIC, response_url=slack.response_url("share"))
    assert response.status_code == 200
    card = slack.wait_for(lambda: next(iter(slack.posted(PUBLIC)), None))
    assert TITLE in card["blocks"][0]["text"]["text"] and "accessory" not in card["blocks"][0]

    def lookup_post() -> str | None:
        with bot.deps.sessions.begin() as session:
            return session.scalars(select(Post.ts).where(Post.kind == "lookup")).one_or_none()

    assert slack.wait_for(lookup_post) == card["ts"]
