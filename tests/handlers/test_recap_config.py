"""`/papers config recap` through the signed HTTP endpoint, on both databases: set, shown, moved, turned off, and
bad days or times refused with a sentence naming the token while nothing changes; the schedule follows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.recap_schedule import wanted_recaps
from storage.models import Channel
from tests.fakes.slack import TEAM_ID, FakeSlack, SlackSender
from tests.running import RunningBot

HERE = "C0001"


def config(sender: SlackSender, slack: FakeSlack, text: str, *, user: str = "U0001") -> dict[str, Any]:
    key = f"config-{len(slack.responses)}"
    response = sender.command(f"config {text}".strip(), user=user, channel=HERE, response_url=slack.response_url(key))
    assert response.status_code == 200
    return slack.wait_for(lambda: next((r for r in slack.responses if r["key"] == key), None))


def stored(bot: RunningBot) -> tuple[int | None, str | None, bool] | None:
    with bot.deps.sessions.begin() as session:
        channel = session.scalars(select(Channel).where(Channel.channel_id == HERE)).one_or_none()
        return None if channel is None else (channel.recap_day, channel.recap_time, channel.digest_enabled)


def test_recap_is_off_by_default_set_shown_moved_and_turned_off(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    shown = config(sender, slack, "")
    assert "*Weekly recap*: off" in shown["text"]
    assert wanted_recaps(bot.deps.sessions, bot.deps.settings) == {}
    reply = config(sender, slack, "recap Friday 17:00")
    assert "*Weekly recap*: Fridays at 17:00 (UTC)" in reply["text"]
    # A recap alone does not subscribe the channel to the daily digest.
    assert stored(bot) == (4, "17:00", False)
    assert "no scheduled digest here" in reply["text"]
    ((team, channel, trigger),) = wanted_recaps(bot.deps.sessions, bot.deps.settings).values()
    assert (team, channel, str(trigger.timezone)) == (TEAM_ID, HERE, "UTC")
    assert [str(f) for f in trigger.fields if f.name in ("day_of_week", "hour", "minute")] == ["fri", "17", "0"]
    config(sender, slack, "timezone Europe/Berlin")
    moved = config(sender, slack, "recap mon 8:05")
    assert "*Weekly recap*: Mondays at 08:05 (Europe/Berlin)" in moved["text"]
    assert stored(bot) == (0, "08:05", False)
    off = config(sender, slack, "recap off")
    assert "*Weekly recap*: off" in off["text"]
    assert stored(bot) == (None, None, False)
    assert wanted_recaps(bot.deps.sessions, bot.deps.settings) == {}
    assert [str(m["text"]) for m in slack.posted(HERE)] == [
        "<@U0001> set this channel's weekly recap to Fridays at 17:00 (UTC).",
        "<@U0001> moved this channel's daily digest to 09:00 (Europe/Berlin).",
        "<@U0001> set this channel's weekly recap to Mondays at 08:05 (Europe/Berlin).",
        "<@U0001> turned the weekly recap off in this channel.",
    ]


def test_bad_recap_values_name_the_token_and_change_nothing(
    bot: RunningBot, sender: SlackSender, slack: FakeSlack
) -> None:
    config(sender, slack, "recap thu 16:30")
    before = len(slack.posted(HERE))
    for line, said in (
        ("recap someday 17:00", "`someday` is not a day of the week; use monday to sunday (or mon to sun)."),
        ("recap friday 25:00", "'25:00' is not a time of day; write it as HH:MM, e.g. 09:00"),
        ("recap friday", "`recap` takes a day and a time, e.g. `recap friday 17:00`, or `recap off`."),
        ("recap 17:00 friday", "`17:00` is not a day of the week"),
        ("recap", "`recap` needs a value."),
    ):
        reply = config(sender, slack, line)
        assert reply["response_type"] == "ephemeral"
        assert said in reply["text"], reply["text"]
        assert "`recap <day> HH:MM|off`" in reply["text"]  # the usage follows
    assert stored(bot) == (3, "16:30", False)
    assert len(slack.posted(HERE)) == before  # nothing announced


def test_a_non_member_cannot_set_a_recap(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    slack.channel_members[HERE] = {"U0002"}
    reply = config(sender, slack, "recap friday 17:00", user="U0001")
    assert reply["text"].endswith("nothing changed.")
    assert stored(bot) is None and slack.posted(HERE) == []
