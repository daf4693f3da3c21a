"""The daily digest: which day's list and which papers (day), the exactly-once runner (runner, posting), and what
Slack's errors mean (slack_errors). `DigestContext` is what one attempt works with (context)."""

from bot.digest.context import PREVIEW_CHANNEL, DigestContext, DigestStatus, Outcome, load_prefs, request_stop
from bot.digest.day import DayList, load_day, preview_digest
from bot.digest.runner import cli_targets, digest_now, run_channels, run_digest
from bot.digest.slack_errors import explain_slack_error, slack_problem

__all__ = [
    "PREVIEW_CHANNEL",
    "DayList",
    "DigestContext",
    "DigestStatus",
    "Outcome",
    "cli_targets",
    "digest_now",
    "explain_slack_error",
    "load_day",
    "load_prefs",
    "preview_digest",
    "request_stop",
    "run_channels",
    "run_digest",
    "slack_problem",
]
