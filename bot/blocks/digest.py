"""The daily digest's messages: a header, then one message per paper with its Save and Show details buttons,
the empty-day notice, chat.postMessage's arguments for each, and `/papers digest`'s settings text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.blocks.common import Block, context, escape, fit, link, section
from bot.blocks.paper import (
    AUTHOR_LIMIT,
    PaperLike,
    author_line,
    first_sentences,
    links_line,
    stats_line,
    title_link,
    with_picture,
)
from bot.links import hf_day_url

HEADER_LIMIT = 150
SUMMARY_LIMIT = 700
SAVE_ACTION = "paper_save"
DETAILS_ACTION = "paper_details"
DIGEST_EVENT = "paperbot_digest"  # the metadata event type that marks a digest's messages in a channel


def day_label(day: date) -> str:
    """A date as people read it: `day_label(date(2025, 11, 24)) == "Monday, 24 November 2025"`."""
    return f"{day:%A}, {day.day} {day:%B %Y}"


def digest_header(*, day: date, count: int, total: int | None = None, sample: bool = False) -> dict[str, Any]:
    """The message that opens a digest: the date, how many papers, and a link to the day on Hugging Face.
    With `sample`, the papers are paperbot's bundled sample, and the header says so instead of claiming the day."""
    papers = "1 paper" if count == 1 else f"{count} papers"
    of_total = f" (top {count} of {total})" if total is not None and total > count else ""
    if sample:
        body = (
            f"*{papers}*{of_total} from paperbot's bundled sample of real papers, "
            f"not the Hugging Face list of {day_label(day)}"
        )
        title, text = "Daily Papers · sample", f"Daily papers (bundled sample, not {day}'s list): {papers}{of_total}"
    else:
        url = hf_day_url(day)
        body = f"*{papers}*{of_total} from Hugging Face Daily Papers · {link(url, 'see the whole day')}"
        title, text = f"Daily Papers · {day_label(day)}", f"Daily papers for {day_label(day)}: {papers}{of_total}"
    return {
        "text": text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title}},
            section(body),
            context("Vote with a reaction on a paper's message; discuss it in its thread."),
        ],
    }


def empty_digest(*, day: date) -> dict[str, Any]:
    """The short notice posted when a channel's digest has no papers for the day."""
    url = hf_day_url(day)
    text = f"No new papers today: nothing from Hugging Face Daily Papers of {day_label(day)} to post here."
    return {"text": text, "blocks": [section(f"{text} {link(url, 'See the day on Hugging Face')}")]}


def _buttons(arxiv_id: str) -> Block:
    def button(label: str, action_id: str) -> Block:
        text = {"type": "plain_text", "text": label}
        return {"type": "button", "text": text, "action_id": action_id, "value": arxiv_id[:2000]}

    return {
        "type": "actions",
        "elements": [button("Save", SAVE_ACTION), button("Show details", DETAILS_ACTION)],
    }


def paper_message(paper: PaperLike, *, rank: int | None = None) -> dict[str, Any]:
    """One digest message for one paper: linked title, authors (with the paper's picture beside them, when it has
    one), summary, links, HF stats and buttons."""
    prefix = f"{rank}. " if rank is not None else ""
    title = " ".join((paper.title or "").split()) or paper.arxiv_id
    authors = author_line(paper.authors)
    head = f"*{prefix}{title_link(paper)}*"
    if authors:
        head += f"\n{fit(authors, 4 * AUTHOR_LIMIT)}"
    blocks: list[Block] = [with_picture(section(head), paper)]
    summary = (paper.ai_summary or "").strip() or first_sentences(paper.abstract)
    if summary:
        blocks.append(section(fit(summary, SUMMARY_LIMIT)))
    blocks.append(context(*[e for e in (links_line(paper), stats_line(paper)) if e]))
    blocks.append(_buttons(paper.arxiv_id))
    by = f" — {authors}" if authors else ""
    return {"text": fit(f"{prefix}{title}{by} (arXiv {paper.arxiv_id})", 500), "blocks": blocks}


def digest_post(channel: str, payload: dict[str, Any], *, run_id: int | None, arxiv_id: str | None) -> dict[str, Any]:
    """The arguments of chat.postMessage for one digest message: what a real run sends and `--dry-run --json`
    prints. The metadata names the run (None in a preview: the claim assigns it) and the paper (or the header)."""
    event_payload: dict[str, Any] = {"run": run_id}
    event_payload.update({"arxiv_id": arxiv_id} if arxiv_id else {"header": True})
    return {
        "channel": channel,
        "text": payload["text"],
        "blocks": payload["blocks"],
        "unfurl_links": False,
        "unfurl_media": False,
        "metadata": {"event_type": DIGEST_EVENT, "event_payload": event_payload},
    }


@dataclass(frozen=True)
class LastRun:
    """A channel's most recent digest run, as `/papers digest` reports it."""

    day: date
    status: str
    posted: int
    error: str | None = None


def digest_settings_text(
    *,
    channel_id: str,
    scheduled: bool,
    size: int,
    digest_time: str,
    timezone: str,
    include_weekends: bool,
    min_upvotes: int | None,
    filters: dict[str, list[str]],
    post_empty_notice: bool,
    last: LastRun | None,
) -> str:
    """`/papers digest`'s private reply: the channel's digest settings and its last run, as mrkdwn."""
    when = (
        f"{size} papers at {digest_time} ({timezone}), {'every day' if include_weekends else 'weekdays'}"
        if scheduled
        else "no scheduled digest here (`/papers config` sets one up)"
    )
    wanted = "; ".join(f"{k}: {', '.join(v)}" for k, v in filters.items() if v) or "none"
    lines = [
        f"*Digest for <#{channel_id}>*: {escape(when)}",
        f"Minimum HF upvotes: {min_upvotes or 'none'} · Filters: {escape(wanted)} · "
        f"Days without papers: {'a short notice' if post_empty_notice else 'skipped quietly'}",
    ]
    if last is None:
        lines.append("No digest has run here yet. `/papers digest now` posts one.")
    else:
        error = f" ({escape(last.error)})" if last.error else ""
        lines.append(f"Last run: the list of {last.day}, {last.status}, {last.posted} paper(s) posted{error}.")
    return "\n".join(lines)
