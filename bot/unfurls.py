"""Link unfurls: a `link_shared` event (someone posted or is typing an arXiv, Hugging Face or alphaXiv paper link)
answered with `chat.unfurl`: a card per paper with the team's history of it, as the conversation the link is in
may see it (docs/privacy.md).

Runs on the unfurl lane (bot.lanes), apart from every other event, after Bolt has acked. Each event is answered
once: its id is claimed first (storage.votes.claim_event, as applied events are), so Slack's retry, or the same
event on another replica, sends nothing more; a crash after the claim loses that one unfurl, which is harmless.
Papers already stored are unfurled at once, in one call; papers never seen are then fetched (Hugging Face, else
arXiv, as `/papers show` does), stored, and unfurled in a second call, so a slow source never delays the others.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot import lookups
from bot.blocks import unfurl as cards
from bot.deps import Deps
from bot.enrich import PaperUnavailable, fetch_paper
from bot.events import event_of
from bot.links import paper_id
from storage import lookups as store
from storage.db import bounded
from storage.lookups import QuotedReply, Thread, Viewer
from storage.papers import PLACEHOLDER, get_papers, upsert_papers
from storage.text import first_line
from storage.votes import claim_event

log = logging.getLogger(__name__)

MAX_PAPERS = 5  # papers unfurled per message: a pasted reading list gets five cards, not a wall of them
DB_WAIT = 2.0  # seconds an unfurl's transaction may wait on the database (then the unfurl is skipped)
COMPOSER = "composer"  # link_shared's `source` while the link is still being typed: no real channel yet


@dataclass(frozen=True)
class Shared:
    """One link_shared event: where the links are, and each paper link's URL with its paper's arXiv id."""

    team_id: str
    event_id: str
    channel_id: str | None  # None while the message is still in the composer
    message_ts: str | None
    unfurl_id: str | None
    source: str
    links: dict[str, str]  # URL as Slack sent it -> arXiv id, in the message's order

    @property
    def viewer(self) -> Viewer:
        """Who will read the unfurl: the conversation the link is in (in the composer: nobody known, so public
        channels only)."""
        return Viewer(self.team_id, self.channel_id)

    def unfurl(self, client: WebClient, unfurls: dict[str, Any]) -> None:
        """chat.unfurl at the message's address: `channel` + `ts`, or `unfurl_id` + `source` in the composer."""
        if self.channel_id and self.message_ts:
            client.chat_unfurl(channel=self.channel_id, ts=self.message_ts, unfurls=unfurls)
        else:
            client.chat_unfurl(unfurl_id=self.unfurl_id, source=self.source, unfurls=unfurls)


@dataclass
class History:
    """What the team did with a paper, as the place of the link may see it (bot.blocks.unfurl.History)."""

    votes: int = 0
    replies: int = 0
    threads: Sequence[Thread] = ()
    permalinks: dict[tuple[str, str], str] = field(default_factory=dict)
    quoted: QuotedReply | None = None


def shared_links(body: Any) -> Shared | None:
    """The paper links of a link_shared event (at most MAX_PAPERS papers; links to anything else dropped), or
    None when the body is not one or names no place to unfurl into."""
    event = event_of(body)
    if event.get("type") != "link_shared" or not isinstance(event.get("links"), list):
        return None
    source = str(event.get("source") or "conversations_history")
    channel, ts, unfurl_id = (event.get(k) for k in ("channel", "message_ts", "unfurl_id"))
    composing = source == COMPOSER or channel == "COMPOSER"
    addressed = unfurl_id if composing else channel and ts
    if not isinstance(addressed, str) or not addressed:
        return None  # nowhere to send the unfurl
    found: dict[str, str] = {}
    for item in event["links"]:
        url = item.get("url") if isinstance(item, dict) else None
        arxiv_id = paper_id(url) if isinstance(url, str) else None
        if url and arxiv_id and (arxiv_id in found.values() or len(set(found.values())) < MAX_PAPERS):
            found[url] = arxiv_id
    team = str(body.get("team_id") or event.get("team") or "")
    event_id = str(body.get("event_id") or f"unfurl:{unfurl_id or f'{channel}/{ts}'}")
    return Shared(
        team_id=team,
        event_id=event_id,
        channel_id=None if composing or not isinstance(channel, str) else channel,
        message_ts=ts if isinstance(ts, str) and not composing else None,
        unfurl_id=unfurl_id if isinstance(unfurl_id, str) else None,
        source=COMPOSER if composing else source,
        links=found,
    )


