"""`/papers export` through the signed HTTP endpoint: the file reaches the loopback Slack the way slack_sdk's
files_upload_v2 sends it (upload URL, bytes, complete), its content is the team's activity, and the person who
asked gets a one-line private summary."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from storage.models import Reaction, Reply, Workspace
from storage.papers import upsert_papers
from storage.posts import record_post
from storage.records import PaperRecord
from tests.fakes.slack import BOT_USER_ID, TEAM_ID, FakeSlack, SlackSender
from tests.running import RunningBot

HERE, ELSEWHERE = "C0001", "C0002"


def ts(day: int) -> str:
    return f"{int(datetime(2025, 11, day, 9, tzinfo=UTC).timestamp())}.000100"


@pytest.fixture
def activity(bot: RunningBot) -> None:
    """Two papers posted here (one of them voted on by two people and the bot, and discussed), one elsewhere."""
    with bot.deps.sessions.begin() as session:
        upsert_papers(
            session=session,
            records=[
                PaperRecord(arxiv_id="2410.13732", title="Reducing the Transformer", authors=["Ada Lovelace"]),
                PaperRecord(arxiv_id="2411.00001", title="A Quiet Paper", authors=["Alan Turing"]),
                PaperRecord(arxiv_id="2411.00002", title="Posted Elsewhere"),
            ],
        )
        session.add(Workspace(team_id=TEAM_ID, bot_user_id=BOT_USER_ID))
        for channel, day, arxiv_id in (
            (HERE, 24, "2410.13732"),
            (HERE, 26, "2411.00001"),
            (ELSEWHERE, 25, "2411.00002"),
        ):
            record_post(
                session=session, team_id=TEAM_ID, channel_id=channel, ts=ts(day), arxiv_id=arxiv_id, kind="digest"
            )
        for user, emoji in (
            ("U0001", "+1"),
            ("U0001", "fire"),
            ("U0002", "heart"),
            ("U0003", "eyes"),
            (BOT_USER_ID, "+1"),
        ):
            session.add(
                Reaction(
                    team_id=TEAM_ID,
                    channel_id=HERE,
                    message_ts=ts(24),
                    user_id=user,
                    emoji=emoji,
                    arxiv_id="2410.13732",
                )
            )
        for n, (user, deleted) in enumerate((("U0002", False), ("U0003", True), (BOT_USER_ID, False))):
            session.add(
                Reply(
                    team_id=TEAM_ID,
                    channel_id=HERE,
                    thread_ts=ts(24),
                    ts=f"{ts(24)[:-1]}{n + 2}",
                    user_id=user,
                    text="thoughts",
                    deleted=deleted,
                    arxiv_id="2410.13732",
                )
            )


def export(sender: SlackSender, slack: FakeSlack, text: str, **extra: str) -> dict[str, Any]:
    """Run `/papers export …` and wait for its private summary."""
    key = f"export-{len(slack.responses)}"
    response = sender.command(f"export {text}".strip(), response_url=slack.response_url(key), **extra)
    assert response.status_code == 200
    return slack.wait_for(lambda: next((r for r in slack.responses if r["key"] == key), None))


def test_export_uploads_this_channels_papers_and_says_so(activity: None, sender: SlackSender, slack: FakeSlack) -> None:
    reply = export(sender, slack, "csv")
    (file,) = slack.shared_files(HERE)
    assert reply["response_type"] == "ephemeral"
    assert reply["text"] == (f"Exported 2 papers posted in <#{HERE}> as CSV: `{file.filename}` is in this channel.")
    assert file.filename.startswith(f"paperbot-{HERE}-") and file.filename.endswith(".csv")
    assert file.initial_comment == f"<@U0001> exported the papers posted in <#{HERE}>."
    assert file.content is not None
    rows = list(csv.DictReader(io.StringIO(file.content.decode("utf-8"))))
    assert [(r["arxiv_id"], r["votes"], r["replies"]) for r in rows] == [
        ("2410.13732", "2", "1"),
        ("2411.00001", "0", "0"),
    ]
    assert rows[0]["reactions"] == ":+1: 1; :eyes: 1; :fire: 1; :heart: 1"  # the bot's +1 is not counted
    # slack_sdk's three steps, in order, the bytes announced being the bytes sent
    (asked,) = slack.calls_to("files.getUploadURLExternal")
    assert int(asked.params["length"]) == len(file.content)
    assert slack.calls_to("files.completeUploadExternal")[0].params["channel_id"] == HERE


def test_export_all_in_json_covers_every_channel_of_the_workspace(
    activity: None, sender: SlackSender, slack: FakeSlack
) -> None:
    reply = export(sender, slack, "all json since:2025-11-25")
    (file,) = slack.shared_files(HERE)
    assert file.filename.startswith(f"paperbot-{TEAM_ID}-") and file.filename.endswith(".json")
    assert file.content is not None
    papers = json.loads(file.content)
    assert [(p["arxiv_id"], p["posts"][0]["channel"]) for p in papers] == [
        ("2411.00002", ELSEWHERE),
        ("2411.00001", HERE),
    ]
    assert "posted in this workspace's public channels or here since 2025-11-25" in reply["text"]


def test_min_votes_and_bibtex(activity: None, sender: SlackSender, slack: FakeSlack) -> None:
    export(sender, slack, "bibtex min-votes:2")
    (file,) = slack.shared_files(HERE)
    assert file.filename.endswith(".bib") and file.content is not None
    bib = file.content.decode("utf-8")
    assert bib.count("@misc{") == 1 and "@misc{arxiv_2410.13732," in bib
    assert "title         = {{Reducing the Transformer}}" in bib


def test_a_channel_that_refuses_the_file_gets_it_in_a_dm(activity: None, sender: SlackSender, slack: FakeSlack) -> None:
    slack.fail_next("files.completeUploadExternal", error="not_in_channel")
    reply = export(sender, slack, "", user="U0042")
    assert slack.shared_files(HERE) == []
    (file,) = slack.shared_files("D0042")
    assert file.content is not None and len(json.loads(file.content)) == 2
    assert "I couldn't post the file here (not_in_channel), so I sent" in reply["text"]
    assert "in a DM" in reply["text"]


def test_when_slack_refuses_both_the_summary_says_what_to_do(
    activity: None, sender: SlackSender, slack: FakeSlack
) -> None:
    slack.fail_next("files.completeUploadExternal", error="not_in_channel")
    slack.fail_next("conversations.open", error="missing_scope")
    reply = export(sender, slack, "")
    assert slack.shared_files() == []
    assert "Slack refused the file (not_in_channel; in a DM: missing_scope)" in reply["text"]
    assert "/invite @paperbot" in reply["text"]


def test_nothing_to_export_uploads_nothing(activity: None, sender: SlackSender, slack: FakeSlack) -> None:
    reply = export(sender, slack, "since:2025-12-01")
    assert reply["text"] == f"Nothing to export: no paper was posted in <#{HERE}> since 2025-12-01."
    assert slack.calls_to("files.getUploadURLExternal") == []


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("export xml", "`xml` is not an export format (json, csv, bibtex) or option."),
        ("export since:last-week", "`since:` takes a date written YYYY-MM-DD, not `last-week`."),
        ("export min-votes:many", "`min-votes:` takes a whole number from 0 up, not `many`."),
        ("export csv bibtex", "Give a format once; `bibtex` repeats it."),
    ],
)
def test_a_malformed_export_gets_the_usage_and_uploads_nothing(
    activity: None, sender: SlackSender, slack: FakeSlack, text: str, says: str
) -> None:
    reply = sender.command(text).json()  # answered in the ack itself
    assert reply["response_type"] == "ephemeral"
    assert reply["text"].startswith(says)
    assert "/papers export since:2025-11-01" in json.dumps(reply["blocks"])
    assert slack.calls_to("files.getUploadURLExternal") == [] and slack.shared_files() == []


def test_help_lists_export(sender: SlackSender) -> None:
    reply = sender.command("help").json()
    assert "/papers export [json|csv|bibtex] [since:YYYY-MM-DD] [min-votes:N] [all]`" in json.dumps(reply["blocks"])
