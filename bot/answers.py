"""What a lookup answers: one `Invocation` of `search`, `show`, `top`, `filter` or `help` in, one message payload out.

The same answers serve the slash command, the buttons, an @mention and a DM (handlers decide where the payload
goes). A payload about one paper carries Slack message metadata naming it, so that when it is posted to a channel
it is recorded as a `lookup` post and its votes and thread count for the paper.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import lookups
from bot.blocks import has_pictures, without_pictures
from bot.blocks import lookup as lookup_blocks
from bot.command_text import Invocation, ParseError
from bot.deps import Deps, SearchEngine
from bot.enrich import PaperUnavailable, fetch_paper
from bot.search.arguments import parse_show, parse_top
from bot.search.query import Query, parse_filter, parse_search
from bot.subcommands import help_text
from storage.lookups import Viewer
from storage.papers import upsert_papers
from storage.posts import record_post

log = logging.getLogger(__name__)

LOOKUP_EVENT = "paperbot_lookup"  # the metadata event type of a message about one paper
LOOKUPS = frozenset({"search", "show", "top", "filter", "help"})
PER_PAGE = 10


@dataclass(frozen=True)
class Asker:
    """Who asked, where, and with which command name (for usage lines)."""

    team_id: str
    channel_id: str | None
    user_id: str | None
    command: str = "/papers"

    @property
    def viewer(self) -> Viewer:
        """The privacy view of the place the answer is given in."""
        return Viewer(self.team_id, self.channel_id)


def answer(
    deps: Deps, engine: SearchEngine, client: WebClient | None, asker: Asker, invocation: Invocation, *, now: datetime
) -> dict[str, Any]:
    """The payload answering a lookup subcommand (a usage reply when its arguments do not parse)."""
    name, command = invocation.name, asker.command
    if name == "help":
        return lookup_blocks.help_reply(help_text(invocation.topic, command))
    if name == "show":
        ref = parse_show(invocation.args, command=command)
        return _problem(ref) if isinstance(ref, ParseError) else show(deps, client, asker, ref.arxiv_id)
    if name == "top":
        top = parse_top(invocation.args, now=now, command=command)
        if isinstance(top, ParseError):
            return _problem(top)
        found = lookups.top(
            deps,
            client,
            asker.viewer,
            since=top.since,
            count=top.limit,
            terms=top.filters,
            user_id=asker.user_id,
            today=now.date(),
        )
        heading = f"The team's top papers ({top.period})"
        if not found.found:
            if not top.filters.empty:
                return {"text": f"No paper the team posted ({top.period}) passes those terms."}
            return {"text": f"No papers were posted here ({top.period}) yet."}
        return lookup_blocks.results(found.found, heading=heading)
    parse = parse_search if name == "search" else parse_filter
    query = parse(invocation.args, today=now.date(), command=command)
    if isinstance(query, ParseError):
        return _problem(query)
    if name == "search":
        return search(deps, engine, client, asker, query, now=now)
    return filter_page(deps, engine, client, asker, query, now=now, page=0, text=invocation.raw_rest)


def _problem(error: ParseError) -> dict[str, Any]:
    return lookup_blocks.problem(error.problem, error.usage)


def search(
    deps: Deps, engine: SearchEngine, client: WebClient | None, asker: Asker, query: Query, *, now: datetime
) -> dict[str, Any]:
    """Search results; an arXiv id or a paper link goes straight to `show`."""
    if query.paper_id and query.filters.empty:
        return show(deps, client, asker, query.paper_id)
    found = lookups.search(deps, engine, client, asker.viewer, query, user_id=asker.user_id, today=now.date(), limit=5)
    if not found.found:
        return lookup_blocks.nothing_found(f"“{query.text}”" if query.text else "those terms", found.suggestions)
    asked = f"“{query.text}”" if query.text.strip() else "those terms"
    return lookup_blocks.results(found.found, heading=f"Papers matching {asked}")


def filter_page(
    deps: Deps,
    engine: SearchEngine,
    client: WebClient | None,
    asker: Asker,
    query: Query,
    *,
    now: datetime,
    page: int,
    text: str,
) -> dict[str, Any]:
    """One page of `filter` results, with a More button carrying the next page."""
    found = lookups.filtered(
        deps,
        engine,
        client,
        asker.viewer,
        query,
        user_id=asker.user_id,
        today=now.date(),
        page=page,
        per_page=PER_PAGE,
    )
    if not found.found:
        return lookup_blocks.nothing_found("those terms" if page == 0 else "any more papers", [])
    more, note = _more_value(text, page + 1) if found.more else None, found.note
    if found.more and more is None:
        note = "More papers match: add a term to see them (this filter is too long for a More button)."
    heading = f"Papers matching `{text}`" + (f" (page {page + 1})" if page else "")
    return lookup_blocks.results(found.found, heading=heading, more=more, note=note, first_rank=page * PER_PAGE + 1)


def _more_value(text: str, page: int) -> str | None:
    """The More button's value (Slack takes at most 2,000 characters), or None when the filter is too long: cut,
    the value would no longer parse and the button would only say it is out of date."""
    value = json.dumps({"text": text, "page": page}, ensure_ascii=False, separators=(",", ":"))
    return value if len(value) <= lookup_blocks.VALUE_LIMIT else None


def more(
    deps: Deps, engine: SearchEngine, client: WebClient | None, asker: Asker, value: str, *, now: datetime
) -> dict[str, Any]:
    """The page a More button asks for (its value: the filter's text and the page)."""
    try:
        asked = json.loads(value)
        text, page = str(asked["text"]), int(asked["page"])
    except (ValueError, KeyError, TypeError):
        return {"text": "That button is out of date: run the filter again."}
    query = parse_filter(text, today=now.date(), command=asker.command)
    if isinstance(query, ParseError):
        return _problem(query)
    return filter_page(deps, engine, client, asker, query, now=now, page=max(page, 0), text=text)


def show(deps: Deps, client: WebClient | None, asker: Asker, arxiv_id: str, *, share: bool = False) -> dict[str, Any]:
    """The paper card; a paper not stored yet is fetched from Hugging Face, then arXiv, and stored first."""
    found = lookups.found_for(deps, client, asker.viewer, [arxiv_id]).get(arxiv_id)
    if found is None:
        try:
            record = fetch_paper(deps.settings, arxiv_id, sessions=deps.sessions)
        except PaperUnavailable as exc:
            return lookup_blocks.unknown(arxiv_id, str(exc))
        with deps.sessions.begin() as session:
            upsert_papers(session=session, records=[record])
        found = lookups.found_for(deps, client, asker.viewer, [arxiv_id]).get(arxiv_id)
        if found is None:
            return lookup_blocks.unknown(arxiv_id, "it could not be stored")
    card = lookup_blocks.paper_card(found, share_button=not share, shared_by=asker.user_id if share else None)
    card["metadata"] = {"event_type": LOOKUP_EVENT, "event_payload": {"arxiv_id": arxiv_id}}
    return card


def lookup_paper(payload: dict[str, Any]) -> str | None:
    """The arXiv id a payload is about (its metadata), or None for a list or a reply."""
    metadata = payload.get("metadata") or {}
    if metadata.get("event_type") != LOOKUP_EVENT:
        return None
    arxiv_id = (metadata.get("event_payload") or {}).get("arxiv_id")
    return str(arxiv_id) if arxiv_id else None


def shareable(payload: dict[str, Any]) -> bool:
    """True when a payload answers with papers (a card, or a list with Show buttons): a problem, a "no match" or
    an unknown paper is for the person who asked, even with --share."""
    buttons = (e for b in payload.get("blocks") or [] if b.get("type") == "actions" for e in b.get("elements", []))
    return lookup_paper(payload) is not None or any(e.get("action_id") == lookup_blocks.SHOW_ACTION for e in buttons)


def post_to_channel(
    deps: Deps, client: WebClient, asker: Asker, channel_id: str, payload: dict[str, Any], *, thread_ts: str | None
) -> str:
    """Post an answer to a channel (or a thread); an answer about one paper is recorded as a `lookup` post."""
    message = {k: v for k, v in payload.items() if k not in ("response_type", "replace_original", "delete_original")}
    try:
        response = client.chat_postMessage(channel=channel_id, thread_ts=thread_ts, unfurl_links=False, **message)
    except SlackApiError as exc:  # Slack could not fetch the paper's picture: the card goes without it
        if exc.response.get("error") != "invalid_blocks" or not has_pictures(message):
            raise
        bare = without_pictures(message)
        response = client.chat_postMessage(channel=channel_id, thread_ts=thread_ts, unfurl_links=False, **bare)
    ts = str(response["ts"])
    arxiv_id = lookup_paper(payload)
    if arxiv_id:
        with deps.sessions.begin() as session:
            record_post(
                session=session,
                team_id=asker.team_id,
                channel_id=channel_id,
                ts=ts,
                arxiv_id=arxiv_id,
                kind="lookup",
                user_id=asker.user_id,
            )
    return ts
