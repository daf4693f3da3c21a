"""What Slack's error codes mean for a digest: which no retry can fix, and one sentence an operator can act on."""

from __future__ import annotations

from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from storage.text import first_line

# Slack errors no retry can fix: an operator has to act, so the run is marked failed instead of retried.
CHANNEL_ERRORS = frozenset({"not_in_channel", "channel_not_found", "is_archived"})


TOKEN_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked"})


# Slack refuses the message itself: resending the same message fails the same way, every 5 minutes for a day.
MESSAGE_ERRORS = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "msg_blocks_too_long",
        "no_text",
        "invalid_arguments",
        "invalid_arg_name",
        "invalid_array_arg",
        "invalid_charset",
        "invalid_form_data",
        "too_many_attachments",
        "attachment_payload_limit_exceeded",
        "invalid_attachments",
        "markdown_text_conflict",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
        "metadata_must_be_sent_from_app",
    }
)


PERMANENT_ERRORS = CHANNEL_ERRORS | TOKEN_ERRORS | MESSAGE_ERRORS | {"missing_scope", "restricted_action"}


def explain_slack_error(error: str, channel_id: str) -> str:
    """One sentence an operator can act on for a Slack error code."""
    if error in ("not_in_channel", "channel_not_found"):
        return (
            f"Slack says {error} for #{channel_id}: invite the bot with /invite @paperbot "
            f"to #{channel_id} (or check the channel id)."
        )
    if error == "is_archived":
        return f"#{channel_id} is archived: unarchive it or turn its digest off."
    if error in TOKEN_ERRORS:
        return f"Slack rejected the bot token ({error}): check SLACK_BOT_TOKEN or reinstall the app."
    if error == "missing_scope":
        return "The Slack app lacks a scope (missing_scope): reinstall it from deploy/slack-manifest.yaml."
    if error in MESSAGE_ERRORS:
        return (
            f"Slack refused a digest message for #{channel_id} ({error}); sending it again would fail the "
            f"same way, so the run is marked failed: report it, and `paperbot digest --channel {channel_id}` "
            "retries it once fixed."
        )
    if error in PERMANENT_ERRORS:
        return f"Slack answered {error} while posting to #{channel_id}; the run is marked failed."
    return f"Slack answered {error} while posting to #{channel_id}; the next attempt resumes the digest."


def slack_problem(settings: Settings, exc: BaseException) -> str:
    """One sentence for a Slack call that failed before any digest began (auth.test, Bolt's start-up check)."""
    if isinstance(exc, BoltError) and isinstance(exc.__context__, SlackApiError):
        exc = exc.__context__  # Bolt wraps auth.test's answer in a BoltError
    if isinstance(exc, SlackApiError):
        error = str(exc.response.get("error") or "unknown_error")
        if error in PERMANENT_ERRORS:
            return explain_slack_error(error, settings.digest_channel or "?")
        return f"Slack answered {error}; try again in a moment."
    if isinstance(exc, BoltError):
        return f"The Slack app could not start: {first_line(exc)}"
    return (
        f"Could not reach Slack at {settings.slack_api_url} ({first_line(exc)}): check SLACK_API_URL and "
        "the network, then try again."
    )
