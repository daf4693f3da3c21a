"""`/papers config` through the signed HTTP endpoint: settings are stored, shown, and reach the schedule."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.scheduler import wanted_jobs
from storage.models import Channel
from tests.fakes.slack import TEAM_ID, FakeSlack, SlackSender
from tests.running import RunningBot


def config(sender: SlackSender, slack: FakeSlack, text: str) -> dict[str, Any]:
    key = f"config-{len(slack.responses)}"
    assert sender.command(f"config {text}".strip(), response_url=slack.response_url(key)).status_code == 200
    return slack.wait_for(lambda: next((r for r in slack.responses if r["key"] == key), None))


def stored(bot: RunningBot) -> Channel | None:
    with bot.deps.sessions.begin() as session:
        return session.scalars(select(Channel).where(Channel.channel_id == "C0001")).one_or_none()


def test_settings_are_stored_and_shown(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    config(sender, slack, "time 07:30")
    config(sender, slack, "timezone Asia/Tokyo")
    config(sender, slack, "keywords diffusion, agents")
    reply = config(sender, slack, "size 4")
    assert reply["response_type"] == "ephemeral"
    assert "4 papers at 07:30 (Asia/Tokyo), weekdays" in reply["text"]
    assert "keywords: diffusion, agents" in reply["text"]
    channel = stored(bot)
    assert channel is not None
    assert (channel.digest_size, channel.digest_time, channel.timezone) == (4, "07:30", "Asia/Tokyo")
    assert channel.filters == {"keywords": ["diffusion", "agents"]}


def test_a_configured_channel_gets_a_scheduled_job(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    from bot.scheduler import JobContext, build_scheduler

    config(sender, slack, "time 08:15")
    context = JobContext(
        deps=bot.deps,
        client=bot.app.client,
        scheduler=build_scheduler(bot.deps.engine),
    )
    jobs = wanted_jobs(context)
    ((team, channel, prefs),) = jobs.values()
    assert (team, channel, prefs.digest_time) == (TEAM_ID, "C0001", "08:15")
    config(sender, slack, "digest off")
    assert wanted_jobs(context) == {}


def test_a_bad_value_changes_nothing_and_says_why(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    config(sender, slack, "size 6")
    reply = config(sender, slack, "size 400")
    assert "`size` takes a whole number from 1 to 40, not `400`" in reply["text"]
    assert "timezone Area/City" in reply["text"]  # the usage follows
    channel = stored(bot)
    assert channel is not None and channel.digest_size == 6


def test_hostile_values_are_escaped(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    reply = config(sender, slack, "<!channel> on")
    assert "<!channel>" not in str(reply["blocks"]) and "<!channel>" not in reply["text"]
    assert stored(bot) is None  # nothing was created for a refused setting


def test_config_alone_shows_the_defaults(bot: RunningBot, sender: SlackSender, slack: FakeSlack) -> None:
    reply = config(sender, slack, "")
    assert "no scheduled digest here" in reply["text"]
    assert stored(bot) is None
