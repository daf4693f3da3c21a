"""Block Kit for personal alerts: the daily DM and the replies to subscribe, unsubscribe and subscriptions.

Pure functions from data to message payloads, like bot/blocks.py's (and built from its helpers): every person- or
paper-supplied string is escaped and clipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot import blocks

ALERT_EVENT = "paperbot_alert"  # the metadata event type that marks an alert DM (found again after a crash)
MAX_PAPERS = 40  # header, intro and footer besides: well inside a message's 50 blocks
MATCHED_LIMIT = 300


@dataclass(frozen=True)
class AlertItem:
    """One paper of an alert and the texts of the subscriptions it matched."""

    paper: blocks.PaperLike
    matched: Sequence[str]


def _papers(n: int) -> str:
    return "1 paper" if n == 1 else f"{n} papers"


def _code(text: str) -> str:
    # Backticks would end the code span early; a subscription's text never needs them.
    return "`" + blocks.escape(text.replace("`", "'")) + "`"


def _item_section(item: AlertItem) -> blocks.Block:
    paper = item.paper
    title = " ".join((paper.title or "").split()) or paper.arxiv_id
    lines = [f"*{blocks.link(blocks.paper_url(paper.arxiv_id), title)}*"]
    authors = blocks.author_line(paper.authors)
    if authors:
        lines.append(blocks.fit(authors, 4 * blocks.AUTHOR_LIMIT))
    facts = []
    if paper.hf_upvotes is not None:
        facts.append(f"▲ {blocks.compact(paper.hf_upvotes)} upvote{'' if paper.hf_upvotes == 1 else 's'}")
    matched = ", ".join(_code(blocks.clip(t, MATCHED_LIMIT)) for t in item.matched[:5])
    facts.append(f"matched {matched}" if matched else "matched")
    lines.append(" · ".join(facts))
    return blocks.section("\n".join(lines))


def alert_message(*, day: date, items: Sequence[AlertItem]) -> dict[str, Any]:
    """The daily DM: a header, one section per matching paper (linked title, first authors, HF upvotes, which
    subscription matched) and how to change the alerts. Past `MAX_PAPERS` papers, a link to the whole day."""
    shown = list(items[:MAX_PAPERS])
    day_url = f"{blocks.HF_PAPERS}/date/{day.isoformat()}"
    intro = (
        f"*{_papers(len(items))}* on Hugging Face Daily Papers of {blocks.day_label(day)} "
        f"{'matches' if len(items) == 1 else 'match'} your subscriptions · {blocks.link(day_url, 'see the whole day')}"
    )
    body: list[blocks.Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Your paper alert · {day.isoformat()}"}},
        blocks.section(intro),
        *(_item_section(item) for item in shown),
    ]
    if len(items) > len(shown):
        more = f"…and {len(items) - len(shown)} more: {blocks.link(day_url, 'see them on Hugging Face')}"
        body.append(blocks.section(more))
    body.append(blocks.context("`/papers subscriptions` lists your alerts; `/papers unsubscribe <n>` stops one."))
    first = blocks.fit(" ".join((items[0].paper.title or "").split()), 200) if items else ""
    text = f"Your paper alert for {day.isoformat()}: {_papers(len(items))} match your subscriptions"
    return {"text": f"{text} ({first}{', …' if len(items) > 1 else ''})" if first else text, "blocks": body}


def alert_post(channel: str, payload: dict[str, Any], *, day: date, user_id: str) -> dict[str, Any]:
    """The arguments of chat.postMessage for one alert DM; the metadata names the day and the person, so a
    worker that takes over a crashed one's claim finds the DM in the conversation instead of sending it again."""
    return {
        "channel": channel,
        "text": payload["text"],
        "blocks": payload["blocks"],
        "unfurl_links": False,
        "unfurl_media": False,
        "metadata": {"event_type": ALERT_EVENT, "event_payload": {"day": day.isoformat(), "user": user_id}},
    }


# ---- replies to /papers subscribe, unsubscribe and subscriptions ------------------------------------------


def _reply(text: str, *extra: blocks.Block) -> dict[str, Any]:
    return {"text": text, "blocks": [blocks.section(blocks.escape(text)), *extra]}


def subscribed(*, text: str, number: int, created: bool, count: int) -> dict[str, Any]:
    """The answer to `/papers subscribe`: stored (or already there), its number, and when DMs come."""
    what = _code(text)
    if created:
        lead = f"Subscribed ({number} of {count}): {what}."
    else:
        lead = f"You already have this subscription ({number} of {count}): {what}; nothing changed."
    note = (
        "Each day, once Hugging Face's list of the day is complete, I send you one DM with the papers that "
        "match any of your subscriptions (nothing on days without a match)."
    )
    return {"text": f"{lead} {note}", "blocks": [blocks.section(lead), blocks.context(note)]}


def subscriptions_list(texts: Sequence[str]) -> dict[str, Any]:
    """The answer to `/papers subscriptions`: the person's subscriptions, numbered for `unsubscribe`."""
    if not texts:
        return _reply("You have no subscriptions. `/papers subscribe diffusion` adds one.")
    lines = [f"{n}. {_code(t)}" for n, t in enumerate(texts, 1)]
    text = f"Your subscriptions ({len(texts)}):\n" + "\n".join(lines)
    hint = "`/papers unsubscribe <n>` stops one, `/papers unsubscribe all` stops them all."
    return {"text": text, "blocks": [blocks.section(text), blocks.context(hint)]}


def unsubscribed(*, removed: Sequence[str], remaining: int) -> dict[str, Any]:
    """The answer to `/papers unsubscribe`: what was removed and how many are left."""
    if not removed:
        return _reply("You had no subscriptions; nothing changed.")
    gone = ", ".join(_code(t) for t in removed[:20]) + (" …" if len(removed) > 20 else "")
    left = f"{remaining} left" if remaining else "none left: no more alert DMs"
    text = f"Unsubscribed from {gone} ({left})."
    return {"text": text, "blocks": [blocks.section(text)]}


def subscription_error(problem: str, command: str = "/papers") -> dict[str, Any]:
    """A subscribe/unsubscribe problem (already phrased for people, with the fix) and examples."""
    examples = (
        f'`{command} subscribe diffusion` · `{command} subscribe "world models" topic:cs.LG` · '
        f'`{command} subscribe author:"Yann LeCun"` · `{command} subscriptions` · `{command} unsubscribe 2`'
    )
    return {"text": problem, "blocks": [blocks.section(blocks.escape(problem)), blocks.context(examples)]}
