"""Who may change a channel's digest settings, through the signed HTTP endpoint on both databases: a member of
the channel or a workspace admin; anyone else is refused with nothing changed; every change is announced in the
channel, naming who made it (docs/privacy.md)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from storage.models import Channel
from tests.fakes.slack import FakeSlack, SlackSender
from tests.running import RunningBot

HERE = "C0001"


def config(sender: SlackSender, slack: FakeSlack, text: str, *, user: str) -> dict[str, Any]:
    key = f"config-{len(slack.responses)}"
    response = sender.command(f"config {text}".strip(), user=user, channel=HERE, response_url=slack.response_url(key))
    assert response.status_code == 200
    return slack.wait_for(lambda: next((r for r in slack.responses if r["key"] == key), None))


def stored(bot: RunningBot) -> Channel | None:
    with bot.deps.sessions.begin() as session:
        return session.scalars(select(Channel).where(Channel.channel_id == HERE)).one_or_none()


def announced(slack: FakeSlack) -> list[str]:
    return [str(m["text"]) for m in slack.posted(HERE)]


def test_a_non_member_is_refused_and_nothing_changes(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    slack.channel_members[HERE] = {"U0002"}
    for line in ("digest off", "time 06:00", "keywords spam", "size 400"):
        reply = config(sender, slack, line, user="U0001")
        assert reply["response_type"] == "ephemeral"
        assert reply["text"] == (
            f"Only members of <#{HERE}> and workspace admins can change its digest; nothing changed."
        )
    assert stored(bot) is None
    assert announced(slack) == []
    shown = config(sender, slack, "", user="U0001")  # reading the settings is anyone's
    assert "no scheduled digest here" in shown["text"]


def test_a_member_changes_the_settings_and_the_channel_is_told(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    slack.channel_members[HERE] = {"U0002"}
    config(sender, slack, "digest on", user="U0002")
    config(sender, slack, "timezone Europe/Berlin", user="U0002")
    reply = config(sender, slack, "time 07:30", user="U0002")
    assert "at 07:30 (Europe/Berlin)" in reply["text"]
    config(sender, slack, "digest off", user="U0002")
    config(sender, slack, "keywords diffusion, <!channel>", user="U0002")
    config(sender, slack, "size 5", user="U0002")
    assert announced(slack) == [
        "<@U0002> turned the daily digest on in this channel: at 09:00 (UTC).",
        "<@U0002> moved this channel's daily digest to 09:00 (Europe/Berlin).",
        "<@U0002> moved this channel's daily digest to 07:30 (Europe/Berlin).",
        "<@U0002> turned the daily digest off in this channel.",
        "<@U0002> changed this channel's digest filters to keywords: diffusion, &lt;!channel&gt;.",
        "<@U0002> set this channel's digest to 5 papers.",
    ]
    channel = stored(bot)
    assert channel is not None
    assert (channel.digest_enabled, channel.digest_time, channel.timezone, channel.digest_size) == (
        False,
        "07:30",
        "Europe/Berlin",
        5,
    )


def test_an_admin_who_is_not_a_member_may_change_it_and_is_named(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    slack.channel_members[HERE] = {"U0002"}
    slack.admins.add("U0005")
    slack.owners.add("U0006")
    config(sender, slack, "digest off", user="U0005")
    config(sender, slack, "weekends on", user="U0006")
    assert announced(slack) == [
        "<@U0005> turned the daily digest off in this channel.",
        "<@U0006> turned weekend digests on in this channel.",
    ]
    channel = stored(bot)
    assert channel is not None and (channel.digest_enabled, channel.include_weekends) == (False, True)


def test_when_slack_will_not_say_who_is_in_the_channel_the_change_is_refused(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    slack.unknown_channels.add(HERE)  # e.g. a private channel the bot is not in
    reply = config(sender, slack, "digest off", user="U0001")
    assert reply["text"] == (
        f"I could not check that you are a member of <#{HERE}> (Slack said channel_not_found); nothing changed."
    )
    assert stored(bot) is None


def test_a_bad_value_from_a_member_is_explained_and_not_announced(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    reply = config(sender, slack, "size 400", user="U0001")
    assert "`size` takes a whole number from 1 to 40, not `400`" in reply["text"]
    assert announced(slack) == [] and stored(bot) is None


def test_slacks_answers_are_kept_briefly(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    slack.channel_members[HERE] = {"U0002"}
    for line in ("size 3", "size 4", "size 5"):
        config(sender, slack, line, user="U0002")
        config(sender, slack, line, user="U0001")
    assert len(slack.calls_to("conversations.members")) == 1
    assert len(slack.calls_to("users.info")) == 1  # U0001's role, asked once
    assert announced(slack)[-1] == "<@U0002> set this channel's digest to 5 papers."


def test_a_change_the_channel_cannot_be_told_about_says_so(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    slack.fail_next("chat.postMessage", error="not_in_channel")
    reply = config(sender, slack, "digest off", user="U0001")
    assert "I could not announce it in <#C0001> (Slack said not_in_channel)" in reply["text"]
    channel = stored(bot)
    assert channel is not None and channel.digest_enabled is False  # stored all the same: the person knows


def test_a_non_member_is_refused_by_mention_too(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    slack.channel_members[HERE] = {"U0002"}
    ts = "1764170000.000100"
    event = {"type": "app_mention", "user": "U0003", "channel": HERE, "text": "<@UBOT0001> config digest off"}
    assert sender.event({**event, "ts": ts, "event_ts": ts}).status_code == 200
    answer = slack.wait_for(lambda: [m for m in slack.posted(HERE) if m.get("thread_ts") == ts])[0]
    assert "Only members of <#C0001> and workspace admins can change its digest" in answer["text"]
    assert stored(bot) is None and len(slack.posted(HERE)) == 1  # the refusal in the thread, no announcement