def answer(deps: Deps, client: WebClient, body: Any) -> int:
    """Unfurl the paper links of a link_shared event, once per event; the number of links unfurled."""
    shared = shared_links(body)
    if shared is None or not shared.links:
        return 0
    with bounded(DB_WAIT):
        with deps.sessions.begin() as session:
            if not claim_event(session=session, team_id=shared.team_id, event_id=shared.event_id):
                log.info("Slack event %s: its links were unfurled already (a retry)", shared.event_id)
                return 0
        ids = list(dict.fromkeys(shared.links.values()))
        known = unfurls_for(deps, client, shared, ids)
        sent = _send(client, shared, known)
        fetched = [i for i in ids if i not in known and _fetched(deps, i)]
        return sent + (_send(client, shared, unfurls_for(deps, client, shared, fetched)) if fetched else 0)


def _fetched(deps: Deps, arxiv_id: str) -> bool:
    """Fetch a paper never seen (or still a shared link's placeholder) and store it; False when nobody has it."""
    try:
        record = fetch_paper(deps.settings, arxiv_id, sessions=deps.sessions)
    except PaperUnavailable as exc:
        log.info("no unfurl for arXiv %s: %s", arxiv_id, exc)
        return False
    with deps.sessions.begin() as session:
        upsert_papers(session=session, records=[record])
    return True


def _send(client: WebClient, shared: Shared, cards: dict[str, Any]) -> int:
    """One chat.unfurl call with a card for every link to these papers (arXiv id -> card); the links unfurled."""
    unfurls = {url: cards[i] for url, i in shared.links.items() if i in cards}
    if not unfurls:
        return 0
    try:
        shared.unfurl(client, unfurls)
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.info("Slack refused the unfurl of %s in %s: %s", sorted(unfurls), shared.channel_id, first_line(exc))
        return 0
    return len(unfurls)


def unfurls_for(deps: Deps, client: WebClient | None, shared: Shared, arxiv_ids: list[str]) -> dict[str, Any]:
    """arXiv id -> the unfurl of each stored paper among `arxiv_ids` (a shared link's placeholder is not one yet),
    with the team's history as the place of the link may see it; the message being unfurled is not part of its
    own paper's history."""
    viewer = shared.viewer
    if client is not None:
        lookups.learn_privacy(deps, client, viewer.team_id, arxiv_ids)
    skip = (shared.channel_id, shared.message_ts) if shared.channel_id and shared.message_ts else None
    vote_emoji = deps.settings.vote_emoji
    with deps.reads.begin() as session:
        papers = {i: p for i, p in get_papers(session=session, arxiv_ids=arxiv_ids).items() if p.source != PLACEHOLDER}
        activity = store.team_activity(session=session, viewer=viewer, arxiv_ids=list(papers), vote_emoji=vote_emoji)
        threads = {i: [t for t in seen.threads if (t.channel_id, t.ts) != skip] for i, seen in activity.items()}
        quotes = store.quoted_replies(session=session, team_id=viewer.team_id, threads=threads, vote_emoji=vote_emoji)
        session.expunge_all()
    out = {}
    for arxiv_id, paper in papers.items():
        seen = activity[arxiv_id]
        history = History(seen.votes, seen.replies, threads[arxiv_id], quoted=quotes.get(arxiv_id))
        if history.threads and client is not None:
            history.permalinks = lookups.permalinks(client, replace(seen, threads=threads[arxiv_id]))
        out[arxiv_id] = cards.paper_unfurl(paper, history)
    return out
